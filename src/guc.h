/*-------------------------------------------------------------------------
 *
 * guc.h
 *	  The iosat.* parameters, as the rest of the code reads them: guc.c's
 *	  header.  They are defined, with their ranges, units and check hooks,
 *	  in guc.c (docs/configuration.md tells a DBA what each does).  guc.c
 *	  is at the top of the layers (its check hooks use the lower ones'
 *	  limits); this header is at the base: every layer may include it.
 *
 *-------------------------------------------------------------------------
 */
#ifndef IOSAT_GUC_H
#define IOSAT_GUC_H

#include "postgres.h"

/* defines them all (guc.c), from _PG_init */
extern void iosat_define_gucs(void);

/* iosat.admission */
typedef enum IosatAdmissionMode
{
	IOSAT_ADMISSION_OFF = 0,
	IOSAT_ADMISSION_MONITOR,
	IOSAT_ADMISSION_QUEUE,
	IOSAT_ADMISSION_REJECT
} IosatAdmissionMode;

/* sampling and the saturation signal */
extern int	iosat_sample_interval_ms;
extern int	iosat_smoothing_ms;
extern int	iosat_iops_limit;
extern int	iosat_read_iops_limit;
extern int	iosat_write_iops_limit;
extern int	iosat_throughput_limit_mb;
extern char *iosat_device_iops_limits;
extern int	iosat_latency_target_ms;
extern int	iosat_queue_depth_target;
extern char *iosat_devices;
extern char *iosat_sysfs_root;
extern char *iosat_procfs_root;

/* the BPF companion */
extern bool iosat_bpf_enabled;
extern char *iosat_bpf_pin_dir;
extern int	iosat_bpf_max_age_ms;

/* the profiler */
extern bool iosat_profile_enabled;
extern int	iosat_profile_interval_ms;
extern int	iosat_profile_max_entries;

/* admission control */
extern int	iosat_admission_mode;
extern int	iosat_cheap_reads;
extern int	iosat_cheap_writes;
extern int	iosat_cheap_cost;
extern int	iosat_queue_timeout_ms;
extern int	iosat_max_queued;
extern char *iosat_exempt_roles;
extern int	iosat_monitor_log_level;
extern int	iosat_heavy_io_concurrency;
extern int	iosat_max_queries;

/* pacing */
extern bool iosat_pacing;
extern int	iosat_pacing_min_rate;

/* vacuum backpressure */
extern bool iosat_vacuum_backpressure;
extern double iosat_vacuum_max_slowdown;
extern double iosat_vacuum_max_speedup;
extern bool iosat_vacuum_manual;
extern int	iosat_vacuum_tick_ms;

#endif							/* IOSAT_GUC_H */
