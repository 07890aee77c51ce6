/*
 * stallfs: a one-file FUSE passthrough that can stop answering, for the
 * iosat test rig.  A loop device on its file behaves like a network volume
 * (iSCSI, NBD, a cloud disk) whose server stops responding: requests stay in
 * flight at the device, nothing completes, and every process that needs the
 * device sleeps in D.
 *
 *     stallfs BACKING MOUNTPOINT STATEFILE [BUDGETFILE]
 *
 * Serves BACKING as MOUNTPOINT/disk (single-threaded, low-level libfuse3
 * API, direct I/O: no page cache of its own).
 *
 * It can also be a provisioned-IOPS cloud volume (EBS gp3/io2, Azure premium
 * disks): reads and writes take tokens from ONE bucket, as those volumes
 * count them.  BUDGETFILE holds "iops=N burst=B latency_us=L mbps=M"
 * (iops=0 or no file: no budget, every request answered at once);
 * SIGRTMIN+1 re-reads it.  Under a budget:
 *   - a read or write costs one token per started 256 KiB (EBS counts a
 *     request of up to 256 KiB as one I/O), and with a throughput ceiling
 *     (mbps > 0, MiB/s) at least its share of it: size / (mbps / iops)
 *     tokens, so that large sequential requests are paid for in bandwidth
 *     (gp3: 3000 IOPS and 125 MiB/s; Azure P30: 5000 and 200); fsync and
 *     fallocate cost none but keep their place in line, so a flush
 *     completes after the writes sent before it;
 *   - tokens refill at iops per second, up to burst; a request starts when
 *     its tokens are there (first come, first served: a generic cell rate
 *     algorithm in virtual time) and is answered latency_us after it starts;
 *   - fsync does not reach the host disk (the volume is modelled with a
 *     non-volatile cache: a flush is an ordering point only -- the rig's
 *     volumes are thrown away, and the host disk's own flushes would add
 *     latency the model does not have).
 * Requests then wait inside the daemon, i.e. in flight at the loop device on
 * the file: its inflight, await and aqu-sz grow at the ceiling as a cloud
 * volume's do.  The daemon asks the kernel for 1 MiB requests and up to 256
 * background requests in flight, so that what it sees is what loop sends.
 *
 * Mode changes by signal:
 *
 *     SIGUSR1   stall: hold every read, write, fsync and fallocate of the
 *               file without answering (lookups, getattr and the like are
 *               still answered, so that the mount itself stays usable)
 *     SIGUSR2   pass: answer what was held, in order, then serve normally
 *     SIGRTMIN  fail: reads fail with EIO (what was held too); writes pass
 *     SIGTERM, SIGINT, SIGHUP
 *               answer what was held, unmount, exit
 *
 * After every change (and every request held) it rewrites STATEFILE
 * atomically: mode=, held=, held_total=, served=, failed=, seq=, pid=,
 * budget_iops=, budget_burst=, budget_latency_us=, budget_mbps=, tokens=
 * (spent so far, rounded down),
 * queued= (waiting for tokens or their latency now); under a budget also
 * every 200 ms while requests are answered.
 * Requests are held in the daemon, never in a blocked handler: the event
 * loop (poll on /dev/fuse and a signalfd) stays responsive while stalled.
 *
 * Run by test/lib/rootctl (fuse-create, fuse-stall, fuse-resume, fuse-fail)
 * as root; nobody else may use the mount (no allow_other).
 */
#define FUSE_USE_VERSION 34
#define _GNU_SOURCE

#include <errno.h>
#include <fcntl.h>
#include <fuse_lowlevel.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#define FILE_INO	2
#define FILE_NAME	"disk"
/* one I/O as EBS counts it */
#define IO_UNIT		(256 * 1024)
#define NS_PER_SEC	1000000000LL

enum mode
{
	MODE_PASS,
	MODE_STALL,
	MODE_FAIL
};

static const char *const mode_names[] = {"pass", "stall", "fail"};

enum op
{
	OP_READ,
	OP_WRITE,
	OP_FSYNC,
	OP_FALLOCATE
};

