/*-------------------------------------------------------------------------
 *
 * devices.h
 *	  Which block devices hold this cluster's data, WAL and tablespaces.
 *
 *-------------------------------------------------------------------------
 */
#ifndef IOSAT_DEVICES_H
#define IOSAT_DEVICES_H

#include "state/shared.h"

typedef struct IosatDeviceId
{
	uint32		major;
	uint32		minor;
	char		name[IOSAT_NAME_LEN];
	uint32		roles;
	int			ntablespaces;
	Oid			tablespaces[IOSAT_MAX_TABLESPACES];
	IosatDevStatus status;		/* OK, NO_BLOCK_DEVICE or NOT_FOUND */
	char		fstype[IOSAT_NAME_LEN];
	char		note[IOSAT_NOTE_LEN];
} IosatDeviceId;

typedef struct IosatDeviceList
{
	int			n;
	bool		truncated;		/* more devices than IOSAT_MAX_DEVICES */
	IosatDeviceId dev[IOSAT_MAX_DEVICES];
} IosatDeviceList;

/*
 * Discover the devices under the data directory (the current directory of
 * every server process), pg_wal and pg_tblspc/<oid>; or, when "configured"
 * is a non-empty list, take those devices and annotate them with the roles
 * discovery finds for them.
 */
extern void iosat_discover_devices(const char *configured, IosatDeviceList *out);

/* path of a file under iosat.sysfs_root / iosat.procfs_root */
extern void iosat_sysfs_path(char *buf, size_t len, const char *fmt,...) pg_attribute_printf(3, 4);
extern void iosat_procfs_path(char *buf, size_t len, const char *fmt,...) pg_attribute_printf(3, 4);

/* read a small kernel file whole; returns length, or -1 with errno set */
extern ssize_t iosat_read_small_file(const char *path, char *buf, size_t bufsize);

#endif							/* IOSAT_DEVICES_H */
