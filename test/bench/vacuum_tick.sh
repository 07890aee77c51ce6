#!/bin/bash
# Does installing iosat change how fast a cost-throttled autovacuum runs?
# The vacuum tick (a SIGALRM every iosat.vacuum_tick) interrupts the nap a
# vacuum is in, so a ticked worker naps less and vacuums faster than its
# cost settings say.  With iosat.vacuum_backpressure off no tick may run.
#
# One cluster on tmpfs (a cost-limited vacuum's speed is set by its naps,
# not the device), one autovacuum worker, autovacuum_vacuum_cost_delay
# 20 ms and cost limit 200.  Per round, for each configuration:
#   a  iosat not loaded
#   b  iosat preloaded, iosat.vacuum_backpressure = off (the default)
#   c  iosat preloaded, backpressure on, no pressure: vacuum_max_speedup = 1
#      holds the multiplier at 1, so only the tick differs from a
# a fresh table (half its rows deleted, every page pruned and dirtied) is
# vacuumed by an autovacuum worker; pages/s is heap_blks_scanned over a
# window of --seconds after a short warm-up.  Prints pages/s and the ratios
# b/a and c/a (median over rounds of the ratio within a round), and the
# ticks iosat_vacuum counted for the worker in that window.
#
# usage: test/bench/vacuum_tick.sh [--src DIR] [--no-install] [--rounds N]
#            [--seconds S] [--delay MS] [--rows N] [--out DIR]
#   --src DIR      build and install iosat from DIR (default: this tree),
#                  e.g. an old commit: git archive 128f781 | tar -x -C DIR
#   --no-install   measure the iosat.so installed now
# Runs as root; installs iosat.so, so take the lock other runs take:
#   flock /run/lock/iosat-test.lock bash test/bench/vacuum_tick.sh
# ~4 minutes with the defaults (2 rounds of 3 x 20 s).
set -euo pipefail
shopt -s inherit_errexit

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib/common.sh
. "$here/lib/common.sh"

SRC=$REPO_DIR
INSTALL=1
ROUNDS=2
SECS=20
DELAY=20
ROWS=800000
OUT=""
PORT=${PGPORT_VACTICK:-5494}
while [[ $# -gt 0 ]]; do
	case $1 in
	--src) SRC=$2; shift ;;
	--no-install) INSTALL=0 ;;
	--rounds) ROUNDS=$2; shift ;;
	--seconds) SECS=$2; shift ;;
	--delay) DELAY=$2; shift ;;
	--rows) ROWS=$2; shift ;;
	--out) OUT=$2; shift ;;
	-h | --help) sed -n '/^# usage:/,/^# ~/p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) bench_die "unknown option $1" ;;
	esac
	shift
done
bench_posints ROUNDS SECS DELAY ROWS
[[ $EUID -eq 0 ]] || bench_die "run as root (it installs iosat.so)"
: "${OUT:=$here/results/vacuum-tick-$(date +%Y%m%d-%H%M%S)}"
mkdir -p "$OUT"

if ((INSTALL)); then
	bench_log "building and installing iosat from $SRC"
	make -C "$SRC" -s >"$OUT/build.log" 2>&1 || bench_die "build failed (see $OUT/build.log)"
	make -C "$SRC" -s install >>"$OUT/build.log" 2>&1 || bench_die "install failed"
fi

DIR=""
cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	set +e
	bench_cluster_kill
	[[ -n $DIR ]] && rm -rf "$DIR"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

DIR=$(mktemp -d /dev/shm/iosat-vactick.XXXXXX)
chown "$PG_USER:" "$DIR"
bench_cluster "$DIR" "$PORT" "$OUT" <<EOF
shared_buffers = 128MB
fsync = off
autovacuum_naptime = '1s'
autovacuum_max_workers = 1
autovacuum_vacuum_cost_delay = '${DELAY}ms'
autovacuum_vacuum_cost_limit = 200
log_autovacuum_min_duration = 0
EOF
export PGDATABASE=postgres

side_conf() { # CONFIG
	case $1 in
	a) : ;;
	b) printf '%s\n' "shared_preload_libraries = 'iosat'" "iosat.vacuum_backpressure = off" ;;
	c) printf '%s\n' "shared_preload_libraries = 'iosat'" "iosat.vacuum_backpressure = on" \
		"iosat.vacuum_max_speedup = 1" ;;
	esac
}

