-- bacca knowledge graph, PostgreSQL (one database, tenant isolation by row-level security).
-- Every session sets `bacca.tenant_id` per transaction (set_config(..., true)); rows of other
-- tenants are invisible and cannot be written. FORCE makes the policies bind the table owner
-- too; only superusers and BYPASSRLS roles escape them, so the application must use neither.
CREATE TABLE tenants (
    tenant_id  TEXT PRIMARY KEY,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE nodes (
    tenant_id  TEXT        NOT NULL REFERENCES tenants (tenant_id),
    id         TEXT        NOT NULL,
    kind       TEXT        NOT NULL,
    key_ct     BYTEA       NOT NULL,
    label_ct   BYTEA,
    attrs      JSONB       NOT NULL DEFAULT '{}',
    sources    TEXT[]      NOT NULL DEFAULT '{}',
    first_seen TIMESTAMPTZ NOT NULL,
    last_seen  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (tenant_id, id),
    CHECK (first_seen <= last_seen)
);
CREATE INDEX nodes_by_kind ON nodes (tenant_id, kind, last_seen);

CREATE TABLE edges (
    tenant_id  TEXT        NOT NULL,
    kind       TEXT        NOT NULL,
    src        TEXT        NOT NULL,
    dst        TEXT        NOT NULL,
    sources    TEXT[]      NOT NULL DEFAULT '{}',
    first_seen TIMESTAMPTZ NOT NULL,
    last_seen  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (tenant_id, src, kind, dst),
    FOREIGN KEY (tenant_id, src) REFERENCES nodes (tenant_id, id),
    FOREIGN KEY (tenant_id, dst) REFERENCES nodes (tenant_id, id),
    CHECK (first_seen <= last_seen)
);
CREATE INDEX edges_by_dst ON edges (tenant_id, dst, kind);

CREATE TABLE node_terms (
    tenant_id TEXT   NOT NULL,
    term      BIGINT NOT NULL,
    node_id   TEXT   NOT NULL,
    PRIMARY KEY (tenant_id, term, node_id),
    FOREIGN KEY (tenant_id, node_id) REFERENCES nodes (tenant_id, id)
);
CREATE INDEX node_terms_by_node ON node_terms (tenant_id, node_id);

ALTER TABLE tenants ENABLE ROW LEVEL SECURITY;
ALTER TABLE tenants FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON tenants
    USING (tenant_id = current_setting('bacca.tenant_id', true))
    WITH CHECK (tenant_id = current_setting('bacca.tenant_id', true));

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
