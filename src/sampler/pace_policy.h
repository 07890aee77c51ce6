/*-------------------------------------------------------------------------
 *
 * pace_policy.h
 *	  The sampler's half of read pacing (pace_policy.c): after each sample,
 *	  the pace rate of running heavy statements, from the governor's
 *	  signal, published in state/shared.h's gate for the pacing points in
 *	  the backends (control/pacing.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef IOSAT_PACE_POLICY_H
#define IOSAT_PACE_POLICY_H

#include "sampler/governor.h"

/* the pace rate (blocks/s per paced statement, 0 = none) */
extern void iosat_pace_update(const IosatSignal *sig);

#endif							/* IOSAT_PACE_POLICY_H */
