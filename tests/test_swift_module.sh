#!/bin/sh
# The iOS side without a Swift toolchain: include/pecore.h builds as the
# Clang module CPecore of bindings/swift (clang -fmodules with its module
# map), from C (#pragma clang module import) and Objective-C (@import), and
# programs importing it link against libpecore.a and run.
. "$(dirname "$0")/cli_lib.sh"
MAP=bindings/swift/Sources/CPecore/module.modulemap
LIB=$BUILD/libpecore.a
LIBS="-lz -lutf8proc -lm -lpthread"
if ! command -v clang >/dev/null 2>&1; then echo "FAIL: clang missing"; finish test_swift_module; exit 1; fi
# a sanitized library needs the sanitizers' runtimes at link time
SAN=""; nm "$LIB" 2>/dev/null | grep -q __asan_init && SAN="-fsanitize=address,undefined"
MOD="-fmodules -fmodules-cache-path=$T/mc -fmodule-map-file=$MAP -Wall -Wextra -Werror"

clang $MOD -x c -std=c11 -fsyntax-only bindings/swift/Tests/module_check.c; ok $? "pecore.h builds as the module CPecore (C)"
# shellcheck disable=SC2086
clang $MOD $SAN -std=c11 -o "$T/module_check" bindings/swift/Tests/module_check.c "$LIB" $LIBS 2>"$T/c.log"
ok $? "a C program importing CPecore links"; head -n 5 "$T/c.log"
"$T/module_check" "$G/models/pe-micro.safetensors" >"$T/out" 2>&1; rc=$?
cat "$T/out" | grep -E "^(FAIL|module_check: no)" || true
ok $rc "the C program runs"
line=$(grep -E '^module_check: [0-9]+ passed, [0-9]+ failed$' "$T/out")
[ -n "$line" ]; ok $? "the C program reports"
[ -n "$line" ] && pass=$((pass + $(echo "$line" | sed -E 's/.* ([0-9]+) passed.*/\1/')))
# shellcheck disable=SC2086
clang $MOD $SAN -o "$T/module_check_objc" bindings/swift/Tests/module_check.m "$LIB" $LIBS 2>"$T/objc.log"
ok $? "@import CPecore from Objective-C links"; head -n 5 "$T/objc.log"
"$T/module_check_objc"; ok $? "the Objective-C program runs"
# the module map points at the repository's header, not a copy
grep -q '"../../../../include/pecore.h"' bindings/swift/Sources/CPecore/pecore_apple.h && \
    [ -f "bindings/swift/Sources/CPecore/../../../../include/pecore.h" ]; ok $? "CPecore wraps include/pecore.h itself"
finish test_swift_module
