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

/* from _PG_init, and the worker's entry point */
extern void iosat_register_sampler(void);
extern PGDLLEXPORT void iosat_sampler_main(Datum arg);

/* a device's status for iosat_devices */
extern const char *iosat_status_name(IosatDevStatus s);

#endif							/* IOSAT_SAMPLER_H */
