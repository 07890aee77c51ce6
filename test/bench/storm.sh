#!/bin/bash
# The storm matrix: every way an IOPS death spiral arrives (issue 15).
#
# Builds a device that behaves like a provisioned-IOPS cloud volume at its
# ceiling, a throwaway PostgreSQL cluster on it (16MB shared_buffers, the
# server in a memory cgroup so the page cache cannot hold the data), loads
# one data set for every scenario, and then, per scenario and per
# configuration back to back (a reset in between):
#   warm-up, baseline   cheap OLTP arrivals at a fixed rate (pgbench -R)
#   storm               + the scenario's trigger (heavy statements, VACUUM, ...)
#   after               trigger cancelled, arrivals continue
# It prints per scenario, configuration and phase: cheap tps, p50/p95/p99,
# errors, heavy work done (statements, bytes read/written by the heavy
# processes), device use against the ceiling, aqu-sz, r_await, backends in D,
# load, recovery; and writes CSVs, gnuplot PNGs and markdown under
# test/bench/results/<timestamp>/ (per scenario in <scenario>/, the matrix in
# summary.md; copied to results/latest/).
#
# usage: test/bench/storm.sh [--short] [--scenario read,transactions,...] [--configs stock,queue,reject]
#            [--volume shared|split] [--iops N] [--mbps N] [--read-iops N --write-iops N]
#            [--rate TPS] [--clients N] [--phases WARM,BASE,STORM,AFTER]
#            [--memcg-mb N] [--name NAME] [--out DIR] [--no-latest] [--keep]
# Runs as root. Everything it creates is torn down on exit, Ctrl-C included.
#
# Volumes (--volume):
#   shared (default)  ext4 on a loop device over a file served by stallfs
#                     (test/lib/stallfs.c) with ONE token bucket for reads and
#                     writes: --iops per second (default 1000), one token per
#                     started 256 KiB, and a throughput ceiling of --mbps MiB/s
#                     (default 40: gp3's ratio, 3000 IOPS to 125 MiB/s) paid
#                     from the same bucket; 1 ms base latency, burst 16 --
#                     EBS gp3/io2, Azure premium disks.
#   split             ext4 on loopA -> loopB -> file, blk-throttle on loopB with
#                     separate read and write ceilings (--read-iops, --write-iops):
#                     Google persistent disks; the rig of the first storm runs.
# Scenarios (--scenario; default all, in this order):
#   read          heavy bitmap scans that discard every row (autocommit) + a
#                 VACUUM at autovacuum's default cost delay
#   transactions  the same heavy statements inside BEGIN ... COMMIT, after a
#                 cheap read in the same transaction (+ the VACUUM); the cheap
#                 pgbench transaction is BEGIN ... END in every scenario
#   prepared      the heavy statement through the extended protocol (pgbench
#                 -M prepared) and through SQL PREPARE / EXECUTE (+ the VACUUM)
#   parallel      eight dashboards, each a daily breakdown for a range of
#                 customers (SELECT date_trunc('day', ts), count(*), avg(), ...
#                 FROM cold WHERE k1 BETWEEN x AND x + 10000 GROUP BY 1): the
#                 customer key is uncorrelated with the heap order, so ~23k
#                 rows lie on ~19k of the cold table's 65k pages (the table is
#                 bigger than the cgroup's memory); the planner picks a
#                 Parallel Bitmap Heap Scan (max_parallel_workers_per_gather
#                 = 4 in their sessions, max_parallel_workers 32), random
#                 reads prefetched at effective_io_concurrency
#   maintenance   REFRESH MATERIALIZED VIEW and CREATE TABLE AS built from the
#                 incident's index scan (two of each), CREATE INDEX on the cold
#                 table
#   writes        a backfill: four sessions, each UPDATE cold SET k2 = k2 + 1
#                 WHERE k1 BETWEEN x AND x + 5000 (~11k rows on ~10k pages
#                 of a table bigger than memory, read by a prefetching bitmap
#                 heap scan; every page it visits is dirtied, and its first
#                 change after a checkpoint is a full-page image in WAL that
#                 every commit's WAL flush then carries), + four INSERT ...
#                 SELECT of 20% of bulk and DELETE; checkpoint_timeout = 30s
#   autovacuum    the real autovacuum workers, cheap load only: a nightly
#                 retention job left 30% dead tuples in every partition of
#                 events (8 x 300k rows, a primary key and a secondary index
#                 each), in vac_target and in bulk, and they cross their
#                 thresholds together in busy hours; the hot OLTP table has
#                 the per-table scale factor a DBA gives a large hot table
#                 (0.002). The server is set as a DBA sets it for many tables
#                 on a provisioned volume: autovacuum_max_workers = 6,
#                 autovacuum_vacuum_cost_limit = 2000 (delay 2ms, the
#                 default), naptime 1s; checkpoint_timeout = 30s puts into the
#                 40-s storm the checkpoint that a vacuum of real tables
#                 always runs into. Each worker reads sequentially, but every
#                 page it prunes is dirtied and, first touched after a
#                 checkpoint, logged whole: the cheap commits queue on WAL
#                 locks behind that WAL, the workers' reads evict the cheap
#                 load's pages from the page cache, and the checkpoint's
#                 fsync then writes back what they dirtied
#   mixed         two read loops, one each of transactions, prepared, writes
#                 (the backfill UPDATE since round 4; the 2026-12-03 run had
#                 an UPDATE of 20% of bulk) and maintenance, + the VACUUM
# Every heavy client retries a second after an error, as applications do.
# Configurations (--configs; default stock,queue,reject, and pgbouncer on
# `read`): test/bench/configs/<name>.conf, the same file for every scenario;
# @CEILING@ in it becomes what the docs tell a DBA to set for the volume
# (shared: iosat.iops_limit = N and iosat.throughput_limit = '<--mbps>MB'; split:
# iosat.read_iops_limit = R and
# iosat.write_iops_limit = W).
# --short: scenario read, stock and queue, 10+25+40+45 s (~7 min): the demo.
# full:    8 scenarios x 3 configurations + pgbouncer, 10+20+40+45 s each.
set -euo pipefail
shopt -s inherit_errexit

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib/common.sh
. "$here/lib/common.sh"

