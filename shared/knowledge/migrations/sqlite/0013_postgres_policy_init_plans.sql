-- 0013: no change for SQLite (PostgreSQL's row-level security policies read the tenant once
-- per statement; SQLite keeps one file per tenant and has no policies).
SELECT 1;
