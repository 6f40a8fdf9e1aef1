#!/bin/sh
# The quantization table of README.md: for T16-384, S16-384 and B16-224
# (synthetic weights, `pecore synth --seed 1 --vision-only`), each weight type
# of `pecore quantize` with its file size, p50 latency and peak RSS
# (`pecore bench`, median over rounds, the types interleaved in each round)
# and the cosine of its embeddings against the f32 file on the golden photos
# (`pecore compare`).  Prints a Markdown table; bench/RESULTS.md keeps runs.
#   bench/quant_table.sh [--threads N] [--rounds R] [--runs N]
set -eu
cd "$(dirname "$0")/.."
threads=2 rounds=3 runs=10
while [ $# -gt 0 ]; do
    case "$1" in
    --threads) threads=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    *) echo "usage: bench/quant_table.sh [--threads N] [--rounds R] [--runs N]" >&2; exit 2 ;;
    esac
done
make -j2 all >/dev/null
PE=build/pecore
OUT=build/compare
PHOTOS=$(ls ../shared/golden/images/*)
mkdir -p "$OUT"
field() { sed -n "s/.*\"$1\": \([0-9.]*\).*/\1/p"; }
median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

echo "| model | type | file MB | p50 ms ($threads thr) | peak RSS MB | cosine vs f32 mean / min |"
echo "|---|---|---|---|---|---|"
for arch in PE-Core-T16-384 PE-Core-S16-384 PE-Core-B16-224; do
    src=$OUT/$arch-vision.safetensors
    [ -f "$src" ] || $PE synth --arch "$arch" --seed 1 --vision-only -o "$src" >/dev/null
    types="f32 f16 q8 q4 q4-pure"
    for t in $types; do
        f=$OUT/$arch-vision-$t.safetensors
        case $t in
        f32) continue ;;
        q4-pure) $PE quantize -m "$src" -o "$f" --type q4 --as 'q4:*' >/dev/null ;;
        *) $PE quantize -m "$src" -o "$f" --type "$t" >/dev/null ;;
        esac
    done
    tmp=$(mktemp -d)
    r=0
    while [ $r -lt "$rounds" ]; do
        for t in $types; do
            f=$OUT/$arch-vision-$t.safetensors
            [ $t = f32 ] && f=$src
            $PE bench -m "$f" --threads "$threads" --runs "$runs" --warmup 2 --json 2>/dev/null | tail -1 >>"$tmp/$t"
        done
        r=$((r + 1))
    done
    for t in $types; do
        f=$OUT/$arch-vision-$t.safetensors
        [ $t = f32 ] && f=$src
        mb=$(awk "BEGIN { printf \"%.2f\", $(stat -c %s "$f") / 1e6 }")
        p50=$(field p50_ms <"$tmp/$t" | median)
        rss=$(field peak_rss_mb <"$tmp/$t" | sort -n | tail -1)
        if [ $t = f32 ]; then
            cos="1"
        else
            # shellcheck disable=SC2086
            cos=$($PE compare -m "$src" -m "$f" --json $PHOTOS | tail -1 |
                  sed -n 's/.*"cos_mean": \([0-9.]*\), "cos_min": \([0-9.]*\).*/\1 \/ \2/p')
        fi
        printf '| %s | %s | %s | %.1f | %.0f | %s |\n' "$arch" "$t" "$mb" "$p50" "$rss" "$cos"
    done
    rm -rf "$tmp"
done
