/*-------------------------------------------------------------------------
 *
 * bpfsource.c
 *	  The BPF companion as a source: iosatd pins frozen maps (per leaf disk
 *	  and per process) under iosat.bpf_pin_dir; this file reads them with
 *	  src/bpf/bpf_reader.c (read-only BPF_OBJ_GET and lookups).
 *
 * The sampler keeps its reader in its own memory.  Once per pass it
 * refreshes it (one stat() of the meta pin and one lookup: the magic, ABI
 * version, struct sizes and the heartbeat are checked there), logs a change
 * of status once, and publishes the status for iosat_status.  Then, per
 * device, it looks up {major, minor} and derives the interval's latency
 * percentiles, queue and in-flight depth and requeues from the difference
 * to the previous lookup of the same device.  Any status but "ok" (maps
 * missing, heartbeat stale, daemon gone, incompatible ABI) leaves the device
 * on /sys for that very pass; the first pass after the maps come back has
 * nothing to subtract from yet, so figures return one pass later.
 *
 * A backend that asks for per-process figures (iosat_backends,
 * iosat_io_top) opens a reader of its own on first use and refreshes it at
 * most every 100 ms.
 *
 * BPF is not used when iosat.sysfs_root or iosat.procfs_root point at a
 * fixture tree: the fixture's device numbers are not the kernel's.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <poll.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "miscadmin.h"
#include "utils/timestamp.h"

#include "guc.h"
#include "sampler/bpfsource.h"
#include "state/shared.h"
#include "state/shmem.h"
#include "collect/kparse.h"
#include "collect/procfs.h"

#ifndef IOSAT_NO_LIBBPF
#include "bpf_reader.h"
#else
#include "iosat_abi.h"
#define IOSAT_BPF_OK 0
#endif


/* a backend's reader is refreshed at most this often */
#define BACKEND_REFRESH_NS	(100 * 1000 * 1000)

const char *
iosat_bpf_status_name(int status)
{
	switch (status)
	{
		case 0:
			return "ok";
		case -1:
			return "stale";
		case -2:
			return "missing";
		case -3:
			return "noaccess";
		case -4:
			return "incompatible";
		case -6:
			return "closed";
		case IOSAT_BPFSRC_OFF:
			return "off";
		case IOSAT_BPFSRC_UNSUPPORTED:
			return "unsupported";
		case IOSAT_BPFSRC_UNKNOWN:
			return "unknown";
	}
	return "error";
}

static uint64
mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64) ts.tv_sec * UINT64CONST(1000000000) + (uint64) ts.tv_nsec;
}

/*
 * Is BPF to be used at all?  false with a reason in note when not.
 */
static bool
bpf_wanted(char *note, size_t notelen)
{
#ifdef IOSAT_NO_LIBBPF
	strlcpy(note, "iosat was built without libbpf (libbpf-dev)", notelen);
	return false;
#else
	if (!iosat_bpf_enabled)
	{
		strlcpy(note, "iosat.bpf is off", notelen);
		return false;
	}
	if (iosat_sysfs_root == NULL || strcmp(iosat_sysfs_root, "/sys") != 0 ||
		iosat_procfs_root == NULL || strcmp(iosat_procfs_root, "/proc") != 0)
	{
		strlcpy(note, "iosat.sysfs_root or iosat.procfs_root is a fixture tree", notelen);
		return false;
	}
	return true;
#endif
}

static int
not_wanted_status(void)
{
#ifdef IOSAT_NO_LIBBPF
	return IOSAT_BPFSRC_UNSUPPORTED;
#else
	return IOSAT_BPFSRC_OFF;
#endif
}

#ifndef IOSAT_NO_LIBBPF
static uint64
max_age_ns(void)
{
	/* 0: the reader's default, 3 heartbeat intervals and at least 3 s */
	return (uint64) iosat_bpf_max_age_ms * UINT64CONST(1000000);
}
#endif

/* ---------------------------------------------------------------- the sampler */

#ifndef IOSAT_NO_LIBBPF

/*
 * The reader counts a daemon pid as alive until kill(pid, 0) fails, i.e.
 * until it is reaped; a killed iosatd can stay a zombie for a while (its
 * parent is init).  A zombie's heartbeat has stopped: stale now.  A pidfd
 * (Linux 5.3+) polls readable once its process has exited, reaped or not:
 * one cheap poll() per sample; without pidfd_open, /proc/<pid>/stat's state
 * is read (kept open: pread is cheaper than open/read/close).
 */
