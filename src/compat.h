/*-------------------------------------------------------------------------
 *
 * compat.h
 *	  Every difference between the PostgreSQL versions iosat supports
 *	  (15, 16, 17, 18, 19) lives here, and only here.
 *
 * Each guard names the release that changed the API; they were checked
 * against those releases' headers (see test/matrix/FACTS.md).
 *
 *-------------------------------------------------------------------------
 */
#ifndef IOSAT_COMPAT_H
#define IOSAT_COMPAT_H

#include "postgres.h"

#if PG_VERSION_NUM < 150000
#error "iosat requires PostgreSQL 15 or later"
#endif

/* 16 declares _PG_init in fmgr.h */
#if PG_VERSION_NUM < 160000
extern PGDLLEXPORT void _PG_init(void);
#endif

/* 16 moved queryjumble.h from utils/ to nodes/ */
#if PG_VERSION_NUM >= 160000
#include "nodes/queryjumble.h"
#else
#include "utils/queryjumble.h"
#endif

/* 18 made queryId signed (int64); 15-17 have uint64 */
#if PG_VERSION_NUM >= 180000
typedef int64 iosat_queryid;
#else
typedef uint64 iosat_queryid;
#endif

/* 17 replaced direct use of MyProc->pgprocno with MyProcNumber */
#if PG_VERSION_NUM >= 170000
#define IOSAT_MY_PROCNO()		(MyProcNumber)
#define IOSAT_PROCNO(proc)		GetNumberFromPGProc(proc)
#else
#define IOSAT_MY_PROCNO()		(MyProc->pgprocno)
#define IOSAT_PROCNO(proc)		((proc)->pgprocno)
#endif

/*
 * The wait event of a cleanup-lock wait (LockBufferForCleanup), the same
 * value 0x04000000 in every version: 15-16 name it by its class
 * (PG_WAIT_BUFFER_PIN, event "BufferPin"), 17 generated
 * WAIT_EVENT_BUFFER_PIN, 19 renamed the class Buffer (its other events are
 * buffer content locks) and the event "BufferCleanup".
 */
#if PG_VERSION_NUM >= 190000
#define IOSAT_WAIT_EVENT_CLEANUP_LOCK	WAIT_EVENT_BUFFER_CLEANUP
#elif PG_VERSION_NUM >= 170000
#define IOSAT_WAIT_EVENT_CLEANUP_LOCK	WAIT_EVENT_BUFFER_PIN
#else
#define IOSAT_WAIT_EVENT_CLEANUP_LOCK	PG_WAIT_BUFFER_PIN
#endif

/* 17 added custom wait events for extensions */
#if PG_VERSION_NUM >= 170000
#define IOSAT_HAVE_CUSTOM_WAIT_EVENTS 1
#endif

/*
 * The wait events of a statement queued by admission control and of one
 * slowed by read pacing: their own names, "IosatAdmission" and "IosatPace",
 * on 17+ (registered lazily, in the backend that first waits, and cached
 * in *ev); the generic "Extension" before.
 */
#ifdef IOSAT_HAVE_CUSTOM_WAIT_EVENTS
#include "utils/wait_event.h"
static inline uint32
iosat_custom_wait_event(uint32 *ev, const char *name)
{
	if (*ev == 0)
		*ev = WaitEventExtensionNew(name);
	return *ev;
}
#define iosat_wait_event_admission() \
	iosat_custom_wait_event(&iosat_wait_event_admission_id, "IosatAdmission")
#define iosat_wait_event_pace() \
	iosat_custom_wait_event(&iosat_wait_event_pace_id, "IosatPace")
static uint32 iosat_wait_event_admission_id pg_attribute_unused() = 0;
static uint32 iosat_wait_event_pace_id pg_attribute_unused() = 0;
#else
#include "pgstat.h"
#define iosat_wait_event_admission() ((uint32) PG_WAIT_EXTENSION)
#define iosat_wait_event_pace() ((uint32) PG_WAIT_EXTENSION)
#endif

