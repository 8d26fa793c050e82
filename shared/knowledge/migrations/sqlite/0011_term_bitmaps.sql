-- 0011: `similar`'s term -> node lookups as bitmaps: term_bits holds, per term and block of 64
-- nids (block = nid >> 6), the set of the block's nodes whose title holds the term, as the
-- bits of one INTEGER (bit nid & 63; bit 63 is the sign bit). A batch of new incidents writes
-- one row per (term, block) instead of one node_terms row per (term, node): nids are handed
-- out in insertion order, so a batch's nodes share few blocks, and the terms of one tenant's
-- titles repeat (the bench's 5000 term rows a batch become ~1100 bitmap rows; the connector
-- streams' incidents ~4800 -> ~880). A node's own list stays in nodes.terms (0010).
CREATE TABLE term_bits (
    term  INTEGER NOT NULL,
    block INTEGER NOT NULL,
    bits  INTEGER NOT NULL,
    PRIMARY KEY (term, block)
) WITHOUT ROWID;
-- The distinct bits of a (term, block) summed are their bitwise or (bit 63 included: the sum
-- of distinct powers of two is their two's complement pattern, never out of range).
INSERT INTO term_bits (term, block, bits)
    SELECT term, nid >> 6, SUM(1 << (nid & 63)) FROM node_terms GROUP BY term, nid >> 6;
DROP TABLE node_terms;
