-- 0003: edges no longer carry foreign keys to nodes. Each key was checked by a trigger per
-- inserted edge (two row lookups and locks per edge, about half of an edge insert's cost).
-- The store now gives the same guarantee with explicit row locks: an upsert takes
-- FOR KEY SHARE on the stored nodes its edges reference (the nodes it writes are locked by
-- the write), and an erasure takes FOR UPDATE on the nodes it deletes or moves before it
-- touches their edges, so an edge is never written to a node being erased, nor left behind.
DO $$
DECLARE r record;
BEGIN
    FOR r IN SELECT conname FROM pg_constraint
             WHERE conrelid = 'edges'::regclass AND confrelid = 'nodes'::regclass AND contype = 'f'
    LOOP
        EXECUTE format('ALTER TABLE edges DROP CONSTRAINT %I', r.conname);
    END LOOP;
END $$;
