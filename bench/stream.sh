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
for im in astronaut.jpg chelsea.png coffee_progressive.jpg camera_gray.png; do
    $PE gallery add -m "$T/q8.safetensors" -g "$T/g.gal" --label "${im%%.*}" "$G/images/$im" 2>/dev/null
done
sh scripts/clip.sh "$T/clip.avi" 2.5 "$G/images/astronaut.jpg" "$G/images/chelsea.png" \
    "$G/images/coffee_progressive.jpg" "$G/images/camera_gray.png"
for r in $(seq "$ROUNDS"); do
    echo "round $r, $(uptime | sed 's/.*load/load/')"
    ffmpeg -hide_banner -loglevel error -re -i "$T/clip.avi" -f rawvideo -pix_fmt nv12 - |
        $PE stream -m "$T/q8.safetensors" --gallery "$T/g.gal" --k 1 --threads 2 --pix-fmt nv12 \
            --video-size 640x480 --json | tail -n 1
    $PE bench -m "$T/q8.safetensors" --threads 2 --runs 10 | grep -E '^latency'
done
