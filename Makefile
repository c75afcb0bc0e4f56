# gfnbench - a plain Makefile.
#   make            build ./gfnbench (installs missing Debian packages first)
#   make test       build and run the whole CUnit suite
#   make test-reference  a fresh run of experiments/ci_reference.yaml against its committed
#                   results (results/reference/ci_reference, gfnbench compare); about 15 s
#   make update-reference  rewrite those committed results from a fresh run
#   make test-bad   the hostile-input suite alone (tests/bad/run.sh; part of make test)
#   make fuzz       libFuzzer harnesses of tests/fuzz/ (clang; in build-fuzz/), each run
#                   FUZZ_SECONDS (default 10) on its seed corpus tests/fuzz/corpus/NAME/
#   make test-slurm gfnbench slurm on a one-node Slurm cluster started here (tests/slurm/run.sh:
#                   installs slurm-wlm and munge when missing; root; about 1.5 min)
#   make sanitize   the suite under AddressSanitizer and UBSan (in build-san/)
#   make run        the main job: experiments/quick.yaml, tables and figures
#   make bench      benchmarks (speed is measured here, never in tests)
#   make check-readme  README's recipes (objective, task, metric) built and tested in a scratch tree
#   make install    PREFIX=/usr/local DESTDIR=: the binary, the data and the man page
#   make clean
# Knobs: OPT (optimisation), SAN (sanitizer flags), BLAS_LIBS, CFLAGS/LDFLAGS (added last).

CC ?= cc
OPT ?= -O2 -g
SAN ?=
BUILD ?= build
BLAS_LIBS ?= -lopenblas
WARN = -std=c11 -Wall -Wextra -Wshadow -Wpointer-arith -Wstrict-prototypes \
       -Wmissing-prototypes -Wformat=2 -Wno-format-nonliteral
PREFIX ?= /usr/local
DEFS = -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -DGFN_DATA_DIR='"$(CURDIR)/data"' \
       -DGFN_SHARE_DATA_DIR='"$(PREFIX)/share/gfnbench/data"'
# Recursive (=) on purpose: on a fresh machine pkg-config and the libraries only
# exist after the $(DEPS_OK) step has installed them, so the flags must be asked
# for when a recipe runs, not when the Makefile is read.
PKG_CFLAGS = $(shell pkg-config --cflags gsl yaml-0.1 cunit 2>/dev/null)
GSL_LIBS = $(filter-out -lgslcblas,$(shell pkg-config --libs gsl 2>/dev/null || echo -lgsl -lm))
PKG_LIBS = $(GSL_LIBS) $(BLAS_LIBS) $(shell pkg-config --libs yaml-0.1 2>/dev/null || echo -lyaml) \
           -lm -lpthread
CUNIT_LIBS = $(shell pkg-config --libs cunit 2>/dev/null || echo -lcunit)
# Sources are found by folder: every .c under environments/, algorithms/ and harness/
# (harness/cli/main.c is the program's entry point); every folder is on the include path.
SRC_DIRS := $(shell find environments algorithms harness -type d | LC_ALL=C sort)
INC = $(addprefix -I,$(SRC_DIRS))
ALL_CFLAGS = $(WARN) $(OPT) $(SAN) $(DEFS) $(INC) $(PKG_CFLAGS) $(CFLAGS)
ALL_LDFLAGS = $(SAN) $(LDFLAGS)

