/*-------------------------------------------------------------------------
 *
 * queue.c
 *	  The admission segment of shared memory ("iosat admission", struct in
 *	  state/shared.h): the FIFO queue of statements waiting for a slot, each
 *	  backend's count of heavy statements running and their total, and the
 *	  counters.  Backends (control/admission.c) take and release slots and
 *	  queue places through it; the sampler wakes the queue and frees what
 *	  exited processes left.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <signal.h>

#include "miscadmin.h"
#include "storage/condition_variable.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"

#include "state/queue.h"
#include "state/shared.h"
#include "state/shmem.h"

IosatAdmissionShared *iosat_adm = NULL;

static inline int *
queue_ring(void)
{
	return (int *) &iosat_adm->slots[iosat_adm->nslots];
}

Size
iosat_admission_shmem_size(void)
{
	Size		sz = offsetof(IosatAdmissionShared, slots);

	sz = add_size(sz, mul_size(sizeof(IosatBackendSlot), iosat_total_procs()));
	sz = add_size(sz, mul_size(sizeof(int), iosat_total_procs()));
	return MAXALIGN(sz);
}

void
iosat_admission_shmem_request(void)
{
	RequestAddinShmemSpace(iosat_admission_shmem_size());
	RequestNamedLWLockTranche("iosat", 1);
}

void
iosat_admission_shmem_init(void)
{
	bool		found;

	iosat_adm = ShmemInitStruct("iosat admission", iosat_admission_shmem_size(),
								&found);
	if (!found)
	{
		iosat_adm->lock = &(GetNamedLWLockTranche("iosat"))->lock;
		iosat_adm->nslots = iosat_total_procs();
		iosat_adm->qhead = 0;
		iosat_adm->qlen = 0;
		pg_atomic_init_u32(&iosat_adm->queued, 0);
		pg_atomic_init_u32(&iosat_adm->running, 0);
		pg_atomic_init_u32(&iosat_adm->apart, 0);
		for (int i = 0; i < IOSAT_NUM_COUNTERS; i++)
			pg_atomic_init_u64(&iosat_adm->counters[i], 0);
		for (int i = 0; i < iosat_adm->nslots; i++)
		{
			IosatBackendSlot *s = &iosat_adm->slots[i];

			pg_atomic_init_u32(&s->heavy_running, 0);
			pg_atomic_init_u32(&s->heavy_apart, 0);
			s->pid = 0;
			s->queued = false;
			s->queued_since = 0;
			s->queryid = 0;
			ConditionVariableInit(&s->cv);
		}
	}
}

/* ---------------------------------------------------------------------
 * The queue (all under iosat_adm->lock)
 * ---------------------------------------------------------------------
 */
void
iosat_queue_push(int procno)
{
	int		   *ring = queue_ring();

	ring[(iosat_adm->qhead + iosat_adm->qlen) % iosat_adm->nslots] = procno;
	iosat_adm->qlen++;
	pg_atomic_write_u32(&iosat_adm->queued, iosat_adm->qlen);
}

int
iosat_queue_head(void)
{
	return iosat_adm->qlen > 0 ? queue_ring()[iosat_adm->qhead] : -1;
}

/* remove procno wherever it stands; returns whether it was there */
bool
iosat_queue_remove(int procno)
{
	int		   *ring = queue_ring();
	int			n = iosat_adm->nslots;
	int			pos = -1;

	for (int i = 0; i < iosat_adm->qlen; i++)
		if (ring[(iosat_adm->qhead + i) % n] == procno)
		{
			pos = i;
			break;
		}
	if (pos < 0)
		return false;
	for (int i = pos; i < iosat_adm->qlen - 1; i++)
		ring[(iosat_adm->qhead + i) % n] = ring[(iosat_adm->qhead + i + 1) % n];
	iosat_adm->qlen--;
	if (iosat_adm->qlen == 0)
		iosat_adm->qhead = 0;
	pg_atomic_write_u32(&iosat_adm->queued, iosat_adm->qlen);
	return true;
}

