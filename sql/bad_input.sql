--
-- Bad input: every iosat.* parameter given out-of-range, malformed and
-- hostile values, and every SQL function of the extension called with
-- NULLs, extra arguments, in odd contexts and by roles that may not.  Each
-- case must end in a clear error (or be accepted and reported, where the
-- README says so), never in a crash: the last query checks the server is
-- still the same one.
--
-- Reload-time (sighup) and restart-time (postmaster) parameters cannot be
-- SET in a session; ALTER SYSTEM runs the same checks as a reload, without
-- changing anything when they fail.  Range errors of parameters in ms print
-- the unit in the range from PostgreSQL 17 on, so for those only the
-- SQLSTATE is shown, then the message with " ms" removed.
--
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS iosat;
CREATE EXTENSION iosat;
RESET client_min_messages;
SELECT pg_postmaster_start_time() AS started \gset

-- the functions of the extension (a new one shows up here: add its cases)
SELECT p.oid::regprocedure AS function, p.proretset AS returns_set,
       p.proisstrict AS strict,
       has_function_privilege('public', p.oid, 'EXECUTE') AS public_may_call
  FROM pg_proc p JOIN pg_depend d ON d.objid = p.oid AND d.classid = 'pg_proc'::regclass
  JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'iosat'
 ORDER BY p.oid::regprocedure::text COLLATE "C";

