/*-------------------------------------------------------------------------
 *
 * vacuum.h
 *	  Vacuum backpressure: the sampler publishes a multiplier for the
 *	  vacuum page costs (vacuum_policy.c); a periodic tick inside each
 *	  autovacuum worker (and, if asked, a manual VACUUM) applies it while
 *	  iosat.vacuum_backpressure is on (vacuum.c); iosat_vacuum shows it,
 *	  and the workers also while it is off (vacuum_views.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef IOSAT_VACUUM_H
#define IOSAT_VACUUM_H

#include "postgres.h"

#include "state/shared.h"

/* the segment's structs are in state/shared.h */
extern Size iosat_vacuum_shmem_size(void);
extern void iosat_vacuum_shmem_init(void);
/* from _PG_init: the transaction callback and the ProcessUtility hook */
extern void iosat_vacuum_install(void);

#endif							/* IOSAT_VACUUM_H */
