/*-------------------------------------------------------------------------
 *
 * admission_views.c
 *	  iosat_admission (the gate, its limit and counters), iosat_controller
 *	  (what the controller steers by and what heavy work gets), iosat_queries
 *	  (what each queryid costs in I/O) and iosat_queries_reset().
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"

#include "guc.h"
#include "state/queue.h"
#include "state/shared.h"
#include "state/shmem.h"
#include "state/querystats.h"
#include "views/views.h"

PG_FUNCTION_INFO_V1(iosat_admission_srf);
PG_FUNCTION_INFO_V1(iosat_controller_srf);
PG_FUNCTION_INFO_V1(iosat_queries_srf);
PG_FUNCTION_INFO_V1(iosat_queries_reset);

static const char *const mode_names[] = {"off", "monitor", "queue", "reject"};

static Datum
counter(IosatCounter c)
{
	return Int64GetDatum((int64) pg_atomic_read_u64(&iosat_adm->counters[c]));
}

Datum
iosat_admission_srf(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	IosatRow	row;
	IosatVerdict v;
	bool		saturated;
	int64		age_ms;
	bool		stale;
	uint64		admitted_from_queue;
	uint32		pace_rate;

	iosat_check_loaded();
	InitMaterializedSRF(fcinfo, 0);
	iosat_read_verdict(&v);
	saturated = pg_atomic_read_u32(&iosat_shared->gate.saturated) != 0;
	age_ms = iosat_verdict_age_ms();
	stale = age_ms < 0 || age_ms > iosat_stale_after_ms();

	iosat_set_values_init(&row, rsinfo->setDesc);
	iosat_put_text(&row, mode_names[iosat_admission_mode]);
	iosat_put(&row, BoolGetDatum(saturated && !stale));
	iosat_put(&row, BoolGetDatum(stale));
	iosat_put_text(&row, saturated ? v.reason : NULL);
	iosat_put_text(&row, v.device);
	iosat_put_timestamp(&row, saturated ? v.since : 0);
	if (saturated)
		iosat_put(&row, Int32GetDatum((int32) pg_atomic_read_u32(&iosat_shared->gate.limit)));
	else
		iosat_put_null(&row);
	iosat_put(&row, Int32GetDatum((int32) iosat_admission_count_running()));
	iosat_put(&row, Int32GetDatum((int32) iosat_admission_queued()));
	iosat_put(&row, Float8GetDatum(v.pressure));
	iosat_put(&row, counter(IOSAT_C_CHEAP));
	iosat_put(&row, counter(IOSAT_C_SLOT));
	iosat_put(&row, counter(IOSAT_C_QUEUED));
	iosat_put(&row, counter(IOSAT_C_ADMITTED_FROM_QUEUE));
	iosat_put(&row, counter(IOSAT_C_TIMED_OUT));
	iosat_put(&row, counter(IOSAT_C_REJECTED));
	iosat_put(&row, counter(IOSAT_C_CANCELLED));
	iosat_put(&row, counter(IOSAT_C_BYPASS_EXEMPT));
	iosat_put(&row, counter(IOSAT_C_BYPASS_LOCKS));
	iosat_put(&row, counter(IOSAT_C_BYPASS_HOLDER));
	iosat_put(&row, counter(IOSAT_C_WOULD_QUEUE));
	iosat_put(&row, counter(IOSAT_C_FAIL_OPEN));
	iosat_put(&row, counter(IOSAT_C_RECLAIMED));
	iosat_put(&row, counter(IOSAT_C_PREFETCH_CAPPED));
	iosat_put(&row, Int64GetDatum((int64) pg_atomic_read_u64(&iosat_shared->gate.saturation_events)));
	admitted_from_queue = pg_atomic_read_u64(&iosat_adm->counters[IOSAT_C_ADMITTED_FROM_QUEUE]);
	if (admitted_from_queue > 0)
		iosat_put(&row, Float8GetDatum(pg_atomic_read_u64(&iosat_adm->counters[IOSAT_C_WAIT_US]) /
									   1000.0 / admitted_from_queue));
	else
		iosat_put_null(&row);
	iosat_put(&row, Float8GetDatum(pg_atomic_read_u64(&iosat_adm->counters[IOSAT_C_WAIT_MAX_US]) / 1000.0));
	pace_rate = pg_atomic_read_u32(&iosat_shared->gate.pace_rate);
	if (pace_rate > 0 && !stale)
		iosat_put(&row, Int32GetDatum((int32) Min(pace_rate, (uint32) PG_INT32_MAX)));
	else
		iosat_put_null(&row);
	iosat_put(&row, counter(IOSAT_C_PACED));
	iosat_put(&row, Float8GetDatum(pg_atomic_read_u64(&iosat_adm->counters[IOSAT_C_PACE_US]) / 1000.0));

	Assert(row.n >= row.natts);	/* more: a newer library, older SQL */
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, row.values, row.nulls);
	return (Datum) 0;
}

