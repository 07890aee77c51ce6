/*-------------------------------------------------------------------------
 *
 * querystats.c
 *	  A fixed-size table of per-queryid I/O: calls, blocks read, dirtied
 *	  and written, WAL bytes, rows returned.  Admission control asks it
 *	  whether a statement is cheap or heavy (by its reads or its writes);
 *	  iosat_queries shows it.
 *
 * Open addressing: a queryid lives within PROBE_WINDOW slots of its home
 * slot.  Lookups (ExecutorStart) read atomics and take no lock.  Every
 * write to an entry (claiming it, adding counts, evicting its queryid,
 * clearing it on reset) holds the entry's spinlock and first checks that
 * the entry still holds the queryid the writer looked up: between a lookup
 * and a write the entry may have changed hands (an eviction, or
 * iosat_queries_reset() and a claim by another queryid), and counts added
 * through the stale pointer would land on that other queryid.  An entry
 * changing hands sets its queryid to 0, then clears its counters, then
 * sets the new queryid; a lock-free reader re-reads the queryid after the
 * counters and takes a change for "unknown".
 *
 * When a queryid's window is full, an entry is evicted by CLOCK (second
 * chance): a lookup that finds an entry sets its referenced bit (a store
 * only when the bit is clear, that is once per sweep); an eviction sweeps
 * the window from the home slot, clearing the bits it passes, and takes
 * the first entry whose bit was already clear.  If all were set it takes
 * none this time: each was looked up since the last sweep.  A new entry
 * starts unreferenced, so one-off queryids evict one another first.
 *
 * PROBE_WINDOW is 8 (it was 32 without eviction): a lookup of an unknown
 * queryid in a full table reads 8 entries (8 cache lines).  A longer
 * window would only fill the table a little more before the first
 * eviction; with eviction it no longer decides what can be learned.
 *
 * Each backend keeps a small direct-mapped cache of the queryids it ran
 * recently.  For a queryid in the table it sums calls and publishes them
 * when the queryid is first seen (so history exists at once), when a call
 * was heavy (read iosat.cheap_reads blocks or dirtied iosat.cheap_writes:
 * a heavy statement is learned at once), every PUBLISH_EVERY calls, when
 * another queryid takes the cache line, and at backend exit: at some 100k
 * statements a second, atomic adds on every statement to a cache line that
 * every backend reads at ExecutorStart cost about 1% of throughput.  A queryid that found its
 * window full is remembered as untracked: its lookups and calls then touch
 * no shared memory, except that at its 2nd, 4th, 8th ... call in this
 * backend (then every UNTRACKED_RETRY calls), and at once for a heavy
 * call, it tries to take an entry (evicting one).  So statements that run
 * once (ad-hoc SQL, IN-lists of many lengths) do not churn a full table,
 * and one that recurs is learned.  Calls that never make it into the table
 * are counted per backend and added to the shared "untracked" count in
 * batches.  A backend that crashes loses at most its cached calls.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "common/hashfn.h"
#include "storage/ipc.h"
#include "storage/shmem.h"

#include "guc.h"
#include "state/shared.h"
#include "state/querystats.h"

#define PROBE_WINDOW 8
#define LOCAL_SLOTS 64			/* backend-local cache, direct-mapped */
#define PUBLISH_EVERY 32		/* calls cached before they are published */
#define UNTRACKED_RETRY 64		/* an untracked queryid's later tries */
#define UNTRACKED_BATCH 256		/* untracked calls summed before the add */

StaticAssertDecl(offsetof(IosatQueryTable, entries) % PG_CACHE_LINE_SIZE == 0,
				 "iosat query entries must start on a cache line");
#ifndef PG_HAVE_ATOMIC_U64_SIMULATION
StaticAssertDecl(offsetof(IosatQueryEntry, rejected) == IOSAT_QUERY_LINE &&
				 sizeof(IosatQueryEntry) == 2 * IOSAT_QUERY_LINE,
				 "what ExecutorStart reads of an iosat query entry must fill its first cache line");
