/*
 * bpf_reader.c - read the maps pinned by iosatd.  See bpf_reader.h.
 *
 * PostgreSQL-independent on purpose (it is linked into iosat.so and into
 * iosatd / iosat-bpfstat): C99, libbpf's low-level API, no allocation, no
 * output.  Declarations stay at the top of blocks for PostgreSQL's warning
 * flags.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "bpf_reader.h"

#ifndef ENOTSUPP
#define ENOTSUPP 524			/* kernel-internal, may reach user space */
#endif

#if defined(__GNUC__)
static void seterr(char *err, size_t errlen, const char *fmt,...)
			__attribute__((format(printf, 3, 4)));
#endif

static void
seterr(char *err, size_t errlen, const char *fmt,...)
{
	va_list		ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static int
errno_status(int e)
{
	if (e == ENOENT || e == ENOTDIR)
		return IOSAT_BPF_MISSING;
	if (e == EACCES || e == EPERM)
		return IOSAT_BPF_NOACCESS;
	return IOSAT_BPF_ERROR;
}

uint64_t
iosat_bpf_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t) ts.tv_sec * 1000000000ULL + (uint64_t) ts.tv_nsec;
}

const char *
iosat_bpf_strstatus(int status)
{
	switch (status)
	{
		case IOSAT_BPF_OK:
			return "ok";
		case IOSAT_BPF_NOTFOUND:
			return "notfound";
		case IOSAT_BPF_TRUNCATED:
			return "truncated";
		case IOSAT_BPF_STALE:
			return "stale";
		case IOSAT_BPF_MISSING:
			return "missing";
		case IOSAT_BPF_NOACCESS:
			return "noaccess";
		case IOSAT_BPF_INCOMPATIBLE:
			return "incompatible";
		case IOSAT_BPF_CLOSED:
			return "closed";
		default:
			return "error";
	}
}

void
iosat_bpf_init(iosat_bpf_reader *r, const char *dir)
{
	memset(r, 0, sizeof(*r));
	snprintf(r->dir, sizeof(r->dir), "%s", dir && dir[0] ? dir : IOSAT_PIN_DIR_DEFAULT);
	r->meta_fd = r->disks_fd = r->procs_fd = -1;
	r->check_pid = 1;
	r->status = IOSAT_BPF_CLOSED;
}

void
iosat_bpf_close(iosat_bpf_reader *r)
{
	if (r->meta_fd >= 0)
		close(r->meta_fd);
	if (r->disks_fd >= 0)
		close(r->disks_fd);
	if (r->procs_fd >= 0)
		close(r->procs_fd);
	r->meta_fd = r->disks_fd = r->procs_fd = -1;
	r->meta_dev = r->meta_ino = 0;
	r->disks_id = r->procs_id = 0;
	r->status = IOSAT_BPF_CLOSED;
}

static int
pin_path(const iosat_bpf_reader *r, const char *name, char *buf, size_t len)
{
	int			n = snprintf(buf, len, "%s/%s", r->dir, name);

	return (n < 0 || (size_t) n >= len) ? -1 : 0;
}

/* Open one pin read-only and check it is the map we expect. */
static int
open_map(const iosat_bpf_reader *r, const char *pin, const char *name,
		 uint32_t key_size, uint32_t value_size, int *fdp, uint32_t *idp,
		 char *err, size_t errlen)
{
	char		path[IOSAT_BPF_DIR_MAX + 16];
	struct bpf_map_info info;
	uint32_t	len = sizeof(info);
	int			fd,
				e;

	LIBBPF_OPTS(bpf_obj_get_opts, opts, .file_flags = BPF_F_RDONLY);

	if (pin_path(r, pin, path, sizeof(path)) < 0)
	{
		seterr(err, errlen, "pin path too long: %s/%s", r->dir, pin);
		return IOSAT_BPF_ERROR;
	}
	fd = bpf_obj_get_opts(path, &opts);
	if (fd < 0)
	{
		e = errno;
		seterr(err, errlen, "cannot open %s read-only: %s%s", path, strerror(e),
			   (e == EACCES || e == EPERM) ?
			   " (needs the pin group and a kernel >= 5.19 for unprivileged read-only access)" : "");
		return errno_status(e);
	}
	memset(&info, 0, sizeof(info));
	if (bpf_obj_get_info_by_fd(fd, &info, &len) != 0)
	{
		e = errno;
		close(fd);
		seterr(err, errlen, "cannot get map info of %s: %s", path, strerror(e));
		return IOSAT_BPF_ERROR;
	}
	if (strncmp(info.name, name, sizeof(info.name)) != 0 ||
		info.key_size != key_size || info.value_size != value_size)
	{
		close(fd);
		seterr(err, errlen,
			   "%s is map \"%.16s\" key %u value %u bytes, expected \"%s\" key %u value %u (ABI %d)",
			   path, info.name, info.key_size, info.value_size,
			   name, key_size, value_size, IOSAT_ABI_VERSION);
		return IOSAT_BPF_INCOMPATIBLE;
	}
	*fdp = fd;
	*idp = info.id;
	return IOSAT_BPF_OK;
}

