/*-------------------------------------------------------------------------
 *
 * querystats.h
 *	  What each statement (by queryid) costs in I/O, learned at ExecutorEnd.
 *
 *-------------------------------------------------------------------------
 */
#ifndef IOSAT_QUERYSTATS_H
#define IOSAT_QUERYSTATS_H

#include "postgres.h"

#include "state/shared.h"

/* a consistent copy of an entry (iosat_queries) */
typedef struct IosatQuerySnapshot
{
	uint64		queryid;
	uint64		calls;
	uint64		blocks_read;
	uint64		rows;
	uint64		queued;
	uint64		rejected;
	IosatDecision last_decision;
} IosatQuerySnapshot;


extern Size iosat_querystats_shmem_size(void);
extern void iosat_querystats_shmem_init(void);

extern IosatQueryTable *iosat_query_table(void);
/* entry i's figures, read under its lock; false when the entry is free */
extern bool iosat_query_snapshot(int i, IosatQuerySnapshot *snap);
/* forget every queryid (iosat_queries_reset) */
extern void iosat_query_reset(void);
/* backend-local cache in front of the table; see querystats.c */
extern void iosat_query_record(uint64 queryid, uint64 blocks, uint64 rows);
extern void iosat_query_flush(void);
extern void iosat_query_note_decision(uint64 queryid, IosatDecision d);
extern const char *iosat_decision_name(IosatDecision d);

/*
 * Lock-free, no allocation: blocks read per call learned so far for
 * queryid; -1 when there is no history (unknown, untracked, or its entry
 * changed hands while it was read).
 */
extern double iosat_query_reads_per_call(uint64 queryid);

#endif							/* IOSAT_QUERYSTATS_H */
