-- 0005: no change for PostgreSQL (SQLite stores node ids as 16-byte BLOBs from this version on;
-- PostgreSQL keeps TEXT COLLATE "C" ids).
SELECT 1;
