--
-- Vacuum backpressure: parameters, the shape of iosat_vacuum and
-- iosat_vacuum_status, and manual VACUUM with and without
-- iosat.vacuum_manual.  (Autovacuum under pressure is tested for real in
-- test/t/050_vacuum.pl.)
--
CREATE EXTENSION IF NOT EXISTS iosat;

SELECT name, setting, unit, context, vartype, min_val, max_val
  FROM pg_settings
 WHERE name LIKE 'iosat.vacuum%'
 ORDER BY name;

-- reload-time settings cannot be SET; out-of-range values are refused
SET iosat.vacuum_backpressure = on;
SET iosat.vacuum_max_slowdown = 2;
ALTER SYSTEM SET iosat.vacuum_max_slowdown = 0.5;
ALTER SYSTEM SET iosat.vacuum_max_slowdown = 1001;
ALTER SYSTEM SET iosat.vacuum_max_speedup = 0;
ALTER SYSTEM SET iosat.vacuum_max_speedup = 101;
-- (the message for a value with a unit differs from 17 on: only its code)
\set VERBOSITY sqlstate
ALTER SYSTEM SET iosat.vacuum_tick = '100ms';
\set VERBOSITY default
ALTER SYSTEM SET iosat.vacuum_max_slowdown = 8;
ALTER SYSTEM RESET iosat.vacuum_max_slowdown;

-- the views have the documented columns
SELECT attname, format_type(atttypid, atttypmod)
  FROM pg_attribute
 WHERE attrelid = 'iosat_vacuum'::regclass AND attnum > 0
 ORDER BY attnum;
SELECT attname, format_type(atttypid, atttypmod)
  FROM pg_attribute
 WHERE attrelid = 'iosat_vacuum_status'::regclass AND attnum > 0
 ORDER BY attnum;

-- off by default: the published multiplier is 1
SELECT pg_sleep(0.3);
SELECT backpressure, multiplier, max_slowdown, max_speedup, NOT stale AS fresh
  FROM iosat_vacuum_status;

-- a manual VACUUM is left alone: its page costs are the session's
CREATE TABLE vac_regress (id int, pad text);
INSERT INTO vac_regress SELECT g, repeat('x', 100) FROM generate_series(1, 20000) g;
DELETE FROM vac_regress WHERE id % 2 = 0;
SET vacuum_cost_page_miss = 3;
VACUUM vac_regress;
SHOW vacuum_cost_page_miss;

-- with iosat.vacuum_manual it is ticked while it runs (with cost delay on),
-- and its costs are put back afterwards, also after an error
SET iosat.vacuum_manual = on;
SET vacuum_cost_delay = '1ms';
SET vacuum_cost_limit = 10000;
DELETE FROM vac_regress WHERE id % 3 = 0;
VACUUM vac_regress;
SHOW vacuum_cost_page_miss;
VACUUM no_such_table;
SHOW vacuum_cost_page_miss;
ANALYZE vac_regress;
SHOW vacuum_cost_page_miss;
-- no manual vacuum is ticked now
SELECT count(*) FROM iosat_vacuum WHERE kind = 'manual';
RESET vacuum_cost_page_miss;
RESET vacuum_cost_delay;
RESET vacuum_cost_limit;
RESET iosat.vacuum_manual;

-- anyone may read the views; only superusers may set iosat.vacuum_manual
CREATE ROLE vac_regress_user;
SET ROLE vac_regress_user;
SELECT count(*) >= 0 AS readable FROM iosat_vacuum;
SELECT backpressure FROM iosat_vacuum_status;
SET iosat.vacuum_manual = on;
RESET ROLE;
DROP ROLE vac_regress_user;
DROP TABLE vac_regress;
