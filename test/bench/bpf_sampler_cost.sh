#!/bin/bash
# test/bench/bpf_sampler_cost.sh - what reading iosatd's maps adds to a
# sample of the iosat sampler.
#
#   sudo test/bench/bpf_sampler_cost.sh [SECONDS] [DEVICES]
#
# Starts iosatd (the installed one, or src/iosatd/iosatd) on a private pin
# directory and a throwaway cluster (as the postgres OS user) with iosat
# preloaded, sampling every 20 ms.  DEVICES (default: those discovered for
# the data directory) may name more block devices (iosat.devices, e.g.
# "vda,loop0,loop1") to see the cost per device.  It then alternates
# iosat.bpf = on / off (PHASES phases of SECONDS each, default 4 x 10 s) and
# prints, per phase, the sampler's own measurement of a pass
# (iosat_status.pass_avg_us: mean wall time of one sample pass since the
# reload, bpf_pass_avg_us: its BPF part) and the sampler's CPU
# time from /proc/<pid>/stat.  Everything it creates is removed on exit.
# Needs iosat installed (make install) and a kernel with BPF and BTF.
set -u
export LC_ALL=C
export PATH=/usr/sbin:/usr/bin:/sbin:/bin:$PATH
SECS=${1:-10}
DEVICES=${2:-}
PHASES=${PHASES:-4}
INTERVAL_MS=20
TOP=$(cd "$(dirname "$0")/../.." && pwd)

die() { echo "bpf_sampler_cost: $*" >&2; exit 1; }
[[ $EUID -eq 0 ]] || die "must run as root (starts iosatd)"
[[ -r /sys/kernel/btf/vmlinux ]] || die "kernel has no BTF"
IOSATD=/usr/local/sbin/iosatd
[[ -x $IOSATD ]] || IOSATD=$TOP/src/iosatd/iosatd
[[ -x $IOSATD ]] || die "iosatd is not built (make)"
PGBIN=$(pg_config --bindir 2>/dev/null) || die "pg_config not found"
PKGLIB=$(pg_config --pkglibdir)
[[ -f $PKGLIB/iosat.so ]] || die "iosat is not installed (make install)"
getent passwd postgres >/dev/null || die "no postgres user"

