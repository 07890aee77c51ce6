/*-------------------------------------------------------------------------
 *
 * pacing.h
 *	  Read pacing of running heavy statements (pacing.c): while the storage
 *	  is pressed, a heavy statement that is already running reads at most
 *	  the governor's pace rate.
 *
 *-------------------------------------------------------------------------
 */
#ifndef IOSAT_PACING_H
#define IOSAT_PACING_H

#include "postgres.h"

#include "executor/execdesc.h"
#include "executor/instrument.h"

/* blocks this backend has read from storage (buffer misses, temp files) */
static inline int64
iosat_blocks_read_now(void)
{
	return pgBufferUsage.shared_blks_read + pgBufferUsage.local_blks_read +
		pgBufferUsage.temp_blks_read;
}

/* backend: pace this statement, right after its ExecutorStart */
extern void iosat_pace_statement(QueryDesc *queryDesc);

/*
 * parallel worker: pace its part of the plan, right after its
 * ExecutorStart, if its leader paces the statement (one budget for all)
 */
extern void iosat_pace_parallel_worker(QueryDesc *queryDesc);

#endif							/* IOSAT_PACING_H */
