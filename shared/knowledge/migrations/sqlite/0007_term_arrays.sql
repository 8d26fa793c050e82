-- 0007: no change for SQLite (PostgreSQL keeps a node's term hashes in an array column of its
-- row under a GIN index, with per-term node counts in term_postings; SQLite keeps node_terms).
SELECT 1;
