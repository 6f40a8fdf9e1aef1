"""Side-by-side benchmark: pecore vs ONNX Runtime vs PyTorch eager, same
synthetic weights, same machine, interleaved runs; pecore's q8 / q4 files
beside ONNX Runtime int8 (the fp32 export through bench/onnx_int8.py).  Run
through compare.sh (which installs the dependencies).  Writes bench/RESULTS.md
(appends a run).

  compare.py [--archs A,B] [--threads 1,2] [--rounds R] [--runs N]
"""
import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "build", "compare")
PECORE = os.path.join(ROOT, "build", "pecore")
PY = "/usr/bin/python3"  # Debian's, where python3-torch lives
INT8_COS_FLOOR = 0.99  # ORT int8 vs PyTorch: a sanity floor, not the f32 0.9999
SIZES = {"PE-Core-T16-384": 384, "PE-Core-S16-384": 384, "PE-Core-B16-224": 224,
         "DINOv2-S14": 224, "DINOv2-B14": 224}


def torch_script(arch):
    """The PyTorch module (written from the SPEC) that runs and exports arch."""
    return "bench/dinov2_torch.py" if arch.startswith(("DINOv2", "Franca")) else "bench/pe_torch.py"


def run_json(cmd):
    r = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    if r.returncode != 0:
        sys.exit(f"compare: {' '.join(cmd)} failed:\n{r.stderr[-2000:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def npy_f32(path):
    with open(path, "rb") as f:
        data = f.read()
    hlen = int.from_bytes(data[8:10], "little")
    import array
    a = array.array("f")
    a.frombytes(data[10 + hlen:])
    return list(a)


def cosine(a, b):
    dot = sum(x * y for x, y in zip(a, b))
    na = sum(x * x for x in a) ** 0.5
    nb = sum(y * y for y in b) ** 0.5
    return dot / (na * nb)


def qfile(st, q):
    return st.replace(".safetensors", f"-{q}.safetensors")


def prepare(arch):
    size = SIZES[arch]
    base = os.path.join(OUT, arch)
    # vision only: every engine times the vision tower, so the file (and its
    # quantized copies' sizes) leave the text tower out
    st, onnx, onnx8 = base + "-vision.safetensors", base + ".onnx", base + "-int8.onnx"
    x, ref = base + "_in.npy", base + "_torch.npy"
    if not os.path.exists(st):
        subprocess.run([PECORE, "synth", "--arch", arch, "--seed", "1", "--vision-only", "-o", st],
                       check=True, cwd=ROOT)
    if not (os.path.exists(onnx) and os.path.exists(x)):
        print(f"  exporting {arch} to ONNX ...", flush=True)
        subprocess.run([PY, torch_script(arch), "export", st, str(size), onnx, x, ref], check=True,
                       cwd=ROOT, stderr=subprocess.DEVNULL)
    made_from = (onnx, os.path.join(ROOT, "bench", "onnx_int8.py"))
    if not os.path.exists(onnx8) or os.path.getmtime(onnx8) < max(map(os.path.getmtime, made_from)):
        subprocess.run([PY, "bench/onnx_int8.py", onnx, onnx8], check=True, cwd=ROOT)
    # agreement on the same input
    pe_out, ort_out, ort8_out = base + "_pecore.npy", base + "_ort.npy", base + "_ort_int8.npy"
    subprocess.run([PECORE, "embed", "-m", st, "--raw", x, "-o", pe_out], check=True, cwd=ROOT)
    run_json(["node", "bench/ort_bench.js", onnx, x, "1", "1", "0", ort_out])
    run_json(["node", "bench/ort_bench.js", onnx8, x, "1", "1", "0", ort8_out])
    r = npy_f32(ref)
    c_pe, c_ort, c_ort8 = (cosine(npy_f32(o), r) for o in (pe_out, ort_out, ort8_out))
    print(f"  {arch}: cosine vs PyTorch: pecore {c_pe:.7f}, ONNX Runtime {c_ort:.7f}, "
          f"ONNX Runtime int8 {c_ort8:.7f} (floor {INT8_COS_FLOOR})")
    if c_pe < 0.9999 or c_ort < 0.9999:
        sys.exit(f"compare: {arch}: outputs disagree (cosine < 0.9999); not timing")
    if c_ort8 < INT8_COS_FLOOR:
        sys.exit(f"compare: {arch}: ONNX Runtime int8 cosine {c_ort8:.6f} < {INT8_COS_FLOOR}; not timing")
    return size, st, onnx, onnx8, x, r, {"pe": c_pe, "ort": c_ort, "ort8": c_ort8}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--archs", default=",".join(SIZES))
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--quant", default="q8,q4",
                    help="quantized pecore variants timed beside f32 (comma list; '' for none)")
    a = ap.parse_args()
    os.makedirs(OUT, exist_ok=True)
    archs, threads = a.archs.split(","), [int(t) for t in a.threads.split(",")]
    golden = os.environ.get("PECORE_GOLDEN_DINOV2", os.path.join(ROOT, "..", "shared", "golden-dinov2"))
    if any(torch_script(x) != "bench/pe_torch.py" for x in archs) and os.path.isdir(golden):
        # the PyTorch module stands in for the official code: hold it to its outputs first
        subprocess.run([PY, "bench/dinov2_torch.py", "check", golden], check=True, cwd=ROOT,
                       stdout=subprocess.DEVNULL)
    quants = [q for q in a.quant.split(",") if q]
    rows = []
    for arch in archs:
        size, st, onnx, onnx8, x, ref, cos = prepare(arch)
        for q in quants:
            if not os.path.exists(qfile(st, q)):
                subprocess.run([PECORE, "quantize", "-m", st, "-o", qfile(st, q), "--type", q],
                               check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
            q_out = os.path.join(OUT, f"{arch}_pecore_{q}.npy")
            subprocess.run([PECORE, "embed", "-m", qfile(st, q), "--raw", x, "-o", q_out], check=True, cwd=ROOT)
            cos[q] = cosine(npy_f32(q_out), ref)
            print(f"  {arch}: cosine vs PyTorch: pecore {q} {cos[q]:.7f}")
        for t in threads:
            res = {"pecore": [], "ort": [], "ort8": [], "torch": []}
            meta = {"pecore": [], "ort": [], "ort8": [], "torch": []}
            for rnd in range(a.rounds):  # interleaved: each round runs every engine
                print(f"  {arch} {t} thread(s) round {rnd + 1}/{a.rounds}", flush=True)
                p = run_json([PECORE, "bench", "-m", st, "--size", str(size), "--threads", str(t), "--runs", str(a.runs),
                              "--warmup", "2", "--json"])
                res["pecore"].append(p["p50_ms"])
                meta["pecore"].append(p)
                for q in quants:  # the same model quantized (pecore quantize), same round
                    qp = run_json([PECORE, "bench", "-m", qfile(st, q), "--size", str(size), "--threads", str(t), "--runs",
                                   str(a.runs), "--warmup", "2", "--json"])
                    meta.setdefault("pecore_" + q, []).append(qp)
                o = run_json(["node", "bench/ort_bench.js", onnx, x, str(t), str(a.runs), "2"])
                res["ort"] += o["lat"]
                meta["ort"].append(o)
                o8 = run_json(["node", "bench/ort_bench.js", onnx8, x, str(t), str(a.runs), "2"])
                res["ort8"] += o8["lat"]
                meta["ort8"].append(o8)
                tr = run_json([PY, torch_script(arch), "time", st, str(size), x, str(t),
                               str(max(3, a.runs // 2)), "1"])
                res["torch"] += tr["lat"]
                meta["torch"].append(tr)
            pe_lat = []
            for m in meta["pecore"]:
                pe_lat += [m["p50_ms"]] * 1
            row = {"arch": arch, "threads": t, "cos_pe": cos["pe"], "cos_ort": cos["ort"], "cos_ort8": cos["ort8"],
                   "ort8_mb": os.path.getsize(onnx8) / 1e6}
            row["pe_p50"] = statistics.median(m["p50_ms"] for m in meta["pecore"])
            row["pe_p90"] = statistics.median(m["p90_ms"] for m in meta["pecore"])
            row["pe_rss"] = max(m["peak_rss_mb"] for m in meta["pecore"])
            row["pe_load"] = statistics.median(m["load_ms"] for m in meta["pecore"])
            row["pe_share"] = statistics.median(m["peak_share"] for m in meta["pecore"])
            for q in quants:
                row[q + "_p50"] = statistics.median(m["p50_ms"] for m in meta["pecore_" + q])
                row[q + "_rss"] = max(m["peak_rss_mb"] for m in meta["pecore_" + q])
                row[q + "_load"] = statistics.median(m["load_ms"] for m in meta["pecore_" + q])
                row[q + "_mb"] = os.path.getsize(qfile(st, q)) / 1e6
                row["cos_" + q] = cos[q]
            for k in ("ort", "ort8", "torch"):
                lat = sorted(res[k])
                row[k + "_p50"] = statistics.median(lat)
                row[k + "_p90"] = lat[min(len(lat) - 1, int(0.9 * len(lat)))]
                row[k + "_rss"] = max(m["peak_rss_mb"] for m in meta[k])
                row[k + "_load"] = statistics.median(m["load_ms"] for m in meta[k])
            rows.append(row)
            print(f"  -> pecore {row['pe_p50']:.1f} ms, ORT {row['ort_p50']:.1f} ms, "
                  f"ORT int8 {row['ort8_p50']:.1f} ms, PyTorch {row['torch_p50']:.1f} ms"
                  + "".join(f", pecore {q} {row[q + '_p50']:.1f} ms" for q in quants), flush=True)
    write_results(rows, a)


def cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def write_results(rows, a):
    path = os.path.join(ROOT, "bench", "RESULTS.md")
    new = not os.path.exists(path)
    with open(path, "a") as f:
        if new:
            f.write("# Benchmark results\n\nEach section is one run of `bench/compare.sh`; "
                    "ratios compare engines measured in the same run.\n")
        f.write(f"\n## {datetime.date.today()} — {cpu_name()}, {os.cpu_count()} CPUs\n\n")
        f.write(f"Command: `bench/compare.sh --archs {a.archs} --threads {a.threads} "
                f"--rounds {a.rounds} --runs {a.runs}`  \n")
        f.write("Synthetic f32 weights (`pecore synth --seed 1 --vision-only`), one image per call. "
                "pecore: median over rounds of each round's p50 (`pecore bench`); ONNX Runtime "
                "(onnxruntime-node, CPU EP, graph optimisation all) and PyTorch eager "
                "(Debian python3-torch, inference_mode): median of all timed runs, rounds "
                "interleaved. RSS: peak resident set of the process. Load: weights to ready "
                "session (PyTorch excludes `import torch`).\n\n")
        f.write("| model | thr | pecore p50 / p90 ms | ORT p50 / p90 ms | PyTorch p50 / p90 ms "
                "| pecore/ORT | pecore/PyTorch | RSS MB pecore / ORT / PyTorch | load ms pecore / ORT / PyTorch "
                "| pecore % of FMA peak | cos vs PyTorch (pecore, ORT) |\n")
        f.write("|---|---|---|---|---|---|---|---|---|---|---|\n")
        for r in rows:
            f.write(f"| {r['arch']} | {r['threads']} | {r['pe_p50']:.1f} / {r['pe_p90']:.1f} "
                    f"| {r['ort_p50']:.1f} / {r['ort_p90']:.1f} | {r['torch_p50']:.1f} / {r['torch_p90']:.1f} "
                    f"| {r['pe_p50'] / r['ort_p50']:.2f} | {r['pe_p50'] / r['torch_p50']:.2f} "
                    f"| {r['pe_rss']:.0f} / {r['ort_rss']:.0f} / {r['torch_rss']:.0f} "
                    f"| {r['pe_load']:.0f} / {r['ort_load']:.0f} / {r['torch_load']:.0f} "
                    f"| {100 * r['pe_share']:.0f}% | {r['cos_pe']:.6f}, {r['cos_ort']:.6f} |\n")
        by = {(r["arch"], r["threads"]): r for r in rows}
        scal = [f"{arch}: {by[(arch, 1)]['pe_p50'] / by[(arch, 2)]['pe_p50']:.2f}x"
                for arch in {r['arch'] for r in rows} if (arch, 1) in by and (arch, 2) in by]
        if scal:
            f.write(f"\npecore 2-thread speed-up over 1 thread (p50): {', '.join(sorted(scal))}\n")
        qs = [q for q in ("f16", "bf16", "q8", "q4") if rows and q + "_p50" in rows[0]]
        f.write("\nQuantized, timed in the same rounds. pecore: `pecore quantize` of the same file "
                "(int8 kernels with per-row activation quantization; q4 is the default policy, attention "
                "and pooling head at q8). ORT int8: the fp32 export rewritten by `bench/onnx_int8.py` as "
                "`onnxruntime.quantization.quantize_dynamic` does with its defaults for MatMul (every "
                "MatMul with a constant weight: per-tensor symmetric int8 weights, zero point 0; "
                "activations uint8, quantized per call by DynamicQuantizeLinear; MatMulInteger, Cast, "
                "scale), which ORT fuses into DynamicQuantizeMatMul; attention's activation x activation "
                "MatMuls and the patch Conv stay fp32. Its file MB is the whole .onnx, including the "
                "tables the export traced as fp32 constants (PE: the RoPE cos/sin of every layer).\n\n")
        f.write("| model | thr | type | file MB | p50 ms | / pecore f32 | / ORT f32 | / ORT int8 | RSS MB "
                "| load ms | cos vs PyTorch |\n")
        f.write("|---|---|---|---|---|---|---|---|---|---|---|\n")
        for r in rows:
            for q in qs + ["ort8"]:
                name = "ORT int8" if q == "ort8" else q
                f.write(f"| {r['arch']} | {r['threads']} | {name} | {r[q + '_mb']:.1f} | "
                        f"{r[q + '_p50']:.1f} | {r[q + '_p50'] / r['pe_p50']:.2f} | "
                        f"{r[q + '_p50'] / r['ort_p50']:.2f} | {r[q + '_p50'] / r['ort8_p50']:.2f} | "
                        f"{r[q + '_rss']:.0f} | {r[q + '_load']:.0f} | {r['cos_' + q]:.6f} |\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