#endif

typedef struct LocalQuery
{
	uint64		queryid;		/* 0: free */
	bool		untracked;		/* its window was full: not in the table */
	uint64		calls;			/* not published yet */
	IosatStmtIo io;
	uint64		rows;

	/*
	 * The table's blocks read and dirtied per call, as last looked up in
	 * memo_entry, kept until this backend next publishes its calls (at most
	 * PUBLISH_EVERY later, at once after a heavy call): the figures change
	 * only as calls are published, so ExecutorStart need not probe the
	 * table again, only check that the entry is still queryid's and mark
	 * it referenced, as a lookup does.
	 */
	IosatQueryEntry *memo_entry;	/* NULL: no memo */
	double		memo_reads;
	double		memo_dirtied;
} LocalQuery;

static LocalQuery local[LOCAL_SLOTS];
static uint64 untracked_calls = 0;	/* not yet added to table->untracked */
static bool exit_registered = false;

/*
 * The queryid whose ExecutorStart lookup last found neither it nor a free
 * slot in its window: ExecutorEnd and the decision note need not look again.
 */
static uint64 missing_queryid = 0;


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
			pg_atomic_init_u64(&e->blocks_dirtied, 0);
			pg_atomic_init_u64(&e->blocks_written, 0);
			pg_atomic_init_u64(&e->wal_bytes, 0);
			pg_atomic_init_u64(&e->rows, 0);
			pg_atomic_init_u64(&e->queued, 0);
			pg_atomic_init_u64(&e->rejected, 0);
			pg_atomic_init_u32(&e->last_decision, IOSAT_DEC_NONE);
			pg_atomic_init_u32(&e->referenced, 0);
			SpinLockInit(&e->mutex);
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

static inline int
window_size(void)
{
	return Min(PROBE_WINDOW, table->size);
}

static inline IosatQueryEntry *
window_entry(uint64 queryid, int i)
{
	return &table->entries[(home_slot(queryid) + i) % table->size];
}

/*
 * Lock-free: queryid's entry, or NULL.  *free_slot: the free entry the
 * probe stopped at (entries are freed only all together, by a reset, so a
 * queryid is never past one), NULL when the window is full.
 */
static IosatQueryEntry *
lookup(uint64 queryid, IosatQueryEntry **free_slot)
{
	*free_slot = NULL;
	for (int i = 0; i < window_size(); i++)
	{
		IosatQueryEntry *e = window_entry(queryid, i);
		uint64		id = pg_atomic_read_u64(&e->queryid);

		if (id == queryid)
			return e;
		if (id == 0)
		{
			*free_slot = e;
			return NULL;
		}
	}
	return NULL;
}

/*
 * CLOCK over queryid's (full) window: the first entry not looked up since
 * the last sweep, clearing the referenced bits of those passed; NULL when
 * every one was.  *owner: the queryid the victim held.
 */
static IosatQueryEntry *
sweep(uint64 queryid, uint64 *owner)
{
	for (int i = 0; i < window_size(); i++)
	{
		IosatQueryEntry *e = window_entry(queryid, i);

		if (pg_atomic_read_u32(&e->referenced) != 0)
			pg_atomic_write_u32(&e->referenced, 0);
		else
		{
			*owner = pg_atomic_read_u64(&e->queryid);
			return e;
		}
	}
	return NULL;
}

/*
 * Under e's lock: e becomes queryid's (0: free), without history.  The
 * queryid goes to 0 first and gets its new value last, so that a lock-free
 * reader that read the old queryid before and after the counters read the
 * old owner's counters.
 */
