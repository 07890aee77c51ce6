#!/bin/bash
# test/bpf/reader.t - unit tests of src/bpf/bpf_reader.c (no kernel needed):
# percentiles from log2 histograms and their error bound, deltas, statuses.
set -u
TOP=$(cd "$(dirname "$0")/../.." && pwd)
BIN=$(mktemp /tmp/iosat-reader-unit.XXXXXX)
trap 'rm -f "$BIN"' EXIT
if ! out=$(${CC:-cc} -O2 -Wall -Wextra -I"$TOP/src/bpf" -o "$BIN" \
	"$TOP/test/bpf/reader_unit.c" "$TOP/src/bpf/bpf_reader.c" -lbpf -lm 2>&1); then
	if ! printf '#include <bpf/bpf.h>\n' | ${CC:-cc} -E -x c - >/dev/null 2>&1; then
		echo "1..0 # SKIP libbpf headers not installed (libbpf-dev)"
		exit 0
	fi
	echo "Bail out! cannot build reader_unit.c: $out"
	exit 255
fi
exec "$BIN"
