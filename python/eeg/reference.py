#!/usr/bin/env python3
"""Reference implementations of the EEG model profiles (bomdata `shard --profile`), with MNE/SciPy/NumPy.

Each `ref_<profile>` re-implements the published preprocessing of that model as its public code
does it (DOMAIN.md §3.2/3.2a): MNE `Raw.resample` / `Raw.filter` / `Raw.notch_filter` with
default arguments, `to_data_frame()` µV for CBraMod, NumPy quantile scaling for BIOT, a
NumPy re-implementation of PyTorch `F.interpolate(mode="nearest")` for EEGPT. Window, trim and
rejection rules take the same parameters as the Rust profile so the short fixtures can be used.

`reference.py OUTDIR` reads the EDF fixtures with MNE, builds one case per (profile, fixture)
and writes OUTDIR/<case>/:
  signal.npy   float32 µV [C, T] — the canonical sample the Rust profile reads
  meta.json    the canonical eeg/1 metadata (channel names, rate)
  params.json  the profile name + parameter overrides
  ref.json     per window: start sample, rejected or not (CBraMod: and max |x| in µV); rejected count
  win_NNNNNN.npy  the reference output (float64)
  pre_NNNNNN.npy  CBraMod only: every window before the 100 µV rule (kept or rejected)
"""
import json
import os
import sys
from pathlib import Path

import numpy as np

os.environ.setdefault("OMP_NUM_THREADS", "1")
import mne  # noqa: E402
import scipy.signal  # noqa: E402

mne.set_log_level("ERROR")

CBRAMOD_19 = "FP1,FP2,F3,F4,C3,C4,P3,P4,O1,O2,F7,F8,T3,T4,T5,T6,FZ,CZ,PZ".split(",")
LABRAM_23 = "FP1,FP2,F3,F4,C3,C4,P3,P4,O1,O2,F7,F8,T3,T4,T5,T6,A1,A2,FZ,CZ,PZ,T1,T2".split(",")
EEGPT_58 = ("FP1,FPZ,FP2,AF3,AF4,F7,F5,F3,F1,FZ,F2,F4,F6,F8,FT7,FC5,FC3,FC1,FCZ,FC2,FC4,FC6,FT8,"
            "T7,C5,C3,C1,CZ,C2,C4,C6,T8,TP7,CP5,CP3,CP1,CPZ,CP2,CP4,CP6,TP8,P7,P5,P3,P1,PZ,P2,P4,"
            "P6,P8,PO7,PO3,POZ,PO4,PO8,O1,OZ,O2").split(",")
TCP = [("FP1", "F7"), ("F7", "T3"), ("T3", "T5"), ("T5", "O1"), ("FP2", "F8"), ("F8", "T4"),
       ("T4", "T6"), ("T6", "O2"), ("FP1", "F3"), ("F3", "C3"), ("C3", "P3"), ("P3", "O1"),
       ("FP2", "F4"), ("F4", "C4"), ("C4", "P4"), ("P4", "O2")]
TCP_UNI = ["FP1", "F7", "T3", "T5", "O1", "FP2", "F8", "T4", "T6", "O2", "F3", "C3", "P3", "F4", "C4", "P4"]


ALIASES = {"T3": "T7", "T4": "T8", "T5": "P7", "T6": "P8"}


def template_positions_m(names):
    """Template positions (metres) of `names` from the table the Rust profile uses
    (schemas/data/standard_1005.tsv, millimetres), old 10-20 names folded like `channels::key`."""
    table = {}
    tsv = Path(__file__).resolve().parents[2] / "schemas/data/standard_1005.tsv"
    for line in tsv.read_text().splitlines():
        if line.startswith("#") or line.startswith("label"):
            continue
        f = line.split("\t")
        if len(f) >= 4:
            table[f[0].upper()] = np.array([float(v) for v in f[1:4]]) / 1000.0
    return {n: table[ALIASES.get(n.upper(), n.upper())] for n in names}


def interpolate_missing(raw, missing):
    """MNE `interpolate_bads` (EEG spherical splines, origin "auto") of the `missing` rows, with
    every channel at its template position."""
    pos = template_positions_m(raw.ch_names)
    raw.set_montage(mne.channels.make_dig_montage(ch_pos=pos, coord_frame="head"))
    raw.info["bads"] = list(missing)
    raw.interpolate_bads(reset_bads=True)
    return raw


def raw_from(data_v, names, sfreq):
    info = mne.create_info(list(names), sfreq, "eeg")
    return mne.io.RawArray(data_v.copy(), info)


def windows(x, sfreq, p):
    """Start samples of the windows of an already processed [C, T] array."""
    n = x.shape[1]
    start = int(round(p["trim_start_s"] * sfreq))
    end = n - int(round(p["trim_end_s"] * sfreq))
    win = int(round(p["window_s"] * sfreq))
    stride = int(round(p["stride_s"] * sfreq))
    out = []
    s = start
    while s + win <= end:
        out.append(s)
        s += stride
    return out, win


