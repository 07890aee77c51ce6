/*-------------------------------------------------------------------------
 *
 * vacuum.c
 *	  Vacuum backpressure inside the vacuuming process: a periodic tick
 *	  that scales this process's vacuum page costs by the multiplier the
 *	  sampler publishes (vacuum_policy.c), while a table is being vacuumed.
 *
 * Why page costs.  PostgreSQL has no vacuum hook.  A vacuum sleeps
 * delay * balance / limit (at most 4 * delay) whenever the balance it
 * accumulates reaches the limit, and the buffer manager adds
 * VacuumCostPageHit, VacuumCostPageMiss or VacuumCostPageDirty to the
 * balance for every page while VacuumCostActive.  Core rewrites the delay
 * and limit of an autovacuum worker after every nap on 15
 * (AutoVacuumUpdateDelay), and the limit after every nap on 16+
 * (AutoVacuumUpdateCostLimit; the delay there only at each table and
 * reload, VacuumUpdateCosts), so writing those would not stick; the three
 * page costs are written only by the GUC machinery.
 * Scaling them by m makes the balance grow m times faster, so a vacuum
 * that spends its time in naps does m times fewer pages per second; the
 * same on 15 to 18.  A per-page nap cannot exceed 4 * delay, which bounds
 * the slowdown that any multiplier can buy (docs/vacuum.md, "Limits, honestly").
 *
 * Getting in.  A transaction callback registered in _PG_init is inherited
 * by every child of the postmaster.  In an autovacuum worker, its first
 * XACT_EVENT_PRE_COMMIT (inside InitPostgres, after InitializeTimeouts)
 * claims the worker's slot (iosat_vacuum shows it from then on) and, if
 * iosat.vacuum_backpressure is on, arms a USER_TIMEOUT every
 * iosat.vacuum_tick; the tick runs whether the worker is between tables
 * or deep inside one.  With backpressure off nothing is armed and no cost
 * is written: every tick would cut a nap short, so a worker would vacuum
 * faster than configured.  The switch is looked at again at every commit,
 * i.e. before each table: a reload that turns backpressure on reaches a
 * running worker at its next table (a new worker at once); one that turns
 * it off reaches the tick at once through the sampler's publication (the
 * costs go back to base) and disarms it at the next table, where the
 * costs the tick wrote are put back.  A manual VACUUM/ANALYZE is tracked
 * only when iosat.vacuum_manual is on, and ticked only when backpressure
 * is on too, for the duration of the statement (ProcessUtility); its
 * costs are put back afterwards.
 *
 * The tick runs in the SIGALRM handler: it reads 32-bit atomics and the
 * process's own variables, and stores aligned ints.  No lock, no
 * allocation, no elog.  (The log line for a changed multiplier is written
 * by the sampler, which watches the slots.)  It interrupts at most one nap
 * per tick, cutting it short.
 *
 * Rules, checked at every tick:
 *	- a page-cost value that differs from the one the tick last wrote was
 *	  set by the GUC machinery (a reload, SET, a role or database setting):
 *	  it becomes the new base;
 *	- VacuumCostActive false (cost delay 0, between tables, or the
 *	  wraparound failsafe fired; 16+ says which with VacuumFailsafeActive):
 *	  nothing is scaled, and VacuumCostActive is never touched;
 *	- an anti-wraparound autovacuum (PROC_VACUUM_FOR_WRAPAROUND in its
 *	  PGPROC, or "(to prevent wraparound)" in its activity, read at each
 *	  commit) is never slowed below its base, only sped up; with
 *	  track_activities off the activity cannot be read, and no autovacuum
 *	  is slowed;
 *	- backpressure off, or no fresh multiplier (the sampler's publication
 *	  counter has not moved for longer than its staleness limit): base;
 *	- a vacuum that started on a busy device is in slow start (below):
 *	  the larger of the policy's multiplier and its own.
 * Costs are integers; a fractional target (base 1 at 0.5) is met on
 * average by error diffusion across ticks (0, 1, 0, 1 ...).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <signal.h>

#include "access/twophase.h"
#include "access/xact.h"
#include "executor/instrument.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "storage/ipc.h"
#include "storage/proc.h"
#include "storage/shmem.h"
#include "tcop/utility.h"
#include "utils/backend_status.h"
#include "utils/timeout.h"
#include "utils/timestamp.h"

#include "guc.h"
#include "compat.h"
#include "state/rules.h"
#include "state/shared.h"
#include "state/shmem.h"
#include "control/vacuum.h"

static ProcessUtility_hook_type prev_ProcessUtility = NULL;

/* this process's ticking state */
static IosatVacuumSlot *my_slot = NULL;
static bool exit_registered = false;
static bool timeout_registered = false;
static TimeoutId tick_id;
static int	armed_ms = 0;		/* 0: the tick is not armed */

