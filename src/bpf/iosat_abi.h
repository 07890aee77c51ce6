/*
 * iosat_abi.h - the one definition of the iosat BPF map ABI.
 *
 * Shared, unchanged, by
 *   - the BPF program      src/bpf/iosat.bpf.c   (clang -target bpf, vmlinux.h)
 *   - the daemon and CLI   src/iosatd/            (libbpf, linux/types.h)
 *   - the reader           src/bpf/bpf_reader.c   (linked into iosat.so)
 *
 * Everything here is plain data with explicit sizes: fixed-width integer
 * fields only, every struct a multiple of 8 bytes, no implicit padding, and
 * the sizes are checked at compile time on both sides.  The BPF program
 * stores sizeof() of each struct, as its compiler saw them, in the meta map;
 * the reader refuses maps whose recorded sizes differ from its own.
 *
 * Bump IOSAT_ABI_VERSION for any incompatible change (field moved, removed,
 * resized or re-meant).  Appending a field at the end of a value struct is
 * also a change of size, so it is incompatible too: readers check sizes.
 *
 * Pinned objects (under the pin directory, default /sys/fs/bpf/iosat):
 *   meta    array[1]     struct iosat_meta      frozen; written only by BPF
 *   disks   hash         iosat_disk_key   -> struct iosat_disk_stats   frozen
 *   procs   LRU hash     iosat_proc_key   -> struct iosat_proc_stats   frozen
 * Directory 0750, maps 0440, owner root, group configurable (postgres).
 * "Frozen" means BPF_MAP_FREEZE: no user-space process, root included, can
 * update or delete an element; the BPF programs keep updating them.
 *
 * Time: every *_ns timestamp is CLOCK_MONOTONIC nanoseconds
 * (bpf_ktime_get_ns() == clock_gettime(CLOCK_MONOTONIC)), except
 * iosat_proc_stats.start_boottime_ns which is CLOCK_BOOTTIME.
 */
#ifndef IOSAT_ABI_H
#define IOSAT_ABI_H

#ifndef __VMLINUX_H__
#include <linux/types.h>		/* __u8 .. __u64, __s64 (vmlinux.h has them too) */
#endif

#define IOSAT_MAGIC			0x4650425441534F49ULL	/* "IOSATBPF" in little-endian memory */
#define IOSAT_ABI_VERSION	1

/* pin directory and the pinned file names inside it */
#define IOSAT_PIN_DIR_DEFAULT	"/sys/fs/bpf/iosat"
#define IOSAT_PIN_META			"meta"
#define IOSAT_PIN_DISKS			"disks"
#define IOSAT_PIN_PROCS			"procs"

/* kernel map object names (BPF_OBJ_NAME_LEN is 16, so at most 15 chars) */
#define IOSAT_MAP_META			"iosat_meta"
#define IOSAT_MAP_DISKS			"iosat_disks"
#define IOSAT_MAP_PROCS			"iosat_procs"

/* capacities */
#define IOSAT_MAX_DISKS			512		/* leaf disks (hash) */
#define IOSAT_MAX_PROCS			8192	/* processes (LRU: least recently done evicted) */
#define IOSAT_MAX_REQS			16384	/* requests being tracked (internal, not pinned) */

/*
 * Latency histograms: log2 buckets of nanoseconds.
 *   slot 0          : 0 ns
 *   slot k (k >= 1) : [2^(k-1), 2^k) ns
 *   slot SLOTS-1    : [2^(SLOTS-2), +inf)   (about 275 s and above)
 * e.g. 100 us = 100000 ns has bit length 17 -> slot 17 = [65.5 us, 131 us).
 * See iosat_hist_quantile() in bpf_reader.h for percentiles and their error.
 */
#define IOSAT_HIST_SLOTS		40

/* request classes, as /sys/block/<dev>/stat groups them (op_stat_group) */
#define IOSAT_OP_READ			0
#define IOSAT_OP_WRITE			1		/* writes, write-zeroes, zone ops with data out */
#define IOSAT_OP_DISCARD		2		/* discard, secure erase */
#define IOSAT_OP_FLUSH			3		/* flush requests (no data) */
#define IOSAT_OP_NR				4

/* latency histograms exist for reads and writes only */
#define IOSAT_DIR_READ			0
#define IOSAT_DIR_WRITE			1
#define IOSAT_DIR_NR			2

