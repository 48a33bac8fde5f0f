"""Writes the synthetic EEGLAB files of this folder with scipy's MAT-file writer.

Run from this folder with the workspace venv: `../../../.venv/bin/python make_synthetic.py`.
Writes epoched_compressed.set (one EEG struct, compressed MAT v5, inline epoched data),
epoched_fdt.set + epoched_fdt.fdt (fields as top-level variables, data in a float32 .fdt file)
and synthetic.expected.json (what a reader must report).
"""
import json

import numpy as np
import scipy.io

nbchan, pnts, trials, srate = 3, 5, 4, 250.0
rng = np.random.default_rng(7)
data = rng.normal(0, 20, size=(nbchan, pnts, trials)).astype(np.float32)
labels = ["Fp1", "Cz", "EOG1"]
xyz = [(80.1, 26.0, -4.0), (0.4, -9.2, 100.2), (70.0, 40.0, -30.0)]
types = ["EEG", "EEG", "EOG"]

chanlocs = np.zeros((1, nbchan), dtype=[("labels", "O"), ("type", "O"), ("X", "O"), ("Y", "O"), ("Z", "O")])
for i in range(nbchan):
    chanlocs[0, i] = (labels[i], types[i], xyz[i][0], xyz[i][1], xyz[i][2])

# latency in concatenated samples (1-based), as EEGLAB stores epoched events
events = [("stim", 3.0, 0.0), (7, 8.5, 2.0), ("resp", 16.0, np.nan)]
event = np.zeros((1, len(events)), dtype=[("type", "O"), ("latency", "O"), ("duration", "O")])
for i, (t, lat, dur) in enumerate(events):
    event[0, i] = (t, lat, dur)

fields = {
    "setname": "synthetic epoched",
    "nbchan": float(nbchan),
    "pnts": float(pnts),
    "trials": float(trials),
    "srate": srate,
    "xmin": -0.004,
    "chanlocs": chanlocs,
    "event": event,
    "ref": "common",
}

eeg = dict(fields, data=data)
scipy.io.savemat("epoched_compressed.set", {"EEG": eeg}, do_compression=True, format="5")

top = dict(fields, data="epoched_fdt.fdt", datfile="epoched_fdt.fdt")
scipy.io.savemat("epoched_fdt.set", top, do_compression=False, format="5")
# .fdt: float32 little endian, channels fastest, epochs concatenated
data.reshape(nbchan, pnts * trials, order="F").T.astype("<f4").tofile("epoched_fdt.fdt")

concat = data.reshape(nbchan, pnts * trials, order="F")
expected = {
    "nbchan": nbchan,
    "n_samples": pnts * trials,
    "epochs": trials,
    "srate": srate,
    "labels": labels,
    "types": [t.lower() for t in types],
    "positions": xyz,
    "values_uV": [[float(v) for v in row] for row in concat],
    "annotations": [
        {"onset": (lat - 1) / srate, "duration": None if np.isnan(dur) else dur / srate, "text": str(t)}
        for (t, lat, dur) in events
    ],
}
with open("synthetic.expected.json", "w") as f:
    json.dump(expected, f, indent=1)
