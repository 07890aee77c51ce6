/*-------------------------------------------------------------------------
 *
 * devices.c
 *	  Device discovery: from a path to the whole disks that serve it.
 *
 * stat(path).st_dev names the block device of the file system holding the
 * path.  /sys/dev/block/MAJ:MIN links to that device's sysfs directory:
 *	- a partition (the directory has a "partition" file) is served by its
 *	  parent directory, the whole disk;
 *	- a stacked device (dm, md, LVM: "slaves/" is not empty) is served by
 *	  its slaves, recursively, down to the leaf disks;
 *	- a file system with no block device (tmpfs, NFS, FUSE, overlay) has
 *	  major number 0; it is reported with its file system type from
 *	  mountinfo, never treated as an error.
 *
 * Runs in the sampler only (at start, on SIGHUP, when a tablespace
 * appears), so it may take its time; it never throws.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "guc.h"
#include "collect/devices.h"
#include "collect/kparse.h"

#define MAX_STACK_DEPTH 8

ssize_t
iosat_read_small_file(const char *path, char *buf, size_t bufsize)
{
	int			fd;
	ssize_t		total = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	while ((size_t) total < bufsize)
	{
		ssize_t		n = read(fd, buf + total, bufsize - total);

		if (n < 0)
		{
			int			save = errno;

			if (errno == EINTR)
				continue;
			close(fd);
			errno = save;
			return -1;
		}
		if (n == 0)
			break;
		total += n;
	}
	close(fd);
	return total;
}

static void vpath(char *buf, size_t len, const char *root, const char *fmt,
				  va_list ap) pg_attribute_printf(4, 0);

static void
vpath(char *buf, size_t len, const char *root, const char *fmt, va_list ap)
{
	size_t		rl = strlcpy(buf, root, len);

	if (rl < len)
		vsnprintf(buf + rl, len - rl, fmt, ap);
}

void
iosat_sysfs_path(char *buf, size_t len, const char *fmt,...)
{
	va_list		ap;

	va_start(ap, fmt);
	vpath(buf, len, iosat_sysfs_root, fmt, ap);
	va_end(ap);
}

void
iosat_procfs_path(char *buf, size_t len, const char *fmt,...)
{
	va_list		ap;

	va_start(ap, fmt);
	vpath(buf, len, iosat_procfs_root, fmt, ap);
	va_end(ap);
}

static IosatDeviceId *
list_find_or_add(IosatDeviceList *list, uint32 major, uint32 minor,
				 const char *name)
{
	for (int i = 0; i < list->n; i++)
	{
		IosatDeviceId *d = &list->dev[i];

		if (d->major == major && d->minor == minor &&
			(major != 0 || strcmp(d->name, name) == 0))
			return d;
	}
	if (list->n >= IOSAT_MAX_DEVICES)
	{
		list->truncated = true;
		return NULL;
	}
	list->dev[list->n] = (IosatDeviceId)
	{
		.major = major,.minor = minor,.status = IOSAT_DEV_OK
	};
	strlcpy(list->dev[list->n].name, name, IOSAT_NAME_LEN);
	return &list->dev[list->n++];
}

static void
add_role(IosatDeviceId *d, uint32 role, Oid tablespace)
{
	if (d == NULL)
		return;
	d->roles |= role;
	if (OidIsValid(tablespace))
	{
		for (int i = 0; i < d->ntablespaces; i++)
			if (d->tablespaces[i] == tablespace)
				return;
		if (d->ntablespaces < IOSAT_MAX_TABLESPACES)
			d->tablespaces[d->ntablespaces++] = tablespace;
	}
}

static bool
dir_has_entry(const char *dir, const char *entry)
{
	char		path[MAXPGPATH];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", dir, entry);
	return stat(path, &st) == 0;
}

static bool
read_majmin(const char *dir, uint32 *major, uint32 *minor)
{
	char		path[MAXPGPATH];
	char		buf[64];
	ssize_t		n;
	unsigned int ma,
				mi;

	snprintf(path, sizeof(path), "%s/dev", dir);
	n = iosat_read_small_file(path, buf, sizeof(buf));
	if (n <= 0 || !kparse_majmin(buf, n, &ma, &mi))
		return false;
	*major = ma;
	*minor = mi;
	return true;
}

/*
 * Walk from a device's sysfs directory to its leaf disks, adding each with
 * the given role.  Returns the number of leaves found.
 */
