#!/usr/bin/env python3
"""EDF canonical-read benchmark: bomdata vs MNE vs pyedflib, in one run.

Generates a 1-hour and a 4-hour 64-channel 256 Hz EDF+C with bomdata's own Writer
(`edf_generate` example), then times on the 1-hour file:
  - bomdata: every sample of every signal to float32 µV, streamed by record
    (`bench_edf` example, release build, single thread);
  - MNE: `mne.io.read_raw_edf(path).get_data()` (float64 V);
  - pyedflib: `EdfReader.readSignal(i)` for every signal (float64 physical).
Each is the best of --repeat runs (page cache warm). Prints ratios (baseline / bomdata) and
bomdata's peak RSS on the 1-hour and 4-hour files (streaming: it must not grow with length).

Usage: bench/edf/run.sh [--dir /tmp/bomdata-bench-edf] [--repeat 3]
"""
import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

ROOT = Path(__file__).resolve().parents[2]


def cargo_build(target_dir):
    env = dict(os.environ)
    if target_dir:
        env["CARGO_TARGET_DIR"] = target_dir
    subprocess.run(
        ["cargo", "build", "--release", "-q", "-p", "bomdata-edf", "--example", "edf_generate",
         "--example", "bench_edf"],
        cwd=ROOT, check=True, env=env)
    td = Path(env.get("CARGO_TARGET_DIR", ROOT / "target"))
    return td / "release" / "examples"


def best(fn, repeat):
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", default="/tmp/bomdata-bench-edf")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--target-dir", default=os.environ.get("CARGO_TARGET_DIR"))
    a = ap.parse_args()
    exe = cargo_build(a.target_dir)
    d = Path(a.dir)
    d.mkdir(parents=True, exist_ok=True)
    files = {}
    for hours in (1, 4):
        p = d / f"bench_{hours}h_64ch_256hz.edf"
        if not p.exists():
            subprocess.run([exe / "edf_generate", str(p), str(hours), "64", "256"], check=True,
                           stdout=subprocess.DEVNULL)
        files[hours] = p

    def bomdata(p):
        out = subprocess.run([exe / "bench_edf", str(p)], check=True, capture_output=True,
                             text=True).stdout
        return json.loads(out)

    p1 = files[1]
    bomdata(p1)  # warm the page cache
    # In-process time reported by the binary (open to last sample), comparable with the
    # in-process MNE/pyedflib timings; the wall time with process start-up is printed too.
    t_bom = min(bomdata(p1)["seconds"] for _ in range(a.repeat))
    t_bom_wall = best(lambda: bomdata(p1), a.repeat)
    rss1 = bomdata(p1)["peak_rss_kib"]
    rss4 = bomdata(files[4])["peak_rss_kib"]
    t_bom4 = bomdata(files[4])["seconds"]

    import mne
    import pyedflib
    mne.set_log_level("ERROR")

    def mne_read():
        raw = mne.io.read_raw_edf(p1, preload=False, verbose="error")
        x = raw.get_data()
        assert x.shape == (64, 3600 * 256), x.shape

    def pyedf_read():
        f = pyedflib.EdfReader(str(p1))
        try:
            for i in range(f.signals_in_file):
                f.readSignal(i)
        finally:
            f.close()

    t_mne = best(mne_read, a.repeat)
    t_pye = best(pyedf_read, a.repeat)
    size_mb = p1.stat().st_size / 1e6
    print(json.dumps({
        "file": str(p1), "file_mb": round(size_mb, 1),
        "bomdata_s": round(t_bom, 4), "bomdata_wall_s_incl_process_start": round(t_bom_wall, 4), "mne_s": round(t_mne, 4), "pyedflib_s": round(t_pye, 4),
        "ratio_mne_over_bomdata": round(t_mne / t_bom, 2),
        "ratio_pyedflib_over_bomdata": round(t_pye / t_bom, 2),
        "ratio_mne_over_bomdata_wall": round(t_mne / t_bom_wall, 2),
        "bomdata_mb_per_s": round(size_mb / t_bom, 1),
        "bomdata_peak_rss_kib_1h": rss1, "bomdata_peak_rss_kib_4h": rss4,
        "bomdata_4h_s": round(t_bom4, 4),
        "versions": {"mne": mne.__version__, "pyedflib": pyedflib.__version__},
    }, indent=2))


if __name__ == "__main__":
    sys.exit(main())
