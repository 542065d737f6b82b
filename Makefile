# dockhand Makefile.  `make` builds into $(BUILDDIR) (default build/), binaries in build/bin/.
# See README.md for the targets; `make help` lists them.

PREFIX     ?= /usr/local
BINDIR     ?= $(PREFIX)/bin
DOCDIR     ?= $(PREFIX)/share/doc/dockhand
DESTDIR    ?=
PKG_CONFIG ?= pkg-config
CC         ?= cc
FUZZ_CC    ?= clang
VERSION    ?= 0.1.0

ifdef SANITIZE
BUILDDIR ?= build-san
else
BUILDDIR ?= build
endif

Q := $(if $(V),,@)

# Needed on the hot path of `get`.  Linked statically by default so that a
# helper call loads nothing but libc (STATIC_DEPS=0 links them dynamically).
LINK_PKGS := jansson libcrypto yaml-0.1
STATIC_DEPS ?= 1
# Headers only: libcurl and libsecret are loaded with dlopen at first use (see docs/design.md).
DLOPEN_PKGS := libcurl libsecret-1

WARN := -Wall -Wextra -Wformat=2 -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
        -Wwrite-strings -Wvla -Wcast-qual -Wundef -Wno-missing-field-initializers
CFLAGS   ?= -O2 -g
override CFLAGS += -std=gnu11 $(WARN) -fno-common -fstack-protector-strong \
        $(shell $(PKG_CONFIG) --cflags $(LINK_PKGS) $(DLOPEN_PKGS) 2>/dev/null)
override CPPFLAGS += -Iinclude -D_GNU_SOURCE -D_FORTIFY_SOURCE=2 -DDH_VERSION=\"$(VERSION)\"
ifeq ($(STATIC_DEPS),1)
override LDLIBS += -Wl,-Bstatic $(shell $(PKG_CONFIG) --libs-only-l $(LINK_PKGS) 2>/dev/null) \
        -Wl,-Bdynamic -ldl -lpthread
else
override LDLIBS += $(shell $(PKG_CONFIG) --libs $(LINK_PKGS) 2>/dev/null) -ldl -lpthread
endif
LDFLAGS ?= -Wl,-z,relro,-z,now -Wl,--as-needed

ifdef SANITIZE
override CFLAGS  += -fsanitize=$(SANITIZE) -fno-sanitize-recover=all -fno-omit-frame-pointer -O1
override CPPFLAGS += -U_FORTIFY_SOURCE
override LDFLAGS += -fsanitize=$(SANITIZE)
endif
ifeq ($(WERROR),1)
override CFLAGS += -Werror
endif

