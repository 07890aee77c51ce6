/*-------------------------------------------------------------------------
 *
 * locks.c
 *	  What this backend holds that a heavy statement holding an admission
 *	  slot could be waiting for.
 *
 * A statement that waits in the admission queue keeps what its
 * transaction took before it.  If a slot holder waits for one of those
 * things, the two wait for each other until iosat.queue_timeout; and while
 * it waits, everything that queues behind its locks waits too, cheap
 * statements included.  So a heavy statement whose transaction holds any
 * of these is admitted at once (counted as bypass_locks):
 *	- a transaction ID: it wrote, or locked rows (SELECT FOR UPDATE/SHARE);
 *	  others wait for its rows through the ID;
 *	- a relation lock stronger than ROW SHARE (the locks reads take), taken
 *	  before this statement: LOCK TABLE, DDL, a DML that changed nothing;
 *	- an advisory lock, of the transaction or of the session;
 *	- any other lock-manager lock stronger than ACCESS SHARE (objects
 *	  locked by DDL, say);
 *	- under SERIALIZABLE, the predicate locks of earlier statements of the
 *	  transaction (they block no one, but a transaction kept open longer
 *	  makes others' serialization failures more likely and keeps READ ONLY
 *	  DEFERRABLE transactions waiting).
 * The statement's own relation locks, taken at parse and plan time (ACCESS
 * SHARE for a read, ROW EXCLUSIVE for a DML, on its tables and on their
 * indexes), do not count: they are known from its range table.  A transaction that ran other statements but holds
 * only read locks now waits in the queue like any other: that is what
 * applications with autocommit off send.
 *
 * What is left: a slot holder that waits for one of these statement locks
 * (a CREATE INDEX waiting for a queued UPDATE's ROW EXCLUSIVE lock, a
 * VACUUM FULL for a queued SELECT's ACCESS SHARE) is not running I/O;
 * admission.c lends its slot to the queue while it waits in the lock
 * manager, so the queue moves on.
 *
 * The look is done only when the statement would otherwise wait (a full
 * gate): it reads the transaction state, this backend's fast-path lock
 * slots under its own fpInfoLock, and its PROCLOCK list of each of the
 * lock manager's 16 partitions under that partition's lock in shared mode,
 * as pg_locks does for all backends; then, with those released, it looks
 * up in the syscache which of the relations locked are indexes of the
 * statement's tables.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/index.h"
#include "nodes/parsenodes.h"
#include "storage/lmgr.h"
#include "storage/lock.h"
#include "storage/lwlock.h"
#include "storage/proc.h"
#include "utils/timestamp.h"

#include "compat.h"
#include "control/locks.h"

/* the locks reads take: they block only ACCESS EXCLUSIVE */
#define READ_LOCKS	(LOCKBIT_ON(AccessShareLock) | LOCKBIT_ON(RowShareLock))

static LOCKMODE
strongest(LOCKMASK mask)
{
	for (LOCKMODE m = MaxLockMode; m > NoLock; m--)
		if (mask & LOCKBIT_ON(m))
			return m;
	return NoLock;
}

/* is a lock of MODE on RELID one the statement itself takes? */
static bool
statement_takes(List *rtable, Oid relid, LOCKMODE mode)
{
	ListCell   *lc;

	foreach(lc, rtable)
	{
		RangeTblEntry *rte = lfirst_node(RangeTblEntry, lc);

		if (rte->relid == relid && mode <= rte->rellockmode)
			return true;
	}
	return false;
}

static const char *
relation_lock(Oid relid, LOCKMODE mode)
{
	return psprintf("a %s on relation %u",
					GetLockmodeName(DEFAULT_LOCKMETHOD, mode), relid);
}

/*
 * Relation locks stronger than reads take, collected under the lock
 * manager's locks and judged after they are released (judging may read
 * the catalog, which takes locks of its own).
 */
#define MAX_CANDIDATES 64
typedef struct Candidates
{
	int			n;
	bool		overflow;
	Oid			relid[MAX_CANDIDATES];
	LOCKMODE	mode[MAX_CANDIDATES];
} Candidates;

