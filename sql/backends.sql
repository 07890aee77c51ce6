--
-- iosat kernel-state views: iosat_backends, iosat_wait_profile,
-- iosat_profiler, iosat_loadavg.  Shapes, privileges and the figures that
-- do not depend on the machine.
--
CREATE EXTENSION iosat;

-- the parameters, with units and ranges
SELECT name, setting, unit, context, vartype, min_val, max_val
  FROM pg_settings
 WHERE name LIKE 'iosat.profile%'
 ORDER BY name;
-- (out-of-range messages differ between releases: the ranges are above)
ALTER SYSTEM SET iosat.profile = 'sometimes';

-- column lists
SELECT c.relname, a.attnum, a.attname, format_type(a.atttypid, a.atttypmod)
  FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
 WHERE c.relname IN ('iosat_backends', 'iosat_wait_profile', 'iosat_profiler',
                     'iosat_loadavg')
   AND a.attnum > 0
 ORDER BY c.relname, a.attnum;

-- this backend: running, not waiting, every kernel column filled
SELECT backend_type, state, wait_event_type, wait_event, task_state,
       task_state_name, wchan, pending_signals,
       read_bytes >= 0 AS io, syscr > 0 AS syscr,
       voluntary_ctxt_switches >= 0 AS ctxt,
       user_cpu_s >= 0 AND system_cpu_s >= 0 AS cpu,
       last_cpu >= 0 AS last_cpu, rss_kb > 0 AS rss
  FROM iosat_backends
 WHERE pid = pg_backend_pid();

-- block-I/O delay: a value exactly when delay accounting is on, and a
-- stated reason when it is off
SELECT (blkio_delay_s IS NULL) =
       coalesce(kernel_note LIKE '%kernel.task_delayacct = 0%', false)
       AS delay_null_iff_off
  FROM iosat_backends
 WHERE pid = pg_backend_pid();

-- the same rows as pg_stat_activity (a process exiting in between may
-- leave the view, never the other way round)
SELECT count(*) FILTER (WHERE b.pid IS NULL) AS missing_from_view,
       count(*) FILTER (WHERE a.pid IS NULL) AS extra_in_view
  FROM pg_stat_activity a FULL JOIN iosat_backends b ON a.pid = b.pid
 WHERE a.backend_type IS DISTINCT FROM 'client backend'
    OR a.pid = pg_backend_pid();

-- auxiliary processes are sleeping in the kernel somewhere
SELECT backend_type, task_state IN ('S', 'R', 'D') AS plausible_state
  FROM iosat_backends
 WHERE backend_type IN ('checkpointer', 'background writer', 'walwriter')
 ORDER BY backend_type;

-- privileges: the kernel columns of other roles' processes are hidden,
-- like their query text in pg_stat_activity
CREATE ROLE iosat_regress_plain LOGIN;
CREATE ROLE iosat_regress_stats LOGIN IN ROLE pg_read_all_stats;
CREATE ROLE iosat_regress_monitor LOGIN IN ROLE pg_monitor;

SET ROLE iosat_regress_plain;
-- auxiliary processes have no role: pg_stat_activity hides their details
-- (backend_type included) and iosat_backends their kernel columns
SELECT count(*) > 0 AS hidden_aux,
       bool_and(task_state IS NULL AND wchan IS NULL AND read_bytes IS NULL
                AND kernel_note = 'insufficient privilege') AS all_hidden
  FROM iosat_backends
 WHERE backend_type IS NULL;
-- under SET ROLE this backend belongs to the session's (superuser) role:
-- hidden here exactly as its query text is hidden in pg_stat_activity
SELECT b.task_state, b.kernel_note, b.query
  FROM iosat_backends b
 WHERE b.pid = pg_backend_pid();
