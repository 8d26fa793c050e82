-- 0014: no change for SQLite (PostgreSQL finds `similar`'s candidates through term bitmaps
-- under a B-tree instead of a GIN index, as SQLite has since 0011).
SELECT 1;
