#!/bin/sh
# make test-web: the browser binding in headless chromium (tests/web/run.js
# says what is checked).  Makes the fake camera's clip from the sample
# photos (ffmpeg: 320x240, 10 fps, 4 s per photo, in the order run.js
# expects), installs puppeteer-core from the lock file when it is missing
# (no browser download: Debian's chromium runs), and runs both builds.
# Writes SITE_DIR/models/test-pe-micro-text.safetensors (the golden pe-micro
# with the tokenizer vocabulary) for the zero-shot check.
# usage: tests/web/run.sh [SITE_DIR]   (WEB_WATCH_S, WEB_MODES, CHROMIUM,
# PECORE_GOLDEN override)
set -eu
cd "$(dirname "$0")/../.."
SITE=${1:-build/web/site}
OUT=build/web/test
CLIP=$OUT/scenes.y4m
mkdir -p "$OUT"
if [ ! -f "$CLIP" ] || [ "$CLIP" -ot examples/coffee.jpg ]; then
    ffmpeg -v error -y \
        -loop 1 -t 4 -i examples/astronaut.jpg -loop 1 -t 4 -i examples/chelsea.jpg \
        -loop 1 -t 4 -i examples/coffee.jpg \
        -filter_complex "[0]scale=320:240,setsar=1,fps=10[a];[1]scale=320:240,setsar=1,fps=10[b];[2]scale=320:240,setsar=1,fps=10[c];[a][b][c]concat=n=3:v=1[v]" \
        -map '[v]' -pix_fmt yuv420p "$CLIP.tmp.y4m"
    mv "$CLIP.tmp.y4m" "$CLIP"
fi
# a model with a text tower and its vocabulary, for the zero-shot check
G=${PECORE_GOLDEN:-../shared/golden}
TEXT_MODEL=$SITE/models/test-pe-micro-text.safetensors
if [ ! -f "$TEXT_MODEL" ]; then
    NODE_PATH=${NODE_PATH:-/usr/share/nodejs} node --no-experimental-fetch build/wasm/pecore.js convert \
        -m "$G/models/pe-micro.safetensors" --vocab "$G/bpe_simple_vocab_16e6.txt.gz" -o "$TEXT_MODEL" >/dev/null
fi
if [ ! -d tests/web/node_modules/puppeteer-core ]; then
    (cd tests/web && PUPPETEER_SKIP_DOWNLOAD=1 npm ci --no-audit --no-fund)
fi
exec node tests/web/run.js "$SITE" "$CLIP" "$OUT"
