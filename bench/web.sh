#!/bin/sh
# WebAssembly side by side (bench/web.py): pecore-wasm vs ONNX Runtime Web
# (npm onnxruntime-web, its wasm backend run by node) vs pecore native, on
# the same synthetic PE export (bench/pe_torch.py, int8 by bench/onnx_int8.py),
# T16-384 and B16-224 by default, interleaved; prints a markdown table
# (--results appends it to bench/RESULTS.md).  Needs what compare.sh needs
# (Debian's torch, onnx; npm) and emscripten (scripts/deps-wasm.sh).
#   bench/web.sh [--archs A,B] [--threads 1,2] [--rounds 2] [--runs 5] [--results]
set -eu
cd "$(dirname "$0")/.."
[ -d bench/node_modules/onnxruntime-web ] && [ -d bench/node_modules/onnxruntime-node ] ||
    (cd bench && npm install --ignore-scripts --no-audit --no-fund >/dev/null)
make -j2 all >/dev/null
make wasm wasm-mt >/dev/null
exec /usr/bin/python3 bench/web.py "$@"