typedef struct held
{
	struct held *next;
	fuse_req_t	req;
	enum op		op;
	size_t		size;
	off_t		off;
	off_t		len;			/* fallocate */
	int			flags;			/* fsync: datasync; fallocate: mode */
	char	   *data;			/* write: a copy of the payload */
	int64_t		due_ns;			/* budget: answer at (CLOCK_MONOTONIC) */
} held;

static int	backing_fd = -1;
static const char *state_path;
static enum mode mode = MODE_PASS;
static held *held_head,
		   *held_tail;
static long nheld;
static unsigned long long held_total,
			served,
			failed,
			seq;

/* the budget (see the head of the file); iops 0 = none */
static const char *budget_path;
static long budget_iops,
			budget_burst,
			budget_latency_us,
			budget_mbps;
static int64_t budget_tat_ns;	/* theoretical arrival time of the bucket */
static held *queue_head,
		   *queue_tail;			/* waiting for tokens/latency, in due order */
static long nqueued;
static unsigned long long tokens_spent;
static double tokens_frac;		/* the fractions of tokens spent, summed */
static int	timer_fd = -1;

static void
die(const char *fmt,...)
{
	va_list		ap;

	va_start(ap, fmt);
	fprintf(stderr, "stallfs: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	exit(1);
}

static void
write_state(void)
{
	char		tmp[PATH_MAX];
	FILE	   *f;

	snprintf(tmp, sizeof(tmp), "%s.tmp", state_path);
	f = fopen(tmp, "w");
	if (f == NULL)
		return;
	fprintf(f, "mode=%s\nheld=%ld\nheld_total=%llu\nserved=%llu\nfailed=%llu\nseq=%llu\npid=%d\n"
			"budget_iops=%ld\nbudget_burst=%ld\nbudget_latency_us=%ld\nbudget_mbps=%ld\ntokens=%llu\nqueued=%ld\n",
			mode_names[mode], nheld, held_total, served, failed, seq, (int) getpid(),
			budget_iops, budget_burst, budget_latency_us, budget_mbps,
			tokens_spent + (unsigned long long) tokens_frac, nqueued);
	if (fclose(f) == 0)
		(void) rename(tmp, state_path);
}

static int
file_stat(fuse_ino_t ino, struct stat *st)
{
	struct stat bst;

	memset(st, 0, sizeof(*st));
	st->st_ino = ino;
	st->st_uid = 0;
	st->st_gid = 0;
	if (ino == FUSE_ROOT_ID)
	{
		st->st_mode = S_IFDIR | 0755;
		st->st_nlink = 2;
		return 0;
	}
	if (ino != FILE_INO)
		return ENOENT;
	if (fstat(backing_fd, &bst) != 0)
		return errno;
	st->st_mode = S_IFREG | 0600;
	st->st_nlink = 1;
	st->st_size = bst.st_size;
	st->st_blocks = bst.st_blocks;
	st->st_blksize = 4096;
	st->st_atim = bst.st_atim;
	st->st_mtim = bst.st_mtim;
	st->st_ctim = bst.st_ctim;
	return 0;
}

/* carry out one read/write/fsync/fallocate and answer it */
static void
perform(fuse_req_t req, enum op op, size_t size, off_t off, off_t len,
		int flags, const char *data)
{
	if (op == OP_READ && mode == MODE_FAIL)
	{
		failed++;
		fuse_reply_err(req, EIO);
		return;
	}
	served++;
	switch (op)
	{
		case OP_READ:
			{
				char	   *buf = malloc(size ? size : 1);
				size_t		done = 0;

				if (buf == NULL)
				{
					fuse_reply_err(req, ENOMEM);
					return;
				}
				while (done < size)
				{
					ssize_t		n = pread(backing_fd, buf + done, size - done, off + done);

					if (n < 0 && errno == EINTR)
						continue;
					if (n < 0)
					{
						int			e = errno;

						free(buf);
						fuse_reply_err(req, e);
						return;
					}
					if (n == 0)
						break;
					done += n;
				}
				fuse_reply_buf(req, buf, done);
				free(buf);
				return;
			}
		case OP_WRITE:
			{
				size_t		done = 0;

				while (done < size)
				{
					ssize_t		n = pwrite(backing_fd, data + done, size - done, off + done);

					if (n < 0 && errno == EINTR)
						continue;
					if (n < 0)
					{
						fuse_reply_err(req, errno);
						return;
					}
					done += n;
				}
				fuse_reply_write(req, done);
				return;
			}
		case OP_FSYNC:
			fuse_reply_err(req, (flags ? fdatasync(backing_fd) : fsync(backing_fd)) == 0 ? 0 : errno);
			return;
		case OP_FALLOCATE:
			fuse_reply_err(req, fallocate(backing_fd, flags, off, len) == 0 ? 0 : errno);
			return;
	}
}

static int64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t) ts.tv_sec * NS_PER_SEC + ts.tv_nsec;
}

