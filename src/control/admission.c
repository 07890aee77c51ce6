/*-------------------------------------------------------------------------
 *
 * admission.c
 *	  Admission control in ExecutorStart: while the storage is saturated,
 *	  heavy statements need a slot; without one they wait in a bounded FIFO
 *	  queue or are refused with SQLSTATE 53000.  Cheap statements pass.
 *
 * Who is gated: statements of client backends run by the client's portal
 * (autocommit or in a transaction block), the query a top-level wrapper
 * runs one level down (EXPLAIN ANALYZE, DECLARE CURSOR, EXECUTE, CREATE
 * TABLE AS, COPY (query) TO, REFRESH MATERIALIZED VIEW), and maintenance,
 * CALL and DO as a whole at their start (utility.c).  Never nested
 * statements (functions, SPI, what the planner or a deferred trigger at
 * COMMIT runs), parallel workers, other utility statements, or EXPLAIN
 * without ANALYZE.

 * The hot path.  On a healthy device a statement reads the gate word and
 * its queryid's learned cost (atomics, no lock, no syscall, no allocation).
 * A heavy statement also stores to its own backend's slot entry, so that
 * the number of heavy statements running is exact when saturation begins.
 *
 * Deadlocks.  A queued statement holds its snapshot, its own parse- and
 * plan-time locks and whatever its transaction took before.  A statement
 * whose transaction holds something a slot holder could wait for (an xid,
 * a lock stronger than reads take, an advisory lock: locks.c) never waits:
 * it is admitted at once (counted as bypass_locks), the way CockroachDB
 * lets lock holders go first.  A slot holder that waits in the lock
 * manager does no I/O and lends its slot to the queue while it waits
 * (room_for_one_more), which settles the rest (a VACUUM FULL that took a
 * slot and waits for a queued SELECT's ACCESS SHARE lock).  A backend that
 * already holds a slot (an open cursor, a running CALL) is never made to
 * wait for a second one.  Such bypassers take a slot when one is free and
 * are otherwise counted apart (take_apart): only slot holders count
 * against the limit, so the queue makes progress whatever they do.

 * Releasing.  A slot is released at ExecutorEnd; when ExecutorEnd is not
 * reached (an error, a cancel, a statement_timeout, an error inside a
 * savepoint or a PL/pgSQL EXCEPTION block, a cursor closed early), by the
 * release of the resource owner that was current at ExecutorStart (the
 * portal's); at top-level abort by the transaction callback; at backend
 * exit (FATAL, terminate) by a before_shmem_exit callback; and when a
 * backend died without any of these, the sampler frees the slots of pids
 * that no longer exist.  A crashed backend makes the postmaster
 * re-initialise shared memory, so nothing survives it.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <signal.h>

#include "access/parallel.h"
#include "access/twophase.h"
#include "access/xact.h"
#include "executor/executor.h"
#include "executor/instrument.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "optimizer/planner.h"
#include "storage/bufmgr.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/proc.h"
#include "storage/procarray.h"
#include "storage/shmem.h"
#include "tcop/pquery.h"
#include "tcop/utility.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/inval.h"
#include "utils/resowner.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"
#include "utils/varlena.h"

#include "guc.h"
#include "control/admission.h"
#include "state/queue.h"
#include "clock.h"
#include "compat.h"
#include "state/shared.h"
#include "state/shmem.h"
#include "control/locks.h"
#include "control/pacing.h"
#include "control/utility.h"
#include "state/querystats.h"

/*
 * Slots this backend holds, one per open top-level executor.  A slot is
 * parked (counted for no one) while its statement is not running: a cursor
 * between DECLARE and FETCH or between two FETCHes, a portal suspended by
 * the extended protocol's row limit.  Its next ExecutorRun takes it back
 * without waiting: the statement was admitted already, and it may hold
 * locks.  So a client that leaves a cursor open while idle holds nothing
 * that others wait for.
 */
#define MAX_HELD 64
typedef struct HeldSlot
{
	const void *key;			/* its QueryDesc, or a gated utility's PlannedStmt */
	ResourceOwner owner;
	bool		parked;
	bool		apart;			/* admitted without a slot (see take_apart) */
} HeldSlot;

static HeldSlot held[MAX_HELD];
static int	nheld = 0;
static uint32 nrunning = 0;		/* entries of held[] not parked nor apart */
static uint32 napart = 0;		/* ... apart and not parked */

/* I/O accounting of top-level statements, for learning */
typedef struct Tracked
{
	QueryDesc  *qd;
	ResourceOwner owner;		/* the portal's: released if ExecutorEnd is not reached */
	uint64		queryid;
	IosatStmtIo io;				/* at its start */
	bool		capped;			/* runs with iosat.heavy_io_concurrency */
} Tracked;

static Tracked tracked[MAX_HELD];
static int	ntracked = 0;

/*
 * How deep this backend is in executors and utility statements; restored
 * by PG_FINALLY on every exit, errors included, so nothing else resets it
 * (a ROLLBACK inside a procedure aborts the transaction one level down).
 */
static int	nesting_level = 0;
/*
 * A top-level wrapper (utility.h: EXPLAIN ANALYZE, DECLARE CURSOR,
 * EXECUTE, CREATE TABLE AS, COPY (query) TO, REFRESH MATERIALIZED VIEW)
 * runs its query one level down; until that query starts, and its
 * queryid, for a query that has none of its own
 */
static bool in_toplevel_wrapper = false;
static uint64 wrapper_queryid = 0;