WORK=$(mktemp -d /tmp/iosat-bpf-sampler.XXXXXX)
chmod 0755 "$WORK"
chown postgres: "$WORK"
PINDIR=/sys/fs/bpf/iosat-bench-$$
PORT=$((20000 + $$ % 20000))
DPID=
cleanup() {
	[[ -f $WORK/data/postmaster.pid ]] &&
		runuser -u postgres -- "$PGBIN/pg_ctl" -D "$WORK/data" -m immediate stop >/dev/null 2>&1
	if [[ -n $DPID ]]; then kill -TERM "$DPID" 2>/dev/null; wait "$DPID" 2>/dev/null; fi
	rm -rf "$PINDIR" 2>/dev/null
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

pg() { runuser -u postgres -- "$PGBIN/psql" -XAtq -h "$WORK" -p "$PORT" -d postgres -c "$1"; }

"$IOSATD" -f -d "$PINDIR" >"$WORK/iosatd.log" 2>&1 &
DPID=$!
for _ in $(seq 100); do [[ -e $PINDIR/meta ]] && break; sleep 0.1; done
[[ -e $PINDIR/meta ]] || { cat "$WORK/iosatd.log"; die "iosatd did not start"; }

runuser -u postgres -- "$PGBIN/initdb" -D "$WORK/data" -A trust >/dev/null || die "initdb failed"
cat >>"$WORK/data/postgresql.conf" <<EOF
shared_preload_libraries = 'iosat'
port = $PORT
listen_addresses = ''
unix_socket_directories = '$WORK'
iosat.sample_interval = '${INTERVAL_MS}ms'
iosat.bpf_pin_dir = '$PINDIR'
iosat.profile = off
autovacuum = off
EOF
[[ -n $DEVICES ]] && echo "iosat.devices = '$DEVICES'" >>"$WORK/data/postgresql.conf"
runuser -u postgres -- "$PGBIN/pg_ctl" -D "$WORK/data" -l "$WORK/pg.log" -w start >/dev/null || {
	cat "$WORK/pg.log"
	die "server did not start"
}
pg "CREATE EXTENSION iosat" >/dev/null
for _ in $(seq 50); do [[ $(pg "SELECT bpf_status FROM iosat_status") == ok ]] && break; sleep 0.2; done
[[ $(pg "SELECT bpf_status FROM iosat_status") == ok ]] || die "iosat does not read the maps: $(pg 'SELECT bpf_note FROM iosat_status')"

spid=$(pg "SELECT sampler_pid FROM iosat_status")
hz=$(getconf CLK_TCK)
cpu_ticks() { awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$spid/stat"; }
setbpf() {
	sed -i '/^iosat.bpf = /d' "$WORK/data/postgresql.conf"
	echo "iosat.bpf = $1" >>"$WORK/data/postgresql.conf"
	runuser -u postgres -- "$PGBIN/pg_ctl" -D "$WORK/data" reload >/dev/null
}

ndev=$(pg "SELECT count(*) FROM iosat_devices WHERE status = 'ok'")
echo "iosat sampler cost per sample, BPF on vs off: $(uname -r), $(nproc) CPUs, load $(cut -d' ' -f1 /proc/loadavg)"
echo "interval ${INTERVAL_MS} ms, $ndev device(s): $(pg "SELECT string_agg(device, ', ') FROM iosat_devices WHERE status = 'ok'"), ${SECS} s per phase"
printf '  %-6s %8s %14s %16s %16s\n' "bpf" "passes" "pass_avg_us" "bpf_part_avg_us" "sampler_cpu_%"
declare -A sum bsum cnt
for ((i = 0; i < PHASES; i++)); do
	for mode in on off; do
		setbpf "$mode"
		want=$([[ $mode == on ]] && echo ok || echo off)
		for _ in $(seq 50); do [[ $(pg "SELECT bpf_status FROM iosat_status") == "$want" ]] && break; sleep 0.1; done
		sleep 1    # the reload reset the mean; let the first passes settle
		setbpf "$mode" # reset the mean again, now that the status is settled
		sleep 0.2
		c0=$(cpu_ticks); t0=$(date +%s.%N)
		sleep "$SECS"
		c1=$(cpu_ticks); t1=$(date +%s.%N)
		line=$(pg "SELECT (SELECT samples FROM iosat_status), round(pass_avg_us::numeric, 1), round(coalesce(bpf_pass_avg_us, 0)::numeric, 1) FROM iosat_status")
		IFS='|' read -r _ avg bpfus <<<"$line"
		passes=$(awk -v a="$t0" -v b="$t1" -v i="$INTERVAL_MS" 'BEGIN { printf "%d", (b - a) * 1000 / i }')
		cpu=$(awk -v c="$((c1 - c0))" -v hz="$hz" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", 100 * c / hz / (b - a) }')
		printf '  %-6s %8s %14s %16s %16s\n' "$mode" "~$passes" "$avg" "$bpfus" "$cpu"
		sum[$mode]=$(awk -v s="${sum[$mode]:-0}" -v a="$avg" 'BEGIN { print s + a }')
		bsum[$mode]=$(awk -v s="${bsum[$mode]:-0}" -v a="$bpfus" 'BEGIN { print s + a }')
		cnt[$mode]=$((${cnt[$mode]:-0} + 1))
	done
done
on=$(awk -v s="${sum[on]}" -v n="${cnt[on]}" 'BEGIN { printf "%.1f", s / n }')
off=$(awk -v s="${sum[off]}" -v n="${cnt[off]}" 'BEGIN { printf "%.1f", s / n }')
bon=$(awk -v s="${bsum[on]}" -v n="${cnt[on]}" 'BEGIN { printf "%.1f", s / n }')
echo "mean pass: BPF on $on us, off $off us (difference $(awk -v a="$on" -v b="$off" 'BEGIN { printf "%.1f", a - b }') us);" \
	"the BPF part itself (refresh, daemon check, one lookup and the percentiles per device): $bon us"
echo "at the default iosat.sample_interval of 500 ms: $(awk -v b="$bon" 'BEGIN { printf "%.4f", b / 5000 }')% of one CPU for BPF"
echo "(pass = devices' /sys files, PSI, the BPF refresh and lookups, the governor; wall time, so a busy machine inflates it)"
