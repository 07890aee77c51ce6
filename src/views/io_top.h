/*-------------------------------------------------------------------------
 *
 * io_top.h
 *	  What io_top.c lends to another view besides its SQL functions: the
 *	  BPF columns of iosat_proc_info() (iosat_backends, backends.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef IOSAT_IO_TOP_H
#define IOSAT_IO_TOP_H

#include "views/views.h"

/* append the BPF columns of iosat_proc_info() for pid (0: hidden) */
extern void iosat_put_bpf_proc_io(IosatRow *row, int pid);

#endif							/* IOSAT_IO_TOP_H */
