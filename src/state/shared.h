/*-------------------------------------------------------------------------
 *
 * shared.h
 *	  Every segment of shared memory iosat publishes, with who writes it,
 *	  who reads it and how they agree (docs/architecture.md draws the
 *	  processes around it):
 *
 *	segment           struct                writers                      readers                  protocol
 *	"iosat"           IosatShared           the sampler                  backends, views          per-record change counter (devices[], psi, error,
 *	                                                                                              bpf, gate.verdict); atomics for the rest
 *	  .gate           IosatGate             the sampler (governor,       ExecutorStart, pacing    atomics; limit is written before saturated and
 *	                                        policies); every paced       points, vacuum ticks     cleared after it, with barriers; paced_blocks
 *	                                        backend adds paced_blocks                             by fetch_add
 *	"iosat admission" IosatAdmissionShared  backends; the sampler for    backends, the sampler,   the queue ring under the LWLock "iosat"; a slot's
 *	                                        exited owners (reclaim)      views                    heavy_running by its owner (or reclaim, under
 *	                                                                                              the lock), their total "running" and the
 *	                                                                                              counters by atomic adds
 *	"iosat queries"   IosatQueryTable       backends (ExecutorEnd,       ExecutorStart, views     claim, add, evict, reset under the entry's
 *	                                        decisions), reset                                     spinlock and only while it holds the queryid;
 *	                                                                                              lock-free reads re-check the queryid; the
 *	                                                                                              clock bit is written without the lock
 *	"iosat vacuum"    IosatVacuumShared     each vacuuming process its   the sampler, views       owner's plain 32-bit stores (also from its
 *	                                        own slot (its SIGALRM tick);                          SIGALRM tick); io_* under a change counter
 *	                                        the sampler its io_* figures
 *	"iosat profile"   IosatProfileShared    the profiler                 views                    one change counter over the table; resets are
 *	                                                                                              requested by an atomic counter
 *	"iosat pacing"    IosatPaceShared       a parallel statement's       its workers' pacing      atomics only: owner set by the leader (claim,
 *	                                        leader (claim, release);     points, views            release), attach/detach re-check it; the budget
 *	                                        its workers (attach, charge)                          (tat_us) and the slow-start cap by compare-and-
 *	                                                                                              swap; counts by fetch_add
 *
 * A change counter works as PgBackendStatus's does: the writer makes it
 * odd, writes, makes it even; a reader copies the record and retries if
 * the counter moved or was odd.  Intervals are on the monotonic clock
 * (clock.h); wall-clock times are for display.
 *
 * This header holds the structs only.  The code that allocates a segment
 * and reads or writes it declares its functions, and the segment's
 * address, in its own header: state/shmem.h ("iosat", "iosat vacuum"'s
 * address, the change-counter protocol, the ages of the published data),
 * state/queue.h, state/querystats.h, state/paceshare.h, profiler/profile.h
 * and control/vacuum.h.
 *
 *-------------------------------------------------------------------------
 */
#ifndef IOSAT_SHARED_H
#define IOSAT_SHARED_H

#include "postgres.h"

#include "port/atomics.h"
#include "storage/condition_variable.h"
#include "storage/spin.h"
#include "storage/lwlock.h"
#include "utils/timestamp.h"

#include "collect/devices.h"
#include "collect/procfs.h"

#define IOSAT_ERROR_LEN			256

typedef enum IosatSource
{
	IOSAT_SOURCE_NONE = 0,
	IOSAT_SOURCE_SYSFS,
	IOSAT_SOURCE_BPF
} IosatSource;

/* figures derived over one interval (raw) or smoothed */
typedef struct IosatRates
{
	double		r_iops;
	double		w_iops;
	double		r_mbps;			/* MB/s, 10^6 bytes */
	double		w_mbps;
	double		r_await_ms;
	double		w_await_ms;
	double		aqu_sz;
	double		util_pct;
	/* ms of request time per second: smoothed await = ticks_ps / iops */
	double		r_ticks_ps;
	double		w_ticks_ps;
} IosatRates;

/*
 * What the BPF companion (iosatd's maps) adds to a device's figures, over
 * the last interval.  Valid when the device's source is IOSAT_SOURCE_BPF;
 * -1 in a latency means no request of that direction completed.
 */
