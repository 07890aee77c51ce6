# shellcheck shell=bash
# Helpers shared by test/bench/storm.sh, overhead.sh and test/demo.sh.
# Sourced by scripts that run as root; servers run as the postgres OS user.

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
REPO_DIR=$(cd "$BENCH_DIR/../.." && pwd)
ROOTCTL="$REPO_DIR/test/lib/rootctl"
PG_USER=${PG_USER:-postgres}
PG_CONFIG=${PG_CONFIG:-pg_config}
PY=${PY:-/usr/bin/python3}
[[ -x $PY ]] || PY=python3

bench_log() { printf '[%s] %s\n' "$(date +%T)" "$*" >&2; }
bench_die() { bench_log "FATAL: $*"; exit 1; }

# PG binaries: pg_config --bindir (PG_CONFIG overridable), else Debian's 15
pg_bindir() {
	local d
	d=$("$PG_CONFIG" --bindir 2>/dev/null || true)
	if [[ -z $d || ! -x $d/initdb ]]; then
		d=/usr/lib/postgresql/15/bin
	fi
	[[ -x $d/initdb ]] || bench_die "no initdb (set PG_CONFIG)"
	echo "$d"
}
PGBIN=${PGBIN:-$(pg_bindir)}

# as_pg CMD...: run as the postgres OS user, same environment knobs we need
as_pg() {
	runuser -u "$PG_USER" -- env PATH="$PGBIN:/usr/sbin:/usr/bin:/sbin:/bin" LC_ALL=C \
		${PGHOST:+PGHOST=$PGHOST} ${PGPORT:+PGPORT=$PGPORT} ${PGDATABASE:+PGDATABASE=$PGDATABASE} \
		"$@"
}

# bench_counts VAR...: each must hold a positive integer (option --var)
bench_counts() {
	local v
	for v in "$@"; do
		[[ ${!v} =~ ^[1-9][0-9]*$ ]] || bench_die "bad --${v,,}"
	done
}

# the bench's own server: $PGDATA, logging to $OUT/server.log
pg_start() { as_pg pg_ctl -D "$PGDATA" -l "$OUT/server.log" -w -t 60 start >/dev/null; }
pg_stop() { as_pg pg_ctl -D "$PGDATA" -m fast -w -t 60 stop >/dev/null; }

# psql_q SQL: one value/rows, unaligned, no psqlrc
psql_q() { as_pg psql -X -q -A -t -v ON_ERROR_STOP=1 -c "$1"; }

# machine description (key: value lines)
machine_description() {
	echo "date: $(date -u +%FT%TZ)"
	echo "host: $(hostname)"
	echo "kernel: $(uname -srm)"
	echo "cpu: $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo) x $(nproc)"
	echo "memory: $(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)"
	echo "os: $(. /etc/os-release && echo "$PRETTY_NAME")"
	echo "postgres: $("$PGBIN/postgres" --version)"
	echo "pgbench: $("$PGBIN/pgbench" --version 2>/dev/null || pgbench --version)"
	echo "pgbouncer: $(pgbouncer --version 2>/dev/null | head -n 1 || echo absent)"
	echo "git_commit: $(git -C "$REPO_DIR" rev-parse HEAD 2>/dev/null || echo unknown)$(git -C "$REPO_DIR" diff --quiet HEAD -- src sql 2>/dev/null || echo ' (src/sql modified)')"
	local so
	so=$("$PG_CONFIG" --pkglibdir 2>/dev/null)/iosat.so
	if [[ -e $so ]]; then
		# the installed library need not be built from git_commit: say which it is
		echo "iosat_installed: $so ($(date -u -r "$so" +%FT%TZ), md5 $(md5sum <"$so" | cut -c1-12))"
	else
		echo "iosat_installed: no"
	fi
	echo "load_at_start: $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "busy_processes_at_start: $(ps -eo pcpu=,comm= --sort=-pcpu | awk '$1 > 20 { printf "%s(%s%%) ", $2, $1 }')"
}

# is_quiet: another engineer compiling? (load average over 1.0 per core is "busy")
machine_busy_note() {
	local l
	l=$(cut -d' ' -f1 /proc/loadavg)
	awk -v l="$l" -v n="$(nproc)" 'BEGIN { if (l > 0.5 * n) print "busy (load " l " on " n " cores)"; else print "quiet (load " l ")" }'
}
