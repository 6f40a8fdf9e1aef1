"""python3 -m pecore.corpus on 2-worker LocalClusters: outputs, labels,
gallery and prototypes, unreadable images, and a run killed after its first
shard then resumed, ending with every image exactly once."""
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import pecore
from pecore import corpus
from conftest import CLI, IMAGES, MICRO, T16


def make_tree(root, copies=1):
    """root/{cat,misc}/ with the golden photos (copies of each), one
    unreadable .jpg and a text file that is not listed."""
    for i in range(copies):
        for p in IMAGES:
            label = "cat" if "chelsea" in p else "misc"
            os.makedirs(root / label, exist_ok=True)
            shutil.copy(p, root / label / f"{i:03d}-{os.path.basename(p)}")
    (root / "misc" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    (root / "misc" / "notes.txt").write_text("not an image")
    return sorted(str(p) for p in root.rglob("*") if p.suffix in (".jpg", ".png"))


def read_jsonl(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def check_exactly_once(out, paths, model, size):
    """Every readable image once, in path order, with its own embedding."""
    index, errors = read_jsonl(out / "index.jsonl"), read_jsonl(out / "errors.jsonl")
    emb = np.load(out / "embeddings.npy")
    assert emb.dtype == np.float32 and emb.shape == (len(index), model.info["out_dim"])
    assert [e["row"] for e in index] == list(range(len(index)))
    assert [e["path"] for e in errors] == [p for p in paths if p.endswith("broken.jpg")]
    assert "broken.jpg: truncated" in errors[0]["error"]
    assert sorted(e["path"] for e in index + errors) == paths      # each exactly once
    assert [e["path"] for e in index] == sorted(e["path"] for e in index)
    for e in index[:: max(1, len(index) // 6)]:
        np.testing.assert_allclose(emb[e["row"]], model.encode_image(e["path"], size=size)[0],
                                   rtol=1e-5, atol=1e-6)
    return index


def test_corpus_on_a_scheduler(tmp_path, dask_cluster):
    paths = make_tree(tmp_path / "imgs")
    out, gal, protos = tmp_path / "out", tmp_path / "g.gal", tmp_path / "p.pack"
    argv = ["--model", MICRO, "--scheduler", dask_cluster.scheduler_address, "--out", str(out),
            "--gallery", str(gal), "--prototypes", str(protos), "--label-from", "parent",
            "--size", "64", "--shard-size", "2", str(tmp_path / "imgs")]
    assert corpus.main(argv) == 0
    m = pecore.Model(MICRO, threads=1)
    index = check_exactly_once(out, paths, m, 64)
    assert {e["label"] for e in index} == {"cat", "misc"}
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["images"] == len(paths) and manifest["fingerprint"] == m.info["fingerprint"]
    listed = subprocess.run([CLI, "gallery", "list", "-g", str(gal)], capture_output=True, text=True)
    assert listed.returncode == 0 and f"{len(index)} entries, 2 labels" in listed.stdout
    g = pecore.Gallery.load(gal)
    g.check_model(m)
    assert sorted(src for _, src in g.entries()) == [e["path"] for e in index]
    p = pecore.Prototypes.load(protos)
    assert p.labels() == ["cat", "misc"]
    cat = m.encode_image([e["path"] for e in index if e["label"] == "cat"], size=64, normalize=True)
    np.testing.assert_allclose(p.embeddings()[0], pecore.normalize(cat.mean(0)), atol=1e-5)
    # the same command again: nothing left to do, the same outputs
    before = (out / "embeddings.npy").read_bytes()
    assert corpus.main(argv) == 0
    assert (out / "embeddings.npy").read_bytes() == before
    # another job in the same directory is refused
    with pytest.raises(SystemExit, match="another job"):
        corpus.main(argv[:-1] + ["--size", "48", str(tmp_path / "imgs")])


def test_corpus_labels_from_file(tmp_path, dask_cluster):
    paths = make_tree(tmp_path / "imgs")
    labels = tmp_path / "imgs" / "labels.tsv"
    labels.write_text("# path<TAB>label\ncat/000-chelsea.png\tanimal/cat\n"
                      f"{[p for p in paths if 'astronaut' in p][0]}\tperson/astronaut\n")
    out, gal = tmp_path / "out", tmp_path / "g.gal"
    assert corpus.main(["--model", MICRO, "--scheduler", dask_cluster.scheduler_address,
                        "--out", str(out), "--gallery", str(gal), "--label-from", str(labels),
                        "--size", "64", str(tmp_path / "imgs")]) == 0
    index = read_jsonl(out / "index.jsonl")
    assert sorted(e.get("label", "") for e in index if "label" in e) == ["animal/cat",
                                                                        "person/astronaut"]
    assert sorted(pecore.Gallery.load(gal).labels()) == ["animal/cat", "person/astronaut"]


def test_corpus_batches_change_no_bit(tmp_path, dask_cluster):
    """--batch 3 over shards of 6 (11 images: shards of 6 and 5, batches of
    3, 3 | 3, 2 with the broken file, the last path, in the last) writes the
    same bytes as --batch 1, and a --batch 1 job missing a shard is finished
    with --batch 3 to the same bytes."""
    paths = make_tree(tmp_path / "imgs", copies=2)
    assert len(paths) == 11 and paths[-1].endswith("broken.jpg")

    def run(out, batch):
        assert corpus.main(["--model", MICRO, "--scheduler", dask_cluster.scheduler_address,
                            "--out", str(out), "--size", "64", "--shard-size", "6",
                            "--batch", str(batch), str(tmp_path / "imgs")]) == 0
        return {f: (out / f).read_bytes() for f in ("embeddings.npy", "index.jsonl",
                                                    "errors.jsonl")}

    one = run(tmp_path / "one", 1)
    three = run(tmp_path / "three", 3)
    assert three == one
    check_exactly_once(tmp_path / "three", paths, pecore.Model(MICRO, threads=1), 64)
    os.unlink(corpus.shard_path(str(tmp_path / "one"), 1))
    assert run(tmp_path / "one", 3) == one
    assert corpus.main(["--model", MICRO, "--workers", "1", "--out", str(tmp_path / "x"),
                        "--batch", "300", str(tmp_path / "imgs")]) == 1     # max_batch 0..256
    assert not (tmp_path / "x").exists()


def corpus_cmd(out, imgs):
    return [sys.executable, "-m", "pecore.corpus", "--model", T16, "--workers", "2",
            "--out", str(out), "--shard-size", "3", str(imgs)]


def test_corpus_killed_and_resumed(tmp_path):
    """A real 2-worker LocalCluster in a subprocess, SIGKILLed (with its
    workers: the whole process group) once the first shard is on disk."""
    imgs, out = tmp_path / "imgs", tmp_path / "out"
    paths = make_tree(imgs, copies=8)                    # 41 images, 14 shards
    n_shards = (len(paths) + 2) // 3
    shards = out / "shards"
    with open(tmp_path / "run1.log", "wb") as log:
        proc = subprocess.Popen(corpus_cmd(out, imgs), stderr=log, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while not (shards.is_dir() and any(f.suffix == ".npz" for f in shards.iterdir())):
            assert proc.poll() is None, (tmp_path / "run1.log").read_text()
            assert time.monotonic() < deadline, "no shard after 120 s"
            time.sleep(0.01)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    done = {f.name: f.stat().st_mtime_ns for f in shards.iterdir() if f.suffix == ".npz"}
    assert 1 <= len(done) < n_shards, f"{len(done)} of {n_shards} shards before the kill"
    assert not (out / "embeddings.npy").exists()
    (shards / f"{n_shards - 1:06d}.npz.tmp.12345").write_bytes(b"half a shard")  # killed mid-write
    (out / "index.jsonl.tmp.12345").write_bytes(b"half an index")
    second = subprocess.run(corpus_cmd(out, imgs), capture_output=True, text=True, timeout=300)
    assert second.returncode == 0, second.stderr
    assert "resuming" in second.stderr and "skipped" in second.stderr
    finished = {f.name: f.stat().st_mtime_ns for f in shards.iterdir()}
    assert len(finished) == n_shards                      # the stale temporaries are gone
    assert not any(".tmp." in f.name for f in out.iterdir())
    assert all(finished[name] == t for name, t in done.items())   # not embedded again
    check_exactly_once(out, paths, pecore.Model(T16, threads=1), None)
