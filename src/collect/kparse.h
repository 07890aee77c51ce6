/*-------------------------------------------------------------------------
 *
 * kparse.h
 *	  Parsers for the text the kernel exposes in /sys and /proc.
 *
 * Everything here is plain C99 with no PostgreSQL dependency, so that the
 * same code runs inside the server and under the libFuzzer harnesses in
 * test/fuzz.  Parsers take a buffer and its length (no NUL terminator is
 * required), never allocate, never read past len, and return false on any
 * malformed, truncated or out-of-range input, leaving *out unspecified.
 *
 *-------------------------------------------------------------------------
 */
#ifndef IOSAT_KPARSE_H
#define IOSAT_KPARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* /sys/block/<dev>/stat: 11 fields (< 4.18), 15 (4.18+), 17 (5.5+) */
typedef struct KDiskStat
{
	int			nfields;
	uint64_t	rd_ios;
	uint64_t	rd_merges;
	uint64_t	rd_sectors;
	uint64_t	rd_ticks;		/* ms */
	uint64_t	wr_ios;
	uint64_t	wr_merges;
	uint64_t	wr_sectors;
	uint64_t	wr_ticks;		/* ms */
	uint64_t	in_flight;
	uint64_t	io_ticks;		/* ms */
	uint64_t	time_in_queue;	/* ms */
	uint64_t	dc_ios;
	uint64_t	dc_merges;
	uint64_t	dc_sectors;
	uint64_t	dc_ticks;
	uint64_t	fl_ios;
	uint64_t	fl_ticks;
} KDiskStat;

/* one line of /proc/pressure/io ("some" or "full") */
typedef struct KPsiLine
{
	bool		present;
	double		avg10;
	double		avg60;
	double		avg300;
	uint64_t	total;			/* µs stalled, cumulative */
} KPsiLine;

typedef struct KPsi
{
	KPsiLine	some;
	KPsiLine	full;
} KPsi;

/* the fields iosat uses from /proc/<pid>/stat */
typedef struct KProcStat
{
	int			pid;
	char		comm[17];
	char		state;
	int			ppid;
	uint64_t	minflt;
	uint64_t	majflt;
	uint64_t	utime;			/* clock ticks */
	uint64_t	stime;			/* clock ticks */
	int64_t		priority;
	int64_t		nice;
	int64_t		num_threads;
	uint64_t	starttime;		/* clock ticks since boot */
	int			processor;		/* field 39 */
	uint64_t	delayacct_blkio_ticks;	/* field 42 */
	int			nfields;
} KProcStat;

/* the fields iosat uses from /proc/<pid>/status */
typedef struct KProcStatus
{
	char		state;
	uint64_t	sigpnd;
	uint64_t	shdpnd;
	uint64_t	sigblk;
	uint64_t	vm_rss_kb;
	uint64_t	voluntary_ctxt_switches;
	uint64_t	nonvoluntary_ctxt_switches;
	bool		have_sig;
	bool		have_ctxt;
} KProcStatus;

/* /proc/<pid>/io */
typedef struct KProcIo
{
	uint64_t	rchar;
	uint64_t	wchar;
	uint64_t	syscr;
	uint64_t	syscw;
	uint64_t	read_bytes;
	uint64_t	write_bytes;
	uint64_t	cancelled_write_bytes;
	int			nfound;
} KProcIo;

/* /proc/stat: the scheduler's instantaneous task counts */
typedef struct KSysStat
{
	uint64_t	procs_running;	/* tasks runnable now */
	uint64_t	procs_blocked;	/* tasks waiting for I/O now (nr_iowait) */
} KSysStat;

/* /proc/loadavg */
typedef struct KLoadAvg
{
	double		load1;
	double		load5;
	double		load15;
	int			running;
	int			total;
	int			last_pid;
} KLoadAvg;

/*
 * /proc/<pid>/syscall: "NR 0xA1 0xA2 0xA3 0xA4 0xA5 0xA6 0xSP 0xPC" while
 * the task is blocked in system call NR; "-1 0xSP 0xPC" while blocked
 * outside one; "running" while it runs
 */
typedef struct KSyscall
{
	bool		in_syscall;		/* the arguments below are valid */
	int64_t		nr;
	uint64_t	args[6];
} KSyscall;

extern bool kparse_u64(const char *buf, size_t len, uint64_t *out);
extern bool kparse_majmin(const char *buf, size_t len,
						  unsigned int *major, unsigned int *minor);
extern bool kparse_diskstat(const char *buf, size_t len, KDiskStat *out);
extern bool kparse_inflight(const char *buf, size_t len,
							uint64_t *reads, uint64_t *writes);
extern bool kparse_scheduler(const char *buf, size_t len,
							 char *out, size_t outlen);
extern bool kparse_psi(const char *buf, size_t len, KPsi *out);
extern bool kparse_proc_stat(const char *buf, size_t len, KProcStat *out);
extern bool kparse_proc_status(const char *buf, size_t len, KProcStatus *out);
extern bool kparse_proc_io(const char *buf, size_t len, KProcIo *out);
extern bool kparse_wchan(const char *buf, size_t len, char *out, size_t outlen);
extern bool kparse_loadavg(const char *buf, size_t len, KLoadAvg *out);
extern bool kparse_proc_syscall(const char *buf, size_t len, KSyscall *out);
extern bool kparse_sysstat(const char *buf, size_t len, KSysStat *out);
extern bool kparse_mountinfo_find(const char *buf, size_t len,
								  unsigned int major, unsigned int minor,
								  char *fstype, size_t fstypelen,
								  char *source, size_t sourcelen);

/*
 * Lines "<name>[:] <value>[ kB]": a memory cgroup's memory.stat (v1 and v2,
 * bytes) and /proc/meminfo (kB).  For each of NKEYS names, its value in
 * VALS[i], in the file's unit, or KPARSE_ABSENT when no line has it.
 */
#define KPARSE_ABSENT UINT64_MAX
extern bool kparse_keyvals(const char *buf, size_t len, const char *const *keys,
						   int nkeys, uint64_t *vals);

/*
 * /proc/<pid>/cgroup: the cgroup path of the v1 hierarchy whose controllers
 * include CONTROLLER, or with CONTROLLER "", of the v2 hierarchy ("0::").
 */
extern bool kparse_cgroup_path(const char *buf, size_t len, const char *controller,
							   char *out, size_t outlen);

/* counter delta that survives a 32-bit wrap; false when the counter reset */
extern bool kcounter_delta(uint64_t prev, uint64_t cur, uint64_t *delta);

#endif							/* IOSAT_KPARSE_H */
