/*-------------------------------------------------------------------------
 *
 * bpfsource.h
 *	  The BPF companion (iosatd's pinned maps) as a source of device and
 *	  per-process figures: the sampler's reader and a backend's reader.
 *
 *-------------------------------------------------------------------------
 */
#ifndef IOSAT_BPFSOURCE_H
#define IOSAT_BPFSOURCE_H

#include "state/shared.h"

/*
 * Statuses: those of bpf_reader.h (IOSAT_BPF_OK 0, STALE -1, MISSING -2,
 * NOACCESS -3, INCOMPATIBLE -4, ERROR -5, CLOSED -6), and these.
 */
#define IOSAT_BPFSRC_OFF			100 /* iosat.bpf = off, or fixture sysfs */
#define IOSAT_BPFSRC_UNSUPPORTED	101 /* built without libbpf */
#define IOSAT_BPFSRC_UNKNOWN		102 /* not looked yet */

/* longest iosat.bpf_pin_dir (the reader adds "/" and a pin name) */
#define IOSAT_BPF_PIN_DIR_MAXLEN	150

/* per-process device I/O since iosatd loaded (or since the process started) */
typedef struct IosatBpfProcIo
{
	char		comm[16];
	bool		kthread;
	int64		ios;			/* requests completed, all classes */
	int64		reads;
	int64		writes;
	int64		read_bytes;
	int64		write_bytes;
	int64		discard_bytes;	/* discards */
	double		avg_latency_ms; /* creation -> completion; -1: no I/O */
	double		avg_device_ms;	/* issue -> completion; -1: no I/O */
	TimestampTz last_io;		/* 0: none */
	uint64		start_boottime_ns;	/* the process's start (CLOCK_BOOTTIME) */
} IosatBpfProcIo;

/* name of a status for SQL and the log: "ok", "stale", "missing", ... */
extern const char *iosat_bpf_status_name(int status);

/* the sampler: once per pass, before the devices */
extern void iosat_bpf_sample_begin(TimestampTz now);

/*
 * The sampler, per device: the BPF figures of the interval since the last
 * call for the same device.  false when there are none (BPF not usable,
 * first sample after (re)opening, counters restarted).
 */
extern bool iosat_bpf_sample_device(uint32 major, uint32 minor,
									IosatBpfFigures *out);

/* time the sampler spent on BPF in the current pass, in ns */
extern uint64 iosat_bpf_pass_ns(void);

/* the sampler, at exit */
extern void iosat_bpf_sampler_close(void);

/* what the sampler published (for iosat_status) */
extern void iosat_bpf_read_state(IosatBpfState *out);

/*
 * A backend's own reader, opened on first use and refreshed at most every
 * 100 ms: the status (IOSAT_BPF_OK when usable), with a reason in note.
 */
extern int	iosat_bpf_backend_status(char *note, size_t notelen);

/*
 * pid's device I/O from the per-process map, through the backend's reader:
 * true with *out filled (zeros when BPF saw no I/O of pid), false when BPF
 * is not usable.
 */
extern bool iosat_bpf_proc_io(int pid, IosatBpfProcIo *out);

/*
 * Every process of the per-process map (at most max); returns the number
 * stored, or -1 when BPF is not usable.
 */
extern int	iosat_bpf_all_procs(int *pids, IosatBpfProcIo *out, int max);

/*
 * Does a map entry with this start time belong to the process whose
 * /proc/<pid>/stat starttime (clock ticks since boot) is given?  (pid reuse)
 */
extern bool iosat_bpf_same_process(uint64 start_boottime_ns, uint64 starttime_ticks);

#endif							/* IOSAT_BPFSOURCE_H */
