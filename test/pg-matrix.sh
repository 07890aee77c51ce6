#!/usr/bin/env bash
# iosat version matrix: build PostgreSQL 16/17/18 from Debian source packages
# into a cached private prefix, then build iosat against each one, install it
# there and run its pg_regress suite (`make installcheck`, temp instance) as
# the postgres OS user; iosat is compiled with compat warnings as errors
# (and, as a baseline, against the system's PostgreSQL 15 too).  Prints a
# summary table; exits non-zero when a version whose source could be had
# fails to build PostgreSQL, fails to build iosat or fails its tests.  A
# version whose source cannot be had (16, here) is reported and skipped.
#
#   bash test/pg-matrix.sh                  # all of IOSAT_PG_VERSIONS
#   bash test/pg-matrix.sh 17               # only PostgreSQL 17
#   bash test/pg-matrix.sh --build-only     # only fetch/build PostgreSQL (warm the cache)
#
# Environment:
#   IOSAT_PG_CACHE     cache dir (default /var/cache/iosat-pg): private apt
#                      state, source packages, and one prefix per version
#                      (<cache>/pg17 ...), reused while its source version
#                      and configure flags are unchanged
#   IOSAT_PG_VERSIONS  majors to test (default "16 17 18 19"; "15" uses the
#                      system's /usr/lib/postgresql/15 and installs iosat there)
#   IOSAT_MATRIX_BASELINE 1 (default) = also compile iosat (compat flags, no
#                      install, no tests) against the system's PostgreSQL 15
#   IOSAT_PG_JOBS      make -j for PostgreSQL (default 2)
#   IOSAT_PG_NICE      nice level of the builds (default 10)
#   IOSAT_MATRIX_TAP   1 = also run every TAP test (test/run-tests.sh with
#                      IOSAT_PG_CONFIG); default 0 = pg_regress only
#   IOSAT_MATRIX_IO_METHODS io_method values the TAP tests run under on 18+
#                      (default "worker", PostgreSQL's default; e.g.
#                      "worker io_uring sync")
#   IOSAT_PG_REFRESH   seconds before the private apt lists are refreshed
#                      (default 21600; 0 = always)
#   IOSAT_MATRIX_RECORD file the summary table is appended to as well
#                      (test/matrix/RESULTS.md keeps the committed ones)
#   IOSAT_MATRIX_REV   what iosat tree to test: empty (default) = the working
#                      tree as it is on disk, uncommitted changes included;
#                      a git revision (HEAD, main, a sha) = that commit
#   IOSAT_PG_POOL_FALLBACK "MAJOR=VERSION ..." (default 17=17.11-0+deb13u1):
#                      a source version the lists no longer carry, fetched
#                      from the archive's pool by name when none listed can
#                      be downloaded; its .dsc signature must verify
#   IOSAT_PG16_GIT     "<git dir> <commit>" holding the unmodified 16.2 tree
#                      (default: the LimeMun/postgresql-16.2 mirror at
#                      f6e9aa6; see test/matrix/README.md); used when no
#                      Debian suite has postgresql-16; "" = skip 16
#   IOSAT_PG_GIT_ORIG  "MAJOR=<git dir>@<commit>@<dist name> ..." (default:
#                      19 from the postgresql-cfbot/postgresql mirror at the
#                      "Stamp 19beta2" commit 7873db5): when the mirror lists
#                      a source package but serves none of its versions, the
#                      release tarball is rebuilt from that commit the way
#                      upstream makes it (git archive | bzip2) and used only
#                      if its SHA-256 equals that of an orig.tar.bz2 in the
#                      signed Sources index; see test/matrix/README.md
#   IOSAT_PG16_SNAPSHOT snapshot.debian.org timestamp whose sid still carried
#                      postgresql-16 (default 20240601T000000Z); only tried
#                      when that host resolves
#
# The system's apt configuration and state are not changed: the deb-src lines
# live in <cache>/apt and every apt call here names that private state.
# (Build dependencies are installed with the system's ordinary apt-get.)
set -uo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE=${IOSAT_PG_CACHE:-/var/cache/iosat-pg}
VERSIONS=${IOSAT_PG_VERSIONS:-16 17 18 19}
JOBS=${IOSAT_PG_JOBS:-2}
NICE=${IOSAT_PG_NICE:-10}
TAP=${IOSAT_MATRIX_TAP:-0}
REFRESH=${IOSAT_PG_REFRESH:-21600}
PG16_SNAPSHOT=${IOSAT_PG16_SNAPSHOT:-20240601T000000Z}
POOL_FALLBACK=${IOSAT_PG_POOL_FALLBACK-17=17.11-0+deb13u1}
MIRROR=""
PG16_GIT=${IOSAT_PG16_GIT-/work/.mirror/LimeMun+postgresql-16.2/repo f6e9aa693dca4bcbb913ca629ce2ec887f31d2b3}
PG_GIT_ORIG=${IOSAT_PG_GIT_ORIG-19=/work/.mirror/postgresql-cfbot+postgresql/repo@7873db5369b967dd53984df34fd800003410d04f@postgresql-19beta2}
REV=${IOSAT_MATRIX_REV:-}
BUILD_ONLY=0
CONFIGURE_FLAGS="--without-icu --without-readline --without-zlib --enable-tap-tests"
# 18 and later: io_method = io_uring needs liburing (Debian 12: liburing-dev 2.3)
configure_flags() { echo "$CONFIGURE_FLAGS$([ "$1" -ge 18 ] && echo " --with-liburing")"; }
# What "compat.h guards are right" means here: no call to a function the
# version lacks, no hook/callback of the wrong type, no int/pointer mix-up.
COMPAT_CFLAGS="-Wall -Werror=implicit-function-declaration -Werror=incompatible-pointer-types -Werror=int-conversion"

