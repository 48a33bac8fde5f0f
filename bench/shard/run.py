#!/usr/bin/env python3
"""Shard writer vs a `cat`-style write with fsync of the same bytes: whole processes, alternating.

Both sides are `shard/examples/bench_shard --side SIDE DIR TOTAL_MB SAMPLE_MB` processes (release):
each builds the same float32 `.npy` payload (SAMPLE_MB) once, then
  - cat:   writes it TOTAL_MB/SAMPLE_MB times to one file with `write_all`, then fsync;
  - shard: writes as many samples (`x.npy` each, the same payload, keys s00000000...) with
           `ShardWriter` (tar headers, index with per-member XXH3-64, shard XXH3-128, fsync of the
           shard and its index, rename, fsync of the folder); 1 GiB shards.
Timed by bench/common/timing.py: whole processes, sides alternating, --repeat runs each; wall and
CPU (user + sys from wait4) min / median per side, cat / shard ratios (target >= 0.8 in both),
the load. The output folder is removed before every run (untimed). Each process also reports its
write phase's wall time (`reported.write_s`: the payload build and process start left out).

Usage: bench/shard/run.py [--total-mb 1024] [--sample-mb 4] [--dir DIR] [--repeat 3] [--nosync]
"""
import argparse
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench" / "common"))
from timing import Side, run_sides, summarize, uptime  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--total-mb", type=int, default=1024)
    ap.add_argument("--sample-mb", type=int, default=4)
    ap.add_argument("--dir", default=None)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--nosync", action="store_true", help="also the shard writer without fsync")
    ap.add_argument("--jsonl", default=None)
    ap.add_argument("--no-build", action="store_true")
    a = ap.parse_args()
    td = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    if not a.no_build:
        subprocess.run(["cargo", "build", "--release", "-q", "-p", "bomdata-shard", "--example",
                        "bench_shard"], cwd=ROOT, check=True)
    exe = td / "release" / "examples" / "bench_shard"
    d = Path(a.dir or td / "bench-shard")
    d.mkdir(parents=True, exist_ok=True)
    names = ["cat", "shard"] + (["shard_nosync"] if a.nosync else [])
    sides = [Side(n, [str(exe), "--side", n, str(d / n), str(a.total_mb), str(a.sample_mb)],
                  before=["rm", "-rf", str(d / n)]) for n in names]
    print(f"uptime at start: {uptime()}", flush=True)
    runs = run_sides(sides, a.repeat, bench="shard", jsonl=a.jsonl)
    summarize(runs, baseline="cat", bench="shard",
              metric_fns={"write_s": lambda r: (r.reported or {}).get("write_s")})
    for n in names:
        subprocess.run(["rm", "-rf", str(d / n)], check=False)


if __name__ == "__main__":
    sys.exit(main())
