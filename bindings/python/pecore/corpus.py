"""Embeds an image corpus on a Dask cluster:

    python3 -m pecore.corpus --model M (--workers N | --scheduler ADDR) --out DIR
        [--gallery G | --prototypes P] [--label-from parent|FILE] IMAGES_OR_DIRS...

The images (files, and the .jpg/.jpeg/.png files under directories) are
sorted by path and cut into shards of --shard-size; shard k is always the
same images.  Each worker process loads the model once (a worker plugin) and
embeds whole shards, --batch images at a time; the client writes each
finished shard atomically (temporary file, fsync, rename) to DIR/shards/.  A
job killed at any moment and run again skips the shards on disk, so every
image is embedded exactly once per job.  A batch changes no bit of a result,
so a job may be resumed with another --batch.  At the end:

    DIR/embeddings.npy   float32 [N, D], the readable images in path order
    DIR/index.jsonl      {"path", "row", "shard"[, "label"]} per row
    DIR/errors.jsonl     {"path", "error"} per image that could not be read
    DIR/manifest.json    what the job is (model, fingerprint, size, inputs)

and with --gallery G a pecore gallery of the labelled rows (`pecore gallery
list -g G`), with --prototypes P one prototype per label (the mean of its
unit embeddings).  Labels come from --label-from: `parent` (the image's
directory name) or a FILE of `path<TAB>label` lines (relative paths are taken
from FILE's directory).

Without --scheduler a distributed.LocalCluster of --workers processes (one
Dask thread each, --threads engine threads each) runs on this machine.  With
--scheduler the workers need this package and must see the image and model
paths (a shared file system); the client writes DIR.
"""
import argparse
import hashlib
import json
import logging
import os
import sys
import threading
import time

import numpy as np

import pecore

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png")
JOB_FORMAT = "pecore.corpus/1"


def log(msg):
    print(f"pecore.corpus: {msg}", file=sys.stderr, flush=True)


def printable(s):
    """s with control characters escaped: paths and messages come from files."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in str(s))


# ---------------------------------------------------------------- inputs


def list_images(inputs):
    """The sorted, de-duplicated absolute paths: files as given, and the image
    files under directories (by extension, case-insensitive)."""
    found = set()
    for arg in inputs:
        if os.path.isdir(arg):
            for root, dirs, files in os.walk(arg):
                dirs.sort()
                found.update(os.path.abspath(os.path.join(root, f)) for f in files
                             if f.lower().endswith(IMAGE_EXTENSIONS))
        elif os.path.exists(arg):
            found.add(os.path.abspath(arg))
        else:
            raise SystemExit(f"pecore.corpus: {printable(arg)}: no such file or directory")
    return sorted(found)


def read_labels(label_from, paths):
    """{path: label} for the images that have one."""
    if label_from == "parent":
        return {p: os.path.basename(os.path.dirname(p)) for p in paths}
    base = os.path.dirname(os.path.abspath(label_from))
    labels = {}
    with open(label_from, encoding="utf-8") as f:
        for no, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if not line.strip() or line.startswith("#"):
                continue
            path, tab, label = line.partition("\t")
            if not tab or not label:
                raise SystemExit(f"pecore.corpus: {label_from}:{no}: expected path<TAB>label")
            labels[os.path.abspath(os.path.join(base, path))] = label
    return labels


# ---------------------------------------------------------------- files


def write_atomic(path, write):
    """write(file) into a temporary file beside path, fsync, rename."""
    tmp = f"{path}.tmp.{os.getpid()}"
    try:
        with open(tmp, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def write_json(path, obj):
    write_atomic(path, lambda f: f.write((json.dumps(obj, indent=1) + "\n").encode()))


def shard_path(out, k):
    return os.path.join(out, "shards", f"{k:06d}.npz")


def read_shard(out, k, first, count, dim=None):
    """(rows, embeddings, failed rows, messages) of a finished shard, or None
    when it is missing or does not hold exactly its images.  Without dim the
    embeddings are not read (None): an npz member loads on its own."""
    try:
        with np.load(shard_path(out, k), allow_pickle=False) as z:
            rows, bad, msgs = z["rows"], z["failed"], z["messages"]
            emb = z["embeddings"] if dim else None
    except (OSError, KeyError, ValueError):
        return None
    want = np.arange(first, first + count)
    if not np.array_equal(np.sort(np.concatenate([rows, bad])), want) or len(bad) != len(msgs):
        return None
    if dim and emb.shape != (len(rows), dim):
        return None
    return rows, emb, bad, msgs


def write_shard(out, k, rows, emb, bad, msgs):
    write_atomic(shard_path(out, k), lambda f: np.savez(
        f, rows=np.asarray(rows, np.int64), embeddings=emb, failed=np.asarray(bad, np.int64),
        messages=np.asarray(msgs, dtype=str)))


# ---------------------------------------------------------------- workers

_models = {}
_models_lock = threading.Lock()


def worker_model(spec):
    """The model of spec, loaded once per process."""
    with _models_lock:
        if spec not in _models:
            _models[spec] = pecore.Model(spec[0], threads=spec[1], vision_only=True,
                                         batch=spec[2])
        return _models[spec]


try:
    from distributed.diagnostics.plugin import WorkerPlugin
except ImportError:  # the binding works without Dask; only the job needs it
    WorkerPlugin = object


class ModelPlugin(WorkerPlugin):
    """Loads the job's model when a worker starts (or joins later)."""

    def __init__(self, spec):
        self.spec = spec
        self.name = "pecore-model-" + hashlib.sha256(repr(spec).encode()).hexdigest()[:16]

    def setup(self, worker):
        worker_model(self.spec)


