#!/usr/bin/python3
"""The text side of the WebAssembly build (make test-wasm): its tokenizer
runs on Unicode tables generated from the native utf8proc
(wasm/utf8proc_tables.c), so it must give the native build's token ids.

usage: text.py --golden DIR --native NATIVE_PECORE -- WASM_PECORE_COMMAND...

  - golden tokenizer.json: every case's ids, through `tokenize`;
  - the manifest's text cases: the ids through `tokenize`, the embeddings through `text` at the manifest's tolerances;
  - the manifest's logits cases: zero-shot `classify --labels-file` with the
    texts as labels (template "{}") gives the expected logits (abs_max);
  - those texts and a list of harder ones (full-width forms, ligatures,
    Hangul and jamo, combining marks out of order, final sigma, mojibake)
    give the same ids as NATIVE_PECORE.
Each failure prints one FAIL line; the exit status is the failure count.
"""
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

HARD = [
    "\uff21\uff22\uff23\uff01 \uff54\uff45\uff58\uff54 \uff11\uff12\uff13",  # full-width
    "\uff76\uff9e\uff77\uff9e\uff78\uff9f \uff8a\uff9f\uff9d",  # half-width kana + voiced marks
    "\ufb01sh \ufb02ower \ufb03ce \u01c4 \u01c5 \u01c6",  # ligatures, digraphs
    "\ud55c\uad6d\uc5b4 \ud14d\uc2a4\ud2b8 \u1100\u1161\u11a8 \u1112\u1161\u11ab\u11a7",
    "\u1112\u1161\u11a7 \uac00\u11a7",  # utf8proc 2.8 drops U+11A7 after LV: so must wasm
    "e\u0323\u0301 e\u0301\u0323 a\u0328\u0301\u031b o\u0308\u0304 \u212b \u2126",
    "\u1e9b\u0323 \u0344 \u0f73 \u0958 \u2adc \uf900 \U0001d15e",
    "\u039f\u0394\u039f\u03a3 \u03a3\u0391\u03a3. \u03a3 \u0130stanbul \u0049\u0307",
    "Ti\u1ebfng Vi\u1ec7t, \u0939\u093f\u0928\u094d\u0926\u0940, \u0627\u0644\u0639\u0631\u0628\u064a\u0629",
    "caf\u00c3\u00a9 na\u00c3\u00afve \u00e2\u20ac\u0153quoted\u00e2\u20ac\u009d",
    "\u201ccurly\u201d \u2018quotes\u2019 \u3000wide\u3000space\x1b[31mred\x1b[0m",
    "\U0001f469\u200d\U0001f469\u200d\U0001f467 \U0001d400\U0001d401 \u2460 \u00bd \u00b2",
    "\u0041\u030a\u0301 \u1100\u0300\u1161 \u0b47\u0b3e \u0b47\u0300\u0b3e",
]


def run(cmd):
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode:
        raise RuntimeError(f"{' '.join(cmd[:4])}...: exit {r.returncode}: {r.stderr.strip()[:300]}")
    return r.stdout


def ids_of(pe, vocab, texts, ctx):
    out = run(pe + ["tokenize", "--vocab", vocab, "--context-length", str(ctx)] + texts)
    return [[int(x) for x in line.split()] for line in out.splitlines()]


def main():
    a = sys.argv[1:]
    sep = a.index("--")
    opts = dict(zip(a[:sep:2], a[1:sep:2]))
    wasm = a[sep + 1:]
    g = opts["--golden"]
    native = [opts["--native"]]
    vocab = os.path.join(g, "bpe_simple_vocab_16e6.txt.gz")
    fails = []

    def check(ok, what):
        print(("ok   " if ok else "FAIL ") + what)
        if not ok:
            fails.append(what)

    with open(os.path.join(g, "tokenizer.json")) as f:
        cases = json.load(f)
    by_ctx = {}
    for c in cases:
        by_ctx.setdefault(c["context_length"], []).append(c)
    for ctx, cs in sorted(by_ctx.items()):
        got = ids_of(wasm, vocab, [c["text"] for c in cs], ctx)
        bad = [c["text"] for c, ids in zip(cs, got) if ids != c["ids"]]
        check(len(got) == len(cs) and not bad,
              f"tokenizer.json, context {ctx}: {len(cs) - len(bad)}/{len(cs)} cases match {bad[:3]}")

    with open(os.path.join(g, "manifest.json")) as f:
        manifest = json.load(f)["cases"]
    all_texts = [c["text"] for c in cases]
    tmp = tempfile.mkdtemp(prefix="pecore-wasm-text.")
    for c in manifest:
        if c["kind"] not in ("text", "logits"):
            continue
        model = os.path.join(g, c["model"])
        all_texts += c["texts"]
        ref = np.load(os.path.join(g, c["expect"]))
        if c["kind"] == "text":
            got = ids_of(wasm, vocab, c["texts"], len(c["ids"][0]))
            check(got == c["ids"], f"{c['id']}: ids")
            npy = os.path.join(tmp, "text.npy")
            run(wasm + ["text", "-m", model, "--vocab", vocab, "--threads", "1", "-o", npy]
                + c["texts"])
            e = np.load(npy).astype(np.float64)
            r = ref.reshape(e.shape).astype(np.float64)
            cos = (e * r).sum(1) / np.linalg.norm(e, axis=1) / np.linalg.norm(r, axis=1)
            rel = np.abs(e - r).max() / np.abs(r).max()
            check(cos.min() >= c["cos_min"] and rel <= c["rel_max"],
                  f"{c['id']}: text embeddings, worst cosine {cos.min():.7f}, rel {rel:.2e}")
        else:
            # a label is one line without control characters: the texts
            # with line breaks or tabs are left out
            plain = [t for t in c["texts"] if not any(ord(ch) < 32 for ch in t)]
            labels = os.path.join(tmp, "labels.txt")
            with open(labels, "w") as f:
                f.write("".join(t + "\n" for t in plain))
            out = run(wasm + ["classify", "-m", model, "--labels-file", labels, "--vocab", vocab,
                              "--template", "{}", "--top", str(len(plain)), "--json",
                              "--threads", "1", "--raw", os.path.join(g, c["input"])])
            row = json.loads(out.splitlines()[0])
            logit = {x["label"]: x["logit"] for x in row["labels"]}
            want = ref.reshape(-1, len(c["texts"]))[0]
            diffs = [abs(logit[t] - want[c["texts"].index(t)]) for t in plain]
            check(len(diffs) >= len(c["texts"]) - 1 and max(diffs) <= c["abs_max"],
                  f"{c['id']}: zero-shot classify, {len(diffs)} labels, worst |logit diff| "
                  f"{max(diffs):.2e}")

    for ctx in (77,):
        texts = all_texts + HARD
        got = ids_of(wasm, vocab, texts, ctx)
        want = ids_of(native, vocab, texts, ctx)
        bad = [t for t, x, y in zip(texts, got, want) if x != y]
        check(len(got) == len(texts) and not bad,
              f"{len(texts) - len(bad)}/{len(texts)} texts give the native build's ids {bad[:3]}")
    return len(fails)


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (RuntimeError, KeyError, ValueError, IndexError) as e:
        print(f"FAIL {e}")
        sys.exit(1)
