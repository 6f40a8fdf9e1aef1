#!/bin/sh
# Installs what `make wasm` and `make test-wasm` need on Debian 12, if any is
# missing: Debian's emscripten (3.1.6: SIMD128, no relaxed SIMD) and the
# node it runs on, binutils-source for zlib's C source (the tarball under
# /usr/src/binutils carries a copy of zlib; no Debian package ships zlib's
# own, and emscripten's ports would download theirs at build time), and
# numpy for the golden checker (tests/arm64/golden.py).
# Needs root (or sudo) only when something has to be installed.
set -eu
PKGS="emscripten nodejs binutils-source python3-numpy make gzip"
# shellcheck disable=SC2086
sh "$(dirname "$0")/apt-missing.sh" $PKGS
