/* src/sql/iosat--1.2--1.3.sql */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION iosat UPDATE TO '1.3'" to load this file. \quit

--
-- 1.3: iosat_controller shows what the controller steers by (the device
-- against its ceiling and its learned latency), who counts against the
-- heavy-statement limit (slot holders, and those admitted apart), and
-- what heavy work gets (paced blocks a second, statements completed).
--
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
    OUT heavy_blocks_read int8
)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'iosat_controller_srf'
LANGUAGE C STRICT VOLATILE PARALLEL RESTRICTED;

CREATE VIEW iosat_controller AS
    SELECT * FROM iosat_controller();

-- public like iosat_admission: figures and counts, no query text
GRANT SELECT ON iosat_controller TO PUBLIC;
