/*-------------------------------------------------------------------------
 *
 * sampler.c
 *	  The background worker that samples the block devices and publishes
 *	  what it sees in shared memory.
 *
 * Every iosat.sample_interval it reads /sys/block/<dev>/{stat,inflight}
 * (and, less often, the queue attributes) for each device of the cluster,
 * and /proc/pressure/io; it derives per-interval rates and smoothed rates
 * and publishes them device by device under a change counter.  Intervals
 * are measured on CLOCK_MONOTONIC, so a wall-clock jump cannot make a rate
 * negative or huge.  A device that vanishes, a file that cannot be read or
 * parsed, or a counter that goes backwards is reported in iosat_devices
 * and iosat_status, logged once, and survived.  So is a device that stops
 * completing requests (stalled: requests in flight, none completed for
 * IOSAT_STALL_MS).
 *
 * The loop touches nothing in the data directory: /sys, /proc and, for a
 * tablespace created or dropped, an inotify watch on pg_tblspc.  When the
 * data directory's device stops answering, every process that reads or
 * writes it sleeps in D; the sampler must go on sampling, and judging, so
 * that it can say so.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <fcntl.h>
#include <math.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "utils/guc.h"
#include "utils/memutils.h"

#include "guc.h"
#include "sampler/bpfsource.h"
#include "compat.h"
#include "collect/devices.h"
#include "clock.h"
#include "state/queue.h"
#include "state/shared.h"
#include "state/shmem.h"
#include "collect/kparse.h"
#include "collect/memcg.h"
#include "sampler/governor.h"
#include "sampler/pace_policy.h"
#include "sampler/vacuum_policy.h"
#include "sampler/sampler.h"

/* queue attributes change rarely: re-read them every this many samples */
#define QUEUE_ATTR_EVERY	20
/* a vanished or missing device is looked for again this often */
#define REDISCOVER_EVERY_MS 5000

/* what the sampler remembers about a device between two samples */
typedef struct DevLocal
{
	bool		have_prev;
	KDiskStat	prev;
	double		prev_mono_ms;
	int64		prev_inflight;
	IosatDevStatus last_logged;
	/* requests in flight and none completed since stall_start (monotonic) */
	bool		stalling;
	double		stall_start;
	bool		stall_logged;	/* "is stalled" logged, "again" not yet */
	int			after_stall;	/* samples left whose latency is the stall's */
} DevLocal;

/* samples after a stall whose completions carry the stall's latency */
#define AFTER_STALL_SAMPLES 2

static DevLocal devlocal[IOSAT_MAX_DEVICES];
static int	ndev;

static struct
{
	bool		have_prev;
	uint64		some_total;
	uint64		full_total;
	double		mono_ms;
	bool		logged_missing;
} psi_local;

static struct
{
	bool		have_prev;
	uint64		bytes;
	double		mono_ms;
	bool		logged_missing;
} debt_local;

/*
 * The debt's growth is smoothed over at least this long: the kernel writes
 * back expired pages in rounds (dirty_writeback_centisecs, 5 s), and over
 * less the debt of a steady load saws up and down with them.
 */
#define DEBT_SMOOTHING_MS 5000


void
iosat_register_sampler(void)
{
	BackgroundWorker worker;

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS;
	worker.bgw_start_time = BgWorkerStart_PostmasterStart;
	worker.bgw_restart_time = 1;
	snprintf(worker.bgw_library_name, sizeof(worker.bgw_library_name), "iosat");
	snprintf(worker.bgw_function_name, sizeof(worker.bgw_function_name),
			 "iosat_sampler_main");
	snprintf(worker.bgw_name, sizeof(worker.bgw_name), "iosat sampler");
	snprintf(worker.bgw_type, sizeof(worker.bgw_type), "iosat sampler");
	RegisterBackgroundWorker(&worker);
}

static const char *
status_name(IosatDevStatus s)
{
	switch (s)
	{
		case IOSAT_DEV_OK:
			return "ok";
		case IOSAT_DEV_WARMING:
			return "warming up";
		case IOSAT_DEV_NO_BLOCK_DEVICE:
			return "no block device";
		case IOSAT_DEV_VANISHED:
			return "vanished";
		case IOSAT_DEV_UNREADABLE:
			return "unreadable";
		case IOSAT_DEV_NOT_FOUND:
			return "not found";
	}
	return "?";
}