LIB_SRC := $(filter-out harness/cli/main.c,$(foreach d,$(SRC_DIRS),$(wildcard $(d)/*.c)))
TEST_SRC := $(wildcard tests/*.c)
LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/%.o)
TEST_OBJ := $(TEST_SRC:%.c=$(BUILD)/%.o)
DEPS_OK := $(BUILD)/.deps-ok

.PHONY: all test test-bad fuzz test-reference test-slurm update-reference sanitize run bench clean deps FORCE
all: gfnbench

deps: $(DEPS_OK)
$(DEPS_OK):
	@sh .ci/deps
	@mkdir -p $(BUILD) && touch $@

$(BUILD)/%.o: %.c | $(DEPS_OK)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/libgfn.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/gfnbench: $(BUILD)/harness/cli/main.o $(BUILD)/libgfn.a
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS)

gfnbench: $(BUILD)/gfnbench
	@cp $< $@.tmp && mv -f $@.tmp $@

$(BUILD)/bench_gbtree: $(BUILD)/bench/bench_gbtree.o $(BUILD)/libgfn.a
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS)

$(BUILD)/bench_nn: $(BUILD)/bench/bench_nn.o $(BUILD)/libgfn.a
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS)

$(BUILD)/bench_exact: $(BUILD)/bench/bench_exact.o $(BUILD)/libgfn.a
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS)

$(BUILD)/check_torch: $(BUILD)/bench/check_torch.o $(BUILD)/libgfn.a
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS)

# Every tests/*.c defines `void gfn_test_suite_NAME(void)`; the runner calls them all.
$(BUILD)/tests/suites.gen.h: $(TEST_SRC) | $(DEPS_OK)
	@mkdir -p $(dir $@)
	@grep -ho '^void gfn_test_suite_[a-z0-9_]*' $(TEST_SRC) | sed 's/^void //' | sort -u | \
	  awk '{print "GFN_SUITE(" $$1 ")"}' > $@.tmp && mv $@.tmp $@

$(BUILD)/tests/test_main.o: $(BUILD)/tests/suites.gen.h
$(BUILD)/tests/test_main.o: ALL_CFLAGS += -I$(BUILD)/tests

# run.txt records the flags and the commit each run was built with.  The commit
# header is rewritten only when its text changes ("-dirty": uncommitted changes).
$(BUILD)/harness/experiment/runner.o $(BUILD)/harness/cli/main.o: \
  ALL_CFLAGS += -DGFN_BUILD_CFLAGS='"$(strip $(OPT) $(SAN) $(DEFS) $(CFLAGS))"' -I$(BUILD)
$(BUILD)/harness/experiment/runner.o $(BUILD)/harness/cli/main.o: $(BUILD)/build_commit.gen.h
$(BUILD)/build_commit.gen.h: FORCE | $(DEPS_OK)
	@c=$$(git rev-parse HEAD 2>/dev/null || echo unknown); \
	  if [ "$$c" != unknown ] && ! git diff --quiet HEAD -- 2>/dev/null; then c="$$c-dirty"; fi; \
	  echo "#define GFN_BUILD_COMMIT \"$$c\"" > $@.tmp; \
	  if cmp -s $@.tmp $@; then rm -f $@.tmp; else mv -f $@.tmp $@; fi
FORCE:

$(BUILD)/gfnbench_tests: $(TEST_OBJ) $(BUILD)/libgfn.a
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(CUNIT_LIBS) $(PKG_LIBS)

test: $(BUILD)/gfnbench_tests gfnbench $(BUILD)/ckpt_tool
	./$(BUILD)/gfnbench_tests
	sh tests/bad/run.sh $(BUILD)

# The hostile-input suite: tests/bad/cases.tsv run against ./$(BUILD)/gfnbench;
# checkpoints through $(BUILD)/ckpt_tool (the loader training runs continue through).
test-bad: $(BUILD)/gfnbench $(BUILD)/ckpt_tool
	sh tests/bad/run.sh $(BUILD)

$(BUILD)/tests/bad/ckpt_tool.o: ALL_CFLAGS += -Itests/fuzz
$(BUILD)/ckpt_tool: $(BUILD)/tests/bad/ckpt_tool.o $(BUILD)/libgfn.a
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS)

# Fuzzing (issue 12): every tests/fuzz/fuzz_NAME.c is a libFuzzer harness, built with
# Debian's clang (installed here when missing: it is too big for .ci/deps) against a
# library compiled with -fsanitize=fuzzer-no-link,address,undefined in build-fuzz/.
FUZZ_SECONDS ?= 10
FUZZ_SAN = -fsanitize=address,undefined -fno-sanitize-recover=undefined
FUZZ_NAMES := $(patsubst tests/fuzz/fuzz_%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
fuzz:
	@command -v clang >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then echo "make fuzz: installing clang"; export DEBIAN_FRONTEND=noninteractive; \
	    apt-get update -qq && apt-get install -y -qq clang >/dev/null || exit 1; \
	  else echo "make fuzz: needs clang; run:  sudo apt-get install -y clang" >&2; exit 1; fi; }
	$(MAKE) BUILD=build-fuzz CC=clang OPT="-O1 -g -fno-omit-frame-pointer" \
	  SAN="$(FUZZ_SAN) -fsanitize=fuzzer-no-link" $(FUZZ_NAMES:%=build-fuzz/fuzz_%)
	@sh tests/fuzz/run.sh build-fuzz $(FUZZ_SECONDS) $(FUZZ_NAMES)

$(BUILD)/tests/fuzz/%.o: ALL_CFLAGS += -Itests/fuzz
$(BUILD)/fuzz_%: $(BUILD)/tests/fuzz/fuzz_%.o $(BUILD)/libgfn.a
	$(CC) $(ALL_LDFLAGS) -fsanitize=fuzzer -o $@ $^ $(PKG_LIBS)

test-reference: gfnbench
	sh tests/reference.sh check

test-slurm: gfnbench
	bash tests/slurm/run.sh

update-reference: gfnbench
	sh tests/reference.sh update

sanitize:
	$(MAKE) BUILD=build-san OPT="-O1 -g -fno-omit-frame-pointer" \
	  SAN="-fsanitize=address,undefined -fno-sanitize-recover=undefined" build-san/gfnbench_tests
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 ./build-san/gfnbench_tests

run: gfnbench
	./gfnbench run experiments/quick.yaml

bench: gfnbench
	@sh bench/run.sh

clean:
	rm -rf build build-san build-fuzz gfnbench

-include $(LIB_OBJ:.o=.d) $(TEST_OBJ:.o=.d) $(BUILD)/harness/cli/main.d \
  $(BUILD)/tests/bad/ckpt_tool.d $(wildcard $(BUILD)/tests/fuzz/*.d)

# The binary, the reward data (found at run time: $$GFNBENCH_DATA, then
# PREFIX/share/gfnbench/data, then this tree's data/) and the man page.
install: gfnbench
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/gfnbench/data \
	  $(DESTDIR)$(PREFIX)/share/man/man1
	install -m 755 gfnbench $(DESTDIR)$(PREFIX)/bin/gfnbench
	cp -R data/. $(DESTDIR)$(PREFIX)/share/gfnbench/data/
	install -m 644 docs/gfnbench.1 $(DESTDIR)$(PREFIX)/share/man/man1/gfnbench.1

check-readme:
	sh tests/check_readme.sh