/*
 * REFRESH MATERIALIZED VIEW locks the view (and creates its new heap)
 * before its query starts, and so does CREATE MATERIALIZED VIEW on 17+
 * (it creates the view, with an xid, then fills it as a refresh does):
 * what its transaction held before the statement is looked at when it
 * starts (while the device is saturated; locks.c), and that verdict is the
 * one its query is admitted by.
 */
static bool wrapper_locks_looked = false;
static const char *wrapper_locks_held = NULL;
/* ... and a DECLARE CURSOR's query does not run until the first FETCH */
static bool in_declare_cursor = false;
static bool backend_registered = false;

/*
 * Exempt-role cache, keyed on the user and a generation that a change of
 * iosat.exempt_roles (guc.c) or of role membership (a syscache callback on
 * pg_auth_members and pg_authid) bumps.
 */
static Oid	exempt_cached_user = InvalidOid;
static uint64 exempt_cached_gen = PG_UINT64_MAX;
static bool exempt_cached = false;
uint64		iosat_exempt_roles_gen = 0;

static ExecutorStart_hook_type prev_ExecutorStart = NULL;
static ExecutorRun_hook_type prev_ExecutorRun = NULL;
static ExecutorFinish_hook_type prev_ExecutorFinish = NULL;
static ExecutorEnd_hook_type prev_ExecutorEnd = NULL;
static ProcessUtility_hook_type prev_ProcessUtility = NULL;
static planner_hook_type prev_planner = NULL;

/* a role or a membership changed: look the exemption up again */
static void
roles_changed(Datum arg, int cacheid, uint32 hashvalue)
{
	iosat_exempt_roles_gen++;
}

static inline void
count(IosatCounter c)
{
	pg_atomic_fetch_add_u64(&iosat_adm->counters[c], 1);
}

/*
 * a heavy statement ended normally, having read and dirtied what io says
 * (iosat_controller)
 */
static void
count_heavy_done(const IosatStmtIo *io)
{
	pg_atomic_fetch_add_u64(&iosat_shared->gate.heavy_done, 1);
	pg_atomic_fetch_add_u64(&iosat_shared->gate.heavy_blocks, io->blocks_read);
	pg_atomic_fetch_add_u64(&iosat_shared->gate.heavy_dirtied, io->blocks_dirtied);
}

static inline IosatBackendSlot *
my_slot(void)
{
	return &iosat_adm->slots[IOSAT_MY_PROCNO()];
}

/* ---------------------------------------------------------------------
 * Slots held by this backend
 * ---------------------------------------------------------------------
 */
static void
wake_next_if_room(void)
{
	if (pg_atomic_read_u32(&iosat_adm->queued) > 0)
		iosat_admission_wake(pg_atomic_read_u32(&iosat_shared->gate.saturated) == 0);
}

static void
publish_counts(void)
{
	iosat_set_slot_running(my_slot(), nrunning, napart);
}

static void
hold(const void *key, bool apart)
{
	if (nheld >= MAX_HELD)
		return;					/* untracked: more open cursors than we count */
	held[nheld].key = key;
	held[nheld].owner = CurrentResourceOwner;
	held[nheld].parked = false;
	held[nheld].apart = apart;
	nheld++;
	if (apart)
		napart++;
	else
		nrunning++;
	publish_counts();
}

static void
take_slot(const void *key)
{
	hold(key, false);
}

static bool room_for_one_more(uint32 limit);
static uint32 enforced_limit(void);

/*
 * A statement admitted without waiting for a slot (its transaction holds
 * locks, its role is exempt, its backend holds a slot already): it takes
 * a slot when one is free, and is otherwise counted apart, so that it does
 * not use up the slots the queue waits for (the queue makes progress
 * whatever the bypassers do).
 */
static bool
no_free_slot(void)
{
	uint32		limit;
	bool		none;

	/* the gate open (a healthy device): a slot, and no lock taken */
	if (enforced_limit() == 0)
		return false;
	LWLockAcquire(iosat_adm->lock, LW_EXCLUSIVE);
	/* the queue, when there is one, has the first claim on a free slot */
	limit = enforced_limit();
	none = limit > 0 && (iosat_adm->qlen > 0 || !room_for_one_more(limit));
	LWLockRelease(iosat_adm->lock);
	return none;
}

static void
take_apart(const void *key)
{
	hold(key, no_free_slot());
}

static void
drop_held(int i)
{
	if (!held[i].parked)
	{
		if (held[i].apart)
			napart--;
		else
			nrunning--;
	}
	held[i] = held[--nheld];
	publish_counts();
	wake_next_if_room();
}

static int
find_held(const void *key)
{
	for (int i = nheld - 1; i >= 0; i--)
		if (held[i].key == key)
			return i;
	return -1;
}

/* the statement stops running for now (see HeldSlot): free its slot */
static void
park_slot_of(QueryDesc *qd)
{
	int			i = find_held(qd);

	if (i < 0 || held[i].parked)
		return;
	held[i].parked = true;
	if (held[i].apart)
		napart--;
	else
		nrunning--;
	publish_counts();
	wake_next_if_room();
}

/*
 * ... and runs again, without waiting (it was admitted, and may hold
 * locks): with a slot if one is free, else apart, as take_apart decides
 */
static void
unpark_slot_of(QueryDesc *qd)
{
	int			i = find_held(qd);

	if (i < 0 || !held[i].parked)
		return;
	held[i].parked = false;
	held[i].apart = no_free_slot();
	if (held[i].apart)
		napart++;
	else
		nrunning++;
	publish_counts();
}

