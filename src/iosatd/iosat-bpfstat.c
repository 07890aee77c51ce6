/*
 * iosat-bpfstat - print the maps pinned by iosatd, through the same reader
 * the extension uses (src/bpf/bpf_reader.c).  Works unprivileged for members
 * of the pin group.
 *
 *   iosat-bpfstat [-d DIR]              status, disks, top processes
 *   iosat-bpfstat -s                    status word; exit 0 ok, 1 stale,
 *                                       2 missing, 3 noaccess, 4 incompatible, 5 error
 *   iosat-bpfstat -k                    key=value lines (for scripts and tests)
 *   iosat-bpfstat -w MS [-c N]          every MS: per-disk rates and interval percentiles
 *   iosat-bpfstat --bench N             reader cost per sample
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bpf_reader.h"

static const char *dir = NULL;
static uint64_t max_age_ns = 0;

static struct iosat_disk_key dkeys[IOSAT_MAX_DISKS];
static struct iosat_disk_stats dvals[IOSAT_MAX_DISKS];
static struct iosat_disk_key pdkeys[IOSAT_MAX_DISKS];
static struct iosat_disk_stats pdvals[IOSAT_MAX_DISKS];
static struct iosat_proc_key pkeys[IOSAT_MAX_PROCS];
static struct iosat_proc_stats pvals[IOSAT_MAX_PROCS];
static int	porder[IOSAT_MAX_PROCS];

static int
exit_code(int st)
{
	switch (st)
	{
		case IOSAT_BPF_OK:
			return 0;
		case IOSAT_BPF_STALE:
			return 1;
		case IOSAT_BPF_MISSING:
			return 2;
		case IOSAT_BPF_NOACCESS:
			return 3;
		case IOSAT_BPF_INCOMPATIBLE:
			return 4;
		default:
			return 5;
	}
}

static void
disk_name(uint32_t major, uint32_t minor, char *buf, size_t len)
{
	char		path[64],
				target[256];
	ssize_t		n;
	const char *base;

	snprintf(path, sizeof(path), "/sys/dev/block/%u:%u", major, minor);
	n = readlink(path, target, sizeof(target) - 1);
	if (n <= 0)
	{
		snprintf(buf, len, "%u:%u", major, minor);
		return;
	}
	target[n] = '\0';
	base = strrchr(target, '/');
	snprintf(buf, len, "%.63s", base ? base + 1 : target);
}

static double
us(double ns)
{
	return ns < 0 ? -1.0 : ns / 1000.0;
}

static void
sanitize(char *dst, const char *src, size_t len)
{
	size_t		i;

	for (i = 0; i + 1 < len && src[i]; i++)
		dst[i] = (src[i] == ' ' || src[i] == '=' || (unsigned char) src[i] < 32) ? '_' : src[i];
	dst[i] = '\0';
}

static uint64_t
proc_ios(const struct iosat_proc_stats *p)
{
	return p->ios[0] + p->ios[1] + p->ios[2] + p->ios[3];
}

static const struct iosat_proc_stats *sort_base;

static int
cmp_proc(const void *a, const void *b)
{
	uint64_t	x = proc_ios(&sort_base[*(const int *) a]);
	uint64_t	y = proc_ios(&sort_base[*(const int *) b]);

	return x < y ? 1 : x > y ? -1 : 0;
}

static void
print_status_line(const iosat_bpf_reader *r, int st, const char *err, bool kv)
{
	const struct iosat_meta *m = &r->meta;

	if (kv)
	{
		printf("status=%s", iosat_bpf_strstatus(st));
		if (st == IOSAT_BPF_OK || st == IOSAT_BPF_STALE)
			printf(" pid=%u age_ms=%.0f interval_ms=%u flags=0x%x opens=%llu seq=%llu"
				   " req_dropped=%llu req_recycled=%llu req_reaped=%llu req_swept=%llu untracked=%llu"
				   " disk_dropped=%llu"
				   " disks_id=%u procs_id=%u",
				   m->daemon_pid, r->age_ns / 1e6, m->interval_ms, m->flags,
				   (unsigned long long) r->opens, (unsigned long long) m->heartbeat_seq,
				   (unsigned long long) m->req_dropped, (unsigned long long) m->req_recycled,
				   (unsigned long long) m->req_reaped,
				   (unsigned long long) m->req_swept, (unsigned long long) m->untracked,
				   (unsigned long long) m->disk_dropped, m->disks_map_id, m->procs_map_id);
		printf("\n");
		if (err && err[0])
			printf("reason=%s\n", err);
		return;
	}
	if (st != IOSAT_BPF_OK && st != IOSAT_BPF_STALE)
	{
		printf("iosat bpf: %s: %s\n", iosat_bpf_strstatus(st), err);
		return;
	}
	printf("iosat bpf: %s  iosatd pid %u  heartbeat %.1f s ago (every %u ms)  %s%s%s%s\n",
		   iosat_bpf_strstatus(st), m->daemon_pid, r->age_ns / 1e9, m->interval_ms,
		   (m->flags & IOSAT_META_F_TP_BTF) ? "tp_btf" : "raw_tp",
		   (m->flags & IOSAT_META_F_IO_START) ? " io_start" : "",
		   (m->flags & IOSAT_META_F_FROZEN) ? " frozen" : "",
		   (m->flags & IOSAT_META_F_CAPS_DROPPED) ? " nocaps" : "");
	if (m->req_dropped || m->req_recycled || m->req_reaped || m->req_swept || m->disk_dropped)
		printf("  repairs: requests dropped %llu, recycled %llu, reaped %llu, swept %llu; "
			   "disks dropped %llu\n",
			   (unsigned long long) m->req_dropped, (unsigned long long) m->req_recycled,
			   (unsigned long long) m->req_reaped,
			   (unsigned long long) m->req_swept, (unsigned long long) m->disk_dropped);
	if (st == IOSAT_BPF_STALE)
		printf("  %s\n", err);
}

static void
print_disk_kv(const struct iosat_disk_key *k, const struct iosat_disk_stats *d)
{
	static const char *const hn[2][2] = {{"rq", "wq"}, {"rd", "wd"}};
	char		name[64];
	int			kind,
				dir_;

	disk_name(k->major, k->minor, name, sizeof(name));
	printf("disk dev=%u:%u name=%s queued=%lld inflight=%lld created=%llu inserted=%llu issued=%llu"
		   " requeued=%llu merged=%llu completed=%llu errors=%llu"
		   " rd_ios=%llu wr_ios=%llu discard_ios=%llu flush_ios=%llu"
		   " rd_bytes=%llu wr_bytes=%llu discard_bytes=%llu",
		   k->major, k->minor, name, (long long) d->queued, (long long) d->inflight,
		   (unsigned long long) d->created, (unsigned long long) d->inserted,
		   (unsigned long long) d->issued, (unsigned long long) d->requeued,
		   (unsigned long long) d->merged, (unsigned long long) d->completed,
		   (unsigned long long) d->errors,
		   (unsigned long long) d->ios[0], (unsigned long long) d->ios[1],
		   (unsigned long long) d->ios[2], (unsigned long long) d->ios[3],
		   (unsigned long long) d->bytes[0], (unsigned long long) d->bytes[1],
		   (unsigned long long) d->bytes[2]);
	for (kind = 0; kind < 2; kind++)
		for (dir_ = 0; dir_ < 2; dir_++)
		{
			const struct iosat_hist *h = kind ? &d->dtime[dir_] : &d->qtime[dir_];

			printf(" %s_n=%llu %s_mean_us=%.1f %s_p50_us=%.1f %s_p95_us=%.1f %s_p99_us=%.1f",
				   hn[kind][dir_], (unsigned long long) h->count,
				   hn[kind][dir_], us(iosat_hist_mean(h)),
				   hn[kind][dir_], us(iosat_hist_quantile(h, 0.50)),
				   hn[kind][dir_], us(iosat_hist_quantile(h, 0.95)),
				   hn[kind][dir_], us(iosat_hist_quantile(h, 0.99)));
		}
	printf("\n");
}

static void
print_proc_kv(const struct iosat_proc_key *k, const struct iosat_proc_stats *p)
{
	char		comm[sizeof(p->comm) + 1];
	char		raw[sizeof(p->comm) + 1];
	uint64_t	n = proc_ios(p);

	memcpy(raw, p->comm, sizeof(p->comm));
	raw[sizeof(p->comm)] = '\0';
	sanitize(comm, raw, sizeof(comm));
	printf("proc pid=%u comm=%s kthread=%d rd_ios=%llu wr_ios=%llu other_ios=%llu"
		   " rd_bytes=%llu wr_bytes=%llu lat_mean_us=%.1f dev_mean_us=%.1f start_boottime_ns=%llu\n",
		   k->tgid, comm, (p->flags & IOSAT_PROC_F_KTHREAD) ? 1 : 0,
		   (unsigned long long) p->ios[0], (unsigned long long) p->ios[1],
		   (unsigned long long) (p->ios[2] + p->ios[3]),
		   (unsigned long long) p->bytes[0], (unsigned long long) p->bytes[1],
		   n ? p->lat_sum_ns / 1e3 / n : 0.0, n ? p->dev_sum_ns / 1e3 / n : 0.0,
		   (unsigned long long) p->start_boottime_ns);
}

static void
print_disk_table(int n)
{
	int			i;

	printf("\n%-10s %6s %6s %10s %10s %9s %9s %7s %7s  %-26s %-26s\n",
		   "disk", "queued", "infl", "reads", "writes", "MB read", "MB writ", "requeue", "errors",
		   "read dev p50/p95/p99 us", "write dev p50/p95/p99 us");
	for (i = 0; i < n; i++)
	{
		const struct iosat_disk_stats *d = &dvals[i];
		char		name[64],
					rl[64],
					wl[64];

		disk_name(dkeys[i].major, dkeys[i].minor, name, sizeof(name));
		snprintf(rl, sizeof(rl), "%.0f/%.0f/%.0f", us(iosat_hist_quantile(&d->dtime[0], 0.5)),
				 us(iosat_hist_quantile(&d->dtime[0], 0.95)), us(iosat_hist_quantile(&d->dtime[0], 0.99)));
		snprintf(wl, sizeof(wl), "%.0f/%.0f/%.0f", us(iosat_hist_quantile(&d->dtime[1], 0.5)),
				 us(iosat_hist_quantile(&d->dtime[1], 0.95)), us(iosat_hist_quantile(&d->dtime[1], 0.99)));
		printf("%-10s %6lld %6lld %10llu %10llu %9.1f %9.1f %7llu %7llu  %-26s %-26s\n",
			   name, (long long) d->queued, (long long) d->inflight,
			   (unsigned long long) d->ios[0], (unsigned long long) d->ios[1],
			   d->bytes[0] / 1048576.0, d->bytes[1] / 1048576.0,
			   (unsigned long long) d->requeued, (unsigned long long) d->errors, rl, wl);
	}
}

static void
print_proc_table(int n, int top)
{
	int			i;

	for (i = 0; i < n; i++)
		porder[i] = i;
	sort_base = pvals;
	qsort(porder, n, sizeof(int), cmp_proc);
	printf("\n%8s %-16s %2s %10s %10s %9s %9s %10s %10s\n", "pid", "comm", "kt", "reads",
		   "writes", "MB read", "MB writ", "lat us", "dev us");
	for (i = 0; i < n && (top <= 0 || i < top); i++)
	{
		const struct iosat_proc_stats *p = &pvals[porder[i]];
		uint64_t	ios = proc_ios(p);

		printf("%8u %-16.16s %2s %10llu %10llu %9.1f %9.1f %10.1f %10.1f\n",
			   pkeys[porder[i]].tgid, p->comm, (p->flags & IOSAT_PROC_F_KTHREAD) ? "k" : "",
			   (unsigned long long) p->ios[0], (unsigned long long) p->ios[1],
			   p->bytes[0] / 1048576.0, p->bytes[1] / 1048576.0,
			   ios ? p->lat_sum_ns / 1e3 / ios : 0.0, ios ? p->dev_sum_ns / 1e3 / ios : 0.0);
	}
}

static int
one_shot(bool kv, bool only_disk, uint32_t maj, uint32_t min, int top)
{
	iosat_bpf_reader r;
	char		err[512];
	int			st,
				rc,
				nd = 0,
				np = 0,
				i;

	iosat_bpf_init(&r, dir);
	st = iosat_bpf_refresh(&r, max_age_ns, err, sizeof(err));
	print_status_line(&r, st, err, kv);
	if (st != IOSAT_BPF_OK && st != IOSAT_BPF_STALE)
		return exit_code(st);
	if (only_disk)
	{
		rc = iosat_bpf_disk(&r, maj, min, &dvals[0]);
		dkeys[0].major = maj;
		dkeys[0].minor = min;
		if (rc == IOSAT_BPF_OK)
			nd = 1;
		else if (rc != IOSAT_BPF_NOTFOUND)
			fprintf(stderr, "disk lookup: %s\n", iosat_bpf_strstatus(rc));
	}
	else
	{
		rc = iosat_bpf_disks(&r, dkeys, dvals, IOSAT_MAX_DISKS, &nd);
		if (rc < 0)
			fprintf(stderr, "disks: %s: %s\n", iosat_bpf_strstatus(rc), strerror(errno));
	}
	rc = iosat_bpf_procs(&r, pkeys, pvals, IOSAT_MAX_PROCS, &np);
	if (rc < 0)
		fprintf(stderr, "procs: %s: %s\n", iosat_bpf_strstatus(rc), strerror(errno));
	if (kv)
	{
		for (i = 0; i < nd; i++)
			print_disk_kv(&dkeys[i], &dvals[i]);
		for (i = 0; i < np; i++)
			print_proc_kv(&pkeys[i], &pvals[i]);
	}
	else
	{
		print_disk_table(nd);
		print_proc_table(np, top);
	}
	iosat_bpf_close(&r);
	return exit_code(st);
}

static int
find_prev(const struct iosat_disk_key *k, int npd)
{
	int			i;

	for (i = 0; i < npd; i++)
		if (pdkeys[i].major == k->major && pdkeys[i].minor == k->minor)
			return i;
	return -1;
}

static int
watch(int interval_ms, int count)
{
	iosat_bpf_reader r;
	char		err[512];
	int			st = IOSAT_BPF_CLOSED,
				last_st = 99,
				npd = 0,
				iter;
	uint64_t	last_opens = 0,
				t_prev = 0;

	iosat_bpf_init(&r, dir);
	for (iter = 0; count <= 0 || iter < count; iter++)
	{
		uint64_t	t;
		int			nd = 0,
					i;

		if (iter > 0)
			usleep((useconds_t) interval_ms * 1000);
		st = iosat_bpf_refresh(&r, max_age_ns, err, sizeof(err));
		t = iosat_bpf_now_ns();
		if (st != last_st || r.opens != last_opens)
		{
			printf("# %s%s%s (pid %u, opens %llu)\n", iosat_bpf_strstatus(st), err[0] ? ": " : "",
				   err, r.meta.daemon_pid, (unsigned long long) r.opens);
			if (r.opens != last_opens)
				npd = 0;		/* new maps: no deltas against the old ones */
			last_st = st;
			last_opens = r.opens;
		}
		if (st != IOSAT_BPF_OK && st != IOSAT_BPF_STALE)
		{
			npd = 0;
			fflush(stdout);
			continue;
		}
		iosat_bpf_disks(&r, dkeys, dvals, IOSAT_MAX_DISKS, &nd);
		for (i = 0; i < nd; i++)
		{
			int			j = find_prev(&dkeys[i], npd);
			double		dt = (t - t_prev) / 1e9;
			struct iosat_hist hr,
						hw;
			char		name[64];

			if (j < 0 || dt <= 0)
				continue;
			if (dvals[i].completed == pdvals[j].completed && dvals[i].queued == 0 && dvals[i].inflight == 0)
				continue;
			iosat_hist_sub(&hr, &dvals[i].dtime[0], &pdvals[j].dtime[0]);
			iosat_hist_sub(&hw, &dvals[i].dtime[1], &pdvals[j].dtime[1]);
			disk_name(dkeys[i].major, dkeys[i].minor, name, sizeof(name));
			printf("%-8s r/s %7.0f w/s %7.0f  queued %3lld infl %3lld avg-infl %5.1f  "
				   "r p50/p99 %6.0f/%6.0f us  w p50/p99 %6.0f/%6.0f us  requeue %llu\n",
				   name, (dvals[i].ios[0] - pdvals[j].ios[0]) / dt,
				   (dvals[i].ios[1] - pdvals[j].ios[1]) / dt,
				   (long long) dvals[i].queued, (long long) dvals[i].inflight,
				   (hr.sum_ns + hw.sum_ns) / 1e9 / dt,
				   us(iosat_hist_quantile(&hr, 0.5)), us(iosat_hist_quantile(&hr, 0.99)),
				   us(iosat_hist_quantile(&hw, 0.5)), us(iosat_hist_quantile(&hw, 0.99)),
				   (unsigned long long) (dvals[i].requeued - pdvals[j].requeued));
		}
		memcpy(pdkeys, dkeys, sizeof(dkeys[0]) * nd);
		memcpy(pdvals, dvals, sizeof(dvals[0]) * nd);
		npd = nd;
		t_prev = t;
		fflush(stdout);
	}
	iosat_bpf_close(&r);
	return exit_code(st);
}

