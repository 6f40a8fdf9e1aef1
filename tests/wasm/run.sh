#!/bin/sh
# make test-wasm: the WebAssembly build (make wasm) under node over the real
# file system:
#   - the unit tests of WASM_TESTS (build/wasm/tests/NAME.js; test_kernels
#     checks the wasm-simd128 set against the scalar reference);
#   - the golden image_raw cases through `embed --raw`, at the manifest's
#     tolerances (tests/arm64/golden.py with node as the runner, one thread),
#     on the default kernel set (wasm-simd128) and on PECORE_ISA=scalar;
#   - T16-384 quantized to q8 and q4 by this build, the 224 x 224 golden case
#     against the float golden output and (q8) across the kernel sets;
#   - PECORE_ISA reaches the program (emscripten has its own environment);
#   - info, bench --json (the kernel set, one thread), quantize + compare;
#   - text (tests/wasm/text.py): the golden token ids, text embeddings and
#     zero-shot logits of pe-micro, and the native build's ids ($NATIVE) for
#     those texts and harder ones (the generated Unicode tables);
#   - what this build cannot do fails with exit 1 and one line on stderr:
#     a truncated model, a missing file, an image file (no codecs), two
#     threads (single-threaded build).
# usage: tests/wasm/run.sh [BUILD]   (PECORE_GOLDEN, NODE, NATIVE, WASM_TESTS,
# WASM_GOLDEN, WASM_GOLDEN_SCALAR override; WASM_GOLDEN='*' runs every
# image_raw case: all 11 pass, 100 s instead of 12)
# $PE, $RUN_ENV and the pattern lists are split into words on purpose.
# shellcheck disable=SC2086
set -u
B=${1:-build/wasm}
G=${PECORE_GOLDEN:-../shared/golden}
PY=/usr/bin/python3
NODE=${NODE:-node}
NATIVE=${NATIVE:-build/pecore}
# Debian's emscripten runs its JS helpers from there; pecore.js needs nothing of it
export NODE_PATH="${NODE_PATH:-/usr/share/nodejs}"
GOLDEN=${WASM_GOLDEN:-"pe-micro/* pe-micro-timm/* pe-core-t16-384/raw/224x224"}
WASM_TESTS=${WASM_TESTS:-"test_kernels test_quant test_json test_sha256 test_npy test_safetensors \
test_quantize_api test_cpu test_frame test_smooth test_dinov2 test_arch test_tokenizer"}
PE="$NODE --no-experimental-fetch $B/pecore.js"
pass=0; fail=0; bad=""; RUN_ENV=""
T=$(mktemp -d /tmp/pecore-wasm.XXXXXX)
trap 'rm -rf "$T"' EXIT

ok() { pass=$((pass + 1)); }
no() { fail=$((fail + 1)); bad="$bad
  $1"; echo "FAIL $1"; }

# refused NAME WORD ARGS...: exit 1, stderr one line "pecore: ..." holding WORD
refused() {
    name=$1; word=$2; shift 2
    $RUN_ENV $PE "$@" >"$T/out" 2>"$T/err"
    rc=$?
    lines=$(wc -l <"$T/err")
    if [ "$rc" -ne 1 ]; then no "$name: exit $rc, expected 1 ($(head -c 300 "$T/err"))"
    elif [ "$lines" -ne 1 ] || ! head -1 "$T/err" | grep -q '^pecore: '; then
        no "$name: stderr is not one 'pecore:' line: $(head -c 300 "$T/err")"
    elif ! grep -q -- "$word" "$T/err"; then no "$name: '$word' not in: $(cat "$T/err")"
    else echo "ok   $name: $(cat "$T/err")"; ok; fi
}

if [ ! -f "$B/pecore.js" ] || [ ! -f "$B/pecore.wasm" ]; then
    echo "FAIL no $B/pecore.js or pecore.wasm (make wasm)"; echo "test-wasm: 0 passed, 1 failed"; exit 1
fi
start=$(date +%s)
M=$G/models/pe-micro.safetensors

# unit tests
for t in $WASM_TESTS; do
    s=$(date +%s)
    if PECORE_TEST_QUICK=1 $NODE --no-experimental-fetch "$B/tests/$t.js" >"$T/unit" 2>&1; then
        ok; echo "ok   $t ($(($(date +%s) - s)) s): $(tail -1 "$T/unit")"
    else no "$t: $(grep FAIL "$T/unit" | head -5) $(tail -3 "$T/unit")"; fi
done

# golden image_raw cases, on each kernel set
for isa in wasm-simd128 scalar; do
    isa_env=""
    [ "$isa" = scalar ] && isa_env=PECORE_ISA=scalar
    # shellcheck disable=SC2086
    if env $isa_env $PY tests/arm64/golden.py --golden "$G" --threads 1 --cases $GOLDEN -- $PE \
        >"$T/golden" 2>&1; then ok
    else no "golden image_raw cases ($isa kernels)"; fi
    echo "-- golden image_raw, $isa kernels"
    cat "$T/golden"
    GOLDEN=${WASM_GOLDEN_SCALAR:-"pe-micro/* pe-micro-timm/*"}
done

# int8 kernels: T16-384 quantized by this build (q8, q4), the golden 224 x 224
# case embedded on each kernel set, against the float golden output at the
# targets of tests/test_quant.c (q8 >= 0.999, q4 >= 0.99), and wasm-simd128
# against scalar: the integer products are exact, what differs is float
# rounding and softmax_q8's codes (+-1), which the native AVX2 and scalar sets
# show too (cosine 0.99988 on this case), so >= 0.9995.
TM=$G/models/pe-core-t16-384.safetensors
TIN=$G/inputs/pe-core-t16-384_raw_224x224.npy
TREF=$G/expected/pe-core-t16-384_raw_224x224_embedding.npy
for qt in q8 q4; do
    if ! $PE quantize -m "$TM" --type $qt --vision-only -o "$T/t16-$qt.safetensors" >/dev/null 2>"$T/err"; then
        no "quantize T16-384 $qt: $(cat "$T/err")"; continue
    fi
    isas="wasm-simd128 scalar"
    [ $qt = q4 ] && isas=wasm-simd128 # the scalar q4 pass takes 8 s
    for isa in $isas; do
        if ! env PECORE_ISA=$isa $PE embed -m "$T/t16-$qt.safetensors" --raw "$TIN" --threads 1 \
            -o "$T/e-$qt-$isa.npy" 2>"$T/err"; then
            no "embed T16-384 $qt ($isa): $(cat "$T/err")"
        fi
    done
    min=0.999; [ $qt = q4 ] && min=0.99
    if out=$($PY - "$TREF" "$T/e-$qt-wasm-simd128.npy" "$T/e-$qt-scalar.npy" "$min" <<'EOF'
import os, sys
import numpy as np
def cos(a, b):
    a, b = a.ravel().astype(np.float64), b.ravel().astype(np.float64)
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))
ref, simd = np.load(sys.argv[1]), np.load(sys.argv[2])
c = cos(simd, ref)
good = c >= float(sys.argv[4])
msg = "cosine to float golden %.6f (min %s)" % (c, sys.argv[4])
if os.path.exists(sys.argv[3]):
    x = cos(simd, np.load(sys.argv[3]))
    good = good and x >= 0.9995
    msg += ", to scalar %.6f (min 0.9995)" % x
