#!/usr/bin/env python3
"""Loader benchmark, like for like: bomdata-loader, LitData, MDS, `cat`, zstd — whole processes, alternating.

For each dataset of the shared harness (`fmri`: float16 [20,48,48,48], batch 1; `eeg`: float16
[19,1000], batch 64 — bomdata's batch, given to every loader) every side is one process, timed by
bench/common/timing.py (sides alternating, --repeat runs each, wall and CPU = user + sys of the
process and its waited-for children from wait4 — DataLoader workers included —, min / median,
the load). Page cache warm: each side's files are read (untimed) before each of its runs.
  - cat:            `cat` of the bomdata shards (the same bytes the loader reads) to /dev/null
                    (GNU cat may splice to /dev/null: the bytes need never reach user memory);
  - dd:             `dd bs=8M` of each shard to /dev/null, in one shell: every byte is read into a
                    user buffer, as a loader must (the fair raw-read baseline);
  - bomdata_1t/_2t: `bench_loader_read DATASET 1|2 BATCH pread RAW` (the default read mode) (sequential, one contiguous
                    staging buffer per field, first/last sample checked against the raw layout);
  - lit_0w/_2w:     rival_read.py lit: LitData's `StreamingDataLoader(batch_size=BATCH,
                    num_workers=0|2)` over its StreamingDataset;
  - mds_0w/_2w:     rival_read.py mds: MosaicML `StreamingDataset(batch_size=BATCH)` +
                    `StreamingDataLoader(batch_size=BATCH, num_workers=0|2)`;
  - zstd group:     `bench_loader_read --zstd-baseline DATASET_zstd` (one pass of single-thread
                    zstd over every member) against bomdata_zstd_1t (the loader on the zstd-3 dataset).
Ratios are baseline / side of wall and CPU (> 1: the side is faster). MB/s: payload bytes over
the whole process's wall time, and each process's own in-process figure (the clock starts after
imports and process start on every side; a loaded machine's torch import alone took 20-30 s of
wall time, ~2 CPU-s). Python sides need --rival-python (the torch venv) and
--pythonpath (litdata 0.2.76 + mosaicml-streaming 0.13.0 installed with pip --target, the harness
folder for compat.py; this folder is added for shims.py).

Usage: bench/loader/run.py --data DATA [--datasets fmri,eeg] [--repeat 3] [--sides ...]
       DATA: the harness's make_data.py output with raw, lit, mds, plus bomdata_none and
       bomdata_zstd written by `bench_loader_write` (bench/loader/run.sh does all of it).
"""
import argparse
import glob
import json
import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT / "bench" / "common"))
from timing import Side, run_sides, summarize, uptime  # noqa: E402

BATCH = {"fmri": 1, "eeg": 64}
ALL = "cat,dd,bomdata_1t,bomdata_2t,lit_0w,lit_2w,mds_0w,mds_2w"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--datasets", default="fmri,eeg")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--sides", default=ALL)
    ap.add_argument("--no-zstd", action="store_true")
    ap.add_argument("--bin", default=str(Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target")) / "release" / "examples"))
    ap.add_argument("--rival-python", default=str(ROOT / ".venv-torch/bin/python"))
    ap.add_argument("--pythonpath", default=os.environ.get("PYTHONPATH", ""))
    ap.add_argument("--jsonl", default=None)
    a = ap.parse_args()
    data = Path(a.data)
    read = str(Path(a.bin) / "bench_loader_read")
    env = {"PYTHONPATH": ":".join(p for p in [a.pythonpath, str(HERE)] if p),
           "OMP_NUM_THREADS": "1"}
    rival = [a.rival_python, str(HERE / "rival_read.py")]
    results = {"uptime_start": uptime()}
    for ds in a.datasets.split(","):
        b = BATCH[ds]
        root = data / ds
        shards = sorted(glob.glob(str(root / "bomdata_none" / "shards" / "*.tar")))
        zshards = sorted(glob.glob(str(root / "bomdata_zstd" / "shards" / "*.tar")))
        rawbin = str(root / "raw" / "data.bin")

        def warm(paths):
            return ["bash", "-c", "cat \"$@\" > /dev/null", "warm"] + list(paths)

        lit = sorted(glob.glob(str(root / "lit" / "*")))
        mds = sorted(glob.glob(str(root / "mds" / "*")))
        cand = {
            "cat": Side("cat", ["cat"] + shards, stdout_to="/dev/null", before=warm(shards)),
            "dd": Side("dd", ["bash", "-c", 'for f; do dd if="$f" of=/dev/null bs=8M status=none; done', "dd"]
                       + shards, before=warm(shards)),
            "bomdata_1t": Side("bomdata_1t", [read, str(root / "bomdata_none"), "1", str(b), "pread", rawbin],
                               before=warm(shards)),
            "bomdata_2t": Side("bomdata_2t", [read, str(root / "bomdata_none"), "2", str(b), "pread", rawbin],
                               before=warm(shards)),
            "lit_0w": Side("lit_0w", rival + ["lit", str(data), ds, str(b), "0"], env=env, before=warm(lit)),
            "lit_2w": Side("lit_2w", rival + ["lit", str(data), ds, str(b), "2"], env=env, before=warm(lit)),
            "mds_0w": Side("mds_0w", rival + ["mds", str(data), ds, str(b), "0"], env=env, before=warm(mds)),
            "mds_2w": Side("mds_2w", rival + ["mds", str(data), ds, str(b), "2"], env=env, before=warm(mds)),
        }
        sides = [cand[s] for s in a.sides.split(",") if s in cand]
        payload = json.load(open(data / "manifest.json"))[ds]["payload_bytes"]
        mbs = {"MB_per_s_whole_process": lambda r, p=payload: p / r.wall_s / 1e6,
               "MB_per_s_in_process": lambda r: (r.reported or {}).get("MB_per_s", (r.reported or {}).get("best_MB_per_s"))}
        runs = run_sides(sides, a.repeat, bench=f"loader_{ds}", jsonl=a.jsonl)
        results[ds] = summarize(runs, baseline="cat" if "cat" in cand and sides[0].name == "cat" else sides[0].name,
                                bench=f"loader {ds} (batch {b})", metric_fns=mbs)
        if not a.no_zstd and zshards:
            z = [Side("zstd_baseline", [read, "--zstd-baseline", str(root / "bomdata_zstd"), "1"],
                      before=warm(zshards)),
                 Side("bomdata_zstd_1t", [read, str(root / "bomdata_zstd"), "1", str(b), "pread", rawbin],
                      before=warm(zshards))]
            zr = run_sides(z, a.repeat, bench=f"loader_{ds}_zstd", jsonl=a.jsonl)
            results[f"{ds}_zstd"] = summarize(zr, baseline="zstd_baseline", bench=f"loader {ds} zstd", metric_fns=mbs)
    results["uptime_end"] = uptime()
    if a.jsonl:
        with open(a.jsonl, "a") as f:
            f.write(json.dumps({"results": results}) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