typedef struct IosatBpfFigures
{
	double		lat_ms[2][3];	/* [read, write][p50, p95, p99] of device
								 * service time (issue -> completion) */
	double		queue_ms[2];	/* mean queue time (creation -> issue) */
	double		queue_p99_ms[2];
	int64		queued;			/* requests queued now (gauge) */
	int64		inflight;		/* requests at the device now (gauge) */
	double		queued_avg;		/* time-averaged over the interval */
	double		inflight_avg;
	double		r_iops;			/* completions counted by BPF */
	double		w_iops;
	double		requeues_ps;
	int64		errors;			/* completions with an error, since iosatd loaded */
} IosatBpfFigures;

typedef struct IosatDevice
{
	pg_atomic_uint32 changecount;	/* even: stable; odd: being written */

	/* identity, set at discovery */
	bool		in_use;
	uint32		major;
	uint32		minor;
	char		name[IOSAT_NAME_LEN];
	uint32		roles;			/* IOSAT_ROLE_* */
	int			ntablespaces;
	Oid			tablespaces[IOSAT_MAX_TABLESPACES];
	char		fstype[IOSAT_NAME_LEN];	/* for paths without a device */

	/* state of the last sample */
	IosatDevStatus status;
	IosatSource source;
	char		note[IOSAT_NOTE_LEN];
	TimestampTz sample_time;
	int			stat_fields;	/* 11, 15 or 17 */
	int64		inflight_r;
	int64		inflight_w;
	int64		nr_requests;	/* -1: unknown */
	int			rotational;		/* -1: unknown */
	char		scheduler[IOSAT_NAME_LEN];
	int64		iops_limit;		/* provisioned ceiling; 0: unknown */

	IosatRates	last;			/* the last interval */
	IosatRates	smooth;			/* exponentially smoothed */
	uint64		samples;		/* rates computed so far */

	/*
	 * For how long requests have been in flight with none completed (0: a
	 * request completed in the last interval, or none is in flight), and,
	 * once that reaches IOSAT_STALL_MS, since when (0: not stalled).
	 */
	double		stall_ms;
	TimestampTz stalled_since;

	/*
	 * The governor's (sampler/governor.c): the read latency this device
	 * shows when it is not overloaded, learned (0: not yet known), and the
	 * latency threshold in use (iosat.latency_target, or derived from the
	 * learned latency; 0: no latency signal).
	 */
	double		usual_await_ms;
	double		latency_threshold_ms;
	double		usual_learned_s;	/* seconds sampled (the learning window) */

	IosatBpfFigures bpf;		/* when source == IOSAT_SOURCE_BPF */
} IosatDevice;

typedef struct IosatPsiState
{
	pg_atomic_uint32 changecount;
	bool		present;
	double		some_avg10;
	double		some_avg60;
	double		full_avg10;
	double		full_avg60;
	double		some_pct;		/* share of the last interval, from total */
	double		full_pct;
	TimestampTz sample_time;
} IosatPsiState;

/*
 * The server's write debt (collect/memcg.c): the page cache its memory
 * cgroup holds dirty or under write-back, and how fast that grows.
 */
#define IOSAT_DEBT_SOURCE_LEN 256
typedef struct IosatWriteDebt
{
	pg_atomic_uint32 changecount;
	bool		present;
	double		bytes;
	double		growth_bps;		/* smoothed, bytes/s; negative while it drains */
	char		source[IOSAT_DEBT_SOURCE_LEN];
	TimestampTz sample_time;
} IosatWriteDebt;

typedef struct IosatErrorState
{
	pg_atomic_uint32 changecount;
	char		message[IOSAT_ERROR_LEN];
	TimestampTz time;
} IosatErrorState;

/*
 * The governor's verdict, written by the sampler after each sample and read
 * by ExecutorStart.  The hot path reads "saturated" only; the rest is read
 * when a statement has to be limited, or by the views.
 */
