-- 0009: the tenant's erasure count, which every erasure adds one to in its own transaction:
-- readers keep a copy of the signatures and services current by reading only the nodes past
-- the largest nid they have read (GraphStore::nodes_since) while the count is unchanged
-- (erasure is the only write that deletes nodes or changes a node's key; nids are never
-- reused, 0008). nodes_by_kind (kind) already ends with the rowid, nid. `writes` counts the
-- upserts (each adds one in its own transaction): labels are updated in place, so a reader of
-- incident titles knows its copy is current only while no one else wrote.
ALTER TABLE bacca_tenant ADD COLUMN erasures INTEGER NOT NULL DEFAULT 0;
ALTER TABLE bacca_tenant ADD COLUMN writes INTEGER NOT NULL DEFAULT 0;
