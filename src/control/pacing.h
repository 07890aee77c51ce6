/*-------------------------------------------------------------------------
 *
 * pacing.h
 *	  Pacing of running heavy statements (pacing.c): while the storage is
 *	  pressed, a heavy statement that is already running reads and dirties
 *	  at most the governor's pace rate.
 *
 *-------------------------------------------------------------------------
 */
#ifndef IOSAT_PACING_H
#define IOSAT_PACING_H

#include "postgres.h"

#include "executor/execdesc.h"
#include "executor/instrument.h"

/*
 * The I/O this backend has caused, in blocks: read from storage (buffer
 * misses, temporary files), buffers dirtied (each a write to come, from
 * this backend, the background writer, the checkpointer or the kernel)
 * and temporary-file blocks written.  What pacing counts.
 */
static inline int64
iosat_blocks_io_now(void)
{
	return pgBufferUsage.shared_blks_read + pgBufferUsage.local_blks_read +
		pgBufferUsage.temp_blks_read +
		pgBufferUsage.shared_blks_dirtied + pgBufferUsage.local_blks_dirtied +
		pgBufferUsage.temp_blks_written;
}

/* backend: pace this statement, right after its ExecutorStart */
extern void iosat_pace_statement(QueryDesc *queryDesc);

/*
 * parallel worker: pace its part of the plan, right after its
 * ExecutorStart, if its leader paces the statement (one budget for all)
 */
extern void iosat_pace_parallel_worker(QueryDesc *queryDesc);

#endif							/* IOSAT_PACING_H */
