#!/usr/bin/env bash
# test/sanitize.sh - iosat's tests against AddressSanitizer + UBSan builds of
# the extension and of iosatd.  As root on Debian 12:
#
#     bash test/sanitize.sh
#
# 1. copies the source tree and the PostgreSQL installation (bin, lib, share;
#    it is relocatable) into a private directory, and builds iosat there
#    with `make SANITIZE=1` (test/sanitize.mk: -fsanitize=address,undefined
#    -fno-sanitize-recover=all), installed into the private copy only: the
#    system's PostgreSQL and iosat are not touched;
# 2. puts a wrapper in place of the private `postgres` binary that preloads
#    the ASan runtime (postgres is not instrumented; iosat.so is) with
#    detect_leaks=0 (postgres does not free at exit, by design), so that
#    only server processes run with it;
# 3. runs, as the postgres OS user, pg_regress and the TAP tests that need no
#    root (IOSAT_SANITIZE_TAP; with IOSAT_ROOTCTL set, as test/run-tests.sh
#    sets it, any TAP test may be named), with jit off;
# 4. as root, the BPF suites (test/bpf/reader.t with the reader compiled with
#    the sanitizers; test/bpf/iosatd.t with the sanitized iosatd, with leak
#    detection on), where the kernel and toolchain allow;
# 5. collects every sanitizer report (from the server logs, which the
#    reports go to; from files of their own for iosatd) and fails on any.
#
# Output ends with one line per part and a summary:
#   sanitize pg_regress: ok|FAILED ...
#   sanitize tap: ok|FAILED ...
#   sanitize bpf: ok|FAILED|skipped ...
#   sanitize total: <N> sanitizer reports, <P> parts failed, <T> s
# Exit 0 when every part passed and no report was found.
#
# IOSAT_SANITIZE_TAP="test/t/010_sampler_fixture.pl ..." picks the TAP tests
# (default: the ones that need no root), "none" skips them;
# IOSAT_SANITIZE_BPF=0 skips step 4; IOSAT_KEEP=1 keeps the private tree.
set -uo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
t0=$SECONDS

if [[ $EUID -ne 0 ]]; then
	echo "sanitize.sh: run as root (the tests run as the postgres user)" >&2
	exit 2
fi
# shellcheck source=lib/deps.sh
. "$repo/test/lib/deps.sh"
iosat_install_deps

default_tap="test/t/001_preload.pl test/t/010_sampler_fixture.pl
	test/t/030_backends_kernel.pl test/t/032_procfs_fixture.pl
	test/t/040_admission.pl test/t/041_admission_chaos.pl"
tap=${IOSAT_SANITIZE_TAP:-$default_tap}
[[ $tap == none ]] && tap=""

libasan=$(gcc -print-file-name=libasan.so)
if [[ ! -e $libasan ]]; then
	echo "sanitize.sh: no ASan runtime ($libasan); install gcc's libasan" >&2
	exit 2
fi
libasan=$(readlink -f "$libasan")

