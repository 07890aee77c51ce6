/*-------------------------------------------------------------------------
 *
 * memcg.h
 *	  The server's write debt: the page cache its memory cgroup holds dirty
 *	  or under write-back.  See collect/memcg.c.
 *
 *-------------------------------------------------------------------------
 */
#ifndef IOSAT_MEMCG_H
#define IOSAT_MEMCG_H

#include "postgres.h"

/* the longest name of a source (the cgroup's path in it) kept */
#define IOSAT_MEMCG_SOURCE_LEN 256


/*
 * The bytes the server's cgroup (or, without one, the whole system) holds
 * dirty or under write-back; false when no source can be read.  The source
 * is found on the first call and again after iosat_write_debt_forget().
 */
extern bool iosat_write_debt_read(uint64 *bytes, char *source, size_t sourcelen,
								  bool *new_source);
extern void iosat_write_debt_forget(void);

#endif							/* IOSAT_MEMCG_H */
