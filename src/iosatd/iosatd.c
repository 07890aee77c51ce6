/*
 * iosatd - load iosat's block-layer BPF program and publish its maps.
 *
 *   iosatd [-f] [-v] [-d PIN_DIR] [-g GROUP] [-i MS] [-p PIDFILE] [...]
 *
 * Loads and attaches src/bpf/iosat.bpf.c (tp_btf, else raw_tp), freezes its
 * maps against user-space writes, pins meta/disks/procs under PIN_DIR
 * (default /sys/fs/bpf/iosat: directory 0750, maps 0440, owner root, group
 * GROUP = postgres) and then only runs the heartbeat program once per
 * interval until SIGTERM/SIGINT.  Then it runs the heartbeat a last time
 * with IOSAT_META_F_STOPPED, which readers take as "missing" at once, and
 * exits 0 leaving its pins (and the directory, with its owner and mode) for
 * the next start, which replaces them as below.
 *
 * Logging: with -f, one line per message on stderr; when stderr is the
 * journal (systemd sets JOURNAL_STREAM to its device:inode), each line
 * starts with its syslog priority, "<3>" to "<7>" (sd-daemon(3)), and
 * carries no timestamp or pid of its own, which the journal adds.  Without
 * -f, syslog once the daemon is ready.
 *
 * Restart-safe: new pins are created under temporary names and renamed over
 * the old ones (atomic per file; meta last), so a reader sees either the old
 * or the new set and notices the change by the pin's inode.  Pins of a
 * daemon that was killed are simply replaced; a daemon that is alive (fresh
 * heartbeat, process named iosatd) is not displaced unless --force.
 *
 * Privileges: needs root (CAP_BPF + CAP_PERFMON + CAP_SYS_ADMIN for the
 * load, attach, freeze, pin, bpffs mount and chown) only until the pins are
 * in place.  Then it drops every capability (effective, permitted,
 * inheritable, ambient and bounding sets) and sets no_new_privs; it keeps
 * uid 0 only as the owner of the pin directory so that it can unlink its
 * pins at exit, and its open prog/link fds, which keep the programs
 * attached.  Running the heartbeat (BPF_PROG_TEST_RUN on its own program
 * fd) needs no capability.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <libgen.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <linux/capability.h>
#include <linux/magic.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "iosat_abi.h"
#include "bpf_reader.h"
#include "iosat.skel.h"

#define DEFAULT_GROUP		"postgres"
#define DEFAULT_INTERVAL_MS	1000
#define DEFAULT_SWEEP_S		600		/* drop request entries idle this long */
#define SWEEP_EVERY_S		10

static struct
{
	const char *pin_dir;
	const char *group;
	const char *pidfile;
	int			interval_ms;
	int			sweep_s;
	int			verbose;
	bool		foreground;
	bool		force;
	bool		raw_tp;
	bool		no_io_start;
	bool		keep_caps;
	bool		no_mount;
	bool		no_parent_chmod;
} opt = {
	.pin_dir = IOSAT_PIN_DIR_DEFAULT,
	.group = DEFAULT_GROUP,
	.interval_ms = DEFAULT_INTERVAL_MS,
	.sweep_s = DEFAULT_SWEEP_S,
};

static volatile sig_atomic_t stop_signal;
static bool use_syslog;
static bool use_journal;		/* stderr is the journal: "<prio>message" lines */

/* ------------------------------------------------------------------ logging */

#define LOG_ERR_	0
#define LOG_WARN_	1
#define LOG_INFO_	2
#define LOG_DEBUG_	3

static void logmsg(int level, const char *fmt,...) __attribute__((format(printf, 2, 3)));

static void
logmsg(int level, const char *fmt,...)
{
	static const char *const names[] = {"error", "warning", "info", "debug"};
	static const int prio[] = {LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG};
	char		msg[1024];
	va_list		ap;

	if (level == LOG_DEBUG_ && opt.verbose < 1)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (use_syslog)
		syslog(prio[level], "%s", msg);
	else
	{
		char		line[1100];
		int			n;

		if (use_journal)
			n = snprintf(line, sizeof(line), "<%d>%s\n", prio[level], msg);
		else
		{
			struct timespec ts;
			struct tm	tm;
			char		tbuf[32];

			clock_gettime(CLOCK_REALTIME, &ts);
			localtime_r(&ts.tv_sec, &tm);
			strftime(tbuf, sizeof(tbuf), "%Y-%m-%d %H:%M:%S", &tm);
			n = snprintf(line, sizeof(line), "%s.%03ld iosatd[%d]: %s: %s\n", tbuf,
						 ts.tv_nsec / 1000000, (int) getpid(), names[level], msg);
		}
		if (n >= (int) sizeof(line))
		{
			n = sizeof(line) - 1;
			line[n - 1] = '\n';
		}
		/* one write a line: lines of concurrent writers do not interleave */
		if (n > 0 && write(STDERR_FILENO, line, n) != n)
		{
			/* nowhere left to say it */
		}
	}
}

/*
 * Is stderr the journal?  systemd connects a service's stderr to a journal
 * stream and sets JOURNAL_STREAM to that stream's "device:inode"; a child
 * that inherited the variable but not the stream (stderr redirected) does not
 * match.
 */