const char *
iosat_status_name(IosatDevStatus s)
{
	return status_name(s);
}

/* log a device's state change once, and record it as the last error */
static void
note_status(int i, IosatDevice *d, IosatDevStatus status, const char *detail)
{
	if (status == IOSAT_DEV_WARMING)
		status = IOSAT_DEV_OK;	/* one "sampling" line, not two */
	if (devlocal[i].last_logged == status)
		return;
	devlocal[i].last_logged = status;
	if (status == IOSAT_DEV_OK || status == IOSAT_DEV_WARMING)
	{
		ereport(LOG,
				(errmsg("iosat: sampling device \"%s\" (%u:%u)",
						d->name, d->major, d->minor)));
		return;
	}
	if (status == IOSAT_DEV_NO_BLOCK_DEVICE)
	{
		ereport(LOG,
				(errmsg("iosat: \"%s\" is not sampled: %s", d->name, detail)));
		return;
	}
	{
		char		msg[IOSAT_ERROR_LEN];

		snprintf(msg, sizeof(msg), "device \"%s\" (%u:%u) is %s: %s",
				 d->name, d->major, d->minor, status_name(status), detail);
		iosat_set_error(msg);
		ereport(LOG, (errmsg("iosat: %s", msg)));
	}
}

/* install a freshly discovered device list */
static void
install_devices(const IosatDeviceList *list)
{
	IosatDevice old[IOSAT_MAX_DEVICES];
	DevLocal	oldlocal[IOSAT_MAX_DEVICES];
	int			oldn = ndev;

	memcpy(old, iosat_shared->devices, sizeof(old));
	memcpy(oldlocal, devlocal, sizeof(oldlocal));

	for (int i = 0; i < IOSAT_MAX_DEVICES; i++)
	{
		IosatDevice *d = &iosat_shared->devices[i];
		const IosatDeviceId *id = i < list->n ? &list->dev[i] : NULL;
		int			same = -1;

		/* keep history for a device that was already sampled */
		if (id != NULL)
			for (int j = 0; j < oldn; j++)
				if (old[j].in_use && old[j].major == id->major &&
					old[j].minor == id->minor &&
					strcmp(old[j].name, id->name) == 0)
					same = j;

		iosat_seq_begin_write(&d->changecount);
		if (id == NULL)
			d->in_use = false;
		else
		{
			if (same >= 0)
			{
				/* copy the metrics, not the change counter */
				memcpy((char *) d + sizeof(pg_atomic_uint32),
					   (char *) &old[same] + sizeof(pg_atomic_uint32),
					   sizeof(IosatDevice) - sizeof(pg_atomic_uint32));
			}
			else
			{
				memset((char *) d + sizeof(pg_atomic_uint32), 0,
					   sizeof(IosatDevice) - sizeof(pg_atomic_uint32));
				d->nr_requests = -1;
				d->rotational = -1;
				d->source = IOSAT_SOURCE_NONE;
				d->status = IOSAT_DEV_WARMING;
			}
			d->in_use = true;
			d->major = id->major;
			d->minor = id->minor;
			strlcpy(d->name, id->name, IOSAT_NAME_LEN);
			d->roles = id->roles;
			d->ntablespaces = id->ntablespaces;
			memcpy(d->tablespaces, id->tablespaces, sizeof(d->tablespaces));
			strlcpy(d->fstype, id->fstype, IOSAT_NAME_LEN);
			if (id->status != IOSAT_DEV_OK)
			{
				d->status = id->status;
				d->source = IOSAT_SOURCE_NONE;
				strlcpy(d->note, id->note, IOSAT_NOTE_LEN);
			}
			else if (same < 0 || old[same].status == IOSAT_DEV_NOT_FOUND ||
					 old[same].status == IOSAT_DEV_VANISHED)
			{
				d->status = IOSAT_DEV_WARMING;
				d->note[0] = '\0';
			}
			d->iops_limit = iosat_device_ceiling(d->name);
		}
		iosat_seq_end_write(&d->changecount);

		if (id != NULL)
		{
			devlocal[i] = same >= 0 ? oldlocal[same] : (DevLocal)
			{
				.have_prev = false,.last_logged = -1
			};
			if (id->status != IOSAT_DEV_OK)
				note_status(i, d, id->status, id->note);
		}
	}
	ndev = list->n;
	pg_atomic_write_u32(&iosat_shared->ndevices, ndev);
	pg_atomic_fetch_add_u64(&iosat_shared->discoveries, 1);
	if (list->truncated)
		iosat_set_error("more devices than iosat can track; some are not sampled");
}