ALL_SCENARIOS=read,transactions,prepared,parallel,maintenance,writes,autovacuum,mixed

# ---------------------------------------------------------------- parameters
SHORT=0
SCENARIOS=""
CONFIGS=""
VOLUME=shared
IOPS=1000
MBPS=40
READ_IOPS=400
WRITE_IOPS=1200
RATE=""
CLIENTS=80
PHASES=""
MEMCG_MB=384
NAME=storm
OUT=""
LATEST=1
KEEP=0
PGPORT_BENCH=${PGPORT_BENCH:-5491}
BOUNCER_PORT=${BOUNCER_PORT:-6491}

usage() { sed -n '/^# usage:/,/^# Runs as root/p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
while [[ $# -gt 0 ]]; do
	case $1 in
	--short) SHORT=1 ;;
	--scenario | --scenarios) SCENARIOS=$2; shift ;;
	--configs) CONFIGS=$2; shift ;;
	--volume) VOLUME=$2; shift ;;
	--iops) IOPS=$2; shift ;;
	--mbps) MBPS=$2; shift ;;
	--read-iops) READ_IOPS=$2; shift ;;
	--write-iops) WRITE_IOPS=$2; shift ;;
	--rate) RATE=$2; shift ;;
	--clients) CLIENTS=$2; shift ;;
	--phases) PHASES=$2; shift ;;
	--memcg-mb) MEMCG_MB=$2; shift ;;
	--name) NAME=$2; shift ;;
	--out) OUT=$2; shift ;;
	--no-latest) LATEST=0 ;;
	--keep) KEEP=1 ;;
	-h | --help) usage ;;
	*) echo "unknown option $1" >&2; usage ;;
	esac
	shift
done
[[ $EUID -eq 0 ]] || bench_die "run as root (it creates loop devices and cgroups)"
[[ $VOLUME == shared || $VOLUME == split ]] || bench_die "--volume is shared or split"
if ((SHORT)); then
	: "${SCENARIOS:=read}"
	: "${CONFIGS:=stock,queue}"
	: "${PHASES:=10,25,40,45}"
else
	: "${SCENARIOS:=$ALL_SCENARIOS}"
	: "${PHASES:=10,20,40,45}"
fi
EXPLICIT_CONFIGS=$CONFIGS
: "${CONFIGS:=stock,queue,reject}"
# the cheap load: ~75% of the ceiling in the baseline (calibrated, see
# docs/benchmarks.md)
if [[ -z $RATE ]]; then
	if [[ $VOLUME == shared ]]; then RATE=300; else RATE=330; fi
fi
IFS=, read -r P_WARM P_BASE P_STORM P_AFTER <<<"$PHASES"
for v in IOPS MBPS READ_IOPS WRITE_IOPS CLIENTS P_WARM P_BASE P_STORM P_AFTER MEMCG_MB RATE; do
	[[ ${!v} =~ ^[0-9]+$ ]] || bench_die "bad value for $v: '${!v}'"
done
IFS=, read -r -a SCN_LIST <<<"$SCENARIOS"
for s in "${SCN_LIST[@]}"; do
	[[ ,$ALL_SCENARIOS, == *,$s,* ]] || bench_die "unknown scenario '$s' (scenarios: $ALL_SCENARIOS)"
done
IFS=, read -r -a CFG_LIST <<<"$CONFIGS"
for c in "${CFG_LIST[@]}"; do
	[[ $c =~ ^[a-z0-9_-]+$ && -f $here/configs/$c.conf ]] || bench_die "no configuration '$c' (test/bench/configs/$c.conf)"
done

# data set (rows): the incident's table, the OLTP table, VACUUM's target, a
# cold table bigger than the server's memory, a table for bulk writes
CORE_ROWS=1000000
OLTP_ROWS=2000000
VAC_ROWS=500000
COLD_ROWS=2400000
BULK_ROWS=1000000
EVENTS_ROWS=2400000
EVENTS_PARTS=8
HEAVY_ACCOUNTS=12
HEAVY_ROWS=40000
VAC_DEAD_PCT=10
AV_DEAD_PCT=30
# parallel: a dashboard's customer range (k1 is uniform over 0..1e6, 2.4 rows
# per value: ~23k rows on ~19k of cold's 65k pages); writes: a backfill's
# range (~11k rows on ~10k pages)
DASH_RANGE=10000
BACKFILL_RANGE=5000
# concurrent heavy clients of `read` (3 s apart: reports keep arriving)
HEAVY=4
STAGGER=3
EIC=16
# The trigger's VACUUM is throttled the way autovacuum's is by default on
# 15-18 (autovacuum_vacuum_cost_delay 2ms, cost limit 200): by page counts,
# which on these devices is no limit at all. PARALLEL 0: autovacuum never
# vacuums indexes in parallel workers.
VAC_COST_DELAY=2ms
SIZE_MB=8192

STAMP=$(date +%Y%m%d-%H%M%S)
: "${OUT:=$here/results/storm-$STAMP}"
mkdir -p "$OUT/raw"

