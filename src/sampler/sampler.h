/*-------------------------------------------------------------------------
 *
 * sampler.h
 *	  The sampler background worker.
 *
 *-------------------------------------------------------------------------
 */
#ifndef IOSAT_SAMPLER_H
#define IOSAT_SAMPLER_H

#include "state/shared.h"

extern const char *iosat_status_name(IosatDevStatus s);

#endif							/* IOSAT_SAMPLER_H */