typedef struct DaemonWatch
{
	uint32		pid;
	int			pidfd;			/* -1: none */
	int			statfd;			/* /proc/<pid>/stat when there is no pidfd */
} DaemonWatch;

static bool
daemon_exited(DaemonWatch *w, uint32 pid)
{
	char		buf[1024];
	ssize_t		n;
	int			err;
	KProcStat	st;

	if (w->pid != pid)
	{
		if (w->pidfd >= 0)
			close(w->pidfd);
		if (w->statfd >= 0)
			close(w->statfd);
		w->pidfd = w->statfd = -1;
		w->pid = pid;
#ifdef SYS_pidfd_open
		if (pid != 0)
			w->pidfd = (int) syscall(SYS_pidfd_open, (pid_t) pid, 0);
#endif
	}
	if (pid == 0)
		return false;
	if (w->pidfd >= 0)
	{
		struct pollfd pfd = {.fd = w->pidfd,.events = POLLIN};

		return poll(&pfd, 1, 0) > 0 && (pfd.revents & POLLIN) != 0;
	}
	if (iosat_proc_read((int) pid, "stat", buf, sizeof(buf), &n, &err, &w->statfd) != IOSAT_PROC_OK ||
		!kparse_proc_stat(buf, n, &st))
		return false;			/* another pid namespace, or just gone: the reader sees it */
	return st.state == 'Z' || st.state == 'X' || st.state == 'x';
}

/* what the sampler remembers of a device's counters between two passes */
typedef struct BpfDevLocal
{
	bool		valid;
	uint32		major;
	uint32		minor;
	uint64		load_ns;		/* identity of the daemon run they came from */
	uint64		mono_ns;		/* when they were read */
	uint64		used_pass;
	struct iosat_disk_stats prev;
} BpfDevLocal;

static iosat_bpf_reader sreader;
static bool sreader_init = false;
static DaemonWatch swatch = {0, -1, -1};
static BpfDevLocal bpf_devs[IOSAT_MAX_DEVICES];
#endif

static int	sampler_status = IOSAT_BPFSRC_UNKNOWN;
static uint32 sampler_pid_seen = 0;
static uint64 sampler_load_seen = 0;
static uint64 sampler_pass = 0;
static uint64 pass_ns = 0;		/* BPF time of the current pass */

uint64
iosat_bpf_pass_ns(void)
{
	return pass_ns;
}

static void
publish_state(int status, TimestampTz now, uint32 pid, const char *note)
{
	IosatBpfState *s = &iosat_shared->bpf;

	iosat_seq_begin_write(&s->changecount);
	s->status = status;
	s->since = now;
	s->daemon_pid = pid;
	strlcpy(s->note, note, IOSAT_ERROR_LEN);
	iosat_seq_end_write(&s->changecount);
}

void
iosat_bpf_read_state(IosatBpfState *out)
{
	iosat_seq_read(&iosat_shared->bpf.changecount, out, &iosat_shared->bpf,
				   sizeof(IosatBpfState));
	out->note[IOSAT_ERROR_LEN - 1] = '\0';
	if (out->since == 0)
		out->status = IOSAT_BPFSRC_UNKNOWN;
}