/*
 * 18 added asynchronous I/O (storage/aio_internal.h): with io_method =
 * worker, io worker processes (B_IO_WORKER) perform backends' reads
 * (collect/aio.c)
 */
#if PG_VERSION_NUM >= 180000
#define IOSAT_HAVE_AIO 1
#define IOSAT_IS_IO_WORKER(btype)	((btype) == B_IO_WORKER)
#else
#define IOSAT_IS_IO_WORKER(btype)	false
#endif

/* 18 dropped ExecutorRun's execute_once argument */
#if PG_VERSION_NUM >= 180000
#define IOSAT_EXECUTORRUN_EXTRA_PARAM
#define IOSAT_EXECUTORRUN_EXTRA_ARG
#else
#define IOSAT_EXECUTORRUN_EXTRA_PARAM , bool execute_once
#define IOSAT_EXECUTORRUN_EXTRA_ARG , execute_once
#endif

/*
 * 19 added the planner hook's ExplainState argument (EXPLAIN's options;
 * optimizer/planner.h declares the type)
 */
#if PG_VERSION_NUM >= 190000
#define IOSAT_PLANNER_EXTRA_PARAM	, ExplainState *es
#define IOSAT_PLANNER_EXTRA_ARG		, es
#else
#define IOSAT_PLANNER_EXTRA_PARAM
#define IOSAT_PLANNER_EXTRA_ARG
#endif

/*
 * The table a CLUSTER names (control/utility.c): 19 replaced ClusterStmt
 * with RepackStmt, which CLUSTER and the new REPACK both parse to, naming
 * the table by a VacuumRelation.  NULL: every table clustered before.
 */
#if PG_VERSION_NUM >= 190000
#define IOSAT_T_CLUSTER_STMT	T_RepackStmt
#define IOSAT_CLUSTER_RELATION(stmt) \
	(((RepackStmt *) (stmt))->relation ? \
	 ((RepackStmt *) (stmt))->relation->relation : NULL)
#else
#define IOSAT_T_CLUSTER_STMT	T_ClusterStmt
#define IOSAT_CLUSTER_RELATION(stmt)	(((ClusterStmt *) (stmt))->relation)
#endif

/*
 * Backend-status snapshot by 1-based index (the rows of pg_stat_activity):
 * 16 renamed pgstat_fetch_stat_local_beentry() to
 * pgstat_get_local_beentry_by_index() (test/matrix/FACTS.md; the guard
 * was 17 until the 16 build was tried).  Callers include
 * utils/backend_status.h.
 */
#if PG_VERSION_NUM >= 160000
#define iosat_local_beentry(idx)	pgstat_get_local_beentry_by_index(idx)
#else
#define iosat_local_beentry(idx)	pgstat_fetch_stat_local_beentry(idx)
#endif

/*
 * Vacuum cost accounting (src/vacuum.c).  Callers include miscadmin.h.
 *
 * 17 replaced IsAutoVacuumWorkerProcess() (postmaster/autovacuum.h) with
 * the AmAutoVacuumWorkerProcess() macro (miscadmin.h).
 */
#if PG_VERSION_NUM >= 170000
#define iosat_am_autovacuum_worker()	AmAutoVacuumWorkerProcess()
#else
#include "postmaster/autovacuum.h"
#define iosat_am_autovacuum_worker()	IsAutoVacuumWorkerProcess()
#endif

/*
 * The cost delay and limit a running vacuum uses: 16 split them from the
 * GUC variables (VacuumCostDelay/VacuumCostLimit stay the configured
 * values; vacuum_cost_delay/vacuum_cost_limit in commands/vacuum.h are
 * the active ones, rebalanced for autovacuum workers).  16 also added
 * VacuumFailsafeActive; on 15 the failsafe only clears VacuumCostActive.
 */
