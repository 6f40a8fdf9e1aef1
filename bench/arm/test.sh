#!/bin/sh
# Checks the insncount plugin against bench/arm/insncount_test.S, whose every
# executed instruction is known: exact totals per phase, class and symbol.
#   bench/arm/test.sh PLUGIN.so TEST_BINARY      (make bench-arm-test)
set -eu
plugin=$1 prog=$2
out=$(mktemp /tmp/insncount.XXXXXX)
trap 'rm -f "$out" "$out.want" "$out.blocks"' EXIT
qemu-aarch64 -cpu max -plugin "$plugin,out=$out,blocks=$out.blocks" "$prog"
# Per loop iteration (LOOPS = 1000): 8 fmla, 4 dot, 3 mmla, 7 simd, 9 load,
# 6 store, 4 branch in _start and the ret in leaf, 2 other; the markers and
# the set-up and exit code are listed in the .S.
cat >"$out.want" <<'WANT'
0	*	10	0	0	0	2	0	0	0	8
0	_start	10	0	0	0	2	0	0	0	8
1	*	44005	8000	4000	3000	7000	9000	6000	5000	2005
1	_start	43005	8000	4000	3000	7000	9000	6000	4000	2005
1	leaf	1000	0	0	0	0	0	0	1000	0
2	*	3	0	0	0	0	0	0	0	3
2	_start	3	0	0	0	0	0	0	0	3
WANT
if ! grep -v '^#' "$out" | diff "$out.want" - >&2; then
    echo "insncount: counts differ from the known program (want < > got)" >&2
    exit 1
fi
# Blocks: the loop is cut at the call, the two tests and the back branch.
cat >"$out.want" <<'WANT'
0	10	1	_start
1	38	1000	_start
1	3	1000	_start
1	1	1000	_start
1	1	1000	_start
1	1	1000	leaf
1	5	1	_start
2	3	1	_start
WANT
if ! grep -v '^#' "$out.blocks" | cut -f1,3- | diff "$out.want" - >&2; then
    echo "insncount: block counts differ from the known program (want < > got)" >&2
    exit 1
fi
echo "insncount: all classes, phases, symbols and blocks exact"
