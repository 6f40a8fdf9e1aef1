#!/bin/sh
# pecore stream live: a 10 s clip of four scenes made from the golden photos
# by Debian's ffmpeg, played in real time (-re) as raw NV12 into `pecore
# stream` with a gallery of the same photos (golden PE-Core-T16-384 at 96 px):
# counts add up, the stable label follows the scenes, every line is JSON.
# Then a producer ten times faster than the model: nothing blocks it, most
# frames are dropped and counted, memory stays flat from a short input to a
# ten times longer one.  SIGINT, a trailing partial frame and bad options.
. "$(dirname "$0")/cli_lib.sh"
M="$G/models/pe-core-t16-384.safetensors"
PY=/usr/bin/python3
CHECK="$(dirname "$0")/stream_check.py"
SCENES="astronaut chelsea coffee_progressive camera_gray"
PER_SCENE=75    # 2.5 s at 30 fps
VS=640x480
if ! command -v ffmpeg >/dev/null 2>&1; then
    echo "FAIL: ffmpeg is not installed (scripts/deps.sh installs it)"; fail=1; finish test_stream_cli; exit 1
fi
photo() { for f in "$G/images/$1".*; do echo "$f"; return; done; }

# ---- the gallery, at the size the stream encodes
for s in $SCENES; do
    "$PE" gallery add -m "$M" -g "$T/g.gal" --size 96 --label "$s" "$(photo "$s")" 2>/dev/null
    ok $? "gallery add $s"
done

# ---- the clip: looped stills, concatenated
# shellcheck disable=SC2046
sh "$(dirname "$0")/../scripts/clip.sh" "$T/clip.avi" 2.5 $(for s in $SCENES; do photo "$s"; done)
ok $? "ffmpeg makes the clip"

# ---- live: real time, keep-latest
ffmpeg -hide_banner -loglevel error -re -i "$T/clip.avi" -f rawvideo -pix_fmt nv12 - |
    "$PE" stream -m "$M" --gallery "$T/g.gal" --k 1 --size 96 --threads 2 --pix-fmt nv12 \
        --video-size $VS --json >"$T/live.jsonl" 2>"$T/live.err"
ok $? "live stream exits 0 at the end of input: $(head -c 300 "$T/live.err")"
# shellcheck disable=SC2086
$PY "$CHECK" live "$T/live.jsonl" $PER_SCENE $SCENES
ok $? "live: counts add up, the stable label follows the scenes, JSON parses"

# ---- all frames, timestamps from --fps, human output
ffmpeg -hide_banner -loglevel error -i "$T/clip.avi" -frames:v 20 -f rawvideo -pix_fmt nv12 "$T/20.nv12"
"$PE" stream -m "$M" --gallery "$T/g.gal" --k 1 --size 96 --pix-fmt nv12 --video-size $VS --fps 25 \
    --all-frames <"$T/20.nv12" >"$T/h.txt"
ok $? "human output"
[ "$(grep -c '^frame ' "$T/h.txt")" -eq 20 ] && grep -q '^summary: 20 frames in, 20 processed, 0 dropped' "$T/h.txt"
ok $? "--all-frames: 20 results and the summary: $(tail -n 1 "$T/h.txt")"
grep -q '^frame     19  t     760.0 ms' "$T/h.txt"
ok $? "--fps 25: frame 19 at 760 ms"

# ---- a producer ten times faster than the model: 300 fps into T16 at 384 px
ffmpeg -hide_banner -loglevel error -i "$T/clip.avi" -frames:v 1 -f rawvideo -pix_fmt nv12 "$T/one.nv12"
fast() {
    $PY "$CHECK" pace "$1" 300 "$T/one.nv12" "$T/pace$1.json" |
        "$PE" stream -m "$M" --gallery "$T/g384.gal" --k 1 --threads 2 --pix-fmt nv12 \
            --video-size $VS --json >"$T/fast$1.jsonl" 2>"$T/fast$1.err"
}
for s in $SCENES; do "$PE" gallery add -m "$M" -g "$T/g384.gal" --label "$s" "$(photo "$s")" 2>/dev/null; done
fast 90; ok $? "fast producer, 90 frames: $(head -c 200 "$T/fast90.err")"
fast 900; ok $? "fast producer, 900 frames: $(head -c 200 "$T/fast900.err")"
$PY "$CHECK" counts "$T/fast900.jsonl" 900 0.5
ok $? "fast producer: in = processed + dropped, most dropped"
$PY - "$T/pace900.json" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
print(f"writer: {r['elapsed_s']:.2f} s for a {r['planned_s']:.2f} s schedule, "
      f"slowest write {r['worst_write_s'] * 1e3:.1f} ms", file=sys.stderr)
