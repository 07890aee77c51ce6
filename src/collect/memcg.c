/*-------------------------------------------------------------------------
 *
 * memcg.c
 *	  The server's write debt: the page cache its memory cgroup holds dirty
 *	  or under write-back.
 *
 * A buffered write (a vacuum's ring buffer handing a dirtied page to the
 * kernel, the background writer, a checkpoint before its fsync) costs the
 * volume nothing when it is made: the kernel writes the page back up to
 * dirty_expire_centisecs (30 s) later, and later still on a busy volume
 * (write-back throttling holds buffered writes back while reads wait).
 * No device counter shows such a write until it is issued; the page cache
 * shows it at once.  The governor counts the debt's growth as throughput
 * the volume owes (sampler/governor.c).
 *
 * Where the figure comes from, found once (and again at a rediscovery):
 *	- the memory cgroup of this process (the sampler, a child of the
 *	  postmaster, in the server's cgroup): cgroup v1's memory controller
 *	  (total_dirty + total_writeback of its memory.stat: the cgroup and
 *	  its children), else cgroup v2 (file_dirty + file_writeback), under
 *	  iosat.sysfs_root's fs/cgroup (v2 also under fs/cgroup/unified, the
 *	  hybrid layout);
 *	- else the whole system: Dirty + Writeback of /proc/meminfo.
 * The cgroup is read from iosat.procfs_root's self/cgroup.  Its path is
 * looked for under the mount, then with its leading components dropped
 * one by one, down to the mount's root: in a container without a cgroup
 * namespace the path names the host's hierarchy while the mount shows the
 * container's own cgroup at its root.  A path that climbs out of the
 * cgroup namespace ("/..") is not followed.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "collect/devices.h"
#include "collect/kparse.h"
#include "collect/memcg.h"

typedef enum DebtKind
{
	DEBT_UNKNOWN = 0,			/* not looked for yet */
	DEBT_V1,
	DEBT_V2,
	DEBT_MEMINFO,
} DebtKind;

static DebtKind kind = DEBT_UNKNOWN;
static char stat_path[MAXPGPATH];
static char source_name[IOSAT_MEMCG_SOURCE_LEN];

static const char *const v1_keys[] = {"total_dirty", "total_writeback"};
static const char *const v2_keys[] = {"file_dirty", "file_writeback"};
static const char *const meminfo_keys[] = {"Dirty", "Writeback"};

/* the two figures of FILE named by KEYS, summed, times UNIT */
static bool
read_sum(const char *file, const char *const *keys, uint64 unit, uint64 *bytes)
{
	char		buf[8192];
	ssize_t		n = iosat_read_small_file(file, buf, sizeof(buf));
	uint64_t	vals[2];

	if (n <= 0 || (size_t) n >= sizeof(buf) ||
		!kparse_keyvals(buf, (size_t) n, keys, 2, vals) ||
		vals[0] == KPARSE_ABSENT || vals[1] == KPARSE_ABSENT)
		return false;
	*bytes = (vals[0] + vals[1]) * unit;
	return true;
}

static bool
try_source(DebtKind k, const char *file, const char *name)
{
	uint64		b;

	if (!read_sum(file, k == DEBT_V1 ? v1_keys : v2_keys, 1, &b))
		return false;
	kind = k;
	strlcpy(stat_path, file, sizeof(stat_path));
	strlcpy(source_name, name, sizeof(source_name));
	return true;
}

/*
 * memory.stat of cgroup CG under the mount at MOUNT (relative to the sysfs
 * root), or of the nearest match with CG's leading components dropped
 */
static bool
try_cgroup(DebtKind k, const char *mount, const char *cg)
{
	char		file[MAXPGPATH];
	char		name[IOSAT_MEMCG_SOURCE_LEN];
	const char *rel = cg;

	for (;;)
	{
		iosat_sysfs_path(file, sizeof(file), "%s%s/memory.stat", mount,
						 strcmp(rel, "/") == 0 ? "" : rel);
		/* the cgroup whose figures these are, as the mount shows it */
		snprintf(name, sizeof(name), "memory cgroup v%d %s", k == DEBT_V1 ? 1 : 2,
				 *rel ? rel : "/");
		if (try_source(k, file, name))
			return true;
		if (*rel == '\0' || strcmp(rel, "/") == 0)
			return false;
		rel = strchr(rel + 1, '/');
		if (rel == NULL)
			rel = "";
	}
}

static void
find_source(void)
{
	char		file[MAXPGPATH];
	char		buf[4096];
	char		cg[MAXPGPATH];
	ssize_t		n;

	iosat_procfs_path(file, sizeof(file), "/self/cgroup");
	n = iosat_read_small_file(file, buf, sizeof(buf));
	if (n > 0 && (size_t) n < sizeof(buf))
	{
		if (kparse_cgroup_path(buf, (size_t) n, "memory", cg, sizeof(cg)) &&
			strstr(cg, "/..") == NULL &&
			try_cgroup(DEBT_V1, "/fs/cgroup/memory", cg))
			return;
		if (kparse_cgroup_path(buf, (size_t) n, "", cg, sizeof(cg)) &&
			strstr(cg, "/..") == NULL &&
			(try_cgroup(DEBT_V2, "/fs/cgroup", cg) ||
			 try_cgroup(DEBT_V2, "/fs/cgroup/unified", cg)))
			return;
	}
	iosat_procfs_path(file, sizeof(file), "/meminfo");
	kind = DEBT_MEMINFO;
	strlcpy(stat_path, file, sizeof(stat_path));
	strlcpy(source_name, "/proc/meminfo (the whole system)", sizeof(source_name));
}

static bool
read_source(uint64 *bytes)
{
	switch (kind)
	{
		case DEBT_V1:
			return read_sum(stat_path, v1_keys, 1, bytes);
		case DEBT_V2:
			return read_sum(stat_path, v2_keys, 1, bytes);
		case DEBT_MEMINFO:
			return read_sum(stat_path, meminfo_keys, 1024, bytes);
		default:
			return false;
	}
}

/*
 * *NEW_SOURCE tells that the figure comes from another source than at the
 * last call that returned one (its jump is no growth)
 */
bool
iosat_write_debt_read(uint64 *bytes, char *source, size_t sourcelen,
					  bool *new_source)
{
	*new_source = false;
	if (kind == DEBT_UNKNOWN || !read_source(bytes))
	{
		/* the first call, or the cgroup went: look for the source again */
		find_source();
		*new_source = true;
		if (!read_source(bytes))
		{
			kind = DEBT_UNKNOWN;
			return false;
		}
	}
	strlcpy(source, source_name, sourcelen);
	return true;
}

void
iosat_write_debt_forget(void)
{
	kind = DEBT_UNKNOWN;
}