static void
release_slot_of(const void *key)
{
	int			i = find_held(key);

	if (i >= 0)
		drop_held(i);
}

static void
release_all_slots(void)
{
	if (nheld == 0)
		return;
	nheld = 0;
	nrunning = 0;
	napart = 0;
	publish_counts();
	wake_next_if_room();
}

/* leave the queue if we are in it (error, cancel, timeout, exit) */
static void
leave_queue(void)
{
	IosatBackendSlot *s = my_slot();
	bool		was_head;

	if (!s->queued)
		return;
	LWLockAcquire(iosat_adm->lock, LW_EXCLUSIVE);
	was_head = iosat_queue_head() == IOSAT_MY_PROCNO();
	if (iosat_queue_remove(IOSAT_MY_PROCNO()))
		count(IOSAT_C_CANCELLED);
	s->queued = false;
	LWLockRelease(iosat_adm->lock);
	if (was_head)
		wake_next_if_room();
}

/*
 * What tracked[i] did is learned, and it is forgotten.  One that ended in
 * an error (a cancel, statement_timeout, a failed bulk write) is learned
 * only if what it did until then is heavy on its own: a heavy statement
 * that never completes is still known as heavy at its next run, while the
 * cheap failures (a lock_timeout, a serialization failure, an error in
 * ExecutorStart) do not pull a heavy statement's average down.
 */
static void
learn_tracked(int i, uint64 rows, bool count_done, bool failed)
{
	IosatStmtIo io = tracked[i].io;

	iosat_stmt_io_since(&io);
	if (!failed || iosat_io_is_heavy((double) io.blocks_read, (double) io.blocks_dirtied))
		iosat_query_record(tracked[i].queryid, &io, rows);
	if (count_done)
		count_heavy_done(&io);
	tracked[i] = tracked[--ntracked];
}

static void
forget_tracked(void)
{
	while (ntracked > 0)
		learn_tracked(ntracked - 1, 0, false, true);
}

/* resource owner release: the portal that took a slot is going away */
static void
resowner_release(ResourceReleasePhase phase, bool isCommit, bool isTopLevel,
				 void *arg)
{
	if (phase != RESOURCE_RELEASE_AFTER_LOCKS)
		return;
	for (int i = nheld - 1; i >= 0; i--)
		if (held[i].owner == CurrentResourceOwner)
			drop_held(i);
	for (int i = ntracked - 1; i >= 0; i--)
		if (tracked[i].owner == CurrentResourceOwner)
			learn_tracked(i, 0, false, !isCommit);
}

static void
xact_callback(XactEvent event, void *arg)
{
	if (event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_ABORT)
	{
		leave_queue();
		release_all_slots();
		forget_tracked();
		/*
		 * At exit this abort comes after the cache's own flush (registered
		 * later, so run earlier): publish what it just learned
		 */
		if (proc_exit_inprogress)
			iosat_query_flush();
	}
}

static void
backend_exit(int code, Datum arg)
{
	IosatBackendSlot *s;

	if (iosat_adm == NULL || MyProc == NULL)
		return;
	s = my_slot();
	ConditionVariableCancelSleep();
	leave_queue();
	release_all_slots();
	LWLockAcquire(iosat_adm->lock, LW_EXCLUSIVE);
	s->pid = 0;
	LWLockRelease(iosat_adm->lock);
}

/*
 * Callbacks that forget what this backend tracks when a portal or the
 * transaction goes away without ExecutorEnd; registered at the first
 * top-level statement, whatever the admission mode.
 */
static bool callbacks_registered = false;

static void
register_callbacks(void)
{
	if (callbacks_registered)
		return;
	RegisterXactCallback(xact_callback, NULL);
	RegisterResourceReleaseCallback(resowner_release, NULL);
	callbacks_registered = true;
}

/* first gated statement of this backend: claim its slot entry */
static void
register_backend(void)
{
	IosatBackendSlot *s;

	if (backend_registered)
		return;
	register_callbacks();
	s = my_slot();
	LWLockAcquire(iosat_adm->lock, LW_EXCLUSIVE);
	if (s->queued)				/* a previous owner's leftovers */
		iosat_queue_remove(IOSAT_MY_PROCNO());
	s->queued = false;
	s->pid = MyProcPid;
	iosat_set_slot_running(s, 0, 0);
	LWLockRelease(iosat_adm->lock);
	before_shmem_exit(backend_exit, 0);
	backend_registered = true;
}

/* ---------------------------------------------------------------------
 * Deciding
 * ---------------------------------------------------------------------
 */
/*
 * Is the current user, or a role it is a member of, listed in
 * iosat.exempt_roles?  Superuser status alone does not exempt.
 */
static bool
role_is_exempt(void)
{
	Oid			user = GetUserId();
	char	   *copy;
	List	   *names;
	ListCell   *lc;
	bool		result = false;
	uint64		gen = iosat_exempt_roles_gen;

	if (iosat_exempt_roles == NULL || iosat_exempt_roles[0] == '\0')
		return false;
	if (user == exempt_cached_user && exempt_cached_gen == gen)
		return exempt_cached;

	copy = pstrdup(iosat_exempt_roles);
	if (SplitIdentifierString(copy, ',', &names))
	{
		foreach(lc, names)
		{
			Oid			role = get_role_oid((char *) lfirst(lc), true);

			if (OidIsValid(role) && is_member_of_role_nosuper(user, role))
			{
				result = true;
				break;
			}
		}
	}
	list_free(names);
	pfree(copy);
	/*
	 * Tagged with the generation read before the look-up: an invalidation
	 * processed during it (catalog access accepts them) is not lost.
	 */
	exempt_cached_user = user;
	exempt_cached_gen = gen;
	exempt_cached = result;
	return result;
}