def ref_cbramod(raw, p):
    # CBraMod preprocessing_tueg_for_pretraining.py: resample first, then band-pass and notch.
    if raw.n_times / raw.info["sfreq"] < p["min_duration_s"]:
        return None
    raw.resample(200)
    raw.filter(l_freq=p["l_freq"], h_freq=p["h_freq"])
    raw.notch_filter(p["notch"])
    x = raw.to_data_frame().drop(columns=["time"]).values.T  # µV (scalings eeg=1e6)
    starts, win = windows(x, 200.0, p)
    outs, rej = [], 0
    for s in starts:
        w = x[:, s:s + win]
        pre = (w / 100.0).reshape(w.shape[0], -1, 200)
        peak = float(np.max(np.abs(w)))
        if peak >= p["reject_abs_uv"]:
            rej += 1
            outs.append((s, None, pre, peak))
            continue
        outs.append((s, pre, pre, peak))
    return outs, rej


def ref_labram(raw, p):
    # LaBraM make_TUAB.py: filter(0.1, 75), notch_filter(50), resample(200), get_data(units="uV").
    raw.filter(l_freq=p["l_freq"], h_freq=p["h_freq"])
    raw.notch_filter(p["notch"])
    raw.resample(200)
    x = raw.get_data(units="uV")
    starts, win = windows(x, 200.0, p)
    return [(s, (x[:, s:s + win] / 100.0).reshape(x.shape[0], -1, 200)) for s in starts], 0


