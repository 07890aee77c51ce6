/*-------------------------------------------------------------------------
 *
 * queue.h
 *	  The admission segment (struct IosatAdmissionShared in state/shared.h):
 *	  the queue of statements waiting for a slot and the count of heavy
 *	  statements running.  See state/queue.c.
 *
 *-------------------------------------------------------------------------
 */
#ifndef IOSAT_QUEUE_H
#define IOSAT_QUEUE_H

#include "state/shared.h"

extern IosatAdmissionShared *iosat_adm;

extern Size iosat_admission_shmem_size(void);
extern void iosat_admission_shmem_request(void);
extern void iosat_admission_shmem_init(void);

/* the queue: under iosat_adm->lock, exclusive */
extern void iosat_queue_push(int procno);
extern int	iosat_queue_head(void);
extern bool iosat_queue_remove(int procno);

/* a slot's counts of running heavy statements (its owner, or the sampler) */
extern void iosat_set_slot_running(IosatBackendSlot *s, uint32 slots, uint32 apart);

/* lock-free reads */
extern uint32 iosat_admission_count_running(void);
extern uint32 iosat_admission_count_apart(void);
extern uint32 iosat_admission_queued(void);
extern uint64 iosat_admission_paced_us(void);

/* signal the queue's head, or everyone queued (the gate opened) */
extern void iosat_admission_wake(bool all);

/* the sampler: free the slots and queue places of exited backends */
extern void iosat_admission_reclaim(void);

#endif							/* IOSAT_QUEUE_H */
