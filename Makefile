# evkit - GNU Makefile
#
#   make                 build libevkit (static and shared) and the programs
#   make test            unit tests and bats tests; ends with "N passed, N failed"
#   make memcheck        the same under valgrind (errors or leaks fail the tests)
#   make demo            build, then a short live demo
#   make install         PREFIX=/usr/local DESTDIR= (programs, man, lib, headers, evkit.pc)
#   make deps            install the Debian packages evkit needs (as root)
#   make bench           benchmarks against peers, printing ratios
#   make fuzz            build and run the libFuzzer targets (FUZZ_TIME=seconds each,
#                        FUZZ_TARGETS="fuzz_jwk ..." to run some)
#   make lint            clang-format check and mandoc -Tlint
#   make clean
#
# Knobs: V=1 verbose, WERROR=1 warnings are errors (CI), SAN=1 ASan+UBSan,
# CC, CFLAGS, LDFLAGS, PKG_CONFIG, PREFIX, DESTDIR, MANDIR.

VERSION   = 0.1.0
SOVERSION = 0

PREFIX     ?= /usr/local
BINDIR     ?= $(PREFIX)/bin
LIBDIR     ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
MANDIR     ?= $(PREFIX)/share/man
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
PKG_CONFIG ?= pkg-config
CC         ?= cc
CFLAGS     ?= -O2 -g
CLANG      ?= clang

# Debian packages: what the build needs, and what the tests need on top.
PKGS          = jansson libpcre2-8 libsodium
DEB_BUILD     = build-essential pkg-config libjansson-dev libpcre2-dev libsodium-dev
DEB_TEST      = bats jq python3 openssl jose mandoc socat
DEB_EXTRA     = mandoc clang libclang-rt-14-dev libfuzzer-14-dev valgrind time
# What tests/bench needs: the peers (evbus.sh builds its driver against
# libnats and libmosquitto), jq, python3 and GNU time.
DEB_BENCH     = nats-server mosquitto libnats-dev libmosquitto-dev jq python3 time

WARN = -Wall -Wextra -Wpedantic -Wshadow -Wstrict-prototypes \
       -Wmissing-prototypes -Wformat=2 -Wvla -Wno-unused-parameter
ifeq ($(WERROR),1)
WARN += -Werror
endif
ifeq ($(SAN),1)
SANFLAGS = -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
endif

# Required flags are kept apart from the user's CFLAGS and appended to them.
# PKG_* are recursive so pkg-config runs after deps-check had its chance.
PKG_CFLAGS = $(shell $(PKG_CONFIG) --cflags $(PKGS))
PKG_LIBS   = $(shell $(PKG_CONFIG) --libs $(PKGS))
EVK_CFLAGS = -std=c11 -D_POSIX_C_SOURCE=200809L -DEVK_VERSION='"$(VERSION)"' \
             -Ilib/include -Ilib $(WARN) $(SANFLAGS) -fPIC -MMD -MP $(PKG_CFLAGS)
EVK_LDFLAGS = $(SANFLAGS)

ifneq ($(V),1)
Q = @
E = @printf '  %-6s %s\n'
else
E = @true
endif

B = build

