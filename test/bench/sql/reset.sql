-- Between configurations (device unthrottled): finish what the storm left,
-- recreate the same amount of dead tuples, flush, so every configuration
-- starts from the same state. psql variable: vac_dead_pct.
\set ON_ERROR_STOP 1
SET statement_timeout = 0;
VACUUM oltp;
VACUUM vac_target;
UPDATE vac_target SET b = b + 1 WHERE id % 100 < :vac_dead_pct;
ANALYZE vac_target;
CHECKPOINT;
