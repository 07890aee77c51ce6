#!/usr/bin/env bash
# test/rig/holders.sh [ROOTCTL]: `rootctl destroy-all` leaves the devices of
# live runs, whoever asked for them and however.  A TAP test asks through
# IosatTest.pm's rootctl(): perl runs `sudo -n rootctl ARGS 2>&1` through
# sh -c, so rootctl's caller is a short-lived shell, and the holder to record
# is the test's process group -- also when that group's leader (whatever
# started the run) has already exited.  For both cases this creates a small
# loop device that way, from a process group of its own, then checks, from
# another process group (this script's):
#   - the recorded holder is the creator's process group;
#   - destroy-all, while the group lives, skips the device and leaves it
#     mounted (it used to take it when the leader had exited: a live test's
#     server crashed);
#   - once every process of the group has gone, destroy-all removes it.
# As root, a few seconds.  ROOTCTL: the root helper (default test/lib/rootctl;
# test/run-tests.sh passes the one it installs); the creator runs as
# postgres where sudoers lets postgres run it, as root otherwise.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
R=${1:-$repo/test/lib/rootctl}
N=rig-holders
[[ $EUID -eq 0 ]] || { echo "holders.sh: run as root" >&2; exit 2; }
# shellcheck source-path=SCRIPTDIR source=rig.bash
. "$repo/test/rig/rig.bash"

tmp=$(mktemp -d /tmp/iosat-rig-holders.XXXXXX)
group=""
cleanup() {
	set +e # a kill of what has gone already must not make the exit status 1
	[[ -n $group ]] && kill -KILL -- "-$group" 2>/dev/null
	"$R" destroy "$N" >/dev/null 2>&1 || true
	rm -rf "$tmp"
}
trap cleanup EXIT

user=root
runuser -u postgres -- sudo -n -l "$R" >/dev/null 2>&1 && user=postgres
echo "# creator runs as $user through sudo -n $R"
chown "$user" "$tmp"

gone() { ! pgrep -g "$1" >/dev/null; }

# create CASE: the device, asked for as IosatTest.pm's rootctl() asks, by a
# perl in a new process group; CASE "leader-alive": the group's leader waits
# for it; "leader-gone": the leader exits at once, the group lives on, and
# perl asks once the leader has gone
create() {
	local tail='; wait' ready=$tmp/ready
	[[ $1 == leader-gone ]] && tail=' & exit 0'
	rm -f "$ready"
	# shellcheck disable=SC2016 # perl's
	(setsid bash -c "runuser -u $user -- env IOSAT_ROOTCTL='sudo -n $R' READY=$ready LEADER=$1 perl -e '
		if (\$ENV{LEADER} eq q{leader-gone}) {
			for (1 .. 300) { last unless -d q{/proc/} . getpgrp(); select(undef, undef, undef, 0.1) }
		}
		my \$cmd = join(q{ }, \$ENV{IOSAT_ROOTCTL}, map { quotemeta } @ARGV);
		my \$out = \`\$cmd 2>&1\`;
		print STDERR \$out if \$?;
		open(my \$f, q{>}, \$ENV{READY} . q{.tmp}) or die;
		print \$f getpgrp(), q{ }, \$? ? q{failed} : q{created}, qq{\\n};
		close \$f;
		rename(\$ENV{READY} . q{.tmp}, \$ENV{READY});
		sleep 600;' loop-create $N 16 $tail" </dev/null &)
	wait_for 30 "the creator of $N ($1)" test -s "$ready" || return 1
	read -r group result <"$ready"
	[[ $result == created ]] || { bad "$1: loop-create $N failed"; return 1; }
	if [[ $1 == leader-gone && -d /proc/$group ]]; then
		bad "$1: the leader of group $group has not exited"
		return 1
	fi
	return 0
}

check() { # CASE
	local h out
	"$R" destroy "$N" >/dev/null 2>&1 || true
	create "$1" || return 0
	h=$("$R" info "$N" | sed -n 's/^holder=//p')
	[[ ${h%%:*} == "$group" ]] && ok "$1: holder is the creator's process group ($h)" ||
		bad "$1: holder $h, the creator's process group is $group"
	out=$("$R" destroy-all 2>/dev/null)
	if grep -qx "skipped=$N" <<<"$out" && mountpoint -q "/run/iosat-test/$N/mnt"; then
		ok "$1: destroy-all from another group leaves the device of a live group"
	else
		bad "$1: destroy-all took the device of live group $group"
		return 0
	fi
	kill -KILL -- "-$group" 2>/dev/null || true
	wait_for 30 "group $group to end" gone "$group" || return 0
	group=""
	out=$("$R" destroy-all 2>/dev/null)
	if grep -qx "destroyed=$N" <<<"$out" && [[ ! -e /run/iosat-test/$N ]]; then
		ok "$1: destroy-all removes it once the group has gone"
	else
		bad "$1: destroy-all left the device of a group that has gone"
	fi
}

check leader-alive
check leader-gone
exit $fail
