/*-------------------------------------------------------------------------
 *
 * governor.c
 *	  From device figures to a verdict: is the storage saturated, and how
 *	  many heavy statements may run?  Runs in the sampler after each sample
 *	  and publishes the answer in shared memory (IosatGate).
 *
 * Saturation.  A device that serves the cluster is pressed when
 *	- its IOPS (reads + writes, smoothed) reach ENTER_IOPS of its ceiling
 *	  (iosat.iops_limit, or its entry in iosat.device_iops_limits), or its
 *	  read IOPS reach ENTER_IOPS of iosat.read_iops_limit, or its write
 *	  IOPS of iosat.write_iops_limit (volumes that budget reads and writes
 *	  apart, as Google's persistent disks do), and
 *	  its latency has risen above its usual level (iops_weight), or
 *	- its read latency (smoothed await) exceeds its threshold:
 *	  iosat.latency_target, or by default LATENCY_FACTOR times the latency
 *	  it usually shows (learn_usual_latency), at least LATENCY_FLOOR_MS, or
 *	- its average queue depth exceeds iosat.queue_depth_target, or
 *	- it is stalled: requests in flight and none completed for
 *	  IOSAT_STALL_MS (the pressure is the stall's length over that).  A
 *	  stalled device gives no latency (latency is measured at completion)
 *	  and its IOPS fall to zero: without this, a volume that stopped
 *	  answering would look idle, and heavy statements would pile into D.
 * Hysteresis keeps the verdict from flapping: saturation starts on the
 * first pressed sample, and ends only after every device has stayed below
 * the lower thresholds (EXIT_IOPS of the ceiling, EXIT_LATENCY of the
 * target, EXIT_QUEUE of the queue target) for EXIT_HOLD_MS.
 *
 * The limit.  While saturated, heavy statements need a slot, and the
 * number of slots follows AIMD, as TCP's congestion window does: on
 * saturation it starts at half the heavy statements then running (they
 * evidently were too many); every DECREASE_EVERY_MS that the device stays
 * pressed it is cut by a quarter; every step in which the pressure is below
 * IOSAT_RELAX_BELOW (headroom the paced statements have not filled) it
 * grows by one.  It never goes below 1: something must make progress; and,
 * while nothing is queued, never above the statements holding a slot plus
 * LIMIT_PROBE, so that it stays tied to what runs (heavy statements admitted apart do not count:
 * admission.c).  AIMD needs no model of the device, converges under
 * sustained overload, and its multiplicative cut acts within a second of a
 * latency spike; its known weakness, a sawtooth around the limit, is
 * damped here by the smoothing of the signal and the cut's rate limit.
 *
 * Heavy work held.  The policies are told whether iosat is holding heavy
 * statements back (one queued, or a paced statement slept since the last
 * sample): the vacuum policy then gives them the headroom before it speeds
 * a vacuum past its configured costs (vacuum_policy.c).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "miscadmin.h"
#include "utils/timestamp.h"

#include "guc.h"
#include "clock.h"
#include "collect/devices.h"
#include "sampler/governor.h"
#include "state/queue.h"
#include "state/rules.h"
#include "state/shared.h"
#include "state/shmem.h"

#define ENTER_IOPS		0.95
#define EXIT_IOPS		0.85
#define EXIT_LATENCY	0.70
#define EXIT_QUEUE		0.70
#define EXIT_HOLD_MS	2000
#define DECREASE_EVERY_MS 1000

/* the learned latency (learn_usual_latency, latency_threshold) */
#define USUAL_DOWN_S			30.0
#define USUAL_UP_S				15.0
#define USUAL_UP_SATURATED_S	600.0
/* the first seconds of latency a device shows are learned whatever runs */
#define USUAL_LEARN_S			30.0
#define LATENCY_FACTOR			2.0
#define LATENCY_FLOOR_MS		10.0
#define LATENCY_UNLEARNED_MS	20
/* the IOPS signals count in full from this ratio of latency to usual */
#define IOPS_CONFIRM			1.5
/* 10^6-byte MB (the device rates) in 2^20-byte MB (iosat.throughput_limit) */
#define MB_PER_MiB				(1e6 / 1048576.0)
/* the limit never exceeds the heavy statements holding a slot plus this */
#define LIMIT_PROBE				1

