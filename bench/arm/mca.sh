#!/bin/sh
# llvm-mca model of measured forward passes.  For a run of bench/arm/run.sh
# (NAME.blocks: how often each translated block ran in the pass; NAME.bin: the
# binary it ran), the hottest blocks covering COVER of the pass's
# instructions are disassembled from that binary (an inner loop is one block)
# and given to llvm-mca-22 for each core model, which returns cycles per
# iteration of the block in steady state.  Modelled cycles of the pass =
# sum over those blocks of executions x cycles per iteration, plus the
# remaining instructions at the modelled blocks' mean IPC.
#
# It is a model: no caches, no memory bandwidth, no branch mispredictions,
# perfect scaling over CORES cores; llvm-mca's scheduling models (never
# llvm-mca-14's, whose ARM models are wrong).  A kernel set whose instructions
# a core lacks (i8mm on Neoverse-N1 / Cortex-X1) gets no figure for it.
#   bench/arm/mca.sh [--cover 0.95] [--max-blocks 60] [--ghz 3] [--cores 2]
#                    [--cpus "cortex-x1 neoverse-n1 cortex-a710 cortex-a55"] RUN...
# RUN: build/bench-arm/runs/NAME.  Prints two Markdown tables: the hottest
# block of each kernel (symbol) with its cycles per iteration, and the
# modelled time per image.
set -eu
cd "$(dirname "$0")/../.."
cover=0.95 max=60 ghz=3 cores=2
cpus="cortex-x1 neoverse-n1 cortex-a710 cortex-a55"
while [ $# -gt 0 ]; do
    case "$1" in
    --cover) cover=$2; shift 2 ;;
    --max-blocks) max=$2; shift 2 ;;
    --ghz) ghz=$2; shift 2 ;;
    --cores) cores=$2; shift 2 ;;
    --cpus) cpus=$2; shift 2 ;;
    --*) sed -n '2,21s/^# \{0,1\}//p' "$0" >&2; exit 2 ;;
    *) break ;;
    esac
done
MCA=llvm-mca-22 OBJDUMP=llvm-objdump-22
T=$(mktemp -d /tmp/pecore-mca.XXXXXX)
trap 'rm -rf "$T"' EXIT

# features a core model has, for "can it run this block"
has_feature() { # CPU FEATURE
    case "$2" in
    i8mm) case "$1" in cortex-a710 | neoverse-n2 | neoverse-v1 | cortex-x2 | cortex-a510) return 0 ;; *) return 1 ;; esac ;;
    *) return 0 ;; # dotprod and fp16: all four models have them
    esac
}

# block BIN VADDR N > asm for llvm-mca: branch and literal targets become a
# label at the top of the block (llvm-mca does not follow branches).
block_asm() {
    echo ".Lblk:"
    $OBJDUMP -d --no-show-raw-insn --no-leading-addr --mattr=+dotprod,+i8mm,+fullfp16,+bf16 \
        --start-address=0x"$2" --stop-address=$((0x$2 + 4 * $3)) "$1" |
        awk '/^[ \t]+[a-z]/' | sed -e 's|//.*||' -e 's|0x[0-9a-f]* <[^>]*>|.Lblk|g'
}

cyc_header="$(for c in $cpus; do printf ' %s |' "$c"; done)"
kern="$T/kernels.md" model="$T/model.md"
{
    echo "| run | kernel (symbol) | block | insns | fmla | dot | mmla | block % of pass instr | block % of modelled cycles |$cyc_header"
    echo "|---|---|---|---|---|---|---|---|---|$(for c in $cpus; do printf -- '---|'; done)"
} >"$kern"
{
    echo "| run | G instr | modelled by llvm-mca |$(for c in $cpus; do printf ' %s Gcycles / ms |' "$c"; done)"
    echo "|---|---|---|$(for c in $cpus; do printf -- '---|'; done)"
} >"$model"

