/*-------------------------------------------------------------------------
 *
 * admission.h
 *	  Admission control: the executor hooks that queue or reject heavy
 *	  statements while the storage is saturated.
 *
 *-------------------------------------------------------------------------
 */
#ifndef IOSAT_ADMISSION_H
#define IOSAT_ADMISSION_H

#include "postgres.h"

#include "port/atomics.h"
#include "datatype/timestamp.h"
#include "storage/condition_variable.h"
#include "storage/lwlock.h"


/*
 * One per PGPROC.  Only the owning backend writes heavy_running; the
 * queue fields are written under the admission lock.
 */
typedef struct IosatBackendSlot
{
	pg_atomic_uint32 heavy_running; /* slots this backend holds */
	int			pid;			/* owner, 0 when unused */
	bool		queued;			/* in the queue (under the lock) */
	TimestampTz queued_since;
	uint64		queryid;
	ConditionVariable cv;		/* signalled when it may be its turn */
} IosatBackendSlot;

/* counters, all monotonic */
typedef enum IosatCounter
{
	IOSAT_C_CHEAP = 0,			/* passed as cheap while saturated */
	IOSAT_C_SLOT,				/* took a free slot while saturated */
	IOSAT_C_QUEUED,				/* entered the queue */
	IOSAT_C_ADMITTED_FROM_QUEUE,
	IOSAT_C_TIMED_OUT,
	IOSAT_C_REJECTED,			/* mode reject, or queue full */
	IOSAT_C_CANCELLED,			/* left the queue by cancel, timeout, exit */
	IOSAT_C_BYPASS_EXEMPT,
	IOSAT_C_BYPASS_LOCKS,		/* lock holders never wait */
	IOSAT_C_BYPASS_HOLDER,		/* already holds a slot */
	IOSAT_C_WOULD_QUEUE,		/* monitor mode */
	IOSAT_C_WOULD_REJECT,
	IOSAT_C_FAIL_OPEN,			/* saturated but the data was stale */
	IOSAT_C_RECLAIMED,			/* slots of dead backends freed */
	IOSAT_C_PREFETCH_CAPPED,	/* heavy statements started with capped prefetch */
	IOSAT_C_PACED,				/* heavy statements slowed by read pacing */
	IOSAT_C_PACE_US,			/* total time paced statements slept */
	IOSAT_C_WAIT_US,			/* total time spent queued */
	IOSAT_C_WAIT_MAX_US,
	IOSAT_NUM_COUNTERS
} IosatCounter;

typedef struct IosatAdmissionShared
{
	LWLock	   *lock;			/* the queue */
	int			nslots;
	int			qhead;			/* ring of procnos, under the lock */
	int			qlen;
	pg_atomic_uint32 queued;	/* qlen, readable without the lock */
	pg_atomic_uint32 running;	/* sum of the slots' heavy_running */
	pg_atomic_uint64 counters[IOSAT_NUM_COUNTERS];
	IosatBackendSlot slots[FLEXIBLE_ARRAY_MEMBER];
	/* followed by int queue[nslots] */
} IosatAdmissionShared;

extern IosatAdmissionShared *iosat_adm;

extern Size iosat_admission_shmem_size(void);
extern void iosat_admission_shmem_request(void);
extern void iosat_admission_shmem_init(void);
extern void iosat_admission_install_hooks(void);

/* for the sampler and governor */
extern uint32 iosat_admission_count_running(void);
extern uint32 iosat_admission_queued(void);
extern void iosat_admission_wake(bool all);
extern void iosat_admission_reclaim(void);

#endif							/* IOSAT_ADMISSION_H */
