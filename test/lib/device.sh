# shellcheck shell=bash
# iosat test rig: throttled block devices and memory cgroups.
#
# Sourceable library. The privileged functions (iosat_dev_*_create, destroy,
# throttle, memcg_*) must run as root; test/lib/rootctl is the dispatcher that
# root (directly) or the postgres OS user (through `sudo -n`) calls. Tests that
# are not root should use iosat_rootctl, which picks the right way to call it.
#
# Everything this library creates is recorded, BEFORE it is created, under a
# state directory so that teardown always finds it, even after kill -9 of the
# creating shell:
#
#   /run/iosat-test/<name>/info     key=value lines (kind, backing, dev, lower, ...)
#   /run/iosat-test/<name>/mnt      mount point of the ext4 filesystem
#   /var/tmp/iosat-test/<name>.img  backing file
#   /sys/fs/cgroup/memory/iosat-test/<name>   memory cgroup (v1)
#   /sys/fs/cgroup/blkio/blkio.throttle.{read,write}_iops_device  rules on our loops
#
# Leaked objects that never made it into a state file are still found: a loop
# device whose backing file lies under /var/tmp/iosat-test/ is ours, and so is
# a loop device whose backing file is one of those loop devices.
#
# Device variants (see shared/DESIGN.md section 5 for why):
#   loop   ext4 on loopN -> backing file (direct I/O). Unthrottled.
#   stack  ext4 on loopA -> loopB -> backing file; blk-throttle IOPS rules on
#          loopB (root blkio cgroup, v1). loopA's requests stay in flight while
#          loopB throttles, so loopA's inflight / aqu-sz / await grow at the
#          ceiling like a provisioned-IOPS cloud volume.
#
# Root blkio cgroup and loop worker threads (checked on kernel 6.18, cgroup v1):
# loopA's worker submits its bios to loopB from the blkcg of the original
# submitter (loop associates each command with the issuing css); every process
# here lives in the root blkio cgroup, so rules written in the ROOT group's
# blkio.throttle.*_iops_device apply to those bios, and the measured ceiling on
# loopB matches the rule (test/bench/results notes the figures). A process
# moved into a child blkio cgroup would escape root-group rules: none of our
# code does that.

IOSAT_STATE_ROOT=${IOSAT_STATE_ROOT:-/run/iosat-test}
IOSAT_BACKING_ROOT=${IOSAT_BACKING_ROOT:-/var/tmp/iosat-test}
IOSAT_MEMCG_ROOT=${IOSAT_MEMCG_ROOT:-/sys/fs/cgroup/memory/iosat-test}
IOSAT_BLKIO_ROOT=${IOSAT_BLKIO_ROOT:-/sys/fs/cgroup/blkio}
IOSAT_DEV_OWNER=${IOSAT_DEV_OWNER:-postgres}

# Limits for values that reach root-only interfaces.
IOSAT_MAX_SIZE_MB=${IOSAT_MAX_SIZE_MB:-65536}
IOSAT_MIN_SIZE_MB=16
IOSAT_MAX_IOPS=10000000

iosat_die() { echo "error: $*" >&2; exit 2; }
iosat_log() { echo "iosat-dev: $*" >&2; }

# ---------------------------------------------------------------- validation

iosat_valid_name() {
	[[ ${1-} =~ ^[a-z0-9_-]{1,32}$ ]] || iosat_die "invalid name '${1-}' (want ^[a-z0-9_-]{1,32}\$)"
}

# iosat_valid_uint VALUE MIN MAX WHAT: decimal, no sign, no leading zeros
iosat_valid_uint() {
	local v=${1-} min=$2 max=$3 what=$4
	[[ $v =~ ^(0|[1-9][0-9]{0,9})$ ]] || iosat_die "invalid $what '$v' (want a decimal integer)"
	((v >= min && v <= max)) || iosat_die "$what $v out of range [$min, $max]"
}

iosat_require_root() {
	[[ $EUID -eq 0 ]] || iosat_die "must run as root (use test/lib/rootctl through sudo -n)"
}

# ---------------------------------------------------------------- state

iosat_state_dir() { echo "$IOSAT_STATE_ROOT/$1"; }

# iosat_state_set NAME KEY VALUE: append (last value wins), fsync'd enough for
# our purpose because the file is written before the action it describes.
iosat_state_set() {
	local f
	f="$(iosat_state_dir "$1")/info"
	printf '%s=%s\n' "$2" "$3" >>"$f"
	sync -d "$f" 2>/dev/null || true
}

# iosat_state_get NAME KEY: prints the last value, or nothing
iosat_state_get() {
	local f
	f="$(iosat_state_dir "$1")/info"
	[[ -r $f ]] || return 0
	awk -F= -v k="$2" '$1 == k { v = substr($0, length(k) + 2) } END { if (v != "") print v }' "$f"
}

# iosat_state_names: names that have a state directory
iosat_state_names() {
	local d
	[[ -d $IOSAT_STATE_ROOT ]] || return 0
	for d in "$IOSAT_STATE_ROOT"/*/; do
		[[ -d $d ]] || continue
		d=${d%/}
		d=${d##*/}
		[[ $d =~ ^[a-z0-9_-]{1,32}$ ]] && echo "$d"
	done
	return 0
}

# Serialise mutating commands (several test runs may share the machine).
iosat_lock() {
	mkdir -p "$IOSAT_STATE_ROOT"
	chmod 0755 "$IOSAT_STATE_ROOT"
	exec {IOSAT_LOCK_FD}>"$IOSAT_STATE_ROOT/.lock"
	flock -w 300 "$IOSAT_LOCK_FD" || iosat_die "could not take $IOSAT_STATE_ROOT/.lock"
}

# ---------------------------------------------------------------- holders
# Several engineers' tests and benchmarks share the machine, and a test runner
# calls destroy-all when it ends. Each object records its holder: the process
# group of the process that asked for it (above sudo/runuser), with its
# leader's start time against pid reuse (0 if the leader had already exited:
# the group is recorded all the same). destroy-all leaves objects whose holder
# is alive and is not the caller's own process group or an ancestor of the
# caller: another run still uses them. Once every process of the creating
# group is gone (kill -9 of a crashed test's group) the holder is dead and
# destroy-all removes everything. `destroy NAME` and `destroy-all --force` do
# not look at holders. test/rig/holders.sh checks this.

