/*-------------------------------------------------------------------------
 *
 * shmem.c
 *	  iosat's shared memory: allocation and the change-counter protocol
 *	  that lets many readers copy what the sampler publishes without a lock.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "miscadmin.h"
#include "access/twophase.h"
#include "storage/proc.h"
#include "storage/shmem.h"
#include "storage/lwlock.h"

#include "guc.h"
#include "clock.h"
#include "state/shared.h"
#include "state/shmem.h"

bool		iosat_preloaded = false;

IosatShared *iosat_shared = NULL;

/* mapped by control/vacuum.c (see shmem.h) */
IosatVacuumShared *iosat_vac = NULL;

Size
iosat_shmem_size(void)
{
	return MAXALIGN(sizeof(IosatShared));
}

/* called from shmem_startup_hook with AddinShmemInitLock held */
void
iosat_shmem_init(void)
{
	bool		found;

	iosat_shared = ShmemInitStruct("iosat", sizeof(IosatShared), &found);
	if (!found)
	{
		memset(iosat_shared, 0, sizeof(IosatShared));
		pg_atomic_init_u32(&iosat_shared->sampler_pid, 0);
		pg_atomic_init_u64(&iosat_shared->samples, 0);
		pg_atomic_init_u64(&iosat_shared->last_sample_time, 0);
		pg_atomic_init_u64(&iosat_shared->last_sample_mono, 0);
		pg_atomic_init_u64(&iosat_shared->sampler_started, 0);
		pg_atomic_init_u32(&iosat_shared->ndevices, 0);
		pg_atomic_init_u64(&iosat_shared->discoveries, 0);
		pg_atomic_init_u64(&iosat_shared->sample_errors, 0);
		pg_atomic_init_u32(&iosat_shared->error.changecount, 0);
		pg_atomic_init_u64(&iosat_shared->pass_ns_last, 0);
		pg_atomic_init_u64(&iosat_shared->pass_ns_sum, 0);
		pg_atomic_init_u64(&iosat_shared->pass_ns_count, 0);
		pg_atomic_init_u64(&iosat_shared->bpf_ns_sum, 0);
		pg_atomic_init_u32(&iosat_shared->bpf.changecount, 0);
		pg_atomic_init_u32(&iosat_shared->psi.changecount, 0);
		pg_atomic_init_u32(&iosat_shared->write_debt.changecount, 0);
		pg_atomic_init_u32(&iosat_shared->gate.saturated, 0);
		pg_atomic_init_u32(&iosat_shared->gate.limit, 0);
		pg_atomic_init_u32(&iosat_shared->gate.admission_mode, IOSAT_MODE_UNKNOWN);
		pg_atomic_init_u32(&iosat_shared->gate.queue_timeout_ms, 0);
		pg_atomic_init_u64(&iosat_shared->gate.updated, 0);
		pg_atomic_init_u64(&iosat_shared->gate.updated_mono, 0);
		pg_atomic_init_u32(&iosat_shared->gate.running_heavy, 0);
		pg_atomic_init_u64(&iosat_shared->gate.saturation_events, 0);
		pg_atomic_init_u32(&iosat_shared->gate.verdict.changecount, 0);
		pg_atomic_init_u32(&iosat_shared->gate.vacuum_multiplier, 1000);
		pg_atomic_init_u32(&iosat_shared->gate.vacuum_enabled, 0);
		pg_atomic_init_u32(&iosat_shared->gate.vacuum_seq, 0);
		pg_atomic_init_u32(&iosat_shared->gate.pace_rate, 0);
		pg_atomic_init_u64(&iosat_shared->gate.paced_blocks, 0);
		pg_atomic_init_u64(&iosat_shared->gate.heavy_done, 0);
		pg_atomic_init_u64(&iosat_shared->gate.heavy_blocks, 0);
		pg_atomic_init_u64(&iosat_shared->gate.heavy_dirtied, 0);
		pg_atomic_init_u32(&iosat_shared->gate.pressure_milli, 0);
		pg_atomic_init_u32(&iosat_shared->gate.busy_milli, 0);
		for (int i = 0; i < IOSAT_MAX_DEVICES; i++)
			pg_atomic_init_u32(&iosat_shared->devices[i].changecount, 0);
	}
}

/*
 * Writer side.  Only one process (the sampler) writes a given record, so
 * plain increments through the atomic are enough; the barriers order the
 * counter against the payload.  No error may be thrown in between.
 */
void
iosat_seq_begin_write(pg_atomic_uint32 *changecount)
{
	pg_atomic_write_u32(changecount, pg_atomic_read_u32(changecount) + 1);
	pg_write_barrier();
}

void
iosat_seq_end_write(pg_atomic_uint32 *changecount)
{
	pg_write_barrier();
	pg_atomic_write_u32(changecount, pg_atomic_read_u32(changecount) + 1);
}

