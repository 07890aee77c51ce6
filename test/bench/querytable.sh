#!/bin/bash
# The cost of a full iosat_queries table: pgbench with statements whose
# queryids vary (half the transactions are 10 SELECTs from 10 of
# --queryids one-row tables, a script picked at random; the other half a
# primary-key read), -M prepared, against
#   small   iosat.max_queries = 100: the table is full and evicting
#   large   iosat.max_queries = 20000: every queryid fits
#   stock   iosat not loaded
# in alternating rounds (the order rotates), so drift and other load hit
# every side alike.  Prints each side's median tps and backend CPU time
# per transaction (which other load on the machine disturbs far less than
# tps), each with its ratio to stock (median of the per-round ratios).
# iosat runs with admission in queue mode on a healthy device: the
# ExecutorStart lookup and ExecutorEnd recording are what is measured.
#
# usage: test/bench/querytable.sh [--rounds N] [--seconds S] [--clients C]
#            [--queryids Q]      distinct ad-hoc queryids (default 1000)
#            [--lib PATH]        iosat.so to preload (default: the repository's
#                                build, else the installed one); copied first
#            [--base-lib PATH]   another build to measure beside it (sides
#                                small_base, large_base): before/after a change
#            [--out DIR]
# Runs as root (the server runs as postgres in a private temp directory);
# ~4 min with the defaults, ~6 with --base-lib.
set -euo pipefail
shopt -s inherit_errexit

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib/common.sh
. "$here/lib/common.sh"

ROUNDS=3
SECS=15
CLIENTS=4
QUERYIDS=1000
LIB=""
BASE_LIB=""
OUT=""
PORT=${PGPORT_QUERYTABLE:-5495}
while [[ $# -gt 0 ]]; do
	case $1 in
	--rounds) ROUNDS=$2; shift ;;
	--seconds) SECS=$2; shift ;;
	--clients) CLIENTS=$2; shift ;;
	--queryids) QUERYIDS=$2; shift ;;
	--lib) LIB=$2; shift ;;
	--base-lib) BASE_LIB=$2; shift ;;
	--out) OUT=$2; shift ;;
	-h | --help) sed -n '2,24p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) bench_die "unknown option $1" ;;
	esac
	shift
done
bench_posints ROUNDS SECS CLIENTS QUERYIDS
[[ $EUID -eq 0 ]] || bench_die "run as root"
((QUERYIDS <= 1270)) || bench_die "--queryids: at most 1270 (pgbench takes 128 scripts)"
if [[ -z $LIB ]]; then
	LIB=$REPO_DIR/iosat.so
	[[ -e $LIB ]] || LIB=$("$PG_CONFIG" --pkglibdir)/iosat.so
fi
[[ -e $LIB ]] || bench_die "no iosat.so ($LIB): run make first"
[[ -z $BASE_LIB || -e $BASE_LIB ]] || bench_die "no $BASE_LIB"
: "${OUT:=$here/results/querytable-$(date +%Y%m%d-%H%M%S)}"
mkdir -p "$OUT"

work=$(mktemp -d /tmp/iosat-querytable.XXXXXX)
PGDATA=$work/data
cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	set +e
	[[ -f $PGDATA/postmaster.pid ]] && as_pg pg_ctl -D "$PGDATA" -m immediate -w stop >/dev/null 2>&1
	rm -rf "$work"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# private copies: a rebuild or another engineer's install mid-run changes nothing
install -m 755 "$LIB" "$work/iosat.so"
[[ -n $BASE_LIB ]] && install -m 755 "$BASE_LIB" "$work/iosat_base.so"
chown -R "$PG_USER:" "$work" "$OUT"
as_pg initdb -D "$PGDATA" -A trust --no-sync >"$OUT/initdb.log" 2>&1
cat >>"$PGDATA/postgresql.conf" <<EOF
listen_addresses = ''
port = $PORT
unix_socket_directories = '$work'
shared_buffers = 128MB
fsync = off
jit = off
autovacuum = off
include_if_exists = 'side.conf'
EOF
export PGHOST=$work PGPORT=$PORT PGDATABASE=postgres

side_conf() { # SIDE: its postgresql.conf lines
	local lib=$work/iosat.so
	[[ $1 == *_base ]] && lib=$work/iosat_base.so
	case $1 in
	stock) ;;
	small*) printf "shared_preload_libraries = '%s'\niosat.admission = 'queue'\niosat.max_queries = 100\n" "$lib" ;;
	large*) printf "shared_preload_libraries = '%s'\niosat.admission = 'queue'\niosat.max_queries = 20000\n" "$lib" ;;
	esac
}

: >"$PGDATA/side.conf"
chown "$PG_USER:" "$PGDATA/side.conf"
BENCH_OUT=$OUT
bench_start
as_pg pgbench -i -q -s 1 >"$OUT/init.log" 2>&1
psql_q "DO \$\$ BEGIN FOR i IN 1..$QUERYIDS LOOP
	EXECUTE format('CREATE TABLE q%s (v int)', i);
	EXECUTE format('INSERT INTO q%s VALUES (1)', i);
END LOOP; END \$\$" >/dev/null
psql_q 'VACUUM ANALYZE' >/dev/null
# the ad-hoc side: scripts of 10 statements over distinct tables, one
# queryid each (-M prepared: parse and plan once per connection, so what
# iosat adds per statement is not drowned in planning)
ADHOC=()
for i in $(seq 1 $(((QUERYIDS + 9) / 10))); do
	for j in $(seq $((10 * i - 9)) $((10 * i > QUERYIDS ? QUERYIDS : 10 * i))); do
		echo "SELECT v FROM q$j;"
	done >"$work/adhoc$i.sql"
	ADHOC+=(-f "$work/adhoc$i.sql@1")
