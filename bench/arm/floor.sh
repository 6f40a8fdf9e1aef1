#!/bin/sh
# The floor a core model allows: how many multiply-adds a cycle llvm-mca-22
# lets each core issue with the arithmetic instruction of each compute mode
# alone (24 independent accumulators, no loads, no loop), and what a pass of
# MACS multiply-adds would take at that rate on CORES cores at GHZ.  No real
# pass gets there (its loads, softmax, norms and epilogues come on top); a
# speed target below this floor is out of reach of any kernel on that model.
#   bench/arm/floor.sh [--macs 4.725] [--ghz 3] [--cores 2]
#                      [--cpus "cortex-x1 cortex-x2 cortex-a710 cortex-a55"]
# MACS in G (T16-384's pass is 4.725 G: bench/arm/table.sh's MAC/instr times
# its instructions).  Prints a Markdown table.
set -eu
macs=4.725 ghz=3 cores=2
cpus="cortex-x1 cortex-x2 cortex-a710 cortex-a55"
while [ $# -gt 0 ]; do
    case "$1" in
    --macs) macs=$2; shift 2 ;;
    --ghz) ghz=$2; shift 2 ;;
    --cores) cores=$2; shift 2 ;;
    --cpus) cpus=$2; shift 2 ;;
    *) sed -n '2,11s/^# \{0,1\}//p' "$0" >&2; exit 2 ;;
    esac
done
T=$(mktemp -d /tmp/pecore-floor.XXXXXX)
trap 'rm -rf "$T"' EXIT

# MODE  MACs per instruction  feature  the instruction (%d: accumulator)
modes='q8-i8mm 32 +i8mm usmmla v%d.4s, v0.16b, v1.16b
q8-dot 16 +dotprod sdot v%d.4s, v0.16b, v1.4b[1]
f16 8 +fullfp16 fmla v%d.8h, v0.8h, v1.h[1]
f32 4 +neon fmla v%d.4s, v0.4s, v1.s[1]'

echo "| mode | core | MAC / cycle | ms at ${ghz} GHz, ${cores} core(s), ${macs} G MAC |"
echo "|---|---|---|---|"
echo "$modes" | while read -r mode per feat insn; do
    i=8
    : >"$T/$mode.s"
    while [ $i -lt 32 ]; do
        # shellcheck disable=SC2059
        printf "$insn\n" $i >>"$T/$mode.s"
        i=$((i + 1))
    done
    for cpu in $cpus; do
        if [ "$feat" = +i8mm ] && ! echo " cortex-a710 neoverse-n2 neoverse-v1 cortex-x2 cortex-a510 " |
            grep -q " $cpu "; then
            echo "| $mode | $cpu | n/a (no i8mm) | n/a |"
            continue
        fi
        cyc=$(llvm-mca-22 -mtriple=aarch64 -mcpu="$cpu" -mattr="$feat" -iterations=1000 "$T/$mode.s" \
            2>/dev/null | awk '/^Total Cycles:/ {print $3}') || cyc=
        if [ -z "$cyc" ]; then
            echo "| $mode | $cpu | n/a | n/a |"
            continue
        fi
        awk -v m="$mode" -v c="$cpu" -v cyc="$cyc" -v per="$per" -v g="$macs" -v ghz="$ghz" -v n="$cores" \
            'BEGIN { r = 24000 * per / cyc; printf "| %s | %s | %.1f | %.1f |\n", m, c, r, g * 1e3 / (r * ghz * n) }'
    done
done
