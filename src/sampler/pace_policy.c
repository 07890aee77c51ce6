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
	uint32		min_rate = (uint32) Max(iosat_pacing_min_rate, 1);
	int			cut_ms = iosat_step_ms();

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
		else if (iosat_mono_exceeds(last_cut, now, cut_ms))
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
		else if (pressure < IOSAT_RELAX_BELOW)
		{
			next += Max((double) min_rate, pace_rate / 16.0);
			/* not back at once to the rate that pressed the device */
			if (!iosat_mono_exceeds(pressed_at, now, IOSAT_PROBE_HOLD_MS))
				next = Min(next, Max((double) pace_rate, pressed_rate * PROBE_MARGIN));
			next = Max(next, (double) min_rate);
		}
		pace_rate = (uint32) Min(next, (double) PG_INT32_MAX);
	}
	pg_atomic_write_u32(&g->pace_rate, pace_rate);
	pg_atomic_write_u32(&g->pressure_milli, (uint32) Min(pressure * 1000, 1e6));
}
