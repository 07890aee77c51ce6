#!/bin/bash
# test/root/sanitize.t - test/sanitize.sh as TAP: iosat.so and iosatd built
# with AddressSanitizer + UBSan; a self-test that the set-up catches planted
# bugs; pg_regress, the TAP tests that need no root and the BPF suites
# against them; any sanitizer report fails.  One test per part, and one for
# "no reports"; the totals go to stderr so that prove shows them in the CI
# log.  Run by test/run-tests.sh as root (about 3 minutes); alone:
#   prove test/root/sanitize.t
set -u
repo=$(cd "$(dirname "$0")/../.." && pwd)
out=$(mktemp /tmp/iosat-sanitize-t.XXXXXX)
trap 'rm -f "$out"' EXIT

if [[ $EUID -ne 0 ]]; then
	echo "1..0 # SKIP needs root (test/sanitize.sh runs the tests as postgres)"
	exit 0
fi
bash "$repo/test/sanitize.sh" >"$out" 2>&1
rc=$?

parts=$(grep -cE '^sanitize [a-z_-]+: ' "$out")
if [[ $parts -eq 0 ]]; then
	echo "1..1"
	echo "not ok 1 - test/sanitize.sh ran (exit $rc)"
	tail -n 60 "$out" | sed 's/^/# /'
	exit 0
fi
echo "1..$parts"
i=0
while IFS= read -r line; do
	case $line in
		"sanitize total: "*)
			i=$((i + 1))
			total=$line
			if [[ $rc -eq 0 ]]; then echo "ok $i - ${line#sanitize }"; else echo "not ok $i - ${line#sanitize } (exit $rc)"; fi ;;
		"sanitize "*": ok"*)
			i=$((i + 1)); echo "ok $i - ${line#sanitize }" ;;
		"sanitize "*": skipped"*)
			i=$((i + 1)); echo "ok $i - ${line#sanitize } # SKIP" ;;
		"sanitize "*": FAILED"*)
			i=$((i + 1)); echo "not ok $i - ${line#sanitize }" ;;
		*)
			echo "# $line" ;;
	esac
done <"$out"
echo "${total:-sanitize total: missing}" >&2
exit 0