def torch_nearest(x, n_out):
    """PyTorch `F.interpolate(x, n_out, mode="nearest")` of one segment: index
    floor(i * n_in / n_out) with the scale in float32, as PyTorch computes it. For EEGPT's
    segments (seconds of input → 256 · seconds) the float32 scale and products are exact, so
    this equals the exact integer index."""
    n_in = x.shape[-1]
    if n_in == n_out:
        return x.copy()
    scale = np.float32(n_in) / np.float32(n_out)
    idx = np.floor(np.arange(n_out, dtype=np.float32) * scale).astype(np.int64)
    assert n_out <= 1 << 16, "segment too long for an exact float32 index"
    assert np.array_equal(idx, (np.arange(n_out, dtype=np.int64) * n_in) // n_out)
    return x[..., np.minimum(idx, n_in - 1)]


def ref_eegpt(raw, p):
    # EEGPT prepare_pretrain_dataset.py: volts -> mV, common average, and each segment of
    # window_s seconds (torcheeg's chunk) brought to 256 · window_s samples by nearest
    # neighbour (`temporal_interpolation`); a shorter tail segment to round(len · 256 / fs).
    fs = raw.info["sfreq"]
    raw = raw.copy().pick([n for n in EEGPT_58 if n in raw.ch_names])
    x = raw.get_data() * 1e3
    x = x - x.mean(axis=0, keepdims=True)
    seg_in = int(round(p["window_s"] * fs))
    seg_out = int(round(p["window_s"] * 256.0))
    parts = []
    for s in range(0, x.shape[1], seg_in):
        seg = x[:, s:s + seg_in]
        n_out = seg_out if seg.shape[1] == seg_in else int(round(256.0 / fs * seg.shape[1]))
        if n_out > 0:
            parts.append(torch_nearest(seg, n_out))
    x = np.concatenate(parts, axis=1)
    starts, win = windows(x, 256.0, p)
    return [(s, x[:, s:s + win].reshape(x.shape[0], -1, 64)) for s in starts], 0


def ref_biot(raw, p):
    # BIOT datasets/TUAB/process.py: resample(200), bipolar TCP in volts; utils.py at load:
    # X / (quantile(|X|, 0.95, linear) + 1e-8) per channel.
    raw.resample(200)
    d = raw.get_data()
    ix = {n: i for i, n in enumerate(raw.ch_names)}
    x = np.stack([d[ix[a]] - d[ix[b]] for a, b in TCP])
    starts, win = windows(x, 200.0, p)
    outs = []
    for s in starts:
        w = x[:, s:s + win]
        w = w / (np.quantile(np.abs(w), q=0.95, method="linear", axis=-1, keepdims=True) + 1e-8)
        outs.append((s, w))
    return outs, 0


def ref_diver(raw, p):
    # DIVER-1-style (order and iEEG defaults unverified): high-pass 0.5, notch 60, resample 500.
    raw.filter(l_freq=p["l_freq"], h_freq=p["h_freq"])
    raw.notch_filter(p["notch"])
    raw.resample(500)
    x = raw.get_data(units="uV")
    starts, win = windows(x, 500.0, p)
    return [(s, (x[:, s:s + win] / 100.0).reshape(x.shape[0], -1, 500)) for s in starts], 0


def ref_generic_poly(raw, p):
    # generic with car + scipy.signal.resample_poly + MNE band-pass + MNE notch (DSP checks).
    x = raw.get_data(units="uV")
    x = x - x.mean(axis=0, keepdims=True)
    fs = raw.info["sfreq"]
    to = p["resample_hz"]
    from math import gcd
    g = gcd(int(to), int(fs))
    x = scipy.signal.resample_poly(x, int(to) // g, int(fs) // g, axis=-1)
    x = mne.filter.filter_data(x, to, p["l_freq"], p["h_freq"])
    x = mne.filter.notch_filter(x, to, p["notch"])
    starts, win = windows(x, to, p)
    return [(s, x[:, s:s + win]) for s in starts], 0


DEFAULTS = {
    "cbramod": dict(l_freq=0.3, h_freq=75.0, notch=60.0, min_duration_s=300.0, trim_start_s=60.0,
                    trim_end_s=60.0, window_s=30.0, stride_s=30.0, reject_abs_uv=100.0),
    "labram": dict(l_freq=0.1, h_freq=75.0, notch=50.0, trim_start_s=0.0, trim_end_s=0.0,
                   window_s=10.0, stride_s=10.0),
    "eegpt": dict(trim_start_s=0.0, trim_end_s=0.0, window_s=4.0, stride_s=4.0),
    "biot": dict(trim_start_s=0.0, trim_end_s=0.0, window_s=10.0, stride_s=10.0),
    "diver": dict(l_freq=0.5, h_freq=None, notch=60.0, trim_start_s=0.0, trim_end_s=0.0,
                  window_s=10.0, stride_s=10.0),
    "generic": dict(trim_start_s=0.0, trim_end_s=0.0, window_s=10.0, stride_s=10.0),
}
REFS = {"cbramod": ref_cbramod, "labram": ref_labram, "eegpt": ref_eegpt, "biot": ref_biot,
        "diver": ref_diver, "generic": ref_generic_poly}

FIX = None

# Channels of a case that the recording lacks (the profile interpolates them).
MISSING = {"cbramod_interp": ["T4", "PZ"], "biot_interp512": ["T4"]}


def load(name):
    if name.startswith("synthetic:"):
        # synthetic:<channels>:<rate>:<seconds>: seeded noise plus a few sines, in volts.
        _, c, fs, sec = name.split(":")
        c, fs, sec = int(c), float(fs), float(sec)
        n = int(round(fs * sec))
        rng = np.random.default_rng(20)
        t = np.arange(n) / fs
        x = rng.standard_normal((c, n)) * 5e-6
        for k in range(c):
            x[k] += 2e-5 * np.sin(2 * np.pi * (1.0 + 0.37 * k) * t + k)
        return x, fs
    path = FIX / name
    raw = mne.io.read_raw_edf(path, preload=True) if name.endswith(".edf") else mne.io.read_raw_bdf(path, preload=True)
    keep = [i for i, n in enumerate(raw.ch_names) if "annotation" not in n.lower()]
    return raw.get_data()[keep], raw.info["sfreq"]


# (case, profile, fixture, channel names assigned to the first signals (tiled), overrides)
CASES = [
    ("cbramod_generator", "cbramod", "pyedflib_test_generator.edf", CBRAMOD_19, {}),
    # Rows: the generator's noise signal, each circularly shifted, so that the 100 µV rule keeps
    # some windows and rejects others at the default settings.
    ("cbramod_noise", "cbramod", "pyedflib_test_generator.edf", CBRAMOD_19, {}),
    ("cbramod_noise256", "cbramod", "pyedflib_test_generator.edf", CBRAMOD_19, {}),
    # Two of the 19 channels absent from the recording, filled by spherical splines.
    ("cbramod_interp", "cbramod", "pyedflib_test_generator.edf", CBRAMOD_19, dict(missing="interpolate")),
    ("cbramod_reduced512", "cbramod", "mne_test_reduced.edf", CBRAMOD_19,
     dict(min_duration_s=0.0, trim_start_s=0.5, trim_end_s=0.5, window_s=2.0, stride_s=1.0, reject_abs_uv=1e9)),
    ("labram_psg100", "labram", "edfio_short_psg.edf", LABRAM_23, {}),
    ("labram_generator200", "labram", "pyedflib_test_generator.edf", LABRAM_23, {}),
    ("labram_reduced512", "labram", "mne_test_reduced.edf", LABRAM_23, dict(window_s=2.0, stride_s=2.0)),
    ("eegpt_reduced512", "eegpt", "mne_test_reduced.edf", EEGPT_58, {}),
    # The recording: 64 channels at 500 Hz for 600 s (indices past 134,217 drifted when
    # computed in float32 over the whole recording).
    ("eegpt_long500", "eegpt", "synthetic:64:500:600", EEGPT_58 + ["X%d" % i for i in range(6)], {}),
    ("eegpt_generator200", "eegpt", "pyedflib_test_generator.edf", EEGPT_58, dict(window_s=8.0, stride_s=8.0)),
    ("biot_reduced512", "biot", "mne_test_reduced.edf", TCP_UNI, dict(window_s=2.0, stride_s=2.0)),
    # T4 absent: interpolated among the 16 electrodes, then the TCP derivations formed.
    ("biot_interp512", "biot", "mne_test_reduced.edf", TCP_UNI,
     dict(window_s=2.0, stride_s=2.0, missing="interpolate")),
    ("biot_subsecond128", "biot", "pyedflib_test_subsecond.edf", TCP_UNI, {}),
    ("diver_chtypes200", "diver", "mne_chtypes_edf.edf", None, dict(window_s=1.0, stride_s=1.0)),
    ("diver_psg100", "diver", "edfio_short_psg.edf", None, {}),
    ("generic_poly512", "generic", "mne_test_reduced.edf", ["C%d" % i for i in range(20)],
     dict(steps="car,resample,bandpass,notch", resample_hz=200.0, resample_method="poly", l_freq=1.0,
          h_freq=40.0, notch=60.0, window_s=2.0, stride_s=2.0)),
]


def main():
    global FIX
    out = Path(sys.argv[1])
    FIX = Path(sys.argv[2]) / "edf"
    for case, prof, fixture, names, over in CASES:
        d = out / case
        d.mkdir(parents=True, exist_ok=True)
        data_v, fs = load(fixture)
        if names is None:
            names = ["CH%d" % i for i in range(min(len(data_v), 8))]
        if case.startswith("cbramod_noise") or case == "cbramod_interp":
            data_v = np.stack([np.roll(data_v[3], 997 * k) * 1.37 for k in range(len(names))])
            if case == "cbramod_noise256":
                # The same rows brought to 256 Hz (any method: this is only the input), so that
                # the profile resamples 256 -> 200 Hz before its filters, as on TUEG.
                data_v = scipy.signal.resample_poly(data_v, 32, 25, axis=-1)
                fs = 256.0
        else:
            rows = np.arange(len(names)) % len(data_v)
            data_v = data_v[rows]
        missing = MISSING.get(case, [])
        present = [i for i, n in enumerate(names) if n not in missing]
        uv32 = (data_v * 1e6).astype(np.float32)
        # The reference reads the same float32 µV values the canonical sample holds.
        data_v = uv32.astype(np.float64) * 1e-6
        data_v[[i for i in range(len(names)) if i not in present]] = 0.0
        uv32 = uv32[present]
        np.save(d / "signal.npy", uv32)
        meta = {
            "schema": "eeg/1", "modality": "eeg", "sampling_rate": fs, "n_samples": int(uv32.shape[1]),
            "channels": [{"name": n, "original_name": n, "type": "eeg", "unit": "uV",
                          "xyz_mm": [None, None, None]} for n in (names[i] for i in present)],
            "reference": {"kind": "unknown"},
            "chunk": {"index": 0, "count": 1, "offset_s": 0.0, "duration_s": uv32.shape[1] / fs},
            "annotations": [], "provenance": None,
        }
        (d / "meta.json").write_text(json.dumps(meta))
        p = dict(DEFAULTS[prof])
        p.update(over)
        rust_over = dict(over)
        (d / "params.json").write_text(json.dumps({"profile": prof, "params": rust_over}))
        try:
            raw = raw_from(data_v, names, fs)
            if missing:
                raw = interpolate_missing(raw, missing)
            res = REFS[prof](raw, p)
        except ValueError as e:  # e.g. LaBraM's 75 Hz low-pass on a 100 Hz recording
            print(case, "rejected:", e)
            res = None
        for f in d.glob("win_*.npy"):
            f.unlink()
        if res is None:
            (d / "ref.json").write_text(json.dumps({"windows": [], "rejected_recording": True}))
            continue
        outs, rej = res
        wins = []
        for i, o in enumerate(outs):
            s, w = o[0], o[1]
            item = {"index": i, "start": s, "rejected": w is None}
            if w is not None:
                np.save(d / ("win_%06d.npy" % i), w)
            if len(o) > 2:
                # CBraMod: the window before the rejection rule and its max |x| (µV).
                np.save(d / ("pre_%06d.npy" % i), o[2])
                item["max_abs_uv"] = o[3]
            wins.append(item)
        (d / "ref.json").write_text(json.dumps({"windows": wins, "rejected": rej}))
    print("ok", len(CASES))


if __name__ == "__main__":
    main()