uint32
iosat_admission_count_running(void)
{
	if (iosat_adm == NULL)
		return 0;
	return pg_atomic_read_u32(&iosat_adm->running);
}

/* set one of a slot's counts, and the total by the difference */
static void
set_count(pg_atomic_uint32 *mine, pg_atomic_uint32 *total, uint32 n)
{
	uint32		old = pg_atomic_read_u32(mine);

	if (old == n)
		return;
	pg_atomic_write_u32(mine, n);
	if (n > old)
		pg_atomic_fetch_add_u32(total, n - old);
	else
		pg_atomic_fetch_sub_u32(total, old - n);
}

/*
 * Set a slot's counts of running heavy statements: those that hold a slot
 * and those admitted apart.  Only the slot's owner calls this, or the
 * sampler for an owner that is gone, so the totals stay the sums of the
 * slots.
 */
void
iosat_set_slot_running(IosatBackendSlot *s, uint32 slots, uint32 apart)
{
	set_count(&s->heavy_running, &iosat_adm->running, slots);
	set_count(&s->heavy_apart, &iosat_adm->apart, apart);
}

uint32
iosat_admission_count_apart(void)
{
	if (iosat_adm == NULL)
		return 0;
	return pg_atomic_read_u32(&iosat_adm->apart);
}

uint32
iosat_admission_queued(void)
{
	return iosat_adm ? pg_atomic_read_u32(&iosat_adm->queued) : 0;
}

/* the time paced statements have slept, in all (IOSAT_C_PACE_US) */
uint64
iosat_admission_paced_us(void)
{
	return iosat_adm ? pg_atomic_read_u64(&iosat_adm->counters[IOSAT_C_PACE_US]) : 0;
}

/* signal the queue head (or everyone queued, when the gate opened) */
void
iosat_admission_wake(bool all)
{
	if (iosat_adm == NULL || pg_atomic_read_u32(&iosat_adm->queued) == 0)
		return;
	LWLockAcquire(iosat_adm->lock, LW_SHARED);
	if (all)
	{
		int		   *ring = queue_ring();

		for (int i = 0; i < iosat_adm->qlen; i++)
			ConditionVariableSignal(&iosat_adm->slots[ring[(iosat_adm->qhead + i) %
														   iosat_adm->nslots]].cv);
	}
	else if (iosat_adm->qlen > 0)
		ConditionVariableSignal(&iosat_adm->slots[iosat_queue_head()].cv);
	LWLockRelease(iosat_adm->lock);
}

/*
 * Called by the sampler each sample: free the slots and queue places of
 * backends that are gone without having released them.
 */
void
iosat_admission_reclaim(void)
{
	if (iosat_adm == NULL)
		return;
	for (int i = 0; i < iosat_adm->nslots; i++)
	{
		IosatBackendSlot *s = &iosat_adm->slots[i];
		int			pid = s->pid;
		uint32		held_slots;

		if (pid == 0 ||
			(pg_atomic_read_u32(&s->heavy_running) == 0 &&
			 pg_atomic_read_u32(&s->heavy_apart) == 0 && !s->queued))
			continue;
		if (kill(pid, 0) == 0 || errno != ESRCH)
			continue;
		LWLockAcquire(iosat_adm->lock, LW_EXCLUSIVE);
		if (s->pid == pid)
		{
			held_slots = pg_atomic_read_u32(&s->heavy_running) +
				pg_atomic_read_u32(&s->heavy_apart);
			iosat_queue_remove(i);
			s->queued = false;
			iosat_set_slot_running(s, 0, 0);
			s->pid = 0;
		}
		else
			held_slots = 0;
		LWLockRelease(iosat_adm->lock);
		if (held_slots > 0)
		{
			pg_atomic_fetch_add_u64(&iosat_adm->counters[IOSAT_C_RECLAIMED],
									held_slots);
			ereport(LOG,
					(errmsg("iosat: freed %u admission slots of exited process %d",
							held_slots, pid)));
		}
	}
}