def embed_shard(spec, k, first, paths, pp):
    """Runs on a worker: (k, rows, embeddings, failed rows, messages); pp
    holds encode_image's size, crop and transform.  The images go in
    batches of the model's batch; a batch that fails is done again one image
    at a time, so that each unreadable image is recorded with its own
    message and the others embedded (a batch changes no bit of a result)."""
    model = worker_model(spec)
    rows, embs, bad, msgs = [], [], [], []
    for j in range(0, len(paths), model.batch):
        batch = paths[j:j + model.batch]
        try:
            embs.append(model.encode_image(batch, **pp))
            rows.extend(range(first + j, first + j + len(batch)))
        except pecore.Error:
            for i, path in enumerate(batch, first + j):
                try:
                    embs.append(model.encode_image(path, **pp))
                    rows.append(i)
                except pecore.Error as e:
                    bad.append(i)
                    msgs.append(str(e))
    dim = model.info["out_dim"]
    emb = np.concatenate(embs) if embs else np.zeros((0, dim), np.float32)
    return k, rows, emb, bad, msgs


# ---------------------------------------------------------------- progress


class Progress:
    """A line on stderr: rewritten in place on a terminal, else printed every
    few seconds."""

    def __init__(self, total, done):
        self.total, self.done, self.start_done = total, done, done
        self.skipped = 0
        self.t0 = self.last = time.monotonic()
        self.tty = sys.stderr.isatty()

    def add(self, n, skipped):
        self.done += n
        self.skipped += skipped
        now = time.monotonic()
        if now - self.last >= (0.2 if self.tty else 5.0) or self.done == self.total:
            self.last = now
            self.show(now)

    def show(self, now):
        rate = (self.done - self.start_done) / max(now - self.t0, 1e-9)
        left = (self.total - self.done) / rate if rate > 0 else 0
        line = (f"pecore.corpus: {self.done}/{self.total} images "
                f"({100.0 * self.done / max(self.total, 1):.1f}%), {rate:.1f} img/s, "
                f"{self.skipped} skipped, ETA {int(left) // 60}m{int(left) % 60:02d}s")
        if self.tty:
            sys.stderr.write("\r\033[K" + line)
            if self.done == self.total:
                sys.stderr.write("\n")
        else:
            sys.stderr.write(line + "\n")
        sys.stderr.flush()


# ---------------------------------------------------------------- the job


def job_manifest(args, model, paths):
    digest = hashlib.sha256("\n".join(paths).encode("utf-8", "surrogateescape")).hexdigest()
    info = model.info
    return {
        "format": JOB_FORMAT, "model": model.path, "arch": info["arch"],
        "fingerprint": info["fingerprint"], "dim": info["out_dim"],
        "size": list(args.size) if args.size else None, "crop": args.crop,
        "transform": args.transform or info["transform"], "shard_size": args.shard_size,
        "images": len(paths),
        "inputs_sha256": digest,
    }


