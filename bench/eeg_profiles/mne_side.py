#!/usr/bin/env python3
"""One MNE process of bench/eeg_profiles: CBraMod's preprocessing of one EDF, ROUNDS times.

`mne_side.py FILE [ROUNDS]`: imports MNE, then runs the pipeline ROUNDS times in this process and
prints one JSON line: import_s, per-round wall (`rounds_s`) and CPU (`rounds_cpu_s`,
time.process_time: every thread of this process), windows and rejections. Round 1 is MNE's first
call in a fresh process; later rounds are warm (SciPy FFT plans, imports, page cache).
What it does (CBraMod's TUEG preprocessing): read_raw_edf(preload=True), pick the 19 channels,
Raw.resample(200), Raw.filter(0.3, 75), Raw.notch_filter(60), to_data_frame() µV, 60 s trims,
30 s windows (19, 30, 200), |x| >= 100 µV rejected, /100 float32.
"""
import json
import os
import sys
import time

for v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(v, "1")

CH = "FP1,FP2,F3,F4,C3,C4,P3,P4,O1,O2,F7,F8,T3,T4,T5,T6,FZ,CZ,PZ".split(",")


def mne_cbramod(mne, np, path):
    raw = mne.io.read_raw_edf(path, preload=True, verbose="error")
    raw.rename_channels(lambda n: n.replace("EEG ", "").replace("-REF", "").upper())
    raw.pick(CH)
    raw.reorder_channels(CH)
    raw.resample(200)
    raw.filter(0.3, 75.0)
    raw.notch_filter(60.0)
    x = raw.to_data_frame().drop(columns=["time"]).values.T
    x = x[:, 60 * 200: x.shape[1] - 60 * 200]
    kept = rej = 0
    for s in range(0, x.shape[1] - 6000 + 1, 6000):
        w = x[:, s:s + 6000]
        if np.max(np.abs(w)) >= 100:
            rej += 1
            continue
        _ = (w / 100.0).astype(np.float32).reshape(19, 30, 200)
        kept += 1
    return kept, rej


def main():
    path = sys.argv[1]
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    t = time.perf_counter()
    import mne
    import numpy as np
    mne.set_log_level("ERROR")
    import_s = time.perf_counter() - t
    walls, cpus = [], []
    for _ in range(rounds):
        t, c = time.perf_counter(), time.process_time()
        kept, rej = mne_cbramod(mne, np, path)
        walls.append(time.perf_counter() - t)
        cpus.append(time.process_time() - c)
    print(json.dumps({"side": "mne", "import_s": round(import_s, 4), "rounds_s": walls,
                      "rounds_cpu_s": cpus, "windows": kept, "rejected": rej,
                      "mne": mne.__version__}))


if __name__ == "__main__":
    main()
