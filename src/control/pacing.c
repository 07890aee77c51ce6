/*-------------------------------------------------------------------------
 *
 * pacing.c
 *	  Read pacing: while the storage is pressed, heavy statements that are
 *	  already running read no faster than the governor's pace rate.
 *
 * Admission control decides who may start; it cannot slow a statement
 * that started on a healthy device, and it must let at least one heavy
 * statement run.  A single heavy scan, reading synchronously with the
 * kernel's readahead behind it, fills whatever headroom the cheap load
 * leaves, so the device stays at its ceiling and every cheap read waits
 * behind it.  PostgreSQL 15-18 have no hook on a scan's reads, so iosat
 * puts its pacing point where a scan hands over each tuple it read:
 *	- every plan node's ExecProcNode (every tuple a node returns), and
 *	- every node's qual (every tuple a scan examines: the incident's query
 *	  discards all the rows it reads, so its scan returns nothing until it
 *	  ends).
 * The pacing point compares this backend's blocks read (pgBufferUsage,
 * no syscall) with the next checkpoint, every PACE_QUANTUM blocks; there
 * it runs a token bucket at the pace rate and sleeps (on its latch, with
 * the wait event IosatPace: cancel, statement_timeout and terminate act
 * at once) for the blocks read beyond it.
 *
 * The wrappers keep what was there: a node's ExecProcNode that another
 * extension replaced before this one is chained (called after the pacing
 * point), not overwritten; see "The wrappers" below.
 *
 * Buffer pins.  A scan stopped at a pacing point holds a pin on its current
 * page (a seq scan between two tuples of a page; an index-only scan its
 * leaf); no pacing point in the executor is free of it, and which buffers
 * a backend pins is private to bufmgr.c.  A cleanup lock waits for every
 * other pin to go (VACUUM freezing or pruning a page, LockBufferForCleanup,
 * wait event BufferPin; on a standby, replay, which then cancels the
 * query): held for the length of each stop, a VACUUM behind a paced scan
 * would crawl at the scan's pace to the end of the table.  So before every
 * paced sleep, and every PIN_POLL_MS during one, the pacing point looks
 * for a backend of its database (or the startup process) waiting on
 * BufferPin; if there is one, it does not sleep, forgives the debt, and
 * does not sleep again for PIN_YIELD_MS.  The bound: a cleanup-lock waiter
 * waits for a paced sleep at most PIN_POLL_MS, and at most that again per
 * PIN_YIELD_MS while it stays behind the statement (2%).  Any waiter
 * counts, as which buffer it waits on is not known cheaply: one that waits
 * on a pin held elsewhere suspends pacing in its database while it waits
 * (fail open).  The look is a pass over the PGPROCs (a word of each), on
 * the paced path only.
 *
 * Hot standby.  There replay (the startup process) is the cleanup-lock
 * waiter above, and it waits for a pin at most PIN_POLL_MS per PIN_YIELD_MS
 * while it stays behind a paced scan.  Replay also waits for a statement's
 * lock (an AccessExclusiveLock replayed: DROP, TRUNCATE, a VACUUM
 * truncating the table) or its snapshot (VACUUM removing rows the snapshot
 * may still see), and cancels it after max_standby_streaming_delay; the
 * statement can end such a conflict only by finishing, so pacing it would
 * only bring its cancellation nearer.  While the startup process waits on
 * one of them a paced statement does not sleep either (see
 * replay_waits_on_conflict).  docs/admission.md, "Hot standby".
 *
 * Every interval here (the token bucket, slow start, the governor's cut
 * timing and probe hold) is on the monotonic clock (clock.h): on the wall
 * clock, a step back (an NTP step, a VM resume) made a paced statement
 * sleep for the length of the step.
 *
 * Never paced: cheap statements, statements of exempt roles, nested
 * executors, and any point where the process holds an LWLock or is in a
 * critical section (interrupts held off).
 *
 * Writers.  A statement is heavy by its reads or by its writes, and the
 * pacing point counts both: blocks read, buffers dirtied and temporary
 * blocks written (iosat_blocks_io_now).  A transaction that has written
 * may hold row locks (its xid), relation and advisory locks that others
 * wait for, and holding it back while they wait would lengthen every wait
 * on them: the incident's lock amplification (CockroachDB lets lock holders
 * go first for the same reason).  So a paced sleep is not taken while any
 * backend waits in the lock manager for a lock this one holds (the same
 * pass over the PGPROCs as for a pin waiter, each waiter's lock tag looked
 * up in this backend's lock table), and not for PIN_YIELD_MS after: a
 * waiter waits for a paced sleep at most PIN_POLL_MS.  A parallel
 * statement of a transaction that has written is not paced (its workers
 * cannot see who waits for the leader's locks).  With no fresh verdict (a
 * dead sampler) nothing is paced.
 *
 * A parallel statement is paced as one: its leader and workers share one
 * budget at the pace rate (see "Parallel statements" below).
 *
 * The pace rate (blocks per second per paced statement; 0: no pacing) is
 * set by the governor after each sample (sampler/pace_policy.c), steering
 * the pressure signal (the largest ratio of a smoothed device figure to its
 * threshold) to IOSAT_RELAX_BELOW (0.9), close to the ceiling, so that
 * heavy statements take what the cheap load leaves:
 *	pressure >= 1       start at half the blocks per second the paced
 *	                    statements were reading, then divide by
 *	                    max(1.25, pressure^2) at most every max(sample
 *	                    interval, half the smoothing window) -- the time the
 *	                    smoothed signal needs to show the last cut;
 *	0.9 <= p < 1        ease off, by up to 10% a second;
 *	p < 0.9             grow by (0.9 - p) a second (at most 30%);
 * and once the device is no longer saturated and the rate no longer binds
 * (the paced statements read less than half of it), stop pacing.  A
 * stalled device holds the rate as it is: nothing completes, so pacing
 * can neither help nor learn anything (the statements are in D already).
 * Slow start: a heavy statement that starts while the device is busy
 * (pressure >= 0.5) reads at most 8 x iosat.pacing_min_rate blocks a
 * second at first; its cap doubles every max(sample interval, half the
 * smoothing window) while the pressure is below 0.9 and holds above, until
 * it passes 65536 or the governor sets a rate:
 * the first heavy statement of a storm would otherwise read at full speed
 * for the second the smoothed signal needs to show it (TCP starts new
 * connections slowly for the same reason).  On a device that is not busy
 * heavy statements start at full speed.
 * For PROBE_HOLD_MS after the last pressure the rate does not grow past
 * PROBE_MARGIN of the rate at which the device was pressed: the smoothed
 * signal lags, so that rate was already too much.  Never below
 * iosat.pacing_min_rate: a paced statement always progresses.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "access/parallel.h"
#include "access/xact.h"
#include "access/xlog.h"
#include "executor/execParallel.h"
#include "executor/executor.h"
#include "miscadmin.h"
#include "nodes/execnodes.h"
#include "nodes/nodeFuncs.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "utils/memutils.h"
#include "utils/wait_event.h"

#include "guc.h"
#include "clock.h"
#include "compat.h"
#include "state/paceshare.h"
#include "state/queue.h"
#include "state/rules.h"
#include "state/shared.h"
#include "state/shmem.h"
#include "control/pacing.h"

/* blocks between two looks at the clock */
#define PACE_QUANTUM	8
/*
 * The longest single sleep: after it the rate is re-read and the backends
 * are looked over for one waiting for a cleanup lock (see the header).
 */
