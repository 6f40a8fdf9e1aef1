"""The binding's own behaviour: inputs, outputs, errors, threads, pickling,
galleries, prototypes, quantize, and no leak over 1000 calls."""
import os
import pickle
import subprocess
import sys
import threading
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
import multiprocessing

import numpy as np
import pytest
from PIL import Image

import pecore
from conftest import CLI, GOLDEN_STRESS, IMAGES, MICRO, T16, VOCAB, golden, model

CHELSEA = golden("images", "chelsea.png")
RGBA = golden("images", "logo_rgba.png")
RAW = golden("inputs", "pe-micro_raw_64x64.npy")


def micro():
    return model("models/pe-micro.safetensors", vocab=VOCAB)


# ---------------------------------------------------------------- inputs / outputs

def test_info_and_logit_scale():
    m = micro()
    info = m.info
    assert info["out_dim"] == 32 and info["image_size"] == 64 and info["has_text"] == 1
    assert info["pool"] == "attn" and info["fingerprint"] > 0
    # already exponentiated: the file stores log(100)
    assert m.logit_scale == pytest.approx(100.0, rel=1e-5)
    info["out_dim"] = 0                      # a copy
    assert m.info["out_dim"] == 32
    assert "exponentiated" in type(m).logit_scale.__doc__.lower()


def test_every_image_input_gives_the_same_embedding():
    m = micro()
    ref = m.encode_image(CHELSEA)
    assert ref.shape == (1, 32) and ref.dtype == np.float32
    with Image.open(CHELSEA) as im:
        rgb = np.asarray(im.convert("RGB"))
        np.testing.assert_array_equal(m.encode_image(im), ref)
    np.testing.assert_array_equal(m.encode_image(rgb), ref)
    np.testing.assert_array_equal(m.encode_image(rgb[None]), ref)     # uint8 [N,H,W,C]
    rgba = np.dstack([rgb, np.full(rgb.shape[:2], 255, np.uint8)])
    np.testing.assert_array_equal(m.encode_image(rgba), ref)          # opaque alpha
    batch = m.encode_image([CHELSEA, rgb, IMAGES[0]])
    np.testing.assert_array_equal(batch[:2], np.vstack([ref, ref]))
    np.testing.assert_array_equal(batch[2:], m.encode_image(IMAGES[0]))
    # the float path is the preprocessed tensor
    px = pecore.Transform("pe", 64)(CHELSEA)
    np.testing.assert_allclose(m.encode_image(px), ref, rtol=1e-5, atol=1e-6)


def test_gray_rgba_palette_pil_match_files(tmp_path):
    m = micro()
    for path in IMAGES:   # gray PNG, RGBA PNG, JPEGs
        with Image.open(path) as im:
            np.testing.assert_array_equal(m.encode_image(im), m.encode_image(path), path)
    with Image.open(CHELSEA) as im:
        pal = im.convert("P")
    pal_rgb = np.asarray(pal.convert("RGB"))
    # palette images are resized with NEAREST, as PIL resizes mode "P"
    assert not np.array_equal(m.encode_image(pal), m.encode_image(pal_rgb))
    pal.save(tmp_path / "pal.png")         # a palette PNG, decoded by the CLI's decoder
    np.testing.assert_array_equal(m.encode_image(pal), m.encode_image(tmp_path / "pal.png"))


def test_normalize_tokens_size_crop():
    m = micro()
    e = m.encode_image(CHELSEA, normalize=True)
    np.testing.assert_allclose(np.linalg.norm(e, axis=1), 1, rtol=1e-5)
    t = m.encode_image(CHELSEA, output="tokens", size=(48, 80), normalize=True)
    assert t.shape == (1, 1 + 3 * 5, 64)
    np.testing.assert_allclose(np.linalg.norm(t, axis=-1), 1, rtol=1e-5)
    assert not np.array_equal(m.encode_image(CHELSEA, crop="center"), m.encode_image(CHELSEA))
    assert m.encode_image([]).shape == (0, 32)


