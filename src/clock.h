/*-------------------------------------------------------------------------
 *
 * clock.h
 *	  The one clock iosat measures intervals with: CLOCK_BOOTTIME, in
 *	  microseconds.  It is the same for every process on the machine and
 *	  never steps, so a stamp one process writes can be aged by another
 *	  even across an NTP step or a VM resume, where the wall clock
 *	  (GetCurrentTimestamp) can jump back or forward.  Wall-clock times
 *	  are for display only.
 *
 *	  clock_gettime(CLOCK_BOOTTIME) is served by the vDSO on Linux: no
 *	  system call.
 *
 *-------------------------------------------------------------------------
 */
#ifndef IOSAT_CLOCK_H
#define IOSAT_CLOCK_H

#include "postgres.h"

#include <time.h>

/* microseconds on the monotonic clock */
static inline int64
iosat_mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_BOOTTIME, &ts);
	return (int64) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* at least ms milliseconds from FROM to NOW, both iosat_mono_us() stamps */
static inline bool
iosat_mono_exceeds(int64 from, int64 now, int ms)
{
	return now - from >= (int64) ms * 1000;
}

/* milliseconds on the monotonic clock, with a fraction */
static inline double
iosat_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_BOOTTIME, &ts);
	return ts.tv_sec * 1000.0 + ts.tv_nsec / 1e6;
}

#endif							/* IOSAT_CLOCK_H */