iosat_proc_field() { # PID FIELD(1-based, after comm) -> value
	local s
	s=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	s=${s##*) }
	# shellcheck disable=SC2086
	set -- $s "$2"
	local n=${!#}
	echo "${!n}"
}

iosat_pid_start() { iosat_proc_field "$1" 20; } # starttime is field 22 overall

# iosat_caller_group: "pgid:starttime" of the caller's process group, the
# start time of its leader, or 0 when the leader has already exited while the
# group lives on (a harness that started the run and went away). The group is
# recorded even then: falling back to the caller's own pid recorded the
# short-lived `sh -c` between a test's perl and sudo, dead as soon as rootctl
# returned, and another run's destroy-all took a live test's device.
iosat_caller_group() {
	local p=$PPID c
	while [[ -n $p && $p -gt 1 ]]; do
		c=$(cat "/proc/$p/comm" 2>/dev/null || true)
		case $c in
		sudo | runuser | su | env | setsid | timeout) p=$(iosat_proc_field "$p" 2) || break ;;
		*) break ;;
		esac
	done
	local g s
	g=$(iosat_proc_field "$p" 3 2>/dev/null) || g=""
	[[ $g =~ ^[0-9]+$ && $g -gt 0 ]] || g=$p
	s=$(iosat_pid_start "$g" 2>/dev/null) || s=0
	echo "$g:${s:-0}"
}

# A group is alive while any process is in it, leader gone or not (the kernel
# never hands out a pid equal to a live process group id). If the leader's pid
# now belongs to a different process (start time differs, or the leader was
# already gone when the holder was recorded: start 0), the group is new.
iosat_holder_alive() { # "pgid:leader_start"
	local pid=${1%%:*} start=${1##*:} now
	[[ $pid =~ ^[0-9]+$ && $pid -gt 1 ]] || return 1
	now=$(iosat_pid_start "$pid" 2>/dev/null || true)
	[[ -n $now ]] && { [[ $now == "$start" ]]; return; }
	# cat fails when a process exits between the glob and the read, which
	# under pipefail (rootctl) would make a live group dead: ignore it
	{ cat /proc/[0-9]*/stat 2>/dev/null || :; } | awk -v g="$pid" '
		{ sub(/^.*\) /, ""); if ($3 == g) found = 1 }
		END { exit !found }'
}

# iosat_held_by_other HOLDER: alive, not our group, not one of our ancestors
iosat_held_by_other() {
	local h=$1 pid
	[[ -n $h ]] || return 1
	iosat_holder_alive "$h" || return 1
	[[ $h == "$(iosat_caller_group)" ]] && return 1
	pid=${h%%:*}
	local p=$$
	while [[ -n $p && $p -gt 1 ]]; do
		[[ $p == "$pid" ]] && return 1
		p=$(iosat_proc_field "$p" 2) || break
	done
	return 0
}

iosat_memcg_holder_file() { echo "$IOSAT_STATE_ROOT/.memcg/$1.holder"; }

# ---------------------------------------------------------------- loop helpers

# iosat_loop_back DEV: backing file of a loop device ("" if not attached)
iosat_loop_back() {
	losetup -n -O BACK-FILE -- "$1" 2>/dev/null | sed -e 's/^[[:space:]]*//' -e 's/[[:space:]]*$//' -e 's/ (deleted)$//' || true
}

# iosat_loops_on FILE: loop devices whose backing file is FILE
iosat_loops_on() {
	losetup -n -O NAME,BACK-FILE 2>/dev/null |
		awk -v f="$1" '{ n = $1; $1 = ""; sub(/^ +/, ""); sub(/ \(deleted\)$/, ""); if ($0 == f) print n }' || true
}

