/*-------------------------------------------------------------------------
 *
 * iouring.h
 *	  A process's io_uring worker threads (io-wq, "iou-wrk-<pid>") that are
 *	  performing its I/O now: PostgreSQL 18+ with io_method = io_uring.
 *
 *-------------------------------------------------------------------------
 */
#ifndef IOSAT_IOURING_H
#define IOSAT_IOURING_H

#include "postgres.h"

#include "collect/procfs.h"

/* the most worker threads of one process looked at */
#define IOSAT_IOURING_MAX_WORKERS	64

typedef struct IosatIoUringWorker
{
	int			tid;			/* the thread's id (/proc/<pid>/task/<tid>) */
	char		state;			/* 'D' or 'R' */
	char		wchan[IOSAT_WCHAN_LEN]; /* "" when running, or not asked */
} IosatIoUringWorker;

/*
 * The io_uring worker threads of process pid that are busy (in D or R; an
 * idle one sleeps in S), those in D first, at most max of them; returns
 * how many.  nthreads is the process's thread count from its stat: with 1,
 * nothing is read.
 */
extern int	iosat_iouring_workers(int pid, int nthreads, bool want_wchan,
								  IosatIoUringWorker *out, int max);

#endif							/* IOSAT_IOURING_H */
