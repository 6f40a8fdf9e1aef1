#!/bin/sh
# CLI behaviour: every bad input gives one clear error line and a non-zero
# exit; the good paths produce files of the right size.
. "$(dirname "$0")/cli_lib.sh"

"$PE" >/dev/null 2>"$T/err"; [ $? -eq 2 ] && grep -q "usage: pecore" "$T/err"; ok $? "no arguments: usage and exit 2"
expect_fail "unknown command" "$PE" frobnicate
expect_fail "no model" "$PE" info
expect_fail "cannot load model" "$PE" info -m "$T/missing.safetensors"
expect_fail "unknown option" "$PE" info -m x --bogus
expect_fail "needs a value" "$PE" embed -m x -o
expect_fail "no output file" "$PE" embed -m "$G/models/pe-micro.safetensors" "$G/images/chelsea.png"
expect_fail "no input" "$PE" embed -m "$G/models/pe-micro.safetensors" -o "$T/o.npy"
expect_fail "--size must be" "$PE" embed -m "$G/models/pe-micro.safetensors" --size 0 -o "$T/o.npy" "$G/images/chelsea.png"
expect_fail "--compute must be f32 or f16" "$PE" embed -m "$G/models/pe-micro.safetensors" --compute f8 -o "$T/o.npy" "$G/images/chelsea.png"
expect_fail "--compute must be f32 or f16" "$PE" classify -m "$G/models/pe-micro.safetensors" --compute 16 --labels a,b "$G/images/chelsea.png"
# fp16 compute: refused with its reason where the CPU has no fp16 kernels
# (x86 here; the numbers are tested under qemu, tests/arm64/run.sh)
case $(uname -m) in x86_64|amd64)
    expect_fail "compute f16: no fp16 kernels" "$PE" embed -m "$G/models/pe-micro.safetensors" --compute f16 -o "$T/o.npy" "$G/images/chelsea.png"
    expect_fail "^pecore: compute f16: no fp16 kernels" "$PE" bench -m "$G/models/pe-micro.safetensors" --runs 1 --compute f16
    expect_fail "compute f16: no fp16 kernels" "$PE" classify -m "$G/models/pe-micro.safetensors" --compute f16 --labels a,b "$G/images/chelsea.png" ;;
