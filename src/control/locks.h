/*-------------------------------------------------------------------------
 *
 * locks.h
 *	  Does this backend hold something that a heavy statement holding an
 *	  admission slot could be waiting for (locks.c)?
 *
 *-------------------------------------------------------------------------
 */
#ifndef IOSAT_LOCKS_H
#define IOSAT_LOCKS_H

#include "postgres.h"

#include "nodes/pg_list.h"

/*
 * What this backend's transaction (or session) holds that others could
 * wait for, in words for a log line, or NULL when nothing.  rtable: the
 * range table of the statement being admitted (its own relation locks,
 * taken at parse and plan time, do not count), or NIL.  Takes the lock
 * manager's partition locks in shared mode: call it only when the
 * statement would otherwise wait.
 */
extern const char *iosat_held_lock_others_may_wait_for(List *rtable);

#endif							/* IOSAT_LOCKS_H */
