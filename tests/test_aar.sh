#!/bin/sh
# Android packaging without the NDK: bindings/android/assemble-aar.sh packs
# the host JNI library (standing in for x86_64) and the aarch64 cross-built
# one (make java-arm64, for arm64-v8a) as build-aar.sh does with the NDK's;
# the archive's layout, its keep rules, the 16 KB page alignment, and the
# refusal of a library of the wrong machine are checked.
. "$(dirname "$0")/cli_lib.sh"
JAR=build/java/pecore.jar
HOST=$BUILD/java/libpecore_jni.so
ARM=build/arm64/java/libpecore_jni.so
A=bindings/android/assemble-aar.sh
if [ ! -f "$ARM" ]; then
    if command -v aarch64-linux-gnu-gcc >/dev/null 2>&1; then
        echo "FAIL: $ARM missing (make java-arm64)"; fail=$((fail + 1))
    else
        echo "test_aar: no aarch64-linux-gnu-gcc: arm64-v8a left out"
    fi
fi
abis="x86_64=$HOST"; [ -f "$ARM" ] && abis="$abis arm64-v8a=$ARM"

# shellcheck disable=SC2086
sh "$A" "$T/pecore.aar" "$JAR" $abis >/dev/null; ok $? "assemble-aar.sh"
jar tf "$T/pecore.aar" | sort >"$T/list"; ok $? "the .aar is a zip"
for e in AndroidManifest.xml classes.jar proguard.txt R.txt jni/x86_64/libpecore_jni.so; do
    grep -qx "$e" "$T/list"; ok $? "aar holds $e"
done
[ -f "$ARM" ] && { grep -qx jni/arm64-v8a/libpecore_jni.so "$T/list"; ok $? "aar holds jni/arm64-v8a/libpecore_jni.so"; }
! grep -q "META-INF" "$T/list"; ok $? "no jar manifest in the .aar"
mkdir -p "$T/x" && (cd "$T/x" && jar xf "$T/pecore.aar" && jar xf classes.jar); ok $? "unpack"
cmp -s "$T/x/jni/x86_64/libpecore_jni.so" "$HOST"; ok $? "x86_64 library unchanged"
[ -f "$T/x/dev/pecore/Native.class" ] && [ -f "$T/x/dev/pecore/Model.class" ]; ok $? "classes.jar holds dev.pecore"
# Java 8 class files (major 52), what D8 reads on every Android Gradle Plugin
[ "$(od -An -tu1 -j7 -N1 "$T/x/dev/pecore/Model.class" | tr -d ' ')" = 52 ]; ok $? "class files are Java 8"
grep -q 'package="dev.pecore"' "$T/x/AndroidManifest.xml"; ok $? "manifest names the package"
# every class the glue finds by name is kept
for c in Native PecoreException ModelInfo Classification; do
    grep -q "class dev.pecore.$c" "$T/x/proguard.txt"; ok $? "proguard keeps $c"
done
grep -q "fromNative(int, byte\[\])" "$T/x/proguard.txt"; ok $? "proguard keeps PecoreException.fromNative"
# 16 KB pages: every LOAD segment of a 64-bit library aligned to 0x4000 or more
aligned() {
    al=$(readelf -lW "$1" | awk '$1 == "LOAD" { print $NF }')
    [ -n "$al" ] || return 1
    for a in $al; do [ $((a)) -ge 16384 ] || return 1; done
}
aligned "$HOST"; ok $? "host library: 16 KB LOAD alignment"
[ -f "$ARM" ] && { aligned "$ARM"; ok $? "arm64 library: 16 KB LOAD alignment"; }
# only the JNI entry points are exported: pecore's own symbols stay inside
for so in "$HOST" ${ARM:+$([ -f "$ARM" ] && echo "$ARM")}; do
    n=$(nm -D --defined-only "$so" | awk '$2 == "T" && $3 !~ /^(Java_dev_pecore_|JNI_OnLoad$)/' | wc -l)
    [ "$n" -eq 0 ]; ok $? "$so exports only Java_dev_pecore_* and JNI_OnLoad ($n others)"
    nm -D --defined-only "$so" | grep -q Java_dev_pecore_Native_encodeImage; ok $? "$so exports the glue"
done
# a library of another machine is refused, and so is an unknown ABI
expect_fail "not an arm64-v8a library" sh "$A" "$T/bad.aar" "$JAR" "arm64-v8a=$HOST"
expect_fail "unknown ABI" sh "$A" "$T/bad.aar" "$JAR" "mips=$HOST"
expect_fail "no such file" sh "$A" "$T/bad.aar" "$JAR" "x86_64=$T/none.so"
[ ! -f "$T/bad.aar" ]; ok $? "no archive left by a refused call"
sh -n bindings/android/build-aar.sh; ok $? "build-aar.sh parses"
expect_fail "ANDROID_NDK_HOME" env -u ANDROID_NDK_HOME sh bindings/android/build-aar.sh "$T/x.aar"
finish test_aar
