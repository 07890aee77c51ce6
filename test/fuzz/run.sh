#!/usr/bin/env bash
# test/fuzz/run.sh [SECONDS] - build the libFuzzer harnesses and run each for
# a bounded time.
#
#   bash test/fuzz/run.sh          # 60 s of fuzzing in all, split over the harnesses
#   bash test/fuzz/run.sh 600      # a longer session
#   IOSAT_FUZZ_TARGETS="psi diskstat" bash test/fuzz/run.sh 30
#
# Harnesses (one binary each, the parser chosen by IOSAT_FUZZ_TARGET):
#   kparse_fuzz.c  every parser of kernel text in src/collect/kparse.c, plus
#                  kcounter_delta ("counter")
#   hist_fuzz.c    iosat_hist_quantile/_sub/_mean of src/bpf/bpf_reader.c
#                  (needs libbpf's headers; skipped, and said so, without)
# built with clang -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all.
#
# For each harness: first the committed regressions (test/fuzz/regressions/
# <harness>/*, inputs that once crashed) are replayed, then libFuzzer runs
# for its share of SECONDS (the whole run, builds included, stays within
# SECONDS unless that leaves under 2 s per harness) from the committed seed corpus
# (test/fuzz/corpus/<harness>/, read-only: new inputs go to a scratch
# directory).  A crash, a broken invariant, a hang (> 10 s on one input) or
# more than 2 GB of memory fails the run (exit 1); the input is saved under
# $IOSAT_FUZZ_CRASHES (default test/fuzz/crashes/) and printed in base64.
# To make it a regression: fix the parser, then
#   cp test/fuzz/crashes/<harness>-crash-* test/fuzz/regressions/<harness>/<name>
#
# Output, one line per harness and a total (test/root/fuzz.t parses them):
#   fuzz <harness>: ok, <N> executions, <M> new inputs, <S> seeds, <R> regressions, <T> s
#   fuzz <harness>: FAILED (<why>) after <N> executions; input saved to <path>
#   fuzz total: <H> harnesses, <N> executions (inputs tried), <R> regressions replayed, <C> failed, <T> s
# Exit: 0 all ok, 1 a harness failed, 77 no clang with libFuzzer here.
#
# IOSAT_FUZZ_BUILD=<dir> builds there and keeps it (default: a temporary
# directory, removed); IOSAT_FUZZ_KEEP_CORPUS=<dir> keeps the inputs found.
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
total_s=${1:-60}
if ! [[ $total_s =~ ^[0-9]+$ ]] || [[ $total_s -lt 1 ]]; then
	echo "usage: $0 [SECONDS]" >&2
	exit 2
fi

CLANG=${CLANG:-$(command -v clang || command -v clang-14 || true)}
if [[ -z $CLANG ]]; then
	echo "fuzz: skipped: clang not found (apt-get install clang libclang-rt-14-dev)"
	exit 77
fi

tstart=$SECONDS
build=${IOSAT_FUZZ_BUILD:-}
scratch=$(mktemp -d /tmp/iosat-fuzz.XXXXXX)
trap 'rm -rf "$scratch"' EXIT
[[ -n $build ]] || build=$scratch/bin
mkdir -p "$build"
crashes=${IOSAT_FUZZ_CRASHES:-$here/crashes}

FLAGS=(-g -O1 -fno-omit-frame-pointer -fsanitize=fuzzer,address,undefined
	-fno-sanitize-recover=all -Wall -Wextra)
# the sanitizers' own exit codes and options: abort on the first report
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

if ! nice "$CLANG" "${FLAGS[@]}" -I"$repo/src/collect" -o "$build/kparse_fuzz" \
	"$here/kparse_fuzz.c" "$repo/src/collect/kparse.c" -lm 2>"$scratch/cc.log"; then
	if ! echo 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n){return 0;}' |
		"$CLANG" -fsanitize=fuzzer -x c -o "$scratch/probe" - 2>/dev/null; then
		echo "fuzz: skipped: $CLANG cannot link libFuzzer (apt-get install libclang-rt-14-dev)"
		exit 77
	fi
	echo "fuzz: cannot build kparse_fuzz:"
	cat "$scratch/cc.log"
	exit 1
fi
have_hist=1
if ! nice "$CLANG" "${FLAGS[@]}" -I"$repo/src/bpf" -o "$build/hist_fuzz" \
	"$here/hist_fuzz.c" "$repo/src/bpf/bpf_reader.c" -lbpf -lm 2>"$scratch/cc.log"; then
	if printf '#include <bpf/bpf.h>\n' | "$CLANG" -E -x c - >/dev/null 2>&1; then
		echo "fuzz: cannot build hist_fuzz:"
		cat "$scratch/cc.log"
		exit 1
	fi
	have_hist=0
	echo "fuzz hist: skipped (libbpf headers not installed)"
fi