/* iosat_mono_us() stamps: a wall-clock step must not stretch an interval */
static int64 calm_since = 0;
static int64 last_decrease = 0;
static int64 last_increase = 0;
static int64 last_update = 0;
/* IOSAT_C_PACE_US at the last sample: heavy_held */
static uint64 last_paced_us = 0;
static uint32 limit = 0;

/*
 * The IOPS ceiling of a device: its entry in iosat.device_iops_limits
 * ("name:iops, name:iops"), else iosat.iops_limit.  The syntax was checked
 * when the parameter was set.
 */
int64
iosat_device_ceiling(const char *name)
{
	const char *p = iosat_device_iops_limits;
	size_t		nl = strlen(name);

	while (p != NULL && *p)
	{
		const char *start;
		const char *colon = NULL;

		while (*p == ' ' || *p == ',')
			p++;
		start = p;
		while (*p && *p != ',')
		{
			if (*p == ':' && colon == NULL)
				colon = p;
			p++;
		}
		if (colon != NULL && (size_t) (colon - start) == nl &&
			strncmp(start, name, nl) == 0)
			return strtol(colon + 1, NULL, 10);
	}
	return iosat_iops_limit;
}

/*
 * The saturation signals: each a smoothed figure of a device against a
 * threshold (0: that signal is off).  This is the one list: the pressure
 * (device_pressure), the end of saturation (device_calm) and whether a
 * device has a signal at all (device_signalled, for vacuum backpressure)
 * are all read from it, so a signal added here counts for each of them.
 */
typedef enum SignalKind
{
	SIG_IOPS,					/* reads + writes, against the device's ceiling */
	SIG_READ_IOPS,				/* reads, against iosat.read_iops_limit */
	SIG_WRITE_IOPS,				/* writes (and those owed), against
								 * iosat.write_iops_limit */
	SIG_OWED_IOPS,				/* reads + writes + writes owed, while a
								 * write debt grows, against the ceiling */
	SIG_LATENCY,				/* read await, against iosat.latency_target */
	SIG_QUEUE,					/* aqu-sz, against iosat.queue_depth_target */
	SIG_THROUGHPUT,				/* MiB/s read + written + owed, against
								 * iosat.throughput_limit */
	NUM_SIGNALS
} SignalKind;

/* the reason given when it is the largest: its figure, its threshold */
static const char *const signal_why[NUM_SIGNALS] = {
	[SIG_IOPS] = "%.0f IOPS of %.0f provisioned",
	[SIG_READ_IOPS] = "%.0f read IOPS of %.0f provisioned for reads",
	[SIG_WRITE_IOPS] = "%.0f write IOPS (with those owed to write-back) of %.0f provisioned for writes",
	[SIG_OWED_IOPS] = "%.0f IOPS with those owed to write-back, of %.0f provisioned",
	[SIG_LATENCY] = "read latency %.1f ms over the %.0f ms target",
	[SIG_QUEUE] = "queue depth %.1f over the target of %.0f",
	[SIG_THROUGHPUT] = "%.0f MB/s read, written and owed to write-back of %.0f provisioned",
};

typedef struct Signal
{
	double		figure;
	double		threshold;		/* 0: not configured */
	double		enter;			/* pressed from threshold * enter */
	double		exit;			/* calm at or below threshold * exit */
	double		weight;			/* how much it counts, 0 to 1 */
} Signal;

static void
set_signal(Signal *s, double figure, double threshold, double enter, double exit,
		   double weight)
{
	s->figure = figure;
	s->threshold = threshold;
	s->enter = enter;
	s->exit = exit;
	s->weight = weight;
}

