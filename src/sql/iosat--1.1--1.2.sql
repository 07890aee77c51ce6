/* src/sql/iosat--1.1--1.2.sql */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION iosat UPDATE TO '1.2'" to load this file. \quit

--
-- 1.2: a paced parallel statement's leader and workers share one read
-- budget; iosat_parallel_pacing shows each such budget while it exists.
--
CREATE FUNCTION iosat_parallel_pacing(
    OUT leader_pid int4,
    OUT workers int4,
    OUT workers_attached int4,
    OUT leader_blocks int8,
    OUT worker_blocks int8,
    OUT paced_ms float8,
    OUT since timestamptz
)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'iosat_parallel_pacing_srf'
LANGUAGE C STRICT VOLATILE PARALLEL RESTRICTED;

CREATE VIEW iosat_parallel_pacing AS
    SELECT * FROM iosat_parallel_pacing();

-- public like iosat_admission: pids and counts, no query text
GRANT SELECT ON iosat_parallel_pacing TO PUBLIC;
