/*-------------------------------------------------------------------------
 *
 * profile.c
 *	  The "iosat profiler" background worker: a sampled profile of what
 *	  Postgres processes wait for, both as Postgres sees it (the wait event
 *	  in PGPROC) and as the kernel sees it (task state and wchan).
 *
 * Every iosat.profile_interval the profiler walks ProcGlobal->allProcs; for
 * each process it reads wait_event_info and, right after, /proc/<pid>/stat
 * (and /proc/<pid>/wchan unless the task is running), and counts one sample
 * in the bucket (backend type, wait event, task state, wchan).  The
 * postmaster, which has no PGPROC, is sampled too; the profiler itself is
 * not (it would always be running).  The buckets live in a fixed-size table
 * in shared memory (iosat.profile_max_entries); when it is full, samples of
 * new keys are counted in one "(other)" bucket and iosat_profiler says so.
 *
 * It is a worker of its own rather than a step of the sampler so that
 * reading /proc for hundreds of backends never delays the device samples
 * that admission control and vacuum backpressure act on, and so that it can
 * be switched off (iosat.profile = off) without touching them.
 *
 * The profiler is the only writer.  It publishes one pass at a time under a
 * change counter; readers copy the table and retry if the counter moved.
 * A reset is a request the profiler carries out at its next wake-up (the
 * resetting backend sets its latch and waits for the acknowledgement).
 *
 * An io worker (PostgreSQL 18+, io_method = worker) in D is counted under
 * the backend it performs the I/O for, as "io worker for client backend"
 * (or autovacuum worker, ...), found by collect/aio.c: with asynchronous
 * I/O the backend waits in S on IO:AioIoCompletion while its read puts the
 * worker in D, and the profile should still say whose I/O is in D.  With
 * io_method = io_uring the kernel performs a read stream's reads in io-wq
 * threads of the backend ("iou-wrk-<pid>", collect/iouring.c) while the
 * backend waits in S on IO:AioIoUringExecution: each such thread that is
 * busy (D or R) is one more sample, under "io_uring worker for client
 * backend", with the wait event the I/O has when a process performs it
 * (IO:DataFileRead); the load figures count it as the kernel does.  The
 * threads are looked for only in processes with more than one thread and
 * I/O in flight, so a pass costs nothing more for the others.
 *
 * Backend types come from the backend-status array (the snapshot
 * pg_stat_activity uses), cached per PGPROC slot and refreshed only when a
 * slot's pid changes, so a steady pool costs no snapshot at all.  For the
 * same reason /proc/<pid>/stat and wchan stay open per slot and are re-read
 * with pread(): a third of the cost of opening them each time.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "storage/shmem.h"
#include "utils/backend_status.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"
#include "utils/wait_event.h"

#include "guc.h"
#include "compat.h"
#include "clock.h"
#include "collect/aio.h"
#include "collect/iouring.h"
#include "state/shared.h"
#include "state/shmem.h"
#include "profiler/profile.h"


IosatProfileShared *iosat_profile = NULL;

/* the kernel's load-average time constants, in seconds */
static const double load_tau_s[IOSAT_NLOADS] = {60.0, 300.0, 900.0};

/* the profiler's private state */
typedef struct TypeCache
{
	int			pid;			/* 0: nothing cached for this slot */
	char		type[IOSAT_BTYPE_LEN];
	bool		io_worker;		/* an io worker (18+) */
	int			fds[2];			/* kept /proc/<pid>/stat and wchan, or -1 */
} TypeCache;

typedef struct IndexEntry
{
	IosatProfileKey key;
	int			slot;
} IndexEntry;

typedef struct Sample
{
	IosatProfileKey key;
	int			slot;			/* -1: the "(other)" bucket */
	bool		fresh;			/* this sample created the bucket */
} Sample;

static TypeCache *type_cache;
static int	type_cache_len;
static int	postmaster_fds[2] = {-1, -1};
static HTAB *key_index;

