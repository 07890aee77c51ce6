/*-------------------------------------------------------------------------
 *
 * backends.c
 *	  iosat_proc_info(), behind the iosat_backends view: the kernel's view
 *	  of every process pg_stat_activity shows (task state, wchan, pending
 *	  signals, /proc/<pid>/io, context switches, CPU time, block-I/O delay).
 *	  The /proc and PGPROC helpers it shares with the profiler and the
 *	  sampler are in collect/procfs.c.
 *
 * Visibility mirrors pg_stat_activity: the kernel columns of a process are
 * returned when the caller has the privileges of the process's role, or of
 * pg_read_all_stats (superusers have both); otherwise the row carries only
 * the pid and the note "insufficient privilege".  Auxiliary processes have
 * no role, so only pg_read_all_stats members and superusers see theirs.
 *
 * A process that exits while it is being read (ENOENT, ESRCH, an empty
 * read, or its PGPROC taken by another pid afterwards) is left out, never
 * an error.  A file that cannot be read for another reason (EACCES on
 * /proc/<pid>/io, say) leaves its columns NULL and says why in kernel_note.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include "catalog/pg_authid.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/proc.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/backend_status.h"
#include "utils/builtins.h"
#include "utils/tuplestore.h"
#include "utils/wait_event.h"

#include "sampler/bpfsource.h"
#include "compat.h"
#include "collect/aio.h"
#include "collect/devices.h"
#include "collect/iouring.h"
#include "state/shared.h"
#include "state/shmem.h"
#include "collect/kparse.h"
#include "collect/procfs.h"
#include "profiler/profile.h"
#include "views/views.h"
#include "views/io_top.h"

PG_FUNCTION_INFO_V1(iosat_proc_info_srf);

/* signal numbers as this platform defines them, for SigPnd/ShdPnd */
static const struct
{
	int			signo;
	const char *name;
}			signal_names[] =
{
	{SIGHUP, "SIGHUP"},
	{SIGINT, "SIGINT"},
	{SIGQUIT, "SIGQUIT"},
	{SIGILL, "SIGILL"},
	{SIGTRAP, "SIGTRAP"},
	{SIGABRT, "SIGABRT"},
	{SIGBUS, "SIGBUS"},
	{SIGFPE, "SIGFPE"},
	{SIGKILL, "SIGKILL"},
	{SIGUSR1, "SIGUSR1"},
	{SIGSEGV, "SIGSEGV"},
	{SIGUSR2, "SIGUSR2"},
	{SIGPIPE, "SIGPIPE"},
	{SIGALRM, "SIGALRM"},
	{SIGTERM, "SIGTERM"},
#ifdef SIGSTKFLT
	{SIGSTKFLT, "SIGSTKFLT"},
#endif
	{SIGCHLD, "SIGCHLD"},
	{SIGCONT, "SIGCONT"},
	{SIGSTOP, "SIGSTOP"},
	{SIGTSTP, "SIGTSTP"},
	{SIGTTIN, "SIGTTIN"},
	{SIGTTOU, "SIGTTOU"},
	{SIGURG, "SIGURG"},
	{SIGXCPU, "SIGXCPU"},
	{SIGXFSZ, "SIGXFSZ"},
	{SIGVTALRM, "SIGVTALRM"},
	{SIGPROF, "SIGPROF"},
	{SIGWINCH, "SIGWINCH"},
#ifdef SIGIO
	{SIGIO, "SIGIO"},
#endif
#ifdef SIGPWR
	{SIGPWR, "SIGPWR"},
#endif
	{SIGSYS, "SIGSYS"},
};

/* still the same process?  A PGPROC whose pid changed was given up */
static bool
proc_still(PGPROC *proc, int pid)
{
	pg_read_barrier();
	return proc == NULL || *((volatile int *) &proc->pid) == pid;
}

typedef enum DelayAcct
{
	DELAYACCT_ON,
	DELAYACCT_OFF,
	DELAYACCT_UNKNOWN			/* no sysctl (kernel < 5.14): on unless nodelayacct */
} DelayAcct;

static DelayAcct
delayacct_state(void)
{
	char		path[MAXPGPATH];
	char		buf[32];
	ssize_t		n;
	uint64		v;

	iosat_procfs_path(path, sizeof(path), "/sys/kernel/task_delayacct");
	n = iosat_read_small_file(path, buf, sizeof(buf));
	if (n <= 0 || !kparse_u64(buf, n, &v))
		return DELAYACCT_UNKNOWN;
	return v != 0 ? DELAYACCT_ON : DELAYACCT_OFF;
}

