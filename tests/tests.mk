# Tests that attack (issue 11), included by the Makefile: fault injection,
# fuzzing, soak, ThreadSanitizer.  `make test` builds and runs the fault and
# TSan suites; `make fuzz` and `make soak` run for as long as asked.

FAULT_BUILD := build-fault
FAULT_CFLAGS := -DPCM_FAULT_INJECT -DPCM_DEBUG=2

.PHONY: fault fault-bins clean-attack

# The fault-injection build: src/os.c's memory calls fail on a schedule
# (src/fault.h), with the debug checks on.
fault-bins:
	@$(MAKE) --no-print-directory BUILD=$(FAULT_BUILD) OPT=-O1 \
		EXTRA_CFLAGS="$(FAULT_CFLAGS)" lib $(FAULT_BUILD)/tests/fault/fault_api

$(BUILD)/tests/fault/%: tests/fault/%.c $(BUILD)/libpcmalloc.a $(wildcard tests/api/*.h src/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(TEST_CFLAGS) -o $@ $< $(BUILD)/libpcmalloc.a -ldl

fault: fault-bins
	@PCM_SUITES=fault bash tests/run.sh

test: fault-bins
clean: clean-attack
clean-attack:
	rm -rf $(FAULT_BUILD) build-fuzz build-tsan

# ---- fuzzing ----
# `make fuzz FUZZ_TIME=seconds` (default 600) runs the libFuzzer harness
# tests/fuzz/fuzz_api.c; CI runs it for 60 s (.ci/run).  The library's
# objects are built with clang, ASan, UBSan, coverage and the debug checks;
# its C names are made local, so that ASan keeps malloc for libFuzzer and
# the harness, which calls pcm_* entry points.
FUZZ_BUILD := build-fuzz
FUZZ_SAN := address,undefined
FUZZ_CFLAGS := -fsanitize=fuzzer-no-link,$(FUZZ_SAN) -fno-sanitize-recover=undefined \
	-DPCM_DEBUG=3 -DPCM_SANITIZER_BUILD
FUZZ_TIME ?= 600

# The static library with only pcmalloc's own names global (for programs
# whose sanitizer runtime keeps malloc), and how those programs are built.
%/libpcmalloc-pcm.a: %/libpcmalloc.a
	objcopy --wildcard --keep-global-symbol='pcm_*' \
		--keep-global-symbol='pcmalloc_*' $< $@
SAN_CC := clang -std=gnu11 -O1 -g -Wall -Wextra -Werror -pthread -Iinclude

.PHONY: fuzz fuzz-bins
fuzz-bins:
	@$(MAKE) --no-print-directory BUILD=$(FUZZ_BUILD) CC=clang OPT=-O1 \
		EXTRA_CFLAGS="$(FUZZ_CFLAGS)" $(FUZZ_BUILD)/fuzz_api

$(FUZZ_BUILD)/fuzz_api: tests/fuzz/fuzz_api.c $(FUZZ_BUILD)/libpcmalloc-pcm.a
	$(SAN_CC) -fsanitize=fuzzer,$(FUZZ_SAN) -fno-sanitize-recover=undefined \
		-o $@ $^ -ldl

fuzz: fuzz-bins
	@FUZZ_TIME=$(FUZZ_TIME) bash tests/fuzz/run.sh $(FUZZ_BUILD)

# ---- soak ----
# `make soak SOAK_TIME=seconds` (default 600): tests/soak/soak.c, linked
# with the release library.  Not part of make test or CI.
SOAK_TIME ?= 600
.PHONY: soak
$(BUILD)/tests/soak/soak: tests/soak/soak.c $(BUILD)/libpcmalloc.a $(wildcard tests/api/*.h src/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(TEST_CFLAGS) -o $@ $< $(BUILD)/libpcmalloc.a -ldl

soak: $(BUILD)/tests/soak/soak
	SOAK_TIME=$(SOAK_TIME) $(BUILD)/tests/soak/soak

# ---- ThreadSanitizer ----
# tests/tsan/tsan_mt.c over the library built with clang -fsanitize=thread,
# per-thread caches (rseq is invisible to TSan); its C names made local so
# that TSan keeps malloc.  Part of make test.
TSAN_BUILD := build-tsan
.PHONY: tsan tsan-bins
tsan-bins:
	@$(MAKE) --no-print-directory BUILD=$(TSAN_BUILD) CC=clang OPT=-O1 \
		EXTRA_CFLAGS="-fsanitize=thread -DPCM_SANITIZER_BUILD" $(TSAN_BUILD)/tsan_mt

$(TSAN_BUILD)/tsan_mt: tests/tsan/tsan_mt.c $(TSAN_BUILD)/libpcmalloc-pcm.a
	$(SAN_CC) -fsanitize=thread -o $@ $^ -ldl

tsan: tsan-bins
	@PCM_SUITES=tsan bash tests/run.sh

test: tsan-bins

# ---- glibc's own malloc tests ----
# `make glibc-tests GLIBC_SRC=.../glibc-2.36`: 25 of glibc 2.36's malloc
# tests built against a shim of its test support, run with glibc's malloc
# and under pcmalloc (tests/glibc/run.sh).  Not in make test.
.PHONY: glibc-tests
glibc-tests: lib
	@bash tests/glibc/run.sh