# ---------------------------------------------------------------- teardown
BG_PIDS=()
MNT=""
PGDATA=""
RAW="$OUT/raw"
cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	set +e
	touch "$RAW/.stop" 2>/dev/null
	for p in "${BG_PIDS[@]}"; do
		kill "$p" 2>/dev/null
	done
	if [[ -n $PGDATA && -f $PGDATA/postmaster.pid ]]; then
		stop_bouncer
		if ((KEEP)); then
			bench_log "--keep: leaving the server and device '$NAME' (test/lib/rootctl destroy $NAME)"
			exit "$rc"
		fi
		as_pg pg_ctl -D "$PGDATA" -m immediate -w -t 30 stop >/dev/null 2>&1
	fi
	if ((!KEEP)); then
		"$ROOTCTL" destroy "$NAME" >/dev/null
	fi
	wait 2>/dev/null
	bench_log "torn down (exit $rc)"
	exit "$rc"
}
trap cleanup EXIT
trap 'bench_log "interrupted"; exit 130' INT TERM

# ---------------------------------------------------------------- volume
# set_ceiling on|off: the volume's budget (off while loading and resetting)
set_ceiling() {
	if [[ $VOLUME == shared ]]; then
		if [[ $1 == on ]]; then "$ROOTCTL" fuse-budget "$NAME" "$IOPS" 16 1000 "$MBPS" >/dev/null; else "$ROOTCTL" fuse-budget "$NAME" 0 >/dev/null; fi
	else
		if [[ $1 == on ]]; then "$ROOTCTL" throttle "$NAME" "$READ_IOPS" "$WRITE_IOPS" >/dev/null; else "$ROOTCTL" throttle "$NAME" 0 0 >/dev/null; fi
	fi
}

# ---------------------------------------------------------------- server
SOCK=""
start_server() {
	# the subshell joins the memory cgroup first, so the postmaster and every
	# process it forks are charged there (page cache included)
	(
		"$ROOTCTL" memcg-add "$NAME" "$BASHPID" >/dev/null
		exec runuser -u "$PG_USER" -- "$PGBIN/pg_ctl" -D "$PGDATA" -l "$SERVER_LOG" -w -t 120 start
	) >/dev/null 2>&1
}
stop_server() {
	as_pg pg_ctl -D "$PGDATA" -m fast -w -t 60 stop >/dev/null 2>&1 ||
		as_pg pg_ctl -D "$PGDATA" -m immediate -w -t 30 stop >/dev/null 2>&1 || true
}
q() { PGHOST=$SOCK PGPORT=$PGPORT_BENCH PGDATABASE=bench psql_q "$1"; }

BOUNCER_PID=""
start_bouncer() { # POOL_SIZE POOL_MODE
	local ini="$RAW/pgbouncer.ini"
	printf '"%s" ""\n' "$PG_USER" >"$RAW/userlist.txt"
	cat >"$ini" <<-EOF2
		[databases]
		bench = host=$SOCK port=$PGPORT_BENCH dbname=bench
		[pgbouncer]
		listen_addr =
		listen_port = $BOUNCER_PORT
		unix_socket_dir = $SOCK
		auth_type = trust
		auth_file = $RAW/userlist.txt
		pool_mode = $2
		default_pool_size = $1
		max_client_conn = 400
		ignore_startup_parameters = extra_float_digits
		logfile = $RAW/pgbouncer.log
		pidfile = $SOCK/pgbouncer.pid
		admin_users = $PG_USER
	EOF2
	chown "$PG_USER:" "$ini" "$RAW/userlist.txt"
	as_pg pgbouncer -d -q "$ini"
	local i
	for i in $(seq 1 50); do
		[[ -S $SOCK/.s.PGSQL.$BOUNCER_PORT ]] && break
		sleep 0.1
	done
	BOUNCER_PID=$(cat "$SOCK/pgbouncer.pid")
}
stop_bouncer() {
	if [[ -n $BOUNCER_PID ]]; then
		kill -INT "$BOUNCER_PID" 2>/dev/null || true
		local i
		for i in $(seq 1 30); do kill -0 "$BOUNCER_PID" 2>/dev/null || break; sleep 0.2; done
		kill -KILL "$BOUNCER_PID" 2>/dev/null || true
		BOUNCER_PID=""
	fi
}

# ---------------------------------------------------------------- setup
bench_log "results: $OUT"
{
	machine_description
	echo "machine_state_at_start: $(machine_busy_note)"
	if [[ $VOLUME == shared ]]; then
		echo "device: shared (ext4 on loop -> stallfs file; one token bucket for reads and writes) iops=$IOPS mbps=$MBPS burst=16 latency_us=1000"
	else
		echo "device: split (ext4 on loopA -> loopB -> file; blkio throttle on loopB) read_iops=$READ_IOPS write_iops=$WRITE_IOPS"
	fi
	echo "workload: core_rows=$CORE_ROWS oltp_rows=$OLTP_ROWS vac_rows=$VAC_ROWS cold_rows=$COLD_ROWS bulk_rows=$BULK_ROWS events_rows=$EVENTS_ROWS in $EVENTS_PARTS partitions heavy_accounts=$HEAVY_ACCOUNTS x $HEAVY_ROWS rows"
	echo "oltp: pgbench -R $RATE -c $CLIENTS (BEGIN; pk read + update; END)"
	echo "phases_s: warm=$P_WARM baseline=$P_BASE storm=$P_STORM after=$P_AFTER"
	echo "server: shared_buffers=16MB memcg_limit_mb=$MEMCG_MB effective_io_concurrency=$EIC"
	echo "scenarios: $SCENARIOS"
	echo "configs: $CONFIGS"
} >"$OUT/machine.txt"

