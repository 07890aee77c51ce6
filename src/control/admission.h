/*-------------------------------------------------------------------------
 *
 * admission.h
 *	  Admission control: the executor hooks that queue or reject heavy
 *	  statements while the storage is saturated.
 *
 *-------------------------------------------------------------------------
 */
#ifndef IOSAT_ADMISSION_H
#define IOSAT_ADMISSION_H

#include "postgres.h"



/* from _PG_init: the executor hooks */
extern void iosat_admission_install_hooks(void);

/* bumped when iosat.exempt_roles or a role membership changes */
extern uint64 iosat_exempt_roles_gen;

#endif							/* IOSAT_ADMISSION_H */
