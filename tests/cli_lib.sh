# Shared by the shell tests (sourced): counters, a temp dir, and the checks.
BUILD=${BUILD:-build}
PE=${PECORE_BIN:-$BUILD/pecore}
G=${PECORE_GOLDEN:-../shared/golden}
T=$(mktemp -d /tmp/pecore-test.XXXXXX)
trap 'rm -rf "$T"' EXIT
pass=0; fail=0

ok() { if [ "$1" -eq 0 ]; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL: $2"; fi; }

# expect_fail "words in the message" cmd...: non-zero exit, the message on
# stderr in at most 3 lines, no crash (exit < 128).
expect_fail() {
    want=$1; shift
    "$@" >"$T/out" 2>"$T/err"; rc=$?
    lines=$(wc -l <"$T/err")
    if [ "$rc" -ne 0 ] && [ "$rc" -lt 128 ] && grep -q -- "$want" "$T/err" && [ "$lines" -le 3 ]; then
        pass=$((pass + 1))
    else
        fail=$((fail + 1)); echo "FAIL: '$*' exit $rc, stderr: $(head -c 300 "$T/err") (wanted '$want')"
    fi
}

# size_is FILE BYTES
size_is() { [ "$(wc -c <"$1" 2>/dev/null)" = "$2" ]; }

# finish NAME: the summary line the runner reads, and the exit status.
finish() { echo "$1: $pass passed, $fail failed"; [ "$fail" -eq 0 ]; }