/*
 * The latency threshold of a device: iosat.latency_target when set, else
 * (-1, the default) LATENCY_FACTOR times the latency it shows when not
 * overloaded, and at least LATENCY_FLOOR_MS; 0: no latency signal.
 */
static double
latency_threshold(const IosatDevice *d)
{
	if (iosat_latency_target_ms > 0)
		return (double) iosat_latency_target_ms;
	if (iosat_latency_target_ms == 0)
		return 0.0;
	if (d->usual_await_ms <= 0)
		return (double) LATENCY_UNLEARNED_MS;
	return Max(LATENCY_FLOOR_MS, LATENCY_FACTOR * d->usual_await_ms);
}

/*
 * How much the IOPS signals count: in full once the read latency is
 * IOPS_CONFIRM times its usual level, not at all at that level, in
 * proportion between.  The kernel counts the requests it sends, the
 * volume what it bills: EBS merges sequential requests into one I/O, a
 * page cache or FUSE layer below the block device merges writes (the storm
 * rig's kernel counts 880 IOPS where the volume spends 730), so IOPS near
 * the ceiling with the latency at its usual level is not the ceiling: a
 * volume at its ceiling makes requests wait.  With no learned latency (or
 * none measured), or the latency signal off, the IOPS count in full.
 */
static double
iops_weight(const IosatDevice *d, double lat)
{
	if (iosat_latency_target_ms == 0 || d->usual_await_ms <= 0 || lat <= 0)
		return 1.0;
	return Min(1.0, Max(0.0, (lat / d->usual_await_ms - 1.0) / (IOPS_CONFIRM - 1.0)));
}

static double
device_latency(const IosatDevice *d)
{
	return d->smooth.r_iops > 0.5 ? d->smooth.r_await_ms : 0.0;
}

/*
 * MB/s (2^20 bytes, as iosat.throughput_limit's unit) a device reads and
 * writes, plus, where relation files live (the data directory and
 * tablespaces; every sampled device when none of them holds any: the
 * devices named in iosat.devices), the growth of the server's write debt:
 * pages dirtied in the page cache that the kernel will write back later
 * (collect/memcg.c), a vacuum's above all, which no device counter shows
 * until they are written.  A debt that drains counts as the writes it makes.
 */
static bool debt_on_every_device = false;	/* set by iosat_governor_update */

/* the write debt's growth counted on D, MB/s (10^6); 0 while it drains */
static double
debt_growth(const IosatDevice *d)
{
	const IosatWriteDebt *debt = &iosat_shared->write_debt;

	if ((debt_on_every_device ||
		 (d->roles & (IOSAT_ROLE_DATA | IOSAT_ROLE_TABLESPACE)) != 0) &&
		debt->present && debt->growth_bps > 0)
		return debt->growth_bps / 1e6;
	return 0.0;
}

static double
device_throughput(const IosatDevice *d)
{
	return (d->smooth.r_mbps + d->smooth.w_mbps + debt_growth(d)) * MB_PER_MiB;
}

/*
 * The write operations a second the growth of the debt will cost D: at
 * the size its writes have now (the kernel's write-back merges adjacent
 * pages: a vacuum's into large writes, scattered updates' hardly at all),
 * and at least OWED_WRITE_MIN bytes each: a device that now writes only
 * WAL (small appends) or nothing says little of how the kernel will
 * write a bulk load's or a checkpoint's pages back.
 */
#define OWED_WRITE_MIN	(32 * 1024)

static double
device_owed_iops(const IosatDevice *d)
{
	double		growth = debt_growth(d);
	double		size_mb = OWED_WRITE_MIN / 1e6;

	if (growth <= 0)
		return 0.0;
	if (d->smooth.w_iops >= 1.0 && d->smooth.w_mbps > 0)
		size_mb = Max(size_mb, d->smooth.w_mbps / d->smooth.w_iops);
	return growth / size_mb;
}