args=()
for a in "$@"; do
    case $a in
        --build-only) BUILD_ONLY=1 ;;
        -h|--help) sed -n '2,/^set -uo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'; exit 0 ;;
        [0-9]*) args+=("$a") ;;
        *) echo "pg-matrix: unknown argument $a" >&2; exit 2 ;;
    esac
done
[ ${#args[@]} -gt 0 ] && VERSIONS="${args[*]}"

log() { printf '[pg-matrix %s] %s\n' "$(date +%H:%M:%S)" "$*"; }
die() { log "ERROR: $*"; exit 2; }

[ "$(id -u)" -eq 0 ] || die "run as root (apt-get, make install into $CACHE, su to postgres)"
id postgres >/dev/null 2>&1 || die "no postgres OS user (initdb refuses root); install postgresql-common or useradd postgres"

mkdir -p "$CACHE" || die "cannot create $CACHE"
exec 9>"$CACHE/.lock"
flock -n 9 || { log "another pg-matrix run holds $CACHE/.lock; waiting"; flock 9; }

T0=$(date +%s)

# ---------------------------------------------------------------- build deps
install_deps() {
    local want=(gcc make libc6-dev bison flex perl pkg-config dpkg-dev bzip2 xz-utils
                gpgv debian-keyring libipc-run-perl util-linux git liburing-dev curl)
    local missing=() p
    for p in "${want[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
    done
    # The extension's own build dependencies (libbpf-dev for -lbpf, ...) are
    # the project's list; PostgreSQL's are ours.
    if [ -f "$REPO/test/lib/deps.sh" ]; then
        # shellcheck source=/dev/null
        ( . "$REPO/test/lib/deps.sh" && iosat_install_deps ) || log "WARNING: test/lib/deps.sh could not install the project's packages"
    fi
    [ ${#missing[@]} -eq 0 ] && return 0
    log "installing PostgreSQL build dependencies: ${missing[*]}"
    if ! apt-cache policy "${missing[0]}" 2>/dev/null | grep -q 'Candidate: [0-9]'; then
        apt-get update -qq || true
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
        || die "apt-get install ${missing[*]} failed"
}

# ------------------------------------------------ private apt (deb-src lines)
APTDIR=$CACHE/apt
APT_OPTS=(-o "Dir::Etc::sourcelist=$APTDIR/sources.list"
          -o "Dir::Etc::sourceparts=$APTDIR/sources.list.d"
          -o "Dir::State::Lists=$APTDIR/lists"
          -o "Dir::Cache=$APTDIR/cache"
          -o "Dir::Etc::preferences=/dev/null" -o "Dir::Etc::preferencesparts=$APTDIR/preferences.d"
          -o "APT::Get::List-Cleanup=0")

# Print "URI<TAB>SUITES<TAB>SIGNED-BY" for every enabled Debian entry of the
# system's apt sources (one-line .list and deb822 .sources alike).
system_apt_entries() {
    local f
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [ -f "$f" ] || continue
        awk '
            /^[ \t]*#/ || NF == 0 { next }
            $1 == "deb" || $1 == "deb-src" {
                signed = ""; i = 2
                if ($2 ~ /^\[/) {
                    while (i <= NF) {
                        if ($i ~ /^signed-by=/) { signed = $i; sub(/^signed-by=/, "", signed); sub(/\]$/, "", signed) }
                        if ($i ~ /\]$/) { i++; break }
                        i++
                    }
                }
                print $i "\t" $(i+1) "\t" signed
            }' "$f"
    done
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] || continue
        awk '
            function flush() {
                if (uris != "" && suites != "" && enabled != "no")
                    { n = split(uris, u, " "); for (k = 1; k <= n; k++) print u[k] "\t" suites "\t" signed }
                uris = suites = signed = ""; enabled = "yes"
            }
            BEGIN { enabled = "yes" }
            /^[ \t]*#/ { next }
            NF == 0 { flush(); next }
            tolower($1) == "uris:"      { $1 = ""; uris = $0; sub(/^ +/, "", uris) }
            tolower($1) == "suites:"    { $1 = ""; suites = $0; sub(/^ +/, "", suites) }
            tolower($1) == "signed-by:" { signed = $2 }
            tolower($1) == "enabled:"   { enabled = tolower($2) }
            END { flush() }' "$f"
    done
}

setup_private_apt() {
    local codename mirror="" secmirror="" keyring="" uri suites signed
    codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-bookworm}")
    while IFS=$'\t' read -r uri suites signed; do
        for s in $suites; do
            if [ "$s" = "$codename" ] && [ -z "$mirror" ]; then
                mirror=$uri; [ -f "$signed" ] && keyring=$signed
            elif [ "$s" = "$codename-security" ] && [ -z "$secmirror" ]; then
                secmirror=$uri
            fi
        done
    done < <(system_apt_entries)
    [ -n "$mirror" ] || die "no Debian entry for suite '$codename' in /etc/apt/sources.list{,.d}: cannot derive a mirror"
    [ -n "$keyring" ] || keyring=/usr/share/keyrings/debian-archive-keyring.gpg
    mirror=${mirror%/}; secmirror=${secmirror%/}
    MIRROR=$mirror

    mkdir -p "$APTDIR/sources.list.d" "$APTDIR/lists/partial" "$APTDIR/cache/archives/partial" "$APTDIR/preferences.d"
    : > "$APTDIR/sources.list"
    local new="$APTDIR/sources.list.d/iosat-pg-src.sources.new"
    {
        echo "# written by iosat test/pg-matrix.sh from the system's apt sources; private to $APTDIR"
        echo "Types: deb-src"
        echo "URIs: $mirror"
        echo "Suites: trixie trixie-updates trixie-backports sid experimental bookworm-backports"
        echo "Components: main"
        echo "Signed-By: $keyring"
        if [ -n "$secmirror" ]; then
            echo
            echo "Types: deb-src"
            echo "URIs: $secmirror"
            echo "Suites: trixie-security"
            echo "Components: main"
            echo "Signed-By: $keyring"
        fi
        # PostgreSQL 16 left every current suite; sid carried it until late
        # 2024.  Only offered when snapshot.debian.org resolves from here.
        if getent hosts snapshot.debian.org >/dev/null 2>&1; then
            echo
            echo "Types: deb-src"
            echo "URIs: http://snapshot.debian.org/archive/debian/$PG16_SNAPSHOT"
            echo "Suites: sid"
            echo "Components: main"
            echo "Signed-By: $keyring"
            echo "Check-Valid-Until: no"
        fi
    } > "$new"
    local cur="$APTDIR/sources.list.d/iosat-pg-src.sources" age=999999999
    if cmp -s "$new" "$cur"; then
        rm -f "$new"
        local stamp="$APTDIR/lists/.updated"
        [ -f "$stamp" ] && age=$(( $(date +%s) - $(stat -c %Y "$stamp") ))
    else
        mv "$new" "$cur"
    fi
    if [ "$age" -ge "$REFRESH" ]; then
        log "private apt update (deb-src: trixie, sid, backports; mirror $mirror)"
        if apt-get "${APT_OPTS[@]}" -qq update >"$APTDIR/update.log" 2>&1; then
            touch "$APTDIR/lists/.updated"
        else
            log "private apt update failed (see $APTDIR/update.log); using the lists already there, if any"
            tail -5 "$APTDIR/update.log"
        fi
    fi
}

# Released (no ~beta/~rc) source versions of a package, newest first; when
# no release exists yet (19 in experimental), its pre-releases.
source_versions() {
    local pkg=$1 all
    all=$(apt-cache "${APT_OPTS[@]}" showsrc "$pkg" 2>/dev/null |
        awk -v p="$pkg" '$1 == "Package:" { cur = $2 } $1 == "Version:" && cur == p { print $2 }' |
        sort -u | sort -r -V)
    if echo "$all" | grep -qv '~'; then echo "$all" | grep -v '~'; else echo "$all" | grep .; fi
}

# --------------------------------------------------------- result bookkeeping
declare -A R_SRC R_PG R_EXT R_COMPAT R_REG R_TAP R_NOTE
FAILED=0 PASSED=0 SKIPPED=0 SHOWN=""
RESULTS=$CACHE/results
mkdir -p "$RESULTS"

# A version the lists no longer carry but the archive's pool still serves
# (IOSAT_PG_POOL_FALLBACK="17=17.11-0+deb13u1 ..."): the mirror here has
# answered 404 for trixie's newest postgresql-17 since it replaced 17.11.
# Fetched by name from the pool; dpkg-source then requires a valid OpenPGP
# signature on the .dsc (debian-keyring) and checks every file's checksum,
# with no unverified fallback.
pool_fallback() {
    local e
    for e in $POOL_FALLBACK; do
        [ "${e%%=*}" = "$1" ] && { echo "${e#*=}"; return 0; }
    done
    return 1
}

pool_download() {
    local pkg=$1 v=$2 dl=$3 url f
    url="$MIRROR/pool/main/${pkg:0:1}/$pkg"
    POOL_ONLY=1
    [ -f "$dl/${pkg}_${v#*:}.dsc" ] && return 0     # fetched before; checked at extraction
    log "PostgreSQL: $pkg $v from $url"
    curl -fsS -o "$dl/${pkg}_${v#*:}.dsc" "$url/${pkg}_${v#*:}.dsc" >> "$RESULTS/pg${pkg#postgresql-}-download.log" 2>&1 || { rm -f "$dl/${pkg}_${v#*:}.dsc"; return 1; }
    for f in $(awk '/^Files:/ { on = 1; next } /^[^ ]/ { on = 0 } on { print $3 }' "$dl/${pkg}_${v#*:}.dsc"); do
        curl -fsS -o "$dl/$f" "$url/$f" >> "$RESULTS/pg${pkg#postgresql-}-download.log" 2>&1 || { rm -f "$dl/${pkg}_${v#*:}.dsc"; return 1; }
    done
}

# ------------------------------------------------------- build one PostgreSQL
# Sets PGCONFIG_<ver> via the associative array PGCONFIG.
declare -A PGCONFIG
build_pg() {
    local ver=$1 pkg=postgresql-$ver prefix=$CACHE/pg$ver srcver
    if [ "$ver" = 15 ]; then
        if [ -x /usr/lib/postgresql/15/bin/pg_config ]; then
            PGCONFIG[$ver]=/usr/lib/postgresql/15/bin/pg_config
            R_SRC[$ver]="system $(/usr/lib/postgresql/15/bin/pg_config --version | awk '{print $2}')"
            R_PG[$ver]=installed
            return 0
        fi
        R_SRC[$ver]=none; R_PG[$ver]=n/a; R_NOTE[$ver]="postgresql-server-dev-15 not installed"; return 1
    fi
    local candidates srcver=""
    candidates=$(source_versions "$pkg")
    if [ -z "$candidates" ] && [ "$ver" = 16 ] && [ -n "$PG16_GIT" ]; then
        build_pg_git "$ver" "$prefix"; return $?
    fi
    if [ -z "$candidates" ]; then
        R_SRC[$ver]=unavailable; R_PG[$ver]=n/a
        R_NOTE[$ver]="no reachable Debian suite (trixie, sid, *-backports, trixie-security$(getent hosts snapshot.debian.org >/dev/null 2>&1 && echo ", snapshot $PG16_SNAPSHOT")) has source package $pkg; not tested"
        log "PostgreSQL $ver: ${R_NOTE[$ver]}"
        return 1
    fi
    # Cached prefix of the newest version: nothing to fetch.  (A prefix of
    # an older version is still used while the newest cannot be downloaded.)
    local newest; newest=$(echo "$candidates" | head -1)
    if use_cached "$ver" "$prefix" "$pkg $newest | $(configure_flags "$ver")" "$pkg $newest"; then
        R_SRC[$ver]=$newest
        return 0
    fi

    local dl=$CACHE/src/$pkg dsc="" c
    mkdir -p "$dl"
    id _apt >/dev/null 2>&1 && chown _apt "$dl"
    : > "$RESULTS/pg$ver-download.log"
    # Newest first; a version the mirror lists but cannot serve (seen with
    # trixie-security's pool) falls back to the next one.
    for c in $candidates; do
        if [ -f "$dl/${pkg}_${c#*:}.dsc" ]; then dsc="$dl/${pkg}_${c#*:}.dsc"; srcver=$c; break; fi
        log "PostgreSQL $ver: apt-get source --download-only $pkg=$c"
        # apt checks each file's hash against the Sources index, whose
        # InRelease signature it checks against the Debian archive keyring.
        if (cd "$dl" && apt-get "${APT_OPTS[@]}" -qq source --download-only "$pkg=$c") >> "$RESULTS/pg$ver-download.log" 2>&1 \
           && [ -f "$dl/${pkg}_${c#*:}.dsc" ]; then
            dsc="$dl/${pkg}_${c#*:}.dsc"; srcver=$c; break
        fi
        log "PostgreSQL $ver: $pkg $c could not be downloaded: $(grep '^E:' "$RESULTS/pg$ver-download.log" | tail -1)"
        rm -f "$dl/${pkg}_${c#*:}".* "$dl/${pkg}_${c%%-*}".orig.*
    done
    if [ -z "$dsc" ] && c=$(pool_fallback "$ver") && pool_download "$pkg" "$c" "$dl"; then
        dsc="$dl/${pkg}_${c#*:}.dsc"; srcver=$c
        log "PostgreSQL $ver: $pkg $c downloaded from the archive's pool (not in the lists any more; its signature is checked below)"
    fi
    if [ -z "$dsc" ] && git_orig "$ver" >/dev/null; then
        build_pg_git_orig "$ver" "$prefix"; return $?
    fi
    if [ -z "$dsc" ]; then
        # the mirror lists it but will not serve it: the source cannot be
        # had, which is a skip (said in the table), not a failure of iosat
        R_SRC[$ver]=unavailable; R_PG[$ver]=n/a
        R_NOTE[$ver]="the lists carry $pkg $(echo $candidates | tr ' ' ','), the mirror answers $(grep -o -m1 '[0-9][0-9][0-9]  *Not Found' "$RESULTS/pg$ver-download.log" | tr -s ' ' || echo 'an error') for its files (see $RESULTS/pg$ver-download.log); not tested"
        log "PostgreSQL $ver: ${R_NOTE[$ver]}"
        return 1
    fi
    R_SRC[$ver]=$srcver
    local want="$pkg $srcver | $(configure_flags "$ver")"
    use_cached "$ver" "$prefix" "$want" "$pkg $srcver" && return 0
    local work=$CACHE/build/pg$ver
    rm -rf "$work"; mkdir -p "$work"
    # dpkg-source checks the .dsc's OpenPGP signature (debian-keyring) and the
    # checksums of every file it lists.  Debian's patches are skipped: the
    # upstream tree builds into a plain prefix (Debian's patches move
    # directories around for /usr/lib/postgresql/N).
    local sig=verified
    if ! dpkg-source --require-valid-signature --skip-patches -x "$dsc" "$work/src" > "$RESULTS/pg$ver-extract.log" 2>&1; then
        rm -rf "$work/src"
        if [ "${POOL_ONLY:-0}" = 1 ]; then
            R_PG[$ver]="FAIL(signature)"; R_NOTE[$ver]="a pool download needs a valid signature: see $RESULTS/pg$ver-extract.log"
            tail -5 "$RESULTS/pg$ver-extract.log"; return 1
        elif dpkg-source --skip-patches -x "$dsc" "$work/src" >> "$RESULTS/pg$ver-extract.log" 2>&1; then
            sig="unverified signature (checksums ok; apt checked the archive signature)"
            log "PostgreSQL $ver: .dsc signature could not be verified with debian-keyring; checksums verified"
        else
            R_PG[$ver]="FAIL(extract)"; R_NOTE[$ver]="see $RESULTS/pg$ver-extract.log"; tail -5 "$RESULTS/pg$ver-extract.log"; return 1
        fi
    fi
    log "PostgreSQL $ver: source $pkg $srcver extracted (signature: $sig)"

    compile_pg "$ver" "$prefix" "$work" "$want"
}

# the prefix $2 already holds a build of $3 (what .iosat-pg-source records)
use_cached() {
    local ver=$1 prefix=$2 want=$3 what=$4
    [ -x "$prefix/bin/pg_config" ] && [ "$(cat "$prefix/.iosat-pg-source" 2>/dev/null)" = "$want" ] || return 1
    log "PostgreSQL $ver: cached build of $what in $prefix"
    PGCONFIG[$ver]=$prefix/bin/pg_config; R_PG[$ver]=cached
}

# configure, make and make install the tree in $3/src into the prefix $2
# (with contrib's pg_prewarm, which test/bench/storm.sh loads its data with);
# $4 is what the prefix records as its source.
compile_pg() {
    local ver=$1 prefix=$2 work=$3 want=$4
    local t=$(date +%s)
    log "PostgreSQL $ver: configure + make -j$JOBS + make install into $prefix (nice $NICE; log $RESULTS/pg$ver-build.log)"
    rm -rf "$prefix"
    mkdir -p "$work/build"
    if ( cd "$work/build" &&
         nice -n "$NICE" ../src/configure --prefix="$prefix" $(configure_flags "$ver") &&
         nice -n "$NICE" make -s -j"$JOBS" &&
         nice -n "$NICE" make -s install &&
         nice -n "$NICE" make -s -C contrib/pg_prewarm install ) > "$RESULTS/pg$ver-build.log" 2>&1
    then
        echo "$want" > "$prefix/.iosat-pg-source"
        PGCONFIG[$ver]=$prefix/bin/pg_config
        R_PG[$ver]="built $(( $(date +%s) - t ))s"
        log "PostgreSQL $ver: ${R_PG[$ver]}: $("$prefix/bin/pg_config" --version)"
        rm -rf "$work"      # the prefix and the downloaded source are what is kept
        return 0
    fi
    R_PG[$ver]="FAIL(build)"; R_NOTE[$ver]="see $RESULTS/pg$ver-build.log"
    tail -20 "$RESULTS/pg$ver-build.log"
    return 1
}

# PostgreSQL 16 has left every Debian suite this machine reaches.  Its source
# comes from a git repository holding the unmodified 16.2 tree at one commit
# (IOSAT_PG16_GIT="<git dir or URL> <commit>"; see test/matrix/README.md for
# how that tree was checked against the 16.2 release).  Only the commit's
# tree is used, without its bld/ directory (a stranger's build output).
build_pg_git() {
    local ver=$1 prefix=$2 gitdir commit
    read -r gitdir commit <<<"$PG16_GIT"
    local want="git $commit | $(configure_flags "$ver")"
    R_SRC[$ver]="16.2 git ${commit:0:7}"
    use_cached "$ver" "$prefix" "$want" "$commit" && return 0
    local work=$CACHE/build/pg$ver
    rm -rf "$work"; mkdir -p "$work/src"
    if ! git --git-dir="$gitdir" archive --format=tar "$commit" -- . ':(exclude)bld' 2>"$RESULTS/pg$ver-extract.log" |
         tar -xf - -C "$work/src" 2>>"$RESULTS/pg$ver-extract.log"; then
        R_PG[$ver]="FAIL(extract)"; R_NOTE[$ver]="git archive $commit from $gitdir: see $RESULTS/pg$ver-extract.log"
        tail -5 "$RESULTS/pg$ver-extract.log"; return 1
    fi
    log "PostgreSQL $ver: source from $gitdir at $commit (without bld/)"
    compile_pg "$ver" "$prefix" "$work" "$want"
}

# IOSAT_PG_GIT_ORIG's entry for major $1: "<git dir>@<commit>@<dist name>"
git_orig() {
    local e
    for e in $PG_GIT_ORIG; do
        [ "${e%%=*}" = "$1" ] && { echo "${e#*=}"; return 0; }
    done
    return 1
}

# The mirror lists postgresql-$1 but serves none of its files (19 here).
# Upstream's release tarballs are `git archive` of the release commit,
# compressed with `bzip2 -c` (GNUmakefile's dist rule since 17), so the same
# bytes can be made from any faithful copy of the repository; Debian's
# orig.tar.bz2 is that tarball unchanged.  The rebuilt tarball is used only
# when its SHA-256 is one the signed Sources index gives for an orig.tar.bz2
# of the package: then it is bit for bit the file apt would have fetched.
build_pg_git_orig() {
    local ver=$1 prefix=$2 pkg=postgresql-$1 gitdir commit dist entry
    entry=$(git_orig "$ver")
    IFS=@ read -r gitdir commit dist <<<"$entry"
    local tarball=$CACHE/src/$pkg/$dist.tar.bz2 sum debver
    mkdir -p "$CACHE/src/$pkg"
    if [ ! -s "$tarball" ]; then
        if ! git --git-dir="$gitdir" -c core.autocrlf=false -c tar.tar.bz2.command='bzip2 -c' \
                archive --format tar.bz2 --prefix "$dist/" "$commit" -o "$tarball.tmp" \
                2>"$RESULTS/pg$ver-extract.log"; then
            rm -f "$tarball.tmp"
            R_SRC[$ver]=unavailable; R_PG[$ver]=n/a
            R_NOTE[$ver]="the mirror serves no $pkg file, and $commit could not be archived from $gitdir (see $RESULTS/pg$ver-extract.log): not tested"
            log "PostgreSQL $ver: ${R_NOTE[$ver]}"
            return 1
        fi
        mv "$tarball.tmp" "$tarball"
    fi
    sum=$(sha256sum "$tarball" | awk '{print $1}')
    debver=$(apt-cache "${APT_OPTS[@]}" showsrc "$pkg" 2>/dev/null |
        awk -v s="$sum" '$1 == s && $3 ~ /\.orig\.tar\.bz2$/ { f = $3; sub(/^[^_]*_/, "", f); sub(/\.orig\.tar\.bz2$/, "", f); print f; exit }')
    if [ -z "$debver" ]; then
        R_SRC[$ver]="git ${commit:0:7}"; R_PG[$ver]="FAIL(verify)"
        R_NOTE[$ver]="$dist.tar.bz2 rebuilt from $commit has SHA-256 $sum, which no orig.tar.bz2 of $pkg in the signed Sources index has: not used"
        log "PostgreSQL $ver: ${R_NOTE[$ver]}"
        rm -f "$tarball"
        return 1
    fi
    R_SRC[$ver]="$debver orig (git ${commit:0:7})"
    log "PostgreSQL $ver: $dist.tar.bz2 rebuilt from git $commit is Debian's $pkg ${debver} orig tarball (SHA-256 $sum, from the signed Sources index)"
    local want="$pkg $debver orig $sum | $(configure_flags "$ver")"
    use_cached "$ver" "$prefix" "$want" "$pkg $debver" && return 0
    local work=$CACHE/build/pg$ver
    rm -rf "$work"; mkdir -p "$work"
    if ! tar -xjf "$tarball" -C "$work" 2>>"$RESULTS/pg$ver-extract.log"; then
        R_PG[$ver]="FAIL(extract)"; R_NOTE[$ver]="see $RESULTS/pg$ver-extract.log"; return 1
    fi
    mv "$work/$dist" "$work/src"
    compile_pg "$ver" "$prefix" "$work" "$want"
}

# ----------------------------------------------- build and test iosat on one
copy_tree() {   # working tree (tracked + untracked-not-ignored, as on disk) -> $1
    local dst=$1
    mkdir -p "$dst"
    if [ -n "$REV" ]; then
        git -C "$REPO" archive --format=tar "$REV" | tar -xf - -C "$dst"
    elif git -C "$REPO" rev-parse --git-dir >/dev/null 2>&1; then
        (cd "$REPO" && git ls-files -z -co --exclude-standard --deduplicate |
            while IFS= read -r -d '' f; do [ -e "$f" ] || [ -L "$f" ] && printf '%s\0' "$f"; done |
            tar --null -T - -cf -) | tar -xf - -C "$dst"
    else
        cp -a "$REPO/." "$dst/"
    fi
}

as_pg() { runuser -u postgres -- env HOME=/tmp PATH="$PATH" "$@"; }

test_ext() {
    local ver=$1 pgc=${PGCONFIG[$1]} tmp log
    rm -rf /tmp/iosat-matrix-pg"$ver".??????   # the previous run's (kept when it failed)
    rm -f "$RESULTS/pg$ver-"*.diffs "$RESULTS/pg$ver-postmaster.log"
    tmp=$(mktemp -d /tmp/iosat-matrix-pg$ver.XXXXXX)
    # Only the extension is under test: the BPF companion (iosatd) does not
    # depend on the PostgreSQL version, so src/bpf/bpf.mk is told to skip it,
    # and, should that switch ever stop working, its install goes under $tmp
    # rather than /usr/local.
    local mk=(PG_CONFIG="$pgc"
              "IOSAT_BPF_MISSING=(pg-matrix: iosatd is not PostgreSQL-version specific)"
              IOSATD_PREFIX="$tmp/iosatd-root")
    chmod 755 "$tmp"
    copy_tree "$tmp/iosat"
    chown -R postgres: "$tmp"
    log "=== iosat on PostgreSQL $ver ($("$pgc" --version)) in $tmp"

    # 1. build with the compat warnings as errors; -Wall warnings are counted
    log="$RESULTS/pg$ver-iosat-build.log"
    if ! as_pg make -C "$tmp/iosat" "${mk[@]}" COPT="$COMPAT_CFLAGS" > "$log" 2>&1; then
        R_EXT[$ver]=FAIL; R_COMPAT[$ver]="$(grep -c 'error:' "$log") errors"
        R_REG[$ver]=-; R_NOTE[$ver]="see $log"
        grep -E 'error:|Error ' "$log" | head -20
        return 1
    fi
    R_EXT[$ver]=ok
    local nwarn; nwarn=$(grep -c 'warning:' "$log")
    R_COMPAT[$ver]="ok, $nwarn warnings"
    [ "$nwarn" -gt 0 ] && grep 'warning:' "$log" | sort -u | head -10

    if [ "${2:-}" = compile-only ]; then rm -rf "$tmp"; return 0; fi

    # 2. install into that prefix (root owns it)
    if ! make -C "$tmp/iosat" "${mk[@]}" install > "$RESULTS/pg$ver-iosat-install.log" 2>&1; then
        R_EXT[$ver]="FAIL(install)"; R_REG[$ver]=-; R_NOTE[$ver]="see $RESULTS/pg$ver-iosat-install.log"
        tail -10 "$RESULTS/pg$ver-iosat-install.log"; return 1
    fi
    [ "$BUILD_ONLY" = 1 ] && return 0

    # 3. pg_regress (temp instance from this pg_config's bindir), as postgres
    local ok=0
    [ "$TAP" = 1 ] && { run_tap "$ver" "$tmp" || ok=1; }
    log="$RESULTS/pg$ver-installcheck.log"
    log "PostgreSQL $ver: make installcheck TAP_TESTS= (pg_regress only; log $log)"
    as_pg timeout 1800 make -C "$tmp/iosat" "${mk[@]}" TAP_TESTS= installcheck > "$log" 2>&1
    local rc=$?
    local ntot nfail npass
    if grep -qE 'All [0-9]+ tests passed' "$log"; then
        ntot=$(grep -oE 'All [0-9]+ tests passed' "$log" | head -1 | awk '{print $2}'); nfail=0
    elif grep -qE '[0-9]+ of [0-9]+ tests failed' "$log"; then
        read -r nfail ntot < <(grep -oE '[0-9]+ of [0-9]+ tests failed' "$log" | head -1 | awk '{print $1, $3}')
    else
        ntot=0; nfail=0
    fi
    npass=$((ntot - nfail))
    R_REG[$ver]="$npass/$ntot"
    if [ -f "$tmp/iosat/regression.diffs" ]; then
        cp "$tmp/iosat/regression.diffs" "$RESULTS/pg$ver-regression.diffs"
    fi
    if [ "$rc" -ne 0 ] || [ "$ntot" -eq 0 ] || [ "$nfail" -ne 0 ]; then
        local extra="" pmlog
        for pmlog in "$tmp/iosat/log/postmaster.log" "$tmp/iosat/tmp_regress/log/postmaster.log"; do
            [ -f "$pmlog" ] && { cp "$pmlog" "$RESULTS/pg$ver-postmaster.log"; break; }
        done
        [ -f "$RESULTS/pg$ver-regression.diffs" ] && extra=" and $RESULTS/pg$ver-regression.diffs"
        if [ "$ntot" -eq 0 ]; then
            R_REG[$ver]="none ran"
            if [ -f "$RESULTS/pg$ver-postmaster.log" ]; then
                extra="$extra; server: $(grep -m1 -E 'FATAL|PANIC' "$RESULTS/pg$ver-postmaster.log" | sed 's/^.*\(FATAL\|PANIC\)/\1/')"
            fi
        fi
        R_NOTE[$ver]="installcheck rc=$rc; see $log$extra; tree kept in $tmp"
        grep -E '^(not )?ok [0-9]|^test .*\.\.\.|tests? (passed|failed)|Bail out|Error [0-9]|FATAL|could not' "$log" | head -40
        [ "$ntot" -eq 0 ] && [ -f "$RESULTS/pg$ver-postmaster.log" ] && grep -E 'FATAL|PANIC' "$RESULTS/pg$ver-postmaster.log" | head -5
        [ -f "$RESULTS/pg$ver-regression.diffs" ] && head -80 "$RESULTS/pg$ver-regression.diffs"
        return 1
    fi
    grep -E 'All [0-9]+ tests passed' "$log"
    [ "$ok" -eq 0 ] && rm -rf "$tmp"
    return "$ok"
}

# TAP tests: the project's own test command (test/run-tests.sh) against this
# version's pg_config, with its root helper, devices and FUSE volume, as on
# 15: every test/t file (IOSAT_TAP picks some), pg_regress again, not the
# root-side suites (they do not depend on the PostgreSQL version).  A run of
# its own, so that a pg_regress failure does not hide it.  IOSAT_MATRIX_IO_METHODS
# (18+) runs it once per io_method: "worker" is the default; others are set
# through TEMP_CONFIG, which PostgreSQL::Test::Cluster appends to every
# node's postgresql.conf.
run_tap() {
    local ver=$1 tmp=$2 rc m out="" all_ok=0
    local methods=default
    [ "$ver" -ge 18 ] && methods=${IOSAT_MATRIX_IO_METHODS:-worker}
    for m in $methods; do
        local log="$RESULTS/pg$ver-tap${m:+-$m}.log" conf=""
        [ "$m" = default ] && log="$RESULTS/pg$ver-tap.log"
        if [ "$m" != default ] && [ "$m" != worker ]; then
            # readable by the postgres user the tests run as ($tmp is not)
            conf=$(mktemp /tmp/iosat-io_method-XXXXXX.conf)
            echo "io_method = $m" > "$conf"; chmod 644 "$conf"
        fi
        log "PostgreSQL $ver: test/run-tests.sh (TAP${IOSAT_TAP:+: $IOSAT_TAP}; io_method $m; log $log)"
        # env: an assignment that comes out of an expansion is not one
        ( cd "$tmp/iosat" && env IOSAT_PG_CONFIG="${PGCONFIG[$ver]}" IOSAT_ROOT_SUITES=none IOSAT_DEB=0 \
            ${conf:+TEMP_CONFIG="$conf"} timeout 3600 bash test/run-tests.sh ) > "$log" 2>&1
        rc=$?
        [ -n "$conf" ] && rm -f "$conf"
        local files tests
        files=$(grep -oE 'Files=[0-9]+' "$log" | tail -1 | cut -d= -f2)
        tests=$(grep -oE 'Tests=[0-9]+' "$log" | tail -1 | cut -d= -f2)
        local label=""; [ "$m" != default ] && label="$m "
        if [ "$rc" -eq 0 ] && grep -q 'Result: PASS' "$log"; then
            out="$out${out:+; }${label}PASS ${files:-?}f/${tests:-?}t"
        else
            out="$out${out:+; }${label}FAIL rc=$rc"; all_ok=1
            grep -E '^t/|^test/t/|Failed|Result:|not ok|Dubious|Bail out' "$log" | head -30
        fi
    done
    R_TAP[$ver]=$out
    return $all_ok
}

# ---------------------------------------------------------------------- main
# Everything runs from main, called on the last line, so bash has read the
# whole file before anything runs (editing it during a run is then safe).
main() {
    if [ -n "$REV" ]; then
        # resolved once: every version tests the same commit, however long
        # the run and whatever is committed meanwhile
        REV=$(git -C "$REPO" rev-parse --verify -q "$REV^{commit}") || die "IOSAT_MATRIX_REV=$REV is not a commit of $REPO"
        REV=${REV:0:12}
    fi
    install_deps
    setup_private_apt

    # Baseline: the system's PostgreSQL 15 (what the default test command
    # uses), compiled against only: installing there would swap iosat.so
    # under whatever else is running on this machine.
    local base=/usr/lib/postgresql/15/bin/pg_config
    if [ "${IOSAT_MATRIX_BASELINE:-1}" = 1 ] && [ "$BUILD_ONLY" = 0 ] && [ -x "$base" ] &&
       [[ " $VERSIONS " != *" 15 "* ]]; then
        R_SRC[15]="system $("$base" --version | awk '{print $2}')"; R_PG[15]=installed
        R_REG[15]=-; R_TAP[15]=-; R_NOTE[15]="compile check only (full test: the default test command)"
        PGCONFIG[15]=$base
        if test_ext 15 compile-only; then PASSED=$((PASSED + 1)); else FAILED=$((FAILED + 1)); fi
        SHOWN="15 $VERSIONS"
    fi

    for ver in $VERSIONS; do
        R_SRC[$ver]=-; R_PG[$ver]=-; R_EXT[$ver]=-; R_COMPAT[$ver]=-; R_REG[$ver]=-; R_TAP[$ver]=-; R_NOTE[$ver]=""
        if ! build_pg "$ver"; then
            if [ "${R_SRC[$ver]}" = unavailable ] || [ "${R_SRC[$ver]}" = none ]; then
                SKIPPED=$((SKIPPED + 1))
            else
                FAILED=$((FAILED + 1))
            fi
            continue
        fi
        if [ "$BUILD_ONLY" = 1 ]; then PASSED=$((PASSED + 1)); continue; fi
        if test_ext "$ver"; then PASSED=$((PASSED + 1)); else FAILED=$((FAILED + 1)); fi
    done

    {
        echo
        echo "iosat PostgreSQL version matrix (${REV:+$REV = }$(git -C "$REPO" describe --always ${REV:---dirty} 2>/dev/null || echo 'no git'), $(date -u '+%Y-%m-%d %H:%M UTC'), $(( $(date +%s) - T0 ))s, cache $CACHE)"
        echo
        printf '| %-3s | %-16s | %-11s | %-11s | %-16s | %-8s | %-11s | %s |\n' PG source "PG build" "iosat build" "compat (-Werror)" regress TAP notes
        printf '|%s|%s|%s|%s|%s|%s|%s|%s|\n' ----- ------------------ ------------- ------------- ------------------ ---------- ------------- ------
        for ver in ${SHOWN:-$VERSIONS}; do
            printf '| %-3s | %-16s | %-11s | %-11s | %-16s | %-8s | %-11s | %s |\n' "$ver" "${R_SRC[$ver]}" "${R_PG[$ver]}" \
                "${R_EXT[$ver]}" "${R_COMPAT[$ver]}" "${R_REG[$ver]}" "${R_TAP[$ver]}" "${R_NOTE[$ver]}"
        done
        echo
        echo "matrix: $PASSED passed, $FAILED failed, $SKIPPED skipped"
    } | tee -a "${IOSAT_MATRIX_RECORD:-/dev/null}"
    [ "$FAILED" -eq 0 ]
}

main "$@"; exit $?
