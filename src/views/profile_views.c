/*-------------------------------------------------------------------------
 *
 * profile_views.c
 *	  iosat_wait_profile, iosat_profiler and iosat_wait_profile_reset():
 *	  the profiler's shared table (profiler/profile.c writes it) as SQL.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "utils/builtins.h"
#include "utils/tuplestore.h"
#include "utils/wait_event.h"

#include "clock.h"
#include "guc.h"
#include "profiler/profile.h"
#include "state/shared.h"
#include "state/shmem.h"
#include "views/views.h"

PG_FUNCTION_INFO_V1(iosat_wait_profile_srf);
PG_FUNCTION_INFO_V1(iosat_profiler_srf);
PG_FUNCTION_INFO_V1(iosat_wait_profile_reset);

/* how long iosat_wait_profile_reset() waits for the profiler */
#define RESET_WAIT_MS	5000

/* copy the header and the used entries; palloc'd */
static IosatProfileShared *
read_profile(void)
{
	IosatProfileShared *p = iosat_profile;
	Size		hdr = offsetof(IosatProfileShared, entries);
	IosatProfileShared *copy;

	copy = palloc(hdr + sizeof(IosatProfileEntry) * p->max_entries);
	for (int tries = 0;; tries++)
	{
		uint32		before = pg_atomic_read_u32(&p->changecount);
		uint32		after;
		int			n;

		pg_read_barrier();
		memcpy(copy, p, hdr);
		n = Min(Max(copy->nentries, 0), p->max_entries);
		memcpy(copy->entries, p->entries, sizeof(IosatProfileEntry) * n);
		pg_read_barrier();
		after = pg_atomic_read_u32(&p->changecount);
		if ((before == after && (before & 1) == 0) || tries >= 1000)
		{
			copy->nentries = n;
			break;
		}
		CHECK_FOR_INTERRUPTS();
		if (tries > 10)
			pg_usleep(100);
	}
	return copy;
}

/* ---------------------------------------------------------------- SQL */

Datum
iosat_wait_profile_srf(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	IosatProfileShared *copy;

	iosat_check_loaded();
	InitMaterializedSRF(fcinfo, 0);
	copy = read_profile();

	for (int i = 0; i < copy->nentries; i++)
	{
		IosatProfileEntry *e = &copy->entries[i];
		IosatRow	row;
		uint32		wei = e->key.wait_event_info;
		char		letter[2] = {e->key.state, '\0'};

		if (e->count == 0)
			continue;
		e->key.backend_type[IOSAT_BTYPE_LEN - 1] = '\0';
		e->key.wchan[IOSAT_WCHAN_LEN - 1] = '\0';

		iosat_set_values_init(&row, rsinfo->setDesc);
		iosat_put_text(&row, e->key.backend_type);
		iosat_put_text(&row, wei != 0 ? pgstat_get_wait_event_type(wei) : NULL);
		iosat_put_text(&row, wei != 0 ? pgstat_get_wait_event(wei) : NULL);
		iosat_put_text(&row, e->key.state == '?' ? NULL : letter);
		iosat_put_text(&row, e->key.state == '?' ? NULL :
					   iosat_task_state_name(e->key.state));
		iosat_put_text(&row, e->key.wchan);
		iosat_put(&row, Int64GetDatum((int64) e->count));
		Assert(row.n >= row.natts);	/* more: a newer library, older SQL */
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc,
							 row.values, row.nulls);
	}
	if (copy->overflow_samples > 0)
	{
		IosatRow	row;

		iosat_set_values_init(&row, rsinfo->setDesc);
		iosat_put_text(&row, IOSAT_OTHER_BUCKET);
		for (int i = 0; i < 5; i++)
			iosat_put_null(&row);
		iosat_put(&row, Int64GetDatum((int64) copy->overflow_samples));
		Assert(row.n >= row.natts);	/* more: a newer library, older SQL */
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc,
							 row.values, row.nulls);
	}
	return (Datum) 0;
}

Datum
iosat_profiler_srf(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	IosatProfileShared h;
	IosatRow	row;
	uint32		pid;
	const char *note = NULL;

	iosat_check_loaded();
	InitMaterializedSRF(fcinfo, 0);
	iosat_read_profile_header(&h);
	pid = pg_atomic_read_u32(&iosat_profile->profiler_pid);

	if (pid == 0)
		note = "the iosat profiler is not running";
	else if (!iosat_profile_enabled)
		note = "profiling is off (iosat.profile)";
	else if (h.overflow_samples > 0)
		note = psprintf("the profile table is full (%d entries): " UINT64_FORMAT
						" samples were counted in the \"%s\" row; raise iosat.profile_max_entries or reset the profile",
						h.max_entries, h.overflow_samples, IOSAT_OTHER_BUCKET);

	iosat_set_values_init(&row, rsinfo->setDesc);
	if (pid != 0)
		iosat_put(&row, Int32GetDatum((int32) pid));
	else
		iosat_put_null(&row);
	iosat_put(&row, BoolGetDatum(iosat_profile_enabled));
	iosat_put(&row, Int32GetDatum(iosat_profile_interval_ms));
	iosat_put_timestamp(&row, h.since);
	iosat_put_timestamp(&row, h.last_pass);
	iosat_put(&row, Int64GetDatum((int64) h.passes));
	iosat_put(&row, Int64GetDatum((int64) h.samples));
	iosat_put(&row, Int32GetDatum(h.nentries));
	iosat_put(&row, Int32GetDatum(h.max_entries));
	iosat_put(&row, Int64GetDatum((int64) h.overflow_samples));
	if (h.passes > 0)
	{
		iosat_put(&row, Int32GetDatum(h.last_procs));
		iosat_put(&row, Float8GetDatum(h.last_pass_ms));
		iosat_put(&row, Float8GetDatum(h.sum_pass_ms / h.passes));
	}
	else
	{
		iosat_put_null(&row);
		iosat_put_null(&row);
		iosat_put_null(&row);
	}
	iosat_put_text(&row, note);
	Assert(row.n >= row.natts);	/* more: a newer library, older SQL */
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, row.values, row.nulls);
	return (Datum) 0;
}

/*
 * Ask the profiler to start a new profile, and wait (a few seconds at most)
 * until it has.  The profiler is the table's only writer, so the reset is
 * its job; if it is not running, the request waits for it.
 */
Datum
iosat_wait_profile_reset(PG_FUNCTION_ARGS)
{
	IosatProfileShared *p;
	uint64		req;
	uint32		pid;
	double		deadline;

	iosat_check_loaded();
	p = iosat_profile;
	req = pg_atomic_add_fetch_u64(&p->reset_requested, 1);
	pid = pg_atomic_read_u32(&p->profiler_pid);
	if (pid != 0)
	{
		uint32		procno = pg_atomic_read_u32(&p->profiler_procno);

		if (procno < ProcGlobal->allProcCount)
			SetLatch(&ProcGlobal->allProcs[procno].procLatch);
	}

	deadline = iosat_mono_ms() + RESET_WAIT_MS;
	while (pg_atomic_read_u64(&p->reset_done) < req)
	{
		if (pg_atomic_read_u32(&p->profiler_pid) == 0 || iosat_mono_ms() > deadline)
		{
			ereport(WARNING,
					(errmsg("the iosat profiler did not acknowledge the reset"),
					 errdetail("The profile will be reset when the profiler next runs.")));
			break;
		}
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 10L, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
	}
	PG_RETURN_VOID();
}