static int
bench(int n)
{
	iosat_bpf_reader r;
	char		err[512];
	int			st,
				i,
				nd = 0,
				np = 0;
	uint64_t	t0,
				t1,
				t2,
				t3;
	struct iosat_disk_stats one;

	iosat_bpf_init(&r, dir);
	st = iosat_bpf_refresh(&r, max_age_ns, err, sizeof(err));
	if (st != IOSAT_BPF_OK)
	{
		fprintf(stderr, "iosat-bpfstat: %s: %s\n", iosat_bpf_strstatus(st), err);
		return exit_code(st);
	}
	iosat_bpf_disks(&r, dkeys, dvals, IOSAT_MAX_DISKS, &nd);
	if (nd == 0)
	{
		fprintf(stderr, "iosat-bpfstat: no disks in the map yet\n");
		return 5;
	}

	t0 = iosat_bpf_now_ns();
	for (i = 0; i < n; i++)
	{
		iosat_bpf_refresh(&r, max_age_ns, err, sizeof(err));
		iosat_bpf_disks(&r, dkeys, dvals, IOSAT_MAX_DISKS, &nd);
		iosat_bpf_procs(&r, pkeys, pvals, IOSAT_MAX_PROCS, &np);
	}
	t1 = iosat_bpf_now_ns();
	for (i = 0; i < n; i++)
	{
		iosat_bpf_refresh(&r, max_age_ns, err, sizeof(err));
		iosat_bpf_disk(&r, dkeys[0].major, dkeys[0].minor, &one);
	}
	t2 = iosat_bpf_now_ns();
	for (i = 0; i < n; i++)
		iosat_bpf_refresh(&r, max_age_ns, err, sizeof(err));
	t3 = iosat_bpf_now_ns();
	printf("samples=%d disks=%d procs=%d\n", n, nd, np);
	printf("full_us=%.2f\t(refresh + all %d disks + all %d processes, batch lookups)\n",
		   (t1 - t0) / 1e3 / n, nd, np);
	printf("disk_us=%.2f\t(refresh + one disk lookup)\n", (t2 - t1) / 1e3 / n);
	printf("refresh_us=%.2f\t(stat of the meta pin + meta lookup + checks)\n", (t3 - t2) / 1e3 / n);
	iosat_bpf_close(&r);
	return 0;
}