#define OWED_FULL		0.10

/* how much a device's measured IOPS count beside OWED writes owed */
static double
owed_weight(const IosatDevice *d, double owed, double latency_weight)
{
	if (d->iops_limit <= 0)
		return latency_weight;
	return Max(latency_weight, Min(1.0, owed / (OWED_FULL * d->iops_limit)));
}

static void
device_signals(const IosatDevice *d, Signal *sig)
{
	double		lat = device_latency(d);
	double		w = iops_weight(d, lat);
	double		owed = device_owed_iops(d);

	set_signal(&sig[SIG_IOPS], d->smooth.r_iops + d->smooth.w_iops,
			   (double) d->iops_limit, ENTER_IOPS, EXIT_IOPS, w);
	/*
	 * The writes owed count in full, and so do the IOPS beside them once
	 * the debt grows by OWED_FULL of the ceiling: a volume at its ceiling
	 * then defers writes (the kernel throttles write-back while reads
	 * wait) instead of making reads wait, so the read latency that
	 * confirms the IOPS cannot rise, and the deferred writes come back
	 * after the storm.  Below that, in proportion (a debt that grows a
	 * little, as a steady load's does between write-back rounds, does not
	 * undo the confirmation).
	 */
	set_signal(&sig[SIG_OWED_IOPS],
			   owed > 0 ? (d->smooth.r_iops + d->smooth.w_iops) * owed_weight(d, owed, w) + owed : 0.0,
			   (double) d->iops_limit, ENTER_IOPS, EXIT_IOPS, 1.0);
	set_signal(&sig[SIG_READ_IOPS], d->smooth.r_iops,
			   (double) iosat_read_iops_limit, ENTER_IOPS, EXIT_IOPS, w);
	/*
	 * In full: a write budget that runs out makes writes wait, not reads,
	 * and the read latency that confirms the other IOPS signals would not
	 * show it
	 */
	set_signal(&sig[SIG_WRITE_IOPS], d->smooth.w_iops + owed,
			   (double) iosat_write_iops_limit, ENTER_IOPS, EXIT_IOPS, 1.0);
	set_signal(&sig[SIG_LATENCY], lat, d->latency_threshold_ms, 1.0, EXIT_LATENCY, 1.0);
	set_signal(&sig[SIG_QUEUE], d->smooth.aqu_sz,
			   (double) iosat_queue_depth_target, 1.0, EXIT_QUEUE, 1.0);
	/* in full: bytes are bytes, however the volume counts its operations */
	set_signal(&sig[SIG_THROUGHPUT], device_throughput(d),
			   (double) iosat_throughput_limit_mb, ENTER_IOPS, EXIT_IOPS, 1.0);
}

/* is a vacuum (autovacuum worker, or a manual VACUUM iosat ticks) running? */
static bool
vacuum_running(void)
{
	if (iosat_vac == NULL)
		return false;
	for (int i = 0; i < iosat_vac->nslots; i++)
		if (pg_atomic_read_u32(&iosat_vac->slots[i].pid) != 0)
			return true;
	return false;
}

/*
 * Learn the latency a device shows when it is not overloaded: an
 * exponential average that follows a fall over USUAL_DOWN_S and a rise
 * over USUAL_UP_S, but only while no heavy statement or vacuum runs
 * (heavy), and
 * over USUAL_UP_SATURATED_S while saturated, so that a storm does not
 * become the usual, yet a device whose load has grown for
 * good is not judged saturated for ever.  For the first USUAL_LEARN_S that
 * a device is sampled, a rise is followed over USUAL_UP_S whatever runs: a
 * server (re)started into its daily load first sees the latency of an
 * idle device, and measured against that, the load's ordinary latency
 * confirmed IOPS near the ceiling, saturation held the usual at its
 * ten-minute pace, and the device stayed judged saturated (the storm
 * matrix's autovacuum baseline, reject, 2026-12-04 21:38: 100% of its
 * samples, the usual stuck at 3.9 ms under 7-ms reads).  LATENCY_FLOOR_MS keeps a usual
 * learned on an idle device (a fraction of a millisecond) from making
 * the busy latency that follows look like a storm.  The sampler is its only
 * writer.
 */