static int
stat_meta(const iosat_bpf_reader *r, struct stat *sb, char *err, size_t errlen)
{
	char		path[IOSAT_BPF_DIR_MAX + 16];
	int			e;

	if (pin_path(r, IOSAT_PIN_META, path, sizeof(path)) < 0)
	{
		seterr(err, errlen, "pin path too long: %s", r->dir);
		return IOSAT_BPF_ERROR;
	}
	if (stat(path, sb) != 0)
	{
		e = errno;
		seterr(err, errlen, "%s: %s%s", path, strerror(e),
			   e == ENOENT ? " (iosatd not running?)" : "");
		return errno_status(e);
	}
	return IOSAT_BPF_OK;
}

static int
reader_open(iosat_bpf_reader *r, char *err, size_t errlen)
{
	struct stat before,
				after;
	uint32_t	meta_id;
	int			st,
				tries;

	for (tries = 0; tries < 3; tries++)
	{
		iosat_bpf_close(r);
		st = stat_meta(r, &before, err, errlen);
		if (st != IOSAT_BPF_OK)
			return st;
		st = open_map(r, IOSAT_PIN_META, IOSAT_MAP_META, sizeof(uint32_t),
					  sizeof(struct iosat_meta), &r->meta_fd, &meta_id, err, errlen);
		if (st == IOSAT_BPF_OK)
			st = open_map(r, IOSAT_PIN_DISKS, IOSAT_MAP_DISKS, sizeof(struct iosat_disk_key),
						  sizeof(struct iosat_disk_stats), &r->disks_fd, &r->disks_id,
						  err, errlen);
		if (st == IOSAT_BPF_OK)
			st = open_map(r, IOSAT_PIN_PROCS, IOSAT_MAP_PROCS, sizeof(struct iosat_proc_key),
						  sizeof(struct iosat_proc_stats), &r->procs_fd, &r->procs_id,
						  err, errlen);
		if (st != IOSAT_BPF_OK)
		{
			iosat_bpf_close(r);
			return st;
		}
		st = stat_meta(r, &after, err, errlen);
		if (st != IOSAT_BPF_OK)
		{
			iosat_bpf_close(r);
			return st;
		}
		if (before.st_ino == after.st_ino && before.st_dev == after.st_dev)
		{
			r->meta_dev = (uint64_t) after.st_dev;
			r->meta_ino = (uint64_t) after.st_ino;
			r->opens++;
			return IOSAT_BPF_OK;
		}
		/* the daemon replaced the pins while we opened them: again */
	}
	iosat_bpf_close(r);
	seterr(err, errlen, "pins in %s keep changing", r->dir);
	return IOSAT_BPF_ERROR;
}

static int
check_meta(const struct iosat_meta *m, char *err, size_t errlen)
{
	if (m->magic == 0)
	{
		seterr(err, errlen, "meta map not initialised yet");
		return IOSAT_BPF_MISSING;
	}
	if (m->magic != IOSAT_MAGIC)
	{
		seterr(err, errlen, "bad magic 0x%llx", (unsigned long long) m->magic);
		return IOSAT_BPF_INCOMPATIBLE;
	}
	if (m->abi_version != IOSAT_ABI_VERSION || m->hist_slots != IOSAT_HIST_SLOTS ||
		m->meta_size != sizeof(struct iosat_meta) ||
		m->disk_key_size != sizeof(struct iosat_disk_key) ||
		m->disk_val_size != sizeof(struct iosat_disk_stats) ||
		m->proc_key_size != sizeof(struct iosat_proc_key) ||
		m->proc_val_size != sizeof(struct iosat_proc_stats))
	{
		seterr(err, errlen,
			   "ABI mismatch: daemon has ABI %u (slots %u, sizes %u/%u/%u/%u/%u), "
			   "reader ABI %d (slots %d, sizes %u/%u/%u/%u/%u)",
			   m->abi_version, m->hist_slots, m->meta_size, m->disk_key_size,
			   m->disk_val_size, m->proc_key_size, m->proc_val_size,
			   IOSAT_ABI_VERSION, IOSAT_HIST_SLOTS,
			   (unsigned) sizeof(struct iosat_meta), (unsigned) sizeof(struct iosat_disk_key),
			   (unsigned) sizeof(struct iosat_disk_stats), (unsigned) sizeof(struct iosat_proc_key),
			   (unsigned) sizeof(struct iosat_proc_stats));
		return IOSAT_BPF_INCOMPATIBLE;
	}
	return IOSAT_BPF_OK;
}