def test_batches_are_bit_identical_to_one_image_at_a_time():
    """T16 (its own default batch is 1) with batch=4 against batch=1: files,
    PIL (a palette image: NEAREST, a run of its own inside a batch), arrays
    and float tensors; 7 images, not a multiple of the batch."""
    one, four = (model("models/pe-core-t16-384.safetensors", batch=b) for b in (1, 4))
    assert one.batch == 1 and four.batch == 4
    assert model("models/pe-core-t16-384.safetensors").batch == pecore.DEFAULT_BATCH
    with Image.open(CHELSEA) as im:
        pal, rgb = im.convert("P"), np.asarray(im.convert("RGB"))
        images = IMAGES[:3] + [pal, rgb, im.copy(), IMAGES[3]]
    want = np.vstack([one.encode_image(x) for x in images])
    got = four.encode_image(images)
    assert got.shape == (7, 512)
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(one.encode_image(images), want)
    # several engine batches in one group, tokens, another size and crop
    m3 = model("models/pe-micro.safetensors", batch=3)
    kw = dict(output="tokens", size=48, crop="center")
    np.testing.assert_array_equal(m3.encode_image(IMAGES * 2, **kw),
                                  np.vstack([micro().encode_image(p, **kw) for p in IMAGES * 2]))
    x = np.stack([pecore.Transform("pe", 384)(p) for p in IMAGES])
    np.testing.assert_array_equal(four.encode_image(x),
                                  np.vstack([one.encode_image(e) for e in x]))


def test_an_error_in_a_batch_names_its_image(tmp_path):
    m = model("models/pe-micro.safetensors", batch=4)
    junk = tmp_path / "junk.jpg"
    junk.write_bytes(b"\xff\xd8\xff garbage")
    with pytest.raises(pecore.FormatError, match="junk.jpg") as e:
        m.encode_image(IMAGES[:2] + [junk] + IMAGES[2:])
    assert e.value.index == 2
    with pytest.raises(pecore.FileError, match="missing.png") as e:
        m.encode_image(IMAGES + [tmp_path / "missing.png"])    # in the second group
    assert e.value.index == len(IMAGES)
    rgb = np.zeros((8, 8, 3), np.uint8)
    empty = np.zeros((0, 8, 3), np.uint8)                       # fails inside pe_encode_images
    with pytest.raises(pecore.InvalidArgumentError, match=r"^image 5: .*empty") as e:
        m.encode_image([rgb] * 5 + [empty, rgb])
    assert e.value.index == 5
    with Image.open(CHELSEA) as im:                             # a run of its own (NEAREST)
        pal = im.convert("P")
    with pytest.raises(pecore.InvalidArgumentError, match=r"^image 2: ") as e:
        m.encode_image([pal, rgb, empty])
    assert e.value.index == 2
    with pytest.raises(pecore.Error) as e:
        m.encode_image(IMAGES, size=63)                         # no image's fault
    assert e.value.index is None
    with pytest.raises(pecore.InvalidArgumentError, match="max_batch"):
        pecore.Model(MICRO, batch=257)


def test_compute_f16():
    """compute="f16" runs where the CPU has FP16 arithmetic (close to f32,
    not identical) and is refused with UnsupportedError elsewhere (x86:
    this host); a bad value is an argument error; the choice pickles."""
    with pytest.raises(pecore.InvalidArgumentError, match="compute"):
        pecore.Model(MICRO, compute="f8")
    x = np.random.default_rng(3).uniform(-1, 1, (1, 3, 64, 64)).astype(np.float32)
    if not pecore.kernel_isa().startswith("neon-"):  # x86, wasm, ARMv8.0: no fp16 kernels
        with pytest.raises(pecore.UnsupportedError, match="compute f16"):
            pecore.Model(MICRO, compute="f16")
        return
    m16 = pecore.Model(MICRO, threads=1, compute="f16")
    e16, e32 = m16.encode_image(x), pecore.Model(MICRO, threads=1).encode_image(x)
    cos = float((e16 * e32).sum() / np.sqrt((e16 * e16).sum() * (e32 * e32).sum()))
    assert cos > 0.999 and not np.array_equal(e16, e32)
    assert pickle.loads(pickle.dumps(m16))._args[6] == "f16"


