#!/bin/bash
# test/bpf/iosatd.t - iosatd and its maps, for real (TAP).
#
# Needs root and a kernel with BPF and BTF; skips (with the reason) only
# where the kernel lacks them.  Builds iosatd with `make iosatd-all` if it is
# not built yet.  Creates its own loop device on a file under /var/tmp and
# its own pin directory, and removes both on exit.
#
#   prove -v test/bpf/iosatd.t        or        make bpf-check
#
# Checks: pins and permissions; BPF counters against /sys/block/loopN/stat
# deltas (within 5%); gauges back to zero; per-process attribution of a
# direct-I/O reader; latency percentiles; mq-deadline with merges; the
# postgres user can read but not write; frozen maps refuse even root;
# kill -9 makes the heartbeat stale; a restart replaces the pins and an open
# reader follows; raw_tp fallback; the lifecycle as systemd drives it: a
# clean SIGTERM exits 0 and leaves the pins, marked stopped (readers say
# "missing"), the next start replaces them, the pidfile keeps a second
# daemon out, and with stderr on the journal (JOURNAL_STREAM) every line
# starts with its syslog priority.
set -u
export LC_ALL=C
export PATH=/usr/sbin:/usr/bin:/sbin:/bin:$PATH

TOP=$(cd "$(dirname "$0")/../.." && pwd)
IOSATD=$TOP/src/iosatd/iosatd
BPFSTAT=$TOP/src/iosatd/iosat-bpfstat
MAPTEST=$TOP/test/bpf/iosat-maptest
TOL_PCT=5

n=0
failed=0
ok() { n=$((n + 1)); echo "ok $n - $*"; }
nok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $*"; }
check() { # check "description" command...
	local d=$1; shift
	if "$@"; then ok "$d"; else nok "$d"; fi
}
skip() { n=$((n + 1)); echo "ok $n # SKIP $*"; }
diag() { echo "# $*"; }
bail() { echo "Bail out! $*"; exit 255; }

# --- can this machine run the test at all? ---------------------------------
if [[ $EUID -ne 0 ]]; then
	echo "1..0 # SKIP must run as root (loads BPF programs, creates loop devices)"
	exit 0
fi
if [[ ! -e /proc/sys/kernel/unprivileged_bpf_disabled ]]; then
	echo "1..0 # SKIP kernel has no BPF syscall (CONFIG_BPF_SYSCALL)"
	exit 0
fi
if [[ ! -r /sys/kernel/btf/vmlinux ]]; then
	echo "1..0 # SKIP kernel has no BTF (/sys/kernel/btf/vmlinux, CONFIG_DEBUG_INFO_BTF)"
	exit 0
fi
if [[ ! -x $IOSATD || ! -x $BPFSTAT || ! -x $MAPTEST ]]; then
	out=$(make -C "$TOP" iosatd-all 2>&1) || bail "cannot build iosatd: $(echo "$out" | tail -1)"
	[[ -x $IOSATD ]] || bail "iosatd not built: $(echo "$out" | grep -m1 iosatd)"
fi
command -v losetup >/dev/null || bail "losetup missing"

PINDIR=/sys/fs/bpf/iosat_test_$$
WORK=$(mktemp -d /var/tmp/iosat-bpf-test.XXXXXX)
chmod 0755 "$WORK"
IMG=$WORK/disk.img
LOOP=
DPID=
SCHED_RESTORE=
READER_PID=

