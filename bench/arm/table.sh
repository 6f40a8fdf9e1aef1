#!/bin/sh
# Markdown tables of the runs bench/arm/run.sh left in DIR (default
# build/bench-arm/runs): instructions of phase 1 (the forward pass) by class,
# multiply-adds per instruction (pe_model_flops / 2 over the instructions), the
# wall time of the whole qemu run and the hash of the pass binary that ran
# (runs/bin/HASH); then the symbols with the most instructions.
#   bench/arm/table.sh [DIR] [TOP]
set -eu
R=${1:-build/bench-arm/runs} top=${2:-6}
echo "| model | type | kernels | -cpu | G instr | MAC/instr | fmla | dot | mmla | other SIMD | load | store | branch | other | qemu wall s | binary |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
for m in T16-384 S16-384 B16-224; do
    for d in f32 q8 q4; do
        for s in scalar:cortex-a53 neon:cortex-a53 neon-dot:cortex-a76 neon-i8mm:max \
                 neon-dot:cortex-a76:c16; do
            n=$m-$d-${s%%:*}-$(echo "${s#*:}" | tr : -)
            dt=$d
            case $s in *:c16) s=${s%:c16} dt="$d, compute f16" ;; esac
            if [ -f "$R/$n.skip" ]; then
                echo "| PE-Core-$m | $dt | ${s%%:*} | ${s#*:} | not in this build ($(cut -d' ' -f2 "$R/$n.skip") ran) | | | | | | | | | | | |"
                continue
            fi
            [ -f "$R/$n.tsv" ] && [ -f "$R/$n.bin" ] || continue  # none yet, or being rerun
            flops=$(sed -n 's/.*flops=\([0-9]*\).*/\1/p' "$R/$n.out")
            awk -F'\t' -v m="PE-Core-$m" -v d="$dt" -v s="$s" -v flops="$flops" -v wall="$(cat "$R/$n.wall")" -v bin="$(cat "$R/$n.bin" 2>/dev/null)" '
                $1 == 1 && $2 == "*" {
                    split(s, k, ":")
                    printf "| %s | %s | %s | %s | %.2f | %.3f |", m, d, k[1], k[2], $3 / 1e9, flops / 2 / $3
                    for (i = 4; i <= 11; i++) printf " %.1f%% |", 100 * $i / $3
                    printf " %s | %s |\n", wall, substr(bin, 1, 8)
                }' "$R/$n.tsv"
        done
    done
done
echo
echo "Where the instructions of each pass go (symbols with the most instructions, % of the pass; inlined code counts in its caller):"
echo
for f in "$R"/*.tsv; do
    [ -f "${f%.tsv}.bin" ] || continue
    awk -F'\t' -v n="$(basename "$f" .tsv)" -v top="$top" '
        $1 == 1 && $2 == "*" { t = $3; next }
        $1 == 1 && shown < top { line = line sprintf("%s%s %.1f%%", shown ? ", " : "", $2, 100 * $3 / t); shown++ }
        END { printf "- %s: %s\n", n, line }' "$f"
done
