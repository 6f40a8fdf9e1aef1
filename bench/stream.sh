#!/bin/sh
# The live-stream figure: a 10 s 30 fps 640x480 clip of the golden photos
# played in real time (ffmpeg -re) as NV12 into `pecore stream` with
# PE-Core-T16-384 q8 on 2 threads (gallery of the photos, k 1), each round
# followed by `pecore bench` of the same model so that the machine's state
# is on record.  usage: bench/stream.sh [ROUNDS]   (prints one summary per round)
set -eu
cd "$(dirname "$0")/.."
ROUNDS=${1:-3}
G=${PECORE_GOLDEN:-../shared/golden}
T=$(mktemp -d /tmp/pecore-stream-bench.XXXXXX)
trap 'rm -rf "$T"' EXIT
PE=build/pecore
$PE quantize -m "$G/models/pe-core-t16-384.safetensors" -o "$T/q8.safetensors" --type q8 2>/dev/null
inputs=""; filt=""; i=0
for im in astronaut.jpg chelsea.png coffee_progressive.jpg camera_gray.png; do
    $PE gallery add -m "$T/q8.safetensors" -g "$T/g.gal" --label "${im%%.*}" "$G/images/$im" 2>/dev/null
    inputs="$inputs -loop 1 -framerate 30 -t 2.5 -i $G/images/$im"
    filt="$filt[$i:v]scale=640:480,setsar=1,format=yuvj420p[v$i];"
    i=$((i + 1))
done
# shellcheck disable=SC2086
ffmpeg -hide_banner -loglevel error -y $inputs -filter_complex "${filt}[v0][v1][v2][v3]concat=n=4:v=1:a=0" \
    -r 30 -c:v mjpeg -q:v 5 "$T/clip.avi"
for r in $(seq "$ROUNDS"); do
    echo "round $r, $(uptime | sed 's/.*load/load/')"
    ffmpeg -hide_banner -loglevel error -re -i "$T/clip.avi" -f rawvideo -pix_fmt nv12 - |
        $PE stream -m "$T/q8.safetensors" --gallery "$T/g.gal" --k 1 --threads 2 --pix-fmt nv12 \
            --video-size 640x480 --json | tail -n 1
    $PE bench -m "$T/q8.safetensors" --threads 2 --runs 10 | grep -E '^latency'
done