#define PIN_POLL_MS		20
/* after seeing such a waiter, no paced sleep for this long */
#define PIN_YIELD_MS	1000
/* slow start: from this times iosat.pacing_min_rate, doubling every step */
#define SLOW_START_FACTOR 8
#define SLOW_START_END	65536.0

/* ---------------------------------------------------------------------
 * Backend side
 * ---------------------------------------------------------------------
 */
static int64 next_check = 0;	/* blocks read at which to account again */
static int64 last_blocks = 0;
static int64 last_time = 0;		/* iosat_mono_us(); 0: not in a paced stretch */
static double tokens = 0;
static bool stmt_counted = false;
static bool slow_start_pending = false;
static double slow_cap = 0;		/* slow start's cap; 0: not in slow start */
static int64 slow_at = 0;		/* iosat_mono_us() */
static int64 pin_yield_until = 0;	/* iosat_mono_us(): no paced sleep before */


static void pace_account(void);
static void pace_account_shared(void);

/*
 * A parallel statement's shared budget (see "Parallel statements" below):
 * the slot this process charges, -1 when it paces alone.
 */
static int	par_procno = -1;

static inline void
pace_point(void)
{
	if (unlikely(iosat_blocks_io_now() >= next_check))
		pace_account();
}

static inline void
pace_count(IosatCounter c, uint64 n)
{
	pg_atomic_fetch_add_u64(&iosat_adm->counters[c], n);
}

