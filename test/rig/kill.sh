#!/usr/bin/env bash
# test/rig/kill.sh: a run of test/run-tests.sh that is killed (SIGTERM,
# SIGINT, SIGHUP) leaves its lock free and nothing of its own running.
# For each signal: starts run-tests.sh with a lock file of its own
# (IOSAT_TEST_LOCK; the real one is the caller's) and, as IOSAT_RUN_CMD, what
# a suite has running when it is killed: a PostgreSQL server started by
# pg_ctl as postgres (in a session of its own, like PostgreSQL::Test::
# Cluster's), a daemon in a session of its own, and a foreground process
# that would run for ten minutes; once all three are up and the lock is held,
# signals run-tests.sh alone, waits for it to exit (SIGKILL after a minute:
# a failure), then checks that the lock
# can be taken, that none of the three is left and that no process has the
# lock file open.  Before the fix these processes kept fd 9 and the lock was
# held until someone killed them by hand.  As root, a few seconds; the
# argument run-tests.sh passes to every rig test (the root helper) is unused.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
[[ $EUID -eq 0 ]] || { echo "kill.sh: run as root" >&2; exit 2; }
# shellcheck source-path=SCRIPTDIR source=rig.bash
. "$repo/test/rig/rig.bash"

bindir=$(pg_config --bindir)
tmp=$(mktemp -d /tmp/iosat-rig-kill.XXXXXX)
chmod 755 "$tmp"
lock=$tmp/lock
run=""
cleanup() {
	set +e # a kill of what has gone already must not make the exit status 1
	[[ -n $run ]] && kill -KILL "$run" 2>/dev/null
	for p in $(cat "$tmp"/*.pid 2>/dev/null) $(head -n 1 "$tmp/pg/data/postmaster.pid" 2>/dev/null); do
		kill -KILL "$p" 2>/dev/null
	done
	rm -rf "$tmp"
}
trap cleanup EXIT

install -d -o postgres -m 700 "$tmp/pg"
runuser -u postgres -- "$bindir/initdb" -A trust -D "$tmp/pg/data" >/dev/null

# what a suite has running: the server (pg_ctl -w: up when it returns), a
# daemon, then the foreground process; "ready" once all three are there
cmd="runuser -u postgres -- '$bindir/pg_ctl' -w -D '$tmp/pg/data' -l '$tmp/pg/log' \
	-o \"-k '$tmp/pg' -c listen_addresses=''\" start >/dev/null
setsid sleep 600 </dev/null >/dev/null 2>&1 & echo \$! >'$tmp/daemon.pid'
sleep 600 & echo \$! >'$tmp/fg.pid'
touch '$tmp/ready'
wait"

alive() { [[ -n $1 ]] && kill -0 "$1" 2>/dev/null && [[ $(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null) != Z ]]; }
lock_open() { # pids with the lock file open
	{ find /proc/[0-9]*/fd -maxdepth 1 -lname "$lock" 2>/dev/null || true; } | cut -d/ -f3 | sort -u
}

for sig in TERM INT HUP; do
	rm -f "$tmp/ready" "$tmp"/*.pid
	# SIGINT is ignored in background jobs of a script: perl puts it back
	IOSAT_TEST_LOCK=$lock IOSAT_RUN_CMD=$cmd perl -e '$SIG{INT} = "DEFAULT"; exec @ARGV' \
		bash "$repo/test/run-tests.sh" >"$tmp/out" 2>&1 </dev/null &
	run=$!
	wait_for 60 "the suite's processes ($sig)" test -e "$tmp/ready" || break
	pm=$(head -n 1 "$tmp/pg/data/postmaster.pid")
	daemon=$(cat "$tmp/daemon.pid")
	fg=$(cat "$tmp/fg.pid")
	if flock -n "$lock" true; then bad "$sig: the run does not hold its lock"; fi
	kill "-$sig" "$run"
	if ! wait_for 60 "run-tests.sh to exit after SIG$sig" eval '! alive "$run"'; then
		kill -KILL "$run"
	fi
	rc=0
	wait "$run" || rc=$?
	run=""
	echo "# SIG$sig: run-tests.sh exited with $rc"
	if flock -n "$lock" true; then ok "SIG$sig: the lock is free once run-tests.sh has exited"; else
		bad "SIG$sig: the lock is still held (by $(lock_open | tr '\n' ' '))"
	fi
	left=""
	alive "$pm" && left+=" postmaster:$pm"
	alive "$daemon" && left+=" daemon:$daemon"
	alive "$fg" && left+=" sleep:$fg"
	[[ -z $left ]] && ok "SIG$sig: the server, the daemon and the foreground process have gone" ||
		bad "SIG$sig: still running:$left"
	held=$(lock_open)
	[[ -z $held ]] && ok "SIG$sig: no process has the lock file open" || bad "SIG$sig: $(echo $held) have the lock file open"
	# leave nothing for the next round
	for p in $pm $daemon $fg; do kill -KILL "$p" 2>/dev/null || true; done
	wait_for 60 "the server to go" eval '! alive "$pm"' || break
	rm -f "$tmp/pg/data/postmaster.pid"
done
[[ $fail -eq 0 ]] || sed 's/^/# /' "$tmp/out"
exit $fail
