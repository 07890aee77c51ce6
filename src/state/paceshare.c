/*-------------------------------------------------------------------------
 *
 * paceshare.c
 *	  The pacing segment of shared memory ("iosat pacing", struct in
 *	  state/shared.h): a read budget per paced parallel statement, shared by
 *	  its leader and its workers, so that a Parallel Seq Scan reads no
 *	  faster in all its processes together than one paced process may.
 *	  control/pacing.c claims, attaches and charges; the views read it.
 *
 * One slot per PGPROC, indexed by the leader's proc number: workers find it
 * through their lock group leader (MyProc->lockGroupLeader), with no
 * message from the leader.  Atomics only.  The leader claims the slot by
 * publishing its owner word last, after resetting the rest; a worker
 * attaches by counting itself and then re-reading the owner word (the
 * leader may have freed it meanwhile: then it uncounts itself and goes
 * unpaced).  A slot is freed by its leader only, after its workers are gone
 * (PostgreSQL waits for them before the leader's executor state is freed,
 * also on error), or at the leader's exit; a crash re-initialises shared
 * memory.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "storage/shmem.h"
#include "utils/timestamp.h"

#include "state/paceshare.h"
#include "state/shared.h"
#include "state/shmem.h"

IosatPaceShared *iosat_pace = NULL;

Size
iosat_pace_shmem_size(void)
{
	return MAXALIGN(add_size(offsetof(IosatPaceShared, slots),
							 mul_size(sizeof(IosatPaceSlot), iosat_total_procs())));
}

/* called from shmem_startup_hook with AddinShmemInitLock held */
void
iosat_pace_shmem_init(void)
{
	bool		found;

	iosat_pace = ShmemInitStruct("iosat pacing", iosat_pace_shmem_size(), &found);
	if (found)
		return;
	iosat_pace->nslots = iosat_total_procs();
	for (int i = 0; i < iosat_pace->nslots; i++)
	{
		IosatPaceSlot *s = &iosat_pace->slots[i];

		pg_atomic_init_u64(&s->owner, 0);
		pg_atomic_init_u64(&s->tat_us, 0);
		pg_atomic_init_u32(&s->slow_cap_milli, 0);
		pg_atomic_init_u64(&s->slow_at, 0);
		pg_atomic_init_u32(&s->counted, 0);
		pg_atomic_init_u32(&s->workers, 0);
		pg_atomic_init_u32(&s->workers_seen, 0);
		pg_atomic_init_u64(&s->leader_blocks, 0);
		pg_atomic_init_u64(&s->worker_blocks, 0);
		pg_atomic_init_u64(&s->slept_us, 0);
		pg_atomic_init_u64(&s->since, 0);
	}
}

void
iosat_pace_claim(int procno, uint64 owner, uint32 slow_cap_milli, int64 now)
{
	IosatPaceSlot *s = iosat_pace_slot(procno);

	pg_atomic_write_u64(&s->tat_us, 0);	/* a full bucket */
	pg_atomic_write_u32(&s->slow_cap_milli, slow_cap_milli);
	pg_atomic_write_u64(&s->slow_at, (uint64) now);
	pg_atomic_write_u32(&s->counted, 0);
	pg_atomic_write_u32(&s->workers, 0);
	pg_atomic_write_u32(&s->workers_seen, 0);
	pg_atomic_write_u64(&s->leader_blocks, 0);
	pg_atomic_write_u64(&s->worker_blocks, 0);
	pg_atomic_write_u64(&s->slept_us, 0);
	pg_atomic_write_u64(&s->since, (uint64) GetCurrentTimestamp());
	/* the owner last: a worker that sees it sees the rest reset */
	pg_write_barrier();
	pg_atomic_write_u64(&s->owner, owner);
}

void
iosat_pace_release(int procno, uint64 owner)
{
	IosatPaceSlot *s = iosat_pace_slot(procno);
	uint64		expected = owner;

	(void) pg_atomic_compare_exchange_u64(&s->owner, &expected, 0);
}

uint64
iosat_pace_attach(int procno, int leader_pid)
{
	IosatPaceSlot *s;
	uint64		owner;

	if (procno < 0 || procno >= iosat_pace->nslots)
		return 0;
	s = iosat_pace_slot(procno);
	owner = pg_atomic_read_u64(&s->owner);
	if (owner == 0 || iosat_pace_owner_pid(owner) != leader_pid)
		return 0;
	pg_atomic_fetch_add_u32(&s->workers, 1);
	/* the leader may have freed it meanwhile (fetch_add is a full barrier) */
	if (pg_atomic_read_u64(&s->owner) != owner)
	{
		pg_atomic_fetch_sub_u32(&s->workers, 1);
		return 0;
	}
	pg_atomic_fetch_add_u32(&s->workers_seen, 1);
	return owner;
}

void
iosat_pace_detach(int procno, uint64 owner, int64 blocks_left)
{
	IosatPaceSlot *s = iosat_pace_slot(procno);

	/* a slot freed and claimed again was reset: nothing of ours is in it */
	if (pg_atomic_read_u64(&s->owner) != owner)
		return;
	if (blocks_left > 0)
		pg_atomic_fetch_add_u64(&s->worker_blocks, (uint64) blocks_left);
	pg_atomic_fetch_sub_u32(&s->workers, 1);
}

int64
iosat_pace_charge(IosatPaceSlot *s, int64 blocks, double rate, double burst,
				  int64 now)
{
	double		us_per_block = 1e6 / rate;
	int64		burst_us = (int64) (burst * us_per_block);
	int64		cost = (int64) (blocks * us_per_block);
	uint64		old = pg_atomic_read_u64(&s->tat_us);

	for (;;)
	{
		/* empty at tat: a bucket idle for a burst's time is full */
		int64		tat = Max((int64) old, now - burst_us) + cost;

		if (pg_atomic_compare_exchange_u64(&s->tat_us, &old, (uint64) tat))
			return tat;
	}
}
