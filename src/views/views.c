/*-------------------------------------------------------------------------
 *
 * views.c
 *	  Set-returning functions behind the iosat_devices and iosat_status
 *	  views.  They copy what the sampler published, record by record,
 *	  without taking a lock.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "commands/tablespace.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"

#include "guc.h"
#include "sampler/bpfsource.h"
#include "state/shared.h"
#include "state/shmem.h"
#include "sampler/sampler.h"
#include "views/views.h"

PG_FUNCTION_INFO_V1(iosat_devices_srf);
PG_FUNCTION_INFO_V1(iosat_status_srf);
PG_FUNCTION_INFO_V1(iosat_assert_loaded);

static const char *
source_name(IosatSource s)
{
	switch (s)
	{
		case IOSAT_SOURCE_SYSFS:
			return "sysfs";
		case IOSAT_SOURCE_BPF:
			return "bpf";
		case IOSAT_SOURCE_NONE:
			break;
	}
	return "none";
}

/* the roles column: {data, wal, "tablespace ts1", configured} */
static Datum
roles_datum(const IosatDevice *d)
{
	Datum		elems[4 + IOSAT_MAX_TABLESPACES];
	int			n = 0;

	if (d->roles & IOSAT_ROLE_DATA)
		elems[n++] = CStringGetTextDatum("data");
	if (d->roles & IOSAT_ROLE_WAL)
		elems[n++] = CStringGetTextDatum("wal");
	for (int i = 0; i < d->ntablespaces && i < IOSAT_MAX_TABLESPACES; i++)
	{
		char	   *name = get_tablespace_name(d->tablespaces[i]);

		elems[n++] = CStringGetTextDatum(name ?
										 psprintf("tablespace %s", name) :
										 psprintf("tablespace %u", d->tablespaces[i]));
	}
	if (d->roles & IOSAT_ROLE_CONFIGURED)
		elems[n++] = CStringGetTextDatum("configured");
	return PointerGetDatum(construct_array(elems, n, TEXTOID, -1, false,
										   TYPALIGN_INT));
}

void
iosat_set_values_init(IosatRow *row, TupleDesc tupdesc)
{
	row->natts = tupdesc->natts;
	row->n = 0;
	memset(row->nulls, true, sizeof(row->nulls));
	Assert(row->natts <= IOSAT_MAX_COLS);
}

/*
 * A column past the end of the function's declared result is dropped: the
 * library can be newer than the extension's SQL until ALTER EXTENSION
 * UPDATE, and a release only appends columns.
 */
void
iosat_put(IosatRow *row, Datum value)
{
	if (row->n < row->natts)
	{
		row->values[row->n] = value;
		row->nulls[row->n] = false;
	}
	row->n++;
}

void
iosat_put_null(IosatRow *row)
{
	if (row->n < row->natts)
		row->nulls[row->n] = true;
	row->n++;
}

void
iosat_put_text(IosatRow *row, const char *s)
{
	if (s == NULL || s[0] == '\0')
		iosat_put_null(row);
	else
		iosat_put(row, CStringGetTextDatum(s));
}

void
iosat_put_timestamp(IosatRow *row, TimestampTz t)
{
	if (t == 0)
		iosat_put_null(row);
	else
		iosat_put(row, TimestampTzGetDatum(t));
}

static void
put_rates(IosatRow *row, const IosatRates *r, bool have)
{
	const double v[] = {r->r_iops, r->w_iops, r->r_mbps, r->w_mbps,
	r->r_await_ms, r->w_await_ms, r->aqu_sz, r->util_pct};

	for (int i = 0; i < lengthof(v); i++)
	{
		if (have)
			iosat_put(row, Float8GetDatum(v[i]));
		else
			iosat_put_null(row);
	}
}

/* a latency, NULL when nothing completed */
static void
put_ms(IosatRow *row, double ms, bool have)
{
	if (have && ms >= 0)
		iosat_put(row, Float8GetDatum(ms));
	else
		iosat_put_null(row);
}

