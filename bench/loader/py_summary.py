#!/usr/bin/env python3
"""Summarises py_run.sh's JSON lines: min / median over rounds per side (in-process throughput
and CPU s/GB, whole-process wall and CPU seconds), the load averages, and the issue's ratios."""
import json
import statistics
import sys
from collections import defaultdict

rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
loads = [r["load"] for r in rows if "load" in r]
rows = [r for r in rows if "system" in r]
sides = defaultdict(lambda: defaultdict(list))
for r in rows:
    ds = r.get("ds") or r.get("dataset") or ""
    ds = "eeg" if "eeg" in ds else "fmri"
    sys_ = r["system"]
    if sys_ == "bomdata":  # bench_loader_read's own line
        sys_ = "bomdata_rust"
    if sys_ in ("bomdata_rust", "bomdata_py", "bomdata_py_before"):
        key = f"{sys_} {r['threads']}t"
        mb = r.get("mb_s") or r.get("MB_per_s")
        sps = r.get("samples_s") or r.get("samples_per_s")
        cpu = r.get("cpu_s_per_gb") or r.get("cpu_s_per_GB")
    elif sys_ == "lit":
        key = f"litdata {r['mode']}"
        mb, sps, cpu = r["MB_per_s"], r["samples_per_s"], r["cpu_s_per_GB"]
    else:
        key, mb, sps, cpu = "cat", r["mb_s"], None, None
    for k, v in (("mb", mb), ("sps", sps), ("cpu", cpu), ("pwall", r.get("proc_wall_s")),
                 ("pcpu", r.get("proc_cpu_s"))):
        if v is not None:
            sides[ds][key + "|" + k].append(float(v))


def fmt(v):
    return "-" if not v else f"{max(v):,.0f} / {statistics.median(v):,.0f}"


if loads:
    print(f"load average (1 min) at the rounds' starts: {min(loads)}-{max(loads)}")
print("| data | side | MB/s best / median | samples/s best / median | CPU s/GB min / median "
      "| process wall s min / median | process CPU s min / median |")
print("|---|---|---:|---:|---:|---:|---:|")


def lo(v, f="{:.2f}"):
    return "-" if not v else f"{f.format(min(v))} / {f.format(statistics.median(v))}"


for ds in ("eeg", "fmri"):
    keys = sorted({k.split("|")[0] for k in sides[ds]})
    for k in keys:
        g = sides[ds].get
        print(f"| {ds} | {k} | {fmt(g(k + '|mb'))} | {fmt(g(k + '|sps'))} | {lo(g(k + '|cpu'))} "
              f"| {lo(g(k + '|pwall'))} | {lo(g(k + '|pcpu'))} |")


def med(ds, k):
    v = sides[ds].get(k)
    return statistics.median(v) if v else float("nan")


for t in ("1t", "2t"):
    lit = max(med("eeg", "litdata 1proc|sps"), med("eeg", "litdata 2workers|sps"))
    for py in ("bomdata_py", "bomdata_py_before"):
        if not sides["eeg"].get(f"{py} {t}|sps"):
            continue
        print(f"{py} eeg {t}: python/litdata(best mode) samples/s = "
              f"{med('eeg', f'{py} {t}|sps') / lit:.2f}; python/rust samples/s = "
              f"{med('eeg', f'{py} {t}|sps') / med('eeg', f'bomdata_rust {t}|sps'):.2f}; "
              f"CPU s/GB python/rust = {med('eeg', f'{py} {t}|cpu') / med('eeg', f'bomdata_rust {t}|cpu'):.2f}")
        print(f"{py} fmri {t}: python/cat MB/s = {med('fmri', f'{py} {t}|mb') / med('fmri', 'cat|mb'):.2f}; "
              f"python/rust MB/s = {med('fmri', f'{py} {t}|mb') / med('fmri', f'bomdata_rust {t}|mb'):.2f}; "
              f"CPU s/GB python/rust = {med('fmri', f'{py} {t}|cpu') / med('fmri', f'bomdata_rust {t}|cpu'):.2f}")
