#!/usr/bin/env python3
"""Expected MEG sensor values of the FIF files, from MNE (for formats/ephys/tests/fif_sensors.rs).

`fif_expected.py REPO` writes into REPO/tests/meg/:
  devhead_raw.fif           a copy of tests/fixtures/fif/test_move_anon_erm_raw.fif cropped to
                            its first 24 samples, with a non-trivial device -> head transformation
                            set (the fixture is an empty-room recording and has none), saved by MNE
  fif_sensors.expected.json for every raw FIF of tests/fixtures/fif and devhead_raw.fif: per
                            channel name, kind, MNE type, coil type, cal, range, unit, unit_mul,
                            loc (device), and for MEG/ref MEG channels position and axes in head
                            coordinates (mne.transforms.apply_trans with info['dev_head_t'];
                            device coordinates when there is none)

Fixture files are never modified.
"""
import glob
import json
import math
import os
import sys

import numpy as np

os.environ.setdefault("OMP_NUM_THREADS", "1")
import mne  # noqa: E402
from mne.transforms import Transform, apply_trans, rotation, translation  # noqa: E402

mne.set_log_level("ERROR")


def read(path):
    return mne.io.read_raw_fif(path, allow_maxshield=True, preload=False, verbose=False)


def make_devhead(src, dst):
    raw = read(src)
    raw.crop(tmin=0, tmax=23 / raw.info["sfreq"])
    raw.load_data()
    t = translation(0.003, -0.012, 0.045) @ rotation(0.11, -0.07, 0.25)
    with raw.info._unlock():
        raw.info["dev_head_t"] = Transform("meg", "head", t)
    raw.save(dst, overwrite=True, verbose=False)


def channels(raw):
    info = raw.info
    t = info["dev_head_t"]
    types = raw.get_channel_types()
    out = []
    for ch, ty in zip(info["chs"], types):
        loc = np.asarray(ch["loc"], dtype=np.float64)
        c = {
            "name": ch["ch_name"],
            "kind": int(ch["kind"]),
            "type": ty,
            "coil_type": int(ch["coil_type"]),
            "cal": float(ch["cal"]),
            "range": float(ch["range"]),
            "unit": int(ch["unit"]),
            "unit_mul": int(ch["unit_mul"]),
            "loc": [float(v) if math.isfinite(v) else None for v in loc],
        }
        if int(ch["kind"]) in (1, 301):
            if t is None:
                frame, pos, axes = "device", loc[:3], [loc[3:6], loc[6:9], loc[9:12]]
            else:
                frame = "head"
                pos = apply_trans(t, loc[:3])
                axes = [apply_trans(t, loc[i:i + 3], move=False) for i in (3, 6, 9)]
            c["sensor"] = {
                "frame": frame,
                "pos": [float(v) for v in pos],
                "ex": [float(v) for v in axes[0]],
                "ey": [float(v) for v in axes[1]],
                "ez": [float(v) for v in axes[2]],
            }
        out.append(c)
    return out


def main():
    repo = sys.argv[1]
    outdir = os.path.join(repo, "tests/meg")
    os.makedirs(outdir, exist_ok=True)
    fix = os.path.join(repo, "tests/fixtures/fif")
    devhead = os.path.join(outdir, "devhead_raw.fif")
    make_devhead(os.path.join(fix, "test_move_anon_erm_raw.fif"), devhead)
    files = {}
    for p in sorted(glob.glob(os.path.join(fix, "*.fif"))) + [devhead]:
        if p.endswith("-eve.fif"):
            continue
        raw = read(p)
        t = raw.info["dev_head_t"]
        files[os.path.relpath(p, repo)] = {
            "dev_head_t": None if t is None else np.asarray(t["trans"]).tolist(),
            "sfreq": float(raw.info["sfreq"]),
            "n_times": int(raw.n_times),
            "channels": channels(raw),
        }
    doc = {"_generator": "python/meg/fif_expected.py", "_readers": {"mne": mne.__version__},
           "files": files}
    with open(os.path.join(outdir, "fif_sensors.expected.json"), "w") as f:
        json.dump(doc, f, separators=(",", ":"))
        f.write("\n")


if __name__ == "__main__":
    main()
