/*-------------------------------------------------------------------------
 *
 * vacuum_policy.c
 *	  The sampler's half of vacuum backpressure: from the governor's
 *	  pressure signal to the multiplier of the vacuum page costs, published
 *	  for the ticks in the vacuuming processes (vacuum.c); and a look at
 *	  those processes (their I/O rates from /proc/<pid>/io, a DEBUG1 line
 *	  when the multiplier one of them applies changes).
 *
 * The signal is the governor's pressure: the largest ratio, over the
 * devices, of a smoothed figure to its threshold (IOPS to 95 % of the
 * ceiling, read and write IOPS to 95 % of iosat.read_iops_limit and
 * iosat.write_iops_limit, read latency to
 * iosat.latency_target, queue depth to iosat.queue_depth_target, as
 * governor.c lists them); 1 means pressed.  The multiplier m (1 = the
 * configured speed; 2 = half as many pages per second while cost-limited):
 *
 *	pressure >= 1      m = max(m, 1) * max(2, pressure), at most max_slowdown,
 *	                   and at most once per max(sample interval, half the
 *	                   smoothing window) -- the time the smoothed signal
 *	                   needs to show the effect of the last step, else the
 *	                   multiplier overshoots while the signal lags: a vacuum
 *	                   that was sped up drops to its configured speed at
 *	                   once, and halves (or more) every step while the
 *	                   device stays pressed;
 *	0.9 <= p < 1       ease off: m grows by up to 10 % a second, in
 *	                   proportion to how far p is past 0.9 (the pace
 *	                   rate's law, pace_policy.c), so that a vacuum that
 *	                   has filled the headroom gives back what takes the
 *	                   volume past 0.9 of its ceiling;
 *	pressure < 0.9     relax: above 1, by 15 % a second back to 1 while the
 *	                   last pressure is recent (IOSAT_PROBE_HOLD_MS), by half a
 *	                   second after that; at or below 1, by 15 % a second
 *	                   down to 1 / max_speedup: the vacuum takes headroom
 *	                   only gradually, and gives it back at the first sign
 *	                   of pressure.
 * While iosat holds heavy statements back (queued, or sleeping at pacing
 * points: the governor's heavy_held), m is at least 1: they take the
 * headroom before the vacuum is sped past its configured costs.
 * Memory: the fastest speed at which the device was pressed is remembered,
 * and for IOSAT_PROBE_HOLD_MS after the last pressure the vacuum is not let run
 * faster than 1 / PROBE_MARGIN of it (never slower than configured on
 * that account), so that it does not return to the speed that caused the
 * pressure at once; after the hold it may probe again.
 * This is AIMD's shape (fast multiplicative retreat, cautious advance)
 * without AIMD's additive step, which would be far too slow across a
 * factor of 10.  The pressure itself is smoothed
 * (iosat.smoothing_window).  With no signal configured for any sampled
 * device (the governor tells: have_signal), or the policy off, m = 1: a
 * pressure of 0 from no signal is no headroom to speed up into.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "miscadmin.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "guc.h"
#include "collect/devices.h"
#include "state/shared.h"
#include "state/shmem.h"
#include "collect/kparse.h"
#include "sampler/vacuum_policy.h"
#include "state/rules.h"

#define MIN_UP_STEP		2.0		/* multiplicative retreat per pressed sample */
#define RETURN_PER_S	0.50	/* m > 1: factor per second back towards 1 */
#define RETURN_RECENT_PER_S 0.85	/* the same within IOSAT_PROBE_HOLD_MS of pressure */
#define ADVANCE_PER_S	0.85	/* m <= 1: factor per second towards the floor */
#define MAX_DT_S		5.0
#define PROBE_MARGIN	1.25
#define EASE_PER_S		0.10	/* 0.9 <= p < 1: up to this factor a second slower */

static double m = 1.0;
static int64 last_update = 0;	/* iosat_mono_us(), as the stamps below */
static double pressed_m = 0;	/* m when the device was last pressed */
static int64 pressed_at = 0;
static int64 raised_at = 0;	/* when m was last raised */

