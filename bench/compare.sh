#!/bin/sh
# Side-by-side benchmark of pecore, ONNX Runtime and PyTorch on this machine.
# Installs what it needs (Debian: python3-torch python3-onnx python3-numpy, and
# libopenblas0-pthread so torch does not fall back to the reference BLAS;
# npm: onnxruntime-node, whose install script downloads GPU files and is
# skipped — the CPU runtime ships inside the package), builds pecore, checks
# the three agree (cosine >= 0.9999; ONNX Runtime int8, the export through
# bench/onnx_int8.py, >= 0.99), then times them interleaved.
#   bench/compare.sh [--archs PE-Core-T16-384,...] [--threads 1,2] [--rounds 3] [--runs 10]
set -eu
cd "$(dirname "$0")/.."
sh scripts/deps.sh
need=""
for p in python3-torch python3-onnx python3-numpy libopenblas0-pthread nodejs npm; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need="$need $p"
done
# node/npm may come from elsewhere than Debian; only install what is absent
command -v node >/dev/null 2>&1 && need=$(echo "$need" | sed 's/ nodejs//; s/ npm//')
if [ -n "$need" ]; then
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
    $SUDO apt-get update -qq
    # shellcheck disable=SC2086
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $need >/dev/null
fi
[ -d bench/node_modules/onnxruntime-node ] || (cd bench && npm install --ignore-scripts --no-audit --no-fund >/dev/null)
make -j2 all >/dev/null
exec /usr/bin/python3 bench/compare.py "$@"