def test_text_inputs():
    m = micro()
    a = m.encode_text("a photo of a cat")
    b = m.encode_text(["a photo of a cat", "a dog"])
    ids = m.tokenize(["a photo of a cat", "a dog"])
    assert ids.dtype == np.int64 and ids.shape == (2, 32)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(m.encode_text(ids), b)
    np.testing.assert_array_equal(m.encode_text(ids[0]), a)
    assert m.encode_text([]).shape == (0, 32)
    tok = pecore.get_tokenizer(m)
    np.testing.assert_array_equal(tok(["a dog"]), ids[1:])
    assert pecore.get_tokenizer(MICRO, vocab=VOCAB)("a dog").shape == (1, 32)


# ---------------------------------------------------------------- errors

def test_errors_are_classes_per_status():
    assert issubclass(pecore.FileError, pecore.Error) and issubclass(pecore.FileError, OSError)
    assert issubclass(pecore.ShapeError, ValueError)
    assert pecore.ChecksumError.status == 9 and pecore.Error.status is None
    with pytest.raises(pecore.NotFoundError, match="no-such.safetensors"):
        pecore.Model("/nonexistent/no-such.safetensors")
    with pytest.raises(LookupError):
        pecore.Model("/nonexistent/no-such.safetensors")


def test_errors_carry_the_library_message(tmp_path):
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json at all")
    with pytest.raises(pecore.FormatError):
        pecore.Model(bad)
    with pytest.raises(pecore.ChecksumError):
        pecore.Model(MICRO, sha256="0" * 64)
    m = micro()
    with pytest.raises(pecore.ShapeError, match="channels"):
        m.encode_image(np.zeros((1, 4, 64, 64), np.float32))
    with pytest.raises(pecore.Error, match="multiple|patch"):
        m.encode_image(np.zeros((1, 3, 65, 64), np.float32))
    with pytest.raises(pecore.UnsupportedError, match="linear4"):
        m.encode_image(CHELSEA, output="linear4")
    with pytest.raises(pecore.InvalidArgumentError):
        m.encode_image(CHELSEA, output="logits")
    with pytest.raises(pecore.InvalidArgumentError):
        m.encode_image(np.zeros((1, 3, 64, 64), np.float32), size=64)
    with pytest.raises(TypeError):
        m.encode_image(object())
    junk = tmp_path / "junk.jpg"
    junk.write_bytes(b"\xff\xd8\xff garbage")
    with pytest.raises(pecore.FormatError, match="junk.jpg"):
        m.encode_image([CHELSEA, junk])
    with pytest.raises(pecore.FileError):
        m.encode_image(tmp_path / "missing.png")
    with pytest.raises(pecore.InvalidArgumentError):
        m.encode_text(np.array([[-1, 2]]))
    with pytest.raises(pecore.InvalidArgumentError, match="NUL"):
        m.tokenize(["a\0b"])
    vision = model("models/pe-core-t16-384.safetensors")
    with pytest.raises(pecore.UnsupportedError, match="text tower"):
        vision.encode_text(np.zeros((1, 32), np.int64))
    with pytest.raises(pecore.FormatError):
        pecore.Gallery.load(junk)
    env = os.environ.pop("PECORE_VOCAB", None)
    try:
        with pytest.raises(pecore.NotFoundError, match="PECORE_VOCAB"):
            pecore.tokenize("a cat")
        with pytest.raises(pecore.NotFoundError, match="vocab"):
            pecore.Model(MICRO).encode_text("a cat")
    finally:
        if env is not None:
            os.environ["PECORE_VOCAB"] = env


# ---------------------------------------------------------------- threads

