#!/bin/sh
# Installs what `make arm64-cli` and `make test-arm64` need on Debian 12, if
# any is missing: the aarch64 cross compiler, qemu-user, numpy for the golden
# checker, and the arm64 -dev packages of the CLI's libraries (dpkg
# multiarch).  The host's -dev packages are named in the same apt-get call:
# the two halves of a Multi-Arch: same package must have one version, and
# asking for only the arm64 half has let apt remove the host one (seen with
# libutf8proc-dev).  Both architectures are checked afterwards.
# Needs root (or sudo) only when something has to be installed.
set -eu
LIBS="libjpeg62-turbo-dev libpng-dev zlib1g-dev libutf8proc-dev"
PKGS="gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user python3-numpy"
HOST=$(dpkg --print-architecture)
for l in $LIBS; do PKGS="$PKGS $l:$HOST $l:arm64"; done
installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
missing=""
for p in $PKGS; do installed "$p" || missing="$missing $p"; done
[ -z "$missing" ] && exit 0
echo "installing:$missing" >&2
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
dpkg --print-foreign-architectures | grep -qx arm64 || $SUDO dpkg --add-architecture arm64
$SUDO apt-get update -qq
# every package again, installed or not, so apt resolves both halves together
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $PKGS >/dev/null
lost=""
for p in $PKGS; do installed "$p" || lost="$lost $p"; done
[ -z "$lost" ] || { echo "deps-arm64: still not installed:$lost" >&2; exit 1; }
