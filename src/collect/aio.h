/*-------------------------------------------------------------------------
 *
 * aio.h
 *	  Which backend an I/O worker is working for (PostgreSQL 18+,
 *	  io_method = worker), and whether a backend has I/O in flight.
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

/*
 * Whether the process with PGPROC number procno has asynchronous I/O in
 * flight (issued to the kernel, not completed), and the wait event a
 * process performing it reports: IO:DataFileRead for a read (also when it
 * has writes in flight too), IO:DataFileWrite for a write.  Always false
 * before PostgreSQL 18.
 */
extern bool iosat_aio_in_flight(int procno, uint32 *wait_event_info);

#endif							/* IOSAT_AIO_H */
