# The pcmalloc benchmark suite (see bench/README.md).
#
# Included by the top-level Makefile, which defines the `lib` target that
# builds $(BUILD)/libpcmalloc.so.  Targets:
#   make bench            every workload under every allocator, 4 times
#                         (REPS); results in bench/results/; refuses a
#                         tree with uncommitted changes (BENCH_ARGS=
#                         --allow-dirty marks the results DIRTY instead)
#   make bench-quick      a subset, under 3 minutes; results in
#                         $(BUILD)/bench/results-quick/
#   make bench-callgrind  instructions per malloc/free pair under callgrind;
#                         results in bench/results/callgrind.*
#   make bench-smoke      a tiny run for CI (< 60 s, no install step);
#                         exits non-zero if the runner or a workload breaks
# Options (make variables):
#   ALLOCATORS="glibc jemalloc mimalloc tcmalloc pcmalloc"  (default: all
#              that are available; pcmalloc whenever libpcmalloc.so exists)
#   WORKLOADS="larson xmalloc ..."  (default: all, or the quick subset)
#   ADD_ALLOCATORS="NAME=PATH ..."  more allocators, each the library at
#              PATH preloaded under NAME (run.py --allocator NAME=PATH)
#   REPS=4     repetitions of each (workload, allocator) run (quick: 3)
#   RESULTS=dir  where to write the results
#   BENCH_ARGS=... more runner options (bench/run.py --help)

CC ?= cc
BUILD ?= build

BENCH_PY ?= /usr/bin/python3
BENCH_DIR := $(BUILD)/bench
BENCH_CFLAGS ?= -std=gnu11 -O2 -g -Wall -Wextra -Werror -pthread
BENCH_CXXFLAGS ?= -std=c++17 -O2 -g -Wall -Wextra -Werror -pthread

BENCH_PROGS := larson xmalloc cache_scratch cache_thrash alloc_test mstress \
	glibc_bench large_calloc grow_buffer frag mem_return threads_rss \
	thread_churn startup startup_child
BENCH_BINS := $(addprefix $(BENCH_DIR)/,$(BENCH_PROGS)) \
	$(BENCH_DIR)/runstat $(BENCH_DIR)/whichmalloc \
	$(BENCH_DIR)/libglibcshim.so
BENCH_MICRO := $(BENCH_DIR)/micro

BENCH_OPTS = --build $(BUILD) \
	$(if $(ALLOCATORS),--allocators "$(ALLOCATORS)") \
	$(if $(WORKLOADS),--workloads "$(WORKLOADS)") \
	$(if $(REPS),--reps $(REPS)) \
	$(foreach a,$(ADD_ALLOCATORS),--allocator $(a)) \
	$(if $(RESULTS),--out $(RESULTS)) \
	$(BENCH_ARGS)

.PHONY: bench bench-quick bench-callgrind bench-smoke bench-deps \
	bench-bins bench-micro bench-clean

bench: lib bench-deps $(BENCH_BINS) $(BENCH_MICRO)
	$(BENCH_PY) bench/run.py --mode full $(BENCH_OPTS)

bench-quick: lib bench-deps $(BENCH_BINS) $(BENCH_MICRO)
	$(BENCH_PY) bench/run.py --mode quick $(BENCH_OPTS)

bench-callgrind: lib bench-deps $(BENCH_BINS) $(BENCH_MICRO)
	$(BENCH_PY) bench/run.py --callgrind $(BENCH_OPTS)

# No install step and no Google Benchmark: only the C workload programs.
bench-smoke: lib $(BENCH_BINS)
	$(BENCH_PY) bench/run.py --mode smoke $(BENCH_OPTS)

# Installs whatever is missing of the peers and tools (Debian packages).
bench-deps:
	$(BENCH_PY) bench/run.py --install-only

bench-bins: $(BENCH_BINS)
bench-micro: $(BENCH_MICRO)

$(BENCH_DIR):
	mkdir -p $@

$(BENCH_DIR)/%: bench/workloads/%.c bench/workloads/wl.h | $(BENCH_DIR)
	$(CC) $(BENCH_CFLAGS) -o $@ $< -lm

$(BENCH_DIR)/whichmalloc: bench/tools/whichmalloc.c | $(BENCH_DIR)
	$(CC) $(BENCH_CFLAGS) -o $@ $< -ldl

$(BENCH_DIR)/runstat: bench/tools/runstat.c | $(BENCH_DIR)
	$(CC) $(BENCH_CFLAGS) -o $@ $<

$(BENCH_DIR)/libglibcshim.so: bench/shim/glibc_shim.c | $(BENCH_DIR)
	$(CC) $(BENCH_CFLAGS) -fPIC -shared -o $@ $< -ldl

# The driver needs libbenchmark-dev: installed first by bench-deps.
$(BENCH_DIR)/micro-cases.o: bench/micro/cases.c bench/micro/micro.h \
		| $(BENCH_DIR) bench-deps
	$(CC) $(BENCH_CFLAGS) -c -o $@ $<

$(BENCH_DIR)/micro-driver.o: bench/micro/driver.cc bench/micro/micro.h \
		| $(BENCH_DIR) bench-deps
	$(CXX) $(BENCH_CXXFLAGS) -c -o $@ $<

$(BENCH_MICRO): $(BENCH_DIR)/micro-driver.o $(BENCH_DIR)/micro-cases.o
	$(CXX) $(BENCH_CXXFLAGS) -o $@ $^ -lbenchmark -lpthread

bench-clean:
	rm -rf $(BENCH_DIR)
