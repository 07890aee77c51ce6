/* src/sql/iosat--1.4--1.5.sql */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION iosat UPDATE TO '1.5'" to load this file. \quit

--
-- 1.5: iosat_controller adds heavy_blocks_dirtied, what the heavy
-- statements that completed dirtied (beside heavy_blocks_read).
--
DROP VIEW iosat_controller;
DROP FUNCTION iosat_controller();

CREATE FUNCTION iosat_controller(
    OUT device text,
    OUT iops float8,
    OUT iops_limit int8,
    OUT use_pct float8,
    OUT r_await_ms float8,
    OUT usual_await_ms float8,
    OUT latency_threshold_ms float8,
    OUT pressure float8,
    OUT saturated bool,
    OUT heavy_limit int4,
    OUT heavy_running int4,
    OUT heavy_apart int4,
    OUT queued int4,
    OUT pace_rate int4,
    OUT paced_blocks_per_s float8,
    OUT heavy_completed int8,
    OUT heavy_blocks_read int8,
    -- 1.5
    OUT heavy_blocks_dirtied int8
)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'iosat_controller_srf'
LANGUAGE C STRICT VOLATILE PARALLEL RESTRICTED;

CREATE VIEW iosat_controller AS
    SELECT * FROM iosat_controller();

GRANT SELECT ON iosat_controller TO PUBLIC;

--
-- iosat_queries learns what each statement writes, beside what it
-- reads: blocks_dirtied (shared and local buffers it dirtied, and
-- temporary-file blocks it wrote), blocks_written (blocks the backend wrote
-- itself), wal_bytes, and dirtied_per_call.  A statement is heavy by its
-- reads (iosat.cheap_reads) or its writes (iosat.cheap_writes).  The
-- function's result changes, so it and the view over it are dropped and
-- created again with their privileges (nothing else depends on them).
--
DROP VIEW iosat_queries;
DROP FUNCTION iosat_queries();

CREATE FUNCTION iosat_queries(
    OUT queryid int8,
    OUT calls int8,
    OUT blocks_read int8,
    OUT rows int8,
    OUT blocks_per_call float8,
    OUT rows_per_call float8,
    OUT read_amplification float8,
    OUT heavy bool,
    OUT times_queued int8,
    OUT times_refused int8,
    OUT last_decision text,
    -- 1.5: writes
    OUT blocks_dirtied int8,
    OUT blocks_written int8,
    OUT wal_bytes int8,
    OUT dirtied_per_call float8
)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'iosat_queries_srf'
LANGUAGE C STRICT VOLATILE PARALLEL RESTRICTED;

CREATE VIEW iosat_queries AS
    SELECT * FROM iosat_queries();

REVOKE ALL ON FUNCTION iosat_queries() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION iosat_queries() TO pg_read_all_stats;
GRANT SELECT ON iosat_queries TO pg_read_all_stats;