LIB_SRC  = $(wildcard lib/*.c)
LIB_OBJ  = $(LIB_SRC:%.c=$(B)/%.o)
LIB_A    = $(B)/libevkit.a
LIB_SO   = $(B)/libevkit.so.$(VERSION)
HEADERS  = $(wildcard lib/include/evkit/*.h)

PROGS     = $(patsubst cmd/%.c,%,$(filter-out cmd/cli.c,$(wildcard cmd/*.c)))
PROG_BIN  = $(PROGS:%=$(B)/%)
CLI_OBJ   = $(B)/cmd/cli.o

UNIT_SRC  = $(wildcard tests/unit/test_*.c)
UNIT_BIN  = $(UNIT_SRC:tests/unit/%.c=$(B)/tests/%)

MANS = $(wildcard man/*.[1-8])

all: $(LIB_A) $(LIB_SO) $(PROG_BIN) $(B)/evkit.pc

# --- dependencies ----------------------------------------------------------

deps-check:
	@command -v $(PKG_CONFIG) >/dev/null 2>&1 && $(PKG_CONFIG) --exists $(PKGS) \
	  || $(MAKE) --no-print-directory deps DEB="$(DEB_BUILD)"

deps-check-test:
	@(for c in bats jq python3 openssl jose mandoc; do \
	  command -v $$c >/dev/null 2>&1 || exit 1; done) \
	  || $(MAKE) --no-print-directory deps DEB="$(DEB_TEST)"

DEB ?= $(DEB_BUILD) $(DEB_TEST)
deps:
	@if [ "$$(id -u)" = 0 ]; then \
	  echo "evkit: installing $(DEB)"; \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y $(DEB) \
	  || { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y $(DEB); }; \
	else \
	  echo "evkit: missing dependencies; run this, then make again:"; \
	  echo "  sudo apt-get install -y $(DEB)"; exit 1; \
	fi

# --- library ---------------------------------------------------------------

$(B)/%.o: %.c | deps-check
	@mkdir -p $(@D)
	$(E) CC $<
	$(Q)$(CC) $(CFLAGS) $(EVK_CFLAGS) -c -o $@ $<

$(LIB_A): $(LIB_OBJ)
	$(E) AR $@
	$(Q)rm -f $@ && $(AR) rcs $@ $^

$(LIB_SO): $(LIB_OBJ)
	$(E) LD $@
	$(Q)$(CC) -shared -Wl,-soname,libevkit.so.$(SOVERSION) $(LDFLAGS) $(EVK_LDFLAGS) \
	  -o $@ $^ $(PKG_LIBS)
	$(Q)ln -sf libevkit.so.$(VERSION) $(B)/libevkit.so.$(SOVERSION)
	$(Q)ln -sf libevkit.so.$(SOVERSION) $(B)/libevkit.so

# Rewritten on every make: it records PREFIX/LIBDIR, which may change
# between "make" and "make install PREFIX=...".
$(B)/evkit.pc: FORCE
	@mkdir -p $(@D)
	@printf '%s\n' 'prefix=$(PREFIX)' 'libdir=$(patsubst $(PREFIX)/%,$${prefix}/%,$(LIBDIR))' \
	  'includedir=$(patsubst $(PREFIX)/%,$${prefix}/%,$(INCLUDEDIR))' '' \
	  'Name: evkit' 'Description: event toolkit library (line framing, JSON, CloudEvents envelopes)' \
	  'Version: $(VERSION)' 'Requires.private: libpcre2-8 libsodium' 'Requires: jansson' \
	  'Libs: -L$${libdir} -levkit' 'Cflags: -I$${includedir}' > $@

# --- programs (linked statically with libevkit) ----------------------------

$(B)/%: $(B)/cmd/%.o $(CLI_OBJ) $(LIB_A)
	$(E) LD $@
	$(Q)$(CC) $(LDFLAGS) $(EVK_LDFLAGS) -o $@ $^ $(PKG_LIBS)

# --- tests -----------------------------------------------------------------

$(B)/tests/%: $(B)/tests/unit/%.o $(LIB_A)
	@mkdir -p $(@D)
	$(E) LD $@
	$(Q)$(CC) $(LDFLAGS) $(EVK_LDFLAGS) -o $@ $^ $(PKG_LIBS)

test: all $(UNIT_BIN) | deps-check-test
	@B=$(B) SANFLAGS="$(SANFLAGS)" tests/run

# The whole suite with every program and unit test under valgrind.
memcheck: all $(UNIT_BIN) | deps-check-test
	@B=$(B) EVK_VALGRIND=1 tests/run

demo: all
	@B=$(B) examples/demo.sh

deps-check-bench:
	@(for c in nats-server mosquitto jq python3 /usr/bin/time; do \
	  command -v $$c >/dev/null 2>&1 || exit 1; done; \
	  $(PKG_CONFIG) --exists libnats libmosquitto) \
	  || $(MAKE) --no-print-directory deps DEB="$(DEB_BENCH)"

bench: all | deps-check-bench
	@B=$(B) tests/bench/run

# --- fuzzing (clang + libFuzzer) --------------------------------------------

FUZZ_SRC  = $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BIN  = $(FUZZ_SRC:tests/fuzz/%.c=$(B)/fuzz/%)
FUZZ_TIME ?= 60
FUZZ_TARGETS ?= $(notdir $(FUZZ_BIN))
FUZZ_FLAGS = -std=c11 -D_POSIX_C_SOURCE=200809L -Ilib/include -Ilib -g -O1 \
             -fsanitize=fuzzer,address,undefined $(PKG_CFLAGS)

$(B)/fuzz/%: tests/fuzz/%.c $(LIB_SRC) $(HEADERS) | deps-check
	@mkdir -p $(@D)
	$(E) FUZZ $@
	$(Q)$(CLANG) $(FUZZ_FLAGS) -o $@ $< $(LIB_SRC) $(PKG_LIBS)

fuzz-build: $(FUZZ_BIN)

fuzz: $(FUZZ_TARGETS:%=$(B)/fuzz/%)
	@for f in $(FUZZ_TARGETS:%=$(B)/fuzz/%); do \
	  n=$$(basename $$f); mkdir -p $(B)/fuzz/corpus-$$n; \
	  echo "== $$n ($(FUZZ_TIME)s)"; \
	  $$f -max_total_time=$(FUZZ_TIME) -print_final_stats=1 \
	      $(B)/fuzz/corpus-$$n tests/fuzz/corpus/$$n 2>&1 \
	    | grep -E 'stat::number_of_executed_units|ERROR|SUMMARY|Done' || exit 1; \
	done

# --- install -----------------------------------------------------------------

install: all $(B)/evkit.pc
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBDIR) $(DESTDIR)$(PKGCONFIGDIR) \
	  $(DESTDIR)$(INCLUDEDIR)/evkit
	install -m 755 $(PROG_BIN) $(DESTDIR)$(BINDIR)/
	install -m 644 $(LIB_A) $(DESTDIR)$(LIBDIR)/
	install -m 755 $(LIB_SO) $(DESTDIR)$(LIBDIR)/
	ln -sf libevkit.so.$(VERSION) $(DESTDIR)$(LIBDIR)/libevkit.so.$(SOVERSION)
	ln -sf libevkit.so.$(SOVERSION) $(DESTDIR)$(LIBDIR)/libevkit.so
	install -m 644 $(HEADERS) $(DESTDIR)$(INCLUDEDIR)/evkit/
	install -m 644 $(B)/evkit.pc $(DESTDIR)$(PKGCONFIGDIR)/
	for m in $(MANS); do s=$${m##*.}; install -d $(DESTDIR)$(MANDIR)/man$$s; \
	  install -m 644 $$m $(DESTDIR)$(MANDIR)/man$$s/; done

uninstall:
	rm -f $(PROGS:%=$(DESTDIR)$(BINDIR)/%) $(DESTDIR)$(LIBDIR)/libevkit.*
	rm -f $(DESTDIR)$(PKGCONFIGDIR)/evkit.pc
	rm -rf $(DESTDIR)$(INCLUDEDIR)/evkit
	for m in $(MANS); do s=$${m##*.}; rm -f $(DESTDIR)$(MANDIR)/man$$s/$${m##*/}; done

lint:
	mandoc -Tlint -W warning $(MANS)
	clang-format --dry-run --Werror lib/*.c lib/*.h lib/include/evkit/*.h cmd/*.c cmd/*.h

clean:
	rm -rf $(B)

FORCE:

.PHONY: FORCE all deps deps-check deps-check-test deps-check-bench test memcheck demo bench fuzz fuzz-build \
        install uninstall lint clean
.SECONDARY:

-include $(shell find $(B) -name '*.d' 2>/dev/null)
