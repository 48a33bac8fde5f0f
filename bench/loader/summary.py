#!/usr/bin/env python3
"""Side-by-side table of the harness results and the bomdata loader runs, with the issue's ratios."""
import json
import sys

anchors = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
ours = [json.loads(l) for l in open(sys.argv[2]) if l.strip()]
base = [r for r in anchors if r.get("kind") == "baseline"]
runs = [r for r in anchors if r.get("kind") == "run"]


def best(rows, key):
    return max((r[key] for r in rows), default=None)


def bom(ds, comp, threads, read):
    rows = [r for r in ours if r.get("system") == "bomdata" and r["dataset"].rstrip("/").endswith(f"{ds}/bomdata_{comp}")
            and r["threads"] == threads and r["read"].lower() == read]
    return rows


print("| dataset | system | mode | best MB/s | best samples/s | CPU s/GB (median) | first sample/batch s | n ok | order ok |")
print("|---|---|---|---:|---:|---:|---:|---|---|")
for ds in ["fmri", "eeg"]:
    for r in runs:
        if r["dataset"] != ds:
            continue
        print(f"| {ds} | {r['system']} | {r['mode']} | {r['best_MB_per_s']:.0f} | {r['best_samples_per_s']:.0f} | "
              f"{r['median_cpu_s_per_GB']} | {r['median_first_sample_s']} | {r['n_ok']} | {r['order_ok']} |")
    for comp in ["none", "zstd"]:
        for threads in [1, 2]:
            for read in ["mmap", "pread"]:
                rows = bom(ds, comp, threads, read)
                if not rows:
                    continue
                cpu = sorted(r["cpu_s_per_GB"] for r in rows)[len(rows) // 2]
                first = sorted(r["first_batch_s"] for r in rows)[len(rows) // 2]
                nok = all(r["n"] == r["expected_n"] for r in rows)
                ook = all(r["order_ok"] for r in rows)
                print(f"| {ds} | bomdata{'_zstd' if comp == 'zstd' else ''} | {threads} thread{'s' if threads > 1 else ''} {read} | "
                      f"{best(rows, 'MB_per_s'):.0f} | {best(rows, 'samples_per_s'):.0f} | {cpu} | {first} | {nok} | {ook} |")

print("\n### Baselines\n")
for b in base:
    if "cli_output" in b:
        print(f"- {b['baseline']}: `{b['cli_output']}`")
    else:
        print(f"- {b['baseline']}: best {b['best_MB_per_s']:.0f} MB/s, median {b['median_MB_per_s']:.0f} MB/s")
for r in ours:
    if "baseline" in r:
        print(f"- {r.get('dataset')}: {r['baseline']}: best {r['best_MB_per_s']:.0f} MB/s, {r.get('cpu_s_per_GB')} CPU s/GB")

print("\n### Ratios against the issue's targets\n")


def anchor(ds, system, mode, key):
    rr = [r for r in runs if r["dataset"] == ds and r["system"] == system and r["mode"] == mode]
    return rr[0][key] if rr else None


def bbest(ds, comp, threads, key, reads=("mmap", "pread")):
    v = [best(bom(ds, comp, threads, rd), key) for rd in reads]
    v = [x for x in v if x is not None]
    return max(v) if v else None


cat = {ds: max((b["best_MB_per_s"] for b in base if b["baseline"].startswith(f"cat {ds}/")), default=None) for ds in ["fmri", "eeg"]}
for threads in [1, 2]:
    f = bbest("fmri", "none", threads, "MB_per_s")
    if f and cat["fmri"]:
        print(f"- fmri, {threads} thread(s): bomdata {f:.0f} MB/s vs cat {cat['fmri']:.0f} MB/s = {f / cat['fmri']:.2f} (target >= 0.90)")
for threads, mode in [(1, "1proc"), (2, "2workers")]:
    e = bbest("eeg", "none", threads, "samples_per_s")
    lit = anchor("eeg", "lit", mode, "best_samples_per_s")
    if e and lit:
        print(f"- eeg, {threads} thread(s) vs LitData {mode}: {e:.0f} vs {lit:.0f} samples/s = {e / lit:.2f}x (target >= 2)")
for ds in ["fmri", "eeg"]:
    z = [r for r in ours if r.get("dataset") == ds and "baseline" in r]
    for threads in [1, 2]:
        v = bbest(ds, "zstd", threads, "MB_per_s", reads=("mmap",))
        if z and v:
            zb = z[0]["best_MB_per_s"]
            print(f"- {ds} zstd, {threads} thread(s): {v:.0f} MB/s vs single-thread zstd decompression {zb:.0f} MB/s: "
                  f"slowdown {zb / v:.2f}x (target <= 1.2)")
        rows = bom(ds, "zstd", threads, "mmap")
        if z and rows and z[0].get("cpu_s_per_GB"):
            cpu = sorted(r["cpu_s_per_GB"] for r in rows)[len(rows) // 2]
            print(f"- {ds} zstd, {threads} thread(s), CPU cost: loader {cpu} s/GB vs bare zstd {z[0]['cpu_s_per_GB']} s/GB "
                  f"= {cpu / z[0]['cpu_s_per_GB']:.2f}x (contention-robust form of the 1.2x target; loader incl. opening the dataset)")
            ep = [r["epoch_cpu_s_per_GB"] for r in rows if r.get("epoch_cpu_s_per_GB")]
            if ep:
                e = sorted(ep)[len(ep) // 2]
                print(f"- {ds} zstd, {threads} thread(s), CPU cost of the epoch alone (the baseline also excludes opening): "
                      f"loader {e} s/GB vs bare zstd {z[0]['cpu_s_per_GB']} s/GB = {e / z[0]['cpu_s_per_GB']:.2f}x")
            ew = [r["epoch_MB_per_s"] for r in rows if r.get("epoch_MB_per_s")]
            if ew:
                print(f"- {ds} zstd, {threads} thread(s), epoch alone: {max(ew):.0f} MB/s vs single-thread zstd "
                      f"{z[0]['best_MB_per_s']:.0f} MB/s: slowdown {z[0]['best_MB_per_s'] / max(ew):.2f}x")
