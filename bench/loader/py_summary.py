#!/usr/bin/env python3
"""Summarises py_run.sh's JSON lines: min / median over rounds per side, and the issue's ratios."""
import json
import statistics
import sys
from collections import defaultdict

rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
sides = defaultdict(lambda: defaultdict(list))
for r in rows:
    ds = r.get("ds") or r.get("dataset") or ""
    ds = "eeg" if "eeg" in ds else "fmri"
    sys_ = r["system"]
    if sys_ == "bomdata":  # bench_loader_read's own line
        sys_ = "bomdata_rust"
    if sys_ in ("bomdata_rust", "bomdata_py"):
        key = f"{sys_} {r['threads']}t"
        mb = r.get("mb_s") or r.get("MB_per_s")
        sps = r.get("samples_s") or r.get("samples_per_s")
        cpu = r.get("cpu_s_per_gb") or r.get("cpu_s_per_GB")
    elif sys_ == "lit":
        key = f"litdata {r['mode']}"
        mb, sps, cpu = r["MB_per_s"], r["samples_per_s"], r["cpu_s_per_GB"]
    else:
        key, mb, sps, cpu = "cat", r["mb_s"], None, None
    for k, v in (("mb", mb), ("sps", sps), ("cpu", cpu)):
        if v is not None:
            sides[ds][key + "|" + k].append(float(v))


def fmt(v):
    return "-" if not v else f"{max(v):,.0f} / {statistics.median(v):,.0f}"


print("| data | side | MB/s best / median | samples/s best / median | CPU s/GB min / median |")
print("|---|---|---:|---:|---:|")
for ds in ("eeg", "fmri"):
    keys = sorted({k.split("|")[0] for k in sides[ds]})
    for k in keys:
        c = sides[ds].get(k + "|cpu", [])
        cs = "-" if not c else f"{min(c):.2f} / {statistics.median(c):.2f}"
        print(f"| {ds} | {k} | {fmt(sides[ds].get(k + '|mb'))} | {fmt(sides[ds].get(k + '|sps'))} | {cs} |")


def med(ds, k):
    v = sides[ds].get(k)
    return statistics.median(v) if v else float("nan")


for t in ("1t", "2t"):
    lit = max(med("eeg", "litdata 1proc|sps"), med("eeg", "litdata 2workers|sps"))
    print(f"eeg {t}: python/litdata(best mode) samples/s = {med('eeg', f'bomdata_py {t}|sps') / lit:.2f}; "
          f"python/rust = {med('eeg', f'bomdata_py {t}|sps') / med('eeg', f'bomdata_rust {t}|sps'):.2f}")
    print(f"fmri {t}: python/cat MB/s = {med('fmri', f'bomdata_py {t}|mb') / med('fmri', 'cat|mb'):.2f}; "
          f"python/rust = {med('fmri', f'bomdata_py {t}|mb') / med('fmri', f'bomdata_rust {t}|mb'):.2f}")
