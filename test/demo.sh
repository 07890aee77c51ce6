#!/bin/bash
# iosat demo -- the README's main-job command. As root on Debian 12:
#
#     bash test/demo.sh            (--skip-storm: stop after the iosat_devices part)
#
# 1. installs what it needs (apt-get: postgresql-15, server-dev, libbpf-dev,
#    fio, pgbouncer, gnuplot-nox, build-essential, ...),
# 2. builds and installs iosat (make && make install, in a private copy of this
#    tree so the checkout stays clean),
# 3. creates a device with a 400-read-IOPS ceiling that queues like a cloud
#    volume (test/lib/rootctl stack-create), a throwaway cluster on it with
#    iosat preloaded, CREATE EXTENSION iosat,
# 4. puts random-read load on the device with fio and shows iosat_devices
#    following it (a few samples),
# 5. runs the short storm comparison (test/bench/storm.sh --short: the
#    `read` storm on a volume whose reads and writes share one IOPS budget,
#    stock PostgreSQL vs iosat in queue mode) and prints its tables.
# Everything it creates (servers, mounts, loop devices, cgroups, build copy) is
# removed on exit, Ctrl-C included; it can be run again right away.
set -euo pipefail
shopt -s inherit_errexit

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ROOTCTL=$repo/test/lib/rootctl
NAME=demo
PORT=5495
SKIP_STORM=0
STORM_ARGS=()
while [[ $# -gt 0 ]]; do
	case $1 in
	--skip-storm) SKIP_STORM=1 ;;
	--) shift; STORM_ARGS=("$@"); break ;;
	-h | --help) sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "demo.sh: unknown option $1 (options after -- go to storm.sh)" >&2; exit 2 ;;
	esac
	shift
done

if [[ -t 1 ]]; then
	say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
else
	say() { printf '\n== %s\n' "$*"; }
fi
if [[ $EUID -ne 0 ]]; then
	echo "demo.sh: run as root (it installs packages and creates loop devices)" >&2
	exit 2
fi

build=""
PGDATA=""
FIO_PID=""
PGBIN=""
cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	set +e
	[[ -n $FIO_PID ]] && kill "$FIO_PID" 2>/dev/null && wait "$FIO_PID" 2>/dev/null
	if [[ -n $PGDATA && -f $PGDATA/postmaster.pid ]]; then
		runuser -u postgres -- "$PGBIN/pg_ctl" -D "$PGDATA" -m immediate -w stop >/dev/null 2>&1
	fi
	[[ -x $ROOTCTL ]] && "$ROOTCTL" destroy "$NAME" >/dev/null 2>&1
	[[ -n $build ]] && rm -rf "$build"
	exit "$rc"
}
trap cleanup EXIT
trap 'echo "demo.sh: interrupted" >&2; exit 130' INT TERM

# ---------------------------------------------------------------- 1. packages
say "packages"
if [[ -f $repo/test/lib/deps.sh ]]; then
	# shellcheck source=lib/deps.sh
	. "$repo/test/lib/deps.sh"
	iosat_install_deps
