#!/bin/bash
# Checks the test rig itself (test/lib/rootctl) on this machine, for real:
#  1. stack device: fio 4 KiB random reads at queue depth 32 against a read
#     ceiling; the achieved IOPS must match the ceiling, and the requests must
#     queue in the upper loop device (inflight ~ iodepth, await ~ depth/ceiling)
#     -- i.e. root-group blkio rules do apply to loop's worker threads;
#  2. live change of the ceiling (throttle), and removal (0);
#  2b. shared-budget volume (fuse-create + fuse-budget, test/lib/stallfs.c):
#     8 KiB random reads, a 50/50 read/write mix and 256 KiB reads at queue
#     depth 32 each reach the one ceiling (reads + writes together), requests
#     queue in the loop device; 1 MiB reads pay their bandwidth share under a
#     throughput ceiling; 0 lifts the budget;
#  3. kill -9 of the creating shell while a child sits on the mount and in a
#     memory cgroup: destroy NAME removes everything (destroy-all leaves it
#     while the creator's process group lives); after kill -9 of the whole
#     group, destroy-all removes everything;
#  4. validation: names and numbers rootctl must refuse.
# Prints key=value figures and "ok"/"FAIL" lines; exit status 1 on a failure.
# Runs as root, takes ~1 minute.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
R=$here/../lib/rootctl
N=rigcheck
fail=0
ok() { echo "ok - $*"; }
bad() { echo "FAIL - $*"; fail=1; }
[[ $EUID -eq 0 ]] || { echo "run as root" >&2; exit 2; }
trap '"$R" destroy "$N" >/dev/null 2>&1 || true' EXIT

fio_iops() { # DIR RW SECONDS -> iops
	fio --name=c --directory="$1" --filename=f --size=128M --rw="$2" --bs=4k --direct=1 \
		--ioengine=libaio --iodepth=32 --runtime="$3" --time_based --output-format=terse 2>/dev/null |
		awk -F';' -v rw="$2" '{ print (rw == "randread") ? $8 : $49 }'
}

"$R" destroy "$N" >/dev/null 2>&1 || true
info=$("$R" stack-create "$N" 512 0 0)
mnt=$(sed -n 's/^mnt=//p' <<<"$info")
dev=$(sed -n 's|^dev=/dev/||p' <<<"$info")
fio --name=c --directory="$mnt" --filename=f --size=128M --rw=write --bs=1M --direct=1 --output=/dev/null >/dev/null 2>&1

for ceiling in 200 400; do
	"$R" throttle "$N" "$ceiling" 0 >/dev/null
	s0=$(cat "/sys/block/$dev/stat")
	iops=$(fio_iops "$mnt" randread 8)
	s1=$(cat "/sys/block/$dev/stat")
	read -r r_ios r_ticks q <<<"$(paste <(tr -s ' ' '\n' <<<"$s0" | sed '/^$/d') <(tr -s ' ' '\n' <<<"$s1" | sed '/^$/d') |
		awk 'NR == 1 { r = $2 - $1 } NR == 4 { t = $2 - $1 } NR == 11 { q = $2 - $1 } END { print r, t, q }')"
	await=$(awk -v t="$r_ticks" -v r="$r_ios" 'BEGIN { printf "%.1f", t / r }')
	aqu=$(awk -v q="$q" 'BEGIN { printf "%.1f", q / 8000 }')
	echo "read_ceiling=$ceiling fio_read_iops=$iops upper_await_ms=$await upper_aqu_sz=$aqu"
	awk -v i="$iops" -v c="$ceiling" 'BEGIN { exit !(i > 0.9 * c && i < 1.1 * c) }' &&
		ok "read IOPS within 10% of the $ceiling ceiling" || bad "read IOPS $iops vs ceiling $ceiling"
	awk -v a="$aqu" 'BEGIN { exit !(a > 20) }' && ok "requests queue in the upper device (aqu-sz $aqu)" ||
		bad "upper device aqu-sz $aqu: requests do not queue there"