for run in "$@"; do
    name=$(basename "$run")
    bin=$(dirname "$run")/bin/$(cat "$run.bin")
    total=$(awk -F'\t' '$1 == 1 && $2 == "*" { print $3 }' "$run.tsv")
    # the hottest blocks of the pass, up to COVER of its instructions
    awk -F'\t' -v total="$total" -v cover="$cover" -v max="$max" '
        $1 == 1 && n < max && sum < cover * total { print $2, $3, $4, $5; sum += $3 * $4; n++ }' \
        "$run.blocks" >"$T/hot"
    : >"$T/cyc"
    while read -r vaddr n execs sym; do
        block_asm "$bin" "$vaddr" "$n" >"$T/b.s"
        need=
        grep -Eq '\b(smmla|ummla|usmmla)\b' "$T/b.s" && need=i8mm
        line="$vaddr $n $execs $sym"
        for c in $cpus; do
            cyc=nan
            if [ -z "$need" ] || has_feature "$c" "$need"; then
                cyc=$($MCA -mtriple=aarch64 -mcpu="$c" -mattr=+dotprod,+i8mm,+fullfp16,+bf16 \
                    -iterations=200 "$T/b.s" 2>/dev/null |
                    awk '/^Iterations:/ { i = $2 } /^Total Cycles:/ { c = $3 } END { print i ? c / i : "nan" }')
            fi
            line="$line $cyc"
        done
        fm=$(grep -Ec '\b(fmla|fmls|fmul)\b.*\.[248][hsd]' "$T/b.s" || true)
        dt=$(grep -Ec '\b(sdot|udot|usdot|sudot)\b' "$T/b.s" || true)
        mm=$(grep -Ec '\b(smmla|ummla|usmmla)\b' "$T/b.s" || true)
        echo "$line $fm $dt $mm" >>"$T/cyc"
    done <"$T/hot"
    ncpu=$(echo $cpus | wc -w)
    # hottest block of each symbol, with its share of the cycles of the first
    # core model (of --cpus) that can run the whole pass: c0 = "COLUMN CYCLES"
    c0=$(awk -v total="$total" -v ncpu="$ncpu" '
        { ins += $2 * $3; for (i = 0; i < ncpu; i++) if ($(5 + i) == "nan") bad[i] = 1; else c[i] += $3 * $(5 + i) }
        END { for (i = 0; i < ncpu; i++) if (!bad[i] && ins) { print 5 + i, c[i] * total / ins; exit } print 0, 0 }' "$T/cyc")
    awk -v run="$name" -v total="$total" -v ncpu="$ncpu" -v col="${c0% *}" -v c0="${c0#* }" -v cpus="$cpus" '
        BEGIN { split(cpus, cpu, " ") }
        !($4 in seen) {
            seen[$4] = 1
            printf "| %s | %s | 0x%s | %d | %d | %d | %d | %.1f%% | %s |", run, $4, $1, $2,
                $(5 + ncpu), $(6 + ncpu), $(7 + ncpu), 100 * $2 * $3 / total,
                !(c0 > 0) ? "n/a" : sprintf("%.1f%% (%s)", 100 * $3 * $col / c0, cpu[col - 4])
            for (i = 0; i < ncpu; i++) printf " %s |", $(5 + i) == "nan" ? "n/a" : sprintf("%.2f", $(5 + i))
            printf "\n"
        }' "$T/cyc" >>"$kern"
    awk -v run="$name" -v total="$total" -v ncpu="$ncpu" -v ghz="$ghz" -v cores="$cores" '
        { ins += $2 * $3; for (i = 0; i < ncpu; i++) if ($(5 + i) == "nan") bad[i] = 1; else cyc[i] += $3 * $(5 + i) }
        END {
            printf "| %s | %.2f | %.0f%% |", run, total / 1e9, 100 * ins / total
            for (i = 0; i < ncpu; i++) {
                if (bad[i]) { printf " n/a |"; continue }
                c = cyc[i] + (total - ins) * cyc[i] / ins  # the rest at the same IPC
                printf " %.2f / %.1f |", c / 1e9, c / (ghz * 1e9 * cores) * 1e3
            }
            printf "\n"
        }' "$T/cyc" >>"$model"
done
cat "$kern"
echo
echo "Modelled time per image: cycles / ($ghz GHz x $cores cores), as if the pass split perfectly over the cores."
echo
cat "$model"
