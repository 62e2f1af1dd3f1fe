# Herald — build, test and demo.
#
#   make            build the library, the binaries and the tools
#   make deps       install the Debian packages Herald needs (idempotent)
#   make test       unit tests + end-to-end tests on a real Redis, the development
#                   broker and the Slack-compatible receiver
#   make demo       replay a day of ACK job history through the whole pipeline
#   make dashboard  the demo, then its stack (and the dashboard) up until Ctrl-C
#   make test-asan  the same tests under AddressSanitizer and UBSan
#   make bench      the benchmark suite side by side with kcat and Alertmanager
#                   (bench/README.md, docs/performance.md); make bench-quick: about 3 min

CC      ?= cc
SAN     ?= 0
PKGS    := rdkafka libcjson libcurl hiredis yaml-0.1 libmicrohttpd libcrypto libpq

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
RECORDER_SRC := $(sort $(wildcard recorder/*.c))
WEB_SRC      := $(sort $(wildcard web/*.c))
SLACKD_SRC   := $(sort $(wildcard tools/slackd/*.c))
DEVBROKER_SRC := $(sort $(wildcard tools/devbroker/*.c))
UNIT_SRC     := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BIN     := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
LIB          := $(BUILD)/libherald.a

# herald-backtest runs the consumer's stages (all of consumer/ but its main) on a
# history read as the producer reads files.
ENGINE_OBJ   := $(filter-out $(BUILD)/consumer/main.o,$(CONSUMER_SRC:%.c=$(BUILD)/%.o))
BACKTEST_SRC := $(sort $(wildcard tools/backtest/*.c))
BACKTEST_OBJ := $(BACKTEST_SRC:%.c=$(BUILD)/%.o) $(BUILD)/producer/replay.o \
                $(BUILD)/producer/publish.o

PROGS := $(BIN)/herald-producer $(BIN)/herald-consumer $(BIN)/herald-devbroker \
         $(BIN)/herald-slackd $(BIN)/herald-backtest $(BIN)/herald-recorder \
         $(BIN)/herald-web
ifneq ($(CTL_SRC),)
PROGS += $(BIN)/heraldctl
endif

.PHONY: all deps check-deps ensure-deps build-tests test unit test-asan demo dashboard format \
        format-check clean validate bench bench-quick fuzz
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

# The consumer's Redis scripts live in consumer/lua/ and are compiled in as C strings
# ($(BUILD)/gen/<name>.lua.h defines <name>_lua[]). The engine is one script made of
# its parts in this order (consumer/lua/base.lua says why); the outbox's scripts stand
# alone.
ENGINE_LUA := $(addprefix consumer/lua/,base.lua wm.lua job.lua release.lua eco.lua step.lua)
LUA_ALONE  := $(filter-out $(ENGINE_LUA),$(sort $(wildcard consumer/lua/*.lua)))
LUA_HDR    := $(BUILD)/gen/engine.lua.h $(LUA_ALONE:consumer/lua/%.lua=$(BUILD)/gen/%.lua.h)
LUA_TO_C    = sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/^/    "/' -e 's/$$/\\n"/'
$(BUILD)/gen/engine.lua.h: $(ENGINE_LUA)
	@mkdir -p $(dir $@)
	@{ echo "/* generated from $^ by make; do not edit */"; \
	  echo "static const char engine_lua[] ="; cat $^ | $(LUA_TO_C); echo "    ;"; } > $@
$(BUILD)/gen/%.lua.h: consumer/lua/%.lua
	@mkdir -p $(dir $@)
	@{ echo "/* generated from $< by make; do not edit */"; \
	  echo "static const char $*_lua[] ="; $(LUA_TO_C) $<; echo "    ;"; } > $@
$(CONSUMER_SRC:%.c=$(BUILD)/%.o): $(LUA_HDR)
$(CONSUMER_SRC:%.c=$(BUILD)/%.o): ALLCFLAGS += -I$(BUILD)/gen

# The version every binary prints for --version (common/version.h): git describe at
# build time, "unknown" without git; `make HERALD_VERSION=1.2.3` sets it. Only
# version.o is built with it; the stamp file makes it rebuild when it changes.
HERALD_VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null)
HERALD_VERSION_SAFE := $(shell printf '%s' '$(HERALD_VERSION)' | tr -cd 'A-Za-z0-9._+-' | cut -c1-64)
$(BUILD)/version.txt: FORCE
	@mkdir -p $(dir $@)
	@printf '%s\n' '$(HERALD_VERSION_SAFE)' | cmp -s - $@ || \
	  printf '%s\n' '$(HERALD_VERSION_SAFE)' > $@
$(BUILD)/common/version.o: $(BUILD)/version.txt
$(BUILD)/common/version.o: ALLCFLAGS += -DHERALD_VERSION='"$(HERALD_VERSION_SAFE)"'
.PHONY: FORCE
FORCE:

# The history schema's migrations (recorder/migrations/NNN_name.sql) are compiled in:
# $(BUILD)/gen/migrations.h defines migrations[] = {version, name, sql}, in order.
MIGRATION_SQL := $(sort $(wildcard recorder/migrations/*.sql))
$(BUILD)/gen/migrations.h: $(MIGRATION_SQL) Makefile
	@mkdir -p $(dir $@)
	@{ echo "/* generated from recorder/migrations/NNN_name.sql by make; do not edit */"; \
	  echo "static const struct store_migration migrations[] = {"; \
	  for f in $(MIGRATION_SQL); do \
	    b=$$(basename $$f .sql); v=$$(expr $${b%%_*} + 0); n=$${b#*_}; \
	    echo "    {$$v, \"$$n\","; \
	    sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/^/     "/' -e 's/$$/\\n"/' $$f; \
	    echo "    },"; \
	  done; echo "};"; } > $@
$(BUILD)/recorder/store.o: $(BUILD)/gen/migrations.h
$(BUILD)/recorder/store.o: ALLCFLAGS += -I$(BUILD)/gen

$(LIB): $(COMMON_OBJ)
	@mkdir -p $(dir $@)
	$(AR) rcs $@ $^

$(BIN)/herald-producer: $(PRODUCER_SRC:%.c=$(BUILD)/%.o) $(LIB)
	@mkdir -p $(BIN)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BIN)/herald-consumer: $(CONSUMER_SRC:%.c=$(BUILD)/%.o) $(LIB)
	@mkdir -p $(BIN)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BACKTEST_SRC:%.c=$(BUILD)/%.o): ALLCFLAGS += -Iconsumer -Iproducer
$(BIN)/herald-backtest: $(BACKTEST_OBJ) $(ENGINE_OBJ) $(LIB)
	@mkdir -p $(BIN)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BIN)/herald-recorder: $(RECORDER_SRC:%.c=$(BUILD)/%.o) $(LIB)
	@mkdir -p $(BIN)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BIN)/herald-web: $(WEB_SRC:%.c=$(BUILD)/%.o) $(LIB)
	@mkdir -p $(BIN)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BIN)/heraldctl: $(CTL_SRC:%.c=$(BUILD)/%.o) $(LIB)
	@mkdir -p $(BIN)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BIN)/herald-devbroker: $(DEVBROKER_SRC:%.c=$(BUILD)/%.o) $(LIB)
	@mkdir -p $(BIN)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BIN)/herald-slackd: $(SLACKD_SRC:%.c=$(BUILD)/%.o) $(LIB)
	@mkdir -p $(BIN)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# Unit tests of a program's own modules link those objects too.