/*
 * The controller (sampler/governor.c, sampler/pace_policy.c): the device
 * it steers by, against its ceiling and its learned latency; the limit and
 * who counts against it; what heavy work gets.
 */
Datum
iosat_controller_srf(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	IosatRow	row;
	IosatVerdict v;
	IosatGate  *g;
	bool		saturated;
	int64		age_ms;
	bool		stale;
	uint32		pace_rate;

	iosat_check_loaded();
	InitMaterializedSRF(fcinfo, 0);
	g = &iosat_shared->gate;
	iosat_read_verdict(&v);
	age_ms = iosat_verdict_age_ms();
	stale = age_ms < 0 || age_ms > iosat_stale_after_ms();
	saturated = pg_atomic_read_u32(&g->saturated) != 0 && !stale;

	iosat_set_values_init(&row, rsinfo->setDesc);
	iosat_put_text(&row, v.device[0] ? v.device : NULL);
	iosat_put(&row, Float8GetDatum(v.iops));
	if (v.ceiling > 0)
	{
		iosat_put(&row, Int64GetDatum(v.ceiling));
		iosat_put(&row, Float8GetDatum(100.0 * v.iops / v.ceiling));
	}
	else
	{
		iosat_put_null(&row);
		iosat_put_null(&row);
	}
	iosat_put(&row, Float8GetDatum(v.r_await_ms));
	if (v.usual_await_ms > 0)
		iosat_put(&row, Float8GetDatum(v.usual_await_ms));
	else
		iosat_put_null(&row);
	if (v.latency_threshold_ms > 0)
		iosat_put(&row, Float8GetDatum(v.latency_threshold_ms));
	else
		iosat_put_null(&row);
	iosat_put(&row, Float8GetDatum(v.pressure));
	iosat_put(&row, BoolGetDatum(saturated));
	if (saturated)
		iosat_put(&row, Int32GetDatum((int32) pg_atomic_read_u32(&g->limit)));
	else
		iosat_put_null(&row);
	iosat_put(&row, Int32GetDatum((int32) iosat_admission_count_running()));
	iosat_put(&row, Int32GetDatum((int32) iosat_admission_count_apart()));
	iosat_put(&row, Int32GetDatum((int32) iosat_admission_queued()));
	pace_rate = pg_atomic_read_u32(&g->pace_rate);
	if (pace_rate > 0 && !stale)
		iosat_put(&row, Int32GetDatum((int32) Min(pace_rate, (uint32) PG_INT32_MAX)));
	else
		iosat_put_null(&row);
	iosat_put(&row, Float8GetDatum(v.paced_bps));
	iosat_put(&row, Int64GetDatum((int64) pg_atomic_read_u64(&g->heavy_done)));
	iosat_put(&row, Int64GetDatum((int64) pg_atomic_read_u64(&g->heavy_blocks)));
	/* 1.5 */
	iosat_put(&row, Int64GetDatum((int64) pg_atomic_read_u64(&g->heavy_dirtied)));
	/* 1.6: throughput and the write debt */
	{
		IosatWriteDebt debt;

		iosat_read_write_debt(&debt);
		iosat_put(&row, Float8GetDatum(v.throughput_mb));
		if (iosat_throughput_limit_mb > 0)
			iosat_put(&row, Int64GetDatum((int64) iosat_throughput_limit_mb));
		else
			iosat_put_null(&row);
		if (debt.present)
		{
			/* MB as iosat.throughput_limit's (and PostgreSQL's): 2^20 bytes */
			iosat_put(&row, Float8GetDatum(debt.bytes / 1048576.0));
			iosat_put(&row, Float8GetDatum(debt.growth_bps / 1048576.0));
			iosat_put(&row, Float8GetDatum(v.owed_iops));
			iosat_put_text(&row, debt.source);
		}
		else
		{
			iosat_put_null(&row);
			iosat_put_null(&row);
			iosat_put_null(&row);
			iosat_put_null(&row);
		}
	}

	Assert(row.n >= row.natts);	/* more: a newer library, older SQL */
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, row.values, row.nulls);
	return (Datum) 0;
}

