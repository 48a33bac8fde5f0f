#!/usr/bin/env python3
"""EEG profile benchmark on the product path: `bomdata ingest --profile cbramod` vs MNE doing CBraMod's
preprocessing, every side a whole process.

On a generated 1-hour 64-channel 256 Hz EDF+C (bomdata-edf `edf_generate`), laid out as a TUEG tree
(`01_tcp_ar/aaaaaaa<i>_s001_t000.edf`, hard links of the one file). Timed by bench/common/timing.py
(sides alternating, --repeat runs each, wall and CPU = user + sys from wait4, min / median, load):

  - fresh: one recording per process on both sides.
      bomdata_ingest:   `bomdata ingest TREE1 --out OUT --source tueg --profile cbramod --jobs 1`
                        (start, plan, EDF read of the 19 channels the profile reads, the profile,
                        shards written and fsynced, manifest, exit);
      bomdata_two_step: `bomdata ingest` (every channel, canonical copy) then
                        `bomdata shard --profile cbramod` (two processes, timed together: the CLI
                        path before `ingest --profile`);
      mne_fresh:        `mne_side.py FILE 1` (interpreter start, `import mne`, MNE's first call,
                        exit; it writes nothing).
  - warm: the cost of one more recording in a process that has already done one, the same way on
    both sides: a process doing R recordings (`--rounds`, default 3) against one doing 1, both whole
    processes, warm = (T_R - T_1) / (R - 1) for the min and for the median of each (wall and CPU).
    bomdata: `ingest TREE_R` (R recordings, --jobs 1, one after the other in one process: FFT plans,
    buffer pool and page cache warm); MNE: `mne_side.py FILE R` (R calls in one interpreter).
    The MNE process's own clock of its later rounds is printed too (`mne_in_process`).

Both sides must give the same windows and rejections per recording (116 / 0 on this file):
bomdata's are counted from the output's manifest (samples) and report (skipped windows).
Targets (issue 22): fresh >= 8x (both fresh), warm >= 10x warm against warm.

Usage: bench/eeg_profiles/run.sh [--dir /tmp/bomdata-bench-edf] [--repeat 3] [--rounds 3]
env: BOMDATA_BIN (default $CARGO_TARGET_DIR/release/bomdata), BOMDATA_PYTHON, CARGO_TARGET_DIR
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench" / "common"))
from timing import Side, run_sides, summarize, uptime  # noqa: E402

for v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(v, "1")
os.environ.setdefault("BOMDATA_KEY", "bench-key-0123456789abcdef")


def build():
    for args in (["-p", "bomdata-edf", "--example", "edf_generate"], ["-p", "bomdata", "--bin", "bomdata"]):
        subprocess.run(["cargo", "build", "--release", "-q", *args], cwd=ROOT, check=True)


def tree(d: Path, edf: Path, n: int) -> Path:
    """A TUEG-like tree of `n` recordings (hard links of `edf`)."""
    t = d / f"tueg{n}"
    folder = t / "edf" / "01_tcp_ar"
    if not folder.exists():
        folder.mkdir(parents=True)
        for i in range(n):
            os.link(edf, folder / f"aaaaaaa{i}_s001_t000.edf")
    return t


def windows(out: Path) -> tuple[int, int]:
    """Windows written and windows rejected (report entries naming a window) of an ingest output."""
    m = json.loads((out / "manifest.json").read_text())
    # The run's report: in the dataset folder and in its state folder (wherever that is kept).
    reports = {f.resolve() for q in out.parent.glob(out.name + "*") if q.is_dir()
               for f in q.rglob("report.jsonl")}
    rej = sum(1 for f in reports for line in f.read_text().splitlines() if '"window ' in line)
    return m["counts"]["samples"], rej


def stat(v):
    return {"min": min(v), "median": statistics.median(v)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", default="/tmp/bomdata-bench-edf")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--rounds", type=int, default=3, help="recordings per warm process (>= 2)")
    ap.add_argument("--python", default=os.environ.get("BOMDATA_PYTHON", str(ROOT / ".venv/bin/python")))
    ap.add_argument("--jsonl", default=None)
    ap.add_argument("--no-build", action="store_true")
    a = ap.parse_args()
    td = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    if not a.no_build:
        build()
    bom = os.environ.get("BOMDATA_BIN", str(td / "release" / "bomdata"))
    d = Path(a.dir)
    d.mkdir(parents=True, exist_ok=True)
    p = d / "bench_1h_64ch_256hz.edf"
    if not p.exists():
        subprocess.run([td / "release" / "examples" / "edf_generate", str(p), "1", "64", "256"], check=True,
                       stdout=subprocess.DEVNULL)
    r = max(2, a.rounds)
    t1, tr = tree(d, p, 1), tree(d, p, r)
    mne_py = str(ROOT / "bench" / "eeg_profiles" / "mne_side.py")
    o1, o2, oc, orr = d / "out1", d / "out2", d / "canon", d / "outR"
    ingest = [bom, "ingest", "--source", "tueg", "--jobs", "1"]
    prof = ["--profile", "cbramod"]
    clear = lambda *ps: "rm -rf " + " ".join(f"'{x}'" for x in ps)  # noqa: E731
    subprocess.run(["cat", str(p)], stdout=subprocess.DEVNULL, check=True)  # page cache warm
    print(f"uptime at start: {uptime()}", flush=True)
    out = {"file": str(p), "bomdata": bom, "uptime_start": uptime()}

    two = (f"'{bom}' ingest '{t1}' --out '{oc}' --source tueg --jobs 1 && "
           f"'{bom}' shard '{oc}' --out '{o2}' --jobs 1 --profile cbramod")
    fresh = run_sides([Side("mne_fresh", [a.python, mne_py, str(p), "1"]),
                       Side("bomdata_ingest", [*ingest, str(t1), "--out", str(o1), *prof], before=clear(o1)),
                       Side("bomdata_two_step", two, before=clear(oc, o2))],
                      a.repeat, bench="eeg_profiles_fresh", jsonl=a.jsonl)
    s = summarize(fresh, baseline="mne_fresh", bench="eeg_profiles fresh (whole processes)")
    mr = [x.reported for x in fresh if x.side == "mne_fresh"]
    out["fresh"] = {"ratios": s["ratios_baseline_over_side"],
                    "windows": {"mne": [mr[0]["windows"], mr[0]["rejected"]],
                                "bomdata_ingest": list(windows(o1)),
                                "bomdata_two_step": [json.loads((o2 / "manifest.json").read_text())
                                                     ["counts"]["samples"], None]}}

    warm = run_sides([Side("mne_R", [a.python, mne_py, str(p), str(r)]),
                      Side("mne_1", [a.python, mne_py, str(p), "1"]),
                      Side("bomdata_R", [*ingest, str(tr), "--out", str(orr), *prof], before=clear(orr)),
                      Side("bomdata_1", [*ingest, str(t1), "--out", str(o1), *prof], before=clear(o1))],
                     a.repeat, bench="eeg_profiles_warm", jsonl=a.jsonl)
    summarize(warm, bench="eeg_profiles warm (processes of R and of 1 recordings)")

    def per(side: str, f) -> dict:
        return stat([f(x) for x in warm if x.side == side])

    w = {}
    for who in ("mne", "bomdata"):
        w[who] = {}
        for metric, f in (("wall_s", lambda x: x.wall_s), ("cpu_s", lambda x: x.cpu_s)):
            big, one = per(f"{who}_R", f), per(f"{who}_1", f)
            w[who][metric] = {k: round((big[k] - one[k]) / (r - 1), 4) for k in ("min", "median")}
    w["ratio"] = {m: {k: round(w["mne"][m][k] / w["bomdata"][m][k], 2) for k in ("min", "median")}
                  for m in ("wall_s", "cpu_s")}
    later = [c for x in warm if x.side == "mne_R" for c in x.reported["rounds_cpu_s"][1:]]
    w["mne_in_process"] = {"later_rounds_cpu_s": stat(later)}
    nw, nr = windows(orr)
    w["windows_per_recording"] = {"bomdata": [nw / r, nr / r],
                                  "mne": [x.reported["windows"] for x in warm if x.side == "mne_R"][:1]}
    out["warm"] = w
    out["uptime_end"] = uptime()
    print(json.dumps(out, indent=2))
    f = out["fresh"]["windows"]
    if f["mne"] != f["bomdata_ingest"] or f["bomdata_two_step"][0] != f["mne"][0]:
        print(f"windows differ: {f}", file=sys.stderr)
        return 1
    for x in (o1, o2, oc, orr):
        shutil.rmtree(x, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
