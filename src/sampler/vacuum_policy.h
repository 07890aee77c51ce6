/*-------------------------------------------------------------------------
 *
 * vacuum_policy.h
 *	  The sampler's half of vacuum backpressure (vacuum_policy.c): after
 *	  each sample, the vacuum cost multiplier, from the governor's signal,
 *	  published in state/shared.h for the ticks in the vacuuming processes
 *	  (control/vacuum.c); and a look at those processes.
 *
 *-------------------------------------------------------------------------
 */
#ifndef IOSAT_VACUUM_POLICY_H
#define IOSAT_VACUUM_POLICY_H

#include "sampler/governor.h"

/* the vacuum cost multiplier, and a look at the vacuuming processes */
extern void iosat_vacuum_policy_update(const IosatSignal *sig);

#endif							/* IOSAT_VACUUM_POLICY_H */
