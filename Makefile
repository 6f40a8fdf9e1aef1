# pecore — build with `make`, test with `make test`.
# The library needs libc, libm, pthreads (+ zlib and utf8proc for the tokenizer);
# the CLI adds libjpeg-turbo and libpng.

CC      ?= cc
BUILD   ?= build
OPT     ?= -O2
CFLAGS  ?= $(OPT) -g
WARN    := -Wall -Wextra -Wshadow -Wstrict-prototypes
BASEFLAGS := -std=c11 -D_GNU_SOURCE -fPIC -fvisibility=hidden -Iinclude $(WARN) $(CFLAGS)
LDLIBS_CORE := -lz -lutf8proc -lm -lpthread
LDLIBS_CLI  := -ljpeg -lpng $(LDLIBS_CORE)

ARCH := $(shell $(CC) -dumpmachine)
ifneq (,$(findstring x86_64,$(ARCH)))
  HAVE_X86 := 1
endif

LIB_SRC := $(shell find src -name '*.c' | sort)
ifndef HAVE_X86
  LIB_SRC := $(filter-out %_avx2.c %_avx512.c,$(LIB_SRC))
endif
LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)

TOOL_LIB_SRC := $(filter-out tools/pecore.c,$(wildcard tools/*.c))
TOOL_LIB_OBJ := $(TOOL_LIB_SRC:%.c=$(BUILD)/obj/%.o)
# The tests use the CLI's file helpers, not its commands.
TEST_TOOL_OBJ := $(BUILD)/obj/tools/npy.o $(BUILD)/obj/tools/image_io.o

TEST_SRC := $(wildcard tests/test_*.c)
TEST_BIN := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)

# Per-ISA kernel files carry their own flags; the rest of the build stays
# baseline so one binary runs on any x86-64 (dispatch happens at run time).
AVX2_FLAGS   := -mavx2 -mfma -mf16c
AVX512_FLAGS := -mavx512f -mavx512bw -mavx512vl -mavx512dq -mfma -mf16c

.PHONY: all lib test clean check-warnings
all: $(BUILD)/libpecore.a $(BUILD)/libpecore.so $(BUILD)/pecore

lib: $(BUILD)/libpecore.a $(BUILD)/libpecore.so

$(BUILD)/obj/%_avx2.o: %_avx2.c
	@mkdir -p $(dir $@)
	$(CC) $(BASEFLAGS) $(AVX2_FLAGS) -MMD -MP -c $< -o $@

$(BUILD)/obj/%_avx512.o: %_avx512.c
	@mkdir -p $(dir $@)
	$(CC) $(BASEFLAGS) $(AVX512_FLAGS) -MMD -MP -c $< -o $@

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(BASEFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/libpecore.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/libpecore.so: $(LIB_OBJ)
	$(CC) -shared -o $@ $^ $(LDLIBS_CORE)

$(BUILD)/pecore: $(BUILD)/obj/tools/pecore.o $(TOOL_LIB_OBJ) $(BUILD)/libpecore.a
	$(CC) -o $@ $^ $(LDLIBS_CLI)

$(BUILD)/tests/%: tests/%.c $(TEST_TOOL_OBJ) $(BUILD)/libpecore.a tests/test.h
	@mkdir -p $(dir $@)
	$(CC) $(BASEFLAGS) -Isrc -Itools -o $@ $< $(TEST_TOOL_OBJ) $(BUILD)/libpecore.a $(LDLIBS_CLI)

test: all $(TEST_BIN)
	@BUILD=$(BUILD) sh tests/run_tests.sh $(TEST_BIN) tests/test_cli.sh tests/test_classify_cli.sh

# Both compilers, warnings as errors.
check-warnings:
	$(MAKE) BUILD=build/gcc CC=gcc CFLAGS="-O2 -Werror" all $(TEST_BIN:$(BUILD)/%=build/gcc/%)
	$(MAKE) BUILD=build/clang CC=clang CFLAGS="-O2 -Werror" all $(TEST_BIN:$(BUILD)/%=build/clang/%)

clean:
	rm -rf build

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)

# Side-by-side benchmark against ONNX Runtime and PyTorch (installs them).
.PHONY: compare
compare:
	sh bench/compare.sh
