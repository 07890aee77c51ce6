#!/usr/bin/env bash
# Print, for one PostgreSQL server include dir, where the APIs that
# src/compat.h cares about are declared (file:line: text).  Used to write
# test/matrix/FACTS.md:   bash test/matrix/facts.sh /var/cache/iosat-pg/pg17/include/server
set -uo pipefail
inc=${1:?usage: facts.sh <prefix>/include/server}
cd "$inc" || exit 2
show() {   # label, extended regex, [files...]
    local label=$1 re=$2; shift 2
    local files=("$@"); [ ${#files[@]} -eq 0 ] && files=(.)
    printf '## %s\n' "$label"
    grep -rHnE --include='*.h' "$re" "${files[@]}" 2>/dev/null | sed 's#^\./##' | head -12
    [ "${PIPESTATUS[0]}" -eq 0 ] || true
}
decl() {   # label, extended regex, file: print each matching declaration joined up to its ';'
    local label=$1 re=$2 f=$3
    printf '## %s\n' "$label"
    [ -f "$f" ] || return 0
    awk -v re="$re" -v f="$f" '
        !inside && $0 ~ re { inside = 1; start = NR; text = "" }
        inside { line = $0; gsub(/[ \t]+/, " ", line); text = text line;
                 if (line ~ /;/) { print f ":" start ":" text; inside = 0 } }' "$f"
}
echo "# $(grep -h 'define PG_VERSION_STR\|define PG_VERSION ' pg_config.h)"
decl ExecutorStart_hook_type    'typedef .*\(\*ExecutorStart_hook_type\)' executor/executor.h
decl ExecutorRun_hook_type      'typedef .*\(\*ExecutorRun_hook_type\)' executor/executor.h
decl ExecutorStart/Run          '^extern .*(standard_)?Executor(Start|Run)\(' executor/executor.h
show ExecutorFinish_End_hooks   'typedef .*\(\*Executor(Finish|End)_hook_type\)' executor/executor.h
decl ProcessUtility_hook_type   'typedef void \(\*ProcessUtility_hook_type\)' tcop/utility.h
show queryjumble_header         'JumbleQuery|compute_query_id' utils/queryjumble.h nodes/queryjumble.h
show queryId_type               '(u?int64)[[:space:]]+queryId' nodes/parsenodes.h nodes/plannodes.h
show bgw_library_name           'bgw_(library|function)_name\[|define BGW_MAXLEN|define MAXPGPATH' postmaster/bgworker.h pg_config_manual.h
show WaitEventExtensionNew      'WaitEventExtensionNew|WAIT_EVENT_EXTENSION|PG_WAIT_EXTENSION' utils/wait_event.h utils/wait_event_types.h utils/wait_classes.h
decl ResourceOwnerFuncs         'extern .*(ResourceOwnerRemember|ResourceOwnerForget|RegisterResourceReleaseCallback)\(' utils/resowner.h
show ResourceOwnerDesc          'typedef struct ResourceOwnerDesc|ResourceOwnerRemember\(|ResourceOwnerForget\(|ResourceOwnerEnlarge\(|RegisterResourceReleaseCallback|ResourceOwnerEnlarge[A-Z]' utils/resowner.h
show AutoVacuumCost             'AutoVacuumUpdate(Delay|CostLimit)|VacuumUpdateCosts' postmaster/autovacuum.h commands/vacuum.h
show VacuumCostPage             'VacuumCostPage(Hit|Miss|Dirty)|VacuumCostBalance\b|VacuumCostBalanceLocal|VacuumCostActive|VacuumCostLimit|VacuumCostDelay|VacuumPage(Hit|Miss|Dirty)' miscadmin.h commands/vacuum.h
show VacuumFailsafeActive       'VacuumFailsafeActive' commands/vacuum.h
show GUCPrefix                  'MarkGUCPrefixReserved|EmitWarningsOnPlaceholders' utils/guc.h
show pgstat_beentry             'pgstat_get_backend_current_activity|pgstat_get_local_beentry_by_(index|proc_number|backend_id)|pgstat_fetch_stat_local_beentry|pgstat_fetch_stat_beentry|pgstat_fetch_stat_numbackends|pgstat_get_beentry_by_' utils/backend_status.h
show procnumber                 'int[[:space:]]+pgprocno;|GetNumberFromPGProc|MyProcNumber|GetPGProcByNumber|ProcNumber MyProcNumber|BackendId[[:space:]]+MyBackendId' storage/proc.h storage/procnumber.h storage/backendid.h miscadmin.h
show shmem_request_hook         'shmem_request_hook|shmem_startup_hook' miscadmin.h storage/ipc.h
decl InstrAlloc                 'InstrAlloc\(' executor/instrument.h
show BufferUsage_times          '(blk_(read|write)_time|shared_blk_|local_blk_|temp_blk_)' executor/instrument.h
show pgBufferUsage              'pgBufferUsage|pgWalUsage' executor/instrument.h
show BackendType                'B_AUTOVAC_WORKER|B_AUTOVAC_LAUNCHER|MyBackendType|B_BG_WORKER|B_BACKEND\b' miscadmin.h
show AmAutoVacuumWorker         'AmAutoVacuumWorkerProcess|IsAutoVacuumWorkerProcess|AmBackgroundWorkerProcess|AmRegularBackendProcess' miscadmin.h postmaster/autovacuum.h
show _PG_init                   '_PG_init' fmgr.h
show pgstat_io                  'pgstat_fetch_stat_io|PgStat_IO|IOOBJECT_RELATION|IOCONTEXT_NORMAL' pgstat.h
show AIO_backend_io             'B_IO_WORKER|AmIoWorkerProcess|IOMETHOD_(SYNC|WORKER|IO_URING)|pgstat_fetch_stat_backend(_by_pid)?\(' miscadmin.h storage/aio.h pgstat.h
