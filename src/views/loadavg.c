/*-------------------------------------------------------------------------
 *
 * loadavg.c
 *	  iosat_loadavg(): where the load average comes from.
 *
 * The kernel's load average is an exponentially damped average, taken
 * every 5 s, of the number of tasks that are runnable (R) or in
 * uninterruptible sleep (D), with time constants of 1, 5 and 15 minutes.
 * The profiler keeps the same averages over Postgres processes alone (the
 * postmaster and every process with a PGPROC), sampled every
 * iosat.profile_interval; their ratio is Postgres's share:
 *
 *     pg_loadN     = damped average of (Postgres processes in R or D)
 *     pg_shareN_pct = 100 * min(1, pg_loadN / loadN)
 *
 * The "now" figures come from a scan of /proc at query time: the
 * postmaster and its children (parent pid = postmaster), and, for
 * contrast, every other process (main threads; kernel threads included),
 * so that a load made of kworker or jbd2 tasks in D shows as such.  A
 * Postgres process's io_uring worker threads (PostgreSQL 18+ with
 * io_method = io_uring: "iou-wrk-<pid>", performing its reads) count too,
 * in R or D, as the kernel counts them in its load; they are looked for
 * only in Postgres processes with more than one thread (collect/iouring.c).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <dirent.h>
#include <unistd.h>

#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/tuplestore.h"

#include "guc.h"
#include "collect/procfs.h"
#include "collect/devices.h"
#include "collect/iouring.h"
#include "state/shared.h"
#include "state/shmem.h"
#include "collect/kparse.h"
#include "profiler/profile.h"
#include "views/views.h"

PG_FUNCTION_INFO_V1(iosat_loadavg_srf);

/* /proc/stat holds a line per CPU and a long "intr" line before procs_* */
#define PROC_STAT_MAX	(1024 * 1024)

typedef struct ProcCounts
{
	int			pg_procs;
	int			pg_running;
	int			pg_disk_sleep;
	int			other_running;
	int			other_disk_sleep;
} ProcCounts;

/*
 * Count processes in R and D now.  The backend running this query is left
 * out: it is always running when it looks.  A process that exits during the
 * scan is simply not counted.
 */
static bool
scan_processes(ProcCounts *c)
{
	char		dir[MAXPGPATH];
	DIR		   *dh;
	struct dirent *de;

	memset(c, 0, sizeof(*c));
	iosat_procfs_path(dir, sizeof(dir), "/");
	dh = opendir(dir);
	if (dh == NULL)
		return false;
	while ((de = readdir(dh)) != NULL)
	{
		long		pid;
		char		state;
		int			ppid = 0;
		int			nthreads = 1;
		char		wchan[8];
		bool		is_pg;

		if (!iosat_all_digits(de->d_name))
			continue;
		pid = strtol(de->d_name, NULL, 10);
		if (pid <= 0 || pid > PG_INT32_MAX || pid == MyProcPid)
			continue;
		if (iosat_task_state((int) pid, false, &state, &ppid, &nthreads, wchan,
							 sizeof(wchan), NULL) != IOSAT_PROC_OK)
			continue;
		is_pg = (pid == PostmasterPid || ppid == PostmasterPid);
		if (is_pg)
		{
			IosatIoUringWorker workers[IOSAT_IOURING_MAX_WORKERS];
			int			n;

			c->pg_procs++;
			n = iosat_iouring_workers((int) pid, nthreads, false, workers,
									  lengthof(workers));
			for (int i = 0; i < n; i++)
			{
				c->pg_running += (workers[i].state == 'R');
				c->pg_disk_sleep += (workers[i].state == 'D');
			}
		}
		if (state == 'R')
		{
			if (is_pg)
				c->pg_running++;
			else
				c->other_running++;
		}
		else if (state == 'D')
		{
			if (is_pg)
				c->pg_disk_sleep++;
			else
				c->other_disk_sleep++;
		}
	}
	closedir(dh);
	return true;
}

static void
put_int_or_null(IosatRow *row, bool have, int v)
{
	if (have)
		iosat_put(row, Int32GetDatum(v));
	else
		iosat_put_null(row);
}

