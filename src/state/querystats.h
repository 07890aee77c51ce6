/*-------------------------------------------------------------------------
 *
 * querystats.h
 *	  What each statement (by queryid) costs in I/O, learned at ExecutorEnd.
 *
 *-------------------------------------------------------------------------
 */
#ifndef IOSAT_QUERYSTATS_H
#define IOSAT_QUERYSTATS_H

#include "postgres.h"

#include "executor/instrument.h"

#include "guc.h"
#include "state/shared.h"

/*
 * What a statement did to storage, from this backend's pgBufferUsage and
 * pgWalUsage (no syscall): blocks read (shared, local and temporary),
 * blocks dirtied (shared and local buffers it dirtied, and temporary-file
 * blocks it wrote: each is a write the device gets, from this backend or
 * later from the background writer, the checkpointer or the kernel),
 * blocks the backend wrote itself, and WAL bytes.
 */
typedef struct IosatStmtIo
{
	uint64		blocks_read;
	uint64		blocks_dirtied;
	uint64		blocks_written;
	uint64		wal_bytes;
} IosatStmtIo;

static inline void
iosat_stmt_io_now(IosatStmtIo *io)
{
	io->blocks_read = pgBufferUsage.shared_blks_read +
		pgBufferUsage.local_blks_read + pgBufferUsage.temp_blks_read;
	io->blocks_dirtied = pgBufferUsage.shared_blks_dirtied +
		pgBufferUsage.local_blks_dirtied + pgBufferUsage.temp_blks_written;
	io->blocks_written = pgBufferUsage.shared_blks_written +
		pgBufferUsage.local_blks_written + pgBufferUsage.temp_blks_written;
	io->wal_bytes = pgWalUsage.wal_bytes;
}

/* *io becomes what was done since it was taken (never below 0) */
static inline void
iosat_stmt_io_since(IosatStmtIo *io)
{
	IosatStmtIo now;

	iosat_stmt_io_now(&now);
#define IOSAT_SINCE(f) (io->f = now.f > io->f ? now.f - io->f : 0)
	IOSAT_SINCE(blocks_read);
	IOSAT_SINCE(blocks_dirtied);
	IOSAT_SINCE(blocks_written);
	IOSAT_SINCE(wal_bytes);
#undef IOSAT_SINCE
}

/*
 * Heavy by its reads or by its writes (iosat.cheap_reads,
 * iosat.cheap_writes), per call
 */
static inline bool
iosat_io_is_heavy(double reads, double dirtied)
{
	return reads >= iosat_cheap_reads || dirtied >= iosat_cheap_writes;
}

/* a consistent copy of an entry (iosat_queries) */
typedef struct IosatQuerySnapshot
{
	uint64		queryid;
	uint64		calls;
	IosatStmtIo io;
	uint64		rows;
	uint64		queued;
	uint64		rejected;
	IosatDecision last_decision;
} IosatQuerySnapshot;


extern Size iosat_querystats_shmem_size(void);
extern void iosat_querystats_shmem_init(void);

extern IosatQueryTable *iosat_query_table(void);
/* entry i's figures, read under its lock; false when the entry is free */
extern bool iosat_query_snapshot(int i, IosatQuerySnapshot *snap);
/* forget every queryid (iosat_queries_reset) */
extern void iosat_query_reset(void);
/* backend-local cache in front of the table; see querystats.c */
extern void iosat_query_record(uint64 queryid, const IosatStmtIo *io, uint64 rows);
extern void iosat_query_flush(void);
extern void iosat_query_note_decision(uint64 queryid, IosatDecision d);
extern const char *iosat_decision_name(IosatDecision d);

/*
 * Lock-free, no allocation: blocks read and dirtied per call learned so far
 * for queryid; false when there is no history (unknown, untracked, or its
 * entry changed hands while it was read).
 */
extern bool iosat_query_per_call(uint64 queryid, double *reads, double *dirtied);

#endif							/* IOSAT_QUERYSTATS_H */