typedef struct IosatVerdict
{
	pg_atomic_uint32 changecount;
	char		device[IOSAT_NAME_LEN];	/* the most pressed device */
	char		reason[IOSAT_NOTE_LEN];	/* why saturated, in words */
	double		iops;			/* smoothed r+w IOPS of that device */
	int64		ceiling;		/* its IOPS ceiling, 0 if unknown */
	double		r_await_ms;
	double		aqu_sz;
	double		pressure;		/* max of the ratios to their thresholds */
	TimestampTz since;			/* saturated since, or 0 */
	double		usual_await_ms; /* that device's learned latency (0: unknown) */
	double		latency_threshold_ms;	/* its latency threshold (0: none) */
	double		paced_bps;		/* blocks/s read and dirtied by paced statements */
	double		throughput_mb;	/* that device's MB/s (2^20) read, written
								 * and owed to write-back */
	double		owed_iops;		/* the write operations a second the write
								 * debt's growth will cost it */
} IosatVerdict;

typedef struct IosatGate
{
	pg_atomic_uint32 saturated; /* 1: limit heavy statements */
	pg_atomic_uint32 limit;		/* heavy statements allowed to run */
	pg_atomic_uint64 updated;	/* TimestampTz of the last verdict (display) */
	pg_atomic_uint64 updated_mono;	/* iosat_mono_us() of it: for its age */
	pg_atomic_uint32 running_heavy; /* as counted at the last verdict */
	pg_atomic_uint64 heavy_done;	/* heavy statements that ended normally */
	pg_atomic_uint64 heavy_blocks;	/* ... and the blocks they read */
	pg_atomic_uint64 heavy_dirtied; /* ... and dirtied (temp blocks written) */
	pg_atomic_uint64 saturation_events;
	IosatVerdict verdict;

	/*
	 * Vacuum backpressure (vacuum_policy.c publishes, the tick in each
	 * vacuuming process reads): the factor for the vacuum page costs in
	 * 1/1000 (1000 = as configured), whether the policy is on, and a
	 * counter bumped with every publication so that a worker can tell a
	 * stalled sampler from a steady multiplier.  32-bit only: the tick
	 * reads them in a signal handler.
	 */
	pg_atomic_uint32 vacuum_multiplier;
	pg_atomic_uint32 vacuum_enabled;
	pg_atomic_uint32 vacuum_seq;

	/*
	 * Read pacing (pacing.c): the governor's rate in blocks per second per
	 * paced statement (0: no pacing), the blocks paced statements have read,
	 * from which it takes its first rate, and the pressure, from which a
	 * heavy statement learns at its start that the device is busy.
	 */
	pg_atomic_uint32 pace_rate;
	pg_atomic_uint64 paced_blocks;
	pg_atomic_uint32 pressure_milli;	/* the verdict's pressure x 1000 */
	pg_atomic_uint32 busy_milli;	/* busy (governor.c) x 1000: slow start */

	/*
	 * iosat.admission as the sampler last read it from the configuration
	 * (IOSAT_ADMISSION_*; IOSAT_MODE_UNKNOWN before its first sample):
	 * statements already queued go at once when it is off or monitor.
	 */
	pg_atomic_uint32 admission_mode;

	/*
	 * iosat.queue_timeout as the server's configuration sets it (ms; 0
	 * before the first sample): the longest any statement waits, whatever
	 * its session, role or database sets.
	 */
	pg_atomic_uint32 queue_timeout_ms;
} IosatGate;

#define IOSAT_MODE_UNKNOWN		0xFFFFFFFF

/* the BPF companion as the sampler last found it (bpfsource.c) */
typedef struct IosatBpfState
{
	pg_atomic_uint32 changecount;
	int			status;			/* IOSAT_BPF_* of bpf_reader.h, or IOSAT_BPFSRC_* */
	TimestampTz since;			/* in this status since */
	uint32		daemon_pid;		/* iosatd's pid, 0: unknown */
	char		note[IOSAT_ERROR_LEN];	/* why not ok; or what is in use */
} IosatBpfState;