/* iosat_meta.flags */
#define IOSAT_META_F_TP_BTF		0x01	/* programs are tp_btf (else raw_tp fallback) */
#define IOSAT_META_F_IO_START	0x02	/* block_io_start used: per-process = submitting task */
#define IOSAT_META_F_MERGE		0x04	/* block_rq_merge attached (scheduler merges tracked) */
#define IOSAT_META_F_FROZEN		0x08	/* data maps frozen against user-space writes */
#define IOSAT_META_F_CAPS_DROPPED 0x10	/* daemon runs without capabilities after load */
#define IOSAT_META_F_STOPPED	0x20	/* daemon stopped cleanly (SIGTERM/SIGINT) and left
										 * its pins for the next start: readers say
										 * "missing" at once (older readers: "stale") */

/* iosat_proc_stats.flags */
#define IOSAT_PROC_F_KTHREAD	0x01	/* kernel thread (kworker, jbd2, loop, ...) */

/*
 * meta: one element (key __u32 0) of an array map.  Written only by the
 * BPF "heartbeat" program, which the daemon runs (BPF_PROG_TEST_RUN) every
 * interval_ms: the map can therefore be frozen like the data maps and no
 * user-space process can forge a heartbeat.  Counters below the heartbeat
 * are updated by the event programs.
 */
struct iosat_meta {
	__u64		magic;				/* IOSAT_MAGIC; 0 until the first heartbeat */
	__u32		abi_version;		/* IOSAT_ABI_VERSION of the loaded program */
	__u32		hist_slots;			/* IOSAT_HIST_SLOTS */
	__u32		meta_size;			/* sizeof(struct iosat_meta) as BPF saw it */
	__u32		disk_key_size;
	__u32		disk_val_size;
	__u32		proc_key_size;
	__u32		proc_val_size;
	__u32		daemon_pid;			/* pid of iosatd (in its pid namespace) */
	__u32		interval_ms;		/* heartbeat period */
	__u32		flags;				/* IOSAT_META_F_* */
	__u32		disks_map_id;		/* kernel map ids of the data maps this meta */
	__u32		procs_map_id;		/*   belongs to (readers check their fds) */
	__u64		heartbeat_ns;		/* CLOCK_MONOTONIC of the last heartbeat */
	__u64		heartbeat_seq;		/* number of heartbeats */
	__u64		load_ns;			/* CLOCK_MONOTONIC when the daemon attached */
	/* health counters (event programs) */
	__u64		req_dropped;		/* request table full: request not tracked */
	__u64		req_recycled;		/* entry found under a new request: end event missed */
	__u64		req_reaped;			/* issued entry whose request the kernel shows idle:
									 * completion missed, counted by the heartbeat */
	__u64		req_swept;			/* entries idle longer than the sweep age, dropped */
	__u64		untracked;			/* requeue/complete of a request never seen */
	__u64		disk_dropped;		/* disks map full: event not counted */
	__u64		reserved[2];
};

struct iosat_disk_key {
	__u32		major;				/* gendisk major / first_minor of the whole disk */
	__u32		minor;				/* (not the glibc dev_t encoding) */
};

struct iosat_hist {
	__u64		count;				/* samples */
	__u64		sum_ns;				/* their sum: mean = sum_ns / count */
	__u64		slot[IOSAT_HIST_SLOTS];
};

/*
 * Per leaf disk (request-based devices; dm/md emit no request events, their
 * leaves do).  Request life: created (block_io_start, 6.5+) -> inserted into
 * the scheduler / software queue (block_rq_insert) -> issued to the driver
 * (block_rq_issue) -> completed (block_rq_complete, possibly several partial
 * completions).  Requeue sends an issued request back to a queue; a merge
 * frees a queued request whose bios joined another one.
 *
 * Gauges (instantaneous, never drift: each change is tied to a state change
 * of one tracked request):
 *   queued    inserted or requeued, not yet issued
 *   inflight  issued to the driver, not yet (finally) completed
 * Time-averaged depths come from the histogram sums (Little's law, as
 * /sys's time_in_queue): avg in-flight over [t0,t1] =
 *   delta(dtime[R].sum_ns + dtime[W].sum_ns) / (t1 - t0).
 * Latencies:
 *   qtime  creation (block_io_start, else insert) -> first issue
 *   dtime  last issue -> final completion (device service time)
 */