static void
hand_over(IosatQueryEntry *e, uint64 queryid)
{
	pg_atomic_write_u64(&e->queryid, 0);
	pg_write_barrier();
	pg_atomic_write_u64(&e->calls, 0);
	pg_atomic_write_u64(&e->blocks_read, 0);
	pg_atomic_write_u64(&e->blocks_dirtied, 0);
	pg_atomic_write_u64(&e->blocks_written, 0);
	pg_atomic_write_u64(&e->wal_bytes, 0);
	pg_atomic_write_u64(&e->rows, 0);
	pg_atomic_write_u64(&e->queued, 0);
	pg_atomic_write_u64(&e->rejected, 0);
	pg_atomic_write_u32(&e->last_decision, IOSAT_DEC_NONE);
	pg_atomic_write_u32(&e->referenced, 0);
	pg_write_barrier();
	pg_atomic_write_u64(&e->queryid, queryid);
}

/* under e's lock, the only writer of its counters */
static inline void
add_u64(pg_atomic_uint64 *counter, uint64 n)
{
	if (n > 0)
		pg_atomic_write_u64(counter, pg_atomic_read_u64(counter) + n);
}

/*
 * Add to queryid's entry, claiming a free one in its window or, with evict,
 * evicting one (see sweep).  The counts go in under the entry's lock and
 * only if the entry still holds what the lookup saw: never onto an entry
 * that has changed hands meanwhile.  d, unless IOSAT_DEC_NONE, becomes the
 * last decision (and counts as queued or refused).  false: not in the
 * table, nothing added.
 */
static bool
add_counts(uint64 queryid, bool evict, uint64 calls, const IosatStmtIo *io,
		   uint64 rows, IosatDecision d)
{
	/* a few tries: each failure means a concurrent claim, eviction or reset */
	for (int attempt = 0; attempt < 4; attempt++)
	{
		IosatQueryEntry *free_slot;
		IosatQueryEntry *e = lookup(queryid, &free_slot);
		uint64		expected = queryid;

		if (e == NULL && free_slot != NULL)
		{
			e = free_slot;
			expected = 0;
		}
		else if (e == NULL && evict)
			e = sweep(queryid, &expected);
		if (e == NULL)
			return false;

		SpinLockAcquire(&e->mutex);
		if (pg_atomic_read_u64(&e->queryid) != expected)
		{
			SpinLockRelease(&e->mutex);
			continue;
		}
		if (expected != queryid)
			hand_over(e, queryid);	/* new entries start unreferenced */
		else if (pg_atomic_read_u32(&e->referenced) == 0)
			pg_atomic_write_u32(&e->referenced, 1);
		add_u64(&e->calls, calls);
		if (io != NULL)
		{
			add_u64(&e->blocks_read, io->blocks_read);
			add_u64(&e->blocks_dirtied, io->blocks_dirtied);
			add_u64(&e->blocks_written, io->blocks_written);
			add_u64(&e->wal_bytes, io->wal_bytes);
		}
		add_u64(&e->rows, rows);
		if (d != IOSAT_DEC_NONE)
		{
			pg_atomic_write_u32(&e->last_decision, (uint32) d);
			if (d == IOSAT_DEC_QUEUED)
				add_u64(&e->queued, 1);
			else if (d == IOSAT_DEC_TIMED_OUT || d == IOSAT_DEC_REJECTED)
				add_u64(&e->rejected, 1);
		}
		SpinLockRelease(&e->mutex);
		return true;
	}
	return false;
}

static inline LocalQuery *
local_slot(uint64 queryid)
{
	return &local[queryid % LOCAL_SLOTS];
}

static inline bool
local_untracked(uint64 queryid)
{
	LocalQuery *p = local_slot(queryid);

	return p->queryid == queryid && p->untracked;
}

/*
 * Lock-free, no allocation: blocks read and dirtied per call learned for
 * queryid; false when there is no history.  *window_full: not found and no
 * free slot in its window.
 */
