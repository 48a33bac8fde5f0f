#!/usr/bin/env python3
"""The NumPy/nibabel side of bench/swift: what a user would run without bomdata.

usage: swift_numpy.py RUN.nii.gz OUT_DIR      write every SwiFT window of the run
       swift_numpy.py --load RUN.nii.gz       nibabel's load alone (the read stage)

Windows: python/mri/swift_reference.py (SwiFT's preprocessing re-implemented in NumPy, compared
value by value with bomdata's `swift` profile in profiles/tests/mri_profiles.rs), each written
as `<run>_<window:06>.fmri.npy` (float16 (1, 96, 96, 96, 20)) plus a small `.meta.json`, as
`bomdata shard --profile swift` writes one `fmri.npy` and one `meta.json` per window.
"""

import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "python", "mri"))

import numpy as np  # noqa: E402
import swift_reference as s  # noqa: E402


def main():
    if sys.argv[1] == "--load":
        data = s.load_nifti(sys.argv[2])
        print(data.shape, data.dtype)
        return
    path, out = sys.argv[1], sys.argv[2]
    data = s.load_nifti(path)
    rule = "ukb" if data.shape[:3] == (91, 109, 91) else "center"
    wins, stats = s.swift_windows(data, rule=rule)
    os.makedirs(out, exist_ok=True)
    stem = os.path.basename(path).split(".")[0]
    for i, w in enumerate(wins):
        base = os.path.join(out, f"{stem}_{i:06d}")
        np.save(base + ".fmri.npy", w)
        meta = {"window": i, "n_windows": len(wins), "start_frame": stats["starts"][i],
                "mean": float(stats.get("mean", 0.0)), "std": float(stats.get("std", 0.0))}
        with open(base + ".meta.json", "w") as f:
            json.dump(meta, f)
    print(len(wins), "windows")


if __name__ == "__main__":
    main()