struct iosat_disk_stats {
	__s64		queued;				/* gauge */
	__s64		inflight;			/* gauge */
	__u64		created;			/* block_io_start events */
	__u64		inserted;			/* block_rq_insert events */
	__u64		issued;				/* block_rq_issue events (re-issues included) */
	__u64		requeued;			/* block_rq_requeue events */
	__u64		merged;				/* requests merged away (block_rq_merge) */
	__u64		completed;			/* requests finally completed (all classes) */
	__u64		errors;				/* completions with a non-zero status */
	__u64		ios[IOSAT_OP_NR];	/* final completions per class */
	__u64		bytes[IOSAT_OP_NR]; /* completed bytes per class (partials included) */
	__u64		first_ns;			/* first event on this disk */
	__u64		last_ns;			/* last completion */
	struct iosat_hist qtime[IOSAT_DIR_NR];
	struct iosat_hist dtime[IOSAT_DIR_NR];
};

struct iosat_proc_key {
	__u32		tgid;				/* process id (thread group) */
};

/*
 * Per process, attributed to the task that created the request: with
 * IOSAT_META_F_IO_START the submitting task (block_io_start, 6.5+), else the
 * task current at the first of insert/issue seen.  Counted at completion.
 * A new start_boottime_ns for the same tgid means the pid was reused: the
 * entry is reset then.
 */
struct iosat_proc_stats {
	char		comm[16];			/* task comm of the last submitter */
	__u64		start_boottime_ns;	/* group leader's start (CLOCK_BOOTTIME) */
	__u32		flags;				/* IOSAT_PROC_F_* */
	__u32		last_tid;			/* thread that submitted the last request */
	__u64		ios[IOSAT_OP_NR];	/* requests finally completed, per class */
	__u64		bytes[IOSAT_OP_NR]; /* bytes completed, per class */
	__u64		lat_sum_ns;			/* sum of creation -> completion */
	__u64		dev_sum_ns;			/* sum of issue -> completion */
	__u64		first_ns;			/* first completion counted */
	__u64		last_ns;			/* last completion counted */
};

/* Compile-time layout checks, identical on the BPF and the host side. */
#if defined(__STDC_VERSION__) && __STDC_VERSION__ >= 201112L
#define IOSAT_STATIC_ASSERT(c, m) _Static_assert(c, m)
#elif defined(__GNUC__) || defined(__clang__)
#define IOSAT_STATIC_ASSERT(c, m) __extension__ _Static_assert(c, m)
#else
#define IOSAT_STATIC_ASSERT(c, m)
#endif

#define IOSAT_META_SIZE			144
#define IOSAT_DISK_KEY_SIZE		8
#define IOSAT_DISK_VAL_SIZE		(8 * (2 + 7 + 2 * IOSAT_OP_NR + 2) + \
								 2 * IOSAT_DIR_NR * 8 * (2 + IOSAT_HIST_SLOTS))
#define IOSAT_PROC_KEY_SIZE		4
#define IOSAT_PROC_VAL_SIZE		(16 + 8 + 4 + 4 + 2 * 8 * IOSAT_OP_NR + 4 * 8)

IOSAT_STATIC_ASSERT(sizeof(struct iosat_meta) == IOSAT_META_SIZE, "iosat_meta size");
IOSAT_STATIC_ASSERT(sizeof(struct iosat_disk_key) == IOSAT_DISK_KEY_SIZE, "iosat_disk_key size");
IOSAT_STATIC_ASSERT(sizeof(struct iosat_disk_stats) == IOSAT_DISK_VAL_SIZE, "iosat_disk_stats size");
IOSAT_STATIC_ASSERT(sizeof(struct iosat_proc_key) == IOSAT_PROC_KEY_SIZE, "iosat_proc_key size");
IOSAT_STATIC_ASSERT(sizeof(struct iosat_proc_stats) == IOSAT_PROC_VAL_SIZE, "iosat_proc_stats size");

/*
 * Heartbeat program arguments (BPF_PROG_TEST_RUN ctx_in, __u64 each).
 * Internal between the daemon and the BPF program.
 */
#define IOSAT_HB_ARG_PID		0
#define IOSAT_HB_ARG_INTERVAL	1
#define IOSAT_HB_ARG_FLAGS		2
#define IOSAT_HB_ARG_DISKS_ID	3
#define IOSAT_HB_ARG_PROCS_ID	4
#define IOSAT_HB_ARG_LOAD_NS	5
#define IOSAT_HB_ARG_SWEEP_NS	6		/* >0: also drop entries idle longer than this */
#define IOSAT_HB_NARGS			7

#endif							/* IOSAT_ABI_H */
