#!/usr/bin/python3
"""The golden image_raw cases of manifest.json through a pecore binary.

usage: golden.py [--golden DIR] [--threads N] [--compute f32|f16] [--cases PATTERN...]
                 -- PECORE_COMMAND...

Each case whose id matches one of the shell patterns (all when none is given)
runs `PECORE_COMMAND embed -m MODEL --raw INPUT [--tokens] --threads N -o
OUT.npy` (N is 2 unless given; for make test-arm64 the command is
`qemu-aarch64 -cpu CPU build/arm64/pecore`, for make test-wasm `node
--no-experimental-fetch build/wasm/pecore.js` with --threads 1)
and is compared row by row with the expected output at the manifest's
tolerances, as tests/test_golden.c does: cosine >= cos_min and
max|out - ref| / max|ref| <= rel_max.  A case killed by a signal (SIGILL
above all) fails; so does a pattern that matches no case.

--compute f16 passes `--compute f16` to embed and holds every case to fp16
compute's own tolerance (F16_COS_MIN, F16_REL_MAX: half rounding of the
activations and of 32-term partial sums, docs/design.md "fp16 compute")
in place of the manifest's float32 one.
"""
import fnmatch
import json
import os
import signal
import subprocess
import sys
import tempfile

import numpy as np

# fp16 compute against the float64 reference, every case (measured on the
# golden set under qemu cortex-a76: docs/design.md)
F16_COS_MIN = 0.9995
F16_REL_MAX = 0.05


def compare(out, ref, cos_min, rel_max):
    """Worst row cosine and relative max error, and whether both pass."""
    a = out.reshape(-1, ref.shape[-1]).astype(np.float64)
    b = ref.reshape(-1, ref.shape[-1]).astype(np.float64)
    cos = (a * b).sum(1) / (np.sqrt((a * a).sum(1)) * np.sqrt((b * b).sum(1)) + 1e-30)
    rel = np.abs(a - b).max(1) / (np.abs(b).max(1) + 1e-30)
    worst_cos, worst_rel = float(cos.min()), float(rel.max())
    good = worst_cos >= cos_min and (rel_max <= 0 or worst_rel <= rel_max)
    return worst_cos, worst_rel, good


def main(argv):
    golden, patterns, threads, compute = "../shared/golden", [], "2", "f32"
    if "--" not in argv:
        sys.exit(__doc__)
    sep = argv.index("--")
    opts, cmd = argv[:sep], argv[sep + 1:]
    i = 0
    while i < len(opts):
        if opts[i] == "--golden":
            golden = opts[i + 1]
            i += 2
        elif opts[i] == "--threads":
            threads = opts[i + 1]
            i += 2
        elif opts[i] == "--compute" and i + 1 < len(opts) and opts[i + 1] in ("f32", "f16"):
            compute = opts[i + 1]
            i += 2
        elif opts[i] == "--cases":
            i += 1
            while i < len(opts) and not opts[i].startswith("--"):
                patterns.append(opts[i])
                i += 1
        else:
            sys.exit("golden.py: unknown option %s" % opts[i])
    with open(os.path.join(golden, "manifest.json")) as f:
        cases = [c for c in json.load(f)["cases"] if c["kind"] == "image_raw"]
    passed = failed = 0
    for p in patterns:
        if not any(fnmatch.fnmatchcase(c["id"], p) for c in cases):
            print("FAIL pattern %s matches no image_raw case" % p)
            failed += 1
    chosen = [c for c in cases if not patterns or any(fnmatch.fnmatchcase(c["id"], p) for p in patterns)]
    with tempfile.TemporaryDirectory(prefix="pecore-golden-") as tmp:
        for c in chosen:
            out_path = os.path.join(tmp, "out.npy")
            args = cmd + ["embed", "-m", os.path.join(golden, c["model"]), "--raw",
                          os.path.join(golden, c["input"]), "--threads", threads, "-o", out_path]
            if c["output"] == "tokens":
                args.append("--tokens")
            if compute != "f32":
                args += ["--compute", compute]
            r = subprocess.run(args, capture_output=True, text=True)
            if r.returncode != 0:
                why = ("killed by %s" % signal.Signals(-r.returncode).name if r.returncode < 0
                       else "exit %d" % r.returncode)
                print("FAIL %s: %s: %s" % (c["id"], why, r.stderr.strip()[-300:]))
                failed += 1
                continue
            out = np.load(out_path)
            ref = np.load(os.path.join(golden, c["expect"]))
            if out.shape != ref.shape:
                print("FAIL %s: output %s, expected %s" % (c["id"], out.shape, ref.shape))
                failed += 1
                continue
            cos_min, rel_max = c.get("cos_min", 1.0), c.get("rel_max", 0.0)
            if compute == "f16":
                cos_min, rel_max = F16_COS_MIN, F16_REL_MAX
            cos, rel, good = compare(out, ref, cos_min, rel_max)
            print("%s %-36s %scos %.8f  rel %.2e  (min %.5f, max %.0e)"
                  % ("ok  " if good else "FAIL", c["id"], "f16 " if compute == "f16" else "", cos, rel,
                     cos_min, rel_max))
            passed += good
            failed += not good
    print("golden_raw%s: %d passed, %d failed" % (" (compute f16)" if compute == "f16" else "", passed, failed))
    return 1 if failed or not chosen else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
