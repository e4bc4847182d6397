# pcmalloc build.  `make` builds build/libpcmalloc.so and build/libpcmalloc.a;
# `make test` (or `make check`) builds and runs every test; `make help` lists
# the rest.
#
# The usual variables are honoured: CC, CFLAGS (default -O2 -g), CPPFLAGS,
# LDFLAGS, DESTDIR, PREFIX, BINDIR, LIBDIR, INCLUDEDIR, MANDIR; V=1 shows the
# full command lines.  OPT (the optimisation level inside the default CFLAGS)
# and EXTRA_CFLAGS (appended to every compile and link) are kept for the
# build variants below.  The flags the library needs to be correct (PIC,
# initial-exec TLS, no builtin malloc...) are always added after the user's.

CC      ?= cc
CXX     ?= c++
OBJCOPY ?= objcopy
OBJDUMP ?= objdump
BUILD   ?= build
PREFIX  ?= /usr/local
BINDIR  ?= $(PREFIX)/bin
LIBDIR  ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
MANDIR  ?= $(PREFIX)/share/man
OPT     ?= -O2
CFLAGS  ?= $(OPT) -g
CPPFLAGS ?=
LDFLAGS ?=
EXTRA_CFLAGS ?=

# Library version (include/pcmalloc.h) and ABI version (the soname).
VERSION := $(shell sed -n 's/^\#define PCMALLOC_VERSION "\(.*\)"/\1/p' include/pcmalloc.h)
SOVERSION := 1
SONAME  := libpcmalloc.so.$(SOVERSION)
SOREAL  := libpcmalloc.so.$(SOVERSION).0.0

# Quiet build lines unless V=1.
V ?= 0
ifeq ($(V),1)
Q :=
say = @:
else
Q := @
say = @printf '  %-6s %s\n' $(1) $(2);
endif
ifneq ($(findstring s,$(firstword -$(MAKEFLAGS))),)
say = @:
endif

WARN    := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes
LIB_BASE := -std=gnu11 $(WARN) -pthread -D_GNU_SOURCE
LIB_MUST := -fPIC -fvisibility=hidden -fno-semantic-interposition \
	-ftls-model=initial-exec -fno-builtin-malloc -fno-builtin-free \
	-fno-builtin-calloc -fno-builtin-realloc -fno-stack-protector
LIB_CFLAGS = $(LIB_BASE) $(CPPFLAGS) $(CFLAGS) $(EXTRA_CFLAGS) $(LIB_MUST)
TEST_CFLAGS = -std=gnu11 -O2 -g -Wall -Wextra -Werror -pthread -Iinclude -Itests \
	$(CPPFLAGS) $(EXTRA_CFLAGS)

