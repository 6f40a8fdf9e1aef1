#!/bin/sh
# XNNPACK's figure for the instruction table: its fully-connected operator
# (Debian's arm64 libxnnpack 0.0~git20220216, unpacked by xnnpack_fetch.sh)
# on the four GEMM shapes of PE-Core-T16-384 (M = 577 tokens), f32 / qs8 / qu8,
# one run each under qemu-aarch64 with the insncount plugin, 1 thread.  The
# binary is dynamic (the package has no .a): it runs with the arm64 loader of
# the cross toolchain (-L /usr/aarch64-linux-gnu) and no threads.
#   bench/arm/xnn_run.sh [--cpus "cortex-a53 cortex-a76 max"]
set -eu
cd "$(dirname "$0")/../.."
cpus="cortex-a53 cortex-a76 max"
[ "${1:-}" = --cpus ] && cpus=$2
B=build/bench-arm
X=$PWD/build/xnnpack/root
L=$X/usr/lib/aarch64-linux-gnu
[ -f "$L/libXNNPACK.so.0" ] || sh bench/arm/xnnpack_fetch.sh >/dev/null
make $B/insncount.so >/dev/null
# RPATH, not RUNPATH: libXNNPACK's own dependencies are found there too
aarch64-linux-gnu-gcc -std=c11 -D_GNU_SOURCE -O2 -Wall -Wextra -Werror -I"$X/usr/include" \
    -o $B/xnn_fc bench/arm/xnn_fc.c -L"$L" -lXNNPACK -lpthreadpool -lm \
    -Wl,--disable-new-dtags,-rpath,"$L" -Wl,-rpath-link,"$L"
tsv=$(mktemp /tmp/xnn_fc.XXXXXX)
trap 'rm -f "$tsv"' EXIT
echo "| type | -cpu | shape (M x K x N) | M instr | MAC/instr | fmla | dot | other SIMD | load | store |"
echo "|---|---|---|---|---|---|---|---|---|---|"
for t in f32 qs8 qu8; do
    for c in $cpus; do
        for s in qkv proj fc1 fc2; do
            info=$(qemu-aarch64 -L /usr/aarch64-linux-gnu -cpu "$c" -plugin "$B/insncount.so,out=$tsv" \
                $B/xnn_fc "$t" "$s")
            macs=${info##*macs=} macs=${macs%% *}
            shape=$(echo "$info" | sed 's/.*m=\([0-9]*\) k=\([0-9]*\) n=\([0-9]*\).*/\1 x \2 x \3/')
            awk -F'\t' -v t="$t" -v c="$c" -v s="$s ($shape)" -v macs="$macs" '
                $1 == 1 && $2 == "*" {
                    printf "| %s | %s | %s | %.2f | %.2f | %.1f%% | %.1f%% | %.1f%% | %.1f%% | %.1f%% |\n",
                        t, c, s, $3 / 1e6, macs / $3, 100 * $4 / $3, 100 * $5 / $3,
                        100 * $7 / $3, 100 * $8 / $3, 100 * $9 / $3
                }' "$tsv"
        done
    done
done