/* the sampler's memory of each slot, for rates and log lines */
typedef struct SlotSeen
{
	int			pid;
	uint32		multiplier;		/* as last logged */
	bool		have_io;
	uint64		rchar;
	uint64		read_bytes;
	uint64		write_bytes;
	TimestampTz time;
	bool		have_spent;
	int			spent_pid;
	uint32		spent;			/* the slot's counter at spent_time */
	TimestampTz spent_time;
} SlotSeen;

static SlotSeen *seen = NULL;

/*
 * The free factor of a vacuuming process: the cost units a second its cost
 * limit allows (limit / delay; more when it naps less than the delay per
 * limit) over the cost units a second it spends at its configured costs
 * (its tick counts them from its own buffer usage: pages hit, read and
 * dirtied, as PostgreSQL charges them; control/vacuum.c).  It is only
 * measured while the vacuum runs free -- the factor is then over 1.5 times
 * the multiplier it applies; bound by its costs, what it spends is what the
 * limit gives, and the factor would only repeat the multiplier -- and is
 * held otherwise.  An autovacuum at autovacuum_vacuum_cost_limit = 2000
 * and 2 ms on a volume of 1,000 IOPS reads a few MB/s where its limit
 * allows hundreds: a multiplier of 2 on its configured costs changed
 * nothing (the storm matrix's autovacuum scenario, 2026-12-04).  (Until
 * 1.4 it was estimated from /proc/<pid>/io, which misses shared-buffer
 * hits, and on PostgreSQL 18 every read an io worker performs.)
 */
static void
measure_free_factor(IosatVacuumSlot *s, int pid, double spent_per_s)
{
	double		limit = pg_atomic_read_u32(&s->cost_limit);
	double		delay_s = pg_atomic_read_u32(&s->cost_delay_us) / 1e6;
	double		applied = pg_atomic_read_u32(&s->multiplier) / (double) IOSAT_VAC_UNIT;
	double		f;

	if (limit <= 0 || delay_s <= 0 || spent_per_s < 1.0)
		return;					/* not cost-limited, or doing nothing */
	f = (limit / delay_s) / spent_per_s;
	if (f <= 1.5 * Max(applied, 1.0))
		return;					/* bound by its costs: hold */
	f = Min(f, IOSAT_VAC_MAX_FREE);
	/* the slot may have passed to another process since it was read */
	if ((int) pg_atomic_read_u32(&s->pid) != pid)
		return;
	pg_atomic_write_u32(&s->free_factor, (uint32) (f * IOSAT_VAC_UNIT));
}

/* the cost units a second the slot's tick counted since the last sample */
static void
read_spent(int i, IosatVacuumSlot *s, int pid, TimestampTz now)
{
	SlotSeen   *p = &seen[i];
	uint32		spent = pg_atomic_read_u32(&s->spent);

	if (p->have_spent && p->spent_pid == pid && now > p->spent_time)
		measure_free_factor(s, pid,
							(uint32) (spent - p->spent) / ((now - p->spent_time) / 1e6));
	p->spent = spent;
	p->spent_time = now;
	p->spent_pid = pid;
	p->have_spent = true;
}

