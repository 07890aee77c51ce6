#!/usr/bin/env bash
# The 30-minute soak: storm cycles, a steady pgbench load and random cancels
# and terminates against iosat's admission control, then checks that slots,
# queue, shared state and memory are unchanged (test/bench/soak.pl).
# Not part of CI. As root:
#
#     bash test/bench/soak.sh [MINUTES]
#
# Results go to test/bench/results/soak-<timestamp>/ (prove's output and a
# summary), with the machine description.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
minutes=${1:-30}
[[ $minutes =~ ^[0-9]+$ ]] || { echo "usage: soak.sh [MINUTES]" >&2; exit 2; }
[[ $EUID -eq 0 ]] || { echo "soak.sh: run as root" >&2; exit 2; }
# shellcheck source=../lib/deps.sh
. "$repo/test/lib/deps.sh"
iosat_install_deps

stamp=$(date -u +%Y%m%d-%H%M%S)
results="$repo/test/bench/results/soak-$stamp"
mkdir -p "$results"
work=$(mktemp -d /tmp/iosat-soak.XXXXXX)
trap 'rm -rf "$work"' EXIT
tar -C "$repo" --exclude=.git --exclude=tmp_check --exclude=results -cf - . | tar -C "$work" -xf -
chown -R postgres:postgres "$work"
chmod 777 "$results"

cd "$work"
make -s && make -s install
{
	echo "date: $(date -u +%FT%TZ)"
	echo "kernel: $(uname -srm)"
	echo "cpus: $(nproc)"
	echo "postgres: $(pg_config --version)"
	echo "git_commit: $(git -C "$repo" rev-parse HEAD)$(git -C "$repo" diff --quiet || echo ' (modified)')"
	echo "load_at_start: $(cut -d' ' -f1-3 /proc/loadavg)"
} >"$results/machine.txt"

pgbin=$(pg_config --bindir)
status=0
runuser -u postgres -- env PATH="$pgbin:$PATH" SOAK_MINUTES="$minutes" SOAK_OUT="$results" \
	PG_REGRESS="$(dirname "$(pg_config --pgxs)")/../../src/test/regress/pg_regress" \
	TESTDIR="$work" \
	prove -I "$(dirname "$(pg_config --pgxs)")/../../src/test/perl" -I test/lib -v test/bench/soak.pl \
	>"$results/prove.log" 2>&1 || status=$?
tail -n 20 "$results/prove.log"
echo "load_at_end: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$results/machine.txt"
echo "soak: results in $results"
exit $status
