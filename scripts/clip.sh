#!/bin/sh
# scripts/clip.sh OUT.avi SECONDS IMAGE...: a 30 fps 640x480 clip of the
# images, SECONDS each, one after the other (looped stills concatenated,
# MJPEG so that it stays small), for `ffmpeg -re -i OUT.avi -f rawvideo -`.
set -eu
out=$1 secs=$2
shift 2
inputs=""; filt=""; cat=""; i=0
for f in "$@"; do
    inputs="$inputs -loop 1 -framerate 30 -t $secs -i $f"
    filt="$filt[$i:v]scale=640:480,setsar=1,format=yuvj420p[v$i];"
    cat="$cat[v$i]"
    i=$((i + 1))
done
# shellcheck disable=SC2086
ffmpeg -hide_banner -loglevel error -y $inputs -filter_complex "$filt${cat}concat=n=$i:v=1:a=0" \
    -r 30 -c:v mjpeg -q:v 5 "$out"
