#!/bin/sh
# pecore tokenize / text / classify / prototypes / gallery end to end with the
# golden pe-micro CLIP and photos, and every error path giving one clear line.
. "$(dirname "$0")/cli_lib.sh"
M="$G/models/pe-micro.safetensors"
VISION="$G/models/pe-micro-timm.safetensors"
V="$G/bpe_simple_vocab_16e6.txt.gz"
RAW="$G/inputs/pe-micro_raw_64x64.npy"
CAT="$G/images/chelsea.png"
unset PECORE_VOCAB

# close A B: |A - B| <= 0.01
close() { awk -v a="$1" -v b="$2" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(d <= 0.01) }'; }
# flip_byte FILE OFFSET
flip_byte() { printf '\125' | dd of="$1" bs=1 seek="$2" conv=notrunc 2>/dev/null; }

# ---- tokenize
"$PE" tokenize --vocab "$V" --context-length 16 "a photo of a cat" >"$T/ids"; ok $? "tokenize"
[ "$(cat "$T/ids")" = "49406 320 1125 539 320 2368 49407 0 0 0 0 0 0 0 0 0" ]; ok $? "tokenize: golden ids"
PECORE_VOCAB="$V" "$PE" tokenize "one" "two" >"$T/ids"; ok $? "tokenize with PECORE_VOCAB"
[ "$(wc -l <"$T/ids")" -eq 2 ] && [ "$(head -n 1 "$T/ids" | wc -w)" -eq 77 ]; ok $? "one line of 77 ids per text"
expect_fail "no vocabulary" "$PE" tokenize "a cat"
expect_fail "cannot load vocabulary" "$PE" tokenize --vocab "$T/missing.gz" "a cat"
expect_fail "--context-length must be" "$PE" tokenize --vocab "$V" --context-length 1 "a cat"
expect_fail "no text given" "$PE" tokenize --vocab "$V"
expect_fail "unknown option" "$PE" tokenize --vocab "$V" --top 3 "a cat"
expect_fail "no vocabulary" "$PE" tokenize -m "$M" "a cat"
# A vocabulary stored in the model file by pecore convert (when this build has it).
if "$PE" convert --help >/dev/null 2>&1; then
    "$PE" convert -m "$M" --vocab "$V" -o "$T/mv.safetensors" >/dev/null 2>&1; ok $? "convert with the vocabulary"
    [ "$("$PE" tokenize -m "$T/mv.safetensors" --context-length 16 "a photo of a cat")" = \
      "49406 320 1125 539 320 2368 49407 0 0 0 0 0 0 0 0 0" ]; ok $? "tokenize with the model's vocabulary"
    "$PE" classify -m "$T/mv.safetensors" --labels "cat,dog" --raw "$RAW" >/dev/null; ok $? "zero-shot with the model's vocabulary"
fi

# ---- text
"$PE" text -m "$M" --vocab "$V" -o "$T/t.npy" "a photo of a cat" "a dog"; ok $? "text"
size_is "$T/t.npy" $((128 + 2 * 32 * 4)); ok $? "text writes [2, 32]"
expect_fail "no output file" "$PE" text -m "$M" --vocab "$V" "a cat"
expect_fail "no text tower" "$PE" text -m "$VISION" --vocab "$V" -o "$T/t.npy" "a cat"
expect_fail "no model" "$PE" text --vocab "$V" -o "$T/t.npy" "a cat"

# ---- zero-shot: the golden logits through the CLI (template "{}")
"$PE" classify -m "$M" --vocab "$V" --labels "a photo of a cat,A PHOTO OF A DOG!" --template "{}" \
    --json --raw "$RAW" >"$T/zs.json"; ok $? "zero-shot --raw --json"
[ "$(wc -l <"$T/zs.json")" -eq 2 ]; ok $? "one JSON line per image"
head -n 1 "$T/zs.json" | grep -q '^{"image": ".*pe-micro_raw_64x64.npy\[0\]", "labels": \[{"label": "a photo of a cat", "score": [0-9.e-]*, "logit": [0-9.e-]*}, {"label": "A PHOTO OF A DOG!", "score": [0-9.e-]*, "logit": [0-9.e-]*}\]}$'
ok $? "JSON shape as the issue says"
l0=$(head -n 1 "$T/zs.json" | sed 's/.*"a photo of a cat", "score": [^,]*, "logit": \([^}]*\)}.*/\1/')
l1=$(head -n 1 "$T/zs.json" | sed 's/.*"A PHOTO OF A DOG!", "score": [^,]*, "logit": \([^}]*\)}.*/\1/')
close "$l0" -11.99844 && close "$l1" -27.71179; ok $? "zero-shot logits match the reference ($l0, $l1)"
l1=$(tail -n 1 "$T/zs.json" | sed 's/.*"A PHOTO OF A DOG!", "score": [^,]*, "logit": \([^}]*\)}.*/\1/')
close "$l1" -36.93058; ok $? "second image's logit ($l1)"

