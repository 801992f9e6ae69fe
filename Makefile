# panelmux - plain Makefile with pkg-config.
#   make            build/panelmuxd, build/panelmux, build/fakepanel, unit tests
#   make test       deps, normal + ASan/UBSan builds, every suite, "N passed, N failed"
#   make run        deps, build, fakepanel + panelmuxd with conf/panelmux.yaml
#   make SANITIZE=address,undefined   sanitizer build into build-san/

PREFIX ?= /usr/local
CC ?= cc
PKG_CONFIG ?= pkg-config
PKGS = libevent libcurl yaml-0.1 sqlite3 jansson libcrypto libpq

# Debian packages the build, tests and `make run` need.
DEBS = build-essential pkg-config libevent-dev libcurl4-openssl-dev \
	libyaml-dev libsqlite3-dev libjansson-dev libssl-dev libcmocka-dev \
	libgmp-dev libpq-dev postgresql sqlite3 curl python3 valgrind \
	slowhttptest fiu-utils prometheus php-cli php-curl

SANITIZE ?=
ifeq ($(SANITIZE),)
BUILD ?= build
else
BUILD ?= build-san
endif

WARN = -Wall -Wextra -Wformat=2 -Wstrict-prototypes -Wmissing-prototypes \
	-Wshadow -Wpointer-arith -Wwrite-strings -Wundef -Wno-unused-parameter
CFLAGS ?= -O2 -g
ALL_CFLAGS = -std=gnu11 -D_GNU_SOURCE $(WARN) $(CFLAGS) -MMD -MP -Ilib \
	$(shell $(PKG_CONFIG) --cflags $(PKGS))
ALL_LDFLAGS = $(LDFLAGS)
LIBS = $(shell $(PKG_CONFIG) --libs $(PKGS)) -lm
TEST_LIBS = -lcmocka -lgmp

ifeq ($(CI),true)
ALL_CFLAGS += -Werror
endif
ifneq ($(WERROR),)
ALL_CFLAGS += -Werror
endif
ifneq ($(SANITIZE),)
ALL_CFLAGS += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer \
	-fno-sanitize-recover=all
ALL_LDFLAGS += -fsanitize=$(SANITIZE)
endif

