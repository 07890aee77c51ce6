// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * iosat.bpf.c - block-layer request accounting for iosat (CO-RE).
 *
 * Follows every request of every request-based (blk-mq) disk through
 *   block_io_start (6.5+) -> block_rq_insert -> block_rq_issue
 *     -> block_rq_complete (one or more partial completions)
 * with block_rq_requeue (issued request goes back to a queue) and
 * block_rq_merge (a queued request is merged into another and freed).
 *
 * Each request has an entry in iosat_reqs keyed by its address, holding its
 * state (NEW, QUEUED, ISSUED).  The per-disk gauges "queued" and "inflight"
 * only ever change together with a state change of such an entry, and an
 * entry's contribution is taken back when it ends (final completion, merge,
 * age sweep) or when its address turns up again as a new request (a missed
 * end event: the entry is "recycled").  So the gauges cannot drift, whatever
 * the order of partial completions, requeues and merges.
 *
 * End events do get lost: a tracepoint that fires in interrupt context while
 * a BPF program is running on the same CPU does not run BPF programs (on the
 * 6.18 lab kernel about 0.05-0.15% of completions under fio, while ftrace
 * sees them all, and recursion_misses stays 0).  Hence two repairs:
 *   - block_io_start on an address whose entry is ISSUED: the old request
 *     ended unseen; it is counted as completed (bytes, no latency);
 *   - the heartbeat program reads each ISSUED entry's struct request: idle
 *     (MQ_RQ_IDLE) with no bio left on two consecutive heartbeats and no event
 *     in between means it completed unseen; it is "reaped" the same way.
 * So counts match /sys/block/<dev>/stat and a missed completion leaves the
 * in-flight gauge high for at most two heartbeats.
 *
 * Every program exists in two flavours: tp_btf (direct, typed access) and
 * raw_tp (fallback: BPF_CORE_READ), and, for tracepoints whose prototype lost
 * the request_queue argument in 5.11, in two argument layouts.  The daemon
 * reads the prototypes from the kernel BTF and enables exactly one program
 * per tracepoint with bpf_program__set_autoload().
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include "iosat_abi.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* request states */
#define RQ_DONE		0		/* ended; the entry stays for the next request at that address */
#define RQ_NEW		1		/* created (block_io_start), not yet in a queue */
#define RQ_QUEUED	2		/* in the scheduler / software / dispatch queue */
#define RQ_ISSUED	3		/* handed to the driver */

/* REQ_OP_* values, unchanged since 4.10 (the low 8 bits of cmd_flags) */
#define OP_MASK			0xff
#define OP_FLUSH		2
#define OP_DISCARD		3
#define OP_SECURE_ERASE	5

#define PF_KTHREAD_FLAG	0x00200000

struct req_state {
	__u64		t_create;		/* block_io_start or first insert; 0 = unknown */
	__u64		t_issue;		/* last issue */
	__u64		t_last;			/* last event (age sweep, reaping) */
	__u64		reap_t;			/* t_last when the heartbeat first saw it idle */
	__u64		start_boottime; /* submitter's group leader */
	struct iosat_disk_key disk;
	__u32		tgid;
	__u32		tid;
	__u8		state;
	__u8		op;				/* IOSAT_OP_* */
	__u8		issued_once;
	__u8		kthread;
	__u32		bytes_left;		/* data length at issue minus partial completions */
	char		comm[16];
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct iosat_meta);
} iosat_meta SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, IOSAT_MAX_DISKS);
	__type(key, struct iosat_disk_key);
	__type(value, struct iosat_disk_stats);
} iosat_disks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, IOSAT_MAX_PROCS);
	__type(key, struct iosat_proc_key);
	__type(value, struct iosat_proc_stats);
} iosat_procs SEC(".maps");

/* not LRU: a silently evicted entry would leak its gauge contribution */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, IOSAT_MAX_REQS);
	__type(key, __u64);
	__type(value, struct req_state);
} iosat_reqs SEC(".maps");

/* the disk value is larger than the BPF stack allows: keep a static zero */
static const struct iosat_disk_stats zero_disk;

/* kernels before 5.17 kept the disk in the request */
struct request___old {
	struct gendisk *rq_disk;
} __attribute__((preserve_access_index));

/* kernels before 5.5 had no start_boottime */
struct task_struct___old {
	__u64		real_start_time;
} __attribute__((preserve_access_index));