LIB_SRCS  := $(sort $(wildcard src/*.c))
LIB_OBJS  := $(patsubst %.c,$(BUILDDIR)/%.o,$(LIB_SRCS))
LIB       := $(BUILDDIR)/libdockhand.a
CMDS      := $(patsubst cmd/%/main.c,%,$(wildcard cmd/*/main.c))
BINS      := $(addprefix $(BUILDDIR)/bin/,$(CMDS))
TEST_SRCS := $(sort $(wildcard test/unit/test_*.c))
TEST_BINS := $(patsubst test/unit/%.c,$(BUILDDIR)/test/%,$(TEST_SRCS))
TOOL_SRCS := $(sort $(wildcard test/tools/*.c))
TOOL_BINS := $(patsubst test/tools/%.c,$(BUILDDIR)/test/tools/%,$(TOOL_SRCS))
FUZZ_SRCS := $(sort $(wildcard test/fuzz/fuzz_*.c))
FUZZ_NAMES:= $(patsubst test/fuzz/%.c,%,$(FUZZ_SRCS))
REPLAY_BINS := $(patsubst %,$(BUILDDIR)/fuzz-replay/%,$(FUZZ_NAMES))
FUZZ_BINS := $(patsubst %,$(BUILDDIR)/fuzz/%,$(FUZZ_NAMES))

.PHONY: all deps test check unit bench fuzz fuzz-run format check-format install uninstall demo clean help
.SECONDARY:
.DELETE_ON_ERROR:

all: $(BINS)

help:
	@echo "make                 build into $(BUILDDIR)/ (binaries in $(BUILDDIR)/bin/)"
	@echo "make test            install test dependencies (Debian), build, run every test"
	@echo "make SANITIZE=address,undefined test   the same under ASan/UBSan (build-san/)"
	@echo "make demo            run the main job end to end against a local registry"
	@echo "make bench           benchmarks against the peer tools, with ratios"
	@echo "make fuzz            build libFuzzer targets with clang into $(BUILDDIR)/fuzz/"
	@echo "make fuzz-run        run each fuzz target for FUZZ_SECONDS (default 30)"
	@echo "make format | check-format | install PREFIX=... DESTDIR=... | clean"

$(LIB): $(LIB_OBJS)
	$(Q)$(AR) rcs $@ $^

$(BUILDDIR)/%.o: %.c
	@mkdir -p $(@D)
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) -MMD -MP -c -o $@ $<

$(BUILDDIR)/bin/%: $(BUILDDIR)/cmd/%/main.o $(LIB)
	@mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LIB) $(LDLIBS)

$(BUILDDIR)/test/%: $(BUILDDIR)/test/unit/%.o $(LIB)
	@mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LIB) $(LDLIBS)

$(BUILDDIR)/test/tools/%: $(BUILDDIR)/test/tools/%.o $(LIB)
	@mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LIB) $(LDLIBS)

# Fuzz targets linked with a replay driver: built by gcc, run over the corpus in `make test`.
$(BUILDDIR)/fuzz-replay/%: $(BUILDDIR)/test/fuzz/%.o $(BUILDDIR)/test/fuzz/replay.o $(LIB)
	@mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(BUILDDIR)/test/fuzz/replay.o $(LIB) $(LDLIBS)

deps:
	$(Q)hack/install-deps.sh

# The README's test command.  Installs what it needs (Debian), builds, runs everything.
test: deps
	$(Q)$(MAKE) --no-print-directory all-tests
	$(Q)BUILDDIR=$(BUILDDIR) hack/run-tests.sh

check: test

.PHONY: all-tests
all-tests: $(BINS) $(TEST_BINS) $(TOOL_BINS) $(REPLAY_BINS)

unit: $(TEST_BINS)
	$(Q)BUILDDIR=$(BUILDDIR) hack/run-tests.sh unit

bench: deps
	$(Q)$(MAKE) --no-print-directory SANITIZE= BUILDDIR=build all-tests
	$(Q)BUILDDIR=build hack/bench.sh

demo: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)BUILDDIR=$(BUILDDIR) hack/demo.sh

# libFuzzer builds (clang).  The library is rebuilt with coverage instrumentation.
FUZZ_DIR := build-fuzz
FUZZ_FLAGS := -g -O1 -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined
fuzz:
	$(Q)$(MAKE) --no-print-directory BUILDDIR=$(FUZZ_DIR) CC=$(FUZZ_CC) CFLAGS="$(FUZZ_FLAGS)" $(FUZZ_DIR)/libdockhand.a
	$(Q)mkdir -p $(FUZZ_DIR)/fuzz
	$(Q)for t in $(FUZZ_NAMES); do \
	    $(FUZZ_CC) $(CPPFLAGS) -std=gnu11 -g -O1 -fsanitize=fuzzer,address,undefined \
	        $$($(PKG_CONFIG) --cflags $(LINK_PKGS)) test/fuzz/$$t.c $(FUZZ_DIR)/libdockhand.a \
	        $$($(PKG_CONFIG) --libs $(LINK_PKGS)) -ldl -lpthread -o $(FUZZ_DIR)/fuzz/$$t || exit 1; \
	    echo "built $(FUZZ_DIR)/fuzz/$$t"; done

FUZZ_SECONDS ?= 30
fuzz-run: fuzz
	$(Q)for t in $(FUZZ_NAMES); do mkdir -p $(FUZZ_DIR)/corpus/$$t; \
	    $(FUZZ_DIR)/fuzz/$$t -max_total_time=$(FUZZ_SECONDS) -max_len=300000 \
	      $$( [ -f test/fuzz/$$t.dict ] && echo -dict=test/fuzz/$$t.dict ) \
	      $(FUZZ_DIR)/corpus/$$t test/fuzz/corpus/$$t || exit 1; done

FORMAT_FILES = $(shell git ls-files '*.c' '*.h' 2>/dev/null)
format:
	$(Q)clang-format -i $(FORMAT_FILES)

check-format:
	$(Q)clang-format --dry-run --Werror $(FORMAT_FILES) && echo "format ok"

install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(DOCDIR)
	install -m 0755 $(BINS) $(DESTDIR)$(BINDIR)/
	install -m 0644 README.md $(wildcard docs/*.md) $(DESTDIR)$(DOCDIR)/

uninstall:
	rm -f $(addprefix $(DESTDIR)$(BINDIR)/,$(CMDS))
	rm -rf $(DESTDIR)$(DOCDIR)

clean:
	rm -rf build build-san build-fuzz

-include $(shell find $(BUILDDIR) -name '*.d' 2>/dev/null)
