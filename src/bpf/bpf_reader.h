/*
 * bpf_reader.h - read the maps pinned by iosatd (PostgreSQL-independent).
 *
 * Plain C99 on libbpf's low-level API (bpf/bpf.h).  Nothing here allocates:
 * the caller owns an iosat_bpf_reader (a few hundred bytes, e.g. in the
 * sampler's local memory) and the output buffers.  Nothing prints: errors
 * are returned as IOSAT_BPF_* codes plus a message in a caller buffer.
 *
 * Typical use, once per sample:
 *
 *     static iosat_bpf_reader r;                 // iosat_bpf_init(&r, NULL) once
 *     char err[256];
 *     int st = iosat_bpf_refresh(&r, 3 * interval_ns, err, sizeof(err));
 *     if (st == IOSAT_BPF_OK)
 *         iosat_bpf_disk(&r, major, minor, &disk);   // per device of interest
 *     else
 *         ... fall back to /sys; log err once per change of st ...
 *
 * iosat_bpf_refresh() costs one stat() of the meta pin and one map lookup;
 * it re-opens all pins when the pin's inode changed (daemon restarted), when
 * the meta names other data maps than the ones open (restart raced with the
 * open), or after a failure.  Opening uses BPF_OBJ_GET with BPF_F_RDONLY,
 * which an unprivileged user (the postgres group) may do on kernels >= 5.19
 * even with kernel.unprivileged_bpf_disabled = 2; writes through such an fd
 * fail with EPERM, and the data maps are frozen anyway.
 */
#ifndef IOSAT_BPF_READER_H
#define IOSAT_BPF_READER_H

#include <stddef.h>
#include <stdint.h>
#include "iosat_abi.h"

/* status codes (iosat_bpf_refresh and the lookups) */
#define IOSAT_BPF_OK			0
#define IOSAT_BPF_NOTFOUND		1	/* lookup: no entry for that key (not an error) */
#define IOSAT_BPF_TRUNCATED		2	/* iteration: more entries than the caller's room */
#define IOSAT_BPF_STALE			(-1)	/* maps fine, heartbeat too old (daemon gone) */
#define IOSAT_BPF_MISSING		(-2)	/* no pins (daemon not running, or wrong dir) */
#define IOSAT_BPF_NOACCESS		(-3)	/* permission denied (group, mode, kernel < 5.19) */
#define IOSAT_BPF_INCOMPATIBLE	(-4)	/* magic, ABI version or struct sizes differ */
#define IOSAT_BPF_ERROR			(-5)	/* other failure (errno in the message) */
#define IOSAT_BPF_CLOSED		(-6)	/* not open: call iosat_bpf_refresh() first */

#define IOSAT_BPF_DIR_MAX		200

typedef struct iosat_bpf_reader
{
	char		dir[IOSAT_BPF_DIR_MAX];	/* pin directory */
	int			meta_fd;		/* -1 when closed */
	int			disks_fd;
	int			procs_fd;
	uint64_t	meta_dev;		/* identity of the meta pin that was opened */
	uint64_t	meta_ino;
	uint32_t	disks_id;		/* kernel map ids of the open data maps */
	uint32_t	procs_id;
	int			check_pid;		/* 1 (default): a daemon pid that no longer exists
								 * (kill(pid, 0) == ESRCH) counts as stale at once,
								 * without waiting for the heartbeat to age; set 0
								 * when the reader is in another pid namespace */
	int			status;			/* result of the last refresh */
	uint64_t	opens;			/* successful (re)opens so far */
	uint64_t	age_ns;			/* heartbeat age at the last refresh */
	struct iosat_meta meta;		/* meta as read at the last refresh */
} iosat_bpf_reader;

/* Set up a closed reader for pin directory dir (NULL: IOSAT_PIN_DIR_DEFAULT). No syscalls. */
extern void iosat_bpf_init(iosat_bpf_reader *r, const char *dir);

