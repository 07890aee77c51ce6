# shellcheck shell=bash
# Sourced by the rig's checks (test/rig/*.sh): TAP-ish lines and waiting for
# a state.  ok/bad print "ok - ..." / "not ok - ..."; bad sets fail=1.
# shellcheck disable=SC2034 # read by the scripts that source this
fail=0
ok() { echo "ok - $*"; }
bad() { echo "not ok - $*"; fail=1; }

# wait_for SECONDS WHAT CONDITION...: poll the condition (a state) every
# 0.1 s; "not ok" naming WHAT and status 1 if it does not hold in time
wait_for() {
	local n=$(($1 * 10)) what=$2 i
	shift 2
	for ((i = 0; i < n; i++)); do
		"$@" && return 0
		sleep 0.1
	done
	bad "timed out waiting for $what"
	return 1
}