static void
read_proc_io(int i, IosatVacuumSlot *s, int pid, TimestampTz now)
{
	SlotSeen   *p = &seen[i];
	char		path[MAXPGPATH];
	char		buf[1024];
	ssize_t		n;
	KProcIo		io;
	bool		ok;
	bool		valid = false;
	double		rmb = 0,
				wmb = 0,
				cmb = 0;

	iosat_procfs_path(path, sizeof(path), "/%d/io", pid);
	n = iosat_read_small_file(path, buf, sizeof(buf) - 1);
	ok = n > 0 && kparse_proc_io(buf, n, &io);

	if (ok && p->have_io && now > p->time)
	{
		double		dt = (now - p->time) / 1e6;
		uint64		d;

		valid = true;
		rmb = kcounter_delta(p->read_bytes, io.read_bytes, &d) ? d / dt / 1e6 : 0;
		wmb = kcounter_delta(p->write_bytes, io.write_bytes, &d) ? d / dt / 1e6 : 0;
		cmb = kcounter_delta(p->rchar, io.rchar, &d) ? d / dt / 1e6 : 0;
	}

	iosat_seq_begin_write(&s->io_changecount);
	s->io_pid = pid;
	if (ok)
	{
		s->io_valid = valid;
		s->read_mbps = rmb;
		s->write_mbps = wmb;
		s->rchar_mbps = cmb;
		s->read_bytes = (int64) io.read_bytes;
		s->write_bytes = (int64) io.write_bytes;
		s->rchar = (int64) io.rchar;
		s->io_time = now;
	}
	else
	{
		s->io_valid = false;
		s->io_time = 0;
	}
	iosat_seq_end_write(&s->io_changecount);

	p->have_io = ok;
	if (ok)
	{
		p->rchar = io.rchar;
		p->read_bytes = io.read_bytes;
		p->write_bytes = io.write_bytes;
		p->time = now;
	}
}

/* rates of each vacuuming process, and the log line for a changed multiplier */
static void
watch_slots(TimestampTz now, double pressure)
{
	if (iosat_vac == NULL)
		return;
	if (seen == NULL)
		seen = MemoryContextAllocZero(TopMemoryContext,
									  sizeof(SlotSeen) * iosat_vac->nslots);

	for (int i = 0; i < iosat_vac->nslots; i++)
	{
		IosatVacuumSlot *s = &iosat_vac->slots[i];
		int			pid = (int) pg_atomic_read_u32(&s->pid);
		uint32		mult;

		if (pid == 0)
		{
			seen[i].pid = 0;
			continue;
		}
		pg_read_barrier();
		mult = pg_atomic_read_u32(&s->multiplier);
		if (seen[i].pid != pid)
		{
			memset(&seen[i], 0, sizeof(SlotSeen));
			seen[i].pid = pid;
			seen[i].multiplier = IOSAT_VAC_UNIT;
		}
		if (mult != seen[i].multiplier)
		{
			ereport(DEBUG1,
					(errmsg("iosat: %s pid %d: vacuum cost multiplier %.2f -> %.2f",
							iosat_vacuum_kind_name(pg_atomic_read_u32(&s->kind)),
							pid, seen[i].multiplier / (double) IOSAT_VAC_UNIT,
							mult / (double) IOSAT_VAC_UNIT),
					 errdetail("Page costs hit %u, miss %u, dirty %u (configured %u, %u, %u); pressure %.2f; %s.",
							   pg_atomic_read_u32(&s->cost[0]),
							   pg_atomic_read_u32(&s->cost[1]),
							   pg_atomic_read_u32(&s->cost[2]),
							   pg_atomic_read_u32(&s->base[0]),
							   pg_atomic_read_u32(&s->base[1]),
							   pg_atomic_read_u32(&s->base[2]),
							   pressure,
							   iosat_vacuum_state_name(pg_atomic_read_u32(&s->state)))));
			seen[i].multiplier = mult;
		}
		read_proc_io(i, s, pid, now);
		read_spent(i, s, pid, now);
	}
}