/*
 * Reader side: copy len bytes from src into dst, consistent with respect to
 * the writer.  The writer holds no lock and writes each record for a few
 * hundred nanoseconds once per interval, so this loops at most a few times;
 * after many tries (a writer that died mid-write leaves an odd counter) it
 * keeps the last copy rather than spin forever.
 */
void
iosat_seq_read(pg_atomic_uint32 *changecount, void *dst, const void *src, Size len)
{
	for (int tries = 0; tries < 1000; tries++)
	{
		uint32		before = pg_atomic_read_u32(changecount);
		uint32		after;

		pg_read_barrier();
		memcpy(dst, src, len);
		pg_read_barrier();
		after = pg_atomic_read_u32(changecount);
		if (before == after && (before & 1) == 0)
			return;
		CHECK_FOR_INTERRUPTS();
		if (tries > 10)
			pg_usleep(10);
	}
}

void
iosat_read_device(int i, IosatDevice *out)
{
	IosatDevice *d = &iosat_shared->devices[i];

	iosat_seq_read(&d->changecount, out, d, sizeof(IosatDevice));
}

void
iosat_read_psi(IosatPsiState *out)
{
	iosat_seq_read(&iosat_shared->psi.changecount, out, &iosat_shared->psi,
				   sizeof(IosatPsiState));
}

void
iosat_read_write_debt(IosatWriteDebt *out)
{
	iosat_seq_read(&iosat_shared->write_debt.changecount, out,
				   &iosat_shared->write_debt, sizeof(IosatWriteDebt));
}

/* the sampler records the last problem it met; readers see it in iosat_status */
void
iosat_set_error(const char *msg)
{
	iosat_seq_begin_write(&iosat_shared->error.changecount);
	strlcpy(iosat_shared->error.message, msg, IOSAT_ERROR_LEN);
	iosat_shared->error.time = GetCurrentTimestamp();
	iosat_seq_end_write(&iosat_shared->error.changecount);
	pg_atomic_fetch_add_u64(&iosat_shared->sample_errors, 1);
}

void
iosat_read_error(char *buf, Size len, TimestampTz *when)
{
	IosatErrorState copy;

	iosat_seq_read(&iosat_shared->error.changecount, &copy,
				   &iosat_shared->error, sizeof(copy));
	copy.message[IOSAT_ERROR_LEN - 1] = '\0';
	strlcpy(buf, copy.message, len);
	*when = copy.time;
}

/*
 * How old the sampler's figures may be before they are not trusted (the
 * verdict, the vacuum multiplier, the views' "stale"): a few samples.
 */
int64
iosat_stale_after_ms(void)
{
	return Max((int64) iosat_sample_interval_ms * 3, 1000);
}

int
iosat_total_procs(void)
{
	return MaxBackends + NUM_AUXILIARY_PROCS + max_prepared_xacts;
}

/* milliseconds since the monotonic stamp, or -1 if there was none */
static int64
age_ms(pg_atomic_uint64 *stamp)
{
	int64		last = (int64) pg_atomic_read_u64(stamp);

	if (last == 0)
		return -1;
	return (iosat_mono_us() - last) / 1000;
}

/* milliseconds since the last sample, or -1 if there was none */
int64
iosat_sample_age_ms(void)
{
	return age_ms(&iosat_shared->last_sample_mono);
}

/* milliseconds since the governor's last verdict, or -1 if there was none */
int64
iosat_verdict_age_ms(void)
{
	return age_ms(&iosat_shared->gate.updated_mono);
}

/* every SQL entry point starts here */
void
iosat_check_loaded(void)
{
	if (!iosat_preloaded || iosat_shared == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("iosat must be loaded via shared_preload_libraries"),
				 errhint("Add iosat to shared_preload_libraries in postgresql.conf and restart the server.")));
}

const char *
iosat_vacuum_state_name(IosatVacState s)
{
	switch (s)
	{
		case IOSAT_VACST_STARTING:
			return "starting";
		case IOSAT_VACST_APPLIED:
			return "applied";
		case IOSAT_VACST_WRAPAROUND:
			return "wraparound";
		case IOSAT_VACST_COST_OFF:
			return "cost delay off";
		case IOSAT_VACST_FAILSAFE:
			return "failsafe";
		case IOSAT_VACST_DISABLED:
			return "disabled";
		case IOSAT_VACST_STALE:
			return "stale";
	}
	return "?";
}

const char *
iosat_vacuum_kind_name(IosatVacKind k)
{
	switch (k)
	{
		case IOSAT_VAC_AUTOVACUUM:
			return "autovacuum";
		case IOSAT_VAC_MANUAL:
			return "manual";
		case IOSAT_VAC_FREE:
			break;
	}
	return "?";
}

/* the governor's verdict, consistent (sampler/governor.c writes it) */
void
iosat_read_verdict(IosatVerdict *out)
{
	iosat_seq_read(&iosat_shared->gate.verdict.changecount, out,
				   &iosat_shared->gate.verdict, sizeof(IosatVerdict));
}