struct rq_info {
	struct iosat_disk_key disk;
	__u32		op;
	__u32		data_len;
};

/* ---------------------------------------------------------------- helpers */

#define ADD(p, v)	__sync_fetch_and_add((p), (v))

static __always_inline struct iosat_meta *
meta(void)
{
	__u32		zero = 0;

	return bpf_map_lookup_elem(&iosat_meta, &zero);
}

#define META_INC(field) \
	do { \
		struct iosat_meta *m__ = meta(); \
		if (m__) \
			ADD(&m__->field, 1); \
	} while (0)

static __always_inline __u32
op_class(__u32 cmd_flags)
{
	__u32		op = cmd_flags & OP_MASK;

	if (op == OP_DISCARD || op == OP_SECURE_ERASE)
		return IOSAT_OP_DISCARD;
	if (op == OP_FLUSH)
		return IOSAT_OP_FLUSH;
	return (op & 1) ? IOSAT_OP_WRITE : IOSAT_OP_READ;
}

/* bit length of v: 0 -> 0, 1 -> 1, [2,4) -> 2, [2^(k-1), 2^k) -> k */
static __always_inline __u32
bitlen64(__u64 v)
{
	__u32		n = 0;

	if (v >> 32) { n += 32; v >>= 32; }
	if (v >> 16) { n += 16; v >>= 16; }
	if (v >> 8) { n += 8; v >>= 8; }
	if (v >> 4) { n += 4; v >>= 4; }
	if (v >> 2) { n += 2; v >>= 2; }
	if (v >> 1) { n += 1; v >>= 1; }
	return n + (__u32) v;
}

static __always_inline void
hist_add(struct iosat_hist *h, __u64 ns)
{
	__u32		s = bitlen64(ns);

	if (s >= IOSAT_HIST_SLOTS)
		s = IOSAT_HIST_SLOTS - 1;
	ADD(&h->count, 1);
	ADD(&h->sum_ns, ns);
	ADD(&h->slot[s], 1);
}

static __always_inline __u64
since(__u64 now, __u64 t)
{
	return now > t ? now - t : 0;
}

/* Facts about the request; btf selects typed direct loads (tp_btf). */
static __always_inline bool
rq_info(struct request *rq, bool btf, struct rq_info *ri)
{
	struct gendisk *disk;

	if (btf) {
		if (bpf_core_field_exists(((struct request___old *) rq)->rq_disk))
			disk = ((struct request___old *) rq)->rq_disk;
		else
			disk = rq->q->disk;
		if (!disk)
			return false;
		ri->disk.major = disk->major;
		ri->disk.minor = disk->first_minor;
		ri->op = op_class(rq->cmd_flags);
		ri->data_len = rq->__data_len;
	} else {
		if (bpf_core_field_exists(((struct request___old *) rq)->rq_disk))
			disk = BPF_CORE_READ((struct request___old *) rq, rq_disk);
		else
			disk = BPF_CORE_READ(rq, q, disk);
		if (!disk)
			return false;
		ri->disk.major = BPF_CORE_READ(disk, major);
		ri->disk.minor = BPF_CORE_READ(disk, first_minor);
		ri->op = op_class(BPF_CORE_READ(rq, cmd_flags));
		ri->data_len = BPF_CORE_READ(rq, __data_len);
	}
	return true;
}

/* The current task becomes the owner of a request entry. */
static __always_inline void
own(struct req_state *st, bool btf)
{
	__u64		pt = bpf_get_current_pid_tgid();
	unsigned int flags;

	/* same thread as the last request at this address: comm etc. are known */
	if (st->tid == (__u32) pt && st->tgid == (__u32) (pt >> 32) && st->tid)
		return;
	st->tgid = pt >> 32;
	st->tid = (__u32) pt;
	bpf_get_current_comm(st->comm, sizeof(st->comm));
	if (btf) {
		struct task_struct *t = bpf_get_current_task_btf();

		if (bpf_core_field_exists(t->start_boottime))
			st->start_boottime = t->group_leader->start_boottime;
		flags = t->flags;
	} else {
		struct task_struct *t = (struct task_struct *) bpf_get_current_task();

		if (bpf_core_field_exists(t->start_boottime))
			st->start_boottime = BPF_CORE_READ(t, group_leader, start_boottime);
		flags = BPF_CORE_READ(t, flags);
	}
	st->kthread = (flags & PF_KTHREAD_FLAG) ? 1 : 0;
}

