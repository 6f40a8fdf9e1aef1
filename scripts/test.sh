#!/bin/sh
# One command from a fresh Debian 12 clone: install dependencies, build, test.
set -eu
cd "$(dirname "$0")/.."
sh scripts/deps.sh
make -j2 all
make -j2 test
make -j2 test-asan   # the whole suite again under ASan + UBSan
