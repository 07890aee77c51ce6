#!/bin/bash
# The IOPS death-spiral benchmark (issue 3).
#
# Builds a device that behaves like a provisioned-IOPS cloud volume at its
# ceiling (test/lib/rootctl stack-create: ext4 on loopA -> loopB -> file, blkio
# IOPS throttle on loopB), a throwaway PostgreSQL cluster on it (16MB
# shared_buffers, the server in a memory cgroup so the page cache cannot hold
# the data), and runs, for each configuration back to back with a reset in
# between:
#   warm-up, baseline   OLTP arrivals at a fixed rate (pgbench -R, 80 clients)
#   storm               + concurrent heavy JSONB-filter queries + VACUUM
#   after               trigger cancelled, arrivals continue
# then prints per configuration and phase: tps, p50/p95/p99, errors, max
# backends, device IOPS, aqu-sz, r_await, PSI, recovery time; and writes CSVs,
# gnuplot PNGs and a markdown summary under test/bench/results/<timestamp>/
# (copied to results/latest/).
#
# usage: test/bench/storm.sh [--short] [--configs stock,monitor,queue,queue_admission,reject,pgbouncer]
#            [--iops N | --read-iops N --write-iops N] [--rate TPS] [--clients N]
#            [--heavy N] [--stagger S] [--phases WARM,BASE,STORM,AFTER] [--scale core_rows,oltp_rows,vac_rows]
#            [--memcg-mb N] [--eic N] [--name NAME] [--out DIR] [--no-latest] [--keep]
# Runs as root. Everything it creates is torn down on exit, Ctrl-C included.
#
# Defaults: reads capped at 400 IOPS, writes at 1200 (blk-throttle keeps separate
# read and write budgets; the storm is a read storm, and every commit costs ~3
# write requests -- WAL write, flush, later the page -- so a 400 write cap would
# make the baseline itself write-bound); 330 cheap transactions/s from 80
# connections, which keeps the baseline at ~75% of the read ceiling (~300 r/s)
# and ~80% of the write ceiling, like the incident's volume; 4 heavy queries at
# effective_io_concurrency 16, arriving --stagger 3 s apart (reports keep
# arriving; it gives admission control a chance to act), + VACUUM at the start
# of the storm. Calibration on this machine (stock): at 300 tps or with 3 heavy
# queries the device saturates (p99 x15-40) but settles with ~65 backends in
# IO waits; at 330 tps with 4 heavy queries every connection piles up (p99
# x100+, load 40+) and the backlog outlives the trigger.
# Data: core_lead 1M rows (28k heap pages; a heavy account reads ~21k of
# them), oltp 2M rows, vac_target 0.5M rows + 3 indexes; memcg 384 MB.
# --short: 10+25+40+45 s per configuration, stock,queue,pgbouncer (~8 min).
# full:    15+40+60+90 s, stock,monitor,queue,queue_admission,reject,pgbouncer (~30 min).
set -euo pipefail
shopt -s inherit_errexit

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib/common.sh
. "$here/lib/common.sh"

# ---------------------------------------------------------------- parameters
SHORT=0
CONFIGS=""
READ_IOPS=400
WRITE_IOPS=1200
RATE=""
CLIENTS=80
HEAVY=4
STAGGER=3
PHASES=""
SCALE=""
MEMCG_MB=""
EIC=16
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
	--configs) CONFIGS=$2; shift ;;
	--iops) READ_IOPS=$2; WRITE_IOPS=$2; shift ;;
	--read-iops) READ_IOPS=$2; shift ;;
	--write-iops) WRITE_IOPS=$2; shift ;;
	--rate) RATE=$2; shift ;;
	--clients) CLIENTS=$2; shift ;;
	--heavy) HEAVY=$2; shift ;;
	--stagger) STAGGER=$2; shift ;;
	--phases) PHASES=$2; shift ;;
	--scale) SCALE=$2; shift ;;
	--memcg-mb) MEMCG_MB=$2; shift ;;
	--eic) EIC=$2; shift ;;
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
for v in READ_IOPS WRITE_IOPS CLIENTS HEAVY EIC STAGGER; do
	[[ ${!v} =~ ^[0-9]+$ ]] || bench_die "--${v,,} must be a number"
done

