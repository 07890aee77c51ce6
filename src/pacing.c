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
 * Never paced: cheap statements, statements of exempt roles, nested and
 * parallel-worker executors (a Gather's leader is), and any point where
 * the backend holds an LWLock or is in a critical section (interrupts
 * held off), or its transaction has an xid: a transaction that has
 * written may hold row locks that others wait for, and holding it back
 * would spread the wait (CockroachDB lets lock holders go first for the
 * same reason).  With no fresh verdict (a dead sampler) nothing is paced.
 *
 * The pace rate (blocks per second per paced process; 0: no pacing) is
 * set by the governor after each sample, by AIMD on the pressure signal
 * (the largest ratio of a smoothed device figure to its threshold):
 *	pressure >= 1       start at half the blocks per second the paced
 *	                    statements were reading, then divide by
 *	                    max(2, pressure) at most every max(sample interval,
 *	                    half the smoothing window) -- the time the smoothed
 *	                    signal needs to show the last cut;
 *	0.7 <= p < 1        hold (a dead band: statements that have filled the
 *	                    headroom stay there; in the storm benchmark a slow
 *	                    probe within the band crept up to the ceiling);
 *	p < 0.7             grow by max(min rate, rate / 16) a sample;
 * and once the device is no longer saturated and the rate no longer binds
 * (the paced statements read less than half of it), stop pacing.  A
 * stalled device holds the rate as it is: nothing completes, so pacing
 * can neither help nor learn anything (the statements are in D already).
 * Slow start: a heavy statement that starts while the device is busy
 * (pressure >= 0.5) reads at most 8 x iosat.pacing_min_rate blocks a
 * second at first; its cap doubles every max(sample interval, half the
 * smoothing window) while the pressure is below 0.7 and holds above, until
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
#include "executor/executor.h"
#include "miscadmin.h"
#include "nodes/execnodes.h"
#include "nodes/nodeFuncs.h"
#include "storage/latch.h"
#include "utils/timestamp.h"

#include "admission.h"
#include "compat.h"
#include "iosat.h"
#include "pacing.h"
#include "views.h"

/* blocks between two looks at the clock */
#define PACE_QUANTUM	8
/* the longest single sleep: the rate is re-read after it */
#define PACE_MAX_SLEEP_MS 200
#define RELAX_BELOW		0.70
/* a device this pressed is busy: new heavy statements start slow */
#define BUSY_AT			0.50
/* slow start: from this times iosat.pacing_min_rate, doubling every step */
#define SLOW_START_FACTOR 8
#define SLOW_START_END	65536.0
#define PROBE_HOLD_MS	15000
#define PROBE_MARGIN	0.80

/* ---------------------------------------------------------------------
 * Backend side
 * ---------------------------------------------------------------------
 */
static int64 next_check = 0;	/* blocks read at which to account again */
static int64 last_blocks = 0;
static TimestampTz last_time = 0;	/* 0: not in a paced stretch */
static double tokens = 0;
static bool stmt_counted = false;
static bool slow_start_pending = false;
static double slow_cap = 0;		/* slow start's cap; 0: not in slow start */
static TimestampTz slow_at = 0;

/* the time the smoothed signal needs to show a change of rate */
static inline int
step_ms(void)
{
	return Max(iosat_sample_interval_ms, iosat_smoothing_ms / 2);
}

static void pace_account(void);

static inline void
pace_point(void)
{
	if (unlikely(iosat_blocks_read_now() >= next_check))
		pace_account();
}

static inline void
pace_count(IosatCounter c, uint64 n)
{
	pg_atomic_fetch_add_u64(&iosat_adm->counters[c], n);
}

/* the statement may sleep here: nothing held that others could wait on */
static inline bool
may_sleep_here(void)
{
	return InterruptHoldoffCount == 0 && CritSectionCount == 0 &&
		!TransactionIdIsValid(GetTopTransactionIdIfAny());
}

/*
 * The rate this statement may read at now, in blocks per second; 0: any.
 * In slow start, the statement's own cap doubles every step while the
 * pressure it sees is below RELAX_BELOW, and holds above; the governor's
 * rate, once it sets one, ends the slow start.
 */
static double
allowed_rate(TimestampTz now)
{
	double		rate = pg_atomic_read_u32(&iosat_shared->gate.pace_rate);

	if (slow_cap > 0)
	{
		double		p = pg_atomic_read_u32(&iosat_shared->gate.pressure_milli) / 1000.0;
		double		dt = Max(now - slow_at, 0) / 1e6;

		slow_at = now;
		if (rate > 0)
			slow_cap = 0;
		else
		{
			if (p < RELAX_BELOW)
				slow_cap *= pow(2.0, dt * 1000.0 / step_ms());
			if (slow_cap >= SLOW_START_END)
				slow_cap = 0;
			else
				rate = slow_cap;
		}
	}
	return rate;
}

static void
pace_account(void)
{
	IosatGate  *g = &iosat_shared->gate;
	int64		blocks = iosat_blocks_read_now();
	bool		start_slow = false;
	TimestampTz now;
	TimestampTz slept_from;
	double		rate;
	double		burst;

	pg_atomic_fetch_add_u64(&g->paced_blocks, (uint64) Max(blocks - last_blocks, 0));
	next_check = blocks + PACE_QUANTUM;
	if (slow_start_pending)
	{
		/* a heavy statement starting on a busy device starts slow */
		slow_start_pending = false;
		start_slow = pg_atomic_read_u32(&g->pressure_milli) >= BUSY_AT * 1000;
	}
	if (pg_atomic_read_u32(&g->pace_rate) == 0 && slow_cap == 0 && !start_slow)
	{
		last_blocks = blocks;
		last_time = 0;
		return;
	}
	now = GetCurrentTimestamp();
	/* fail open: a verdict older than a few samples is not trusted */
	if (iosat_verdict_age_ms() < 0 || iosat_verdict_age_ms() > iosat_stale_after_ms())
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
	if (!may_sleep_here())
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

		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 Min(Max(ms, 1), PACE_MAX_SLEEP_MS),
						 iosat_wait_event_pace());
		ResetLatch(MyLatch);
		/* count the time slept so far before a cancel leaves this loop */
		now = GetCurrentTimestamp();
		pace_count(IOSAT_C_PACE_US, (uint64) (now - slept_from));
		slept_from = now;
		CHECK_FOR_INTERRUPTS();

		rate = allowed_rate(now);
		if (rate == 0)
		{
			last_time = 0;
			break;
		}
		burst = Max((double) PACE_QUANTUM, rate / 10.0);
		tokens = Min(burst, tokens + rate * ((now - last_time) / 1e6));
		last_time = now;
	}
}

