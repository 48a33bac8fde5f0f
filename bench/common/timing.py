#!/usr/bin/env python3
"""Common timing for bomdata's benches: whole processes, alternating sides, wall and CPU.

Every side is a command run as its own process (``subprocess.Popen`` + ``os.wait4``), so each
side pays its own start, imports and exit, and CPU time is the child's own user + sys from
``wait4``'s rusage (children it spawns and waits for are included by the kernel). Sides
alternate: round r runs the sides rotated by r (A B C, B C A, C A B, ...), each side the same
number of times. Per run one JSON line is written (stdout, and ``--jsonl FILE`` if given);
then a summary per side (min / median of wall and CPU, peak RSS) and the ratios of every side
against the baseline side (baseline / side: > 1 means the side is faster), with the load
average (``uptime``) at the start and the end.

Library use::

    from timing import Side, run_sides, summarize
    runs = run_sides([Side("cat", ["cat", "a"]), Side("bomdata", ["bomdata", ...])], repeat=3)
    summarize(runs, baseline="cat")

Command line (each ``--side NAME CMD`` is split with shlex; ``--shell`` runs every side through
``bash -c`` instead, so both sides pay the same shell)::

    bench/common/timing.py --repeat 3 --baseline cat \\
        --before 'rm -rf /tmp/out' --side cat 'cat big > /tmp/out' --side shard '...' --shell

A side's stdout is kept: if its last line is a JSON object it is attached to the run record as
``reported`` (for benches whose processes report their own in-process figures). A run exiting
non-zero stops the bench (exit 1) unless ``--keep-going``.
"""
from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field

__all__ = ["Side", "Run", "run_once", "run_sides", "summarize", "uptime", "load1"]


@dataclass
class Side:
    """One side of a comparison: a name and the command (argv list, or a string for bash -c)."""

    name: str
    cmd: list[str] | str
    env: dict[str, str] | None = None
    cwd: str | None = None
    before: list[str] | str | None = None  # untimed command run before every timed run
    stdin: str | None = None  # path fed on stdin
    stdout_to: str | None = None  # path the side's stdout goes to (else captured)


@dataclass
class Run:
    """One timed process."""

    side: str
    round: int
    wall_s: float
    user_s: float
    sys_s: float
    maxrss_mb: float
    rc: int
    load1_before: float
    load1_after: float
    reported: dict | None = None
    stdout_tail: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def cpu_s(self) -> float:
        return self.user_s + self.sys_s

    def record(self, bench: str | None = None) -> dict:
        d = {
            "bench": bench,
            "side": self.side,
            "round": self.round,
            "wall_s": round(self.wall_s, 4),
            "cpu_s": round(self.cpu_s, 4),
            "user_s": round(self.user_s, 4),
            "sys_s": round(self.sys_s, 4),
            "maxrss_mb": round(self.maxrss_mb, 1),
            "rc": self.rc,
            "load1": [round(self.load1_before, 2), round(self.load1_after, 2)],
        }
        if self.reported is not None:
            d["reported"] = self.reported
        d.update(self.extra)
        return d


def load1() -> float:
    """The 1-minute load average."""
    return os.getloadavg()[0]


def uptime() -> str:
    """`uptime`'s line (falls back to the load averages)."""
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "load average: %.2f, %.2f, %.2f" % os.getloadavg()


def _argv(cmd: list[str] | str) -> list[str]:
    return ["bash", "-c", cmd] if isinstance(cmd, str) else [str(c) for c in cmd]


def _last_json(text: str) -> dict | None:
    for line in reversed(text.strip().splitlines()):
        line = line.strip()
        if not line:
            continue
        if line.startswith("{"):
            try:
                v = json.loads(line)
                return v if isinstance(v, dict) else None
            except ValueError:
                return None
        return None
    return None


def run_once(side: Side, rnd: int = 0) -> Run:
    """Runs `side` once as a whole process and measures it."""
    env = None
    if side.env:
        env = dict(os.environ)
        env.update(side.env)
    if side.before:
        subprocess.run(_argv(side.before), env=env, cwd=side.cwd, check=True,
                       stdout=subprocess.DEVNULL)
    stdin = open(side.stdin, "rb") if side.stdin else subprocess.DEVNULL
    # stdout/stderr go to files (not pipes): the child is reaped by os.wait4 alone, so its
    # rusage is exactly its own (and its waited-for children's).
    out = open(side.stdout_to, "w+b") if side.stdout_to else tempfile.TemporaryFile()
    err = tempfile.TemporaryFile()
    l0 = load1()
    try:
        t0 = time.perf_counter()
        p = subprocess.Popen(_argv(side.cmd), env=env, cwd=side.cwd, stdin=stdin, stdout=out,
                             stderr=err)
        _, status, ru = os.wait4(p.pid, 0)
        wall = time.perf_counter() - t0
        p.returncode = os.waitstatus_to_exitcode(status)
        text = ""
        if not side.stdout_to:
            out.seek(0)
            text = out.read().decode(errors="replace")
        err.seek(0)
        etext = err.read().decode(errors="replace")
    finally:
        if side.stdin:
            stdin.close()
        out.close()
        err.close()
    if p.returncode != 0:
        sys.stderr.write(etext[-4000:])
    return Run(side=side.name, round=rnd, wall_s=wall, user_s=ru.ru_utime, sys_s=ru.ru_stime,
               maxrss_mb=ru.ru_maxrss / 1024.0, rc=p.returncode, load1_before=l0,
               load1_after=load1(), reported=_last_json(text), stdout_tail=text[-2000:])


