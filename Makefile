# pecore — build with `make`, test with `make test`.
# The library needs libc, libm, pthreads (+ zlib and utf8proc for the tokenizer);
# the CLI adds libjpeg-turbo and libpng.

# A recipe that fails deletes its target, so that a half-written output
# (a compiler or linker that failed after writing it) is rebuilt by the
# next make instead of taken as up to date.
.DELETE_ON_ERROR:

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
ifneq (,$(findstring aarch64,$(ARCH)))
  HAVE_ARM64 := 1
endif
ifneq (,$(findstring emscripten,$(ARCH)))
  HAVE_WASM := 1
endif

LIB_SRC := $(shell find src -name '*.c' | sort)
ifndef HAVE_X86
  LIB_SRC := $(filter-out %_avx2.c %_avx512.c %_vnni.c %_amx.c,$(LIB_SRC))
endif
ifndef HAVE_ARM64
  LIB_SRC := $(filter-out %_neon.c %_neondot.c %_i8mm.c %_neonfp16.c,$(LIB_SRC))
endif
ifndef HAVE_WASM
  LIB_SRC := $(filter-out %_wasm.c,$(LIB_SRC))
endif
TOOL_LIB_SRC := $(filter-out tools/pecore.c,$(wildcard tools/*.c))
ifdef HAVE_WASM
  # make wasm (see "WebAssembly" below): zlib built from source, utf8proc's
  # functions from tables generated from the native one (make unicode-tables),
  # no image codecs; wasm/ holds the stand-ins, each says why.
  BASEFLAGS += -Iwasm/compat -I$(BUILD)/zlib
  LIB_SRC += wasm/utf8proc_tables.c
  TOOL_LIB_SRC := $(filter-out tools/image_io.c,$(TOOL_LIB_SRC)) wasm/image_io_none.c
  LDLIBS_CORE := $(BUILD)/zlib/libz.a -lm
  LDLIBS_CLI := $(LDLIBS_CORE)
endif
LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)

TOOL_LIB_OBJ := $(TOOL_LIB_SRC:%.c=$(BUILD)/obj/%.o)
# The tests use the CLI's file helpers, not its commands.
TEST_TOOL_OBJ := $(BUILD)/obj/tools/npy.o $(BUILD)/obj/tools/image_io.o
ifdef HAVE_WASM
  TEST_TOOL_OBJ := $(BUILD)/obj/tools/npy.o $(BUILD)/obj/wasm/image_io_none.o
endif

TEST_SRC := $(wildcard tests/test_*.c)
TEST_BIN := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)

# Per-ISA kernel files carry their own flags; the rest of the build stays
# baseline so one binary runs on any x86-64 (dispatch happens at run time).
AVX2_FLAGS   := -mavx2 -mfma -mf16c
AVX512_FLAGS := -mavx512f -mavx512bw -mavx512vl -mavx512dq -mfma -mf16c
# GCC's partial-redundancy elimination hoists the q8 tile's activation
# broadcasts across its unrolled k loop and so spills most of its 24
# accumulators every 32 k; without it they stay in registers (q8 GEMM
# 1.25-1.55x, bench/bench_kernels).  Clang has no such flag (nor the spills).
NO_TREE_PRE  := $(shell $(CC) -fno-tree-pre -c -x c /dev/null -o /dev/null 2>/dev/null && echo -fno-tree-pre)
VNNI_FLAGS   := $(AVX512_FLAGS) -mavx512vnni $(NO_TREE_PRE)
AMX_FLAGS    := $(VNNI_FLAGS) -mamx-tile -mamx-int8
# ARM64: NEON is baseline ARMv8.0; the dot-product and i8mm files get the
# extensions they use and are only reached after HWCAP says the CPU has them.
NEON_FLAGS    := -march=armv8-a
NEONDOT_FLAGS := -march=armv8.2-a+dotprod+fp16
I8MM_FLAGS    := -march=armv8.2-a+dotprod+fp16+i8mm
# fp16 compute (FEAT_FP16 arithmetic): its own file, reached only where the
# registry's fp16 predicate holds.
NEONFP16_FLAGS := -march=armv8.2-a+fp16

.PHONY: all lib test clean check-warnings
all: $(BUILD)/libpecore.a $(BUILD)/libpecore.so $(BUILD)/pecore

lib: $(BUILD)/libpecore.a $(BUILD)/libpecore.so

$(BUILD)/obj/%_avx2.o: %_avx2.c
	@mkdir -p $(dir $@)
	$(CC) $(BASEFLAGS) $(AVX2_FLAGS) -MMD -MP -c $< -o $@

$(BUILD)/obj/%_avx512.o: %_avx512.c
	@mkdir -p $(dir $@)
	$(CC) $(BASEFLAGS) $(AVX512_FLAGS) -MMD -MP -c $< -o $@

$(BUILD)/obj/%_vnni.o: %_vnni.c
	@mkdir -p $(dir $@)
	$(CC) $(BASEFLAGS) $(VNNI_FLAGS) -MMD -MP -c $< -o $@

$(BUILD)/obj/%_amx.o: %_amx.c
	@mkdir -p $(dir $@)
	$(CC) $(BASEFLAGS) $(AMX_FLAGS) -MMD -MP -c $< -o $@

$(BUILD)/obj/%_neon.o: %_neon.c
	@mkdir -p $(dir $@)
	$(CC) $(BASEFLAGS) $(NEON_FLAGS) -MMD -MP -c $< -o $@

$(BUILD)/obj/%_neondot.o: %_neondot.c
	@mkdir -p $(dir $@)
	$(CC) $(BASEFLAGS) $(NEONDOT_FLAGS) -MMD -MP -c $< -o $@

$(BUILD)/obj/%_neonfp16.o: %_neonfp16.c
	@mkdir -p $(dir $@)
	$(CC) $(BASEFLAGS) $(NEONFP16_FLAGS) -MMD -MP -c $< -o $@

$(BUILD)/obj/%_i8mm.o: %_i8mm.c
	@mkdir -p $(dir $@)
	$(CC) $(BASEFLAGS) $(I8MM_FLAGS) -MMD -MP -c $< -o $@

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(BASEFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/libpecore.a: $(LIB_OBJ)
	@rm -f $@
	$(AR) rcs $@ $^

$(BUILD)/libpecore.so: $(LIB_OBJ)
	$(CC) $(LDFLAGS) -shared -o $@ $^ $(LDLIBS_CORE)

$(BUILD)/pecore: $(BUILD)/obj/tools/pecore.o $(TOOL_LIB_OBJ) $(BUILD)/libpecore.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS_CLI)

$(BUILD)/tests/%: tests/%.c $(TEST_TOOL_OBJ) $(BUILD)/libpecore.a tests/test.h tests/golden.h
	@mkdir -p $(dir $@)
	$(CC) $(BASEFLAGS) -Isrc -Itools -o $@ $< $(TEST_TOOL_OBJ) $(BUILD)/libpecore.a $(LDLIBS_CLI) $(LDFLAGS) $(EXTRA_LDFLAGS)

# Counts heap allocations on the hot path.
$(BUILD)/tests/test_noalloc: EXTRA_LDFLAGS = -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc,--wrap=posix_memalign

# ---------------------------------------------------------------- Python binding
# make python:      bindings/python/pecore/_pecore*.so in place, so that
#                   PYTHONPATH=bindings/python /usr/bin/python3 -c "import pecore" works
#                   (pip install --no-build-isolation bindings/python builds the same).
# make test-python: its pytest suite; make test runs it too, except in sanitizer
#                   builds (Python would need libasan preloaded).
PYTHON ?= /usr/bin/python3
PY_DIR := bindings/python
PY_SRC := $(wildcard $(PY_DIR)/src/*.c)
PY_EXT := $(PY_DIR)/pecore/_pecore$(shell $(PYTHON) -c 'import sysconfig; print(sysconfig.get_config_var("EXT_SUFFIX"))' 2>/dev/null)
PY_INC = $(shell $(PYTHON) -c 'import sysconfig, numpy; print("-I" + sysconfig.get_paths()["include"], "-I" + numpy.get_include())')
PY_TEST_EXT := $(if $(findstring -fsanitize,$(CFLAGS)),,$(PY_EXT))
PY_TEST_CMD = PYTHONPATH=$(PY_DIR) PECORE_CLI=$(BUILD)/pecore PYTHONDONTWRITEBYTECODE=1 \
	$(PYTHON) -m pytest -q -p no:cacheprovider $(PY_DIR)/tests

.PHONY: python test-python
python: $(PY_EXT)

$(PY_EXT): $(PY_SRC) $(PY_DIR)/src/binding.h $(BUILD)/libpecore.a $(BUILD)/obj/tools/image_io.o
	$(CC) -std=c11 -D_GNU_SOURCE -fPIC -shared -Iinclude -Itools $(PY_INC) $(WARN) $(CFLAGS) \
		-o $@ $(PY_SRC) $(BUILD)/obj/tools/image_io.o $(BUILD)/libpecore.a $(LDLIBS_CLI) \
		-Wl,--exclude-libs,ALL $(LDFLAGS)

test-python: $(PY_EXT) $(BUILD)/pecore
	@$(PY_TEST_CMD)

# The app bindings' tests (Java/JNI, AAR layout, Swift module map: see below).
BINDINGS_TESTS := tests/test_java.sh tests/test_aar.sh tests/test_swift_module.sh
BINDINGS_TEST_DEPS := java build/java/tests.jar \
    $(if $(shell command -v aarch64-linux-gnu-gcc 2>/dev/null),java-arm64)

test: all $(TEST_BIN) $(PY_TEST_EXT) $(BINDINGS_TEST_DEPS)
	@BUILD=$(BUILD) PYTHON=$(PYTHON) sh tests/run_tests.sh $(TEST_BIN) tests/test_cli.sh tests/test_classify_cli.sh tests/test_frames_cli.sh tests/test_stream_cli.sh $(BINDINGS_TESTS)
	$(if $(PY_TEST_EXT),@$(PY_TEST_CMD))
	+$(MAKE) check-unicode-tables

# Both compilers, warnings as errors.
check-warnings:
	$(MAKE) BUILD=build/gcc CC=gcc CFLAGS="-O2 -Werror" all $(TEST_BIN:$(BUILD)/%=build/gcc/%)
	$(MAKE) BUILD=build/clang CC=clang CFLAGS="-O2 -Werror" all $(TEST_BIN:$(BUILD)/%=build/clang/%)

clean:
	rm -rf build $(PY_DIR)/pecore/_pecore*.so

# ---------------------------------------------------------------- hardening
# make test-asan: the whole suite under AddressSanitizer + UBSan (CI runs it).
# make fuzz:      libFuzzer harnesses (clang), FUZZ_SECONDS each, seeded from
#                 ../shared/golden in a temporary corpus (tests/fuzz/run.sh).
# make valgrind:  the CLI on a golden case, no leak and no invalid access.
SAN_FLAGS := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
FUZZ_SECONDS ?= 30
FUZZ_BUILD := build/fuzz
# gallery / protos start from an empty corpus: there are no golden files of them.
FUZZ_TARGETS := safetensors pt npy image json tokenizer gallery protos model frame
FUZZ_BIN := $(FUZZ_TARGETS:%=$(FUZZ_BUILD)/fuzz_%)
G ?= ../shared/golden

.PHONY: test-asan fuzz fuzz-build valgrind
test-asan:
	$(MAKE) BUILD=build/asan CFLAGS="-O1 -g $(SAN_FLAGS)" LDFLAGS="$(SAN_FLAGS)" test

fuzz-build:
	$(MAKE) BUILD=$(FUZZ_BUILD) CC=clang CFLAGS="-O1 -g -fsanitize=fuzzer-no-link $(SAN_FLAGS)" \
		LDFLAGS="$(SAN_FLAGS)" $(FUZZ_BUILD)/libpecore.a $(TOOL_LIB_OBJ:$(BUILD)/%=$(FUZZ_BUILD)/%)
	$(MAKE) BUILD=$(FUZZ_BUILD) CC=clang $(FUZZ_BIN)

$(FUZZ_BUILD)/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz_targets.h $(FUZZ_BUILD)/libpecore.a
	clang -std=c11 -D_GNU_SOURCE -O1 -g -fsanitize=fuzzer $(SAN_FLAGS) -Iinclude -Isrc -Itools $(WARN) \
		-o $@ $< $(TOOL_LIB_OBJ:$(BUILD)/%=$(FUZZ_BUILD)/%) $(FUZZ_BUILD)/libpecore.a $(LDLIBS_CLI)

fuzz: fuzz-build $(BUILD)/tests/test_pt $(BUILD)/tests/test_dinov2 $(BUILD)/pecore
	TEST_PT=$(BUILD)/tests/test_pt TEST_DINOV2=$(BUILD)/tests/test_dinov2 PECORE_CLI=$(BUILD)/pecore sh tests/fuzz/run.sh $(FUZZ_BUILD) $(FUZZ_SECONDS) $(FUZZ_TARGETS)

valgrind: all
	@T=$$(mktemp -d /tmp/pecore-vg.XXXXXX); \
	valgrind -q --leak-check=full --errors-for-leak-kinds=definite,indirect,possible \
		--error-exitcode=1 $(BUILD)/pecore embed -m $(G)/models/pe-core-t16-384.pt --size 64 \
		--threads 2 -o $$T/emb.npy $(G)/images/chelsea.png && \
	valgrind -q --leak-check=full --errors-for-leak-kinds=definite,indirect,possible \
		--error-exitcode=1 $(BUILD)/pecore convert -m $(G)/models/pe-micro.pt --vision-heads 2 \
		--text-heads 2 -o $$T/micro.safetensors && \
	valgrind -q --leak-check=full --errors-for-leak-kinds=definite,indirect,possible \
		--error-exitcode=1 $(BUILD)/pecore embed -m $(G)/models/pe-micro-timm.safetensors --threads 1 \
		-o $$T/emb2.npy $(G)/images/astronaut.jpg; rc=$$?; rm -rf $$T; \
	if [ $$rc -eq 0 ]; then echo "valgrind: clean"; else echo "valgrind: FAILED"; fi; exit $$rc

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)

# Side-by-side benchmark against ONNX Runtime and PyTorch (installs them).
.PHONY: compare
compare:
	sh bench/compare.sh

# make install [PREFIX=/usr/local] [DESTDIR=...]: header, libraries, CLI.
PREFIX ?= /usr/local
.PHONY: install
install: all
	install -d $(DESTDIR)$(PREFIX)/include $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/bin
	install -m 644 include/pecore.h $(DESTDIR)$(PREFIX)/include/
	install -m 644 $(BUILD)/libpecore.a $(DESTDIR)$(PREFIX)/lib/
	install -m 755 $(BUILD)/libpecore.so $(DESTDIR)$(PREFIX)/lib/
	install -m 755 $(BUILD)/pecore $(DESTDIR)$(PREFIX)/bin/

# ---------------------------------------------------------------- ARM64
# Cross-built with Debian's gcc-aarch64-linux-gnu into build/arm64 and linked
# statically (the libraries from Debian's arm64 -dev packages, dpkg
# multiarch; scripts/deps-arm64.sh installs all of it): a dynamically linked
# aarch64 binary hangs in pthread_create under Debian 12's qemu-user.
# make cross-arm64: the library only (the portable build has no x86 leftovers).
# make arm64-cli:   build/arm64/pecore, the whole CLI; runs under qemu-aarch64.
# make test-arm64:  tests/arm64/run.sh: on three emulated CPUs (cortex-a53,
#                   cortex-a76, max) the kernel set each must select, the
#                   kernel and variant tests, and the golden image_raw cases
#                   through build/arm64/pecore; the CPU-independent tests once.
#                   ARM64_TESTS: the binaries run.sh runs, all but test_golden and
#                   test_golden_cli (golden.py runs the image_raw cases it can
#                   afford: the T16-384 ones take minutes each under emulation).
ARM64_MAKE := $(MAKE) CC=aarch64-linux-gnu-gcc BUILD=build/arm64 CFLAGS="-O2 -Werror" LDFLAGS=-static
ARM64_TESTS := test_json test_sha256 test_npy test_safetensors test_pt test_tokenizer test_kernels \
               test_quant test_variants test_classify test_noalloc test_quantize_api test_cpu \
               test_frame test_preprocess test_smooth test_stream test_dinov2 test_fuzz_regress test_batch \
               test_f16
.PHONY: cross-arm64 arm64-cli test-arm64
cross-arm64:
	+$(ARM64_MAKE) build/arm64/libpecore.a

arm64-cli:
	+$(ARM64_MAKE) build/arm64/pecore

test-arm64:
	+$(ARM64_MAKE) build/arm64/pecore $(ARM64_TESTS:%=build/arm64/tests/%)
	sh tests/arm64/run.sh build/arm64

# ---------------------------------------------------------------- WebAssembly
# make wasm:      build/wasm/pecore.js + pecore.wasm, the library and the CLI
#                 built by Debian's emscripten (scripts/deps-wasm.sh) with
#                 SIMD128, single-threaded, run by node over the real file
#                 system: node --no-experimental-fetch build/wasm/pecore.js ARGS
#                 (NODE_PATH=/usr/share/nodejs, as Debian's emscripten needs).
#                 Kernels: wasm-simd128 (kernels_wasm.c, qgemm_wasm.c over
#                 simd_wasm.h: float32, f16/bf16 and int8 GEMMs, attention,
#                 softmax, LayerNorm, the epilogues, RoPE), PECORE_ISA=scalar.  zlib is compiled
#                 from the copy in Debian's binutils-source (no Debian package
#                 ships zlib's, utf8proc's, libpng's or libjpeg's C otherwise,
#                 and emscripten's ports download at build time): JPEG/PNG
#                 decoding refuses with one line; the text tokenizer's
#                 Unicode data is wasm/utf8proc_tables.c (make unicode-tables).
# make test-wasm: that build under node (tests/wasm/run.sh): WASM_TESTS, the
#                 golden image_raw cases of pe-micro, pe-micro-timm and T16-384
#                 at 224 on both kernel sets, T16-384 quantized to q8 and q4 by
#                 this build against the float golden, the text cases (token
#                 ids as the native $(BUILD)/pecore's, embeddings, zero-shot
#                 logits), and the one-line refusals.
EMCC ?= emcc
WASM_CFLAGS ?= -O2 -msimd128 -Werror
WASM_MAKE = $(MAKE) CC=$(EMCC) AR=emar BUILD=build/wasm CFLAGS="$(WASM_CFLAGS)"
WASM_LDFLAGS := -msimd128 -sNODERAWFS=1 -sEXIT_RUNTIME=1 -sALLOW_MEMORY_GROWTH=1 \
                -sMAXIMUM_MEMORY=4GB -sTOTAL_STACK=8MB -sENVIRONMENT=node --pre-js wasm/node_env.js
BINUTILS_SRC ?= $(lastword $(sort $(wildcard /usr/src/binutils/binutils-*.tar.xz)))
# deflate and trees: only test_tokenizer's broken-vocabulary cases (gzip)
ZLIB_NAMES := adler32 crc32 inflate inffast inftrees zutil deflate trees
# The unit tests that run as they are in this build (the others need threads
# or JPEG/PNG decoding); test_kernels checks wasm-simd128 against the scalar
# reference, test_tokenizer the golden token ids (the Unicode tables).
WASM_TESTS := test_kernels test_quant test_json test_sha256 test_npy test_safetensors \
              test_quantize_api test_cpu test_frame test_smooth test_dinov2 test_arch \
              test_tokenizer
.PHONY: wasm wasm-mt test-wasm
# Debian's emcc runs its JS tools (acorn, terser) from Debian's node modules.
wasm wasm-mt test-wasm: export NODE_PATH ?= /usr/share/nodejs
wasm:
	+$(WASM_MAKE) build/wasm/pecore.js

# make wasm-mt: the Node CLI with pthreads (every object built with -pthread,
# a pool of WASM_MT_POOL workers started with the program) in its own
# build/wasm-mt, for bench/web.sh's 2-thread rows.
WASM_MT_POOL ?= 2
wasm-mt:
	+$(MAKE) CC=$(EMCC) AR=emar BUILD=build/wasm-mt CFLAGS="-O2 -msimd128 -pthread" \
		LDFLAGS="-pthread -sPTHREAD_POOL_SIZE=$(WASM_MT_POOL)" build/wasm-mt/pecore.js

test-wasm: $(BUILD)/pecore
	+$(WASM_MAKE) build/wasm/pecore.js $(WASM_TESTS:%=build/wasm/tests/%.js)
	WASM_TESTS="$(WASM_TESTS)" NATIVE=$(BUILD)/pecore sh tests/wasm/run.sh build/wasm

# make unicode-tables: wasm/utf8proc_tables.h (committed) regenerated from
#                 the native libutf8proc, then check-unicode-tables.
# make check-unicode-tables: wasm/utf8proc_tables.c against the native
#                 libutf8proc (every code point; NFC of sequences), natively.
.PHONY: unicode-tables check-unicode-tables
unicode-tables:
	@mkdir -p build/unicode
	$(CC) -O2 -std=c11 -D_GNU_SOURCE $(WARN) -o build/unicode/gen_unicode_tables \
		scripts/gen_unicode_tables.c -lutf8proc
	build/unicode/gen_unicode_tables wasm/utf8proc_tables.h
	+$(MAKE) check-unicode-tables

check-unicode-tables:
	@mkdir -p build/unicode
	$(CC) -O2 -std=c11 -D_GNU_SOURCE $(WARN) -DPE_UT_CHECK -o build/unicode/check_unicode_tables \
		scripts/gen_unicode_tables.c -lutf8proc
	build/unicode/check_unicode_tables

ifdef HAVE_WASM
$(BUILD)/zlib/zlib.h:
	@test -n "$(BINUTILS_SRC)" || { echo "make wasm: no /usr/src/binutils/binutils-*.tar.xz (sh scripts/deps-wasm.sh)" >&2; exit 1; }
	@rm -rf $(BUILD)/zlib && mkdir -p $(BUILD)/zlib
	tar -xJf $(BINUTILS_SRC) -C $(BUILD)/zlib --strip-components=2 --wildcards '*/zlib/*.[ch]'
	@touch $@

$(BUILD)/zlib/libz.a: $(BUILD)/zlib/zlib.h Makefile
	cd $(BUILD)/zlib && $(CC) -O2 -msimd128 -c $(ZLIB_NAMES:%=%.c)
	@rm -f $@
	$(AR) rcs $@ $(ZLIB_NAMES:%=$(BUILD)/zlib/%.o)

$(LIB_OBJ) $(TOOL_LIB_OBJ) $(BUILD)/obj/tools/pecore.o: | $(BUILD)/zlib/zlib.h

# Test programs for node: build/wasm/tests/NAME.js (WASM_TESTS).
$(BUILD)/tests/%.js: tests/%.c $(TEST_TOOL_OBJ) $(BUILD)/libpecore.a $(BUILD)/zlib/libz.a \
                     tests/test.h tests/golden.h wasm/node_env.js
	@mkdir -p $(dir $@)
	$(CC) $(BASEFLAGS) -Isrc -Itools $(WASM_LDFLAGS) -o $@ $< $(TEST_TOOL_OBJ) $(BUILD)/libpecore.a \
		$(LDLIBS_CLI)

$(BUILD)/pecore.js: $(BUILD)/obj/tools/pecore.o $(TOOL_LIB_OBJ) $(BUILD)/libpecore.a $(BUILD)/zlib/libz.a \
                    wasm/node_env.js
	$(CC) $(CFLAGS) $(LDFLAGS) $(WASM_LDFLAGS) -o $@ $(filter %.o,$^) $(BUILD)/libpecore.a $(LDLIBS_CLI)
endif

# ---------------------------------------------------------------- In the browser
# make web:      build/web/site, the demo page (examples/web) with the package
#                (bindings/web + its two builds) under pecore/ and a synthetic
#                PE-Core-T16-384 (vision tower, f32) under models/.  Serve it:
#                node examples/web/serve.js   (COOP/COEP: the threaded build).
# The two builds of bindings/web/src/pecore_web.c + the library:
#   build/web-st: single-threaded, linked against make wasm's libpecore.a;
#   build/web-mt: every object compiled with -pthread (SharedArrayBuffer),
#                 a pool of WEB_POOL workers started at load.
# The package's worker picks one by crossOriginIsolated.
# make test-web: tests/web/run.sh, headless chromium under puppeteer-core
#                with a fake camera (scripts/deps-web.sh installs both).
WEB_POOL ?= 3
WEB_EXPORTS := FS,ccall,UTF8ToString
WEB_LDFLAGS := -msimd128 -sMODULARIZE=1 -sEXPORT_NAME=createPecoreModule -sENVIRONMENT=web,worker \
               -sALLOW_MEMORY_GROWTH=1 -sMAXIMUM_MEMORY=2GB -sTOTAL_STACK=8MB -sFORCE_FILESYSTEM=1 \
               -sEXPORTED_FUNCTIONS=_malloc,_free -sEXPORTED_RUNTIME_METHODS=$(WEB_EXPORTS)
WEB_MT_MAKE = $(MAKE) CC=$(EMCC) AR=emar BUILD=build/web-mt CFLAGS="$(WASM_CFLAGS) -pthread"
WEB_PKG := build/web/site/pecore
WEB_SITE_SRC := $(filter-out %/serve.js,$(wildcard examples/web/*.html examples/web/*.js examples/web/*.css))
WEB_PKG_SRC := $(wildcard bindings/web/*.js bindings/web/*.d.ts bindings/web/*.json bindings/web/*.md)
WEB_MODEL := build/web/site/models/synthetic-pe-core-t16-384.safetensors
.PHONY: web test-web
web test-web: export NODE_PATH ?= /usr/share/nodejs
web:
	+$(WASM_MAKE) build/wasm/libpecore.a build/wasm/pecore.js
	+$(WEB_MT_MAKE) build/web-mt/libpecore.a
	+$(MAKE) web-site

test-web: web
	sh tests/web/run.sh

.PHONY: web-site
web-site: build/web-st/pecore-web.js build/web-mt/pecore-web.js $(WEB_MODEL) $(WEB_SITE_SRC) $(WEB_PKG_SRC)
	@rm -rf $(WEB_PKG) && mkdir -p $(WEB_PKG)/dist/st $(WEB_PKG)/dist/mt build/web/site/photos
	cp $(WEB_PKG_SRC) $(WEB_PKG)/
	cp build/web-st/pecore-web.js build/web-st/pecore-web.wasm $(WEB_PKG)/dist/st/
	cp build/web-mt/pecore-web.js build/web-mt/pecore-web.wasm build/web-mt/pecore-web.worker.js $(WEB_PKG)/dist/mt/
	cp $(WEB_SITE_SRC) build/web/site/
	cp examples/*.jpg build/web/site/photos/

build/web-st/pecore-web.js: bindings/web/src/pecore_web.c build/wasm/libpecore.a
	@mkdir -p $(dir $@)
	$(EMCC) $(BASEFLAGS_WEB) $(WEB_LDFLAGS) -o $@ $< build/wasm/libpecore.a build/wasm/zlib/libz.a -lm

# Growing shared memory makes JS re-check its heap views on each access
# (the warning); the worker only copies frames in and embeddings out.
# POOL_SIZE_STRICT=2: a thread past the pool fails to start (the library
# says so) instead of waiting for a worker the blocked caller never lets load.
build/web-mt/pecore-web.js: bindings/web/src/pecore_web.c build/web-mt/libpecore.a build/web-mt/zlib-mt/libz.a
	@mkdir -p $(dir $@)
	$(EMCC) $(BASEFLAGS_WEB) -pthread -Wno-pthreads-mem-growth $(WEB_LDFLAGS) -sPTHREAD_POOL_SIZE=$(WEB_POOL) -sPTHREAD_POOL_SIZE_STRICT=2 -o $@ $< \
		build/web-mt/libpecore.a build/web-mt/zlib-mt/libz.a -lm

# zlib again with -pthread (wasm-ld refuses objects without atomics in a
# shared-memory build), from the sources the sub-make extracted.
build/web-mt/zlib-mt/libz.a: build/web-mt/libpecore.a
	@rm -rf $(dir $@) && mkdir -p $(dir $@)
	cd $(dir $@) && $(EMCC) -O2 -msimd128 -pthread -c $(ZLIB_NAMES:%=../zlib/%.c)
	emar rcs $@ $(ZLIB_NAMES:%=$(dir $@)%.o)

BASEFLAGS_WEB = -std=c11 -D_GNU_SOURCE -Iinclude $(WARN) $(WASM_CFLAGS)

# The page works from the repository alone: seeded random weights, which
# the page says are synthetic.  f32: the wasm build reads f16 weights
# through the scalar path, 6x slower per image (bench, node, one thread).
$(WEB_MODEL): build/wasm/pecore.js
	@mkdir -p $(dir $@)
	node --no-experimental-fetch build/wasm/pecore.js synth --arch PE-Core-T16-384 --seed 1 --dtype f32 \
		--vision-only -o $@

# ---------------------------------------------------------------- app bindings
# make java: build/java/pecore.jar (package dev.pecore, Java 8 bytecode for
# Android's D8) and $(BUILD)/java/libpecore_jni.so, the JNI glue with
# libpecore.a linked in and its symbols hidden (only Java_* and JNI_OnLoad
# are exported).  Debian: default-jdk-headless (scripts/deps.sh).
# make java-arm64: the same glue cross-built for aarch64 against the JDK's
# jni.h (build/arm64/java/libpecore_jni.so, 16 KB pages as Android 15 asks).
# bindings/android/build-aar.sh builds the Android ABIs with the NDK through
# the same rule; bindings/swift is the iOS package.
JAVAC ?= javac
JAVA_HOME ?= $(patsubst %/bin/javac,%,$(realpath $(shell command -v $(JAVAC) 2>/dev/null)))
JNI_CFLAGS ?= -I$(JAVA_HOME)/include -I$(JAVA_HOME)/include/linux
JNI_LDLIBS ?= $(LDLIBS_CORE)
JAVA_SRC := $(sort $(wildcard bindings/java/src/dev/pecore/*.java))
JAVA_TEST_SRC := $(sort $(wildcard bindings/java/test/*.java))
JUNIT_CP := /usr/share/java/junit4.jar:/usr/share/java/hamcrest-core.jar

.PHONY: java java-arm64
java: build/java/pecore.jar $(BUILD)/java/libpecore_jni.so

# The jar (and the JNI header javac writes beside it) is built here, before
# the sub-make starts: a sub-make that built it too would race this make's
# javac under -j, one deleting build/java/include while the other compiles.
java-arm64: build/java/pecore.jar
	$(MAKE) CC=aarch64-linux-gnu-gcc BUILD=build/arm64 CFLAGS="-O2 -Werror" build/arm64/java/libpecore_jni.so

# javac -h writes the JNI header the glue is compiled against: a native
# method whose Java and C signatures differ fails to build.
build/java/pecore.jar: $(JAVA_SRC)
	@rm -rf build/java/classes build/java/include && mkdir -p build/java/classes
	$(JAVAC) --release 8 -Xlint:all,-options -Werror -encoding UTF-8 -d build/java/classes \
		-h build/java/include $(JAVA_SRC)
	jar cf $@ -C build/java/classes .

$(BUILD)/java/libpecore_jni.so: bindings/java/jni/pecore_jni.c build/java/pecore.jar $(BUILD)/libpecore.a
	@mkdir -p $(dir $@)
	$(CC) $(BASEFLAGS) $(JNI_CFLAGS) -Ibuild/java/include -shared -o $@ $< $(BUILD)/libpecore.a \
		$(JNI_LDLIBS) -Wl,--exclude-libs,ALL -Wl,--no-undefined -Wl,-z,max-page-size=16384 $(LDFLAGS)

build/java/tests.jar: $(JAVA_TEST_SRC) build/java/pecore.jar
	@rm -rf build/java/test-classes && mkdir -p build/java/test-classes
	$(JAVAC) -Xlint:all -Werror -encoding UTF-8 -cp build/java/pecore.jar:$(JUNIT_CP) \
		-d build/java/test-classes $(JAVA_TEST_SRC)
	jar cf $@ -C build/java/test-classes .

# ---------------------------------------------------------------- ARM performance
# bench/arm/: insncount.so, a qemu-aarch64 TCG plugin (host shared object) that
# counts executed instructions by class and symbol, and its exact-count test
# on a hand-written aarch64 program (seconds; needs qemu-user and
# gcc-aarch64-linux-gnu).  bench/arm/run.sh makes the instruction table.
ARM_BENCH := build/bench-arm
.PHONY: bench-arm-test
$(ARM_BENCH)/insncount.so: bench/arm/insncount.c bench/arm/qemu_plugin_api.h bench/arm/pe_mark.h
	@mkdir -p $(dir $@)
	cc -std=c11 -D_GNU_SOURCE -O2 -g -fPIC -shared -fvisibility=hidden $(WARN) -o $@ $< -lpthread

$(ARM_BENCH)/insncount_test: bench/arm/insncount_test.S
	@mkdir -p $(dir $@)
	aarch64-linux-gnu-gcc -nostdlib -static -o $@ $<

bench-arm-test: $(ARM_BENCH)/insncount.so $(ARM_BENCH)/insncount_test
	sh bench/arm/test.sh $^