def test_threads_share_one_model():
    m = model("models/pe-micro.safetensors", vocab=VOCAB, threads=1)
    x = np.load(RAW)
    want_img, want_txt = m.encode_image(x), m.encode_text("a photo of a cat")
    want_file = m.encode_image(CHELSEA)

    def work(i):
        for _ in range(15):
            if i % 3 == 0:
                assert np.array_equal(m.encode_image(x), want_img)
            elif i % 3 == 1:
                assert np.array_equal(m.encode_text("a photo of a cat"), want_txt)
            else:
                assert np.array_equal(m.encode_image(CHELSEA), want_file)
        return i

    with ThreadPoolExecutor(6) as ex:
        assert sorted(ex.map(work, range(6))) == list(range(6))


@pytest.mark.parametrize("images", [False, True])
def test_gil_is_released_while_encoding(images):
    m = model("models/pe-core-t16-384.safetensors", threads=1, batch=2)
    x = [CHELSEA] * 4 if images else np.zeros((4, 3, 384, 384), np.float32)
    m.encode_image(x[:1])                    # warm: plan the context
    ticks, stop = [0], threading.Event()

    def spin():
        while not stop.is_set():
            ticks[0] += 1

    t = threading.Thread(target=spin)
    t.start()
    time.sleep(0.01)
    before = ticks[0]
    m.encode_image(x)                        # one C call of ~100+ ms, in batches of 2
    during = ticks[0] - before
    stop.set()
    t.join()
    assert during > 10000, f"the spinning thread ran only {during} times"


# ---------------------------------------------------------------- pickling

def _embed_in_child(m):
    return m.encode_image(CHELSEA)


def test_pickle_by_path_and_options():
    m = pecore.Model(MICRO, threads=1, vision_only=True, batch=3)
    blob = pickle.dumps(m)
    assert len(blob) < 1000                  # the path and options, not the weights
    m2 = pickle.loads(blob)
    assert m2.path == m.path and m2.info["has_text"] == 0 and m2._args == m._args
    assert m2.batch == 3
    np.testing.assert_array_equal(m2.encode_image(CHELSEA), m.encode_image(CHELSEA))
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(1, mp_context=ctx) as ex:
        np.testing.assert_array_equal(ex.submit(_embed_in_child, m).result(),
                                      m.encode_image(CHELSEA))


# ---------------------------------------------------------------- classifiers

def test_gallery(tmp_path):
    m = micro()
    g = pecore.Gallery(m)
    embs = {p: m.encode_image(p)[0] for p in IMAGES}
    for p, e in embs.items():
        g.add("animal/cat" if "chelsea" in p else "other/" + os.path.basename(p)[:4], e, source=p)
    assert len(g) == len(IMAGES) and "animal/cat" in g.labels()
    r = g.classify(embs[CHELSEA], k=3)
    assert r["labels"][0]["label"] == "animal/cat"
    assert r["neighbors"][0]["source"] == CHELSEA
    assert r["neighbors"][0]["similarity"] == pytest.approx(1, abs=1e-5)
    assert r["coarse"][0]["label"] in ("animal", "other")
    both = g.classify(np.stack([embs[CHELSEA], embs[IMAGES[0]]]), k=1)
    assert isinstance(both, list) and len(both) == 2
    path = tmp_path / "g.gal"
    g.save(path)
    g2 = pecore.Gallery.load(path)
    assert g2.entries() == g.entries() and g2.identity() == g.identity()
    g2.check_model(m)
    with pytest.raises(pecore.UnsupportedError):
        g2.check_model(model("models/pe-micro-timm.safetensors"))
    assert g2.remove("animal/cat") == 1 and len(g2) == len(IMAGES) - 1
    with pytest.raises(pecore.NotFoundError):
        g2.remove("animal/cat")
    out = subprocess.run([CLI, "gallery", "list", "-g", str(path)], capture_output=True, text=True)
    assert out.returncode == 0 and f"{len(IMAGES)} entries" in out.stdout


