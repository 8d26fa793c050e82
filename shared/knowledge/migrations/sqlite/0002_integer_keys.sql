-- 0002: integer surrogate keys. Node ids are keyed blind indexes (random order); v1 used them
-- as the key of every B-tree (nodes, edges, their dst index, node_terms and its node index),
-- so each batch wrote pages all over the file. Now nodes get an INTEGER PRIMARY KEY (rowid,
-- assigned in insertion order), the blind id lives in ONE narrow unique index, and edges and
-- term rows reference the integer: new rows append at the end of their B-trees.
-- The file is the tenant's (bacca_tenant names it); node and edge rows still carry tenant_id.
CREATE TABLE nodes_v2 (
    nid        INTEGER PRIMARY KEY,
    id         TEXT    NOT NULL UNIQUE,
    tenant_id  TEXT    NOT NULL,
    kind       TEXT    NOT NULL,
    key_ct     BLOB    NOT NULL,
    label_ct   BLOB,
    attrs      TEXT    NOT NULL DEFAULT '{}',
    sources    TEXT    NOT NULL DEFAULT '[]',
    first_seen INTEGER NOT NULL,
    last_seen  INTEGER NOT NULL,
    CHECK (first_seen <= last_seen)
);
INSERT INTO nodes_v2 (id, tenant_id, kind, key_ct, label_ct, attrs, sources, first_seen, last_seen)
    SELECT id, tenant_id, kind, key_ct, label_ct, attrs, sources, first_seen, last_seen
    FROM nodes ORDER BY first_seen, id;

CREATE TABLE edges_v2 (
    src        INTEGER NOT NULL REFERENCES nodes_v2 (nid),
    kind       TEXT    NOT NULL,
    dst        INTEGER NOT NULL REFERENCES nodes_v2 (nid),
    tenant_id  TEXT    NOT NULL,
    sources    TEXT    NOT NULL DEFAULT '[]',
    first_seen INTEGER NOT NULL,
    last_seen  INTEGER NOT NULL,
    PRIMARY KEY (src, kind, dst),
    CHECK (first_seen <= last_seen)
) WITHOUT ROWID;
INSERT INTO edges_v2 (src, kind, dst, tenant_id, sources, first_seen, last_seen)
    SELECT s.nid, e.kind, d.nid, e.tenant_id, e.sources, e.first_seen, e.last_seen
    FROM edges e JOIN nodes_v2 s ON s.id = e.src JOIN nodes_v2 d ON d.id = e.dst;

CREATE TABLE node_terms_v2 (
    term INTEGER NOT NULL,
    nid  INTEGER NOT NULL REFERENCES nodes_v2 (nid),
    PRIMARY KEY (term, nid)
) WITHOUT ROWID;
INSERT INTO node_terms_v2 (term, nid)
    SELECT t.term, n.nid FROM node_terms t JOIN nodes_v2 n ON n.id = t.node_id;

DROP TABLE edges;
DROP TABLE node_terms;
DROP TABLE nodes;
ALTER TABLE nodes_v2 RENAME TO nodes;
ALTER TABLE edges_v2 RENAME TO edges;
ALTER TABLE node_terms_v2 RENAME TO node_terms;
CREATE INDEX nodes_by_kind ON nodes (kind, last_seen);
CREATE INDEX edges_by_dst ON edges (dst, kind);
CREATE INDEX node_terms_by_node ON node_terms (nid);
