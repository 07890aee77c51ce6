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
    OUT sample_time timestamptz,
    -- from the BPF companion (iosatd), NULL unless source = 'bpf'
    OUT r_lat_p50_ms float8,
    OUT r_lat_p95_ms float8,
    OUT r_lat_p99_ms float8,
    OUT w_lat_p50_ms float8,
    OUT w_lat_p95_ms float8,
    OUT w_lat_p99_ms float8,
    OUT r_queue_ms float8,
    OUT r_queue_p99_ms float8,
    OUT w_queue_ms float8,
    OUT w_queue_p99_ms float8,
    OUT bpf_queued int8,
    OUT bpf_inflight int8,
    OUT bpf_queued_avg float8,
    OUT bpf_inflight_avg float8,
    OUT bpf_r_iops float8,
    OUT bpf_w_iops float8,
    OUT requeues_ps float8,
    OUT bpf_errors int8,
    -- requests in flight and none completed since then, for at least 1 s
    OUT stalled_since timestamptz
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
    OUT psi_available bool,
    OUT bpf_status text,
    OUT bpf_since timestamptz,
    OUT bpf_note text,
    OUT pass_us float8,
    OUT pass_avg_us float8,
    OUT bpf_pass_avg_us float8
)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'iosat_status_srf'
LANGUAGE C STRICT VOLATILE PARALLEL RESTRICTED;

CREATE VIEW iosat_status AS
    SELECT * FROM iosat_status();

-- device figures are no more sensitive than pg_stat_io; everyone may read them
GRANT SELECT ON iosat_devices, iosat_status TO PUBLIC;

--
-- Kernel-state views (iosat_backends, iosat_wait_profile, iosat_loadavg)
--

-- the kernel's view of each process pg_stat_activity shows; the kernel
-- columns are NULL ("insufficient privilege") for processes of roles the
-- caller may not see in pg_stat_activity
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
    OUT bpf_avg_latency_ms float8
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
           k.bpf_avg_latency_ms
      FROM pg_stat_activity a
      JOIN iosat_proc_info() k ON k.pid = a.pid;

GRANT SELECT ON iosat_backends TO PUBLIC;

-- the sampled profile: one row per (backend type, wait event, task state,
-- wchan) with its sample count
CREATE FUNCTION iosat_wait_profile(
    OUT backend_type text,
    OUT wait_event_type text,
    OUT wait_event text,
    OUT state text,
    OUT state_name text,
    OUT wchan text,
    OUT samples int8
)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'iosat_wait_profile_srf'
LANGUAGE C STRICT VOLATILE PARALLEL RESTRICTED;

-- pct_of_wait_event: share of the samples of the same wait event (over all
-- backend types; NULL wait event = not waiting); pct_of_total: of all samples
CREATE VIEW iosat_wait_profile AS
    SELECT p.*,
           round(100.0 * p.samples /
                 sum(p.samples) OVER (PARTITION BY p.wait_event_type, p.wait_event), 2)
               AS pct_of_wait_event,
           round(100.0 * p.samples / sum(p.samples) OVER (), 2) AS pct_of_total
      FROM iosat_wait_profile() p;

CREATE FUNCTION iosat_profiler(
    OUT profiler_pid int4,
    OUT enabled bool,
    OUT interval_ms int4,
    OUT since timestamptz,
    OUT last_pass timestamptz,
    OUT passes int8,
    OUT samples int8,
    OUT entries int4,
    OUT max_entries int4,
    OUT overflow_samples int8,
    OUT last_pass_processes int4,
    OUT last_pass_ms float8,
    OUT avg_pass_ms float8,
    OUT note text
)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'iosat_profiler_srf'
LANGUAGE C STRICT VOLATILE PARALLEL RESTRICTED;

CREATE VIEW iosat_profiler AS
    SELECT * FROM iosat_profiler();

CREATE FUNCTION iosat_wait_profile_reset()
RETURNS void
AS 'MODULE_PATHNAME', 'iosat_wait_profile_reset'
LANGUAGE C STRICT VOLATILE PARALLEL RESTRICTED;

