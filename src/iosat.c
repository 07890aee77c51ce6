/*-------------------------------------------------------------------------
 *
 * iosat.c
 *	  Module entry point: parameters, shared memory, the sampler worker.
 *
 * iosat must be in shared_preload_libraries: its state lives in shared
 * memory sized at server start and its sampler is a background worker
 * registered by the postmaster.  Loaded any other way, it installs nothing
 * and every SQL entry point raises an error that names the setting.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"

#include "guc.h"
#include "control/admission.h"
#include "compat.h"
#include "state/queue.h"
#include "state/shared.h"
#include "state/shmem.h"
#include "state/querystats.h"
#include "state/paceshare.h"
#include "profiler/profile.h"
#include "sampler/sampler.h"
#include "control/vacuum.h"

PG_MODULE_MAGIC;

static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

static void
iosat_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(iosat_shmem_size());
	RequestAddinShmemSpace(iosat_profile_shmem_size());
	RequestAddinShmemSpace(iosat_querystats_shmem_size());
	iosat_admission_shmem_request();
	RequestAddinShmemSpace(iosat_vacuum_shmem_size());
	RequestAddinShmemSpace(iosat_pace_shmem_size());
}

static void
iosat_shmem_startup(void)
{
	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	iosat_shmem_init();
	iosat_profile_shmem_init();
	iosat_querystats_shmem_init();
	iosat_admission_shmem_init();
	iosat_vacuum_shmem_init();
	iosat_pace_shmem_init();
	LWLockRelease(AddinShmemInitLock);
}

void
_PG_init(void)
{
	/*
	 * Loaded by CREATE EXTENSION or a function call in a server that did not
	 * preload us: install nothing.  iosat_check_loaded() reports it.
	 */
	if (!process_shared_preload_libraries_in_progress)
		return;

	iosat_preloaded = true;
	iosat_define_gucs();

	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = iosat_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = iosat_shmem_startup;

	iosat_register_sampler();
	iosat_register_profiler();

	/* admission control and per-queryid learning need query ids */
	EnableQueryId();
	iosat_admission_install_hooks();

	/* vacuum backpressure: the tick in autovacuum workers, manual VACUUM */
	iosat_vacuum_install();
}

