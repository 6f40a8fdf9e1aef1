"""PE vision tower in plain PyTorch, written from docs/pe.md, for the
side-by-side benchmark: the same synthetic weights run in PyTorch eager and,
exported from this module, in ONNX Runtime.

  pe_torch.py export MODEL.safetensors SIZE OUT.onnx INPUT.npy REF.npy
  pe_torch.py time   MODEL.safetensors SIZE INPUT.npy THREADS RUNS WARMUP

`time` prints one JSON line: load_ms, first_ms, latencies (ms), peak_rss_mb.
"""
import json
import math
import resource
import struct
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

T_START = time.perf_counter()


def load_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    meta = header.pop("__metadata__", {})
    out = {}
    for name, t in header.items():
        b, e = t["data_offsets"]
        raw = np.frombuffer(data, dtype=np.uint8, count=e - b, offset=b)
        if t["dtype"] == "F32":
            arr = raw.view(np.float32)
        elif t["dtype"] == "F16":
            arr = raw.view(np.float16).astype(np.float32)
        elif t["dtype"] == "BF16":
            arr = (raw.view(np.uint16).astype(np.uint32) << 16).view(np.float32)
        else:
            raise ValueError(f"{name}: dtype {t['dtype']}")
        out[name] = torch.from_numpy(arr.reshape(t["shape"]).copy())
    return out, meta