typedef struct IosatShared
{
	/* sampler liveness; written by the sampler only */
	pg_atomic_uint32 sampler_pid;
	pg_atomic_uint64 samples;
	pg_atomic_uint64 last_sample_time;	/* TimestampTz (display) */
	pg_atomic_uint64 last_sample_mono;	/* iosat_mono_us(): for its age */
	pg_atomic_uint64 sampler_started;	/* TimestampTz */
	pg_atomic_uint32 ndevices;
	pg_atomic_uint64 discoveries;
	pg_atomic_uint64 sample_errors;

	/* cost of a sample pass (ns): the last one, and sum/count since (re)load */
	pg_atomic_uint64 pass_ns_last;
	pg_atomic_uint64 pass_ns_sum;
	pg_atomic_uint64 pass_ns_count;
	pg_atomic_uint64 bpf_ns_sum;	/* the BPF part of those passes */

	IosatErrorState error;
	IosatBpfState bpf;

	IosatPsiState psi;
	IosatWriteDebt write_debt;
	IosatGate	gate;
	IosatDevice devices[IOSAT_MAX_DEVICES];
} IosatShared;

/* ---------------------------------------------------------------------
 * "iosat queries": what each queryid costs (state/querystats.c)
 * ---------------------------------------------------------------------
 */
/* the last decision admission control made for a query */
typedef enum IosatDecision
{
	IOSAT_DEC_NONE = 0,
	IOSAT_DEC_ADMITTED,			/* healthy device */
	IOSAT_DEC_CHEAP,			/* saturated, passed as cheap */
	IOSAT_DEC_SLOT,				/* saturated, took a free slot at once */
	IOSAT_DEC_QUEUED,			/* saturated, waited, then ran */
	IOSAT_DEC_TIMED_OUT,
	IOSAT_DEC_REJECTED,
	IOSAT_DEC_BYPASS,			/* saturated, exempt or lock holder */
	IOSAT_DEC_WOULD_QUEUE,		/* monitor mode */
	IOSAT_DEC_WOULD_REJECT		/* monitor mode */
} IosatDecision;

/*
 * One queryid's figures.  Read without a lock; written only under mutex,
 * and only while queryid is still the one the writer looked up (see
 * querystats.c), except the clock bit "referenced", which lookups set and
 * eviction sweeps clear without it.  Two cache lines of 64 bytes (x86-64,
 * most arm64): the first holds what ExecutorStart reads (queryid, calls,
 * blocks read and dirtied), the second what only iosat_queries shows.
 */
#define IOSAT_QUERY_LINE 64
typedef struct IosatQueryEntry
{
	pg_atomic_uint64 queryid;	/* 0: free */
	pg_atomic_uint64 calls;
	pg_atomic_uint64 blocks_read;	/* shared, local and temporary */
	pg_atomic_uint64 blocks_dirtied;	/* buffers dirtied + temp blocks written */
	pg_atomic_uint32 last_decision;
	pg_atomic_uint32 referenced;	/* clock bit: looked up since the last sweep */
	slock_t		mutex;			/* claim, evict, add, reset, consistent read */
	pg_atomic_uint64 rows;
	pg_atomic_uint64 queued;	/* times it waited in the queue */
	/* the second cache line */
	pg_atomic_uint64 rejected;	/* times it was refused (full, timeout, reject) */
	pg_atomic_uint64 blocks_written;	/* written by the backend itself */
	pg_atomic_uint64 wal_bytes;
	char		pad[IOSAT_QUERY_LINE - 3 * sizeof(pg_atomic_uint64)];
} IosatQueryEntry;

typedef struct IosatQueryTable
{
	int			size;
	pg_atomic_uint64 untracked;	/* calls of queryids not in the table */
	/* entries start on a cache line of their own (asserted in querystats.c) */
	char		pad[PG_CACHE_LINE_SIZE - sizeof(pg_atomic_uint64) - MAXIMUM_ALIGNOF];
	IosatQueryEntry entries[FLEXIBLE_ARRAY_MEMBER];
} IosatQueryTable;

/* ---------------------------------------------------------------------
 * "iosat profile": the sampled wait/kernel-state profile (the profiler,
 * profiler/profile.c, writes it; views/profile_views.c reads it)
 * ---------------------------------------------------------------------
 */
#define IOSAT_BTYPE_LEN		48	/* backend type, e.g. "client backend" */

/*
 * Key of one profile bucket.  Compared as bytes (the collector zeroes it
 * before filling it), so it has no padding holes with garbage.
 */