static bool
per_call(uint64 queryid, bool *window_full, double *reads, double *dirtied)
{
	LocalQuery *p;
	IosatQueryEntry *free_slot;
	IosatQueryEntry *e;
	uint64		calls;
	uint64		r;
	uint64		d;

	*window_full = false;
	if (queryid == 0 || table == NULL)
		return false;
	p = local_slot(queryid);
	if (p->queryid == queryid)
	{
		if (p->untracked)
		{
			*window_full = true;
			return false;
		}
		e = p->memo_entry;
		if (e != NULL && pg_atomic_read_u64(&e->queryid) == queryid)
		{
			if (pg_atomic_read_u32(&e->referenced) == 0)
				pg_atomic_write_u32(&e->referenced, 1);
			*reads = p->memo_reads;
			*dirtied = p->memo_dirtied;
			return true;
		}
		p->memo_entry = NULL;	/* evicted or reset since */
	}
	e = lookup(queryid, &free_slot);
	if (e == NULL)
	{
		*window_full = (free_slot == NULL);
		return false;
	}
	if (pg_atomic_read_u32(&e->referenced) == 0)
		pg_atomic_write_u32(&e->referenced, 1);
	pg_read_barrier();
	calls = pg_atomic_read_u64(&e->calls);
	r = pg_atomic_read_u64(&e->blocks_read);
	d = pg_atomic_read_u64(&e->blocks_dirtied);
	pg_read_barrier();
	/* evicted or reset while we read: its counters may be another's */
	if (calls == 0 || pg_atomic_read_u64(&e->queryid) != queryid)
		return false;
	*reads = (double) r / calls;
	*dirtied = (double) d / calls;
	if (p->queryid == queryid)
	{
		p->memo_entry = e;
		p->memo_reads = *reads;
		p->memo_dirtied = *dirtied;
	}
	return true;
}

bool
iosat_query_per_call(uint64 queryid, double *reads, double *dirtied)
{
	bool		window_full;
	bool		known = per_call(queryid, &window_full, reads, dirtied);

	missing_queryid = window_full ? queryid : 0;
	return known;
}

static void
flush_untracked(void)
{
	if (untracked_calls > 0 && table != NULL)
		pg_atomic_fetch_add_u64(&table->untracked, untracked_calls);
	untracked_calls = 0;
}

static void
count_untracked(uint64 calls)
{
	untracked_calls += calls;
	if (untracked_calls >= UNTRACKED_BATCH)
		flush_untracked();
}

/* publish p's cached calls; if the table has no entry for it, p is untracked */
static void
publish_local(LocalQuery *p, bool evict)
{
	p->memo_entry = NULL;		/* the figures are about to change */
	if (p->calls == 0)
		return;
	p->untracked = !add_counts(p->queryid, evict, p->calls, &p->io,
							   p->rows, IOSAT_DEC_NONE);
	if (!p->untracked)
	{
		p->calls = 0;
		memset(&p->io, 0, sizeof(p->io));
		p->rows = 0;
	}
}

/* p's queryid leaves the cache: its calls go to the table, or are untracked */
static void
retire_local(LocalQuery *p)
{
	if (p->queryid != 0 && !p->untracked)
		publish_local(p, p->calls >= 2);
	if (p->queryid != 0 && p->untracked)
		count_untracked(p->calls);
	memset(p, 0, sizeof(*p));
}

/* publish everything this backend has cached */
void
iosat_query_flush(void)
{
	for (int i = 0; i < LOCAL_SLOTS; i++)
		retire_local(&local[i]);
	flush_untracked();
}

static void
flush_at_exit(int code, Datum arg)
{
	iosat_query_flush();
}

/* an untracked queryid tries to take an entry at its 2nd, 4th, 8th ... call */
static inline bool
retry_due(uint64 calls)
{
	return calls >= 2 &&
		((calls & (calls - 1)) == 0 || calls % UNTRACKED_RETRY == 0);
}

/*
 * One execution of queryid ended, having done io and processed rows.  The
 * caller must not be in a signal handler: the cache is not re-entrant.
 */
