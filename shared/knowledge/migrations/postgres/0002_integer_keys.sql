-- 0002: integer surrogate keys. Node ids are keyed blind indexes (random order); v1 used them
-- in every B-tree (nodes, edges and their dst index, node_terms and its node index), so each
-- batch dirtied pages all over the indexes. Now nodes get a bigint identity `nid` (insertion
-- order), the blind id lives in one unique index (tenant_id, id), and edges and term rows
-- reference `nid`: new rows append at the end of their B-trees. Ids and kinds compare
-- bytewise (COLLATE "C"): they are hex and identifiers, and locale collation made every
-- B-tree comparison a strcoll call.
-- Row-level security is unchanged (same policies on the new tables). Run as the tables'
-- owner; the copy lifts FORCE on the old tables first so that it sees every tenant's rows.
-- After this migration grant the application role again:
-- GRANT SELECT, INSERT, UPDATE, DELETE ON tenants, nodes, edges, node_terms TO <app>;
ALTER TABLE nodes NO FORCE ROW LEVEL SECURITY;
ALTER TABLE edges NO FORCE ROW LEVEL SECURITY;
ALTER TABLE node_terms NO FORCE ROW LEVEL SECURITY;
ALTER TABLE nodes DISABLE ROW LEVEL SECURITY;
ALTER TABLE edges DISABLE ROW LEVEL SECURITY;
ALTER TABLE node_terms DISABLE ROW LEVEL SECURITY;

CREATE TABLE nodes_v2 (
    nid        BIGINT      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id  TEXT        NOT NULL REFERENCES tenants (tenant_id),
    id         TEXT        COLLATE "C" NOT NULL,
    kind       TEXT        COLLATE "C" NOT NULL,
    key_ct     BYTEA       NOT NULL,
    label_ct   BYTEA,
    attrs      JSONB       NOT NULL DEFAULT '{}',
    sources    TEXT[]      NOT NULL DEFAULT '{}',
    first_seen TIMESTAMPTZ NOT NULL,
    last_seen  TIMESTAMPTZ NOT NULL,
    UNIQUE (tenant_id, id),
    CHECK (first_seen <= last_seen)
);
INSERT INTO nodes_v2 (tenant_id, id, kind, key_ct, label_ct, attrs, sources, first_seen, last_seen)
    SELECT tenant_id, id, kind, key_ct, label_ct, attrs, sources, first_seen, last_seen
    FROM nodes ORDER BY first_seen, id;

CREATE TABLE edges_v2 (
    src        BIGINT      NOT NULL REFERENCES nodes_v2 (nid),
    kind       TEXT        COLLATE "C" NOT NULL,
    dst        BIGINT      NOT NULL REFERENCES nodes_v2 (nid),
    tenant_id  TEXT        NOT NULL,
    sources    TEXT[]      NOT NULL DEFAULT '{}',
    first_seen TIMESTAMPTZ NOT NULL,
    last_seen  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (src, kind, dst),
    CHECK (first_seen <= last_seen)
);
INSERT INTO edges_v2 (src, kind, dst, tenant_id, sources, first_seen, last_seen)
    SELECT s.nid, e.kind, d.nid, e.tenant_id, e.sources, e.first_seen, e.last_seen
    FROM edges e
    JOIN nodes_v2 s ON s.tenant_id = e.tenant_id AND s.id = e.src
    JOIN nodes_v2 d ON d.tenant_id = e.tenant_id AND d.id = e.dst;

-- No foreign key on nid: term rows are written in the transaction that upserted their node
-- (from the nid it returned) and deleted with it; a per-row check would cost more than the
-- insert.
CREATE TABLE node_terms_v2 (
    tenant_id TEXT   NOT NULL,
    term      BIGINT NOT NULL,
    nid       BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, term, nid)
);
INSERT INTO node_terms_v2 (tenant_id, term, nid)
    SELECT t.tenant_id, t.term, n.nid
    FROM node_terms t JOIN nodes_v2 n ON n.tenant_id = t.tenant_id AND n.id = t.node_id;

DROP TABLE edges;
DROP TABLE node_terms;
DROP TABLE nodes;
ALTER TABLE nodes_v2 RENAME TO nodes;
ALTER TABLE edges_v2 RENAME TO edges;
ALTER TABLE node_terms_v2 RENAME TO node_terms;
CREATE INDEX nodes_by_kind ON nodes (tenant_id, kind, last_seen);
CREATE INDEX edges_by_dst ON edges (dst, kind);
CREATE INDEX node_terms_by_node ON node_terms (tenant_id, nid);

ALTER TABLE nodes ENABLE ROW LEVEL SECURITY;
ALTER TABLE nodes FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON nodes
    USING (tenant_id = current_setting('bacca.tenant_id', true))
    WITH CHECK (tenant_id = current_setting('bacca.tenant_id', true));

ALTER TABLE edges ENABLE ROW LEVEL SECURITY;
ALTER TABLE edges FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON edges
    USING (tenant_id = current_setting('bacca.tenant_id', true))
    WITH CHECK (tenant_id = current_setting('bacca.tenant_id', true));

ALTER TABLE node_terms ENABLE ROW LEVEL SECURITY;
ALTER TABLE node_terms FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON node_terms
    USING (tenant_id = current_setting('bacca.tenant_id', true))
    WITH CHECK (tenant_id = current_setting('bacca.tenant_id', true));