void
iosat_bpf_sample_begin(TimestampTz now)
{
	char		note[IOSAT_ERROR_LEN];
	int			st;
	uint32		pid = 0;
	uint64		load_ns = 0;
	uint64		t0 = mono_ns();

	sampler_pass++;
	if (!bpf_wanted(note, sizeof(note)))
	{
		st = not_wanted_status();
#ifndef IOSAT_NO_LIBBPF
		if (sreader_init)
			iosat_bpf_close(&sreader);
#endif
	}
	else
	{
#ifndef IOSAT_NO_LIBBPF
		char		err[IOSAT_ERROR_LEN];

		if (!sreader_init)
		{
			iosat_bpf_init(&sreader, iosat_bpf_pin_dir);
			sreader_init = true;
		}
		st = iosat_bpf_refresh(&sreader, max_age_ns(), err, sizeof(err));
		if (st == IOSAT_BPF_OK && daemon_exited(&swatch, sreader.meta.daemon_pid))
		{
			st = IOSAT_BPF_STALE;
			snprintf(err, sizeof(err), "iosatd pid %u has exited (heartbeat %.1f s old)",
					 sreader.meta.daemon_pid, sreader.age_ns / 1e9);
		}
		if (st == IOSAT_BPF_OK)
		{
			pid = sreader.meta.daemon_pid;
			load_ns = sreader.meta.load_ns;
			snprintf(note, sizeof(note),
					 "iosatd pid %u, heartbeat every %u ms, %s%s",
					 pid, sreader.meta.interval_ms,
					 (sreader.meta.flags & IOSAT_META_F_TP_BTF) ? "tp_btf" : "raw_tp",
					 (sreader.meta.flags & IOSAT_META_F_IO_START) ?
					 ", attribution to the submitting task" : "");
		}
		else
			strlcpy(note, err, sizeof(note));
#else
		st = IOSAT_BPFSRC_UNSUPPORTED;
#endif
	}

	if (st != sampler_status)
	{
		if (st == IOSAT_BPF_OK)
			ereport(LOG,
					(errmsg("iosat: reading BPF maps in \"%s\" (%s)",
							iosat_bpf_pin_dir, note)));
		else if (sampler_status == IOSAT_BPF_OK)
			ereport(LOG,
					(errmsg("iosat: BPF maps %s, device figures from /sys until they are back",
							iosat_bpf_status_name(st)),
					 errdetail("%s", note)));
		else
			ereport(LOG,
					(errmsg("iosat: BPF companion not used (%s), device figures from /sys",
							iosat_bpf_status_name(st)),
					 errdetail("%s", note)));
		publish_state(st, now, pid, note);
	}
	else if (st == IOSAT_BPF_OK && load_ns != sampler_load_seen)
	{
		/* a new daemon took over between two passes */
		ereport(LOG,
				(errmsg("iosat: iosatd restarted (pid %u, was %u); BPF figures resume next interval",
						pid, sampler_pid_seen)));
		publish_state(st, now, pid, note);
	}
	sampler_status = st;
	sampler_pid_seen = pid;
	sampler_load_seen = load_ns;
	pass_ns = mono_ns() - t0;
}

#ifndef IOSAT_NO_LIBBPF

static BpfDevLocal *
dev_local(uint32 major, uint32 minor)
{
	BpfDevLocal *victim = &bpf_devs[0];

	for (int i = 0; i < IOSAT_MAX_DEVICES; i++)
	{
		BpfDevLocal *e = &bpf_devs[i];

		if (e->valid && e->major == major && e->minor == minor)
			return e;
		if (!e->valid)
			victim = e;
		else if (victim->valid && e->used_pass < victim->used_pass)
			victim = e;
	}
	victim->valid = false;
	victim->major = major;
	victim->minor = minor;
	return victim;
}

static double
quantile_ms(const struct iosat_hist *h, double q)
{
	double		v = iosat_hist_quantile(h, q);

	return v < 0 ? -1.0 : v / 1e6;
}

static double
mean_ms(const struct iosat_hist *h)
{
	double		v = iosat_hist_mean(h);

	return v < 0 ? -1.0 : v / 1e6;
}

/* the interval's figures from two readings dt_ns apart; false if they restarted */
static bool
derive_bpf(const struct iosat_disk_stats *a, const struct iosat_disk_stats *b,
		   uint64 dt_ns, IosatBpfFigures *out)
{
	static const double q[3] = {0.50, 0.95, 0.99};
	struct iosat_hist dq[IOSAT_DIR_NR];
	struct iosat_hist dd[IOSAT_DIR_NR];
	double		dt_s = dt_ns / 1e9;
	uint64		qsum = 0,
				dsum = 0;

	if (dt_ns == 0 ||
		b->ios[IOSAT_OP_READ] < a->ios[IOSAT_OP_READ] ||
		b->ios[IOSAT_OP_WRITE] < a->ios[IOSAT_OP_WRITE] ||
		b->requeued < a->requeued || b->completed < a->completed)
		return false;
	for (int d = 0; d < IOSAT_DIR_NR; d++)
	{
		if (iosat_hist_sub(&dq[d], &b->qtime[d], &a->qtime[d]) != 0 ||
			iosat_hist_sub(&dd[d], &b->dtime[d], &a->dtime[d]) != 0)
			return false;
		qsum += dq[d].sum_ns;
		dsum += dd[d].sum_ns;
	}

	for (int d = 0; d < IOSAT_DIR_NR; d++)
	{
		for (int k = 0; k < 3; k++)
			out->lat_ms[d][k] = quantile_ms(&dd[d], q[k]);
		out->queue_ms[d] = mean_ms(&dq[d]);
		out->queue_p99_ms[d] = quantile_ms(&dq[d], 0.99);
	}
	out->queued = Max(b->queued, 0);
	out->inflight = Max(b->inflight, 0);
	out->queued_avg = (double) qsum / (double) dt_ns;
	out->inflight_avg = (double) dsum / (double) dt_ns;
	out->r_iops = (b->ios[IOSAT_OP_READ] - a->ios[IOSAT_OP_READ]) / dt_s;
	out->w_iops = (b->ios[IOSAT_OP_WRITE] - a->ios[IOSAT_OP_WRITE]) / dt_s;
	out->requeues_ps = (b->requeued - a->requeued) / dt_s;
	out->errors = (int64) b->errors;
	return true;
}

