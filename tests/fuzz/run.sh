#!/bin/sh
# Runs each libFuzzer harness for a bounded time on a corpus seeded from the
# golden data (copied into a temporary directory, never into the repository).
# Usage: run.sh BUILD_DIR SECONDS TARGET...   A crash stops with its input
# under $BUILD_DIR/crashes/: fix it, then add the input to tests/fuzz/regress/<target>/.
set -u
B=$1; S=$2; shift 2
G=${PECORE_GOLDEN:-../shared/golden}
GD=${PECORE_GOLDEN_DINOV2:-../shared/golden-dinov2}
export PECORE_GOLDEN="$G"
# tiny DINOv2 (registers) and Franca (teacher names, SwiGLU) files: the golden ones exceed max_len
dinov2_seeds() { [ -x "${TEST_DINOV2:-build/tests/test_dinov2}" ] && "${TEST_DINOV2:-build/tests/test_dinov2}" --write-seed "$1" >/dev/null; }
W=$(mktemp -d /tmp/pecore-fuzz.XXXXXX)
trap 'rm -rf "$W"' EXIT
mkdir -p "$B/crashes"
rc=0
for t in "$@"; do
    c="$W/$t"; mkdir -p "$c"
    max=65536
    case $t in
        safetensors) cp "$G"/models/pe-micro-timm.safetensors "$c"/ ; dinov2_seeds "$c"; max=500000 ;;
        pt)          cp "$G"/models/*.pt "$GD"/models/*.pth "$c"/ ; max=65536
                     # the golden files are large: a small twin from the test's writer
                     [ -x "${TEST_PT:-build/tests/test_pt}" ] && "${TEST_PT:-build/tests/test_pt}" --write-seed "$c/template.pt" ;;
        npy)         cp "$G"/inputs/*.npy "$c"/ 2>/dev/null; ls "$G"/expected/*.npy | head -n 20 | xargs -I{} cp {} "$c"/ ; max=200000 ;;
        image)       cp "$G"/images/* "$c"/ ; max=2000000 ;;
        json)        cp "$G"/manifest.json "$G"/tokenizer.json "$c"/ ; cp "$GD"/manifest.json "$c"/dinov2-manifest.json ;;
        model)       cp "$G"/models/pe-micro-timm.safetensors "$c"/ ; dinov2_seeds "$c"; max=500000
                     if [ -x "${PECORE_CLI:-build/pecore}" ]; then
                         for q in q8 q4; do
                             "${PECORE_CLI:-build/pecore}" quantize -m "$G"/models/pe-micro-timm.safetensors \
                                 -o "$c/micro-timm-$q.safetensors" --type $q >/dev/null 2>&1
                         done
                     fi ;;
        frame)       max=20000 ;;  # seeds: tests/fuzz/regress/frame (valid NV12 and RGBA descriptions)
        tokenizer)   printf '\000a photo of a cat' >"$c/t1"; printf '\000<start_of_text>Hello, World! 123 &amp;' >"$c/t2" ;;
    esac
    [ -d "tests/fuzz/regress/$t" ] && cp tests/fuzz/regress/"$t"/* "$c"/ 2>/dev/null
    echo "fuzz $t: ${S}s, corpus $(ls "$c" | wc -l) files"
    if ! "$B/fuzz_$t" -max_total_time="$S" -max_len="$max" -rss_limit_mb=4096 -timeout=25 \
         -artifact_prefix="$B/crashes/$t-" -print_final_stats=0 "$c" >"$W/$t.log" 2>&1; then
        tail -n 40 "$W/$t.log"; echo "fuzz $t: FAILED (input in $B/crashes/)"; rc=1
    else
        grep -E '^#[0-9]+.*DONE|Done [0-9]+ runs' "$W/$t.log" | tail -n 1
    fi
done
exit $rc