if [[ $VOLUME == shared ]]; then
	# the FUSE daemon behind the volume, root-owned next to rootctl
	sf=$REPO_DIR/test/lib/stallfs
	if [[ ! -x $sf || $sf -ot $REPO_DIR/test/lib/stallfs.c ]]; then
		bench_log "building $sf"
		# shellcheck disable=SC2046 # pkg-config's flags are words
		cc -O2 -Wall -Wextra -o "$sf" "$REPO_DIR/test/lib/stallfs.c" $(pkg-config --cflags --libs fuse3) ||
			bench_die "cannot build stallfs (apt-get install libfuse3-dev fuse3 pkg-config)"
		chmod 755 "$sf"
	fi
fi
"$ROOTCTL" destroy "$NAME" >/dev/null 2>&1 || true
bench_log "creating the $VOLUME volume '$NAME' (${SIZE_MB} MB, unthrottled while loading)"
if [[ $VOLUME == shared ]]; then
	devinfo=$("$ROOTCTL" fuse-create "$NAME" "$SIZE_MB")
	LOWER=""
	STALLFS_STATE=/run/iosat-test/$NAME/stallfs.state
else
	devinfo=$("$ROOTCTL" stack-create "$NAME" "$SIZE_MB" 0 0)
	LOWER=$(sed -n 's|^lower=/dev/||p' <<<"$devinfo")
	STALLFS_STATE=""
fi
DEV=$(sed -n 's|^dev=/dev/||p' <<<"$devinfo")
MNT=$(sed -n 's|^mnt=||p' <<<"$devinfo")
"$ROOTCTL" memcg-create "$NAME" "$MEMCG_MB" >/dev/null
MEMCG_DIR=/sys/fs/cgroup/memory/iosat-test/$NAME
PGDATA=$MNT/pgdata
SOCK=$MNT/run
SERVER_LOG=$RAW/server.log
install -d -o "$PG_USER" -m 0700 "$SOCK"
chown -R "$PG_USER:" "$OUT"
echo "device_dev: $DEV${LOWER:+ lower: $LOWER}" >>"$OUT/machine.txt"

bench_log "initdb"
as_pg initdb -D "$PGDATA" -A trust -U "$PG_USER" --no-sync >"$RAW/initdb.log" 2>&1 || bench_die "initdb failed: $RAW/initdb.log"
cat >"$PGDATA/bench_base.conf" <<EOF2
# storm benchmark base settings (every scenario, every configuration)
listen_addresses = ''
port = $PGPORT_BENCH
unix_socket_directories = '$SOCK'
max_connections = $((CLIENTS + 60))
shared_buffers = 16MB
effective_io_concurrency = $EIC
jit = off
max_wal_size = 4GB
checkpoint_timeout = 30min
track_io_timing = on
log_line_prefix = '%m [%p] %a '
log_min_duration_statement = -1
log_lock_waits = off
log_autovacuum_min_duration = 0
EOF2
cat >>"$PGDATA/postgresql.conf" <<EOF2
include = 'bench_base.conf'
include_if_exists = 'bench_scenario.conf'
include_if_exists = 'bench_config.conf'
EOF2
: >"$PGDATA/bench_config.conf"
: >"$PGDATA/bench_scenario.conf"
chown "$PG_USER:" "$PGDATA"/bench_*.conf
start_server || bench_die "server did not start: $SERVER_LOG"
as_pg createdb -h "$SOCK" -p "$PGPORT_BENCH" bench

bench_log "loading data"
t0=$(date +%s)
PGHOST=$SOCK PGPORT=$PGPORT_BENCH PGDATABASE=bench as_pg psql -X -q -A \
	-v core_rows="$CORE_ROWS" -v oltp_rows="$OLTP_ROWS" -v vac_rows="$VAC_ROWS" \
	-v cold_rows="$COLD_ROWS" -v bulk_rows="$BULK_ROWS" -v events_rows="$EVENTS_ROWS" -v events_parts="$EVENTS_PARTS" \
	-v heavy_accounts="$HEAVY_ACCOUNTS" -v heavy_rows="$HEAVY_ROWS" \
	-f "$here/sql/load.sql" >"$RAW/load.log" 2>&1 || bench_die "load failed: $RAW/load.log"
bench_log "loaded in $(($(date +%s) - t0)) s"
HEAVY_SQL="SELECT id FROM core_lead WHERE account_id = %s AND payload @> '{\"status\": \"vip\"}' AND deleted_at IS NULL"
# a dashboard's daily breakdown for a range of customers (Parallel Bitmap
# Heap Scan: random reads, prefetched)
COLD_SQL="SELECT date_trunc('day', ts) AS day, count(*), avg(k2), max(k2), sum(length(payload)) FROM cold WHERE k1 BETWEEN %s AND %s GROUP BY 1"
# shellcheck disable=SC2059
q "EXPLAIN (COSTS OFF) $(printf "$HEAVY_SQL" 1)" >"$RAW/heavy_plan.txt"
# shellcheck disable=SC2059
q "EXPLAIN (COSTS OFF) $(printf "$COLD_SQL" 500000 $((500000 + DASH_RANGE)))" >"$RAW/cold_plan.txt"
{
	echo "heavy_plan: $(tr -s ' \n' ' ' <"$RAW/heavy_plan.txt")"
	echo "parallel_plan: $(tr -s ' \n' ' ' <"$RAW/cold_plan.txt")"
} >>"$OUT/machine.txt"
grep -v NOTICE "$RAW/load.log" >"$OUT/dataset.txt" || true

