-- 0012: no change for SQLite (PostgreSQL stores node ids as 16-byte BYTEA, unique on
-- (id, tenant_id); SQLite has stored them as 16-byte blobs since 0005).
SELECT 1;