static __always_inline struct iosat_disk_stats *
disk_get(const struct iosat_disk_key *k, __u64 now)
{
	struct iosat_disk_stats *d;

	d = bpf_map_lookup_elem(&iosat_disks, k);
	if (d)
		return d;
	bpf_map_update_elem(&iosat_disks, k, &zero_disk, BPF_NOEXIST);
	d = bpf_map_lookup_elem(&iosat_disks, k);
	if (!d) {
		META_INC(disk_dropped);
		return NULL;
	}
	if (!d->first_ns)
		d->first_ns = now;
	return d;
}

/* Take back what a request entry contributes to its disk's gauges. */
static __always_inline void
undo(const struct req_state *st)
{
	struct iosat_disk_stats *d = bpf_map_lookup_elem(&iosat_disks, &st->disk);

	if (!d)
		return;
	if (st->state == RQ_QUEUED)
		ADD(&d->queued, -1);
	else if (st->state == RQ_ISSUED)
		ADD(&d->inflight, -1);
}

static __always_inline void proc_account(const struct req_state *st, __u64 bytes,
										  bool final, bool timed, __u64 now);

/*
 * An issued request ended without us seeing its completion: count it as
 * completed with the bytes it still had, without latency samples, and take
 * back its in-flight contribution.  The caller deletes or replaces the entry.
 */
static __always_inline void
end_unseen(const struct req_state *st, __u64 now)
{
	struct iosat_disk_stats *d = bpf_map_lookup_elem(&iosat_disks, &st->disk);
	__u32		op = st->op & (IOSAT_OP_NR - 1);

	if (d) {
		ADD(&d->inflight, -1);
		ADD(&d->completed, 1);
		ADD(&d->ios[op], 1);
		if (st->bytes_left)
			ADD(&d->bytes[op], st->bytes_left);
	}
	proc_account(st, st->bytes_left, true, false, now);
}

/*
 * Start tracking the request at rqp.  old: the entry already under that
 * address.  If it is live, its request is gone; ended: that request must have
 * completed (block_io_start of a new request), so it is counted if it was
 * issued.  Entries are kept when their request ends (state DONE) and rewritten
 * in place when the address comes back: request structs are recycled from a
 * fixed pool per queue, and an in-place write costs far less than a hash
 * insert.  The heartbeat deletes entries left DONE for a while.
 */
static __always_inline struct req_state *
track(__u64 rqp, struct req_state *old, const struct rq_info *ri, __u8 state,
	  __u64 t_create, __u64 now, bool btf, bool ended)
{
	struct req_state fresh = {};
	struct req_state *st = old;

	if (old && old->state != RQ_DONE) {
		if (ended && old->state == RQ_ISSUED)
			end_unseen(old, now);
		else
			undo(old);
		META_INC(req_recycled);
	}
	if (!st)
		st = &fresh;
	st->t_create = t_create;
	st->t_issue = 0;
	st->t_last = now;
	st->reap_t = 0;
	st->disk = ri->disk;
	st->op = ri->op;
	st->issued_once = 0;
	st->bytes_left = 0;
	own(st, btf);
	if (old) {
		/* the state last: the heartbeat reads entries concurrently */
		asm volatile("" ::: "memory");
		st->state = state;
		return st;
	}
	fresh.state = state;
	if (bpf_map_update_elem(&iosat_reqs, &rqp, &fresh, BPF_NOEXIST)) {
		/* full (or raced with another CPU for the same new address) */
		META_INC(req_dropped);
		return NULL;
	}
	return bpf_map_lookup_elem(&iosat_reqs, &rqp);
}

static __always_inline bool
live(const struct req_state *st)
{
	return st && st->state != RQ_DONE;
}

/* ----------------------------------------------------------------- events */

static __always_inline int
on_io_start(struct request *rq, bool btf)
{
	__u64		rqp = (__u64) rq;
	__u64		now = bpf_ktime_get_ns();
	struct rq_info ri;
	struct iosat_disk_stats *d;
	struct req_state *st;

	if (!rq_info(rq, btf, &ri))
		return 0;
	d = disk_get(&ri.disk, now);
	if (!d)
		return 0;
	ADD(&d->created, 1);
	/* a live entry under this address belongs to a request that is gone */
	st = bpf_map_lookup_elem(&iosat_reqs, &rqp);
	track(rqp, st, &ri, RQ_NEW, now, now, btf, true);
	return 0;
}