if ((SHORT)); then
	: "${CONFIGS:=stock,queue,pgbouncer}"
	: "${PHASES:=10,25,40,45}"
else
	: "${CONFIGS:=stock,monitor,queue,queue_admission,reject,pgbouncer}"
	: "${PHASES:=15,40,60,90}"
fi
# one data set for both modes, so that the calibration below holds for both
: "${SCALE:=1000000,2000000,500000}"
: "${MEMCG_MB:=384}"
: "${RATE:=330}"
IFS=, read -r P_WARM P_BASE P_STORM P_AFTER <<<"$PHASES"
IFS=, read -r CORE_ROWS OLTP_ROWS VAC_ROWS <<<"$SCALE"
for v in P_WARM P_BASE P_STORM P_AFTER CORE_ROWS OLTP_ROWS VAC_ROWS MEMCG_MB RATE; do
	[[ ${!v} =~ ^[0-9]+$ ]] || bench_die "bad value for $v: '${!v}'"
done
(((HEAVY - 1) * STAGGER < P_STORM)) || bench_die "--stagger too long for a ${P_STORM}-s storm"
HEAVY_ACCOUNTS=12
HEAVY_ROWS=40000
VAC_DEAD_PCT=10
# The trigger's VACUUM is throttled the way autovacuum's is by default on
# 15-18 (autovacuum_vacuum_cost_delay 2ms, cost limit 200): by page counts,
# which on this device is no limit at all (up to ~50,000 page misses a second
# against a 400-IOPS ceiling). It is what the incident's autovacuum did, and
# it lets iosat's vacuum backpressure act on it where a config enables it.
# PARALLEL 0: autovacuum never vacuums indexes in parallel workers.
VAC_COST_DELAY=2ms
# image: data (~1 KB per row all in) + WAL headroom
SIZE_MB=$(((CORE_ROWS + OLTP_ROWS + VAC_ROWS) / 1000 + 4096))

STAMP=$(date +%Y%m%d-%H%M%S)
: "${OUT:=$here/results/$STAMP}"
RAW="$OUT/raw"
mkdir -p "$RAW"

# ---------------------------------------------------------------- teardown
BG_PIDS=()
MNT=""
PGDATA=""
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

# ---------------------------------------------------------------- server
SOCK=""
start_server() {
	# the subshell joins the memory cgroup first, so the postmaster and every
	# process it forks are charged there (page cache included)
	(
		"$ROOTCTL" memcg-add "$NAME" "$BASHPID" >/dev/null
		exec runuser -u "$PG_USER" -- "$PGBIN/pg_ctl" -D "$PGDATA" -l "$RAW/server.log" -w -t 120 start
	) >/dev/null 2>&1
}
stop_server() {
	as_pg pg_ctl -D "$PGDATA" -m fast -w -t 60 stop >/dev/null 2>&1 ||
		as_pg pg_ctl -D "$PGDATA" -m immediate -w -t 30 stop >/dev/null 2>&1 || true
}
export PGHOST PGPORT PGDATABASE
q() { PGHOST=$SOCK PGPORT=$PGPORT_BENCH PGDATABASE=bench psql_q "$1"; }

BOUNCER_PID=""
start_bouncer() { # POOL_SIZE POOL_MODE
	local ini="$RAW/pgbouncer.ini"
	printf '"%s" ""\n' "$PG_USER" >"$RAW/userlist.txt"
	cat >"$ini" <<-EOF
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
	EOF
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
	echo "device: stack (ext4 on loopA -> loopB -> file; blkio throttle on loopB) read_iops=$READ_IOPS write_iops=$WRITE_IOPS"
	echo "workload: core_rows=$CORE_ROWS oltp_rows=$OLTP_ROWS vac_rows=$VAC_ROWS heavy_accounts=$HEAVY_ACCOUNTS x $HEAVY_ROWS rows"
	echo "oltp: pgbench -R $RATE -c $CLIENTS (pk read + update), heavy queries: $HEAVY concurrent (${STAGGER} s apart), effective_io_concurrency=$EIC, + VACUUM vac_target (${VAC_DEAD_PCT}% dead, vacuum_cost_delay=$VAC_COST_DELAY as autovacuum)"
	echo "phases_s: warm=$P_WARM baseline=$P_BASE storm=$P_STORM after=$P_AFTER"
	echo "server: shared_buffers=16MB memcg_limit_mb=$MEMCG_MB"
	echo "configs: $CONFIGS"
} >"$OUT/machine.txt"