/*
 * Heavy by its learned reads or writes per call, else (no history) by its
 * plan's cost
 */
static bool
is_heavy(QueryDesc *qd, uint64 queryid)
{
	double		reads;
	double		dirtied;

	if (iosat_query_per_call(queryid, &reads, &dirtied))
		return iosat_io_is_heavy(reads, dirtied);
	return qd->plannedstmt->planTree != NULL &&
		qd->plannedstmt->planTree->total_cost >= iosat_cheap_cost;
}

/*
 * The heavy statements running that count against the limit.  A slot
 * holder waiting in the lock manager (wait class Lock: a row, a relation,
 * a transaction, an advisory lock) does no I/O while it waits, and what it
 * waits for may be held by a statement in the queue (a VACUUM FULL behind
 * a queued SELECT's ACCESS SHARE lock): its slot is lent to the queue
 * until it runs again.  The look is a pass over the slots, made only when
 * the limit is reached.
 */
static bool
room_for_one_more(uint32 limit)
{
	uint32		running = iosat_admission_count_running();
	uint32		lent = 0;

	if (running < limit)
		return true;
	for (int i = 0; i < iosat_adm->nslots; i++)
	{
		uint32		n = pg_atomic_read_u32(&iosat_adm->slots[i].heavy_running);

		if (n > 0 && i != IOSAT_MY_PROCNO() &&
			(GetPGProcByNumber(i)->wait_event_info & 0xFF000000) == PG_WAIT_LOCK)
			lent += n;
	}
	return running - Min(lent, running) < limit;
}

static void
describe(char *buf, size_t len, uint32 running, uint32 limit, uint32 queued,
		 IosatVerdict *v)
{
	snprintf(buf, len,
			 "Device \"%s\": %.0f IOPS%s, read latency %.1f ms, queue depth %.1f (%s); "
			 "%u heavy statements holding a slot, limit %u; %u queued.",
			 v->device, v->iops,
			 v->ceiling > 0 ? psprintf(" of %lld provisioned", (long long) v->ceiling) : "",
			 v->r_await_ms, v->aqu_sz,
			 v->reason[0] ? v->reason : "saturated",
			 running, limit, queued);
}

static void
refuse(const char *why, uint64 queryid, IosatDecision d)
{
	IosatVerdict v;
	char		detail[512];

	iosat_read_verdict(&v);
	describe(detail, sizeof(detail), iosat_admission_count_running(),
			 pg_atomic_read_u32(&iosat_shared->gate.limit),
			 iosat_admission_queued(), &v);
	iosat_query_note_decision(queryid, d);
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_RESOURCES),
			 errmsg("%s: device \"%s\" is saturated", why, v.device),
			 errdetail_internal("%s", detail),
			 errhint("The statement was not started and is safe to retry after a short delay. "
					 "See the iosat_admission view.")));
}

/*
 * The number of heavy statements allowed to run, or 0 while the gate is
 * open.  The governor publishes the limit before it sets "saturated" and
 * clears "saturated" before it clears the limit, with a barrier between:
 * whoever sees "saturated" sees a limit, and a limit of 0 means that the
 * saturation has just ended.  A verdict older than a few samples is not
 * trusted (fail open).
 */
static uint32
enforced_limit(void)
{
	uint32		limit;
	int64		age_ms;

	if (pg_atomic_read_u32(&iosat_shared->gate.saturated) == 0)
		return 0;
	pg_read_barrier();
	limit = pg_atomic_read_u32(&iosat_shared->gate.limit);
	if (limit == 0)
		return 0;
	age_ms = iosat_verdict_age_ms();
	if (age_ms < 0 || age_ms > iosat_stale_after_ms())
		return 0;
	return limit;
}

static inline bool
gate_enforcing(void)
{
	return enforced_limit() > 0;
}

/*
 * Admission was turned off, or to monitor, by a reload since this
 * statement was queued: it goes at once.  The sampler publishes the
 * server's setting (a backend in the queue does not reload its
 * configuration mid-statement); only a change counts, so that a role or a
 * session that runs in queue mode on a server whose setting is off still
 * queues.
 */
static bool
admission_switched_off(uint32 mode_at_enqueue)
{
	uint32		mode = pg_atomic_read_u32(&iosat_shared->gate.admission_mode);

	return mode != mode_at_enqueue &&
		(mode == IOSAT_ADMISSION_OFF || mode == IOSAT_ADMISSION_MONITOR);
}

/*
 * The longest this statement may wait: the session's iosat.queue_timeout,
 * but never more than the server's (postgresql.conf, ALTER SYSTEM, the
 * command line), which the sampler publishes: a user may shorten the wait,
 * not lengthen it (a queued statement holds its snapshot and locks, and a
 * place in a queue of iosat.max_queued).
 */
static int
queue_timeout_ms(void)
{
	uint32		server = pg_atomic_read_u32(&iosat_shared->gate.queue_timeout_ms);

	if (server == 0)
		return iosat_queue_timeout_ms;
	return Min(iosat_queue_timeout_ms, (int) server);
}