/*
 * The statement may sleep here: no LWLock, no critical section; and not a
 * parallel statement (leader or worker) of a transaction that has written:
 * the leader's locks are not in its workers' lock tables, so a worker
 * cannot tell who waits for them (see lock_waited).
 */
static inline bool
may_sleep_here(void)
{
	return InterruptHoldoffCount == 0 && CritSectionCount == 0 &&
		!((IsParallelWorker() || par_procno >= 0) &&
		  TransactionIdIsValid(GetTopTransactionIdIfAny()));
}

/*
 * Someone waits for what this backend holds:
 *	- a buffer pin: a backend of this database, or the startup process (a
 *	  standby's replay), waits for a cleanup lock (wait class BufferPin).
 *	  Which buffer it waits on is not known cheaply, so any such waiter
 *	  counts;
 *	- a lock: a backend waits in the lock manager (wait class Lock) for a
 *	  lock this backend holds in some mode (its transaction id, which a
 *	  row-lock waiter waits on; a relation; an advisory lock ...), by the
 *	  tag of the lock the waiter's PGPROC waits on, looked up in this
 *	  backend's own lock table (no shared lock).  The tag is read without
 *	  the partition lock: a waiter that just got its lock may leave a stale
 *	  tag, which costs at most a pacing sleep not taken.  A wait on a
 *	  virtual transaction id (CREATE INDEX CONCURRENTLY waiting for older
 *	  snapshots) is compared with this backend's own, which is not in its
 *	  lock table.
 * One pass over the PGPROCs, reading a word of each (and the lock tag of
 * those waiting on a lock), without a lock; only on the way into or
 * through a paced sleep.
 */
static bool
lock_waited(PGPROC *proc, uint32 ev)
{
	LOCK	   *lock;
	LOCKTAG		tag;

	if ((ev & 0xFF000000) != PG_WAIT_LOCK)
		return false;
	lock = *(LOCK *volatile *) &proc->waitLock;
	if (lock == NULL)
		return false;			/* not waiting any more */
	memcpy(&tag, (const void *) &lock->tag, sizeof(tag));
	if (tag.locktag_type == LOCKTAG_VIRTUALTRANSACTION)
		return IOSAT_IS_MY_VXID_TAG(&tag);
	return iosat_lock_held_by_me(&tag);
}

static bool
someone_waits_for_me(void)
{
	for (uint32 i = 0; i < ProcGlobal->allProcCount; i++)
	{
		PGPROC	   *proc = &ProcGlobal->allProcs[i];
		uint32		ev = *(volatile uint32 *) &proc->wait_event_info;

		if (ev == 0 || proc == MyProc || proc->pid == 0)
			continue;
		if (ev == IOSAT_WAIT_EVENT_CLEANUP_LOCK &&
			(proc->databaseId == MyDatabaseId || proc->databaseId == InvalidOid))
			return true;
		if (lock_waited(proc, ev))
			return true;
	}
	return false;
}

/*
 * Hot standby: replay waits for a recovery conflict that it ends, after
 * max_standby_streaming_delay, by cancelling the statements in its way: a
 * lock (wait class Lock), a snapshot or a tablespace.  Which statements it
 * waits for is not known cheaply, so any such wait counts (fail open).  The
 * startup process is the one process without a database that waits on
 * these; a wait on a buffer pin is cleanup_lock_waited's.  One pass over
 * the PGPROCs, as there, and only while recovery is in progress.
 */
static bool
replay_waits_on_conflict(void)
{
	if (!RecoveryInProgress())
		return false;
	for (uint32 i = 0; i < ProcGlobal->allProcCount; i++)
	{
		PGPROC	   *proc = &ProcGlobal->allProcs[i];
		uint32		ev = *(volatile uint32 *) &proc->wait_event_info;

		if (proc->databaseId != InvalidOid || proc->pid == 0)
			continue;
		if ((ev & 0xFF000000) == PG_WAIT_LOCK ||
			ev == WAIT_EVENT_RECOVERY_CONFLICT_SNAPSHOT ||
			ev == WAIT_EVENT_RECOVERY_CONFLICT_TABLESPACE)
			return true;
	}
	return false;
}