static bool
stderr_is_journal(void)
{
	const char *e = getenv("JOURNAL_STREAM");
	unsigned long long dev,
				ino;
	char		end;
	struct stat sb;

	if (!e || sscanf(e, "%llu:%llu%c", &dev, &ino, &end) != 2)
		return false;
	if (fstat(STDERR_FILENO, &sb) != 0)
		return false;
	return (unsigned long long) sb.st_dev == dev && (unsigned long long) sb.st_ino == ino;
}

static int
libbpf_log(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	char		msg[1024];
	size_t		n;

	if (!use_syslog && (opt.verbose >= 2 || strstr(fmt, "BEGIN PROG LOAD LOG")))
	{
		/* verifier logs are long: pass them through unabridged */
		if (level != LIBBPF_DEBUG || opt.verbose >= 2)
			vfprintf(stderr, fmt, ap);
		return 0;
	}
	if (level == LIBBPF_DEBUG && opt.verbose < 2)
		return 0;
	if (level == LIBBPF_INFO && opt.verbose < 1)
		return 0;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	n = strlen(msg);
	while (n > 0 && msg[n - 1] == '\n')
		msg[--n] = '\0';
	if (n)
		logmsg(level == LIBBPF_WARN ? LOG_WARN_ : LOG_DEBUG_, "libbpf: %s", msg);
	return 0;
}

/* ------------------------------------------------------------- BTF probing */

/*
 * Number of arguments of tracepoint tp (without the leading void *) from
 * the kernel's btf_trace_<tp> typedef, or -1 if the kernel has no such
 * tracepoint in its BTF.  *rq_idx: index of the first struct request *.
 */
static int
tp_arity(const struct btf *btf, const char *tp, int *rq_idx)
{
	char		name[128];
	const struct btf_type *t;
	const struct btf_param *p;
	int			id,
				i,
				n;

	*rq_idx = -1;
	snprintf(name, sizeof(name), "btf_trace_%s", tp);
	id = btf__find_by_name_kind(btf, name, BTF_KIND_TYPEDEF);
	if (id < 0)
		return -1;
	t = btf__type_by_id(btf, btf__type_by_id(btf, id)->type);
	if (!t || !btf_is_ptr(t))
		return -1;
	t = btf__type_by_id(btf, t->type);
	if (!t || !btf_is_func_proto(t))
		return -1;
	n = btf_vlen(t);
	p = btf_params(t);
	for (i = 1; i < n; i++)
	{
		const struct btf_type *pt = btf__type_by_id(btf, p[i].type);

		if (pt && btf_is_ptr(pt))
		{
			const struct btf_type *st = btf__type_by_id(btf, pt->type);

			if (st && btf_is_struct(st) &&
				strcmp(btf__name_by_offset(btf, st->name_off), "request") == 0)
			{
				*rq_idx = i - 1;
				break;
			}
		}
	}
	return n - 1;
}

enum
{
	EV_IO_START, EV_INSERT, EV_ISSUE, EV_REQUEUE, EV_MERGE, EV_COMPLETE, EV_NR
};

struct event
{
	const char *tp;
	bool		required;
	int			arity;
	int			rq_idx;
	struct bpf_program *chosen;
	struct bpf_link *link;
};

static struct event events[EV_NR] = {
	[EV_IO_START] = {"block_io_start", false},
	[EV_INSERT] = {"block_rq_insert", false},
	[EV_ISSUE] = {"block_rq_issue", true},
	[EV_REQUEUE] = {"block_rq_requeue", false},
	[EV_MERGE] = {"block_rq_merge", false},
	[EV_COMPLETE] = {"block_rq_complete", true},
};

static int
probe_tracepoints(void)
{
	struct btf *btf = btf__load_vmlinux_btf();
	int			i;

	if (!btf)
	{
		logmsg(LOG_ERR_, "cannot load kernel BTF (/sys/kernel/btf/vmlinux): %s; "
			   "iosatd needs a kernel built with CONFIG_DEBUG_INFO_BTF", strerror(errno));
		return -1;
	}
	for (i = 0; i < EV_NR; i++)
	{
		struct event *e = &events[i];

		e->arity = tp_arity(btf, e->tp, &e->rq_idx);
		logmsg(LOG_DEBUG_, "tracepoint %s: %d args, request at %d", e->tp, e->arity, e->rq_idx);
		if (e->arity < 0 && e->required)
		{
			logmsg(LOG_ERR_, "kernel has no tracepoint %s (in BTF): cannot trace the block layer",
				   e->tp);
			btf__free(btf);
			return -1;
		}
	}
	btf__free(btf);
	if (events[EV_COMPLETE].arity != 3 || events[EV_COMPLETE].rq_idx != 0)
	{
		logmsg(LOG_ERR_, "block_rq_complete has an unsupported prototype (%d args, request at %d)",
			   events[EV_COMPLETE].arity, events[EV_COMPLETE].rq_idx);
		return -1;
	}
	return 0;
}

