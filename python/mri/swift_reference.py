#!/usr/bin/env python3
"""NumPy + nibabel re-implementation of SwiFT's fMRI preprocessing and window loading.

Written from the logic of Transconnectome/SwiFT (project/module/utils/data_preprocess_and_load/
preprocessing.py and datasets.py; see the design notes' DOMAIN.md §1.2-1.3), with torch
replaced by NumPy, so that bomdata's `swift` profile can be checked value by value and timed
against it:

  load      monai LoadImage -> nibabel `dataobj` (scaled) cast to float32, axes (W, H, D, T)
  ABCD      data[:, 14:-7] before the statistics (only for the 79x118x85 grid, see below)
  z-norm    background = data == 0; one mean and unbiased std over data[~background]
            (float64 accumulation, rounded to float32, as torch does on CPU);
            (data - mean) / std in float32
  fill      background <- min of the normalised brain values (fill_zeroback=False)
  fp16      cast to float16 (SwiFT saves each frame as a float16 tensor)
  windows   starts range(0, T - window + 1, stride) (T - 2 with --compat-t-minus-2)
  pad/crop  F.pad on (1, T, W, H, D) with the dataset tuple, value = y.flatten()[0]
            (voxel (0,0,0) of the window's first frame); ABCD rest then keeps [:96] of H

Dataset tuples are SwiFT's; a grid they were not written for uses the centre rule (split the
difference, the odd voxel first), which is what bomdata documents for any grid.

Usage:
  swift_reference.py (--nifti F | --npy F) [--rule auto|ukb|hcp|abcd|center] [--source S]
                     [--window 20] [--stride 20] [--target 96] [--dtype float16|float32]
                     [--compat-t-minus-2] [--out DIR]
With --out, writes DIR/000000.npy ... (shape (1, target, target, target, window)) and
DIR/stats.json (mean, std, fill, rule, fits, starts).
"""

import argparse
import json
import os
import sys

import numpy as np

# SwiFT's F.pad tuples (last dim first: D, then H, then W) and the grid each was written for.
SWIFT_TUPLES = {
    "ukb": ((91, 109, 91), (3, 2, -7, -6, 3, 2), None),
    "hcp": ((75, 93, 81), (8, 7, 2, 1, 11, 10), None),
    "abcd_rest": ((79, 97, 85), (6, 5, 0, 0, 9, 8), 96),  # then [:, :, :, :96, :] on H
    "abcd_task": ((96, 96, 95), (0, 1, 0, 0, 0, 0), None),
}


def load_nifti(path):
    """monai LoadImage's array: nibabel's scaled data object as float32, axes (W, H, D, T)."""
    import nibabel as nib

    img = nib.load(path)
    data = np.asanyarray(img.dataobj)
    return data.astype(np.float32, copy=False)


def center_tuple(grid, target):
    """The centre rule as an F.pad tuple (D, H, W order)."""
    pairs = []
    for n in grid:
        d = target - n
        big, small = (abs(d) + 1) // 2, abs(d) // 2
        pairs.append((big, small) if d >= 0 else (-big, -small))
    (wb, wa), (hb, ha), (db, da) = pairs
    return (db, da, hb, ha, wb, wa)


def resolve(rule, source):
    if rule != "auto":
        return rule
    s = (source or "").lower()
    return s if s in ("ukb", "hcp", "abcd") else "center"


def plan(rule, grid, target):
    """(rule name, ABCD pre-crop of H or None, pad tuple, keep-first-n of H or None)."""
    grid = tuple(grid)
    if target == 96:
        if rule == "ukb" and grid == SWIFT_TUPLES["ukb"][0]:
            return "ukb", None, SWIFT_TUPLES["ukb"][1], None
        if rule == "hcp" and grid == SWIFT_TUPLES["hcp"][0]:
            return "hcp", None, SWIFT_TUPLES["hcp"][1], None
        if rule == "abcd" and grid in ((79, 118, 85), (79, 97, 85)):
            pre = (14, -7) if grid[1] == 118 else None
            return "abcd_rest", pre, SWIFT_TUPLES["abcd_rest"][1], 96
        if rule == "abcd" and grid == SWIFT_TUPLES["abcd_task"][0]:
            return "abcd_task", None, SWIFT_TUPLES["abcd_task"][1], None
    return "center", None, center_tuple(grid, target), None


