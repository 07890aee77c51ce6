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

#include "port/atomics.h"

/* the last decision admission control made for a query */
typedef enum IosatDecision
{
	IOSAT_DEC_NONE = 0,
	IOSAT_DEC_ADMITTED,			/* healthy device */
	IOSAT_DEC_CHEAP,			/* saturated, passed as cheap */
	IOSAT_DEC_SLOT,				/* saturated, took a free slot at once */
	IOSAT_DEC_QUEUED,			/* saturated, waited, then ran */
	IOSAT_DEC_TIMED_OUT,
	IOSAT_DEC_REJECTED,
	IOSAT_DEC_BYPASS,			/* saturated, exempt or lock holder */
	IOSAT_DEC_WOULD_QUEUE,		/* monitor mode */
	IOSAT_DEC_WOULD_REJECT		/* monitor mode */
} IosatDecision;

typedef struct IosatQueryEntry
{
	pg_atomic_uint64 queryid;	/* 0: free */
	pg_atomic_uint64 calls;
	pg_atomic_uint64 blocks_read;
	pg_atomic_uint64 rows;
	pg_atomic_uint64 queued;	/* times it waited in the queue */
	pg_atomic_uint64 rejected;	/* times it was refused (full, timeout, reject) */
	pg_atomic_uint32 last_decision;
} IosatQueryEntry;

typedef struct IosatQueryTable
{
	int			size;
	pg_atomic_uint64 untracked;	/* calls not recorded: table full */
	IosatQueryEntry entries[FLEXIBLE_ARRAY_MEMBER];
} IosatQueryTable;


extern Size iosat_querystats_shmem_size(void);
extern void iosat_querystats_shmem_init(void);

/* lock-free: NULL when the queryid is unknown (or 0) */
extern IosatQueryEntry *iosat_query_find(uint64 queryid);
/* lock-free: finds or claims an entry; NULL when the table is full */
extern IosatQueryEntry *iosat_query_enter(uint64 queryid);
extern IosatQueryTable *iosat_query_table(void);
/* backend-local cache in front of the table; see querystats.c */
extern void iosat_query_record(uint64 queryid, uint64 blocks, uint64 rows);
extern void iosat_query_flush(void);
extern void iosat_query_note_decision(uint64 queryid, IosatDecision d);
extern const char *iosat_decision_name(IosatDecision d);

/* blocks read per call learned so far; -1 when there is no history */
extern double iosat_query_reads_per_call(const IosatQueryEntry *e);

#endif							/* IOSAT_QUERYSTATS_H */
