#!/bin/bash
# Cost of iosat's kernel-state views and of the wait/kernel-state profiler,
# with many connections: N client connections held open by pgbench, either
# idle (the client sleeps between transactions: backends in ClientRead) or
# active (every transaction is SELECT pg_sleep(1): backends in PgSleep).
#
# For each state it measures
#   - the latency of SELECT * FROM iosat_backends (and, for scale, of
#     pg_stat_activity, iosat_loadavg and iosat_wait_profile), pgbench -c 1;
#   - the profiler at each iosat.profile_interval: mean wall time of one
#     pass (iosat_profiler.avg_pass_ms), processes per pass, and the
#     profiler's CPU use (utime + stime from /proc/<pid>/stat over the run);
#   - the profiler's CPU use with iosat.profile = off.
# and prints a Markdown table (also written to --out).
#
# usage: test/bench/overhead_backends.sh [--conns N] [--seconds S]
#            [--intervals "250 50"] [--out FILE]
# Runs as root (the server runs as postgres in a private temp directory);
# PG_CONFIG selects the installation (default: pg_config on PATH), which
# must have iosat installed (make install).
set -euo pipefail

CONNS=200
SECS=20
INTERVALS="1000 250 50"
OUT=""
PORT=${PGPORT_OVB:-5494}
while [[ $# -gt 0 ]]; do
	case $1 in
	--conns) CONNS=$2; shift ;;
	--seconds) SECS=$2; shift ;;
	--intervals) INTERVALS=$2; shift ;;
	--out) OUT=$2; shift ;;
	-h | --help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "unknown option $1" >&2; exit 2 ;;
	esac
	shift
done
[[ $EUID -eq 0 ]] || { echo "run as root" >&2; exit 2; }

PG_CONFIG=${PG_CONFIG:-pg_config}
BIN=$("$PG_CONFIG" --bindir)
[[ -f $("$PG_CONFIG" --pkglibdir)/iosat.so ]] || { echo "iosat is not installed for $PG_CONFIG" >&2; exit 3; }
HZ=$(getconf CLK_TCK)

