#!/usr/bin/env bash
# Runs every iosat test suite.  As root on Debian 12:
#
#     bash test/run-tests.sh
#
# Installs its own dependencies (apt-get), builds and installs the extension
# (and iosatd where the toolchain allows), then, as the postgres OS user
# (initdb refuses root):
#   - pg_regress on a self-contained temp instance (make installcheck), and
#   - the TAP suites under test/t (PostgreSQL::Test::Cluster), which reach
#     the few root-only operations (loop devices, throttles, caches, iosatd,
#     a FUSE-backed volume that stops answering) through one audited helper,
#     test/lib/rootctl (and stallfs, built here next to it), via sudo;
# then the root-side suites (BPF, fuzzing), and last the Debian packages
# (test/packaging/deb.sh: build, lintian, install, a cluster with iosat and
# iosatd run as its unit says, stop and restart, purge).  It removes
# everything it created — the temp build tree, the sudoers drop-in, loop
# devices, mounts, FUSE daemons, cgroups, the packages — on exit, including
# after Ctrl-C.
#
# IOSAT_TAP="test/t/010_sampler_fixture.pl ..." limits the TAP tests run
# ("none": none of them, pg_regress only); IOSAT_ROOT_SUITES="test/root/fuzz.t
# ..." limits the root-side suites ("none": none of them); IOSAT_DEB=0 skips
# the packages' stage (about 3 minutes; 1, the default, runs it);
# IOSAT_KEEP=1 keeps the temporary tree (logs in tmp_check/log) for a look.
# Runs on one machine
# take turns (flock on /run/lock/iosat-test.lock; IOSAT_TEST_LOCK names
# another file): they share the installed iosat.so, the sudoers drop-in and
# the loop devices that cleanup destroys.
#
# The lock must end with the run.  The suites run under test/lib/reaper.pl,
# which adopts whatever they leave (servers started by pg_ctl sit in sessions
# of their own), without the lock's descriptor; when the run ends, also by
# SIGTERM, SIGINT or SIGHUP, the reaper stops all of them before cleanup.
# IOSAT_PG_CONFIG=/path/to/pg_config builds, installs and tests against
# that PostgreSQL instead of the system's 15 (test/pg-matrix.sh uses it for
# 16-19; the root-side suites are then best left out: IOSAT_ROOT_SUITES=none).
# IOSAT_RUN_CMD="shell command" runs that command as root in place of
# everything else (no packages, build or root helper) under the same lock,
# reaper and cleanup: test/rig/kill.sh uses it to check this.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=lib/deps.sh
. "$repo/test/lib/deps.sh"

if [[ $EUID -ne 0 ]]; then
	echo "run-tests.sh: run as root (it installs packages and creates loop devices)" >&2
	exit 2
fi

# one run at a time: a second waits for the first (see above). Only this
# shell holds fd 9: every command that may outlive it runs with 9>&-.
exec 9>"${IOSAT_TEST_LOCK:-/run/lock/iosat-test.lock}"
if ! flock -n 9; then
	echo "run-tests.sh: another run is under way; waiting for it"
	flock 9
fi

helper_dir=/usr/local/libexec/iosat-test
sudoers=/etc/sudoers.d/iosat-test
helper=""
work=""
reaper=""
status=0

# run_reaped CMD...: CMD under test/lib/reaper.pl, in the background so that
# a signal reaches the trap at once (bash runs traps only between commands)
run_reaped() {
	local rc=0
	perl "$repo/test/lib/reaper.pl" "$@" </dev/null 9>&- &
	reaper=$!
	wait "$reaper" || rc=$?
	reaper=""
	return "$rc"
}