static void
discover(void)
{
	IosatDeviceList *list = palloc0(sizeof(IosatDeviceList));

	iosat_discover_devices(iosat_devices, list);
	install_devices(list);
	pfree(list);
	/* the server may have been moved to another cgroup: find it again */
	iosat_write_debt_forget();
}

static double
smooth(double prev, double cur, double alpha)
{
	return prev + alpha * (cur - prev);
}

/* derive one interval's rates from two stat snapshots */
static bool
derive_rates(const KDiskStat *a, const KDiskStat *b, double dt_ms,
			 IosatRates *r)
{
	uint64		rd_ios,
				wr_ios,
				rd_sec,
				wr_sec,
				rd_ticks,
				wr_ticks,
				io_ticks,
				tiq;

	if (dt_ms <= 0)
		return false;
	if (!kcounter_delta(a->rd_ios, b->rd_ios, &rd_ios) ||
		!kcounter_delta(a->wr_ios, b->wr_ios, &wr_ios) ||
		!kcounter_delta(a->rd_sectors, b->rd_sectors, &rd_sec) ||
		!kcounter_delta(a->wr_sectors, b->wr_sectors, &wr_sec) ||
		!kcounter_delta(a->rd_ticks, b->rd_ticks, &rd_ticks) ||
		!kcounter_delta(a->wr_ticks, b->wr_ticks, &wr_ticks) ||
		!kcounter_delta(a->io_ticks, b->io_ticks, &io_ticks) ||
		!kcounter_delta(a->time_in_queue, b->time_in_queue, &tiq))
		return false;

	r->r_iops = rd_ios * 1000.0 / dt_ms;
	r->w_iops = wr_ios * 1000.0 / dt_ms;
	r->r_mbps = rd_sec * 512.0 / 1e6 * 1000.0 / dt_ms;
	r->w_mbps = wr_sec * 512.0 / 1e6 * 1000.0 / dt_ms;
	r->r_await_ms = rd_ios > 0 ? (double) rd_ticks / rd_ios : 0.0;
	r->w_await_ms = wr_ios > 0 ? (double) wr_ticks / wr_ios : 0.0;
	r->aqu_sz = tiq / dt_ms;
	r->r_ticks_ps = rd_ticks * 1000.0 / dt_ms;
	r->w_ticks_ps = wr_ticks * 1000.0 / dt_ms;
	r->util_pct = Min(100.0, io_ticks * 100.0 / dt_ms);
	return true;
}

static void
smooth_rates(IosatRates *s, const IosatRates *r, double alpha)
{
	s->r_iops = smooth(s->r_iops, r->r_iops, alpha);
	s->w_iops = smooth(s->w_iops, r->w_iops, alpha);
	s->r_mbps = smooth(s->r_mbps, r->r_mbps, alpha);
	s->w_mbps = smooth(s->w_mbps, r->w_mbps, alpha);
	s->r_ticks_ps = smooth(s->r_ticks_ps, r->r_ticks_ps, alpha);
	s->w_ticks_ps = smooth(s->w_ticks_ps, r->w_ticks_ps, alpha);

	/*
	 * Latency is smoothed as a ratio of smoothed time to smoothed requests,
	 * weighting each interval by its I/O: an idle interval carries no
	 * latency information, and must not pull the average towards zero.
	 */
	if (s->r_iops > 0.01)
		s->r_await_ms = s->r_ticks_ps / s->r_iops;
	if (s->w_iops > 0.01)
		s->w_await_ms = s->w_ticks_ps / s->w_iops;
	s->aqu_sz = smooth(s->aqu_sz, r->aqu_sz, alpha);
	s->util_pct = smooth(s->util_pct, r->util_pct, alpha);
}

static bool
read_kernel_file(const char *path, char *buf, size_t size, ssize_t *len)
{
	*len = iosat_read_small_file(path, buf, size);
	return *len >= 0;
}