work=$(mktemp -d /tmp/iosat-ovb.XXXXXX)
chown postgres: "$work"
load_pid=""
cleanup() {
	set +e
	# the load runs in its own process group: runuser and pgbench both go
	[[ -n $load_pid ]] && kill -- "-$load_pid" 2>/dev/null && wait "$load_pid" 2>/dev/null
	as_pg "$BIN/pg_ctl" -D "$work/data" -m immediate stop >/dev/null 2>&1
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

as_pg() { runuser -u postgres -- "$@"; }
psql_q() { as_pg "$BIN/psql" -h "$work" -p "$PORT" -X -At -d postgres -c "$1"; }

as_pg "$BIN/initdb" -D "$work/data" -A trust >/dev/null
cat >>"$work/data/postgresql.conf" <<EOF
port = $PORT
unix_socket_directories = '$work'
listen_addresses = ''
max_connections = $((CONNS + 20))
shared_preload_libraries = 'iosat'
iosat.profile_interval = '250ms'
EOF
as_pg "$BIN/pg_ctl" -D "$work/data" -l "$work/log" -w start >/dev/null
psql_q 'CREATE EXTENSION iosat' >/dev/null

# latency average (ms) of one query, run by one client for a few seconds
latency() {
	local q=$1 f
	f=$(mktemp "$work/q.XXXXXX.sql")
	echo "$q;" >"$f"
	chown postgres "$f"
	as_pg nice -n 5 "$BIN/pgbench" -h "$work" -p "$PORT" -n -c 1 -T 5 -f "$f" postgres 2>/dev/null |
		sed -n 's/^latency average = \([0-9.]*\) ms$/\1/p'
}

cpu_ticks() {	# utime + stime of a pid
	awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"
}

set_conf() {
	psql_q "ALTER SYSTEM SET $1 = '$2'" >/dev/null
	psql_q 'SELECT pg_reload_conf()' >/dev/null
	sleep 1
}

# profiler over SECS seconds: "cpu_pct avg_pass_ms procs_per_pass passes"
profile_run() {
	local pid t0 t1 c0 c1
	pid=$(psql_q 'SELECT profiler_pid FROM iosat_profiler')
	psql_q 'SELECT iosat_wait_profile_reset()' >/dev/null
	c0=$(cpu_ticks "$pid"); t0=$(date +%s.%N)
	sleep "$SECS"
	c1=$(cpu_ticks "$pid"); t1=$(date +%s.%N)
	local stats
	stats=$(psql_q "SELECT coalesce(round(avg_pass_ms::numeric, 3), 0), coalesce(last_pass_processes, 0), passes FROM iosat_profiler")
	awk -v c0="$c0" -v c1="$c1" -v t0="$t0" -v t1="$t1" -v hz="$HZ" -v s="$stats" \
		'BEGIN { split(s, a, "|"); printf "%.2f %s %s %s\n", 100 * (c1 - c0) / hz / (t1 - t0), a[1], a[2], a[3] }'
}

start_load() {	# idle | active
	local script="$work/load.sql"
	if [[ $1 == idle ]]; then
		echo '\sleep 1 s' >"$script"
	else
		echo 'SELECT pg_sleep(1);' >"$script"
	fi
	chown postgres "$script"
	# its own process group (setsid), so that stopping it stops pgbench, not
	# just runuser: an idle client never notices that its server is gone
	setsid runuser -u postgres -- "$BIN/pgbench" -h "$work" -p "$PORT" -n -c "$CONNS" -j 4 \
		-T 3600 -f "$script" postgres >/dev/null 2>&1 &
	load_pid=$!
	for _ in $(seq 1 120); do
		[[ $(psql_q "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'") -ge $CONNS ]] && break
		sleep 0.5
	done
	sleep 2
}

stop_load() {
	kill -- "-$load_pid" 2>/dev/null || true
	wait "$load_pid" 2>/dev/null || true
	load_pid=""
	sleep 2
}

results="$work/results.md"
{
	echo "## iosat kernel-state views: cost with $CONNS connections"
	echo
	echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $(uname -r), $(nproc) CPUs, $("$BIN/postgres" --version), load before: $(cut -d' ' -f1-3 /proc/loadavg)"
	echo
	echo "| connections | query | latency (ms) | per process (µs) |"
	echo "|---|---|---|---|"
} >"$results"

for mode in idle active; do
	start_load "$mode"
	nproc_pg=$(psql_q 'SELECT count(*) FROM pg_stat_activity')
	for q in 'SELECT * FROM pg_stat_activity' 'SELECT * FROM iosat_backends' \
		'SELECT * FROM iosat_loadavg' 'SELECT * FROM iosat_wait_profile'; do
		l=$(latency "$q")
		per=$(awk -v l="$l" -v n="$nproc_pg" 'BEGIN { printf "%.1f", 1000 * l / n }')
		echo "| $CONNS $mode ($nproc_pg rows) | \`$q\` | $l | $per |" >>"$results"
	done
	for iv in $INTERVALS; do
		set_conf iosat.profile_interval "${iv}ms"
		read -r cpu pass procs passes < <(profile_run)
		echo "$mode $iv $cpu $pass $procs $passes" >>"$work/profile.txt"
	done
	set_conf iosat.profile off
	read -r cpu pass procs passes < <(profile_run)
	echo "$mode off $cpu - - -" >>"$work/profile.txt"
	set_conf iosat.profile on
	set_conf iosat.profile_interval 250ms
	stop_load
done

{
	echo
	echo "| connections | iosat.profile_interval | profiler CPU (% of one core) | one pass (ms) | processes per pass | µs per process | passes in ${SECS} s |"
	echo "|---|---|---|---|---|---|---|"
	while read -r mode iv cpu pass procs passes; do
		if [[ $iv == off ]]; then
			echo "| $CONNS $mode | profiling off | $cpu | - | - | - | - |"
		else
			per=$(awk -v p="$pass" -v n="$procs" 'BEGIN { if (n > 0) printf "%.1f", 1000 * p / n; else print "-" }')
			echo "| $CONNS $mode | ${iv} ms | $cpu | $pass | $procs | $per | $passes |"
		fi
	done <"$work/profile.txt"
} >>"$results"

cat "$results"
[[ -n $OUT ]] && cp "$results" "$OUT"
exit 0
