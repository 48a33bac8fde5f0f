#!/usr/bin/env python3
"""EEG profile benchmark: bomdata (EDF read + `cbramod` profile) vs MNE doing CBraMod's preprocessing.

On a generated 1-hour 64-channel 256 Hz EDF+C (bomdata-edf `edf_generate`). Every side is a whole
process, timed by bench/common/timing.py (sides alternating, --repeat runs each, wall and CPU =
user + sys from wait4, min / median, the load):
  - fresh:  `bench_eeg_profiles FILE 1 cbramod 1` (one recording in a fresh process: start, FFT
            planning, first touch of every buffer, exit) against `mne_side.py FILE 1` (a fresh
            Python: interpreter start, `import mne`, MNE's first call, exit);
  - warm:   `bench_eeg_profiles FILE 1 cbramod R` against `mne_side.py FILE R` (R = --rounds, 3):
            the rounds after the first, each side timed in its own process (bomdata: thread CPU of
            the round; MNE: time.process_time() of the call), min / median over every later round
            of every repeat.
bomdata side (profiles/examples/bench_eeg_profiles.rs, release): every data signal to float32 µV
[C, T] (the canonical sample), then the cbramod profile: the 19 channels, MNE-style FFT resample
256 -> 200 Hz, 0.3-75 Hz band-pass, 60 Hz notch, 60 s trims, 30 s windows (19, 30, 200),
|x| >= 100 µV rejected, µV/100 float32 + meta.json per window. MNE side: bench/eeg_profiles/mne_side.py.
A third side, `..._all` (`bench_eeg_profiles ... all`), decodes every channel first (the whole
canonical recording, as `bomdata ingest` writes it); the default decodes only the channels the
profile reads (`EegProfile::input_channels`, the profile known before decoding).
Targets (issue 22): fresh >= 8x (MNE's first call, both fresh), warm >= 10x warm against warm.
Both sides must give the same number of windows and rejections.

Usage: bench/eeg_profiles/run.sh [--dir /tmp/bomdata-bench-edf] [--repeat 3] [--rounds 3]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench" / "common"))
from timing import Side, run_sides, summarize, uptime  # noqa: E402

for v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(v, "1")


def build(target_dir):
    env = dict(os.environ)
    subprocess.run(["cargo", "build", "--release", "-q", "-p", "bomdata-edf", "--example", "edf_generate"],
                   cwd=ROOT, check=True, env=env)
    subprocess.run(["cargo", "build", "--release", "-q", "-p", "bomdata-profiles", "--example",
                    "bench_eeg_profiles"], cwd=ROOT, check=True, env=env)


def stats(v):
    return {"min": round(min(v), 4), "median": round(statistics.median(v), 4), "n": len(v)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", default="/tmp/bomdata-bench-edf")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--rounds", type=int, default=3, help="recordings per warm process (>= 2)")
    ap.add_argument("--python", default=os.environ.get("BOMDATA_PYTHON", str(ROOT / ".venv/bin/python")))
    ap.add_argument("--jsonl", default=None)
    ap.add_argument("--no-build", action="store_true")
    ap.add_argument("--only", choices=["fresh", "warm"], default=None)
    a = ap.parse_args()
    td = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    if not a.no_build:
        build(td)
    exe = td / "release" / "examples"
    d = Path(a.dir)
    d.mkdir(parents=True, exist_ok=True)
    p = d / "bench_1h_64ch_256hz.edf"
    if not p.exists():
        subprocess.run([exe / "edf_generate", str(p), "1", "64", "256"], check=True, stdout=subprocess.DEVNULL)
    mne_py = str(ROOT / "bench" / "eeg_profiles" / "mne_side.py")
    bom = str(exe / "bench_eeg_profiles")
    subprocess.run(["cat", str(p)], stdout=subprocess.DEVNULL, check=True)  # page cache warm
    print(f"uptime at start: {uptime()}", flush=True)
    out = {"file": str(p), "uptime_start": uptime()}

    if a.only != "warm":
        fresh = run_sides([Side("mne_fresh", [a.python, mne_py, str(p), "1"]),
                           Side("bomdata_fresh", [bom, str(p), "1", "cbramod", "1"]),
                           Side("bomdata_fresh_all", [bom, str(p), "1", "cbramod", "1", "all"])],
                          a.repeat, bench="eeg_profiles_fresh", jsonl=a.jsonl)
        s = summarize(fresh, baseline="mne_fresh", bench="eeg_profiles fresh (whole processes)")
        mr = [r.reported for r in fresh if r.side == "mne_fresh"]
        br = [r.reported for r in fresh if r.side == "bomdata_fresh"]
        # In-process view of the same runs: MNE's first call without interpreter start and
        # imports, bomdata's recording without process start/exit.
        m1 = stats([x["rounds_s"][0] for x in mr])
        m1c = stats([x["rounds_cpu_s"][0] for x in mr])
        b1 = stats([x["rounds_s"][0] for x in br])
        b1c = stats([x["rounds_cpu_s"][0] for x in br])
        out["fresh"] = {
            "whole_process": s["ratios_baseline_over_side"]["bomdata_fresh"],
            "whole_process_all_channels": s["ratios_baseline_over_side"]["bomdata_fresh_all"],
            "in_process_first_call": {
                "mne_s": m1, "mne_cpu_s": m1c, "bomdata_s": b1, "bomdata_cpu_s": b1c,
                "mne_import_s": stats([x["import_s"] for x in mr]),
                "ratio_wall_min": round(m1["min"] / b1["min"], 2),
                "ratio_wall_median": round(m1["median"] / b1["median"], 2),
                "ratio_cpu_min": round(m1c["min"] / b1c["min"], 2),
                "ratio_cpu_median": round(m1c["median"] / b1c["median"], 2)},
            "windows": {"mne": [mr[0]["windows"], mr[0]["rejected"]],
                        "bomdata": [br[0]["windows"], br[0]["rejected"]]},
        }

    if a.only != "fresh":
        r = str(max(2, a.rounds))
        warm = run_sides([Side("mne_warm", [a.python, mne_py, str(p), r]),
                          Side("bomdata_warm", [bom, str(p), "1", "cbramod", r]),
                          Side("bomdata_warm_all", [bom, str(p), "1", "cbramod", r, "all"])],
                         a.repeat, bench="eeg_profiles_warm", jsonl=a.jsonl)
        mw = [x for run in warm if run.side == "mne_warm" for x in run.reported["rounds_s"][1:]]
        mwc = [x for run in warm if run.side == "mne_warm" for x in run.reported["rounds_cpu_s"][1:]]
        bw = [x for run in warm if run.side == "bomdata_warm" for x in run.reported["rounds_s"][1:]]
        bwc = [x for run in warm if run.side == "bomdata_warm" for x in run.reported["rounds_cpu_s"][1:]]
        ba = [x for run in warm if run.side == "bomdata_warm_all" for x in run.reported["rounds_s"][1:]]
        bac = [x for run in warm if run.side == "bomdata_warm_all" for x in run.reported["rounds_cpu_s"][1:]]
        m, mc, b, bc = stats(mw), stats(mwc), stats(bw), stats(bwc)
        al, alc = stats(ba), stats(bac)
        out["warm"] = {"mne_s": m, "mne_cpu_s": mc, "bomdata_s": b, "bomdata_cpu_s": bc,
                       "ratio_wall_min": round(m["min"] / b["min"], 2),
                       "ratio_wall_median": round(m["median"] / b["median"], 2),
                       "ratio_cpu_min": round(mc["min"] / bc["min"], 2),
                       "ratio_cpu_median": round(mc["median"] / bc["median"], 2),
                       "all_channels": {"bomdata_s": al, "bomdata_cpu_s": alc,
                                        "ratio_wall_min": round(m["min"] / al["min"], 2),
                                        "ratio_wall_median": round(m["median"] / al["median"], 2),
                                        "ratio_cpu_min": round(mc["min"] / alc["min"], 2),
                                        "ratio_cpu_median": round(mc["median"] / alc["median"], 2)}}
    out["uptime_end"] = uptime()
    print(json.dumps(out, indent=2))
    f = out.get("fresh", {}).get("windows")
    if f and f["mne"] != f["bomdata"]:
        print(f"windows differ: {f}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
