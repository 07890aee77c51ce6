#!/bin/bash
# test/root/fuzz.t - the libFuzzer harnesses of test/fuzz as TAP: builds
# them, replays the committed regressions and fuzzes every parser of kernel
# text for a bounded time (IOSAT_FUZZ_SECONDS in all, default 60), one test
# per harness with its execution count.  The totals go to stderr, so that
# prove shows them in the CI log.  Run by test/run-tests.sh (as root, but
# nothing here needs root); alone: prove test/root/fuzz.t
set -u
repo=$(cd "$(dirname "$0")/../.." && pwd)
secs=${IOSAT_FUZZ_SECONDS:-60}
out=$(mktemp /tmp/iosat-fuzz-t.XXXXXX)
trap 'rm -f "$out"' EXIT

bash "$repo/test/fuzz/run.sh" "$secs" >"$out" 2>&1
rc=$?
if [[ $rc -eq 77 ]]; then
	echo "1..0 # SKIP $(head -n 1 "$out")"
	exit 0
fi

n=$(grep -E '^fuzz [a-z_0-9]+: ' "$out" | grep -cv '^fuzz total: ')
if [[ $n -eq 0 ]]; then
	echo "1..1"
	echo "not ok 1 - fuzz harnesses built and ran (exit $rc)"
	sed 's/^/# /' "$out"
	exit 1
fi
echo "1..$((n + 1))"
i=0
pending=""
while IFS= read -r line; do
	case $line in
		"fuzz total: "*)
			total=$line ;;
		"fuzz "*": ok, "*)
			i=$((i + 1)); echo "ok $i - ${line#fuzz }" ;;
		"fuzz "*": skipped"*)
			i=$((i + 1)); echo "ok $i - ${line#fuzz } # SKIP" ;;
		"fuzz "*": FAILED"*)
			i=$((i + 1)); echo "not ok $i - ${line#fuzz }" ;;
		*)
			echo "# $line" ;;
	esac
done <"$out"
i=$((i + 1))
if [[ $rc -eq 0 && -n ${total:-} ]]; then
	echo "ok $i - ${total#fuzz }"
else
	echo "not ok $i - ${total:-no total line} (exit $rc)"
fi
echo "${total:-fuzz total: missing}" >&2
exit 0
