/* src/sql/iosat--1.0--1.1.sql */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION iosat UPDATE TO '1.1'" to load this file. \quit

--
-- 1.1: the reset functions are for superusers, as pg_stat_reset() and
-- pg_stat_statements_reset() are; pg_monitor is for reading.
--
-- iosat_queries_reset() also forgets what each statement costs in I/O,
-- which admission control decides from (a heavy statement is taken for
-- cheap until it is learned again); iosat_wait_profile_reset() empties the
-- profile every other reader, a Prometheus exporter's counters included,
-- relies on.  1.0 granted both to pg_monitor, the role a monitoring agent
-- usually connects with.  To give a role the right back:
--   GRANT EXECUTE ON FUNCTION iosat_queries_reset() TO some_role;
--
REVOKE EXECUTE ON FUNCTION iosat_queries_reset() FROM pg_monitor;
REVOKE EXECUTE ON FUNCTION iosat_wait_profile_reset() FROM pg_monitor;