static int
resolve_leaves(const char *devdir, int depth, IosatDeviceList *list,
			   uint32 role, Oid tablespace)
{
	char		dir[PATH_MAX];
	char		slaves[MAXPGPATH];
	DIR		   *dh;
	struct dirent *de;
	int			found = 0;
	uint32		major,
				minor;

	if (depth > MAX_STACK_DEPTH || realpath(devdir, dir) == NULL)
		return 0;

	/* a partition is served by the whole disk: its parent directory */
	if (dir_has_entry(dir, "partition"))
	{
		char	   *slash = strrchr(dir, '/');

		if (slash == NULL || slash == dir)
			return 0;
		*slash = '\0';
	}

	/* a stacked device is served by its slaves */
	snprintf(slaves, sizeof(slaves), "%s/slaves", dir);
	dh = opendir(slaves);
	if (dh != NULL)
	{
		while ((de = readdir(dh)) != NULL)
		{
			char		sub[MAXPGPATH];

			if (de->d_name[0] == '.')
				continue;
			snprintf(sub, sizeof(sub), "%s/%s", slaves, de->d_name);
			found += resolve_leaves(sub, depth + 1, list, role, tablespace);
		}
		closedir(dh);
		if (found > 0)
			return found;
	}

	if (!read_majmin(dir, &major, &minor))
		return 0;
	add_role(list_find_or_add(list, major, minor, strrchr(dir, '/') + 1),
			 role, tablespace);
	return 1;
}

/* the file system type and source of a device-less mount, from mountinfo */
static void
describe_nodev(dev_t dev, char *fstype, size_t fstypelen,
			   char *note, size_t notelen)
{
	char		path[MAXPGPATH];
	char	   *buf;
	ssize_t		n;
	char		source[MAXPGPATH];

	strlcpy(fstype, "unknown", fstypelen);
	iosat_procfs_path(path, sizeof(path), "/self/mountinfo");
	buf = palloc(1024 * 1024);
	n = iosat_read_small_file(path, buf, 1024 * 1024);
	if (n > 0 && kparse_mountinfo_find(buf, n, major(dev), minor(dev),
									   fstype, fstypelen,
									   source, sizeof(source)))
		snprintf(note, notelen, "no block device (%s on %s)", fstype, source);
	else
		snprintf(note, notelen, "no block device (st_dev %u:%u)",
				 major(dev), minor(dev));
	pfree(buf);
}

static void
discover_path(const char *path, uint32 role, Oid tablespace,
			  IosatDeviceList *list)
{
	struct stat st;
	char		devdir[MAXPGPATH];

	if (stat(path, &st) != 0)
	{
		/* a tablespace being dropped, say; the next discovery will tell */
		return;
	}

	if (major(st.st_dev) == 0)
	{
		char		fstype[IOSAT_NAME_LEN];
		char		note[IOSAT_NOTE_LEN];
		IosatDeviceId *d;

		describe_nodev(st.st_dev, fstype, sizeof(fstype), note, sizeof(note));
		d = list_find_or_add(list, 0, minor(st.st_dev), fstype);
		if (d == NULL)
			return;
		d->status = IOSAT_DEV_NO_BLOCK_DEVICE;
		strlcpy(d->fstype, fstype, IOSAT_NAME_LEN);
		strlcpy(d->note, note, IOSAT_NOTE_LEN);
		add_role(d, role, tablespace);
		return;
	}

	iosat_sysfs_path(devdir, sizeof(devdir), "/dev/block/%u:%u",
					 major(st.st_dev), minor(st.st_dev));
	if (resolve_leaves(devdir, 0, list, role, tablespace) == 0)
	{
		IosatDeviceId *d;
		char		name[IOSAT_NAME_LEN];

		snprintf(name, sizeof(name), "%u:%u", major(st.st_dev), minor(st.st_dev));
		d = list_find_or_add(list, major(st.st_dev), minor(st.st_dev), name);
		if (d == NULL)
			return;
		d->status = IOSAT_DEV_NOT_FOUND;
		snprintf(d->note, IOSAT_NOTE_LEN, "%s does not resolve to a disk", devdir);
		add_role(d, role, tablespace);
	}
}