/*
 * Shared between ordinary code and the tick.  Ordinary code writes the
 * handler's state only while the tick is disarmed, except wraparound_flag,
 * which is a sig_atomic_t.
 */
static volatile sig_atomic_t wraparound_flag = 0;
static int	base_cost[3];
static int	written_cost[3];
static bool have_written = false;
static int64 carry[3];			/* error diffusion, in 1/1000 of a cost unit */
static bool have_usage = false; /* the fields below hold a reading */
static int64 last_usage[3];		/* pages hit, read, dirtied at the last tick */
static uint32 spent_acc = 0;
static uint32 last_seq = 0;
static int	seq_still = 0;		/* ticks since the publication counter moved */
static uint32 slow_m = 0;		/* slow start's multiplier (1/1000); 0: off */
static int	slow_ticks = 0;		/* ticks since slow start's last step */

static int *const cost_var[3] = {
	&VacuumCostPageHit, &VacuumCostPageMiss, &VacuumCostPageDirty
};

Size
iosat_vacuum_shmem_size(void)
{
	return MAXALIGN(add_size(offsetof(IosatVacuumShared, slots),
							 mul_size(sizeof(IosatVacuumSlot), iosat_total_procs())));
}

/* called from shmem_startup_hook with AddinShmemInitLock held */
void
iosat_vacuum_shmem_init(void)
{
	bool		found;
	int			n = iosat_total_procs();

	iosat_vac = ShmemInitStruct("iosat vacuum", iosat_vacuum_shmem_size(), &found);
	if (found)
		return;
	memset(iosat_vac, 0, iosat_vacuum_shmem_size());
	pg_atomic_init_u32(&iosat_vac->pressure, 0);
	pg_atomic_init_u64(&iosat_vac->slowed_us, 0);
	pg_atomic_init_u64(&iosat_vac->sped_us, 0);
	pg_atomic_init_u64(&iosat_vac->slowdowns, 0);
	pg_atomic_init_u64(&iosat_vac->done_ticks, 0);
	pg_atomic_init_u64(&iosat_vac->done_changes, 0);
	pg_atomic_init_u64(&iosat_vac->done_adoptions, 0);
	pg_atomic_init_u64(&iosat_vac->done_held, 0);
	pg_atomic_init_u64(&iosat_vac->done_inactive, 0);
	pg_atomic_init_u64(&iosat_vac->workers_seen, 0);
	iosat_vac->nslots = n;
	for (int i = 0; i < n; i++)
	{
		IosatVacuumSlot *s = &iosat_vac->slots[i];

		pg_atomic_init_u32(&s->pid, 0);
		pg_atomic_init_u32(&s->kind, IOSAT_VAC_FREE);
		pg_atomic_init_u32(&s->state, IOSAT_VACST_STARTING);
		pg_atomic_init_u32(&s->wraparound, 0);
		pg_atomic_init_u32(&s->multiplier, IOSAT_VAC_UNIT);
		pg_atomic_init_u32(&s->free_factor, 0);
		pg_atomic_init_u32(&s->spent, 0);
		for (int c = 0; c < 3; c++)
		{
			pg_atomic_init_u32(&s->base[c], 0);
			pg_atomic_init_u32(&s->cost[c], 0);
		}
		pg_atomic_init_u32(&s->cost_limit, 0);
		pg_atomic_init_u32(&s->cost_delay_us, 0);
		pg_atomic_init_u32(&s->ticks, 0);
		pg_atomic_init_u32(&s->changes, 0);
		pg_atomic_init_u32(&s->adoptions, 0);
		pg_atomic_init_u32(&s->held, 0);
		pg_atomic_init_u32(&s->inactive, 0);
		pg_atomic_init_u32(&s->io_changecount, 0);
	}
}

static inline void
bump(pg_atomic_uint32 *c)
{
	/* one writer (this process): no read-modify-write atomicity needed */
	pg_atomic_write_u32(c, pg_atomic_read_u32(c) + 1);
}

/* ---------------------------------------------------------------------
 * The tick (SIGALRM handler context)
 * ---------------------------------------------------------------------
 */

