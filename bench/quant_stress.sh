#!/bin/sh
# The quantization table of README "Quantizing your own checkpoint": the
# golden-stress PE-Core-T16-384 quantized to q8 and q4 by each method (and
# combination), calibrated on the stress set's calib/ photos, scored by the
# cosine of its embeddings to the float64 reference on the 8 held-out
# images/ (mean / min).  Then every golden model (PE, DINOv2, Franca),
# calibrated vs plain, against its own float model on the same photos.
#   bench/quant_stress.sh [STRESS_DIR]        (default ../shared/golden-stress)
set -eu
cd "$(dirname "$0")/.."
S=${1:-../shared/golden-stress}
P=/usr/bin/python3
M=$S/models/pe-core-t16-384-outlier.safetensors
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
make -j2 build/pecore >/dev/null

# cos: mean / min of the embeddings of $1 (a model) to the stress reference
cos() {
    build/pecore embed -m "$1" -o "$T/e.npy" "$S"/images/*.jpg >/dev/null
    $P - "$T/e.npy" "$S" <<'PY'
import glob, os, sys
import numpy as np
e = np.load(sys.argv[1]).astype(np.float64)
c = []
for i, p in enumerate(sorted(glob.glob(sys.argv[2] + "/images/*.jpg"))):
    n = os.path.splitext(os.path.basename(p))[0]
    r = np.load(glob.glob(sys.argv[2] + "/expected/*_" + n + ".npy")[0]).ravel().astype(np.float64)
    c.append(e[i] @ r / np.linalg.norm(e[i]) / np.linalg.norm(r))
print("%.5f / %.5f" % (np.mean(c), np.min(c)))
PY
}

row() { # row LABEL QUANTIZE-OPTIONS...
    label=$1; shift
    printf '| %s |' "$label"
    for t in q8 q4; do
        build/pecore quantize -m "$M" -o "$T/q.safetensors" --type $t "$@" >/dev/null
        printf ' %s |' "$(cos "$T/q.safetensors")"
    done
    echo
}

C="--calibrate $S/calib"
echo "| method | q8 | q4 (default policy) |"
echo "|---|---|---|"
printf '| f32 (the file itself) | %s | |\n' "$(cos "$M")"
row "plain rounding (--plain)" --plain
row "float columns alone (calibrated)" $C --without smooth,gptq
row "GPTQ alone (calibrated)" $C --without smooth,fcols
row "smoothing alone (calibrated)" $C --without fcols,gptq
row "smoothing + float columns, from the weights (no images)"
row "smoothing + float columns (calibrated)" $C --without gptq
row "all three (calibrated)" $C

echo
echo "| golden model | q8 plain | q8 calibrated | q4 plain | q4 calibrated |"
echo "|---|---|---|---|---|"
for m in ../shared/golden/models/pe-core-t16-384.safetensors ../shared/golden/models/pe-micro.safetensors \
         ../shared/golden/models/pe-micro-timm.safetensors ../shared/golden-dinov2/models/dinov2-vits14.safetensors \
         ../shared/golden-dinov2/models/dinov2-micro-reg.safetensors ../shared/golden-dinov2/models/franca-micro.safetensors; do
    [ -f "$m" ] || continue
    printf '| %s |' "$(basename "$m" .safetensors)"
    for t in q8 q4; do
        for how in --plain "$C"; do
            # shellcheck disable=SC2086
            build/pecore quantize -m "$m" -o "$T/g.safetensors" --type $t $how >/dev/null
            printf ' %s |' "$(build/pecore compare -m "$m" -m "$T/g.safetensors" "$S"/images/*.jpg |
                             awk '/^cosine/ { printf "%.5f / %.5f", $3, $5 }' | tr -d ,)"
        done
    done
    echo
done
