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

#define IOSAT_BTYPE_LEN		48	/* backend type, e.g. "client backend" */

/*
 * Key of one profile bucket.  Compared as bytes (the collector zeroes it
 * before filling it), so it has no padding holes with garbage.
 */
typedef struct IosatProfileKey
{
	char		backend_type[IOSAT_BTYPE_LEN];
	char		wchan[IOSAT_WCHAN_LEN];
	uint32		wait_event_info;
	char		state;			/* task state letter; '?' unknown */
	char		pad[3];
} IosatProfileKey;

typedef struct IosatProfileEntry
{
	IosatProfileKey key;
	uint64		count;
} IosatProfileEntry;

/* the name of the bucket that counts the keys past the table's size */
#define IOSAT_OTHER_BUCKET	"(other)"

/* time constants of the kernel's load averages: 1, 5 and 15 minutes */
#define IOSAT_NLOADS 3

/*
 * The profile in shared memory.  The profiler is its only writer: it
 * publishes one pass at a time under changecount (even: stable), and
 * readers copy the header and the used entries and retry if it moved.
 */
typedef struct IosatProfileShared
{
	pg_atomic_uint32 changecount;
	pg_atomic_uint32 profiler_pid;	/* 0: not running */
	pg_atomic_uint32 profiler_procno;	/* its latch, for reset requests */
	pg_atomic_uint64 reset_requested;	/* bumped by iosat_wait_profile_reset */
	pg_atomic_uint64 reset_done;	/* the last request the profiler applied */

	/* below: written under changecount */
	bool		enabled;		/* iosat.profile at the last pass */
	int			max_entries;
	int			nentries;
	uint64		passes;			/* since the last reset */
	uint64		samples;		/* process samples since the last reset */
	uint64		overflow_samples;	/* counted in the "(other)" bucket */
	TimestampTz since;			/* last reset, or profiler start */
	TimestampTz last_pass;
	double		last_pass_ms;
	double		sum_pass_ms;
	int			last_procs;		/* processes sampled in the last pass */

	/* Postgres processes in R and D: the last pass and sums since reset */
	int			now_running;
	int			now_disk_sleep;
	uint64		sum_running;
	uint64		sum_disk_sleep;

	/*
	 * Exponentially damped averages of (R + D) over Postgres processes with
	 * the kernel's load-average time constants (60, 300, 900 s), from 0 at
	 * the profiler's first pass after server start.
	 */
	double		pg_load[IOSAT_NLOADS];
	TimestampTz load_since;		/* the first pass; 0: none yet */

	IosatProfileEntry entries[FLEXIBLE_ARRAY_MEMBER];
} IosatProfileShared;

extern IosatProfileShared *iosat_profile;


/* profile.c */
extern Size iosat_profile_shmem_size(void);
extern void iosat_profile_shmem_init(void);
extern void iosat_register_profiler(void);
extern PGDLLEXPORT void iosat_profiler_main(Datum arg);
extern void iosat_read_profile_header(IosatProfileShared *out);

#endif							/* IOSAT_PROFILE_H */
