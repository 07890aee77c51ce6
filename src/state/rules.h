/*-------------------------------------------------------------------------
 *
 * rules.h
 *	  The rules that the writers and the readers of the published state
 *	  must agree on, each defined once: the pressure thresholds, how long
 *	  the smoothed signal takes to show a change (the controllers' step),
 *	  how long a pressed rate is remembered.  The governor computes the
 *	  pressure: the largest ratio, over the devices, of a smoothed figure
 *	  to its threshold (sampler/governor.c); 1 means pressed.
 *
 *-------------------------------------------------------------------------
 */
#ifndef IOSAT_RULES_H
#define IOSAT_RULES_H

#include "guc.h"

/* pressed: saturation starts, rates are cut */
#define IOSAT_PRESSED			1.00
/*
 * The pressure the controllers steer to: below it rates grow, from here
 * to 1 they hold or ease off, at 1 they are cut.  Close to 1, so that
 * heavy work takes the headroom the cheap load leaves (work conservation:
 * a volume kept far below its ceiling wastes what is paid for).
 */
#define IOSAT_RELAX_BELOW		0.90
/*
 * busy: heavy statements and vacuums that start now start slow.  Judged on
 * the pressure with the IOPS counted in full (gate.busy_milli): a volume
 * near its ceiling by the kernel's count is busy even where its latency
 * says it is not yet pressed.
 */
#define IOSAT_BUSY_AT			0.50
/* how long the rate (or speed) at which the device was pressed is remembered */
#define IOSAT_PROBE_HOLD_MS		15000

/* the same thresholds in the 1/1000 units of gate.pressure_milli */
#define IOSAT_MILLI(p)			((uint32) ((p) * 1000.0 + 0.5))

/*
 * The time the smoothed signal needs to show the effect of a change of
 * rate: one step of every controller (max(sample interval, half the
 * smoothing window)).
 */
static inline int
iosat_step_ms(void)
{
	return Max(iosat_sample_interval_ms, iosat_smoothing_ms / 2);
}

#endif							/* IOSAT_RULES_H */