typedef struct IosatProfileKey
{
	char		backend_type[IOSAT_BTYPE_LEN];
	char		wchan[IOSAT_WCHAN_LEN];
	uint32		wait_event_info;
	char		state;			/* task state letter; '?' unknown */
	char		pad[3];
} IosatProfileKey;

typedef struct IosatProfileEntry
{
	IosatProfileKey key;
	uint64		count;
} IosatProfileEntry;

/* the name of the bucket that counts the keys past the table's size */
#define IOSAT_OTHER_BUCKET	"(other)"

/* time constants of the kernel's load averages: 1, 5 and 15 minutes */
#define IOSAT_NLOADS 3

/*
 * The profile in shared memory.  The profiler is its only writer: it
 * publishes one pass at a time under changecount (even: stable), and
 * readers copy the header and the used entries and retry if it moved.
 */
typedef struct IosatProfileShared
{
	pg_atomic_uint32 changecount;
	pg_atomic_uint32 profiler_pid;	/* 0: not running */
	pg_atomic_uint32 profiler_procno;	/* its latch, for reset requests */
	pg_atomic_uint64 reset_requested;	/* bumped by iosat_wait_profile_reset */
	pg_atomic_uint64 reset_done;	/* the last request the profiler applied */

	/* below: written under changecount */
	bool		enabled;		/* iosat.profile at the last pass */
	int			max_entries;
	int			nentries;
	uint64		passes;			/* since the last reset */
	uint64		samples;		/* process samples since the last reset */
	uint64		overflow_samples;	/* counted in the "(other)" bucket */
	TimestampTz since;			/* last reset, or profiler start */
	TimestampTz last_pass;
	double		last_pass_ms;
	double		sum_pass_ms;
	int			last_procs;		/* processes sampled in the last pass */

	/* Postgres processes in R and D: the last pass and sums since reset */
	int			now_running;
	int			now_disk_sleep;
	uint64		sum_running;
	uint64		sum_disk_sleep;

	/*
	 * Exponentially damped averages of (R + D) over Postgres processes with
	 * the kernel's load-average time constants (60, 300, 900 s), from 0 at
	 * the profiler's first pass after server start.
	 */
	double		pg_load[IOSAT_NLOADS];
	TimestampTz load_since;		/* the first pass; 0: none yet */

	IosatProfileEntry entries[FLEXIBLE_ARRAY_MEMBER];
} IosatProfileShared;


/* ---------------------------------------------------------------------
 * "iosat vacuum": vacuum backpressure's slots (control/vacuum.c claims and
 * ticks them, sampler/vacuum_policy.c publishes the multiplier and reads
 * each process's I/O)
 * ---------------------------------------------------------------------
 */
#define IOSAT_VAC_UNIT			1000	/* multipliers are published in 1/1000 */
#define IOSAT_VAC_MAX_COST		10000	/* the page-cost GUCs' maximum */
#define IOSAT_VAC_MAX_FREE		1000.0	/* free_factor's bound */

typedef enum IosatVacKind
{
	IOSAT_VAC_FREE = 0,
	IOSAT_VAC_AUTOVACUUM,
	IOSAT_VAC_MANUAL
} IosatVacKind;

/* what the last tick did */
typedef enum IosatVacState
{
	IOSAT_VACST_STARTING = 0,	/* no tick yet */
	IOSAT_VACST_APPLIED,		/* costs scaled by the published multiplier */
	IOSAT_VACST_WRAPAROUND,		/* anti-wraparound: held at or below base */
	IOSAT_VACST_COST_OFF,		/* no cost-based delay now: nothing to scale */
	IOSAT_VACST_FAILSAFE,		/* 16+: the wraparound failsafe fired */
	IOSAT_VACST_DISABLED,		/* iosat.vacuum_backpressure = off: base, no tick */
	IOSAT_VACST_STALE			/* no fresh multiplier: base (fail open) */
} IosatVacState;

/*
 * One per PGPROC, indexed by proc number.  The process that owns the slot
 * writes its fields, from its tick (a SIGALRM handler: plain stores of
 * aligned 32-bit values, no lock) or from ordinary code while the tick is
 * disarmed.  The io_* record is written by the sampler only, under its
 * change counter.  Readers take each field as it is: a row may mix two
 * consecutive ticks, never a torn value.
 */