/* ticks without a new publication after which the multiplier is stale */
static int
stale_ticks(void)
{
	int			stale_ms = (int) iosat_stale_after_ms();
	int			tick = Max(armed_ms, 1);

	return (stale_ms + tick - 1) / tick + 1;
}

/*
 * Slow start.  A vacuum that starts while the device is busy (pressure >=
 * 0.5) starts at iosat.vacuum_max_slowdown, not at its configured speed:
 * the policy's multiplier is global, and the device may be busy without
 * being pressed, so it may be 1 (or below); a vacuum starting there reads
 * at full speed for the seconds the policy needs to see it.  Every step
 * (max(sample interval, half the smoothing window), in ticks) the slow
 * multiplier halves while the pressure is below 0.9, falls by a tenth
 * below 0.95, and holds above; the vacuum runs at the larger of it and the
 * policy's, and slow start ends when the policy's is as large.
 */
static uint32
slow_start(uint32 m, IosatGate *g)
{
	int			step_ms = iosat_step_ms();
	int			per = Max(1, (step_ms + Max(armed_ms, 1) - 1) / Max(armed_ms, 1));

	if (slow_m == 0)
		return m;
	if (++slow_ticks >= per)
	{
		uint32		p = pg_atomic_read_u32(&g->pressure_milli);

		slow_ticks = 0;
		if (p < IOSAT_MILLI(IOSAT_RELAX_BELOW))
			slow_m /= 2;
		else if (p < IOSAT_MILLI((IOSAT_RELAX_BELOW + IOSAT_PRESSED) / 2))
			slow_m -= slow_m / 10;
	}
	if (slow_m <= m)
	{
		slow_m = 0;
		return m;
	}
	return slow_m;
}

/*
 * A multiplier above 1 slows the vacuum relative to the speed it runs at
 * free, not to its configured speed: times its free factor (the sampler's
 * measure, vacuum_policy.c), when that is known and above 1.  A vacuum
 * whose cost limit is far above what the volume serves is then slowed by
 * the policy's factor from the first step.  At or below 1, the configured
 * speed is the reference (a speed-up is a higher limit).
 */
static uint32
relative_to_free(uint32 m, IosatVacuumSlot *s)
{
	uint32		f = pg_atomic_read_u32(&s->free_factor);
	uint64		scaled;

	if (m <= IOSAT_VAC_UNIT || f <= IOSAT_VAC_UNIT)
		return m;
	scaled = (uint64) m * f / IOSAT_VAC_UNIT;
	return (uint32) Min(scaled, (uint64) IOSAT_VAC_MAX_COST * IOSAT_VAC_UNIT);
}

/* write base * m (m in 1/1000) to the three costs; true if one changed */
static bool
apply_multiplier(uint32 m)
{
	bool		changed = false;

	for (int c = 0; c < 3; c++)
	{
		int64		v;

		if (m == IOSAT_VAC_UNIT)
		{
			v = base_cost[c];
			carry[c] = 0;
		}
		else
		{
			int64		want = (int64) base_cost[c] * m + carry[c];

			v = (want + IOSAT_VAC_UNIT / 2) / IOSAT_VAC_UNIT;
			if (v < 0)
				v = 0;
			if (v > IOSAT_VAC_MAX_COST)
				v = IOSAT_VAC_MAX_COST;
			carry[c] = want - v * IOSAT_VAC_UNIT;
			/* at a bound the error cannot be paid back: forget it */
			if (carry[c] > IOSAT_VAC_UNIT || carry[c] < -IOSAT_VAC_UNIT)
				carry[c] = 0;
		}
		if (*cost_var[c] != (int) v)
		{
			*cost_var[c] = (int) v;
			changed = true;
		}
		written_cost[c] = (int) v;
	}
	return changed;
}

/* the active cost limit and delay (also from the tick: plain reads and stores) */
static void
show_limits(IosatVacuumSlot *s)
{
	pg_atomic_write_u32(&s->cost_limit, (uint32) Max(IOSAT_VACUUM_ACTIVE_LIMIT(), 0));
	pg_atomic_write_u32(&s->cost_delay_us,
						(uint32) Max(IOSAT_VACUUM_ACTIVE_DELAY() * 1000.0, 0.0));
}

/*
 * What the vacuum spent since the last tick, in cost units at its
 * configured costs: the pages it found in shared buffers, read and dirtied
 * (its own pgBufferUsage, which the buffer manager counts where it charges
 * the vacuum's cost balance; on 18 in the backend that asks for a read even
 * when an io worker performs it).  The sampler turns it into a rate for
 * the free factor (vacuum_policy.c).  Plain reads of this process's own
 * counters: safe in the handler.
 */