esac
expect_fail "--size must be" "$PE" embed -m "$G/models/pe-micro.safetensors" --size 12xq -o "$T/o.npy" "$G/images/chelsea.png"
expect_fail "--threads must be" "$PE" embed -m "$G/models/pe-micro.safetensors" --threads 0 -o "$T/o.npy" "$G/images/chelsea.png"
expect_fail "--batch must be" "$PE" embed -m "$G/models/pe-micro.safetensors" --batch 0 -o "$T/o.npy" "$G/images/chelsea.png"
# --batch: images encoded together (and a last, shorter batch) give the same bytes as one at a time
"$PE" embed -m "$G/models/pe-micro.safetensors" --batch 2 -o "$T/b2.npy" "$G"/images/*.jpg "$G"/images/*.png >/dev/null 2>&1 &&
    "$PE" embed -m "$G/models/pe-micro.safetensors" --batch 1 -o "$T/b1.npy" "$G"/images/*.jpg "$G"/images/*.png >/dev/null 2>&1 &&
    cmp -s "$T/b1.npy" "$T/b2.npy"
ok $? "embed --batch 2 = --batch 1"
expect_fail "--crop must be" "$PE" embed -m "$G/models/pe-micro.safetensors" --crop zoom -o "$T/o.npy" "$G/images/chelsea.png"
expect_fail "multiples of the patch" "$PE" embed -m "$G/models/pe-micro.safetensors" --size 70 -o "$T/o.npy" "$G/images/chelsea.png"
expect_fail "not both" "$PE" embed -m "$G/models/pe-micro.safetensors" --raw "$G/inputs/pe-micro_raw_64x64.npy" -o "$T/o.npy" "$G/images/chelsea.png"
printf 'not an image' >"$T/bad.png"
expect_fail "bad.png" "$PE" embed -m "$G/models/pe-micro.safetensors" -o "$T/o.npy" "$T/bad.png"
expect_fail "missing.jpg" "$PE" embed -m "$G/models/pe-micro.safetensors" -o "$T/o.npy" "$T/missing.jpg"
head -c 1000 "$G/models/pe-micro.safetensors" >"$T/trunc.safetensors"
expect_fail "cannot load model" "$PE" info -m "$T/trunc.safetensors"
printf 'hello' >"$T/tiny.safetensors"
expect_fail "cannot load model" "$PE" info -m "$T/tiny.safetensors"
expect_fail "expected float32 \[N, 3, H, W\]" "$PE" embed -m "$G/models/pe-micro.safetensors" --raw "$G/expected/pe-micro_raw_64x64_embedding.npy" -o "$T/o.npy"
expect_fail "unknown architecture" "$PE" synth --arch PE-Core-X99 -o "$T/s.safetensors"
expect_fail "--dtype must be" "$PE" synth --arch PE-Core-T16-384 --dtype f8 -o "$T/s.safetensors"
expect_fail "--seed must be" "$PE" synth --arch PE-Core-T16-384 --seed -1 -o "$T/s.safetensors"
expect_fail "no input images" "$PE" preprocess -o "$T/p.npy"
expect_fail "PECORE_ISA=bogus: not a kernel set" env PECORE_ISA=bogus "$PE" embed -m "$G/models/pe-micro.safetensors" -o "$T/o.npy" "$G/images/chelsea.png"

# Good paths.
"$PE" info -m "$G/models/pe-micro.safetensors" >"$T/info" 2>&1; ok $? "info pe-micro"
grep -q "text          context 32" "$T/info"; ok $? "info shows the text tower"
"$PE" embed -m "$G/models/pe-micro.safetensors" -o "$T/e.npy" "$G/images/chelsea.png" "$G/images/astronaut.jpg" 2>"$T/err"; ok $? "embed two images"
size_is "$T/e.npy" $((128 + 2 * 32 * 4)); ok $? "embed writes [2, 32]"
"$PE" embed -m "$G/models/pe-micro.safetensors" --tokens --size 48x80 -o "$T/t.npy" "$G/images/chelsea.png"; ok $? "embed tokens 48x80"
size_is "$T/t.npy" $((128 + (1 + 3 * 5) * 64 * 4)); ok $? "tokens are [1, 16, 64]"
"$PE" embed -m "$G/models/pe-micro.safetensors" --raw "$G/inputs/pe-micro_raw_64x64.npy" --threads 1 -o "$T/r1.npy"; ok $? "embed raw, 1 thread"
"$PE" embed -m "$G/models/pe-micro.safetensors" --raw "$G/inputs/pe-micro_raw_64x64.npy" --threads 2 -o "$T/r2.npy"; ok $? "embed raw, 2 threads"
cmp -s "$T/r1.npy" "$T/r2.npy"; ok $? "1 and 2 threads give identical bytes"
"$PE" preprocess --size 64 --crop center -o "$T/p.npy" "$G/images/chelsea.png"; ok $? "preprocess"
size_is "$T/p.npy" $((128 + 3 * 64 * 64 * 4)); ok $? "preprocess writes [1, 3, 64, 64]"
"$PE" synth --arch PE-Core-T16-384 --seed 7 --dtype bf16 -o "$T/s.safetensors" 2>/dev/null; ok $? "synth T16"
"$PE" synth --arch PE-Core-T16-384 --seed 7 --dtype bf16 -o "$T/s2.safetensors" 2>/dev/null; ok $? "synth T16 again"
cmp -s "$T/s.safetensors" "$T/s2.safetensors"; ok $? "synth is deterministic"
"$PE" info -m "$T/s.safetensors" | grep -q "PE-Core-T16-384"; ok $? "synth T16 is recognised"
"$PE" embed -m "$T/s.safetensors" --size 224 -o "$T/se.npy" "$G/images/coffee_progressive.jpg"; ok $? "embed with synthetic T16 at 224"
size_is "$T/se.npy" $((128 + 512 * 4)); ok $? "synthetic T16 embedding is [1, 512]"
"$PE" synth --arch PE-Lang-L14-448 --dtype f16 -o "$T/lang.safetensors" 2>/dev/null; ok $? "synth PE-Lang-L14-448"
"$PE" embed -m "$T/lang.safetensors" --size 28 -o "$T/lt.npy" "$G/images/chelsea.png"; ok $? "pool-less model gives tokens"
size_is "$T/lt.npy" $((128 + 5 * 1024 * 4)); ok $? "PE-Lang tokens are [1, 5, 1024]"
expect_fail "multiples of the patch" "$PE" embed -m "$T/lang.safetensors" --raw "$G/inputs/pe-micro_raw_64x64.npy" -o "$T/x.npy"

# Model files: convert, verify, quantize, compare, bench.
"$PE" convert -m "$G/models/pe-core-t16-384.pt" -o "$T/t16.safetensors" >/dev/null 2>&1; ok $? "convert the official .pt"
"$PE" embed -m "$T/t16.safetensors" --raw "$G/inputs/pe-core-t16-384_raw_224x224.npy" -o "$T/c.npy"; ok $? "embed with the converted file"
"$PE" embed -m "$G/models/pe-core-t16-384.safetensors" --raw "$G/inputs/pe-core-t16-384_raw_224x224.npy" -o "$T/d.npy"
cmp -s "$T/c.npy" "$T/d.npy"; ok $? "converted .pt gives the safetensors twin's embedding bit for bit"
sum=$(sha256sum "$T/t16.safetensors" | cut -d' ' -f1)
"$PE" verify -m "$T/t16.safetensors" --sha256 "$sum" >/dev/null 2>&1; ok $? "verify a good checksum"
expect_fail "SHA-256" "$PE" verify -m "$T/t16.safetensors" --sha256 "$(printf '%064d' 0)"
"$PE" quantize -m "$G/models/pe-core-t16-384.safetensors" -o "$T/q8.safetensors" --type q8 >/dev/null 2>&1; ok $? "quantize q8"
"$PE" compare -m "$G/models/pe-core-t16-384.safetensors" -m "$T/q8.safetensors" "$G/images/chelsea.png" >"$T/cmp" 2>&1; ok $? "compare f16 vs q8"
grep -qi "cos" "$T/cmp"; ok $? "compare reports cosine"
expect_fail "--type" "$PE" quantize -m "$G/models/pe-micro.safetensors" -o "$T/x.safetensors" --type q3

# Mixed precision and vision-only files.  hdr FILE: the safetensors header.
hdr() { head -c $((8 + $(od -An -tu4 -N4 "$1"))) "$1" | tail -c +9; }
"$PE" quantize -m "$G/models/pe-micro.safetensors" -o "$T/mix.safetensors" --type q4 >/dev/null 2>&1; ok $? "quantize q4 (default policy)"
hdr "$T/mix.safetensors" >"$T/h"
grep -q '"pecore.packed.visual.transformer.resblocks.0.attn.in_proj_weight":"q8 ' "$T/h" &&
grep -q '"pecore.packed.visual.transformer.resblocks.1.attn.out_proj.weight":"q8 ' "$T/h" &&
grep -q '"pecore.packed.visual.attn_pool.attn.in_proj_weight":"q8 ' "$T/h" &&
grep -q '"pecore.packed.transformer.resblocks.0.attn.in_proj_weight":"q8 ' "$T/h"; ok $? "q4 default: attention projections (vision, pooling, text) are q8"
grep -q '"pecore.packed.visual.transformer.resblocks.0.mlp.c_fc.weight":"q4 ' "$T/h" &&
grep -q '"pecore.packed.visual.transformer.resblocks.1.mlp.c_proj.weight":"q4 ' "$T/h" &&
grep -q '"pecore.packed.transformer.resblocks.1.mlp.c_fc.weight":"q4 ' "$T/h"; ok $? "q4 default: the block MLPs are q4"
"$PE" info -m "$T/mix.safetensors" | grep -Eq ', [1-9][0-9]* q8, [1-9][0-9]* q4\)$'; ok $? "info counts the q8 and q4 weights of a mixed file"
"$PE" quantize -m "$G/models/pe-core-t16-384.safetensors" -o "$T/t16q4.safetensors" --type q4 >/dev/null 2>&1 &&
"$PE" compare --json -m "$G/models/pe-core-t16-384.safetensors" -m "$T/t16q4.safetensors" "$G"/images/* >"$T/cmp" &&
awk -F'"cos_min": ' '{ split($2, v, ","); exit !(v[1] >= 0.985) }' "$T/cmp"; ok $? "q4 default on the golden T16: cosine min >= 0.985"
"$PE" quantize -m "$G/models/pe-micro.safetensors" -o "$T/pure.safetensors" --type q4 --as 'q4:*' >/dev/null 2>&1; ok $? "quantize pure q4 (--as q4:*)"
hdr "$T/pure.safetensors" | grep -q '"pecore.packed.visual.transformer.resblocks.0.attn.in_proj_weight":"q4 ' &&
! hdr "$T/pure.safetensors" | grep -q '"q8 '; ok $? "pure q4 has no q8 tensor"
[ "$(wc -c <"$T/pure.safetensors")" -lt "$(wc -c <"$T/mix.safetensors")" ]; ok $? "pure q4 is smaller than the default"
"$PE" quantize -m "$G/models/pe-micro.safetensors" -o "$T/asq8.safetensors" --type q4 --as 'q4:*' --as 'q8:*mlp.c_fc*' >/dev/null 2>&1 &&
hdr "$T/asq8.safetensors" | grep -q '"pecore.packed.visual.transformer.resblocks.1.mlp.c_fc.weight":"q8 ' &&
hdr "$T/asq8.safetensors" | grep -q '"pecore.packed.visual.transformer.resblocks.1.attn.in_proj_weight":"q4 '; ok $? "--as: the last matching rule wins"
"$PE" embed -m "$T/asq8.safetensors" -o "$T/x.npy" "$G/images/chelsea.png"; ok $? "embed with a rule-mixed file"
expect_fail "type must be f16, bf16, q8 or q4" "$PE" quantize -m "$G/models/pe-micro.safetensors" -o "$T/x.safetensors" --type q4 --as 'q5:*attn*'
expect_fail "TYPE:PATTERN" "$PE" quantize -m "$G/models/pe-micro.safetensors" -o "$T/x.safetensors" --type q4 --as q8
expect_fail "empty pattern" "$PE" quantize -m "$G/models/pe-micro.safetensors" -o "$T/x.safetensors" --type q4 --as 'q8:'
expect_fail "empty pattern" "$PE" quantize -m "$G/models/pe-micro.safetensors" -o "$T/x.safetensors" --type q4 --as 'q8:*attn*,'
expect_fail "matches no linear weight" "$PE" quantize -m "$G/models/pe-micro.safetensors" -o "$T/x.safetensors" --type q4 --as 'q8:*atn*'
[ ! -e "$T/x.safetensors" ]; ok $? "a refused quantize writes no file"
"$PE" quantize -m "$G/models/pe-micro.safetensors" -o "$T/vo.safetensors" --type q4 --vision-only >/dev/null 2>&1; ok $? "quantize --vision-only"
"$PE" info -m "$T/vo.safetensors" >"$T/info" 2>&1 && grep -q "text          none" "$T/info"; ok $? "vision-only file has no text tower"
hdr "$T/vo.safetensors" >"$T/h"
! grep -q -e text_heads -e token_embedding -e ln_final -e text_projection -e logit_scale -e '"visual\.' "$T/h"; ok $? "vision-only file: no text tensors or text_heads, bare names"
grep -q '"pecore.packed.transformer.resblocks.0.attn.in_proj_weight":"q8 ' "$T/h" &&
grep -q '"pecore.packed.transformer.resblocks.0.mlp.c_fc.weight":"q4 ' "$T/h"; ok $? "vision-only file keeps the q4 default policy"
[ "$(wc -c <"$T/vo.safetensors")" -lt $(($(wc -c <"$T/mix.safetensors") / 10)) ]; ok $? "vision-only file is a fraction of the CLIP one"
"$PE" embed -m "$T/mix.safetensors" -o "$T/e1.npy" "$G/images/chelsea.png" && "$PE" embed -m "$T/vo.safetensors" -o "$T/e2.npy" "$G/images/chelsea.png" &&
cmp -s "$T/e1.npy" "$T/e2.npy"; ok $? "vision-only file embeds exactly as the CLIP file"
expect_fail "has no text tower" "$PE" text -m "$T/vo.safetensors" --vocab "$G/bpe_simple_vocab_16e6.txt.gz" -o "$T/x.npy" "a cat"
expect_fail "matches no linear weight of the vision tower" "$PE" quantize -m "$G/models/pe-micro.safetensors" -o "$T/x.safetensors" --type q4 --vision-only --as 'q8:text_projection'
# info on a quantized file: its type, method and the calibration report it carries.
"$PE" quantize -m "$G/models/pe-micro.safetensors" -o "$T/cal.safetensors" --type q8 --vision-only \
    --calibrate "${PECORE_GOLDEN_STRESS:-../shared/golden-stress}/calib" >/dev/null 2>&1; ok $? "quantize --calibrate"
"$PE" info -m "$T/cal.safetensors" >"$T/info" 2>&1 &&
grep -q '^quantized     q8 (smooth' "$T/info" &&
grep -Eq '^quality       cosine to the float model mean 0\.99[0-9]+, min 0\.99[0-9]+ on 8 calibration images$' "$T/info" &&
grep -Eq '^              [0-9]+ int8 linears: ' "$T/info" &&
[ "$(grep -Ec '(^losing most   |^              )(visual\.)?transformer\.resblocks\.[0-9]\.[a-z_.]+  [0-9.]+ -> [0-9.]+  ' "$T/info")" -eq 3 ]
ok $? "info shows the quantization report (cosines on 8 images, the 3 worst linears)"
"$PE" info -m "$T/vo.safetensors" >"$T/info" 2>&1 && grep -q '^quantized     q4 (' "$T/info" && ! grep -q '^quality' "$T/info"
ok $? "info on a file quantized without calibration: the method, no report"
! "$PE" info -m "$G/models/pe-micro.safetensors" | grep -q '^quantized'; ok $? "info on a float file: nothing about quantization"
# A report's strings are the file's: a control byte in a name is shown escaped;
# a malformed report is named, not parsed by halves.
perl -0777 -pe 's/(\{\\"name\\": \\")visual\./$1\\\\u001b/' "$T/cal.safetensors" >"$T/esc.safetensors" &&
"$PE" info -m "$T/esc.safetensors" >"$T/info" 2>&1 && grep -q 'losing most   \\x1btransformer\.' "$T/info" &&
! grep -q "$(printf '\033')" "$T/info"; ok $? "info escapes control bytes of the report"
perl -0777 -pe 's/cos_min/cos_mix/' "$T/cal.safetensors" >"$T/bad.safetensors" &&
"$PE" info -m "$T/bad.safetensors" >"$T/info" 2>&1 && grep -q '^quality       unreadable report: ' "$T/info"
ok $? "info names a malformed report"
"$PE" synth --arch PE-Core-T16-384 --seed 7 --dtype bf16 --vision-only -o "$T/svo.safetensors" 2>/dev/null; ok $? "synth --vision-only"
"$PE" info -m "$T/svo.safetensors" | grep -q "text          none"; ok $? "synth --vision-only has no text tower"
"$PE" embed -m "$T/svo.safetensors" --size 224 -o "$T/sve.npy" "$G/images/coffee_progressive.jpg" && cmp -s "$T/se.npy" "$T/sve.npy"; ok $? "synth --vision-only holds the CLIP file's vision tower"
"$PE" bench -m "$G/models/pe-micro.safetensors" --runs 3 --warmup 1 --threads 2 --json >"$T/b.json" 2>/dev/null; ok $? "bench --json"
grep -q '"p50_ms"' "$T/b.json" && grep -q '"peak_share"' "$T/b.json"; ok $? "bench JSON has latency and peak share"
expect_fail "either -m MODEL or --arch" "$PE" bench
"$PE" bench --arch PE-Core-T16-384 --dtype q4 --size 32 --runs 1 --warmup 0 --threads 1 --json >"$T/b.json" 2>/dev/null &&
grep -q '"synthetic": true' "$T/b.json"; ok $? "bench --arch --dtype q4"

finish cli