typedef struct IosatVacuumSlot
{
	pg_atomic_uint32 pid;		/* owner; 0 when free */
	pg_atomic_uint32 kind;		/* IosatVacKind */
	pg_atomic_uint32 state;		/* IosatVacState */
	pg_atomic_uint32 wraparound;	/* the table is vacuumed to prevent wraparound */
	pg_atomic_uint32 multiplier;	/* applied, in 1/1000 */
	pg_atomic_uint32 base[3];	/* hit, miss, dirty as configured */
	pg_atomic_uint32 cost[3];	/* hit, miss, dirty in force */
	pg_atomic_uint32 cost_limit;	/* the active limit (after balancing) */
	pg_atomic_uint32 cost_delay_us; /* the active delay */
	pg_atomic_uint32 ticks;
	pg_atomic_uint32 changes;	/* ticks that changed the costs */
	pg_atomic_uint32 adoptions; /* new base values adopted (reload, SET) */
	pg_atomic_uint32 held;		/* ticks that held a wraparound vacuum at base */
	pg_atomic_uint32 inactive;	/* ticks with cost delay off or failsafe */
	pg_atomic_uint32 spent;		/* cost units spent at the configured costs
								 * (pages hit, read, dirtied), wrapping */

	/* written by the sampler */

	/*
	 * How many times faster than it runs the cost limit would let this
	 * vacuum run at its configured costs, measured while nothing scaled it
	 * down (1/1000; 0: not known yet): a vacuum whose limit is far above
	 * what the volume serves is slowed relative to the speed it reads at,
	 * not to a configured speed it never reaches (vacuum_policy.c).
	 */
	pg_atomic_uint32 free_factor;
	pg_atomic_uint32 io_changecount;
	int32		io_pid;			/* whose figures these are */
	bool		io_valid;		/* rates computed (two readings) */
	double		read_mbps;		/* read_bytes: fetched from storage */
	double		write_mbps;		/* write_bytes: sent (or to be sent) to storage */
	double		rchar_mbps;		/* bytes through read calls, cache hits included */
	int64		read_bytes;
	int64		write_bytes;
	int64		rchar;
	TimestampTz io_time;
} IosatVacuumSlot;

typedef struct IosatVacuumShared
{
	/* the policy's state, written by the sampler */
	pg_atomic_uint32 pressure;	/* the signal it acted on, in 1/1000 */
	pg_atomic_uint64 slowed_us; /* time the multiplier was above 1 */
	pg_atomic_uint64 sped_us;	/* time it was below 1 */
	pg_atomic_uint64 slowdowns; /* episodes: from <= 1 to > 1 */

	/* counters of slots since released, folded in by their owners */
	pg_atomic_uint64 done_ticks;
	pg_atomic_uint64 done_changes;
	pg_atomic_uint64 done_adoptions;
	pg_atomic_uint64 done_held;
	pg_atomic_uint64 done_inactive;
	pg_atomic_uint64 workers_seen;	/* slots ever claimed */

	int			nslots;
	IosatVacuumSlot slots[FLEXIBLE_ARRAY_MEMBER];
} IosatVacuumShared;


/* ---------------------------------------------------------------------
 * "iosat admission": the queue and the slots (state/queue.c)
 * ---------------------------------------------------------------------
 */
/*
 * One per PGPROC.  The owning backend writes heavy_running and
 * heavy_apart (the sampler too, under the admission lock, for an owner that has exited); the queue
 * fields are written under the admission lock.
 */
typedef struct IosatBackendSlot
{
	pg_atomic_uint32 heavy_running; /* slots this backend holds */
	pg_atomic_uint32 heavy_apart;	/* heavy statements admitted without a
									 * slot (lock holders, exempt roles, a
									 * second statement of a slot holder)
									 * when none was free */
	int			pid;			/* owner, 0 when unused */
	bool		queued;			/* in the queue (under the lock) */
	TimestampTz queued_since;
	uint64		queryid;
	ConditionVariable cv;		/* signalled when it may be its turn */
} IosatBackendSlot;