void
iosat_query_record(uint64 queryid, const IosatStmtIo *io, uint64 rows)
{
	LocalQuery *p;
	bool		heavy = iosat_io_is_heavy((double) io->blocks_read,
										  (double) io->blocks_dirtied);
	bool		full = (queryid == missing_queryid);
	bool		tried = false;

	missing_queryid = 0;
	if (queryid == 0 || table == NULL)
		return;
	if (!exit_registered)
	{
		before_shmem_exit(flush_at_exit, 0);
		exit_registered = true;
	}
	p = local_slot(queryid);
	if (p->queryid != queryid)
	{
		bool		learned = false;

		/* the cache line is someone else's, or free: take it */
		retire_local(p);
		p->queryid = queryid;
		if (!full && !heavy)
		{
			double		r;
			double		d;

			learned = per_call(queryid, &full, &r, &d);
		}
		if (full && !heavy)
			p->untracked = true;	/* no room: not before it recurs */
		else if (!learned)
		{
			/* no history yet, or a heavy call: learn it at once */
			if (add_counts(queryid, heavy, 1, io, rows, IOSAT_DEC_NONE))
				return;
			p->untracked = true;
			tried = true;
		}
	}
	p->calls++;
	p->io.blocks_read += io->blocks_read;
	p->io.blocks_dirtied += io->blocks_dirtied;
	p->io.blocks_written += io->blocks_written;
	p->io.wal_bytes += io->wal_bytes;
	p->rows += rows;
	if (tried)
		return;
	if (heavy ||
		(p->untracked ? retry_due(p->calls) : p->calls >= PUBLISH_EVERY))
		publish_local(p, true);
}

void
iosat_query_note_decision(uint64 queryid, IosatDecision d)
{
	bool		counted = (d == IOSAT_DEC_QUEUED || d == IOSAT_DEC_TIMED_OUT ||
						   d == IOSAT_DEC_REJECTED);

	if (queryid == 0 || table == NULL)
		return;
	if (!counted)
	{
		IosatQueryEntry *free_slot;
		IosatQueryEntry *e;

		/* while saturated, for every statement: no lock if nothing changes */
		if (queryid == missing_queryid || local_untracked(queryid))
			return;
		e = lookup(queryid, &free_slot);
		if (e != NULL && pg_atomic_read_u32(&e->last_decision) == (uint32) d)
			return;
	}
	/* a queued or refused statement may evict: it is what a DBA looks for */
	(void) add_counts(queryid, counted, 0, NULL, 0, d);
}

bool
iosat_query_snapshot(int i, IosatQuerySnapshot *snap)
{
	IosatQueryEntry *e = &table->entries[i];

	if (pg_atomic_read_u64(&e->queryid) == 0)
		return false;
	SpinLockAcquire(&e->mutex);
	snap->queryid = pg_atomic_read_u64(&e->queryid);
	snap->calls = pg_atomic_read_u64(&e->calls);
	snap->io.blocks_read = pg_atomic_read_u64(&e->blocks_read);
	snap->io.blocks_dirtied = pg_atomic_read_u64(&e->blocks_dirtied);
	snap->io.blocks_written = pg_atomic_read_u64(&e->blocks_written);
	snap->io.wal_bytes = pg_atomic_read_u64(&e->wal_bytes);
	snap->rows = pg_atomic_read_u64(&e->rows);
	snap->queued = pg_atomic_read_u64(&e->queued);
	snap->rejected = pg_atomic_read_u64(&e->rejected);
	snap->last_decision = (IosatDecision) pg_atomic_read_u32(&e->last_decision);
	SpinLockRelease(&e->mutex);
	return snap->queryid != 0;
}

void
iosat_query_reset(void)
{
	for (int i = 0; i < table->size; i++)
	{
		IosatQueryEntry *e = &table->entries[i];

		SpinLockAcquire(&e->mutex);
		hand_over(e, 0);
		SpinLockRelease(&e->mutex);
	}
	pg_atomic_write_u64(&table->untracked, 0);
	/* (other backends see the entries change hands at their next look) */
	for (int i = 0; i < LOCAL_SLOTS; i++)
		local[i].memo_entry = NULL;
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
