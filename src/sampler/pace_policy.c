/*-------------------------------------------------------------------------
 *
 * pace_policy.c
 *	  The sampler's half of read pacing: the pace rate that running heavy
 *	  statements may read at (blocks per second per paced statement; 0: no
 *	  pacing), by AIMD on the governor's pressure, published in
 *	  gate.pace_rate for the pacing points in the backends
 *	  (control/pacing.c, whose header comment tells the law).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "clock.h"
#include "guc.h"
#include "sampler/pace_policy.h"
#include "state/rules.h"
#include "state/shared.h"
#include "state/shmem.h"

/*
 * For IOSAT_PROBE_HOLD_MS after the last pressure the rate does not grow
 * past this share of the rate at which the device was pressed.
 */
#define PROBE_MARGIN	0.80
/*
 * Below IOSAT_RELAX_BELOW the rate grows by GAIN x the headroom per second
 * (at most MAX_GROW); between it and 1 it eases off by up to EASE per
 * second; at 1 it is divided by the square of the pressure, at least by
 * MIN_CUT.
 */
#define GAIN			1.0
#define MAX_GROW		0.30
#define EASE			0.10
#define MIN_CUT			1.25

static uint32 pace_rate = 0;
static int64 last_cut = 0;		/* iosat_mono_us(), as every stamp here */
static uint32 pressed_rate = 0;	/* the rate when the device was last pressed */
static int64 pressed_at = 0;
static uint64 seen_blocks = 0;
static int64 seen_at = 0;

void
iosat_pace_update(const IosatSignal *sig)
{
	int64		now = sig->mono;
	double		pressure = sig->pressure;
	bool		saturated = sig->saturated;
	bool		stalled = sig->stalled;
	IosatGate  *g = &iosat_shared->gate;
	uint64		blocks = pg_atomic_read_u64(&g->paced_blocks);
	double		paced_bps = 0;
	double		seen_dt = 0;
	uint32		min_rate = (uint32) Max(iosat_pacing_min_rate, 1);
	int			cut_ms = iosat_step_ms();

	if (seen_at != 0 && now > seen_at)
	{
		seen_dt = (now - seen_at) / 1e6;
		paced_bps = (blocks - seen_blocks) / seen_dt;
	}
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
		else if (iosat_mono_exceeds(last_cut, now, cut_ms))
		{
			pressed_rate = pace_rate;
			pace_rate = (uint32) Max((double) min_rate,
									 pace_rate / Max(MIN_CUT, pressure * pressure));
			last_cut = now;
		}
		pressed_at = now;
	}
	else if (pace_rate > 0)
	{
		double		next = pace_rate;
		double		dt = Min(seen_dt, cut_ms / 1000.0);

		if (!saturated && paced_bps < pace_rate / 2.0)
			next = 0;			/* calm, and the rate no longer binds */
		else if (pressure < IOSAT_RELAX_BELOW)
		{
			/* headroom: grow in proportion to it, per second */
			double		g = Min(MAX_GROW, GAIN * (IOSAT_RELAX_BELOW - pressure));

			next = Max(next + 1, next * pow(1.0 + g, dt));
			/* not back at once to the rate that pressed the device */
			if (!iosat_mono_exceeds(pressed_at, now, IOSAT_PROBE_HOLD_MS))
				next = Min(next, Max((double) pace_rate, pressed_rate * PROBE_MARGIN));
		}
		else
		{
			/* near the ceiling: ease off in proportion to the excess */
			double		e = (pressure - IOSAT_RELAX_BELOW) / (1.0 - IOSAT_RELAX_BELOW);

			next = next * pow(1.0 - EASE * e, dt);
		}
		if (next > 0)
			next = Max(next, (double) min_rate);
		pace_rate = (uint32) Min(next, (double) PG_INT32_MAX);
	}
	iosat_seq_begin_write(&g->verdict.changecount);
	g->verdict.paced_bps = paced_bps;
	iosat_seq_end_write(&g->verdict.changecount);
	pg_atomic_write_u32(&g->pace_rate, pace_rate);
	pg_atomic_write_u32(&g->pressure_milli, (uint32) Min(pressure * 1000, 1e6));
	pg_atomic_write_u32(&g->busy_milli, (uint32) Min(sig->busy * 1000, 1e6));
}
