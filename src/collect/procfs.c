/*-------------------------------------------------------------------------
 *
 * procfs.c
 *	  Reading /proc/<pid>: a file with the reason a read failed, the task
 *	  state and wchan; and the map from pids to PGPROCs (a pid, then its
 *	  PGPROC, checked again after the read: a PGPROC whose pid changed was
 *	  given up).  PostgreSQL-aware, but writes no shared state.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <fcntl.h>
#include <unistd.h>

#include "miscadmin.h"
#include "storage/proc.h"

#include "collect/devices.h"
#include "collect/kparse.h"
#include "collect/procfs.h"

/*
 * The letters of fs/proc/array.c's task_state_array, and the letters of
 * older kernels (K, W, x).  D covers both TASK_UNINTERRUPTIBLE and
 * TASK_KILLABLE: a backend reading a page sleeps killable, shows D, counts
 * in the load average, and still dies on SIGKILL once the read returns.
 */
const char *
iosat_task_state_name(char state)
{
	switch (state)
	{
		case 'R':
			return "running";
		case 'S':
			return "sleeping";
		case 'D':
			return "disk sleep";
		case 'T':
			return "stopped";
		case 't':
			return "tracing stop";
		case 'X':
		case 'x':
			return "dead";
		case 'Z':
			return "zombie";
		case 'P':
			return "parked";
		case 'I':
			return "idle";
		case 'K':
			return "wakekill";
		case 'W':
			return "waking";
	}
	return "unknown";
}

double
iosat_clock_ticks(void)
{
	static double hz = 0;

	if (hz <= 0)
	{
		long		v = sysconf(_SC_CLK_TCK);

		hz = v > 0 ? (double) v : 100.0;
	}
	return hz;
}

static IosatProcRead
classify_errno(int err)
{
	if (err == ENOENT || err == ESRCH)
		return IOSAT_PROC_GONE;
	if (err == EACCES || err == EPERM)
		return IOSAT_PROC_DENIED;
	return IOSAT_PROC_FAILED;
}

/*
 * Read /proc/<pid>/<file> whole.  An empty read means the process is gone:
 * every file iosat reads prints something while the process exists.
 *
 * With fd non-NULL, the file is kept open in *fd (-1: not open yet) and
 * re-read with pread() at offset 0, which makes the kernel generate it
 * afresh; that costs a third of open/read/close (measured: /proc/<pid>/stat
 * 3.1 us instead of 7.5 us).  The descriptor stays bound to the process it
 * was opened for: once that process has exited it reads ESRCH or nothing,
 * even if its pid has been reused, and is closed here.  When no descriptor
 * can be had (EMFILE), the file is read without keeping one.
 */
IosatProcRead
iosat_proc_read(int pid, const char *file, char *buf, size_t size,
				ssize_t *len, int *err, int *fd)
{
	char		path[MAXPGPATH];
	ssize_t		n;

	*err = 0;
	*len = 0;
	if (fd != NULL && *fd < 0)
	{
		iosat_procfs_path(path, sizeof(path), "/%d/%s", pid, file);
		*fd = open(path, O_RDONLY | O_CLOEXEC);
		if (*fd < 0 && errno != EMFILE && errno != ENFILE)
		{
			*err = errno;
			return classify_errno(*err);
		}
	}
	if (fd != NULL && *fd >= 0)
	{
		do
		{
			n = pread(*fd, buf, size, 0);
		} while (n < 0 && errno == EINTR);
		if (n <= 0)
		{
			*err = n < 0 ? errno : 0;
			close(*fd);
			*fd = -1;
			return n == 0 ? IOSAT_PROC_GONE : classify_errno(*err);
		}
		*len = n;
		return IOSAT_PROC_OK;
	}

	iosat_procfs_path(path, sizeof(path), "/%d/%s", pid, file);
	n = iosat_read_small_file(path, buf, size);
	if (n < 0)
	{
		*err = errno;
		return classify_errno(*err);
	}
	if (n == 0)
		return IOSAT_PROC_GONE;
	*len = n;
	return IOSAT_PROC_OK;
}