static void
read_queue_attrs(IosatDevice *d, int64 *nr_requests, int *rotational,
				 char *scheduler)
{
	char		path[MAXPGPATH];
	char		buf[256];
	ssize_t		n;
	uint64		v;

	*nr_requests = -1;
	*rotational = -1;
	scheduler[0] = '\0';

	iosat_sysfs_path(path, sizeof(path), "/block/%s/queue/nr_requests", d->name);
	if (read_kernel_file(path, buf, sizeof(buf), &n) && kparse_u64(buf, n, &v) &&
		v <= PG_INT32_MAX)
		*nr_requests = (int64) v;
	iosat_sysfs_path(path, sizeof(path), "/block/%s/queue/rotational", d->name);
	if (read_kernel_file(path, buf, sizeof(buf), &n) && kparse_u64(buf, n, &v) &&
		v <= 1)
		*rotational = (int) v;
	iosat_sysfs_path(path, sizeof(path), "/block/%s/queue/scheduler", d->name);
	if (!(read_kernel_file(path, buf, sizeof(buf), &n) &&
		  kparse_scheduler(buf, n, scheduler, IOSAT_NAME_LEN)))
		scheduler[0] = '\0';
}

/*
 * How long requests have been in flight at a device with none completed.
 * If none completed since the last sample and requests are in flight now,
 * the stall began at the last sample when requests were in flight then too
 * (one of them is still waiting), else now.  A completion, nothing in
 * flight, or counters that cannot be compared end it.
 */
static double
stall_duration(DevLocal *l, const KDiskStat *st, int64 inflight, double now_mono)
{
	uint64		dr,
				dw,
				dd,
				df;

	if (!l->have_prev || inflight <= 0 ||
		!kcounter_delta(l->prev.rd_ios, st->rd_ios, &dr) ||
		!kcounter_delta(l->prev.wr_ios, st->wr_ios, &dw) ||
		!kcounter_delta(l->prev.dc_ios, st->dc_ios, &dd) ||
		!kcounter_delta(l->prev.fl_ios, st->fl_ios, &df) ||
		dr + dw + dd + df > 0)
	{
		l->stalling = false;
		return 0.0;
	}
	if (!l->stalling)
	{
		l->stalling = true;
		l->stall_start = l->prev_inflight > 0 ? l->prev_mono_ms : now_mono;
	}
	return now_mono - l->stall_start;
}

/* log the start of a stall once, and its end once */
static void
note_stall(IosatDevice *d, DevLocal *l, double stall_ms, int64 inflight,
		   double now_mono)
{
	if (stall_ms >= IOSAT_STALL_MS && !l->stall_logged)
	{
		char		msg[IOSAT_ERROR_LEN];

		snprintf(msg, sizeof(msg),
				 "device \"%s\" (%u:%u) is stalled: %lld requests in flight, none completed for %.1f s",
				 d->name, d->major, d->minor, (long long) inflight, stall_ms / 1000.0);
		iosat_set_error(msg);
		ereport(LOG,
				(errmsg("iosat: device \"%s\" (%u:%u) is stalled",
						d->name, d->major, d->minor),
				 errdetail("%lld requests have been in flight with none completed for %.1f s.",
						   (long long) inflight, stall_ms / 1000.0)));
		l->stall_logged = true;
	}
	else if (stall_ms < IOSAT_STALL_MS && l->stall_logged)
	{
		ereport(LOG,
				(errmsg("iosat: device \"%s\" (%u:%u) completes requests again",
						d->name, d->major, d->minor),
				 errdetail("It was stalled for about %.1f s.",
						   (now_mono - l->stall_start) / 1000.0)));
		l->stall_logged = false;
	}
}

