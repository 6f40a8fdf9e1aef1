#!/bin/sh
# Installs the Debian packages pecore builds against, if any is missing.
# Needs root (or sudo) only when something has to be installed.
set -eu
PKGS="make gcc clang libjpeg62-turbo-dev libpng-dev zlib1g-dev libutf8proc-dev ffmpeg python3-numpy python3-pil"
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "installing:$missing" >&2
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