# a reader that waited for the model would stall the pipe for whole results
sys.exit(0 if r["elapsed_s"] < r["planned_s"] * 1.25 + 0.5 else 1)
EOF
ok $? "the reader keeps up with a 300 fps writer"
short=$($PY "$CHECK" field "$T/fast90.jsonl" peak_rss_mb)
long=$($PY "$CHECK" field "$T/fast900.jsonl" peak_rss_mb)
echo "peak RSS: $short MB for 90 frames, $long MB for 900" >&2
awk -v a="$short" -v b="$long" 'BEGIN { exit !(b - a < 4) }'
ok $? "memory stays flat: peak RSS $short MB (90 frames) vs $long MB (900)"

# ---- SIGINT: stop reading, flush, summary, exit 130
mkfifo "$T/fifo"
$PY "$CHECK" pace 100000 20 "$T/one.nv12" "$T/pace_int.json" >"$T/fifo" 2>/dev/null &
wpid=$!
"$PE" stream -m "$M" --gallery "$T/g.gal" --k 1 --size 96 --pix-fmt nv12 --video-size $VS --json \
    <"$T/fifo" >"$T/int.jsonl" 2>"$T/int.err" &
spid=$!
sleep 2
kill -INT $spid
wait $spid; rc=$?
kill $wpid 2>/dev/null; wait $wpid 2>/dev/null
[ "$rc" -eq 130 ] && tail -n 1 "$T/int.jsonl" | grep -q '"interrupted": true'
ok $? "SIGINT: exit $rc (want 130), summary: $(tail -n 1 "$T/int.jsonl" | head -c 200)"
$PY "$CHECK" counts "$T/int.jsonl" "$($PY "$CHECK" field "$T/int.jsonl" frames_in)"
ok $? "SIGINT: the output is whole JSON and the counts add up"

# ---- a trailing partial frame, bad options
head -c $((640 * 480 * 3 / 2 * 2 + 1000)) "$T/20.nv12" >"$T/partial.nv12"
"$PE" stream -m "$M" --gallery "$T/g.gal" --size 96 --pix-fmt nv12 --video-size $VS --all-frames --json \
    <"$T/partial.nv12" >"$T/p.jsonl" 2>"$T/p.err"
ok $? "a partial last frame is not an error"
grep -q "ignoring the last 1000 bytes" "$T/p.err" && grep -q '"frames_in": 2,' "$T/p.jsonl"
ok $? "partial frame: said so, 2 frames in"
expect_fail "pass --pix-fmt" "$PE" stream -m "$M" --gallery "$T/g.gal" --video-size $VS
expect_fail "--pix-fmt must be" "$PE" stream -m "$M" --gallery "$T/g.gal" --pix-fmt yuv444 --video-size $VS
expect_fail "--video-size must be WxH" "$PE" stream -m "$M" --gallery "$T/g.gal" --pix-fmt nv12 --video-size 640
expect_fail "pass --video-size" "$PE" stream -m "$M" --gallery "$T/g.gal" --pix-fmt nv12
expect_fail "exactly one of" "$PE" stream -m "$M" --gallery "$T/g.gal" --prototypes "$T/p.pack" --pix-fmt nv12 --video-size $VS
expect_fail "--fps must be" "$PE" stream -m "$M" --gallery "$T/g.gal" --pix-fmt nv12 --video-size $VS --fps 0
expect_fail "unexpected argument" "$PE" stream -m "$M" --gallery "$T/g.gal" --pix-fmt nv12 --video-size $VS frames.nv12
case $(uname -m) in x86_64|amd64)   # no fp16 kernels here: the stream refuses --compute f16 with the reason
    expect_fail "compute f16: no fp16 kernels" "$PE" stream -m "$M" --gallery "$T/g.gal" --pix-fmt nv12 --video-size $VS --compute f16 </dev/null ;;
esac
expect_fail "cannot use the gallery" "$PE" stream -m "$G/models/pe-micro-timm.safetensors" --gallery "$T/g.gal" --pix-fmt nv12 --video-size $VS </dev/null
finish test_stream_cli
