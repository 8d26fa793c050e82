-- 0006: merges of stored nodes can be heap-only (HOT) updates. A merge rewrites a node's row
-- (label, attributes, sources, times); it used to add a new entry to each of the three node
-- indexes, because nodes_by_kind held last_seen (which a later sighting moves) and the
-- table's pages were packed full. nodes_by_kind is now (tenant_id, kind) (no query reads
-- last_seen through it), and new node pages keep 10% free (fillfactor 90) for the new
-- versions of their rows. Existing pages keep their layout until rewritten.
ALTER TABLE nodes SET (fillfactor = 90);
DROP INDEX nodes_by_kind;
CREATE INDEX nodes_by_kind ON nodes (tenant_id, kind);