$(BUILD)/tests/test_record: $(BUILD)/recorder/record.o
$(BUILD)/tests/unit/test_record.o: ALLCFLAGS += -Irecorder
$(BUILD)/tests/test_storied: $(BUILD)/consumer/storied.o
$(BUILD)/tests/unit/test_storied.o: ALLCFLAGS += -Iconsumer

$(BUILD)/tests/%: $(BUILD)/tests/unit/%.o $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $(filter %.o,$^) $(LIB) $(LDLIBS) -lcmocka

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

# The demo, then its stack (PostgreSQL, recorder, herald-web, ...) stays up until Ctrl-C.
dashboard: ensure-deps
	@$(MAKE) --no-print-directory all
	@DEMO_KEEP=1 demo/run.sh $(BIN)

# Benchmarks print figures; they never gate anything (bench/README.md). Extra
# arguments for bench/run: make bench BENCH_ARGS="--only latency --runs 5".
BENCH_ARGS ?=
bench: ensure-deps
	@$(MAKE) --no-print-directory all
	@bench/run --bin $(BIN) $(BENCH_ARGS)

bench-quick: ensure-deps
	@$(MAKE) --no-print-directory all
	@bench/run --quick --bin $(BIN) $(BENCH_ARGS)

format:
	clang-format -i $(wildcard common/*.[ch] producer/*.[ch] consumer/*.[ch] tools/*.c \
	  tools/*/*.[ch] tests/unit/*.c recorder/*.[ch] web/*.[ch])

format-check:
	@clang-format --dry-run --Werror $(wildcard common/*.[ch] producer/*.[ch] \
	  consumer/*.[ch] tools/*.c tools/*/*.[ch] tests/unit/*.c recorder/*.[ch] web/*.[ch])

validate:
	@tools/validate.sh

clean:
	rm -rf build bin build-asan bin-asan build-fuzz

# --- make fuzz: libFuzzer targets for the event, config and HTTP parsers (tests/fuzz/) ---
# Needs clang and libclang-rt-14-dev. Builds into build-fuzz/ with the common/*.c
# sources compiled in (not libherald.a), runs each target for FUZZ_SECONDS on a
# scratch copy of its seed corpus, and fails if any target finds a crash, a leak or
# undefined behaviour; the log and the crashing input stay under build-fuzz/.
FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 20
# FUZZ_SEED 0: a new random seed each run; CI fixes it so that a run is repeatable.
FUZZ_SEED    ?= 0
FUZZ_DIR     := build-fuzz
FUZZ_TARGETS := event config http
FUZZ_CFLAGS  := -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -Icommon -g -O1 \
                -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
                -fno-omit-frame-pointer $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
FUZZ_OBJ     := $(COMMON_SRC:common/%.c=$(FUZZ_DIR)/obj/%.o)
FUZZ_BINS    := $(FUZZ_TARGETS:%=$(FUZZ_DIR)/fuzz_%)
.SECONDARY: $(FUZZ_OBJ)

# common/ gets the warnings but not -Werror: clang warns where gcc does not, and the
# gcc build is the gate for those.
$(FUZZ_DIR)/obj/%.o: common/%.c $(wildcard common/*.h)
	@mkdir -p $(dir $@)
	@$(FUZZ_CC) $(FUZZ_CFLAGS) $(filter-out -Werror,$(WARN)) -c $< -o $@

$(FUZZ_DIR)/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_OBJ) $(wildcard common/*.h)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(WARN) -o $@ $< $(FUZZ_OBJ) $(LDLIBS)

# make test runs every kept input (tests/fuzz/crashes/<target>-*, the seed corpus)
# through each target's entry point without libFuzzer: tests/fuzz/regress.c, with the
# normal compiler, and under ASan/UBSan in make test-asan.
FUZZ_REGRESS := $(FUZZ_TARGETS:%=$(BUILD)/tests/test_fuzz_%)
$(BUILD)/tests/test_fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/regress.c $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(ALLCFLAGS) -DFUZZ_TARGET='"$*"' $(LDFLAGS) -o $@ tests/fuzz/fuzz_$*.c \
	  tests/fuzz/regress.c $(LIB) $(LDLIBS) -lcmocka
build-tests: $(FUZZ_REGRESS)

fuzz: check-deps $(FUZZ_BINS)
	@status=0; for t in $(FUZZ_TARGETS); do \
	  work=$(FUZZ_DIR)/run/$$t; rm -rf $$work; mkdir -p $$work/corpus $$work/artifacts; \
	  cp tests/fuzz/corpus/$$t/* $$work/corpus/; \
	  for f in tests/fuzz/crashes/$$t-*; do [ -f "$$f" ] && cp "$$f" $$work/corpus/; done; \
	  dict=; [ -f tests/fuzz/$$t.dict ] && dict=-dict=tests/fuzz/$$t.dict; \
	  echo "fuzz_$$t: $(FUZZ_SECONDS)s, log $$work/fuzz.log"; \
	  if UBSAN_OPTIONS=$${UBSAN_OPTIONS:-print_stacktrace=1} \
	     $(FUZZ_DIR)/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) -max_len=65536 -timeout=10 \
	       -seed=$(FUZZ_SEED) \
	       -print_final_stats=1 -artifact_prefix=$$work/artifacts/ $$dict $$work/corpus \
	       >$$work/fuzz.log 2>&1; then \
	    grep -E '^#[0-9]+[[:space:]]+DONE|^Done [0-9]+ runs' $$work/fuzz.log | sed 's/^/  /'; \
	  else \
	    status=1; grep -m1 -E '^INFO: Seed:' $$work/fuzz.log | sed 's/^/  /'; \
	    grep -m1 -n -E '^==[0-9]+==|^fuzz_[a-z]+: |runtime error|deadly signal' $$work/fuzz.log \
	      | cut -d: -f1 | { read -r l && sed -n "$$((l > 5 ? l - 5 : 1)),$$((l + 40))p" \
	      $$work/fuzz.log; } | sed 's/^/  /'; \
	    echo "  ..."; tail -n 12 $$work/fuzz.log | sed 's/^/  /'; \
	    for a in $$work/artifacts/*; do [ -f "$$a" ] && \
	      echo "  input (base64): $$(head -c 4096 "$$a" | base64 -w0)"; done; \
	    echo "fuzz_$$t: FAILED; input: $$(ls $$work/artifacts/* 2>/dev/null)"; \
	  fi; \
	done; exit $$status

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
