/*-------------------------------------------------------------------------
 *
 * querystats.c
 *	  A fixed-size, lock-free table of per-queryid I/O: calls, blocks read,
 *	  rows returned.  Admission control asks it whether a statement is
 *	  cheap or heavy; iosat_queries shows it.
 *
 * Open addressing with linear probing over at most PROBE_LIMIT slots.  An
 * entry is claimed by compare-and-swap of its queryid from 0; counters are
 * atomic adds, so ExecutorEnd never takes a lock.  Entries are never
 * evicted: when the table is full, new queryids are not learned (their
 * calls are counted in "untracked") and are classified by planner cost.
 * iosat_queries_reset() empties the table.
 *
 * A backend does not write the shared entry at every ExecutorEnd: at some
 * 100k statements a second, three atomic adds on one cache line that every
 * backend also reads at ExecutorStart cost about 1% of throughput.  Calls
 * are summed in a small backend-local cache and published when a queryid
 * is first seen (so history exists at once), when a call read at least
 * iosat.cheap_reads blocks (a heavy statement is learned at once), every
 * PUBLISH_EVERY calls, when another queryid takes the cache line, and at
 * backend exit.  A backend that crashes loses at most its cached calls.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "common/hashfn.h"
#include "storage/ipc.h"
#include "storage/shmem.h"

#include "params.h"
#include "params.h"
#include "state/shared.h"
#include "state/querystats.h"

#define PROBE_LIMIT 32
#define PENDING_SLOTS 16		/* backend-local cache, direct-mapped */
#define PUBLISH_EVERY 32		/* calls cached before they are published */

typedef struct PendingCalls
{
	uint64		queryid;		/* 0: free */
	uint32		calls;
	uint64		blocks_read;
	uint64		rows;
} PendingCalls;

static PendingCalls pending[PENDING_SLOTS];
static bool pending_exit_registered = false;


static IosatQueryTable *table = NULL;

Size
iosat_querystats_shmem_size(void)
{
	return add_size(offsetof(IosatQueryTable, entries),
					mul_size(sizeof(IosatQueryEntry), iosat_max_queries));
}

void
iosat_querystats_shmem_init(void)
{
	bool		found;

	table = ShmemInitStruct("iosat queries", iosat_querystats_shmem_size(),
							&found);
	if (!found)
	{
		table->size = iosat_max_queries;
		pg_atomic_init_u64(&table->untracked, 0);
		for (int i = 0; i < table->size; i++)
		{
			IosatQueryEntry *e = &table->entries[i];

			pg_atomic_init_u64(&e->queryid, 0);
			pg_atomic_init_u64(&e->calls, 0);
			pg_atomic_init_u64(&e->blocks_read, 0);
			pg_atomic_init_u64(&e->rows, 0);
			pg_atomic_init_u64(&e->queued, 0);
			pg_atomic_init_u64(&e->rejected, 0);
			pg_atomic_init_u32(&e->last_decision, IOSAT_DEC_NONE);
		}
	}
}

IosatQueryTable *
iosat_query_table(void)
{
	return table;
}

static inline uint32
home_slot(uint64 queryid)
{
	return (uint32) (hash_bytes_uint32((uint32) queryid ^ (uint32) (queryid >> 32)) %
					 (uint32) table->size);
}

/*
 * Probe for queryid from its home slot; with claim, take the first free
 * slot on the way (compare-and-swap from 0), else stop there: a free slot
 * ends every probe sequence, as entries are never removed one by one.
 */
static IosatQueryEntry *
probe(uint64 queryid, bool claim)
{
	uint32		slot;

	if (queryid == 0 || table == NULL)
		return NULL;
	slot = home_slot(queryid);
	for (int i = 0; i < PROBE_LIMIT && i < table->size; i++)
	{
		IosatQueryEntry *e = &table->entries[(slot + i) % table->size];
		uint64		id = pg_atomic_read_u64(&e->queryid);

		if (id == queryid)
			return e;
		if (id == 0)
		{
			uint64		expected = 0;

			if (!claim)
				return NULL;
			if (pg_atomic_compare_exchange_u64(&e->queryid, &expected, queryid))
				return e;
			if (expected == queryid)
				return e;		/* another backend claimed it for us */
		}
	}
	if (claim)
		pg_atomic_fetch_add_u64(&table->untracked, 1);
	return NULL;
}

IosatQueryEntry *
iosat_query_find(uint64 queryid)
{
	return probe(queryid, false);
}

