#!/bin/sh
# One command from a fresh Debian 12 clone: install dependencies, build, and
# run the main job — embed photographs, label them zero-shot, then quantize
# the vision tower to int8 and show how closely and how fast it runs.
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
if [ -z "$IMAGES" ]; then echo "no images found under $GOLDEN/images; pass your own: build/pecore embed -m MODEL -o out.npy IMG..." >&2; exit 1; fi
OUT=${OUT:-build/demo}
mkdir -p "$OUT"
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
