#!/usr/bin/env bash
# Builds iosat's Debian packages with Debian's own tools and checks them on
# this machine.  As root, on Debian 12:
#
#     bash test/packaging/deb.sh
#
#  1. installs the build dependencies that debian/control declares
#     (apt-get build-dep on the tree; else the list dpkg-checkbuilddeps
#     prints) and lintian;
#  2. runs dpkg-buildpackage -us -uc -b in a copy of the tree, then lintian
#     on the .changes: any E: fails the run;
#  3. installs the built postgresql-NN-iosat and iosatd with apt, and checks
#     what the maintainer scripts did (group iosat with postgres in it, the
#     pin directory, the unit enabled);
#  4. for each postgresql-NN-iosat: a throwaway cluster (initdb as postgres
#     in a temporary directory, port 5499, shared_preload_libraries = iosat):
#     CREATE EXTENSION iosat, iosat_devices, iosat_status;
#  5. iosatd: with systemd as PID 1, the unit must be enabled and active;
#     without it, the script supervises iosatd itself: it makes the unit's
#     RuntimeDirectory, applies its CapabilityBoundingSet and
#     NoNewPrivileges (setpriv), and runs its ExecStart in the background
#     with stderr on a file that JOURNAL_STREAM names (as systemd does with
#     the journal's stream), waiting for the pidfile; then
#     iosat_status.bpf_status must become 'ok', and iosat-bpfstat -s must
#     work as postgres (group iosat);
#  6. the unit's lifecycle: stop (SIGTERM: exit 0, pins left marked
#     stopped, bpf_status 'missing'), start (pins replaced, 'ok' again), and
#     every log line in the journal's format (<prio>message);
#  7. stops iosatd and the cluster, purges both packages and checks that
#     nothing is left: their files, the unit's enablement links, the group,
#     the pin and runtime directories;
#  8. prints figures: package sizes, build time, lintian's counts, the
#     times to bpf_status 'ok' (also to $IOSAT_DEB_FIGURES if set).
#
# Files the packages replace that no package owns (an iosat.so from
# `make install`) are saved before the installation and put back at the
# end.  Everything the script creates goes on exit, also after Ctrl-C;
# the build dependencies and lintian stay installed.  IOSAT_KEEP=1 keeps
# the work directory (build tree, .debs, logs).  From the installation on,
# runs take turns with test/run-tests.sh (same lock, IOSAT_TEST_LOCK names
# another file): both replace the installed iosat.so.  run-tests.sh runs
# this script as one of its stages with IOSAT_TEST_LOCK_HELD=1: the lock is
# its own, held for the whole run, and this script does not wait for it.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
PORT=5499
PIN_DIR=/sys/fs/bpf/iosat

if [[ $EUID -ne 0 ]]; then
	echo "deb.sh: run as root (it installs and purges packages, starts iosatd)" >&2
	exit 2
fi

work=""
iosatd_pid=""
runtime_dir_made=""
pg_ctl=""
pg_data=""
installed_pkgs=()
backup_list=""
failed=0
figures=()
pin_dir_before=""
group_before=""

say() { printf '== %s\n' "$*"; }
ok() { printf 'ok   %s\n' "$*"; }
fail() {
	printf 'FAIL %s\n' "$*"
	failed=$((failed + 1))
}
check() { # check "what" command...
	local what=$1
	shift
	if "$@"; then ok "$what"; else fail "$what"; fi
}
as_pg() { runuser -u postgres -- "$@"; }
psql_pg() { # psql_pg VERSION SQL
	as_pg "/usr/lib/postgresql/$1/bin/psql" -X -q -At -v ON_ERROR_STOP=1 \
		-h "$work/sock" -p "$PORT" -d postgres -c "$2"
}

stop_iosatd() {
	local rc=0
	[[ -n $iosatd_pid ]] || return 0
	if kill -0 "$iosatd_pid" 2>/dev/null; then
		kill -TERM "$iosatd_pid"
		wait "$iosatd_pid" || rc=$?
	fi
	iosatd_pid=""
	return "$rc"
}