/* wait in the queue for a slot; returns with the slot taken, or throws */
static void
wait_for_slot(const void *key, uint64 queryid)
{
	IosatBackendSlot *s = my_slot();
	int64		start = iosat_mono_us();
	uint32		wait_event = iosat_wait_event_admission();
	uint32		mode_at_enqueue = pg_atomic_read_u32(&iosat_shared->gate.admission_mode);
	int			timeout_ms = queue_timeout_ms();

	PG_TRY();
	{
		ConditionVariablePrepareToSleep(&s->cv);
		for (;;)
		{
			bool		go = false;
			long		elapsed_ms;
			uint32		limit;

			LWLockAcquire(iosat_adm->lock, LW_EXCLUSIVE);
			limit = enforced_limit();
			if (limit == 0 || admission_switched_off(mode_at_enqueue))
				go = true;
			else if (iosat_queue_head() == IOSAT_MY_PROCNO() &&
					 room_for_one_more(limit))
				go = true;
			if (go)
			{
				iosat_queue_remove(IOSAT_MY_PROCNO());
				s->queued = false;
				take_slot(key);
			}
			LWLockRelease(iosat_adm->lock);
			if (go)
				break;

			elapsed_ms = (long) ((iosat_mono_us() - start) / 1000);
			if (elapsed_ms >= timeout_ms)
			{
				leave_queue();
				count(IOSAT_C_TIMED_OUT);
				refuse(psprintf("statement waited %ld ms for I/O capacity", elapsed_ms),
					   queryid, IOSAT_DEC_TIMED_OUT);
			}
			(void) ConditionVariableTimedSleep(&s->cv,
											   Min(100, timeout_ms - elapsed_ms),
											   wait_event);
		}
	}
	PG_CATCH();
	{
		ConditionVariableCancelSleep();
		leave_queue();
		PG_RE_THROW();
	}
	PG_END_TRY();
	ConditionVariableCancelSleep();

	{
		uint64		waited = (uint64) Max(iosat_mono_us() - start, 0);
		uint64		max = pg_atomic_read_u64(&iosat_adm->counters[IOSAT_C_WAIT_MAX_US]);

		pg_atomic_fetch_add_u64(&iosat_adm->counters[IOSAT_C_WAIT_US], waited);
		while (waited > max &&
			   !pg_atomic_compare_exchange_u64(&iosat_adm->counters[IOSAT_C_WAIT_MAX_US],
											   &max, waited))
			;
	}
	count(IOSAT_C_ADMITTED_FROM_QUEUE);
	iosat_query_note_decision(queryid, IOSAT_DEC_QUEUED);
	/* more room? let the next one in too */
	wake_next_if_room();
}

/*
 * A heavy statement (or gated utility: key) while the gate is enforcing:
 * take a slot, wait in the queue for one, or be refused.  rtable: the
 * statement's own range table (its locks do not count as held before it).
 */
static void
admit_saturated(const void *key, List *rtable, uint64 queryid)
{
	IosatBackendSlot *s = my_slot();
	uint32		running;
	uint32		limit;
	bool		room;

	if (nheld > 0)
	{
		count(IOSAT_C_BYPASS_HOLDER);
		iosat_query_note_decision(queryid, IOSAT_DEC_BYPASS);
		take_apart(key);
		return;
	}
	if (role_is_exempt())
	{
		count(IOSAT_C_BYPASS_EXEMPT);
		iosat_query_note_decision(queryid, IOSAT_DEC_BYPASS);
		take_apart(key);
		return;
	}

	/*
	 * Would it wait?  Then look at what its transaction holds (locks.c): a
	 * lock holder goes at once.  (Read without the lock: a statement that
	 * finds room here and none below queues with its locks unlooked-at,
	 * for as long as the queue takes to pass one statement.)
	 */
	limit = enforced_limit();
	if (limit > 0 &&
		(pg_atomic_read_u32(&iosat_adm->queued) > 0 || !room_for_one_more(limit)))
	{
		const char *what = wrapper_locks_looked ? wrapper_locks_held :
			iosat_held_lock_others_may_wait_for(rtable);

		if (what != NULL)
		{
			count(IOSAT_C_BYPASS_LOCKS);
			iosat_query_note_decision(queryid, IOSAT_DEC_BYPASS);
			elog(DEBUG1, "iosat: heavy statement admitted without waiting: its transaction holds %s",
				 what);
			take_apart(key);
			return;
		}
	}

	if (iosat_admission_mode == IOSAT_ADMISSION_MONITOR)
	{
		running = iosat_admission_count_running();
		limit = enforced_limit();
		if (limit > 0 && !room_for_one_more(limit))
		{
			IosatVerdict v;

			iosat_read_verdict(&v);
			count(IOSAT_C_WOULD_QUEUE);
			iosat_query_note_decision(queryid, IOSAT_DEC_WOULD_QUEUE);
			ereport(iosat_monitor_log_level,
					(errmsg("iosat (monitor): statement would have been queued: device \"%s\" is saturated",
							v.device),
					 errdetail("%u heavy statements running, limit %u; queryid %lld.",
							   running, limit, (long long) queryid)));
		}
		else
		{
			count(IOSAT_C_SLOT);
			iosat_query_note_decision(queryid, IOSAT_DEC_SLOT);
		}
		take_slot(key);
		return;
	}

	LWLockAcquire(iosat_adm->lock, LW_EXCLUSIVE);
	limit = enforced_limit();
	/* (limit 0: the saturation ended since ExecutorStart looked) */
	room = limit == 0 || (iosat_adm->qlen == 0 && room_for_one_more(limit));
	if (room)
	{
		take_slot(key);
		LWLockRelease(iosat_adm->lock);
		count(IOSAT_C_SLOT);
		iosat_query_note_decision(queryid, IOSAT_DEC_SLOT);
		return;
	}
	if (iosat_admission_mode == IOSAT_ADMISSION_REJECT)
	{
		LWLockRelease(iosat_adm->lock);
		count(IOSAT_C_REJECTED);
		refuse("statement rejected", queryid, IOSAT_DEC_REJECTED);
	}
	if (iosat_adm->qlen >= iosat_max_queued)
	{
		LWLockRelease(iosat_adm->lock);
		count(IOSAT_C_REJECTED);
		refuse(psprintf("I/O admission queue is full (%d statements)", iosat_max_queued),
			   queryid, IOSAT_DEC_REJECTED);
	}
	iosat_queue_push(IOSAT_MY_PROCNO());
	s->queued = true;
	s->queued_since = GetCurrentTimestamp();
	s->queryid = queryid;
	LWLockRelease(iosat_adm->lock);
	count(IOSAT_C_QUEUED);

	wait_for_slot(key, queryid);
}