kparse_targets=$(IOSAT_FUZZ_TARGET=list "$build/kparse_fuzz" 2>/dev/null)
all_targets="$kparse_targets"
[[ $have_hist -eq 1 ]] && all_targets="$all_targets hist"
targets=${IOSAT_FUZZ_TARGETS:-$all_targets}
ntargets=$(wc -w <<<"$targets")
# the budget covers the whole run, builds included: each harness gets an
# equal share of what is left, less ~1 s of libFuzzer start-up (at least 1 s)
deadline=$((tstart + total_s))
left=$ntargets

binary_of() {
	if [[ $1 == hist ]]; then echo "$build/hist_fuzz"; else echo "$build/kparse_fuzz"; fi
}

sum_exec=0
sum_reg=0
failed=0
for t in $targets; do
	bin=$(binary_of "$t")
	per=$(((deadline - SECONDS) / left - 1))
	[[ $per -ge 1 ]] || per=1
	left=$((left - 1))
	if [[ $t == hist && $have_hist -eq 0 ]]; then
		continue
	fi
	if [[ $t != hist ]] && ! grep -qx "$t" <<<"$kparse_targets"; then
		echo "fuzz $t: FAILED (no such harness; known: $all_targets) after 0 executions; input saved to -"
		failed=$((failed + 1))
		continue
	fi
	seeds=$here/corpus/$t
	mkdir -p "$scratch/corpus-$t" "$crashes"
	nseeds=$(find "$seeds" -type f 2>/dev/null | wc -l)
	log=$scratch/$t.log

	# 1. regressions: every input that once crashed must pass now
	nreg=0
	regs=()
	if [[ -d $here/regressions/$t ]]; then
		while IFS= read -r -d '' f; do regs+=("$f"); done < \
			<(find "$here/regressions/$t" -type f -print0 | sort -z)
	fi
	nreg=${#regs[@]}
	if [[ $nreg -gt 0 ]]; then
		if ! IOSAT_FUZZ_TARGET=$t timeout 120 "$bin" -timeout=10 "${regs[@]}" >"$log" 2>&1; then
			bad=$(grep -o "Running: .*" "$log" | tail -n 1 | sed 's/Running: //')
			echo "fuzz $t: FAILED (regression ${bad:-?}) after $nreg executions; input saved to ${bad:-?}"
			grep -E "invariant failed|ERROR:|runtime error|SUMMARY" "$log" | head -n 5 | sed 's/^/    /'
			failed=$((failed + 1))
			continue
		fi
	fi
	sum_reg=$((sum_reg + nreg))

	# 2. fuzz from the seeds for this harness's share of the time left
	start=$SECONDS
	IOSAT_FUZZ_TARGET=$t timeout $((per + 120)) nice -n 10 "$bin" \
		-max_total_time="$per" -print_final_stats=1 -timeout=10 -rss_limit_mb=2048 \
		-max_len=8192 -dict="$here/kparse.dict" \
		-artifact_prefix="$crashes/$t-" \
		"$scratch/corpus-$t" "$seeds" >"$log" 2>&1
	rc=$?
	took=$((SECONDS - start))
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
	[[ -n $execs ]] || execs=$(sed -n 's/^Done \([0-9]*\) runs.*/\1/p' "$log" | tail -n 1)
	[[ -n $execs ]] || execs=0
	new=$(sed -n 's/^stat::new_units_added: *//p' "$log" | tail -n 1)
	sum_exec=$((sum_exec + execs + nreg))
	if [[ $rc -ne 0 ]]; then
		art=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -n 1)
		why=$(grep -oE "invariant failed[^:]*: .*|ERROR: [A-Za-z]+: [a-z-]+|runtime error: .*|libFuzzer: [a-z -]+" "$log" | head -n 1)
		echo "fuzz $t: FAILED (${why:-exit $rc}) after $execs executions; input saved to ${art:-?}"
		grep -E "invariant failed|ERROR:|runtime error|SUMMARY|^    #[0-9] " "$log" | head -n 12 | sed 's/^/    /'
		if [[ -n $art && -f $art ]]; then
			echo "    input (base64): $(base64 -w0 <"$art" | head -c 4000)"
		fi
		failed=$((failed + 1))
		continue
	fi
	if [[ -n ${IOSAT_FUZZ_KEEP_CORPUS:-} ]]; then
		mkdir -p "$IOSAT_FUZZ_KEEP_CORPUS/$t"
		cp -n "$scratch/corpus-$t"/* "$IOSAT_FUZZ_KEEP_CORPUS/$t/" 2>/dev/null
	fi
	echo "fuzz $t: ok, $execs executions, ${new:-0} new inputs, $nseeds seeds, $nreg regressions, $took s"
done

echo "fuzz total: $ntargets harnesses, $sum_exec executions (inputs tried), $sum_reg regressions replayed, $failed failed, $((SECONDS - tstart)) s"
[[ $failed -eq 0 ]]
