#!/bin/bash
# Can a block-I/O cgroup limit hold a process's buffered writes?  The
# question behind docs/writeback.md's cgroup design: if iosat placed heavy
# backends and vacuum workers in a cgroup with a write limit, would the
# kernel hold their share of the volume, write-back included?
#
# One ext4 file system on a loop device (its backing file on the disk
# under /var/tmp, no other user).  A child cgroup of the blkio (v1) or io
# (v2) controller limits writes on that loop device to --kbps KiB a second
# (default 1024; bytes, not requests: the kernel merges buffered
# write-back into large requests).  A writer writes --mb MiB in 8 KiB blocks (what
# PostgreSQL writes) from inside the cgroup, four ways:
#   direct    O_DIRECT (the process submits every request itself)
#   fsync     buffered, then fsync() (the process submits the write-back
#             that its fsync starts: a checkpoint's fsync is this)
#   buffered  buffered, no fsync: write() returns once the page cache holds
#             the data; the kernel's flusher threads write it back later,
#             when it has been dirty for vm.dirty_expire_centisecs (30 s
#             by default)
#   outside   the buffered case from a process outside the cgroup (no limit)
# Prints, per case, when dd finished, when 10% of the data had reached the
# device and when all of it had (seconds from the start; polled every 5
# ms), the write requests, and the KiB/s from 10% to 90% of the data on
# the device, side by side with the limit: a case the limit holds runs at about --kbps; one it does not
# runs at the device's own speed, as outside does.
#
# Then: what placing a backend in a cgroup per statement would cost: a
# process moves itself between two sibling cgroups --moves times (writes
# its pid to cgroup.procs; the hierarchy the io controller lives on, v2
# where there is one), and the median, 90th, 99th percentile and longest
# move are printed.
#
# usage: test/bench/cgroup_writeback.sh [--kbps N] [--mb N] [--moves N] [--out FILE]
# Runs as root (loop device, cgroup, mount); ~1 minute with the defaults.
# cgroup v2 is used when its io controller is enabled at the root
# (io.max wbps); otherwise v1's blkio.throttle.write_bps_device.
set -euo pipefail

KBPS=1024
MB=8
MOVES=1000
OUT=""
while [ $# -gt 0 ]; do
	case $1 in
		--kbps) KBPS=$2; shift 2 ;;
		--mb) MB=$2; shift 2 ;;
		--moves) MOVES=$2; shift 2 ;;
		--out) OUT=$2; shift 2 ;;
		-h|--help) sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'; exit 0 ;;
		*) echo "cgroup_writeback: unknown argument $1" >&2; exit 2 ;;
	esac
done
[ "$(id -u)" -eq 0 ] || { echo "cgroup_writeback: run as root" >&2; exit 2; }

work=$(mktemp -d /var/tmp/iosat-cgwb.XXXXXX)
loop="" cg="" mnt="$work/mnt" movecg=""
cleanup() {
	set +e
	[ -n "$movecg" ] && rmdir "$movecg/a" "$movecg/b" "$movecg" 2>/dev/null
	[ -n "$cg" ] && [ -d "$cg" ] && { cat "$cg/cgroup.procs" 2>/dev/null | while read -r p; do echo "$p" > "$CGROOT/cgroup.procs"; done; rmdir "$cg"; }
	mountpoint -q "$mnt" && umount "$mnt"
	[ -n "$loop" ] && losetup -d "$loop"
	rm -rf "$work"
}
trap cleanup EXIT

# which controller: v2 io.max where the root delegates "io", else v1 blkio
if [ -f /sys/fs/cgroup/cgroup.subtree_control ] && grep -qw io /sys/fs/cgroup/cgroup.controllers 2>/dev/null; then
	CGV=2 CGROOT=/sys/fs/cgroup
	grep -qw io "$CGROOT/cgroup.subtree_control" || echo +io > "$CGROOT/cgroup.subtree_control"
elif [ -f /sys/fs/cgroup/unified/cgroup.controllers ] && grep -qw io /sys/fs/cgroup/unified/cgroup.controllers; then
	CGV=2 CGROOT=/sys/fs/cgroup/unified
	grep -qw io "$CGROOT/cgroup.subtree_control" || echo +io > "$CGROOT/cgroup.subtree_control"
elif [ -f /sys/fs/cgroup/blkio/blkio.throttle.write_iops_device ]; then
	CGV=1 CGROOT=/sys/fs/cgroup/blkio
else
	echo "cgroup_writeback: SKIP: neither cgroup v2's io controller nor v1's blkio throttle is available here" >&2
	exit 0
fi

truncate -s 512M "$work/backing"
loop=$(losetup -f --show "$work/backing")
# no lazy inode-table zeroing: it would write in the background during the cases
mkfs.ext4 -q -F -E lazy_itable_init=0,lazy_journal_init=0 "$loop"
mkdir -p "$mnt"
mount "$loop" "$mnt"
majmin=$(lsblk -ndo MAJ:MIN "$loop" | tr -d ' ')
dev=$(basename "$loop")