#endif							/* !IOSAT_NO_LIBBPF */

bool
iosat_bpf_sample_device(uint32 major, uint32 minor, IosatBpfFigures *out)
{
#ifdef IOSAT_NO_LIBBPF
	return false;
#else
	struct iosat_disk_stats cur;
	BpfDevLocal *e;
	uint64		now;
	int			st;
	bool		ok;

	if (sampler_status != IOSAT_BPF_OK)
		return false;
	now = iosat_bpf_now_ns();
	st = iosat_bpf_disk(&sreader, major, minor, &cur);
	if (st == IOSAT_BPF_NOTFOUND)
		memset(&cur, 0, sizeof(cur));	/* no request on this disk yet */
	else if (st != IOSAT_BPF_OK)
	{
		pass_ns += iosat_bpf_now_ns() - now;
		return false;
	}

	e = dev_local(major, minor);
	ok = e->valid && e->load_ns == sreader.meta.load_ns && now > e->mono_ns &&
		derive_bpf(&e->prev, &cur, now - e->mono_ns, out);
	e->prev = cur;
	e->mono_ns = now;
	e->load_ns = sreader.meta.load_ns;
	e->used_pass = sampler_pass;
	e->valid = true;
	pass_ns += iosat_bpf_now_ns() - now;
	return ok;
#endif
}

void
iosat_bpf_sampler_close(void)
{
#ifndef IOSAT_NO_LIBBPF
	if (sreader_init)
		iosat_bpf_close(&sreader);
#endif
}

/* ---------------------------------------------------------------- a backend */

#ifndef IOSAT_NO_LIBBPF
static iosat_bpf_reader breader;
static bool breader_init = false;
static DaemonWatch bwatch = {0, -1, -1};
static uint64 breader_checked = 0;
static char breader_err[IOSAT_ERROR_LEN];
#endif
static int	breader_status = IOSAT_BPFSRC_UNKNOWN;

int
iosat_bpf_backend_status(char *note, size_t notelen)
{
	char		why[IOSAT_ERROR_LEN];

	if (!bpf_wanted(why, sizeof(why)))
	{
#ifndef IOSAT_NO_LIBBPF
		if (breader_init)
			iosat_bpf_close(&breader);
#endif
		breader_status = not_wanted_status();
		if (note)
			strlcpy(note, why, notelen);
		return breader_status;
	}
#ifndef IOSAT_NO_LIBBPF
	{
		uint64		now = mono_ns();

		if (!breader_init)
		{
			iosat_bpf_init(&breader, iosat_bpf_pin_dir);
			breader_init = true;
			breader_checked = 0;
		}
		/*
		 * At most one refresh per BACKEND_REFRESH_NS, whatever the last
		 * status: iosat_backends asks once per row, and a missing or
		 * incompatible daemon must not cost a stat() or a map open per row.
		 */
		if (breader_checked == 0 || now - breader_checked >= BACKEND_REFRESH_NS)
		{
			breader_status = iosat_bpf_refresh(&breader, max_age_ns(),
											   breader_err, sizeof(breader_err));
			if (breader_status == IOSAT_BPF_OK && daemon_exited(&bwatch, breader.meta.daemon_pid))
			{
				breader_status = IOSAT_BPF_STALE;
				snprintf(breader_err, sizeof(breader_err), "iosatd pid %u has exited",
						 breader.meta.daemon_pid);
			}
			breader_checked = now;
		}
		if (note)
		{
			if (breader_status == IOSAT_BPF_OK)
				snprintf(note, notelen, "iosatd pid %u", breader.meta.daemon_pid);
			else
				strlcpy(note, breader_err, notelen);
		}
	}
#endif
	return breader_status;
}

