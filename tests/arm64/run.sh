#!/bin/sh
# make test-arm64: the aarch64 build (static, Makefile "ARM64") under
# qemu-aarch64 on three emulated CPUs, one per NEON kernel level:
#   cortex-a53 (ARMv8.0)            must select neon
#   cortex-a76 (+dotprod, fp16)     must select neon-dot
#   max        (+i8mm, bf16, ...)   must select neon-i8mm
# On each: the level pecore selects (bench --json "isa"), that PECORE_ISA
# cannot force a level the CPU lacks, every kernel against the scalar
# reference (test_kernels, test_quant; PECORE_TEST_QUICK leaves out its
# golden T16 round trip, minutes under emulation), the forward pass of every
# SPEC variant against fp64 in f32 and q8 (test_variants), the hot path
# without allocations (test_noalloc), and the golden image_raw cases through
# build/arm64/pecore (golden.py).  fp16 compute: its kernels against the
# scalar reference and the f16 context or its refusal (test_f16, on every
# CPU), the golden image_raw cases with --compute f16 where the CPU has FP16
# arithmetic (cortex-a76, max) and a q8 file in fp16 compute there, and the
# CLI's refusal where not (cortex-a53).
# The tests that do not depend on the CPU run once, on cortex-a53.  Any exit by a signal fails, SIGILL above all.
# usage: tests/arm64/run.sh [BUILD]   (PECORE_GOLDEN, QEMU, ARM64_CPUS,
# ARM64_GOLDEN override)
set -u
B=${1:-build/arm64}
G=${PECORE_GOLDEN:-../shared/golden}
QEMU=${QEMU:-qemu-aarch64}
PY=/usr/bin/python3
export PECORE_TEST_QUICK=1
CPUS=${ARM64_CPUS:-"cortex-a53 cortex-a76 max"}
PER_CPU="test_kernels test_quant test_variants test_noalloc test_f16"
ONCE="test_json test_sha256 test_npy test_safetensors test_pt test_tokenizer test_classify \
test_quantize_api test_cpu test_frame test_preprocess test_smooth test_stream test_dinov2 \
test_fuzz_regress"
# Golden cases, by id (shell patterns; ARM64_GOLDEN='*' for all): one
# T16-384 image at 224x224 costs ~75 s of CPU under emulation.
GOLDEN=${ARM64_GOLDEN:-"pe-micro/* pe-micro-timm/*"}
pass=0; fail=0; bad=""
T=$(mktemp -d /tmp/pecore-arm64.XXXXXX)
trap 'rm -rf "$T"' EXIT

now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
ok() { pass=$((pass + 1)); }
no() { fail=$((fail + 1)); bad="$bad
  $1"; echo "FAIL $1"; }

# signal_name RC: "" unless RC is a death by signal
signal_name() {
    [ "$1" -gt 128 ] || return 0
    case $(($1 - 128)) in 4) echo SIGILL ;; 6) echo SIGABRT ;; 7) echo SIGBUS ;; 9) echo SIGKILL ;;
        11) echo SIGSEGV ;; *) echo "signal $(($1 - 128))" ;; esac
}

# fp16 compute: cortex-a53 lacks FEAT_FP16 (a clean refusal, no signal)
has_fp16() { [ "$1" != cortex-a53 ]; }

check_f16_refusal() {
    "$QEMU" -cpu "$1" "$B/pecore" bench -m "$G/models/pe-micro.safetensors" --runs 1 --warmup 0 --threads 1 \
        --compute f16 >"$T/f16.out" 2>&1; rc=$?
    if [ -z "$(signal_name $rc)" ] && [ "$rc" -ne 0 ] && grep -q "compute f16" "$T/f16.out"; then ok
        echo "aarch64 $1: --compute f16 refused: $(tail -n 1 "$T/f16.out")"
    else no "$1: --compute f16 gave exit $rc $(signal_name $rc), expected a refusal"; cat "$T/f16.out"; fi
}

embed_as() { # CPU NAME MODEL COMPUTE IMAGE: $T/NAME.npy
    "$QEMU" -cpu "$1" "$B/pecore" embed -m "$3" "$5" --compute "$4" --threads 1 -o "$T/$2.npy" \
        >"$T/q8.log" 2>&1 || { no "$1: embed $2 (exit $?)"; cat "$T/q8.log"; return 1; }
}

# fp16 compute over a q8 file: its int8 linears stay int8, its half-stored
# patch embedding (and pooling kv) run in half.  The embedding must differ
# from the same file's float32-compute one (the half arithmetic ran) and
# stay as close to the float model's as q8 is (cosine >= 0.999, as
# test_variants holds q8 to).  The q8 file is made by this build, once.
check_q8_f16() { # CPU
    q8=$T/pe-micro-q8.safetensors img=examples/chelsea.jpg
    [ -f "$q8" ] || "$QEMU" -cpu "$1" "$B/pecore" quantize -m "$G/models/pe-micro.safetensors" --type q8 \
        -o "$q8" >"$T/q8.log" 2>&1 || { no "$1: quantize pe-micro to q8"; cat "$T/q8.log"; return; }
    embed_as "$1" float "$G/models/pe-micro.safetensors" f32 "$img" &&
        embed_as "$1" q8f32 "$q8" f32 "$img" && embed_as "$1" q8f16 "$q8" f16 "$img" || return
    if r=$("$PY" - "$T" <<'PYEOF'
import sys
import numpy as np
d = sys.argv[1]
f, a, b = (np.load("%s/%s.npy" % (d, n)).astype(np.float64).ravel() for n in ("float", "q8f32", "q8f16"))
cos = float(f @ b / np.linalg.norm(f) / np.linalg.norm(b))
print("cosine to the float model %.6f, %s from float32 compute" % (cos, "same" if np.array_equal(a, b) else "differs"))
sys.exit(0 if cos >= 0.999 and not np.array_equal(a, b) else 1)
PYEOF
    ); then ok; else no "$1: q8 file with --compute f16: $r"; fi
    echo "aarch64 $1: q8 file, --compute f16: $r"
}