def open_job(out, manifest, paths):
    """Creates DIR, or checks that it holds this same job (then resumes)."""
    os.makedirs(os.path.join(out, "shards"), exist_ok=True)
    path = os.path.join(out, "manifest.json")
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            old = json.load(f)
        for key, value in manifest.items():
            if old.get(key) != value:
                raise SystemExit(f"pecore.corpus: {out} holds another job ({key}: "
                                 f"{printable(old.get(key))} there, {printable(value)} now); "
                                 "pass a new --out")
        return
    write_atomic(os.path.join(out, "inputs.jsonl"), lambda f: f.writelines(
        (json.dumps(p) + "\n").encode() for p in paths))
    write_json(path, manifest)


def remove_stale(out):
    """Temporary files of a run that was killed while writing."""
    for d in (out, os.path.join(out, "shards")):
        for name in os.listdir(d):
            if ".tmp." in name:
                os.unlink(os.path.join(d, name))


def run_shards(client, spec, args, paths, todo, progress):
    """Submits the missing shards, a few per worker at a time, and writes
    each one as it finishes."""
    from distributed import as_completed

    n_workers = max(1, len(client.scheduler_info().get("workers", {})))
    window = 2 * n_workers + 2
    todo = list(todo)
    S = args.shard_size

    pp = {"size": args.size, "crop": args.crop, "transform": args.transform}

    def submit(k):
        first = k * S
        return client.submit(embed_shard, spec, k, first, paths[first:first + S], pp,
                             pure=False, key=f"pecore-shard-{k}-{os.urandom(4).hex()}")

    ac = as_completed([submit(todo.pop(0)) for _ in range(min(window, len(todo)))])
    for fut in ac:
        k, rows, emb, bad, msgs = fut.result()
        write_shard(args.out, k, rows, emb, bad, msgs)
        for r, m in zip(bad, msgs):
            log(f"skipped {printable(m)}")  # the message names the file
        progress.add(len(rows) + len(bad), len(bad))
        if todo:
            ac.add(submit(todo.pop(0)))


def assemble(args, model, paths, n_shards, labels):
    """embeddings.npy, index.jsonl, errors.jsonl from the shards, streamed
    (one shard in memory at a time); the gallery or prototypes when asked.
    Checks every image is there once."""
    out, S, dim = args.out, args.shard_size, model.info["out_dim"]

    def shard(k, with_embeddings):
        sh = read_shard(out, k, k * S, len(paths[k * S:(k + 1) * S]),
                        dim if with_embeddings else None)
        if sh is None:
            raise SystemExit(f"pecore.corpus: shard {k} is missing or damaged; run again")
        return sh

    n_ok = sum(len(shard(k, False)[0]) for k in range(n_shards))
    tmp = os.path.join(out, f"embeddings.tmp.{os.getpid()}.npy")
    mm = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.float32, shape=(n_ok, dim))
    labelled, n_bad = [], 0                   # (row, label, path)

    def write_rows(index, errors):
        nonlocal n_bad
        row = 0
        for k in range(n_shards):
            rows, emb, bad, msgs = shard(k, True)
            mm[row:row + len(rows)] = emb
            for r in rows:
                entry = {"path": paths[r], "row": row, "shard": k}
                if labels.get(paths[r]) is not None:
                    entry["label"] = labels[paths[r]]
                    labelled.append((row, entry["label"], paths[r]))
                index.write((json.dumps(entry) + "\n").encode())
                row += 1
            for r, m in zip(bad, msgs):
                errors.write((json.dumps({"path": paths[r], "error": m}) + "\n").encode())
            n_bad += len(bad)

    write_atomic(os.path.join(out, "index.jsonl"), lambda index: write_atomic(
        os.path.join(out, "errors.jsonl"), lambda errors: write_rows(index, errors)))
    mm.flush()
    del mm
    emb_path = os.path.join(out, "embeddings.npy")
    os.replace(tmp, emb_path)
    if args.gallery or args.prototypes:
        build_classifier(args, model, np.load(emb_path, mmap_mode="r"), labelled)
    return n_ok, n_bad


def build_classifier(args, model, emb, labelled):
    if not labelled:
        raise SystemExit("pecore.corpus: no image has a label (see --label-from)")
    if args.gallery:
        g = pecore.Gallery(model)
        for row, label, path in labelled:
            g.add(label, emb[row], source=path)
        g.save(args.gallery)
        log(f"gallery {args.gallery}: {len(g)} entries, {len(g.labels())} labels")
    if args.prototypes:
        by_label = {}
        for row, label, _ in labelled:
            by_label.setdefault(label, []).append(row)
        p = pecore.Prototypes(model)
        for label in sorted(by_label):
            p.add(label, pecore.normalize(emb[by_label[label]]).mean(axis=0))
        p.save(args.prototypes)
        log(f"prototypes {args.prototypes}: {len(p)} classes")


