# pcmalloc build.  `make` builds build/libpcmalloc.so and build/libpcmalloc.a;
# `make test` builds and runs every test; `make help` lists the rest.

CC      ?= cc
CXX     ?= c++
BUILD   ?= build
PREFIX  ?= /usr/local
OPT     ?= -O2
EXTRA_CFLAGS ?=

WARN    := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes
CFLAGS_BASE := -std=gnu11 $(OPT) -g $(WARN) -fPIC -pthread \
	-fvisibility=hidden -fno-semantic-interposition -ftls-model=initial-exec \
	-fno-builtin-malloc -fno-builtin-free -fno-builtin-calloc \
	-fno-builtin-realloc -fno-stack-protector -D_GNU_SOURCE
LIB_CFLAGS := $(CFLAGS_BASE) $(EXTRA_CFLAGS)
TEST_CFLAGS := -std=gnu11 -O2 -g -Wall -Wextra -Werror -pthread -Iinclude -Itests $(EXTRA_CFLAGS)

SRCS := $(wildcard src/*.c) preload/shim.c
OBJS := $(patsubst %.c,$(BUILD)/obj/%.o,$(SRCS))
DEPS := $(OBJS:.o=.d)

.PHONY: deps demo all lib test unit api check-static clean install help debug ubsan \
	valgrind fastpath
all: lib
lib: $(BUILD)/libpcmalloc.so $(BUILD)/libpcmalloc.a

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(LIB_CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/libpcmalloc.so: $(OBJS)
	$(CC) -shared -Wl,-soname,libpcmalloc.so -Wl,-z,now -Wl,-z,relro \
		$(EXTRA_CFLAGS) -o $@ $(OBJS)

$(BUILD)/libpcmalloc.a: $(OBJS)
	rm -f $@
	ar rcs $@ $(OBJS)

-include $(DEPS)

# ---- tests ----
# Unit tests link the layers they test with a fake memory source
# (tests/unit/fake_os.c) and the host's own malloc.
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(patsubst tests/unit/%.c,$(BUILD)/tests/unit/%,$(UNIT_SRCS))
CORE_SRCS := $(filter-out src/os.c,$(wildcard src/*.c))

$(BUILD)/tests/unit/%: tests/unit/%.c tests/unit/fake_os.c $(CORE_SRCS) $(wildcard src/*.h tests/*.h tests/unit/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(TEST_CFLAGS) -Isrc -o $@ $< tests/unit/fake_os.c $(CORE_SRCS) -ldl

# API tests: each built twice, linked with the static library and plain
# (run under LD_PRELOAD).
API_SRCS := $(wildcard tests/api/*.c)
API_STATIC := $(patsubst tests/api/%.c,$(BUILD)/tests/api/%.static,$(API_SRCS))
API_PLAIN := $(patsubst tests/api/%.c,$(BUILD)/tests/api/%.plain,$(API_SRCS))

$(BUILD)/tests/api/%.static: tests/api/%.c $(BUILD)/libpcmalloc.a $(wildcard tests/api/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(TEST_CFLAGS) -o $@ $< $(BUILD)/libpcmalloc.a -ldl

$(BUILD)/tests/api/%.plain: tests/api/%.c $(wildcard tests/api/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(TEST_CFLAGS) -o $@ $< -ldl

# Whole-program tests of linking: fully static, C++, and the library's
# dependencies.
$(BUILD)/tests/link/static_full: tests/link/static_link.c $(BUILD)/libpcmalloc.a
	@mkdir -p $(dir $@)
	$(CC) $(TEST_CFLAGS) -static -o $@ $< $(BUILD)/libpcmalloc.a

$(BUILD)/tests/link/cxx_new: tests/link/cxx_new.cc
	@mkdir -p $(dir $@)
	$(CXX) -std=c++17 -O2 -g -Wall -Wextra -Werror -Iinclude -o $@ $<

$(BUILD)/tests/link/cxx_new.static: tests/link/cxx_new.cc $(BUILD)/libpcmalloc.a
	@mkdir -p $(dir $@)
	$(CXX) -std=c++17 -O2 -g -Wall -Wextra -Werror -Iinclude $(EXTRA_CFLAGS) -o $@ $< $(BUILD)/libpcmalloc.a

LINK_BINS := $(BUILD)/tests/link/static_full $(BUILD)/tests/link/cxx_new \
	$(BUILD)/tests/link/cxx_new.static

test-bins: lib $(UNIT_BINS) $(API_STATIC) $(API_PLAIN) $(LINK_BINS)

# The test command the README gives: builds everything, runs every suite
# (unit, API static and preloaded, link, black-box, valgrind, UBSan).
test: test-bins
	@$(MAKE) --no-print-directory BUILD=build-ubsan OPT=-O1 \
		EXTRA_CFLAGS="-fsanitize=undefined -fno-sanitize-recover=undefined" \
		test-bins
	@$(MAKE) --no-print-directory BUILD=build-clang CC=clang lib
	@BUILD=$(BUILD) bash tests/run.sh

# Installs the Debian packages the build and the tests need (apt-get).
deps:
	@bash tests/deps.sh

# A real program under pcmalloc, with its statistics.
demo: lib
	@bash tests/demo.sh

# ---- variants ----
debug:
	$(MAKE) BUILD=build-debug OPT="-O0" EXTRA_CFLAGS="-DPCM_DEBUG=1" lib
ubsan:
	$(MAKE) BUILD=build-ubsan OPT=-O1 \
		EXTRA_CFLAGS="-fsanitize=undefined -fno-sanitize-recover=undefined" test-bins
valgrind: test-bins
	@BUILD=$(BUILD) PCM_SUITES=valgrind bash tests/run.sh

# The fast-path instruction budget (tests/fastpath.budget).
fastpath: lib
	@bash tests/fastpath.sh $(BUILD)/libpcmalloc.so

install: lib
	install -d $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/include \
		$(DESTDIR)$(PREFIX)/lib/pkgconfig
	install -m 755 $(BUILD)/libpcmalloc.so $(DESTDIR)$(PREFIX)/lib/
	install -m 644 $(BUILD)/libpcmalloc.a $(DESTDIR)$(PREFIX)/lib/
	install -m 644 include/pcmalloc.h $(DESTDIR)$(PREFIX)/include/
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@VERSION@|$(shell sed -n 's/^#define PCMALLOC_VERSION "\(.*\)"/\1/p' include/pcmalloc.h)|' \
		pcmalloc.pc.in > $(DESTDIR)$(PREFIX)/lib/pkgconfig/pcmalloc.pc

clean:
	rm -rf build build-ubsan build-debug build-clang

help:
	@echo "make             build build/libpcmalloc.so and build/libpcmalloc.a"
	@echo "make deps        install the Debian packages the build and tests need"
	@echo "make demo        sqlite3 under pcmalloc, with pcmalloc's statistics"
	@echo "make test        build and run every test suite (what CI runs)"
	@echo "make valgrind    the unit and API tests under valgrind memcheck"
	@echo "make ubsan       build the tests with UBSan (build-ubsan/)"
	@echo "make debug       a -O0 build in build-debug/"
	@echo "make fastpath    count the malloc/free fast-path instructions against the budget"
	@echo "make install PREFIX=/usr/local   library, header, pkg-config file"
	@echo "make bench / bench-quick / bench-callgrind   the benchmark suite"

-include bench/bench.mk