cleanup() {
	local rc=$?
	set +e
	# first what the suites left (tests, servers), so that the devices they
	# held are nobody's when destroy-all comes
	if [[ -n $reaper ]]; then
		kill -TERM "$reaper" 2>/dev/null
		wait "$reaper" 2>/dev/null
	fi
	if [[ -n $helper ]]; then
		[[ -x $helper_dir/rootctl ]] && "$helper_dir/rootctl" destroy-all >/dev/null 2>&1 9>&-
		rm -f "$sudoers"
		rm -rf "$helper_dir"
	fi
	if [[ -n $work && -n ${IOSAT_KEEP:-} ]]; then
		echo "run-tests.sh: kept $work (IOSAT_KEEP)"
	elif [[ -n $work ]]; then
		rm -rf "$work"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

if [[ -n ${IOSAT_PG_CONFIG:-} ]]; then
	[[ -x $IOSAT_PG_CONFIG ]] || { echo "run-tests.sh: IOSAT_PG_CONFIG=$IOSAT_PG_CONFIG is not an executable" >&2; exit 2; }
	export PG_CONFIG=$IOSAT_PG_CONFIG
	echo "run-tests.sh: testing against $("$PG_CONFIG" --version) ($PG_CONFIG)"
fi

if [[ -n ${IOSAT_RUN_CMD:-} ]]; then
	run_reaped bash -c "$IOSAT_RUN_CMD" || status=$?
	exit "$status"
fi

iosat_install_deps 9>&-

# a private, postgres-owned copy of the working tree: tests write results there
work=$(mktemp -d /tmp/iosat-test.XXXXXX)
chmod 755 "$work"
tar -C "$repo" --exclude=.git --exclude=tmp_check --exclude=tmp_regress \
	--exclude=results --exclude='test/bench/work' -cf - . | tar -C "$work" -xf -
chown -R postgres:postgres "$work"

# the root helper, root-owned, and exactly it allowed through sudo
helper=1
install -d -m 755 "$helper_dir"
install -m 755 "$repo/test/lib/rootctl" "$repo/test/lib/device.sh" "$helper_dir/"
# the FUSE daemon behind rootctl's fuse devices, root-owned beside it
# shellcheck disable=SC2046 # pkg-config's flags are words
cc -O2 -Wall -Wextra -o "$helper_dir/stallfs" "$repo/test/lib/stallfs.c" $(pkg-config --cflags --libs fuse3)
echo "postgres ALL=(root) NOPASSWD: $helper_dir/rootctl" >"$sudoers.tmp"
chmod 440 "$sudoers.tmp"
visudo -cqf "$sudoers.tmp"
mv "$sudoers.tmp" "$sudoers"
export IOSAT_ROOTCTL="sudo -n $helper_dir/rootctl"

cd "$work"
echo "== layers (test/lint/layers.sh)"
run_reaped bash test/lint/layers.sh --self-test || status=1
echo "== the rig (test/rig)"
for t in test/rig/*.sh; do
	run_reaped bash "$t" "$helper_dir/rootctl" || status=1
done
run_reaped make -s 2>&1
run_reaped make -s install

# figures: a line "<what> total: ..." that a suite prints on stderr (inputs
# tried, executions, faults survived, ...) is repeated at the end of the run
figures=$work/figures.txt
: >"$figures"

echo "== pg_regress and TAP (as postgres)"
# The servers get the soft open-file limit raised to the hard one, inside
# runuser: runuser itself sets the soft limit to 1024 whatever its caller's
# (strace: prlimit64(0, RLIMIT_NOFILE, {rlim_cur=1024, rlim_max=20000}) from
# runuser, before pam_limits), so raising it before runuser changes nothing.
# PostgreSQL 18 with io_method = io_uring opens a ring per process slot in
# the postmaster and, as of 18.6, opens them again at each crash restart
# without closing the old ones (method_io_uring.c, pgaio_uring_shmem_init):
# with max_connections = 240 that is 282 more descriptors a restart, and
# 080's third crash restart failed at 1024 ("could not setup io_uring
# queue: Too many open files").  (The rings' memory leaks too, against
# RLIMIT_MEMLOCK, which cannot be raised here: 080 restarts the server
# before its third crash under io_uring.)
# (stderr goes through tee into installcheck.err; stdout stays as it is)
# shellcheck disable=SC2016 # expanded by the inner bash
run_reaped bash -c 'set -o pipefail; { runuser -u postgres -- sh -c '"'"'ulimit -Sn "$(ulimit -Hn)" && exec "$@"'"'"' raise-nofile env IOSAT_ROOTCTL="$IOSAT_ROOTCTL" PATH="$PATH" ${PG_CONFIG:+PG_CONFIG="$PG_CONFIG"} ${TEMP_CONFIG:+TEMP_CONFIG="$TEMP_CONFIG"} \
	make installcheck ${IOSAT_TAP:+IOSAT_TAP="$IOSAT_TAP"} 2>&1 1>&3 3>&- |
	tee "$1" >&2; } 3>&1' installcheck "$work/installcheck.err" || status=1
grep -E '^(# )?[A-Za-z0-9_ .-]+ total: ' "$work/installcheck.err" | sed 's/^# //' >>"$figures" || true
if [[ $status -ne 0 ]]; then
	for f in regression.diffs tmp_check/log/regress_log_*; do
		[[ -f $f ]] && { echo "---- $f"; tail -n 80 "$f"; }
	done
fi

# root-side suites: each is an executable printing TAP (test/bpf: iosatd and
# its maps, the BPF reader)
root_suites=${IOSAT_ROOT_SUITES:-$(echo test/root/*.t test/bpf/*.t)}
[[ $root_suites == none ]] && root_suites=""
for t in $root_suites; do
	[[ -e $t ]] || continue
	echo "== $t (as root)"
	run_reaped prove --timer "$t" 2>"$work/suite.err" || status=1
	cat "$work/suite.err" >&2
	grep -E '^(# )?[A-Za-z0-9_ .-]+ total: ' "$work/suite.err" | sed 's/^# //' >>"$figures" || true
done

# the Debian packages, last: installing postgresql-NN-iosat replaces the
# iosat.so that `make install` put in place (deb.sh puts it back after the
# purge). deb.sh works on a copy of the checkout (git's files), and under
# this run's lock (IOSAT_TEST_LOCK_HELD: it must not wait for it).
case ${IOSAT_DEB:-1} in
	0) echo "== test/packaging/deb.sh: skipped (IOSAT_DEB=0)" ;;
	1)
		echo "== test/packaging/deb.sh (as root)"
		t0=$SECONDS
		IOSAT_TEST_LOCK_HELD=1 IOSAT_DEB_FIGURES=$figures run_reaped bash "$repo/test/packaging/deb.sh" || status=1
		echo "deb.sh: the stage took $((SECONDS - t0)) s" >>"$figures"
		;;
	*)
		echo "run-tests.sh: IOSAT_DEB must be 0 or 1, not '$IOSAT_DEB'" >&2
		status=1
		;;
esac

if [[ -s $figures ]]; then
	echo "== figures"
	cat "$figures"
fi

exit $status
