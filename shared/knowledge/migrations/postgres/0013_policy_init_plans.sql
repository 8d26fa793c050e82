-- 0013: the row-level security policies read the transaction's tenant once per statement.
-- `tenant_id = current_setting('bacca.tenant_id', true)` called current_setting (a STABLE
-- function: a settings lookup by name) for every row a statement checks or filters, so the
-- application role (policies apply; a superuser bypasses them) paid for it on every inserted
-- node and edge. As `(SELECT current_setting(...))` it is an uncorrelated sub-select, planned
-- as an init plan evaluated once per statement; the tenant cannot change within a statement
-- (it is set per transaction), so the policies admit and hide exactly the same rows.
ALTER POLICY tenant_isolation ON tenants
    USING (tenant_id = (SELECT current_setting('bacca.tenant_id', true)))
    WITH CHECK (tenant_id = (SELECT current_setting('bacca.tenant_id', true)));
ALTER POLICY tenant_isolation ON nodes
    USING (tenant_id = (SELECT current_setting('bacca.tenant_id', true)))
    WITH CHECK (tenant_id = (SELECT current_setting('bacca.tenant_id', true)));
ALTER POLICY tenant_isolation ON edges
    USING (tenant_id = (SELECT current_setting('bacca.tenant_id', true)))
    WITH CHECK (tenant_id = (SELECT current_setting('bacca.tenant_id', true)));
ALTER POLICY tenant_isolation ON term_postings
    USING (tenant_id = (SELECT current_setting('bacca.tenant_id', true)))
    WITH CHECK (tenant_id = (SELECT current_setting('bacca.tenant_id', true)));
