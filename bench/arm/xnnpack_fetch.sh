#!/bin/sh
# Unpacks Debian's arm64 XNNPACK (and what it links to) under build/xnnpack/root
# without installing it: `apt-get install libxnnpack0:arm64` through multiarch
# would remove the amd64 one and python3-torch with it.  Nothing unpacked
# here is committed.
#   bench/arm/xnnpack_fetch.sh
set -eu
cd "$(dirname "$0")/../.."
dir=build/xnnpack
mkdir -p "$dir/debs" "$dir/root"
cd "$dir/debs"
pkgs="libxnnpack0 libxnnpack-dev libpthreadpool0 libpthreadpool-dev libcpuinfo0 libcpuinfo-dev"
for p in $pkgs; do
    ls ${p}_*_arm64.deb >/dev/null 2>&1 || apt-get download "$p:arm64"
done
for f in *_arm64.deb; do dpkg-deb -x "$f" ../root; done
echo "unpacked into $dir/root:"
find ../root \( -name 'libXNNPACK*' -o -name xnnpack.h \) | sed 's|^\.\./root|  |'