SELECT count(*) > 0 AS hidden_rows_have_no_kernel_data
  FROM iosat_proc_info()
 WHERE kernel_note = 'insufficient privilege'
   AND task_state IS NULL AND wchan IS NULL AND read_bytes IS NULL
   AND wait_event IS NULL;
SELECT * FROM iosat_wait_profile;
SELECT * FROM iosat_profiler;
SELECT iosat_wait_profile_reset();
SELECT load1 >= 0 AS load_readable FROM iosat_loadavg;
RESET ROLE;

SET ROLE iosat_regress_stats;
SELECT backend_type, task_state IS NOT NULL AS kernel_visible,
       coalesce(kernel_note, '') NOT LIKE 'insufficient%' AS not_hidden
  FROM iosat_backends
 WHERE backend_type = 'checkpointer';
SELECT count(*) >= 0 AS profile_readable FROM iosat_wait_profile;
SELECT iosat_wait_profile_reset();
RESET ROLE;

-- pg_monitor reads; resetting is for superusers (1.1)
SET ROLE iosat_regress_monitor;
SELECT count(*) >= 0 AS monitor_reads_profile FROM iosat_wait_profile;
SELECT iosat_wait_profile_reset();
RESET ROLE;

DROP ROLE iosat_regress_plain;
DROP ROLE iosat_regress_stats;
DROP ROLE iosat_regress_monitor;

SELECT p.proname,
       has_function_privilege('public', p.oid, 'EXECUTE') AS public_execute
  FROM pg_proc p
 WHERE p.proname IN ('iosat_proc_info', 'iosat_wait_profile', 'iosat_profiler',
                     'iosat_wait_profile_reset', 'iosat_loadavg')
 ORDER BY p.proname;

-- the profiler: a reset starts a new profile; samples come in
SELECT iosat_wait_profile_reset();
DO $$
BEGIN
    FOR i IN 1..200 LOOP
        EXIT WHEN (SELECT passes >= 2 FROM iosat_profiler);
        PERFORM pg_sleep(0.05);
    END LOOP;
END
$$;
SELECT profiler_pid IS NOT NULL AS running, enabled, passes >= 2 AS passes,
       samples >= passes AS samples, entries > 0 AS entries,
       max_entries, overflow_samples, avg_pass_ms >= 0 AS timed, note
  FROM iosat_profiler;
-- background processes sit in their main loop's wait event
SELECT backend_type, wait_event_type, wait_event, bool_and(state IS NOT NULL)
  FROM iosat_wait_profile
 WHERE (backend_type, wait_event) IN (('checkpointer', 'CheckpointerMain'),
                                      ('walwriter', 'WalWriterMain'))
    OR (backend_type = 'postmaster' AND wait_event IS NULL)
 GROUP BY 1, 2, 3
 ORDER BY 1;
-- shares add up
SELECT round(sum(pct_of_total)) AS total_pct FROM iosat_wait_profile;
SELECT wait_event, round(sum(pct_of_wait_event)) AS pct
  FROM iosat_wait_profile
 WHERE wait_event = 'CheckpointerMain'
 GROUP BY wait_event;

-- the load average and its breakdown
SELECT load1 >= 0 AND load5 >= 0 AND load15 >= 0 AS loads,
       ncpu >= 1 AS ncpu,
       total_tasks >= running_tasks AS tasks,
       procs_running >= 1 AS self_running,
       procs_blocked >= 0 AS blocked,
       pg_processes >= 6 AS pg_processes,
       pg_running >= 0 AND pg_disk_sleep >= 0 AS pg_now,
       pg_running_avg >= 0 AND pg_disk_sleep_avg >= 0 AS pg_avg,
       window_passes >= 2 AS window,
       pg_load1 >= 0 AND pg_load15 >= 0 AS pg_load,
       pg_share1_pct IS NULL OR pg_share1_pct BETWEEN 0 AND 100 AS share,
       pg_load_since IS NOT NULL AS since,
       note
  FROM iosat_loadavg;

DROP EXTENSION iosat;