done
"$R" throttle "$N" 0 150 >/dev/null
iops=$(fio_iops "$mnt" randwrite 6)
echo "write_ceiling=150 fio_write_iops=$iops"
awk -v i="$iops" 'BEGIN { exit !(i > 135 && i < 165) }' && ok "write ceiling" || bad "write IOPS $iops vs 150"
"$R" throttle "$N" 0 0 >/dev/null
iops=$(fio_iops "$mnt" randread 4)
echo "unthrottled_read_iops=$iops"
awk -v i="$iops" 'BEGIN { exit !(i > 2000) }' && ok "throttle 0 0 removes the ceiling" || bad "unthrottled IOPS $iops"
"$R" destroy "$N" >/dev/null

# the shared-budget volume
if [[ -c /dev/fuse && -x $here/../lib/stallfs ]]; then
	fio_json() { # DIR RW BS SECONDS -> "read_iops write_iops"
		fio --name=c --directory="$1" --filename=f --size=128M --rw="$2" --rwmixread=50 --bs="$3" --direct=1 \
			--ioengine=libaio --iodepth=32 --runtime="$4" --time_based --output-format=json 2>/dev/null |
			python3 -c 'import json, sys; j = json.load(sys.stdin)["jobs"][0]; print("%.0f %.0f" % (j["read"]["iops"], j["write"]["iops"]))'
	}
	within() { awk -v i="$1" -v c="$2" 'BEGIN { exit !(i > 0.9 * c && i < 1.1 * c) }'; }
	info=$("$R" fuse-create "$N" 512)
	mnt=$(sed -n 's/^mnt=//p' <<<"$info")
	dev=$(sed -n 's|^dev=/dev/||p' <<<"$info")
	fio --name=c --directory="$mnt" --filename=f --size=128M --rw=write --bs=1M --direct=1 --output=/dev/null >/dev/null 2>&1
	"$R" fuse-budget "$N" 500 >/dev/null
	s0=$(awk '{ print $11 }' "/sys/block/$dev/stat")
	read -r ri wi <<<"$(fio_json "$mnt" randread 8k 6)"
	s1=$(awk '{ print $11 }' "/sys/block/$dev/stat")
	aqu=$(awk -v a="$s0" -v b="$s1" 'BEGIN { printf "%.1f", (b - a) / 6000 }')
	echo "shared_ceiling=500 fio_8k_read_iops=$ri loop_aqu_sz=$aqu"
	within "$ri" 500 && ok "shared: 8 KiB reads within 10% of the ceiling" || bad "shared: 8 KiB reads $ri vs 500"
	awk -v a="$aqu" 'BEGIN { exit !(a > 20) }' && ok "shared: requests queue in the loop device (aqu-sz $aqu)" ||
		bad "shared: loop aqu-sz $aqu: requests do not queue there"
	read -r ri wi <<<"$(fio_json "$mnt" randrw 8k 6)"
	echo "shared_ceiling=500 fio_mix_read_iops=$ri fio_mix_write_iops=$wi"
	within "$((ri + wi))" 500 && ok "shared: reads + writes share the one ceiling ($ri + $wi)" || bad "shared: reads $ri + writes $wi vs 500"
	read -r ri wi <<<"$(fio_json "$mnt" read 256k 6)"
	echo "shared_ceiling=500 fio_256k_read_iops=$ri"
	within "$ri" 500 && ok "shared: a 256 KiB request is one I/O" || bad "shared: 256 KiB reads $ri vs 500"
	"$R" fuse-budget "$N" 500 16 1000 25 >/dev/null
	read -r ri wi <<<"$(fio_json "$mnt" read 1m 6)"
	echo "shared_ceiling=500 mbps=25 fio_1m_read_iops=$ri"
	within "$ri" 25 && ok "shared: 1 MiB reads held to the 25 MiB/s throughput ceiling" || bad "shared: 1 MiB reads $ri/s vs 25"
	"$R" fuse-budget "$N" 0 >/dev/null
	read -r ri wi <<<"$(fio_json "$mnt" randread 8k 3)"
	echo "shared_unthrottled_read_iops=$ri"
	awk -v i="$ri" 'BEGIN { exit !(i > 2000) }' && ok "shared: budget 0 lifts the ceiling" || bad "shared: unthrottled IOPS $ri"
	"$R" destroy "$N" >/dev/null