static void
learn_usual_latency(IosatDevice *d, bool saturated, bool heavy, double dt_s)
{
	double		lat = device_latency(d);
	double		tau;
	bool		learning = d->usual_learned_s < USUAL_LEARN_S;

	/* the learning window is time since the first sample, reads or not */
	if (dt_s > 0)
		d->usual_learned_s += dt_s;
	if (lat <= 0 || d->stalled_since != 0 || dt_s <= 0)
		return;
	if (d->usual_await_ms <= 0)
	{
		/*
		 * The first latency seen may be a storm's (a server started into
		 * one): start no higher than what gives the unlearned threshold,
		 * and rise from there.
		 */
		d->usual_await_ms = Min(lat, LATENCY_UNLEARNED_MS / LATENCY_FACTOR);
	}
	else
	{
		if (lat < d->usual_await_ms)
			tau = USUAL_DOWN_S;
		else if (learning)
			tau = USUAL_UP_S;
		else if (heavy)
			return;				/* what heavy statements add is not usual */
		else
			tau = saturated ? USUAL_UP_SATURATED_S : USUAL_UP_S;
		d->usual_await_ms += (lat - d->usual_await_ms) * (1.0 - exp(-dt_s / tau));
	}
}

/* is any signal configured for this device? */
static bool
device_signalled(const IosatDevice *d)
{
	Signal		sig[NUM_SIGNALS];

	device_signals(d, sig);
	for (int k = 0; k < NUM_SIGNALS; k++)
		if (sig[k].threshold > 0)
			return true;
	return false;
}

/* how hard a device is pressed: the largest ratio of a figure to its threshold */
static double
device_pressure(const IosatDevice *d, double *iops, double *lat, double *busy,
				char *why, size_t whylen)
{
	Signal		sig[NUM_SIGNALS];
	double		p = 0.0;

	device_signals(d, sig);
	*iops = sig[SIG_IOPS].figure;
	*lat = sig[SIG_LATENCY].figure;
	why[0] = '\0';
	*busy = 0.0;

	for (int k = 0; k < NUM_SIGNALS; k++)
	{
		const Signal *s = &sig[k];
		double		r;

		if (s->threshold <= 0)
			continue;
		*busy = Max(*busy, s->figure / (s->threshold * s->enter));
		r = s->weight * s->figure / (s->threshold * s->enter);
		if (r <= p)
			continue;
		p = r;
		snprintf(why, whylen, signal_why[k], s->figure, s->threshold);
	}
	/* a stall is the reason, whatever the other figures say */
	if (d->stalled_since != 0)
	{
		p = Max(p, d->stall_ms / IOSAT_STALL_MS);
		snprintf(why, whylen, "stalled: %lld requests in flight, none completed for %.1f s",
				 (long long) (d->inflight_r + d->inflight_w), d->stall_ms / 1000.0);
	}
	*busy = Max(*busy, p);
	return p;
}

/* below every lower threshold: the condition for leaving saturation */
static bool
device_calm(const IosatDevice *d)
{
	Signal		sig[NUM_SIGNALS];

	if (d->stalled_since != 0)
		return false;
	device_signals(d, sig);
	for (int k = 0; k < NUM_SIGNALS; k++)
		if (sig[k].threshold > 0 &&
			sig[k].weight * sig[k].figure > sig[k].threshold * sig[k].exit)
			return false;
	return true;
}