-- load averages, and how much of them Postgres accounts for
CREATE FUNCTION iosat_loadavg(
    OUT load1 float8,
    OUT load5 float8,
    OUT load15 float8,
    OUT ncpu int4,
    OUT running_tasks int4,
    OUT total_tasks int4,
    OUT procs_running int4,
    OUT procs_blocked int4,
    OUT pg_processes int4,
    OUT pg_running int4,
    OUT pg_disk_sleep int4,
    OUT other_running int4,
    OUT other_disk_sleep int4,
    OUT pg_running_avg float8,
    OUT pg_disk_sleep_avg float8,
    OUT window_s float8,
    OUT window_passes int8,
    OUT pg_load1 float8,
    OUT pg_load5 float8,
    OUT pg_load15 float8,
    OUT pg_share1_pct float8,
    OUT pg_share5_pct float8,
    OUT pg_share15_pct float8,
    OUT pg_load_since timestamptz,
    OUT note text
)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'iosat_loadavg_srf'
LANGUAGE C STRICT VOLATILE PARALLEL RESTRICTED;

CREATE VIEW iosat_loadavg AS
    SELECT * FROM iosat_loadavg();

-- load figures are as public as /proc/loadavg
GRANT SELECT ON iosat_loadavg TO PUBLIC;

-- the profile spans every role's backends: pg_read_all_stats (and so
-- pg_monitor) may read it; resetting it is for superusers and pg_monitor
REVOKE ALL ON FUNCTION iosat_wait_profile() FROM PUBLIC;
REVOKE ALL ON FUNCTION iosat_profiler() FROM PUBLIC;
REVOKE ALL ON FUNCTION iosat_wait_profile_reset() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION iosat_wait_profile() TO pg_read_all_stats;
GRANT EXECUTE ON FUNCTION iosat_profiler() TO pg_read_all_stats;
GRANT SELECT ON iosat_wait_profile, iosat_profiler TO pg_read_all_stats;
GRANT EXECUTE ON FUNCTION iosat_wait_profile_reset() TO pg_monitor;

--
-- Admission control: the gate and what each statement costs
--
CREATE FUNCTION iosat_admission(
    OUT mode text,
    OUT saturated bool,
    OUT stale bool,
    OUT reason text,
    OUT device text,
    OUT saturated_since timestamptz,
    OUT heavy_limit int4,
    OUT heavy_running int4,
    OUT queued int4,
    OUT pressure float8,
    OUT passed_cheap int8,
    OUT admitted_slot int8,
    OUT entered_queue int8,
    OUT admitted_from_queue int8,
    OUT timed_out int8,
    OUT rejected int8,
    OUT left_queue int8,
    OUT bypass_exempt int8,
    OUT bypass_locks int8,
    OUT bypass_holder int8,
    OUT would_queue int8,
    OUT fail_open int8,
    OUT reclaimed int8,
    OUT prefetch_capped int8,
    OUT saturation_events int8,
    OUT avg_wait_ms float8,
    OUT max_wait_ms float8,
    OUT pace_rate int4,
    OUT paced int8,
    OUT paced_ms float8
)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'iosat_admission_srf'
LANGUAGE C STRICT VOLATILE PARALLEL RESTRICTED;

CREATE VIEW iosat_admission AS
    SELECT * FROM iosat_admission();

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
    OUT last_decision text
)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'iosat_queries_srf'
LANGUAGE C STRICT VOLATILE PARALLEL RESTRICTED;

CREATE VIEW iosat_queries AS
    SELECT * FROM iosat_queries();

CREATE FUNCTION iosat_queries_reset()
RETURNS void
AS 'MODULE_PATHNAME', 'iosat_queries_reset'
LANGUAGE C STRICT VOLATILE PARALLEL RESTRICTED;

-- the gate is public like the devices; per-query figures are for monitoring
-- roles (join them with pg_stat_statements for the text); resets for admins
GRANT SELECT ON iosat_admission TO PUBLIC;
REVOKE ALL ON FUNCTION iosat_queries() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION iosat_queries() TO pg_read_all_stats;
GRANT SELECT ON iosat_queries TO pg_read_all_stats;
REVOKE ALL ON FUNCTION iosat_queries_reset() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION iosat_queries_reset() TO pg_monitor;

--
-- Vacuum backpressure: the processes it ticks in, and the policy
--
CREATE FUNCTION iosat_vacuum_workers(
    OUT pid int4,
    OUT kind text,
    OUT state text,
    OUT wraparound bool,
    OUT multiplier float8,
    OUT target_multiplier float8,
    OUT base_page_hit int4,
    OUT base_page_miss int4,
    OUT base_page_dirty int4,
    OUT page_hit int4,
    OUT page_miss int4,
    OUT page_dirty int4,
    OUT cost_limit int4,
    OUT cost_delay_ms float8,
    OUT read_mbps float8,
    OUT write_mbps float8,
    OUT rchar_mbps float8,
    OUT read_bytes int8,
    OUT write_bytes int8,
    OUT rchar int8,
    OUT io_sample_time timestamptz,
    OUT ticks int8,
    OUT cost_changes int8,
    OUT reloads_adopted int8,
    OUT wraparound_held_ticks int8,
    OUT inactive_ticks int8
)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'iosat_vacuum_workers_srf'
LANGUAGE C STRICT VOLATILE PARALLEL RESTRICTED;

