/*-------------------------------------------------------------------------
 *
 * iouring.c
 *	  A process's io_uring worker threads that are performing its I/O now
 *	  (PostgreSQL 18+, io_method = io_uring).
 *
 * With io_method = io_uring a backend hands its reads to the kernel through
 * its ring and waits in S (io_cqring_wait, IO:AioIoUringExecution).  What
 * the kernel does with a buffered read that misses the page cache depends
 * on how it was submitted (measured on Linux 6.18 with PostgreSQL 18.6,
 * test/matrix/RESULTS.md):
 *
 * - one or a few reads in flight (a bitmap heap scan's single page): the
 *   kernel starts the read and completes it from the page's unlock, through
 *   a callback; no task sleeps in D, and the kernel's load average counts
 *   nobody (the backend is in S);
 * - more than four in flight (a read stream's look-ahead: sequential and
 *   bitmap heap scans, vacuum), PostgreSQL asks for IOSQE_ASYNC, and the
 *   kernel performs each read in an io-wq worker, a thread of the backend's
 *   own thread group named "iou-wrk-<pid>", which sleeps in D
 *   (folio_wait_bit_common) while the read waits for the device, and is
 *   counted in the load average;
 * - reads PostgreSQL 18 performs synchronously (ReadBuffer(): an index
 *   scan's heap fetch) are the backend's own: it is in D with
 *   IO:DataFileRead, as without asynchronous I/O.
 *
 * /proc/<pid>/stat describes the main thread only.  Here the threads of
 * one process are listed from /proc/<pid>/task, and those named
 * "iou-wrk-" that are in D or R (an idle one waits in S, in io_wq_worker)
 * are returned.  Callers look only where it can find something: a process
 * with more than one thread (its stat says how many), and, in the periodic
 * profiler and iosat_backends, with I/O in flight (collect/aio.c).  An io-wq
 * worker that has been idle for a while exits, but the last one of a ring
 * stays: a backend that once read through io-wq keeps a thread.
 *
 * The kernel names these threads "iou-wrk-<pid of the submitter>"; the
 * name is cut at 15 characters, so only the prefix is compared.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <dirent.h>

#include "collect/devices.h"
#include "collect/iouring.h"
#include "collect/kparse.h"
#include "collect/procfs.h"

#define IOURING_WORKER_PREFIX	"iou-wrk-"

/* one thread of pid: is it a busy io_uring worker?  Fills *w if so */
static bool
busy_worker(int pid, int tid, bool want_wchan, IosatIoUringWorker *w)
{
	char		path[MAXPGPATH];
	char		buf[1024];
	char		sym[256];
	ssize_t		n;
	KProcStat	st;

	iosat_procfs_path(path, sizeof(path), "/%d/task/%d/stat", pid, tid);
	n = iosat_read_small_file(path, buf, sizeof(buf));
	if (n <= 0 || !kparse_proc_stat(buf, n, &st))
		return false;			/* exited meanwhile */
	if (strncmp(st.comm, IOURING_WORKER_PREFIX,
				strlen(IOURING_WORKER_PREFIX)) != 0 ||
		(st.state != 'D' && st.state != 'R'))
		return false;
	w->tid = tid;
	w->state = st.state;
	w->wchan[0] = '\0';
	if (want_wchan && st.state != 'R')
	{
		iosat_procfs_path(path, sizeof(path), "/%d/task/%d/wchan", pid, tid);
		n = iosat_read_small_file(path, buf, sizeof(buf));
		if (n > 0 && kparse_wchan(buf, n, sym, sizeof(sym)))
			strlcpy(w->wchan, sym, sizeof(w->wchan));
	}
	return true;
}

int
iosat_iouring_workers(int pid, int nthreads, bool want_wchan,
					  IosatIoUringWorker *out, int max)
{
	char		dir[MAXPGPATH];
	DIR		   *dh;
	struct dirent *de;
	int			n = 0;
	int			nd = 0;

	if (nthreads <= 1 || max <= 0)
		return 0;
	iosat_procfs_path(dir, sizeof(dir), "/%d/task", pid);
	dh = opendir(dir);
	if (dh == NULL)
		return 0;				/* exited */
	while (n < max && (de = readdir(dh)) != NULL)
	{
		long		tid;
		IosatIoUringWorker w;

		if (!iosat_all_digits(de->d_name))
			continue;
		tid = strtol(de->d_name, NULL, 10);
		if (tid <= 0 || tid > PG_INT32_MAX || tid == pid)
			continue;
		if (!busy_worker(pid, (int) tid, want_wchan, &w))
			continue;
		/* those in D first: swap the first running one to the end */
		if (w.state == 'D')
		{
			if (nd < n)
				out[n] = out[nd];
			out[nd++] = w;
		}
		else
			out[n] = w;
		n++;
	}
	closedir(dh);
	return n;
}