SRCS := $(wildcard src/*.c) preload/shim.c
OBJS := $(patsubst %.c,$(BUILD)/obj/%.o,$(SRCS))
DEPS := $(OBJS:.o=.d)

.PHONY: deps demo all lib test check unit api check-static clean install \
	uninstall help debug ubsan valgrind fastpath test-bins tool-bins
all: lib $(BUILD)/pcmalloc $(BUILD)/pcmstat
lib: $(BUILD)/libpcmalloc.so $(BUILD)/libpcmalloc.a $(BUILD)/libpcmalloc-secure.so

# Every code section of the library's objects is renamed pcm_text, so that
# the heap profiler can tell pcmalloc's frames from the program's by address
# (__start_pcm_text/__stop_pcm_text, also in static links; see src/prof.h).
PCM_TEXT = $(Q)$(OBJCOPY) $$($(OBJDUMP) -h $@.tmp | \
	awk '$$2 ~ /^\.text/ { printf " --rename-section %s=pcm_text", $$2 }') $@.tmp $@
# $(call lib_cc,MORE): compiles $< into the library object $@, with MORE.
define lib_cc
	@mkdir -p $(dir $@)
	$(call say,CC,$@)
	$(Q)$(CC) $(LIB_CFLAGS) $(1) -MMD -MP -MF $(@:.o=.d) -MT $@ -c $< -o $@.tmp
	$(PCM_TEXT)
	$(Q)rm -f $@.tmp
endef
$(BUILD)/obj/%.o: %.c
	$(call lib_cc,)
# $(call lib_so,SONAME,MORE): links the shared library $@ from its objects
# $^, with MORE.
define lib_so
	$(call say,LD,$@)
	$(Q)$(CC) -shared -Wl,-soname,$(1) -Wl,-z,now -Wl,-z,relro \
		$(CFLAGS) $(EXTRA_CFLAGS) $(LDFLAGS) -o $@ $^
endef

# The real file carries the full version; libpcmalloc.so.1 (the soname) and
# libpcmalloc.so (for the linker and LD_PRELOAD=build/libpcmalloc.so) are
# links to it.
$(BUILD)/$(SOREAL): $(OBJS)
	$(call lib_so,$(SONAME))

$(BUILD)/libpcmalloc.so: $(BUILD)/$(SOREAL)
	$(Q)ln -sf $(SOREAL) $(BUILD)/$(SONAME)
	$(Q)ln -sf $(SONAME) $@

# The same library with secure mode on by default (src/secure.h): only the
# configuration's default differs.
SECURE_OBJS := $(filter-out $(BUILD)/obj/src/conf.o,$(OBJS)) $(BUILD)/obj/secure/conf.o
$(BUILD)/obj/secure/conf.o: src/conf.c
	$(call lib_cc,-DPCM_SECURE_DEFAULT=1)

$(BUILD)/libpcmalloc-secure.so: $(SECURE_OBJS)
	$(call lib_so,libpcmalloc-secure.so)

# The library without the default mode's misuse checks (PCM_CHECKS in
# src/config.h): not for use, only so that the benchmark can measure what
# the checks cost (bench/README.md), and built for the test that it is
# exactly that (tests/link/nochecks.sh).
NOCHECKS_OBJS := $(patsubst $(BUILD)/obj/%,$(BUILD)/obj/nochecks/%,$(OBJS))
$(BUILD)/obj/nochecks/%.o: %.c
	$(call lib_cc,-DPCM_CHECKS=0)

$(BUILD)/libpcmalloc-nochecks.so: $(NOCHECKS_OBJS)
	$(call lib_so,libpcmalloc-nochecks.so)

$(BUILD)/libpcmalloc.a: $(OBJS)
	$(call say,AR,$@)
	$(Q)rm -f $@
	$(Q)ar rcs $@ $(OBJS)

-include $(DEPS) $(BUILD)/obj/secure/conf.d $(NOCHECKS_OBJS:.o=.d)

# pcmstat: the live view of a process's statistics (a program, not part of
# the library: it may use stdio).  It renders with the library's report.c.
PCMSTAT_SRCS := tools/pcmstat.c src/report.c src/fmt.c src/os.c
$(BUILD)/pcmstat: $(PCMSTAT_SRCS) src/snapshot.h src/fmt.h src/os.h include/pcmalloc.h
	@mkdir -p $(dir $@)
	$(call say,CC,$@)
	$(Q)$(CC) $(LIB_BASE) $(CPPFLAGS) $(CFLAGS) $(EXTRA_CFLAGS) $(LDFLAGS) -o $@ $(PCMSTAT_SRCS)

# The size-class tables are computed at build time, not at start-up:
# src/sizeclass_tab.h is checked in, made by tools/gen_sizeclass.c from
# src/config.h (the unit test test_sizeclass fails when it is stale).
.PHONY: sizeclass-tab
sizeclass-tab:
	@mkdir -p $(BUILD)
	$(Q)$(CC) -std=gnu11 -O2 $(WARN) -o $(BUILD)/gen_sizeclass tools/gen_sizeclass.c
	$(Q)$(BUILD)/gen_sizeclass >src/sizeclass_tab.h.tmp
	$(Q)mv src/sizeclass_tab.h.tmp src/sizeclass_tab.h

# ---- tests ----
# Unit tests link the layers they test with a fake memory source
# (tests/unit/fake_os.c) and the host's own malloc.
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(patsubst tests/unit/%.c,$(BUILD)/tests/unit/%,$(UNIT_SRCS))
CORE_SRCS := $(filter-out src/os.c,$(wildcard src/*.c))

$(BUILD)/tests/unit/%: tests/unit/%.c tests/unit/fake_os.c $(CORE_SRCS) $(wildcard src/*.h tests/*.h tests/unit/*.h)
	@mkdir -p $(dir $@)
	$(call say,CC,$@)
	$(Q)$(CC) $(TEST_CFLAGS) -Isrc $(LDFLAGS) -o $@ $< tests/unit/fake_os.c $(CORE_SRCS) -ldl

# API tests: each built twice, linked with the static library and plain
# (run under LD_PRELOAD).
API_SRCS := $(wildcard tests/api/*.c)
API_STATIC := $(patsubst tests/api/%.c,$(BUILD)/tests/api/%.static,$(API_SRCS))
API_PLAIN := $(patsubst tests/api/%.c,$(BUILD)/tests/api/%.plain,$(API_SRCS))

$(BUILD)/tests/api/%.static: tests/api/%.c $(BUILD)/libpcmalloc.a $(wildcard tests/api/*.h)
	@mkdir -p $(dir $@)
	$(call say,CC,$@)
	$(Q)$(CC) $(TEST_CFLAGS) $(LDFLAGS) -o $@ $< $(BUILD)/libpcmalloc.a -ldl

$(BUILD)/tests/api/%.plain: tests/api/%.c $(wildcard tests/api/*.h)
	@mkdir -p $(dir $@)
	$(call say,CC,$@)
	$(Q)$(CC) $(TEST_CFLAGS) $(LDFLAGS) -o $@ $< -ldl

# Whole-program tests of linking: fully static, C++, and the library's
# dependencies.
$(BUILD)/tests/link/static_full: tests/link/static_link.c $(BUILD)/libpcmalloc.a
	@mkdir -p $(dir $@)
	$(call say,CC,$@)
	$(Q)$(CC) $(TEST_CFLAGS) -static $(LDFLAGS) -o $@ $< $(BUILD)/libpcmalloc.a

$(BUILD)/tests/link/cxx_new: tests/link/cxx_new.cc
	@mkdir -p $(dir $@)
	$(call say,CXX,$@)
	$(Q)$(CXX) -std=c++17 -O2 -g -Wall -Wextra -Werror -Iinclude $(LDFLAGS) -o $@ $<

$(BUILD)/tests/link/cxx_new.static: tests/link/cxx_new.cc $(BUILD)/libpcmalloc.a
	@mkdir -p $(dir $@)
	$(call say,CXX,$@)
	$(Q)$(CXX) -std=c++17 -O2 -g -Wall -Wextra -Werror -Iinclude $(EXTRA_CFLAGS) $(LDFLAGS) -o $@ $< $(BUILD)/libpcmalloc.a

# The heap profiler's test program, preloaded and linked (tests/link/prof.sh).
$(BUILD)/tests/link/prof_sites: tests/link/prof_sites.c
	@mkdir -p $(dir $@)
	$(call say,CC,$@)
	$(Q)$(CC) $(TEST_CFLAGS) $(LDFLAGS) -o $@ $< -ldl

$(BUILD)/tests/link/prof_sites.static: tests/link/prof_sites.c $(BUILD)/libpcmalloc.a
	@mkdir -p $(dir $@)
	$(call say,CC,$@)
	$(Q)$(CC) $(TEST_CFLAGS) $(LDFLAGS) -rdynamic -o $@ $< $(BUILD)/libpcmalloc.a -ldl

# A trivial program, with glibc's malloc and linked with pcmalloc
# (tests/link/startup.sh).
$(BUILD)/tests/link/trivial: tests/link/trivial.c
	@mkdir -p $(dir $@)
	$(call say,CC,$@)
	$(Q)$(CC) $(TEST_CFLAGS) $(LDFLAGS) -o $@ $<

$(BUILD)/tests/link/trivial.static: tests/link/trivial.c $(BUILD)/libpcmalloc.a
	@mkdir -p $(dir $@)
	$(call say,CC,$@)
	$(Q)$(CC) $(TEST_CFLAGS) $(LDFLAGS) -o $@ $< $(BUILD)/libpcmalloc.a

# What loading any library costs a trivial program, and the page-fault
# counter (tests/link/startup.sh).
$(BUILD)/tests/link/libempty.so: tests/link/empty_preload.c
	@mkdir -p $(dir $@)
	$(call say,CC,$@)
	$(Q)$(CC) $(TEST_CFLAGS) $(LDFLAGS) -shared -fPIC -o $@ $<

$(BUILD)/tests/link/minflt: tests/link/minflt.c
	@mkdir -p $(dir $@)
	$(call say,CC,$@)
	$(Q)$(CC) $(TEST_CFLAGS) $(LDFLAGS) -o $@ $<

$(BUILD)/tests/tools/live: tests/tools/live.c $(BUILD)/libpcmalloc.a
	@mkdir -p $(dir $@)
	$(CC) $(TEST_CFLAGS) -o $@ $< $(BUILD)/libpcmalloc.a

LINK_BINS := $(BUILD)/tests/link/static_full $(BUILD)/tests/link/cxx_new \
	$(BUILD)/tests/link/cxx_new.static \
	$(BUILD)/tests/link/prof_sites $(BUILD)/tests/link/prof_sites.static \
	$(BUILD)/tests/link/trivial $(BUILD)/tests/link/trivial.static \
	$(BUILD)/tests/link/libempty.so $(BUILD)/tests/link/minflt \
	$(BUILD)/tests/tools/live

# The heap-misuse suite (issue 9): run under LD_PRELOAD, built at -O1 so
# that the misuses stay in the program.
$(BUILD)/tests/misuse/misuse: tests/misuse/misuse.cc
	@mkdir -p $(dir $@)
	$(CXX) -std=gnu++17 -O1 -g -Wall -Wextra -Werror -Wno-mismatched-new-delete \
		-Wno-use-after-free -o $@ $< -ldl

test-bins: lib $(BUILD)/pcmalloc $(BUILD)/pcmstat $(UNIT_BINS) $(API_STATIC) $(API_PLAIN) $(LINK_BINS) \
	$(BUILD)/tests/misuse/misuse $(BUILD)/libpcmalloc-nochecks.so

# Other tools in the process (tests/tools): memcheck on a program linked with
# libpcmalloc.a (with the shared libc, and fully static), and programs
# built with sanitizers that own malloc.  Plain flags: no EXTRA_CFLAGS.
TOOL_CFLAGS := -std=gnu11 -O2 -g -Wall -Wextra -Werror -pthread
TOOL_BINS := $(BUILD)/tests/tools/memcheck_seeded $(BUILD)/tests/tools/memcheck_seeded.static \
	$(foreach s,address thread leak,$(BUILD)/tests/tools/sanitizer_prog.$(s))

$(BUILD)/tests/tools/memcheck_seeded: tests/tools/memcheck_seeded.c $(BUILD)/libpcmalloc.a
	@mkdir -p $(dir $@)
	$(call say,CC,$@)
	$(Q)$(CC) $(TOOL_CFLAGS) $(LDFLAGS) -o $@ $< $(BUILD)/libpcmalloc.a

$(BUILD)/tests/tools/memcheck_seeded.static: tests/tools/memcheck_seeded.c $(BUILD)/libpcmalloc.a
	@mkdir -p $(dir $@)
	$(call say,CC,$@)
	$(Q)$(CC) $(TOOL_CFLAGS) -static $(LDFLAGS) -o $@ $< $(BUILD)/libpcmalloc.a

$(BUILD)/tests/tools/sanitizer_prog.%: tests/tools/sanitizer_prog.c
	@mkdir -p $(dir $@)
	$(call say,CC,$@)
	$(Q)$(CC) $(TOOL_CFLAGS) -fsanitize=$* $(LDFLAGS) -o $@ $< -ldl

tool-bins: lib $(TOOL_BINS)

# The test command the README gives: builds everything, runs every suite
# (unit, API static and preloaded, link, black-box, valgrind, UBSan).
test: test-bins tool-bins $(BUILD)/pcmalloc
	@$(MAKE) --no-print-directory BUILD=build-ubsan OPT=-O1 \
		EXTRA_CFLAGS="-fsanitize=undefined -fno-sanitize-recover=undefined" \
		test-bins
	@$(MAKE) --no-print-directory BUILD=build-clang CC=clang lib
	@$(MAKE) --no-print-directory debug
	@BUILD=$(BUILD) bash tests/run.sh

# The GNU name of the same.
check: test

# Installs the Debian packages the build and the tests need (apt-get).
deps:
	@bash tests/deps.sh

# A real program under pcmalloc, with its statistics.
demo: lib
	@bash tests/demo.sh

# ---- variants ----
# The debug build (src/debug.h): PCM_DEBUG=3, every assertion and the
# invariant walks after each slow-path operation; its library and the unit
# and API tests built against it, in build-debug/ (make test runs them).
DEBUG_LEVEL ?= 3
debug:
	@$(MAKE) --no-print-directory BUILD=build-debug OPT="-O1" \
		EXTRA_CFLAGS="-DPCM_DEBUG=$(DEBUG_LEVEL)" lib $(UNIT_BINS:$(BUILD)/%=build-debug/%) \
		$(API_STATIC:$(BUILD)/%=build-debug/%)
ubsan:
	$(MAKE) BUILD=build-ubsan OPT=-O1 \
		EXTRA_CFLAGS="-fsanitize=undefined -fno-sanitize-recover=undefined" test-bins
valgrind: test-bins tool-bins
	@BUILD=$(BUILD) PCM_SUITES=valgrind bash tests/run.sh

# The fast-path instruction budget (tests/fastpath.budget).
fastpath: lib
	@bash tests/fastpath.sh $(BUILD)/libpcmalloc.so

# Installs the library (with its soname links), the header, the pkg-config
# file, the pcmalloc wrapper, BIN_PROGS and the man pages under
# $(DESTDIR)$(PREFIX); `make uninstall` with the same variables removes
# exactly those files.  Run ldconfig afterwards for a system-wide install.
BIN_PROGS ?= $(BUILD)/pcmstat
MAN1 := man/pcmalloc.1 man/pcmstat.1
MAN3 := man/pcmalloc.3
INSTALLED_FILES = $(LIBDIR)/$(SOREAL) $(LIBDIR)/$(SONAME) $(LIBDIR)/libpcmalloc.so \
	$(LIBDIR)/libpcmalloc.a $(INCLUDEDIR)/pcmalloc.h $(LIBDIR)/pkgconfig/pcmalloc.pc \
	$(BINDIR)/pcmalloc $(foreach p,$(BIN_PROGS),$(BINDIR)/$(notdir $(p))) \
	$(foreach p,$(MAN1),$(MANDIR)/man1/$(notdir $(p))) \
	$(foreach p,$(MAN3),$(MANDIR)/man3/$(notdir $(p)))

install: lib $(BIN_PROGS)
	$(call say,INSTALL,$(DESTDIR)$(PREFIX))
	$(Q)install -d $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(INCLUDEDIR) \
		$(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man3
	$(Q)install -m 755 $(BUILD)/$(SOREAL) $(DESTDIR)$(LIBDIR)/
	$(Q)ln -sf $(SOREAL) $(DESTDIR)$(LIBDIR)/$(SONAME)
	$(Q)ln -sf $(SONAME) $(DESTDIR)$(LIBDIR)/libpcmalloc.so
	$(Q)install -m 644 $(BUILD)/libpcmalloc.a $(DESTDIR)$(LIBDIR)/
	$(Q)install -m 644 include/pcmalloc.h $(DESTDIR)$(INCLUDEDIR)/
	$(Q)sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@LIBDIR@|$(LIBDIR)|g' \
		-e 's|@INCLUDEDIR@|$(INCLUDEDIR)|g' -e 's|@VERSION@|$(VERSION)|g' \
		pcmalloc.pc.in > $(DESTDIR)$(LIBDIR)/pkgconfig/pcmalloc.pc
	$(Q)sed -e 's|@LIBDIR@|$(LIBDIR)|g' -e 's|@VERSION@|$(VERSION)|g' \
		tools/pcmalloc.in > $(DESTDIR)$(BINDIR)/pcmalloc
	$(Q)chmod 755 $(DESTDIR)$(BINDIR)/pcmalloc
	$(Q)$(if $(BIN_PROGS),install -m 755 $(BIN_PROGS) $(DESTDIR)$(BINDIR)/,:)
	$(Q)install -m 644 $(MAN1) $(DESTDIR)$(MANDIR)/man1/
	$(Q)install -m 644 $(MAN3) $(DESTDIR)$(MANDIR)/man3/

uninstall:
	$(call say,RM,$(DESTDIR)$(PREFIX))
	$(Q)rm -f $(addprefix $(DESTDIR),$(INSTALLED_FILES))
	$(Q)-rmdir $(DESTDIR)$(LIBDIR)/pkgconfig 2>/dev/null || true

# The wrapper, runnable from the build tree (it finds the library next to it).
$(BUILD)/pcmalloc: tools/pcmalloc.in include/pcmalloc.h
	$(call say,GEN,$@)
	$(Q)mkdir -p $(BUILD)
	$(Q)sed -e 's|@LIBDIR@|$(abspath $(BUILD))|g' -e 's|@VERSION@|$(VERSION)|g' $< > $@
	$(Q)chmod 755 $@

clean:
	rm -rf build build-ubsan build-debug build-clang

help:
	@echo "make             build build/libpcmalloc.so and build/libpcmalloc.a"
	@echo "make deps        install the Debian packages the build and tests need"
	@echo "make demo        sqlite3 under pcmalloc, with pcmalloc's statistics"
	@echo "make test        build and run every test suite (what CI runs); also: make check"
	@echo "make valgrind    the unit and API tests, and a seeded program, under valgrind memcheck"
	@echo "make ubsan       build the tests with UBSan (build-ubsan/)"
	@echo "make debug       the debug build (PCM_DEBUG=3) and its tests in build-debug/"
	@echo "make sizeclass-tab  regenerate src/sizeclass_tab.h after a change to src/config.h"
	@echo "make fastpath    count the malloc/free fast-path instructions against the budget"
	@echo "make install     library (libpcmalloc.so.1), header, pkg-config file, the pcmalloc"
	@echo "                 wrapper, man pages; PREFIX=/usr/local LIBDIR BINDIR MANDIR DESTDIR"
	@echo "make uninstall   removes what make install put in place (same variables)"
	@echo "variables        CC CFLAGS CPPFLAGS LDFLAGS are honoured; V=1 shows full command lines"
	@echo "make bench / bench-quick / bench-callgrind   the benchmark suite"

-include bench/bench.mk
include tests/tests.mk
