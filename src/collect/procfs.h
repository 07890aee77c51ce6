/*-------------------------------------------------------------------------
 *
 * procfs.h
 *	  One process's kernel state from /proc/<pid> (task state, wchan, the
 *	  files the views read), and the map from pids to PostgreSQL's PGPROCs.
 *	  Used by the profiler, the sampler's BPF source and the views; writes
 *	  no shared state.
 *
 *-------------------------------------------------------------------------
 */
#ifndef IOSAT_PROCFS_H
#define IOSAT_PROCFS_H

#include "postgres.h"

#include "storage/proc.h"

#define IOSAT_WCHAN_LEN		48	/* kernel function, e.g. "folio_wait_bit_common" */

/* what a read of /proc/<pid>/<file> came to */
typedef enum IosatProcRead
{
	IOSAT_PROC_OK = 0,
	IOSAT_PROC_GONE,			/* the process exited (ENOENT, ESRCH, empty) */
	IOSAT_PROC_DENIED,			/* EACCES, EPERM */
	IOSAT_PROC_FAILED			/* anything else, or unparsable content */
} IosatProcRead;

/* a pid and its PGPROC, sorted by pid for bsearch */
typedef struct IosatPidProc
{
	int			pid;
	PGPROC	   *proc;
} IosatPidProc;

extern IosatProcRead iosat_proc_read(int pid, const char *file, char *buf,
									 size_t size, ssize_t *len, int *err,
									 int *fd);
extern IosatProcRead iosat_task_state(int pid, bool want_wchan, char *state,
									  int *ppid, int *nthreads, char *wchan,
									  size_t wchanlen, int *fds);
extern const char *iosat_task_state_name(char state);
/* the kernel function a process sleeps in ("" when it runs) */
extern bool iosat_read_wchan(int pid, char *wchan, size_t wchanlen,
							 IosatProcRead *res, int *fd);
extern int	iosat_collect_procs(IosatPidProc *out, int max);
extern PGPROC *iosat_find_proc(const IosatPidProc *procs, int n, int pid);
extern uint32 iosat_proc_wait_event(PGPROC *proc);
extern double iosat_clock_ticks(void);

extern bool iosat_all_digits(const char *s);

#endif							/* IOSAT_PROCFS_H */
