/*-------------------------------------------------------------------------
 *
 * shmem.h
 *	  shmem.c's functions: the "iosat" segment's allocation and address,
 *	  the change-counter protocol (state/shared.h's header comment tells
 *	  it), consistent copies of what the sampler publishes, and how old it
 *	  is.
 *
 *-------------------------------------------------------------------------
 */
#ifndef IOSAT_SHMEM_H
#define IOSAT_SHMEM_H

#include "postgres.h"

#include "port/atomics.h"
#include "utils/timestamp.h"

#include "state/shared.h"

/* the "iosat" segment, mapped by iosat_shmem_init */
extern IosatShared *iosat_shared;

/*
 * The "iosat vacuum" segment, mapped by control/vacuum.c, which allocates
 * it; its address is kept here because the sampler (vacuum_policy.c) and
 * the views read it too, and they may not include control/.
 */
extern IosatVacuumShared *iosat_vac;

/* is iosat in shared_preload_libraries? (set by _PG_init) */
extern bool iosat_preloaded;

/* every SQL entry point starts here: ERROR unless preloaded */
extern void iosat_check_loaded(void);

/* from the shmem request and startup hooks */
extern Size iosat_shmem_size(void);
extern void iosat_shmem_init(void);

/* every PGPROC: backends, auxiliary processes, prepared transactions */
extern int	iosat_total_procs(void);

/* the change-counter protocol */
extern void iosat_seq_begin_write(pg_atomic_uint32 *changecount);
extern void iosat_seq_end_write(pg_atomic_uint32 *changecount);
extern void iosat_seq_read(pg_atomic_uint32 *changecount, void *dst,
						   const void *src, Size len);

/* consistent copies of records the sampler publishes */
extern void iosat_read_device(int i, IosatDevice *out);
extern void iosat_read_psi(IosatPsiState *out);
extern void iosat_read_write_debt(IosatWriteDebt *out);
extern void iosat_read_verdict(IosatVerdict *out);
extern void iosat_set_error(const char *msg);
extern void iosat_read_error(char *buf, Size len, TimestampTz *when);

/* how old the last sample and the last verdict are, and when that is stale */
extern int64 iosat_sample_age_ms(void);
extern int64 iosat_verdict_age_ms(void);
extern int64 iosat_stale_after_ms(void);

/* names of the vacuum slots' enums, for the views and the log */
extern const char *iosat_vacuum_state_name(IosatVacState s);
extern const char *iosat_vacuum_kind_name(IosatVacKind k);

#endif							/* IOSAT_SHMEM_H */