/* sample one device; returns false if it needs re-discovery */
static bool
sample_device(int i, double now_mono, TimestampTz now, uint64 sampleno)
{
	IosatDevice *d = &iosat_shared->devices[i];
	DevLocal   *l = &devlocal[i];
	char		path[MAXPGPATH];
	char		buf[512];
	ssize_t		n;
	KDiskStat	st;
	uint64		inr = 0,
				inw = 0;
	bool		have_inflight;
	IosatRates	r;
	bool		have_rates = false;
	IosatDevStatus status;
	char		note[IOSAT_NOTE_LEN] = "";
	int64		nr_requests = d->nr_requests;
	int			rotational = d->rotational;
	char		scheduler[IOSAT_NAME_LEN];
	IosatBpfFigures bpf;
	bool		have_bpf;
	int64		inflight;
	double		stall_ms;

	if (d->status == IOSAT_DEV_NO_BLOCK_DEVICE || d->status == IOSAT_DEV_NOT_FOUND)
		return d->status != IOSAT_DEV_NOT_FOUND;

	iosat_sysfs_path(path, sizeof(path), "/block/%s/stat", d->name);
	if (!read_kernel_file(path, buf, sizeof(buf), &n))
	{
		int			save = errno;

		status = (save == ENOENT || save == ENODEV || save == ENXIO) ?
			IOSAT_DEV_VANISHED : IOSAT_DEV_UNREADABLE;
		snprintf(note, sizeof(note), "%s: %s", path, strerror(save));
		goto publish_error;
	}
	if (!kparse_diskstat(buf, n, &st))
	{
		status = IOSAT_DEV_UNREADABLE;
		snprintf(note, sizeof(note), "%s: unexpected content (%zd bytes)", path, n);
		goto publish_error;
	}

	iosat_sysfs_path(path, sizeof(path), "/block/%s/inflight", d->name);
	have_inflight = read_kernel_file(path, buf, sizeof(buf), &n) &&
		kparse_inflight(buf, n, &inr, &inw);
	inflight = have_inflight ? (int64) (inr + inw) : (int64) st.in_flight;
	stall_ms = stall_duration(l, &st, inflight, now_mono);

	strlcpy(scheduler, d->scheduler, sizeof(scheduler));
	if (sampleno % QUEUE_ATTR_EVERY == 0 || d->nr_requests < 0)
		read_queue_attrs(d, &nr_requests, &rotational, scheduler);

	if (l->have_prev)
	{
		have_rates = derive_rates(&l->prev, &st, now_mono - l->prev_mono_ms, &r);
		if (!have_rates)
			strlcpy(note, "counters went backwards (device reset?); restarting the series",
					sizeof(note));
	}
	status = have_rates || d->samples > 0 ? IOSAT_DEV_OK : IOSAT_DEV_WARMING;
	if (stall_ms >= IOSAT_STALL_MS && note[0] == '\0')
		snprintf(note, sizeof(note),
				 "stalled: %lld requests in flight, none completed for %.1f s",
				 (long long) inflight, stall_ms / 1000.0);

	/* latency distribution, queue depths, requeues: from iosatd's maps */
	have_bpf = iosat_bpf_sample_device(d->major, d->minor, &bpf) && have_rates;

	iosat_seq_begin_write(&d->changecount);
	d->status = status;
	d->source = have_bpf ? IOSAT_SOURCE_BPF : IOSAT_SOURCE_SYSFS;
	if (have_bpf)
		d->bpf = bpf;
	strlcpy(d->note, note, IOSAT_NOTE_LEN);
	d->sample_time = now;
	d->stat_fields = st.nfields;
	d->inflight_r = have_inflight ? (int64) inr : (int64) st.in_flight;
	d->inflight_w = have_inflight ? (int64) inw : 0;
	d->stall_ms = stall_ms;
	d->stalled_since = stall_ms >= IOSAT_STALL_MS ?
		now - (TimestampTz) (stall_ms * 1000.0) : 0;
	d->nr_requests = nr_requests;
	d->rotational = rotational;
	strlcpy(d->scheduler, scheduler, IOSAT_NAME_LEN);
	d->iops_limit = iosat_device_ceiling(d->name);
	if (have_rates)
	{
		double		dt = now_mono - l->prev_mono_ms;
		double		alpha = iosat_smoothing_ms <= 0 ? 1.0 :
			1.0 - exp(-dt / (double) iosat_smoothing_ms);

		d->last = r;
		if (l->stall_logged && stall_ms < IOSAT_STALL_MS)
			l->after_stall = AFTER_STALL_SAMPLES;
		if (d->samples == 0)
			d->smooth = r;
		else if (l->after_stall > 0)
		{
			/*
			 * The requests the stall held complete now, each with the
			 * stall's length as its latency.  That was the stall, reported
			 * as such; smoothed in, it would hold the latency signal up
			 * (and the device saturated) for seconds after the device
			 * answers again.  The rates count; latency and queue depth
			 * keep their value from before the stall.
			 */
			IosatRates	adj = r;

			adj.r_ticks_ps = d->smooth.r_await_ms * r.r_iops;
			adj.w_ticks_ps = d->smooth.w_await_ms * r.w_iops;
			adj.aqu_sz = d->smooth.aqu_sz;
			smooth_rates(&d->smooth, &adj, alpha);
			l->after_stall--;
		}
		else
			smooth_rates(&d->smooth, &r, alpha);
		d->samples++;
	}
	iosat_seq_end_write(&d->changecount);

	l->prev = st;
	l->prev_mono_ms = now_mono;
	l->prev_inflight = inflight;
	l->have_prev = true;
	note_status(i, d, status, note);
	note_stall(d, l, stall_ms, inflight, now_mono);
	return true;

publish_error:
	iosat_seq_begin_write(&d->changecount);
	d->status = status;
	d->source = IOSAT_SOURCE_NONE;
	strlcpy(d->note, note, IOSAT_NOTE_LEN);
	d->sample_time = now;
	d->stall_ms = 0;
	d->stalled_since = 0;
	iosat_seq_end_write(&d->changecount);
	l->have_prev = false;
	l->stalling = false;
	l->stall_logged = false;
	l->after_stall = 0;
	note_status(i, d, status, note);
	return status != IOSAT_DEV_VANISHED;
}