\set VERBOSITY sqlstate
\set unitless 'SELECT replace(:''LAST_ERROR_MESSAGE'', '' ms'', '''') AS message'

-- ---------------------------------------------------------------------
-- integer parameters with units (ms)
-- ---------------------------------------------------------------------
ALTER SYSTEM SET iosat.sample_interval = 0;
:unitless;
ALTER SYSTEM SET iosat.sample_interval = -500;
:unitless;
ALTER SYSTEM SET iosat.sample_interval = '9ms';
:unitless;
ALTER SYSTEM SET iosat.sample_interval = '61s';
:unitless;
ALTER SYSTEM SET iosat.sample_interval = '2147483648';
:unitless;
ALTER SYSTEM SET iosat.smoothing_window = '-1';
:unitless;
ALTER SYSTEM SET iosat.smoothing_window = '11min';
:unitless;
ALTER SYSTEM SET iosat.profile_interval = '1us';
:unitless;
ALTER SYSTEM SET iosat.profile_interval = '1d';
:unitless;
ALTER SYSTEM SET iosat.latency_target = '-2ms';
:unitless;
ALTER SYSTEM SET iosat.latency_target = '1h';
:unitless;
ALTER SYSTEM SET iosat.vacuum_tick = '249ms';
:unitless;
ALTER SYSTEM SET iosat.vacuum_tick = '0';
:unitless;
ALTER SYSTEM SET iosat.vacuum_tick = '2min';
:unitless;
ALTER SYSTEM SET iosat.bpf_max_age = '-1ms';
:unitless;
ALTER SYSTEM SET iosat.bpf_max_age = '2h';
:unitless;
SET iosat.queue_timeout = 0;
:unitless;
SET iosat.queue_timeout = '2h';
:unitless;
\set VERBOSITY default
-- malformed values (no range, so the same message everywhere)
ALTER SYSTEM SET iosat.sample_interval = 'fast';
ALTER SYSTEM SET iosat.sample_interval = '';
ALTER SYSTEM SET iosat.sample_interval = '10 parsecs';
ALTER SYSTEM SET iosat.sample_interval = '1e99';
ALTER SYSTEM SET iosat.sample_interval = 'NaN';
ALTER SYSTEM SET iosat.sample_interval = '100ms; DROP TABLE x';
ALTER SYSTEM SET iosat.smoothing_window = '2 seconds';
ALTER SYSTEM SET iosat.profile_interval = '1s1';
ALTER SYSTEM SET iosat.latency_target = 'high';
ALTER SYSTEM SET iosat.vacuum_tick = 'often';
ALTER SYSTEM SET iosat.bpf_max_age = 'stale';
SET iosat.queue_timeout = 'forever';
SET iosat.queue_timeout = '';
-- a user may set the queue timeout for the session, within the range
SET iosat.queue_timeout = '1.5s';
SHOW iosat.queue_timeout;
RESET iosat.queue_timeout;

-- ---------------------------------------------------------------------
-- plain integer parameters
-- ---------------------------------------------------------------------
ALTER SYSTEM SET iosat.iops_limit = -1;
ALTER SYSTEM SET iosat.iops_limit = 100000001;
ALTER SYSTEM SET iosat.iops_limit = '1e99';
ALTER SYSTEM SET iosat.iops_limit = '99999999999999999999';
ALTER SYSTEM SET iosat.iops_limit = 'lots';
ALTER SYSTEM SET iosat.iops_limit = '';
ALTER SYSTEM SET iosat.iops_limit = '3000 IOPS';
ALTER SYSTEM SET iosat.read_iops_limit = -1;
ALTER SYSTEM SET iosat.read_iops_limit = 'lots';
ALTER SYSTEM SET iosat.pacing_min_rate = 0;
ALTER SYSTEM SET iosat.pacing_min_rate = 1000001;
ALTER SYSTEM SET iosat.pacing = 'maybe';
SET iosat.pacing = off;
SET iosat.pacing_min_rate = 100;
ALTER SYSTEM SET iosat.queue_depth_target = -1;
ALTER SYSTEM SET iosat.queue_depth_target = 100001;
ALTER SYSTEM SET iosat.queue_depth_target = 'deep';
ALTER SYSTEM SET iosat.max_queued = -1;
ALTER SYSTEM SET iosat.max_queued = 262144;
ALTER SYSTEM SET iosat.max_queued = '64 statements';
ALTER SYSTEM SET iosat.profile_max_entries = 63;
ALTER SYSTEM SET iosat.profile_max_entries = 65537;
ALTER SYSTEM SET iosat.profile_max_entries = 'all';
ALTER SYSTEM SET iosat.max_queries = 99;
ALTER SYSTEM SET iosat.max_queries = 1000001;
ALTER SYSTEM SET iosat.max_queries = '-0x10';
SET iosat.cheap_reads = -1;
SET iosat.cheap_reads = 2147483648;
SET iosat.cheap_reads = 'few';
SET iosat.cheap_cost = -1;
SET iosat.cheap_cost = '1e10';
SET iosat.cheap_cost = 'cheap';
SET iosat.heavy_io_concurrency = -2;
SET iosat.heavy_io_concurrency = 1001;
SET iosat.heavy_io_concurrency = 'shallow';
-- factors (real numbers)
ALTER SYSTEM SET iosat.vacuum_max_slowdown = 0.5;
ALTER SYSTEM SET iosat.vacuum_max_slowdown = 1000.001;
ALTER SYSTEM SET iosat.vacuum_max_slowdown = -1;
ALTER SYSTEM SET iosat.vacuum_max_slowdown = 'NaN';
ALTER SYSTEM SET iosat.vacuum_max_slowdown = 'Infinity';
ALTER SYSTEM SET iosat.vacuum_max_slowdown = '1e309';
ALTER SYSTEM SET iosat.vacuum_max_slowdown = '10x';
ALTER SYSTEM SET iosat.vacuum_max_slowdown = '';
ALTER SYSTEM SET iosat.vacuum_max_speedup = 0;
ALTER SYSTEM SET iosat.vacuum_max_speedup = 100.5;
ALTER SYSTEM SET iosat.vacuum_max_speedup = '-Infinity';
ALTER SYSTEM SET iosat.vacuum_max_speedup = 'twice';
-- the wrong way to change them: in a session
SET iosat.iops_limit = 3000;
SET iosat.profile_max_entries = 128;
SET iosat.max_queries = 100;
SET iosat.vacuum_max_slowdown = 2;
SET iosat.vacuum_tick = '1s';

-- ---------------------------------------------------------------------
-- booleans and enums
-- ---------------------------------------------------------------------
ALTER SYSTEM SET iosat.profile = 'sometimes';
ALTER SYSTEM SET iosat.profile = '';
ALTER SYSTEM SET iosat.profile = '2';
ALTER SYSTEM SET iosat.vacuum_backpressure = 'yes please';
ALTER SYSTEM SET iosat.vacuum_backpressure = '';
ALTER SYSTEM SET iosat.bpf = 'maybe';
ALTER SYSTEM SET iosat.bpf = '';
SET iosat.vacuum_manual = 'sometimes';
SET iosat.vacuum_manual = -1;
SET iosat.admission = 'maybe';
SET iosat.admission = '';
SET iosat.admission = 'queue,reject';
SET iosat.admission = 1;
SET iosat.monitor_log_level = 'error';
SET iosat.monitor_log_level = 'fatal';
SET iosat.monitor_log_level = 'panic';
SET iosat.monitor_log_level = 'loud';
-- enum names are case-insensitive; hidden aliases are accepted
SET iosat.admission = 'MONITOR';
SHOW iosat.admission;
SET iosat.monitor_log_level = 'debug';
SHOW iosat.monitor_log_level;
RESET iosat.admission;
RESET iosat.monitor_log_level;

-- ---------------------------------------------------------------------
-- paths: absolute, no "..", bounded, superuser and restart only
-- ---------------------------------------------------------------------
ALTER SYSTEM SET iosat.sysfs_root = '';
ALTER SYSTEM SET iosat.sysfs_root = 'sys';
ALTER SYSTEM SET iosat.sysfs_root = './sys';
ALTER SYSTEM SET iosat.sysfs_root = '../sys';
ALTER SYSTEM SET iosat.sysfs_root = '/sys/../../etc';
ALTER SYSTEM SET iosat.sysfs_root = '/sys/..';
ALTER SYSTEM SET iosat.sysfs_root = '/..';
ALTER SYSTEM SET iosat.sysfs_root = '~/sys';
ALTER SYSTEM SET iosat.procfs_root = 'proc';
ALTER SYSTEM SET iosat.procfs_root = '/proc/self/../..';
ALTER SYSTEM SET iosat.procfs_root = '//..//';
SELECT format('ALTER SYSTEM SET iosat.procfs_root = %L', '/' || repeat('p', 600)) AS sql \gset
:sql;
ALTER SYSTEM SET iosat.bpf_pin_dir = 'sys/fs/bpf/iosat';
ALTER SYSTEM SET iosat.bpf_pin_dir = '/sys/fs/bpf/iosat/..';
ALTER SYSTEM SET iosat.bpf_pin_dir = '/sys/fs/bpf/../../etc';
ALTER SYSTEM SET iosat.bpf_pin_dir = '';
-- the BPF reader's limit: 150 bytes
SELECT format('ALTER SYSTEM SET iosat.bpf_pin_dir = %L', '/' || repeat('b', 150)) AS sql \gset
:sql;
SET iosat.bpf_pin_dir = '/tmp';
SET iosat.sysfs_root = '/sys';
SET iosat.procfs_root = '/tmp';
-- "..." and "..x" are names, not the parent directory
ALTER SYSTEM SET iosat.sysfs_root = '/tmp/.../..x';
ALTER SYSTEM RESET iosat.sysfs_root;

-- ---------------------------------------------------------------------
-- device lists
-- ---------------------------------------------------------------------
ALTER SYSTEM SET iosat.devices = '..';
ALTER SYSTEM SET iosat.devices = '.';
ALTER SYSTEM SET iosat.devices = 'vda, ..';
ALTER SYSTEM SET iosat.devices = '/dev/sda';
ALTER SYSTEM SET iosat.devices = 'sda/../../etc';
ALTER SYSTEM SET iosat.devices = '"vda"';
ALTER SYSTEM SET iosat.devices = 'vda;reboot';
ALTER SYSTEM SET iosat.devices = 'vda$(id)';
ALTER SYSTEM SET iosat.devices = E'vda\tvdb';
-- a multibyte character ("vd" and a UTF-8 a-umlaut) is reported by its
-- first byte, in hex, so that the message stays valid in every client
-- encoding
SELECT format('ALTER SYSTEM SET iosat.devices = %L',
              convert_from('\x7664c3a4', 'UTF8')) AS sql \gset
:sql;
ALTER SYSTEM SET iosat.devices = 'nvme0n1abcdefghijklmnopqrstuvwxyz';
SELECT format('ALTER SYSTEM SET iosat.devices = %L',
              string_agg('d' || i, ',')) AS sql
  FROM generate_series(1, 33) i \gset
:sql;
-- stray commas and spaces are separators; MAJ:MIN pairs and unknown names
-- are accepted (an unknown name shows as "not found", see below)
ALTER SYSTEM SET iosat.devices = ',, vda ,,254:0,';
ALTER SYSTEM SET iosat.devices = '99999:99999, 4294967296:0, :, 1:';
ALTER SYSTEM RESET iosat.devices;

ALTER SYSTEM SET iosat.device_iops_limits = 'a:';
ALTER SYSTEM SET iosat.device_iops_limits = ':5';
ALTER SYSTEM SET iosat.device_iops_limits = 'a:-1';
ALTER SYSTEM SET iosat.device_iops_limits = 'a:0';
ALTER SYSTEM SET iosat.device_iops_limits = 'a:1e99';
ALTER SYSTEM SET iosat.device_iops_limits = 'a:99999999999999999999';
ALTER SYSTEM SET iosat.device_iops_limits = 'a:100000001';
ALTER SYSTEM SET iosat.device_iops_limits = 'a:5 b:6';
ALTER SYSTEM SET iosat.device_iops_limits = 'a:5b';
ALTER SYSTEM SET iosat.device_iops_limits = 'a:5:6';
ALTER SYSTEM SET iosat.device_iops_limits = 'a';
ALTER SYSTEM SET iosat.device_iops_limits = 'a=5';
ALTER SYSTEM SET iosat.device_iops_limits = '"a":5';
ALTER SYSTEM SET iosat.device_iops_limits = '/dev/sda:5';
ALTER SYSTEM SET iosat.device_iops_limits = 'a b:5';
ALTER SYSTEM SET iosat.device_iops_limits = 'nvme0n1abcdefghijklmnopqrstuvwxyz:5';
ALTER SYSTEM SET iosat.device_iops_limits = 'a:0x10';
ALTER SYSTEM SET iosat.device_iops_limits = 'a:5;b:6';
ALTER SYSTEM SET iosat.device_iops_limits = 'a:5.5';
-- accepted: stray commas and spaces
ALTER SYSTEM SET iosat.device_iops_limits = ',a:5,, b:6 ,';
ALTER SYSTEM RESET iosat.device_iops_limits;

-- role lists
ALTER SYSTEM SET iosat.exempt_roles = '"unterminated';
ALTER SYSTEM SET iosat.exempt_roles = 'a,,b';
ALTER SYSTEM SET iosat.exempt_roles = 'a b';
-- a role that does not exist (yet) is accepted
ALTER SYSTEM SET iosat.exempt_roles = 'no_such_role, "Mixed Case"';
ALTER SYSTEM RESET iosat.exempt_roles;

-- misspelt and made-up names in the reserved prefix
SET iosat.sample_intervall = '1s';
SHOW iosat.no_such_setting;
SELECT current_setting('iosat.no_such_setting');
SELECT current_setting('iosat.no_such_setting', true) IS NULL AS missing_ok;
SELECT set_config('iosat.no_such_setting', 'x', false);

-- a device that does not exist is reported, not fatal: set, reload, look
ALTER SYSTEM SET iosat.devices = 'iosat_no_such_disk, 4095:1048575';
SELECT pg_reload_conf();
DO $$
BEGIN
  FOR i IN 1..100 LOOP
    PERFORM pg_sleep(0.1);
    EXIT WHEN (SELECT count(*) FROM iosat_devices WHERE status = 'not found') = 2;
  END LOOP;
END $$;
SELECT device, major, minor, roles, status, note
  FROM iosat_devices WHERE 'configured' = ANY (roles) ORDER BY device;
SELECT sampler_pid IS NOT NULL AS sampler_running FROM iosat_status;
ALTER SYSTEM RESET iosat.devices;
SELECT pg_reload_conf();

-- ---------------------------------------------------------------------
-- functions: arguments they do not take, NULLs, odd contexts
-- ---------------------------------------------------------------------
-- (the refusal's words only: 19 turned its HINT into a DETAIL)
\set VERBOSITY terse
SELECT iosat_wait_profile_reset(NULL);
SELECT iosat_queries_reset(NULL);
SELECT iosat_queries_reset(0);
SELECT * FROM iosat_devices(NULL);
SELECT * FROM iosat_status('vda');
SELECT * FROM iosat_proc_info(pg_backend_pid());
SELECT * FROM iosat_loadavg(NULL::float8);
SELECT * FROM iosat_admission(NULL::text);
SELECT * FROM iosat_queries(NULL::int8);
SELECT * FROM iosat_wait_profile(NULL);
SELECT * FROM iosat_profiler(NULL);
SELECT * FROM iosat_vacuum_workers(NULL);
SELECT * FROM iosat_vacuum_status(0);
SELECT * FROM iosat_io_top(NULL);
SELECT * FROM iosat_parallel_pacing(0);
\set VERBOSITY default
-- set-returning functions in the select list, in LATERAL, nested, twice
SELECT (iosat_status()).sampler_pid IS NOT NULL AS in_select_list;
SELECT count(*) >= 1 AS lateral_ok
  FROM generate_series(1, 3) g, LATERAL (SELECT * FROM iosat_devices()) d;
SELECT count(*) = 1 AS twice FROM iosat_admission() a, iosat_admission() b
 WHERE a.mode = b.mode;
SELECT count(*) >= 0 AS nested
  FROM iosat_proc_info() p
 WHERE p.pid IN (SELECT pid FROM iosat_proc_info());
-- in a read-only transaction, a cursor, an aborted transaction
BEGIN READ ONLY;
SELECT iosat_queries_reset();
SELECT count(*) >= 0 AS read_only_ok FROM iosat_queries;
ROLLBACK;
BEGIN;
DECLARE c CURSOR FOR SELECT count(*) >= 1 AS ok FROM iosat_devices();
FETCH 1 FROM c;
CLOSE c;
SELECT 1/0;
SELECT iosat_queries_reset();
ROLLBACK;
-- the reset while the profiler is switched off: bounded, with a warning or
-- at once, never a hang
ALTER SYSTEM SET iosat.profile = off;
SELECT pg_reload_conf();
SELECT pg_sleep(0.3);
SET statement_timeout = '20s';
SELECT iosat_wait_profile_reset();
RESET statement_timeout;
ALTER SYSTEM RESET iosat.profile;
SELECT pg_reload_conf();
-- the C entry points declared with a wrong signature (a superuser's
-- mistake): a clear error, not a crash
CREATE FUNCTION iosat_bad_scalar() RETURNS int
    AS '$libdir/iosat', 'iosat_devices_srf' LANGUAGE C;
CREATE FUNCTION iosat_bad_record() RETURNS SETOF record
    AS '$libdir/iosat', 'iosat_status_srf' LANGUAGE C;
CREATE FUNCTION iosat_bad_args(int, text) RETURNS void
    AS '$libdir/iosat', 'iosat_queries_reset' LANGUAGE C;
SELECT iosat_bad_scalar();
SELECT * FROM iosat_bad_record();
SELECT iosat_bad_args(NULL, NULL);
DROP FUNCTION iosat_bad_scalar(), iosat_bad_record(), iosat_bad_args(int, text);

-- ---------------------------------------------------------------------
-- roles that may not
-- ---------------------------------------------------------------------
CREATE ROLE iosat_bad_plain LOGIN;
CREATE ROLE iosat_bad_monitor LOGIN IN ROLE pg_monitor;
SET ROLE iosat_bad_plain;
SELECT iosat_wait_profile_reset();
SELECT iosat_queries_reset();
SELECT * FROM iosat_wait_profile();
SELECT * FROM iosat_profiler;
SELECT * FROM iosat_queries;
SELECT * FROM iosat_queries();
SET iosat.admission = 'off';
SET iosat.cheap_reads = 0;
SET iosat.cheap_cost = 0;
SET iosat.monitor_log_level = 'debug5';
SET iosat.vacuum_manual = on;
SET iosat.heavy_io_concurrency = 1;
ALTER SYSTEM SET iosat.admission = 'off';
ALTER SYSTEM SET iosat.sysfs_root = '/tmp';
ALTER SYSTEM SET iosat.bpf_pin_dir = '/tmp';
SET iosat.bpf = off;
SELECT * FROM iosat_io_top;
SELECT * FROM iosat_io_top();
-- (PostgreSQL 16 reworded the refusal: only its SQLSTATE is shown)
\set VERBOSITY sqlstate
SHOW iosat.sysfs_root;
SHOW iosat.procfs_root;
SELECT current_setting('iosat.sysfs_root');
\set VERBOSITY default
SELECT count(*) AS hidden_paths FROM pg_settings
 WHERE name IN ('iosat.sysfs_root', 'iosat.procfs_root', 'iosat.bpf_pin_dir');
-- what a plain user may do
SET iosat.queue_timeout = '100ms';
SELECT count(*) = 1 AS may_read_admission FROM iosat_admission;
SELECT count(*) >= 1 AS may_read_devices FROM iosat_devices;
SELECT count(*) >= 0 AS may_read_vacuum FROM iosat_vacuum;
SELECT count(*) = 1 AS may_read_vacuum_status FROM iosat_vacuum_status;
SELECT count(*) = 0 AS may_read_parallel_pacing FROM iosat_parallel_pacing;
RESET iosat.queue_timeout;
RESET ROLE;
SET ROLE iosat_bad_monitor;
-- iosat_io_top is for monitoring roles (empty, with a NOTICE, without iosatd)
SET client_min_messages = warning;
SELECT count(*) >= 0 AS monitor_reads_io_top FROM iosat_io_top;
RESET client_min_messages;
-- but resets are for superusers (1.1), as pg_stat_statements_reset() is
SELECT iosat_queries_reset();
SELECT iosat_wait_profile_reset();
ALTER SYSTEM SET iosat.iops_limit = 10;
RESET ROLE;
DROP ROLE iosat_bad_plain, iosat_bad_monitor;

-- nothing above took the server down (same postmaster, no crash restart)
-- and nothing was left in postgresql.auto.conf
SELECT pg_postmaster_start_time() = :'started'::timestamptz AS same_server;
SELECT count(*) AS left_in_auto_conf FROM pg_file_settings
 WHERE name LIKE 'iosat.%' AND sourcefile LIKE '%postgresql.auto.conf';
DROP EXTENSION iosat;