"$ROOTCTL" destroy "$NAME" >/dev/null 2>&1 || true
bench_log "creating device '$NAME' (${SIZE_MB} MB, unthrottled while loading)"
devinfo=$("$ROOTCTL" stack-create "$NAME" "$SIZE_MB" 0 0)
DEV=$(sed -n 's|^dev=/dev/||p' <<<"$devinfo")
LOWER=$(sed -n 's|^lower=/dev/||p' <<<"$devinfo")
MNT=$(sed -n 's|^mnt=||p' <<<"$devinfo")
"$ROOTCTL" memcg-create "$NAME" "$MEMCG_MB" >/dev/null
MEMCG_DIR=/sys/fs/cgroup/memory/iosat-test/$NAME
PGDATA=$MNT/pgdata
SOCK=$MNT/run
install -d -o "$PG_USER" -m 0700 "$SOCK"
chown "$PG_USER:" "$RAW"
echo "device_dev: $DEV lower: $LOWER" >>"$OUT/machine.txt"

bench_log "initdb"
as_pg initdb -D "$PGDATA" -A trust -U "$PG_USER" --no-sync >"$RAW/initdb.log" 2>&1 || bench_die "initdb failed: $RAW/initdb.log"
cat >"$PGDATA/bench_base.conf" <<EOF
# storm benchmark base settings
listen_addresses = ''
port = $PGPORT_BENCH
unix_socket_directories = '$SOCK'
max_connections = $((CLIENTS + 40))
shared_buffers = 16MB
effective_io_concurrency = $EIC
jit = off
max_wal_size = 4GB
checkpoint_timeout = 30min
track_io_timing = on
log_line_prefix = '%m [%p] %a '
log_min_duration_statement = -1
log_lock_waits = off
EOF
cat >>"$PGDATA/postgresql.conf" <<EOF
include = 'bench_base.conf'
include_if_exists = 'bench_config.conf'
EOF
: >"$PGDATA/bench_config.conf"
chown "$PG_USER:" "$PGDATA/bench_base.conf" "$PGDATA/bench_config.conf"
start_server || bench_die "server did not start: $RAW/server.log"
as_pg createdb -h "$SOCK" -p "$PGPORT_BENCH" bench

bench_log "loading data (core_lead $CORE_ROWS rows, oltp $OLTP_ROWS, vac_target $VAC_ROWS)"
t0=$(date +%s)
PGHOST=$SOCK PGPORT=$PGPORT_BENCH PGDATABASE=bench as_pg psql -X -q -A \
	-v core_rows="$CORE_ROWS" -v oltp_rows="$OLTP_ROWS" -v vac_rows="$VAC_ROWS" \
	-v heavy_accounts="$HEAVY_ACCOUNTS" -v heavy_rows="$HEAVY_ROWS" \
	-f "$here/sql/load.sql" >"$RAW/load.log" 2>&1 || bench_die "load failed: $RAW/load.log"
bench_log "loaded in $(($(date +%s) - t0)) s: $(tail -n 3 "$RAW/load.log" | tr '\n' ' ')"
HEAVY_SQL="SELECT id FROM core_lead WHERE account_id = %d AND payload @> '{\"status\": \"vip\"}' AND deleted_at IS NULL"
# shellcheck disable=SC2059
q "EXPLAIN (COSTS OFF) $(printf "$HEAVY_SQL" 1)" >"$RAW/heavy_plan.txt"
echo "heavy_plan: $(tr -s ' \n' ' ' <"$RAW/heavy_plan.txt")" >>"$OUT/machine.txt"
cp "$RAW/load.log" "$OUT/dataset.txt"

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

server_failure_reason() {
	local r
	r=$(grep -E 'FATAL|PANIC|ERROR|WARNING:  invalid' "$RAW/server.log" | tail -n 3 | sed 's/^.*\(FATAL\|PANIC\|ERROR\|WARNING\):  //' | tr '\n' ';')
	echo "${r:-server did not start}"
}

