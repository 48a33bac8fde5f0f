"""BrainVision read speed: bomdata (release example `bench_ephys`) against MNE
`read_raw_brainvision(...).get_data()`, on the same generated file, in one run.

Usage (run.sh runs it with the workspace venv):
    bench/ephys/run.sh [--minutes 10] [--channels 64] [--rate 500]

Prints the seconds and peak RSS of each reader and the speed ratio. Both read every value as
float64 physical values; MNE single-threaded (its reader is).
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np


def write_brainvision(d, minutes, nch, rate):
    n = int(minutes * 60 * rate)
    rng = np.random.default_rng(0)
    name = "bench"
    with open(os.path.join(d, name + ".eeg"), "wb") as f:
        block = 60 * rate
        for start in range(0, n, block):
            k = min(block, n - start)
            (rng.integers(-30000, 30000, size=(k, nch), dtype=np.int16)).astype("<i2").tofile(f)
    chans = "\n".join(f"Ch{i + 1}=E{i + 1},,0.1,µV" for i in range(nch))
    with open(os.path.join(d, name + ".vhdr"), "w", encoding="utf-8") as f:
        f.write(
            "Brain Vision Data Exchange Header File Version 1.0\n[Common Infos]\nCodepage=UTF-8\n"
            f"DataFile={name}.eeg\nMarkerFile={name}.vmrk\nDataFormat=BINARY\n"
            f"DataOrientation=MULTIPLEXED\nNumberOfChannels={nch}\nSamplingInterval={1e6 / rate}\n"
            f"[Binary Infos]\nBinaryFormat=INT_16\n[Channel Infos]\n{chans}\n"
        )
    with open(os.path.join(d, name + ".vmrk"), "w") as f:
        f.write(
            "Brain Vision Data Exchange Marker File, Version 1.0\n[Marker Infos]\n"
            "Mk1=New Segment,,1,1,0,20200101000000000000\nMk2=Stimulus,S1,100,1,0\n"
        )
    return os.path.join(d, name + ".vhdr")


def run_child(cmd):
    """Runs one child; returns wall seconds, stdout and that child's own peak RSS (KiB)."""
    t = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    out = p.stdout.read()
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t
    if status != 0:
        raise SystemExit(f"{cmd[0]} failed: {status}")
    return wall, out.strip(), ru.ru_maxrss


MNE_CODE = """
import sys, time, mne
t = time.perf_counter()
raw = mne.io.read_raw_brainvision(sys.argv[1], preload=False, verbose="error")
x = raw.get_data()
print(x.shape, float((x * 1e6).astype("float32").sum()), time.perf_counter() - t)
"""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=10)
    ap.add_argument("--channels", type=int, default=64)
    ap.add_argument("--rate", type=int, default=500)
    a = ap.parse_args()
    root = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(root, "target"))
    subprocess.run(
        ["cargo", "build", "--release", "-q", "-p", "bomdata-ephys", "--example", "bench_ephys"],
        cwd=root, check=True,
    )
    exe = os.path.join(target, "release", "examples", "bench_ephys")
    with tempfile.TemporaryDirectory() as d:
        vhdr = write_brainvision(d, a.minutes, a.channels, a.rate)
        size = os.path.getsize(vhdr[:-5] + ".eeg")
        t_b, out_b, rss_b = run_child([exe, vhdr])
        t_m, out_m, rss_m = run_child([sys.executable, "-c", MNE_CODE, vhdr])
    print(json.dumps({
        "file_mb": round(size / 1e6, 1),
        "bomdata": {"wall_s": round(t_b, 3), "peak_rss_mb": round(rss_b / 1024, 1), "out": out_b},
        "mne": {"wall_s": round(t_m, 3), "peak_rss_mb": round(rss_m / 1024, 1), "out": out_m},
        "speedup_vs_mne": round(t_m / t_b, 2),
    }, indent=1))


if __name__ == "__main__":
    main()
