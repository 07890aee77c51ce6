/*-------------------------------------------------------------------------
 *
 * guc.c
 *	  The iosat.* configuration parameters.
 *
 * Every parameter is documented in README.md ("Configuration"); keep the
 * two in step.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "utils/guc.h"

#include "iosat.h"
#include "profile.h"

int			iosat_sample_interval_ms = 500;
int			iosat_smoothing_ms = 2000;
int			iosat_iops_limit = 0;
char	   *iosat_devices = NULL;
char	   *iosat_sysfs_root = NULL;
char	   *iosat_procfs_root = NULL;
bool		iosat_profile_enabled = true;
int			iosat_profile_interval_ms = 250;
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
				GUC_check_errdetail("Invalid character \"%c\" in device name.", c);
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
							250, 10, 60000,
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

	MarkGUCPrefixReserved("iosat");
}