printf 'cat\ndog\n# a comment\n\nbird\n' >"$T/labels.txt"
printf 'a photo of a {}.\na blurry photo of a {}.\n' >"$T/templates.txt"
PECORE_VOCAB="$V" "$PE" classify -m "$M" --labels-file "$T/labels.txt" --templates-file "$T/templates.txt" \
    --top 2 "$CAT" "$G/images/astronaut.jpg" >"$T/table"; ok $? "zero-shot on photos, table"
[ "$(grep -c '^  *[12]\. ' "$T/table")" -eq 4 ]; ok $? "--top 2 gives two rows per image"
grep -q "chelsea.png" "$T/table"; ok $? "table names the image"

expect_fail "no labels" "$PE" prototypes -m "$M" --vocab "$V" --template "{}" -o "$T/x.pack"
expect_fail "exactly one of" "$PE" classify -m "$M" --vocab "$V" "$CAT"
expect_fail "exactly one of" "$PE" classify -m "$M" --labels a,b --gallery "$T/g" "$CAT"
expect_fail "not both" "$PE" classify -m "$M" --labels a,b --labels-file "$T/labels.txt" "$CAT"
expect_fail "empty label" "$PE" classify -m "$M" --vocab "$V" --labels "cat,,dog" "$CAT"
expect_fail "go with --gallery" "$PE" classify -m "$M" --vocab "$V" --labels "cat,dog" --k 3 "$CAT"
expect_fail "--top must be" "$PE" classify -m "$M" --vocab "$V" --labels "cat,dog" --top 0 "$CAT"
expect_fail "--metric must be" "$PE" classify -m "$M" --gallery "$T/g" --metric dot "$CAT"
expect_fail "labels-missing.txt" "$PE" classify -m "$M" --vocab "$V" --labels-file "$T/labels-missing.txt" "$CAT"
expect_fail "no text tower" "$PE" classify -m "$VISION" --vocab "$V" --labels "cat,dog" "$CAT"
expect_fail "no vocabulary" "$PE" classify -m "$M" --labels "cat,dog" "$CAT"
expect_fail "no input" "$PE" classify -m "$M" --vocab "$V" --labels "cat,dog"
expect_fail "given twice" "$PE" classify -m "$M" --vocab "$V" --labels "cat,cat" "$CAT"
expect_fail "missing.jpg" "$PE" classify -m "$M" --vocab "$V" --labels "cat,dog" "$T/missing.jpg"

# ---- prototype packs
printf 'animal/cat\nanimal/dog\nvehicle/car\n' >"$T/hier.txt"
printf 'animal/cat 0.99\nanimal/dog\t0.99\n  vehicle/car   0.99\n' >"$T/thr.txt"
"$PE" prototypes -m "$M" --vocab "$V" --labels-file "$T/hier.txt" --templates-file "$T/templates.txt" \
    --thresholds-file "$T/thr.txt" -o "$T/p.pack" 2>"$T/err"; ok $? "prototypes"
grep -q "3 classes" "$T/err"; ok $? "prototypes reports the class count"
"$PE" classify -m "$M" --prototypes "$T/p.pack" --json "$CAT" >"$T/pj"; ok $? "classify --prototypes"
grep -q '"unknown": true' "$T/pj" && grep -q '"coarse": \[{"label": "[a-z]*", "score": [0-9.e-]*}, {"label": "' "$T/pj"; ok $? "unknown below the thresholds, coarse level"
# same classes as zero-shot with the same labels and templates
PECORE_VOCAB="$V" "$PE" classify -m "$M" --labels-file "$T/hier.txt" --templates-file "$T/templates.txt" \
    --json "$CAT" >"$T/zj"; ok $? "zero-shot with the same labels"
[ "$(sed 's/, "unknown": [a-z]*//' "$T/pj")" = "$(cat "$T/zj")" ]; ok $? "pack gives the zero-shot answer"
expect_fail "another model" "$PE" classify -m "$VISION" --prototypes "$T/p.pack" "$CAT"
cp "$T/p.pack" "$T/bad.pack"; flip_byte "$T/bad.pack" 300
expect_fail "checksum mismatch" "$PE" classify -m "$M" --prototypes "$T/bad.pack" "$CAT"
head -c 150 "$T/p.pack" >"$T/trunc.pack"
expect_fail "truncated" "$PE" classify -m "$M" --prototypes "$T/trunc.pack" "$CAT"
printf 'PEPROTOS but not really a pack' >"$T/junk.pack"
expect_fail "truncated" "$PE" classify -m "$M" --prototypes "$T/junk.pack" "$CAT"
printf 'hello world, this is text' >"$T/text.pack"
expect_fail "bad magic" "$PE" classify -m "$M" --prototypes "$T/text.pack" "$CAT"
expect_fail "No such file" "$PE" classify -m "$M" --prototypes "$T/none.pack" "$CAT"
expect_fail "go with --labels" "$PE" classify -m "$M" --prototypes "$T/p.pack" --template "{}" "$CAT"
printf 'animal/cat 1.5\n' >"$T/thr-bad.txt"
expect_fail "not a cosine" "$PE" prototypes -m "$M" --vocab "$V" --labels-file "$T/hier.txt" --thresholds-file "$T/thr-bad.txt" -o "$T/x.pack"
printf 'animal/horse 0.5\n' >"$T/thr-unk.txt"
expect_fail "no class 'animal/horse'" "$PE" prototypes -m "$M" --vocab "$V" --labels-file "$T/hier.txt" --thresholds-file "$T/thr-unk.txt" -o "$T/x.pack"
expect_fail "no output file" "$PE" prototypes -m "$M" --vocab "$V" --labels-file "$T/hier.txt"
[ ! -e "$T/x.pack" ]; ok $? "failed prototypes writes nothing"

