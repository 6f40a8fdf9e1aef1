#!/usr/bin/python3
"""Python binding throughput (README "Python", bench/RESULTS.md):

1. per-call overhead: the p50 of Model.encode_image on one preprocessed
   float32 image against the p50 of `pecore bench` on the same model, size
   and thread count (interleaved rounds, median of the rounds' p50s);
2. corpus: images/s of `python3 -m pecore.corpus` (LocalCluster, --workers
   processes of one engine thread) against one process looping over the same
   files with Model.encode_image(path) at 1 and at --workers threads.

    PYTHONPATH=bindings/python /usr/bin/python3 bench/python_bench.py [--images 120]

Run after `make python`.  Prints markdown tables.
"""
import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "bindings", "python"))
import pecore  # noqa: E402

GOLDEN = os.environ.get("PECORE_GOLDEN") or os.path.join(ROOT, "..", "shared", "golden")
CLI = os.environ.get("PECORE_CLI") or os.path.join(ROOT, "build", "pecore")


def cli_p50(model, runs, threads):
    out = subprocess.run([CLI, "bench", "-m", model, "--threads", str(threads), "--runs",
                          str(runs), "--json"], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])["p50_ms"]


def binding_p50(m, x, runs):
    for _ in range(3):
        m.encode_image(x)
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        m.encode_image(x)
        times.append(time.perf_counter() - t)
    return 1e3 * statistics.median(times)


def overhead(runs, rounds, threads):
    rows = []
    # pe-micro (0.06 ms a call: the overhead is most of it) and T16 at 384
    # (a real model, timed with a fifth of the runs)
    for rel, n in (("models/pe-micro.safetensors", runs),
                   ("models/pe-core-t16-384.safetensors", max(5, runs // 5))):
        path = os.path.join(GOLDEN, rel)
        m = pecore.Model(path, threads=threads, vision_only=True)
        s = m.info["image_size"]
        x = np.random.default_rng(1).uniform(-1, 1, (1, 3, s, s)).astype(np.float32)
        cli, py = [], []
        for _ in range(rounds):
            cli.append(cli_p50(path, n, threads))
            py.append(binding_p50(m, x, n))
        c, p = statistics.median(cli), statistics.median(py)
        rows.append(f"| {os.path.basename(path)} | {s}x{s} | {threads} | {c:.3f} | {p:.3f} | "
                    f"{1e3 * (p - c):+.0f} |")
    print("| model | input | threads | `pecore bench` p50 ms | `Model.encode_image` p50 ms | "
          "overhead µs |\n|---|---|---|---|---|---|")
    print("\n".join(rows))


def make_corpus(root, n):
    photos = sorted(os.path.join(GOLDEN, "images", f) for f in os.listdir(os.path.join(GOLDEN,
                                                                                      "images")))
    for i in range(n):
        p = photos[i % len(photos)]
        shutil.copy(p, os.path.join(root, f"{i:05d}-{os.path.basename(p)}"))
    return sorted(os.path.join(root, f) for f in os.listdir(root))


def single_process(model, paths, threads):
    m = pecore.Model(model, threads=threads, vision_only=True)
    m.encode_image(paths[0])
    t = time.perf_counter()
    for p in paths:
        m.encode_image(p)
    return len(paths) / (time.perf_counter() - t)


def corpus_job(model, paths, workers, tmp, shard_size):
    out = os.path.join(tmp, "out")
    shutil.rmtree(out, ignore_errors=True)
    env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, "bindings", "python"))
    t = time.perf_counter()
    subprocess.run([sys.executable, "-m", "pecore.corpus", "--model", model, "--workers",
                    str(workers), "--threads", "1", "--shard-size", str(shard_size), "--out", out,
                    os.path.dirname(paths[0])], check=True, env=env, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - t
    shards = sorted(os.path.getmtime(os.path.join(out, "shards", f))
                    for f in os.listdir(os.path.join(out, "shards")))
    # steady state: the images of every shard after the first, over the
    # time between the first and the last shard landing on disk
    steady = (len(paths) - shard_size) / max(shards[-1] - shards[0], 1e-9)
    return len(paths) / wall, steady, wall


def corpus(n, workers, shard_size):
    model = os.path.join(GOLDEN, "models", "pe-core-t16-384.safetensors")
    with tempfile.TemporaryDirectory() as tmp:
        imgs = os.path.join(tmp, "imgs")
        os.makedirs(imgs)
        paths = make_corpus(imgs, n)
        one = single_process(model, paths, 1)
        many = single_process(model, paths, workers)
        e2e, steady, wall = corpus_job(model, paths, workers, tmp, shard_size)
    print(f"| run ({n} golden photos, PE-Core-T16-384 at 384x384, decode + preprocess + encode) "
          "| images/s |\n|---|---|")
    print(f"| one process, `Model(threads=1)` loop | {one:.1f} |")
    print(f"| one process, `Model(threads={workers})` loop | {many:.1f} |")
    print(f"| `pecore.corpus --workers {workers} --threads 1`, steady state (first to last "
          f"shard) | {steady:.1f} |")
    print(f"| `pecore.corpus --workers {workers} --threads 1`, end to end ({wall:.1f} s: "
          f"cluster start, shards, assembly) | {e2e:.1f} |")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--images", type=int, default=120)
    ap.add_argument("--runs", type=int, default=200, help="timed calls per round (pe-micro)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1, help="engine threads for the overhead part")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--shard-size", type=int, default=16)
    args = ap.parse_args()
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"kernels {pecore.kernel_isa()}, load average {os.getloadavg()[0]:.1f} at the start\n")
    overhead(args.runs, args.rounds, args.threads)
    print()
    corpus(args.images, args.workers, args.shard_size)


if __name__ == "__main__":
    main()
