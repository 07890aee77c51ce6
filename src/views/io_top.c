/*-------------------------------------------------------------------------
 *
 * io_top.c
 *	  Per-process device I/O from the BPF companion's per-process map:
 *	  iosat_io_top() (every process the kernel saw submit block I/O, ranked
 *	  by the view) and the BPF columns of iosat_proc_info()
 *	  (iosat_backends).
 *
 * The map counts requests at their completion and attributes them to the
 * task that created them (block_io_start, kernel 6.5+), else to the task
 * current at the first insert/issue: writeback and journal I/O belong to
 * kworker and jbd2 threads, as in the kernel.  Figures are totals since
 * iosatd loaded its program, or since the process started if later; a pid
 * reused by a new process starts from zero.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "postmaster/postmaster.h"
#include "storage/proc.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"

#include "guc.h"
#include "sampler/bpfsource.h"
#include "state/shared.h"
#include "state/shmem.h"
#include "collect/kparse.h"
#include "profiler/profile.h"
#include "views/views.h"
#include "views/io_top.h"

#include "iosat_abi.h"			/* IOSAT_MAX_PROCS */

PG_FUNCTION_INFO_V1(iosat_io_top_srf);

#define NCOLS_BPF_PROC 6		/* the columns iosat_put_bpf_proc_io appends */

static void
put_ms(IosatRow *row, double ms)
{
	if (ms < 0)
		iosat_put_null(row);
	else
		iosat_put(row, Float8GetDatum(ms));
}

/*
 * iosat_proc_info()'s last columns: bpf_ios, bpf_reads, bpf_writes,
 * bpf_read_bytes, bpf_write_bytes, bpf_avg_latency_ms.  NULL when BPF is
 * not usable or the row's kernel columns are hidden (pid 0).
 */
void
iosat_put_bpf_proc_io(IosatRow *row, int pid)
{
	IosatBpfProcIo io;

	if (pid <= 0 || !iosat_bpf_proc_io(pid, &io))
	{
		for (int i = 0; i < NCOLS_BPF_PROC; i++)
			iosat_put_null(row);
		return;
	}
	iosat_put(row, Int64GetDatum(io.ios));
	iosat_put(row, Int64GetDatum(io.reads));
	iosat_put(row, Int64GetDatum(io.writes));
	iosat_put(row, Int64GetDatum(io.read_bytes));
	iosat_put(row, Int64GetDatum(io.write_bytes));
	put_ms(row, io.avg_latency_ms);
}

/*
 * Is pid a process of this cluster?  The postmaster, a process with a
 * PGPROC, or a child of the postmaster (the logger has no PGPROC); and the
 * map entry must be of that process, not of an earlier one with its pid.
 */
static bool
is_cluster_process(int pid, const IosatBpfProcIo *io,
				   const IosatPidProc *procs, int nprocs)
{
	bool		candidate;
	char		buf[1024];
	ssize_t		n;
	int			err;
	KProcStat	st;

	candidate = pid == PostmasterPid ||
		iosat_find_proc(procs, nprocs, pid) != NULL;
	if (!candidate && strcmp(io->comm, "postgres") != 0)
		return false;
	if (iosat_proc_read(pid, "stat", buf, sizeof(buf), &n, &err, NULL) != IOSAT_PROC_OK ||
		!kparse_proc_stat(buf, n, &st))
		return false;			/* exited */
	if (!iosat_bpf_same_process(io->start_boottime_ns, st.starttime))
		return false;
	return candidate || st.ppid == PostmasterPid;
}

Datum
iosat_io_top_srf(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	int		   *pids;
	IosatBpfProcIo *io;
	IosatPidProc *procs;
	int			nprocs;
	int			n;
	char		note[IOSAT_ERROR_LEN];
	int			st;

	iosat_check_loaded();
	InitMaterializedSRF(fcinfo, 0);

	st = iosat_bpf_backend_status(note, sizeof(note));
	if (st != 0)
	{
		ereport(NOTICE,
				(errmsg("iosat: per-process device I/O needs the BPF companion (iosatd); it is %s",
						iosat_bpf_status_name(st)),
				 errdetail("%s", note)));
		return (Datum) 0;
	}

	pids = palloc(sizeof(int) * IOSAT_MAX_PROCS);
	io = palloc(sizeof(IosatBpfProcIo) * IOSAT_MAX_PROCS);
	n = iosat_bpf_all_procs(pids, io, IOSAT_MAX_PROCS);
	if (n < 0)
		return (Datum) 0;

	procs = palloc(sizeof(IosatPidProc) * Max(ProcGlobal->allProcCount, 1));
	nprocs = iosat_collect_procs(procs, ProcGlobal->allProcCount);

	for (int i = 0; i < n; i++)
	{
		IosatRow	row;

		CHECK_FOR_INTERRUPTS();
		if (io[i].ios == 0)
			continue;
		iosat_set_values_init(&row, rsinfo->setDesc);
		iosat_put(&row, Int32GetDatum(pids[i]));
		iosat_put_text(&row, io[i].comm);
		iosat_put(&row, BoolGetDatum(io[i].kthread));
		iosat_put(&row, BoolGetDatum(is_cluster_process(pids[i], &io[i], procs, nprocs)));
		iosat_put(&row, Int64GetDatum(io[i].ios));
		iosat_put(&row, Int64GetDatum(io[i].reads));
		iosat_put(&row, Int64GetDatum(io[i].writes));
		iosat_put(&row, Int64GetDatum(io[i].read_bytes));
		iosat_put(&row, Int64GetDatum(io[i].write_bytes));
		iosat_put(&row, Int64GetDatum(io[i].discard_bytes));
		put_ms(&row, io[i].avg_latency_ms);
		put_ms(&row, io[i].avg_device_ms);
		iosat_put_timestamp(&row, io[i].last_io);
		Assert(row.n >= row.natts);	/* more: a newer library, older SQL */
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc,
							 row.values, row.nulls);
	}
	return (Datum) 0;
}