-- each vacuuming process with what it works on (pg_stat_progress_vacuum or,
-- for an ANALYZE, pg_stat_progress_analyze; pg_stat_activity; their
-- visibility rules); relation is resolved only in the database the view is
-- queried in (relid otherwise)
CREATE VIEW iosat_vacuum AS
    SELECT w.pid,
           a.datname,
           coalesce(p.relid, an.relid) AS relid,
           CASE WHEN coalesce(p.datname, an.datname) = current_database()
                THEN coalesce(p.relid, an.relid)::regclass::text END AS relation,
           coalesce(p.phase, an.phase) AS phase,
           w.kind,
           w.wraparound,
           w.state,
           w.multiplier,
           w.target_multiplier,
           w.page_hit,
           w.page_miss,
           w.page_dirty,
           w.base_page_hit,
           w.base_page_miss,
           w.base_page_dirty,
           w.cost_limit,
           w.cost_delay_ms,
           w.read_mbps,
           w.write_mbps,
           w.rchar_mbps,
           w.read_bytes,
           w.write_bytes,
           w.rchar,
           w.io_sample_time,
           p.heap_blks_total,
           p.heap_blks_scanned,
           p.heap_blks_vacuumed,
           p.index_vacuum_count,
           a.query,
           w.ticks,
           w.cost_changes,
           w.reloads_adopted,
           w.wraparound_held_ticks,
           w.inactive_ticks
      FROM iosat_vacuum_workers() w
      LEFT JOIN pg_stat_activity a ON a.pid = w.pid
      LEFT JOIN pg_stat_progress_vacuum p ON p.pid = w.pid
      LEFT JOIN pg_stat_progress_analyze an ON an.pid = w.pid;

CREATE FUNCTION iosat_vacuum_status(
    OUT backpressure bool,
    OUT multiplier float8,
    OUT pressure float8,
    OUT stale bool,
    OUT max_slowdown float8,
    OUT max_speedup float8,
    OUT workers int4,
    OUT workers_seen int8,
    OUT slowdowns int8,
    OUT slowed_s float8,
    OUT sped_up_s float8,
    OUT ticks int8,
    OUT cost_changes int8,
    OUT reloads_adopted int8,
    OUT wraparound_held_ticks int8,
    OUT inactive_ticks int8
)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'iosat_vacuum_status_srf'
LANGUAGE C STRICT VOLATILE PARALLEL RESTRICTED;

CREATE VIEW iosat_vacuum_status AS
    SELECT * FROM iosat_vacuum_status();

-- public like iosat_admission; the activity and progress columns follow
-- pg_stat_activity's visibility rules
GRANT SELECT ON iosat_vacuum, iosat_vacuum_status TO PUBLIC;

--
-- iosat_io_top: every process the BPF companion saw doing block I/O
--
CREATE FUNCTION iosat_io_top(
    OUT pid int4,
    OUT comm text,
    OUT kthread bool,
    OUT is_postgres bool,
    OUT ios int8,
    OUT reads int8,
    OUT writes int8,
    OUT read_bytes int8,
    OUT write_bytes int8,
    OUT discard_bytes int8,
    OUT avg_latency_ms float8,
    OUT avg_device_ms float8,
    OUT last_io timestamptz
)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'iosat_io_top_srf'
LANGUAGE C STRICT VOLATILE PARALLEL RESTRICTED;

-- ranked by requests; the backend type of this cluster's processes
CREATE VIEW iosat_io_top AS
    SELECT t.pid, t.comm, t.kthread, t.is_postgres, a.backend_type,
           t.ios, t.reads, t.writes, t.read_bytes, t.write_bytes,
           t.discard_bytes, t.avg_latency_ms, t.avg_device_ms, t.last_io
      FROM iosat_io_top() t
      LEFT JOIN pg_stat_activity a ON a.pid = t.pid AND t.is_postgres
     ORDER BY t.ios DESC, t.pid;

-- every process on the machine, with its command name: monitoring roles only
REVOKE ALL ON FUNCTION iosat_io_top() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION iosat_io_top() TO pg_read_all_stats;
GRANT SELECT ON iosat_io_top TO pg_read_all_stats;