def run_sides(sides: list[Side], repeat: int = 3, warmup: int = 0, bench: str | None = None,
              jsonl: str | None = None, keep_going: bool = False, quiet: bool = False) -> list[Run]:
    """Runs every side `repeat` times, alternating (round r rotates the order by r).

    `warmup` untimed rounds run first (page cache, lazy binaries). Each run is printed as a JSON
    line (to stdout unless `quiet`, and appended to `jsonl`). Raises RuntimeError on a failing
    run unless `keep_going`.
    """
    for r in range(warmup):
        for s in sides:
            run_once(s, -1 - r)
    runs: list[Run] = []
    sink = open(jsonl, "a") if jsonl else None
    try:
        for r in range(repeat):
            k = r % len(sides)
            for s in sides[k:] + sides[:k]:
                run = run_once(s, r)
                runs.append(run)
                line = json.dumps(run.record(bench))
                if not quiet:
                    print(line, flush=True)
                if sink:
                    sink.write(line + "\n")
                    sink.flush()
                if run.rc != 0 and not keep_going:
                    raise RuntimeError(f"side {s.name} exited {run.rc}: {run.stdout_tail[-500:]}")
    finally:
        if sink:
            sink.close()
    return runs


def _stats(values: list[float]) -> dict:
    return {"min": round(min(values), 4), "median": round(statistics.median(values), 4),
            "n": len(values)}


def summarize(runs: list[Run], baseline: str | None = None, bench: str | None = None,
              metric_fns: dict | None = None, out=sys.stdout) -> dict:
    """Per side min/median of wall and CPU (and of any `metric_fns[name](run)`), the ratios
    baseline / side of the min and of the median, and the load; printed as a table and as one
    JSON line (``{"summary": ...}``), which is also returned."""
    order: list[str] = []
    for r in runs:
        if r.side not in order:
            order.append(r.side)
    per: dict[str, dict] = {}
    for name in order:
        rs = [r for r in runs if r.side == name and r.rc == 0]
        if not rs:
            continue
        d = {"wall_s": _stats([r.wall_s for r in rs]), "cpu_s": _stats([r.cpu_s for r in rs]),
             "user_s": _stats([r.user_s for r in rs]), "sys_s": _stats([r.sys_s for r in rs]),
             "maxrss_mb": round(max(r.maxrss_mb for r in rs), 1)}
        for m, fn in (metric_fns or {}).items():
            vals = [v for v in (fn(r) for r in rs) if v is not None]
            if vals:
                d[m] = _stats(vals)
        per[name] = d
    ratios = {}
    if baseline and baseline in per:
        b = per[baseline]
        for name, d in per.items():
            if name == baseline:
                continue
            ratios[name] = {
                f"{k}_{s}": round(b[k][s] / d[k][s], 3) if d[k][s] > 0 else None
                for k in ("wall_s", "cpu_s") for s in ("min", "median")
            }
    loads = [x for r in runs for x in (r.load1_before, r.load1_after)]
    summary = {"bench": bench, "baseline": baseline, "sides": per,
               "ratios_baseline_over_side": ratios,
               "load1": {"min": round(min(loads), 2), "max": round(max(loads), 2)} if loads else None,
               "uptime_end": uptime(), "cpus": os.cpu_count()}
    w = out.write
    w(f"\n{bench or 'bench'}: {len(runs)} runs, alternating; load1 {summary['load1']}\n")
    w(f"{'side':<28} {'wall min':>9} {'wall med':>9} {'cpu min':>9} {'cpu med':>9} {'rss MB':>8}\n")
    for name, d in per.items():
        w(f"{name:<28} {d['wall_s']['min']:>9.3f} {d['wall_s']['median']:>9.3f} "
          f"{d['cpu_s']['min']:>9.3f} {d['cpu_s']['median']:>9.3f} {d['maxrss_mb']:>8.0f}\n")
    for name, r in ratios.items():
        w(f"{baseline} / {name}: wall {r['wall_s_min']} (min) {r['wall_s_median']} (median), "
          f"cpu {r['cpu_s_min']} (min) {r['cpu_s_median']} (median)\n")
    w(json.dumps({"summary": summary}) + "\n")
    return summary


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--side", nargs=2, action="append", metavar=("NAME", "CMD"), required=True)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=0)
    ap.add_argument("--baseline", help="side the others are compared with (default: the first)")
    ap.add_argument("--before", help="untimed command before every timed run (bash -c)")
    ap.add_argument("--shell", action="store_true", help="run every side through bash -c")
    ap.add_argument("--bench", help="name recorded in every JSON line")
    ap.add_argument("--jsonl", help="append every run and the summary to this file")
    ap.add_argument("--keep-going", action="store_true")
    a = ap.parse_args(argv)
    if a.repeat < 1:
        ap.error("--repeat must be >= 1")
    sides = [Side(n, c if a.shell else shlex.split(c), before=a.before) for n, c in a.side]
    print(json.dumps({"bench": a.bench, "uptime_start": uptime()}), flush=True)
    try:
        runs = run_sides(sides, a.repeat, a.warmup, a.bench, a.jsonl, a.keep_going)
    except RuntimeError as e:
        print(f"timing: {e}", file=sys.stderr)
        return 1
    s = summarize(runs, a.baseline or sides[0].name, a.bench)
    if a.jsonl:
        with open(a.jsonl, "a") as f:
            f.write(json.dumps({"summary": s}) + "\n")
    return 0 if all(r.rc == 0 for r in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
