/*
 * iosat-maptest DIR - try every kind of access to the pinned iosat maps and
 * print what the kernel answered, one "PIN OP=RESULT" line each (RESULT is
 * "ok" or the errno name).  Used by test/bpf/iosatd.t as root and as the
 * postgres user: read-only opens and lookups must work, every write must
 * fail (EACCES/EPERM).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "iosat_abi.h"

static const char *
res(int rc)
{
	static char buf[32];

	if (rc >= 0)
		return "ok";
	switch (errno)
	{
		case EPERM: return "EPERM";
		case EACCES: return "EACCES";
		case ENOENT: return "ENOENT";
		case EINVAL: return "EINVAL";
		case EBUSY: return "EBUSY";
		case E2BIG: return "E2BIG";
		default:
			snprintf(buf, sizeof(buf), "errno%d", errno);
			return buf;
	}
}

static void
probe(const char *dir, const char *pin, size_t ksz, size_t vsz)
{
	char		path[512];
	unsigned char key[64] = {0};
	unsigned char *val = calloc(1, vsz);
	int			fd,
				rc;

	LIBBPF_OPTS(bpf_obj_get_opts, ro, .file_flags = BPF_F_RDONLY);

	snprintf(path, sizeof(path), "%s/%s", dir, pin);
	fd = bpf_obj_get_opts(path, &ro);
	printf("%s ro_open=%s\n", pin, res(fd));
	if (fd >= 0)
	{
		/* a real key if there is one (meta: key 0) */
		if (ksz != 4 || strcmp(pin, IOSAT_PIN_META) != 0)
			bpf_map_get_next_key(fd, NULL, key);
		rc = bpf_map_lookup_elem(fd, key, val);
		printf("%s ro_lookup=%s\n", pin, res(rc));
		rc = bpf_map_update_elem(fd, key, val, BPF_ANY);
		printf("%s ro_update=%s\n", pin, res(rc));
		rc = bpf_map_delete_elem(fd, key);
		printf("%s ro_delete=%s\n", pin, res(rc));
		rc = bpf_map_freeze(fd);
		printf("%s ro_freeze=%s\n", pin, res(rc));
		close(fd);
	}
	fd = bpf_obj_get(path);
	printf("%s rw_open=%s\n", pin, res(fd));
	if (fd >= 0)
	{
		rc = bpf_map_update_elem(fd, key, val, BPF_ANY);
		printf("%s rw_update=%s\n", pin, res(rc));
		rc = bpf_map_delete_elem(fd, key);
		printf("%s rw_delete=%s\n", pin, res(rc));
		close(fd);
	}
	free(val);
}

int
main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : IOSAT_PIN_DIR_DEFAULT;

	probe(dir, IOSAT_PIN_META, 4, sizeof(struct iosat_meta));
	probe(dir, IOSAT_PIN_DISKS, sizeof(struct iosat_disk_key), sizeof(struct iosat_disk_stats));
	probe(dir, IOSAT_PIN_PROCS, sizeof(struct iosat_proc_key), sizeof(struct iosat_proc_stats));
	return 0;
}