run_one() { # ROUND CONFIG
	local round=$1 cfg=$2 pid row
	side_conf "$cfg" >"$PGDATA/side.conf"
	bench_start
	if [[ $cfg != a ]]; then
		psql_q "CREATE EXTENSION IF NOT EXISTS iosat" >/dev/null 2>&1
		[[ $(psql_q "SELECT current_setting('iosat.vacuum_backpressure')") == "$([[ $cfg == b ]] && echo off || echo on)" ]] ||
			bench_die "config $cfg: iosat.vacuum_backpressure not as set"
	fi
	psql_q "DROP TABLE IF EXISTS vt" >/dev/null 2>&1
	psql_q "CREATE TABLE vt (id int, pad text) WITH (autovacuum_enabled = off)"
	psql_q "INSERT INTO vt SELECT g, repeat('x', 100) FROM generate_series(1, $ROWS) g"
	psql_q "DELETE FROM vt WHERE id % 2 = 0"
	psql_q "CHECKPOINT"
	psql_q "ALTER TABLE vt SET (autovacuum_enabled = on, autovacuum_vacuum_scale_factor = 0,
		autovacuum_vacuum_threshold = 1000, autovacuum_analyze_threshold = 2000000000)"
	for _ in $(seq 1 600); do
		pid=$(psql_q "SELECT p.pid FROM pg_stat_progress_vacuum p JOIN pg_stat_activity a USING (pid)
			WHERE p.relid = 'vt'::regclass AND p.phase = 'scanning heap'
			  AND a.backend_type = 'autovacuum worker'")
		[[ -n $pid ]] && break
		sleep 0.1
	done
	[[ -n $pid ]] || bench_die "config $cfg: no autovacuum worker on vt"
	sleep 2
	# one session: both readings and the sleep between them
	local ticks="(SELECT ticks FROM iosat_vacuum WHERE pid = $pid)"
	[[ $cfg == a ]] && ticks="NULL::bigint"
	row=$(as_pg psql -X -q -A -t -F, -v ON_ERROR_STOP=1 <<EOF
SELECT heap_blks_scanned AS b0, extract(epoch FROM clock_timestamp()) AS t0,
       coalesce($ticks, -1) AS k0
  FROM pg_stat_progress_vacuum WHERE pid = $pid \gset
SELECT pg_sleep($SECS) \g /dev/null
SELECT heap_blks_scanned - :b0, round((extract(epoch FROM clock_timestamp()) - :t0)::numeric, 3),
       coalesce(($ticks - :k0)::text, ''), phase
  FROM pg_stat_progress_vacuum WHERE pid = $pid;
EOF
)
	[[ $row =~ ^[0-9]+,[0-9.]+,[0-9]*,scanning\ heap$ ]] ||
		bench_die "config $cfg: the window did not stay inside the heap scan ($row); raise --rows"
	echo "$round,$cfg,$row,$(cut -d' ' -f1 /proc/loadavg)" >>"$OUT/runs.csv"
	bench_log "round $round, $cfg: $(echo "$row" | awk -F, '{ printf "%.1f pages/s, %s ticks", $1 / $2, ($3 == "" ? "-" : $3) }')"
	# (the ALTER's lock request cancels the worker; the stop would anyway)
	psql_q "ALTER TABLE vt SET (autovacuum_enabled = off)"
	bench_stop
}

echo "round,config,pages,seconds,ticks,phase,load1" >"$OUT/runs.csv"
machine_description >"$OUT/machine.txt"
echo "iosat_src: $SRC ($(git -C "$SRC" rev-parse --short HEAD 2>/dev/null || echo 'not a git tree'))" >>"$OUT/machine.txt"
bench_log "autovacuum_vacuum_cost_delay ${DELAY}ms, limit 200, $ROWS rows; $ROUNDS rounds of a, b, c, ${SECS}s each"
for r in $(seq 1 "$ROUNDS"); do
	for cfg in a b c; do run_one "$r" "$cfg"; done
done

"$PY" - "$OUT/runs.csv" "$DELAY" <<'EOF' | tee "$OUT/summary.md"
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1])))
rate = {}
ticks = {}
for r in rows:
    rate.setdefault(r["config"], {})[r["round"]] = int(r["pages"]) / float(r["seconds"])
    if r["ticks"] != "":
        ticks.setdefault(r["config"], []).append(int(r["ticks"]))
label = {"a": "a: iosat not loaded", "b": "b: preloaded, backpressure off",
         "c": "c: on, no pressure (max_speedup 1)"}
rounds = sorted(rate["a"], key=int)
def ratio(cfg):
    return statistics.median(rate[cfg][k] / rate["a"][k] for k in rounds)
print(f"autovacuum, cost delay {sys.argv[2]} ms, limit 200; {len(rounds)} rounds")
print()
print("| configuration | pages/s (median) | per round | ratio to a | ticks in the window |")
print("|---|---|---|---|---|")
for cfg in "abc":
    per = ", ".join(f"{rate[cfg][k]:.1f}" for k in rounds)
    t = ", ".join(str(x) for x in ticks.get(cfg, [])) or "-"
    print(f"| {label[cfg]} | {statistics.median(rate[cfg].values()):.1f} | {per} | "
          f"{ratio(cfg):.3f} | {t} |")
print()
print(f"b/a = {ratio('b'):.3f}   c/a = {ratio('c'):.3f}   (median of the per-round ratios)")
EOF
echo "results: $OUT"
