/*-------------------------------------------------------------------------
 *
 * vacuum_views.c
 *	  iosat_vacuum_workers(): one row per process that vacuum backpressure
 *	  ticks in (autovacuum workers; manual VACUUM with iosat.vacuum_manual),
 *	  the rest of the iosat_vacuum view is SQL (pg_stat_activity,
 *	  pg_stat_progress_vacuum); iosat_vacuum_status(): the policy and its
 *	  counters.
 *
 * The I/O columns (the sampler's reading of /proc/<pid>/io) follow
 * pg_stat_activity's visibility rule, as iosat_backends' do: they are shown
 * when the caller has the privileges of the process's role, or of
 * pg_read_all_stats (superusers have both).  Autovacuum workers have no
 * role, so only pg_read_all_stats members and superusers see theirs.  The
 * rest of a row (pid, kind, state, costs, counters) is the policy's own
 * state, public like iosat_vacuum_status.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_authid.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "utils/acl.h"
#include "utils/backend_status.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"

#include "compat.h"
#include "guc.h"
#include "state/shared.h"
#include "state/shmem.h"
#include "control/vacuum.h"
#include "views/views.h"

PG_FUNCTION_INFO_V1(iosat_vacuum_workers_srf);
PG_FUNCTION_INFO_V1(iosat_vacuum_status_srf);

static Datum
multiplier_datum(uint32 milli)
{
	return Float8GetDatum(milli / (double) IOSAT_VAC_UNIT);
}

/*
 * May the caller see the I/O of process PID?  pg_stat_activity's rule, on
 * the backend-status snapshot it uses within this transaction; a process
 * not (or no longer) in it is not shown.
 */
static bool
may_see_io(int pid, bool read_all)
{
	int			nbackends;

	if (read_all)
		return true;
	nbackends = pgstat_fetch_stat_numbackends();
	for (int i = 1; i <= nbackends; i++)
	{
		LocalPgBackendStatus *local = iosat_local_beentry(i);

		if (local != NULL && local->backendStatus.st_procpid == pid)
			return OidIsValid(local->backendStatus.st_userid) &&
				has_privs_of_role(GetUserId(), local->backendStatus.st_userid);
	}
	return false;
}

Datum
iosat_vacuum_workers_srf(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	uint32		target;
	bool		read_all;

	iosat_check_loaded();
	InitMaterializedSRF(fcinfo, 0);
	if (iosat_vac == NULL)
		return (Datum) 0;
	target = pg_atomic_read_u32(&iosat_shared->gate.vacuum_multiplier);
	read_all = has_privs_of_role(GetUserId(), ROLE_PG_READ_ALL_STATS);

	for (int i = 0; i < iosat_vac->nslots; i++)
	{
		IosatVacuumSlot *s = &iosat_vac->slots[i];
		IosatVacuumSlot io;
		IosatRow	row;
		int			pid = (int) pg_atomic_read_u32(&s->pid);
		IosatVacState state;

		if (pid == 0)
			continue;
		pg_read_barrier();
		state = pg_atomic_read_u32(&s->state);

		iosat_set_values_init(&row, rsinfo->setDesc);
		iosat_put(&row, Int32GetDatum(pid));
		iosat_put_text(&row, iosat_vacuum_kind_name(pg_atomic_read_u32(&s->kind)));
		iosat_put_text(&row, iosat_vacuum_state_name(state));
		iosat_put(&row, BoolGetDatum(pg_atomic_read_u32(&s->wraparound) != 0));
		iosat_put(&row, multiplier_datum(pg_atomic_read_u32(&s->multiplier)));
		iosat_put(&row, multiplier_datum(target));
		for (int c = 0; c < 3; c++)
			iosat_put(&row, Int32GetDatum((int32) pg_atomic_read_u32(&s->base[c])));
		for (int c = 0; c < 3; c++)
			iosat_put(&row, Int32GetDatum((int32) pg_atomic_read_u32(&s->cost[c])));
		if (state == IOSAT_VACST_STARTING)
		{
			iosat_put_null(&row);
			iosat_put_null(&row);
		}
		else
		{
			iosat_put(&row, Int32GetDatum((int32) pg_atomic_read_u32(&s->cost_limit)));
			iosat_put(&row, Float8GetDatum(pg_atomic_read_u32(&s->cost_delay_us) / 1000.0));
		}

		/* the sampler's record of its I/O */
		iosat_seq_read(&s->io_changecount, &io.io_pid, &s->io_pid,
					   sizeof(IosatVacuumSlot) - offsetof(IosatVacuumSlot, io_pid));
		if (io.io_pid == pid && io.io_time != 0 && may_see_io(pid, read_all))
		{
			if (io.io_valid)
			{
				iosat_put(&row, Float8GetDatum(io.read_mbps));
				iosat_put(&row, Float8GetDatum(io.write_mbps));
				iosat_put(&row, Float8GetDatum(io.rchar_mbps));
			}
			else
			{
				iosat_put_null(&row);
				iosat_put_null(&row);
				iosat_put_null(&row);
			}
			iosat_put(&row, Int64GetDatum(io.read_bytes));
			iosat_put(&row, Int64GetDatum(io.write_bytes));
			iosat_put(&row, Int64GetDatum(io.rchar));
			iosat_put_timestamp(&row, io.io_time);
		}
		else
		{
			for (int k = 0; k < 7; k++)
				iosat_put_null(&row);
		}

		iosat_put(&row, Int64GetDatum((int64) pg_atomic_read_u32(&s->ticks)));
		iosat_put(&row, Int64GetDatum((int64) pg_atomic_read_u32(&s->changes)));
		iosat_put(&row, Int64GetDatum((int64) pg_atomic_read_u32(&s->adoptions)));
		iosat_put(&row, Int64GetDatum((int64) pg_atomic_read_u32(&s->held)));
		iosat_put(&row, Int64GetDatum((int64) pg_atomic_read_u32(&s->inactive)));

		Assert(row.n >= row.natts);	/* more: a newer library, older SQL */
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc,
							 row.values, row.nulls);
	}
	return (Datum) 0;
}

