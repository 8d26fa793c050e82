-- 0003: no change for SQLite (PostgreSQL drops the edge foreign keys in favour of row locks;
-- a SQLite file has one writer, and its foreign key checks are a rowid lookup each).
SELECT 1;
