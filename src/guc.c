/*-------------------------------------------------------------------------
 *
 * guc.c
 *	  The iosat.* configuration parameters.
 *
 * Every parameter is documented in docs/configuration.md; keep the
 * two in step.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "miscadmin.h"
#include "postmaster/postmaster.h"
#include "storage/bufmgr.h"
#include "utils/acl.h"
#include "utils/guc.h"
#include "utils/varlena.h"

#include "guc.h"
#include "control/admission.h"
#include "sampler/bpfsource.h"
#include "state/shared.h"
#include "control/pacing.h"
#include "profiler/profile.h"
#include "state/querystats.h"
#include "control/vacuum.h"

int			iosat_sample_interval_ms = 500;
int			iosat_smoothing_ms = 2000;
int			iosat_iops_limit = 0;
int			iosat_read_iops_limit = 0;
int			iosat_write_iops_limit = 0;
int			iosat_throughput_limit_mb = 0;
char	   *iosat_devices = NULL;
char	   *iosat_sysfs_root = NULL;
char	   *iosat_procfs_root = NULL;
char	   *iosat_device_iops_limits = NULL;
int			iosat_latency_target_ms = -1;
int			iosat_queue_depth_target = 0;
int			iosat_admission_mode = IOSAT_ADMISSION_OFF;
int			iosat_cheap_reads = 100;
int			iosat_cheap_writes = 100;
int			iosat_cheap_cost = 10000;
int			iosat_queue_timeout_ms = 10000;
int			iosat_max_queued = 64;
char	   *iosat_exempt_roles = NULL;
int			iosat_monitor_log_level = LOG;
int			iosat_heavy_io_concurrency = -1;
bool		iosat_pacing = true;
int			iosat_pacing_min_rate = 16;
int			iosat_max_queries = 5000;
bool		iosat_bpf_enabled = true;
char	   *iosat_bpf_pin_dir = NULL;
int			iosat_bpf_max_age_ms = 0;


static const struct config_enum_entry admission_options[] = {
	{"off", IOSAT_ADMISSION_OFF, false},
	{"monitor", IOSAT_ADMISSION_MONITOR, false},
	{"queue", IOSAT_ADMISSION_QUEUE, false},
	{"reject", IOSAT_ADMISSION_REJECT, false},
	{NULL, 0, false}
};

static const struct config_enum_entry log_level_options[] = {
	{"debug5", DEBUG5, false},
	{"debug4", DEBUG4, false},
	{"debug3", DEBUG3, false},
	{"debug2", DEBUG2, false},
	{"debug1", DEBUG1, false},
	{"debug", DEBUG2, true},
	{"info", INFO, false},
	{"notice", NOTICE, false},
	{"warning", WARNING, false},
	{"log", LOG, false},
	{NULL, 0, false}
};
bool		iosat_vacuum_backpressure = false;
double		iosat_vacuum_max_slowdown = 100.0;
double		iosat_vacuum_max_speedup = 2.0;
bool		iosat_vacuum_manual = false;
int			iosat_vacuum_tick_ms = 250;
bool		iosat_profile_enabled = true;
int			iosat_profile_interval_ms = 1000;
int			iosat_profile_max_entries = 1024;

static bool
path_contains_dotdot(const char *p)
{
	while (*p)
	{
		const char *start;

		while (*p == '/')
			p++;
		start = p;
		while (*p && *p != '/')
			p++;
		if (p - start == 2 && start[0] == '.' && start[1] == '.')
			return true;
	}
	return false;
}

/*
 * A root for the kernel's pseudo file systems: an absolute path without
 * "..", so that a test can point the real parsers at a fixture tree and
 * nobody can point them somewhere surprising.
 */
static bool
check_kernel_root(char **newval, void **extra, GucSource source)
{
	const char *p = *newval;

	if (p == NULL || p[0] != '/')
	{
		GUC_check_errdetail("The path must be absolute.");
		return false;
	}
	if (path_contains_dotdot(p))
	{
		GUC_check_errdetail("The path must not contain \"..\".");
		return false;
	}
	if (strlen(p) > MAXPGPATH / 2)
	{
		GUC_check_errdetail("The path is longer than %d bytes.", MAXPGPATH / 2);
		return false;
	}
	return true;
}