/*
 * A paced sleep must not hold a pin or a lock someone waits for: not
 * within PIN_YIELD_MS of seeing such a waiter, nor when there is one now;
 * nor, on a standby, while replay waits for a conflict it would end by
 * cancelling queries.
 */
static bool
yield_to_waiter(int64 now)
{
	if (now < pin_yield_until)
		return true;
	if (!someone_waits_for_me() && !replay_waits_on_conflict())
		return false;
	pin_yield_until = now + (int64) PIN_YIELD_MS * 1000;
	return true;
}

/*
 * The rate this statement may read at now, in blocks per second; 0: any.
 * In slow start, the statement's own cap doubles every step while the
 * pressure it sees is below IOSAT_RELAX_BELOW, and holds above; the governor's
 * rate, once it sets one, ends the slow start.
 */
static double
allowed_rate(int64 now)
{
	double		rate = pg_atomic_read_u32(&iosat_shared->gate.pace_rate);

	if (slow_cap > 0)
	{
		double		p = pg_atomic_read_u32(&iosat_shared->gate.pressure_milli) / 1000.0;
		double		dt = (now - slow_at) / 1e6;

		slow_at = now;
		if (rate > 0)
			slow_cap = 0;
		else
		{
			if (p < IOSAT_RELAX_BELOW)
				slow_cap *= pow(2.0, dt * 1000.0 / iosat_step_ms());
			if (slow_cap >= SLOW_START_END)
				slow_cap = 0;
			else
				rate = slow_cap;
		}
	}
	return rate;
}

/*
 * One paced sleep of MS (1 to PIN_POLL_MS) on the latch, counted from
 * SLEPT_FROM (also in *SLEPT, if given) before a cancel, a timeout or a
 * terminate leaves it; returns the time it ended.
 */
static int64
pace_nap(long ms, int64 slept_from, pg_atomic_uint64 *slept)
{
	int64		now;

	(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
					 Min(Max(ms, 1), PIN_POLL_MS),
					 iosat_wait_event_pace());
	ResetLatch(MyLatch);
	now = iosat_mono_us();
	pace_count(IOSAT_C_PACE_US, (uint64) (now - slept_from));
	if (slept != NULL)
		pg_atomic_fetch_add_u64(slept, (uint64) (now - slept_from));
	CHECK_FOR_INTERRUPTS();
	return now;
}

static void
pace_account(void)
{
	IosatGate  *g = &iosat_shared->gate;
	int64		blocks = iosat_blocks_io_now();
	bool		start_slow = false;
	int64		now;
	int64		slept_from;
	int64		age_ms;
	double		rate;
	double		burst;

	if (par_procno >= 0)
	{
		pace_account_shared();
		return;
	}
	pg_atomic_fetch_add_u64(&g->paced_blocks, (uint64) Max(blocks - last_blocks, 0));
	next_check = blocks + PACE_QUANTUM;
	if (slow_start_pending)
	{
		/* a heavy statement starting on a busy device starts slow */
		slow_start_pending = false;
		start_slow = pg_atomic_read_u32(&g->busy_milli) >= IOSAT_MILLI(IOSAT_BUSY_AT);
	}
	if (pg_atomic_read_u32(&g->pace_rate) == 0 && slow_cap == 0 && !start_slow)
	{
		last_blocks = blocks;
		last_time = 0;
		return;
	}
	/* intervals on the monotonic clock: a wall-clock step is no sleep */
	now = iosat_mono_us();
	/* fail open: a verdict older than a few samples is not trusted */
	age_ms = iosat_verdict_age_ms();
	if (age_ms < 0 || age_ms > iosat_stale_after_ms())
	{
		last_blocks = blocks;
		last_time = 0;
		slow_cap = 0;
		return;
	}
	if (start_slow)
	{
		slow_cap = SLOW_START_FACTOR * Max(iosat_pacing_min_rate, 1);
		slow_at = now;
	}
	rate = allowed_rate(now);
	if (rate == 0)
	{
		last_blocks = blocks;
		last_time = 0;
		return;
	}

	/* a token bucket holding at most a tenth of a second of reads */
	burst = Max((double) PACE_QUANTUM, rate / 10.0);
	if (last_time == 0)
		tokens = burst;
	else
		tokens = Min(burst, tokens + rate * ((now - last_time) / 1e6));
	tokens -= blocks - last_blocks;
	last_blocks = blocks;
	last_time = now;
	if (tokens >= 0)
		return;
	if (!may_sleep_here() || yield_to_waiter(now))
	{
		/* forgiven, not owed: no debt to pay later in one long sleep */
		tokens = 0;
		return;
	}

	if (!stmt_counted)
	{
		pace_count(IOSAT_C_PACED, 1);
		stmt_counted = true;
	}
	slept_from = now;
	while (tokens < 0)
	{
		long		ms = (long) ceil(-tokens * 1000.0 / rate);

		now = pace_nap(ms, slept_from, NULL);
		slept_from = now;

		rate = allowed_rate(now);
		if (rate == 0)
		{
			last_time = 0;
			break;
		}
		if (yield_to_waiter(now))
		{
			tokens = 0;
			last_time = now;
			break;
		}
		burst = Max((double) PACE_QUANTUM, rate / 10.0);
		tokens = Min(burst, tokens + rate * ((now - last_time) / 1e6));
		last_time = now;
	}
}