/* a copy of a request, to answer later */
static held *
new_held(fuse_req_t req, enum op op, size_t size, off_t off, off_t len,
		 int flags, const char *data)
{
	held	   *h = calloc(1, sizeof(*h));

	if (h == NULL || (op == OP_WRITE && (h->data = malloc(size ? size : 1)) == NULL))
	{
		free(h);
		fuse_reply_err(req, ENOMEM);
		return NULL;
	}
	h->req = req;
	h->op = op;
	h->size = size;
	h->off = off;
	h->len = len;
	h->flags = flags;
	if (op == OP_WRITE)
		memcpy(h->data, data, size);
	return h;
}

/* arm the timer for the head of the budget queue (or disarm it) */
static void
arm_timer(void)
{
	struct itimerspec its;

	memset(&its, 0, sizeof(its));
	if (queue_head)
	{
		int64_t		due = queue_head->due_ns;

		if (due <= 0)
			due = 1;
		its.it_value.tv_sec = due / NS_PER_SEC;
		its.it_value.tv_nsec = due % NS_PER_SEC;
	}
	(void) timerfd_settime(timer_fd, TFD_TIMER_ABSTIME, &its, NULL);
}

/* put a request at the end of the budget queue */
static void
append_queue(held *h)
{
	if (queue_tail)
		queue_tail->next = h;
	else
		queue_head = h;
	queue_tail = h;
	nqueued++;
}

/*
 * Take a request's tokens from the bucket and queue it until it is due.
 * GCRA: each token moves the bucket's theoretical arrival time on by one
 * emission interval; a request may start as soon as that time is no more
 * than `burst` intervals ahead of now.  Arrivals are in order and tat only
 * grows, so due times are non-decreasing and the queue stays a FIFO.
 */
static void
enqueue_budget(held *h)
{
	int64_t		now = now_ns();
	int64_t		interval = NS_PER_SEC / budget_iops;
	double		cost = 0;
	int64_t		start;

	if (h->op == OP_READ || h->op == OP_WRITE)
	{
		cost = h->size == 0 ? 1 : (double) ((h->size + IO_UNIT - 1) / IO_UNIT);
		if (budget_mbps > 0)
		{
			/* bytes one token buys under the throughput ceiling */
			double		per_token = (double) budget_mbps * 1048576.0 / budget_iops;

			if (h->size / per_token > cost)
				cost = h->size / per_token;
		}
	}
	tokens_frac += cost;
	if (tokens_frac >= 1.0)
	{
		tokens_spent += (unsigned long long) tokens_frac;
		tokens_frac -= (unsigned long long) tokens_frac;
	}
	if (budget_tat_ns < now)
		budget_tat_ns = now;
	budget_tat_ns += (int64_t) (cost * interval);
	start = budget_tat_ns - (int64_t) budget_burst * interval;
	if (start < now)
		start = now;
	h->due_ns = start + (int64_t) budget_latency_us * 1000;
	/* never before the one ahead of it (a flush after its writes) */
	if (queue_tail && h->due_ns < queue_tail->due_ns)
		h->due_ns = queue_tail->due_ns;
	append_queue(h);
	if (queue_head == h)
		arm_timer();
}

