/* src/sql/iosat--1.5--1.6.sql */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION iosat UPDATE TO '1.6'" to load this file. \quit

--
-- 1.6: iosat_controller adds the throughput signal and the server's write
-- debt, in MB of 2^20 bytes: throughput_mb (MB/s read and written by the
-- device it shows, plus
-- the growth of the write debt where relation files live),
-- throughput_limit_mb (iosat.throughput_limit), write_debt_mb (the page
-- cache the server's memory cgroup holds dirty or under write-back),
-- write_debt_growth_mbps, write_debt_iops (the write operations a second
-- that growth will cost the device) and write_debt_source.  The function's result
-- changes, so it and the view over it are dropped and created again with
-- iosat's privileges (a grant a DBA gave on the view is to be given again;
-- a view of one's own built on it makes the update fail until dropped).
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
    OUT heavy_blocks_dirtied int8,
    -- 1.6
    OUT throughput_mb float8,
    OUT throughput_limit_mb int8,
    OUT write_debt_mb float8,
    OUT write_debt_growth_mbps float8,
    OUT write_debt_iops float8,
    OUT write_debt_source text
)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'iosat_controller_srf'
LANGUAGE C STRICT VOLATILE PARALLEL RESTRICTED;

CREATE VIEW iosat_controller AS
    SELECT * FROM iosat_controller();

GRANT SELECT ON iosat_controller TO PUBLIC;