int
iosat_bpf_refresh(iosat_bpf_reader *r, uint64_t max_age_ns, char *err, size_t errlen)
{
	struct stat sb;
	struct iosat_meta m;
	uint32_t	zero = 0;
	uint64_t	now,
				limit;
	int			st = IOSAT_BPF_ERROR,
				tries,
				e;

	if (err && errlen)
		err[0] = '\0';
	for (tries = 0; tries < 3; tries++)
	{
		st = stat_meta(r, &sb, err, errlen);
		if (st != IOSAT_BPF_OK)
			goto fail;
		if (r->meta_fd < 0 || (uint64_t) sb.st_ino != r->meta_ino ||
			(uint64_t) sb.st_dev != r->meta_dev)
		{
			st = reader_open(r, err, errlen);
			if (st != IOSAT_BPF_OK)
				goto fail;
		}
		if (bpf_map_lookup_elem(r->meta_fd, &zero, &m) != 0)
		{
			e = errno;
			seterr(err, errlen, "meta lookup: %s", strerror(e));
			st = IOSAT_BPF_ERROR;
			goto fail;
		}
		st = check_meta(&m, err, errlen);
		if (st != IOSAT_BPF_OK)
			goto fail;
		if (m.disks_map_id == r->disks_id && m.procs_map_id == r->procs_id)
			break;
		/* meta and data maps from different daemon runs: reopen */
		r->meta_ino = 0;
		st = IOSAT_BPF_ERROR;
		seterr(err, errlen, "meta names maps %u/%u, open are %u/%u",
			   m.disks_map_id, m.procs_map_id, r->disks_id, r->procs_id);
	}
	if (st != IOSAT_BPF_OK)
		goto fail;

	r->meta = m;
	if (m.flags & IOSAT_META_F_STOPPED)
	{
		/* pins left by a clean stop: no daemon, as if they were gone */
		seterr(err, errlen, "iosatd pid %u was stopped; its pins are left for the next start",
			   m.daemon_pid);
		st = IOSAT_BPF_MISSING;
		goto fail;
	}
	now = iosat_bpf_now_ns();
	r->age_ns = now > m.heartbeat_ns ? now - m.heartbeat_ns : 0;
	limit = max_age_ns;
	if (limit == 0)
	{
		limit = 3ULL * m.interval_ms * 1000000ULL;
		if (limit < 3000000000ULL)
			limit = 3000000000ULL;
	}
	if (r->check_pid && m.daemon_pid > 0 && kill((pid_t) m.daemon_pid, 0) != 0 && errno == ESRCH)
	{
		seterr(err, errlen, "iosatd pid %u is gone (heartbeat %.1f s old)",
			   m.daemon_pid, r->age_ns / 1e9);
		r->status = IOSAT_BPF_STALE;
		return r->status;
	}
	if (r->age_ns > limit)
	{
		seterr(err, errlen, "heartbeat of iosatd pid %u is %.1f s old (limit %.1f s)",
			   m.daemon_pid, r->age_ns / 1e9, limit / 1e9);
		r->status = IOSAT_BPF_STALE;
		return r->status;
	}
	r->status = IOSAT_BPF_OK;
	return r->status;

fail:
	iosat_bpf_close(r);
	r->status = st;
	return st;
}

static int
lookup(int fd, const void *key, void *out)
{
	if (fd < 0)
		return IOSAT_BPF_CLOSED;
	if (bpf_map_lookup_elem(fd, key, out) == 0)
		return IOSAT_BPF_OK;
	return errno == ENOENT ? IOSAT_BPF_NOTFOUND : IOSAT_BPF_ERROR;
}

int
iosat_bpf_disk(iosat_bpf_reader *r, uint32_t major, uint32_t minor,
			   struct iosat_disk_stats *out)
{
	struct iosat_disk_key k;

	k.major = major;
	k.minor = minor;
	return lookup(r->disks_fd, &k, out);
}

int
iosat_bpf_proc(iosat_bpf_reader *r, uint32_t tgid, struct iosat_proc_stats *out)
{
	struct iosat_proc_key k;

	k.tgid = tgid;
	return lookup(r->procs_fd, &k, out);
}

/* BPF_MAP_GET_NEXT_KEY + lookup, for kernels without batch lookups (< 5.6). */
static int
iterate_keys(int fd, char *keys, size_t ksz, char *vals, size_t vsz, int max, int *count)
{
	int			n = 0,
				steps = 0,
				st = IOSAT_BPF_OK;
	char	   *prev = NULL;

	/* a deleted key makes get_next_key restart: bound the walk */
	while (steps++ < 2 * max + 16)
	{
		char	   *k = keys + (size_t) n * ksz;

		if (n >= max)
		{
			st = IOSAT_BPF_TRUNCATED;
			break;
		}
		if (bpf_map_get_next_key(fd, prev, k) != 0)
		{
			if (errno != ENOENT)
				st = IOSAT_BPF_ERROR;
			break;
		}
		if (bpf_map_lookup_elem(fd, k, vals + (size_t) n * vsz) == 0)
		{
			prev = k;
			n++;
		}
		else if (errno != ENOENT)
		{
			st = IOSAT_BPF_ERROR;
			break;
		}
		/* vanished between the two calls: continue from the same prev */
	}
	*count = n;
	return st;
}

