"""Whole-process timing of two commands, alternated: wall, CPU (user + sys of the process and
its threads/children) and peak RSS per run, min and median per side, the ratios, and the load
average before and after. (A small helper of this folder until bench/common lands.)

usage: compare.py REPEATS LABEL_A 'CMD_A' LABEL_B 'CMD_B' [--before 'CMD'] [--json OUT]
  CMD_* run through `sh -c`; `--before` runs (untimed) before every timed run, e.g. to remove
  the previous output. Prints one line per run and a summary; exits non-zero if a run fails.
"""
import json
import os
import statistics
import subprocess
import sys
import time


def run(cmd):
    t0 = time.perf_counter()
    p = subprocess.Popen(["sh", "-c", cmd], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t0
    if status != 0:
        sys.exit(f"failed ({status}): {cmd}")
    return {"wall": wall, "cpu": ru.ru_utime + ru.ru_stime, "rss_mib": ru.ru_maxrss / 1024}


def main():
    args = sys.argv[1:]
    before, out = None, None
    if "--before" in args:
        i = args.index("--before")
        before = args[i + 1]
        del args[i : i + 2]
    if "--json" in args:
        i = args.index("--json")
        out = args[i + 1]
        del args[i : i + 2]
    repeats, la, ca, lb, cb = int(args[0]), args[1], args[2], args[3], args[4]
    load0 = open("/proc/loadavg").read().split()[:3]
    runs = {la: [], lb: []}
    for k in range(repeats):
        # Alternate which side goes first, so that neither always follows the other.
        order = [(la, ca), (lb, cb)] if k % 2 == 0 else [(lb, cb), (la, ca)]
        for label, cmd in order:
            if before:
                subprocess.run(["sh", "-c", before], check=True)
            r = run(cmd)
            runs[label].append(r)
            print(f"{label}: wall {r['wall']:.2f} s | cpu {r['cpu']:.2f} s | peak RSS {r['rss_mib']:.0f} MiB", flush=True)
    load1 = open("/proc/loadavg").read().split()[:3]
    summary = {}
    for label in (la, lb):
        rs = runs[label]
        summary[label] = {
            f"{stat}_{key}": f([r[key] for r in rs])
            for key in ("wall", "cpu", "rss_mib")
            for stat, f in (("min", min), ("median", statistics.median), ("max", max))
        }
        s = summary[label]
        print(
            f"{label}: wall min {s['min_wall']:.2f} / median {s['median_wall']:.2f} s, "
            f"cpu min {s['min_cpu']:.2f} / median {s['median_cpu']:.2f} s, "
            f"peak RSS max {s['max_rss_mib']:.0f} MiB ({repeats} runs)"
        )
    a, b = summary[la], summary[lb]
    print(
        f"ratio {lb}/{la}: cpu {b['min_cpu'] / a['min_cpu']:.2f}x (min) "
        f"{b['median_cpu'] / a['median_cpu']:.2f}x (median); wall {b['min_wall'] / a['min_wall']:.2f}x (min) "
        f"{b['median_wall'] / a['median_wall']:.2f}x (median)"
    )
    print(f"load average before {' '.join(load0)}, after {' '.join(load1)}")
    if out:
        with open(out, "w") as fh:
            json.dump({"runs": runs, "summary": summary, "load": [load0, load1]}, fh, indent=1)


main()