static void
sample_psi(double now_mono, TimestampTz now)
{
	char		path[MAXPGPATH];
	char		buf[512];
	ssize_t		n;
	KPsi		psi;
	IosatPsiState *s = &iosat_shared->psi;

	iosat_procfs_path(path, sizeof(path), "/pressure/io");
	if (!read_kernel_file(path, buf, sizeof(buf), &n) || !kparse_psi(buf, n, &psi))
	{
		if (!psi_local.logged_missing)
		{
			ereport(LOG,
					(errmsg("iosat: %s is not available; I/O pressure (PSI) is not reported",
							path),
					 errhint("PSI needs a kernel built with CONFIG_PSI and booted with psi=1 where it is off by default.")));
			psi_local.logged_missing = true;
		}
		iosat_seq_begin_write(&s->changecount);
		s->present = false;
		iosat_seq_end_write(&s->changecount);
		psi_local.have_prev = false;
		return;
	}
	psi_local.logged_missing = false;

	iosat_seq_begin_write(&s->changecount);
	s->present = true;
	s->some_avg10 = psi.some.avg10;
	s->some_avg60 = psi.some.avg60;
	s->full_avg10 = psi.full.avg10;
	s->full_avg60 = psi.full.avg60;
	if (psi_local.have_prev && now_mono > psi_local.mono_ms)
	{
		uint64		ds = 0,
					df = 0;
		double		dt_us = (now_mono - psi_local.mono_ms) * 1000.0;

		if (kcounter_delta(psi_local.some_total, psi.some.total, &ds))
			s->some_pct = Min(100.0, ds * 100.0 / dt_us);
		if (psi.full.present &&
			kcounter_delta(psi_local.full_total, psi.full.total, &df))
			s->full_pct = Min(100.0, df * 100.0 / dt_us);
	}
	s->sample_time = now;
	iosat_seq_end_write(&s->changecount);

	psi_local.some_total = psi.some.total;
	psi_local.full_total = psi.full.total;
	psi_local.mono_ms = now_mono;
	psi_local.have_prev = true;
}

/*
 * The server's write debt (collect/memcg.c) and its growth, smoothed over
 * max(iosat.smoothing_window, DEBT_SMOOTHING_MS); the governor counts the
 * growth as writes owed.
 */
