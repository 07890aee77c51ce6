/*-------------------------------------------------------------------------
 *
 * policies.h
 *	  What the sampler loop drives from the governor's signal after each
 *	  sample: the pace rate of running heavy statements (pace_policy.c) and
 *	  the vacuum cost multiplier (vacuum_policy.c).  Each publishes in
 *	  state/shared.h for the backends to apply.
 *
 *-------------------------------------------------------------------------
 */
#ifndef IOSAT_POLICIES_H
#define IOSAT_POLICIES_H

#include "sampler/governor.h"

/* the pace rate (blocks/s per paced process, 0 = none) */
extern void iosat_pace_update(const IosatSignal *sig);

/* the vacuum cost multiplier, and a look at the vacuuming processes */
extern void iosat_vacuum_policy_update(const IosatSignal *sig);

#endif							/* IOSAT_POLICIES_H */
