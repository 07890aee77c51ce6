/*-------------------------------------------------------------------------
 *
 * profile.h
 *	  The kernel-state views: iosat_backends (pg_stat_activity joined with
 *	  /proc/<pid>), the sampled wait/kernel-state profile, and the load
 *	  average breakdown.
 *
 * profile.c is the "iosat profiler" background worker and its shared
 * table; views/ shows it (profile_views.c, loadavg.c, backends.c), and
 * collect/procfs.c reads the processes.
 *
 *-------------------------------------------------------------------------
 */
#ifndef IOSAT_PROFILE_H
#define IOSAT_PROFILE_H

#include "postgres.h"

#include "port/atomics.h"
#include "storage/proc.h"
#include "utils/timestamp.h"

#include "collect/procfs.h"
#include "state/shared.h"

extern IosatProfileShared *iosat_profile;


/* profile.c */
extern Size iosat_profile_shmem_size(void);
extern void iosat_profile_shmem_init(void);
extern void iosat_register_profiler(void);
extern PGDLLEXPORT void iosat_profiler_main(Datum arg);
extern void iosat_read_profile_header(IosatProfileShared *out);

#endif							/* IOSAT_PROFILE_H */