# ---------------------------------------------------------------- one configuration
# conf_directive FILE WORD: the rest of a "#@ WORD ..." line
conf_directive() { sed -n "s/^#@ $2\( \|$\)//p" "$1" | head -n 1; }
conf_has_directive() { grep -q "^#@ $2\( \|\$\)" "$1"; }

# check_config CONF: after start, every iosat.* setting must be known and equal
check_config() {
	local conf=$1 line k v have
	if grep -q "^[[:space:]]*shared_preload_libraries.*iosat" "$conf"; then
		have=$(q "SHOW shared_preload_libraries") || { echo "cannot query the server"; return 1; }
		[[ $have == *iosat* ]] || { echo "iosat not in shared_preload_libraries ($have)"; return 1; }
	fi
	while IFS= read -r line; do
		[[ $line =~ ^[[:space:]]*(iosat\.[a-z_]+)[[:space:]]*=[[:space:]]*(.*)$ ]] || continue
		k=${BASH_REMATCH[1]}
		v=${BASH_REMATCH[2]%%#*}
		v=$(sed -e "s/[[:space:]]*$//" -e "s/^'\(.*\)'$/\1/" <<<"$v")
		# in effect when pg_settings says its value came from our snippet (units
		# and spellings differ: '20ms' is shown as 20 with unit ms)
		have=$(q "SELECT current_setting(name) || '|' || coalesce(sourcefile, source) FROM pg_settings WHERE name = '$k'")
		[[ -n $have ]] || { echo "$k not recognised by the loaded iosat"; return 1; }
		[[ ${have#*|} == */bench_config.conf ]] || { echo "$k = '${have%%|*}' (from ${have#*|}), not '$v' from the config"; return 1; }
	done <"$conf"
	return 0
}

# hq ARGS...: a psql of the heavy work (application_name storm_heavy)
hq() {
	PGHOST=$SOCK PGPORT=$PORT PGDATABASE=bench PGAPPNAME=storm_heavy \
		as_pg psql -X -q -A -t -v ON_ERROR_STOP=1 -v VERBOSITY=verbose "$@"
}

# unit KIND ID N: one unit of a trigger's heavy work; prints the number of
# heavy statements it ran on stdout (stderr: the error, if any)
unit() {
	local kind=$1 id=$2 n=$3 acct lo
	acct=$((1 + (id * 5 + n) % HEAVY_ACCOUNTS))
	# shellcheck disable=SC2059
	case $kind in
	read)
		hq -c "$(printf "$HEAVY_SQL" "$acct")" >/dev/null && echo 1 ;;
	tx)
		# as JDBC / Django / Spring send it: separate messages in one transaction
		hq -c "BEGIN" -c "SELECT balance FROM oltp WHERE id = $((acct * 1000))" \
			-c "$(printf "$HEAVY_SQL" "$acct")" -c "COMMIT" >/dev/null && echo 1 ;;
	prep_sql)
		hq -c "PREPARE h(int) AS $(printf "$HEAVY_SQL" '$1')" -c "EXECUTE h($acct)" \
			-c "EXECUTE h($((1 + acct % HEAVY_ACCOUNTS)))" >/dev/null && echo 2 ;;
	prep_proto)
		PGAPPNAME=storm_heavy as_pg "$PGBIN/pgbench" -n -h "$SOCK" -p "$PORT" -M prepared -c 1 -t 2 \
			-f "$RAW/heavy.pgbench" -D heavy_accounts="$HEAVY_ACCOUNTS" bench >/dev/null 2>"$RAW/.pgb.$id" ||
			{ grep -m1 -E 'ERROR|FATAL|error' "$RAW/.pgb.$id" >&2; return 1; }
		echo 2 ;;
	parallel)
		# a dashboard's aggregate: up to 4 workers per Gather, a range of
		# customers of its own
		lo=$(((id * 7919 + n * 104729) % (1000000 - DASH_RANGE)))
		hq -c "SET max_parallel_workers_per_gather = 4" -c "$(printf "$COLD_SQL" "$lo" $((lo + DASH_RANGE)))" >/dev/null && echo 1 ;;
	refresh)
		# a report built from the incident's index scan
		hq -c "REFRESH MATERIALIZED VIEW acct_mv_$((id % 2))" && echo 1 ;;
	ctas)
		hq -c "DROP TABLE IF EXISTS ctas_$id" \
			-c "CREATE TABLE ctas_$id AS SELECT * FROM core_lead WHERE account_id = $acct AND deleted_at IS NULL" && echo 1 ;;
	index)
		hq -c "DROP INDEX IF EXISTS cold_ix_$id" -c "CREATE INDEX cold_ix_$id ON cold (k1, k2)" && echo 1 ;;
	update)
		# a backfill over a range of customers: rows scattered over a table
		# bigger than memory (Bitmap Heap Scan), every page it visits dirtied
		lo=$(((id * 7919 + n * 104729) % (1000000 - BACKFILL_RANGE)))
		hq -c "UPDATE cold SET k2 = k2 + 1 WHERE k1 BETWEEN $lo AND $((lo + BACKFILL_RANGE))" && echo 1 ;;
	insdel)
		hq -c "INSERT INTO bulk_log SELECT * FROM bulk WHERE id % 5 = $(((n + id) % 5))" -c "DELETE FROM bulk_log" && echo 2 ;;
	*) echo "unknown unit $kind" >&2; return 2 ;;
	esac
}

