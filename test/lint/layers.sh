#!/usr/bin/env bash
# The architecture, checked: arrows point down.  Every #include "..." of a
# project header must go to the same folder or to a lower layer, and
# folders of one layer must not include each other (the sampler, the
# profiler and the backends' controls talk only through src/state).
# PostgreSQL version numbers appear in src/compat.h only.
#
#   bash test/lint/layers.sh [SRC_DIR]     check (exit 1 on a violation)
#   bash test/lint/layers.sh --self-test   also prove it catches a planted
#                                          upward include and a stray
#                                          PG_VERSION_NUM
#
# Layers, lowest first (docs/architecture.md explains each):
#   0  base      compat.h clock.h guc.h         used by everything
#   1  collect   collect/                       reads the kernel
#   2  state     state/                         shared memory: the one
#                                               interface between
#                                               writers and readers
#   3  workers   sampler/ profiler/ control/    each its own process kind
#   4  views     views/                         SQL functions
#   5  top       iosat.c guc.c                  _PG_init, parameters
# src/bpf (the BPF program, its ABI header and the map reader) is a
# library of its own, below collect; src/iosatd is a separate program.
set -euo pipefail

layer_of() {
	case $1 in
		compat.h | clock.h | guc.h) echo "0 base" ;;
		bpf/*) echo "0 bpf" ;;
		collect/*) echo "1 collect" ;;
		state/*) echo "2 state" ;;
		sampler/*) echo "3 sampler" ;;
		profiler/*) echo "3 profiler" ;;
		control/*) echo "3 control" ;;
		views/*) echo "4 views" ;;
		iosat.c | guc.c) echo "5 top" ;;
		*) echo "? unknown" ;;
	esac
}

check() {
	local src=$1 bad=0 f rel inc target lf lt nf nt
	while IFS= read -r f; do
		rel=${f#"$src"/}
		[[ $rel == iosatd/* ]] && continue
		read -r lf nf <<<"$(layer_of "$rel")"
		if [[ $lf == "?" ]]; then
			echo "layers: $rel is in no layer (add it to test/lint/layers.sh)"
			bad=1
			continue
		fi
		while IFS= read -r inc; do
			# resolve as the compiler does: beside the file, then -I src, -I src/bpf
			if [[ -e $(dirname "$f")/$inc ]]; then
				target=$(realpath --relative-to="$src" "$(dirname "$f")/$inc")
			elif [[ -e $src/$inc ]]; then
				target=$inc
			elif [[ -e $src/bpf/$inc ]]; then
				target=bpf/$inc
			else
				continue        # PostgreSQL's, the system's, or generated
			fi
			read -r lt nt <<<"$(layer_of "$target")"
			if [[ $lt == "?" ]]; then
				continue
			elif ((lt > lf)); then
				echo "layers: $rel ($nf, layer $lf) includes $target ($nt, layer $lt): an upward include"
				bad=1
			elif ((lt == lf)) && [[ $nt != "$nf" ]]; then
				echo "layers: $rel ($nf) includes $target ($nt): sibling folders talk through state/"
				bad=1
			fi
		done < <(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$f")
		if [[ $rel != compat.h ]] && grep -q 'PG_VERSION_NUM' "$f"; then
			echo "layers: $rel uses PG_VERSION_NUM: version differences belong in src/compat.h"
			bad=1
		fi
	done < <(find "$src" -type f \( -name '*.c' -o -name '*.h' \) ! -name 'vmlinux.h' ! -name '*.skel.h' | sort)
	return $bad
}

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
if [[ ${1:-} == --self-test ]]; then
	check "$repo/src"
	tmp=$(mktemp -d)
	trap 'rm -rf "$tmp"' EXIT
	cp -r "$repo/src" "$tmp/src"
	# a lower layer including a higher one must be caught ...
	sed -i '0,/#include "postgres.h"/s//#include "postgres.h"\n#include "views\/views.h"/' "$tmp/src/state/shmem.c"
	if check "$tmp/src" >/dev/null; then
		echo "layers: self-test: a planted upward include (state -> views) was not caught"
		exit 1
	fi
	cp "$repo/src/state/shmem.c" "$tmp/src/state/shmem.c"
	# ... and a version test outside compat.h
	printf '#if PG_VERSION_NUM >= 170000\n#endif\n' >>"$tmp/src/control/pacing.c"
	if check "$tmp/src" >/dev/null; then
		echo "layers: self-test: PG_VERSION_NUM outside compat.h was not caught"
		exit 1
	fi
	echo "layers: ok (self-test: both planted violations caught)"
else
	check "${1:-$repo/src}"
	echo "layers: ok"
fi