/*
 * The wrappers.  A node whose ExecProcNode is still PostgreSQL's
 * ExecProcNodeFirst (as ExecInitNode leaves every node) gets
 * pace_exec_node, which then does what ExecProcNodeFirst and
 * ExecProcNodeInstr would (stack check, instrumentation) around the
 * node's ExecProcNodeReal.  A node whose ExecProcNode another extension
 * replaced (its ExecutorStart hook ran before this one) gets
 * pace_chain_node, which calls that wrapper: it is kept, not discarded.
 * Its address is kept per statement (PaceChain, by plan_node_id, found by
 * the node's EState).  A qual is replaced by an ExprState of its own whose
 * evalfunc_private is the original.  All live as long as the plan's
 * state: nothing to undo.
 */
typedef struct PaceChain
{
	EState	   *estate;
	int			nnodes;
	ExecProcNodeMtd *next;		/* by plan_node_id: the wrapper found there */
	struct PaceChain *link;
	MemoryContextCallback forget;
} PaceChain;

static PaceChain *chains = NULL;	/* of the statements open in this backend */
static ExecProcNodeMtd exec_proc_node_first = NULL;

static TupleTableSlot *
pace_exec_node(PlanState *ps)
{
	TupleTableSlot *slot;

	pace_point();
	check_stack_depth();
	if (ps->instrument == NULL)
		return ps->ExecProcNodeReal(ps);
	InstrStartNode(ps->instrument);
	slot = ps->ExecProcNodeReal(ps);
	InstrStopNode(ps->instrument, TupIsNull(slot) ? 0.0 : 1.0);
	return slot;
}

static TupleTableSlot *
pace_chain_node(PlanState *ps)
{
	PaceChain  *c = chains;
	ExecProcNodeMtd *next;
	ExecProcNodeMtd outer = ps->ExecProcNode;	/* this, or a later wrapper */
	TupleTableSlot *slot;

	pace_point();
	while (c->estate != ps->state)
		c = c->link;
	next = &c->next[ps->plan->plan_node_id];
	slot = (*next) (ps);
	/*
	 * The wrapper replaced itself in the node (as ExecProcNodeFirst does, on
	 * its first call): chain to its replacement, and put back what was there.
	 */
	if (ps->ExecProcNode != outer)
	{
		*next = ps->ExecProcNode;
		ps->ExecProcNode = outer;
	}
	return slot;
}

static void
forget_chain(void *arg)
{
	PaceChain **p = &chains;

	while (*p != NULL && *p != (PaceChain *) arg)
		p = &(*p)->link;
	if (*p != NULL)
		*p = (*p)->link;
}

/* the statement's chain, with room for node ID */
static PaceChain *
chain_for(EState *estate, int id)
{
	PaceChain  *c = chains;

	while (c != NULL && c->estate != estate)
		c = c->link;
	if (c == NULL)
	{
		c = MemoryContextAllocZero(estate->es_query_cxt, sizeof(PaceChain));
		c->estate = estate;
		c->forget.func = forget_chain;
		c->forget.arg = c;
		MemoryContextRegisterResetCallback(estate->es_query_cxt, &c->forget);
		c->link = chains;
		chains = c;
	}
	if (id >= c->nnodes)
	{
		int			n = Max(id + 1, c->nnodes * 2);
		ExecProcNodeMtd *next = MemoryContextAllocZero(estate->es_query_cxt,
													   n * sizeof(ExecProcNodeMtd));

		if (c->nnodes > 0)
			memcpy(next, c->next, c->nnodes * sizeof(ExecProcNodeMtd));
		c->next = next;
		c->nnodes = n;
	}
	return c;
}