iosat_majmin() {
	local dev=${1##*/}
	cat "/sys/class/block/$dev/dev"
}

# iosat_loop_attach BACKING: attach with direct I/O, print the device
iosat_loop_attach() {
	local dev
	dev=$(losetup -f --show --direct-io=on -- "$1") || return 1
	# direct I/O silently falls back to buffered if the backing store refuses it
	if [[ $(cat "/sys/block/${dev##*/}/loop/dio" 2>/dev/null || echo 0) != 1 ]]; then
		iosat_log "warning: $dev is not using direct I/O"
	fi
	echo "$dev"
}

# iosat_loop_detach_if_ours DEV EXPECTED_BACKING
iosat_loop_detach_if_ours() {
	local dev=$1 want=$2 have
	[[ -n $dev && -b $dev ]] || return 0
	have=$(iosat_loop_back "$dev")
	if [[ -z $have ]]; then
		return 0 # already detached
	fi
	if [[ $have != "$want" ]]; then
		iosat_log "not detaching $dev: its backing file is '$have', not ours ('$want')"
		return 0
	fi
	local i
	for i in 1 2 3 4 5 6 7 8 9 10; do
		losetup -d "$dev" 2>/dev/null && break
		sleep 0.3
	done
	have=$(iosat_loop_back "$dev")
	[[ -z $have ]] || iosat_log "warning: $dev still attached (busy; autoclear set, it goes when its last user closes it)"
}

# ---------------------------------------------------------------- throttle

# iosat_blkio_rule FILE MAJMIN VALUE (VALUE 0 removes the rule)
iosat_blkio_rule() {
	local f="$IOSAT_BLKIO_ROOT/$1"
	[[ -w $f ]] || iosat_die "$f not writable (cgroup v1 blkio not mounted?)"
	if [[ $3 == 0 ]]; then
		# removing a rule that does not exist is fine
		grep -q "^$2 " "$f" 2>/dev/null || return 0
	fi
	echo "$2 $3" >"$f"
}

iosat_blkio_current() { # FILE MAJMIN -> value or 0
	awk -v d="$2" '$1 == d { print $2; f = 1 } END { if (!f) print 0 }' "$IOSAT_BLKIO_ROOT/$1" 2>/dev/null || echo 0
}

iosat_dev_throttle() {
	local name=$1 r=$2 w=$3
	iosat_valid_name "$name"
	iosat_valid_uint "$r" 0 "$IOSAT_MAX_IOPS" READ_IOPS
	iosat_valid_uint "$w" 0 "$IOSAT_MAX_IOPS" WRITE_IOPS
	local kind lower majmin backing
	kind=$(iosat_state_get "$name" kind)
	[[ $kind == stack ]] || iosat_die "'$name' is not a stack device (kind='$kind')"
	lower=$(iosat_state_get "$name" lower)
	majmin=$(iosat_state_get "$name" lower_majmin)
	backing=$(iosat_state_get "$name" backing)
	[[ -n $lower && -n $majmin ]] || iosat_die "'$name' has no lower device"
	[[ $(iosat_loop_back "$lower") == "$backing" ]] || iosat_die "$lower is not ours any more"
	iosat_state_set "$name" read_iops "$r"
	iosat_state_set "$name" write_iops "$w"
	iosat_blkio_rule blkio.throttle.read_iops_device "$majmin" "$r"
	iosat_blkio_rule blkio.throttle.write_iops_device "$majmin" "$w"
	echo "read_iops=$(iosat_blkio_current blkio.throttle.read_iops_device "$majmin")"
	echo "write_iops=$(iosat_blkio_current blkio.throttle.write_iops_device "$majmin")"
}

# ---------------------------------------------------------------- create

# iosat_dev_prepare NAME SIZE_MB KIND: state dir + backing file, prints path
iosat_dev_prepare() {
	local name=$1 size=$2 kind=$3 sd backing avail_mb
	sd=$(iosat_state_dir "$name")
	[[ ! -e $sd ]] || iosat_die "'$name' exists ($sd); destroy it first"
	id "$IOSAT_DEV_OWNER" >/dev/null 2>&1 || iosat_die "owner user '$IOSAT_DEV_OWNER' does not exist"
	mkdir -p "$IOSAT_BACKING_ROOT"
	chmod 0755 "$IOSAT_BACKING_ROOT"
	avail_mb=$(df -Pm "$IOSAT_BACKING_ROOT" | awk 'NR == 2 { print $4 }')
	((avail_mb > size + 1024)) || iosat_die "not enough space in $IOSAT_BACKING_ROOT (${avail_mb} MB free, need $size + 1024)"
	mkdir -m 0755 "$sd"
	backing="$IOSAT_BACKING_ROOT/$name.img"
	iosat_state_set "$name" kind "$kind"
	iosat_state_set "$name" created "$(date -u +%FT%TZ)"
	iosat_state_set "$name" holder "$(iosat_caller_group)"
	iosat_state_set "$name" backing "$backing"
	rm -f -- "$backing"
	# preallocated, so the first write to a block does not pay for host allocation
	fallocate -l "${size}M" -- "$backing" 2>/dev/null || truncate -s "${size}M" -- "$backing"
	echo "$backing"
}

# iosat_dev_mkfs_mount NAME DEV: ext4 on DEV, mounted at <state>/mnt, chowned
iosat_dev_mkfs_mount() {
	local name=$1 dev=$2 mnt
	mnt="$(iosat_state_dir "$name")/mnt"
	# no discard: on a loop device discard punches holes in the preallocated
	# backing file. No lazy init: ext4lazyinit must not write during benchmarks.
	mkfs.ext4 -q -F -m 0 -i 65536 -L "iosat-$name" \
		-E nodiscard,lazy_itable_init=0,lazy_journal_init=0 -- "$dev" >&2
	mkdir -p "$mnt"
	iosat_state_set "$name" mnt "$mnt"
	mount -t ext4 -o noatime "$dev" "$mnt"
	chown "$IOSAT_DEV_OWNER:" "$mnt"
	chmod 0700 "$mnt"
	echo 128 >"/sys/block/${dev##*/}/queue/read_ahead_kb" 2>/dev/null || true
	echo "$mnt"
}

# iosat_dev_finish NAME DEV: record DEV, put ext4 on it, mount it, and print
# what the callers parse (name=, dev=, majmin=, mnt=)
iosat_dev_finish() {
	local name=$1 dev=$2 mnt
	iosat_state_set "$name" dev "$dev"
	iosat_state_set "$name" majmin "$(iosat_majmin "$dev")"
	mnt=$(iosat_dev_mkfs_mount "$name" "$dev")
	echo "name=$name"
	echo "dev=$dev"
	echo "majmin=$(iosat_majmin "$dev")"
	echo "mnt=$mnt"
}

iosat_dev_loop_create() {
	local name=$1 size=$2 backing dev
	iosat_valid_name "$name"
	iosat_valid_uint "$size" "$IOSAT_MIN_SIZE_MB" "$IOSAT_MAX_SIZE_MB" SIZE_MB
	backing=$(iosat_dev_prepare "$name" "$size" loop)
	dev=$(iosat_loop_attach "$backing") || iosat_die "losetup failed"
	iosat_dev_finish "$name" "$dev"
}

iosat_dev_stack_create() {
	local name=$1 size=$2 r=$3 w=$4 backing lower upper mnt lmm
	iosat_valid_name "$name"
	iosat_valid_uint "$size" "$IOSAT_MIN_SIZE_MB" "$IOSAT_MAX_SIZE_MB" SIZE_MB
	iosat_valid_uint "$r" 0 "$IOSAT_MAX_IOPS" READ_IOPS
	iosat_valid_uint "$w" 0 "$IOSAT_MAX_IOPS" WRITE_IOPS
	[[ -w $IOSAT_BLKIO_ROOT/blkio.throttle.read_iops_device ]] || iosat_die "cgroup v1 blkio throttle not available at $IOSAT_BLKIO_ROOT"
	backing=$(iosat_dev_prepare "$name" "$size" stack)
	lower=$(iosat_loop_attach "$backing") || iosat_die "losetup (lower) failed"
	iosat_state_set "$name" lower "$lower"
	lmm=$(iosat_majmin "$lower")
	iosat_state_set "$name" lower_majmin "$lmm"
	upper=$(iosat_loop_attach "$lower") || iosat_die "losetup (upper) failed"
	iosat_state_set "$name" dev "$upper"
	iosat_state_set "$name" majmin "$(iosat_majmin "$upper")"
	mnt=$(iosat_dev_mkfs_mount "$name" "$upper")
	# the throttle goes on last: mkfs runs at full speed
	iosat_dev_throttle "$name" "$r" "$w" >/dev/null
	echo "name=$name"
	echo "dev=$upper"
	echo "majmin=$(iosat_majmin "$upper")"
	echo "lower=$lower"
	echo "lower_majmin=$lmm"
	echo "mnt=$mnt"
	echo "read_iops=$r"
	echo "write_iops=$w"
}

# ---------------------------------------------------------------- fuse
# A network volume that stops answering: ext4 on loopN -> <state>/fuse/disk, a
# file served by stallfs (test/lib/stallfs.c: a one-file FUSE passthrough to the
# backing file, run as root, no allow_other) which, when told, holds every read
# and write without answering (stall), answers them again (resume), or fails
# reads with EIO (fail). Recorded like the others, plus:
#
#   /run/iosat-test/<name>/fuse            the FUSE mount (root only)
#   /run/iosat-test/<name>/stallfs.state   the daemon's mode and counters
#   /run/iosat-test/<name>/stallfs.log     its stderr
#   /run/iosat-test/<name>/stallfs.budget  its IOPS budget (fuse-budget)
#
# destroy lets held requests go first (or kills the daemon, which fails them),
# so that processes in D on the device wake up and the mounts can go.

# rootctl sets it (the stallfs next to it); empty: fuse devices unavailable
IOSAT_STALLFS_BIN=${IOSAT_STALLFS_BIN:-}

# iosat_fuse_mounted DIR: a stallfs mount at DIR (mountinfo: no stat of a
# mount whose daemon may be gone)
iosat_fuse_mounted() {
	awk -v d="$1" '$5 == d { for (i = 7; i <= NF; i++) if ($i == "-") { if ($(i + 1) == "fuse.stallfs") f = 1; break } }
		END { exit !f }' /proc/self/mountinfo
}

# iosat_stallfs_pid NAME: the live stallfs serving NAME, or nothing
iosat_stallfs_pid() {
	local pid exe
	pid=$(iosat_state_get "$1" stallfs_pid)
	[[ $pid =~ ^[1-9][0-9]{0,9}$ ]] || return 0
	exe=$(readlink "/proc/$pid/exe" 2>/dev/null) || return 0
	exe=${exe% (deleted)}
	[[ ${exe##*/} == stallfs ]] || return 0
	tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF " $(iosat_state_dir "$1")/fuse " || return 0
	echo "$pid"
}

iosat_stallfs_state() { # NAME KEY
	sed -n "s/^$2=//p" "$(iosat_state_dir "$1")/stallfs.state" 2>/dev/null | head -n 1
}

iosat_dev_fuse_create() {
	local name=$1 size=$2 backing sd fmnt pid dev i st
	iosat_valid_name "$name"
	iosat_valid_uint "$size" "$IOSAT_MIN_SIZE_MB" "$IOSAT_MAX_SIZE_MB" SIZE_MB
	[[ -c /dev/fuse ]] || iosat_die "/dev/fuse is missing (no FUSE in this kernel or container)"
	[[ -n $IOSAT_STALLFS_BIN && -f $IOSAT_STALLFS_BIN && -x $IOSAT_STALLFS_BIN ]] ||
		iosat_die "stallfs is not built ('$IOSAT_STALLFS_BIN'): cc -O2 -o test/lib/stallfs test/lib/stallfs.c \$(pkg-config --cflags --libs fuse3)"
	st=$(stat -c '%u %a' -- "$IOSAT_STALLFS_BIN")
	[[ ${st%% *} == 0 ]] && (((8#${st##* } & 8#022) == 0)) ||
		iosat_die "$IOSAT_STALLFS_BIN must be owned by root and not group/world-writable"
	backing=$(iosat_dev_prepare "$name" "$size" fuse)
	sd=$(iosat_state_dir "$name")
	fmnt="$sd/fuse"
	mkdir -m 0700 "$fmnt"
	iosat_state_set "$name" fuse_mnt "$fmnt"
	# detached, in its own session, holding none of our descriptors (the lock)
	: >"$sd/stallfs.budget"
	setsid "$IOSAT_STALLFS_BIN" "$backing" "$fmnt" "$sd/stallfs.state" "$sd/stallfs.budget" \
		</dev/null >"$sd/stallfs.log" 2>&1 {IOSAT_LOCK_FD}>&- &
	pid=$!
	iosat_state_set "$name" stallfs_pid "$pid"
	for ((i = 0; i < 100; i++)); do
		iosat_fuse_mounted "$fmnt" && break
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	# from here on a failure must not leave the root-owned daemon running
	if ! iosat_fuse_mounted "$fmnt"; then
		sed 's/^/stallfs: /' "$sd/stallfs.log" >&2
		iosat_dev_destroy "$name" >/dev/null 2>&1 || true
		iosat_die "stallfs did not mount $fmnt"
	fi
	dev=$(losetup -f --show --direct-io=on -- "$fmnt/disk") || {
		iosat_dev_destroy "$name" >/dev/null 2>&1 || true
		iosat_die "losetup on $fmnt/disk failed"
	}
	iosat_dev_finish "$name" "$dev"
	echo "stallfs_pid=$pid"
}

# iosat_dev_fuse_mode NAME stall|resume|fail: tell stallfs, wait until it has
# switched; prints the time it had (at=) and its state
iosat_dev_fuse_mode() {
	local name=$1 want=$2 sig pid seq0 seq i
	iosat_valid_name "$name"
	[[ $(iosat_state_get "$name" kind) == fuse ]] || iosat_die "'$name' is not a fuse device"
	case $want in
	stall) sig=USR1 ;;
	resume) sig=USR2 want=pass ;;
	fail) sig=RTMIN ;;
	*) iosat_die "invalid mode '$want'" ;;
	esac
	pid=$(iosat_stallfs_pid "$name")
	[[ -n $pid ]] || { echo "error: no live stallfs for '$name'" >&2; exit 3; }
	seq0=$(iosat_stallfs_state "$name" seq)
	kill -s "$sig" "$pid"
	for ((i = 0; i < 200; i++)); do
		seq=$(iosat_stallfs_state "$name" seq)
		[[ -n $seq && $seq != "$seq0" && $(iosat_stallfs_state "$name" mode) == "$want" ]] && break
		sleep 0.01
	done
	[[ $(iosat_stallfs_state "$name" mode) == "$want" ]] ||
		{ echo "error: stallfs $pid did not switch to $want" >&2; exit 1; }
	echo "at=$(date +%s.%N)"
	cat "$(iosat_state_dir "$name")/stallfs.state"
}

# iosat_dev_fuse_budget NAME IOPS [BURST [LATENCY_US [MBPS]]]: one token
# bucket for reads and writes (test/lib/stallfs.c); waits until stallfs has
# re-read it
iosat_dev_fuse_budget() {
	local name=$1 iops=$2 burst=${3:-16} lat=${4:-1000} mbps=${5:-0} pid seq0 i sd
	iosat_valid_name "$name"
	iosat_valid_uint "$iops" 0 1000000 IOPS
	iosat_valid_uint "$burst" 1 1000000 BURST
	iosat_valid_uint "$lat" 0 10000000 LATENCY_US
	iosat_valid_uint "$mbps" 0 1000000 MBPS
	[[ $(iosat_state_get "$name" kind) == fuse ]] || iosat_die "'$name' is not a fuse device"
	pid=$(iosat_stallfs_pid "$name")
	[[ -n $pid ]] || { echo "error: no live stallfs for '$name'" >&2; exit 3; }
	sd=$(iosat_state_dir "$name")
	seq0=$(iosat_stallfs_state "$name" seq)
	echo "iops=$iops burst=$burst latency_us=$lat mbps=$mbps" >"$sd/stallfs.budget.tmp"
	mv -f "$sd/stallfs.budget.tmp" "$sd/stallfs.budget"
	kill -s RTMIN+1 "$pid"
	for ((i = 0; i < 200; i++)); do
		[[ $(iosat_stallfs_state "$name" seq) != "$seq0" && $(iosat_stallfs_state "$name" budget_iops) == "$iops" ]] && break
		sleep 0.01
	done
	[[ $(iosat_stallfs_state "$name" budget_iops) == "$iops" ]] ||
		{ echo "error: stallfs $pid did not take the budget" >&2; exit 1; }
	cat "$sd/stallfs.state"
}

# iosat_fuse_release NAME: let whatever stallfs holds go; a daemon that does
# not answer is killed (the kernel then fails its requests): either way no
# process stays in D on the device
iosat_fuse_release() {
	local name=$1 pid i
	pid=$(iosat_stallfs_pid "$name")
	[[ -n $pid ]] || return 0
	[[ $(iosat_stallfs_state "$name" mode) == pass ]] && return 0
	kill -USR2 "$pid" 2>/dev/null || true
	for ((i = 0; i < 100; i++)); do
		[[ $(iosat_stallfs_state "$name" mode) == pass ]] && return 0
		sleep 0.03
	done
	iosat_log "stallfs $pid does not answer: killing it (its requests fail)"
	kill -KILL "$pid" 2>/dev/null || true
}

# iosat_fuse_destroy NAME: after the ext4 mount is gone: the loops on the FUSE
# file, the FUSE mount, the daemon
iosat_fuse_destroy() {
	local name=$1 sd fmnt pid l i
	sd=$(iosat_state_dir "$name")
	fmnt="$sd/fuse"
	for l in $(iosat_loops_on "$fmnt/disk"); do
		iosat_loop_detach_if_ours "$l" "$fmnt/disk"
	done
	pid=$(iosat_stallfs_pid "$name")
	if iosat_fuse_mounted "$fmnt"; then
		# the daemon sees the unmount and exits
		umount "$fmnt" 2>/dev/null || {
			iosat_log "warning: $fmnt busy, lazy unmount"
			umount -l "$fmnt" || true
		}
	fi
	if [[ -n $pid ]]; then
		for ((i = 0; i < 50; i++)); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		if kill -0 "$pid" 2>/dev/null; then
			kill -TERM "$pid" 2>/dev/null || true
			sleep 1
			kill -KILL "$pid" 2>/dev/null || true
		fi
	fi
	rm -f -- "$sd/stallfs.state" "$sd/stallfs.state.tmp"
}

# ---------------------------------------------------------------- destroy

# iosat_pids_using DIR: pids with cwd, root, an open file or a mapping under DIR
iosat_pids_using() {
	local dir=$1 p l
	if command -v fuser >/dev/null && mountpoint -q "$dir" 2>/dev/null; then
		# psmisc: every process with anything open on the filesystem
		fuser -m "$dir" 2>/dev/null | tr -s ' ' '\n' | sed -n 's/^\([0-9][0-9]*\).*/\1/p' | grep -vx -e "$$" -e "${BASHPID:-$$}" || true
		return 0
	fi
	for p in /proc/[0-9]*; do
		p=${p#/proc/}
		[[ $p == "$$" || $p == "${BASHPID:-$$}" ]] && continue
		for l in /proc/"$p"/cwd /proc/"$p"/root /proc/"$p"/fd/*; do
			l=$(readlink "$l" 2>/dev/null) || continue
			if [[ $l == "$dir" || $l == "$dir"/* ]]; then
				echo "$p"
				continue 2
			fi
		done
		if grep -qF " $dir/" "/proc/$p/maps" 2>/dev/null; then
			echo "$p"
		fi
	done
	return 0
}

# iosat_stop_users DIR: processes still using our mount are test servers left by
# a crashed test: TERM (postgres: SIGQUIT, immediate shutdown), then KILL.
# our own ancestors (sudo, the calling test shell) are never signalled
iosat_ancestors() {
	local p=$$
	while [[ -n $p && $p != 0 && $p != 1 ]]; do
		echo "$p"
		p=$(awk '{ print $4 }' "/proc/$p/stat" 2>/dev/null || true)
	done
}

iosat_stop_users() {
	local dir=$1 pids p i anc
	anc=$(iosat_ancestors)
	pids=$(iosat_pids_using "$dir" | grep -vxF -e "$anc" || true)
	[[ -n $pids ]] || return 0
	iosat_log "stopping processes using $dir: $(echo $pids)"
	for p in $pids; do
		if [[ $(cat "/proc/$p/comm" 2>/dev/null) == postgres ]]; then
			kill -QUIT "$p" 2>/dev/null || true
		else
			kill -TERM "$p" 2>/dev/null || true
		fi
	done
	for i in $(seq 1 30); do
		pids=$(iosat_pids_using "$dir" | grep -vxF -e "$anc" || true)
		[[ -n $pids ]] || return 0
		sleep 0.2
	done
	iosat_log "killing: $(echo $pids)"
	for p in $pids; do kill -KILL "$p" 2>/dev/null || true; done
	for i in $(seq 1 25); do
		[[ -n $(iosat_pids_using "$dir" | grep -vxF -e "$anc" || true) ]] || return 0
		sleep 0.2
	done
	return 0
}

iosat_umount_ours() {
	local mnt=$1 i
	[[ -n $mnt && $mnt == "$IOSAT_STATE_ROOT"/*/mnt ]] || return 0
	mountpoint -q "$mnt" 2>/dev/null || return 0
	iosat_stop_users "$mnt"
	for i in 1 2 3 4 5; do
		umount "$mnt" 2>/dev/null && return 0
		sleep 0.5
	done
	iosat_log "warning: $mnt busy, lazy unmount"
	umount -l "$mnt" || true
}

iosat_dev_destroy() {
	local name=$1 sd backing dev lower lmm mnt l u
	iosat_valid_name "$name"
	sd=$(iosat_state_dir "$name")
	backing="$IOSAT_BACKING_ROOT/$name.img"
	mnt="$sd/mnt"
	# a stalled network volume lets go first: nothing may wait on it forever
	iosat_fuse_release "$name"
	# mounts first: whatever the state file says, anything mounted at our mnt is ours
	iosat_umount_ours "$mnt"
	# then what is under a fuse device's loop: the FUSE mount and its daemon
	iosat_fuse_destroy "$name"
	lower=$(iosat_state_get "$name" lower)
	lmm=$(iosat_state_get "$name" lower_majmin)
	dev=$(iosat_state_get "$name" dev)
	# loops on the backing file (recorded or leaked before they were recorded),
	# and loops stacked on those
	local lowers uppers
	lowers=$(iosat_loops_on "$backing")
	[[ -n $lower ]] && lowers=$(printf '%s\n%s\n' "$lowers" "$lower" | sort -u)
	uppers=""
	for l in $lowers; do
		[[ $(iosat_loop_back "$l") == "$backing" ]] || continue
		uppers+=" $(iosat_loops_on "$l")"
	done
	# a stacked upper recorded in state whose lower is already gone is left alone
	for u in $uppers; do
		# anything mounted from it elsewhere (should not happen) blocks detach
		iosat_loop_detach_if_ours "$u" "$(iosat_loop_back "$u")"
	done
	for l in $lowers; do
		[[ $(iosat_loop_back "$l") == "$backing" ]] || continue
		# remove throttle rules before detaching (rules stay on the queue)
		local mm
		mm=$(iosat_majmin "$l" 2>/dev/null || true)
		if [[ -n $mm ]]; then
			iosat_blkio_rule blkio.throttle.read_iops_device "$mm" 0 || true
			iosat_blkio_rule blkio.throttle.write_iops_device "$mm" 0 || true
		fi
		iosat_loop_detach_if_ours "$l" "$backing"
	done
	# a recorded lower whose device is now free (detached earlier): its rule may survive
	if [[ -n $lmm && -n $lower && -z $(iosat_loop_back "$lower") ]]; then
		iosat_blkio_rule blkio.throttle.read_iops_device "$lmm" 0 || true
		iosat_blkio_rule blkio.throttle.write_iops_device "$lmm" 0 || true
	fi
	iosat_memcg_destroy "$name" quiet
	if [[ -z $(iosat_loops_on "$backing") ]]; then
		rm -f -- "$backing"
	else
		iosat_log "warning: $backing still attached, not removed"
	fi
	if [[ -d $sd ]]; then
		if mountpoint -q "$mnt" 2>/dev/null; then
			iosat_log "warning: $mnt still mounted, keeping $sd"
		elif iosat_fuse_mounted "$sd/fuse"; then
			iosat_log "warning: $sd/fuse still mounted, keeping $sd"
		else
			rm -rf --one-file-system -- "$sd"
		fi
	fi
	echo "destroyed=$name"
}

# iosat_orphan_names: names of backing files / memcgs without a state dir
iosat_orphan_names() {
	local f n
	for f in "$IOSAT_BACKING_ROOT"/*.img; do
		[[ -e $f ]] || continue
		n=${f##*/}
		n=${n%.img}
		[[ $n =~ ^[a-z0-9_-]{1,32}$ ]] && echo "$n"
	done
	for f in "$IOSAT_MEMCG_ROOT"/*/; do
		[[ -d $f ]] || continue
		f=${f%/}
		n=${f##*/}
		[[ $n =~ ^[a-z0-9_-]{1,32}$ ]] && echo "$n"
	done
	return 0
}

