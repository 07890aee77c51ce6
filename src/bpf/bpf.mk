# src/bpf/bpf.mk - the BPF program, iosatd and iosat-bpfstat.
#
# Included at the end of the top-level (PGXS) Makefile.  Adds to `all`,
# `install`, `uninstall` and `clean`; builds only where clang, llvm-strip,
# bpftool, libbpf's headers and the kernel's BTF (/sys/kernel/btf/vmlinux)
# exist, and otherwise prints one line naming what is missing.
#
#   make                     also builds src/iosatd/{iosatd,iosat-bpfstat}
#   make install             also installs iosatd  -> $(IOSATD_SBINDIR)  (/usr/local/sbin)
#                                       iosat-bpfstat -> $(IOSATD_BINDIR) (/usr/local/bin)
#                                       iosatd.service -> $(IOSATD_UNITDIR)
#                                                        (/usr/local/lib/systemd/system)
#   make bpf-check           builds, then runs the BPF tests (test/bpf/*.t, as root)
#   make WITH_IOSATD=no      the extension alone: iosatd stays out of all/install/
#                            uninstall/clean (debian/rules builds the extension once per
#                            PostgreSQL major and iosatd once, through iosatd-*)
#   make install IOSATD_GROUP=iosat
#                            the installed unit runs iosatd --group iosat (pins readable
#                            by that group rather than by postgres, the daemon's default)
#   make bpf-bench           runs test/bench/bpf_cost.sh (as root)
#
# iosatd goes to /usr/local/sbin rather than pg_config's bindir: it is a
# root daemon, one per machine, independent of the PostgreSQL version (and
# Debian's pg_config bindir, /usr/lib/postgresql/NN/bin, is not on PATH).
# Override with IOSATD_PREFIX=/usr or the individual *DIR variables;
# DESTDIR is honoured.  vmlinux.h is generated from the running kernel's BTF
# (never committed); the object is CO-RE, so it runs on other kernels too.

IOSAT_BPF_SRC := $(srcdir)/src/bpf
IOSAT_BPF_OUT := src/bpf
IOSATD_SRC := $(srcdir)/src/iosatd
IOSATD_OUT := src/iosatd
IOSAT_BPFTEST_SRC := $(srcdir)/test/bpf

IOSATD_PREFIX ?= /usr/local
IOSATD_SBINDIR ?= $(IOSATD_PREFIX)/sbin
IOSATD_BINDIR ?= $(IOSATD_PREFIX)/bin
IOSATD_UNITDIR ?= $(IOSATD_PREFIX)/lib/systemd/system
IOSATD_GROUP ?=

