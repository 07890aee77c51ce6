/*-------------------------------------------------------------------------
 *
 * aio.h
 *	  Which backend an I/O worker is working for (PostgreSQL 18+,
 *	  io_method = worker).
 *
 *-------------------------------------------------------------------------
 */
#ifndef IOSAT_AIO_H
#define IOSAT_AIO_H

#include "postgres.h"

/*
 * The backend whose read or write the io worker worker_pid is performing
 * at this moment: its PGPROC number and pid.  False when it performs none
 * (idle, running between two I/Os, not an io worker), when its system call
 * cannot be read, and always before PostgreSQL 18.
 */
extern bool iosat_aio_served(int worker_pid, int *owner_procno, int *owner_pid);

#endif							/* IOSAT_AIO_H */