# trigger KIND ID: the unit, again and again until the storm ends; a second
# after an error, as an application retries
trigger() {
	local kind=$1 id=$2 n=0 t0 t1 rc err out
	while [[ ! -e $RAW/.stop ]]; do
		n=$((n + 1))
		t0=$(date +%s.%N)
		out=$(unit "$kind" "$id" "$n" 2>"$RAW/.err.$kind.$id") && rc=0 || rc=$?
		t1=$(date +%s.%N)
		err=$(head -n 1 "$RAW/.err.$kind.$id" | tr ',\n' ';  ')
		echo "$CFG,$kind$id,$kind,${out:-0},$t0,$t1,$rc,$err" >>"$RAW/heavy.csv"
		[[ $rc -eq 0 ]] || sleep 1
	done
}

vacuum_once() {
	local t0 t1 rc err
	t0=$(date +%s.%N)
	err=$(PGHOST=$SOCK PGPORT=$PGPORT_BENCH PGDATABASE=bench PGAPPNAME=storm_vacuum \
		as_pg psql -X -q -c "SET vacuum_cost_delay = '$VAC_COST_DELAY'" -c "VACUUM (PARALLEL 0) vac_target" 2>&1 >/dev/null) && rc=0 || rc=$?
	t1=$(date +%s.%N)
	echo "$CFG,vacuum,vacuum,1,$t0,$t1,$rc,$(head -n 1 <<<"$err" | tr ',\n' ';  ')" >>"$RAW/heavy.csv"
}

# the scenario's trigger: what starts at the storm (list of KIND:COUNT, and
# "vacuum" for the manual VACUUM, "autovacuum" for the real workers)
scenario_trigger() {
	case $1 in
	read) echo "vacuum read:$HEAVY" ;;
	transactions) echo "vacuum tx:$HEAVY" ;;
	prepared) echo "vacuum prep_proto:2 prep_sql:2" ;;
	parallel) echo "parallel:8" ;;
	maintenance) echo "refresh:2 ctas:2 index:1" ;;
	writes) echo "update:4 insdel:4" ;;
	autovacuum) echo "autovacuum" ;;
	mixed) echo "vacuum read:2 tx:1 prep_sql:1 update:1 ctas:1" ;;
	esac
}
# server settings of a scenario (bench_scenario.conf)
scenario_conf() {
	case $1 in
	parallel) printf '%s\n' "max_worker_processes = 48" "max_parallel_workers = 32" ;;
	writes) echo "checkpoint_timeout = 30s" ;;
	autovacuum) printf '%s\n' "autovacuum_naptime = 1s" "autovacuum_max_workers = 6" "autovacuum_vacuum_cost_limit = 2000" "checkpoint_timeout = 30s" ;;
	esac
}
# the dead tuples each configuration starts from: vac_target (VACUUM's and
# autovacuum's target), bulk and events' partitions (autovacuum's others)
scenario_dead_pct() {
	case $1 in
	autovacuum) echo "$AV_DEAD_PCT $AV_DEAD_PCT $AV_DEAD_PCT" ;;
	*) echo "$VAC_DEAD_PCT 0 0" ;;
	esac
}