void
iosat_vacuum_policy_update(const IosatSignal *sig)
{
	/* intervals on the monotonic clock (microseconds, as TimestampTz differences) */
	int64		now = sig->mono;
	double		pressure = sig->pressure;
	bool		have_signal = sig->have_signal;
	IosatGate  *g = &iosat_shared->gate;
	double		dt;
	double		floor_m = 1.0 / Max(iosat_vacuum_max_speedup, 1.0);
	double		ceil_m = Max(iosat_vacuum_max_slowdown, 1.0);
	double		before = m;
	bool		enabled = iosat_vacuum_backpressure;

	dt = last_update ? (now - last_update) / 1e6 : iosat_sample_interval_ms / 1000.0;
	if (dt < 0)
		dt = 0;
	if (dt > MAX_DT_S)
		dt = MAX_DT_S;
	last_update = now;

	if (!enabled || !have_signal)
	{
		m = 1.0;
		pressed_at = 0;
	}
	else if (pressure >= 1.0)
	{
		int			step_ms = iosat_step_ms();
		bool		recent = pressed_at != 0 &&
			!TimestampDifferenceExceeds(pressed_at, now, IOSAT_PROBE_HOLD_MS);

		/* remember the fastest speed that met pressure, for the hold */
		if (!recent || m < pressed_m)
			pressed_m = m;
		pressed_at = now;
		if (m < 1.0 || raised_at == 0 ||
			TimestampDifferenceExceeds(raised_at, now, step_ms - step_ms / 10))
		{
			m = Max(m, 1.0) * Max(MIN_UP_STEP, pressure);
			raised_at = now;
		}
	}
	else if (pressure >= IOSAT_RELAX_BELOW)
	{
		/*
		 * Near the ceiling: give way in proportion to the excess, as the
		 * pace rate does (a vacuum sped up returns towards its configured
		 * speed first).  Holding here left a vacuum that filled the
		 * headroom at 0.9-1 for good, on a volume whose queue the cheap
		 * load already felt (#17: autovacuum storm p99 4.8x).
		 */
		double		e = (pressure - IOSAT_RELAX_BELOW) / (1.0 - IOSAT_RELAX_BELOW);

		m = m * pow(1.0 + EASE_PER_S * e, dt);
	}
	else
	{
		bool		recent = pressed_at != 0 &&
			!TimestampDifferenceExceeds(pressed_at, now, IOSAT_PROBE_HOLD_MS);
		double		lowest = floor_m;

		if (m > 1.0)
			m = Max(1.0, m * pow(recent ? RETURN_RECENT_PER_S : RETURN_PER_S, dt));
		else
			m = m * pow(ADVANCE_PER_S, dt);
		if (recent)
			lowest = Max(lowest, Min(pressed_m * PROBE_MARGIN, 1.0));
		/* never below the floor of the hold; returning to 1 is always allowed */
		m = Max(m, Min(lowest, before));
	}
	/*
	 * Heavy statements held back by iosat (queued, or sleeping at pacing
	 * points) take the headroom first: a vacuum runs no faster than
	 * configured while they wait.  Sped up beside them, the vacuum took
	 * what slow start and the pace rate would have grown into (#17: the
	 * read storm's heavy statements 1.9 MB/s against stock's 4.8, its
	 * vacuum 2.9 against 0.7).
	 */
	if (sig->heavy_held && enabled && have_signal)
		m = Max(m, 1.0);
	/* the bounds may have changed with a reload */
	m = Min(Max(m, floor_m), ceil_m);

	pg_atomic_write_u32(&iosat_vac->pressure,
						(uint32) Min(Max(pressure, 0.0) * 1000.0, (double) PG_UINT32_MAX));
	if (m > 1.0)
		pg_atomic_fetch_add_u64(&iosat_vac->slowed_us, (uint64) (dt * 1e6));
	else if (m < 1.0)
		pg_atomic_fetch_add_u64(&iosat_vac->sped_us, (uint64) (dt * 1e6));
	if (m > 1.0 && before <= 1.0)
		pg_atomic_fetch_add_u64(&iosat_vac->slowdowns, 1);

	pg_atomic_write_u32(&g->vacuum_multiplier, (uint32) rint(m * IOSAT_VAC_UNIT));
	pg_atomic_write_u32(&g->vacuum_enabled, enabled ? 1 : 0);
	pg_write_barrier();
	pg_atomic_write_u32(&g->vacuum_seq, pg_atomic_read_u32(&g->vacuum_seq) + 1);

	watch_slots(sig->now, pressure);
}
