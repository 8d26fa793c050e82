-- 0004: no change for SQLite (PostgreSQL drops the nodes' foreign key to tenants in favour of
-- one row lock per write transaction; a SQLite file is one tenant's, and its nodes reference
-- no tenants table).
SELECT 1;