static void
sample_write_debt(double now_mono, TimestampTz now)
{
	IosatWriteDebt *s = &iosat_shared->write_debt;
	char		source[IOSAT_DEBT_SOURCE_LEN];
	uint64		bytes;
	bool		new_source;

	if (!iosat_write_debt_read(&bytes, source, sizeof(source), &new_source))
	{
		if (!debt_local.logged_missing)
		{
			ereport(LOG,
					(errmsg("iosat: the page cache the server holds dirty cannot be read; its write debt is not counted"),
					 errdetail("Neither the memory cgroup's memory.stat nor /proc/meminfo gave Dirty and Writeback.")));
			debt_local.logged_missing = true;
		}
		iosat_seq_begin_write(&s->changecount);
		s->present = false;
		s->growth_bps = 0;
		iosat_seq_end_write(&s->changecount);
		debt_local.have_prev = false;
		return;
	}
	debt_local.logged_missing = false;
	/* another source (the cgroup went, or moved): no growth from the jump */
	if (new_source)
		debt_local.have_prev = false;
	iosat_seq_begin_write(&s->changecount);
	if (debt_local.have_prev && now_mono > debt_local.mono_ms)
	{
		double		dt = now_mono - debt_local.mono_ms;
		double		growth = ((double) bytes - (double) debt_local.bytes) /
			(dt / 1000.0);
		double		alpha = 1.0 - exp(-dt / (double) Max(iosat_smoothing_ms,
														 DEBT_SMOOTHING_MS));

		s->growth_bps = s->present ? smooth(s->growth_bps, growth, alpha) : growth;
	}
	else
		s->growth_bps = 0;
	s->present = true;
	s->bytes = (double) bytes;
	strlcpy(s->source, source, sizeof(s->source));
	s->sample_time = now;
	iosat_seq_end_write(&s->changecount);
	debt_local.bytes = bytes;
	debt_local.mono_ms = now_mono;
	debt_local.have_prev = true;
}

/*
 * Has a tablespace been created or dropped since we looked?  An inotify
 * watch on pg_tblspc answers without a system call on the data directory
 * (reading the watch's queue never waits for the file system); where inotify
 * cannot be had, fstat() of pg_tblspc held open, which needs no path lookup.
 * A plain stat("pg_tblspc") at every sample would put the sampler in D with
 * everyone else once the directory's entry has left the cache of a device
 * that stopped answering.
 */
static int	tblspc_watch_fd = -1;
static int	tblspc_dir_fd = -1;

