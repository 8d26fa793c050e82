-- 0010: a node's term hashes are a list in its own row (nodes.terms: each term as 8 bytes,
-- big-endian two's complement, in ascending order, no repeats; NULL for none), and
-- node_terms keeps one B-tree, (term, nid), for `similar`'s term -> node lookups.
-- The by-node index went: every new term row paid a second B-tree insert for it, and its only
-- readers were `similar`'s per-candidate term count (now length(terms) / 8) and erasure's
-- per-node deletes (now by primary key, from the list). The foreign key from node_terms to
-- nodes went with it: without a by-node index SQLite would check it, on each node delete, by a
-- scan of node_terms. The writer never relied on it (foreign keys are off there, see
-- store/sqlite.rs open_writer); erasure deletes a node's term rows before the node.
ALTER TABLE nodes ADD COLUMN terms BLOB;
UPDATE nodes SET terms = (
    SELECT unhex(group_concat(printf('%016X', term), '' ORDER BY term))
    FROM node_terms WHERE node_terms.nid = nodes.nid
);

CREATE TABLE node_terms_v10 (
    term INTEGER NOT NULL,
    nid  INTEGER NOT NULL,
    PRIMARY KEY (term, nid)
) WITHOUT ROWID;
INSERT INTO node_terms_v10 (term, nid) SELECT term, nid FROM node_terms ORDER BY term, nid;
DROP TABLE node_terms;
ALTER TABLE node_terms_v10 RENAME TO node_terms;
