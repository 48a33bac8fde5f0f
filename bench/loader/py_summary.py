#!/usr/bin/env python3
"""Summarises py_run.sh's JSON lines: min / median over rounds per side (in-process throughput
and CPU s/GB, whole-process wall and CPU seconds), the load averages, and the issue's ratios."""
import json
import statistics
import sys
from collections import defaultdict

def first_wins(pairs):
    """py_run.sh puts its side name first; bench_loader_read's own "system" comes later."""
    d = {}
    for k, v in pairs:
        d.setdefault(k, v)
    return d


rows = [json.loads(l, object_pairs_hook=first_wins) for l in open(sys.argv[1]) if l.strip()]
loads = [r["load"] for r in rows if "load" in r]
rows = [r for r in rows if "system" in r]
sides = defaultdict(lambda: defaultdict(list))
for r in rows:
    ds = r.get("ds") or r.get("dataset") or ""
    ds = "eeg" if "eeg" in ds else "fmri"
    sys_ = r["system"]
    if sys_ == "bomdata":  # bench_loader_read's own line
        sys_ = "bomdata_rust"
    if sys_ in ("bomdata_rust", "bomdata_rust_before", "bomdata_py", "bomdata_py_before"):
        key = f"{sys_} {r['threads']}t"
        mb = r.get("mb_s") or r.get("MB_per_s")
        sps = r.get("samples_s") or r.get("samples_per_s")
        cpu = r.get("cpu_s_per_gb") or r.get("cpu_s_per_GB")
    elif sys_ == "lit":
        key = f"litdata {r['mode']}"
        mb, sps, cpu = r["MB_per_s"], r["samples_per_s"], r["cpu_s_per_GB"]
    elif sys_ == "dd":
        key, sps, cpu = "dd", None, None
        mb = r["bytes"] / r["proc_wall_s"] / 1e6 if r.get("proc_wall_s") else None
    else:
        key, mb, sps, cpu = "cat", r["mb_s"], None, None
    for k, v in (("mb", mb), ("sps", sps), ("cpu", cpu), ("pwall", r.get("proc_wall_s")),
                 ("pcpu", r.get("proc_cpu_s")), ("iwall", r.get("wall_s") or r.get("seconds")),
                 ("icpu", cpu * (r.get("bytes") or r.get("payload_bytes") or 0) / 1e9 if cpu else None)):
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


print()
print("Ratios of medians (> 1: the first side is faster). in-process: the loader's own clock from "
      "construction to the last batch; whole process: /usr/bin/time of the process (Python: "
      "interpreter start and imports included).")
for t in ("1t", "2t"):
    for ds in ("eeg", "fmri"):
        r, py, rb, pb = (f"bomdata_rust {t}", f"bomdata_py {t}", f"bomdata_rust_before {t}",
                         f"bomdata_py_before {t}")
        out = []
        if sides[ds].get(py + "|sps") and sides[ds].get(r + "|sps"):
            out.append(f"python/rust samples/s {med(ds, py + '|sps') / med(ds, r + '|sps'):.2f}")
            out.append(f"CPU s/GB rust/python {med(ds, r + '|cpu') / med(ds, py + '|cpu'):.2f}")
        if sides[ds].get(pb + "|sps") and sides[ds].get(rb + "|sps"):
            out.append(f"(before: {med(ds, pb + '|sps') / med(ds, rb + '|sps'):.2f}, "
                       f"{med(ds, rb + '|cpu') / med(ds, pb + '|cpu'):.2f})")
        if sides[ds].get("dd|pwall"):
            ddw, ddc = med(ds, "dd|pwall"), med(ds, "dd|pcpu")
            for side in (r, rb, py, pb):
                if not sides[ds].get(side + "|pwall"):
                    continue
                out.append(f"{side.split()[0]} vs dd whole process: wall {ddw / med(ds, side + '|pwall'):.2f}, "
                           f"CPU {ddc / med(ds, side + '|pcpu'):.2f}")
            for side in (r, py):
                if sides[ds].get(side + "|iwall"):
                    out.append(f"dd whole-process wall / {side.split()[0]} in-process wall "
                               f"{ddw / med(ds, side + '|iwall'):.2f}")
                if sides[ds].get(side + "|icpu") and min(sides[ds][side + "|icpu"]) > 0:
                    out.append(f"dd whole-process CPU / {side.split()[0]} in-process CPU "
                               f"{ddc / med(ds, side + '|icpu'):.2f}")
        if out:
            print(f"- {ds} {t}: " + "; ".join(out))

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