Datum
iosat_vacuum_status_srf(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	IosatRow	row;
	IosatGate  *g;
	int			workers = 0;
	uint64		ticks,
				changes,
				adoptions,
				held,
				inactive;
	int64		age;

	iosat_check_loaded();
	InitMaterializedSRF(fcinfo, 0);
	if (iosat_vac == NULL)
		return (Datum) 0;
	g = &iosat_shared->gate;

	ticks = pg_atomic_read_u64(&iosat_vac->done_ticks);
	changes = pg_atomic_read_u64(&iosat_vac->done_changes);
	adoptions = pg_atomic_read_u64(&iosat_vac->done_adoptions);
	held = pg_atomic_read_u64(&iosat_vac->done_held);
	inactive = pg_atomic_read_u64(&iosat_vac->done_inactive);
	for (int i = 0; i < iosat_vac->nslots; i++)
	{
		IosatVacuumSlot *s = &iosat_vac->slots[i];

		if (pg_atomic_read_u32(&s->pid) == 0)
			continue;
		workers++;
		ticks += pg_atomic_read_u32(&s->ticks);
		changes += pg_atomic_read_u32(&s->changes);
		adoptions += pg_atomic_read_u32(&s->adoptions);
		held += pg_atomic_read_u32(&s->held);
		inactive += pg_atomic_read_u32(&s->inactive);
	}
	age = iosat_sample_age_ms();

	iosat_set_values_init(&row, rsinfo->setDesc);
	iosat_put(&row, BoolGetDatum(pg_atomic_read_u32(&g->vacuum_enabled) != 0));
	iosat_put(&row, multiplier_datum(pg_atomic_read_u32(&g->vacuum_multiplier)));
	iosat_put(&row, Float8GetDatum(pg_atomic_read_u32(&iosat_vac->pressure) / 1000.0));
	iosat_put(&row, BoolGetDatum(age < 0 || age > iosat_stale_after_ms()));
	iosat_put(&row, Float8GetDatum(iosat_vacuum_max_slowdown));
	iosat_put(&row, Float8GetDatum(iosat_vacuum_max_speedup));
	iosat_put(&row, Int32GetDatum(workers));
	iosat_put(&row, Int64GetDatum((int64) pg_atomic_read_u64(&iosat_vac->workers_seen)));
	iosat_put(&row, Int64GetDatum((int64) pg_atomic_read_u64(&iosat_vac->slowdowns)));
	iosat_put(&row, Float8GetDatum(pg_atomic_read_u64(&iosat_vac->slowed_us) / 1e6));
	iosat_put(&row, Float8GetDatum(pg_atomic_read_u64(&iosat_vac->sped_us) / 1e6));
	iosat_put(&row, Int64GetDatum((int64) ticks));
	iosat_put(&row, Int64GetDatum((int64) changes));
	iosat_put(&row, Int64GetDatum((int64) adoptions));
	iosat_put(&row, Int64GetDatum((int64) held));
	iosat_put(&row, Int64GetDatum((int64) inactive));

	Assert(row.n >= row.natts);	/* more: a newer library, older SQL */
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, row.values, row.nulls);
	return (Datum) 0;
}
