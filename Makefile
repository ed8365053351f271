# rnnc — build, test and demo.
#
#   make            build/rnnc and build/librnnrt.a (+ the public headers in build/include)
#   make demo       the main job: compile the seed specs, train lstm2 (interpreter, then generated)
#   make check      the fast tier, for every change (under a minute on 2 cores):
#                   check-generated, the Criterion and finite-difference suites, and
#                   tests/selftest.sh on three specs (CHECK_SPECS)
#   make test       the whole test suite (all of make check, every tests/*.sh, gcc build)
#   make test-asan  the same under AddressSanitizer + UndefinedBehaviorSanitizer
#   make test-interop  rnnc against TensorFlow.js (npm) and h5py (see interop below)
#   make deps       install missing Debian packages (as root), else print the command
#   make fixtures   regenerate the PyTorch oracle fixtures (needs python3-torch)
#
# Clang is the default compiler; CC=gcc works too. Sanitizer builds go to build/asan.

CC      ?= clang
ifeq ($(origin CC),default)
CC      := clang
endif
BUILD   ?= build
OPT     ?= -O2 -g
WARN    := -std=c17 -Wall -Wextra -Wpedantic -Werror
CPPFLAGS_RT := -Iruntime -D_POSIX_C_SOURCE=200809L
CFLAGS  ?=
SAN     ?=
ALL_CFLAGS = $(WARN) $(OPT) $(SAN) $(CFLAGS)

# Flags of the Debian packages, computed when a recipe first uses them (then kept):
# by then the dependency stamp below has installed the packages. Read when the Makefile
# is parsed, they would be empty on a fresh machine for the whole run.
lazy = $(eval $1 := $$(shell $2))$($1)
LUA_CFLAGS  = $(call lazy,LUA_CFLAGS,pkg-config --cflags lua5.4 2>/dev/null)
LUA_LIBS    = $(call lazy,LUA_LIBS,pkg-config --libs lua5.4 2>/dev/null || echo -llua5.4)
CRIT_CFLAGS = $(call lazy,CRIT_CFLAGS,pkg-config --cflags criterion 2>/dev/null)
CRIT_LIBS   = $(call lazy,CRIT_LIBS,pkg-config --libs criterion 2>/dev/null || echo -lcriterion)
MPI_CFLAGS  = $(call lazy,MPI_CFLAGS,mpicc --showme:compile 2>/dev/null)