/* iosat.bpf_pin_dir: a kernel root, short enough for the BPF reader */
static bool
check_bpf_pin_dir(char **newval, void **extra, GucSource source)
{
	if (!check_kernel_root(newval, extra, source))
		return false;
	if (strlen(*newval) > IOSAT_BPF_PIN_DIR_MAXLEN)
	{
		GUC_check_errdetail("The path is longer than %d bytes.", IOSAT_BPF_PIN_DIR_MAXLEN);
		return false;
	}
	return true;
}

/*
 * iosat.devices: empty, or a comma-separated list of block device names
 * ("nvme0n1") or MAJ:MIN pairs ("259:0").  Only the syntax is checked
 * here; a name that does not exist is reported by the sampler in
 * iosat_devices (status "not found"), so that a reload never fails because
 * a device is missing at that moment.
 */
static bool
check_devices(char **newval, void **extra, GucSource source)
{
	const char *p = *newval;
	int			count = 0;

	if (p == NULL)
		return true;
	while (*p)
	{
		const char *start;
		size_t		len;

		while (*p == ' ' || *p == ',')
			p++;
		if (*p == '\0')
			break;
		start = p;
		while (*p && *p != ',' && *p != ' ')
		{
			char		c = *p;

			if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
				  (c >= '0' && c <= '9') || c == '-' || c == '_' ||
				  c == ':' || c == '.'))
			{
				/* a byte of a multibyte character is no valid string alone */
				if (c > ' ' && c < 0x7f)
					GUC_check_errdetail("Invalid character \"%c\" in device name.", c);
				else
					GUC_check_errdetail("Invalid byte 0x%02x in device name.",
										(unsigned char) c);
				return false;
			}
			p++;
		}
		len = p - start;
		if (len >= IOSAT_NAME_LEN)
		{
			GUC_check_errdetail("Device name \"%.*s\" is longer than %d bytes.",
								(int) len, start, IOSAT_NAME_LEN - 1);
			return false;
		}
		if ((len == 1 && start[0] == '.') ||
			(len == 2 && start[0] == '.' && start[1] == '.'))
		{
			GUC_check_errdetail("\"%.*s\" is not a device name.", (int) len, start);
			return false;
		}
		if (++count > IOSAT_MAX_DEVICES)
		{
			GUC_check_errdetail("At most %d devices can be listed.", IOSAT_MAX_DEVICES);
			return false;
		}
	}
	return true;
}

/* "name:iops, name:iops": device names as in iosat.devices, positive IOPS */
static bool
check_device_iops_limits(char **newval, void **extra, GucSource source)
{
	const char *p = *newval;

	if (p == NULL)
		return true;
	while (*p)
	{
		const char *name;
		long		iops;
		char	   *end;

		while (*p == ' ' || *p == ',')
			p++;
		if (*p == '\0')
			break;
		name = p;
		while ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
			   (*p >= '0' && *p <= '9') || *p == '-' || *p == '_' || *p == '.')
			p++;
		if (p == name || *p != ':' || p - name >= IOSAT_NAME_LEN)
		{
			GUC_check_errdetail("Entries must look like \"device:iops\", e.g. \"nvme1n1:3000\".");
			return false;
		}
		p++;
		errno = 0;
		iops = strtol(p, &end, 10);
		if (end == p || errno != 0 || iops <= 0 || iops > 100000000 ||
			(*end != '\0' && *end != ',' && *end != ' '))
		{
			GUC_check_errdetail("The IOPS of \"%.*s\" must be an integer between 1 and 100000000.",
								(int) (p - 1 - name), name);
			return false;
		}
		p = end;
		while (*p == ' ')
			p++;
		if (*p != '\0' && *p != ',')
		{
			GUC_check_errdetail("Entries must be separated by commas.");
			return false;
		}
	}
	return true;
}

/* iosat.exempt_roles: a list of role names, quoted as in search_path */
static bool
check_exempt_roles(char **newval, void **extra, GucSource source)
{
	char	   *copy;
	List	   *names;
	bool		ok;

	if (*newval == NULL)
		return true;
	copy = pstrdup(*newval);
	ok = SplitIdentifierString(copy, ',', &names);
	list_free(names);
	pfree(copy);
	if (!ok)
	{
		GUC_check_errdetail("List syntax is invalid: role names are separated by commas, and double-quoted where they need it.");
		return false;
	}
	return true;
}

