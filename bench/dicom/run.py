"""DICOM series -> canonical volume: bomdata against dcm2niix on one 200-slice series.

Both sides are whole processes timed the same way (fork/exec, wait4: wall, user+sys CPU),
alternating, after a warm-up run of each (warm page cache), each output folder removed before
its run. Prints min/median wall and CPU per side, the ratios, and `uptime` before and after.
(bench/common did not exist when this was written; this is its own small helper.)

usage: run.py SRC SCRATCH REPEATS NAME=CMD... (CMD with {out} for the output folder)
"""
import os
import shutil
import statistics
import subprocess
import sys
import time


def timed(argv):
    t0 = time.perf_counter()
    pid = os.fork()
    if pid == 0:
        fd = os.open(os.devnull, os.O_WRONLY)
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        try:
            os.execvp(argv[0], argv)
        finally:
            os._exit(127)
    _, status, ru = os.wait4(pid, 0)
    wall = time.perf_counter() - t0
    if status != 0:
        sys.exit(f"{argv} failed with status {status}")
    return wall, ru.ru_utime + ru.ru_stime


def main():
    src, scratch, repeats = sys.argv[1], sys.argv[2], int(sys.argv[3])
    sides = [a.split("=", 1) for a in sys.argv[4:]]
    print("load before:", subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())
    for f in sorted(os.listdir(src)):
        p = os.path.join(src, f)
        if os.path.isdir(p):
            for g in os.listdir(p):
                with open(os.path.join(p, g), "rb") as fh:
                    fh.read()
    res = {name: [] for name, _ in sides}
    for r in range(repeats + 1):  # run 0 is the warm-up, not counted
        for name, cmd in sides:
            out = os.path.join(scratch, f"out-{name}")
            shutil.rmtree(out, ignore_errors=True)
            if name != "bomdata":
                os.makedirs(out)
            argv = [a.replace("{out}", out).replace("{src}", src) for a in cmd.split()]
            w, c = timed(argv)
            if r:
                res[name].append((w, c))
    print("load after: ", subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())
    print(f"{'side':<12} {'n':>2} {'wall min':>9} {'wall med':>9} {'cpu min':>8} {'cpu med':>8}")
    stats = {}
    for name, _ in sides:
        w = [x[0] for x in res[name]]
        c = [x[1] for x in res[name]]
        stats[name] = (min(w), statistics.median(w), min(c), statistics.median(c))
        print(f"{name:<12} {len(w):>2} {stats[name][0]:9.3f} {stats[name][1]:9.3f} {stats[name][2]:8.3f} {stats[name][3]:8.3f}")
    names = [n for n, _ in sides]
    base = names[-1]
    for n in names[:-1]:
        b, o = stats[base], stats[n]
        print(f"{base}/{n}: wall min {b[0] / o[0]:.2f}x, wall median {b[1] / o[1]:.2f}x, "
              f"cpu min {b[2] / o[2]:.2f}x, cpu median {b[3] / o[3]:.2f}x")


if __name__ == "__main__":
    main()