class PEVision(torch.nn.Module):
    """Vision tower with attention pooling, official tensor names."""

    def __init__(self, sd, meta, size):
        super().__init__()
        p = "visual." if "visual.conv1.weight" in sd else ""
        self.sd = {k[len(p):]: v for k, v in sd.items() if k.startswith(p)}
        w = self.sd
        self.W, _, self.P, _ = w["conv1.weight"].shape
        self.heads = int(meta["vision_heads"])
        self.pool_heads = int(meta.get("attn_pooler_heads", 8))
        self.cls = "class_embedding" in w
        self.layers = sum(1 for k in w if k.endswith(".ln_1.weight"))
        G = int(math.isqrt(w["positional_embedding"].shape[0] - self.cls))
        g = size // self.P
        pos = w["positional_embedding"]
        grid = pos[self.cls:].reshape(1, G, G, self.W).permute(0, 3, 1, 2)
        if g != G:
            grid = F.interpolate(grid, size=(g, g), mode="bilinear", align_corners=False)
        grid = grid.permute(0, 2, 3, 1).reshape(g * g, self.W)
        self.pos = torch.cat([pos[:1], grid]) if self.cls else grid
        self.cos, self.sin = self.rope_tables(g, self.W // self.heads)
        for k, v in w.items():  # register so the module owns the weights
            self.register_buffer(k.replace(".", "_"), v)

    def rope_tables(self, g, dh):
        half, quarter, o = dh // 2, dh // 4, 1 if self.cls else 0
        f = torch.tensor([10000.0 ** (-2.0 * j / half) for j in range(quarter)], dtype=torch.float64)
        ys, xs = torch.meshgrid(torch.arange(g), torch.arange(g), indexing="ij")
        ang = torch.cat([(xs.reshape(-1, 1) + o) * f, (ys.reshape(-1, 1) + o) * f], dim=1)
        if self.cls:
            ang = torch.cat([torch.zeros(1, half, dtype=torch.float64), ang])
        return ang.cos().float(), ang.sin().float()  # [T, dh/2] per rotated pair

    def rope(self, x):  # x [B, H, T, dh], interleaved pairs
        B, H, T, dh = x.shape
        x = x.reshape(B, H, T, dh // 2, 2)
        x0, x1 = x[..., 0], x[..., 1]
        c, s = self.cos, self.sin
        return torch.stack([x0 * c - x1 * s, x1 * c + x0 * s], dim=-1).reshape(B, H, T, dh)

    def block(self, x, i):
        w, W, H = self.sd, self.W, self.heads
        b = f"transformer.resblocks.{i}."
        B, T, _ = x.shape
        h = F.layer_norm(x, (W,), w[b + "ln_1.weight"], w[b + "ln_1.bias"], 1e-5)
        qkv = F.linear(h, w[b + "attn.in_proj_weight"], w[b + "attn.in_proj_bias"])
        q, k, v = qkv.reshape(B, T, 3, H, W // H).permute(2, 0, 3, 1, 4)
        q, k = self.rope(q), self.rope(k)
        a = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(W // H), dim=-1) @ v
        a = F.linear(a.transpose(1, 2).reshape(B, T, W), w[b + "attn.out_proj.weight"], w[b + "attn.out_proj.bias"])
        x = x + (w[b + "ls_1.gamma"] * a if b + "ls_1.gamma" in w else a)
        h = F.layer_norm(x, (W,), w[b + "ln_2.weight"], w[b + "ln_2.bias"], 1e-5)
        m = F.linear(F.gelu(F.linear(h, w[b + "mlp.c_fc.weight"], w[b + "mlp.c_fc.bias"])),
                     w[b + "mlp.c_proj.weight"], w[b + "mlp.c_proj.bias"])
        return x + (w[b + "ls_2.gamma"] * m if b + "ls_2.gamma" in w else m)

    def pool(self, x):
        w, W, H = self.sd, self.W, self.pool_heads
        B, T, _ = x.shape
        wi, bi = w["attn_pool.attn.in_proj_weight"], w["attn_pool.attn.in_proj_bias"]
        q = F.linear(w["attn_pool.probe"].reshape(1, 1, W), wi[:W], bi[:W]).reshape(1, 1, H, W // H).transpose(1, 2)
        kv = F.linear(x, wi[W:], bi[W:]).reshape(B, T, 2, H, W // H).permute(2, 0, 3, 1, 4)
        a = torch.softmax(q @ kv[0].transpose(-1, -2) / math.sqrt(W // H), dim=-1) @ kv[1]
        a = F.linear(a.transpose(1, 2).reshape(B, 1, W), w["attn_pool.attn.out_proj.weight"], w["attn_pool.attn.out_proj.bias"])
        h = F.layer_norm(a, (W,), w["attn_pool.layernorm.weight"], w["attn_pool.layernorm.bias"], 1e-5)
        a = a + F.linear(F.gelu(F.linear(h, w["attn_pool.mlp.c_fc.weight"], w["attn_pool.mlp.c_fc.bias"])),
                         w["attn_pool.mlp.c_proj.weight"], w["attn_pool.mlp.c_proj.bias"])
        return a[:, 0]

    def forward(self, img):
        w, W = self.sd, self.W
        x = F.conv2d(img, w["conv1.weight"], stride=self.P).flatten(2).transpose(1, 2)
        if self.cls:
            x = torch.cat([w["class_embedding"].reshape(1, 1, W).expand(x.shape[0], 1, W), x], dim=1)
        x = F.layer_norm(x + self.pos, (W,), w["ln_pre.weight"], w["ln_pre.bias"], 1e-5)
        for i in range(self.layers):
            x = self.block(x, i)
        if "ln_post.weight" in w:
            x = F.layer_norm(x, (W,), w["ln_post.weight"], w["ln_post.bias"], 1e-5)
        return self.pool(x) @ w["proj"]


def timing_main(make_model):
    """export / time for any vision module make_model(sd, meta, size) builds
    (dinov2_torch.py shares it)."""
    cmd, model_path, size = sys.argv[1], sys.argv[2], int(sys.argv[3])
    t_load = time.perf_counter()
    sd, meta = load_safetensors(model_path)
    model = make_model(sd, meta, size).eval()
    del sd
    load_ms = (time.perf_counter() - t_load) * 1e3
    if cmd == "export":
        out_onnx, in_npy, ref_npy = sys.argv[4:7]
        x = torch.from_numpy(np.random.default_rng(7).uniform(-1, 1, (1, 3, size, size)).astype(np.float32))
        with torch.inference_mode():
            ref = model(x)
        np.save(in_npy, x.numpy())
        np.save(ref_npy, ref.numpy())
        torch.onnx.export(model, (x,), out_onnx, opset_version=17, input_names=["x"], output_names=["emb"])
        return
    in_npy, threads, runs, warmup = sys.argv[4], int(sys.argv[5]), int(sys.argv[6]), int(sys.argv[7])
    torch.set_num_threads(threads)
    x = torch.from_numpy(np.load(in_npy))
    lat = []
    with torch.inference_mode():
        t0 = time.perf_counter()
        model(x)
        first = (time.perf_counter() - t0) * 1e3
        for i in range(warmup + runs):
            t0 = time.perf_counter()
            model(x)
            if i >= warmup:
                lat.append((time.perf_counter() - t0) * 1e3)
    print(json.dumps({"load_ms": load_ms, "import_ms": (t_load - T_START) * 1e3, "first_ms": first, "lat": lat,
                      "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


def main():
    timing_main(PEVision)


if __name__ == "__main__":
    main()
