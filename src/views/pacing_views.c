/*-------------------------------------------------------------------------
 *
 * pacing_views.c
 *	  iosat_parallel_pacing: each paced parallel statement's shared read
 *	  budget (state/paceshare.c), one row per leader that holds one now.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "funcapi.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"

#include "state/paceshare.h"
#include "state/shared.h"
#include "state/shmem.h"
#include "views/views.h"

PG_FUNCTION_INFO_V1(iosat_parallel_pacing_srf);

Datum
iosat_parallel_pacing_srf(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;

	iosat_check_loaded();
	InitMaterializedSRF(fcinfo, 0);
	for (int i = 0; i < iosat_pace->nslots; i++)
	{
		IosatPaceSlot *s = iosat_pace_slot(i);
		uint64		owner = pg_atomic_read_u64(&s->owner);
		IosatRow	row;

		if (owner == 0)
			continue;
		/* each figure as it is now: a row may mix two moments, no torn value */
		iosat_set_values_init(&row, rsinfo->setDesc);
		iosat_put(&row, Int32GetDatum(iosat_pace_owner_pid(owner)));
		iosat_put(&row, Int32GetDatum((int32) pg_atomic_read_u32(&s->workers)));
		iosat_put(&row, Int32GetDatum((int32) pg_atomic_read_u32(&s->workers_seen)));
		iosat_put(&row, Int64GetDatum((int64) pg_atomic_read_u64(&s->leader_blocks)));
		iosat_put(&row, Int64GetDatum((int64) pg_atomic_read_u64(&s->worker_blocks)));
		iosat_put(&row, Float8GetDatum(pg_atomic_read_u64(&s->slept_us) / 1000.0));
		iosat_put_timestamp(&row, (TimestampTz) pg_atomic_read_u64(&s->since));
		Assert(row.n >= row.natts);	/* more: a newer library, older SQL */
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, row.values, row.nulls);
	}
	return (Datum) 0;
}