run_config() {
	CFG=$1
	local conf="$here/configs/$CFG.conf" reason pool mode ceiling
	local d="$RAW/$CFG"
	mkdir -p "$d"
	chown "$PG_USER:" "$d"
	bench_log "=== $SCN / $CFG"
	stop_server
	if [[ $VOLUME == shared ]]; then
		ceiling="iosat.iops_limit = $IOPS\niosat.throughput_limit = '${MBPS}MB'"
	else
		ceiling="iosat.read_iops_limit = $READ_IOPS\niosat.write_iops_limit = $WRITE_IOPS"
	fi
	sed -e "s/^#\?[[:space:]]*@CEILING@.*/$ceiling/" "$conf" >"$PGDATA/bench_config.conf"
	scenario_conf "$SCN" >"$PGDATA/bench_scenario.conf"
	local logmark
	logmark=$(wc -l <"$SERVER_LOG")
	if ! start_server; then
		reason=$(tail -n +"$((logmark + 1))" "$SERVER_LOG" | grep -E 'FATAL|PANIC' | tail -n 2 | sed 's/^.*\(FATAL\|PANIC\):  //' | tr '\n' ' ')
		reason=${reason:-server did not start}
		bench_log "config unavailable: $CFG: $reason"
		echo "$CFG,unavailable,\"${reason//\"/\'}\",,,,,,," >>"$OUT/runs.csv"
		: >"$PGDATA/bench_config.conf"
		start_server || bench_die "server does not start even without the config snippet"
		return 0
	fi
	if ! reason=$(check_config "$PGDATA/bench_config.conf"); then
		bench_log "config unavailable: $CFG: $reason"
		echo "$CFG,unavailable,\"${reason//\"/\'}\",,,,,,," >>"$OUT/runs.csv"
		return 0
	fi
	IOSAT_LOADED=0
	if [[ $(q "SHOW shared_preload_libraries") == *iosat* ]]; then
		IOSAT_LOADED=1
		q "CREATE EXTENSION IF NOT EXISTS iosat" >/dev/null 2>&1 || bench_log "note: CREATE EXTENSION iosat failed (views unavailable)"
	fi

	local dead
	read -r -a dead <<<"$(scenario_dead_pct "$SCN")"
	bench_log "reset (unthrottled): leftovers, dead tuples (${dead[*]} %), checkpoint"
	set_ceiling off
	PGHOST=$SOCK PGPORT=$PGPORT_BENCH PGDATABASE=bench as_pg psql -X -q -v vac_dead_pct="${dead[0]}" \
		-v bulk_dead_pct="${dead[1]}" -v events_dead_pct="${dead[2]}" -f "$here/sql/reset.sql" >>"$d/reset.log" 2>&1 || bench_die "reset failed: $d/reset.log"
	set_ceiling on
	# a volume does not turn from unthrottled to throttled under a running
	# server: restart, so that iosat (which learns the latency the volume
	# usually shows) starts on the volume as it is, and stock alike
	stop_server
	start_server || bench_die "server did not restart after the reset: $SERVER_LOG"
	"$ROOTCTL" memcg-empty "$NAME" >/dev/null
	q "SELECT pg_prewarm('oltp_pkey', 'read')" >/dev/null
	sleep 2

	PORT=$PGPORT_BENCH
	if conf_has_directive "$conf" pgbouncer; then
		local dir
		dir=$(conf_directive "$conf" pgbouncer)
		pool=$(sed -n 's/.*pool_size=\([0-9]*\).*/\1/p' <<<"$dir")
		mode=$(sed -n 's/.*pool_mode=\([a-z]*\).*/\1/p' <<<"$dir")
		start_bouncer "${pool:-10}" "${mode:-transaction}"
		PORT=$BOUNCER_PORT
	fi

	rm -f "$RAW/.stop"
	ctl_open
	"$PY" "$here/lib/sampler.py" --dev "$DEV" ${LOWER:+--lower "$LOWER"} --out "$d/samples.csv" \
		--pidfile "$PGDATA/postmaster.pid" --memcg "$MEMCG_DIR" ${STALLFS_STATE:+--stallfs-state "$STALLFS_STATE"} \
		--psql-cmd "runuser -u $PG_USER -- $PGBIN/psql -X -q -A -t -h $SOCK -p $PGPORT_BENCH -d bench" &
	local sampler=$!
	BG_PIDS+=("$sampler")

	local total=$((P_WARM + P_BASE + P_STORM + P_AFTER))
	local t_start t_base t_storm t_stop t_end
	t_start=$(date +%s.%N)
	(cd "$d" && exec runuser -u "$PG_USER" -- "$PGBIN/pgbench" -n -h "$SOCK" -p "$PORT" -c "$CLIENTS" -j 2 \
		-R "$RATE" -T "$total" -f "$here/oltp.pgbench" -D oltp_rows="$OLTP_ROWS" \
		-l --log-prefix="$d/pgbench_log" bench >"$d/pgbench.out" 2>"$d/pgbench.err") &
	local pgb=$!
	BG_PIDS+=("$pgb")
	sleep "$P_WARM"
	t_base=$(date +%s.%N)
	sleep "$P_BASE"

	local trig
	trig=$(scenario_trigger "$SCN")
	bench_log "$SCN/$CFG: storm ($trig)"
	iosat_snapshot "$d/iosat_before_storm.txt"
	t_storm=$(date +%s.%N)
	local hp=() item kind cnt i started=0
	for item in $trig; do
		case $item in
		vacuum) vacuum_once & hp+=($!) ;;
		autovacuum)
			# the two tables with dead tuples, and the hot OLTP table with the
			# per-table scale factor a DBA gives a large hot table
			ctl_q "ALTER TABLE vac_target SET (autovacuum_enabled = true)" >/dev/null
			ctl_q "ALTER TABLE bulk SET (autovacuum_enabled = true)" >/dev/null
			for ((i = 0; i < EVENTS_PARTS; i++)); do
				ctl_q "ALTER TABLE events_$i SET (autovacuum_enabled = true)" >/dev/null
			done
			ctl_q "ALTER TABLE oltp SET (autovacuum_enabled = true, autovacuum_vacuum_scale_factor = 0.002)" >/dev/null ;;
		*)
			kind=${item%%:*} cnt=${item##*:}
			for ((i = 0; i < cnt; i++)); do
				# reports keep arriving: 3 s apart
				((started++ == 0)) || sleep "$STAGGER"
				trigger "$kind" "$i" &
				hp+=($!)
			done ;;
		esac
	done
	BG_PIDS+=("${hp[@]}")
	local left
	left=$(awk -v a="$t_storm" -v b="$(date +%s.%N)" -v p="$P_STORM" 'BEGIN { x = p - (b - a); print (x > 0 ? x : 0) }')
	sleep "$left"

	bench_log "$SCN/$CFG: trigger off (cancel the heavy work), arrivals continue"
	t_stop=$(date +%s.%N)
	touch "$RAW/.stop"
	if [[ $trig == *autovacuum* ]]; then
		# no new workers (a per-table ALTER would wait for the running
		# worker's lock); reset.sql switches it back on
		ctl_q "ALTER SYSTEM SET autovacuum = off" 20 >/dev/null || true
		ctl_q "SELECT pg_reload_conf()" 20 >/dev/null || true
	fi
	ctl_q "EXECUTE storm_cancel" 20 >/dev/null ||
		bench_log "warning: cancel through the control session failed"
	bench_log "$SCN/$CFG: trigger cancelled in $(awk -v a="$t_stop" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }') s"
	iosat_snapshot "$d/iosat_in_storm.txt"
	for i in "${hp[@]}"; do wait "$i" 2>/dev/null || true; done
	wait "$pgb" 2>/dev/null || true
	t_end=$(date +%s.%N)
	kill "$sampler" 2>/dev/null || true
	wait "$sampler" 2>/dev/null || true
	iosat_snapshot "$d/iosat_after.txt"
	ctl_close
	stop_bouncer
	local aborted
	aborted=$(grep -c 'aborted' "$d/pgbench.err" || true)
	echo "$CFG,ok,,$t_start,$t_base,$t_storm,$t_stop,$t_end,$aborted,$PORT" >>"$OUT/runs.csv"
	bench_log "$SCN/$CFG: done ($(grep -E '^(number of transactions actually processed|latency average|tps)' "$d/pgbench.out" | tr '\n' ' '))"
}