IOSAT_VMLINUX_BTF ?= /sys/kernel/btf/vmlinux
IOSAT_CLANG ?= $(shell command -v clang 2>/dev/null || command -v clang-14 2>/dev/null)
IOSAT_LLVM_STRIP ?= $(shell command -v llvm-strip 2>/dev/null || command -v llvm-strip-14 2>/dev/null)
IOSAT_BPFTOOL ?= $(shell PATH="$$PATH:/usr/sbin:/sbin"; b=$$(command -v bpftool 2>/dev/null) && "$$b" version >/dev/null 2>&1 && echo "$$b")
IOSAT_HAVE_LIBBPF := $(shell printf '\043include <bpf/libbpf.h>\n' | $(CC) -E -x c - >/dev/null 2>&1 && echo yes)
IOSAT_BPF_ARCH := $(shell uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/' -e 's/ppc64le/powerpc/' -e 's/s390x/s390/' -e 's/riscv64/riscv/')

IOSAT_BPF_MISSING := $(strip \
	$(if $(IOSAT_CLANG),,clang) \
	$(if $(IOSAT_LLVM_STRIP),,llvm-strip) \
	$(if $(IOSAT_BPFTOOL),,bpftool) \
	$(if $(IOSAT_HAVE_LIBBPF),,libbpf-dev) \
	$(if $(wildcard $(IOSAT_VMLINUX_BTF)),,$(IOSAT_VMLINUX_BTF)))

IOSATD_CFLAGS ?= -O2 -g -Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers
IOSATD_LIBS ?= -lbpf

IOSATD_BINS := $(IOSATD_OUT)/iosatd $(IOSATD_OUT)/iosat-bpfstat
IOSAT_BPF_GEN := $(IOSAT_BPF_OUT)/vmlinux.h $(IOSAT_BPF_OUT)/iosat.bpf.o $(IOSAT_BPF_OUT)/iosat.skel.h
IOSAT_READER_DEPS := $(IOSAT_BPF_SRC)/bpf_reader.c $(IOSAT_BPF_SRC)/bpf_reader.h $(IOSAT_BPF_SRC)/iosat_abi.h

.PHONY: iosatd-all iosatd-skip iosatd-install iosatd-uninstall iosatd-clean bpf-check bpf-bench

ifeq ($(IOSAT_BPF_MISSING),)

ifneq ($(WITH_IOSATD),no)
all: iosatd-all
endif
iosatd-all: $(IOSATD_BINS) $(IOSAT_BPFTEST_SRC)/iosat-maptest

$(IOSAT_BPF_OUT)/vmlinux.h:
	$(IOSAT_BPFTOOL) btf dump file $(IOSAT_VMLINUX_BTF) format c > $@.tmp
	mv $@.tmp $@

$(IOSAT_BPF_OUT)/iosat.bpf.o: $(IOSAT_BPF_SRC)/iosat.bpf.c $(IOSAT_BPF_SRC)/iosat_abi.h $(IOSAT_BPF_OUT)/vmlinux.h
	$(IOSAT_CLANG) -g -O2 -Wall -target bpf -D__TARGET_ARCH_$(IOSAT_BPF_ARCH) \
		-I$(IOSAT_BPF_OUT) -I$(IOSAT_BPF_SRC) -c $< -o $@
	$(IOSAT_LLVM_STRIP) -g $@

$(IOSAT_BPF_OUT)/iosat.skel.h: $(IOSAT_BPF_OUT)/iosat.bpf.o
	$(IOSAT_BPFTOOL) gen skeleton $< name iosat_bpf > $@.tmp
	mv $@.tmp $@

$(IOSATD_OUT)/iosatd: $(IOSATD_SRC)/iosatd.c $(IOSAT_BPF_OUT)/iosat.skel.h $(IOSAT_READER_DEPS)
	$(CC) $(IOSATD_CFLAGS) -I$(IOSAT_BPF_OUT) -I$(IOSAT_BPF_SRC) -o $@ \
		$(IOSATD_SRC)/iosatd.c $(IOSAT_BPF_SRC)/bpf_reader.c $(IOSATD_LIBS)

$(IOSATD_OUT)/iosat-bpfstat: $(IOSATD_SRC)/iosat-bpfstat.c $(IOSAT_READER_DEPS)
	$(CC) $(IOSATD_CFLAGS) -I$(IOSAT_BPF_SRC) -o $@ \
		$(IOSATD_SRC)/iosat-bpfstat.c $(IOSAT_BPF_SRC)/bpf_reader.c $(IOSATD_LIBS)

$(IOSAT_BPFTEST_SRC)/iosat-maptest: $(IOSAT_BPFTEST_SRC)/maptest.c $(IOSAT_BPF_SRC)/iosat_abi.h
	$(CC) $(IOSATD_CFLAGS) -I$(IOSAT_BPF_SRC) -o $@ $< $(IOSATD_LIBS)

ifneq ($(WITH_IOSATD),no)
install: iosatd-install
endif
iosatd-install: iosatd-all
	install -d '$(DESTDIR)$(IOSATD_SBINDIR)' '$(DESTDIR)$(IOSATD_BINDIR)' '$(DESTDIR)$(IOSATD_UNITDIR)'
	install -m 0755 $(IOSATD_OUT)/iosatd '$(DESTDIR)$(IOSATD_SBINDIR)/iosatd'
	install -m 0755 $(IOSATD_OUT)/iosat-bpfstat '$(DESTDIR)$(IOSATD_BINDIR)/iosat-bpfstat'
	sed -e 's|/usr/local/sbin/iosatd|$(IOSATD_SBINDIR)/iosatd|g' \
		$(if $(IOSATD_GROUP),-e 's|^\(ExecStart=[^ ]*/iosatd\) |\1 --group $(IOSATD_GROUP) |') \
		$(IOSATD_SRC)/iosatd.service \
		> '$(DESTDIR)$(IOSATD_UNITDIR)/iosatd.service'
	chmod 0644 '$(DESTDIR)$(IOSATD_UNITDIR)/iosatd.service'
	@echo "iosatd: installed; enable with: systemctl daemon-reload && systemctl enable --now iosatd"

else

ifneq ($(WITH_IOSATD),no)
all: iosatd-skip
install: iosatd-skip
endif
iosatd-all: iosatd-skip
iosatd-skip:
	@echo "iosatd: not built (BPF companion skipped): missing $(IOSAT_BPF_MISSING)"

endif

ifneq ($(WITH_IOSATD),no)
uninstall: iosatd-uninstall
clean: iosatd-clean
endif
iosatd-uninstall:
	rm -f '$(DESTDIR)$(IOSATD_SBINDIR)/iosatd' '$(DESTDIR)$(IOSATD_BINDIR)/iosat-bpfstat' \
		'$(DESTDIR)$(IOSATD_UNITDIR)/iosatd.service'

iosatd-clean:
	rm -f $(IOSAT_BPF_GEN) $(IOSAT_BPF_OUT)/*.tmp $(IOSATD_BINS) $(IOSAT_BPFTEST_SRC)/iosat-maptest

bpf-check: iosatd-all
	prove -v $(IOSAT_BPFTEST_SRC)/*.t

bpf-bench: iosatd-all
	$(srcdir)/test/bench/bpf_cost.sh
