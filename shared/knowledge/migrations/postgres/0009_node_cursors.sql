-- 0009: readers can keep a copy of a tenant's signatures, services and incident titles current
-- by reading only what was added since (GraphStore::nodes_since). `tenants.erasures` counts the tenant's
-- erasures, each adding one in its own transaction: erasure is the only write that deletes
-- nodes or changes a node's key (moving it to a new id), so a reader whose count is still
-- current only lacks the nodes past the largest nid it has read (nids come from an identity,
-- never reused, and the tenant's writers are serialised by its write lock). nodes_by_kind ends
-- with nid, so that "kind K, nid > N" is a range of the index's entries. ADD COLUMN with a
-- constant default rewrites no rows. `tenants.writes` counts the tenant's upserts (each adds one
-- in its own transaction): labels are updated in place (same nid), so a reader of titles knows
-- its copy is current only while no one else wrote.
ALTER TABLE tenants ADD COLUMN erasures BIGINT NOT NULL DEFAULT 0;
ALTER TABLE tenants ADD COLUMN writes BIGINT NOT NULL DEFAULT 0;
DROP INDEX nodes_by_kind;
CREATE INDEX nodes_by_kind ON nodes (tenant_id, kind, nid) WHERE kind IN ('service', 'signature', 'monitor');
