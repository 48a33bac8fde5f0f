#!/usr/bin/env python3
"""Reference of the `meg` profile (bomdata `shard --profile meg`) with MNE.

`reference.py OUTDIR REPO` reads the MEG fixture tests/fixtures/fif/test_move_anon_erm_raw.fif
(Elekta Vectorview: 204 planar gradiometers, 102 magnetometers, EEG, EOG, ECG, stim, misc) with
MNE, extends its 1 s to 12 s by alternating it with its time reversal (no jumps), gives the MEG
channels the head-frame geometry of tests/meg/devhead_raw.fif (the same sensors with a device ->
head transformation), and writes one case per parameter set in OUTDIR/<case>/:
  signal.npy   float32 [C, T], every channel (MEG in T and T/m, biopotentials in uV): the
               canonical eeg/1 sample the Rust profile reads
  meta.json    its eeg/1 metadata (types mag/grad/eeg/..., units, xyz_mm, sensor)
  params.json  {"profile": "meg", "params": {...}}
  ref.json     the window starts and the picked channel names
  win_NNNNNN.npy  the reference windows (float64, [C, T], SI units x scale)

The reference is what an MNE user writes: RawArray of the canonical values (float64) ->
raw.pick(types) -> raw.filter / raw.notch_filter / raw.resample with default arguments, in the
profile's step order -> trims -> windows.
"""
import json
import os
import sys
from pathlib import Path

import numpy as np

os.environ.setdefault("OMP_NUM_THREADS", "1")
import mne  # noqa: E402
from mne.transforms import apply_trans  # noqa: E402

mne.set_log_level("ERROR")

CASES = {
    # name: profile params
    "meg_defaults": {},
    "meg_mag_resample_then_filters_fused": {
        "picks": "mag", "steps": "resample,bandpass,notch", "resample_hz": 250.0,
        "l_freq": 0.5, "h_freq": 100.0, "notch": "50", "trim_start_s": 2.0, "trim_end_s": 2.0,
        "window_s": 2.0, "stride_s": 1.0, "scale": 1e12,
    },
    "meg_grad_native_rate": {
        "picks": "grad", "steps": "", "window_s": 1.0, "stride_s": 1.0,
    },
    "meg_all_highpass_only": {
        "picks": "meg", "steps": "bandpass,resample", "l_freq": 0.5, "h_freq": None,
        "resample_hz": 100.0, "window_s": 5.0, "stride_s": 2.5,
    },
}
DEFAULTS = {"picks": "mag,grad", "steps": "bandpass,resample", "resample_hz": 200.0,
            "l_freq": 1.0, "h_freq": 45.0, "notch": "", "window_s": 10.0, "stride_s": 10.0,
            "trim_start_s": 0.0, "trim_end_s": 0.0, "scale": 1.0}
BIO = {"eeg", "eog", "ecg", "emg"}
UNITS = {"mag": "T", "grad": "T/m", "stim": "", "misc": ""}


def canonical(repo):
    raw = mne.io.read_raw_fif(repo / "tests/fixtures/fif/test_move_anon_erm_raw.fif",
                              allow_maxshield=True, preload=True)
    head = mne.io.read_raw_fif(repo / "tests/meg/devhead_raw.fif", allow_maxshield=True)
    t = head.info["dev_head_t"]
    x = raw.get_data()
    reps = [x if i % 2 == 0 else x[:, ::-1] for i in range(12)]
    x = np.concatenate(reps, axis=1)
    types = raw.get_channel_types()
    chans = []
    rows = []
    for i, (ch, ty) in enumerate(zip(raw.info["chs"], types)):
        row = x[i] * (1e6 if ty in BIO else 1.0)
        rows.append(row)
        c = {"name": ch["ch_name"], "original_name": ch["ch_name"], "type": ty,
             "unit": "uV" if ty in BIO else UNITS.get(ty, ""), "xyz_mm": [None, None, None]}
        if ty in ("mag", "grad"):
            loc = head.info["chs"][i]["loc"]
            c["xyz_mm"] = [float(v) * 1000.0 for v in apply_trans(t, loc[:3])]
            ax = [apply_trans(t, loc[k:k + 3], move=False) for k in (3, 6, 9)]
            c["sensor"] = {"coil_type": int(ch["coil_type"]), "frame": "head",
                           "ex": [float(v) for v in ax[0]], "ey": [float(v) for v in ax[1]],
                           "ez": [float(v) for v in ax[2]]}
        chans.append(c)
    sig = np.asarray(rows, dtype=np.float32)
    sfreq = raw.info["sfreq"]
    meta = {"schema": "eeg/1", "modality": "meg", "sampling_rate": sfreq,
            "n_samples": sig.shape[1], "channels": chans, "reference": {"kind": "unknown"},
            "coord_frame": "fif_head",
            "chunk": {"index": 0, "count": 1, "offset_s": 0.0, "duration_s": sig.shape[1] / sfreq},
            "annotations": [], "provenance": None}
    return sig, meta, types, sfreq


def reference(sig, types, sfreq, p):
    want = set()
    for k in p["picks"].split(","):
        want |= {"mag", "grad"} if k == "meg" else {k}
    picks = [i for i, ty in enumerate(types) if ty in want]
    info = mne.create_info([f"c{i}" for i in picks], sfreq, [types[i] for i in picks])
    raw = mne.io.RawArray(sig[picks].astype(np.float64), info)
    for step in [s for s in p["steps"].split(",") if s]:
        if step == "bandpass":
            raw.filter(p["l_freq"], p["h_freq"])
        elif step == "notch":
            raw.notch_filter([float(f) for f in p["notch"].split(",") if f])
        elif step == "resample":
            raw.resample(p["resample_hz"])
    y = raw.get_data() * p["scale"]
    fs = raw.info["sfreq"]
    a = int(round(p["trim_start_s"] * fs))
    b = y.shape[1] - int(round(p["trim_end_s"] * fs))
    y = y[:, a:b]
    win = int(round(p["window_s"] * fs))
    stride = int(round(p["stride_s"] * fs))
    starts = list(range(0, y.shape[1] - win + 1, stride)) if win > 0 else []
    return picks, [(a + s, y[:, s:s + win]) for s in starts]


def main():
    out = Path(sys.argv[1])
    repo = Path(sys.argv[2])
    sig, meta, types, sfreq = canonical(repo)
    for name, params in CASES.items():
        p = dict(DEFAULTS)
        p.update(params)
        d = out / name
        d.mkdir(parents=True, exist_ok=True)
        np.save(d / "signal.npy", sig)
        (d / "meta.json").write_text(json.dumps(meta))
        (d / "params.json").write_text(json.dumps({"profile": "meg", "params": params}))
        picks, wins = reference(sig, types, sfreq, p)
        for i, (_, w) in enumerate(wins):
            np.save(d / f"win_{i:06d}.npy", w)
        (d / "ref.json").write_text(json.dumps({
            "starts": [s for s, _ in wins],
            "names": [meta["channels"][i]["name"] for i in picks],
        }))


if __name__ == "__main__":
    main()
