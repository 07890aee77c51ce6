# shellcheck shell=bash
# Debian 12 packages that iosat's build, tests, demo and benchmarks need.
# Sourced by test/run-tests.sh and test/demo.sh; both run as root.

IOSAT_DEB_PACKAGES=(
	build-essential make gcc clang llvm
	postgresql-15 postgresql-server-dev-15 postgresql-client-15 postgresql-contrib
	libipc-run-perl
	libbpf-dev bpftool libelf-dev zlib1g-dev
	fio pgbouncer gnuplot-nox faketime
	e2fsprogs util-linux procps sudo rsync psmisc
	libclang-rt-14-dev
	fuse3 libfuse3-dev pkg-config
	prometheus prometheus-postgres-exporter
)

iosat_install_deps() {
	local missing=() p
	for p in "${IOSAT_DEB_PACKAGES[@]}"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
			missing+=("$p")
	done
	if ((${#missing[@]})); then
		echo "iosat: installing ${missing[*]}"
		export DEBIAN_FRONTEND=noninteractive
		apt-get update -qq
		apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
	fi
}
