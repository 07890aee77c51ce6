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

#include "datatype/timestamp.h"
#include "port/atomics.h"

#define IOSAT_VAC_UNIT			1000	/* multipliers are published in 1/1000 */
#define IOSAT_VAC_MAX_COST		10000	/* the page-cost GUCs' maximum */

typedef enum IosatVacKind
{
	IOSAT_VAC_FREE = 0,
	IOSAT_VAC_AUTOVACUUM,
	IOSAT_VAC_MANUAL
} IosatVacKind;

/* what the last tick did */
typedef enum IosatVacState
{
	IOSAT_VACST_STARTING = 0,	/* no tick yet */
	IOSAT_VACST_APPLIED,		/* costs scaled by the published multiplier */
	IOSAT_VACST_WRAPAROUND,		/* anti-wraparound: held at or below base */
	IOSAT_VACST_COST_OFF,		/* no cost-based delay now: nothing to scale */
	IOSAT_VACST_FAILSAFE,		/* 16+: the wraparound failsafe fired */
	IOSAT_VACST_DISABLED,		/* iosat.vacuum_backpressure = off: base, no tick */
	IOSAT_VACST_STALE			/* no fresh multiplier: base (fail open) */
} IosatVacState;

/*
 * One per PGPROC, indexed by proc number.  The process that owns the slot
 * writes its fields, from its tick (a SIGALRM handler: plain stores of
 * aligned 32-bit values, no lock) or from ordinary code while the tick is
 * disarmed.  The io_* record is written by the sampler only, under its
 * change counter.  Readers take each field as it is: a row may mix two
 * consecutive ticks, never a torn value.
 */
typedef struct IosatVacuumSlot
{
	pg_atomic_uint32 pid;		/* owner; 0 when free */
	pg_atomic_uint32 kind;		/* IosatVacKind */
	pg_atomic_uint32 state;		/* IosatVacState */
	pg_atomic_uint32 wraparound;	/* the table is vacuumed to prevent wraparound */
	pg_atomic_uint32 multiplier;	/* applied, in 1/1000 */
	pg_atomic_uint32 base[3];	/* hit, miss, dirty as configured */
	pg_atomic_uint32 cost[3];	/* hit, miss, dirty in force */
	pg_atomic_uint32 cost_limit;	/* the active limit (after balancing) */
	pg_atomic_uint32 cost_delay_us; /* the active delay */
	pg_atomic_uint32 ticks;
	pg_atomic_uint32 changes;	/* ticks that changed the costs */
	pg_atomic_uint32 adoptions; /* new base values adopted (reload, SET) */
	pg_atomic_uint32 held;		/* ticks that held a wraparound vacuum at base */
	pg_atomic_uint32 inactive;	/* ticks with cost delay off or failsafe */

	/* written by the sampler */
	pg_atomic_uint32 io_changecount;
	int32		io_pid;			/* whose figures these are */
	bool		io_valid;		/* rates computed (two readings) */
	double		read_mbps;		/* read_bytes: fetched from storage */
	double		write_mbps;		/* write_bytes: sent (or to be sent) to storage */
	double		rchar_mbps;		/* bytes through read calls, cache hits included */
	int64		read_bytes;
	int64		write_bytes;
	int64		rchar;
	TimestampTz io_time;
} IosatVacuumSlot;

typedef struct IosatVacuumShared
{
	/* the policy's state, written by the sampler */
	pg_atomic_uint32 pressure;	/* the signal it acted on, in 1/1000 */
	pg_atomic_uint64 slowed_us; /* time the multiplier was above 1 */
	pg_atomic_uint64 sped_us;	/* time it was below 1 */
	pg_atomic_uint64 slowdowns; /* episodes: from <= 1 to > 1 */

	/* counters of slots since released, folded in by their owners */
	pg_atomic_uint64 done_ticks;
	pg_atomic_uint64 done_changes;
	pg_atomic_uint64 done_adoptions;
	pg_atomic_uint64 done_held;
	pg_atomic_uint64 done_inactive;
	pg_atomic_uint64 workers_seen;	/* slots ever claimed */

	int			nslots;
	IosatVacuumSlot slots[FLEXIBLE_ARRAY_MEMBER];
} IosatVacuumShared;

extern IosatVacuumShared *iosat_vac;

/* vacuum.c */
extern Size iosat_vacuum_shmem_size(void);
extern void iosat_vacuum_shmem_init(void);
extern void iosat_vacuum_install(void);
extern const char *iosat_vacuum_state_name(IosatVacState s);
extern const char *iosat_vacuum_kind_name(IosatVacKind k);

/* vacuum_policy.c (runs in the sampler) */
extern void iosat_vacuum_policy_update(TimestampTz now, double pressure,
									   bool have_signal);

#endif							/* IOSAT_VACUUM_H */
