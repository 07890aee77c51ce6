/*
 * bpf_progstat [NAME_PREFIX...] - per-program statistics of loaded BPF
 * programs (run_cnt, run_time_ns, recursion_misses) from BPF_OBJ_GET_INFO.
 * run_cnt/run_time_ns count only while kernel.bpf_stats_enabled=1.
 * Output: one "name=... id=... run_cnt=... run_time_ns=... recursion_misses=..." line per program.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>

int
main(int argc, char **argv)
{
	__u32		id = 0;

	while (bpf_prog_get_next_id(id, &id) == 0)
	{
		struct bpf_prog_info info;
		__u32		len = sizeof(info);
		int			fd = bpf_prog_get_fd_by_id(id),
					i,
					match = argc < 2;

		if (fd < 0)
			continue;
		memset(&info, 0, sizeof(info));
		if (bpf_obj_get_info_by_fd(fd, &info, &len) == 0)
		{
			for (i = 1; i < argc; i++)
				if (strncmp(info.name, argv[i], strlen(argv[i])) == 0)
					match = 1;
			if (match)
				printf("name=%s id=%u run_cnt=%llu run_time_ns=%llu recursion_misses=%llu\n",
					   info.name, info.id, (unsigned long long) info.run_cnt,
					   (unsigned long long) info.run_time_ns,
					   (unsigned long long) info.recursion_misses);
		}
		close(fd);
	}
	return 0;
}