static Datum
pace_eval_qual(ExprState *state, ExprContext *econtext, bool *isnull)
{
	ExprState  *orig = (ExprState *) state->evalfunc_private;

	pace_point();
	return orig->evalfunc(orig, econtext, isnull);
}

static bool
pace_walker(PlanState *ps, void *context)
{
	EState	   *estate = (EState *) context;

	if (ps == NULL)
		return false;
	if (ps->ExecProcNode == exec_proc_node_first && ps->ExecProcNodeReal != NULL)
		ps->ExecProcNode = pace_exec_node;
	else if (ps->ExecProcNode != NULL && ps->ExecProcNode != pace_exec_node &&
			 ps->ExecProcNode != pace_chain_node && ps->plan != NULL &&
			 ps->state == estate)
	{
		PaceChain  *c = chain_for(estate, ps->plan->plan_node_id);

		c->next[ps->plan->plan_node_id] = ps->ExecProcNode;
		ps->ExecProcNode = pace_chain_node;
	}
	if (ps->qual != NULL && ps->qual->evalfunc != pace_eval_qual)
	{
		MemoryContext old = MemoryContextSwitchTo(estate->es_query_cxt);
		ExprState  *w = makeNode(ExprState);

		MemoryContextSwitchTo(old);
		w->flags = ps->qual->flags;
		w->expr = ps->qual->expr;
		w->parent = ps->qual->parent;
		w->evalfunc = pace_eval_qual;
		w->evalfunc_private = ps->qual;
		ps->qual = w;
	}
	return planstate_tree_walker(ps, pace_walker, context);
}

/* put the pacing point into every node and qual of the plan */
static void
wrap_plan(QueryDesc *queryDesc)
{
	if (exec_proc_node_first == NULL)
	{
		/* ExecProcNodeFirst is static: ExecSetExecProcNode tells its address */
		PlanState	probe;

		MemSet(&probe, 0, sizeof(probe));
		ExecSetExecProcNode(&probe, pace_exec_node);
		exec_proc_node_first = probe.ExecProcNode;
	}
	(void) pace_walker(queryDesc->planstate, queryDesc->estate);
}

static void pace_parallel_leader_start(QueryDesc *queryDesc);

void
iosat_pace_statement(QueryDesc *queryDesc)
{
	if (!iosat_pacing || queryDesc->planstate == NULL ||
		queryDesc->estate == NULL || IsParallelWorker())
		return;
	wrap_plan(queryDesc);
	/* reads before this statement are not its own */
	last_blocks = iosat_blocks_io_now();
	next_check = last_blocks + PACE_QUANTUM;
	stmt_counted = false;
	slow_start_pending = true;
	slow_cap = 0;
	pace_parallel_leader_start(queryDesc);
}

/* ---------------------------------------------------------------------
 * Parallel statements: one budget for the leader and its workers
 *
 * A paced statement whose plan has a Gather or Gather Merge claims, at its
 * ExecutorStart, the slot of its backend in the "iosat pacing" segment
 * (state/paceshare.c): a token bucket at the pace rate, kept as one atomic
 * time (GCRA), and a slow-start cap of the statement's own.  The workers
 * it launches run ExecutorStart through the same hooks; there
 * iosat_pace_parallel_worker() finds the slot through the worker's lock
 * group leader, attaches if the leader paces a statement now (the worker
 * has no other way to know, nor does it need one), and wraps the worker's
 * nodes with the same pacing point.  Every process then charges the blocks
 * it reads to the one bucket and sleeps until the bucket's time has come
 * for them: leader and workers together read at the pace rate, as one
 * paced process would.  The rules of a pacing point hold in each process
 * on its own: no sleep with an LWLock, in a critical section, in a
 * transaction with an xid (a worker has its leader's, and cannot see who
 * waits for the leader's locks), or while someone waits for a buffer pin
 * or a lock it holds; a process that may not sleep charges nothing.
 *
 * The leader's blocks.  When its workers finish, PostgreSQL adds their
 * buffer usage to the leader's (ExecParallelFinish), so the leader's
 * counter jumps by what the workers read, which they charged already.
 * The leader takes off, whenever none of its Gathers has workers running,
 * the blocks its workers charged since the last time: what it charges is
 * what it read itself.
 *
 * Released on every exit: the leader frees the slot when its executor
 * state goes (ExecutorEnd, or the portal's cleanup after an error, a
 * cancel or a statement_timeout; PostgreSQL has waited for the workers
 * then) and at exit (terminate); a worker detaches at its ExecutorEnd or
 * at its exit (an error in a worker ends the process).
 * ---------------------------------------------------------------------
 */
