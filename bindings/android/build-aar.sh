#!/bin/sh
# build-aar.sh [OUT.aar]: pecore as an Android library.  Builds
# libpecore_jni.so for each ABI with the NDK (16 KB page alignment, as
# Android 15 requires of 64-bit apps) through the Makefile's own rule, the
# Java classes with the JDK, then packs them (assemble-aar.sh).
#
#   ANDROID_NDK_HOME   the NDK (r25 or later)                       required
#   UTF8PROC_DIR       utf8proc's sources (utf8proc.c, utf8proc.h): the NDK has
#                      no utf8proc; without it -lutf8proc must be found
#   ABIS               default "arm64-v8a armeabi-v7a x86_64"
#   ANDROID_API        minSdk of the native code, default 24
#
# Only ndk_cc needs the NDK.  The rest is what `make test` runs: the same
# Makefile rule cross-builds the glue for aarch64 (make java-arm64), and
# tests/test_aar.sh packs that and the host library with assemble-aar.sh.
set -eu
cd "$(dirname "$0")/../.."
OUT=${1:-build/android/pecore.aar}
ABIS=${ABIS:-"arm64-v8a armeabi-v7a x86_64"}
API=${ANDROID_API:-24}
: "${ANDROID_NDK_HOME:?set ANDROID_NDK_HOME to the Android NDK}"

# ndk_cc ABI: the NDK's clang for ABI, as a compiler command.
ndk_cc() {
    bin=$(echo "$ANDROID_NDK_HOME"/toolchains/llvm/prebuilt/*/bin)
    [ -x "$bin/clang" ] || { echo "build-aar.sh: no clang under $ANDROID_NDK_HOME/toolchains/llvm/prebuilt" >&2; exit 1; }
    case $1 in
        arm64-v8a) echo "$bin/clang --target=aarch64-linux-android$API" ;;
        armeabi-v7a) echo "$bin/clang --target=armv7a-linux-androideabi$API" ;;
        x86_64) echo "$bin/clang --target=x86_64-linux-android$API" ;;
        x86) echo "$bin/clang --target=i686-linux-android$API" ;;
        *) echo "build-aar.sh: unknown ABI '$1'" >&2; exit 1 ;;
    esac
}

# utf8proc compiled into the glue when its sources are given; bionic has
# pthreads and libm in libc, zlib is the NDK's.
U_CFLAGS=""; U_SRC="-lutf8proc"
if [ -n "${UTF8PROC_DIR:-}" ]; then
    U_CFLAGS="-I$UTF8PROC_DIR -DUTF8PROC_STATIC"; U_SRC="$UTF8PROC_DIR/utf8proc.c"
fi

make build/java/pecore.jar
set --
for abi in $ABIS; do
    cc=$(ndk_cc "$abi")
    b=build/android/$abi
    # jni.h is in the NDK's sysroot: no JDK include directories
    make -j"${JOBS:-2}" CC="$cc" BUILD="$b" CFLAGS="-O2 $U_CFLAGS" JNI_CFLAGS= \
        JNI_LDLIBS="$U_SRC -lz -lm" "$b/java/libpecore_jni.so"
    set -- "$@" "$abi=$b/java/libpecore_jni.so"
done
sh bindings/android/assemble-aar.sh "$OUT" build/java/pecore.jar "$@"