LIB_SRCS = $(wildcard lib/*.c)
LIB_OBJS = $(LIB_SRCS:%.c=$(BUILD)/%.o)
DAEMON_SRCS = $(filter-out daemon/panelmux.c,$(wildcard daemon/*.c))
DAEMON_OBJS = $(DAEMON_SRCS:%.c=$(BUILD)/%.o)
CLI_OBJS = $(BUILD)/daemon/panelmux.o
FAKE_SRCS = $(wildcard tests/fakepanel/*.c)
FAKE_OBJS = $(FAKE_SRCS:%.c=$(BUILD)/%.o)
UNIT_SRCS = $(wildcard tests/unit/test_*.c)
UNIT_BINS = $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)
UNIT_HELPERS = $(filter-out tests/unit/test_%.c,$(wildcard tests/unit/*.c))
UNIT_HELPER_OBJS = $(UNIT_HELPERS:%.c=$(BUILD)/%.o)

BINS = $(BUILD)/panelmuxd $(BUILD)/panelmux $(BUILD)/fakepanel

.PHONY: all deps test valgrind soak run bench install clean fmt
all: $(BINS) $(UNIT_BINS)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(BUILD)/libpanelmux.a: $(LIB_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/panelmuxd: $(DAEMON_OBJS) $(BUILD)/libpanelmux.a
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS)

$(BUILD)/panelmux: $(CLI_OBJS) $(BUILD)/libpanelmux.a
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS)

$(BUILD)/fakepanel: $(FAKE_OBJS) $(BUILD)/libpanelmux.a
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS)

$(BUILD)/tests/%: $(BUILD)/tests/unit/%.o $(UNIT_HELPER_OBJS) $(BUILD)/libpanelmux.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS) $(TEST_LIBS)

# libFuzzer targets (tests/fuzz/README.md).  replay_NAME runs fuzz_NAME's
# LLVMFuzzerTestOneInput over its committed corpus; it is built with the
# normal compiler and flags (so build-san replays under ASan+UBSan) and run
# by tests/run.sh.  `make fuzz SECONDS=N` builds every target with clang
# -fsanitize=fuzzer,address,undefined into build-fuzz/ and fuzzes each for N
# seconds over a scratch copy of its corpus.
FUZZ_SRCS = $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_NAMES = $(FUZZ_SRCS:tests/fuzz/fuzz_%.c=%)
REPLAY_BINS = $(FUZZ_NAMES:%=$(BUILD)/tests/replay_%)
FUZZ_BINS = $(FUZZ_NAMES:%=$(BUILD)/fuzz_%)
FUZZ_BUILD = build-fuzz
FUZZ_CC = clang
SECONDS ?= 60

.PHONY: fuzz fuzz-bins fuzz-clean
all: $(REPLAY_BINS)

$(REPLAY_BINS): $(BUILD)/tests/replay_%: $(BUILD)/tests/fuzz/fuzz_%.o \
		$(BUILD)/tests/fuzz/replay.o $(BUILD)/libpanelmux.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS)

$(FUZZ_BINS): $(BUILD)/fuzz_%: $(BUILD)/tests/fuzz/fuzz_%.o \
		$(BUILD)/libpanelmux.a
	$(CC) $(ALL_LDFLAGS) -fsanitize=fuzzer -o $@ $^ $(LIBS)

# Only meaningful with the flags `fuzz` passes down.
fuzz-bins: $(FUZZ_BINS)

fuzz:
	$(MAKE) --no-print-directory deps EXTRA_DEBS="$(FUZZ_DEBS)"
	$(MAKE) --no-print-directory -j$(JOBS) CC=$(FUZZ_CC) \
		BUILD=$(FUZZ_BUILD) SANITIZE=fuzzer-no-link,address,undefined \
		CI= WERROR= fuzz-bins
	bash tests/fuzz/fuzz.sh $(FUZZ_BUILD) $(SECONDS) $(FUZZ_NAMES)

clean: fuzz-clean
fuzz-clean:
	rm -rf $(FUZZ_BUILD)

# Install what is missing, as root (CI) or through sudo.  `make fuzz` adds
# clang and its sanitizer runtimes, which nothing else needs.
FUZZ_DEBS = clang libclang-rt-14-dev
deps:
	@missing=""; for p in $(DEBS) $(EXTRA_DEBS); do \
		dpkg-query -W -f='$${Status}' $$p 2>/dev/null | \
		grep -q 'install ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
		echo "deps: installing$$missing"; \
		if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
		$$SUDO apt-get update -q && \
		DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q $$missing; \
	fi

# Normal build and ASan+UBSan build, every suite over both.
JOBS ?= $(shell nproc 2>/dev/null || echo 2)

test: deps
	$(MAKE) --no-print-directory -j$(JOBS) all
	$(MAKE) --no-print-directory -j$(JOBS) SANITIZE=address,undefined all
	bash tests/run.sh build build-san

# Every unit test and the integration suite with panelmuxd under valgrind:
# zero errors, zero definitely-lost bytes.
valgrind: deps
	$(MAKE) --no-print-directory -j$(JOBS) all
	PMX_VALGRIND=1 bash tests/run.sh build

# Crash consistency at length: SIGKILL during mixed load, PMX_KILLS times
# (100 by default; make test runs 20), checked after every restart; and a
# minute of random upstream faults under load.
PMX_KILLS ?= 100
soak: deps
	$(MAKE) --no-print-directory -j$(JOBS) all
	PMX_KILLS=$(PMX_KILLS) PMX_FAULT_SECONDS=60 TEST_TIMEOUT=3600 \
		python3 tests/integration/run.py \
		--build build --filter 'test_kill9_crash_safety|test_random_upstream_faults'

run: deps
	$(MAKE) --no-print-directory all
	bash tests/run-demo.sh

bench: deps
	$(MAKE) --no-print-directory all
	bash tests/bench/run.sh

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)/etc/panelmux \
		$(DESTDIR)/lib/systemd/system
	install -m 755 $(BUILD)/panelmuxd $(BUILD)/panelmux $(DESTDIR)$(PREFIX)/bin/
	install -m 640 conf/panelmux.yaml $(DESTDIR)/etc/panelmux/panelmux.yaml.example
	install -m 644 systemd/panelmux.service $(DESTDIR)/lib/systemd/system/

fmt:
	clang-format -i lib/*.[ch] daemon/*.[ch] tests/*/*.[ch]

clean:
	rm -rf build build-san

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
