#!/bin/bash
# Where iosat's hot-path cost goes, in instructions: the same statements run
# by a single-user backend under valgrind's callgrind, without iosat and
# with it preloaded as the docs configure it (test/bench/configs/queue.conf,
# a ceiling set), on a healthy device (nothing saturated, nothing queued).
# Instructions, unlike seconds, do not depend on what else the machine is
# doing: the counts repeat to the instruction for the same binaries, and
# this can run beside anything.
#
# Per run, --statements point selects by primary key: pgbench -S -M
# prepared's own transaction (`SELECT abalance FROM pgbench_accounts
# WHERE aid = :aid` over the extended protocol, one client; the server
# under callgrind, the backend's count taken), which is what
# test/bench/overhead.sh times; and, by a single-user backend,
# `SELECT v FROM hp WHERE id = $1` through SQL PREPARE/EXECUTE (a utility
# statement around the executor) and as plain queries (parsed, planned
# and, with iosat, given a query id each time).
# Prints the instructions per statement (callgrind's Ir of a run of N
# statements minus that of a run of N/10, divided by the difference: the
# start and the shutdown cancel out, and Debian's stripped postgres needs no
# symbols), the ratio stock/iosat (the throughput ratio if time followed
# instructions), and where the protocol path's added instructions go, by
# function.
#
# usage: test/bench/hotpath_instructions.sh [--statements N] [--kinds "protocol prepared plain"] [--out DIR]
# Runs as root (the cluster runs as postgres); needs valgrind; iosat
# installed (`make install`).  About 2 minutes with the defaults.
set -euo pipefail
shopt -s inherit_errexit

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib/common.sh
. "$here/lib/common.sh"

N=5000
KINDS="protocol prepared plain"
OUT=""
while [ $# -gt 0 ]; do
	case $1 in
		--statements) N=$2; shift 2 ;;
		--kinds) KINDS=$2; shift 2 ;;
		--out) OUT=$2; shift 2 ;;
		-h|--help) sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'; exit 0 ;;
		*) bench_die "unknown argument $1" ;;
	esac
done
[ "$(id -u)" -eq 0 ] || bench_die "run as root"
command -v valgrind >/dev/null || bench_die "valgrind is not installed (apt-get install valgrind)"
[ -e "$("$PG_CONFIG" --pkglibdir)/iosat.so" ] || bench_die "iosat is not installed: make install"