expect_isa() { case $1 in cortex-a53) echo neon ;; cortex-a76) echo neon-dot ;; *) echo neon-i8mm ;; esac; }

# levels a CPU must not reach, even when PECORE_ISA asks for them
above() { case $1 in cortex-a53) echo "neon-dot neon-i8mm" ;; cortex-a76) echo neon-i8mm ;; esac; }

isa_of() { sed -n 's/.*"isa": "\([^"]*\)".*/\1/p' "$1"; }

bench() { # CPU OUT [env...]: the smallest golden model, one timed run
    cpu=$1; out=$2; shift 2
    env "$@" "$QEMU" -cpu "$cpu" "$B/pecore" bench -m "$G/models/pe-micro.safetensors" --runs 1 \
        --warmup 0 --threads 1 --json >"$out" 2>"$out.err"
}

check_isa() {
    cpu=$1; want=$(expect_isa "$cpu")
    bench "$cpu" "$T/isa.json"; rc=$?; got=$(isa_of "$T/isa.json")
    if [ "$rc" -eq 0 ] && [ "$got" = "$want" ]; then ok; echo "aarch64 $cpu: selects $got"
    else no "$cpu: selected '${got}' (exit $rc $(signal_name $rc)), expected $want"; cat "$T/isa.json.err"; fi
    # PECORE_ISA: every level the CPU has is honoured, one it lacks refused
    for lvl in scalar neon neon-dot neon-i8mm; do
        bench "$cpu" "$T/isa.json" PECORE_ISA="$lvl"; rc=$?; got=$(isa_of "$T/isa.json")
        sig=$(signal_name $rc)
        case " $(above "$cpu") " in
        *" $lvl "*) if [ -z "$sig" ] && [ "$rc" -ne 0 ] && [ -z "$got" ]; then ok
                    else no "$cpu: PECORE_ISA=$lvl ran '$got' (exit $rc $sig), expected a refusal"; fi ;;
        *) if [ "$rc" -eq 0 ] && [ "$got" = "$lvl" ]; then ok
           else no "$cpu: PECORE_ISA=$lvl ran '$got' (exit $rc $sig)"; fi ;;
        esac
    done
    r=$(above "$cpu")
    echo "aarch64 $cpu: PECORE_ISA honoured up to $want, refused above (${r:-none})"
}

run_test() { # CPU TEST [ARGS]
    cpu=$1; t=$2; shift 2
    t0=$(now)
    "$QEMU" -cpu "$cpu" "$B/tests/$t" "$@" >"$T/$t.log" 2>&1; rc=$?
    line=$(grep -E ': [0-9]+ passed, [0-9]+ failed$' "$T/$t.log" | tail -n 1)
    sig=$(signal_name $rc)
    if [ "$rc" -eq 0 ] && [ -n "$line" ]; then ok; echo "aarch64 $cpu $line ($(secs "$t0") s)"
    else tail -n 20 "$T/$t.log"; no "$cpu $t: exit $rc $sig"; fi
}

start=$(now)
# on the oldest CPU model: what runs everywhere must not need more than ARMv8.0
for t in $ONCE; do run_test cortex-a53 "$t"; done
for cpu in $CPUS; do
    c0=$(now)
    check_isa "$cpu"
    for t in $PER_CPU; do
        run_test "$cpu" "$t"
    done
    # shellcheck disable=SC2086
    if "$PY" tests/arm64/golden.py --golden "$G" --cases $GOLDEN -- "$QEMU" -cpu "$cpu" "$B/pecore" \
        >"$T/golden.log" 2>&1; then ok; else no "$cpu golden image_raw cases"; fi
    sed "s/^/aarch64 $cpu /" "$T/golden.log"
    if has_fp16 "$cpu"; then
        # shellcheck disable=SC2086
        if "$PY" tests/arm64/golden.py --golden "$G" --compute f16 --cases $GOLDEN -- "$QEMU" -cpu "$cpu" \
            "$B/pecore" >"$T/golden.log" 2>&1; then ok; else no "$cpu golden image_raw cases, compute f16"; fi
        sed "s/^/aarch64 $cpu /" "$T/golden.log"
        check_q8_f16 "$cpu"
    else
        check_f16_refusal "$cpu"
    fi
    echo "aarch64 $cpu: $(secs "$c0") s"
done
# wall time, and the user CPU time of everything emulated (times: children)
times >"$T/times"
echo "test-arm64: $pass passed, $fail failed ($(secs "$start") s, CPU $(tail -n 1 "$T/times" | cut -d' ' -f1))"
[ "$fail" -eq 0 ] || { echo "failing:$bad"; exit 1; }
