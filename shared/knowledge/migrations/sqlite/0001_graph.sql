-- bacca knowledge graph, SQLite (one file per tenant). Times are microseconds since the epoch.
CREATE TABLE bacca_tenant (
    tenant_id TEXT PRIMARY KEY NOT NULL
) WITHOUT ROWID;

CREATE TABLE nodes (
    tenant_id  TEXT    NOT NULL,
    id         TEXT    NOT NULL,
    kind       TEXT    NOT NULL,
    key_ct     BLOB    NOT NULL,
    label_ct   BLOB,
    attrs      TEXT    NOT NULL DEFAULT '{}',
    sources    TEXT    NOT NULL DEFAULT '[]',
    first_seen INTEGER NOT NULL,
    last_seen  INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, id),
    CHECK (first_seen <= last_seen)
) WITHOUT ROWID;
CREATE INDEX nodes_by_kind ON nodes (tenant_id, kind, last_seen);

CREATE TABLE edges (
    tenant_id  TEXT    NOT NULL,
    kind       TEXT    NOT NULL,
    src        TEXT    NOT NULL,
    dst        TEXT    NOT NULL,
    sources    TEXT    NOT NULL DEFAULT '[]',
    first_seen INTEGER NOT NULL,
    last_seen  INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, src, kind, dst),
    FOREIGN KEY (tenant_id, src) REFERENCES nodes (tenant_id, id),
    FOREIGN KEY (tenant_id, dst) REFERENCES nodes (tenant_id, id),
    CHECK (first_seen <= last_seen)
) WITHOUT ROWID;
CREATE INDEX edges_by_dst ON edges (tenant_id, dst, kind);

CREATE TABLE node_terms (
    tenant_id TEXT    NOT NULL,
    term      INTEGER NOT NULL,
    node_id   TEXT    NOT NULL,
    PRIMARY KEY (tenant_id, term, node_id),
    FOREIGN KEY (tenant_id, node_id) REFERENCES nodes (tenant_id, id)
) WITHOUT ROWID;
CREATE INDEX node_terms_by_node ON node_terms (tenant_id, node_id);
