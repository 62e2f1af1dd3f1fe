# Herald — build, test and demo.
#
#   make            build the library, the binaries and the tools
#   make deps       install the Debian packages Herald needs (idempotent)
#   make test       unit tests + end-to-end tests on a real Redis, the development
#                   broker and the Slack-compatible receiver
#   make demo       replay a day of ACK job history through the whole pipeline
#   make test-asan  the same tests under AddressSanitizer and UBSan

CC      ?= cc
SAN     ?= 0
PKGS    := rdkafka libcjson libcurl hiredis yaml-0.1 libmicrohttpd

ifeq ($(SAN),1)
BUILD   ?= build-asan
BIN     ?= bin-asan
SANFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
OPT     := -O1
else
BUILD   ?= build
BIN     ?= bin
SANFLAGS :=
OPT     := -O2
endif

WARN    := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
           -Wpointer-arith -Wformat=2 -Wvla -Wcast-qual -Wwrite-strings -Wundef
CFLAGS  ?= $(OPT) -g
ALLCFLAGS = -std=c11 $(WARN) -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE \
            -Icommon $(SANFLAGS) $(CFLAGS) $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDLIBS  := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lm -lpthread
LDFLAGS += $(SANFLAGS)

COMMON_SRC   := $(sort $(wildcard common/*.c))
COMMON_OBJ   := $(COMMON_SRC:%.c=$(BUILD)/%.o)
PRODUCER_SRC := $(sort $(wildcard producer/*.c))
CONSUMER_SRC := $(sort $(wildcard consumer/*.c))
CTL_SRC      := $(sort $(wildcard tools/heraldctl/*.c))
UNIT_SRC     := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BIN     := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
LIB          := $(BUILD)/libherald.a

PROGS := $(BIN)/herald-producer $(BIN)/herald-consumer $(BIN)/herald-devbroker \
         $(BIN)/herald-slackd
ifneq ($(CTL_SRC),)
PROGS += $(BIN)/heraldctl
endif

.PHONY: all deps check-deps ensure-deps build-tests test unit test-asan demo format \
        format-check clean validate bench fuzz
all: check-deps $(PROGS)

deps:
	@tools/deps.sh

# Build needs the -dev packages; say so plainly instead of a wall of compiler errors.
check-deps:
	@pkg-config --exists $(PKGS) || { echo "missing build dependencies: run 'make deps'" >&2; \
	  pkg-config --print-errors --exists $(PKGS); exit 1; }

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALLCFLAGS) -MMD -MP -c $< -o $@

$(LIB): $(COMMON_OBJ)
	@mkdir -p $(dir $@)
	$(AR) rcs $@ $^

$(BIN)/herald-producer: $(PRODUCER_SRC:%.c=$(BUILD)/%.o) $(LIB)
	@mkdir -p $(BIN)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BIN)/herald-consumer: $(CONSUMER_SRC:%.c=$(BUILD)/%.o) $(LIB)
	@mkdir -p $(BIN)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BIN)/heraldctl: $(CTL_SRC:%.c=$(BUILD)/%.o) $(LIB)
	@mkdir -p $(BIN)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BIN)/herald-devbroker: $(BUILD)/tools/devbroker.o $(LIB)
	@mkdir -p $(BIN)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BIN)/herald-slackd: $(BUILD)/tools/slackd.o $(LIB)
	@mkdir -p $(BIN)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/%: $(BUILD)/tests/unit/%.o $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) -lcmocka

# make test and make demo install what is missing first, then build in a fresh make
# (pkg-config flags are read when make starts).
ensure-deps:
	@tools/deps.sh --if-missing

build-tests: all $(UNIT_BIN)

# Unit tests (cmocka), then end-to-end tests on real servers; one summary line at the end.
test: ensure-deps
	@$(MAKE) --no-print-directory build-tests
	@tools/run-tests.sh $(BUILD) $(BIN)

unit: ensure-deps
	@$(MAKE) --no-print-directory build-tests
	@tools/run-tests.sh --unit-only $(BUILD) $(BIN)

test-asan:
	@$(MAKE) --no-print-directory SAN=1 test

demo: ensure-deps
	@$(MAKE) --no-print-directory all
	@demo/run.sh $(BIN)

format:
	clang-format -i $(wildcard common/*.[ch] producer/*.[ch] consumer/*.[ch] tools/*.c \
	  tools/heraldctl/*.[ch] tests/unit/*.c)

format-check:
	@clang-format --dry-run --Werror $(wildcard common/*.[ch] producer/*.[ch] \
	  consumer/*.[ch] tools/*.c tools/heraldctl/*.[ch] tests/unit/*.c)

validate:
	@tools/validate.sh

clean:
	rm -rf build bin build-asan bin-asan

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