static void
assign_exempt_roles(const char *newval, void *extra)
{
	iosat_exempt_roles_gen++;
}

void
iosat_define_gucs(void)
{
	DefineCustomIntVariable("iosat.sample_interval",
							"Interval between two samples of the block devices.",
							"Admission control and vacuum backpressure react "
							"within about two intervals.",
							&iosat_sample_interval_ms,
							500, 10, 60000,
							PGC_SIGHUP,
							GUC_UNIT_MS,
							NULL, NULL, NULL);

	DefineCustomIntVariable("iosat.smoothing_window",
							"Time constant of the exponential smoothing of device metrics.",
							"0 disables smoothing: the smoothed figures equal "
							"the last interval's.",
							&iosat_smoothing_ms,
							2000, 0, 600000,
							PGC_SIGHUP,
							GUC_UNIT_MS,
							NULL, NULL, NULL);

	DefineCustomIntVariable("iosat.iops_limit",
							"Provisioned IOPS ceiling of the devices (reads plus writes).",
							"0 means unknown: headroom is not computed and "
							"saturation is judged by latency and queue depth alone.",
							&iosat_iops_limit,
							0, 0, 100000000,
							PGC_SIGHUP,
							0,
							NULL, NULL, NULL);

	DefineCustomStringVariable("iosat.devices",
							   "Block devices to sample instead of those discovered.",
							   "A comma-separated list of device names (nvme0n1) "
							   "or MAJ:MIN pairs. Empty: discover the devices under "
							   "the data directory, pg_wal and the tablespaces.",
							   &iosat_devices,
							   "",
							   PGC_SIGHUP,
							   GUC_LIST_INPUT,
							   check_devices, NULL, NULL);

	DefineCustomStringVariable("iosat.sysfs_root",
							   "Where sysfs is mounted.",
							   "Tests point this at a fixture tree.",
							   &iosat_sysfs_root,
							   "/sys",
							   PGC_POSTMASTER,
							   GUC_SUPERUSER_ONLY,
							   check_kernel_root, NULL, NULL);

	DefineCustomStringVariable("iosat.procfs_root",
							   "Where procfs is mounted.",
							   "Tests point this at a fixture tree.",
							   &iosat_procfs_root,
							   "/proc",
							   PGC_POSTMASTER,
							   GUC_SUPERUSER_ONLY,
							   check_kernel_root, NULL, NULL);

	DefineCustomBoolVariable("iosat.profile",
							 "Samples the wait events and kernel task states of Postgres processes.",
							 "Feeds iosat_wait_profile and the averages of iosat_loadavg; "
							 "iosat_backends works without it.",
							 &iosat_profile_enabled,
							 true,
							 PGC_SIGHUP,
							 0,
							 NULL, NULL, NULL);

	DefineCustomIntVariable("iosat.profile_interval",
							"Interval between two samples of the wait/kernel-state profile.",
							"Each sample reads /proc/<pid>/stat (and wchan) of every Postgres process.",
							&iosat_profile_interval_ms,
							1000, 10, 60000,
							PGC_SIGHUP,
							GUC_UNIT_MS,
							NULL, NULL, NULL);

	DefineCustomIntVariable("iosat.profile_max_entries",
							"Number of distinct (backend type, wait event, state, wchan) keys the profile holds.",
							"Samples of further keys are counted in one \"(other)\" row.",
							&iosat_profile_max_entries,
							1024, 64, 65536,
							PGC_POSTMASTER,
							0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("iosat.read_iops_limit",
							"Provisioned ceiling of read IOPS, for volumes that budget reads and writes apart.",
							"0 means none: reads count only against iosat.iops_limit.",
							&iosat_read_iops_limit,
							0, 0, 100000000,
							PGC_SIGHUP,
							0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("iosat.write_iops_limit",
							"Provisioned ceiling of write IOPS, for volumes that budget reads and writes apart.",
							"0 means none: writes count only against iosat.iops_limit.",
							&iosat_write_iops_limit,
							0, 0, 100000000,
							PGC_SIGHUP,
							0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("iosat.throughput_limit",
							"Provisioned throughput ceiling of the volumes, per second.",
							"Reads and writes together, and the growth of the page cache the server holds dirty (writes the kernel owes the volume); 0 means none.",
							&iosat_throughput_limit_mb,
							0, 0, 100000000,
							PGC_SIGHUP,
							GUC_UNIT_MB,
							NULL, NULL, NULL);

	DefineCustomStringVariable("iosat.device_iops_limits",
							   "Per-device IOPS ceilings that override iosat.iops_limit.",
							   "A comma-separated list of device:iops, e.g. \"nvme1n1:3000, nvme2n1:16000\".",
							   &iosat_device_iops_limits,
							   "",
							   PGC_SIGHUP,
							   GUC_LIST_INPUT,
							   check_device_iops_limits, NULL, NULL);

	DefineCustomIntVariable("iosat.latency_target",
							"Read latency above which a device counts as saturated.",
							"Compared with the smoothed read await of each device. "
							"-1 derives it from the latency each device shows when not "
							"overloaded (twice it, at least 10 ms); 0 disables the latency signal.",
							&iosat_latency_target_ms,
							-1, -1, 60000,
							PGC_SIGHUP,
							GUC_UNIT_MS,
							NULL, NULL, NULL);

	DefineCustomIntVariable("iosat.queue_depth_target",
							"Average queue depth above which a device counts as saturated.",
							"0 disables the queue-depth signal.",
							&iosat_queue_depth_target,
							0, 0, 100000,
							PGC_SIGHUP,
							0,
							NULL, NULL, NULL);

	DefineCustomEnumVariable("iosat.admission",
							 "What admission control does with heavy statements while the storage is saturated.",
							 "off: nothing; monitor: decide and count, admit everything, log would-be decisions; "
							 "queue: wait for a slot (up to iosat.queue_timeout); reject: refuse at once.",
							 &iosat_admission_mode,
							 IOSAT_ADMISSION_OFF,
							 admission_options,
							 PGC_SUSET,
							 0,
							 NULL, NULL, NULL);

	DefineCustomIntVariable("iosat.cheap_reads",
							"Blocks read per execution under which a statement is cheap.",
							"A statement is cheap when both its reads and its writes are under their thresholds. Cheap statements are never queued nor paced. Learned per queryid at ExecutorEnd.",
							&iosat_cheap_reads,
							100, 0, INT_MAX,
							PGC_SUSET,
							0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("iosat.cheap_writes",
							"Blocks dirtied per execution under which a statement is cheap.",
							"Counts shared and local buffers the statement dirtied and temporary-file blocks it wrote. A statement is cheap when both its reads and its writes are under their thresholds. Learned per queryid at ExecutorEnd.",
							&iosat_cheap_writes,
							100, 0, INT_MAX,
							PGC_SUSET,
							0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("iosat.cheap_cost",
							"Planner cost under which a statement with no history is cheap.",
							NULL,
							&iosat_cheap_cost,
							10000, 0, INT_MAX,
							PGC_SUSET,
							0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("iosat.queue_timeout",
							"Longest time a heavy statement waits for a slot before it is refused.",
							NULL,
							&iosat_queue_timeout_ms,
							10000, 1, 3600000,
							PGC_USERSET,
							GUC_UNIT_MS,
							NULL, NULL, NULL);

	DefineCustomIntVariable("iosat.max_queued",
							"Most statements that may wait for a slot at once; more are refused.",
							NULL,
							&iosat_max_queued,
							64, 0, MAX_BACKENDS,
							PGC_SIGHUP,
							0,
							NULL, NULL, NULL);

	DefineCustomStringVariable("iosat.exempt_roles",
							   "Roles (and their members) whose statements never wait or are refused.",
							   "A comma-separated list of role names.",
							   &iosat_exempt_roles,
							   "",
							   PGC_SIGHUP,
							   GUC_LIST_INPUT,
							   check_exempt_roles, assign_exempt_roles, NULL);

	DefineCustomEnumVariable("iosat.monitor_log_level",
							 "Log level of the decisions logged in monitor mode.",
							 NULL,
							 &iosat_monitor_log_level,
							 LOG,
							 log_level_options,
							 PGC_SUSET,
							 0,
							 NULL, NULL, NULL);

	DefineCustomIntVariable("iosat.heavy_io_concurrency",
							"Cap on effective_io_concurrency for heavy statements in queue and reject modes.",
							"A heavy statement's prefetch depth multiplies its share of the device queue. "
							"-1 leaves effective_io_concurrency alone.",
							&iosat_heavy_io_concurrency,
							-1, -1, MAX_IO_CONCURRENCY,
							PGC_SUSET,
							0,
							NULL, NULL, NULL);

	DefineCustomBoolVariable("iosat.pacing",
							 "Slows the reads of running heavy statements while the storage is pressed.",
							 "In queue and reject modes; the governor sets the rate.",
							 &iosat_pacing,
							 true,
							 PGC_SIGHUP,
							 0,
							 NULL, NULL, NULL);

	DefineCustomIntVariable("iosat.pacing_min_rate",
							"Lowest read rate of a paced heavy statement, in blocks per second.",
							"A paced statement always progresses at least this fast.",
							&iosat_pacing_min_rate,
							16, 1, 1000000,
							PGC_SIGHUP,
							0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("iosat.max_queries",
							"Number of distinct queryids whose I/O iosat learns.",
							NULL,
							&iosat_max_queries,
							5000, 100, 1000000,
							PGC_POSTMASTER,
							0,
							NULL, NULL, NULL);

	DefineCustomBoolVariable("iosat.vacuum_backpressure",
							 "Scales the vacuum page costs of autovacuum workers with I/O pressure.",
							 "Slower than configured while the storage is pressed, faster "
							 "while it has headroom, within iosat.vacuum_max_slowdown and "
							 "iosat.vacuum_max_speedup. Turned on, it reaches a running worker "
							 "at its next table.",
							 &iosat_vacuum_backpressure,
							 false,
							 PGC_SIGHUP,
							 0,
							 NULL, NULL, NULL);

	DefineCustomRealVariable("iosat.vacuum_max_slowdown",
							 "Largest slowdown of a vacuum while the storage is pressed.",
							 "Relative to the speed the vacuum reads at when its costs do not bind "
							 "(its configured speed until that is measured). 1 never slows vacuum down.",
							 &iosat_vacuum_max_slowdown,
							 100.0, 1.0, 1000.0,
							 PGC_SIGHUP,
							 0,
							 NULL, NULL, NULL);

	DefineCustomRealVariable("iosat.vacuum_max_speedup",
							 "Largest factor by which vacuum page costs are lowered while the storage has headroom.",
							 "1 never makes vacuum faster than configured.",
							 &iosat_vacuum_max_speedup,
							 2.0, 1.0, 100.0,
							 PGC_SIGHUP,
							 0,
							 NULL, NULL, NULL);

	DefineCustomBoolVariable("iosat.vacuum_manual",
							 "Applies vacuum backpressure to manual VACUUM and ANALYZE too.",
							 "Only where cost-based delay is on (vacuum_cost_delay > 0).",
							 &iosat_vacuum_manual,
							 false,
							 PGC_SUSET,
							 0,
							 NULL, NULL, NULL);

	DefineCustomIntVariable("iosat.vacuum_tick",
							"Interval at which a vacuuming process applies the published multiplier.",
							"An autovacuum worker takes a new value at its next table.",
							&iosat_vacuum_tick_ms,
							250, 250, 60000,
							PGC_SIGHUP,
							GUC_UNIT_MS,
							NULL, NULL, NULL);

	DefineCustomBoolVariable("iosat.bpf",
							 "Reads the BPF companion's maps (iosatd) when they are there.",
							 "Latency percentiles, queue depths, requeues and per-process "
							 "device I/O; device figures fall back to /sys without them.",
							 &iosat_bpf_enabled,
							 true,
							 PGC_SIGHUP,
							 0,
							 NULL, NULL, NULL);

	DefineCustomStringVariable("iosat.bpf_pin_dir",
							   "Where iosatd pins its maps.",
							   NULL,
							   &iosat_bpf_pin_dir,
							   "/sys/fs/bpf/iosat",
							   PGC_POSTMASTER,
							   GUC_SUPERUSER_ONLY,
							   check_bpf_pin_dir, NULL, NULL);

	DefineCustomIntVariable("iosat.bpf_max_age",
							"Heartbeat age above which iosatd's maps count as stale.",
							"0: three heartbeat intervals, at least 3 s. A daemon "
							"whose pid is gone counts as stale at once.",
							&iosat_bpf_max_age_ms,
							0, 0, 3600000,
							PGC_SIGHUP,
							GUC_UNIT_MS,
							NULL, NULL, NULL);

	MarkGUCPrefixReserved("iosat");
}