static void
discover_cluster(IosatDeviceList *list)
{
	DIR		   *dh;
	struct dirent *de;

	/* server processes run in the data directory */
	discover_path(".", IOSAT_ROLE_DATA, InvalidOid, list);
	discover_path("pg_wal", IOSAT_ROLE_WAL, InvalidOid, list);

	dh = opendir("pg_tblspc");
	if (dh == NULL)
		return;
	while ((de = readdir(dh)) != NULL)
	{
		char		path[MAXPGPATH];
		char	   *end;
		unsigned long oid;

		errno = 0;
		oid = strtoul(de->d_name, &end, 10);
		if (de->d_name[0] == '.' || *end != '\0' || errno != 0 ||
			oid == 0 || oid > PG_UINT32_MAX)
			continue;
		snprintf(path, sizeof(path), "pg_tblspc/%s", de->d_name);
		discover_path(path, IOSAT_ROLE_TABLESPACE, (Oid) oid, list);
	}
	closedir(dh);
}

/* one entry of iosat.devices: a name under /sys/block or a MAJ:MIN pair */
static void
add_configured(const char *token, const IosatDeviceList *found,
			   IosatDeviceList *list)
{
	char		dir[MAXPGPATH];
	char		real[PATH_MAX];
	unsigned int ma,
				mi;
	uint32		major = 0,
				minor = 0;
	IosatDeviceId *d;

	if (kparse_majmin(token, strlen(token), &ma, &mi))
		iosat_sysfs_path(dir, sizeof(dir), "/dev/block/%u:%u", ma, mi);
	else
		iosat_sysfs_path(dir, sizeof(dir), "/block/%s", token);

	if (realpath(dir, real) == NULL || !read_majmin(real, &major, &minor))
	{
		d = list_find_or_add(list, 0, 0, token);
		if (d == NULL)
			return;
		d->status = IOSAT_DEV_NOT_FOUND;
		d->roles |= IOSAT_ROLE_CONFIGURED;
		snprintf(d->note, IOSAT_NOTE_LEN, "no such block device: %s", dir);
		return;
	}

	d = list_find_or_add(list, major, minor, strrchr(real, '/') + 1);
	if (d == NULL)
		return;
	d->roles |= IOSAT_ROLE_CONFIGURED;
	/* keep the roles discovery found for the same disk */
	for (int i = 0; i < found->n; i++)
	{
		const IosatDeviceId *f = &found->dev[i];

		if (f->major == major && f->minor == minor)
		{
			d->roles |= f->roles;
			for (int t = 0; t < f->ntablespaces; t++)
				add_role(d, 0, f->tablespaces[t]);
		}
	}
}

void
iosat_discover_devices(const char *configured, IosatDeviceList *out)
{
	IosatDeviceList *found;
	char	   *copy;
	char	   *tok;
	char	   *save = NULL;

	memset(out, 0, sizeof(*out));
	if (configured == NULL || configured[0] == '\0')
	{
		discover_cluster(out);
		return;
	}

	found = palloc0(sizeof(IosatDeviceList));
	discover_cluster(found);
	copy = pstrdup(configured);
	for (tok = strtok_r(copy, ", ", &save); tok != NULL;
		 tok = strtok_r(NULL, ", ", &save))
		add_configured(tok, found, out);
	pfree(copy);
	pfree(found);
}