# ---- galleries
GA="$T/g.gal"
"$PE" gallery add -m "$M" -g "$GA" --label animal/cat "$CAT" 2>/dev/null; ok $? "gallery add (new file)"
"$PE" gallery add -m "$M" -g "$GA" --label person/astronaut "$G/images/astronaut.jpg" 2>/dev/null; ok $? "gallery add"
"$PE" gallery add -m "$M" -g "$GA" --label thing/coffee "$G/images/coffee_progressive.jpg" "$G/images/camera_gray.png" 2>"$T/err"; ok $? "gallery add two"
grep -q "4 in all" "$T/err"; ok $? "add reports the total"
"$PE" gallery list -g "$GA" >"$T/list"; ok $? "gallery list"
grep -q "4 entries, 3 labels" "$T/list" && grep -q "^thing/coffee  *2$" "$T/list"; ok $? "list counts"
"$PE" classify -m "$M" --gallery "$GA" --k 3 --json "$CAT" >"$T/kj"; ok $? "classify --gallery"
grep -q '^{"image": ".*chelsea.png", "labels": \[{"label": "animal/cat", "score": ' "$T/kj"; ok $? "nearest label wins"
grep -q '"neighbors": \[{"label": "animal/cat", "source": ".*chelsea.png", "similarity": 1' "$T/kj"; ok $? "neighbours with sources"
grep -q '"coarse": \[{"label": "animal"' "$T/kj"; ok $? "gallery coarse level"
[ "$(grep -o '"similarity"' "$T/kj" | wc -l)" -eq 3 ]; ok $? "k = 3 neighbours"
"$PE" classify -m "$M" --gallery "$GA" --k 2 --metric l2 "$CAT" >"$T/kt"; ok $? "classify --gallery l2 table"
grep -q "neighbors:" "$T/kt"; ok $? "table shows neighbours"
# A failing add (bad image) leaves the gallery byte for byte as it was.
cp "$GA" "$T/before.gal"
expect_fail "missing.png" "$PE" gallery add -m "$M" -g "$GA" --label x "$CAT" "$T/missing.png"
cmp -s "$GA" "$T/before.gal"; ok $? "failed add leaves the gallery intact"
expect_fail "another model" "$PE" gallery add -m "$VISION" -g "$GA" --label x "$CAT"
expect_fail "another model" "$PE" classify -m "$VISION" --gallery "$GA" "$CAT"
cmp -s "$GA" "$T/before.gal"; ok $? "foreign model leaves the gallery intact"
! ls "$T" | grep -q '\.tmp\.'; ok $? "no temporary files left"
"$PE" gallery remove -g "$GA" --label thing/coffee 2>"$T/err"; ok $? "gallery remove"
grep -q "removed 2 entries" "$T/err"; ok $? "remove reports the count"
"$PE" gallery list -g "$GA" | grep -q "2 entries, 2 labels"; ok $? "list after remove"
expect_fail "no label 'thing/coffee'" "$PE" gallery remove -g "$GA" --label thing/coffee
expect_fail "pass --label" "$PE" gallery add -m "$M" -g "$GA" "$CAT"
expect_fail "pass -g" "$PE" gallery list
expect_fail "unknown subcommand" "$PE" gallery merge -g "$GA"
expect_fail "is a gallery, not a prototype pack" "$PE" classify -m "$M" --prototypes "$GA" "$CAT"
expect_fail "is a prototype pack, not a gallery" "$PE" gallery list -g "$T/p.pack"
cp "$GA" "$T/bad.gal"; flip_byte "$T/bad.gal" 200
expect_fail "checksum mismatch" "$PE" gallery list -g "$T/bad.gal"
head -c 100 "$GA" >"$T/trunc.gal"
expect_fail "truncated" "$PE" classify -m "$M" --gallery "$T/trunc.gal" "$CAT"
expect_fail "control character" "$PE" gallery add -m "$M" -g "$T/g2.gal" --label "$(printf 'a\tb')" "$CAT"
expect_fail "empty part" "$PE" gallery add -m "$M" -g "$T/g2.gal" --label "animal/" "$CAT"
[ ! -e "$T/g2.gal" ]; ok $? "refused label writes no gallery"
"$PE" gallery add -m "$M" -g "$T/g3.gal" --label raw --raw "$RAW" 2>/dev/null; ok $? "gallery add --raw"
"$PE" gallery remove -g "$T/g3.gal" --label raw 2>/dev/null; ok $? "remove the only label"
expect_fail "the gallery is empty" "$PE" classify -m "$M" --gallery "$T/g3.gal" "$CAT"

finish classify_cli
