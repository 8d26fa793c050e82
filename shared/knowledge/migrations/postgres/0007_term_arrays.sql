-- 0007: a node's term hashes live in its own row (`nodes.terms`, sorted and unique; NULL when
-- it has none) under a GIN index, instead of one node_terms row per term with two B-tree
-- entries each (a 1000-incident batch wrote ~5000 such rows and ~10000 index entries). GIN's
-- fast update appends a row's terms to the index's pending list, merged into the posting
-- trees in bulk. `similar` skips terms found in more than MAX_TERM_POSTINGS nodes; it reads
-- those counts from `term_postings` (nodes per term), which each write adjusts by the terms
-- it adds or removes, once per distinct term of the transaction.
-- nodes_by_kind now covers only kinds with few nodes per tenant: services and signatures
-- (every write lists them whole) and monitors; a node per incident, action, document or
-- person no longer adds an entry to it. The store names the kind as a literal, so that the planner can use the
-- partial index; other kinds are read through the tenant's range of (tenant_id, id).
-- Run as the tables' owner; the copy lifts FORCE first so that it sees every tenant's rows.
-- After this migration grant the application role:
-- GRANT SELECT, INSERT, UPDATE, DELETE ON term_postings TO <app>;
ALTER TABLE nodes NO FORCE ROW LEVEL SECURITY;
ALTER TABLE node_terms NO FORCE ROW LEVEL SECURITY;

ALTER TABLE nodes ADD COLUMN terms BIGINT[];
UPDATE nodes n SET terms = t.terms
    FROM (SELECT nid, array_agg(term ORDER BY term) AS terms FROM node_terms GROUP BY nid) t
    WHERE n.nid = t.nid;

CREATE TABLE term_postings (
    tenant_id TEXT   NOT NULL,
    term      BIGINT NOT NULL,
    nodes     BIGINT NOT NULL CHECK (nodes >= 0),
    PRIMARY KEY (tenant_id, term)
);
INSERT INTO term_postings (tenant_id, term, nodes)
    SELECT tenant_id, term, COUNT(*) FROM node_terms GROUP BY tenant_id, term;

DROP TABLE node_terms;
CREATE INDEX nodes_by_term ON nodes USING gin (terms) WHERE terms IS NOT NULL;
DROP INDEX nodes_by_kind;
CREATE INDEX nodes_by_kind ON nodes (tenant_id, kind) WHERE kind IN ('service', 'signature', 'monitor');

ALTER TABLE nodes FORCE ROW LEVEL SECURITY;
ALTER TABLE term_postings ENABLE ROW LEVEL SECURITY;
ALTER TABLE term_postings FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON term_postings
    USING (tenant_id = current_setting('bacca.tenant_id', true))
    WITH CHECK (tenant_id = current_setting('bacca.tenant_id', true));