done
printf '\\set aid random(1, 100000)\nSELECT abalance FROM pgbench_accounts WHERE aid = :aid;\n' >"$work/point.sql"
chown "$PG_USER:" "$work"/*.sql

# CPU used by the backends that have exited: the postmaster's reaped
# children (cutime + cstime, in ticks).  Unlike tps, it barely moves with
# other load on the machine.
HZ=$(getconf CLK_TCK)
backend_cpu_ticks() { awk '{ print $16 + $17 }' "/proc/$(head -n 1 "$PGDATA/postmaster.pid")/stat"; }

SIDES=(stock small large)
[[ -n $BASE_LIB ]] && SIDES+=(small_base large_base)

run_one() { # ROUND SIDE
	bench_stop
	side_conf "$2" >"$PGDATA/side.conf"
	bench_start
	if [[ $2 != stock ]]; then
		psql_q "SHOW iosat.max_queries" >/dev/null 2>&1 || bench_die "$2: iosat not loaded"
	fi
	local bench=(pgbench -n -M prepared -c "$CLIENTS" -j 2 "${ADHOC[@]}" -f "$work/point.sql@${#ADHOC[@]}")
	as_pg "${bench[@]}" -T 3 >/dev/null 2>&1 # warm: relcache, and the table fills
	local tps entries="" out cpu0 cpu1 xacts
	sleep 0.5
	cpu0=$(backend_cpu_ticks)
	out=$(as_pg "${bench[@]}" -T "$SECS" 2>>"$OUT/pgbench.err")
	sleep 0.5
	cpu1=$(backend_cpu_ticks)
	tps=$(sed -n 's/^tps = \([0-9.]*\) .*/\1/p' <<<"$out")
	xacts=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' <<<"$out")
	local f=new
	[[ $2 == *_base ]] && f=base
	[[ $2 != stock ]] && entries=$(psql_q "SELECT count(*) FROM iosat_queries_$f()" 2>/dev/null || echo "?")
	local us=$(((cpu1 - cpu0) * 1000000 / HZ / xacts))
	echo "$1,$2,$tps,$us,$entries,$(cut -d' ' -f1 /proc/loadavg)" >>"$OUT/querytable.csv"
	bench_log "round $1 $2: $tps tps, $us us backend CPU per transaction${entries:+, $entries entries}"
}

# iosat_queries() without the extension's SQL: the function alone, one per
# build (not checked at creation: that would load the library)
for f in new ${BASE_LIB:+base}; do
	lib=$work/iosat.so
	[[ $f == base ]] && lib=$work/iosat_base.so
	psql_q "SET check_function_bodies = off;
	CREATE FUNCTION iosat_queries_$f(OUT queryid int8, OUT calls int8, OUT blocks_read int8,
		OUT rows int8, OUT blocks_per_call float8, OUT rows_per_call float8,
		OUT read_amplification float8, OUT heavy bool, OUT times_queued int8,
		OUT times_refused int8, OUT last_decision text) RETURNS SETOF record
		AS '$lib', 'iosat_queries_srf' LANGUAGE C" >/dev/null
done

echo "round,side,tps,cpu_us,entries,load1" >"$OUT/querytable.csv"
machine_description >"$OUT/machine.txt"
bench_log "$ROUNDS rounds of ${SIDES[*]}, ${SECS}s each, -c $CLIENTS, $QUERYIDS ad-hoc queryids; lib $LIB${BASE_LIB:+, base $BASE_LIB}"
for r in $(seq 1 "$ROUNDS"); do
	n=${#SIDES[@]}
	for i in $(seq 0 $((n - 1))); do
		run_one "$r" "${SIDES[$(((i + r - 1) % n))]}"
	done
done

"$PY" - "$OUT/querytable.csv" "$QUERYIDS" "$CLIENTS" <<'EOF' | tee "$OUT/summary.md"
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1])))
fig = {}
for r in rows:
    if r["tps"]:
        fig.setdefault(r["side"], {})[r["round"]] = (float(r["tps"]), float(r["cpu_us"]))
what = {"stock": "iosat not loaded", "small": "max_queries 100 (full, evicting)",
        "large": "max_queries 20000 (all fit)",
        "small_base": "base build, max_queries 100", "large_base": "base build, max_queries 20000"}
def med_ratio(t, stock, i):
    ratios = [t[k][i] / stock[k][i] for k in t if k in stock]
    return f"{statistics.median(ratios):.3f} ({', '.join(f'{x:.3f}' for x in ratios)})"
print(f"pgbench -M prepared -c {sys.argv[3]}: half the transactions 10 SELECTs over {sys.argv[2]} distinct queryids, half a primary-key read")
print()
print("| side | median tps | tps / stock | backend CPU µs per transaction | CPU / stock |")
print("|---|---|---|---|---|")
for side in ["stock", "large", "small", "large_base", "small_base"]:
    if side not in fig:
        continue
    t = fig[side]
    print(f"| {side}: {what[side]} | {statistics.median(v[0] for v in t.values()):.0f} | "
          f"{med_ratio(t, fig['stock'], 0)} | {statistics.median(v[1] for v in t.values()):.0f} | "
          f"{med_ratio(t, fig['stock'], 1)} |")
print()
print(f"load1 during runs: {min(float(r['load1']) for r in rows):.2f}..{max(float(r['load1']) for r in rows):.2f}")
EOF
echo "results: $OUT"