/* wchan, truncated rather than dropped when the symbol is very long */
bool
iosat_read_wchan(int pid, char *wchan, size_t wchanlen, IosatProcRead *res, int *fd)
{
	char		buf[256];
	char		sym[256];
	ssize_t		n;
	int			err;

	wchan[0] = '\0';
	*res = iosat_proc_read(pid, "wchan", buf, sizeof(buf), &n, &err, fd);
	if (*res != IOSAT_PROC_OK)
		return false;
	if (!kparse_wchan(buf, n, sym, sizeof(sym)))
	{
		*res = IOSAT_PROC_FAILED;
		return false;
	}
	strlcpy(wchan, sym, wchanlen);
	return true;
}

/*
 * The task state letter (and, when asked, the parent pid and the number of
 * threads) from /proc/<pid>/stat and, when asked and the task is not
 * running, the kernel function it sleeps in.  Used by the profiler, which
 * reads nothing else; fds, when not NULL, are its two kept descriptors
 * (stat, wchan) for this process.
 */
IosatProcRead
iosat_task_state(int pid, bool want_wchan, char *state, int *ppid,
				 int *nthreads, char *wchan, size_t wchanlen, int *fds)
{
	char		buf[1024];
	ssize_t		n;
	int			err;
	KProcStat	st;
	IosatProcRead res;

	wchan[0] = '\0';
	res = iosat_proc_read(pid, "stat", buf, sizeof(buf), &n, &err,
						  fds ? &fds[0] : NULL);
	if (res != IOSAT_PROC_OK)
		return res;
	if (!kparse_proc_stat(buf, n, &st))
		return IOSAT_PROC_FAILED;
	*state = st.state;
	if (ppid)
		*ppid = st.ppid;
	if (nthreads)
		*nthreads = st.num_threads > 0 && st.num_threads < PG_INT32_MAX ?
			(int) st.num_threads : 1;
	if (want_wchan && st.state != 'R')
	{
		if (!iosat_read_wchan(pid, wchan, wchanlen, &res, fds ? &fds[1] : NULL) &&
			res == IOSAT_PROC_GONE)
			return IOSAT_PROC_GONE;
	}
	return IOSAT_PROC_OK;
}

static int
pidproc_cmp(const void *a, const void *b)
{
	int			pa = ((const IosatPidProc *) a)->pid;
	int			pb = ((const IosatPidProc *) b)->pid;

	return (pa > pb) - (pa < pb);
}

/*
 * Every PGPROC in use (backends, auxiliary processes, background workers),
 * sorted by pid.  No lock: pid is read once per slot, and callers re-check
 * it after reading /proc, as pg_stat_activity reads wait_event_info.
 */
int
iosat_collect_procs(IosatPidProc *out, int max)
{
	int			n = 0;
	uint32		count = ProcGlobal->allProcCount;

	for (uint32 i = 0; i < count && n < max; i++)
	{
		PGPROC	   *proc = &ProcGlobal->allProcs[i];
		int			pid = *((volatile int *) &proc->pid);

		if (pid <= 0)
			continue;
		out[n].pid = pid;
		out[n].proc = proc;
		n++;
	}
	qsort(out, n, sizeof(IosatPidProc), pidproc_cmp);
	return n;
}

PGPROC *
iosat_find_proc(const IosatPidProc *procs, int n, int pid)
{
	IosatPidProc key;
	IosatPidProc *hit;

	key.pid = pid;
	key.proc = NULL;
	hit = bsearch(&key, procs, n, sizeof(IosatPidProc), pidproc_cmp);
	return hit ? hit->proc : NULL;
}

uint32
iosat_proc_wait_event(PGPROC *proc)
{
	return *((volatile uint32 *) &proc->wait_event_info);
}


/* a /proc directory entry that names a process or thread: digits only */
bool
iosat_all_digits(const char *s)
{
	if (*s == '\0')
		return false;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}