/* answer what is due in the budget queue */
static void
pump_budget(void)
{
	int64_t		now = now_ns();
	bool		any = false;

	if (mode == MODE_STALL)
		return;					/* answered on resume */
	while (queue_head && queue_head->due_ns <= now)
	{
		held	   *h = queue_head;

		queue_head = h->next;
		if (queue_head == NULL)
			queue_tail = NULL;
		nqueued--;
		perform(h->req, h->op, h->size, h->off, h->len, h->flags, h->data);
		free(h->data);
		free(h);
		any = true;
	}
	if (any)
	{
		static int64_t last_state_ns;

		arm_timer();
		/* counters for whoever watches the volume, a few times a second */
		if (now - last_state_ns >= NS_PER_SEC / 5)
		{
			last_state_ns = now;
			write_state();
		}
	}
}

/* under a budget: queue; without one: behind what is still queued, now */
static void
queue_request(held *h)
{
	h->next = NULL;
	if (budget_iops > 0)
	{
		enqueue_budget(h);
		return;
	}
	h->due_ns = 0;
	append_queue(h);
	pump_budget();
}

/* answer now, queue under a budget, or hold while stalled */
static void
submit(fuse_req_t req, enum op op, size_t size, off_t off, off_t len,
	   int flags, const char *data)
{
	held	   *h;

	if (mode != MODE_STALL && budget_iops <= 0 && queue_head == NULL)
	{
		perform(req, op, size, off, len, flags, data);
		return;
	}
	h = new_held(req, op, size, off, len, flags, data);
	if (h == NULL)
		return;
	if (mode != MODE_STALL)
	{
		queue_request(h);
		return;
	}
	if (held_tail)
		held_tail->next = h;
	else
		held_head = h;
	held_tail = h;
	nheld++;
	held_total++;
	write_state();
}

/* (re)read BUDGETFILE: "iops=N burst=B latency_us=L", any order */
static void
read_budget(void)
{
	FILE	   *f;
	char		key[32];
	long		v;
	long		iops = 0,
				burst = 16,
				latency_us = 1000,
				mbps = 0;

	if (budget_path && (f = fopen(budget_path, "r")) != NULL)
	{
		while (fscanf(f, " %31[a-z_]=%ld", key, &v) == 2)
		{
			if (v < 0)
				continue;
			if (strcmp(key, "iops") == 0 && v <= 1000000)
				iops = v;
			else if (strcmp(key, "burst") == 0 && v >= 1 && v <= 1000000)
				burst = v;
			else if (strcmp(key, "latency_us") == 0 && v <= 10000000)
				latency_us = v;
			else if (strcmp(key, "mbps") == 0 && v <= 1000000)
				mbps = v;
		}
		fclose(f);
	}
	budget_iops = iops;
	budget_burst = burst;
	budget_latency_us = iops > 0 ? latency_us : 0;
	budget_mbps = iops > 0 ? mbps : 0;
	if (iops <= 0)
	{
		/* what waits for tokens is due now */
		for (held *h = queue_head; h; h = h->next)
			h->due_ns = 0;
		pump_budget();
	}
	seq++;
	write_state();
}

/*
 * Answer everything held, in order, under the current mode: at once, or
 * through the budget (behind what it queued before the stall).
 */
static void
release_held(void)
{
	while (held_head)
	{
		held	   *h = held_head;

		held_head = h->next;
		nheld--;
		if (budget_iops > 0 || queue_head)
			queue_request(h);
		else
		{
			perform(h->req, h->op, h->size, h->off, h->len, h->flags, h->data);
			free(h->data);
			free(h);
		}
	}
	held_tail = NULL;
	pump_budget();
}

static void
set_mode(enum mode m)
{
	mode = m;
	seq++;
	if (m != MODE_STALL)
		release_held();
	write_state();
}

