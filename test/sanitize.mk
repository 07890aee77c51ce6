# test/sanitize.mk - AddressSanitizer + UBSan builds of iosat.so and iosatd.
#
# Included (optionally) at the end of the top-level Makefile, after PGXS and
# src/bpf/bpf.mk.  Does nothing unless SANITIZE=1:
#
#   make SANITIZE=1              iosat.so, iosatd, iosat-bpfstat with
#                                -fsanitize=address,undefined -fno-sanitize-recover=all
#   make SANITIZE=1 install      (use a private tree: see test/sanitize.sh)
#
# Build it in a tree of its own (test/sanitize.sh copies the sources): the
# objects are not rebuilt when SANITIZE changes.
#
# Running it: postgres itself is not instrumented, so the ASan runtime must
# be loaded first into the server:
#   LD_PRELOAD=$(gcc -print-file-name=libasan.so)
#   ASAN_OPTIONS=detect_leaks=0   (postgres does not free at exit, by design)
# test/sanitize.sh does that through a wrapper around the postgres binary.
# SANITIZE_FLAGS overrides the flags (e.g. SANITIZE_FLAGS=-fsanitize=undefined).

ifeq ($(SANITIZE),1)

SANITIZE_FLAGS ?= -fsanitize=address,undefined -fno-sanitize-recover=all \
	-fno-omit-frame-pointer -g

# after PGXS: CFLAGS is expanded when the objects are compiled, SHLIB_LINK
# when iosat.so is linked (the shared libasan/libubsan become its NEEDED)
override CFLAGS += $(SANITIZE_FLAGS)
SHLIB_LINK += $(SANITIZE_FLAGS)

# iosatd and iosat-bpfstat: src/bpf/bpf.mk compiles and links in one command
# with $(IOSATD_CFLAGS); IOSATD_CFLAGS_EXTRA is there for more flags
IOSATD_CFLAGS += $(SANITIZE_FLAGS) $(IOSATD_CFLAGS_EXTRA)

# (the LLVM bitcode PGXS builds for JIT inlining is compiled by clang
# without these flags; test/sanitize.sh runs the server with jit = off)

endif