static Datum
signals_datum(uint64 mask)
{
	Datum		elems[64];
	int			n = 0;

	for (int bit = 0; bit < 64; bit++)
	{
		int			signo = bit + 1;
		const char *name = NULL;

		if ((mask & (UINT64CONST(1) << bit)) == 0)
			continue;
		for (int i = 0; i < lengthof(signal_names); i++)
			if (signal_names[i].signo == signo)
				name = signal_names[i].name;
		elems[n++] = CStringGetTextDatum(name ? name : psprintf("SIG%d", signo));
	}
	return PointerGetDatum(construct_array(elems, n, TEXTOID, -1, false,
										   TYPALIGN_INT));
}

static void
add_note(StringInfo note, const char *fmt,...) pg_attribute_printf(2, 3);

static void
add_note(StringInfo note, const char *fmt,...)
{
	va_list		ap;

	if (note->len > 0)
		appendStringInfoString(note, "; ");
	for (;;)
	{
		int			needed;

		va_start(ap, fmt);
		needed = appendStringInfoVA(note, fmt, ap);
		va_end(ap);
		if (needed == 0)
			break;
		enlargeStringInfo(note, needed);
	}
}

static const char *
read_failure(const char *file, IosatProcRead res, int err)
{
	if (res == IOSAT_PROC_DENIED)
		return psprintf("/proc/<pid>/%s: permission denied", file);
	if (err != 0)
		return psprintf("/proc/<pid>/%s: %s", file, strerror(err));
	return psprintf("/proc/<pid>/%s: unexpected content", file);
}

#define NCOLS_KERNEL 21			/* columns after pid and the wait event */

static void
put_nulls(IosatRow *row, int n)
{
	for (int i = 0; i < n; i++)
		iosat_put_null(row);
}

static void
put_wait_event(IosatRow *row, PGPROC *proc, uint32 wei)
{
	const char *type = NULL;
	const char *event = NULL;

	if (proc != NULL && wei != 0)
	{
		type = pgstat_get_wait_event_type(wei);
		event = pgstat_get_wait_event(wei);
	}
	iosat_put_text(row, type);
	iosat_put_text(row, event);
}

/*
 * Fill one row with the kernel's view of pid.  Returns false, with the row
 * unusable, when the process exited while it was being read.
 */
