#!/bin/sh
# assemble-aar.sh OUT.aar CLASSES.jar ABI=libpecore_jni.so ...
# Packs an Android library archive: classes.jar, jni/<ABI>/libpecore_jni.so,
# AndroidManifest.xml, proguard.txt (consumer keep rules) and an empty R.txt.
# Each .so must be an ELF of its ABI's machine.  Needs only a JDK's jar and
# od, so it runs (and is tested, tests/test_aar.sh) without the NDK.
set -eu
[ $# -ge 3 ] || { echo "usage: assemble-aar.sh OUT.aar CLASSES.jar ABI=LIB.so ..." >&2; exit 2; }
out=$1; classes=$2; shift 2
here=$(cd "$(dirname "$0")" && pwd)
case $out in /*) ;; *) out=$PWD/$out ;; esac

# elf_machine FILE: e_machine of an ELF file (2 bytes at offset 18), as a decimal number
elf_machine() {
    [ "$(od -An -c -N4 "$1" | tr -d ' ')" = "177ELF" ] || { echo 0; return; }
    b=$(od -An -tu1 -j18 -N2 "$1")
    set -- $b
    echo $(($1 + 256 * $2))
}

stage=$(mktemp -d "${TMPDIR:-/tmp}/pecore-aar.XXXXXX")
trap 'rm -rf "$stage"' EXIT
cp "$here/AndroidManifest.xml" "$here/proguard.txt" "$stage/"
cp "$classes" "$stage/classes.jar"
: >"$stage/R.txt"
for a in "$@"; do
    abi=${a%%=*}; so=${a#*=}
    case $abi in
        arm64-v8a) want=183 ;;   # EM_AARCH64
        armeabi-v7a) want=40 ;;  # EM_ARM
        x86_64) want=62 ;;       # EM_X86_64
        x86) want=3 ;;           # EM_386
        *) echo "assemble-aar.sh: unknown ABI '$abi'" >&2; exit 1 ;;
    esac
    [ -f "$so" ] || { echo "assemble-aar.sh: $so: no such file" >&2; exit 1; }
    got=$(elf_machine "$so")
    [ "$got" = "$want" ] || { echo "assemble-aar.sh: $so is not an $abi library (ELF machine $got)" >&2; exit 1; }
    mkdir -p "$stage/jni/$abi"
    cp "$so" "$stage/jni/$abi/libpecore_jni.so"
done
rm -f "$out"
(cd "$stage" && jar cfM "$out" AndroidManifest.xml classes.jar proguard.txt R.txt jni)
echo "$out"