static __always_inline int
on_insert(struct request *rq, bool btf)
{
	__u64		rqp = (__u64) rq;
	__u64		now = bpf_ktime_get_ns();
	struct rq_info ri;
	struct iosat_disk_stats *d;
	struct req_state *st;

	if (!rq_info(rq, btf, &ri))
		return 0;
	d = disk_get(&ri.disk, now);
	if (!d)
		return 0;
	ADD(&d->inserted, 1);
	st = bpf_map_lookup_elem(&iosat_reqs, &rqp);
	if (!live(st) || st->state == RQ_ISSUED) {
		/*
		 * Unknown (no block_io_start on this kernel, or started before we
		 * attached, or the flush machinery's own request), or an issued
		 * request inserted again: its requeue was missed.
		 */
		if (track(rqp, st, &ri, RQ_QUEUED, now, now, btf, false))
			ADD(&d->queued, 1);
		return 0;
	}
	if (st->state == RQ_NEW) {
		st->state = RQ_QUEUED;
		ADD(&d->queued, 1);
	}
	/* RQ_QUEUED: re-inserted after a requeue, already counted as queued */
	st->t_last = now;
	return 0;
}

static __always_inline int
on_issue(struct request *rq, bool btf)
{
	__u64		rqp = (__u64) rq;
	__u64		now = bpf_ktime_get_ns();
	struct rq_info ri;
	struct iosat_disk_stats *d;
	struct req_state *st;

	if (!rq_info(rq, btf, &ri))
		return 0;
	d = disk_get(&ri.disk, now);
	if (!d)
		return 0;
	ADD(&d->issued, 1);
	st = bpf_map_lookup_elem(&iosat_reqs, &rqp);
	if (!live(st) || st->state == RQ_ISSUED) {
		/* unknown, or issued twice: a requeue or completion was missed */
		st = track(rqp, st, &ri, RQ_ISSUED, 0, now, btf, false);
		if (st) {
			st->t_issue = now;
			st->issued_once = 1;
			st->bytes_left = ri.data_len;
			ADD(&d->inflight, 1);
		}
		return 0;
	}
	if (st->state == RQ_QUEUED)
		ADD(&d->queued, -1);
	ADD(&d->inflight, 1);
	if (!st->issued_once) {
		st->issued_once = 1;
		if (st->t_create && st->op <= IOSAT_OP_WRITE)
			hist_add(&d->qtime[st->op & 1], since(now, st->t_create));
	}
	st->t_issue = now;
	st->t_last = now;
	st->bytes_left = ri.data_len;
	st->state = RQ_ISSUED;
	return 0;
}

static __always_inline int
on_requeue(struct request *rq, bool btf)
{
	__u64		rqp = (__u64) rq;
	__u64		now = bpf_ktime_get_ns();
	struct rq_info ri;
	struct iosat_disk_stats *d;
	struct req_state *st;

	if (!rq_info(rq, btf, &ri))
		return 0;
	d = disk_get(&ri.disk, now);
	if (!d)
		return 0;
	ADD(&d->requeued, 1);
	st = bpf_map_lookup_elem(&iosat_reqs, &rqp);
	if (!live(st)) {
		META_INC(untracked);
		return 0;
	}
	if (st->state == RQ_ISSUED) {
		ADD(&d->inflight, -1);
		ADD(&d->queued, 1);
	} else if (st->state == RQ_NEW) {
		ADD(&d->queued, 1);
	}
	st->state = RQ_QUEUED;
	st->t_last = now;
	return 0;
}

static __always_inline int
on_merge(struct request *rq, bool btf)
{
	__u64		rqp = (__u64) rq;
	__u64		now = bpf_ktime_get_ns();
	struct iosat_disk_stats *d;
	struct req_state *st;

	st = bpf_map_lookup_elem(&iosat_reqs, &rqp);
	if (!live(st))
		return 0;
	d = disk_get(&st->disk, now);
	if (d)
		ADD(&d->merged, 1);
	undo(st);
	st->state = RQ_DONE;
	st->t_last = now;
	return 0;
}