# heavy_loop I: the application's report query, retried a second after an error
heavy_loop() {
	local i=$1 n=0 acct t0 t1 rc err host port
	host=$SOCK
	port=$2
	while [[ ! -e $RAW/.stop ]]; do
		acct=$((1 + (i + n * HEAVY) % HEAVY_ACCOUNTS))
		n=$((n + 1))
		t0=$(date +%s.%N)
		# shellcheck disable=SC2059
		err=$(PGHOST=$host PGPORT=$port PGDATABASE=bench PGAPPNAME=storm_heavy \
			as_pg psql -X -q -A -t -v ON_ERROR_STOP=1 -c "$(printf "$HEAVY_SQL" "$acct")" 2>&1 >/dev/null) && rc=0 || rc=$?
		t1=$(date +%s.%N)
		err=$(head -n 1 <<<"$err" | tr ',\n' ';  ')
		echo "$CFG,$i,$acct,$t0,$t1,$rc,$err" >>"$RAW/heavy.csv"
		[[ $rc -eq 0 ]] || sleep 1
	done
}

vacuum_once() {
	local t0 t1 rc err
	t0=$(date +%s.%N)
	err=$(PGHOST=$SOCK PGPORT=$PGPORT_BENCH PGDATABASE=bench PGAPPNAME=storm_vacuum \
		as_pg psql -X -q -c "SET vacuum_cost_delay = '$VAC_COST_DELAY'" -c "VACUUM (PARALLEL 0) vac_target" 2>&1 >/dev/null) && rc=0 || rc=$?
	t1=$(date +%s.%N)
	echo "$CFG,vacuum,0,$t0,$t1,$rc,$(head -n 1 <<<"$err" | tr ',\n' ';  ')" >>"$RAW/heavy.csv"
}

echo "config,loop,account,start,end,rc,error" >"$RAW/heavy.csv"
echo "config,status,reason,pgbench_start,baseline_start,storm_start,storm_end,end,aborted_clients,connect_port" >"$OUT/runs.csv"
chown "$PG_USER:" "$RAW/heavy.csv"