else
	pk=(build-essential postgresql-15 postgresql-server-dev-15 postgresql-contrib libbpf-dev
		fio pgbouncer gnuplot-nox e2fsprogs util-linux psmisc procps)
	missing=()
	for p in "${pk[@]}"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
	done
	if ((${#missing[@]})); then
		export DEBIAN_FRONTEND=noninteractive
		apt-get update -qq
		apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
	fi
fi
echo "ok: $(dpkg-query -W -f='${Package} ${Version}\n' postgresql-15 fio pgbouncer 2>/dev/null | tr '\n' ' ')"

# ---------------------------------------------------------------- 2. build
say "build and install iosat (make && make install)"
PG_CONFIG=${PG_CONFIG:-pg_config}
build=$(mktemp -d /tmp/iosat-demo-build.XXXXXX)
tar -C "$repo" --exclude=.git --exclude=tmp_check --exclude=tmp_regress --exclude=results \
	--exclude='test/bench/results' --exclude='test/bench/work' --exclude='*.o' --exclude='*.so' --exclude='*.bc' \
	-cf - . | tar -C "$build" -xf -
if ! nice make -s -C "$build" PG_CONFIG="$PG_CONFIG" >"$build/make.log" 2>&1; then
	tail -n 30 "$build/make.log" >&2
	echo "demo.sh: make failed" >&2
	exit 1
fi
install_warning=""
if ! make -s -C "$build" PG_CONFIG="$PG_CONFIG" install >"$build/install.log" 2>&1; then
	if [[ -e $("$PG_CONFIG" --pkglibdir)/iosat.so && -e $("$PG_CONFIG" --sharedir)/extension/iosat.control ]]; then
		install_warning="make install failed after installing the extension: $(grep -m1 -E 'Error|error' "$build/install.log")"
		echo "WARNING: $install_warning" >&2
	else
		tail -n 30 "$build/install.log" >&2
		echo "demo.sh: make install failed" >&2
		exit 1
	fi
fi
PGBIN=$("$PG_CONFIG" --bindir)
[[ -x $PGBIN/initdb ]] || PGBIN=/usr/lib/postgresql/15/bin
echo "installed: $("$PG_CONFIG" --pkglibdir)/iosat.so"

# ---------------------------------------------------------------- 3. device + cluster
say "a device with a 400 read-IOPS ceiling (ext4 on loopA -> loopB, blkio throttle on loopB)"
"$ROOTCTL" destroy "$NAME" >/dev/null 2>&1 || true
info=$("$ROOTCTL" stack-create "$NAME" 2048 0 0)
echo "$info" | sed 's/^/  /'
MNT=$(sed -n 's/^mnt=//p' <<<"$info")
DEV=$(sed -n 's|^dev=/dev/||p' <<<"$info")
# fio's file is laid out before the ceiling goes on
install -d -o postgres -m 0700 "$MNT/fio" "$MNT/run"
runuser -u postgres -- fio --name=layout --directory="$MNT/fio" --filename=demo.dat --size=256M \
	--rw=write --bs=1M --direct=1 --output=/dev/null >/dev/null
"$ROOTCTL" throttle "$NAME" 400 1000 >/dev/null

PGDATA=$MNT/pgdata
as_pg() { runuser -u postgres -- env PATH="$PGBIN:/usr/bin:/bin" PGHOST="$MNT/run" PGPORT=$PORT "$@"; }
as_pg initdb -D "$PGDATA" -A trust --no-sync >/dev/null
cat >>"$PGDATA/postgresql.conf" <<EOF
listen_addresses = ''
port = $PORT
unix_socket_directories = '$MNT/run'
shared_preload_libraries = 'iosat'
EOF
as_pg pg_ctl -D "$PGDATA" -l "$MNT/server.log" -w start >/dev/null ||
	{ tail -n 20 "$MNT/server.log" >&2; echo "demo.sh: the server with iosat preloaded did not start" >&2; exit 1; }
as_pg psql -X -q -d postgres -c "CREATE EXTENSION iosat"
echo "cluster on $DEV with iosat preloaded; CREATE EXTENSION iosat done"

Q="SELECT device, status, round(r_iops::numeric) AS r_iops, round(w_iops::numeric) AS w_iops,
          round(r_await_ms::numeric, 1) AS r_await_ms, round(aqu_sz::numeric, 1) AS aqu_sz,
          inflight, round(util_pct::numeric) AS util_pct, round(psi_some_avg10::numeric, 1) AS psi_some
   FROM iosat_devices"
show() { as_pg psql -X -q -d postgres -P footer=off -c "$Q"; }

# ---------------------------------------------------------------- 4. load
say "iosat_devices, device idle"
sleep 3
show
as_pg psql -X -q -d postgres -P expanded=on -P footer=off -c "SELECT sampler_pid, sample_interval_ms, samples, devices, stale, psi_available FROM iosat_status"

say "fio: 8 KiB random reads, queue depth 32, for 20 s (above the 400-IOPS ceiling)"
runuser -u postgres -- fio --name=demo --directory="$MNT/fio" --filename=demo.dat --size=256M \
	--rw=randread --bs=8k --direct=1 --ioengine=libaio --iodepth=32 --runtime=20 --time_based \
	--output="$MNT/fio.out" >/dev/null 2>&1 &
FIO_PID=$!
for i in 1 2 3 4; do
	sleep 4
	echo "-- sample $i ($(date +%T))"
	show
done
wait "$FIO_PID" || true
FIO_PID=""
echo "fio: $(grep -m1 -o 'IOPS=[^,]*' "$MNT/fio.out" || true) (ceiling 400)"
say "iosat_devices, after the load"
sleep 3
show

as_pg pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
PGDATA=""
"$ROOTCTL" destroy "$NAME" >/dev/null

# ---------------------------------------------------------------- 5. storm
if ((SKIP_STORM)); then
	say "done (--skip-storm)"
	[[ -z $install_warning ]] || echo "WARNING: $install_warning"
	exit 0
fi
say "the IOPS death spiral, side by side (test/bench/storm.sh --short, a few minutes)"
out=$repo/test/bench/results/demo-$(date +%Y%m%d-%H%M%S)
"$repo/test/bench/storm.sh" --short --no-latest --out "$out" "${STORM_ARGS[@]}"
[[ -z $install_warning ]] || echo "WARNING: $install_warning"
echo "demo done: results and plots in $out"