Datum
iosat_queries_srf(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	IosatQueryTable *t;

	iosat_check_loaded();
	InitMaterializedSRF(fcinfo, 0);
	iosat_query_flush();		/* this backend's own calls are shown too */
	t = iosat_query_table();
	for (int i = 0; i < t->size; i++)
	{
		IosatQuerySnapshot q;
		IosatRow	row;

		if (!iosat_query_snapshot(i, &q))
			continue;
		iosat_set_values_init(&row, rsinfo->setDesc);
		iosat_put(&row, Int64GetDatum((int64) q.queryid));
		iosat_put(&row, Int64GetDatum((int64) q.calls));
		iosat_put(&row, Int64GetDatum((int64) q.io.blocks_read));
		iosat_put(&row, Int64GetDatum((int64) q.rows));
		if (q.calls > 0)
		{
			iosat_put(&row, Float8GetDatum((double) q.io.blocks_read / q.calls));
			iosat_put(&row, Float8GetDatum((double) q.rows / q.calls));
		}
		else
		{
			iosat_put_null(&row);
			iosat_put_null(&row);
		}
		/* blocks read per row returned; all of them when nothing came back */
		iosat_put(&row, Float8GetDatum((double) q.io.blocks_read / Max(q.rows, 1)));
		iosat_put(&row, BoolGetDatum(q.calls > 0 &&
									 iosat_io_is_heavy((double) q.io.blocks_read / q.calls,
													   (double) q.io.blocks_dirtied / q.calls)));
		iosat_put(&row, Int64GetDatum((int64) q.queued));
		iosat_put(&row, Int64GetDatum((int64) q.rejected));
		iosat_put_text(&row, iosat_decision_name(q.last_decision));
		/* 1.5 */
		iosat_put(&row, Int64GetDatum((int64) q.io.blocks_dirtied));
		iosat_put(&row, Int64GetDatum((int64) q.io.blocks_written));
		iosat_put(&row, Int64GetDatum((int64) q.io.wal_bytes));
		if (q.calls > 0)
			iosat_put(&row, Float8GetDatum((double) q.io.blocks_dirtied / q.calls));
		else
			iosat_put_null(&row);
		Assert(row.n >= row.natts);	/* more: a newer library, older SQL */
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, row.values, row.nulls);
	}
	return (Datum) 0;
}

/*
 * Forget what was learned.  Each entry is cleared under its lock, and a
 * count is added only to an entry that still holds its queryid, so a
 * statement running meanwhile never adds to the entry another queryid
 * claims next.  Calls that other backends cached before the reset are
 * published after it (see querystats.c).
 */
Datum
iosat_queries_reset(PG_FUNCTION_ARGS)
{
	iosat_check_loaded();
	iosat_query_flush();		/* this backend's cached calls go too */
	iosat_query_reset();
	PG_RETURN_VOID();
}
