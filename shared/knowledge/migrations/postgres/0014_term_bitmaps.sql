-- 0014: `similar` finds its candidates through term_bits (tenant_id, term, block) under a
-- B-tree instead of the GIN index over nodes.terms: per term and block of 64 nids
-- (block = nid >> 6), the block's nodes holding the term as the bits of one BIGINT (bit
-- nid & 63; bit 63 is the sign bit), as SQLite has had since its 0011. Under row-level security
-- a qual whose operator is not leakproof cannot be an index condition (it may not run before
-- the policy's), and the array overlap `terms && $terms` is not leakproof: as the application
-- role the GIN index went unused and the candidate search scanned the tenant's every node
-- (62.5 ms at 100k incidents; a superuser, who bypasses the policies, 15.0 ms). Equality on
-- text and bigint is leakproof. nodes.terms stays (a candidate's shared-term count and total
-- are read from it, and erasure reads a node's terms there to clear its bits).
-- Run as the tables' owner; the copy lifts FORCE on nodes first so that it sees every
-- tenant's rows. After this migration grant the application role:
-- GRANT SELECT, INSERT, UPDATE, DELETE ON term_bits TO <app>;
ALTER TABLE nodes NO FORCE ROW LEVEL SECURITY;
CREATE TABLE term_bits (
    tenant_id TEXT   NOT NULL,
    term      BIGINT NOT NULL,
    block     BIGINT NOT NULL,
    bits      BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, term, block)
);
INSERT INTO term_bits (tenant_id, term, block, bits)
    SELECT n.tenant_id, t.term, n.nid >> 6, bit_or(1::bigint << (n.nid & 63)::int)
    FROM nodes n CROSS JOIN LATERAL (SELECT DISTINCT u AS term FROM unnest(n.terms) u) t
    WHERE n.terms IS NOT NULL
    GROUP BY n.tenant_id, t.term, n.nid >> 6;
ALTER TABLE nodes FORCE ROW LEVEL SECURITY;
ALTER TABLE term_bits ENABLE ROW LEVEL SECURITY;
ALTER TABLE term_bits FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON term_bits
    USING (tenant_id = (SELECT current_setting('bacca.tenant_id', true)))
    WITH CHECK (tenant_id = (SELECT current_setting('bacca.tenant_id', true)));
DROP INDEX nodes_by_term;