static void
sfs_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fuse_entry_param e;
	int			err;

	if (parent != FUSE_ROOT_ID || strcmp(name, FILE_NAME) != 0)
	{
		fuse_reply_err(req, ENOENT);
		return;
	}
	memset(&e, 0, sizeof(e));
	e.ino = FILE_INO;
	e.attr_timeout = 1.0;
	e.entry_timeout = 3600.0;
	if ((err = file_stat(FILE_INO, &e.attr)) != 0)
		fuse_reply_err(req, err);
	else
		fuse_reply_entry(req, &e);
}

static void
sfs_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct stat st;
	int			err = file_stat(ino, &st);

	(void) fi;
	if (err)
		fuse_reply_err(req, err);
	else
		fuse_reply_attr(req, &st, 1.0);
}

static void
sfs_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	if (ino == FUSE_ROOT_ID)
	{
		fuse_reply_err(req, EISDIR);
		return;
	}
	if (ino != FILE_INO)
	{
		fuse_reply_err(req, ENOENT);
		return;
	}
	if (fi->flags & O_TRUNC)
	{
		fuse_reply_err(req, EPERM);
		return;
	}
	/* no page cache in front of the daemon: every I/O reaches it */
	fi->direct_io = 1;
	fi->keep_cache = 0;
	fuse_reply_open(req, fi);
}

static void
sfs_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		 struct fuse_file_info *fi)
{
	(void) ino;
	(void) fi;
	submit(req, OP_READ, size, off, 0, 0, NULL);
}

static void
sfs_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size,
		  off_t off, struct fuse_file_info *fi)
{
	(void) ino;
	(void) fi;
	submit(req, OP_WRITE, size, off, 0, 0, buf);
}

static void
sfs_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	(void) ino;
	(void) fi;
	submit(req, OP_FSYNC, 0, 0, 0, datasync, NULL);
}

static void
sfs_fallocate(fuse_req_t req, fuse_ino_t ino, int fmode, off_t off, off_t len,
			  struct fuse_file_info *fi)
{
	(void) ino;
	(void) fi;
	submit(req, OP_FALLOCATE, 0, off, len, fmode, NULL);
}

static void
sfs_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void) ino;
	(void) fi;
	fuse_reply_err(req, 0);
}

static void
sfs_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void) ino;
	(void) fi;
	fuse_reply_err(req, 0);
}

static void
sfs_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
			struct fuse_file_info *fi)
{
	char		buf[512];
	size_t		used = 0;
	struct stat st;
	static const struct
	{
		const char *name;
		fuse_ino_t	ino;
		mode_t		mode;
	}			ents[] = {
		{".", FUSE_ROOT_ID, S_IFDIR},
		{"..", FUSE_ROOT_ID, S_IFDIR},
		{FILE_NAME, FILE_INO, S_IFREG},
	};

	(void) fi;
	if (ino != FUSE_ROOT_ID)
	{
		fuse_reply_err(req, ENOTDIR);
		return;
	}
	for (off_t i = off; i < 3; i++)
	{
		size_t		n;

		memset(&st, 0, sizeof(st));
		st.st_ino = ents[i].ino;
		st.st_mode = ents[i].mode;
		n = fuse_add_direntry(req, buf + used, sizeof(buf) - used, ents[i].name,
							  &st, i + 1);
		if (used + n > size || used + n > sizeof(buf))
			break;
		used += n;
	}
	fuse_reply_buf(req, buf, used);
}

/* large requests as loop sends them, many in flight: the queue is ours */
static void
sfs_init(void *userdata, struct fuse_conn_info *conn)
{
	(void) userdata;
	conn->max_write = 1024 * 1024;
	conn->max_read = 1024 * 1024;
	conn->max_background = 256;
	conn->congestion_threshold = 192;
}

static const struct fuse_lowlevel_ops ops = {
	.init = sfs_init,
	.lookup = sfs_lookup,
	.getattr = sfs_getattr,
	.open = sfs_open,
	.read = sfs_read,
	.write = sfs_write,
	.flush = sfs_flush,
	.release = sfs_release,
	.fsync = sfs_fsync,
	.readdir = sfs_readdir,
	.fallocate = sfs_fallocate,
};