/* the BPF columns, in the order of the SQL definition; NULL unless from BPF */
static void
put_bpf(IosatRow *row, const IosatBpfFigures *b, bool have)
{
	for (int dir = 0; dir < 2; dir++)
		for (int k = 0; k < 3; k++)
			put_ms(row, b->lat_ms[dir][k], have);
	put_ms(row, b->queue_ms[0], have);
	put_ms(row, b->queue_p99_ms[0], have);
	put_ms(row, b->queue_ms[1], have);
	put_ms(row, b->queue_p99_ms[1], have);
	if (have)
	{
		iosat_put(row, Int64GetDatum(b->queued));
		iosat_put(row, Int64GetDatum(b->inflight));
		iosat_put(row, Float8GetDatum(b->queued_avg));
		iosat_put(row, Float8GetDatum(b->inflight_avg));
		iosat_put(row, Float8GetDatum(b->r_iops));
		iosat_put(row, Float8GetDatum(b->w_iops));
		iosat_put(row, Float8GetDatum(b->requeues_ps));
		iosat_put(row, Int64GetDatum(b->errors));
	}
	else
		for (int i = 0; i < 8; i++)
			iosat_put_null(row);
}

Datum
iosat_devices_srf(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	IosatPsiState psi;
	int			n;

	iosat_check_loaded();
	InitMaterializedSRF(fcinfo, 0);
	iosat_read_psi(&psi);

	n = pg_atomic_read_u32(&iosat_shared->ndevices);
	for (int i = 0; i < n && i < IOSAT_MAX_DEVICES; i++)
	{
		IosatDevice d;
		IosatRow	row;
		bool		have = false;

		iosat_read_device(i, &d);
		if (!d.in_use)
			continue;
		have = d.samples > 0 && d.source != IOSAT_SOURCE_NONE;

		iosat_set_values_init(&row, rsinfo->setDesc);
		iosat_put_text(&row, d.name);
		if (d.status == IOSAT_DEV_NO_BLOCK_DEVICE ||
			(d.major == 0 && d.minor == 0))
		{
			iosat_put_null(&row);
			iosat_put_null(&row);
		}
		else
		{
			iosat_put(&row, Int32GetDatum((int32) d.major));
			iosat_put(&row, Int32GetDatum((int32) d.minor));
		}
		iosat_put(&row, roles_datum(&d));
		iosat_put_text(&row, iosat_status_name(d.status));
		iosat_put_text(&row, source_name(d.source));
		iosat_put_text(&row, d.note);

		/* smoothed, then the last interval */
		put_rates(&row, &d.smooth, have);
		put_rates(&row, &d.last, have);

		if (d.source != IOSAT_SOURCE_NONE)
			iosat_put(&row, Int64GetDatum(d.inflight_r + d.inflight_w));
		else
			iosat_put_null(&row);

		if (d.iops_limit > 0)
		{
			iosat_put(&row, Int64GetDatum(d.iops_limit));
			if (have)
				iosat_put(&row, Float8GetDatum(100.0 *
											   (1.0 - (d.smooth.r_iops + d.smooth.w_iops) /
												(double) d.iops_limit)));
			else
				iosat_put_null(&row);
		}
		else
		{
			iosat_put(&row, Int64GetDatum(0));
			iosat_put_null(&row);
		}

		if (d.nr_requests >= 0)
			iosat_put(&row, Int32GetDatum((int32) d.nr_requests));
		else
			iosat_put_null(&row);
		iosat_put_text(&row, d.scheduler);
		if (d.rotational >= 0)
			iosat_put(&row, BoolGetDatum(d.rotational == 1));
		else
			iosat_put_null(&row);

		if (psi.present)
		{
			iosat_put(&row, Float8GetDatum(psi.some_avg10));
			iosat_put(&row, Float8GetDatum(psi.full_avg10));
			iosat_put(&row, Float8GetDatum(psi.some_pct));
		}
		else
		{
			iosat_put_null(&row);
			iosat_put_null(&row);
			iosat_put_null(&row);
		}
		if (d.stat_fields > 0)
			iosat_put(&row, Int32GetDatum(d.stat_fields));
		else
			iosat_put_null(&row);
		iosat_put_timestamp(&row, d.sample_time);
		put_bpf(&row, &d.bpf, d.source == IOSAT_SOURCE_BPF);
		iosat_put_timestamp(&row, d.source != IOSAT_SOURCE_NONE ? d.stalled_since : 0);

		Assert(row.n >= row.natts);	/* more: a newer library, older SQL */
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc,
							 row.values, row.nulls);
	}
	return (Datum) 0;
}

