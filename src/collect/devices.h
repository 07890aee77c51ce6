/*-------------------------------------------------------------------------
 *
 * devices.h
 *	  Which block devices hold this cluster's data, WAL and tablespaces.
 *
 *-------------------------------------------------------------------------
 */
#ifndef IOSAT_DEVICES_H
#define IOSAT_DEVICES_H

#include "postgres.h"

/* what the device views and the sampler call a device */
#define IOSAT_MAX_DEVICES		32
#define IOSAT_MAX_TABLESPACES	16	/* per device, for the roles column */
#define IOSAT_NAME_LEN			32
#define IOSAT_NOTE_LEN			128

/*
 * A device is stalled when requests have been in flight at it and none has
 * completed for this long: a network volume that stopped answering, a
 * failing disk retrying, a hung controller.  No latency can be measured then
 * (latency is known at completion), so the other signals stay silent.
 */
#define IOSAT_STALL_MS			1000

/* roles a device plays for this cluster */
#define IOSAT_ROLE_DATA			0x01
#define IOSAT_ROLE_WAL			0x02
#define IOSAT_ROLE_TABLESPACE	0x04
#define IOSAT_ROLE_CONFIGURED	0x08	/* named in iosat.devices */

typedef enum IosatDevStatus
{
	IOSAT_DEV_OK = 0,
	IOSAT_DEV_WARMING,			/* first sample taken, no rates yet */
	IOSAT_DEV_NO_BLOCK_DEVICE,	/* tmpfs, NFS, FUSE, ... */
	IOSAT_DEV_VANISHED,			/* was there, its sysfs directory is gone */
	IOSAT_DEV_UNREADABLE,		/* stat file unreadable or malformed */
	IOSAT_DEV_NOT_FOUND			/* named in iosat.devices, not in sysfs */
} IosatDevStatus;


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
