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
	rm -rf $(FAULT_BUILD)