/*
 * Admission of a top-level statement (or gated utility: key) that is
 * heavy or not.  The hot path, on a healthy device: a heavy statement
 * stores its slot, a cheap one does nothing.
 */
static void
admit(const void *key, List *rtable, uint64 queryid, bool heavy)
{
	if (pg_atomic_read_u32(&iosat_shared->gate.saturated) == 0)
	{
		if (heavy)
		{
			register_backend();
			take_slot(key);
		}
		return;
	}
	register_backend();
	if (!gate_enforcing())
	{
		count(IOSAT_C_FAIL_OPEN);
		if (heavy)
			take_slot(key);
	}
	else if (!heavy)
	{
		count(IOSAT_C_CHEAP);
		iosat_query_note_decision(queryid, IOSAT_DEC_CHEAP);
	}
	else
		admit_saturated(key, rtable, queryid);
}

/* ---------------------------------------------------------------------
 * Hooks
 * ---------------------------------------------------------------------
 */
/*
 * A heavy statement starts and runs with effective_io_concurrency capped
 * at iosat.heavy_io_concurrency: it is a heavy statement's prefetch depth
 * that turns a saturated device into a pile-up.  Scans take their depth
 * when they set up: at executor start on 15-17 (bitmap heap scans), at
 * their first row on 18 (the read stream is created then), so the cap is
 * held across ExecutorStart and every ExecutorRun of the statement.
 *
 * The cap goes through the GUC machinery at a nest level of its own, as a
 * function's SET clause does: a SET or set_config() made by the statement
 * itself overrides it and stays after the statement (SET LOCAL does not),
 * the parallel workers it launches get it with the other settings, and an
 * error unwinds it with the transaction or subtransaction.
 */
static int
cap_io_concurrency(void)
{
	int			nest = NewGUCNestLevel();
	char		value[16];

	snprintf(value, sizeof(value), "%d",
			 Min(effective_io_concurrency, Max(iosat_heavy_io_concurrency, 0)));
	(void) set_config_option("effective_io_concurrency", value,
							 PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE,
							 true, 0, false);
	return nest;
}

static void
uncap_io_concurrency(int nest)
{
	AtEOXact_GUC(true, nest);
}

static bool
is_capped(QueryDesc *qd)
{
	for (int i = 0; i < ntracked; i++)
		if (tracked[i].qd == qd)
			return tracked[i].capped;
	return false;
}

static void
start_capped(QueryDesc *queryDesc, int eflags)
{
	int			nest = cap_io_concurrency();

	if (prev_ExecutorStart)
		prev_ExecutorStart(queryDesc, eflags);
	else
		standard_ExecutorStart(queryDesc, eflags);
	uncap_io_concurrency(nest);
}

/*
 * Is this executor a client's statement?  One at nesting level 0 run by a
 * portal (a client's simple or extended query; a statement run while
 * planning or by a deferred trigger at COMMIT has no active portal), or
 * the first one a top-level wrapper (utility.h) starts one level down.
 */
static bool
is_toplevel(QueryDesc *queryDesc, int eflags)
{
	bool		client;

	if (nesting_level == 0)
		client = ActivePortal != NULL;
	else if (nesting_level == 1 && in_toplevel_wrapper)
	{
		/* the wrapper's query; what else runs at this level is nested */
		client = true;
		in_toplevel_wrapper = false;
	}
	else
		client = false;
	return client &&
		!(eflags & EXEC_FLAG_EXPLAIN_ONLY) &&
		queryDesc->plannedstmt->commandType != CMD_UTILITY &&
		MyBackendType == B_BACKEND && !IsParallelWorker() &&
		iosat_adm != NULL;
}