cleanup() {
	[[ -n $READER_PID ]] && kill "$READER_PID" 2>/dev/null
	if [[ -n $DPID ]] && kill -0 "$DPID" 2>/dev/null; then
		kill -TERM "$DPID" 2>/dev/null
		for _ in $(seq 50); do kill -0 "$DPID" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$DPID" 2>/dev/null
	fi
	if [[ -n $LOOP ]]; then
		[[ -n $SCHED_RESTORE ]] && echo "$SCHED_RESTORE" > "/sys/block/${LOOP#/dev/}/queue/scheduler" 2>/dev/null
		losetup -d "$LOOP" 2>/dev/null
	fi
	rm -rf "$PINDIR" 2>/dev/null
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

have_pg=0
getent passwd postgres >/dev/null && getent group postgres >/dev/null && have_pg=1
GROUP_OPT=()
((have_pg)) || GROUP_OPT=(-g root)

# --- helpers -----------------------------------------------------------------
kv() { # kv KEY < line
	tr ' ' '\n' | sed -n "s/^$1=//p" | head -1
}
start_daemon() { # start_daemon LOGFILE [extra options]
	local log=$1; shift
	"$IOSATD" -f -v -i 500 -d "$PINDIR" "${GROUP_OPT[@]}" -p "$WORK/iosatd.pid" "$@" >"$log" 2>&1 &
	DPID=$!
	for _ in $(seq 100); do
		"$BPFSTAT" -d "$PINDIR" -s >/dev/null 2>&1 && return 0
		kill -0 "$DPID" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}
status_of() { "$BPFSTAT" -d "$PINDIR" -s 2>/dev/null | head -1 | kv status; }
disk_line() { "$BPFSTAT" -d "$PINDIR" -k -D "$MAJ:$MIN" | grep '^disk '; }
sys_stat() { cat "/sys/block/${LOOP#/dev/}/stat"; }
field() { echo "$1" | awk -v f="$2" '{print $f}'; }
within() { # within BPF SYS -> true if |BPF-SYS| <= TOL% of SYS (and SYS > 0)
	awk -v b="$1" -v s="$2" -v t="$TOL_PCT" 'BEGIN { if (s <= 0) exit 1; d = b - s; if (d < 0) d = -d; exit !(d * 100 <= t * s) }'
}
pct() { awk -v b="$1" -v s="$2" 'BEGIN { if (s > 0) printf "%.3f%%", 100 * b / s; else print "n/a" }'; }
load_fio() { # load_fio SECONDS
	if command -v fio >/dev/null; then
		fio --name=iosat-bpf-test --filename="$LOOP" --direct=1 --rw=randrw --bs=4k \
			--iodepth=16 --ioengine=libaio --runtime="$1" --time_based --output-format=terse \
			>/dev/null 2>&1
	else
		dd if="$LOOP" of=/dev/null bs=4k count=20000 iflag=direct status=none
		dd if=/dev/zero of="$LOOP" bs=4k count=20000 oflag=direct status=none
	fi
}
# compare_counters LABEL DISK_BEFORE SYS_BEFORE DISK_AFTER SYS_AFTER
compare_counters() {
	local label=$1 db=$2 sb=$3 da=$4 sa=$5 k f bpf sys what a b
	for spec in "rd_ios:1:reads completed" "wr_ios:5:writes completed" \
		"rd_bytes:3:bytes read" "wr_bytes:7:bytes written"; do
		k=${spec%%:*}; f=${spec#*:}; what=${f#*:}; f=${f%%:*}
		a=$(echo "$da" | kv "$k"); b=$(echo "$db" | kv "$k")
		bpf=$(( ${a:-0} - ${b:-0} ))
		sys=$(( $(field "$sa" "$f") - $(field "$sb" "$f") ))
		[[ $k == *bytes ]] && sys=$((sys * 512))
		if within "$bpf" "$sys"; then
			ok "$label: $what: bpf $bpf vs /sys $sys ($(pct "$bpf" "$sys"))"
		else
			nok "$label: $what: bpf $bpf vs /sys $sys ($(pct "$bpf" "$sys"), tolerance $TOL_PCT%)"
		fi
	done
}
gauges_zero() { # wait up to 3 s for queued = inflight = 0
	local l
	for _ in $(seq 30); do
		l=$(disk_line)
		[[ $(echo "$l" | kv queued) == 0 && $(echo "$l" | kv inflight) == 0 ]] && return 0
		sleep 0.1
	done
	diag "gauges: $(echo "$l" | tr ' ' '\n' | grep -E '^(queued|inflight)=' | tr '\n' ' ')"
	return 1
}

# --- loop device ---------------------------------------------------------------
truncate -s 256M "$IMG" || bail "cannot create $IMG"
LOOP=$(losetup -f --show --direct-io=on "$IMG" 2>/dev/null || losetup -f --show "$IMG") ||
	bail "cannot attach a loop device"
read -r MAJ MIN < <(stat -L -c '%t %T' "$LOOP" | while read -r a b; do echo $((16#$a)) $((16#$b)); done)
diag "loop device $LOOP ($MAJ:$MIN), pin dir $PINDIR, kernel $(uname -r)"

# --- start -------------------------------------------------------------------
if start_daemon "$WORK/d1.log"; then
	ok "iosatd starts and publishes its maps"
else
	nok "iosatd starts and publishes its maps"
	sed 's/^/#   /' "$WORK/d1.log"
	bail "iosatd did not start"
fi
PID1=$DPID
m=$("$BPFSTAT" -d "$PINDIR" -s)
check "meta names the daemon's pid ($PID1)" test "$(echo "$m" | kv pid)" = "$PID1"
flags=$(( $(echo "$m" | kv flags) ))
check "maps are frozen (meta flags 0x$(printf %x $flags))" test $((flags & 0x08)) -ne 0
check "tp_btf programs in use" test $((flags & 0x01)) -ne 0
if [[ -r /sys/kernel/btf/vmlinux ]] && grep -qa btf_trace_block_io_start /sys/kernel/btf/vmlinux; then
	check "block_io_start used for submitter attribution" test $((flags & 0x02)) -ne 0
else
	skip "kernel has no block_io_start (< 6.5): attribution at insert/issue"
fi
capeff=$(awk '/^CapEff/ {print $2}' "/proc/$PID1/status")
check "daemon runs without capabilities after loading (CapEff $capeff)" test "$capeff" = 0000000000000000
check "pidfile written" test "$(cat "$WORK/iosatd.pid" 2>/dev/null)" = "$PID1"

if ((have_pg)); then
	check "pin dir is 0750 root:postgres" test "$(stat -c '%a %U:%G' "$PINDIR")" = "750 root:postgres"
	modes=$(stat -c '%a %U:%G' "$PINDIR"/meta "$PINDIR"/disks "$PINDIR"/procs | sort -u)
	check "maps are 0440 root:postgres ($modes)" test "$modes" = "440 root:postgres"
else
	skip "no postgres user/group: pin permissions for postgres not checked"
	skip "no postgres user/group"
fi

# a second daemon must not displace a live one
if "$IOSATD" -f -i 500 -d "$PINDIR" "${GROUP_OPT[@]}" >"$WORK/d2.log" 2>&1; then
	nok "a second iosatd refuses to replace a live one"
else
	grep -q "is running" "$WORK/d2.log" && ok "a second iosatd refuses to replace a live one" ||
		{ nok "a second iosatd refuses to replace a live one"; sed 's/^/#   /' "$WORK/d2.log"; }
fi

# --- counters against /sys -------------------------------------------------------
sleep 0.3
db=$(disk_line); sb=$(sys_stat)
load_fio 3
sleep 0.3
gauges_zero && ok "queued and in-flight back to 0 after the load" || nok "queued and in-flight back to 0 after the load"
sleep 1.2    # let the heartbeat reap any completion the kernel did not report to BPF
da=$(disk_line); sa=$(sys_stat)
compare_counters "fio randrw, tp_btf" "$db" "$sb" "$da" "$sa"
m=$("$BPFSTAT" -d "$PINDIR" -s)
diag "repairs so far: recycled $(echo "$m" | kv req_recycled), reaped $(echo "$m" | kv req_reaped), untracked $(echo "$m" | kv untracked)"

p50=$(echo "$da" | kv rd_p50_us); p95=$(echo "$da" | kv rd_p95_us); p99=$(echo "$da" | kv rd_p99_us)
check "read service-time percentiles present and ordered (p50 $p50 <= p95 $p95 <= p99 $p99 us)" \
	awk -v a="$p50" -v b="$p95" -v c="$p99" 'BEGIN { exit !(a > 0 && a <= b && b <= c) }'
qn=$(echo "$da" | kv rq_n); dn=$(echo "$da" | kv rd_n)
check "queue-time histogram has samples ($qn reads)" test "${qn:-0}" -gt 0

# --- per-process attribution -------------------------------------------------------
cp /bin/dd "$WORK/iosatddprobe"
"$WORK/iosatddprobe" if="$LOOP" of=/dev/null bs=4k count=3000 skip=1000 iflag=direct status=none &
ddpid=$!
wait $ddpid
sleep 1.2
pl=$("$BPFSTAT" -d "$PINDIR" -k | grep "^proc pid=$ddpid ")
if [[ -n $pl ]]; then
	check "per-process: the reader is named ($(echo "$pl" | kv comm))" test "$(echo "$pl" | kv comm)" = iosatddprobe
	r=$(echo "$pl" | kv rd_ios); rb=$(echo "$pl" | kv rd_bytes)
	check "per-process: 3000 direct reads attributed to pid $ddpid ($r)" within "$r" 3000
	check "per-process: 12288000 bytes attributed ($rb)" within "$rb" 12288000
	lm=$(echo "$pl" | kv lat_mean_us)
	check "per-process: mean latency reported ($lm us)" awk -v x="$lm" 'BEGIN { exit !(x > 0) }'
else
	nok "per-process entry for pid $ddpid"; skip "no entry"; skip "no entry"; skip "no entry"
fi

# --- a scheduler with merges ----------------------------------------------------------
sched_file=/sys/block/${LOOP#/dev/}/queue/scheduler
if grep -q mq-deadline "$sched_file"; then
	SCHED_RESTORE=$(sed -n 's/.*\[\(.*\)\].*/\1/p' "$sched_file")
	echo mq-deadline > "$sched_file"
	db=$(disk_line); sb=$(sys_stat)
	# small sequential buffered writes: the block layer merges them
	dd if=/dev/zero of="$LOOP" bs=4k count=20000 status=none conv=fsync
	dd if="$LOOP" of=/dev/null bs=4k count=20000 iflag=direct status=none
	sleep 0.3
	gauges_zero && ok "mq-deadline: queued and in-flight back to 0" || nok "mq-deadline: queued and in-flight back to 0"
	sleep 1.2
	da=$(disk_line); sa=$(sys_stat)
	compare_counters "mq-deadline, merged writes" "$db" "$sb" "$da" "$sa"
	a=$(echo "$da" | kv inserted); b=$(echo "$db" | kv inserted)
	ins=$(( ${a:-0} - ${b:-0} ))
	check "mq-deadline: requests went through the scheduler queue (inserted $ins)" test "$ins" -gt 0
	echo "$SCHED_RESTORE" > "$sched_file"
	SCHED_RESTORE=
else
	skip "mq-deadline not available"
fi

# --- permissions ------------------------------------------------------------------------
if ((have_pg)); then
	out=$(runuser -u postgres -- "$BPFSTAT" -d "$PINDIR" -s 2>&1); rc=$?
	check "postgres reads the maps read-only (status: $(echo "$out" | head -1 | kv status))" test $rc -eq 0
	out=$(runuser -u postgres -- "$BPFSTAT" -d "$PINDIR" -k 2>&1 | grep -c "^disk ")
	check "postgres lists the disks ($out)" test "$out" -gt 0
	mt=$(runuser -u postgres -- "$MAPTEST" "$PINDIR" 2>&1)
	bad=$(echo "$mt" | grep -E ' (ro_update|ro_delete|ro_freeze)=' | grep -v '=EPERM$')
	check "postgres: update/delete/freeze through a read-only fd fail with EPERM" test -z "$bad"
	[[ -n $bad ]] && echo "$bad" | sed 's/^/#   /'
	bad=$(echo "$mt" | grep ' rw_open=' | grep -vE '=(EACCES|EPERM)$')
	check "postgres: opening the pins for writing is refused" test -z "$bad"
	[[ -n $bad ]] && echo "$bad" | sed 's/^/#   /'
	bad=$(echo "$mt" | grep -E ' ro_(open|lookup)=' | grep -v '=ok$')
	check "postgres: read-only open and lookup work on all three maps" test -z "$bad"
else
	for _ in 1 2 3 4 5; do skip "no postgres user"; done
fi
mt=$("$MAPTEST" "$PINDIR" 2>&1)
bad=$(echo "$mt" | grep -E ' rw_(update|delete)=' | grep -v '=EPERM$')
check "root: frozen maps refuse updates and deletes (EPERM)" test -z "$bad" -a -n "$(echo "$mt" | grep ' rw_update=')"
[[ -n $bad ]] && echo "$bad" | sed 's/^/#   /'

# --- kill -9, stale heartbeat, restart ---------------------------------------------------
ino1=$(stat -c %i "$PINDIR/meta")
"$BPFSTAT" -d "$PINDIR" -w 300 -c 40 >"$WORK/reader.out" 2>&1 &
READER_PID=$!
kill -KILL "$PID1"
{ wait "$PID1"; } 2>/dev/null
DPID=
sleep 4
sline=$("$BPFSTAT" -d "$PINDIR" -s 2>/dev/null | head -1)
st=$(echo "$sline" | kv status); age=$(echo "$sline" | kv age_ms)
check "kill -9: heartbeat goes stale ($st, heartbeat ${age} ms old)" test "$st" = stale -a "${age%.*}" -ge 3000
check "kill -9: pins stay (readers fall back on the stale heartbeat)" test -e "$PINDIR/meta"

if start_daemon "$WORK/d3.log"; then ok "restart after kill -9"; else nok "restart after kill -9"; sed 's/^/#   /' "$WORK/d3.log"; fi
PID2=$DPID
ino2=$(stat -c %i "$PINDIR/meta" 2>/dev/null)
check "restart replaced the stale pins (meta inode $ino1 -> $ino2)" test -n "$ino2" -a "$ino1" != "$ino2"
check "restart: status ok, meta names the new pid $PID2" test "$(status_of)" = ok -a "$("$BPFSTAT" -d "$PINDIR" -s | kv pid)" = "$PID2"
grep -q "replacing stale pins" "$WORK/d3.log" && ok "restart logged that it replaced stale pins" || nok "restart logged that it replaced stale pins"
sleep 1.5
kill "$READER_PID" 2>/dev/null; wait "$READER_PID" 2>/dev/null; READER_PID=
check "an open reader saw ok -> stale -> ok and re-opened the new pins" \
	bash -c "grep -q '^# stale' '$WORK/reader.out' && grep -q '^# ok.*opens 2' '$WORK/reader.out'"
grep '^#' "$WORK/reader.out" | sed 's/^/#   reader: /'

# --- raw_tp fallback ----------------------------------------------------------------------
kill -TERM "$PID2"; wait "$PID2" 2>/dev/null; DPID=
if start_daemon "$WORK/d4.log" --raw-tp; then
	flags=$(( $("$BPFSTAT" -d "$PINDIR" -s | kv flags) ))
	check "raw_tp fallback loads (flags 0x$(printf %x $flags) without tp_btf)" test $((flags & 0x01)) -eq 0
	sleep 0.3
	db=$(disk_line); sb=$(sys_stat)
	load_fio 2
	sleep 1.5
	da=$(disk_line); sa=$(sys_stat)
	compare_counters "fio randrw, raw_tp" "$db" "$sb" "$da" "$sa"
else
	nok "raw_tp fallback loads"; sed 's/^/#   /' "$WORK/d4.log"
fi

# --- lifecycle: stop, start, restart (what systemctl does with the unit) -------------
# A clean stop (SIGTERM: systemctl stop, the first half of a restart) leaves
# the pins, marked stopped, for the next start.
if [[ -n $DPID ]]; then
	PID4=$DPID
	ino4=$(stat -c %i "$PINDIR/meta")
	kill -TERM "$DPID"; wait "$DPID"; rc=$?; DPID=
	check "SIGTERM: clean exit (status $rc)" test "$rc" -eq 0
	check "SIGTERM: pins left for the next start (meta inode $ino4)" \
		test "$(stat -c %i "$PINDIR/meta" 2>/dev/null)" = "$ino4" -a -e "$PINDIR/disks" -a -e "$PINDIR/procs"
	check "SIGTERM: pin dir kept, 0750 ($(stat -c %a "$PINDIR" 2>/dev/null))" test "$(stat -c %a "$PINDIR" 2>/dev/null)" = 750
	check "SIGTERM: pidfile removed" test ! -e "$WORK/iosatd.pid"
	grep -q "pins left in $PINDIR for the next start" "$WORK/d4.log" && ok "SIGTERM: the stop is logged" ||
		{ nok "SIGTERM: the stop is logged"; tail -3 "$WORK/d4.log" | sed 's/^/#   /'; }
	out=$("$BPFSTAT" -d "$PINDIR" -s 2>&1)
	check "after a clean stop the reader reports missing at once, not stale ($(echo "$out" | head -1 | kv status))" \
		test "$(echo "$out" | head -1 | kv status)" = missing
	check "... because iosatd pid $PID4 was stopped" bash -c "echo '$out' | grep -q 'reason=iosatd pid $PID4 was stopped'"

	# start again, stderr on a "journal stream": systemd sets JOURNAL_STREAM
	# to the device:inode of the stream it gives the service as stderr
	: >"$WORK/d5.log"
	if JOURNAL_STREAM=$(stat -c %d:%i "$WORK/d5.log") start_daemon "$WORK/d5.log"; then
		ok "start after a clean stop"
	else
		nok "start after a clean stop"; sed 's/^/#   /' "$WORK/d5.log"
	fi
	PID5=$DPID
	ino5=$(stat -c %i "$PINDIR/meta" 2>/dev/null)
	check "the start replaced the pins left (meta inode $ino4 -> $ino5), status ok" \
		test -n "$ino5" -a "$ino5" != "$ino4" -a "$(status_of)" = ok
	grep -q "replacing the pins that iosatd pid $PID4 left in $PINDIR when it stopped" "$WORK/d5.log" &&
		ok "the start logged whose pins it replaced" || nok "the start logged whose pins it replaced"

	# the pidfile keeps a second daemon out (also with --force), pins untouched
	: >"$WORK/d6.log"
	JOURNAL_STREAM=$(stat -c %d:%i "$WORK/d6.log") \
		"$IOSATD" -f -i 500 -d "$PINDIR" "${GROUP_OPT[@]}" -p "$WORK/iosatd.pid" --force >>"$WORK/d6.log" 2>&1
	rc=$?
	check "a second iosatd with the same pidfile exits 1 ($rc), even with --force" test "$rc" -eq 1
	check "... says the pidfile is locked by pid $PID5, at priority err (<3>)" \
		grep -q "^<3>pidfile $WORK/iosatd.pid is locked by another iosatd (pid $PID5)" "$WORK/d6.log"
	check "... and left the running daemon's pins alone" \
		test "$(stat -c %i "$PINDIR/meta")" = "$ino5" -a "$(status_of)" = ok

	# restart: SIGTERM, then start again
	kill -TERM "$DPID"; wait "$DPID"; rc=$?; DPID=
	check "restart: the stop exits 0 ($rc)" test "$rc" -eq 0
	if JOURNAL_STREAM=$(stat -c %d:%i "$WORK/d5.log") start_daemon "$WORK/d5.log.2"; then
		ok "restart: started again"
	else
		nok "restart: started again"; sed 's/^/#   /' "$WORK/d5.log.2"
	fi
	check "restart: status ok, meta names the new pid $DPID" \
		test "$(status_of)" = ok -a "$("$BPFSTAT" -d "$PINDIR" -s | kv pid)" = "$DPID"
	# JOURNAL_STREAM naming another file than stderr: the usual format
	if grep -q '^<' "$WORK/d5.log.2"; then
		nok "JOURNAL_STREAM that is not stderr: plain timestamped lines"; head -2 "$WORK/d5.log.2" | sed 's/^/#   /'
	else
		check "JOURNAL_STREAM that is not stderr: plain timestamped lines" \
			grep -qE '^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9:.]+ iosatd\[[0-9]+\]: info: maps pinned' "$WORK/d5.log.2"
	fi
	kill -TERM "$DPID"; wait "$DPID"; rc=$?; DPID=

	# the journal's format: every line "<prio>message", no timestamp or pid
	bad=$(grep -cv '^<[0-7]>[^<]' "$WORK/d5.log")
	check "journal format: every line starts with a syslog priority ($(wc -l <"$WORK/d5.log") lines, $bad without)" \
		test "$bad" -eq 0 -a -s "$WORK/d5.log"
	check "journal format: <6> for info (maps pinned, stopping)" \
		bash -c "grep -q '^<6>maps pinned in $PINDIR' '$WORK/d5.log' && grep -q '^<6>Terminated: stopping; pins left' '$WORK/d5.log'"
	check "journal format: no timestamp or pid of its own" bash -c "! grep -qE '^<[0-7]>[0-9]{4}-|iosatd\[' '$WORK/d5.log'"
	sed 's/^/#   journal: /' "$WORK/d5.log"
fi

# --- unit file -----------------------------------------------------------------------------
if command -v systemd-analyze >/dev/null; then
	unit=$WORK/iosatd.service
	sed "s|/usr/local/sbin/iosatd|$IOSATD|" "$TOP/src/iosatd/iosatd.service" >"$unit"
	out=$(systemd-analyze verify "$unit" 2>&1 | grep -v -e 'Failed to .*bus' -e 'Failed to connect' -e "$TOP" -e '^$')
	check "iosatd.service passes systemd-analyze verify" test -z "$out"
	[[ -n $out ]] && echo "$out" | sed 's/^/#   /'
else
	skip "systemd-analyze not installed"
fi

echo "1..$n"
exit $((failed > 0))