iosat_dev_destroy_all() {
	local n force=${1-} h
	for n in $( (iosat_state_names; iosat_orphan_names) | sort -u); do
		if [[ $force != --force ]]; then
			h=$(iosat_state_get "$n" holder)
			[[ -n $h ]] || h=$(cat "$(iosat_memcg_holder_file "$n")" 2>/dev/null || true)
			if iosat_held_by_other "$h"; then
				echo "skipped=$n"
				iosat_log "leaving '$n': still held by live process group ${h%%:*} (destroy $n, or destroy-all --force)"
				continue
			fi
		fi
		iosat_dev_destroy "$n"
	done
	# loops whose backing file is under our root but deleted or misnamed
	local l
	for l in $(losetup -n -O NAME,BACK-FILE 2>/dev/null | awk -v r="$IOSAT_BACKING_ROOT/" 'index($2, r) == 1 { print $1 }'); do
		n=$(iosat_loop_back "$l")
		n=${n##*/}
		n=${n%.img}
		# a skipped (held) device still has its backing file: not an orphan
		[[ -e $IOSAT_BACKING_ROOT/$n.img && -d $(iosat_state_dir "$n") ]] && continue
		iosat_log "orphan loop $l ($(iosat_loop_back "$l"))"
		for u in $(iosat_loops_on "$l"); do
			iosat_loop_detach_if_ours "$u" "$l"
		done
		local mm
		mm=$(iosat_majmin "$l")
		iosat_blkio_rule blkio.throttle.read_iops_device "$mm" 0 || true
		iosat_blkio_rule blkio.throttle.write_iops_device "$mm" 0 || true
		iosat_loop_detach_if_ours "$l" "$(iosat_loop_back "$l")"
	done
	[[ -d $IOSAT_MEMCG_ROOT ]] && rmdir "$IOSAT_MEMCG_ROOT" 2>/dev/null || true
	echo "destroyed_all=1"
}

# ---------------------------------------------------------------- caches, memcg

# iosat_drop_caches [NAME]: without NAME, the whole machine's page cache (this
# also takes the cache away from everyone else's tests and benchmarks running
# at the time); with NAME, only the cache of the files on NAME's filesystem and
# of its block device (fadvise DONTNEED per file, then BLKFLSBUF).
iosat_drop_caches() {
	local name=${1-} mnt dev f n=0
	if [[ -z $name ]]; then
		sync
		echo 3 >/proc/sys/vm/drop_caches
		echo "dropped=all"
		return 0
	fi
	iosat_valid_name "$name"
	mnt=$(iosat_state_get "$name" mnt)
	dev=$(iosat_state_get "$name" dev)
	[[ -n $mnt ]] && mountpoint -q "$mnt" || iosat_die "'$name' is not mounted"
	sync -f "$mnt"
	while IFS= read -r -d '' f; do
		# count=0 + oflag=nocache: GNU dd only calls posix_fadvise(DONTNEED)
		dd of="$f" oflag=nocache conv=notrunc,fdatasync count=0 status=none 2>/dev/null && n=$((n + 1)) || true
	done < <(find "$mnt" -xdev -type f -print0 2>/dev/null)
	[[ -n $dev ]] && blockdev --flushbufs "$dev" 2>/dev/null || true
	echo "dropped=$name"
	echo "files=$n"
}

iosat_memcg_dir() { echo "$IOSAT_MEMCG_ROOT/$1"; }

iosat_memcg_create() {
	local name=$1 limit=$2 d
	iosat_valid_name "$name"
	iosat_valid_uint "$limit" 16 16777216 LIMIT_MB
	[[ -d ${IOSAT_MEMCG_ROOT%/*} ]] || iosat_die "cgroup v1 memory controller not mounted at ${IOSAT_MEMCG_ROOT%/*}"
	mkdir -p "$IOSAT_MEMCG_ROOT"
	d=$(iosat_memcg_dir "$name")
	mkdir -p "$d"
	mkdir -p "$IOSAT_STATE_ROOT/.memcg"
	iosat_caller_group >"$(iosat_memcg_holder_file "$name")"
	echo $((limit * 1024 * 1024)) >"$d/memory.limit_in_bytes"
	echo "memcg=$d"
	echo "limit_mb=$limit"
}

# iosat_memcg_add NAME PID: under sudo the process must belong to the caller
iosat_memcg_add() {
	local name=$1 pid=$2 d uid
	iosat_valid_name "$name"
	iosat_valid_uint "$pid" 2 4194304 PID
	d=$(iosat_memcg_dir "$name")
	[[ -d $d ]] || iosat_die "memcg '$name' does not exist"
	[[ -d /proc/$pid ]] || iosat_die "no process $pid"
	if [[ -n ${SUDO_UID-} && ${SUDO_UID} != 0 ]]; then
		uid=$(awk '/^Uid:/ { print $2 }' "/proc/$pid/status")
		[[ $uid == "$SUDO_UID" ]] || iosat_die "process $pid belongs to uid $uid, not to the caller ($SUDO_UID)"
	fi
	echo "$pid" >"$d/cgroup.procs"
	echo "memcg=$d"
	echo "pid=$pid"
}

iosat_memcg_empty() {
	local name=$1 d
	iosat_valid_name "$name"
	d=$(iosat_memcg_dir "$name")
	[[ -d $d ]] || iosat_die "memcg '$name' does not exist"
	sync
	# force_empty reclaims the group's page cache; it fails (EBUSY) only for
	# memory that cannot be reclaimed, which is fine for our purpose
	echo 0 >"$d/memory.force_empty" 2>/dev/null || iosat_log "force_empty incomplete"
	echo "usage_bytes=$(cat "$d/memory.usage_in_bytes")"
}

# iosat_memcg_destroy NAME [quiet]: move tasks to the root group, then remove
iosat_memcg_destroy() {
	local name=$1 quiet=${2-} d p i
	iosat_valid_name "$name"
	d=$(iosat_memcg_dir "$name")
	if [[ ! -d $d ]]; then
		rm -f "$(iosat_memcg_holder_file "$name")"
		[[ -n $quiet ]] || echo "memcg_destroyed=$name"
		return 0
	fi
	for i in 1 2 3 4 5 6 7 8 9 10; do
		while read -r p; do
			[[ -n $p ]] && echo "$p" >"${IOSAT_MEMCG_ROOT%/*}/cgroup.procs" 2>/dev/null || true
		done <"$d/cgroup.procs"
		rmdir "$d" 2>/dev/null && break
		sleep 0.3
	done
	[[ ! -d $d ]] || iosat_log "warning: could not remove $d"
	rm -f "$(iosat_memcg_holder_file "$name")"
	rmdir "$IOSAT_MEMCG_ROOT" 2>/dev/null || true
	[[ -n $quiet ]] || echo "memcg_destroyed=$name"
}

# ---------------------------------------------------------------- status

iosat_dev_status() {
	local n d kind dev mnt line
	for n in $(iosat_state_names); do
		kind=$(iosat_state_get "$n" kind)
		dev=$(iosat_state_get "$n" dev)
		mnt=$(iosat_state_get "$n" mnt)
		line="device name=$n kind=$kind dev=${dev:--}"
		[[ -n $dev ]] && line+=" majmin=$(iosat_state_get "$n" majmin) attached=$([[ -n $(iosat_loop_back "$dev") ]] && echo 1 || echo 0)"
		if [[ $kind == stack ]]; then
			local lmm
			lmm=$(iosat_state_get "$n" lower_majmin)
			line+=" lower=$(iosat_state_get "$n" lower) lower_majmin=$lmm"
			if [[ -n $lmm ]]; then
				line+=" read_iops=$(iosat_blkio_current blkio.throttle.read_iops_device "$lmm")"
				line+=" write_iops=$(iosat_blkio_current blkio.throttle.write_iops_device "$lmm")"
			fi
		fi
		if [[ $kind == fuse ]]; then
			local sp
			sp=$(iosat_stallfs_pid "$n")
			line+=" stallfs_pid=${sp:-0} stallfs_mode=$([[ -n $sp ]] && iosat_stallfs_state "$n" mode || echo -)"
		fi
		line+=" mnt=${mnt:--} mounted=$(mountpoint -q "${mnt:-/nonexistent}" 2>/dev/null && echo 1 || echo 0)"
		line+=" backing=$(iosat_state_get "$n" backing)"
		local h
		h=$(iosat_state_get "$n" holder)
		line+=" holder=${h%%:*} holder_alive=$(iosat_holder_alive "$h" && echo 1 || echo 0)"
		echo "$line"
	done
	for d in "$IOSAT_MEMCG_ROOT"/*/; do
		[[ -d $d ]] || continue
		d=${d%/}
		echo "memcg name=${d##*/} limit_bytes=$(cat "$d/memory.limit_in_bytes") usage_bytes=$(cat "$d/memory.usage_in_bytes") tasks=$(wc -l <"$d/cgroup.procs")"
	done
	local l
	for l in $(losetup -n -O NAME,BACK-FILE 2>/dev/null | awk -v r="$IOSAT_BACKING_ROOT/" 'index($2, r) == 1 { print $1 }'); do
		echo "loop dev=$l backing=$(iosat_loop_back "$l")"
	done
	return 0
}

# ---------------------------------------------------------------- iosatd
# The BPF companion for the BPF tests: only the installed daemon, pins only
# under /sys/fs/bpf/iosat-test-NAME, its pidfile only
# /run/iosat-test/iosatd-NAME.pid. Recorded (before it starts) in
# <state>/.iosatd/NAME so that destroy-all stops it and removes its pins.

IOSAT_IOSATD_BIN=/usr/local/sbin/iosatd
IOSAT_IOSATD_PINROOT=/sys/fs/bpf

iosat_iosatd_state() { echo "$IOSAT_STATE_ROOT/.iosatd/$1"; }

# iosat_iosatd_valid_dir DIR / iosat_iosatd_valid_pidfile FILE: print NAME
iosat_iosatd_valid_dir() {
	[[ ${1-} =~ ^/sys/fs/bpf/iosat-test-([a-z0-9_-]{1,32})$ ]] ||
		iosat_die "invalid pin directory '${1-}' (want /sys/fs/bpf/iosat-test-NAME)"
	echo "${BASH_REMATCH[1]}"
}
iosat_iosatd_valid_pidfile() {
	[[ ${1-} =~ ^/run/iosat-test/iosatd-([a-z0-9_-]{1,32})\.pid$ ]] ||
		iosat_die "invalid pidfile '${1-}' (want /run/iosat-test/iosatd-NAME.pid)"
	echo "${BASH_REMATCH[1]}"
}

# iosat_iosatd_alive PID: an iosatd process that is not a zombie
iosat_iosatd_alive() {
	local pid=$1 exe st
	[[ $pid =~ ^[1-9][0-9]{0,9}$ ]] || return 1
	exe=$(readlink "/proc/$pid/exe" 2>/dev/null) || return 1
	exe=${exe% (deleted)} # reinstalled while it runs
	[[ $exe == "$IOSAT_IOSATD_BIN" ]] || return 1
	st=$(iosat_proc_field "$pid" 1 2>/dev/null) || return 1
	[[ $st != Z && $st != X ]]
}

# iosat_iosatd_pid PIDFILE: the pid of the live iosatd it names, or nothing
iosat_iosatd_pid() {
	local pid
	pid=$(head -c 32 -- "$1" 2>/dev/null | tr -dc 0-9) || true
	[[ -n $pid ]] && iosat_iosatd_alive "$pid" && echo "$pid"
	return 0
}

# iosat_iosatd_wait_gone PID SECONDS
iosat_iosatd_wait_gone() {
	local pid=$1 i
	for ((i = 0; i < $2 * 10; i++)); do
		iosat_iosatd_alive "$pid" || return 0
		sleep 0.1
	done
	return 1
}

iosat_iosatd_start() {
	local dir=$1 pidfile=$2 name st log rc pid mode
	iosat_iosatd_valid_dir "$dir" >/dev/null
	name=$(iosat_iosatd_valid_pidfile "$pidfile")
	[[ -f $IOSAT_IOSATD_BIN && -x $IOSAT_IOSATD_BIN ]] ||
		iosat_die "$IOSAT_IOSATD_BIN is not installed (make install builds it where clang, bpftool and BTF exist)"
	mode=$(stat -c '%u %a' -- "$IOSAT_IOSATD_BIN")
	[[ ${mode%% *} == 0 ]] && (((8#${mode##* } & 8#022) == 0)) ||
		iosat_die "$IOSAT_IOSATD_BIN must be owned by root and not group/world-writable"
	mkdir -p "$IOSAT_STATE_ROOT/.iosatd"
	chmod 0755 "$IOSAT_STATE_ROOT" "$IOSAT_STATE_ROOT/.iosatd"
	st=$(iosat_iosatd_state "$name")
	log="$st.log"
	{
		echo "dir=$dir"
		echo "pidfile=$pidfile"
		echo "holder=$(iosat_caller_group)"
	} >"$st"
	# it forks; the parent returns once the pins are up (sudo closed the
	# caller's other descriptors; no lock is held here)
	"$IOSAT_IOSATD_BIN" -d "$dir" -p "$pidfile" </dev/null >"$log" 2>&1 && rc=0 || rc=$?
	if ((rc != 0)); then
		sed 's/^/iosatd: /' "$log" >&2
		echo "error: iosatd exited with status $rc" >&2
		exit 1
	fi
	pid=$(iosat_iosatd_pid "$pidfile")
	[[ -n $pid ]] || { echo "error: iosatd started but $pidfile names no live iosatd" >&2; exit 1; }
	echo "pid=$pid"
	echo "dir=$dir"
	echo "pidfile=$pidfile"
}

# remove a pin directory of ours that no live daemon uses (after kill -9)
iosat_iosatd_unpin() {
	local dir=$1
	iosat_iosatd_valid_dir "$dir" >/dev/null
	[[ -d $dir ]] || return 0
	rm -rf --one-file-system -- "$dir"
}

iosat_iosatd_stop() {
	local pidfile=$1 name st pid dir
	name=$(iosat_iosatd_valid_pidfile "$pidfile")
	st=$(iosat_iosatd_state "$name")
	pid=$(iosat_iosatd_pid "$pidfile")
	if [[ -n $pid ]]; then
		kill -TERM "$pid" 2>/dev/null || true
		if ! iosat_iosatd_wait_gone "$pid" 10; then
			iosat_log "iosatd $pid ignored SIGTERM for 10 s: SIGKILL"
			kill -KILL "$pid" 2>/dev/null || true
			iosat_iosatd_wait_gone "$pid" 5 || true
		fi
	fi
	# no state (stopped before, or removed by a destroy-all): nothing to unpin
	dir=""
	[[ -f $st ]] && dir=$(sed -n 's/^dir=//p' "$st" | tail -n 1)
	if [[ -n $dir ]]; then iosat_iosatd_unpin "$dir"; fi
	# a killed daemon leaves its pidfile (unlocked)
	if [[ -e $pidfile && -z $(iosat_iosatd_pid "$pidfile") ]]; then rm -f -- "$pidfile"; fi
	rm -f -- "$st" "$st.log"
	echo "stopped=${pid:-0}"
}

iosat_iosatd_kill() {
	local pidfile=$1 pid
	iosat_iosatd_valid_pidfile "$pidfile" >/dev/null
	pid=$(iosat_iosatd_pid "$pidfile")
	[[ -n $pid ]] || { echo "error: no live iosatd in $pidfile" >&2; exit 3; }
	local at
	at=$(date +%s.%N)
	kill -KILL "$pid"
	iosat_iosatd_wait_gone "$pid" 5 || { echo "error: iosatd $pid survived SIGKILL" >&2; exit 1; }
	echo "killed=$pid"
	echo "killed_at=$at"
}

# destroy-all: every recorded daemon (unless another live run holds it), and
# pin directories of ours that no live iosatd uses
iosat_iosatd_destroy_all() {
	local force=${1-} f name h pidfile dir p used
	for f in "$IOSAT_STATE_ROOT"/.iosatd/*; do
		[[ -f $f && $f != *.log ]] || continue
		name=${f##*/}
		[[ $name =~ ^[a-z0-9_-]{1,32}$ ]] || continue
		if [[ $force != --force ]]; then
			h=$(sed -n 's/^holder=//p' "$f" | tail -n 1)
			if iosat_held_by_other "$h"; then
				echo "skipped=iosatd-$name"
				continue
			fi
		fi
		pidfile=$(sed -n 's/^pidfile=//p' "$f" | tail -n 1)
		[[ $pidfile == "/run/iosat-test/iosatd-$name.pid" ]] || pidfile="/run/iosat-test/iosatd-$name.pid"
		iosat_iosatd_stop "$pidfile" >/dev/null
		echo "destroyed=iosatd-$name"
	done
	for dir in "$IOSAT_IOSATD_PINROOT"/iosat-test-*; do
		[[ -d $dir ]] || continue
		[[ $dir =~ ^/sys/fs/bpf/iosat-test-[a-z0-9_-]{1,32}$ ]] || continue
		grep -qs "^dir=$dir\$" "$IOSAT_STATE_ROOT"/.iosatd/* && continue # held, skipped above
		used=0
		for p in $(pgrep -x iosatd || true); do
			tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | grep -qF -- " $dir " && used=1
		done
		((used)) || iosat_iosatd_unpin "$dir"
	done
	rmdir "$IOSAT_STATE_ROOT/.iosatd" 2>/dev/null || true
	return 0
}

# ---------------------------------------------------------------- for tests

# iosat_rootctl ARGS...: run rootctl as root, through sudo -n when not root
iosat_rootctl() {
	local here
	here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
	if [[ $EUID -eq 0 ]]; then
		"$here/rootctl" "$@"
	else
		sudo -n "$here/rootctl" "$@"
	fi
}

# iosat_kv KEY < output: pick KEY=value from rootctl output
iosat_kv() { sed -n "s/^$1=//p" | head -n 1; }
