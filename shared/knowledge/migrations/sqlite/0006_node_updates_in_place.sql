-- 0006: no change for SQLite (PostgreSQL lets node merges update rows in place: fillfactor and
-- nodes_by_kind without last_seen; SQLite's nodes_by_kind is (kind) since migration 5).
SELECT 1;
