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
#include "storage/spin.h"

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

/*
 * One queryid's figures.  Read without a lock; written only under mutex,
 * and only while queryid is still the one the writer looked up (see
 * querystats.c), except the clock bit "referenced", which lookups set and
 * eviction sweeps clear without it.  64 bytes: one cache line.
 */
typedef struct IosatQueryEntry
{
	pg_atomic_uint64 queryid;	/* 0: free */
	pg_atomic_uint64 calls;
	pg_atomic_uint64 blocks_read;
	pg_atomic_uint64 rows;
	pg_atomic_uint64 queued;	/* times it waited in the queue */
	pg_atomic_uint64 rejected;	/* times it was refused (full, timeout, reject) */
	pg_atomic_uint32 last_decision;
	pg_atomic_uint32 referenced;	/* clock bit: looked up since the last sweep */
	slock_t		mutex;			/* claim, evict, add, reset, consistent read */
} IosatQueryEntry;

typedef struct IosatQueryTable
{
	int			size;
	pg_atomic_uint64 untracked;	/* calls of queryids not in the table */
	/* entries start on a cache line of their own (asserted in querystats.c) */
	char		pad[PG_CACHE_LINE_SIZE - sizeof(pg_atomic_uint64) - MAXIMUM_ALIGNOF];
	IosatQueryEntry entries[FLEXIBLE_ARRAY_MEMBER];
} IosatQueryTable;

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