static void
count_spent(IosatVacuumSlot *s)
{
	int64		now[3] = {pgBufferUsage.shared_blks_hit,
		pgBufferUsage.shared_blks_read,
	pgBufferUsage.shared_blks_dirtied};

	if (have_usage)
	{
		for (int c = 0; c < 3; c++)
		{
			int64		d = now[c] - last_usage[c];

			if (d > 0)
				spent_acc += (uint32) (d * base_cost[c]);
		}
		pg_atomic_write_u32(&s->spent, spent_acc);
	}
	memcpy(last_usage, now, sizeof(last_usage));
	have_usage = true;
}

static void
vacuum_tick(void)
{
	IosatVacuumSlot *s = my_slot;
	IosatGate  *g;
	IosatVacState state;
	uint32		m;
	uint32		seq;
	bool		wrap;

	if (s == NULL || iosat_shared == NULL)
		return;
	g = &iosat_shared->gate;

	/*
	 * A value we did not write came from the GUC machinery: the new base,
	 * cost by cost (a reload rewrites only the costs set in the file; the
	 * others still hold what we wrote, which must not become a base).
	 */
	{
		bool		adopted = false;

		for (int c = 0; c < 3; c++)
		{
			if (have_written && *cost_var[c] == written_cost[c])
				continue;
			base_cost[c] = *cost_var[c];
			written_cost[c] = base_cost[c];
			carry[c] = 0;
			pg_atomic_write_u32(&s->base[c], (uint32) base_cost[c]);
			adopted = true;
		}
		if (adopted && have_written)
			bump(&s->adoptions);
		have_written = true;
	}
	bump(&s->ticks);
	count_spent(s);

	/* is the publication moving? */
	seq = pg_atomic_read_u32(&g->vacuum_seq);
	if (seq != last_seq)
	{
		last_seq = seq;
		seq_still = 0;
	}
	else if (seq_still < INT_MAX)
		seq_still++;

	show_limits(s);

	/*
	 * Anti-wraparound: the flag vacuum_rel() sets in our own PGPROC for the
	 * table's transaction, or the activity read at the last commit (which
	 * a short track_activity_query_size can truncate).
	 */
	wrap = wraparound_flag ||
		(MyProc != NULL && (MyProc->statusFlags & PROC_VACUUM_FOR_WRAPAROUND) != 0);
	pg_atomic_write_u32(&s->wraparound, wrap ? 1 : 0);

	if (!VacuumCostActive || IOSAT_VACUUM_FAILSAFE_ACTIVE())
	{
		/*
		 * Nothing to scale: the costs are not counted.  Leave them as they
		 * are, so that the next table starts at the current multiplier.
		 */
		state = IOSAT_VACUUM_FAILSAFE_ACTIVE() ? IOSAT_VACST_FAILSAFE : IOSAT_VACST_COST_OFF;
		bump(&s->inactive);
		pg_atomic_write_u32(&s->state, state);
		return;
	}

	if (pg_atomic_read_u32(&g->vacuum_enabled) == 0)
	{
		m = IOSAT_VAC_UNIT;
		state = IOSAT_VACST_DISABLED;
	}
	else if (seq_still > stale_ticks())
	{
		m = IOSAT_VAC_UNIT;
		state = IOSAT_VACST_STALE;
	}
	else
	{
		m = relative_to_free(slow_start(pg_atomic_read_u32(&g->vacuum_multiplier), g), s);
		state = IOSAT_VACST_APPLIED;
		if (wrap && m > IOSAT_VAC_UNIT)
		{
			m = IOSAT_VAC_UNIT;
			state = IOSAT_VACST_WRAPAROUND;
			bump(&s->held);
		}
	}

	if (apply_multiplier(m))
		bump(&s->changes);
	pg_atomic_write_u32(&s->multiplier, m);
	for (int c = 0; c < 3; c++)
		pg_atomic_write_u32(&s->cost[c], (uint32) written_cost[c]);
	pg_atomic_write_u32(&s->state, state);
}

/* ---------------------------------------------------------------------
 * Arming and disarming (ordinary code)
 * ---------------------------------------------------------------------
 */