void
iosat_governor_update(TimestampTz now, IosatSignal *sig)
{
	IosatGate  *g = &iosat_shared->gate;
	int			n = pg_atomic_read_u32(&iosat_shared->ndevices);
	bool		was = pg_atomic_read_u32(&g->saturated) != 0;
	bool		pressed = false;
	bool		calm = true;
	double		worst = 0.0;
	int			worst_i = -1;
	double		worst_iops = 0,
				worst_lat = 0,
				worst_busy = 0;
	char		worst_why[IOSAT_NOTE_LEN] = "";
	bool		saturated;
	bool		stalled = false;
	bool		signalled = false;	/* a counted device has a signal configured */
	uint32		running;
	bool		mode_off;
	int64		mono = iosat_mono_us();
	double		dt_s = last_update > 0 ? (mono - last_update) / 1e6 : 0;
	bool		heavy_now;
	uint64		paced_us;

	last_update = mono;

	/*
	 * What each device usually does, and the latency threshold from it.
	 * The usual rises only while no heavy statement and no vacuum runs: a
	 * storm is made of them, and a usual that followed them (over seconds,
	 * before saturation slows it) would raise the threshold out of the
	 * storm's reach.
	 */
	heavy_now = iosat_admission_count_running() + iosat_admission_count_apart() > 0 ||
		vacuum_running();
	debt_on_every_device = true;
	for (int i = 0; i < n; i++)
		if (iosat_shared->devices[i].in_use &&
			(iosat_shared->devices[i].roles & (IOSAT_ROLE_DATA | IOSAT_ROLE_TABLESPACE)) != 0)
			debt_on_every_device = false;
	for (int i = 0; i < n; i++)
	{
		IosatDevice *d = &iosat_shared->devices[i];

		if (!d->in_use || d->status != IOSAT_DEV_OK || d->samples == 0)
			continue;
		iosat_seq_begin_write(&d->changecount);
		learn_usual_latency(d, was, heavy_now, dt_s);
		d->latency_threshold_ms = latency_threshold(d);
		iosat_seq_end_write(&d->changecount);
	}

	for (int i = 0; i < n; i++)
	{
		const IosatDevice *d = &iosat_shared->devices[i];
		double		iops,
					lat,
					busy,
					p;
		char		why[IOSAT_NOTE_LEN];

		/* the sampler is the only writer: no need for the change counter */
		if (!d->in_use || d->status != IOSAT_DEV_OK || d->samples == 0)
			continue;
		p = device_pressure(d, &iops, &lat, &busy, why, sizeof(why));
		worst_busy = Max(worst_busy, busy);
		if (p >= 1.0)
			pressed = true;
		if (d->stalled_since != 0)
			stalled = true;
		if (!device_calm(d))
			calm = false;
		if (device_signalled(d))
			signalled = true;
		if (worst_i < 0 || p > worst)
		{
			worst = p;
			worst_i = i;
			worst_iops = iops;
			worst_lat = lat;
			strlcpy(worst_why, why, sizeof(worst_why));
		}
	}

	running = iosat_admission_count_running();

	/* hysteresis */
	if (pressed || !was)
	{
		saturated = pressed;
		calm_since = 0;
	}
	else if (!calm)
	{
		saturated = true;
		calm_since = 0;
	}
	else
	{
		if (calm_since == 0)
			calm_since = mono;
		saturated = !iosat_mono_exceeds(calm_since, mono, EXIT_HOLD_MS);
	}

	/*
	 * AIMD on the heavy-statement limit: halve at the onset, cut by a
	 * quarter every DECREASE_EVERY_MS while pressed, one more every step
	 * while the pressure is below IOSAT_RELAX_BELOW (headroom the paced
	 * statements have not filled), hold between; and, while nothing is
	 * queued (a dip in what runs must not cut the queue's share), never
	 * past the statements that hold a slot plus LIMIT_PROBE: a limit that
	 * nobody uses is no limit when the next storm starts.
	 */
	if (saturated && !was)
	{
		limit = Max(1, running / 2);
		last_decrease = mono;
		last_increase = mono;
		pg_atomic_fetch_add_u64(&g->saturation_events, 1);
		ereport(LOG,
				(errmsg("iosat: device \"%s\" is saturated: %s",
						worst_i >= 0 ? iosat_shared->devices[worst_i].name : "?",
						worst_why),
				 errdetail("%u heavy statements running; limit set to %u.",
						   running, limit)));
	}
	else if (saturated && pressed)
	{
		if (iosat_mono_exceeds(last_decrease, mono, DECREASE_EVERY_MS))
		{
			limit = Max(1, (uint32) (limit * 3 / 4));
			last_decrease = mono;
		}
	}
	else if (saturated && worst < IOSAT_RELAX_BELOW &&
			 iosat_mono_exceeds(last_increase, mono, iosat_step_ms()))
	{
		limit = Min(limit + 1, (uint32) MaxBackends);
		last_increase = mono;
	}
	else if (!saturated && was)
		ereport(LOG,
				(errmsg("iosat: saturation is over"),
				 errdetail("Heavy statements are admitted without a limit.")));
	if (saturated && iosat_admission_queued() == 0)
		limit = Max(1, Min(limit, running + LIMIT_PROBE));

	iosat_seq_begin_write(&g->verdict.changecount);
	if (worst_i >= 0)
	{
		const IosatDevice *d = &iosat_shared->devices[worst_i];

		strlcpy(g->verdict.device, d->name, IOSAT_NAME_LEN);
		g->verdict.iops = worst_iops;
		g->verdict.ceiling = d->iops_limit;
		g->verdict.r_await_ms = worst_lat;
		g->verdict.aqu_sz = d->smooth.aqu_sz;
		g->verdict.usual_await_ms = d->usual_await_ms;
		g->verdict.latency_threshold_ms = d->latency_threshold_ms;
		g->verdict.throughput_mb = device_throughput(d);
		g->verdict.owed_iops = device_owed_iops(d);
	}
	else
		g->verdict.device[0] = '\0';
	g->verdict.pressure = worst;
	strlcpy(g->verdict.reason, saturated ? worst_why : "", IOSAT_NOTE_LEN);
	if (saturated && !was)
		g->verdict.since = now;
	else if (!saturated)
		g->verdict.since = 0;
	iosat_seq_end_write(&g->verdict.changecount);

	pg_atomic_write_u32(&g->running_heavy, running);
	pg_atomic_write_u64(&g->updated, (uint64) now);
	pg_atomic_write_u64(&g->updated_mono, (uint64) mono);

	/*
	 * The limit is set before "saturated" and cleared after it, with a
	 * barrier between: a backend that sees "saturated" then sees a limit,
	 * and a limit of 0 tells it the saturation has just ended (admission.c,
	 * enforced_limit).
	 */
	if (saturated)
	{
		pg_atomic_write_u32(&g->limit, limit);
		pg_write_barrier();
		pg_atomic_write_u32(&g->saturated, 1);
	}
	else
	{
		pg_atomic_write_u32(&g->saturated, 0);
		pg_write_barrier();
		pg_atomic_write_u32(&g->limit, 0);
	}

	/* admission turned off or to monitor by a reload: the queue goes */
	mode_off = iosat_admission_mode == IOSAT_ADMISSION_OFF ||
		iosat_admission_mode == IOSAT_ADMISSION_MONITOR;
	pg_atomic_write_u32(&g->admission_mode, (uint32) iosat_admission_mode);
	pg_atomic_write_u32(&g->queue_timeout_ms, (uint32) iosat_queue_timeout_ms);

	sig->now = now;
	sig->mono = mono;
	sig->pressure = worst;
	sig->busy = worst_busy;
	sig->saturated = saturated;
	sig->stalled = stalled;
	sig->have_signal = signalled;
	sig->admission_off = mode_off;
	paced_us = iosat_admission_paced_us();
	sig->heavy_held = iosat_admission_queued() > 0 || paced_us != last_paced_us;
	last_paced_us = paced_us;
}
