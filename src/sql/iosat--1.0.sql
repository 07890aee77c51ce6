/* src/sql/iosat--1.0.sql */

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "CREATE EXTENSION iosat" to load this file. \quit

-- CREATE EXTENSION fails here, naming the setting, unless iosat is preloaded
CREATE FUNCTION iosat_assert_loaded()
RETURNS void
AS 'MODULE_PATHNAME', 'iosat_assert_loaded'
LANGUAGE C STRICT;
SELECT iosat_assert_loaded();
DROP FUNCTION iosat_assert_loaded();

--
-- iosat_devices: one row per block device under the data directory, pg_wal
-- and the tablespaces (or per device named in iosat.devices)
--
CREATE FUNCTION iosat_devices(
    OUT device text,
    OUT major int4,
    OUT minor int4,
    OUT roles text[],
    OUT status text,
    OUT source text,
    OUT note text,
    OUT r_iops float8,
    OUT w_iops float8,
    OUT r_mbps float8,
    OUT w_mbps float8,
    OUT r_await_ms float8,
    OUT w_await_ms float8,
    OUT aqu_sz float8,
    OUT util_pct float8,
    OUT r_iops_last float8,
    OUT w_iops_last float8,
    OUT r_mbps_last float8,
    OUT w_mbps_last float8,
    OUT r_await_ms_last float8,
    OUT w_await_ms_last float8,
    OUT aqu_sz_last float8,
    OUT util_pct_last float8,
    OUT inflight int8,
    OUT iops_limit int8,
    OUT headroom_pct float8,
    OUT nr_requests int4,
    OUT scheduler text,
    OUT rotational bool,
    OUT psi_some_avg10 float8,
    OUT psi_full_avg10 float8,
    OUT psi_some_pct float8,
    OUT stat_fields int4,
    OUT sample_time timestamptz
)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'iosat_devices_srf'
LANGUAGE C STRICT VOLATILE PARALLEL RESTRICTED;

CREATE VIEW iosat_devices AS
    SELECT * FROM iosat_devices();

--
-- iosat_status: the sampler's health
--
CREATE FUNCTION iosat_status(
    OUT sampler_pid int4,
    OUT sample_interval_ms int4,
    OUT samples int8,
    OUT devices int4,
    OUT sampler_started timestamptz,
    OUT last_sample timestamptz,
    OUT sample_age_ms int8,
    OUT stale bool,
    OUT discoveries int8,
    OUT sample_errors int8,
    OUT last_error text,
    OUT last_error_time timestamptz,
    OUT psi_available bool
)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'iosat_status_srf'
LANGUAGE C STRICT VOLATILE PARALLEL RESTRICTED;

CREATE VIEW iosat_status AS
    SELECT * FROM iosat_status();

-- device figures are no more sensitive than pg_stat_io; everyone may read them
GRANT SELECT ON iosat_devices, iosat_status TO PUBLIC;