static void
release_slot(void)
{
	IosatVacuumSlot *s = my_slot;

	if (s == NULL)
		return;
	pg_atomic_fetch_add_u64(&iosat_vac->done_ticks, pg_atomic_read_u32(&s->ticks));
	pg_atomic_fetch_add_u64(&iosat_vac->done_changes, pg_atomic_read_u32(&s->changes));
	pg_atomic_fetch_add_u64(&iosat_vac->done_adoptions, pg_atomic_read_u32(&s->adoptions));
	pg_atomic_fetch_add_u64(&iosat_vac->done_held, pg_atomic_read_u32(&s->held));
	pg_atomic_fetch_add_u64(&iosat_vac->done_inactive, pg_atomic_read_u32(&s->inactive));
	pg_atomic_write_u32(&s->kind, IOSAT_VAC_FREE);
	pg_write_barrier();
	pg_atomic_write_u32(&s->pid, 0);
	my_slot = NULL;
}

static void
disarm(void)
{
	if (armed_ms == 0)
		return;
	disable_timeout(tick_id, false);
	armed_ms = 0;
}

static void
vacuum_exit(int code, Datum arg)
{
	disarm();
	release_slot();
}

static void
arm(void)
{
	int			ms = iosat_vacuum_tick_ms;

	if (!timeout_registered)
	{
		tick_id = RegisterTimeout(USER_TIMEOUT, vacuum_tick);
		timeout_registered = true;
	}
	armed_ms = ms;
	have_usage = false;			/* the first tick takes a reading, counts nothing */
	enable_timeout_every(tick_id,
						 TimestampTzPlusMilliseconds(GetCurrentTimestamp(), ms),
						 ms);
}

/* the slot's costs are the process's own, unscaled (ordinary code, tick disarmed) */
static void
show_configured(IosatVacuumSlot *s)
{
	for (int c = 0; c < 3; c++)
	{
		pg_atomic_write_u32(&s->base[c], (uint32) *cost_var[c]);
		pg_atomic_write_u32(&s->cost[c], (uint32) *cost_var[c]);
	}
	pg_atomic_write_u32(&s->multiplier, IOSAT_VAC_UNIT);
	pg_atomic_write_u32(&s->wraparound, wraparound_flag ? 1 : 0);
}

/* claim this process's slot: it shows in iosat_vacuum from now on */
static void
claim_slot(IosatVacKind kind)
{
	int			procno = IOSAT_MY_PROCNO();
	IosatVacuumSlot *s;

	if (iosat_vac == NULL || procno < 0 || procno >= iosat_vac->nslots)
		return;
	s = &iosat_vac->slots[procno];

	show_configured(s);
	pg_atomic_write_u32(&s->kind, kind);
	pg_atomic_write_u32(&s->state, IOSAT_VACST_STARTING);
	pg_atomic_write_u32(&s->cost_limit, 0);
	pg_atomic_write_u32(&s->cost_delay_us, 0);
	pg_atomic_write_u32(&s->ticks, 0);
	pg_atomic_write_u32(&s->changes, 0);
	pg_atomic_write_u32(&s->adoptions, 0);
	pg_atomic_write_u32(&s->held, 0);
	pg_atomic_write_u32(&s->inactive, 0);
	pg_atomic_write_u32(&s->free_factor, 0);
	/* this process's count goes on (the sampler's rate spans a re-claim) */
	pg_atomic_write_u32(&s->spent, spent_acc);
	have_usage = false;
	/* the exit callback first: a slot is never published without it */
	if (!exit_registered)
	{
		before_shmem_exit(vacuum_exit, 0);
		exit_registered = true;
	}
	pg_write_barrier();
	pg_atomic_write_u32(&s->pid, (uint32) MyProcPid);
	pg_atomic_fetch_add_u64(&iosat_vac->workers_seen, 1);
	my_slot = s;
}

/* start ticking in the claimed slot: the current costs are the base */
static void
start_ticking(void)
{
	IosatVacuumSlot *s = my_slot;

	if (s == NULL)
		return;
	have_written = false;
	slow_ticks = 0;
	slow_m = 0;
	if (iosat_shared != NULL &&
		pg_atomic_read_u32(&iosat_shared->gate.busy_milli) >= IOSAT_MILLI(IOSAT_BUSY_AT))
		slow_m = (uint32) (Max(iosat_vacuum_max_slowdown, 1.0) * IOSAT_VAC_UNIT);
	seq_still = 0;
	last_seq = iosat_shared ? pg_atomic_read_u32(&iosat_shared->gate.vacuum_seq) : 0;
	for (int c = 0; c < 3; c++)
	{
		base_cost[c] = *cost_var[c];
		carry[c] = 0;
	}
	arm();
}