print(msg)
sys.exit(0 if good else 1)
EOF
    ); then ok; echo "ok   T16-384 $qt 224x224: $out"
    else no "T16-384 $qt 224x224: $out"; fi
done

# info and bench: one thread, the kernel set it reports (PECORE_ISA honoured)
if $PE info -m "$M" >"$T/info" 2>"$T/err" && grep -q '^vision ' "$T/info"; then ok; echo "ok   info"
else no "info: $(cat "$T/err")"; fi
for want in wasm-simd128 scalar; do
    if [ "$want" = scalar ]; then set -- env PECORE_ISA=scalar; else set -- env; fi
    if "$@" $PE bench -m "$M" --runs 2 --warmup 1 --json >"$T/bench" 2>"$T/err" &&
        grep -q '"threads": 1,' "$T/bench" && grep -q "\"isa\": \"$want\"" "$T/bench"; then
        ok; echo "ok   bench: isa $want, $(sed -n 's/.*"p50_ms": \([0-9.]*\).*/\1/p' "$T/bench") ms"
    else no "bench ($want): $(cat "$T/err" "$T/bench")"; fi
done

# quantize, then compare the two on a golden input: q8 stays close
if $PE quantize -m "$M" --type q8 -o "$T/q8.safetensors" >/dev/null 2>"$T/err" &&
    $PE compare -m "$M" -m "$T/q8.safetensors" --raw "$G/inputs/pe-micro_raw_64x64.npy" >"$T/cmp" 2>>"$T/err" &&
    awk '/^cosine/ { exit !($5 + 0 > 0.999) }' "$T/cmp"; then
    ok; echo "ok   quantize q8 + compare: $(grep '^cosine' "$T/cmp")"
else no "quantize + compare: $(cat "$T/err" "$T/cmp" 2>/dev/null)"; fi

# text: the tokenizer on the generated Unicode tables, against the golden
# data and the native build
if [ ! -x "$NATIVE" ]; then no "text: no native build $NATIVE to compare with (make build/pecore)"
elif $PY tests/wasm/text.py --golden "$G" --native "$NATIVE" -- $PE >"$T/text" 2>&1; then ok
else no "text (tests/wasm/text.py)"; fi
echo "-- text"
cat "$T/text"

# what this build refuses, in one line each
head -c 100000 "$M" >"$T/truncated.safetensors"
refused "truncated model" "past the end" embed -m "$T/truncated.safetensors" \
    --raw "$G/inputs/pe-micro_raw_64x64.npy" --threads 1 -o "$T/e.npy"
refused "missing model" "No such file" embed -m "$T/none.safetensors" \
    --raw "$G/inputs/pe-micro_raw_64x64.npy" -o "$T/e.npy"
refused "image file" "--raw" embed -m "$M" --threads 1 -o "$T/e.npy" "$G/images/chelsea.png"
refused "two threads" "use --threads 1" embed -m "$M" --raw "$G/inputs/pe-micro_raw_64x64.npy" \
    --threads 2 -o "$T/e.npy"
RUN_ENV="env PECORE_ISA=avx2"
refused "PECORE_ISA=avx2" "not a kernel set of this build" info -m "$M"
RUN_ENV=""
[ -f "$T/e.npy" ] && no "a refused embed wrote its output"

echo "wall time $(($(date +%s) - start)) s"
[ -z "$bad" ] || printf 'failed:%s\n' "$bad"
echo "test-wasm: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
