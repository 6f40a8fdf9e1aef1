#!/bin/sh
# The ARM instruction table of bench/RESULTS.md: one forward pass of each model
# (synthetic weights, `pecore synth --seed 1 --vision-only`, quantized by the
# host pecore) under qemu-aarch64 with the insncount plugin, 1 thread, for
# each weight type and kernel set.  Instruction counts are deterministic, so
# each configuration runs once; a configuration whose result exists for the
# same pass binary is not rerun (--force reruns).  Each result keeps the hash
# of the binary it ran (NAME.bin, binary in runs/bin/) for bench/arm/mca.sh.
# Prints the Markdown table (bench/arm/table.sh).
#   bench/arm/run.sh [--models "T16-384 S16-384 B16-224"] [--dtypes "f32 q8 q4"]
#                    [--sets "scalar:cortex-a53 neon:cortex-a53 ..."] [--jobs N] [--force]
#                    [--computes "f32 f16"]
# --computes f16 adds the passes with fp16 compute (pe_ctx_options.compute):
# float weights only (it leaves q8/q4 linears alone), on the neon-dot set
# (cortex-a76; neon-i8mm runs the same fp16 kernels), results NAME-c16.
# A kernel set the build does not have (pass --isa under that CPU names
# another set) is listed as such, not measured.
set -eu
cd "$(dirname "$0")/../.."
B=build/bench-arm
M=$B/models
R=$B/runs

# --one MODEL DTYPE ISA CPU [COMPUTE]: one measurement (run in parallel by the loop below)
if [ "${1:-}" = --one ]; then
    name=$2-$3-$4-$5 f=$M/PE-Core-$2-$3.safetensors cflag=
    if [ "${6:-f32}" = f16 ]; then name=$name-c16 cflag="--compute f16"; fi
    got=$(PECORE_ISA=$4 qemu-aarch64 -cpu "$5" $B/pass --isa)
    if [ "$got" != "$4" ]; then
        echo "missing $got" >"$R/$name.skip"
        sha256sum $B/pass | cut -c1-16 >"$R/$name.skip.bin"
        exit 0
    fi
    sha=$(sha256sum $B/pass | cut -c1-16)
    t0=$(date +%s.%N)
    PECORE_ISA=$4 qemu-aarch64 -cpu "$5" -plugin "$B/insncount.so,out=$R/$name.tsv.part,blocks=$R/$name.blocks" \
        $B/pass $cflag "$f" >"$R/$name.out"
    t1=$(date +%s.%N)
    echo "$t0 $t1" | awk '{ printf "%.0f\n", $2 - $1 }' >"$R/$name.wall"
    mv "$R/$name.tsv.part" "$R/$name.tsv"
    echo "$sha" >"$R/$name.bin"
    echo "done $name ($(cat "$R/$name.wall") s)" >&2
    exit 0
fi

models="T16-384 S16-384 B16-224" dtypes="f32 q8 q4" jobs=2 force= computes=f32
sets="scalar:cortex-a53 neon:cortex-a53 neon-dot:cortex-a76 neon-i8mm:max"
while [ $# -gt 0 ]; do
    case "$1" in
    --models) models=$2; shift 2 ;;
    --dtypes) dtypes=$2; shift 2 ;;
    --sets) sets=$2; shift 2 ;;
    --jobs) jobs=$2; shift 2 ;;
    --force) force=1; shift ;;
    --computes) computes=$2; shift 2 ;;
    *) sed -n '2,17s/^# \{0,1\}//p' "$0" >&2; exit 2 ;;
    esac
done

make -j2 build/pecore >/dev/null
make -j2 cross-arm64 >/dev/null
make $B/insncount.so >/dev/null
aarch64-linux-gnu-gcc -static -std=c11 -D_GNU_SOURCE -O2 -Wall -Wextra -Werror -Iinclude \
    -o $B/pass bench/arm/pass.c build/arm64/libpecore.a -lz -lutf8proc -lm -lpthread
mkdir -p $M $R/bin
sha=$(sha256sum $B/pass | cut -c1-16)
cp $B/pass "$R/bin/$sha"

jobsfile=$(mktemp "$R/jobs.XXXXXX")
trap 'rm -f "$jobsfile"' EXIT
for m in $models; do
    src=$M/PE-Core-$m-f32.safetensors
    [ -f "$src" ] || build/pecore synth --arch "PE-Core-$m" --seed 1 --vision-only -o "$src" >/dev/null
    for d in $dtypes; do
        f=$M/PE-Core-$m-$d.safetensors
        [ -f "$f" ] || build/pecore quantize -m "$src" -o "$f" --type "$d" >/dev/null
        for s in $sets; do
          for c in $computes; do
            isa=${s%%:*} cpu=${s#*:}
            if [ "$c" = f16 ]; then
                # fp16 compute: float weights, the first level that has it
                case $d in q8|q4) continue ;; esac
                [ "$isa" = neon-dot ] || continue
                name=$m-$d-$isa-$cpu-c16
            else
            # f32 runs the same float kernels in every NEON level (isa.c)
            [ "$d" = f32 ] && [ "$isa" != scalar ] && [ "$isa" != neon ] && continue
            name=$m-$d-$isa-$cpu
            fi
            [ -z "$force" ] && [ "$(cat "$R/$name.bin" 2>/dev/null)" = "$sha" ] && continue
            [ -z "$force" ] && [ "$(cat "$R/$name.skip.bin" 2>/dev/null)" = "$sha" ] && continue
            rm -f "$R/$name.skip" "$R/$name.skip.bin" "$R/$name.bin"
            echo "$m $d $isa $cpu $c" >>"$jobsfile"
          done
        done
    done
done
echo "$(wc -l <"$jobsfile") configurations to run, $jobs at a time" >&2
# shellcheck disable=SC2086
xargs -P "$jobs" -L 1 sh "$0" --one <"$jobsfile"
sh bench/arm/table.sh $R