/*
 * The wrappers.  A node's ExecProcNode is replaced by pace_exec_node,
 * which then does what ExecProcNodeFirst and ExecProcNodeInstr would
 * (stack check, instrumentation) around the node's ExecProcNodeReal.  A
 * qual is replaced by an ExprState of its own whose evalfunc_private is
 * the original.  Both live as long as the plan's state: nothing to undo.
 */
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
	MemoryContext cxt = (MemoryContext) context;

	if (ps == NULL)
		return false;
	if (ps->ExecProcNodeReal != NULL)
		ps->ExecProcNode = pace_exec_node;
	if (ps->qual != NULL && ps->qual->evalfunc != pace_eval_qual)
	{
		MemoryContext old = MemoryContextSwitchTo(cxt);
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

void
iosat_pace_statement(QueryDesc *queryDesc)
{
	if (!iosat_pacing || queryDesc->planstate == NULL ||
		queryDesc->estate == NULL || IsParallelWorker())
		return;
	(void) pace_walker(queryDesc->planstate, queryDesc->estate->es_query_cxt);
	/* reads before this statement are not its own */
	last_blocks = iosat_blocks_read_now();
	next_check = last_blocks + PACE_QUANTUM;
	stmt_counted = false;
	slow_start_pending = true;
	slow_cap = 0;
}

/* ---------------------------------------------------------------------
 * Governor side (the sampler)
 * ---------------------------------------------------------------------
 */
static uint32 pace_rate = 0;
static TimestampTz last_cut = 0;
static uint32 pressed_rate = 0;	/* the rate when the device was last pressed */
static TimestampTz pressed_at = 0;
static uint64 seen_blocks = 0;
static TimestampTz seen_at = 0;

void
iosat_pace_update(TimestampTz now, double pressure, bool saturated, bool stalled)
{
	IosatGate  *g = &iosat_shared->gate;
	uint64		blocks = pg_atomic_read_u64(&g->paced_blocks);
	double		paced_bps = 0;
	uint32		min_rate = (uint32) Max(iosat_pacing_min_rate, 1);
	int			cut_ms = step_ms();

	if (seen_at != 0 && now > seen_at)
		paced_bps = (blocks - seen_blocks) / ((now - seen_at) / 1e6);
	seen_blocks = blocks;
	seen_at = now;

	if (!iosat_pacing ||
		(iosat_admission_mode != IOSAT_ADMISSION_QUEUE &&
		 iosat_admission_mode != IOSAT_ADMISSION_REJECT))
		pace_rate = 0;
	else if (stalled)
	{
		/* nothing completes: pacing can neither help nor learn; hold */
	}
	else if (pressure >= 1.0)
	{
		if (pace_rate == 0)
		{
			pressed_rate = (uint32) Min(paced_bps, (double) PG_INT32_MAX);
			pace_rate = (uint32) Max((double) min_rate, paced_bps / 2);
			last_cut = now;
		}
		else if (TimestampDifferenceExceeds(last_cut, now, cut_ms))
		{
			pressed_rate = pace_rate;
			pace_rate = (uint32) Max((double) min_rate, pace_rate / Max(2.0, pressure));
			last_cut = now;
		}
		pressed_at = now;
	}
	else if (pace_rate > 0)
	{
		double		next = pace_rate;

		if (!saturated && paced_bps < pace_rate / 2.0)
			next = 0;			/* calm, and the rate no longer binds */
		else if (pressure < RELAX_BELOW)
		{
			next += Max((double) min_rate, pace_rate / 16.0);
			/* not back at once to the rate that pressed the device */
			if (!TimestampDifferenceExceeds(pressed_at, now, PROBE_HOLD_MS))
				next = Min(next, Max((double) pace_rate, pressed_rate * PROBE_MARGIN));
			next = Max(next, (double) min_rate);
		}
		pace_rate = (uint32) Min(next, (double) PG_INT32_MAX);
	}
	pg_atomic_write_u32(&g->pace_rate, pace_rate);
	pg_atomic_write_u32(&g->pressure_milli, (uint32) Min(pressure * 1000, 1e6));
}