/* disarm, and put back the base costs unless something else set them since */
static void
stop_ticking(void)
{
	disarm();
	/* cost by cost: one set meanwhile (SET, a reload) is left as it is */
	if (have_written)
	{
		for (int c = 0; c < 3; c++)
			if (*cost_var[c] == written_cost[c])
				*cost_var[c] = base_cost[c];
	}
	have_written = false;
}

/*
 * Backpressure off: no tick, the costs are the process's own.  The slot
 * still shows the process, with what it runs with as of now (for an
 * autovacuum worker: the table about to be vacuumed).
 */
static void
show_unticked(void)
{
	IosatVacuumSlot *s = my_slot;

	Assert(armed_ms == 0);
	if (s == NULL)
		return;
	show_configured(s);
	show_limits(s);
	pg_atomic_write_u32(&s->state, IOSAT_VACST_DISABLED);
}

/* the activity an autovacuum worker reports for the table it is about to vacuum */
static void
read_wraparound_flag(void)
{
	volatile PgBackendStatus *be = MyBEEntry;

	if (be == NULL || !pgstat_track_activities)
	{
		/* cannot tell: treat it as one, so that it is never slowed */
		wraparound_flag = 1;
		return;
	}
	wraparound_flag = (be->st_activity_raw != NULL &&
					   strstr((const char *) be->st_activity_raw,
							  "(to prevent wraparound)") != NULL) ? 1 : 0;
}

/*
 * Inherited by every process; does something only in autovacuum workers.
 * Each table an autovacuum worker processes starts with a commit after its
 * activity has been reported (vacuum() commits the worker's transaction
 * before it starts its own), so the flag is current before the table's
 * first page.
 */
static void
vacuum_xact_callback(XactEvent event, void *arg)
{
	if (event != XACT_EVENT_PRE_COMMIT || !iosat_am_autovacuum_worker())
		return;
	if (iosat_vac == NULL || iosat_shared == NULL)
		return;

	/* the handler reads the flag: set it before the tick can first fire */
	read_wraparound_flag();
	if (my_slot == NULL)
		claim_slot(IOSAT_VAC_AUTOVACUUM);

	/*
	 * iosat.vacuum_backpressure as this worker sees it: on 15 a worker
	 * reloads only between tables, and 16+ may reload inside one, but the
	 * tick is armed or disarmed only here, between tables.
	 */
	if (!iosat_vacuum_backpressure)
	{
		if (armed_ms != 0)
			stop_ticking();
		show_unticked();
	}
	else if (armed_ms == 0)
		start_ticking();
	else if (armed_ms != iosat_vacuum_tick_ms)
	{
		/* iosat.vacuum_tick was changed by a reload */
		disarm();
		arm();
	}
}

/* a manual VACUUM or ANALYZE is tracked only if iosat.vacuum_manual */
static void
vacuum_ProcessUtility(PlannedStmt *pstmt, const char *queryString,
					  bool readOnlyTree, ProcessUtilityContext context,
					  ParamListInfo params, QueryEnvironment *queryEnv,
					  DestReceiver *dest, QueryCompletion *qc)
{
	bool		track = iosat_vacuum_manual && my_slot == NULL &&
		iosat_vac != NULL && iosat_shared != NULL &&
		!iosat_am_autovacuum_worker() &&
		pstmt->utilityStmt != NULL && IsA(pstmt->utilityStmt, VacuumStmt);

	if (track)
	{
		wraparound_flag = 0;
		claim_slot(IOSAT_VAC_MANUAL);
		if (iosat_vacuum_backpressure)
			start_ticking();
		else
			show_unticked();
	}
	PG_TRY();
	{
		if (prev_ProcessUtility)
			prev_ProcessUtility(pstmt, queryString, readOnlyTree, context,
								params, queryEnv, dest, qc);
		else
			standard_ProcessUtility(pstmt, queryString, readOnlyTree, context,
									params, queryEnv, dest, qc);
	}
	PG_FINALLY();
	{
		if (track)
		{
			stop_ticking();
			release_slot();
		}
	}
	PG_END_TRY();
}

/* from _PG_init, in the postmaster */
void
iosat_vacuum_install(void)
{
	RegisterXactCallback(vacuum_xact_callback, NULL);
	prev_ProcessUtility = ProcessUtility_hook;
	ProcessUtility_hook = vacuum_ProcessUtility;
}
