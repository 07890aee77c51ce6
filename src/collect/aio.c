/*-------------------------------------------------------------------------
 *
 * aio.c
 *	  Which backend an I/O worker is working for (PostgreSQL 18+).
 *
 * With io_method = worker (18's default) a backend does not read its data
 * files itself: it hands the read to an io worker process and waits in S on
 * IO:AioIoCompletion, while the worker is the process in D, reporting
 * IO:DataFileRead.  The seed's question -- were the backends waiting on the
 * disk in D or S? -- then needs the link from each worker to the backend it
 * serves, which PostgreSQL does not publish: the worker takes a handle
 * number from its submission queue into a local variable.
 *
 * What is public is each handle (pgaio_ctl->io_handles, what pg_aios
 * shows): its owner's PGPROC number, its state, and the file descriptor
 * and offset of its read or write -- the worker's own descriptor, as the
 * worker reopens the file before the system call (smgr_aio_reopen).  An io
 * worker performs one I/O at a time, synchronously (pg_preadv or
 * pg_pwritev: storage/aio/aio_io.c), so while it is in that system call,
 * /proc/<pid>/syscall shows its number, descriptor and offset, and the one
 * handle in SUBMITTED state with that descriptor, offset and memory (its
 * iovecs, or the one buffer of a single-block read) is the one it
 * performs.  Handles are read without a lock the way pg_get_aios() reads
 * them: state and generation before, the fields, state and generation
 * again; a handle that changed in between is skipped.  Cost: one read of
 * /proc/<pid>/syscall and a pass over the handles (max_connections and
 * auxiliary processes times io_max_concurrency) per io worker looked at.
 *
 * /proc/<pid>/syscall needs ptrace access to the worker (same user, and not
 * forbidden by Yama's ptrace_scope); without it nothing is matched.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <sys/syscall.h>

#include "compat.h"
#include "collect/aio.h"
#include "collect/kparse.h"
#include "collect/procfs.h"

#ifdef IOSAT_HAVE_AIO
#include "storage/aio.h"
#include "storage/aio_internal.h"
#include "storage/proc.h"
#include "utils/wait_event.h"

/* the system calls pg_preadv and pg_pwritev make */
static bool
is_data_io(int64 nr)
{
	if (nr == SYS_pread64 || nr == SYS_preadv ||
		nr == SYS_pwrite64 || nr == SYS_pwritev)
		return true;
#ifdef SYS_preadv2
	if (nr == SYS_preadv2 || nr == SYS_pwritev2)
		return true;
#endif
	return false;
}

/*
 * The system call's second argument is the handle's own memory: its iovec
 * array (preadv, pwritev), or, for one block (pg_preadv calls pread), the
 * buffer it names.  Both are in shared memory, at the same address in
 * every process (fork).  fd numbers and offsets alone are not enough: a
 * handle not yet taken by a worker holds its owner's fd, one taken by
 * another worker that worker's, and every segment file starts at offset 0.
 */
static bool
same_buffers(int64 nr, uint64 arg, uint32 iovec_off)
{
	struct iovec *iov = &pgaio_ctl->iovecs[iovec_off];

	if (nr == SYS_pread64 || nr == SYS_pwrite64)
		return arg == (uint64) (uintptr_t) iov->iov_base;
	return arg == (uint64) (uintptr_t) iov;
}

bool
iosat_aio_served(int worker_pid, int *owner_procno, int *owner_pid)
{
	char		buf[256];
	ssize_t		len;
	int			err;
	KSyscall	sc;
	int			fd;
	uint64		offset;

	if (pgaio_ctl == NULL || pgaio_ctl->io_handles == NULL)
		return false;
	if (iosat_proc_read(worker_pid, "syscall", buf, sizeof(buf), &len, &err,
						NULL) != IOSAT_PROC_OK ||
		!kparse_proc_syscall(buf, (size_t) len, &sc) ||
		!sc.in_syscall || !is_data_io(sc.nr))
		return false;
	fd = (int) sc.args[0];
	offset = sc.args[3];		/* pread64's pos; preadv's pos_l, all of it on LP64 */

	for (uint32 i = 0; i < pgaio_ctl->io_handle_count; i++)
	{
		volatile PgAioHandle *h = &pgaio_ctl->io_handles[i];
		uint64		gen = h->generation;
		int			hfd;
		uint64		hoff;
		uint32		iovec_off;
		int			procno;
		int			pid;

		pg_read_barrier();
		if (h->state != PGAIO_HS_SUBMITTED)
			continue;
		if (h->op == PGAIO_OP_READV)
		{
			hfd = h->op_data.read.fd;
			hoff = h->op_data.read.offset;
		}
		else if (h->op == PGAIO_OP_WRITEV)
		{
			hfd = h->op_data.write.fd;
			hoff = h->op_data.write.offset;
		}
		else
			continue;
		iovec_off = h->iovec_off;
		procno = h->owner_procno;
		if (procno < 0 || procno >= (int) ProcGlobal->allProcCount)
			continue;
		pid = *((volatile int *) &ProcGlobal->allProcs[procno].pid);
		pg_read_barrier();
		if (h->generation != gen || h->state != PGAIO_HS_SUBMITTED)
			continue;			/* completed, or reused, while we looked */
		if (hfd == fd && hoff == offset && pid > 0 &&
			iovec_off < pgaio_ctl->iovec_count &&
			same_buffers(sc.nr, sc.args[1], iovec_off))
		{
			*owner_procno = procno;
			*owner_pid = pid;
			return true;
		}
	}
	return false;
}

/*
 * A backend's handles are io_max_concurrency consecutive ones from its
 * io_handle_off (aio_init.c); reading their states is a pass over shared
 * memory, no system call.  A handle is SUBMITTED from the moment its owner
 * hands it to the kernel (io_uring_submit, or an io worker's queue) until
 * its completion is processed, so this is what an io_uring worker thread
 * of the owner can be performing.  aio_io.c reports a synchronously
 * performed read as IO:DataFileRead, a write as IO:DataFileWrite.
 */
bool
iosat_aio_in_flight(int procno, uint32 *wait_event_info)
{
	uint32		off;
	bool		writes = false;

	/*
	 * (backend_state_count is never set in 18: the states are those of the
	 * handles' owners, io_max_concurrency handles each)
	 */
	if (pgaio_ctl == NULL || pgaio_ctl->io_handles == NULL ||
		pgaio_ctl->backend_state == NULL || io_max_concurrency <= 0 ||
		procno < 0 ||
		(uint64) procno * io_max_concurrency >= pgaio_ctl->io_handle_count)
		return false;
	off = pgaio_ctl->backend_state[procno].io_handle_off;
	for (uint32 i = 0; i < (uint32) io_max_concurrency &&
		 off + i < pgaio_ctl->io_handle_count; i++)
	{
		volatile PgAioHandle *h = &pgaio_ctl->io_handles[off + i];
		PgAioOp		op;

		if (h->state != PGAIO_HS_SUBMITTED)
			continue;
		pg_read_barrier();
		op = h->op;
		if (op == PGAIO_OP_READV)
		{
			*wait_event_info = WAIT_EVENT_DATA_FILE_READ;
			return true;
		}
		if (op == PGAIO_OP_WRITEV)
			writes = true;
	}
	if (writes)
		*wait_event_info = WAIT_EVENT_DATA_FILE_WRITE;
	return writes;
}

#else							/* !IOSAT_HAVE_AIO */

bool
iosat_aio_served(int worker_pid, int *owner_procno, int *owner_pid)
{
	return false;
}

bool
iosat_aio_in_flight(int procno, uint32 *wait_event_info)
{
	return false;
}

#endif
