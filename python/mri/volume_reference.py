#!/usr/bin/env python3
"""NumPy reference of bomdata's `volume` profile (sMRI/dMRI/PET volumes for ViT encoders).

The profile is bomdata's own documented design (no public encoder code exists to copy), and this
script restates it in NumPy so the Rust implementation can be checked value by value:

  stats     over the whole input (before the crop), float64; brain = non-zero voxels
  zscore    brain -> (x - mean) * (1 / std) (population std), background (x == 0) -> 0
  percentile lo, hi = np.percentile(brain, [p_low, p_high]) (linear);
            every voxel -> (clip(x, lo, hi) - lo) * (1 / (hi - lo))
  minmax    every voxel -> (x - min) * (1 / (max - min))
  none      unchanged
  per_frame with a 4-D input, each frame (last axes flattened) normalised on its own
  grid      centre crop/pad of each spatial axis to the target (odd voxel first); padding is a
            raw 0 put through the normalisation
  dtype     float64 -> float32 -> float16 (when float16)

Usage: volume_reference.py --npy IN --out OUT [--target x,y,z|native] [--norm zscore|percentile|
       minmax|none] [--p-low 0.5] [--p-high 99.5] [--per-frame] [--dtype float16|float32]
"""

import argparse
import sys

import numpy as np


def center(n, target):
    d = target - n
    big, small = (abs(d) + 1) // 2, abs(d) // 2
    return (big, small) if d >= 0 else (-big, -small)


def normalise(x, norm, p_low=0.5, p_high=99.5):
    """Normalised float64 values of x (any shape) and the value a raw 0 maps to."""
    x = x.astype(np.float64)
    if not np.all(np.isfinite(x)):
        raise ValueError("non-finite values")
    if norm == "none":
        return x, 0.0
    if norm == "minmax":
        lo, hi = x.min(), x.max()
        s = 1.0 / (hi - lo)
        return (x - lo) * s, (0.0 - lo) * s
    brain = x[x != 0]
    if norm == "zscore":
        mean = brain.sum() / brain.size
        std = np.sqrt(((brain - mean) ** 2).sum() / brain.size)
        return np.where(x != 0, (x - mean) * (1.0 / std), 0.0), 0.0
    if norm == "percentile":
        lo, hi = np.percentile(brain, [p_low, p_high])
        s = 1.0 / (hi - lo)
        return (np.clip(x, lo, hi) - lo) * s, (np.clip(0.0, lo, hi) - lo) * s
    raise ValueError(f"unknown norm {norm}")


def volume(data, target=None, norm="zscore", p_low=0.5, p_high=99.5, per_frame=False, dtype=np.float16):
    grid = data.shape[:3]
    rest = data.shape[3:]
    nf = int(np.prod(rest)) if rest else 1
    flat = data.reshape(grid + (nf,))
    if per_frame and nf > 1:
        parts = [normalise(flat[..., f], norm, p_low, p_high) for f in range(nf)]
        y = np.stack([p[0] for p in parts], axis=-1)
        pads = np.array([p[1] for p in parts])
    else:
        y, pad = normalise(flat, norm, p_low, p_high)
        pads = np.full(nf, pad)
    y = y.astype(np.float32)
    pads = pads.astype(np.float32)
    target = tuple(target) if target is not None else grid
    out = np.empty(tuple(target) + (nf,), np.float32)
    out[...] = pads
    src, dst = [], []
    for n, t in zip(grid, target):
        b, a = center(n, t)
        src.append(slice(max(-b, 0), n - max(-a, 0)))
        dst.append(slice(max(b, 0), t - max(a, 0)))
    out[tuple(dst)] = y[tuple(src)]
    return out.reshape(tuple(target) + rest).astype(dtype)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--npy", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--target", default="160,192,160")
    ap.add_argument("--norm", default="zscore")
    ap.add_argument("--p-low", type=float, default=0.5)
    ap.add_argument("--p-high", type=float, default=99.5)
    ap.add_argument("--per-frame", action="store_true")
    ap.add_argument("--dtype", default="float16", choices=["float16", "float32"])
    a = ap.parse_args(argv)
    target = None if a.target == "native" else tuple(int(v) for v in a.target.split(","))
    if target is not None and len(target) == 1:
        target = target * 3
    data = np.load(a.npy).astype(np.float32, copy=False)
    np.save(a.out, volume(data, target, a.norm, a.p_low, a.p_high, a.per_frame, np.dtype(a.dtype)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