int
main(int argc, char **argv)
{
	struct fuse_args args = FUSE_ARGS_INIT(0, NULL);
	struct fuse_session *se;
	struct fuse_buf fbuf = {.mem = NULL};
	sigset_t	sigs;
	int			sfd;
	int			rc = 0;
	bool		quit = false;

	if (argc != 4 && argc != 5)
	{
		fprintf(stderr, "usage: stallfs BACKING MOUNTPOINT STATEFILE [BUDGETFILE]\n");
		return 2;
	}
	/* inherit nothing from the caller (a lock file, a pipe it waits on) */
	closefrom(3);
	state_path = argv[3];
	budget_path = argc == 5 ? argv[4] : NULL;
	backing_fd = open(argv[1], O_RDWR | O_CLOEXEC);
	if (backing_fd < 0)
		die("cannot open %s: %s", argv[1], strerror(errno));

	sigemptyset(&sigs);
	sigaddset(&sigs, SIGUSR1);
	sigaddset(&sigs, SIGUSR2);
	sigaddset(&sigs, SIGRTMIN);
	sigaddset(&sigs, SIGRTMIN + 1);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &sigs, NULL) != 0)
		die("sigprocmask: %s", strerror(errno));
	sfd = signalfd(-1, &sigs, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sfd < 0)
		die("signalfd: %s", strerror(errno));
	signal(SIGPIPE, SIG_IGN);
	timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (timer_fd < 0)
		die("timerfd_create: %s", strerror(errno));
	read_budget();

	if (fuse_opt_add_arg(&args, "stallfs") != 0 ||
		fuse_opt_add_arg(&args, "-o") != 0 ||
		fuse_opt_add_arg(&args, "fsname=iosat-stallfs,subtype=stallfs,max_read=1048576") != 0)
		die("out of memory");
	se = fuse_session_new(&args, &ops, sizeof(ops), NULL);
	if (se == NULL)
		die("fuse_session_new failed");
	if (fuse_session_mount(se, argv[2]) != 0)
		die("cannot mount on %s", argv[2]);
	write_state();

	while (!quit && !fuse_session_exited(se))
	{
		struct pollfd pfd[3] = {
			{.fd = fuse_session_fd(se),.events = POLLIN},
			{.fd = sfd,.events = POLLIN},
			{.fd = timer_fd,.events = POLLIN},
		};

		if (poll(pfd, 3, -1) < 0)
		{
			if (errno == EINTR)
				continue;
			rc = 1;
			break;
		}
		if (pfd[1].revents & POLLIN)
		{
			struct signalfd_siginfo si;

			while (read(sfd, &si, sizeof(si)) == (ssize_t) sizeof(si))
			{
				if (si.ssi_signo == SIGUSR1)
					set_mode(MODE_STALL);
				else if (si.ssi_signo == SIGUSR2)
					set_mode(MODE_PASS);
				else if ((int) si.ssi_signo == SIGRTMIN)
					set_mode(MODE_FAIL);
				else if ((int) si.ssi_signo == SIGRTMIN + 1)
					read_budget();
				else
					quit = true;
			}
		}
		if (pfd[2].revents & POLLIN)
		{
			uint64_t	ticks;

			(void) read(timer_fd, &ticks, sizeof(ticks));
			pump_budget();
		}
		if (!quit && (pfd[0].revents & (POLLIN | POLLERR | POLLHUP)))
		{
			int			n = fuse_session_receive_buf(se, &fbuf);

			if (n == -EINTR || n == -EAGAIN)
				continue;
			if (n <= 0)
				break;			/* unmounted (-ENODEV) or an error */
			fuse_session_process_buf(se, &fbuf);
		}
	}
	/* never leave a request unanswered: whoever waits on it would hang */
	if (mode == MODE_STALL)
		set_mode(MODE_PASS);
	budget_path = NULL;
	read_budget();
	free(fbuf.mem);
	fuse_session_unmount(se);
	fuse_session_destroy(se);
	fuse_opt_free_args(&args);
	close(backing_fd);
	unlink(state_path);
	return rc;
}
