#!/bin/sh
# Installs the Debian packages pecore builds against, if any is missing.
# Needs root (or sudo) only when something has to be installed.
set -eu
PKGS="make gcc clang libjpeg62-turbo-dev libpng-dev zlib1g-dev libutf8proc-dev ffmpeg python3-numpy python3-pil"
# The Python binding (bindings/python), its tests and the Dask corpus job.
PKGS="$PKGS python3-dev python3-pytest python3-setuptools python3-venv python3-dask python3-distributed"
# the app bindings (make java, tests/test_java.sh): JDK, JUnit 4, kotlinc
PKGS="$PKGS default-jdk-headless junit4 kotlin"
# shellcheck disable=SC2086
sh "$(dirname "$0")/apt-missing.sh" $PKGS