static bool
kernel_row(IosatRow *row, int pid, PGPROC *proc, DelayAcct delayacct,
		   StringInfo note, int *nthreads)
{
	char		buf[8192];
	ssize_t		n;
	int			err;
	uint32		wei = 0;
	KProcStat	st;
	KProcStatus status;
	KProcIo		io;
	bool		have_status,
				have_io;
	char		wchan[IOSAT_WCHAN_LEN * 4];
	IosatProcRead res;
	double		hz = iosat_clock_ticks();

	resetStringInfo(note);
	*nthreads = 1;

	/* the wait event right before the task state, so that they agree */
	if (proc != NULL)
		wei = iosat_proc_wait_event(proc);

	res = iosat_proc_read(pid, "stat", buf, sizeof(buf), &n, &err, NULL);
	if (res == IOSAT_PROC_GONE)
		return false;
	if (res != IOSAT_PROC_OK || !kparse_proc_stat(buf, n, &st))
	{
		/* nothing useful without stat; say why */
		put_wait_event(row, proc, wei);
		put_nulls(row, NCOLS_KERNEL - 1);
		add_note(note, "%s", read_failure("stat", res, err));
		iosat_put_text(row, note->data);
		return proc_still(proc, pid);
	}
	if (st.num_threads > 1 && st.num_threads < PG_INT32_MAX)
		*nthreads = (int) st.num_threads;

	res = iosat_proc_read(pid, "status", buf, sizeof(buf), &n, &err, NULL);
	if (res == IOSAT_PROC_GONE)
		return false;
	have_status = res == IOSAT_PROC_OK && kparse_proc_status(buf, n, &status);
	if (!have_status)
		add_note(note, "%s", read_failure("status", res, err));

	res = iosat_proc_read(pid, "io", buf, sizeof(buf), &n, &err, NULL);
	if (res == IOSAT_PROC_GONE)
		return false;
	have_io = res == IOSAT_PROC_OK && kparse_proc_io(buf, n, &io);
	if (!have_io)
		add_note(note, "%s", read_failure("io", res, err));

	if (!iosat_read_wchan(pid, wchan, sizeof(wchan), &res, NULL))
	{
		if (res == IOSAT_PROC_GONE)
			return false;
		add_note(note, "%s", read_failure("wchan", res, 0));
	}

	/* a PGPROC that changed hands means the process we read has exited */
	if (!proc_still(proc, pid))
		return false;

	put_wait_event(row, proc, wei);
	{
		char		letter[2] = {st.state, '\0'};

		iosat_put_text(row, letter);
		iosat_put_text(row, iosat_task_state_name(st.state));
	}
	iosat_put_text(row, wchan);

	if (have_status && status.have_sig)
		iosat_put(row, signals_datum(status.sigpnd | status.shdpnd));
	else
		iosat_put_null(row);

	if (have_io)
	{
		iosat_put(row, Int64GetDatum((int64) io.rchar));
		iosat_put(row, Int64GetDatum((int64) io.wchar));
		iosat_put(row, Int64GetDatum((int64) io.read_bytes));
		iosat_put(row, Int64GetDatum((int64) io.write_bytes));
		iosat_put(row, Int64GetDatum((int64) io.cancelled_write_bytes));
		iosat_put(row, Int64GetDatum((int64) io.syscr));
		iosat_put(row, Int64GetDatum((int64) io.syscw));
	}
	else
		put_nulls(row, 7);

	if (have_status && status.have_ctxt)
	{
		iosat_put(row, Int64GetDatum((int64) status.voluntary_ctxt_switches));
		iosat_put(row, Int64GetDatum((int64) status.nonvoluntary_ctxt_switches));
	}
	else
		put_nulls(row, 2);

	iosat_put(row, Float8GetDatum(st.utime / hz));
	iosat_put(row, Float8GetDatum(st.stime / hz));
	iosat_put(row, Int32GetDatum(st.processor));
	iosat_put(row, Int64GetDatum((int64) st.minflt));
	iosat_put(row, Int64GetDatum((int64) st.majflt));
	if (have_status)
		iosat_put(row, Int64GetDatum((int64) status.vm_rss_kb));
	else
		iosat_put_null(row);

	switch (delayacct)
	{
		case DELAYACCT_ON:
			iosat_put(row, Float8GetDatum(st.delayacct_blkio_ticks / hz));
			break;
		case DELAYACCT_OFF:
			iosat_put_null(row);
			add_note(note, "blkio_delay_s: delay accounting is off (sysctl kernel.task_delayacct = 0)");
			break;
		case DELAYACCT_UNKNOWN:
			iosat_put(row, Float8GetDatum(st.delayacct_blkio_ticks / hz));
			add_note(note, "blkio_delay_s: kernel.task_delayacct not found; 0 if the kernel was booted with nodelayacct");
			break;
	}
	iosat_put_text(row, note->data);
	return true;
}

/*
 * An io worker and the backend whose I/O it performs at the moment of the
 * look (PostgreSQL 18+, io_method = worker; collect/aio.c).
 */
typedef struct AioLink
{
	int			worker_pid;
	char		worker_state;	/* task state of the worker */
	int			owner_pid;		/* 0: performing none */
} AioLink;

/* every io worker of the snapshot, with the backend it serves */
static int
collect_aio_links(int nbackends, AioLink *links)
{
	int			n = 0;

	for (int i = 1; i <= nbackends; i++)
	{
		LocalPgBackendStatus *local = iosat_local_beentry(i);
		AioLink    *l;
		int			procno;
		char		wchan[1];

		if (local == NULL || local->backendStatus.st_procpid <= 0 ||
			!IOSAT_IS_IO_WORKER(local->backendStatus.st_backendType))
			continue;
		l = &links[n];
		l->worker_pid = local->backendStatus.st_procpid;
		if (iosat_task_state(l->worker_pid, false, &l->worker_state, NULL,
							 NULL, wchan, sizeof(wchan), NULL) != IOSAT_PROC_OK)
			continue;
		if (!iosat_aio_served(l->worker_pid, &procno, &l->owner_pid))
			l->owner_pid = 0;
		n++;
	}
	return n;
}

/*
 * With io_method = io_uring, the io_uring worker thread of pid (a process
 * with nthreads threads) performing its I/O now, one in D first
 * (collect/iouring.c): looked for only when pid has more than one thread
 * and I/O in flight.
 */
static bool
iouring_link(int pid, PGPROC *proc, int nthreads, AioLink *link)
{
	IosatIoUringWorker workers[IOSAT_IOURING_MAX_WORKERS];
	uint32		wei;

	if (nthreads <= 1 || proc == NULL ||
		!iosat_aio_in_flight(IOSAT_PROCNO(proc), &wei) ||
		iosat_iouring_workers(pid, nthreads, false, workers,
							  lengthof(workers)) == 0)
		return false;
	link->worker_pid = workers[0].tid;
	link->worker_state = workers[0].state;
	link->owner_pid = pid;
	return true;
}

