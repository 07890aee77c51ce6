/* src/sql/iosat--1.3--1.4.sql */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION iosat UPDATE TO '1.4'" to load this file. \quit

--
-- 1.4: iosat_backends links io workers and the backends they serve
-- (PostgreSQL 18+, io_method = worker): on an io worker's row, aio_for_pid,
-- the backend whose read or write it performs now; on a backend's row,
-- aio_worker_pid and aio_worker_state, the io worker performing its I/O and
-- that worker's task state.  The function's result changes, so it and the
-- view over it are dropped and created again (nothing else depends on them).
--
DROP VIEW iosat_backends;
DROP FUNCTION iosat_proc_info();

CREATE FUNCTION iosat_proc_info(
    OUT pid int4,
    OUT wait_event_type text,
    OUT wait_event text,
    OUT task_state text,
    OUT task_state_name text,
    OUT wchan text,
    OUT pending_signals text[],
    OUT rchar int8,
    OUT wchar int8,
    OUT read_bytes int8,
    OUT write_bytes int8,
    OUT cancelled_write_bytes int8,
    OUT syscr int8,
    OUT syscw int8,
    OUT voluntary_ctxt_switches int8,
    OUT nonvoluntary_ctxt_switches int8,
    OUT user_cpu_s float8,
    OUT system_cpu_s float8,
    OUT last_cpu int4,
    OUT minor_faults int8,
    OUT major_faults int8,
    OUT rss_kb int8,
    OUT blkio_delay_s float8,
    OUT kernel_note text,
    -- device I/O from the BPF companion's per-process map (NULL without it)
    OUT bpf_ios int8,
    OUT bpf_reads int8,
    OUT bpf_writes int8,
    OUT bpf_read_bytes int8,
    OUT bpf_write_bytes int8,
    OUT bpf_avg_latency_ms float8,
    -- 1.4: io workers and the backends they serve (PostgreSQL 18+)
    OUT aio_for_pid int4,
    OUT aio_worker_pid int4,
    OUT aio_worker_state text
)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'iosat_proc_info_srf'
LANGUAGE C STRICT VOLATILE PARALLEL RESTRICTED;

-- pg_stat_activity (its visibility rules for query text and the rest) joined
-- with the kernel's view; the wait event is the one read next to the task
-- state when the kernel columns were read, pg_stat_activity's otherwise.
-- A process that exits between the two is not shown.
CREATE VIEW iosat_backends AS
    SELECT a.pid,
           a.datname,
           a.usename,
           a.application_name,
           a.backend_type,
           a.state,
           CASE WHEN k.task_state IS NOT NULL THEN k.wait_event_type
                ELSE a.wait_event_type END AS wait_event_type,
           CASE WHEN k.task_state IS NOT NULL THEN k.wait_event
                ELSE a.wait_event END AS wait_event,
           a.backend_start,
           a.xact_start,
           a.query_start,
           a.state_change,
           a.query,
           k.task_state,
           k.task_state_name,
           k.wchan,
           k.pending_signals,
           k.rchar,
           k.wchar,
           k.read_bytes,
           k.write_bytes,
           k.cancelled_write_bytes,
           k.syscr,
           k.syscw,
           k.voluntary_ctxt_switches,
           k.nonvoluntary_ctxt_switches,
           k.user_cpu_s,
           k.system_cpu_s,
           k.last_cpu,
           k.minor_faults,
           k.major_faults,
           k.rss_kb,
           k.blkio_delay_s,
           k.kernel_note,
           k.bpf_ios,
           k.bpf_reads,
           k.bpf_writes,
           k.bpf_read_bytes,
           k.bpf_write_bytes,
           k.bpf_avg_latency_ms,
           k.aio_for_pid,
           k.aio_worker_pid,
           k.aio_worker_state
      FROM pg_stat_activity a
      JOIN iosat_proc_info() k ON k.pid = a.pid;

GRANT SELECT ON iosat_backends TO PUBLIC;
