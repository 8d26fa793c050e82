-- 0005: node ids as 16-byte BLOBs instead of 32 hex characters, and nodes_by_kind on (kind)
-- alone. Ids are keyed blind indexes (random order): every batch inserts into pages all over
-- the unique id index, and each page it dirties is written to the WAL at commit. Keys half as
-- wide put twice as many on a page, so a batch dirties fewer of them. An id that is not
-- lowercase hex (the graph writes none) stays TEXT; the store reads both back as the same
-- string. No read orders nodes by last_seen: (kind) keeps each kind's entries in rowid
-- (insertion) order, so new nodes append to their kind's run.
-- Edges and term rows reference nodes (nid): the three tables are rebuilt (as in 0002; a
-- dropped parent table would fail the foreign keys of its children).
CREATE TABLE nodes_v5 (
    nid        INTEGER PRIMARY KEY,
    id         BLOB    NOT NULL UNIQUE,
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
INSERT INTO nodes_v5 (nid, id, tenant_id, kind, key_ct, label_ct, attrs, sources, first_seen, last_seen)
    SELECT nid,
           CASE WHEN length(id) > 0 AND length(id) % 2 = 0 AND id NOT GLOB '*[^0-9a-f]*'
                THEN unhex(id) ELSE id END,
           tenant_id, kind, key_ct, label_ct, attrs, sources, first_seen, last_seen
    FROM nodes ORDER BY nid;

CREATE TABLE edges_v5 (
    src        INTEGER NOT NULL REFERENCES nodes_v5 (nid),
    kind       TEXT    NOT NULL,
    dst        INTEGER NOT NULL REFERENCES nodes_v5 (nid),
    tenant_id  TEXT    NOT NULL,
    sources    TEXT    NOT NULL DEFAULT '[]',
    first_seen INTEGER NOT NULL,
    last_seen  INTEGER NOT NULL,
    PRIMARY KEY (src, kind, dst),
    CHECK (first_seen <= last_seen)
) WITHOUT ROWID;
INSERT INTO edges_v5 (src, kind, dst, tenant_id, sources, first_seen, last_seen)
    SELECT src, kind, dst, tenant_id, sources, first_seen, last_seen FROM edges;

CREATE TABLE node_terms_v5 (
    term INTEGER NOT NULL,
    nid  INTEGER NOT NULL REFERENCES nodes_v5 (nid),
    PRIMARY KEY (term, nid)
) WITHOUT ROWID;
INSERT INTO node_terms_v5 (term, nid) SELECT term, nid FROM node_terms;

DROP TABLE edges;
DROP TABLE node_terms;
DROP TABLE nodes;
ALTER TABLE nodes_v5 RENAME TO nodes;
ALTER TABLE edges_v5 RENAME TO edges;
ALTER TABLE node_terms_v5 RENAME TO node_terms;
CREATE INDEX nodes_by_kind ON nodes (kind);
CREATE INDEX edges_by_dst ON edges (dst, kind);
CREATE INDEX node_terms_by_node ON node_terms (nid);