/*
 * The three AIO columns of pid's row: on an io worker's, the backend it
 * serves (aio_for_pid); on a backend's, the io worker performing its I/O
 * (aio_worker_pid) and that worker's task state (aio_worker_state), a
 * worker in D first when several serve it, or else, with io_uring, the
 * thread of its own performing it.  NULL where none applies.
 */
static void
put_aio_columns(IosatRow *row, int pid, PGPROC *proc, int nthreads,
				const AioLink *links, int nlinks, bool visible)
{
	const AioLink *worker = NULL;
	const AioLink *self = NULL;
	AioLink		thread;

	for (int i = 0; visible && i < nlinks; i++)
	{
		if (links[i].worker_pid == pid)
			self = &links[i];
		else if (links[i].owner_pid == pid &&
				 (worker == NULL || links[i].worker_state == 'D'))
			worker = &links[i];
	}
	if (visible && worker == NULL && iouring_link(pid, proc, nthreads, &thread))
		worker = &thread;
	if (self != NULL && self->owner_pid > 0)
		iosat_put(row, Int32GetDatum(self->owner_pid));
	else
		iosat_put_null(row);
	if (worker != NULL)
	{
		char		st[2] = {worker->worker_state, '\0'};

		iosat_put(row, Int32GetDatum(worker->worker_pid));
		iosat_put_text(row, st);
	}
	else
	{
		iosat_put_null(row);
		iosat_put_null(row);
	}
}

static bool
has_stats_privs(Oid role, bool read_all)
{
	return read_all || has_privs_of_role(GetUserId(), role);
}

Datum
iosat_proc_info_srf(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	IosatPidProc *procs;
	int			nprocs;
	int			nbackends;
	AioLink    *links;
	int			nlinks;
	bool		read_all;
	DelayAcct	delayacct;
	StringInfoData note;
	MemoryContext rowcxt,
				oldcxt;

	iosat_check_loaded();
	InitMaterializedSRF(fcinfo, 0);

	read_all = has_privs_of_role(GetUserId(), ROLE_PG_READ_ALL_STATS);
	delayacct = delayacct_state();
	initStringInfo(&note);

	procs = palloc(sizeof(IosatPidProc) * Max(ProcGlobal->allProcCount, 1));
	nprocs = iosat_collect_procs(procs, ProcGlobal->allProcCount);

	rowcxt = AllocSetContextCreate(CurrentMemoryContext, "iosat_proc_info row",
								   ALLOCSET_SMALL_SIZES);

	/* the same snapshot pg_stat_activity uses within this transaction */
	nbackends = pgstat_fetch_stat_numbackends();
	links = palloc(sizeof(AioLink) * Max(nbackends, 1));
	nlinks = collect_aio_links(nbackends, links);
	for (int i = 1; i <= nbackends; i++)
	{
		LocalPgBackendStatus *local = iosat_local_beentry(i);
		PgBackendStatus *be;
		IosatRow	row;
		int			pid;
		PGPROC	   *proc;
		int			nthreads = 1;
		bool		keep = true;

		CHECK_FOR_INTERRUPTS();
		if (local == NULL)
			continue;
		be = &local->backendStatus;
		pid = be->st_procpid;
		if (pid <= 0)
			continue;

		oldcxt = MemoryContextSwitchTo(rowcxt);
		iosat_set_values_init(&row, rsinfo->setDesc);
		iosat_put(&row, Int32GetDatum(pid));
		proc = iosat_find_proc(procs, nprocs, pid);
		if (!has_stats_privs(be->st_userid, read_all))
		{
			put_nulls(&row, 2 + NCOLS_KERNEL - 1);
			iosat_put_text(&row, "insufficient privilege");
		}
		else
			keep = kernel_row(&row, pid, proc, delayacct, &note, &nthreads);
		/* device I/O from the BPF companion's per-process map (io_top.c) */
		if (keep)
		{
			bool		visible = has_stats_privs(be->st_userid, read_all);

			iosat_put_bpf_proc_io(&row, visible ? pid : 0);
			/* 1.4; a 1.3 declaration has fewer columns (iosat_put drops them) */
			put_aio_columns(&row, pid, proc, nthreads, links, nlinks, visible);
		}
		MemoryContextSwitchTo(oldcxt);

		if (keep)
		{
			Assert(row.n >= row.natts);
			tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc,
								 row.values, row.nulls);
		}
		MemoryContextReset(rowcxt);
	}
	return (Datum) 0;
}