static void
close_fds(int *fds)
{
	for (int i = 0; i < 2; i++)
	{
		if (fds[i] >= 0)
			close(fds[i]);
		fds[i] = -1;
	}
}

static void
close_all_fds(void)
{
	for (int i = 0; i < type_cache_len; i++)
		close_fds(type_cache[i].fds);
	close_fds(postmaster_fds);
}

/*
 * Two descriptors per process are kept open; make room for them under the
 * soft limit if the hard one allows (without it, reads fall back to
 * open/read/close).
 */
static void
raise_fd_limit(int nprocs)
{
	struct rlimit rl;
	rlim_t		want = (rlim_t) nprocs * 2 + 64;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= want)
		return;
	rl.rlim_cur = (rl.rlim_max == RLIM_INFINITY || rl.rlim_max > want) ?
		want : rl.rlim_max;
	(void) setrlimit(RLIMIT_NOFILE, &rl);
}


Size
iosat_profile_shmem_size(void)
{
	return MAXALIGN(add_size(offsetof(IosatProfileShared, entries),
							 mul_size(sizeof(IosatProfileEntry),
									  iosat_profile_max_entries)));
}

/* called from shmem_startup_hook with AddinShmemInitLock held */
void
iosat_profile_shmem_init(void)
{
	bool		found;

	iosat_profile = ShmemInitStruct("iosat profile",
									iosat_profile_shmem_size(), &found);
	if (!found)
	{
		memset(iosat_profile, 0, iosat_profile_shmem_size());
		pg_atomic_init_u32(&iosat_profile->changecount, 0);
		pg_atomic_init_u32(&iosat_profile->profiler_pid, 0);
		pg_atomic_init_u32(&iosat_profile->profiler_procno, 0);
		pg_atomic_init_u64(&iosat_profile->reset_requested, 0);
		pg_atomic_init_u64(&iosat_profile->reset_done, 0);
		iosat_profile->max_entries = iosat_profile_max_entries;
	}
}

void
iosat_register_profiler(void)
{
	BackgroundWorker worker;

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS;
	worker.bgw_start_time = BgWorkerStart_PostmasterStart;
	worker.bgw_restart_time = 10;
	snprintf(worker.bgw_library_name, sizeof(worker.bgw_library_name), "iosat");
	snprintf(worker.bgw_function_name, sizeof(worker.bgw_function_name),
			 "iosat_profiler_main");
	snprintf(worker.bgw_name, sizeof(worker.bgw_name), "iosat profiler");
	snprintf(worker.bgw_type, sizeof(worker.bgw_type), "iosat profiler");
	RegisterBackgroundWorker(&worker);
}

/*
 * Copy the header (everything before the entries), consistent with respect
 * to the profiler.
 */
void
iosat_read_profile_header(IosatProfileShared *out)
{
	iosat_seq_read(&iosat_profile->changecount, out, iosat_profile,
				   offsetof(IosatProfileShared, entries));
}

/* ---------------------------------------------------------------- profiler */