static int
iterate(int fd, void *keys, size_t ksz, void *vals, size_t vsz, int max, int *count)
{
	uint64_t	in_tok = 0,
				out_tok = 0;
	int			n = 0,
				first = 1;

	LIBBPF_OPTS(bpf_map_batch_opts, opts);

	*count = 0;
	if (fd < 0)
		return IOSAT_BPF_CLOSED;
	if (max <= 0)
		return IOSAT_BPF_TRUNCATED;
	for (;;)
	{
		__u32		cnt = (__u32) (max - n);
		int			rc,
					e;

		rc = bpf_map_lookup_batch(fd, first ? NULL : &in_tok, &out_tok,
								  (char *) keys + (size_t) n * ksz,
								  (char *) vals + (size_t) n * vsz, &cnt, &opts);
		e = errno;
		if (rc != 0 && e != ENOENT)
		{
			if (first && (e == EINVAL || e == ENOTSUP || e == ENOTSUPP || e == ENOSYS))
				return iterate_keys(fd, keys, ksz, vals, vsz, max, count);
			*count = n;
			/* ENOSPC: a hash bucket holds more entries than the room left */
			return e == ENOSPC ? IOSAT_BPF_TRUNCATED : IOSAT_BPF_ERROR;
		}
		n += (int) cnt;
		*count = n;
		if (rc != 0)			/* ENOENT: walked the whole map */
			return IOSAT_BPF_OK;
		if (n >= max)
			return IOSAT_BPF_TRUNCATED;
		in_tok = out_tok;
		first = 0;
	}
}

int
iosat_bpf_disks(iosat_bpf_reader *r, struct iosat_disk_key *keys,
				struct iosat_disk_stats *vals, int max, int *count)
{
	return iterate(r->disks_fd, keys, sizeof(*keys), vals, sizeof(*vals), max, count);
}

int
iosat_bpf_procs(iosat_bpf_reader *r, struct iosat_proc_key *keys,
				struct iosat_proc_stats *vals, int max, int *count)
{
	return iterate(r->procs_fd, keys, sizeof(*keys), vals, sizeof(*vals), max, count);
}

int
iosat_hist_sub(struct iosat_hist *out, const struct iosat_hist *cur,
			   const struct iosat_hist *prev)
{
	struct iosat_hist d;
	int			i;

	if (cur->count < prev->count || cur->sum_ns < prev->sum_ns)
		goto reset;
	d.count = cur->count - prev->count;
	d.sum_ns = cur->sum_ns - prev->sum_ns;
	for (i = 0; i < IOSAT_HIST_SLOTS; i++)
	{
		if (cur->slot[i] < prev->slot[i])
			goto reset;
		d.slot[i] = cur->slot[i] - prev->slot[i];
	}
	*out = d;
	return 0;

reset:
	if (out != cur)
		*out = *cur;
	return 1;
}

static double
slot_lo(int k)
{
	return k == 0 ? 0.0 : (double) (1ULL << (k - 1));
}

double
iosat_hist_quantile(const struct iosat_hist *h, double q)
{
	uint64_t	total = 0;
	double		rank,
				cum = 0.0;
	int			k,
				last = -1;

	/* total from the slots: the copy is not atomic against count */
	for (k = 0; k < IOSAT_HIST_SLOTS; k++)
		total += h->slot[k];
	if (total == 0)
		return -1.0;
	if (q > 1.0)
		q = 1.0;
	rank = q * (double) total;
	if (rank < 1.0)
		rank = 1.0;
	for (k = 0; k < IOSAT_HIST_SLOTS; k++)
	{
		double		c = (double) h->slot[k];
		double		lo,
					hi;

		if (c == 0.0)
			continue;
		last = k;
		if (cum + c >= rank)
		{
			if (k == 0)
				return 0.0;
			lo = slot_lo(k);
			hi = 2.0 * lo;
			return lo + (hi - lo) * ((rank - cum) / c);
		}
		cum += c;
	}
	/* rounding: the top of the last occupied bucket */
	return last <= 0 ? 0.0 : 2.0 * slot_lo(last);
}

double
iosat_hist_mean(const struct iosat_hist *h)
{
	if (h->count == 0)
		return -1.0;
	return (double) h->sum_ns / (double) h->count;
}
