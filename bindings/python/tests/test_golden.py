"""The golden manifests (official PE and DINOv2 / Franca code, float64)
through the binding: tensors (embedding, tokens, linear4), image files and
PIL images, preprocessing, tokenizer ids, text, and zero-shot logits through
the open_clip-style API."""
import os
import json

import numpy as np
import pytest
from PIL import Image

import pecore
from conftest import GOLDEN, GOLDEN_DINOV2, VOCAB, golden, load_manifest, model

# (root, case); the DINOv2 .pth twins are the C tests' business (tests/test_dinov2.c)
CASES = [(GOLDEN, c) for c in load_manifest()] + [
    (GOLDEN_DINOV2, c) for c in load_manifest(GOLDEN_DINOV2) if not c.get("model", "").endswith(".pth")]


def cases(*kinds):
    return [pytest.param(root, c, id=c["id"]) for root, c in CASES if c["kind"] in kinds]


def check_rows(out, ref, case):
    """Every row's cosine >= cos_min, and max|out-ref| / max|ref| <= rel_max."""
    assert out.shape == ref.shape, (out.shape, ref.shape)
    o = out.reshape(-1, ref.shape[-1]).astype(np.float64)
    r = ref.reshape(-1, ref.shape[-1]).astype(np.float64)
    cos = (o * r).sum(1) / (np.linalg.norm(o, axis=1) * np.linalg.norm(r, axis=1))
    assert cos.min() >= case["cos_min"], f"min cosine {cos.min():.7f}"
    if "rel_max" in case:
        rel = np.abs(o - r).max() / np.abs(r).max()
        assert rel <= case["rel_max"], f"relative error {rel:.3g}"


def test_manifest_has_cases():
    kinds = {c["kind"] for _, c in CASES}
    assert {"image_raw", "image_file", "preprocess", "text", "logits"} <= kinds
    assert {c["output"] for _, c in CASES if "output" in c} == {"embedding", "tokens", "linear4"}


@pytest.mark.parametrize("root,case", cases("image_raw"))
def test_image_raw(root, case):
    x = np.load(os.path.join(root, case["input"]))
    out = model(os.path.join(root, case["model"])).encode_image(x, output=case["output"])
    check_rows(out, np.load(os.path.join(root, case["expect"])), case)


@pytest.mark.parametrize("root,case", cases("image_file"))
def test_image_file_path_and_pil(root, case):
    m = model(os.path.join(root, case["model"]))
    ref, image = np.load(os.path.join(root, case["expect"])), os.path.join(root, case["image"])
    # PE cases give a size and crop; DINOv2 ones are the model's own transform
    kw = dict(output=case["output"], size=case.get("size"), crop=case.get("crop"))
    by_path = m.encode_image(image, **kw)
    check_rows(by_path, ref, case)
    with Image.open(image) as im:
        by_pil = m.encode_image(im, **kw)
    check_rows(by_pil, ref, case)
    # PIL decodes with the same libjpeg-turbo / libpng: the same pixels.
    np.testing.assert_array_equal(by_pil, by_path)


@pytest.mark.parametrize("root,case", cases("preprocess"))
def test_preprocess_transform(root, case):
    ref = np.load(os.path.join(root, case["expect"]))
    ref = ref[0] if ref.ndim == 4 else ref
    t = pecore.Transform(case.get("transform", "pe"), case["size"], case["crop"])
    path = os.path.join(root, case["image"])
    for src in (path, Image.open(path)):
        px = t(src)
        assert px.shape == ref.shape and px.dtype == np.float32
        assert np.abs(px - ref).max() <= case["abs_max"]


def test_tokenizer_ids():
    with open(golden("tokenizer.json"), encoding="utf-8") as f:
        items = json.load(f)
    assert len(items) >= 5
    for it in items:
        ids = pecore.tokenize(it["text"], context_length=it["context_length"], vocab=VOCAB)
        assert ids.dtype == np.int64 and ids.shape == (1, it["context_length"])
        assert ids[0].tolist() == it["ids"], it["text"]
    batch = pecore.tokenize([it["text"] for it in items], items[0]["context_length"], VOCAB)
    assert batch.shape == (len(items), items[0]["context_length"])


@pytest.mark.parametrize("root,case", cases("text"))
def test_text(root, case):
    m, ref = model(case["model"], vocab=VOCAB), np.load(golden(case["expect"]))
    ids = np.array(case["ids"])
    np.testing.assert_array_equal(m.tokenize(case["texts"], ids.shape[1]), ids)
    check_rows(m.encode_text(ids), ref, case)
    check_rows(m.encode_text(case["texts"]), ref, case)   # tokenized by the model


@pytest.mark.parametrize("root,case", cases("logits"))
def test_zero_shot_logits_open_clip_style(root, case):
    # the five lines of an open_clip zero-shot snippet
    mdl, _, preprocess = pecore.create_model_and_transforms(golden(case["model"]), vocab=VOCAB)
    tokenizer = pecore.get_tokenizer(mdl)
    image = mdl.encode_image(np.load(golden(case["input"])), normalize=True)
    text = mdl.encode_text(tokenizer(case["texts"]), normalize=True)
    logits = mdl.logit_scale * image @ text.T
    ref = np.load(golden(case["expect"]))
    assert logits.shape == ref.shape
    assert np.abs(logits - ref).max() <= case["abs_max"]
    probs = pecore.softmax(logits)
    np.testing.assert_allclose(probs.sum(-1), 1, rtol=1e-5)
    assert (probs.argmax(-1) == ref.argmax(-1)).all()
    assert preprocess(golden("images", "chelsea.png")).shape == (3, 64, 64)