run_config() {
	CFG=$1
	local conf="$here/configs/$CFG.conf" reason port pool mode
	local d="$RAW/$CFG"
	mkdir -p "$d"
	chown "$PG_USER:" "$d"
	if [[ ! -f $conf ]]; then
		echo "$CFG,unavailable,no file configs/$CFG.conf,,,,,,," >>"$OUT/runs.csv"
		bench_log "config unavailable: $CFG: no configs/$CFG.conf"
		return 0
	fi
	bench_log "=== $CFG"
	stop_server
	sed -e "s/@READ_IOPS@/$READ_IOPS/g" -e "s/@WRITE_IOPS@/$WRITE_IOPS/g" \
		-e "s/@IOPS@/$((READ_IOPS + WRITE_IOPS))/g" "$conf" >"$PGDATA/bench_config.conf"
	local logmark
	logmark=$(wc -l <"$RAW/server.log")
	if ! start_server; then
		reason=$(tail -n +"$((logmark + 1))" "$RAW/server.log" | grep -E 'FATAL|PANIC' | tail -n 2 | sed 's/^.*\(FATAL\|PANIC\):  //' | tr '\n' ' ')
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

	bench_log "reset (unthrottled): vacuum leftovers, ${VAC_DEAD_PCT}% dead tuples in vac_target, checkpoint"
	"$ROOTCTL" throttle "$NAME" 0 0 >/dev/null
	PGHOST=$SOCK PGPORT=$PGPORT_BENCH PGDATABASE=bench as_pg psql -X -q -v vac_dead_pct="$VAC_DEAD_PCT" \
		-f "$here/sql/reset.sql" >>"$d/reset.log" 2>&1 || bench_die "reset failed: $d/reset.log"
	"$ROOTCTL" throttle "$NAME" "$READ_IOPS" "$WRITE_IOPS" >/dev/null
	"$ROOTCTL" memcg-empty "$NAME" >/dev/null
	q "SELECT pg_prewarm('oltp_pkey', 'read')" >/dev/null
	sleep 2

	port=$PGPORT_BENCH
	if conf_has_directive "$conf" pgbouncer; then
		local dir
		dir=$(conf_directive "$conf" pgbouncer)
		pool=$(sed -n 's/.*pool_size=\([0-9]*\).*/\1/p' <<<"$dir")
		mode=$(sed -n 's/.*pool_mode=\([a-z]*\).*/\1/p' <<<"$dir")
		start_bouncer "${pool:-10}" "${mode:-transaction}"
		port=$BOUNCER_PORT
	fi

	rm -f "$RAW/.stop"
	ctl_open
	"$PY" "$here/lib/sampler.py" --dev "$DEV" --lower "$LOWER" --out "$d/samples.csv" \
		--pidfile "$PGDATA/postmaster.pid" --memcg "$MEMCG_DIR" \
		--psql-cmd "runuser -u $PG_USER -- $PGBIN/psql -X -q -A -t -h $SOCK -p $PGPORT_BENCH -d bench" &
	local sampler=$!
	BG_PIDS+=("$sampler")

	local total=$((P_WARM + P_BASE + P_STORM + P_AFTER))
	local t_start t_base t_storm t_stop t_end
	t_start=$(date +%s.%N)
	(cd "$d" && exec runuser -u "$PG_USER" -- "$PGBIN/pgbench" -n -h "$SOCK" -p "$port" -c "$CLIENTS" -j 2 \
		-R "$RATE" -T "$total" -f "$here/oltp.pgbench" -D oltp_rows="$OLTP_ROWS" \
		-l --log-prefix="$d/pgbench_log" bench >"$d/pgbench.out" 2>"$d/pgbench.err") &
	local pgb=$!
	BG_PIDS+=("$pgb")
	sleep "$P_WARM"
	t_base=$(date +%s.%N)
	sleep "$P_BASE"

	bench_log "$CFG: storm ($HEAVY heavy queries + VACUUM)"
	iosat_snapshot "$d/iosat_before_storm.txt"
	t_storm=$(date +%s.%N)
	local hp=() i
	vacuum_once &
	hp+=($!)
	for i in $(seq 0 $((HEAVY - 1))); do
		((i == 0 || STAGGER == 0)) || sleep "$STAGGER"
		heavy_loop "$i" "$port" &
		hp+=($!)
	done
	BG_PIDS+=("${hp[@]}")
	sleep $((P_STORM - (HEAVY - 1) * STAGGER))

	bench_log "$CFG: trigger off (cancel heavy queries and VACUUM), arrivals continue"
	t_stop=$(date +%s.%N)
	touch "$RAW/.stop"
	ctl_q "EXECUTE storm_cancel" 20 >/dev/null ||
		bench_log "warning: cancel through the control session failed"
	bench_log "$CFG: trigger cancelled in $(awk -v a="$t_stop" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }') s"
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
	echo "$CFG,ok,,$t_start,$t_base,$t_storm,$t_stop,$t_end,$aborted,$port" >>"$OUT/runs.csv"
	bench_log "$CFG: done ($(grep -E '^(number of transactions actually processed|latency average|tps)' "$d/pgbench.out" | tr '\n' ' '))"
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

IFS=, read -r -a CFG_LIST <<<"$CONFIGS"
for c in "${CFG_LIST[@]}"; do
	[[ $c =~ ^[a-z0-9_-]+$ ]] || bench_die "bad config name '$c'"
	run_config "$c"
done
echo "machine_state_at_end: $(machine_busy_note)" >>"$OUT/machine.txt"

# ---------------------------------------------------------------- report
bench_log "analysing"
"$PY" "$here/lib/analyze.py" --out "$OUT" --raw "$RAW" \
	--read-iops "$READ_IOPS" --write-iops "$WRITE_IOPS" --rate "$RATE" >"$OUT/analyze.log" 2>&1 ||
	{ cat "$OUT/analyze.log" >&2; bench_die "analysis failed"; }
cat "$OUT/summary.md"
if ((LATEST)); then
	rm -rf "$here/results/latest"
	mkdir -p "$here/results/latest"
	cp "$OUT"/*.md "$OUT"/*.csv "$OUT"/*.png "$OUT"/*.txt "$here/results/latest/" 2>/dev/null || true
	echo "source: results/$(basename "$OUT")" >>"$here/results/latest/machine.txt"
fi
echo
echo "results: $OUT (summary.md, phases.csv, windows.csv, samples.csv, *.png)"