/* counters, all monotonic */
typedef enum IosatCounter
{
	IOSAT_C_CHEAP = 0,			/* passed as cheap while saturated */
	IOSAT_C_SLOT,				/* took a free slot while saturated */
	IOSAT_C_QUEUED,				/* entered the queue */
	IOSAT_C_ADMITTED_FROM_QUEUE,
	IOSAT_C_TIMED_OUT,
	IOSAT_C_REJECTED,			/* mode reject, or queue full */
	IOSAT_C_CANCELLED,			/* left the queue by cancel, timeout, exit */
	IOSAT_C_BYPASS_EXEMPT,
	IOSAT_C_BYPASS_LOCKS,		/* lock holders never wait */
	IOSAT_C_BYPASS_HOLDER,		/* already holds a slot */
	IOSAT_C_WOULD_QUEUE,		/* monitor mode */
	IOSAT_C_WOULD_REJECT,
	IOSAT_C_FAIL_OPEN,			/* saturated but the data was stale */
	IOSAT_C_RECLAIMED,			/* slots of dead backends freed */
	IOSAT_C_PREFETCH_CAPPED,	/* heavy statements started with capped prefetch */
	IOSAT_C_PACED,				/* heavy statements slowed by read pacing */
	IOSAT_C_PACE_US,			/* total time paced statements slept */
	IOSAT_C_WAIT_US,			/* total time spent queued */
	IOSAT_C_WAIT_MAX_US,
	IOSAT_NUM_COUNTERS
} IosatCounter;

typedef struct IosatAdmissionShared
{
	LWLock	   *lock;			/* the queue */
	int			nslots;
	int			qhead;			/* ring of procnos, under the lock */
	int			qlen;
	pg_atomic_uint32 queued;	/* qlen, readable without the lock */
	pg_atomic_uint32 running;	/* sum of the slots' heavy_running */
	pg_atomic_uint32 apart;		/* sum of the slots' heavy_apart */
	pg_atomic_uint64 counters[IOSAT_NUM_COUNTERS];
	IosatBackendSlot slots[FLEXIBLE_ARRAY_MEMBER];
	/* followed by int queue[nslots] */
} IosatAdmissionShared;

/* ---------------------------------------------------------------------
 * "iosat pacing": one read budget per paced parallel statement, shared by
 * its leader and workers (state/paceshare.c; control/pacing.c uses it)
 * ---------------------------------------------------------------------
 */
/*
 * One per PGPROC, indexed by the leader's proc number: a backend runs at
 * most one paced parallel statement's budget at a time.  The leader claims
 * it at ExecutorStart (owner from 0 to its pid and statement number) and
 * frees it when the statement's executor state goes (ExecutorEnd, the
 * portal's cleanup after an error or cancel) or the backend exits; workers
 * find it through their lock group leader and attach while owner is the
 * one they found.  Every field is an atomic: no lock on the pacing path.
 */
typedef struct IosatPaceSlot
{
	pg_atomic_uint64 owner;		/* (leader pid << 32) | statement number;
								 * 0: free */
	/*
	 * The budget, a token bucket kept as the time at which it is empty
	 * (GCRA): a process that reads n blocks moves it by n / rate seconds
	 * from max(itself, now - burst) and sleeps until that time.
	 */
	pg_atomic_uint64 tat_us;	/* iosat_mono_us() */
	pg_atomic_uint32 slow_cap_milli;	/* slow start's cap, 1/1000 block/s;
										 * 0: not in slow start */
	pg_atomic_uint64 slow_at;	/* iosat_mono_us() of its last step */
	pg_atomic_uint32 counted;	/* counted in IOSAT_C_PACED */
	pg_atomic_uint32 workers;	/* workers attached now */
	pg_atomic_uint32 workers_seen;	/* workers attached since the claim */
	pg_atomic_uint64 leader_blocks; /* blocks read, as charged by the leader */
	pg_atomic_uint64 worker_blocks; /* ... and by its workers */
	pg_atomic_uint64 slept_us;	/* time slept at pacing points, all processes */
	pg_atomic_uint64 since;		/* TimestampTz of the claim (display) */
} IosatPaceSlot;

typedef struct IosatPaceShared
{
	int			nslots;
	IosatPaceSlot slots[FLEXIBLE_ARRAY_MEMBER];
} IosatPaceShared;

#endif							/* IOSAT_SHARED_H */
