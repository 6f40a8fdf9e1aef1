"""DINOv2-family vision transformer (DINOv2, DINOv2 with registers, Franca) in
plain PyTorch, written from docs/dinov2.md, for the side-by-side
benchmark: the same weights run in PyTorch eager and, exported from this
module, in ONNX Runtime.  The official code cannot be installed here (no
PyPI, no hub); `check` holds this module to the official outputs instead:
the golden-dinov2 cases were made with it, in float64.

  dinov2_torch.py export MODEL.safetensors SIZE OUT.onnx INPUT.npy REF.npy
  dinov2_torch.py time   MODEL.safetensors SIZE INPUT.npy THREADS RUNS WARMUP
  dinov2_torch.py check  GOLDEN_DIR      (every image_raw embedding case)

Flat names only (`blocks.<i>.…`, what `pecore convert` and `pecore synth`
write); the output is the normalised class token.
"""
import json
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pe_torch import load_safetensors, timing_main  # noqa: E402


class DINOv2(torch.nn.Module):
    def __init__(self, sd, meta, height, width=None):
        super().__init__()
        width = width or height
        w = self.sd = dict(sd)
        self.D, _, self.P, _ = w["patch_embed.proj.weight"].shape
        self.heads = int(meta.get("num_heads", self.D // 64))
        self.layers = sum(1 for k in w if k.endswith(".norm1.weight"))
        self.R = w["register_tokens"].shape[1] if "register_tokens" in w else 0
        self.swiglu = "blocks.0.mlp.w12.weight" in w
        antialias = meta.get("interpolate_antialias", "1" if self.R else "0") in ("1", "true", "True")
        offset = float(meta.get("interpolate_offset", "0" if antialias else "0.1"))
        self.pos = self.position(w["pos_embed"], height // self.P, width // self.P, antialias, offset)
        for k, v in w.items():  # the module owns the weights (ONNX initialisers)
            self.register_buffer(k.replace(".", "_"), v)

    def position(self, pos, gh, gw, antialias, offset):
        """SPEC step 3, done once for the benchmark's fixed input size."""
        M = int(math.isqrt(pos.shape[1] - 1))
        if gh == M and gw == M:
            return pos
        grid = pos[:, 1:].reshape(1, M, M, self.D).permute(0, 3, 1, 2)
        if antialias:
            grid = F.interpolate(grid, size=(gh, gw), mode="bicubic", antialias=True, align_corners=False)
        else:
            grid = F.interpolate(grid, scale_factor=((gh + offset) / M, (gw + offset) / M), mode="bicubic",
                                 align_corners=False, recompute_scale_factor=False)
        grid = grid.permute(0, 2, 3, 1).reshape(1, gh * gw, self.D)
        return torch.cat([pos[:, :1], grid], dim=1)

    def block(self, x, i):
        w, D, H = self.sd, self.D, self.heads
        b = f"blocks.{i}."
        B, T, _ = x.shape
        h = F.layer_norm(x, (D,), w[b + "norm1.weight"], w[b + "norm1.bias"], 1e-6)
        q, k, v = F.linear(h, w[b + "attn.qkv.weight"], w[b + "attn.qkv.bias"]) \
            .reshape(B, T, 3, H, D // H).permute(2, 0, 3, 1, 4)
        a = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(D // H), dim=-1) @ v
        a = F.linear(a.transpose(1, 2).reshape(B, T, D), w[b + "attn.proj.weight"], w[b + "attn.proj.bias"])
        x = x + w[b + "ls1.gamma"] * a
        h = F.layer_norm(x, (D,), w[b + "norm2.weight"], w[b + "norm2.bias"], 1e-6)
        if self.swiglu:
            u = F.linear(h, w[b + "mlp.w12.weight"], w[b + "mlp.w12.bias"])
            g, up = u.chunk(2, dim=-1)
            m = F.linear(F.silu(g) * up, w[b + "mlp.w3.weight"], w[b + "mlp.w3.bias"])
        else:
            m = F.linear(F.gelu(F.linear(h, w[b + "mlp.fc1.weight"], w[b + "mlp.fc1.bias"])),
                         w[b + "mlp.fc2.weight"], w[b + "mlp.fc2.bias"])
        return x + w[b + "ls2.gamma"] * m

    def forward(self, img):
        w = self.sd
        x = F.conv2d(img, w["patch_embed.proj.weight"], w["patch_embed.proj.bias"], stride=self.P)
        x = x.flatten(2).transpose(1, 2)
        B = x.shape[0]
        x = torch.cat([w["cls_token"].expand(B, 1, self.D), x], dim=1) + self.pos
        if self.R:
            x = torch.cat([x[:, :1], w["register_tokens"].expand(B, self.R, self.D), x[:, 1:]], dim=1)
        for i in range(self.layers):
            x = self.block(x, i)
        return F.layer_norm(x, (self.D,), w["norm.weight"], w["norm.bias"], 1e-6)[:, 0]


def check(golden):
    """This module against the official code's outputs (golden-dinov2)."""
    man = json.load(open(os.path.join(golden, "manifest.json")))
    worst = 1.0
    for c in man["cases"]:
        if c["kind"] != "image_raw" or c["output"] != "embedding" or not c["model"].endswith(".safetensors"):
            continue
        sd, meta = load_safetensors(os.path.join(golden, c["model"]))
        x = torch.from_numpy(np.load(os.path.join(golden, c["input"])))
        with torch.inference_mode():
            y = DINOv2(sd, meta, x.shape[2], x.shape[3])(x).double().numpy()
        e = np.load(os.path.join(golden, c["expect"])).astype(np.float64)
        cos = min(float((a @ b) / np.linalg.norm(a) / np.linalg.norm(b)) for a, b in zip(y, e))
        worst = min(worst, cos)
        print(f"{c['id']}: cosine {cos:.7f}")
        if cos < c["cos_min"]:
            sys.exit(f"dinov2_torch: {c['id']}: cosine {cos:.7f} < {c['cos_min']}")
    print(f"all image_raw embedding cases pass (worst cosine {worst:.7f})")


def main():
    if sys.argv[1] == "check":
        return check(sys.argv[2])
    timing_main(lambda sd, meta, size: DINOv2(sd, meta, size))


if __name__ == "__main__":
    main()
