-- 0004: nodes no longer carry a foreign key to tenants. The key was checked by a trigger per
-- inserted node (a lookup and a row lock on the tenant's row for each of a batch's ~2000
-- nodes: about a third of a node insert's cost). The store now locks the tenant's row once per
-- write transaction instead (SELECT ... FROM tenants ... FOR KEY SHARE, when it checks that the
-- tenant exists), which keeps the same guarantee: no node is written for a tenant that is
-- missing or being deleted. Row-level security and grants are unchanged (FOR KEY SHARE needs
-- the UPDATE privilege on tenants that the application role already has).
DO $$
DECLARE r record;
BEGIN
    FOR r IN SELECT conname FROM pg_constraint
             WHERE conrelid = 'nodes'::regclass AND confrelid = 'tenants'::regclass AND contype = 'f'
    LOOP
        EXECUTE format('ALTER TABLE nodes DROP CONSTRAINT %I', r.conname);
    END LOOP;
END $$;
