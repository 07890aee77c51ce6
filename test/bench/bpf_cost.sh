#!/bin/bash
# test/bench/bpf_cost.sh - what iosat's BPF side costs.
#
#   sudo test/bench/bpf_cost.sh [SECONDS]        (default 10 per phase)
#
# 1. Per-event cost of each BPF program, from the kernel's own accounting
#    (kernel.bpf_stats_enabled=1: run_time_ns / run_cnt per program), under a
#    fio 4k random read/write load at queue depth 16 on a loop device, once
#    with the "none" scheduler and once with mq-deadline (block_rq_insert).
# 2. The heartbeat program's cost per beat (includes the reaping sweep).
# 3. fio IOPS without and with iosatd attached.
# 4. The reader's cost per sample (src/bpf/bpf_reader.c through
#    iosat-bpfstat --bench), as root and as the postgres user.
# 5. The iosat sampler's cost per sample with iosat.bpf on and off
#    (test/bench/bpf_sampler_cost.sh), when iosat is installed.
# Everything it creates (loop device, pin dir, daemon) is removed on exit and
# kernel.bpf_stats_enabled is restored.
set -u
export LC_ALL=C
export PATH=/usr/sbin:/usr/bin:/sbin:/bin:$PATH
SECS=${1:-10}
TOP=$(cd "$(dirname "$0")/../.." && pwd)
IOSATD=$TOP/src/iosatd/iosatd
BPFSTAT=$TOP/src/iosatd/iosat-bpfstat

die() { echo "bpf_cost: $*" >&2; exit 1; }
[[ $EUID -eq 0 ]] || die "must run as root"
[[ -r /sys/kernel/btf/vmlinux ]] || die "kernel has no BTF"
command -v fio >/dev/null || die "fio is needed"
if [[ ! -x $IOSATD || ! -x $BPFSTAT ]]; then
	make -C "$TOP" iosatd-all >/dev/null || die "cannot build iosatd"
fi

WORK=$(mktemp -d /var/tmp/iosat-bpf-bench.XXXXXX)
chmod 0755 "$WORK"
PINDIR=/sys/fs/bpf/iosat_bench_$$
LOOP=
DPID=
OLD_STATS=$(cat /proc/sys/kernel/bpf_stats_enabled)
cleanup() {
	echo "$OLD_STATS" > /proc/sys/kernel/bpf_stats_enabled
	if [[ -n $DPID ]]; then kill -TERM "$DPID" 2>/dev/null; wait "$DPID" 2>/dev/null; fi
	[[ -n $LOOP ]] && losetup -d "$LOOP" 2>/dev/null
	rm -rf "$PINDIR" "$WORK" 2>/dev/null
}
trap cleanup EXIT
trap 'exit 130' INT TERM

cc -O2 -o "$WORK/bpf_progstat" "$TOP/test/bench/bpf_progstat.c" -lbpf || die "cannot build bpf_progstat"

truncate -s 1G "$WORK/disk.img"
LOOP=$(losetup -f --show --direct-io=on "$WORK/disk.img") || die "cannot attach a loop device"
DEV=${LOOP#/dev/}
SCHED=/sys/block/$DEV/queue/scheduler

fio_iops() { # fio_iops SECONDS -> total IOPS
	fio --name=bpfcost --filename="$LOOP" --direct=1 --rw=randrw --bs=4k --iodepth=16 \
		--ioengine=libaio --runtime="$1" --time_based --output-format=json 2>/dev/null |
		awk '/"iops" :/ { gsub(/[",]/, "", $3); s += $3 } END { printf "%.0f", s }'
}
snap() { "$WORK/bpf_progstat" btf_ raw_ iosat_heartbeat; }
# report BEFORE AFTER WALL_SECONDS
report() {
	awk -v wall="$3" '
		function val(line, key,   i, n, a) { n = split(line, a, " "); for (i = 1; i <= n; i++) if (index(a[i], key "=") == 1) return substr(a[i], length(key) + 2); return 0 }
		FNR == NR { b_cnt[val($0, "name")] = val($0, "run_cnt"); b_ns[val($0, "name")] = val($0, "run_time_ns"); next }
		{
			name = val($0, "name"); c = val($0, "run_cnt") - b_cnt[name]; t = val($0, "run_time_ns") - b_ns[name]
			if (c <= 0) next
			printf "  %-16s %10d events %9.0f/s %9.0f ns/event  %6.2f%% of one CPU\n", name, c, c / wall, t / c, 100 * t / (wall * 1e9)
			tot += t
		}
		END { printf "  %-16s %50s %6.2f%% of one CPU\n", "total", "", 100 * tot / (wall * 1e9) }
	' "$1" "$2"
}

echo "iosat BPF cost on $(uname -r), $(nproc) CPUs, loop device $LOOP (direct I/O on $(df --output=source "$WORK" | tail -1)), fio 4k randrw QD16, ${SECS}s phases"
echo

echo none > "$SCHED"
base_iops=$(fio_iops "$SECS")

echo 1 > /proc/sys/kernel/bpf_stats_enabled
"$IOSATD" -f -d "$PINDIR" -i 1000 >"$WORK/iosatd.log" 2>&1 &
DPID=$!
for _ in $(seq 100); do "$BPFSTAT" -d "$PINDIR" -s >/dev/null 2>&1 && break; sleep 0.1; done
"$BPFSTAT" -d "$PINDIR" -s >/dev/null 2>&1 || { cat "$WORK/iosatd.log"; die "iosatd did not start"; }

for sched in none mq-deadline; do
	grep -q "$sched" "$SCHED" || continue
	echo "$sched" > "$SCHED"
	snap > "$WORK/before"
	t0=$(date +%s.%N)
	iops=$(fio_iops "$SECS")
	t1=$(date +%s.%N)
	snap > "$WORK/after"
	wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')
	echo "Per-event cost, scheduler $sched (fio $iops IOPS with iosatd attached):"
	report "$WORK/before" "$WORK/after" "$wall"
	[[ $sched == none ]] && with_iops=$iops
	echo
done
echo none > "$SCHED"

echo "fio IOPS, scheduler none: without iosatd $base_iops, with iosatd $with_iops" \
	"($(awk -v a="$base_iops" -v b="$with_iops" 'BEGIN { if (a > 0) printf "%+.1f%%", 100 * (b - a) / a }'))"
echo "  (a loop device on a virtual disk is noisy: compare the per-event figures, not this ratio)"
echo

echo "Reader cost per sample (bpf_reader.c via iosat-bpfstat --bench 2000):"
"$BPFSTAT" -d "$PINDIR" --bench 2000 | sed 's/^/  root:     /'
if getent passwd postgres >/dev/null; then
	runuser -u postgres -- "$BPFSTAT" -d "$PINDIR" --bench 2000 | sed 's/^/  postgres: /'
fi

echo
if [[ -f $(pg_config --pkglibdir 2>/dev/null)/iosat.so ]]; then
	echo "Sampler cost per sample, iosat.bpf on vs off (test/bench/bpf_sampler_cost.sh):"
	PHASES=2 "$TOP/test/bench/bpf_sampler_cost.sh" "$SECS" 2>&1 | sed 's/^/  /'
else
	echo "Sampler cost per sample: iosat is not installed (make install), skipped"
fi
