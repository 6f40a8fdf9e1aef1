#!/bin/sh
# Runs every test binary given, then prints the totals on one line.
pass=0; fail=0; bad=""
for t in "$@"; do
    out=$("$t" 2>&1); rc=$?
    printf '%s\n' "$out" | grep -E '^(FAIL|[a-z0-9_]+: [0-9]+ passed)' || true
    line=$(printf '%s\n' "$out" | grep -E ': [0-9]+ passed, [0-9]+ failed$' | tail -n 1)
    p=$(printf '%s' "$line" | sed -E 's/.*: ([0-9]+) passed.*/\1/')
    f=$(printf '%s' "$line" | sed -E 's/.* ([0-9]+) failed$/\1/')
    [ -n "$p" ] || { p=0; f=1; printf '%s\n' "$out" | tail -n 20; echo "$t: crashed or printed no result (exit $rc)"; }
    [ "$rc" -eq 0 ] || [ "$f" -gt 0 ] || { f=1; echo "$t: exit $rc"; }
    pass=$((pass + p)); fail=$((fail + f))
    [ "$f" -eq 0 ] || bad="$bad $t"
done
echo "total: $pass passed, $fail failed"
[ "$fail" -eq 0 ] || { echo "failing:$bad"; exit 1; }
