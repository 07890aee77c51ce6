/*-------------------------------------------------------------------------
 *
 * paceshare.h
 *	  The pacing segment ("iosat pacing", struct IosatPaceShared in
 *	  state/shared.h): one read budget per paced parallel statement, which
 *	  its leader and workers share.  See state/paceshare.c.
 *
 *-------------------------------------------------------------------------
 */
#ifndef IOSAT_PACESHARE_H
#define IOSAT_PACESHARE_H

#include "postgres.h"

#include "state/shared.h"

extern IosatPaceShared *iosat_pace;

extern Size iosat_pace_shmem_size(void);
extern void iosat_pace_shmem_init(void);

/* the leader: claim the slot of proc number PROCNO for a statement; free it */
extern void iosat_pace_claim(int procno, uint64 owner, uint32 slow_cap_milli,
							 int64 now);
extern void iosat_pace_release(int procno, uint64 owner);

/*
 * A worker: attach to the statement its leader (PROCNO, LEADER_PID) paces
 * now; returns its owner word, or 0 when the leader paces none.  Detach
 * with that word, adding the blocks read since its last charge.
 */
extern uint64 iosat_pace_attach(int procno, int leader_pid);
extern void iosat_pace_detach(int procno, uint64 owner, int64 blocks_left);

/*
 * Charge BLOCKS read at RATE blocks/s, with a bucket of BURST blocks:
 * returns the iosat_mono_us() time until which the caller must sleep
 * (<= now: none).
 */
extern int64 iosat_pace_charge(IosatPaceSlot *s, int64 blocks, double rate,
							   double burst, int64 now);

static inline IosatPaceSlot *
iosat_pace_slot(int procno)
{
	return &iosat_pace->slots[procno];
}

static inline int
iosat_pace_owner_pid(uint64 owner)
{
	return (int) (owner >> 32);
}

#endif							/* IOSAT_PACESHARE_H */