#ifndef IOSAT_NO_LIBBPF
static void
proc_io_from(const struct iosat_proc_stats *p, IosatBpfProcIo *o,
			 uint64 mono_now, TimestampTz wall_now)
{
	uint64		ios = 0;

	memset(o, 0, sizeof(*o));
	memcpy(o->comm, p->comm, sizeof(o->comm));
	o->comm[sizeof(o->comm) - 1] = '\0';
	o->kthread = (p->flags & IOSAT_PROC_F_KTHREAD) != 0;
	for (int c = 0; c < IOSAT_OP_NR; c++)
		ios += p->ios[c];
	o->ios = (int64) ios;
	o->reads = (int64) p->ios[IOSAT_OP_READ];
	o->writes = (int64) p->ios[IOSAT_OP_WRITE];
	o->read_bytes = (int64) p->bytes[IOSAT_OP_READ];
	o->write_bytes = (int64) p->bytes[IOSAT_OP_WRITE];
	o->discard_bytes = (int64) p->bytes[IOSAT_OP_DISCARD];
	o->avg_latency_ms = ios > 0 ? p->lat_sum_ns / (double) ios / 1e6 : -1.0;
	o->avg_device_ms = ios > 0 ? p->dev_sum_ns / (double) ios / 1e6 : -1.0;
	o->start_boottime_ns = p->start_boottime_ns;
	if (p->last_ns > 0 && p->last_ns <= mono_now)
		o->last_io = wall_now - (TimestampTz) ((mono_now - p->last_ns) / 1000);
}
#endif

bool
iosat_bpf_same_process(uint64 start_boottime_ns, uint64 starttime_ticks)
{
	double		hz = iosat_clock_ticks();
	double		ticks = start_boottime_ns / 1e9 * hz;

	/* /proc rounds down to a clock tick */
	return start_boottime_ns == 0 ||
		(ticks >= (double) starttime_ticks - 1.0 &&
		 ticks < (double) starttime_ticks + 2.0);
}

bool
iosat_bpf_proc_io(int pid, IosatBpfProcIo *out)
{
#ifdef IOSAT_NO_LIBBPF
	return false;
#else
	struct iosat_proc_stats p;
	int			st;

	if (pid <= 0 || iosat_bpf_backend_status(NULL, 0) != IOSAT_BPF_OK)
		return false;
	st = iosat_bpf_proc(&breader, (uint32) pid, &p);
	if (st == IOSAT_BPF_NOTFOUND)
	{
		memset(out, 0, sizeof(*out));
		out->avg_latency_ms = out->avg_device_ms = -1.0;
		return true;
	}
	if (st != IOSAT_BPF_OK)
		return false;
	proc_io_from(&p, out, iosat_bpf_now_ns(), GetCurrentTimestamp());

	/* an entry of an earlier process with the same pid is not this one's */
	{
		char		buf[1024];
		ssize_t		n;
		int			err;
		KProcStat	ps;

		if (iosat_proc_read(pid, "stat", buf, sizeof(buf), &n, &err, NULL) == IOSAT_PROC_OK &&
			kparse_proc_stat(buf, n, &ps) &&
			!iosat_bpf_same_process(out->start_boottime_ns, ps.starttime))
		{
			memset(out, 0, sizeof(*out));
			out->avg_latency_ms = out->avg_device_ms = -1.0;
		}
	}
	return true;
#endif
}

int
iosat_bpf_all_procs(int *pids, IosatBpfProcIo *out, int max)
{
#ifdef IOSAT_NO_LIBBPF
	return -1;
#else
	struct iosat_proc_key *keys;
	struct iosat_proc_stats *vals;
	int			count = 0;
	int			st;
	uint64		mono;
	TimestampTz wall;

	if (iosat_bpf_backend_status(NULL, 0) != IOSAT_BPF_OK)
		return -1;
	keys = palloc(sizeof(*keys) * Max(max, 1));
	vals = palloc(sizeof(*vals) * Max(max, 1));
	st = iosat_bpf_procs(&breader, keys, vals, max, &count);
	if (st < 0)
	{
		pfree(keys);
		pfree(vals);
		return -1;
	}
	mono = iosat_bpf_now_ns();
	wall = GetCurrentTimestamp();
	for (int i = 0; i < count; i++)
	{
		pids[i] = (int) keys[i].tgid;
		proc_io_from(&vals[i], &out[i], mono, wall);
	}
	pfree(keys);
	pfree(vals);
	return count;
#endif
}
