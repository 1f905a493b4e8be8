-- A message's status moves three or four times in its first second (sending, sent, delivered);
-- a carrier part's receipt status once. With free space left on each page those are HOT updates:
-- no new entries in the four messages indexes (or carrier_refs' two), less WAL, less bloat.
-- Daily partitions made from now on get the same setting (src/db/partitions.ts).
DO $$
DECLARE p regclass;
BEGIN
  FOR p IN SELECT i.inhrelid::regclass FROM pg_inherits i WHERE i.inhparent = 'messages'::regclass LOOP
    EXECUTE format('ALTER TABLE %s SET (fillfactor = 70)', p);
  END LOOP;
END $$;
ALTER TABLE carrier_refs SET (fillfactor = 85);
