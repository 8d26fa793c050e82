-- 0008: no index on node ids; nids never reused. Ids are keyed blind indexes (random order):
-- the unique id index took a random insert per new node, and every batch dirtied most of its
-- leaf pages, each written to the WAL (and later checkpointed) once per batch: about two thirds
-- of the WAL volume of a batch of new incidents. The store now keeps each tenant's id -> nid
-- map in memory (loaded from this table on first use, then from the rows past the largest nid
-- it has read) and enforces the uniqueness of ids in its single writer. AUTOINCREMENT keeps
-- a deleted node's nid from ever being handed out again, so a map entry is either current or
-- names no row, and "rows past the largest nid read" is every row written since.
-- Edges and term rows reference nodes (nid): the three tables are rebuilt (as in 0005).
CREATE TABLE nodes_v8 (
    nid        INTEGER PRIMARY KEY AUTOINCREMENT,
    id         BLOB    NOT NULL,
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
INSERT INTO nodes_v8 (nid, id, tenant_id, kind, key_ct, label_ct, attrs, sources, first_seen, last_seen)
    SELECT nid, id, tenant_id, kind, key_ct, label_ct, attrs, sources, first_seen, last_seen
    FROM nodes ORDER BY nid;

CREATE TABLE edges_v8 (
    src        INTEGER NOT NULL REFERENCES nodes_v8 (nid),
    kind       TEXT    NOT NULL,
    dst        INTEGER NOT NULL REFERENCES nodes_v8 (nid),
    tenant_id  TEXT    NOT NULL,
    sources    TEXT    NOT NULL DEFAULT '[]',
    first_seen INTEGER NOT NULL,
    last_seen  INTEGER NOT NULL,
    PRIMARY KEY (src, kind, dst),
    CHECK (first_seen <= last_seen)
) WITHOUT ROWID;
INSERT INTO edges_v8 (src, kind, dst, tenant_id, sources, first_seen, last_seen)
    SELECT src, kind, dst, tenant_id, sources, first_seen, last_seen FROM edges;

CREATE TABLE node_terms_v8 (
    term INTEGER NOT NULL,
    nid  INTEGER NOT NULL REFERENCES nodes_v8 (nid),
    PRIMARY KEY (term, nid)
) WITHOUT ROWID;
INSERT INTO node_terms_v8 (term, nid) SELECT term, nid FROM node_terms;

DROP TABLE edges;
DROP TABLE node_terms;
DROP TABLE nodes;
ALTER TABLE nodes_v8 RENAME TO nodes;
ALTER TABLE edges_v8 RENAME TO edges;
ALTER TABLE node_terms_v8 RENAME TO node_terms;
CREATE INDEX nodes_by_kind ON nodes (kind);
CREATE INDEX edges_by_dst ON edges (dst, kind);
CREATE INDEX node_terms_by_node ON node_terms (nid);
