/*-------------------------------------------------------------------------
 *
 * governor.h
 *	  From device figures to a verdict (governor.c): the pressure signal,
 *	  saturation with hysteresis, the AIMD limit on heavy statements,
 *	  published in gate (state/shared.h).
 *
 *-------------------------------------------------------------------------
 */
#ifndef IOSAT_GOVERNOR_H
#define IOSAT_GOVERNOR_H

#include "state/shared.h"

/* what the governor concluded from one sample, for the policies */
typedef struct IosatSignal
{
	TimestampTz now;			/* the sample's wall-clock time (display) */
	int64		mono;			/* iosat_mono_us() of it: for intervals */
	double		pressure;		/* the largest ratio to a threshold */
	double		busy;			/* ... with the IOPS unweighted (slow start) */
	bool		saturated;		/* the verdict, after hysteresis */
	bool		stalled;		/* a device is stalled */
	bool		have_signal;	/* a sampled device has a signal configured */
	bool		admission_off;	/* iosat.admission is off or monitor */
	bool		heavy_held;		/* heavy statements queued, or paced
								 * statements slept since the last sample */
} IosatSignal;

extern void iosat_governor_update(TimestampTz now, IosatSignal *sig);
extern int64 iosat_device_ceiling(const char *name);

#endif							/* IOSAT_GOVERNOR_H */