work=$(mktemp -d /var/tmp/iosat-hotpath.XXXXXX)
chown "$PG_USER:" "$work"
# a server left running under callgrind (a run that failed) goes too
trap 'as_pg pg_ctl -D "$work/pgdata" -m immediate -w stop >/dev/null 2>&1; rm -rf "$work"' EXIT
OUT=${OUT:-$REPO_DIR/test/bench/results/hotpath-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$OUT"
machine_description >"$OUT/machine.txt"

# one cluster; the table is made by a single-user run (no server started)
PGDATA=$work/pgdata
install -d -o "$PG_USER" "$work/run"
as_pg initdb -D "$PGDATA" -A trust --no-sync >"$OUT/initdb.log" 2>&1
echo "jit = off" >>"$PGDATA/postgresql.conf"
as_pg "$PGBIN/postgres" --single -D "$PGDATA" postgres >"$OUT/setup.log" 2>&1 <<'SQL'
CREATE TABLE hp (id int PRIMARY KEY, v int)
INSERT INTO hp SELECT g, g FROM generate_series(1, 100000) g
VACUUM ANALYZE hp
SQL
{
	echo "listen_addresses = ''"
	echo "port = 5499"
	echo "unix_socket_directories = '$work/run'"
} >>"$PGDATA/postgresql.conf"
as_pg pg_ctl -D "$PGDATA" -l "$work/server.log" -w start >/dev/null
as_pg pgbench -h "$work/run" -p 5499 -i -s 1 -q postgres >>"$OUT/setup.log" 2>&1
as_pg pg_ctl -D "$PGDATA" -w stop >/dev/null

# iosat as the docs set it: the queue configuration with a ceiling
iosat_conf() {
	sed -e 's/^@CEILING@$/iosat.iops_limit = 3000\niosat.throughput_limit = 125MB/' \
		"$here/configs/queue.conf" | grep -v '^#'
}

statements() {	# $1: prepared | plain, $2: how many
	local i
	if [ "$1" = prepared ]; then
		echo "PREPARE q(int) AS SELECT v FROM hp WHERE id = \$1"
		for ((i = 0; i < $2; i++)); do echo "EXECUTE q($(( (i * 7919) % 100000 + 1 )))"; done
	else
		for ((i = 0; i < $2; i++)); do echo "SELECT v FROM hp WHERE id = $(( (i * 7919) % 100000 + 1 ))"; done
	fi
}

# the server under callgrind (children followed across fork), pgbench -S -M
# prepared with one client for $2 transactions; prints the instructions of
# the backend that served it (of the processes that ran the executor, the
# one with the most: iosat's sampler runs none)
protocol_run() {
	local side=$1 n=$2 best=0 f ir
	shift 2
	rm -rf "$work/cg"
	install -d -o "$PG_USER" "$work/cg"
	as_pg bash -c 'exec valgrind --tool=callgrind --dump-instr=no --collect-jumps=no \
		--callgrind-out-file="$1/cg/out.%p" "$2/postgres" -D "$3" "${@:4}"' \
		_ "$work" "$PGBIN" "$PGDATA" "$@" >"$work/run.log" 2>&1 &
	local t=0
	until as_pg pg_isready -q -h "$work/run" -p 5499; do
		sleep 1; t=$((t + 1))
		[ $t -lt 120 ] || bench_die "the server under callgrind did not start: $(tail -3 "$work/run.log")"
	done
	as_pg pgbench -h "$work/run" -p 5499 -n -S -M prepared -c 1 -t "$n" postgres >"$work/pgbench.log" 2>&1 \
		|| bench_die "pgbench failed: $(tail -3 "$work/pgbench.log")"
	as_pg pg_ctl -D "$PGDATA" -m fast -w -t 300 stop >/dev/null
	wait
	for f in "$work"/cg/out.*; do
		grep -q standard_ExecutorStart "$f" || continue
		ir=$(awk '/^summary:|^totals:/ { print $2; exit }' "$f")
		[ "${ir:-0}" -gt "$best" ] && { best=$ir; cp "$f" "$work/callgrind.$side.protocol.$n"; }
	done
	cp "$work/callgrind.$side.protocol.$n" "$OUT/"
	echo "$best"
}

# run $1 (stock|iosat) $2 (protocol|prepared|plain) $3 (statements): prints
# the instructions of the whole run
run() {
	local side=$1 kind=$2 n=$3 opts=() f="$work/callgrind.$1.$2.$3"
	if [ "$side" = iosat ]; then
		while IFS= read -r line; do
			[ -n "$line" ] || continue
			opts+=(-c "$(echo "$line" | sed -e 's/ *= */=/' -e "s/'//g")")
		done < <(iosat_conf)
	fi
	if [ "$kind" = protocol ]; then
		protocol_run "$side" "$n" "${opts[@]}"
		return
	fi
	statements "$kind" "$n" >"$work/in.sql"
	chmod 644 "$work/in.sql"
	as_pg valgrind --tool=callgrind --callgrind-out-file="$f" \
		--dump-instr=no --collect-jumps=no \
		"$PGBIN/postgres" --single -D "$PGDATA" "${opts[@]}" postgres \
		<"$work/in.sql" >"$work/run.log" 2>&1 \
		|| { cp "$work/run.log" "$OUT/run.$side.$kind.$n.log"; bench_die "callgrind run $side $kind failed: see $OUT/run.$side.$kind.$n.log"; }
	grep -q "ERROR:" "$work/run.log" && { cp "$work/run.log" "$OUT/run.$side.$kind.$n.log"; bench_die "$side $kind: an ERROR in $OUT/run.$side.$kind.$n.log"; }
	cp "$f" "$OUT/"
	awk '/^summary:|^totals:/ { print $2; exit }' "$f"
}

{
	echo "hot-path instructions: runs of $N and $((N / 10)) statements (protocol: a server under callgrind, pgbench -S -M prepared, the backend's count; prepared, plain: a single-user backend), callgrind Ir per statement: the difference of the runs"
	echo "iosat settings: $(iosat_conf | tr '\n' ' ')"
	echo
	echo "| statements | stock Ir/stmt | iosat Ir/stmt | iosat adds | stock/iosat |"
	echo "|---|---|---|---|---|"
	for kind in $KINDS; do
		s=$(( $(run stock "$kind" "$N") - $(run stock "$kind" $((N / 10))) ))
		i=$(( $(run iosat "$kind" "$N") - $(run iosat "$kind" $((N / 10))) ))
		awk -v k="$kind" -v s="$s" -v i="$i" -v n=$((N - N / 10)) \
			'BEGIN { printf "| %s | %.0f | %.0f | %.0f (%.2f%%) | %.4f |\n", k, s / n, i / n, (i - s) / n, 100 * (i - s) / s, s / i }'
	done
	echo
	if [ -f "$work/callgrind.iosat.protocol.$N" ]; then
		echo "Where the protocol path's added instructions go: per function, its own"
		echo "instructions per statement with iosat minus without (the difference of"
		echo "the runs on each side; PostgreSQL's functions included, as they run"
		echo "iosat's callbacks), largest first:"
		echo
		"$PY" - "$work" "$N" <<'PY'
import collections, re, subprocess, sys
work, n = sys.argv[1], int(sys.argv[2])
def prof(f):
    out = subprocess.run(["callgrind_annotate", "--threshold=100", "--auto=no", f],
                         capture_output=True, text=True).stdout
    d = collections.Counter()
    for line in out.splitlines():
        m = re.match(r"\s*([\d,]+)\s+(?:\([ \d.]+%\)\s+)?(\S.*\[.*\])\s*$", line)
        if m and "=>" not in line:
            # by function, not object: a libc symbol may resolve in ld.so on one side
            name = re.sub(r"\s*\[[^]]*\]$", "", re.sub(r"^.*/src/", "src/", m.group(2)))
            d[name] += int(m.group(1).replace(",", ""))
    return d
s5, s0, i5, i0 = (prof(f"{work}/callgrind.{side}.protocol.{k}")
                  for side, k in (("stock", n), ("stock", n // 10), ("iosat", n), ("iosat", n // 10)))
per = n - n // 10
diff = {k: ((i5[k] - i0[k]) - (s5[k] - s0[k])) / per for k in set(s5) | set(s0) | set(i5) | set(i0)}
for k, v in sorted(diff.items(), key=lambda x: -x[1])[:16]:
    if v >= 3:
        print(f"  {v:7.1f}  {k}")
PY
	fi
} | tee "$OUT/summary.md"
echo "results: $OUT"