static uint64 par_owner = 0;
static bool par_leader = false;
static EState *par_estate = NULL;	/* the statement's: its end frees the slot */
static List *par_gathers = NIL; /* the leader's Gather and Gather Merge nodes */
static uint64 par_absorbed = 0; /* worker_blocks in this backend's counter */
static uint32 par_stmt_seq = 0;
static bool par_exit_registered = false;

static void
par_release(void)
{
	if (par_procno < 0)
		return;
	if (par_leader)
		iosat_pace_release(par_procno, par_owner);
	else
		iosat_pace_detach(par_procno, par_owner,
						  Max(iosat_blocks_io_now() - last_blocks, 0));
	par_procno = -1;
	par_owner = 0;
	par_estate = NULL;
	par_gathers = NIL;
}

static void
par_forget(void *arg)
{
	if (par_estate == (EState *) arg)
		par_release();
}

static void
par_exit(int code, Datum arg)
{
	par_release();
}

/* free the slot, or detach from it, when the executor state goes */
static void
par_hold(EState *estate)
{
	MemoryContextCallback *cb;

	if (!par_exit_registered)
	{
		before_shmem_exit(par_exit, (Datum) 0);
		par_exit_registered = true;
	}
	cb = MemoryContextAlloc(estate->es_query_cxt, sizeof(MemoryContextCallback));
	cb->func = par_forget;
	cb->arg = estate;
	MemoryContextRegisterResetCallback(estate->es_query_cxt, cb);
	par_estate = estate;
}

static bool
collect_gathers(PlanState *ps, void *context)
{
	List	  **gathers = (List **) context;

	if (ps == NULL)
		return false;
	if (IsA(ps, GatherState) || IsA(ps, GatherMergeState))
		*gathers = lappend(*gathers, ps);
	return planstate_tree_walker(ps, collect_gathers, context);
}

/* has one of the leader's Gathers workers that have not finished? */
static bool
gathers_running(void)
{
	ListCell   *lc;

	foreach(lc, par_gathers)
	{
		PlanState  *ps = (PlanState *) lfirst(lc);
		ParallelExecutorInfo *pei = IsA(ps, GatherState) ?
		((GatherState *) ps)->pei : ((GatherMergeState *) ps)->pei;

		if (pei != NULL && !pei->finished)
			return true;
	}
	return false;
}

static void
pace_parallel_leader_start(QueryDesc *queryDesc)
{
	List	   *gathers = NIL;
	MemoryContext old;
	uint32		cap = 0;

	/*
	 * One budget at a time per backend: a statement run while another holds
	 * it (a cursor) is paced, with its workers, on that one.
	 */
	if (par_procno >= 0 || !queryDesc->plannedstmt->parallelModeNeeded)
		return;
	old = MemoryContextSwitchTo(queryDesc->estate->es_query_cxt);
	(void) collect_gathers(queryDesc->planstate, &gathers);
	MemoryContextSwitchTo(old);
	if (gathers == NIL)
		return;

	/* a heavy statement starting on a busy device starts slow */
	if (pg_atomic_read_u32(&iosat_shared->gate.busy_milli) >= IOSAT_MILLI(IOSAT_BUSY_AT))
		cap = SLOW_START_FACTOR * Max(iosat_pacing_min_rate, 1) * 1000;
	slow_start_pending = false;
	slow_cap = 0;

	par_hold(queryDesc->estate);
	par_leader = true;
	par_gathers = gathers;
	par_absorbed = 0;
	par_owner = ((uint64) MyProcPid << 32) | ++par_stmt_seq;
	par_procno = IOSAT_MY_PROCNO();
	iosat_pace_claim(par_procno, par_owner, cap, iosat_mono_us());
}

