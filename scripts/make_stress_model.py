#!/usr/bin/env python3
"""Puts the activation outliers of trained ViTs into a synthetic DINOv2
checkpoint, the way ../shared/golden-stress built its PE T16 (its README):

  - the LayerNorms before attention and MLP (norm1, norm2) get per-channel
    gains spread log-uniformly over 1/SPREAD..SPREAD, and HOT channels per
    norm multiplied by 10-30; the input columns of the linear after each norm
    (attn.qkv, mlp.fc1) are divided by gain^BETA (trained weights largely
    compensate their own activations);
  - "massive activations": MLP units of block MASSIVE_BLOCK fire on ~1% of
    the patch positions and write TARGET into N_MASSIVE residual channels,
    which the residual stream then carries to the end (100-800x the median
    magnitude).  Unlike golden-stress's PE model, not on the class token:
    DINOv2's embedding is that token normalised, which two channels of 150
    would reduce to a constant every quantization reproduces (and DINOv2's
    high-norm tokens are patches, Darcet et al. 2023);
  - GELU_HOT hidden channels of every MLP get their fc1 bias raised by 6-10.

Synthetic weights have no content-dependent outlier tokens, so the massive
units read a marker: one residual channel raised by MARK, through the
position embedding, on a few patch positions (three 3x3 blobs of the learned
37x37 grid: 3-6 of the 256 patches at 224).  Each target channel gets a pair
of units whose fc1 rows read that channel alone, thresholded far above what
the images reach, and whose fc2 columns (+V, -V) make a ramp that saturates
at TARGET whatever the image's contrast.

Input: a float32 safetensors file of `pecore synth --arch DINOv2-S14
--vision-only` (flat DINOv2 names: blocks.N.norm1, attn.qkv, mlp.fc1/fc2,
ls2.gamma), or of a Franca architecture (SwiGLU: mlp.w12/w3; the hot hidden
channels get their gate's bias raised).  Deterministic: the same input and seed give the
same bytes.  The choices go into the metadata as "pecore_stress" (JSON).

usage: make_stress_model.py IN.safetensors OUT.safetensors [--seed N]
"""
import argparse
import json
import struct
import sys

import numpy as np

SPREAD = 3.5          # norm gains log-uniform over 1/SPREAD..SPREAD
HOT = 4               # channels per norm multiplied by 10-30
BETA = 0.9            # the next linear's input columns divided by gain^BETA
GELU_HOT = 5          # MLP hidden channels per block with fc1 bias + 6..10
MASSIVE_BLOCK = 2
N_MASSIVE = 2         # residual channels that get massive activations
TARGET = 150.0        # what a massive unit writes into its channel
MARK = 20.0           # marker added to the residual at the marked patch positions
Z_FIRE = 4.5          # the unit fires above this many token standard deviations
SLOPE = 8.0           # fc1 pre-activation per standard deviation above Z_FIRE
# 16x16 grid positions (224 input) the marked blobs sit on.
BLOBS = [(3, 4), (9, 12), (13, 6)]