/*
 * Check the pins and the heartbeat, (re)opening as needed.  max_age_ns: the
 * heartbeat may be at most this old (0: 3 heartbeat intervals, at least 3 s).
 * With check_pid, a daemon killed without cleanup is seen as stale at the
 * next refresh; a cleanly stopped one marks its meta IOSAT_META_F_STOPPED
 * and leaves its pins for the next start: missing.
 * Returns IOSAT_BPF_OK or a negative status; err (may be NULL) receives a
 * one-line reason.  On STALE the maps stay open and readable (values are
 * frozen at the daemon's death); on other errors the reader is closed (r->meta
 * keeps what a stopped daemon's meta said).
 */
extern int	iosat_bpf_refresh(iosat_bpf_reader *r, uint64_t max_age_ns,
							  char *err, size_t errlen);

/* Close all fds (the reader can be refreshed again later). */
extern void iosat_bpf_close(iosat_bpf_reader *r);

/* One disk by {major, minor}: OK, NOTFOUND (no request seen yet), or < 0. */
extern int	iosat_bpf_disk(iosat_bpf_reader *r, uint32_t major, uint32_t minor,
						   struct iosat_disk_stats *out);

/* One process by tgid: OK, NOTFOUND, or < 0. */
extern int	iosat_bpf_proc(iosat_bpf_reader *r, uint32_t tgid,
						   struct iosat_proc_stats *out);

/*
 * All disks / all processes into the caller's arrays of max entries.
 * *count receives the number stored.  Returns OK, TRUNCATED (array full;
 * what was stored is valid), or < 0.  Uses one BPF_MAP_LOOKUP_BATCH call per
 * max entries where the kernel has it, else BPF_MAP_GET_NEXT_KEY + lookup.
 * Entries can come and go meanwhile (LRU): each returned entry is
 * consistent with its key, the set is a best effort.
 */
extern int	iosat_bpf_disks(iosat_bpf_reader *r, struct iosat_disk_key *keys,
							struct iosat_disk_stats *vals, int max, int *count);
extern int	iosat_bpf_procs(iosat_bpf_reader *r, struct iosat_proc_key *keys,
							struct iosat_proc_stats *vals, int max, int *count);

/* Monotonic nanoseconds now, on the clock of the heartbeat and *_ns fields. */
extern uint64_t iosat_bpf_now_ns(void);

/* Short name of a status code ("ok", "stale", ...). */
extern const char *iosat_bpf_strstatus(int status);

/*
 * Histograms are cumulative since the daemon loaded the program.  For the
 * latency of an interval, subtract the previous sample: out = cur - prev
 * (out may alias cur).  If any slot went backwards (daemon restarted in
 * between) out becomes a copy of cur and 1 is returned, else 0.
 */
extern int	iosat_hist_sub(struct iosat_hist *out, const struct iosat_hist *cur,
						   const struct iosat_hist *prev);

/*
 * Estimated q-quantile (0 < q <= 1; 0.5, 0.95, 0.99) in nanoseconds, or -1
 * when the histogram is empty.  The bucket holding the rank q*count is found
 * and the value interpolated linearly inside it ([2^(k-1), 2^k) ns), as if
 * the samples were spread evenly over the bucket; the open top bucket is
 * taken as [2^(SLOTS-2), 2^(SLOTS-1)).
 *
 * Error bound: the true quantile and the estimate lie in the same bucket,
 * whose width equals its lower bound, so |estimate - true| < true, i.e.
 * estimate/true is within (1/2, 2) in the worst case (all samples at one
 * edge of the bucket).  For latencies spread over several buckets the error
 * is typically a few percent to ~20%.  Slot 0 (exactly 0 ns) yields 0.
 */
extern double iosat_hist_quantile(const struct iosat_hist *h, double q);

/* Mean in nanoseconds (exact: from sum_ns / count), or -1 when empty. */
extern double iosat_hist_mean(const struct iosat_hist *h);

#endif							/* IOSAT_BPF_READER_H */