def test_prototypes(tmp_path):
    m = micro()
    p = pecore.Prototypes(m)
    p.add_text(m, ["animal/cat", "animal/dog", "object/coffee"], ["a photo of a {}."])
    assert p.labels() == ["animal/cat", "animal/dog", "object/coffee"]
    emb = p.embeddings()
    assert emb.shape == (3, 32)
    np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1, rtol=1e-5)
    want = m.encode_text(["a photo of a cat."], normalize=True)[0]
    np.testing.assert_allclose(emb[0], want, atol=1e-5)
    p.set_threshold("animal/cat", 0.5)
    assert p.thresholds() == [0.5, None, None]
    img = m.encode_image(CHELSEA)[0]
    r = p.classify(img, top_k=3)
    logits = m.logit_scale * (emb @ (img / np.linalg.norm(img)))
    assert r["labels"][0]["label"] == p.labels()[int(np.argmax(logits))]
    assert r["labels"][0]["logit"] == pytest.approx(float(logits.max()), rel=1e-4)
    p.save(tmp_path / "p.pack")
    q = pecore.Prototypes.load(tmp_path / "p.pack")
    np.testing.assert_array_equal(q.embeddings(), emb)
    with pytest.raises(pecore.InvalidArgumentError):
        q.add("animal/cat", img)             # duplicate label


def test_quantize(tmp_path):
    out = tmp_path / "t16-q8.safetensors"
    pecore.quantize(T16, out, type="q8")
    q = pecore.Model(out, threads=2)
    assert q.info["n_q8"] > 0
    f = model("models/pe-core-t16-384.safetensors")
    a, b = f.encode_image(CHELSEA, normalize=True), q.encode_image(CHELSEA, normalize=True)
    assert float((a * b).sum()) > 0.999
    with pytest.raises(pecore.NotFoundError):
        pecore.quantize(T16, tmp_path / "x.safetensors", type="q4", rules=["q4:*no-such-name*"])
    with pytest.raises(pecore.InvalidArgumentError):
        pecore.quantize(T16, tmp_path / "x.safetensors", type="q3")


STRESS = os.path.join(GOLDEN_STRESS, "models", "pe-core-t16-384-outlier.safetensors")
CALIB = sorted(os.path.join(GOLDEN_STRESS, "calib", f)
               for f in os.listdir(os.path.join(GOLDEN_STRESS, "calib")))


def _check_report(r, n_images):
    assert set(r) == {"method", "images", "cos_mean", "cos_min", "linears", "smoothed", "gptq",
                      "float_columns", "worst"}
    assert isinstance(r["method"], str) and "calibrated" in r["method"]
    assert r["images"] == n_images
    assert 0.99 < r["cos_min"] <= r["cos_mean"] <= 1.0 + 1e-9
    for k in ("linears", "smoothed", "gptq", "float_columns"):
        assert isinstance(r[k], int) and r[k] >= 0
    assert r["linears"] > 0 and 1 <= len(r["worst"]) <= 3
    for w in r["worst"]:
        assert set(w) == {"name", "before", "after", "action"}
        assert w["name"] and w["action"] and w["before"] >= 0 and w["after"] >= 0


def test_quantize_calibrate_stress(tmp_path):
    """The outlier-heavy T16 calibrated on golden-stress/calib: the report
    as a dict, and the file carries it."""
    out = tmp_path / "stress-q8.safetensors"
    r = pecore.quantize(STRESS, out, type="q8", calibrate=CALIB)
    _check_report(r, len(CALIB))
    assert r["smoothed"] > 0 and r["float_columns"] > 0
    assert pecore.Model(out, threads=2).info["n_q8"] > 0


def test_quantize_calibrate_matches_cli(tmp_path):
    """Paths go through the CLI's decoder: the report is --json's."""
    import json
    r = pecore.quantize(MICRO, tmp_path / "a.safetensors", type="q4", vision_only=True,
                        calibrate=CALIB)
    cli = subprocess.run([CLI, "quantize", "-m", MICRO, "-o", str(tmp_path / "b.safetensors"),
                          "--type", "q4", "--vision-only", "--calibrate",
                          os.path.join(GOLDEN_STRESS, "calib"), "--json"],
                         check=True, capture_output=True, text=True)
    want = json.loads(cli.stdout)
    assert r["method"] == want["method"] and r["worst"][0]["name"] == want["worst"][0]["name"]
    for k in ("images", "linears", "smoothed", "gptq", "float_columns"):
        assert r[k] == want[k], k
    assert abs(r["cos_mean"] - want["cos_mean"]) < 2e-6 and abs(r["cos_min"] - want["cos_min"]) < 2e-6