# A control session opened before the storm: during the storm a new connection
# takes many seconds (its catalog reads queue behind everyone else's), which
# would delay the trigger stop and the snapshots.
CTL_PID=""
ctl_open() {
	coproc CTL { exec runuser -u "$PG_USER" -- "$PGBIN/psql" -X -q -A -t -h "$SOCK" -p "$PGPORT_BENCH" -d bench 2>&1; }
	CTL_PID=$CTL_PID
	BG_PIDS+=("$CTL_PID")
	ctl_q "SET application_name = 'storm_control'" >/dev/null
	# straight from shared memory (the pg_stat_activity view joins catalogs,
	# whose pages may have to be read during the storm), planned in advance
	ctl_q "PREPARE storm_cancel AS
	   SELECT count(pg_cancel_backend(s.pid)) FROM pg_stat_get_activity(NULL) s
	   WHERE s.pid <> pg_backend_pid()
	     AND (s.application_name IN ('storm_heavy', 'storm_vacuum')
	          OR s.backend_type = 'autovacuum worker'
	          OR s.query LIKE 'SELECT id FROM core_lead WHERE account_id%' OR s.query LIKE 'VACUUM%vac_target')" >/dev/null
	local v
	if ((IOSAT_LOADED)); then
		for v in iosat_status iosat_devices iosat_admission; do
			ctl_q "SELECT count(*) FROM $v" 10 >/dev/null 2>&1 || true
		done
	fi
}
# ctl_q SQL [TIMEOUT]: output lines of SQL on the control session
ctl_q() {
	local line
	[[ -n $CTL_PID ]] || return 1
	printf '%s;\n\\echo __END__\n' "$1" >&"${CTL[1]}" || return 1
	while IFS= read -r -t "${2:-60}" -u "${CTL[0]}" line; do
		[[ $line == __END__ ]] && return 0
		printf '%s\n' "$line"
	done
	return 1
}
ctl_close() {
	[[ -n $CTL_PID ]] || return 0
	printf '\\q\n' >&"${CTL[1]}" 2>/dev/null || true
	wait "$CTL_PID" 2>/dev/null || true
	CTL_PID=""
}

# iosat_snapshot FILE: what iosat itself says, when it is loaded (for the record)
IOSAT_LOADED=0
iosat_snapshot() {
	((IOSAT_LOADED)) || return 0
	local v
	for v in iosat_status iosat_devices iosat_admission; do
		echo "== $v" >>"$1"
		ctl_q "SELECT * FROM $v" 10 >>"$1" 2>&1 || true
	done
	return 0
}

# the prepared-protocol heavy client's script
cat >"$RAW/heavy.pgbench" <<EOF2
\set acct random(1, :heavy_accounts)
$(printf "$HEAVY_SQL" ':acct');
EOF2
chown "$PG_USER:" "$RAW/heavy.pgbench"

# ---------------------------------------------------------------- the matrix
SCN_OUTS=()
for SCN in "${SCN_LIST[@]}"; do
	SOUT="$OUT/$SCN"
	RAW="$SOUT/raw"
	mkdir -p "$RAW"
	cp "$OUT/raw/heavy.pgbench" "$RAW/"
	chown -R "$PG_USER:" "$SOUT"
	cp "$OUT/machine.txt" "$SOUT/machine.txt"
	echo "scenario: $SCN ($(scenario_trigger "$SCN"))" >>"$SOUT/machine.txt"
	echo "config,loop,kind,stmts,start,end,rc,error" >"$RAW/heavy.csv"
	chown "$PG_USER:" "$RAW/heavy.csv"
	# shellcheck disable=SC2034 # runs.csv is per scenario
	echo "config,status,reason,pgbench_start,baseline_start,storm_start,storm_end,end,aborted_clients,connect_port" >"$SOUT/runs.csv"
	SAVED_OUT=$OUT
	OUT=$SOUT
	cfgs=("${CFG_LIST[@]}")
	if [[ $SCN == read && -z $EXPLICIT_CONFIGS ]] && ((!SHORT)); then
		cfgs+=(pgbouncer)
	fi
	for c in "${cfgs[@]}"; do
		run_config "$c"
	done
	OUT=$SAVED_OUT
	bench_log "analysing $SCN"
	"$PY" "$here/lib/analyze.py" --out "$SOUT" --raw "$RAW" --scenario "$SCN" --volume "$VOLUME" \
		--iops "$IOPS" --read-iops "$READ_IOPS" --write-iops "$WRITE_IOPS" --rate "$RATE" >"$SOUT/analyze.log" 2>&1 ||
		{ cat "$SOUT/analyze.log" >&2; bench_die "analysis of $SCN failed"; }
	SCN_OUTS+=("$SOUT")
done
RAW="$OUT/raw"
echo "machine_state_at_end: $(machine_busy_note)" >>"$OUT/machine.txt"

# ---------------------------------------------------------------- report
"$PY" "$here/lib/matrix.py" --out "$OUT" "${SCN_OUTS[@]}" >"$OUT/matrix.log" 2>&1 ||
	{ cat "$OUT/matrix.log" >&2; bench_die "the matrix summary failed"; }
cat "$OUT/summary.md"
if ((LATEST)); then
	rm -rf "$here/results/latest"
	mkdir -p "$here/results/latest"
	(cd "$OUT" && find . -path '*/raw' -prune -o -type f \( -name '*.md' -o -name '*.csv' -o -name '*.png' -o -name '*.txt' \) -print |
		xargs -r cp --parents -t "$here/results/latest/")
	echo "source: results/$(basename "$OUT")" >>"$here/results/latest/machine.txt"
fi
echo
echo "results: $OUT (summary.md; per scenario: summary.md, phases.csv, windows.csv, samples.csv, *.png)"