def read_safetensors(path):
    with open(path, "rb") as f:
        blob = f.read()
    n = struct.unpack("<Q", blob[:8])[0]
    header = json.loads(blob[8:8 + n])
    meta = header.pop("__metadata__", {})
    tensors = {}
    for name, v in header.items():
        if v["dtype"] != "F32":
            sys.exit(f"{path}: {name} is {v['dtype']}; write the source with --dtype f32")
        a, b = v["data_offsets"]
        tensors[name] = np.frombuffer(blob, np.float32, (b - a) // 4, 8 + n + a).reshape(v["shape"]).copy()
    order = sorted(header, key=lambda k: header[k]["data_offsets"][0])
    return tensors, order, meta


def write_safetensors(path, tensors, order, meta):
    header, at = {"__metadata__": meta}, 0
    for name in order:
        nb = tensors[name].nbytes
        header[name] = {"dtype": "F32", "shape": list(tensors[name].shape), "data_offsets": [at, at + nb]}
        at += nb
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for name in order:
            f.write(np.ascontiguousarray(tensors[name], np.float32).tobytes())


class Mlp:
    """The FFN's tensors under either layout.  GELU (DINOv2): hidden =
    GELU(fc1 x), out = fc2 hidden.  SwiGLU (Franca): [x1; x2] = w12 x,
    hidden = SiLU(x1) * x2, out = w3 hidden.  Hidden unit u's pre-activation
    is row u of `inp` (fc1, or w12's gate half); `value(u)` pins the SwiGLU
    unit's x2 to 1 so that it behaves as a GELU unit would."""

    def __init__(self, t):
        self.swiglu = "blocks.0.mlp.w12.weight" in t
        self.inp, self.out = ("w12", "w3") if self.swiglu else ("fc1", "fc2")
        self.t = t
        self.hidden = t[f"blocks.0.mlp.{self.out}.weight"].shape[1]

    def w_in(self, b):
        return self.t[f"blocks.{b}.mlp.{self.inp}.weight"], self.t[f"blocks.{b}.mlp.{self.inp}.bias"]

    def w_out(self, b):
        return self.t[f"blocks.{b}.mlp.{self.out}.weight"]

    def value(self, b, u):
        if self.swiglu:
            w, bias = self.w_in(b)
            w[self.hidden + u, :] = 0
            bias[self.hidden + u] = 1


def spread_norms(t, rng, n_blocks, width, ffn):
    hot = {}
    for b in range(n_blocks):
        for norm, lin in (("norm1", "attn.qkv"), ("norm2", f"mlp.{ffn.inp}")):
            g = np.exp(rng.uniform(-np.log(SPREAD), np.log(SPREAD), width))
            h = rng.choice(width, HOT, replace=False)
            g[h] *= rng.uniform(10, 30, HOT)
            t[f"blocks.{b}.{norm}.weight"] *= g
            t[f"blocks.{b}.{norm}.bias"] *= g
            t[f"blocks.{b}.{lin}.weight"] /= (g ** BETA)[None, :]
            hot[f"blocks.{b}.{norm}"] = sorted(int(c) for c in h)
    return hot


def blob_positions(grid):
    """Indices into the learned position grid (grid x grid) of the marked
    blobs: 3x3 around where the 16x16 grid of a 224 input samples it
    (DINOv2's bicubic resize with offset 0.1)."""
    scale = grid / (16 + 0.1)
    pos = []
    for i, j in BLOBS:
        ci, cj = int(round((i + 0.5) * scale - 0.5)), int(round((j + 0.5) * scale - 0.5))
        pos += [(ci + di) * grid + cj + dj for di in (-1, 0, 1) for dj in (-1, 0, 1)]
    return pos


def add_massive(t, rng, width, ffn, hot):
    b = MASSIVE_BLOCK
    busy = set(hot[f"blocks.{b}.norm2"])
    chans = [int(c) for c in rng.permutation(width) if int(c) not in busy][:N_MASSIVE + 1]
    mark, targets = chans[0], chans[1:]
    units = [int(u) for u in rng.choice(ffn.hidden, 2 * N_MASSIVE, replace=False)]
    grid = int(round((t["pos_embed"].shape[1] - 1) ** 0.5))
    t["pos_embed"][0, [1 + p for p in blob_positions(grid)], mark] += MARK
    # Each channel gets a pair of units reading the marker channel, z (that
    # channel normalised by its token's statistics: norm2's gain and bias
    # undone): GELU(S (z - Z_FIRE)) - GELU(S (z - Z_FIRE) - S) is 0 below
    # (SiLU for SwiGLU, its x2 held at 1)
    # Z_FIRE and S from Z_FIRE + 1 on, so what a marked token receives does
    # not depend on how far its marker stands out (its image's contrast).
    g = t[f"blocks.{b}.norm2.weight"][mark]
    beta = t[f"blocks.{b}.norm2.bias"][mark]
    gamma = t[f"blocks.{b}.ls2.gamma"]
    fc1, fc1b = ffn.w_in(b)
    fc2 = ffn.w_out(b)
    for k, c in enumerate(targets):
        for j, u in enumerate(units[2 * k:2 * k + 2]):
            fc1[u, :] = 0
            fc1[u, mark] = SLOPE / g
            fc1b[u] = -SLOPE * Z_FIRE - SLOPE * beta / g - j * SLOPE
            fc2[:, u] = 0
            fc2[c, u] = (1 - 2 * j) * TARGET / (gamma[c] * SLOPE)
            ffn.value(b, u)
    return {"block": b, "marker_channel": mark, "channels": targets, "units": units,
            "target": TARGET, "tokens": "3 position blobs (~1% of the patches)"}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("src")
    ap.add_argument("dst")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    t, order, meta = read_safetensors(a.src)
    if not ({"blocks.0.mlp.fc1.weight", "blocks.0.mlp.w12.weight"} & set(t)) or "blocks.0.norm1.weight" not in t:
        sys.exit(f"{a.src}: not a DINOv2 / Franca file (blocks.N.norm1, blocks.N.mlp.fc1 or mlp.w12)")
    n_blocks = 1 + max(int(k.split(".")[1]) for k in t if k.startswith("blocks."))
    ffn = Mlp(t)
    width = t["blocks.0.norm1.weight"].shape[0]
    rng = np.random.default_rng(a.seed)
    hot = spread_norms(t, rng, n_blocks, width, ffn)
    massive = add_massive(t, rng, width, ffn, hot)
    gelu = {}
    for b in range(n_blocks):
        free = [int(u) for u in rng.permutation(ffn.hidden)
                if b != MASSIVE_BLOCK or int(u) not in massive["units"]]
        units = free[:GELU_HOT]
        ffn.w_in(b)[1][units] += rng.uniform(6, 10, GELU_HOT).astype(np.float32)
        gelu[str(b)] = units
    meta = dict(meta)
    meta.pop("pecore_synthetic", None)
    meta["pecore_stress"] = json.dumps({"ln_spread": SPREAD, "ln_hot": HOT, "beta": BETA, "gelu_hot": GELU_HOT,
                                        "seed": a.seed, "massive": massive, "hot_norm_channels": hot,
                                        "gelu_hot_units": gelu}, separators=(",", ":"))
    write_safetensors(a.dst, t, order, meta)


if __name__ == "__main__":
    main()