static void
index_create(void)
{
	HASHCTL		ctl;

	if (key_index)
		hash_destroy(key_index);
	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = sizeof(IosatProfileKey);
	ctl.entrysize = sizeof(IndexEntry);
	ctl.hcxt = TopMemoryContext;
	key_index = hash_create("iosat profile index", iosat_profile->max_entries,
							&ctl, HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
}

/* carry out a pending iosat_wait_profile_reset() */
static void
handle_reset(void)
{
	IosatProfileShared *p = iosat_profile;
	uint64		req = pg_atomic_read_u64(&p->reset_requested);

	if (req == pg_atomic_read_u64(&p->reset_done))
		return;

	index_create();
	iosat_seq_begin_write(&p->changecount);
	p->nentries = 0;
	p->passes = 0;
	p->samples = 0;
	p->overflow_samples = 0;
	p->sum_pass_ms = 0;
	p->sum_running = 0;
	p->sum_disk_sleep = 0;
	p->since = GetCurrentTimestamp();
	memset(p->entries, 0, sizeof(IosatProfileEntry) * p->max_entries);
	iosat_seq_end_write(&p->changecount);
	pg_atomic_write_u64(&p->reset_done, req);
	ereport(DEBUG1, (errmsg("iosat profiler: profile reset")));
}

static int
pidtype_cmp(const void *a, const void *b)
{
	int			pa = ((const int *) a)[0];
	int			pb = ((const int *) b)[0];

	return (pa > pb) - (pa < pb);
}

static void
type_name(char *out, BackendType btype, int pid)
{
	const char *name = NULL;

	if (btype == B_BG_WORKER)
		name = GetBackgroundWorkerTypeByPid(pid);
	if (name == NULL)
		name = GetBackendTypeDesc(btype);
	strlcpy(out, name, IOSAT_BTYPE_LEN);
}

/*
 * Resolve the backend type of the slots whose pid is new, from the backend
 * status snapshot.  A process not in it (a background worker without a
 * database connection) is looked up among the background workers; one in
 * neither (a backend still starting) is "unknown" and asked about again at
 * the next pass.
 */
static void
resolve_types(const int *slots, const int *pids, int n)
{
	int			nbe;
	int		   *table;			/* pairs (pid, BackendType), sorted */
	int			ntable = 0;

	pgstat_clear_backend_activity_snapshot();
	nbe = pgstat_fetch_stat_numbackends();
	table = palloc(sizeof(int) * 2 * Max(nbe, 1));
	for (int i = 1; i <= nbe; i++)
	{
		LocalPgBackendStatus *local = iosat_local_beentry(i);

		if (local == NULL || local->backendStatus.st_procpid <= 0)
			continue;
		table[2 * ntable] = local->backendStatus.st_procpid;
		table[2 * ntable + 1] = (int) local->backendStatus.st_backendType;
		ntable++;
	}
	pgstat_clear_backend_activity_snapshot();
	qsort(table, ntable, sizeof(int) * 2, pidtype_cmp);

	for (int i = 0; i < n; i++)
	{
		TypeCache  *tc = &type_cache[slots[i]];
		int			key[2] = {pids[i], 0};
		int		   *hit = bsearch(key, table, ntable, sizeof(int) * 2,
								  pidtype_cmp);

		tc->io_worker = false;
		if (hit != NULL)
		{
			type_name(tc->type, (BackendType) hit[1], pids[i]);
			tc->io_worker = IOSAT_IS_IO_WORKER((BackendType) hit[1]);
			tc->pid = pids[i];
		}
		else
		{
			const char *bgw = GetBackgroundWorkerTypeByPid(pids[i]);

			if (bgw != NULL)
			{
				strlcpy(tc->type, bgw, IOSAT_BTYPE_LEN);
				tc->pid = pids[i];
			}
			else
			{
				strlcpy(tc->type, "unknown", IOSAT_BTYPE_LEN);
				tc->pid = 0;	/* try again next time */
			}
		}
	}
	pfree(table);
}

static int
slot_for(const IosatProfileKey *key, int *nentries, bool *fresh)
{
	IndexEntry *e;
	bool		found;

	*fresh = false;
	e = hash_search(key_index, key, HASH_FIND, NULL);
	if (e != NULL)
		return e->slot;
	if (*nentries >= iosat_profile->max_entries)
		return -1;
	e = hash_search(key_index, key, HASH_ENTER, &found);
	e->slot = (*nentries)++;
	*fresh = true;
	return e->slot;
}

static void
fill_key(IosatProfileKey *key, const char *btype, uint32 wei, char state,
		 const char *wchan)
{
	memset(key, 0, sizeof(*key));
	strlcpy(key->backend_type, btype, IOSAT_BTYPE_LEN);
	strlcpy(key->wchan, wchan, IOSAT_WCHAN_LEN);
	key->wait_event_info = wei;
	key->state = state;
}

/*
 * The backend type a sample is counted under: the process's own, or, for
 * an io worker in D performing a backend's I/O, "io worker for <its type>".
 */
static const char *
sample_type(int slot, int pid, char state, char *buf, int count)
{
	int			procno;
	int			owner_pid;

	if (!type_cache[slot].io_worker || state != 'D' ||
		!iosat_aio_served(pid, &procno, &owner_pid) || procno >= count)
		return type_cache[slot].type;
	snprintf(buf, IOSAT_BTYPE_LEN, "%s for %s", type_cache[slot].type,
			 type_cache[procno].pid == owner_pid ?
			 type_cache[procno].type : "unknown");
	return buf;
}

/*
 * One sample per busy io_uring worker thread of the process in slot, which
 * has nthreads threads, appended to *samples (grown as needed); the counts
 * of those running and in D are added to *running and *disk_sleep.
 */
static int
sample_iouring_workers(int slot, int pid, int nthreads, Sample **samples,
					   int nsamples, int *cap, int *running, int *disk_sleep)
{
	IosatIoUringWorker workers[IOSAT_IOURING_MAX_WORKERS];
	uint32		wei;
	int			n;
	char		type[IOSAT_BTYPE_LEN];

	if (nthreads <= 1 || !iosat_aio_in_flight(slot, &wei))
		return nsamples;
	n = iosat_iouring_workers(pid, nthreads, true, workers, lengthof(workers));
	if (n == 0)
		return nsamples;
	if (nsamples + n > *cap)
	{
		*cap = nsamples + n + 16;
		*samples = repalloc(*samples, sizeof(Sample) * *cap);
	}
	snprintf(type, sizeof(type), "io_uring worker for %s",
			 type_cache[slot].type);
	for (int i = 0; i < n; i++)
	{
		fill_key(&(*samples)[nsamples].key, type, wei, workers[i].state,
				 workers[i].wchan);
		nsamples++;
		*running += (workers[i].state == 'R');
		*disk_sleep += (workers[i].state == 'D');
	}
	return nsamples;
}

static void
profile_pass(void)
{
	IosatProfileShared *p = iosat_profile;
	double		t0 = iosat_mono_ms();
	int			count = Min((int) ProcGlobal->allProcCount, type_cache_len);
	int		   *slots = palloc(sizeof(int) * (count + 1));
	int		   *pids = palloc(sizeof(int) * (count + 1));
	int		   *newslots = palloc(sizeof(int) * (count + 1));
	int		   *newpids = palloc(sizeof(int) * (count + 1));
	int			samples_cap = count + 1;
	Sample	   *samples = palloc(sizeof(Sample) * samples_cap);
	int			nlive = 0,
				nnew = 0,
				nsamples = 0;
	int			running = 0,
				disk_sleep = 0;
	int			nthread_samples = 0;	/* of io_uring worker threads */
	int			nentries = p->nentries;
	char		state;
	char		wchan[IOSAT_WCHAN_LEN];
	char		served_type[IOSAT_BTYPE_LEN];
	TimestampTz now;
	TimestampTz prev_pass;
	double		t1;

	/* which slots hold a process, and which of those are new to us */
	for (int i = 0; i < count; i++)
	{
		int			pid = *((volatile int *) &ProcGlobal->allProcs[i].pid);

		if (pid <= 0 || pid == MyProcPid)
		{
			type_cache[i].pid = 0;
			close_fds(type_cache[i].fds);
			continue;
		}
		slots[nlive] = i;
		pids[nlive] = pid;
		nlive++;
		if (type_cache[i].pid != pid)
		{
			close_fds(type_cache[i].fds);
			newslots[nnew] = i;
			newpids[nnew] = pid;
			nnew++;
		}
	}
	if (nnew > 0)
		resolve_types(newslots, newpids, nnew);

	for (int k = 0; k < nlive; k++)
	{
		PGPROC	   *proc = &ProcGlobal->allProcs[slots[k]];
		uint32		wei = iosat_proc_wait_event(proc);
		IosatProcRead res;
		int			nthreads = 1;

		res = iosat_task_state(pids[k], true, &state, NULL, &nthreads, wchan,
							   sizeof(wchan), type_cache[slots[k]].fds);
		pg_read_barrier();
		if (*((volatile int *) &proc->pid) != pids[k])
			continue;			/* exited while we looked */
		if (res == IOSAT_PROC_GONE)
		{
			/* a new process under a reused pid: look at it afresh */
			type_cache[slots[k]].pid = 0;
			close_fds(type_cache[slots[k]].fds);
			continue;
		}
		if (res != IOSAT_PROC_OK)
		{
			state = '?';
			wchan[0] = '\0';
		}
		fill_key(&samples[nsamples].key,
				 sample_type(slots[k], pids[k], state, served_type, count),
				 wei, state, wchan);
		nsamples++;
		running += (state == 'R');
		disk_sleep += (state == 'D');
		if (res == IOSAT_PROC_OK)
		{
			int			before = nsamples;

			nsamples = sample_iouring_workers(slots[k], pids[k], nthreads,
											  &samples, nsamples, &samples_cap,
											  &running, &disk_sleep);
			nthread_samples += nsamples - before;
		}
	}

	/* the postmaster has no PGPROC but is a Postgres process all the same */
	if (nsamples >= samples_cap)
	{
		samples_cap = nsamples + 1;
		samples = repalloc(samples, sizeof(Sample) * samples_cap);
	}
	if (iosat_task_state(PostmasterPid, true, &state, NULL, NULL, wchan,
						 sizeof(wchan), postmaster_fds) == IOSAT_PROC_OK)
	{
		fill_key(&samples[nsamples].key, "postmaster", 0, state, wchan);
		nsamples++;
		running += (state == 'R');
		disk_sleep += (state == 'D');
	}

	/* find every sample's bucket before publishing: this may allocate */
	for (int k = 0; k < nsamples; k++)
		samples[k].slot = slot_for(&samples[k].key, &nentries,
								   &samples[k].fresh);

	now = GetCurrentTimestamp();
	t1 = iosat_mono_ms();

	prev_pass = p->last_pass;
	iosat_seq_begin_write(&p->changecount);
	for (int k = 0; k < nsamples; k++)
	{
		int			slot = samples[k].slot;

		if (slot < 0)
		{
			p->overflow_samples++;
			continue;
		}
		if (samples[k].fresh)
		{
			p->entries[slot].key = samples[k].key;
			p->entries[slot].count = 0;
		}
		p->entries[slot].count++;
	}
	p->nentries = nentries;
	p->enabled = true;
	p->passes++;
	p->samples += nsamples;
	p->last_pass = now;
	p->last_pass_ms = t1 - t0;
	p->sum_pass_ms += t1 - t0;
	p->last_procs = nsamples - nthread_samples;
	p->now_running = running;
	p->now_disk_sleep = disk_sleep;
	p->sum_running += running;
	p->sum_disk_sleep += disk_sleep;

	/*
	 * The kernel's load-average recurrence on our own sampling clock:
	 * load = load * e + active * (1 - e), e = exp(-dt / tau), started at 0
	 * with the server, when Postgres contributed nothing to the kernel's
	 * figures either, so both averages carry the same history.  dt is
	 * measured from the previous pass in shared memory, so time when
	 * profiling was off or the profiler was restarting counts with the
	 * current sample; after a gap of several time constants the figures
	 * therefore start again from what is seen now.
	 */
	if (p->load_since == 0)
		p->load_since = now;
	if (prev_pass != 0 && now > prev_pass)
	{
		double		dt_s = Min((now - prev_pass) / 1e6, 86400.0);

		for (int i = 0; i < IOSAT_NLOADS; i++)
		{
			double		e = exp(-dt_s / load_tau_s[i]);

			p->pg_load[i] = p->pg_load[i] * e + (running + disk_sleep) * (1.0 - e);
		}
	}
	iosat_seq_end_write(&p->changecount);
}

static void
publish_disabled(void)
{
	IosatProfileShared *p = iosat_profile;

	close_all_fds();
	if (!p->enabled)
		return;
	iosat_seq_begin_write(&p->changecount);
	p->enabled = false;
	p->now_running = 0;
	p->now_disk_sleep = 0;
	iosat_seq_end_write(&p->changecount);
}

static void
profiler_exit(int code, Datum arg)
{
	pg_atomic_write_u32(&iosat_profile->profiler_pid, 0);
}

void
iosat_profiler_main(Datum arg)
{
	double		next_due;
	MemoryContext cxt;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, SignalHandlerForShutdownRequest);
	BackgroundWorkerUnblockSignals();

	type_cache_len = (int) ProcGlobal->allProcCount;
	type_cache = MemoryContextAllocZero(TopMemoryContext,
										sizeof(TypeCache) * Max(type_cache_len, 1));
	for (int i = 0; i < type_cache_len; i++)
		type_cache[i].fds[0] = type_cache[i].fds[1] = -1;
	raise_fd_limit(type_cache_len + 1);
	index_create();
	cxt = AllocSetContextCreate(TopMemoryContext, "iosat profiler",
								ALLOCSET_DEFAULT_SIZES);
	MemoryContextSwitchTo(cxt);

	/*
	 * A restarted profiler keeps the published counts but not its index of
	 * them: start a fresh profile rather than duplicate buckets.
	 */
	pg_atomic_fetch_add_u64(&iosat_profile->reset_requested, 1);
	handle_reset();

	before_shmem_exit(profiler_exit, 0);
	pg_atomic_write_u32(&iosat_profile->profiler_procno, (uint32) IOSAT_MY_PROCNO());
	pg_atomic_write_u32(&iosat_profile->profiler_pid, (uint32) MyProcPid);
	ereport(LOG,
			(errmsg("iosat profiler started (interval %d ms, %s)",
					iosat_profile_interval_ms,
					iosat_profile_enabled ? "on" : "off")));

	next_due = iosat_mono_ms();
	while (!ShutdownRequestPending)
	{
		double		now;

		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
		handle_reset();

		now = iosat_mono_ms();
		if (!iosat_profile_enabled)
		{
			publish_disabled();
			(void) WaitLatch(MyLatch,
							 WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
							 10000L, PG_WAIT_EXTENSION);
			ResetLatch(MyLatch);
			CHECK_FOR_INTERRUPTS();
			next_due = iosat_mono_ms();
			continue;
		}
		if (now < next_due)
		{
			(void) WaitLatch(MyLatch,
							 WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
							 (long) ceil(next_due - now), PG_WAIT_EXTENSION);
			ResetLatch(MyLatch);
			CHECK_FOR_INTERRUPTS();
			continue;
		}

		profile_pass();
		MemoryContextReset(cxt);

		/* fixed rate; after falling behind, start again from now */
		next_due += iosat_profile_interval_ms;
		if (next_due < iosat_mono_ms())
			next_due = iosat_mono_ms() + iosat_profile_interval_ms;
		CHECK_FOR_INTERRUPTS();
	}
	/*
	 * Exit status 1, not 0: the postmaster unregisters for good a worker that
	 * exits with 0, so a pg_terminate_backend() of this worker would stop it
	 * until the next restart.  With 1 it comes back after bgw_restart_time;
	 * at server shutdown nothing is restarted either way.
	 */
	proc_exit(1);
}