Datum
iosat_loadavg_srf(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	IosatRow	row;
	char		path[MAXPGPATH];
	char		buf[256];
	char	   *big;
	ssize_t		n;
	KLoadAvg	la;
	KSysStat	ss;
	bool		have_la,
				have_ss,
				have_scan;
	ProcCounts	pc;
	IosatProfileShared h;
	bool		have_window,
				have_load;
	double		loads[IOSAT_NLOADS];
	StringInfoData note;
	long		ncpu;

	iosat_check_loaded();
	InitMaterializedSRF(fcinfo, 0);
	initStringInfo(&note);

	iosat_procfs_path(path, sizeof(path), "/loadavg");
	n = iosat_read_small_file(path, buf, sizeof(buf));
	have_la = n > 0 && kparse_loadavg(buf, n, &la);
	if (!have_la)
		appendStringInfo(&note, "%s is unreadable or malformed; ", path);

	iosat_procfs_path(path, sizeof(path), "/stat");
	big = palloc(PROC_STAT_MAX);
	n = iosat_read_small_file(path, big, PROC_STAT_MAX);
	have_ss = n > 0 && kparse_sysstat(big, n, &ss);
	pfree(big);
	if (!have_ss)
		appendStringInfo(&note, "%s has no procs_running/procs_blocked; ", path);

	have_scan = scan_processes(&pc);
	if (!have_scan)
		appendStringInfo(&note, "%s cannot be listed; ", path);

	iosat_read_profile_header(&h);
	have_window = h.passes > 0;
	have_load = h.load_since != 0 && h.enabled;
	if (!iosat_profile_enabled)
		appendStringInfoString(&note, "profiling is off (iosat.profile): no averages; ");
	else if (pg_atomic_read_u32(&iosat_profile->profiler_pid) == 0)
		appendStringInfoString(&note, "the iosat profiler is not running; ");
	else if (!h.enabled)
		appendStringInfoString(&note, "the iosat profiler has not sampled yet; ");

	loads[0] = have_la ? la.load1 : 0;
	loads[1] = have_la ? la.load5 : 0;
	loads[2] = have_la ? la.load15 : 0;

	iosat_set_values_init(&row, rsinfo->setDesc);
	for (int i = 0; i < IOSAT_NLOADS; i++)
	{
		if (have_la)
			iosat_put(&row, Float8GetDatum(loads[i]));
		else
			iosat_put_null(&row);
	}
	ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	put_int_or_null(&row, ncpu > 0, (int) ncpu);
	put_int_or_null(&row, have_la, have_la ? la.running : 0);
	put_int_or_null(&row, have_la, have_la ? la.total : 0);
	put_int_or_null(&row, have_ss, have_ss ? (int) Min(ss.procs_running, PG_INT32_MAX) : 0);
	put_int_or_null(&row, have_ss, have_ss ? (int) Min(ss.procs_blocked, PG_INT32_MAX) : 0);

	put_int_or_null(&row, have_scan, pc.pg_procs);
	put_int_or_null(&row, have_scan, pc.pg_running);
	put_int_or_null(&row, have_scan, pc.pg_disk_sleep);
	put_int_or_null(&row, have_scan, pc.other_running);
	put_int_or_null(&row, have_scan, pc.other_disk_sleep);

	if (have_window)
	{
		iosat_put(&row, Float8GetDatum((double) h.sum_running / h.passes));
		iosat_put(&row, Float8GetDatum((double) h.sum_disk_sleep / h.passes));
		iosat_put(&row, Float8GetDatum((h.last_pass - h.since) / 1e6));
		iosat_put(&row, Int64GetDatum((int64) h.passes));
	}
	else
	{
		for (int i = 0; i < 4; i++)
			iosat_put_null(&row);
	}

	for (int i = 0; i < IOSAT_NLOADS; i++)
	{
		if (have_load)
			iosat_put(&row, Float8GetDatum(h.pg_load[i]));
		else
			iosat_put_null(&row);
	}
	for (int i = 0; i < IOSAT_NLOADS; i++)
	{
		if (have_load && have_la && loads[i] >= 0.01)
			iosat_put(&row, Float8GetDatum(100.0 * Min(1.0, h.pg_load[i] / loads[i])));
		else
			iosat_put_null(&row);
	}
	if (have_load)
		iosat_put_timestamp(&row, h.load_since);
	else
		iosat_put_null(&row);

	if (note.len >= 2)
		note.data[note.len - 2] = '\0';	/* drop the last "; " */
	iosat_put_text(&row, note.data);

	Assert(row.n >= row.natts);	/* more: a newer library, older SQL */
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, row.values, row.nulls);
	return (Datum) 0;
}