def test_quantize_calibrate_inputs(tmp_path):
    """PIL images and uint8 arrays calibrate as encode_image takes them;
    no calibration, or plain rounding, gives no measured report."""
    pil = Image.open(CALIB[0])
    arr = np.asarray(Image.open(CALIB[1]).convert("RGB"))
    r = pecore.quantize(MICRO, tmp_path / "q.safetensors", calibrate=[pil, arr, CALIB[2]])
    _check_report(r, 3)
    assert pecore.quantize(MICRO, tmp_path / "q.safetensors", calibrate=CALIB[0])["images"] == 1
    assert pecore.quantize(MICRO, tmp_path / "q.safetensors") is None
    assert pecore.quantize(MICRO, tmp_path / "q.safetensors", calibrate=CALIB, plain=True)["images"] == 0
    with pytest.raises(pecore.InvalidArgumentError):
        pecore.quantize(MICRO, tmp_path / "q.safetensors", calibrate=[])
    with pytest.raises(TypeError):
        pecore.quantize(MICRO, tmp_path / "q.safetensors", calibrate=[1.5])


def test_quantize_calibrate_bad_image(tmp_path):
    """An image that cannot be read fails the call, names the image and
    writes nothing."""
    out = tmp_path / "q.safetensors"
    missing = str(tmp_path / "missing.jpg")
    with pytest.raises(pecore.FileError) as e:
        pecore.quantize(MICRO, out, calibrate=[CALIB[0], missing])
    assert missing in str(e.value) and e.value.index == 1
    junk = tmp_path / "junk.jpg"
    junk.write_bytes(b"not a jpeg")
    with pytest.raises(pecore.FormatError) as e:
        pecore.quantize(MICRO, out, calibrate=[junk])
    assert str(junk) in str(e.value) and e.value.index == 0
    with pytest.raises(pecore.ShapeError) as e:
        pecore.quantize(MICRO, out, calibrate=[np.zeros((8, 8, 5), np.uint8)])
    assert not out.exists()


# ---------------------------------------------------------------- leaks

def _rss_kb():
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))


def test_no_leak_over_1000_calls(tmp_path):
    """RSS catches what the C side keeps (a decoded image is 400 kB),
    tracemalloc what the Python side keeps (arrays, result dicts, errors),
    refcounts a reference kept to an argument."""
    import tracemalloc

    m = micro()
    x = np.load(RAW)
    g = pecore.Gallery(m)
    g.add("cat", m.encode_image(x)[0])
    junk = str(tmp_path / "junk.png")
    with open(junk, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n broken")

    def bad_file():
        with pytest.raises(pecore.FormatError):
            m.encode_image(junk)

    calls = [lambda: m.encode_image(x, output="tokens"), lambda: m.encode_image(CHELSEA),
             lambda: m.encode_text(["a photo of a cat", "a dog"]),
             lambda: g.classify(x[0, 0, 0, :32]), bad_file]
    for i in range(100):
        calls[i % len(calls)]()
    refs = sys.getrefcount(x), sys.getrefcount(m), sys.getrefcount(g)
    tracemalloc.start()
    py_before, rss_before = tracemalloc.get_traced_memory()[0], _rss_kb()
    for i in range(1000):
        calls[i % len(calls)]()
    py_grown = tracemalloc.get_traced_memory()[0] - py_before
    rss_grown = _rss_kb() - rss_before
    tracemalloc.stop()
    assert (sys.getrefcount(x), sys.getrefcount(m), sys.getrefcount(g)) == refs
    assert py_grown < 64 * 1024, f"Python heap grew by {py_grown} bytes over 1000 calls"
    assert rss_grown < 1024, f"RSS grew by {rss_grown} kB over 1000 calls"