static void
tablespaces_watch(void)
{
	if (tblspc_watch_fd < 0 && tblspc_dir_fd < 0)
	{
		tblspc_watch_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
		if (tblspc_watch_fd >= 0 &&
			inotify_add_watch(tblspc_watch_fd, "pg_tblspc",
							  IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO |
							  IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR) < 0)
		{
			close(tblspc_watch_fd);
			tblspc_watch_fd = -1;
		}
		if (tblspc_watch_fd < 0)
			tblspc_dir_fd = open("pg_tblspc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	}
}

static bool
tablespaces_changed(struct timespec *last)
{
	struct stat st;
	bool		changed;

	if (tblspc_watch_fd >= 0)
	{
		union
		{
			struct inotify_event ev;
			char		buf[4096];
		}			u;
		ssize_t		n;

		changed = false;
		while ((n = read(tblspc_watch_fd, u.buf, sizeof(u.buf))) > 0)
		{
			changed = true;
			/* pg_tblspc itself replaced: watch the new one after discovery */
			for (char *p = u.buf; p < u.buf + n;)
			{
				struct inotify_event *ev = (struct inotify_event *) p;

				if (ev->mask & (IN_IGNORED | IN_DELETE_SELF | IN_MOVE_SELF))
				{
					close(tblspc_watch_fd);
					tblspc_watch_fd = -1;
					break;
				}
				p += sizeof(struct inotify_event) + ev->len;
			}
			if (tblspc_watch_fd < 0)
				break;
		}
		return changed;
	}
	if (tblspc_dir_fd < 0 || fstat(tblspc_dir_fd, &st) != 0)
		return false;
	changed = st.st_mtim.tv_sec != last->tv_sec ||
		st.st_mtim.tv_nsec != last->tv_nsec;
	*last = st.st_mtim;
	return changed;
}

static void
sampler_exit(int code, Datum arg)
{
	iosat_bpf_sampler_close();
	pg_atomic_write_u32(&iosat_shared->sampler_pid, 0);
}

void
iosat_sampler_main(Datum arg)
{
	double		next_due;
	double		last_discovery;
	bool		need_discovery = true;
	struct timespec tblspc_mtime = {0};
	uint64		sampleno = 0;
	MemoryContext cxt;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, SignalHandlerForShutdownRequest);
	BackgroundWorkerUnblockSignals();

	cxt = AllocSetContextCreate(TopMemoryContext, "iosat sampler",
								ALLOCSET_DEFAULT_SIZES);
	MemoryContextSwitchTo(cxt);

	before_shmem_exit(sampler_exit, 0);
	pg_atomic_write_u32(&iosat_shared->sampler_pid, MyProcPid);
	pg_atomic_write_u64(&iosat_shared->sampler_started, GetCurrentTimestamp());
	ereport(LOG,
			(errmsg("iosat sampler started (interval %d ms)",
					iosat_sample_interval_ms)));

	tablespaces_watch();
	(void) tablespaces_changed(&tblspc_mtime);
	last_discovery = iosat_mono_ms();
	next_due = iosat_mono_ms();

	while (!ShutdownRequestPending)
	{
		double		now_mono;
		double		pass_start;
		TimestampTz now;
		bool		lost = false;

		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
			need_discovery = true;
			/* the mean pass cost restarts with the new settings */
			pg_atomic_write_u64(&iosat_shared->pass_ns_sum, 0);
			pg_atomic_write_u64(&iosat_shared->bpf_ns_sum, 0);
			pg_atomic_write_u64(&iosat_shared->pass_ns_count, 0);
		}

		now_mono = iosat_mono_ms();
		if (now_mono < next_due)
		{
			/* woken early (reload, or a signal): wait out the interval */
			(void) WaitLatch(MyLatch,
							 WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
							 (long) ceil(next_due - now_mono), PG_WAIT_EXTENSION);
			ResetLatch(MyLatch);
			CHECK_FOR_INTERRUPTS();
			continue;
		}
		if (tablespaces_changed(&tblspc_mtime))
			need_discovery = true;
		if (need_discovery)
		{
			tablespaces_watch();
			discover();
			need_discovery = false;
			last_discovery = now_mono;
		}

		now = GetCurrentTimestamp();
		pass_start = iosat_mono_ms();
		iosat_bpf_sample_begin(now);
		for (int i = 0; i < ndev; i++)
			if (!sample_device(i, now_mono, now, sampleno))
				lost = true;
		sample_psi(now_mono, now);
		sample_write_debt(now_mono, now);
		sampleno++;

		/* decide, free what dead backends left, wake the queue */
		iosat_admission_reclaim();
		{
			IosatSignal sig;

			/* the verdict, then what it drives */
			iosat_governor_update(now, &sig);
			/* queued statements re-check: a slot may be free, the gate open */
			iosat_admission_wake(!sig.saturated || sig.admission_off);
			iosat_pace_update(&sig);
			iosat_vacuum_policy_update(&sig);
		}

		/* what this pass cost (iosat_status) */
		{
			uint64		ns = (uint64) ((iosat_mono_ms() - pass_start) * 1e6);

			pg_atomic_write_u64(&iosat_shared->pass_ns_last, ns);
			pg_atomic_fetch_add_u64(&iosat_shared->pass_ns_sum, ns);
			pg_atomic_fetch_add_u64(&iosat_shared->bpf_ns_sum, iosat_bpf_pass_ns());
			pg_atomic_fetch_add_u64(&iosat_shared->pass_ns_count, 1);
		}

		pg_atomic_write_u64(&iosat_shared->last_sample_time, (uint64) now);
		pg_atomic_write_u64(&iosat_shared->last_sample_mono, (uint64) iosat_mono_us());
		pg_atomic_fetch_add_u64(&iosat_shared->samples, 1);

		/* look again for devices that went away or never were there */
		if (lost && now_mono - last_discovery >= REDISCOVER_EVERY_MS)
			need_discovery = true;

		MemoryContextReset(cxt);

		/* fixed rate: the next sample is due one interval after the last */
		next_due += iosat_sample_interval_ms;
		if (next_due < iosat_mono_ms())
			next_due = iosat_mono_ms() + iosat_sample_interval_ms;	/* fell behind */
		CHECK_FOR_INTERRUPTS();
	}
	/*
	 * Exit status 1, not 0: the postmaster unregisters for good a worker that
	 * exits with 0, so a pg_terminate_backend() of this worker would stop it
	 * until the next restart.  With 1 it comes back after bgw_restart_time;
	 * at server shutdown nothing is restarted either way.
	 */
	proc_exit(1);
}