static void
usage(FILE *out)
{
	fprintf(out,
			"usage: iosat-bpfstat [-d DIR] [--max-age MS] [-s | -k | -w MS [-c N] | --bench N]\n"
			"  -d, --pin-dir DIR   pin directory (default %s)\n"
			"  -s, --status        print the status; exit 0 ok, 1 stale, 2 missing, 3 noaccess,\n"
			"                      4 incompatible, 5 error\n"
			"  -k, --kv            key=value lines\n"
			"  -D, --disk MAJ:MIN  only this disk\n"
			"  -n, --top N         processes shown (default 15, 0 all)\n"
			"  -w, --watch MS      print per-interval rates and latency percentiles every MS\n"
			"  -c, --count N       with -w: stop after N samples\n"
			"      --max-age MS    heartbeat age limit (default 3 intervals, >= 3 s)\n"
			"      --bench N       measure the reader's cost per sample over N samples\n",
			IOSAT_PIN_DIR_DEFAULT);
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"pin-dir", required_argument, NULL, 'd'},
		{"status", no_argument, NULL, 's'},
		{"kv", no_argument, NULL, 'k'},
		{"disk", required_argument, NULL, 'D'},
		{"top", required_argument, NULL, 'n'},
		{"watch", required_argument, NULL, 'w'},
		{"count", required_argument, NULL, 'c'},
		{"max-age", required_argument, NULL, 1},
		{"bench", required_argument, NULL, 2},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0}
	};
	bool		status_only = false,
				kv = false,
				only_disk = false;
	unsigned	maj = 0,
				min = 0;
	int			c,
				top = 15,
				watch_ms = 0,
				count = 0,
				bench_n = 0;

	while ((c = getopt_long(argc, argv, "d:skD:n:w:c:h", longopts, NULL)) != -1)
	{
		switch (c)
		{
			case 'd':
				dir = optarg;
				break;
			case 's':
				status_only = true;
				break;
			case 'k':
				kv = true;
				break;
			case 'D':
				if (sscanf(optarg, "%u:%u", &maj, &min) != 2)
				{
					fprintf(stderr, "iosat-bpfstat: --disk wants MAJOR:MINOR\n");
					return 2;
				}
				only_disk = true;
				break;
			case 'n':
				top = atoi(optarg);
				break;
			case 'w':
				watch_ms = atoi(optarg);
				break;
			case 'c':
				count = atoi(optarg);
				break;
			case 1:
				max_age_ns = (uint64_t) atoll(optarg) * 1000000ULL;
				break;
			case 2:
				bench_n = atoi(optarg);
				break;
			case 'h':
				usage(stdout);
				return 0;
			default:
				usage(stderr);
				return 2;
		}
	}
	if (dir && strlen(dir) >= IOSAT_BPF_DIR_MAX)
	{
		fprintf(stderr, "iosat-bpfstat: pin dir too long\n");
		return 2;
	}
	if (status_only)
	{
		iosat_bpf_reader r;
		char		err[512];
		int			st;

		iosat_bpf_init(&r, dir);
		st = iosat_bpf_refresh(&r, max_age_ns, err, sizeof(err));
		print_status_line(&r, st, err, true);
		iosat_bpf_close(&r);
		return exit_code(st);
	}
	if (bench_n > 0)
		return bench(bench_n);
	if (watch_ms > 0)
		return watch(watch_ms, count);
	return one_shot(kv, only_disk, maj, min, top);
}
