#!/usr/bin/env bash
# Compile every iosat source against the headers of a PostgreSQL source
# tree that has been configured and has its generated headers, without
# building PostgreSQL: a quick check of src/compat.h's guards for a version
# this machine has no packages of (16, say).  The flags are
# test/pg-matrix.sh's compat flags: a function the version lacks, a hook of
# the wrong type or an int/pointer mix-up is an error.
#
#   cd /path/to/postgresql-16.2 && ./configure --without-icu \
#       --without-readline --without-zlib && make -C src/backend generated-headers
#   bash test/matrix/compile-against.sh /path/to/postgresql-16.2
#
# Prints one line per failing file and "compile-against: N files, M failed".
set -uo pipefail
pgsrc=${1:?usage: compile-against.sh PG_SOURCE_DIR}
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
[[ -e $pgsrc/src/include/pg_config.h ]] || {
	echo "compile-against: $pgsrc is not configured (no src/include/pg_config.h)" >&2
	exit 2
}
version=$(sed -n 's/^#define PG_VERSION_NUM \([0-9]*\)/\1/p' "$pgsrc/src/include/pg_config.h")
n=0 failed=0
for f in "$repo"/src/*.c "$repo"/src/*/*.c; do
	case $f in */src/bpf/* | */src/iosatd/*) continue ;; esac
	n=$((n + 1))
	if ! err=$(${CC:-gcc} -std=gnu99 -fsyntax-only -Wall -Wno-unused \
		-Werror=implicit-function-declaration -Werror=incompatible-pointer-types \
		-Werror=int-conversion -DIOSAT_NO_LIBBPF \
		-I"$pgsrc/src/include" -I"$repo/src" -I"$repo/src/bpf" "$f" 2>&1); then
		failed=$((failed + 1))
		echo "FAILED ${f#"$repo"/}: $(grep -m1 'error' <<<"$err")"
	fi
done
echo "compile-against: PostgreSQL $version, $n files, $failed failed"
[[ $failed -eq 0 ]]
