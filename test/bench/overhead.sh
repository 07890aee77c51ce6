#!/bin/bash
# iosat's cost on the hot path: pgbench -S -M prepared throughput with iosat
# preloaded versus not loaded, on a healthy (unthrottled) loop device, runs
# alternating so that drift and other load on the machine hit both sides alike.
# Prints the ratio iosat/stock: the median over adjacent (stock, iosat) pairs.
#
# usage: test/bench/overhead.sh [--pairs N] [--seconds S] [--clients C] [--scale S]
#            [--config NAME]     iosat side's conf snippet (test/bench/configs/NAME.conf);
#                                default: queue when the loaded iosat knows its settings,
#                                else preload (iosat loaded, no admission settings)
#            [--out DIR]
# Runs as root (creates a loop device); exits 3 if iosat is not installed
# (`make install` in the repository root).
set -euo pipefail
shopt -s inherit_errexit

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib/common.sh
. "$here/lib/common.sh"

PAIRS=5
SECS=15
CLIENTS=4
SCALE=10
CONFIG=""
OUT=""
NAME=overhead
PORT=${PGPORT_OVERHEAD:-5493}
while [[ $# -gt 0 ]]; do
	case $1 in
	--pairs) PAIRS=$2; shift ;;
	--seconds) SECS=$2; shift ;;
	--clients) CLIENTS=$2; shift ;;
	--scale) SCALE=$2; shift ;;
	--config) CONFIG=$2; shift ;;
	--out) OUT=$2; shift ;;
	-h | --help) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) bench_die "unknown option $1" ;;
	esac
	shift
done
bench_posints PAIRS SECS CLIENTS SCALE
[[ $EUID -eq 0 ]] || bench_die "run as root"
if [[ ! -e $("$PG_CONFIG" --pkglibdir)/iosat.so ]]; then
	echo "overhead: iosat is not installed ($("$PG_CONFIG" --pkglibdir)/iosat.so missing): run 'make && make install' first" >&2
	exit 3
fi
: "${OUT:=$here/results/overhead-$(date +%Y%m%d-%H%M%S)}"
mkdir -p "$OUT"

PGDATA=""
cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	set +e
	bench_cluster_kill
	"$ROOTCTL" destroy "$NAME" >/dev/null
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

"$ROOTCTL" destroy "$NAME" >/dev/null 2>&1 || true
MNT=$("$ROOTCTL" loop-create "$NAME" 2048 | sed -n 's/^mnt=//p')
bench_cluster "$MNT" "$PORT" "$OUT" <<<"shared_buffers = 256MB"
bench_start
as_pg pgbench -i -q -s "$SCALE" postgres >"$OUT/init.log" 2>&1

# the iosat side: --config, else queue if its settings are known, else preload
side_conf() { sed -e "s/@READ_IOPS@/0/g; s/@WRITE_IOPS@/0/g; s/@IOPS@/0/g; s/^@CEILING@.*//" "$here/configs/$1.conf"; }
settings_known() { # every iosat.* line of the snippet is a known setting once loaded
	local k
	for k in $(sed -n 's/^[[:space:]]*\(iosat\.[a-z_]*\)[[:space:]]*=.*/\1/p' "$here/configs/$1.conf"); do
		[[ -n $(PGDATABASE=postgres psql_q "SELECT 1 FROM pg_settings WHERE name = '$k'") ]] || return 1
	done
}
try_side() {
	bench_stop
	side_conf "$1" >"$PGDATA/side.conf"
	bench_start 2>/dev/null && settings_known "$1"
}
if [[ -n $CONFIG ]]; then
	try_side "$CONFIG" || bench_die "config $CONFIG unavailable (see $OUT/server.log)"
else
	CONFIG=queue
	if ! try_side queue; then
		as_pg pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null 2>&1 || true
		CONFIG=preload
		try_side preload || bench_die "iosat does not load (see $OUT/server.log)"
	fi
fi
SIDE=$(cat "$PGDATA/side.conf")

run_one() { # LABEL
	bench_stop
	if [[ $1 == iosat ]]; then printf '%s\n' "$SIDE" >"$PGDATA/side.conf"; else : >"$PGDATA/side.conf"; fi
	bench_start
	as_pg pgbench -n -S -M prepared -c "$CLIENTS" -j "$CLIENTS" -T 2 postgres >/dev/null 2>&1 # warm
	local tps
	tps=$(as_pg pgbench -n -S -M prepared -c "$CLIENTS" -j "$CLIENTS" -T "$SECS" postgres 2>>"$OUT/pgbench.err" |
		sed -n 's/^tps = \([0-9.]*\) .*/\1/p')
	echo "$1,$tps,$(cut -d' ' -f1 /proc/loadavg)" >>"$OUT/overhead.csv"
	bench_log "$1: $tps tps"
}

echo "side,tps,load1" >"$OUT/overhead.csv"
machine_description >"$OUT/machine.txt"
bench_log "iosat side: configs/$CONFIG.conf; $PAIRS alternating pairs of ${SECS}s, -c $CLIENTS, scale $SCALE"
for i in $(seq 1 "$PAIRS"); do
	if ((i % 2)); then run_one stock; run_one iosat; else run_one iosat; run_one stock; fi
done

"$PY" - "$OUT/overhead.csv" "$CONFIG" <<'EOF' | tee "$OUT/summary.md"
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1])))
s = [float(r["tps"]) for r in rows if r["side"] == "stock" and r["tps"]]
i = [float(r["tps"]) for r in rows if r["side"] == "iosat" and r["tps"]]
ms, mi = statistics.median(s), statistics.median(i)
pairs = [b / a for a, b in zip(s, i)]
print(f"| pgbench -S -M prepared | runs | median tps | min | max |")
print(f"|---|---|---|---|---|")
print(f"| stock (not loaded) | {len(s)} | {ms:.0f} | {min(s):.0f} | {max(s):.0f} |")
print(f"| iosat ({sys.argv[2]}) | {len(i)} | {mi:.0f} | {min(i):.0f} | {max(i):.0f} |")
print()
# adjacent runs see the same machine: the median of per-pair ratios is the figure
print(f"ratio iosat/stock: {statistics.median(pairs):.3f} (median of {len(pairs)} adjacent pairs: "
      f"{', '.join(f'{p:.3f}' for p in pairs)}; ratio of medians {mi / ms:.3f})")
print(f"load1 during runs: {min(float(r['load1']) for r in rows):.2f}..{max(float(r['load1']) for r in rows):.2f}")
EOF
echo "results: $OUT"
