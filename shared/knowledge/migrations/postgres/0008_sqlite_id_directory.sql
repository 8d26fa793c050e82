-- 0008: no change for PostgreSQL (SQLite drops its unique index on node ids in favour of the
-- store's in-memory id map; PostgreSQL keeps its indexes).
SELECT 1;