def swift_normalise(data, dtype=np.float16):
    """preprocessing.py read_data with scaling_method='z-norm', fill_zeroback=False."""
    background = data == 0
    brain = data[~background]
    if brain.size < 2:
        raise ValueError("fewer than two non-zero values")
    mean = np.float32(brain.mean(dtype=np.float64))
    std = np.float32(brain.std(dtype=np.float64, ddof=1))
    del brain
    data_temp = (data - mean) / std  # float32, like the torch expression
    data_global = np.empty(data.shape, np.float32)
    fill = data_temp[~background].min()
    data_global[background] = fill
    data_global[~background] = data_temp[~background]
    del data_temp
    return data_global.astype(dtype), dict(mean=float(mean), std=float(std), fill=float(fill), n_brain=int(background.size - background.sum()))


def torch_pad(y, pad, value):
    """torch.nn.functional.pad(y, pad, value=value) for constant mode, negative = crop."""
    ndim = y.ndim
    for k in range(len(pad) // 2):
        axis = ndim - 1 - k
        before, after = pad[2 * k], pad[2 * k + 1]
        n = y.shape[axis]
        lo = -before if before < 0 else 0
        hi = n + after if after < 0 else n
        sl = [slice(None)] * ndim
        sl[axis] = slice(lo, hi)
        y = y[tuple(sl)]
        widths = [(0, 0)] * ndim
        widths[axis] = (max(before, 0), max(after, 0))
        if before > 0 or after > 0:
            y = np.pad(y, widths, mode="constant", constant_values=value)
    return y


def swift_window(frames, start, window, pad, keep_h):
    """datasets.py __getitem__ for one window: frames[..., start:start+window] -> (1,96,96,96,w)."""
    y = frames[..., start:start + window][None]  # (1, W, H, D, T): frames cat on dim 4
    background_value = y.flat[0]
    y = np.transpose(y, (0, 4, 1, 2, 3))
    y = torch_pad(y, pad, background_value)
    if keep_h is not None:
        y = y[:, :, :, :keep_h, :]
    y = np.transpose(y, (0, 2, 3, 4, 1))
    return np.ascontiguousarray(y)


def swift_windows(data, rule="auto", source=None, window=20, stride=20, target=96, dtype=np.float16, compat_t_minus_2=False):
    """All windows of one run (float32 array (W, H, D, T)) and the statistics used."""
    if data.ndim != 4:
        raise ValueError(f"expected a 4-D run, got shape {data.shape}")
    name, pre, pad, keep_h = plan(resolve(rule, source), data.shape[:3], target)
    if pre is not None:
        data = data[:, pre[0]:pre[1], :, :]
    frames, stats = swift_normalise(data, dtype)
    t = data.shape[3] - (2 if compat_t_minus_2 else 0)
    starts = list(range(0, t - window + 1, stride))
    out = [swift_window(frames, s, window, pad, keep_h) for s in starts]
    stats.update(rule=name, pad=list(pad), starts=starts)
    return out, stats


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--nifti")
    src.add_argument("--npy")
    ap.add_argument("--rule", default="auto")
    ap.add_argument("--source")
    ap.add_argument("--window", type=int, default=20)
    ap.add_argument("--stride", type=int, default=20)
    ap.add_argument("--target", type=int, default=96)
    ap.add_argument("--dtype", default="float16", choices=["float16", "float32"])
    ap.add_argument("--compat-t-minus-2", action="store_true")
    ap.add_argument("--out")
    a = ap.parse_args(argv)
    data = load_nifti(a.nifti) if a.nifti else np.load(a.npy).astype(np.float32, copy=False)
    wins, stats = swift_windows(data, a.rule, a.source, a.window, a.stride, a.target, np.dtype(a.dtype), a.compat_t_minus_2)
    if a.out:
        os.makedirs(a.out, exist_ok=True)
        for i, w in enumerate(wins):
            np.save(os.path.join(a.out, f"{i:06d}.npy"), w)
        with open(os.path.join(a.out, "stats.json"), "w") as f:
            json.dump(stats, f)
    return 0


if __name__ == "__main__":
    sys.exit(main())