stop_cluster() {
	local mode=${1:-fast}
	[[ -n $pg_ctl ]] || return 0
	as_pg "$pg_ctl" -D "$pg_data" -m "$mode" -w stop >/dev/null || true
	pg_ctl=""
}

restore_backups() {
	[[ -n $backup_list && -s $backup_list ]] || return 0
	local f
	while IFS= read -r f; do
		mkdir -p "$(dirname "$f")"
		cp -a "$work/backup$f" "$f"
	done <"$backup_list"
	echo "deb.sh: put back $(wc -l <"$backup_list") file(s) that no package owned"
	: >"$backup_list"
}

cleanup() {
	local rc=$?
	set +e
	stop_iosatd
	stop_cluster immediate
	if ((${#installed_pkgs[@]})); then
		DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq "${installed_pkgs[@]}" >/dev/null 2>&1 ||
			dpkg --purge "${installed_pkgs[@]}" >/dev/null 2>&1
	fi
	if [[ -n $runtime_dir_made ]]; then
		rm -rf "$runtime_dir_made"
	fi
	# what a purge that failed its checks left (they have said so): the
	# pin directory and the group, if they were not here before
	if [[ -n $work && -z $pin_dir_before && -d $PIN_DIR ]] && ! pgrep -x iosatd >/dev/null; then
		rm -rf --one-file-system "$PIN_DIR"
	fi
	if [[ -n $work && -z $group_before ]] && getent group iosat >/dev/null; then
		groupdel iosat
	fi
	restore_backups
	if [[ -n $work && -n ${IOSAT_KEEP:-} ]]; then
		echo "deb.sh: kept $work (IOSAT_KEEP)"
	elif [[ -n $work ]]; then
		rm -rf "$work"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- preconditions
for p in iosatd $(dpkg-query -W -f='${Package}\n' 'postgresql-*-iosat' 2>/dev/null || true); do
	case $(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true) in
		'' | not-installed | config-files) continue ;;
	esac
	echo "deb.sh: $p is installed; this test installs and purges it, remove it first" >&2
	exit 2
done
if pgrep -x iosatd >/dev/null && [[ -e $PIN_DIR/meta ]]; then
	# (pins a stopped or killed iosatd left are replaced, then purged)
	echo "deb.sh: an iosatd is running and $PIN_DIR/meta exists: stop it first" >&2
	exit 2
fi

[[ -e $PIN_DIR ]] && pin_dir_before=1
group_before=$(getent group iosat || true)
work=$(mktemp -d /tmp/iosat-deb.XXXXXX)
chmod 755 "$work"
backup_list=$work/backups.txt
: >"$backup_list"

# ---------------------------------------------------------------- the tree
say "copy of the tree"
src=$work/build/iosat
mkdir -p "$src"
if git -C "$repo" rev-parse --git-dir >/dev/null 2>&1; then
	# tracked and new files as they are in the working tree, no build products
	# (deleted files still listed by git are skipped; the inner sh expands $f)
	# shellcheck disable=SC2016
	(cd "$repo" && git ls-files -z --cached --others --exclude-standard |
		xargs -0 sh -c 'for f; do [ -e "$f" ] && printf "%s\0" "$f"; done' sh |
		tar --null -T - -cf -) | tar -C "$src" -xf -
else
	tar -C "$repo" --exclude=.git --exclude=tmp_check --exclude=tmp_regress \
		--exclude=results --exclude='*.o' --exclude='*.so' --exclude='*.bc' -cf - . |
		tar -C "$src" -xf -
fi
echo "$src ($(find "$src" -type f | wc -l) files)"

# ---------------------------------------------------------------- build dependencies
say "build dependencies (debian/control)"
export DEBIAN_FRONTEND=noninteractive
if ! (cd "$src" && dpkg-checkbuilddeps) 2>/dev/null || ! command -v lintian >/dev/null; then
	apt-get update -qq
	if ! apt-get build-dep -y -qq --no-install-recommends "$src" >"$work/build-dep.log" 2>&1; then
		cat "$work/build-dep.log"
		echo "deb.sh: apt-get build-dep failed; installing what dpkg-checkbuilddeps lists"
		# "a (>= 1), b | c" -> "a b": versions dropped, first alternatives
		mapfile -t missing < <(cd "$src" && dpkg-checkbuilddeps 2>&1 |
			sed -n 's/.*Unmet build dependencies: //p' |
			sed -E 's/\([^)]*\)//g; s/\|[^,]*//g; s/,/ /g' | tr -s ' ' '\n' | sed '/^$/d')
		apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
	fi
	apt-get install -y -qq --no-install-recommends lintian >/dev/null
fi
(cd "$src" && dpkg-checkbuilddeps)
ok "build dependencies satisfied"

# ---------------------------------------------------------------- build
say "dpkg-buildpackage -us -uc -b"
t0=$(date +%s)
if ! (cd "$src" && dpkg-buildpackage -us -uc -b) >"$work/build.log" 2>&1; then
	tail -n 60 "$work/build.log"
	echo "deb.sh: dpkg-buildpackage failed (log: $work/build.log)" >&2
	IOSAT_KEEP=1
	exit 1
fi
build_s=$(($(date +%s) - t0))
changes=$(ls "$work"/build/iosat_*.changes)
mapfile -t debs < <(ls "$work"/build/*.deb)
ok "built in ${build_s} s: $(cd "$work/build" && echo *.deb)"
figures+=("build time: ${build_s} s (dpkg-buildpackage -b, $(nproc) CPUs)")

for d in "${debs[@]}"; do
	echo "-- $(basename "$d"): $(dpkg-deb -f "$d" Installed-Size) KiB installed; Depends: $(dpkg-deb -f "$d" Depends)"
	dpkg-deb -c "$d" | awk '$1 !~ /^d/ {print "   " $1, $3, $6, $7, $8}'
	figures+=("$(basename "$d"): $(stat -c %s "$d") bytes, $(dpkg-deb -f "$d" Installed-Size) KiB installed, $(dpkg-deb -c "$d" | grep -vc '^d') files")
done

# ---------------------------------------------------------------- lintian
say "lintian"
lintian -I --fail-on none "$changes" >"$work/lintian.txt" 2>&1 || true
cat "$work/lintian.txt"
lint_e=$(grep -c '^E: ' "$work/lintian.txt" || true)
lint_w=$(grep -c '^W: ' "$work/lintian.txt" || true)
lint_i=$(grep -c '^I: ' "$work/lintian.txt" || true)
check "lintian: no errors ($lint_e)" test "$lint_e" -eq 0
figures+=("lintian $(lintian --version | awk '{print $2}'): ${lint_e} errors, ${lint_w} warnings, ${lint_i} info")
# the package's upstream version is the SQL's: debian/changelog follows iosat.control
want=$(sed -n "s/^default_version = '\(.*\)'/\1/p" "$repo/iosat.control")
for d in "${debs[@]}"; do
	v=$(dpkg-deb -f "$d" Version)
	check "$(basename "$d"): version $v is iosat.control's $want" test "${v%-*}" = "$want"
done

# ---------------------------------------------------------------- install
# from here on, turns with test/run-tests.sh: both replace the installed iosat.so
# (run as a stage of run-tests.sh, the lock is already that run's)
exec 9>"${IOSAT_TEST_LOCK:-/run/lock/iosat-test.lock}"
if flock -n 9; then
	:
elif [[ ${IOSAT_TEST_LOCK_HELD:-} == 1 ]]; then
	echo "deb.sh: the lock is held by the test run this is a stage of (IOSAT_TEST_LOCK_HELD)"
else
	echo "deb.sh: another iosat test run is under way; waiting for it"
	flock 9
fi
say "install"
ext_debs=()
iosatd_deb=""
for d in "${debs[@]}"; do
	case $(dpkg-deb -f "$d" Package) in
		postgresql-*-iosat) ext_debs+=("$d") ;;
		iosatd) iosatd_deb=$d ;;
	esac
done
[[ -n $iosatd_deb && ${#ext_debs[@]} -gt 0 ]] || {
	echo "deb.sh: expected postgresql-NN-iosat and iosatd among: ${debs[*]}" >&2
	exit 1
}
# what the packages hold: files and links, and the directories they add
mapfile -t pkg_files < <(for d in "${ext_debs[@]}" "$iosatd_deb"; do
	dpkg-deb -c "$d" | awk '$1 !~ /^d/ {print $6}' | sed 's|^\./|/|'
done | sort -u)
mapfile -t pkg_new_dirs < <(for d in "${ext_debs[@]}" "$iosatd_deb"; do
	dpkg-deb -c "$d" | awk '$1 ~ /^d/ {print $6}' | sed 's|^\./|/|; s|/$||'
done | sort -u | while IFS= read -r f; do [[ -n $f && ! -e $f ]] && echo "$f"; done)
# save what the packages would replace without any package owning it
for f in "${pkg_files[@]}"; do
	if [[ -e $f ]] && ! dpkg-query -S "$f" >/dev/null 2>&1; then
		mkdir -p "$work/backup$(dirname "$f")"
		cp -a "$f" "$work/backup$f"
		echo "$f" >>"$backup_list"
	fi
done
if [[ -s $backup_list ]]; then
	echo "saved $(wc -l <"$backup_list") unowned file(s) to put back at the end: $(head -3 "$backup_list" | tr '\n' ' ')..."
fi
for d in "${ext_debs[@]}" "$iosatd_deb"; do
	installed_pkgs+=("$(dpkg-deb -f "$d" Package)")
done
apt-get install -y -qq --no-install-recommends "${ext_debs[@]}" "$iosatd_deb" >"$work/install.log" 2>&1 ||
	{ cat "$work/install.log"; exit 1; }
ok "installed: ${installed_pkgs[*]}"

check "group iosat exists" getent group iosat
check "postgres is a member of iosat" bash -c 'id -Gn postgres | tr " " "\n" | grep -qx iosat'
if [[ $(stat -f -c %T /sys/fs/bpf 2>/dev/null) == bpf_fs ]]; then
	check "pin directory $PIN_DIR made: root:iosat 0750" \
		test "$(stat -c '%U:%G %a' "$PIN_DIR" 2>/dev/null)" = "root:iosat 750"
fi
unit=$(dpkg -L iosatd | grep '/systemd/system/iosatd\.service$')
check "unit installed ($unit)" test -f "$unit"
pid1=$(ps -p 1 -o comm=)
if [[ $pid1 == systemd ]]; then
	check "unit enabled (systemctl)" test "$(systemctl is-enabled iosatd.service)" = enabled
else
	# (deb-systemd-helper answers only inside maintainer scripts)
	check "unit enabled (systemctl --root=/; PID 1 is $pid1)" \
		test "$(systemctl --root=/ is-enabled iosatd.service)" = enabled
	check "unit's wants link" test -L /etc/systemd/system/multi-user.target.wants/iosatd.service
fi

# ---------------------------------------------------------------- iosatd
start_iosatd() {
	local execstart rdir rmode caps setpriv_args=() pidfile stream
	if [[ $pid1 == systemd ]]; then
		check "iosatd active under systemd" systemctl is-active --quiet iosatd.service
		return
	fi
	# what systemd would do for this unit, from the unit itself
	execstart=$(sed -n 's/^ExecStart=[-@:+!]*//p' "$unit")
	rdir=$(sed -n 's/^RuntimeDirectory=//p' "$unit")
	rmode=$(sed -n 's/^RuntimeDirectoryMode=//p' "$unit")
	caps=$(sed -n 's/^CapabilityBoundingSet=//p' "$unit")
	pidfile=$(sed -n 's/.*--pidfile[= ]\([^ ]*\).*/\1/p' <<<"$execstart")
	read -r -a argv <<<"$execstart"
	if [[ -n $rdir && ! -d /run/$rdir ]]; then
		install -d -m "${rmode:-0755}" "/run/$rdir"
		runtime_dir_made=/run/$rdir
	fi
	if [[ -n $caps ]]; then
		setpriv_args=(--bounding-set "-all,$(tr '[:upper:]' '[:lower:]' <<<"$caps" | sed -E 's/cap_/+/g; s/ +/,/g')")
	fi
	grep -q '^NoNewPrivileges=yes' "$unit" && setpriv_args+=(--no-new-privs)
	if ((${#setpriv_args[@]})) && ! setpriv "${setpriv_args[@]}" true 2>/dev/null; then
		echo "setpriv cannot apply ${setpriv_args[*]}: running ExecStart without them"
		setpriv_args=()
	fi
	# systemd gives the service the journal's stream as stdout and stderr
	# and names it in JOURNAL_STREAM (device:inode); here the stream is a file
	touch "$work/iosatd.log"
	stream=$(stat -c %d:%i "$work/iosatd.log")
	((${#setpriv_args[@]})) && argv=(setpriv "${setpriv_args[@]}" "${argv[@]}")
	echo "starting: ${argv[*]}"
	JOURNAL_STREAM=$stream "${argv[@]}" >>"$work/iosatd.log" 2>&1 9>&- &
	iosatd_pid=$!
	local i
	for ((i = 0; i < 150; i++)); do
		[[ -s $pidfile ]] && break
		kill -0 "$iosatd_pid" 2>/dev/null || break
		sleep 0.2
	done
	if [[ -s $pidfile && $(cat "$pidfile") == "$iosatd_pid" ]]; then
		ok "iosatd running (pid $iosatd_pid, pidfile $pidfile, pins in $PIN_DIR)"
	else
		fail "iosatd did not start"
		cat "$work/iosatd.log"
		iosatd_pid=""
	fi
}

# the stop half of `systemctl stop` and `restart`: SIGTERM (KillSignal=)
# and a wait; where systemd runs, systemctl itself
stop_unit() {
	if [[ $pid1 == systemd ]]; then
		systemctl stop iosatd.service
	else
		stop_iosatd
	fi
}
start_unit() {
	if [[ $pid1 == systemd ]]; then
		systemctl start iosatd.service
		check "iosatd active under systemd" systemctl is-active --quiet iosatd.service
	else
		start_iosatd
	fi
}

# wait_bpf_status VERSION WANT: until iosat_status.bpf_status is WANT (30 s);
# sets st and ms (how long it took)
wait_bpf_status() {
	local t0 i
	t0=$(date +%s%N)
	for ((i = 0; i < 150; i++)); do
		st=$(psql_pg "$1" "SELECT bpf_status FROM iosat_status")
		[[ $st == "$2" ]] && break
		sleep 0.2
	done
	ms=$((($(date +%s%N) - t0) / 1000000))
}

# stop and start again as systemctl would, against the cluster of VERSION
lifecycle() {
	local v=$1 ino0 ino1 rc=0 note i n
	say "iosatd: stop, start (as systemctl stop, start; a restart is both)"
	ino0=$(stat -c %i "$PIN_DIR/meta")
	stop_unit || rc=$?
	check "stop: exit status 0 ($rc)" test "$rc" -eq 0
	check "stop: pins left for the next start (meta inode $ino0)" \
		test "$(stat -c %i "$PIN_DIR/meta" 2>/dev/null)" = "$ino0"
	check "stop: pin directory kept, root:iosat 0750" \
		test "$(stat -c '%U:%G %a' "$PIN_DIR" 2>/dev/null)" = "root:iosat 750"
	check "stop: pidfile gone" test ! -e /run/iosatd/iosatd.pid
	wait_bpf_status "$v" missing
	check "stop: bpf_status 'missing' (was '$st' after ${ms} ms)" test "$st" = missing
	note=$(psql_pg "$v" "SELECT bpf_note FROM iosat_status")
	check "stop: bpf_note says why ($note)" grep -q "was stopped; its pins are left for the next start" <<<"$note"
	figures+=("PostgreSQL $v: bpf_status missing ${ms} ms after iosatd's stop")
	for ((i = 0; i < 25; i++)); do
		n=$(psql_pg "$v" "SELECT count(*) FROM iosat_devices WHERE source = 'bpf'")
		((n == 0)) && break
		sleep 0.2
	done
	check "stop: iosat_devices back on /sys ($n on bpf)" test "$n" -eq 0
	start_unit
	wait_bpf_status "$v" ok
	check "start: bpf_status ok again (was '$st' after ${ms} ms)" test "$st" = ok
	figures+=("PostgreSQL $v: bpf_status ok again ${ms} ms after a start that replaced the pins")
	ino1=$(stat -c %i "$PIN_DIR/meta" 2>/dev/null)
	check "start: the pins left were replaced (meta inode $ino0 -> $ino1)" test -n "$ino1" -a "$ino1" != "$ino0"
}

# journal_format: every line iosatd wrote starts with its syslog priority
journal_format() {
	local log=$1 n bad
	n=$(wc -l <"$log")
	bad=$(grep -cv '^<[0-7]>' "$log" || true)
	check "iosatd's log in the journal's format: $n lines, $bad without a <prio> prefix" \
		test "$n" -gt 0 -a "$bad" -eq 0
	check "iosatd's log: <6>maps pinned, <6>...stopping; pins left, <6>replacing the pins" \
		bash -c "grep -q '^<6>maps pinned in $PIN_DIR' '$log' && grep -q '^<6>Terminated: stopping; pins left' '$log' &&
			grep -q '^<6>replacing the pins that iosatd pid [0-9]* left in $PIN_DIR' '$log'"
	sed 's/^/   iosatd: /' "$log"
}

# ---------------------------------------------------------------- clusters
lifecycle_done=""
for d in "${ext_debs[@]}"; do
	pkg=$(dpkg-deb -f "$d" Package)
	v=${pkg#postgresql-}
	v=${v%-iosat}
	say "PostgreSQL $v: throwaway cluster on port $PORT"
	pg_data=$work/pg/data$v
	install -d -o postgres -g postgres -m 700 "$work/pg" "$work/sock"
	as_pg "/usr/lib/postgresql/$v/bin/initdb" -D "$pg_data" -U postgres -A trust -N >"$work/pg/initdb$v.log" 2>&1 ||
		{ cat "$work/pg/initdb$v.log"; exit 1; }
	cat >>"$pg_data/postgresql.conf" <<-EOF
		port = $PORT
		listen_addresses = ''
		unix_socket_directories = '$work/sock'
		shared_preload_libraries = 'iosat'
	EOF
	pg_ctl=/usr/lib/postgresql/$v/bin/pg_ctl
	as_pg "$pg_ctl" -D "$pg_data" -l "$work/pg/server$v.log" -w -t 60 start >/dev/null 9>&- ||
		{ cat "$work/pg/server$v.log"; exit 1; }
	check "CREATE EXTENSION iosat" psql_pg "$v" "CREATE EXTENSION iosat"
	want=$(sed -n "s/^default_version = '\(.*\)'/\1/p" "$repo/iosat.control")
	check "extension version $want (iosat.control's default)" \
		test "$(psql_pg "$v" "SELECT extversion FROM pg_extension WHERE extname = 'iosat'")" = "$want"
	n=$(psql_pg "$v" "SELECT count(*) FROM iosat_devices")
	check "SELECT count(*) FROM iosat_devices: $n" test "$n" -ge 1
	as_pg "/usr/lib/postgresql/$v/bin/psql" -X -h "$work/sock" -p "$PORT" -d postgres \
		-c '\x on' -c 'SELECT * FROM iosat_status'
	st=$(psql_pg "$v" "SELECT bpf_status FROM iosat_status")
	echo "bpf_status before iosatd: $st"

	[[ -n $iosatd_pid || $pid1 == systemd ]] || { say "iosatd"; start_iosatd; }
	wait_bpf_status "$v" ok
	check "iosat_status.bpf_status = ok (was '$st' after ${ms} ms)" test "$st" = ok
	figures+=("PostgreSQL $v: bpf_status ok ${ms} ms after iosatd's pidfile")
	# a disk enters iosatd's map with its first request: give it some
	psql_pg "$v" "CREATE TABLE deb_io AS SELECT g, repeat('x', 200) AS pad FROM generate_series(1, 50000) g"
	for ((i = 0; i < 50; i++)); do
		psql_pg "$v" "CHECKPOINT"
		n=$(psql_pg "$v" "SELECT count(*) FROM iosat_devices WHERE source = 'bpf'")
		((n >= 1)) && break
		sleep 0.3
	done
	check "iosat_devices: $n device(s) with source = bpf" test "$n" -ge 1
	psql_pg "$v" "SELECT device, status, source, r_lat_p99_ms, w_lat_p99_ms, bpf_w_iops FROM iosat_devices" |
		sed 's/^/   /'
	[[ -n $lifecycle_done ]] || { lifecycle "$v"; lifecycle_done=1; }
	stop_cluster fast
done

say "iosat-bpfstat"
check "iosat-bpfstat -s as postgres (group iosat): ok" \
	bash -c 'runuser -u postgres -- iosat-bpfstat -s'

# ---------------------------------------------------------------- stop, purge
say "stop and purge"
if [[ $pid1 != systemd && -n $iosatd_pid ]]; then
	rc=0
	stop_iosatd || rc=$?
	check "iosatd: SIGTERM, exit status 0 ($rc)" test "$rc" -eq 0
	check "iosatd: pins left, marked stopped" bash -c "[[ -e $PIN_DIR/meta ]] && ! iosat-bpfstat -s >/dev/null"
	check "iosatd: pidfile gone" test ! -e /run/iosatd/iosatd.pid
	journal_format "$work/iosatd.log"
fi
apt-get purge -y -qq "${installed_pkgs[@]}" >"$work/purge.log" 2>&1 || { cat "$work/purge.log"; exit 1; }
for p in "${installed_pkgs[@]}"; do
	check "$p purged" test -z "$(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null | grep -v '^[pu]n')"
done
installed_pkgs=()
left=()
for f in "${pkg_files[@]}" "${pkg_new_dirs[@]}"; do
	[[ -e $f || -L $f ]] && left+=("$f")
done
for f in /etc/systemd/system/multi-user.target.wants/iosatd.service \
	/var/lib/systemd/deb-systemd-helper-enabled/iosatd.service.dsh-also \
	/var/lib/systemd/deb-systemd-helper-enabled/multi-user.target.wants/iosatd.service \
	/var/lib/systemd/deb-systemd-helper-masked/iosatd.service \
	"$PIN_DIR" /run/iosatd /usr/share/doc/iosatd; do
	[[ -e $f || -L $f ]] && left+=("$f")
done
check "nothing left of the packages (${#left[@]}: ${left[*]:-none})" test "${#left[@]}" -eq 0
check "group iosat removed" bash -c '! getent group iosat >/dev/null'
check "postgres in no group iosat" bash -c '! id -Gn postgres | tr " " "\n" | grep -qx iosat'
runtime_dir_made=""
restore_backups

say "figures"
printf '%s\n' "${figures[@]}"
if [[ -n ${IOSAT_DEB_FIGURES:-} ]]; then
	printf 'deb.sh: %s\n' "${figures[@]}" >>"$IOSAT_DEB_FIGURES"
fi
if ((failed)); then
	echo "deb.sh: $failed check(s) failed"
	exit 1
fi
echo "deb.sh: all checks passed"