#if PG_VERSION_NUM >= 160000
#include "commands/vacuum.h"
#define IOSAT_VACUUM_ACTIVE_DELAY()		(vacuum_cost_delay)
#define IOSAT_VACUUM_ACTIVE_LIMIT()		(vacuum_cost_limit)
#define IOSAT_VACUUM_FAILSAFE_ACTIVE()	(VacuumFailsafeActive)
#else
#define IOSAT_VACUUM_ACTIVE_DELAY()		(VacuumCostDelay)
#define IOSAT_VACUUM_ACTIVE_LIMIT()		(VacuumCostLimit)
#define IOSAT_VACUUM_FAILSAFE_ACTIVE()	(false)
#endif

/*
 * This backend's own entries in the lock manager (control/locks.c).
 * 16 turned PGPROC's per-partition lists of PROCLOCKs from SHM_QUEUE into
 * dlist; 18 made the fast-path slots variable in number (groups of 16,
 * FastPathLockSlotsPerBackend()) with the mode bits in one uint64 per
 * group.  A fast-path slot holds weak relation locks only, 3 bits per
 * slot, bit k for lock mode k + 1.  Callers hold the partition's lock
 * (PROCLOCK lists) or MyProc->fpInfoLock (fast-path slots).
 */
#include "storage/lock.h"
#include "storage/proc.h"

static inline PROCLOCK *
iosat_next_own_proclock(int partition, PROCLOCK *prev)
{
#if PG_VERSION_NUM >= 160000
	dlist_head *list = &MyProc->myProcLocks[partition];
	dlist_node *node = prev ? &prev->procLink : &list->head;

	if (dlist_is_empty(list) || !dlist_has_next(list, node))
		return NULL;
	return dlist_container(PROCLOCK, procLink, node->next);
#else
	SHM_QUEUE  *list = &MyProc->myProcLocks[partition];

	return (PROCLOCK *) SHMQueueNext(list, prev ? &prev->procLink : list,
									 offsetof(PROCLOCK, procLink));
#endif
}

#if PG_VERSION_NUM >= 180000
#define IOSAT_FP_SLOTS()		FastPathLockSlotsPerBackend()
#define IOSAT_FP_MODE_BITS(slot) \
	((uint32) (MyProc->fpLockBits[(slot) / FP_LOCK_SLOTS_PER_GROUP] >> \
			   (3 * ((slot) % FP_LOCK_SLOTS_PER_GROUP))) & 7)
#else
#define IOSAT_FP_SLOTS()		FP_LOCK_SLOTS_PER_BACKEND
#define IOSAT_FP_MODE_BITS(slot) ((uint32) (MyProc->fpLockBits >> (3 * (slot))) & 7)
#endif
#define IOSAT_FP_RELID(slot)	(MyProc->fpRelId[(slot)])

/*
 * Whether a virtual-transaction lock tag is this backend's own vxid (17
 * numbers processes by ProcNumber, and keeps the vxid in PGPROC.vxid).
 */
#if PG_VERSION_NUM >= 170000
#define IOSAT_IS_MY_VXID_TAG(tag) \
	((tag)->locktag_field1 == (uint32) MyProcNumber && \
	 (tag)->locktag_field2 == MyProc->vxid.lxid)
#else
#define IOSAT_IS_MY_VXID_TAG(tag) \
	((tag)->locktag_field1 == (uint32) MyBackendId && \
	 (tag)->locktag_field2 == MyProc->lxid)
#endif

/*
 * Whether this backend holds the lock TAG in any mode, from its own lock
 * table (no shared lock).  17 added LockHeldByMe's "or stronger".
 */
static inline bool
iosat_lock_held_by_me(const LOCKTAG *tag)
{
#if PG_VERSION_NUM >= 170000
	return LockHeldByMe(tag, 1, true);
#else
	for (LOCKMODE mode = 1; mode <= MaxLockMode; mode++)
		if (LockHeldByMe(tag, mode))
			return true;
	return false;
#endif
}

#endif							/* IOSAT_COMPAT_H */