static void
add_candidate(Candidates *c, List *rtable, Oid relid, LOCKMODE mode)
{
	if (statement_takes(rtable, relid, mode))
		return;
	if (c->n == MAX_CANDIDATES)
	{
		c->overflow = true;
		return;
	}
	c->relid[c->n] = relid;
	c->mode[c->n] = mode;
	c->n++;
}

/*
 * The statement takes locks on its tables' indexes too (the planner opens
 * them in the table's mode: ROW EXCLUSIVE for a DML's target): a lock on
 * an index whose table the statement takes in that mode is its own.
 */
static const char *
judge(Candidates *c, List *rtable)
{
	for (int i = 0; i < c->n; i++)
	{
		Oid			heap = IndexGetRelation(c->relid[i], true);

		if (!OidIsValid(heap) || !statement_takes(rtable, heap, c->mode[i]))
			return relation_lock(c->relid[i], c->mode[i]);
	}
	if (c->overflow)
		return "more relation locks than it looks at";
	return NULL;
}

/* the weak relation locks held through the fast path (ROW EXCLUSIVE) */
static void
fast_path_locks(Candidates *c, List *rtable)
{
	LWLockAcquire(&MyProc->fpInfoLock, LW_SHARED);
	for (int slot = 0; slot < IOSAT_FP_SLOTS(); slot++)
	{
		/* bit k is mode k + 1: ACCESS SHARE, ROW SHARE, ROW EXCLUSIVE */
		if (IOSAT_FP_MODE_BITS(slot) & (1 << (RowExclusiveLock - 1)))
			add_candidate(c, rtable, IOSAT_FP_RELID(slot), RowExclusiveLock);
	}
	LWLockRelease(&MyProc->fpInfoLock);
}

/* the locks in the main lock table; a word for one that is not a relation's */
static const char *
main_table_locks(Candidates *c, List *rtable)
{
	const char *what = NULL;

	for (int p = 0; p < NUM_LOCK_PARTITIONS && what == NULL; p++)
	{
		LWLock	   *partition = LockHashPartitionLockByIndex(p);

		LWLockAcquire(partition, LW_SHARED);
		for (PROCLOCK *pl = iosat_next_own_proclock(p, NULL);
			 pl != NULL && what == NULL;
			 pl = iosat_next_own_proclock(p, pl))
		{
			LOCKTAG    *tag = &pl->tag.myLock->tag;
			LOCKMASK	held = pl->holdMask;
			LOCKMODE	mode = strongest(held);

			if (held == 0)
				continue;		/* a lock it waits for, not one it holds */
			switch ((LockTagType) tag->locktag_type)
			{
				case LOCKTAG_VIRTUALTRANSACTION:
				case LOCKTAG_TRANSACTION:
					/* its own IDs: the transaction ID is looked at first */
					break;
				case LOCKTAG_ADVISORY:
					what = "an advisory lock";
					break;
				case LOCKTAG_RELATION:
					if ((held & ~READ_LOCKS) != 0)
						add_candidate(c, rtable, (Oid) tag->locktag_field2, mode);
					break;
				default:
					if ((held & ~LOCKBIT_ON(AccessShareLock)) != 0)
						what = psprintf("a %s on an object (lock tag type %d)",
										GetLockmodeName(DEFAULT_LOCKMETHOD, mode),
										(int) tag->locktag_type);
					break;
			}
		}
		LWLockRelease(partition);
	}
	return what;
}

const char *
iosat_held_lock_others_may_wait_for(List *rtable)
{
	const char *what;
	Candidates	c;

	if (TransactionIdIsValid(GetTopTransactionIdIfAny()))
		return "a transaction ID";
	if (IsolationIsSerializable() && IsTransactionBlock() &&
		GetCurrentTransactionStartTimestamp() != GetCurrentStatementStartTimestamp())
		return "the predicate locks of a SERIALIZABLE transaction";
	c.n = 0;
	c.overflow = false;
	fast_path_locks(&c, rtable);
	what = main_table_locks(&c, rtable);
	if (what == NULL)
		what = judge(&c, rtable);
	return what;
}