# runtime/mpi/ goes into librnnrt_mpi.a alone: only `rnnc --mpi` trainers link MPI.
RT_SRC   := $(sort $(filter-out runtime/mpi/%,$(shell find runtime -name '*.c')))
MPI_SRC  := $(sort $(wildcard runtime/mpi/*.c))
MPI_OBJ  := $(MPI_SRC:%.c=$(BUILD)/obj/%.o)
RT_OBJ   := $(RT_SRC:%.c=$(BUILD)/obj/%.o)
RT_HDR   := $(sort $(shell find runtime -name '*.h'))
CC_SRC   := $(sort $(wildcard compiler/*.c compiler/layers/*.c))
CC_OBJ   := $(CC_SRC:%.c=$(BUILD)/obj/%.o)
CC_HDR   := $(sort $(wildcard compiler/*.h compiler/layers/*.h))
TEST_SRC := $(sort $(wildcard tests/test_*.c))
TEST_OBJ := $(TEST_SRC:%.c=$(BUILD)/obj/%.o)
# The finite-difference suite builds the runtime core and reference in double.
FD_RT_SRC  := $(sort $(wildcard runtime/core/*.c runtime/model/*.c runtime/layers/*.c runtime/reference/*.c))
FD_SRC     := $(sort $(wildcard tests/fd/*.c))
FD_OBJ     := $(FD_RT_SRC:%.c=$(BUILD)/obj-double/%.o) $(FD_SRC:%.c=$(BUILD)/obj-double/%.o)

SPECS    := $(sort $(wildcard specs/*.lua))
# The headers a generated file and a user of librnnrt include (installed by make install).
PUBLIC_HDRS := rnnrt.h rnn_arch.h rnn_fastmath.h rnn_isa.h rnn_lanes.h rnn_kernels.h rnn_gemm.h rnn_gen.h rnn_interop.h rnn_mpi.h
INC_HDRS    := $(PUBLIC_HDRS:%=$(BUILD)/include/%)

.PHONY: all deps demo check test test-unit test-fd test-shell test-asan check-gcc check-generated regen fixtures clean
all: $(BUILD)/rnnc $(BUILD)/librnnrt.a $(BUILD)/librnnrt_mpi.a $(INC_HDRS)

# ---- dependencies ---------------------------------------------------------------
# Every Debian package that building, `make demo` and `make test` use: the compilers
# (clang by default; gcc for the gcc build and the lane tests), Lua and Criterion,
# binutils (nm), python3 (test scripts), valgrind, man-db (the man pages render), Open MPI
# (mpicc and mpirun: `rnnc --mpi` trainers and tests/mpi.sh).
DEBIAN_PKGS := make clang gcc binutils libc6-dev pkg-config lua5.4 liblua5.4-dev libcriterion-dev \
               python3 valgrind man-db libhdf5-dev openmpi-bin libopenmpi-dev
# Only for the targets that say so: make fuzz, make fresh-check.
FUZZ_PKGS   := libclang-rt-14-dev
FRESH_PKGS  := mmdebstrap
deps:
	@tools/deps.sh $(DEBIAN_PKGS)
	@tools/deps.sh $(SHIP_PKGS)
# The stamp's name holds the list, so a longer list installs again.
DEPS_OK := $(BUILD)/.deps-$(shell echo $(DEBIAN_PKGS) | cksum | cut -d' ' -f1)
$(DEPS_OK): tools/deps.sh
	@tools/deps.sh --check-or-install $(DEBIAN_PKGS)
	@mkdir -p $(BUILD) && rm -f $(BUILD)/.deps-* && touch $@

# ---- library and compiler -------------------------------------------------------
$(BUILD)/obj/runtime/%.o: runtime/%.c $(RT_HDR) | $(DEPS_OK)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(CPPFLAGS_RT) -c $< -o $@

# Keras's HDF5 weights (runtime/interop/hdf5.c) use Debian's libhdf5, opened with dlopen
# at run time, so trainers link as before: HDF5=auto (default) builds it when
# libhdf5-dev's headers are there, HDF5=1 requires them, HDF5=0 leaves it out.
HDF5 ?= auto
HDF5_CFLAGS = $(call lazy,HDF5_CFLAGS,tools/hdf5_flags.sh $(HDF5))
$(BUILD)/obj/runtime/interop/hdf5.o: ALL_CFLAGS += $(HDF5_CFLAGS)

# The optimizer's sqrt never sees a negative argument and nobody reads errno after it;
# without errno, sqrt is one instruction and the update loops vectorize.
$(BUILD)/obj/runtime/core/optim.o: ALL_CFLAGS += -fno-math-errno

$(BUILD)/obj/compiler/%.o: compiler/%.c $(CC_HDR) $(RT_HDR) | $(DEPS_OK)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(CPPFLAGS_RT) -Icompiler $(LUA_CFLAGS) -c $< -o $@

$(BUILD)/librnnrt.a: $(RT_OBJ)
	@rm -f $@
	ar rcs $@ $^

# The MPI reducer: $(CC) with mpicc's flags, so that the library is the same compiler's.
$(BUILD)/obj/runtime/mpi/%.o: runtime/mpi/%.c $(RT_HDR) | $(DEPS_OK)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(CPPFLAGS_RT) $(MPI_CFLAGS) -c $< -o $@

$(BUILD)/librnnrt_mpi.a: $(MPI_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/include/%.h: runtime/%.h
	@mkdir -p $(dir $@)
	cp $< $@

$(BUILD)/rnnc: $(CC_OBJ) $(BUILD)/librnnrt.a
	$(CC) $(ALL_CFLAGS) $(CC_OBJ) $(BUILD)/librnnrt.a $(LUA_LIBS) -lm -o $@

# ---- tests ----------------------------------------------------------------------
$(BUILD)/obj/tests/%.o: tests/%.c $(RT_HDR) $(CC_HDR) $(wildcard tests/*.h) | $(DEPS_OK)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(CPPFLAGS_RT) -Itests -Icompiler $(CRIT_CFLAGS) -DRNNC_BUILD_DIR='"$(BUILD)"' -c $< -o $@

# the compiler's stages without its command line, for the unit tests of the code generator
$(BUILD)/librnnc.a: $(filter-out $(BUILD)/obj/compiler/main.o,$(CC_OBJ))
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/test_unit: $(TEST_OBJ) $(BUILD)/librnnc.a $(BUILD)/librnnrt.a
	$(CC) $(ALL_CFLAGS) $(TEST_OBJ) $(BUILD)/librnnc.a $(BUILD)/librnnrt.a $(CRIT_LIBS) $(LUA_LIBS) -lm -o $@

$(BUILD)/obj-double/%.o: %.c $(RT_HDR) $(wildcard tests/*.h tests/fd/*.h) | $(DEPS_OK)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(CPPFLAGS_RT) -Itests $(CRIT_CFLAGS) -DRNN_DOUBLE -c $< -o $@

$(BUILD)/test_fd: $(FD_OBJ)
	$(CC) $(ALL_CFLAGS) $(FD_OBJ) $(CRIT_LIBS) -lm -o $@

test-unit: $(BUILD)/test_unit $(BUILD)/rnnc
	$(BUILD)/test_unit --jobs 2

test-fd: $(BUILD)/test_fd
	@if [ -n "$(FD_SRC)" ]; then $(BUILD)/test_fd --jobs 2; fi

# every tests/*.sh but tests/lib.sh, which they source: as many at a time as there are
# cores (TEST_JOBS=1 one by one), each one's output in $(BUILD)/test-logs/
test-shell: $(BUILD)/rnnc cross
	@BUILD=$(BUILD) tools/run_shell_tests.sh

test: all
	@$(MAKE) --no-print-directory check-generated test-unit test-fd test-shell check-gcc

# The fast tier: test-shell's selftest.sh runs every spec, this a few.
CHECK_SPECS := specs/gru.lua specs/lstm2.lua specs/simplernn.lua
check: all
	@$(MAKE) --no-print-directory check-generated test-unit test-fd
	@echo "== tests/selftest.sh ($(CHECK_SPECS))"; SELFTEST_SPECS="$(CHECK_SPECS)" BUILD=$(BUILD) bash tests/selftest.sh

# generated/ holds what rnnc emits for every spec; `make regen` rewrites it and the
# test fails when the committed copy differs (the emitter must be deterministic and
# its output reviewed like any other change).
GEN_FILES := $(SPECS:specs/%.lua=generated/%.c)
regen: $(BUILD)/rnnc
	@for s in $(SPECS); do n=$$(basename $$s .lua); $(BUILD)/rnnc $$s -o generated/$$n.c || exit 1; done
	@echo "regen: generated/ rewritten from specs/"

check-generated: $(BUILD)/rnnc $(INC_HDRS)
	@tmp=$$(mktemp -d); status=0; \
	for s in $(SPECS); do n=$$(basename $$s .lua); \
	  $(BUILD)/rnnc $$s -o $$tmp/$$n.c || status=1; \
	  if ! cmp -s $$tmp/$$n.c generated/$$n.c; then \
	    echo "check-generated: generated/$$n.c differs from what rnnc emits now (run make regen and review)"; status=1; fi; \
	  for c in clang gcc; do command -v $$c > /dev/null || continue; \
	    $$c -std=c17 -Wall -Wextra -Wpedantic -Werror -O2 -fsyntax-only -I$(BUILD)/include $$tmp/$$n.c || status=1; done; \
	  if [ "$$(uname -m)" = x86_64 ]; then for l in 1:x86-64 4:x86-64-v4; do \
	    clang -std=c17 -Wall -Wextra -Wpedantic -Werror -O2 -fsyntax-only -march=$${l#*:} -DRNN_ISA_LEVEL=$${l%%:*} \
	      -I$(BUILD)/include $$tmp/$$n.c || status=1; done; fi; \
	done; rm -rf $$tmp; \
	if [ $$status -eq 0 ]; then echo "check-generated: generated/ matches the emitter for $(words $(SPECS)) specs"; fi; exit $$status

# The code must also build warning-free with gcc (-Werror is on): compile everything.
check-gcc:
	@if command -v gcc >/dev/null; then \
	  $(MAKE) --no-print-directory -s BUILD=$(BUILD)/gcc CC=gcc all $(BUILD)/gcc/test_unit $(BUILD)/gcc/test_fd \
	  && echo "check-gcc: gcc build is warning-free"; \
	else echo "check-gcc: gcc not installed, skipped"; fi

test-asan:
	$(MAKE) BUILD=build/asan OPT='-O1 -g -fno-omit-frame-pointer' \
	  SAN='-fsanitize=address,undefined -fno-sanitize-recover=all' test

# ---- interop --------------------------------------------------------------------
#   make test-interop   rnnc against the real TensorFlow.js (npm @tensorflow/tfjs 4.22.0,
#                  installed into ~/.cache/rnnc/npm when missing; RNNC_NPM_CACHE moves it)
#                  and Keras's HDF5 layout as Debian's h5py reads it
#                  (tests/interop/tfjs.sh; tests/interop.sh, in make test, needs no peer)
INTEROP_PKGS := python3-h5py python3-numpy
.PHONY: test-interop
test-interop: all
	@tools/deps.sh --check-or-install $(INTEROP_PKGS)
	@command -v node > /dev/null && command -v npm > /dev/null || tools/deps.sh --check-or-install nodejs npm
	@BUILD=$(BUILD) bash tests/interop/tfjs.sh

# ---- demo -----------------------------------------------------------------------
demo: all
	@BUILD=$(BUILD) tools/demo.sh

# The README's two commands, `make demo` then `make test`, in a bare Debian 12 root built
# with mmdebstrap from a clone of HEAD (needs root; tools/fresh_check.sh).
.PHONY: fresh-check
fresh-check:
	@FRESH_PKGS="$(FRESH_PKGS)" tools/fresh_check.sh $(FRESH_ARGS)

fixtures:
	/usr/bin/python3 tools/make_fixtures.py tests/fixtures

clean:
	rm -rf build

# ---- install --------------------------------------------------------------------
#   make install   [PREFIX=/usr/local] [DESTDIR=stage]   rnnc, librnnrt, headers,
#                  pkg-config file, man pages (rnnc.1, rnnc-spec.5)
#   make uninstall [PREFIX=...] [DESTDIR=...]             removes exactly those files
# An installed rnnc finds its runtime at ../lib and ../include from its own binary,
# so a staged (DESTDIR) or relocated tree still works. PREFIX goes into rnnrt.pc and
# must be absolute.
PREFIX  ?= /usr/local
DESTDIR ?=
INSTALL_HDRS := $(PUBLIC_HDRS:%=runtime/%)
RNN_VERSION_STR = $(shell sed -n 's/^.define RNN_VERSION "\([^"]*\)".*/\1/p' runtime/rnnrt.h)
INSTALLED = $(PREFIX)/bin/rnnc $(PREFIX)/lib/librnnrt.a $(PREFIX)/lib/librnnrt_mpi.a $(PREFIX)/lib/pkgconfig/rnnrt.pc \
             $(PREFIX)/share/man/man1/rnnc.1 $(PREFIX)/share/man/man5/rnnc-spec.5 \
             $(INSTALL_HDRS:runtime/%=$(PREFIX)/include/%) $(CROSS_TARGETS:%=$(PREFIX)/lib/%/librnnrt.a) \
             $(PREFIX)/lib/cmake/rnnc/rnncConfig.cmake $(PREFIX)/lib/cmake/rnnc/rnncConfigVersion.cmake

.PHONY: install uninstall
install: all cross
	@case "$(PREFIX)" in /*) ;; *) echo "make install: PREFIX must be an absolute path (got '$(PREFIX)')" >&2; exit 2;; esac
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@VERSION@|$(RNN_VERSION_STR)|g' tools/rnnrt.pc.in > $(BUILD)/rnnrt.pc
	install -D -m 755 $(BUILD)/rnnc "$(DESTDIR)$(PREFIX)/bin/rnnc"
	install -D -m 644 $(BUILD)/librnnrt.a "$(DESTDIR)$(PREFIX)/lib/librnnrt.a"
	install -D -m 644 $(BUILD)/librnnrt_mpi.a "$(DESTDIR)$(PREFIX)/lib/librnnrt_mpi.a"
	install -D -m 644 $(BUILD)/rnnrt.pc "$(DESTDIR)$(PREFIX)/lib/pkgconfig/rnnrt.pc"
	install -D -m 644 docs/rnnc.1 "$(DESTDIR)$(PREFIX)/share/man/man1/rnnc.1"
	install -D -m 644 docs/rnnc-spec.5 "$(DESTDIR)$(PREFIX)/share/man/man5/rnnc-spec.5"
	install -d -m 755 "$(DESTDIR)$(PREFIX)/include"
	install -m 644 $(INSTALL_HDRS) "$(DESTDIR)$(PREFIX)/include/"
	for t in $(CROSS_TARGETS); do install -D -m 644 $(BUILD)/$$t/librnnrt.a "$(DESTDIR)$(PREFIX)/lib/$$t/librnnrt.a" || exit 1; done
	sed -e 's|@VERSION@|$(RNN_VERSION_STR)|g' tools/rnncConfigVersion.cmake.in > $(BUILD)/rnncConfigVersion.cmake
	install -D -m 644 tools/rnncConfig.cmake "$(DESTDIR)$(PREFIX)/lib/cmake/rnnc/rnncConfig.cmake"
	install -D -m 644 $(BUILD)/rnncConfigVersion.cmake "$(DESTDIR)$(PREFIX)/lib/cmake/rnnc/rnncConfigVersion.cmake"

uninstall:
	rm -f $(foreach f,$(INSTALLED),"$(DESTDIR)$(f)")

# ---- shipping: cross runtimes and the tools their tests use ----------------------
#   make cross    the runtime for each of CROSS_TARGETS, cross-built with clang --target
#                 against Debian's cross libc: $(BUILD)/TRIPLE/librnnrt.a, which
#                 `rnnc SPEC -o T --target TRIPLE` links (make install puts it in lib/TRIPLE/)
# SHIP_PKGS: the cross toolchains (libc, crt files, linker), qemu-user for the cross
# trainers and qemu-system-arm for the Cortex-M predictor, the Cortex-M toolchain with
# newlib, and cmake (tests/shipping.sh, tests/freestanding.sh, tests/examples.sh).
# `make deps` installs them; `make cross` and `make test` install what is missing.
CROSS_TARGETS := aarch64-linux-gnu s390x-linux-gnu
SHIP_PKGS := gcc-aarch64-linux-gnu libc6-dev-arm64-cross gcc-s390x-linux-gnu libc6-dev-s390x-cross \
             qemu-user-static gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm cmake
SHIP_OK := $(BUILD)/.ship-$(shell echo $(SHIP_PKGS) | cksum | cut -d' ' -f1)
$(SHIP_OK): tools/deps.sh | $(DEPS_OK)
	@tools/deps.sh --check-or-install $(SHIP_PKGS)
	@mkdir -p $(BUILD) && rm -f $(BUILD)/.ship-* && touch $@

.PHONY: cross
cross: $(CROSS_TARGETS:%=$(BUILD)/%/librnnrt.a)

# The runtime's sources for one target (no sanitizers: its programs run under qemu; no
# HDF5, whose headers are the host's).
define cross_runtime
$(BUILD)/$1/obj/%.o: runtime/%.c $(RT_HDR) | $(SHIP_OK)
	@mkdir -p $$(dir $$@)
	clang --target=$1 $(WARN) $(OPT) $(CPPFLAGS_RT) $$(CROSS_FLAGS) -c $$< -o $$@
$(BUILD)/$1/obj/core/optim.o: CROSS_FLAGS := -fno-math-errno
$(BUILD)/$1/librnnrt.a: $(RT_SRC:runtime/%.c=$(BUILD)/$1/obj/%.o)
	@rm -f $$@
	$1-ar rcs $$@ $$^
endef
$(foreach t,$(CROSS_TARGETS),$(eval $(call cross_runtime,$t)))
# ---- end shipping ---------------------------------------------------------------

# ---- bench ----------------------------------------------------------------------
#   make bench        seconds per training epoch: generated trainer vs interpreter vs
#                     PyTorch (Debian's /usr/bin/python3 with python3-torch on OpenBLAS),
#                     one thread each, same data; writes $(BUILD)/bench/results.json; then
#                     the size sweep (bench/sweep.py: LSTM/GRU/SimpleRNN with 8..512 units
#                     vs PyTorch, GFLOP/s against the FMA peak, two threads, compile time),
#                     writes $(BUILD)/bench/sweep.json (bench/README.md)
#   make bench BENCH_ARGS=--quick     a smoke run of both (BENCH_ARGS go to bench.py;
#                     of them only --quick to sweep.py, whose own options are SWEEP_ARGS)
#   make bench-sweep [SWEEP_ARGS=...]  the sweep alone
# The Debian packages the benchmarks need besides DEBIAN_PKGS: PyTorch and numpy for
# Debian's python3, OpenBLAS (it takes over the libblas.so.3 alternative, which torch
# links, from the netlib reference BLAS), GNU time (max RSS). Installed when missing.
BENCH_PKGS := python3-torch python3-numpy libopenblas0-pthread time
BENCH_ARGS ?=
SWEEP_ARGS ?=
.PHONY: bench bench-sweep bench-deps
bench-deps: | $(DEPS_OK)
	@tools/deps.sh --check-or-install $(BENCH_PKGS)
bench: all bench-deps
	/usr/bin/python3 bench/bench.py --build $(BUILD) $(BENCH_ARGS)
	/usr/bin/python3 bench/sweep.py --build $(BUILD) $(filter --quick,$(BENCH_ARGS)) $(SWEEP_ARGS)
bench-sweep: all bench-deps
	/usr/bin/python3 bench/sweep.py --build $(BUILD) $(SWEEP_ARGS)
#   make bench-compare [BASE=rev] [COMPARE_ARGS=--quick]   the generated trainers of the
#                     working tree vs those of git revision BASE (default HEAD: the
#                     uncommitted changes), built in $(BUILD)/bench/compare; one thread,
#                     interleaved, medians, current/base within 3%?, weights identical?
#                     writes $(BUILD)/bench/compare.json (bench/README.md)
BASE ?= HEAD
COMPARE_ARGS ?=
.PHONY: bench-compare
bench-compare: all
	/usr/bin/python3 bench/compare.py --no-make --build $(BUILD) --base '$(BASE)' $(COMPARE_ARGS)
#   make bench-isa [ISA_ARGS=--quick]   the default trainer (every x86-64 level, the best
#                     picked at start-up) vs --march native, interleaved, one thread;
#                     levels/native within 5%? weights identical? (bench/isa.py; writes
#                     $(BUILD)/bench/isa.json)
ISA_ARGS ?=
.PHONY: bench-isa
bench-isa: all
	/usr/bin/python3 bench/isa.py --build $(BUILD) $(ISA_ARGS)
# ---- end bench ------------------------------------------------------------------
# ---- fuzz -----------------------------------------------------------------------
#   make fuzz [FUZZ_SECONDS=60]   build the libFuzzer harnesses of tests/fuzz with clang
#                  (ASan + UBSan) into $(BUILD)/fuzz and run each for FUZZ_SECONDS on a
#                  copy of its seed corpus ($(BUILD)/fuzz/corpus-NAME, kept between
#                  runs); crash inputs go to $(BUILD)/fuzz/artifacts-NAME/, logs to
#                  $(BUILD)/fuzz/NAME.log; the input file of each run is in /dev/shm when
#                  it can be (3x the executions). Prints the executions of each harness.
#   make fuzz-regress   replay tests/fuzz/regressions/NAME/ and the seed corpora through
#                  the same harness entry points without libFuzzer (tests/fuzz_regress.sh
#                  runs it in make test)
FUZZ_SECONDS ?= 60
FUZZ_NAMES   := spec npy safetensors text
FUZZ_DIR     := $(BUILD)/fuzz
FUZZ_LIB     := $(FUZZ_DIR)/lib
FUZZ_OPT     := -O1 -g -fno-omit-frame-pointer
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=all
FUZZ_CPP      = $(CPPFLAGS_RT) -Icompiler -Itests/fuzz $(LUA_CFLAGS)
FUZZ_HDR     := tests/fuzz/fuzz_util.h $(RT_HDR) $(CC_HDR)
# the compiler's in-process spec evaluation, without main.c and the code generator
FUZZ_CC_PARTS := $(filter-out main build,$(patsubst compiler/%.c,%,$(CC_SRC)))
FUZZ_BINS    := $(FUZZ_NAMES:%=$(FUZZ_DIR)/fuzz_%)
FUZZ_REPLAYS := $(FUZZ_NAMES:%=$(FUZZ_DIR)/replay-%)

.PHONY: fuzz fuzz-build fuzz-regress
fuzz-build:
	@tools/deps.sh --check-or-install $(FUZZ_PKGS)
	@$(MAKE) --no-print-directory -s BUILD=$(FUZZ_LIB) CC=clang OPT='$(FUZZ_OPT)' \
	  SAN='-fsanitize=fuzzer-no-link $(FUZZ_SAN)' CFLAGS= \
	  $(FUZZ_LIB)/librnnrt.a $(FUZZ_CC_PARTS:%=$(FUZZ_LIB)/obj/compiler/%.o)
	@$(MAKE) --no-print-directory -s $(FUZZ_BINS)

$(FUZZ_DIR)/fuzz_spec: FUZZ_EXTRA = $(FUZZ_CC_PARTS:%=$(FUZZ_LIB)/obj/compiler/%.o)
$(FUZZ_DIR)/fuzz_spec: FUZZ_LIBS = $(LUA_LIBS)
$(FUZZ_DIR)/fuzz_spec: $(FUZZ_CC_PARTS:%=$(FUZZ_LIB)/obj/compiler/%.o)
$(FUZZ_DIR)/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_HDR) $(FUZZ_LIB)/librnnrt.a
	@mkdir -p $(dir $@)
	clang $(WARN) $(FUZZ_OPT) -fsanitize=fuzzer $(FUZZ_SAN) $(FUZZ_CPP) $< $(FUZZ_EXTRA) \
	  $(FUZZ_LIB)/librnnrt.a $(FUZZ_LIBS) -lm -o $@

fuzz: fuzz-build
	@status=0; for n in $(FUZZ_NAMES); do \
	  c=$(FUZZ_DIR)/corpus-$$n; a=$(FUZZ_DIR)/artifacts-$$n; mkdir -p $$c $$a; \
	  cp tests/fuzz/corpus/$$n/* $$c/; \
	  if [ -d tests/fuzz/regressions/$$n ]; then cp tests/fuzz/regressions/$$n/* $$c/; fi; \
	  t=$${TMPDIR:-/tmp}; if [ -d /dev/shm ] && [ -w /dev/shm ]; then t=/dev/shm; fi; \
	  TMPDIR=$$t $(FUZZ_DIR)/fuzz_$$n -max_total_time=$(FUZZ_SECONDS) -timeout=20 -rss_limit_mb=2560 \
	    -max_len=8192 -print_final_stats=1 -artifact_prefix=$$a/ $$c >$(FUZZ_DIR)/$$n.log 2>&1; rc=$$?; \
	  execs=$$(sed -n 's/^stat::number_of_executed_units: *//p' $(FUZZ_DIR)/$$n.log | tail -n 1); \
	  if [ $$rc -eq 0 ]; then \
	    echo "fuzz: $$n: $${execs:-?} executions in $(FUZZ_SECONDS) s, corpus $$(ls $$c | wc -l) inputs, no crash"; \
	  else status=1; \
	    echo "fuzz: $$n: FAILED after $${execs:-?} executions (exit $$rc); see $(FUZZ_DIR)/$$n.log and $$a/"; \
	    grep -m 3 -E 'ERROR|SUMMARY|fuzz check failed|Test unit written' $(FUZZ_DIR)/$$n.log; fi; \
	done; exit $$status

# replay runners: the same harness files, built like the test suite (make test-asan
# builds them with the sanitizers), driven by tests/fuzz/replay.c instead of libFuzzer
$(FUZZ_DIR)/replay-spec: FUZZ_EXTRA = $(FUZZ_CC_PARTS:%=$(BUILD)/obj/compiler/%.o)
$(FUZZ_DIR)/replay-spec: FUZZ_LIBS = $(LUA_LIBS)
$(FUZZ_DIR)/replay-spec: $(FUZZ_CC_PARTS:%=$(BUILD)/obj/compiler/%.o)
$(FUZZ_DIR)/replay-%: tests/fuzz/fuzz_%.c tests/fuzz/replay.c $(FUZZ_HDR) $(BUILD)/librnnrt.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(FUZZ_CPP) $< tests/fuzz/replay.c $(FUZZ_EXTRA) $(BUILD)/librnnrt.a $(FUZZ_LIBS) -lm -o $@

fuzz-regress: $(FUZZ_REPLAYS)
	@for n in $(FUZZ_NAMES); do r=tests/fuzz/regressions/$$n; [ -d $$r ] || r=; \
	  $(FUZZ_DIR)/replay-$$n tests/fuzz/corpus/$$n $$r || exit 1; done
# make fuzz also runs tests/accepted.sh on 1000 near-valid specs
.PHONY: fuzz-accepted
fuzz: fuzz-accepted
fuzz-accepted: all
	ACCEPTED_N=1000 BUILD=$(BUILD) bash tests/accepted.sh
# ---- end fuzz -------------------------------------------------------------------