cg="$CGROOT/iosat-cgwb-$$"
mkdir "$cg"
if [ "$CGV" = 2 ]; then
	echo "$majmin wbps=$((KBPS * 1024))" > "$cg/io.max"
	limit="io.max wbps=$((KBPS * 1024))"
else
	echo "$majmin $((KBPS * 1024))" > "$cg/blkio.throttle.write_bps_device"
	limit="blkio.throttle.write_bps_device $((KBPS * 1024)) ($KBPS KiB/s)"
fi

# one case: $1 name, $2 where (cg|out), $3 dd's flags.  The loop device
# has no other user, so its counters are this case's: the data is on the
# device once the sectors it wrote cover the file and nothing is in flight.
# Polled every 20 ms by a process outside the cgroup, which never writes.
run_case() {
	local name=$1 where=$2 flags=$3 f="$mnt/$1"
	sync
	if [ "$where" = cg ]; then
		bash -c 'echo $$ > "$1/cgroup.procs"; shift; exec "$@"' _ "$cg" \
			dd if=/dev/zero of="$f" bs=8k count=$((MB * 128)) $flags status=none &
	else
		dd if=/dev/zero of="$f" bs=8k count=$((MB * 128)) $flags status=none &
	fi
	python3 - "$dev" "$MB" "$name" "$KBPS" $! <<'PY'
import os, sys, time
dev, mb, name, lim, pid = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
def stat():
    f = open(f"/sys/block/{dev}/stat").read().split()
    return int(f[4]), int(f[6]), int(f[8])   # writes completed, sectors written, in flight
w0, s0, _ = stat()
target = mb * 2048
t0 = time.monotonic(); t_ret = t10 = t90 = None
while True:
    w, s, inflight = stat()
    now = time.monotonic()
    if t_ret is None:
        try:
            if open(f"/proc/{pid}/stat").read().split()[2] == "Z":
                t_ret = now
        except FileNotFoundError:
            t_ret = now
    if t10 is None and s - s0 >= target / 10:
        t10 = now
    if t90 is None and s - s0 >= target * 9 / 10:
        t90 = now
    # (98%: a direct write of the first block may go through the page cache)
    if s - s0 >= target * 0.98 and inflight == 0 and t_ret is not None:
        break
    if now - t0 > 300:
        print(f"| {name:8} | timed out after 300 s ({(s - s0) / 2048:.1f} of {mb} MiB on the device) |")
        sys.exit(0)
    time.sleep(0.005)
# the rate of the bulk of the data: from 10% of it on the device to 90%
kbs = mb * 1024 * 0.8 / max(t90 - t10, 0.005)
more = ">" if t90 - t10 < 0.005 else " "
print(f"| {name:8} | {t_ret - t0:9.2f} | {t10 - t0:9.2f} | {now - t0:11.2f} | {w - w0:6d} | {more}{kbs:7.0f} | {more}{kbs / lim:10.1f}x |")
PY
	wait
	rm -f "$f"; sync
}

{
	echo "cgroup v$CGV, $limit on $dev ($majmin, ext4 on a loop device over $work/backing), kernel $(uname -r), $MB MiB in 8 KiB writes"
	echo
	echo "| case     | dd done s | 10% on device s | all on device s | writes | KiB/s 10-90% | of the limit |"
	echo "|----------|-----------|-----------------|-----------------|--------|--------------|--------------|"
	run_case direct cg "oflag=direct"
	run_case fsync cg "conv=fsync"
	run_case buffered cg ""
	run_case outside out ""
	echo
	# a v2 hierarchy: the root one, or the hybrid layout's unified/
	v2=""
	for d in /sys/fs/cgroup /sys/fs/cgroup/unified; do
		[ -f "$d/cgroup.controllers" ] && { v2=$d; break; }
	done
	movecg=${v2:-$CGROOT}/iosat-cgmove-$$
	mkdir -p "$movecg/a" "$movecg/b"
	python3 - "$movecg" "$MOVES" "${v2:-$CGROOT}" <<'PY'
import os, sys, time
base, n, root = sys.argv[1], int(sys.argv[2]), sys.argv[3]
pid = str(os.getpid())
def move(d):
    with open(f"{d}/cgroup.procs", "w") as f:
        f.write(pid)
ts = []
for i in range(n):
    t = time.perf_counter()
    move(f"{base}/{'ab'[i % 2]}")
    ts.append(time.perf_counter() - t)
move(root)
ts.sort()
q = lambda p: ts[min(len(ts) - 1, int(len(ts) * p))] * 1e6
print(f"moving a process between two cgroups ({root}), {n} moves: "
      f"median {q(0.5):.1f} us, p90 {q(0.9):.1f} us, p99 {q(0.99):.1f} us, longest {ts[-1] * 1e6:.0f} us")
PY
} | tee ${OUT:+"$OUT"}