/* data older than this is stale: iosat admits everything (fails open) */

Datum
iosat_status_srf(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	IosatRow	row;
	uint32		pid;
	int64		age;
	char		err[IOSAT_ERROR_LEN];
	TimestampTz errtime;
	IosatPsiState psi;
	IosatBpfState bpf;
	uint64		passes;

	iosat_check_loaded();
	InitMaterializedSRF(fcinfo, 0);

	pid = pg_atomic_read_u32(&iosat_shared->sampler_pid);
	age = iosat_sample_age_ms();
	iosat_read_error(err, sizeof(err), &errtime);
	iosat_read_psi(&psi);

	iosat_set_values_init(&row, rsinfo->setDesc);
	if (pid != 0)
		iosat_put(&row, Int32GetDatum((int32) pid));
	else
		iosat_put_null(&row);
	iosat_put(&row, Int32GetDatum(iosat_sample_interval_ms));
	iosat_put(&row, Int64GetDatum((int64) pg_atomic_read_u64(&iosat_shared->samples)));
	iosat_put(&row, Int32GetDatum((int32) pg_atomic_read_u32(&iosat_shared->ndevices)));
	iosat_put_timestamp(&row, (TimestampTz) pg_atomic_read_u64(&iosat_shared->sampler_started));
	iosat_put_timestamp(&row, (TimestampTz) pg_atomic_read_u64(&iosat_shared->last_sample_time));
	if (age >= 0)
		iosat_put(&row, Int64GetDatum(age));
	else
		iosat_put_null(&row);
	iosat_put(&row, BoolGetDatum(age < 0 || age > iosat_stale_after_ms()));
	iosat_put(&row, Int64GetDatum((int64) pg_atomic_read_u64(&iosat_shared->discoveries)));
	iosat_put(&row, Int64GetDatum((int64) pg_atomic_read_u64(&iosat_shared->sample_errors)));
	iosat_put_text(&row, err);
	iosat_put_timestamp(&row, errtime);
	iosat_put(&row, BoolGetDatum(psi.present));

	/* the BPF companion */
	iosat_bpf_read_state(&bpf);
	iosat_put_text(&row, iosat_bpf_status_name(bpf.status));
	iosat_put_timestamp(&row, bpf.since);
	iosat_put_text(&row, bpf.note);

	/* what a sample pass costs */
	passes = pg_atomic_read_u64(&iosat_shared->pass_ns_count);
	if (pg_atomic_read_u64(&iosat_shared->samples) > 0)
		iosat_put(&row, Float8GetDatum(pg_atomic_read_u64(&iosat_shared->pass_ns_last) / 1000.0));
	else
		iosat_put_null(&row);
	if (passes > 0)
	{
		iosat_put(&row, Float8GetDatum(pg_atomic_read_u64(&iosat_shared->pass_ns_sum) /
									   1000.0 / (double) passes));
		iosat_put(&row, Float8GetDatum(pg_atomic_read_u64(&iosat_shared->bpf_ns_sum) /
									   1000.0 / (double) passes));
	}
	else
	{
		iosat_put_null(&row);
		iosat_put_null(&row);
	}

	Assert(row.n >= row.natts);	/* more: a newer library, older SQL */
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, row.values, row.nulls);
	return (Datum) 0;
}

/* run by the extension script, so CREATE EXTENSION fails when not preloaded */
Datum
iosat_assert_loaded(PG_FUNCTION_ARGS)
{
	iosat_check_loaded();
	PG_RETURN_VOID();
}
