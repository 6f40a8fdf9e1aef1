#!/bin/sh
# One command from a fresh Debian 12 clone: install dependencies, build, and
# run the main job — embed photographs, label them zero-shot, then quantize
# the vision tower to int8 and show how closely and how fast it runs, and
# end with a live stream: a clip of the photos played in real time into
# `pecore stream`, stable labels from a gallery of the same photos.
# The photos are examples/*.jpg (or the golden set beside the clone).
#   MODEL=path/to/model.safetensors scripts/demo.sh   uses real weights;
# without MODEL a synthetic PE-Core-T16-384 is generated (random weights:
# the pipeline and the speed are real, the similarities are not meaningful).
set -eu
cd "$(dirname "$0")/.."
sh scripts/deps.sh
make -j2 all >/dev/null
GOLDEN=${PECORE_GOLDEN:-../shared/golden}
IMAGES=""
for f in "$GOLDEN"/images/*.jpg "$GOLDEN"/images/*.png; do [ -f "$f" ] && IMAGES="$IMAGES $f"; done
[ -n "$IMAGES" ] || IMAGES=$(echo examples/*.jpg)
OUT=${OUT:-build/demo}
mkdir -p "$OUT"
MODEL_GIVEN=${MODEL:-}
if [ -z "${MODEL:-}" ]; then
    MODEL="$OUT/synthetic-pe-core-t16-384.safetensors"
    echo "No MODEL given: using a SYNTHETIC PE-Core-T16-384 (seeded random weights)."
    echo "Its embeddings exercise the real pipeline but carry no meaning."
    [ -f "$MODEL" ] || build/pecore synth --arch PE-Core-T16-384 --seed 1 --dtype f16 -o "$MODEL"
fi
build/pecore info -m "$MODEL"
echo
# shellcheck disable=SC2086
build/pecore embed -m "$MODEL" -o "$OUT/embeddings.npy" $IMAGES
echo "wrote $OUT/embeddings.npy for:"
for f in $IMAGES; do echo "  $f"; done
echo
VOCAB="$GOLDEN/bpe_simple_vocab_16e6.txt.gz"
if [ -f "$VOCAB" ]; then
    echo "zero-shot labels (meaningless with synthetic weights):"
    # shellcheck disable=SC2086
    build/pecore classify -m "$MODEL" --vocab "$VOCAB" --labels "cat,astronaut,coffee,camera,logo" --top 2 $IMAGES
    echo
fi
echo "speed on this machine:"
build/pecore bench -m "$MODEL" --runs 10
echo
echo "int8 (q8) vision tower, as an app would ship it:"
build/pecore quantize -m "$MODEL" -o "$OUT/vision-q8.safetensors" --type q8 --vision-only
# shellcheck disable=SC2086
build/pecore compare -m "$MODEL" -m "$OUT/vision-q8.safetensors" $IMAGES
build/pecore bench -m "$OUT/vision-q8.safetensors" --runs 10
echo
echo "live stream: a 9 s clip of the sample photos (3 s each), played in real time as"
echo "640x480 NV12 (ffmpeg -re ... -f rawvideo -) into pecore stream with a gallery of them:"
# The q8 model above when MODEL was given, else the golden T16 when it is
# beside the clone (seeded synthetic weights too, ../shared/golden/README.md,
# but the reference model of the golden tests), else the synthetic q8.
SMODEL="$OUT/vision-q8.safetensors"
if [ -n "$MODEL_GIVEN" ]; then
    echo "(model: the q8 copy of $MODEL_GIVEN)"
elif [ -f "$GOLDEN/models/pe-core-t16-384.safetensors" ]; then
    SMODEL="$GOLDEN/models/pe-core-t16-384.safetensors"
    echo "(model: the golden PE-Core-T16-384: seeded synthetic weights, not a trained model;"
    echo " the gallery matches frames to the photos it holds, the pipeline and timings are real)"
else
    echo "(model: the synthetic q8 T16 above: the labels are NOT meaningful, only the"
    echo " pipeline, the drops and the timings are real)"
fi
rm -f "$OUT/demo.gal"
for f in examples/astronaut.jpg examples/chelsea.jpg examples/coffee.jpg; do
    build/pecore gallery add -m "$SMODEL" -g "$OUT/demo.gal" --label "$(basename "$f" .jpg)" "$f" 2>/dev/null
done
sh scripts/clip.sh "$OUT/clip.avi" 3 examples/astronaut.jpg examples/chelsea.jpg examples/coffee.jpg
echo "scenes: astronaut 0-3 s, chelsea 3-6 s, coffee 6-9 s; lines where the stable label changes:"
ffmpeg -hide_banner -loglevel error -re -i "$OUT/clip.avi" -f rawvideo -pix_fmt nv12 - |
    build/pecore stream -m "$SMODEL" --gallery "$OUT/demo.gal" --k 1 --threads 2 \
        --pix-fmt nv12 --video-size 640x480 --top 2 | grep -E -e '->|^summary'