/* Enable exactly one program per tracepoint; returns IOSAT_META_F_* bits. */
static unsigned
select_programs(struct iosat_bpf *skel, bool btf_mode)
{
	struct bpf_program *prog;
	unsigned	flags = btf_mode ? IOSAT_META_F_TP_BTF : 0;
	int			i;

	bpf_object__for_each_program(prog, skel->obj)
		bpf_program__set_autoload(prog, false);
	bpf_program__set_autoload(skel->progs.iosat_heartbeat, true);

#define PICK(ev, name) \
	(btf_mode ? skel->progs.btf_##name : skel->progs.raw_##name)

	for (i = 0; i < EV_NR; i++)
	{
		struct event *e = &events[i];

		e->chosen = NULL;
		if (e->arity < 0)
			continue;
		switch (i)
		{
			case EV_IO_START:
				if (!opt.no_io_start && e->rq_idx == 0)
					e->chosen = PICK(i, io_start);
				break;
			case EV_INSERT:
				e->chosen = e->rq_idx == 0 ? PICK(i, insert) :
					e->rq_idx == 1 ? PICK(i, insert_q) : NULL;
				break;
			case EV_ISSUE:
				e->chosen = e->rq_idx == 0 ? PICK(i, issue) :
					e->rq_idx == 1 ? PICK(i, issue_q) : NULL;
				break;
			case EV_REQUEUE:
				e->chosen = e->rq_idx == 0 ? PICK(i, requeue) :
					e->rq_idx == 1 ? PICK(i, requeue_q) : NULL;
				break;
			case EV_MERGE:
				e->chosen = e->rq_idx == 0 ? PICK(i, merge) :
					e->rq_idx == 1 ? PICK(i, merge_q) : NULL;
				break;
			case EV_COMPLETE:
				e->chosen = PICK(i, complete);
				break;
		}
#undef PICK
		if (e->chosen)
			bpf_program__set_autoload(e->chosen, true);
		else if (e->arity >= 0)
			logmsg(LOG_INFO_, "not tracing %s (%s)", e->tp,
				   i == EV_IO_START && opt.no_io_start ? "--no-io-start" :
				   "unsupported prototype");
	}
	if (events[EV_IO_START].chosen)
		flags |= IOSAT_META_F_IO_START;
	if (events[EV_MERGE].chosen)
		flags |= IOSAT_META_F_MERGE;
	return flags;
}

static void
detach_all(void)
{
	int			i;

	for (i = 0; i < EV_NR; i++)
	{
		if (events[i].link)
			bpf_link__destroy(events[i].link);
		events[i].link = NULL;
	}
}

static int
attach_all(void)
{
	int			i;

	for (i = 0; i < EV_NR; i++)
	{
		struct event *e = &events[i];

		if (!e->chosen)
			continue;
		e->link = bpf_program__attach(e->chosen);
		if (!e->link)
		{
			int			err = errno;

			logmsg(LOG_WARN_, "cannot attach %s to %s: %s", bpf_program__name(e->chosen),
				   e->tp, strerror(err));
			detach_all();
			errno = err;
			return -1;
		}
		logmsg(LOG_DEBUG_, "attached %s", bpf_program__name(e->chosen));
	}
	return 0;
}

/* Open, load and attach: tp_btf first, raw_tp when that fails. */
static struct iosat_bpf *
load_and_attach(unsigned *flags)
{
	int			pass;

	for (pass = opt.raw_tp ? 1 : 0; pass < 2; pass++)
	{
		bool		btf_mode = pass == 0;
		struct iosat_bpf *skel = iosat_bpf__open();
		int			err;

		if (!skel)
		{
			logmsg(LOG_ERR_, "cannot open the BPF object: %s", strerror(errno));
			return NULL;
		}
		*flags = select_programs(skel, btf_mode);
		err = iosat_bpf__load(skel);
		if (!err)
		{
			if (attach_all() == 0)
			{
				logmsg(LOG_INFO_, "attached %s programs to the block tracepoints%s%s",
					   btf_mode ? "tp_btf" : "raw_tp",
					   (*flags & IOSAT_META_F_IO_START) ? "; per-process = submitting task (block_io_start)" :
					   "; per-process = task at insert/issue (no block_io_start)",
					   (*flags & IOSAT_META_F_MERGE) ? "" : "; merges not tracked");
				return skel;
			}
			err = -errno;
		}
		if (btf_mode)
			logmsg(LOG_WARN_, "tp_btf programs failed (%s); falling back to raw_tp",
				   strerror(-err));
		else
			logmsg(LOG_ERR_, "cannot load/attach the BPF programs: %s", strerror(-err));
		iosat_bpf__destroy(skel);
	}
	return NULL;
}

/* ------------------------------------------------------------- heartbeat */

static struct
{
	__u32		pid;
	__u32		flags;
	__u32		disks_id;
	__u32		procs_id;
	__u64		load_ns;
} hb;

static int
heartbeat(struct iosat_bpf *skel, bool sweep)
{
	__u64		args[IOSAT_HB_NARGS] = {0};
	int			err;

	LIBBPF_OPTS(bpf_test_run_opts, topts, .ctx_in = args, .ctx_size_in = sizeof(args));

	args[IOSAT_HB_ARG_PID] = hb.pid;
	args[IOSAT_HB_ARG_INTERVAL] = (__u64) opt.interval_ms;
	args[IOSAT_HB_ARG_FLAGS] = hb.flags;
	args[IOSAT_HB_ARG_DISKS_ID] = hb.disks_id;
	args[IOSAT_HB_ARG_PROCS_ID] = hb.procs_id;
	args[IOSAT_HB_ARG_LOAD_NS] = hb.load_ns;
	args[IOSAT_HB_ARG_SWEEP_NS] = sweep && opt.sweep_s > 0 ? (__u64) opt.sweep_s * 1000000000ULL : 0;
	err = bpf_prog_test_run_opts(bpf_program__fd(skel->progs.iosat_heartbeat), &topts);
	if (err)
		return -errno;
	return 0;
}

static __u32
map_id(int fd)
{
	struct bpf_map_info info;
	__u32		len = sizeof(info);

	memset(&info, 0, sizeof(info));
	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return 0;
	return info.id;
}

/* ------------------------------------------------------------------ pins */

struct pin
{
	const char *name;
	int			fd;
	ino_t		ino;
	dev_t		dev;
	bool		pinned;
};

/* meta last: a reader that sees the new meta finds the new data maps */
static struct pin pins[3] = {
	{IOSAT_PIN_DISKS}, {IOSAT_PIN_PROCS}, {IOSAT_PIN_META},
};

static int
ensure_bpffs(void)
{
	char		buf[4096];
	char	   *parent;
	struct statfs sfs;
	struct stat sb;

	snprintf(buf, sizeof(buf), "%s", opt.pin_dir);
	parent = dirname(buf);
	if (statfs(parent, &sfs) != 0)
	{
		logmsg(LOG_ERR_, "%s: %s", parent, strerror(errno));
		return -1;
	}
	if (sfs.f_type != BPF_FS_MAGIC)
	{
		if (opt.no_mount || strcmp(parent, "/sys/fs/bpf") != 0)
		{
			logmsg(LOG_ERR_, "%s is not a bpf filesystem (mount -t bpf bpf %s)", parent, parent);
			return -1;
		}
		/* like systemd, but with search permission for others: see below */
		if (mount("bpf", parent, "bpf", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=0711") != 0)
		{
			logmsg(LOG_ERR_, "cannot mount bpffs on %s: %s", parent, strerror(errno));
			return -1;
		}
		logmsg(LOG_INFO_, "mounted bpffs on %s (mode 0711)", parent);
	}
	/*
	 * systemd mounts /sys/fs/bpf with mode 0700: the pin group could not
	 * reach our directory.  Search permission (x) lets it open paths it
	 * knows, without listing other pins; their own modes still apply.
	 */
	if (stat(parent, &sb) == 0 && (sb.st_mode & S_IXOTH) == 0)
	{
		if (opt.no_parent_chmod)
			logmsg(LOG_WARN_, "%s has no search permission for others (mode %04o): "
				   "the pin group cannot reach %s", parent, sb.st_mode & 07777, opt.pin_dir);
		else if (chmod(parent, (sb.st_mode & 07777) | S_IXGRP | S_IXOTH) == 0)
			logmsg(LOG_INFO_, "added search permission to %s (was %04o) so that the pin group "
				   "can reach %s", parent, sb.st_mode & 07777, opt.pin_dir);
		else
			logmsg(LOG_WARN_, "chmod %s: %s", parent, strerror(errno));
	}
	return 0;
}

static int
pin_all(gid_t gid)
{
	char		path[4096],
				tmp[4096];
	struct stat sb;
	int			i;

	if (mkdir(opt.pin_dir, 0750) != 0 && errno != EEXIST)
	{
		logmsg(LOG_ERR_, "mkdir %s: %s", opt.pin_dir, strerror(errno));
		return -1;
	}
	if (stat(opt.pin_dir, &sb) != 0 || !S_ISDIR(sb.st_mode))
	{
		logmsg(LOG_ERR_, "%s is not a directory", opt.pin_dir);
		return -1;
	}
	if (chown(opt.pin_dir, 0, gid) != 0 || chmod(opt.pin_dir, 0750) != 0)
	{
		logmsg(LOG_ERR_, "cannot set owner/mode of %s: %s", opt.pin_dir, strerror(errno));
		return -1;
	}
	for (i = 0; i < 3; i++)
	{
		struct pin *p = &pins[i];

		snprintf(path, sizeof(path), "%s/%s", opt.pin_dir, p->name);
		/* bpffs refuses dots in names */
		snprintf(tmp, sizeof(tmp), "%s/tmp_%s_%d", opt.pin_dir, p->name, (int) getpid());
		unlink(tmp);
		if (bpf_obj_pin(p->fd, tmp) != 0)
		{
			logmsg(LOG_ERR_, "cannot pin %s: %s", tmp, strerror(errno));
			return -1;
		}
		if (chown(tmp, 0, gid) != 0 || chmod(tmp, 0440) != 0)
		{
			logmsg(LOG_ERR_, "cannot set owner/mode of %s: %s", tmp, strerror(errno));
			unlink(tmp);
			return -1;
		}
		if (stat(tmp, &sb) != 0)
		{
			logmsg(LOG_ERR_, "stat %s: %s", tmp, strerror(errno));
			unlink(tmp);
			return -1;
		}
		if (rename(tmp, path) != 0)
		{
			logmsg(LOG_ERR_, "cannot rename %s to %s: %s", tmp, path, strerror(errno));
			unlink(tmp);
			return -1;
		}
		p->ino = sb.st_ino;
		p->dev = sb.st_dev;
		p->pinned = true;
		logmsg(LOG_DEBUG_, "pinned %s (inode %lu)", path, (unsigned long) sb.st_ino);
	}
	return 0;
}

/* Is the pin at its path still ours? */
static bool
pin_is_ours(const struct pin *p)
{
	char		path[4096];
	struct stat sb;

	snprintf(path, sizeof(path), "%s/%s", opt.pin_dir, p->name);
	return stat(path, &sb) == 0 && sb.st_ino == p->ino && sb.st_dev == p->dev;
}

static void
unpin_all(void)
{
	char		path[4096];
	int			i,
				removed = 0,
				foreign = 0;

	for (i = 2; i >= 0; i--)	/* meta first: readers fall back at once */
	{
		struct pin *p = &pins[i];

		if (!p->pinned)
			continue;
		snprintf(path, sizeof(path), "%s/%s", opt.pin_dir, p->name);
		if (!pin_is_ours(p))
		{
			foreign++;
			continue;
		}
		if (unlink(path) == 0)
			removed++;
		else
			logmsg(LOG_WARN_, "cannot unlink %s: %s", path, strerror(errno));
		p->pinned = false;
	}
	if (foreign == 0 && rmdir(opt.pin_dir) != 0 && errno != ENOTEMPTY && errno != ENOENT)
		logmsg(LOG_WARN_, "rmdir %s: %s", opt.pin_dir, strerror(errno));
	logmsg(LOG_INFO_, "removed %d pins from %s%s", removed, opt.pin_dir,
		   foreign ? " (others belong to another iosatd and were left)" : "");
}

/* Remove leftovers of an earlier daemon killed while pinning. */
static void
remove_temp_pins(void)
{
	char		path[4096];
	DIR		   *d = opendir(opt.pin_dir);
	struct dirent *de;

	if (!d)
		return;
	while ((de = readdir(d)) != NULL)
	{
		if (strncmp(de->d_name, "tmp_", 4) != 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", opt.pin_dir, de->d_name);
		if (unlink(path) == 0)
			logmsg(LOG_INFO_, "removed leftover %s", path);
	}
	closedir(d);
}

/* Refuse to displace a live daemon; report what is replaced. */
static int
check_existing(void)
{
	iosat_bpf_reader r;
	char		err[256];
	int			st;

	iosat_bpf_init(&r, opt.pin_dir);
	st = iosat_bpf_refresh(&r, 0, err, sizeof(err));
	if (st == IOSAT_BPF_MISSING)
	{
		if (r.meta.flags & IOSAT_META_F_STOPPED)
			logmsg(LOG_INFO_, "replacing the pins that iosatd pid %u left in %s when it stopped",
				   r.meta.daemon_pid, opt.pin_dir);
		return 0;
	}
	if (st == IOSAT_BPF_OK && r.meta.daemon_pid != (__u32) getpid())
	{
		char		p[64],
					comm[32] = "";
		FILE	   *f;

		/* /proc/PID/stat: "pid (comm) S ..."; a zombie (Z) is gone too */
		snprintf(p, sizeof(p), "/proc/%u/stat", r.meta.daemon_pid);
		f = fopen(p, "r");
		if (f)
		{
			char		line[256] = "";
			char	   *l = NULL,
					   *rp = NULL;

			if (fgets(line, sizeof(line), f))
			{
				l = strchr(line, '(');
				rp = strrchr(line, ')');
			}
			if (l && rp && rp > l && rp[1] == ' ' && rp[2] != 'Z' && rp[2] != 'X')
				snprintf(comm, sizeof(comm), "%.*s", (int) (rp - l - 1), l + 1);
			fclose(f);
		}
		if (strcmp(comm, "iosatd") == 0 && !opt.force)
		{
			logmsg(LOG_ERR_, "iosatd pid %u is running with pins in %s (heartbeat %.1f s ago); "
				   "stop it first or use --force", r.meta.daemon_pid, opt.pin_dir, r.age_ns / 1e9);
			iosat_bpf_close(&r);
			return -1;
		}
		logmsg(LOG_WARN_, "replacing the pins of iosatd pid %u in %s%s", r.meta.daemon_pid,
			   opt.pin_dir, opt.force ? " (--force)" : " (process gone)");
	}
	else if (st == IOSAT_BPF_STALE)
		logmsg(LOG_INFO_, "replacing stale pins in %s (iosatd pid %u, heartbeat %.0f s old)",
			   opt.pin_dir, r.meta.daemon_pid, r.age_ns / 1e9);
	else if (st != IOSAT_BPF_OK)
		logmsg(LOG_INFO_, "replacing the pins in %s (%s: %s)", opt.pin_dir,
			   iosat_bpf_strstatus(st), err);
	iosat_bpf_close(&r);
	return 0;
}

/* ------------------------------------------------------------ privileges */

static int
drop_capabilities(void)
{
	struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];
	int			last = 63,
				cap;
	FILE	   *f = fopen("/proc/sys/kernel/cap_last_cap", "r");

	if (f)
	{
		if (fscanf(f, "%d", &last) != 1)
			last = 63;
		fclose(f);
	}
	prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
	for (cap = 0; cap <= last; cap++)
		prctl(PR_CAPBSET_DROP, cap, 0, 0, 0);	/* needs CAP_SETPCAP: before capset */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
		logmsg(LOG_WARN_, "PR_SET_NO_NEW_PRIVS: %s", strerror(errno));
	memset(data, 0, sizeof(data));
	if (syscall(SYS_capset, &hdr, data) != 0)
	{
		logmsg(LOG_WARN_, "cannot drop capabilities: %s", strerror(errno));
		return -1;
	}
	return 0;
}

/* --------------------------------------------------------------- process */

static int pidfile_fd = -1;
static bool pidfile_ours = false;	/* we wrote our pid into it */

static int
pidfile_lock(void)
{
	if (!opt.pidfile)
		return 0;
	pidfile_fd = open(opt.pidfile, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (pidfile_fd < 0)
	{
		logmsg(LOG_ERR_, "pidfile %s: %s", opt.pidfile, strerror(errno));
		return -1;
	}
	if (flock(pidfile_fd, LOCK_EX | LOCK_NB) != 0)
	{
		char		buf[32] = "";
		ssize_t		n = pread(pidfile_fd, buf, sizeof(buf) - 1, 0);

		if (n > 0)
			buf[strcspn(buf, "\n")] = '\0';
		logmsg(LOG_ERR_, "pidfile %s is locked by another iosatd (pid %s)", opt.pidfile,
			   n > 0 ? buf : "?");
		close(pidfile_fd);
		pidfile_fd = -1;
		return -1;
	}
	return 0;
}

static void
pidfile_write(void)
{
	char		buf[32];
	int			n;

	if (pidfile_fd < 0)
		return;
	n = snprintf(buf, sizeof(buf), "%d\n", (int) getpid());
	if (ftruncate(pidfile_fd, 0) != 0 || pwrite(pidfile_fd, buf, n, 0) != n)
		logmsg(LOG_WARN_, "cannot write pidfile %s: %s", opt.pidfile, strerror(errno));
	else
		pidfile_ours = true;
}

static void
pidfile_remove(void)
{
	if (pidfile_fd < 0)
		return;
	if (pidfile_ours && unlink(opt.pidfile) != 0)
		logmsg(LOG_WARN_, "cannot remove pidfile %s: %s", opt.pidfile, strerror(errno));
	close(pidfile_fd);
	pidfile_fd = -1;
}

/*
 * Without -f: fork before loading, so that the pid in the meta map is the
 * daemon's from the first heartbeat on.  The parent waits until the child
 * reports that the pins are in place (exit 0) or dies (exit 1), so that
 * "iosatd && use the maps" works and errors still reach the terminal.
 */
static int ready_fd = -1;

static int
daemonize(void)
{
	int			p[2];
	pid_t		pid;

	if (pipe(p) != 0)
	{
		logmsg(LOG_ERR_, "pipe: %s", strerror(errno));
		return -1;
	}
	pid = fork();
	if (pid < 0)
	{
		logmsg(LOG_ERR_, "fork: %s", strerror(errno));
		return -1;
	}
	if (pid > 0)
	{
		char		c = 1;

		close(p[1]);
		if (read(p[0], &c, 1) != 1)
			c = 1;
		_exit(c);
	}
	close(p[0]);
	ready_fd = p[1];
	setsid();
	if (chdir("/") != 0)
		logmsg(LOG_WARN_, "chdir /: %s", strerror(errno));
	return 0;
}

/* Set up: release the waiting parent, detach from the terminal, log to syslog. */
static void
daemon_ready(void)
{
	char		c = 0;
	int			fd;

	if (ready_fd < 0)
		return;
	openlog("iosatd", LOG_PID, LOG_DAEMON);
	use_syslog = true;
	fd = open("/dev/null", O_RDWR);
	if (fd >= 0)
	{
		dup2(fd, 0);
		dup2(fd, 1);
		dup2(fd, 2);
		if (fd > 2)
			close(fd);
	}
	if (write(ready_fd, &c, 1) != 1)
		logmsg(LOG_WARN_, "cannot notify the parent: %s", strerror(errno));
	close(ready_fd);
	ready_fd = -1;
}

static void
on_signal(int sig)
{
	stop_signal = sig;
}

static void
log_summary(struct iosat_bpf *skel)
{
	struct iosat_meta m;
	struct iosat_disk_key k,
				next;
	__u32		zero = 0;
	int			fd = bpf_map__fd(skel->maps.iosat_disks),
				ndisks = 0;
	void	   *prev = NULL;

	if (bpf_map_lookup_elem(bpf_map__fd(skel->maps.iosat_meta), &zero, &m) != 0)
		return;
	while (bpf_map_get_next_key(fd, prev, &next) == 0 && ndisks < IOSAT_MAX_DISKS)
	{
		k = next;
		prev = &k;
		ndisks++;
	}
	logmsg(LOG_DEBUG_, "heartbeat %llu: %d disks; requests dropped %llu, recycled %llu, "
		   "reaped %llu, swept %llu, untracked %llu; disks dropped %llu",
		   (unsigned long long) m.heartbeat_seq, ndisks,
		   (unsigned long long) m.req_dropped, (unsigned long long) m.req_recycled,
		   (unsigned long long) m.req_reaped,
		   (unsigned long long) m.req_swept, (unsigned long long) m.untracked,
		   (unsigned long long) m.disk_dropped);
}

static void
usage(FILE *out)
{
	fprintf(out,
			"usage: iosatd [options]\n"
			"  -f, --foreground      stay in the foreground, log to stderr (the journal's format\n"
			"                        where JOURNAL_STREAM names stderr; else daemonize, syslog)\n"
			"  -v, --verbose         more logging (-vv: libbpf debug)\n"
			"  -d, --pin-dir DIR     pin directory (default %s)\n"
			"  -g, --group GROUP     group allowed to read the pins (default %s)\n"
			"  -i, --interval MS     heartbeat interval (default %d)\n"
			"  -p, --pidfile FILE    write and lock a pidfile\n"
			"      --sweep SEC       forget requests idle this long (default %d, 0: never)\n"
			"      --force           replace the pins of a running iosatd\n"
			"      --raw-tp          use raw_tp programs even where tp_btf works\n"
			"      --no-io-start     do not use block_io_start (attribute at insert/issue)\n"
			"      --keep-caps       do not drop capabilities after loading\n"
			"      --no-mount        do not mount bpffs on /sys/fs/bpf if missing\n"
			"      --no-parent-chmod do not add search permission to the pin dir's parent\n"
			"  -h, --help\n",
			IOSAT_PIN_DIR_DEFAULT, DEFAULT_GROUP, DEFAULT_INTERVAL_MS, DEFAULT_SWEEP_S);
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"foreground", no_argument, NULL, 'f'},
		{"verbose", no_argument, NULL, 'v'},
		{"pin-dir", required_argument, NULL, 'd'},
		{"group", required_argument, NULL, 'g'},
		{"interval", required_argument, NULL, 'i'},
		{"pidfile", required_argument, NULL, 'p'},
		{"sweep", required_argument, NULL, 1},
		{"force", no_argument, NULL, 2},
		{"raw-tp", no_argument, NULL, 3},
		{"no-io-start", no_argument, NULL, 4},
		{"keep-caps", no_argument, NULL, 5},
		{"no-mount", no_argument, NULL, 6},
		{"no-parent-chmod", no_argument, NULL, 7},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0}
	};
	struct iosat_bpf *skel = NULL;
	struct sigaction sa;
	struct timespec next;
	gid_t		gid = 0;
	bool		group_given = false;
	bool		keep_pins = false;
	unsigned	flags = 0;
	int			c,
				i,
				rc = 1,
				beats = 0,
				hb_failures = 0;

	while ((c = getopt_long(argc, argv, "fvd:g:i:p:h", longopts, NULL)) != -1)
	{
		switch (c)
		{
			case 'f':
				opt.foreground = true;
				break;
			case 'v':
				opt.verbose++;
				break;
			case 'd':
				opt.pin_dir = optarg;
				break;
			case 'g':
				opt.group = optarg;
				group_given = true;
				break;
			case 'i':
				opt.interval_ms = atoi(optarg);
				if (opt.interval_ms < 10 || opt.interval_ms > 60000)
				{
					fprintf(stderr, "iosatd: --interval must be 10..60000 ms\n");
					return 2;
				}
				break;
			case 'p':
				opt.pidfile = optarg;
				break;
			case 1:
				opt.sweep_s = atoi(optarg);
				break;
			case 2:
				opt.force = true;
				break;
			case 3:
				opt.raw_tp = true;
				break;
			case 4:
				opt.no_io_start = true;
				break;
			case 5:
				opt.keep_caps = true;
				break;
			case 6:
				opt.no_mount = true;
				break;
			case 7:
				opt.no_parent_chmod = true;
				break;
			case 'h':
				usage(stdout);
				return 0;
			default:
				usage(stderr);
				return 2;
		}
	}
	if (optind != argc)
	{
		usage(stderr);
		return 2;
	}
	if (strlen(opt.pin_dir) >= IOSAT_BPF_DIR_MAX || opt.pin_dir[0] != '/')
	{
		fprintf(stderr, "iosatd: --pin-dir must be an absolute path shorter than %d bytes\n",
				IOSAT_BPF_DIR_MAX);
		return 2;
	}
	use_journal = stderr_is_journal();
	libbpf_set_print(libbpf_log);
	if (geteuid() != 0)
	{
		logmsg(LOG_ERR_, "must run as root (loads BPF programs, pins maps)");
		return 1;
	}
	if (opt.group && opt.group[0])
	{
		struct group *gr = getgrnam(opt.group);

		if (gr)
			gid = gr->gr_gid;
		else if (group_given)
		{
			logmsg(LOG_ERR_, "no such group: %s", opt.group);
			return 1;
		}
		else
			logmsg(LOG_WARN_, "group %s does not exist: pins readable by root only", opt.group);
	}

	if (pidfile_lock() != 0)
		return 1;
	if (!opt.foreground && daemonize() != 0)
		return 1;
	if (probe_tracepoints() != 0)
		goto out;
	if (ensure_bpffs() != 0)
		goto out;
	if (check_existing() != 0)
		goto out;
	remove_temp_pins();

	skel = load_and_attach(&flags);
	if (!skel)
		goto out;
	hb.load_ns = iosat_bpf_now_ns();

	pins[0].fd = bpf_map__fd(skel->maps.iosat_disks);
	pins[1].fd = bpf_map__fd(skel->maps.iosat_procs);
	pins[2].fd = bpf_map__fd(skel->maps.iosat_meta);
	hb.disks_id = map_id(pins[0].fd);
	hb.procs_id = map_id(pins[1].fd);

	/* no user-space writer, root included, from here on */
	{
		struct bpf_map *maps[] = {skel->maps.iosat_meta, skel->maps.iosat_disks,
		skel->maps.iosat_procs, skel->maps.iosat_reqs};

		for (i = 0; i < 4; i++)
		{
			if (bpf_map_freeze(bpf_map__fd(maps[i])) != 0)
			{
				logmsg(LOG_ERR_, "cannot freeze map %s: %s", bpf_map__name(maps[i]),
					   strerror(errno));
				goto out;
			}
		}
		flags |= IOSAT_META_F_FROZEN;
	}
	if (!opt.keep_caps)
		flags |= IOSAT_META_F_CAPS_DROPPED;	/* promised now, done below */
	hb.flags = flags;
	hb.pid = getpid();
	if ((c = heartbeat(skel, false)) != 0)
	{
		logmsg(LOG_ERR_, "heartbeat program failed: %s", strerror(-c));
		goto out;
	}
	if (pin_all(gid) != 0)
		goto out;
	logmsg(LOG_INFO_, "maps pinned in %s (dir 0750, maps 0440, group %s), frozen; heartbeat every %d ms",
		   opt.pin_dir, gid ? opt.group : "root", opt.interval_ms);

	if (!opt.keep_caps)
	{
		if (drop_capabilities() == 0)
			logmsg(LOG_INFO_, "dropped all capabilities (keeps uid 0 to unlink its pins, "
				   "and its program/link fds)");
		else
		{
			hb.flags &= ~IOSAT_META_F_CAPS_DROPPED;
		}
	}

	pidfile_write();
	daemon_ready();

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGPIPE, &sa, NULL);

	clock_gettime(CLOCK_MONOTONIC, &next);
	rc = 0;
	while (!stop_signal)
	{
		bool		sweep = (beats % ((SWEEP_EVERY_S * 1000 + opt.interval_ms - 1) / opt.interval_ms)) == 0 && beats > 0;

		c = heartbeat(skel, sweep);
		if (c != 0)
		{
			if (hb_failures++ % 60 == 0)
				logmsg(LOG_WARN_, "heartbeat failed: %s", strerror(-c));
		}
		else
			hb_failures = 0;
		beats++;
		if (!pin_is_ours(&pins[2]))
		{
			logmsg(LOG_ERR_, "%s/%s was removed or replaced by someone else; exiting",
				   opt.pin_dir, IOSAT_PIN_META);
			rc = 1;
			break;
		}
		if (opt.verbose && beats % ((10000 + opt.interval_ms - 1) / opt.interval_ms) == 1)
			log_summary(skel);

		next.tv_nsec += (long) (opt.interval_ms % 1000) * 1000000L;
		next.tv_sec += opt.interval_ms / 1000;
		if (next.tv_nsec >= 1000000000L)
		{
			next.tv_nsec -= 1000000000L;
			next.tv_sec++;
		}
		while (!stop_signal &&
			   clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL) == EINTR)
			;
	}
	if (stop_signal)
	{
		/*
		 * A last heartbeat that says "stopped": readers fall back to /sys at
		 * their next refresh, as if the pins were gone, and the pins stay for
		 * the next start (a restart replaces them without a window in which
		 * the directory is missing).  If it fails, the pins go as before.
		 */
		hb.flags |= IOSAT_META_F_STOPPED;
		c = heartbeat(skel, false);
		if (c == 0)
		{
			keep_pins = true;
			logmsg(LOG_INFO_, "%s: stopping; pins left in %s for the next start "
				   "(marked stopped: readers fall back to /sys)",
				   strsignal(stop_signal), opt.pin_dir);
		}
		else
			logmsg(LOG_WARN_, "%s: stopping; cannot mark the pins stopped (%s): removing them",
				   strsignal(stop_signal), strerror(-c));
	}

out:
	if (!keep_pins)
		unpin_all();
	detach_all();
	if (skel)
		iosat_bpf__destroy(skel);
	pidfile_remove();
	return rc;
}
