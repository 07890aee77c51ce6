-- Between configurations (device unthrottled): finish what the storm left,
-- recreate the same dead tuples, flush, so every configuration starts from
-- the same state. psql variables: vac_dead_pct (vac_target), bulk_dead_pct,
-- events_dead_pct (every partition of events).
\set ON_ERROR_STOP 1
SET statement_timeout = 0;
-- autovacuum's storm switches autovacuum off when it stops
ALTER SYSTEM RESET autovacuum;
SELECT pg_reload_conf();
SELECT format('ALTER TABLE %I SET (autovacuum_enabled = false)', c.relname)
FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
WHERE i.inhparent = 'events'::regclass \gexec
ALTER TABLE vac_target SET (autovacuum_enabled = false);
ALTER TABLE bulk SET (autovacuum_enabled = false);
ALTER TABLE oltp SET (autovacuum_enabled = false);
DO $$
DECLARE r record;
BEGIN
    FOR r IN SELECT relname FROM pg_class WHERE relname ~ '^ctas_[0-9]+$' AND relkind = 'r' LOOP
        EXECUTE format('DROP TABLE %I', r.relname);
    END LOOP;
    FOR r IN SELECT relname FROM pg_class WHERE relname ~ '^cold_ix_[0-9]+$' AND relkind = 'i' LOOP
        EXECUTE format('DROP INDEX %I', r.relname);
    END LOOP;
END $$;
TRUNCATE bulk_log;
VACUUM oltp;
VACUUM vac_target;
VACUUM bulk;
VACUUM events;
-- writes' UPDATEs leave dead tuples in cold
VACUUM cold;
UPDATE vac_target SET b = b + 1 WHERE id % 100 < :vac_dead_pct;
UPDATE bulk SET v = v + 1 WHERE id % 100 < :bulk_dead_pct;
UPDATE events SET v = v + 1 WHERE id % 100 < :events_dead_pct;
ANALYZE vac_target;
ANALYZE bulk;
ANALYZE events;
CHECKPOINT;
