--
-- iosat: which statements are top-level (gated, paced, capped, learned),
-- and how the prefetch cap of heavy statements goes through the GUC
-- machinery.  No saturated device is needed: a heavy statement in queue
-- mode starts with effective_io_concurrency capped at
-- iosat.heavy_io_concurrency on a healthy device too, and
-- current_setting() shows who ran capped.
--
CREATE EXTENSION iosat;
SET iosat.admission = 'queue';
SET iosat.cheap_reads = 0;          -- every statement is heavy
SET iosat.cheap_cost = 0;
SET iosat.heavy_io_concurrency = 0;
SET effective_io_concurrency = 7;

CREATE FUNCTION eic_in_do() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  -- runs through a nested executor: never capped by itself
  RAISE NOTICE 'nested: %', (SELECT current_setting('effective_io_concurrency') FROM pg_class LIMIT 1);
END $$;

-- a top-level statement is capped; the session keeps its value
SELECT current_setting('effective_io_concurrency') AS top_level;
SHOW effective_io_concurrency;
-- the statements of a DO block are nested: not capped
DO $$BEGIN PERFORM eic_in_do(); END$$;

-- a procedure that rolls back aborts its transaction one level down; the
-- nesting must come back to the top level when CALL returns (it went to
-- -1: nothing was top-level any more, and a function's statements were)
CREATE PROCEDURE roll_back() LANGUAGE plpgsql AS $$BEGIN ROLLBACK; END$$;
CREATE PROCEDURE commit_then_fail() LANGUAGE plpgsql AS
  $$BEGIN COMMIT; PERFORM 1/0; END$$;
CALL roll_back();
SELECT current_setting('effective_io_concurrency') AS top_level_after_rollback;
DO $$BEGIN PERFORM eic_in_do(); END$$;
CALL roll_back();
CALL roll_back();
SELECT current_setting('effective_io_concurrency') AS top_level_after_two;
CALL commit_then_fail();
SELECT current_setting('effective_io_concurrency') AS top_level_after_error;
DO $$BEGIN PERFORM eic_in_do(); END$$;

-- a SET made by a capped statement itself stays after it, as inside a
-- function with a SET clause; SET LOCAL semantics are the function's too
SELECT set_config('effective_io_concurrency', '5', false) AS set_inside;
SHOW effective_io_concurrency;
BEGIN;
SELECT set_config('effective_io_concurrency', '3', true) AS set_local_inside;
SHOW effective_io_concurrency;
COMMIT;
SHOW effective_io_concurrency;
-- an error inside a capped statement leaves the session's value
SELECT current_setting('effective_io_concurrency')::int / 0;
SHOW effective_io_concurrency;
BEGIN;
SAVEPOINT s;
SELECT current_setting('effective_io_concurrency')::int / 0;
ROLLBACK TO s;
SHOW effective_io_concurrency;
COMMIT;

-- parallel workers run with the cap too: the GUC state is serialised to
-- them, but a value at its default is skipped, so a cap written behind the
-- GUC machinery never reached them
RESET effective_io_concurrency;
CREATE TABLE par AS SELECT g AS x FROM generate_series(1, 10000) g;
ANALYZE par;
CREATE FUNCTION eic_where() RETURNS text PARALLEL SAFE LANGUAGE plpgsql AS $$
BEGIN
  RETURN current_setting('effective_io_concurrency') || ' in '
    || CASE WHEN pg_backend_pid() = current_setting('iosat_test.leader')::int
            THEN 'leader' ELSE 'worker' END;
END $$;
SELECT set_config('iosat_test.leader', pg_backend_pid()::text, false) IS NOT NULL AS leader_noted;
SET max_parallel_workers_per_gather = 2;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET parallel_leader_participation = off;
SELECT DISTINCT eic_where() AS eic FROM par;
RESET max_parallel_workers_per_gather;
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;
RESET parallel_leader_participation;
SET effective_io_concurrency = 7;

DROP TABLE par;
DROP FUNCTION eic_where();
DROP FUNCTION eic_in_do();
DROP PROCEDURE roll_back();
DROP PROCEDURE commit_then_fail();
RESET effective_io_concurrency;
RESET iosat.heavy_io_concurrency;
RESET iosat.cheap_cost;
RESET iosat.cheap_reads;
RESET iosat.admission;

DROP EXTENSION iosat;