void
iosat_pace_parallel_worker(QueryDesc *queryDesc)
{
	PGPROC	   *leader = MyProc->lockGroupLeader;
	uint64		owner;

	if (!iosat_pacing || queryDesc->planstate == NULL ||
		queryDesc->estate == NULL || leader == NULL || leader == MyProc ||
		iosat_pace == NULL || par_procno >= 0)
		return;
	owner = iosat_pace_attach(IOSAT_PROCNO(leader), leader->pid);
	if (owner == 0)
		return;
	par_hold(queryDesc->estate);
	par_leader = false;
	par_owner = owner;
	par_procno = IOSAT_PROCNO(leader);
	wrap_plan(queryDesc);
	last_blocks = iosat_blocks_io_now();
	next_check = last_blocks + PACE_QUANTUM;
	slow_start_pending = false;
	slow_cap = 0;
}

/*
 * The rate the statement may read at now (blocks per second; 0: any): the
 * governor's, or the statement's slow-start cap, which doubles every step
 * while the pressure is below IOSAT_RELAX_BELOW and holds above, stepped by
 * whichever of its processes comes first (compare-and-swap on its time).
 */
static double
shared_allowed_rate(IosatPaceSlot *s, int64 now)
{
	double		rate = pg_atomic_read_u32(&iosat_shared->gate.pace_rate);
	uint32		cap = pg_atomic_read_u32(&s->slow_cap_milli);
	uint64		at;
	double		c;

	if (cap == 0)
		return rate;
	if (rate > 0)
	{
		pg_atomic_write_u32(&s->slow_cap_milli, 0);
		return rate;
	}
	at = pg_atomic_read_u64(&s->slow_at);
	c = cap / 1000.0;
	if ((int64) at + 1000 > now)
		return c;
	if (pg_atomic_read_u32(&iosat_shared->gate.pressure_milli) < IOSAT_MILLI(IOSAT_RELAX_BELOW))
		c *= pow(2.0, (now - (int64) at) / 1000.0 / iosat_step_ms());
	if (c >= SLOW_START_END)
		c = 0;
	if (pg_atomic_compare_exchange_u64(&s->slow_at, &at, (uint64) now))
		pg_atomic_write_u32(&s->slow_cap_milli, (uint32) (c * 1000.0));
	return c;
}

/* pace_account() of a process that shares its statement's budget */
static void
pace_account_shared(void)
{
	IosatGate  *g = &iosat_shared->gate;
	IosatPaceSlot *s = iosat_pace_slot(par_procno);
	int64		blocks = iosat_blocks_io_now();
	int64		n = blocks - last_blocks;
	int64		now;
	int64		target;
	int64		slept_from;
	int64		age_ms;
	double		rate;

	last_blocks = blocks;
	next_check = blocks + PACE_QUANTUM;
	if (par_leader && !gathers_running())
	{
		/* what the workers read, added to this backend's counter */
		uint64		wb = pg_atomic_read_u64(&s->worker_blocks);

		n -= (int64) (wb - par_absorbed);
		par_absorbed = wb;
	}
	if (n <= 0)
		return;
	pg_atomic_fetch_add_u64(&g->paced_blocks, (uint64) n);
	pg_atomic_fetch_add_u64(par_leader ? &s->leader_blocks : &s->worker_blocks,
							(uint64) n);
	if (pg_atomic_read_u32(&g->pace_rate) == 0 &&
		pg_atomic_read_u32(&s->slow_cap_milli) == 0)
		return;
	now = iosat_mono_us();
	/* fail open: a verdict older than a few samples is not trusted */
	age_ms = iosat_verdict_age_ms();
	if (age_ms < 0 || age_ms > iosat_stale_after_ms())
		return;
	rate = shared_allowed_rate(s, now);
	if (rate == 0)
		return;
	/* forgiven, not charged: no debt for the others to pay */
	if (!may_sleep_here() || yield_to_waiter(now))
		return;
	target = iosat_pace_charge(s, n, rate, Max((double) PACE_QUANTUM, rate / 10.0), now);
	if (target <= now)
		return;

	if (pg_atomic_read_u32(&s->counted) == 0 &&
		pg_atomic_exchange_u32(&s->counted, 1) == 0)
		pace_count(IOSAT_C_PACED, 1);
	slept_from = now;
	while (now < target)
	{
		long		ms = (long) ((target - now + 999) / 1000);

		now = pace_nap(ms, slept_from, &s->slept_us);
		slept_from = now;
		if (shared_allowed_rate(s, now) == 0 || yield_to_waiter(now))
			break;
	}
}