static void
iosat_ExecutorStart(QueryDesc *queryDesc, int eflags)
{
	bool		toplevel = is_toplevel(queryDesc, eflags);
	bool		cap = false;
	bool		pace = false;

	if (toplevel)
	{
		uint64		queryid = (uint64) queryDesc->plannedstmt->queryId;

		/* a wrapper's query with no queryid of its own: the wrapper's */
		if (queryid == 0 && nesting_level == 1)
			queryid = wrapper_queryid;
		if (iosat_admission_mode != IOSAT_ADMISSION_OFF)
		{
			bool		heavy = is_heavy(queryDesc, queryid);

			admit(queryDesc, queryDesc->plannedstmt->rtable, queryid, heavy);
			pace = heavy && iosat_pacing && !role_is_exempt() &&
				(iosat_admission_mode == IOSAT_ADMISSION_QUEUE ||
				 iosat_admission_mode == IOSAT_ADMISSION_REJECT);
			cap = pace && iosat_heavy_io_concurrency >= 0 &&
				effective_io_concurrency > iosat_heavy_io_concurrency;
		}
		register_callbacks();
		if (ntracked < MAX_HELD)
		{
			tracked[ntracked].qd = queryDesc;
			tracked[ntracked].owner = CurrentResourceOwner;
			tracked[ntracked].queryid = queryid;
			iosat_stmt_io_now(&tracked[ntracked].io);
			tracked[ntracked].capped = cap;
			ntracked++;
		}
	}

	if (cap)
	{
		count(IOSAT_C_PREFETCH_CAPPED);
		start_capped(queryDesc, eflags);
	}
	else if (prev_ExecutorStart)
		prev_ExecutorStart(queryDesc, eflags);
	else
		standard_ExecutorStart(queryDesc, eflags);

	if (pace)
		iosat_pace_statement(queryDesc);
	else if (IsParallelWorker())
		iosat_pace_parallel_worker(queryDesc);	/* if its leader paces */

	/* a cursor's query runs at its first FETCH: hold no slot till then */
	if (toplevel && in_declare_cursor && nheld > 0)
		park_slot_of(queryDesc);
}

static void
iosat_ExecutorRun(QueryDesc *queryDesc, ScanDirection direction, uint64 count_
				  IOSAT_EXECUTORRUN_EXTRA_PARAM)
{
	/* (a value the statement lowered itself needs no cap) */
	bool		cap = ntracked > 0 && is_capped(queryDesc) &&
		effective_io_concurrency > Max(iosat_heavy_io_concurrency, 0);
	int			nest = 0;

	/* a parked slot (a cursor between FETCHes) is taken back to run */
	if (nheld > 0)
		unpark_slot_of(queryDesc);
	if (cap)
		nest = cap_io_concurrency();
	nesting_level++;
	PG_TRY();
	{
		if (prev_ExecutorRun)
			prev_ExecutorRun(queryDesc, direction, count_ IOSAT_EXECUTORRUN_EXTRA_ARG);
		else
			standard_ExecutorRun(queryDesc, direction, count_ IOSAT_EXECUTORRUN_EXTRA_ARG);
	}
	PG_FINALLY();
	{
		nesting_level--;
	}
	PG_END_TRY();
	if (cap)
		uncap_io_concurrency(nest);

	/*
	 * The portal may stay open with the statement not running (a cursor, a
	 * row limit): park the slot.  A portal run to completion reaches
	 * ExecutorFinish next, which takes it back for the AFTER triggers, and
	 * ExecutorEnd, which releases it.
	 */
	if (nheld > 0)
		park_slot_of(queryDesc);
}

static void
iosat_ExecutorFinish(QueryDesc *queryDesc)
{
	/* AFTER triggers and the rest of a DML's work run with the slot */
	if (nheld > 0)
		unpark_slot_of(queryDesc);

	/*
	 * A SELECT without a data-modifying WITH queues no AFTER trigger at its
	 * own level (what a function it calls does runs and fires within that
	 * function's statement), so nothing runs one level down here: no
	 * nesting to keep, and no PG_TRY on the most common path.
	 */
	if (queryDesc->operation == CMD_SELECT &&
		!queryDesc->plannedstmt->hasModifyingCTE)
	{
		if (prev_ExecutorFinish)
			prev_ExecutorFinish(queryDesc);
		else
			standard_ExecutorFinish(queryDesc);
		return;
	}
	nesting_level++;
	PG_TRY();
	{
		if (prev_ExecutorFinish)
			prev_ExecutorFinish(queryDesc);
		else
			standard_ExecutorFinish(queryDesc);
	}
	PG_FINALLY();
	{
		nesting_level--;
	}
	PG_END_TRY();
}

static void
iosat_ExecutorEnd(QueryDesc *queryDesc)
{
	for (int i = ntracked - 1; i >= 0; i--)
	{
		if (tracked[i].qd == queryDesc)
		{
			learn_tracked(i, queryDesc->estate ? queryDesc->estate->es_processed : 0,
						  find_held(queryDesc) >= 0, false);
			break;
		}
	}
	if (nheld > 0)
		release_slot_of(queryDesc);

	if (prev_ExecutorEnd)
		prev_ExecutorEnd(queryDesc);
	else
		standard_ExecutorEnd(queryDesc);
}

/*
 * A top-level utility statement that is gated as a whole (utility.h):
 * admitted before it starts (and takes its locks), its slot held to its
 * end, what it read and wrote learned under its queryid (also when it
 * fails).  Returns whether it is tracked (then end_gated_utility() must
 * follow).
 */
static bool
start_gated_utility(PlannedStmt *pstmt, double blocks, IosatStmtIo *at_start)
{
	uint64		queryid = (uint64) pstmt->queryId;
	double		reads;
	double		dirtied;
	bool		heavy;

	if (iosat_admission_mode == IOSAT_ADMISSION_OFF)
		return false;
	if (iosat_query_per_call(queryid, &reads, &dirtied))
		heavy = iosat_io_is_heavy(reads, dirtied);
	else
		heavy = blocks >= iosat_cheap_reads;
	register_callbacks();
	admit(pstmt, NIL, queryid, heavy);

	/*
	 * The slot is the utility's to its end, released by the caller's
	 * PG_FINALLY (or at backend exit), not with a resource owner: VACUUM
	 * FULL, CREATE INDEX CONCURRENTLY and a CALL that commits end the
	 * portal's transaction, and its resource owner, on their way.
	 */
	{
		int			i = find_held(pstmt);

		if (i >= 0)
			held[i].owner = NULL;
	}
	iosat_stmt_io_now(at_start);
	return true;
}

