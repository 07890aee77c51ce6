# iosat: I/O backpressure for PostgreSQL (PGXS build)
#
#   make                      build iosat.so (and iosatd where clang/bpftool/BTF exist)
#   make install              install the extension (and iosatd)
#   make installcheck         pg_regress (self-contained temp instance) + TAP tests
#
# PG_CONFIG may be overridden: make PG_CONFIG=/opt/pg17/bin/pg_config

EXTENSION = iosat
MODULE_big = iosat
# src/ by layer and process (docs/architecture.md); test/lint/layers.sh
# checks that includes point down
IOSAT_DIRS = collect state sampler profiler control views
OBJS = $(patsubst %.c,%.o,$(sort $(wildcard src/*.c $(foreach d,$(IOSAT_DIRS),src/$(d)/*.c))))
DATA = $(sort $(wildcard src/sql/iosat--*.sql))
PGFILEDESC = "iosat - I/O backpressure for PostgreSQL"

PG_CPPFLAGS = -I$(srcdir)/src -I$(srcdir)/src/bpf

# The reader of iosatd's maps (src/bpf/bpf_reader.c) needs libbpf (libbpf-dev).
# Without its headers iosat still builds, and says so in iosat_status.bpf_status.
IOSAT_HAVE_LIBBPF_H := $(shell printf '\043include <bpf/bpf.h>\n' | $(or $(CC),cc) -E -x c - >/dev/null 2>&1 && echo yes)
ifeq ($(IOSAT_HAVE_LIBBPF_H),yes)
OBJS += src/bpf/bpf_reader.o
SHLIB_LINK += -lbpf
else
PG_CPPFLAGS += -DIOSAT_NO_LIBBPF
endif

REGRESS = $(patsubst sql/%.sql,%,$(sort $(wildcard sql/*.sql)))
REGRESS_OPTS = --temp-instance=./tmp_regress --temp-config=$(srcdir)/test/regress.conf

# IOSAT_TAP="test/t/010_sampler_fixture.pl ..." picks the TAP files (default:
# all of test/t); IOSAT_TAP=none runs none (pg_regress only). := because
# PGXS asks `ifdef TAP_TESTS`, which does not expand the value.
TAP_TESTS := $(if $(filter none,$(IOSAT_TAP)),,1)
PROVE_TESTS = $(if $(IOSAT_TAP),$(IOSAT_TAP),test/t/*.pl)

EXTRA_CLEAN = tmp_regress results regression.diffs regression.out

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# PGXS tracks no header dependencies (Debian's build has no autodepend):
# every object depends on every header, so a struct change rebuilds all.
$(OBJS): $(wildcard $(srcdir)/src/*.h $(srcdir)/src/*/*.h)

# after the include: Makefile.global resets PROVE_FLAGS
PROVE_FLAGS = -I $(srcdir)/test/lib --timer

# The companion daemon and BPF program (src/bpf, src/iosatd) have their own
# rules; they are skipped, with the reason printed, where the toolchain is absent.
-include $(srcdir)/src/bpf/bpf.mk

# SANITIZE=1: AddressSanitizer + UBSan builds of iosat.so and iosatd (test/sanitize.sh)
-include $(srcdir)/test/sanitize.mk