IosatQueryEntry *
iosat_query_enter(uint64 queryid)
{
	return probe(queryid, true);
}

static void
publish(uint64 queryid, uint64 calls, uint64 blocks, uint64 rows)
{
	IosatQueryEntry *e;

	if (calls == 0)
		return;
	e = probe(queryid, true);
	if (e == NULL)
	{
		/* probe() counted one untracked call; count the rest */
		if (calls > 1 && table != NULL)
			pg_atomic_fetch_add_u64(&table->untracked, calls - 1);
		return;
	}
	pg_atomic_fetch_add_u64(&e->calls, calls);
	if (blocks > 0)
		pg_atomic_fetch_add_u64(&e->blocks_read, blocks);
	if (rows > 0)
		pg_atomic_fetch_add_u64(&e->rows, rows);
}

static void
publish_pending(PendingCalls *p)
{
	if (p->queryid != 0)
		publish(p->queryid, p->calls, p->blocks_read, p->rows);
	p->queryid = 0;
	p->calls = 0;
	p->blocks_read = 0;
	p->rows = 0;
}

/* publish everything this backend has cached */
void
iosat_query_flush(void)
{
	for (int i = 0; i < PENDING_SLOTS; i++)
		publish_pending(&pending[i]);
}

static void
flush_at_exit(int code, Datum arg)
{
	iosat_query_flush();
}

/*
 * One execution of queryid ended, having read blocks and processed rows.
 * The caller must not be in a signal handler: the cache is not re-entrant.
 */
void
iosat_query_record(uint64 queryid, uint64 blocks, uint64 rows)
{
	PendingCalls *p;

	if (queryid == 0 || table == NULL)
		return;
	p = &pending[queryid % PENDING_SLOTS];
	if (p->queryid != queryid)
	{
		/* the cache line is someone else's, or free: publish and take it */
		publish_pending(p);
		if (iosat_query_reads_per_call(probe(queryid, false)) < 0 ||
			blocks >= (uint64) iosat_cheap_reads)
		{
			/* no history yet, or a heavy call: learn it at once */
			publish(queryid, 1, blocks, rows);
			return;
		}
		if (!pending_exit_registered)
		{
			before_shmem_exit(flush_at_exit, 0);
			pending_exit_registered = true;
		}
		p->queryid = queryid;
	}
	p->calls++;
	p->blocks_read += blocks;
	p->rows += rows;
	if (p->calls >= PUBLISH_EVERY || blocks >= (uint64) iosat_cheap_reads)
		publish_pending(p);
}

void
iosat_query_note_decision(uint64 queryid, IosatDecision d)
{
	IosatQueryEntry *e = iosat_query_enter(queryid);

	if (e == NULL)
		return;
	if (pg_atomic_read_u32(&e->last_decision) != (uint32) d)
		pg_atomic_write_u32(&e->last_decision, (uint32) d);
	if (d == IOSAT_DEC_QUEUED)
		pg_atomic_fetch_add_u64(&e->queued, 1);
	else if (d == IOSAT_DEC_TIMED_OUT || d == IOSAT_DEC_REJECTED)
		pg_atomic_fetch_add_u64(&e->rejected, 1);
}

double
iosat_query_reads_per_call(const IosatQueryEntry *e)
{
	uint64		calls;

	if (e == NULL)
		return -1;
	calls = pg_atomic_read_u64(unconstify(pg_atomic_uint64 *, &e->calls));
	if (calls == 0)
		return -1;
	return (double) pg_atomic_read_u64(unconstify(pg_atomic_uint64 *, &e->blocks_read)) / calls;
}

const char *
iosat_decision_name(IosatDecision d)
{
	switch (d)
	{
		case IOSAT_DEC_NONE:
			return NULL;
		case IOSAT_DEC_ADMITTED:
			return "admitted";
		case IOSAT_DEC_CHEAP:
			return "cheap";
		case IOSAT_DEC_SLOT:
			return "slot";
		case IOSAT_DEC_QUEUED:
			return "queued";
		case IOSAT_DEC_TIMED_OUT:
			return "timed out";
		case IOSAT_DEC_REJECTED:
			return "rejected";
		case IOSAT_DEC_BYPASS:
			return "bypass";
		case IOSAT_DEC_WOULD_QUEUE:
			return "would queue";
		case IOSAT_DEC_WOULD_REJECT:
			return "would reject";
	}
	return NULL;
}