static void
end_gated_utility(PlannedStmt *pstmt, IosatStmtIo *at_start, bool ok)
{
	iosat_stmt_io_since(at_start);
	if (ok || iosat_io_is_heavy((double) at_start->blocks_read,
								(double) at_start->blocks_dirtied))
		iosat_query_record((uint64) pstmt->queryId, at_start, 0);
	if (ok && find_held(pstmt) >= 0)
		count_heavy_done(at_start);
	if (nheld > 0)
		release_slot_of(pstmt);
}

/* a wrapper that takes locks (and an xid) of its own before its query starts */
static bool
locks_before_query(Node *stmt)
{
	return IsA(stmt, RefreshMatViewStmt) ||
		(IsA(stmt, CreateTableAsStmt) &&
		 ((CreateTableAsStmt *) stmt)->objtype == OBJECT_MATVIEW);
}

static void
iosat_ProcessUtility(PlannedStmt *pstmt, const char *queryString,
					 bool readOnlyTree, ProcessUtilityContext context,
					 ParamListInfo params, QueryEnvironment *queryEnv,
					 DestReceiver *dest, QueryCompletion *qc)
{
	IosatUtilityKind kind = IOSAT_UTILITY_OTHER;
	double		blocks = -1;
	bool		gated = false;
	bool		ok = false;
	IosatStmtIo at_start = {0};
	bool		was_wrapper = in_toplevel_wrapper;
	bool		was_declare_cursor = in_declare_cursor;
	uint64		was_wrapper_queryid = wrapper_queryid;
	bool		was_locks_looked = wrapper_locks_looked;
	const char *was_locks_held = wrapper_locks_held;

	if (nesting_level == 0 && MyBackendType == B_BACKEND && iosat_adm != NULL)
		kind = iosat_utility_kind(pstmt->utilityStmt, &blocks);
	if (kind == IOSAT_UTILITY_WRAPPER)
	{
		in_toplevel_wrapper = true;
		wrapper_queryid = (uint64) pstmt->queryId;
		if (IsA(pstmt->utilityStmt, DeclareCursorStmt))
			in_declare_cursor = true;
		if (locks_before_query(pstmt->utilityStmt) &&
			iosat_admission_mode != IOSAT_ADMISSION_OFF &&
			pg_atomic_read_u32(&iosat_shared->gate.saturated) != 0)
		{
			wrapper_locks_looked = true;
			wrapper_locks_held = iosat_held_lock_others_may_wait_for(NIL);
		}
	}
	else if (kind == IOSAT_UTILITY_GATED)
		gated = start_gated_utility(pstmt, blocks, &at_start);

	nesting_level++;
	PG_TRY();
	{
		if (prev_ProcessUtility)
			prev_ProcessUtility(pstmt, queryString, readOnlyTree, context,
								params, queryEnv, dest, qc);
		else
			standard_ProcessUtility(pstmt, queryString, readOnlyTree, context,
									params, queryEnv, dest, qc);
		ok = true;
	}
	PG_FINALLY();
	{
		nesting_level--;
		in_toplevel_wrapper = was_wrapper;
		in_declare_cursor = was_declare_cursor;
		wrapper_queryid = was_wrapper_queryid;
		wrapper_locks_looked = was_locks_looked;
		wrapper_locks_held = was_locks_held;
		if (gated)
			end_gated_utility(pstmt, &at_start, ok);
	}
	PG_END_TRY();
}

/*
 * Planning runs one level down: a statement the planner runs (a function
 * it evaluates) is not a client's statement.
 */
static PlannedStmt *
iosat_planner(Query *parse, const char *query_string, int cursorOptions,
			  ParamListInfo boundParams IOSAT_PLANNER_EXTRA_PARAM)
{
	PlannedStmt *result;

	nesting_level++;
	PG_TRY();
	{
		if (prev_planner)
			result = prev_planner(parse, query_string, cursorOptions, boundParams
								  IOSAT_PLANNER_EXTRA_ARG);
		else
			result = standard_planner(parse, query_string, cursorOptions,
									  boundParams IOSAT_PLANNER_EXTRA_ARG);
	}
	PG_FINALLY();
	{
		nesting_level--;
	}
	PG_END_TRY();
	return result;
}

void
iosat_admission_install_hooks(void)
{
	/* iosat.exempt_roles is by membership: watch memberships and roles */
	CacheRegisterSyscacheCallback(AUTHMEMROLEMEM, roles_changed, (Datum) 0);
	CacheRegisterSyscacheCallback(AUTHOID, roles_changed, (Datum) 0);

	prev_ExecutorStart = ExecutorStart_hook;
	ExecutorStart_hook = iosat_ExecutorStart;
	prev_ExecutorRun = ExecutorRun_hook;
	ExecutorRun_hook = iosat_ExecutorRun;
	prev_ExecutorFinish = ExecutorFinish_hook;
	ExecutorFinish_hook = iosat_ExecutorFinish;
	prev_ExecutorEnd = ExecutorEnd_hook;
	ExecutorEnd_hook = iosat_ExecutorEnd;
	prev_ProcessUtility = ProcessUtility_hook;
	ProcessUtility_hook = iosat_ProcessUtility;
	prev_planner = planner_hook;
	planner_hook = iosat_planner;
}
