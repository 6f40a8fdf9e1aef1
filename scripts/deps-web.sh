#!/bin/sh
# Installs what `make web` and `make test-web` need on Debian 12, beyond
# scripts/deps-wasm.sh (emscripten, node): Debian's chromium (run headless
# by the test), ffmpeg (the fake camera's clip), npm, and puppeteer-core
# from the npm registry at the version tests/web/package-lock.json pins
# (npm ci; PUPPETEER_SKIP_DOWNLOAD: no browser download, Debian's runs).
# Needs root (or sudo) only when a Debian package has to be installed.
set -eu
cd "$(dirname "$0")/.."
sh scripts/deps-wasm.sh
sh scripts/apt-missing.sh chromium ffmpeg
# npm: from Debian unless the node in use brought its own (NodeSource's does,
# and Debian's npm package would conflict with it).
command -v npm >/dev/null || sh scripts/apt-missing.sh npm
if [ ! -d tests/web/node_modules/puppeteer-core ]; then
    (cd tests/web && PUPPETEER_SKIP_DOWNLOAD=1 npm ci --no-audit --no-fund)
fi