else
	echo "skip - shared-budget volume: no /dev/fuse or stallfs not built (cc -O2 -o test/lib/stallfs test/lib/stallfs.c \$(pkg-config --cflags --libs fuse3))"
fi

# kill -9 of the creating shell, holding the mount and a memcg
leftovers() {
	local left mounted
	left=$( (losetup -l -n -O BACK-FILE | grep -c "/var/tmp/iosat-test/$N.img") || true)
	mounted=$(findmnt -n "/run/iosat-test/$N/mnt" >/dev/null && echo 1 || echo 0)
	echo "loops_left=$left mounted=$mounted memcg=$([[ -d /sys/fs/cgroup/memory/iosat-test/$N ]] && echo 1 || echo 0) backing=$([[ -e /var/tmp/iosat-test/$N.img ]] && echo 1 || echo 0) state=$([[ -d /run/iosat-test/$N ]] && echo 1 || echo 0)"
}
clean() { [[ $(leftovers) == "loops_left=0 mounted=0 memcg=0 backing=0 state=0" ]]; }
spawn() { # a creating shell with a child that sits on the mount (like a server)
	setsid bash -c "'$R' stack-create $N 256 100 100 >/dev/null; '$R' memcg-create $N 64 >/dev/null
		'$R' memcg-add $N \$\$ >/dev/null; cd /run/iosat-test/$N/mnt; sleep 300 & exec sleep 301" &
	shell=$!
	# wait for the state: the shell has started its child and exec'd sleep
	for _ in $(seq 1 150); do
		[[ $(cat "/proc/$shell/comm" 2>/dev/null) == sleep && $(pgrep -c -g "$shell") -ge 2 ]] && break
		sleep 0.2
	done
}
# (a) the shell alone is killed; its child still uses the mount: destroy-all
# (another process group) must leave it -- it is still held -- and destroy NAME
# must remove everything, stopping the child
spawn
kill -9 "$shell"
"$R" destroy-all >/dev/null 2>&1
if clean; then bad "destroy-all removed a device still held by a live process group"; else ok "destroy-all leaves a device whose creator's group is alive"; fi
"$R" destroy "$N" >/dev/null 2>&1
echo "after_kill9_destroy_name: $(leftovers)"
clean && ok "destroy NAME after kill -9 of the creating shell leaves nothing" || bad "leftovers after kill -9 + destroy NAME"
# (b) the whole group dies (crashed test): destroy-all removes everything
spawn
kill -9 -- -"$shell"
# wait for the state, not a time: every process of the group gone
for _ in $(seq 1 100); do
	pgrep -g "$shell" >/dev/null || break
	sleep 0.1
done
"$R" destroy-all >/dev/null 2>&1
echo "after_group_kill9_destroy_all: $(leftovers)"
clean && ok "destroy-all after kill -9 of the creating group leaves nothing" || bad "leftovers after group kill -9 + destroy-all"
echo "blkio_read_rules_left=$(grep -c . /sys/fs/cgroup/blkio/blkio.throttle.read_iops_device || true) (other runs' rules count too)"

# validation
for args in "loop-create ../x 64" "loop-create Abc 64" "loop-create $N 064" "loop-create $N 99999999" \
	"stack-create $N 64 -1 0" "throttle $N 1e3 0" "fuse-budget $N 1e3" "fuse-budget $N 100 0" "memcg-add $N 1" "memcg-create $N 0" "loop-create $(printf 'a%.0s' {1..33}) 64"; do
	# shellcheck disable=SC2086
	if "$R" $args >/dev/null 2>&1; then bad "accepted: rootctl $args"; else ok "refused: rootctl $args"; fi
done
"$R" destroy "$N" >/dev/null 2>&1 || true
exit $fail