static __always_inline void
proc_account(const struct req_state *st, __u64 bytes, bool final, bool timed, __u64 now)
{
	struct iosat_proc_key k = {.tgid = st->tgid};
	struct iosat_proc_stats *p;
	__u32		op = st->op & (IOSAT_OP_NR - 1);

	p = bpf_map_lookup_elem(&iosat_procs, &k);
	if (!p || p->start_boottime_ns != st->start_boottime) {
		/* first request of this process, or the pid was reused */
		struct iosat_proc_stats n = {};

		n.start_boottime_ns = st->start_boottime;
		n.first_ns = now;
		bpf_map_update_elem(&iosat_procs, &k, &n, BPF_ANY);
		p = bpf_map_lookup_elem(&iosat_procs, &k);
		if (!p)
			return;
	}
	__builtin_memcpy(p->comm, st->comm, sizeof(p->comm));
	p->last_tid = st->tid;
	p->flags = st->kthread ? IOSAT_PROC_F_KTHREAD : 0;
	if (bytes)
		ADD(&p->bytes[op], bytes);
	if (final) {
		__u64		t0 = st->t_create ? st->t_create : st->t_issue;

		ADD(&p->ios[op], 1);
		if (timed) {
			ADD(&p->lat_sum_ns, since(now, t0));
			if (st->state == RQ_ISSUED)
				ADD(&p->dev_sum_ns, since(now, st->t_issue));
		}
		p->last_ns = now;
	}
}

static __always_inline int
on_complete(struct request *rq, int error, unsigned int nr_bytes, bool btf)
{
	__u64		rqp = (__u64) rq;
	__u64		now = bpf_ktime_get_ns();
	struct rq_info ri;
	struct iosat_disk_stats *d;
	struct req_state *st;
	__u32		op;
	bool		final;

	st = bpf_map_lookup_elem(&iosat_reqs, &rqp);
	if (!live(st)) {
		/*
		 * Started before we attached, or the second end of a flush-sequence
		 * data request: counting it could count a request twice.
		 */
		META_INC(untracked);
		return 0;
	}
	if (!rq_info(rq, btf, &ri))
		return 0;
	d = disk_get(&st->disk, now);
	if (!d)
		return 0;
	/* the tracepoint fires before the request is updated: data_len is what was left */
	final = nr_bytes >= ri.data_len;
	op = st->op & (IOSAT_OP_NR - 1);
	if (nr_bytes)
		ADD(&d->bytes[op], nr_bytes);
	if (error)
		ADD(&d->errors, 1);
	proc_account(st, nr_bytes, final, true, now);
	if (!final) {
		st->bytes_left = st->bytes_left > nr_bytes ? st->bytes_left - nr_bytes : 0;
		st->t_last = now;
		return 0;
	}
	ADD(&d->completed, 1);
	ADD(&d->ios[op], 1);
	d->last_ns = now;
	if (st->state == RQ_ISSUED) {
		ADD(&d->inflight, -1);
		if (op <= IOSAT_OP_WRITE)
			hist_add(&d->dtime[op & 1], since(now, st->t_issue));
	} else if (st->state == RQ_QUEUED) {
		ADD(&d->queued, -1);
	}
	st->state = RQ_DONE;
	st->t_last = now;
	return 0;
}

/* --------------------------------------------------------------- programs */

/*
 * tp_btf programs take the typed arguments array; raw_tp ones the raw one.
 * RQ_PROGS(event, tracepoint, argument index of the request) defines both.
 */