work=$(mktemp -d /tmp/iosat-sanitize.XXXXXX)
chmod 755 "$work"
cleanup() {
	local rc=$?
	if [[ -n ${IOSAT_KEEP:-} ]]; then
		echo "sanitize.sh: kept $work (IOSAT_KEEP)"
	else
		rm -rf "$work"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

tree=$work/tree
pg=$work/pg
san=$work/reports
mkdir -p "$tree" "$san"
chmod 1777 "$san"

# 1. private copies of the sources and of PostgreSQL, sanitized build
tar -C "$repo" --exclude=.git --exclude=tmp_check --exclude=tmp_regress \
	--exclude=results --exclude='test/bench/work' --exclude='test/fuzz/crashes' \
	-cf - . | tar -C "$tree" -xf -
pgbin=$(pg_config --bindir)			# /usr/lib/postgresql/15/bin
pghome=$(dirname "$pgbin")			# /usr/lib/postgresql/15
pgshare=$(pg_config --sharedir)		# /usr/share/postgresql/15
mkdir -p "$pg$(dirname "$pghome")" "$pg$(dirname "$pgshare")"
cp -a "$pghome" "$pg$pghome"
cp -a "$pgshare" "$pg$pgshare"
privbin=$pg$pgbin
if [[ $("$privbin/pg_config" --pkglibdir) != "$pg"* ]]; then
	echo "sanitize.sh: the copy of PostgreSQL in $pg is not relocatable" >&2
	exit 1
fi

echo "== build with SANITIZE=1"
cd "$tree"
make -s clean >/dev/null 2>&1
if ! nice make -s -j2 SANITIZE=1 >"$work/build.log" 2>&1 ||
	! make -s SANITIZE=1 install DESTDIR="$pg" >>"$work/build.log" 2>&1; then
	cat "$work/build.log"
	echo "sanitize total: build failed"
	exit 1
fi
grep -iE 'warning|error' "$work/build.log" | head -n 20
readelf -d "$pg$(pg_config --pkglibdir)/iosat.so" | grep -q 'libasan' || {
	echo "sanitize total: iosat.so is not linked with ASan"
	exit 1
}

# 2. the server runs with the ASan runtime preloaded; reports go to $san.
# Preloaded into an executable that is not instrumented, ASan initialises
# lazily, at the first call it intercepts.  If that call comes from a
# library constructor inside glibc's locale code (libgpg-error's
# bindtextdomain, p11-kit's newlocale: postgres loads both), ASan's
# initialisation calls dlerror(), which takes the locale locks that thread
# already holds, and the process hangs later in setlocale() or
# bindtextdomain().  A shim preloaded after ASan initialises it on entry to
# those functions, before glibc takes its locks.
cat >"$work/asan_early.c" <<'SHIM'
#define _GNU_SOURCE
#include <dlfcn.h>
#include <libintl.h>
#include <locale.h>
extern void __asan_init(void);
#define FORWARD(ret, name, params, args) \
ret name params \
{ \
	static ret (*real) params; \
	__asan_init(); \
	if (real == NULL) \
		real = (ret (*) params) dlsym(RTLD_NEXT, #name); \
	return real args; \
}
FORWARD(locale_t, newlocale, (int m, const char *l, locale_t b), (m, l, b))
FORWARD(char *, setlocale, (int c, const char *l), (c, l))
FORWARD(char *, bindtextdomain, (const char *d, const char *dir), (d, dir))
FORWARD(char *, bind_textdomain_codeset, (const char *d, const char *c), (d, c))
FORWARD(char *, textdomain, (const char *d), (d))
SHIM
gcc -shared -fPIC -O2 -Wall -o "$work/asan_early.so" "$work/asan_early.c" -ldl || exit 1
mv "$privbin/postgres" "$privbin/postgres.bin"
cat >"$privbin/postgres" <<EOF
#!/bin/sh
# test/sanitize.sh: the ASan runtime must come first in a process whose
# executable is not instrumented (iosat.so is); asan_early.so: see there
LD_PRELOAD="$libasan:$work/asan_early.so\${LD_PRELOAD:+:\$LD_PRELOAD}"
# reports go to stderr, i.e. the server log (a log_path is not honoured
# once iosat.so brings in the UBSan runtime next to the preloaded ASan)
ASAN_OPTIONS="detect_leaks=0:\${ASAN_OPTIONS_EXTRA:-}"
UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
export LD_PRELOAD ASAN_OPTIONS UBSAN_OPTIONS
exec "\$(dirname "\$0")/postgres.bin" "\$@"
EOF
chmod 755 "$privbin/postgres"
# pg_regress removes its instance, logs included, when the tests pass:
# its server logs through the collector into a directory of ours
mkdir -p "$work/regress-log"
chown postgres:postgres "$work/regress-log"
cat >>"$tree/test/regress.conf" <<EOF
jit = off
logging_collector = on
log_directory = '$work/regress-log'
EOF
chown -R postgres:postgres "$tree"
timeout 30 "$privbin/postgres" -V >/dev/null || { echo "sanitize total: the wrapped postgres does not start"; exit 1; }

failed=0
declare -a summary=()
as_pg() {
	runuser -u postgres -- env PATH="$PATH" PGOPTIONS="-c jit=off" \
		${IOSAT_ROOTCTL:+IOSAT_ROOTCTL="$IOSAT_ROOTCTL"} "$@"
}

# self-test: the set-up catches a deliberate stack overflow and a signed
# overflow in a probe library built like iosat.so, loaded next to it
echo "== self-test (a probe with deliberate bugs)"
cat >"$work/probe.c" <<'PROBE'
#include "postgres.h"
#include "fmgr.h"
PG_MODULE_MAGIC;
PG_FUNCTION_INFO_V1(san_probe_stack);
PG_FUNCTION_INFO_V1(san_probe_overflow);
Datum
san_probe_stack(PG_FUNCTION_ARGS)
{
	volatile char buf[8];
	volatile char *p = buf;		/* through a pointer: for ASan, not UBSan */

	p[8 + PG_GETARG_INT32(0)] = 1;
	PG_RETURN_INT32(buf[0]);
}
Datum
san_probe_overflow(PG_FUNCTION_ARGS)
{
	volatile int32 big = PG_INT32_MAX;

	PG_RETURN_INT32(big + PG_GETARG_INT32(0));
}
PROBE
probe_ok=0
if gcc -fPIC -shared -fsanitize=address,undefined -fno-sanitize-recover=all -g \
	-I"$(pg_config --includedir-server)" -o "$pg$(pg_config --pkglibdir)/san_probe.so" \
	"$work/probe.c" 2>"$work/probe.log"; then
	pd=$work/probe
	mkdir -p "$pd"
	chown postgres:postgres "$pd"
	if as_pg "$privbin/initdb" -D "$pd/data" >"$pd/initdb.log" 2>&1; then
		cat >>"$pd/data/postgresql.conf" <<EOF
shared_preload_libraries = 'iosat'
listen_addresses = ''
unix_socket_directories = '$pd'
port = 54329
EOF
		if as_pg "$privbin/pg_ctl" -D "$pd/data" -l "$pd/server.log" -w -t 60 start >/dev/null; then
			for f in stack overflow; do
				as_pg "$privbin/psql" -X -h "$pd" -p 54329 -d postgres -c \
					"CREATE FUNCTION san_probe_$f(int) RETURNS int AS 'san_probe' LANGUAGE C STRICT" \
					-c "SELECT san_probe_$f(1)" >>"$pd/psql.log" 2>&1
				sleep 2
			done
			as_pg "$privbin/pg_ctl" -D "$pd/data" -m immediate stop >/dev/null 2>&1
			grep -q 'ERROR: AddressSanitizer: stack-buffer-overflow' "$pd/server.log" &&
				grep -q 'runtime error: signed integer overflow' "$pd/server.log" &&
				grep -q 'iosat' "$pd/server.log" && probe_ok=1
		fi
	fi
fi
if [[ $probe_ok -eq 1 ]]; then
	summary+=("sanitize self-test: ok, a stack overflow and a signed overflow in a probe were reported")
else
	failed=$((failed + 1))
	summary+=("sanitize self-test: FAILED, the sanitizers did not report the probe's bugs (see $work/probe)")
	tail -n 20 "$work/probe.log" "$work/probe/"*.log 2>/dev/null
fi
rm -f "$pg$(pg_config --pkglibdir)/san_probe.so"

# 3. pg_regress and TAP as postgres, against the private installation
echo "== pg_regress (sanitized iosat.so)"
s=$SECONDS
if as_pg make -s installcheck SANITIZE=1 bindir="$privbin" TAP_TESTS= 2>&1 | tee "$work/regress.out" |
	grep -E '^(test|ok|not ok) |tests (passed|failed)|^#'; [[ ${PIPESTATUS[0]} -eq 0 ]]; then
	summary+=("sanitize pg_regress: ok, $(grep -cE '^(test|ok) .*ok' "$work/regress.out") tests, $((SECONDS - s)) s")
else
	failed=$((failed + 1))
	[[ -f regression.diffs ]] && head -n 60 regression.diffs
	summary+=("sanitize pg_regress: FAILED, $((SECONDS - s)) s")
fi

if [[ -n $tap ]]; then
	echo "== TAP: $(echo $tap)"
	s=$SECONDS
	# shellcheck disable=SC2086
	if as_pg make -s installcheck SANITIZE=1 bindir="$privbin" REGRESS= IOSAT_TAP="$(echo $tap)" \
		2>&1 | tee "$work/tap.out" | grep -E '^(t/|test/|All tests|Files=|Result:)|not ok'; [[ ${PIPESTATUS[0]} -eq 0 ]]; then
		summary+=("sanitize tap: ok, $(wc -w <<<"$tap") files, $(sed -n 's/.*Tests=\([0-9]*\).*/\1/p' "$work/tap.out" | tail -n 1) tests, $((SECONDS - s)) s")
	else
		failed=$((failed + 1))
		grep -E 'not ok|Failed|Bail' "$work/tap.out" | head -n 20
		summary+=("sanitize tap: FAILED, $((SECONDS - s)) s")
	fi
fi

# 4. the BPF reader and iosatd (root), with leak detection
if [[ ${IOSAT_SANITIZE_BPF:-1} != 0 ]]; then
	s=$SECONDS
	if [[ -x $tree/src/iosatd/iosatd ]]; then
		echo "== BPF: test/bpf/reader.t, test/bpf/iosatd.t (sanitized iosatd)"
		if ASAN_OPTIONS="detect_leaks=1:log_path=$san/asan-bpf:log_exe_name=1" \
			UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:log_path=$san/ubsan-bpf" \
			CC="gcc -fsanitize=address,undefined -fno-sanitize-recover=all -g" \
			prove --timer test/bpf/reader.t test/bpf/iosatd.t >"$work/bpf.out" 2>&1; then
			summary+=("sanitize bpf: ok, $(sed -n 's/.*Tests=\([0-9]*\).*/\1/p' "$work/bpf.out" | tail -n 1) tests, $((SECONDS - s)) s")
		else
			failed=$((failed + 1))
			grep -E 'not ok|Failed|Bail|SKIP' "$work/bpf.out" | head -n 20
			summary+=("sanitize bpf: FAILED, $((SECONDS - s)) s")
		fi
		grep -E '^(test/|All tests|Files=|Result:)' "$work/bpf.out"
	else
		summary+=("sanitize bpf: skipped (iosatd not built here: $(grep -m1 'iosatd: not built' "$work/build.log" || echo 'see the build log'))")
	fi
fi

# 5. sanitizer reports: their own files, and anything that reached a log
reports=0
for f in "$san"/*; do
	[[ -f $f ]] || continue
	if grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:|SUMMARY: [A-Za-z]*Sanitizer' "$f"; then
		reports=$((reports + 1))
		echo "---- $(basename "$f")"
		grep -E 'ERROR:|runtime error|SUMMARY|^    #[0-9]+ ' "$f" | head -n 25
	fi
done
while IFS= read -r -d '' f; do
	if grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:|SUMMARY: [A-Za-z]*Sanitizer' "$f"; then
		reports=$((reports + 1))
		echo "---- ${f#"$tree"/}"
		grep -E 'ERROR: (Address|Leak)Sanitizer|runtime error|SUMMARY: ' "$f" | head -n 10
	fi
done < <(find "$work/regress-log" "$tree/tmp_regress" "$tree/tmp_check" "$work/bpf.out" -type f \
	\( -name '*.log' -o -name '*.out' -o -name 'regress_log_*' \) -print0 2>/dev/null)

for line in "${summary[@]}"; do
	echo "$line"
done
echo "sanitize total: $reports sanitizer reports, $failed parts failed, $((SECONDS - t0)) s"
[[ $reports -eq 0 && $failed -eq 0 ]]