def connect(args):
    """(client, cluster or None): a LocalCluster unless --scheduler."""
    from distributed import Client, LocalCluster

    if args.scheduler:
        return Client(args.scheduler), None
    cluster = LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True,
                           dashboard_address=None, silence_logs=logging.ERROR)
    return Client(cluster), cluster


def run(args):
    """The whole job; returns (rows embedded, images skipped)."""
    paths = list_images(args.inputs)
    if not paths:
        raise SystemExit("pecore.corpus: no images found")
    labels = read_labels(args.label_from, paths) if args.label_from else {}
    model = pecore.Model(args.model, threads=1, vision_only=True, batch=args.batch)  # checks it
    open_job(args.out, job_manifest(args, model, paths), paths)
    remove_stale(args.out)
    S = args.shard_size
    n_shards = (len(paths) + S - 1) // S
    todo, done = [], 0
    for k in range(n_shards):
        count = len(paths[k * S:(k + 1) * S])
        if read_shard(args.out, k, k * S, count) is None:
            todo.append(k)
        else:
            done += count
    log(f"{len(paths)} images in {n_shards} shards of {S}")
    if done:
        log(f"resuming: {n_shards - len(todo)} of {n_shards} shards already done")
    if todo:
        client, cluster = connect(args)
        try:
            spec = (model.path, args.threads, args.batch)
            client.register_worker_plugin(ModelPlugin(spec))
            run_shards(client, spec, args, paths, todo, Progress(len(paths), done))
        finally:
            client.close()
            if cluster is not None:
                cluster.close()
    n_ok, n_bad = assemble(args, model, paths, n_shards, labels)
    log(f"{n_ok} embeddings [{n_ok}, {model.info['out_dim']}] in {args.out}/embeddings.npy, "
        f"{n_bad} skipped")
    return n_ok, n_bad


def parse_size(s):
    h, _, w = s.partition("x")
    try:
        return (int(h), int(w or h))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected S or HxW, not {s!r}") from None


def parse_args(argv=None):
    ap = argparse.ArgumentParser(prog="python3 -m pecore.corpus", description=__doc__.split("\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=__doc__.split("\n", 1)[1])
    ap.add_argument("--model", "-m", required=True, help="model file")
    where = ap.add_mutually_exclusive_group()
    where.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                       help="processes of the local cluster (default: the cores)")
    where.add_argument("--scheduler", help="address of a running Dask scheduler")
    ap.add_argument("--threads", type=int, default=1, help="engine threads per worker (1)")
    ap.add_argument("--out", "-o", required=True, help="output directory")
    ap.add_argument("--gallery", help="also write a KNN gallery of the labelled images")
    ap.add_argument("--prototypes", help="also write one prototype per label")
    ap.add_argument("--label-from", help="'parent' (directory name) or a path<TAB>label file")
    ap.add_argument("--size", type=parse_size, help="S or HxW (default: the transform's)")
    ap.add_argument("--crop", choices=("squash", "center"), help="default: the transform's")
    ap.add_argument("--transform", choices=("pe", "dinov2-eval"),
                    help="default: the model's eval transform")
    ap.add_argument("--shard-size", type=int, default=256, help="images per shard (256)")
    ap.add_argument("--batch", type=int, default=0,
                    help="images encoded together (default: the model's, 1..8)")
    ap.add_argument("inputs", nargs="+", metavar="IMAGES_OR_DIRS")
    args = ap.parse_args(argv)
    if (args.gallery or args.prototypes) and not args.label_from:
        ap.error("--gallery and --prototypes need --label-from")
    if args.workers < 1 or args.threads < 1 or args.shard_size < 1:
        ap.error("--workers, --threads and --shard-size must be >= 1")
    return args


def main(argv=None):
    try:
        run(parse_args(argv))
    except pecore.Error as e:
        log(printable(e))
        return 1
    return 0


if __name__ == "__main__":
    # Run the importable pecore.corpus, not this __main__ copy: workers must
    # unpickle embed_shard and ModelPlugin by reference.
    from pecore.corpus import main as corpus_main

    sys.exit(corpus_main())