#define RQ_PROGS(ev, tp, idx) \
SEC("tp_btf/" #tp) \
int btf_##ev(__u64 *ctx) \
{ \
	return on_##ev((struct request *) ctx[idx], true); \
} \
SEC("raw_tp/" #tp) \
int raw_##ev(struct bpf_raw_tracepoint_args *ctx) \
{ \
	return on_##ev((struct request *) ctx->args[idx], false); \
}

RQ_PROGS(io_start, block_io_start, 0)
RQ_PROGS(insert, block_rq_insert, 0)
RQ_PROGS(issue, block_rq_issue, 0)
RQ_PROGS(requeue, block_rq_requeue, 0)
RQ_PROGS(merge, block_rq_merge, 0)

/* before 5.11: (struct request_queue *q, struct request *rq) */
#define on_insert_q		on_insert
#define on_issue_q		on_issue
#define on_requeue_q	on_requeue
#define on_merge_q		on_merge
RQ_PROGS(insert_q, block_rq_insert, 1)
RQ_PROGS(issue_q, block_rq_issue, 1)
RQ_PROGS(requeue_q, block_rq_requeue, 1)
RQ_PROGS(merge_q, block_rq_merge, 1)

/* (struct request *rq, blk_status_t error, unsigned int nr_bytes) since 4.13 */
SEC("tp_btf/block_rq_complete")
int btf_complete(__u64 *ctx)
{
	return on_complete((struct request *) ctx[0], (int) ctx[1],
					   (unsigned int) ctx[2], true);
}

SEC("raw_tp/block_rq_complete")
int raw_complete(struct bpf_raw_tracepoint_args *ctx)
{
	return on_complete((struct request *) ctx->args[0], (int) ctx->args[1],
					   (unsigned int) ctx->args[2], false);
}

/* ---------------------------------------------------------------- heartbeat */

/* read-only for the callback: a counter in it would keep the verifier iterating */
struct sweep_ctx {
	__u64		now;
	__u64		age;			/* 0: no age sweep */
};

#define MQ_RQ_IDLE_STATE	0	/* enum mq_rq_state, unchanged since 4.17 */
#define DONE_KEEP_NS		(10ULL * 1000000000ULL)

static long
sweep_one(struct bpf_map *map, __u64 *key, struct req_state *st, struct sweep_ctx *c)
{
	if (st->state == RQ_ISSUED) {
		struct request *rq = (struct request *) *key;
		int			kstate = BPF_CORE_READ(rq, state);
		struct bio *bio = BPF_CORE_READ(rq, bio);

		/*
		 * Idle with nothing left to do: completed (or freed).  A requeued
		 * request is idle too but keeps its bios.  Twice, with no event in
		 * between, so that a completion being processed right now on
		 * another CPU is never counted twice.
		 */
		if (kstate == MQ_RQ_IDLE_STATE && !bio) {
			if (st->reap_t == st->t_last) {
				end_unseen(st, c->now);
				st->state = RQ_DONE;
				META_INC(req_reaped);
				return 0;
			}
			st->reap_t = st->t_last;
		} else {
			st->reap_t = 0;
		}
	}
	if (c->now <= st->t_last)
		return 0;
	if (st->state == RQ_DONE) {
		/* forget addresses that stopped being used (device gone, idle queue) */
		if (c->now - st->t_last > DONE_KEEP_NS)
			bpf_map_delete_elem(map, key);
	} else if (c->age && c->now - st->t_last > c->age) {
		undo(st);
		bpf_map_delete_elem(map, key);
		META_INC(req_swept);
	}
	return 0;
}

/*
 * Not attached to anything: the daemon runs it with BPF_PROG_TEST_RUN every
 * interval.  It is the only writer of the meta map's identity fields and
 * heartbeat, so that map can be frozen like the others.
 */
SEC("raw_tp")
int iosat_heartbeat(struct bpf_raw_tracepoint_args *ctx)
{
	struct iosat_meta *m = meta();
	__u64		sweep_age;

	if (!m)
		return 0;
	m->abi_version = IOSAT_ABI_VERSION;
	m->hist_slots = IOSAT_HIST_SLOTS;
	m->meta_size = sizeof(struct iosat_meta);
	m->disk_key_size = sizeof(struct iosat_disk_key);
	m->disk_val_size = sizeof(struct iosat_disk_stats);
	m->proc_key_size = sizeof(struct iosat_proc_key);
	m->proc_val_size = sizeof(struct iosat_proc_stats);
	m->daemon_pid = ctx->args[IOSAT_HB_ARG_PID];
	m->interval_ms = ctx->args[IOSAT_HB_ARG_INTERVAL];
	m->flags = ctx->args[IOSAT_HB_ARG_FLAGS];
	m->disks_map_id = ctx->args[IOSAT_HB_ARG_DISKS_ID];
	m->procs_map_id = ctx->args[IOSAT_HB_ARG_PROCS_ID];
	m->load_ns = ctx->args[IOSAT_HB_ARG_LOAD_NS];
	sweep_age = ctx->args[IOSAT_HB_ARG_SWEEP_NS];
	{
		struct sweep_ctx c = {.now = bpf_ktime_get_ns(), .age = sweep_age};

		bpf_for_each_map_elem(&iosat_reqs, sweep_one, &c, 0);
	}
	m->heartbeat_seq++;
	m->heartbeat_ns = bpf_ktime_get_ns();
	/* identity last: a reader that sees the magic sees the sizes */
	m->magic = IOSAT_MAGIC;
	return 0;
}
