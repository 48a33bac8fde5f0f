#!/usr/bin/env python3
"""Helper of bench/swift/run.sh: SwiFT product path, whole processes on both sides.

usage: run.py BOMDATA BENCH_NIFTI WORK_DIR NX NY NZ NT

Sides (each one fresh process, or one process per command; process start and imports count):
  numpy    python swift_numpy.py RUN OUT          nibabel load + SwiFT windows + np.save each
  bomdata  bomdata ingest BIDS --out C -j 1  +  bomdata shard C --out T --profile swift -j 1
  direct   bomdata ingest BIDS --out T -j 1 --profile swift     (when the binary has it)
Read stage alone:
  nibabel  python swift_numpy.py --load RUN        nib.load + dataobj as float32
  read     bench_nifti read RUN                     bomdata-nifti: the run into one C-order
                                                    float32 buffer, as ingest does
OLD_BOMDATA / OLD_BENCH_NIFTI (optional): an earlier build's binaries, timed in the same rounds
(sides `old`, `oldread`) for old and new figures side by side.
The sides alternate, REPEAT (>= 3) rounds; wall and CPU (user + sys, from os.wait4 of each
child) per side, min and median; outputs are removed between repeats (outside the timing);
the page cache is warm for every side (one untimed warm-up round).
(Own small timing helper: bench/common/ had not landed when this was written.)
"""

import os
import shutil
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def generate(path, nx, ny, nz, nt):
    """A float32 run on an MNI-like grid: ellipsoid brain with a per-voxel baseline and temporal
    noise, zero background; saved by nibabel (its default gzip level)."""
    import nibabel as nib
    import numpy as np

    rng = np.random.default_rng(0)
    c = [((np.arange(n) + 0.5) / n * 2 - 1) ** 2 for n in (nx, ny, nz)]
    r = c[0][:, None, None] + c[1][None, :, None] + c[2][None, None, :]
    mask = r < 0.8
    base = (3000 + 4000 * rng.random((nx, ny, nz))).astype(np.float32)
    data = np.zeros((nx, ny, nz, nt), np.float32)
    for t in range(nt):
        frame = base + rng.standard_normal((nx, ny, nz), dtype=np.float32) * 150
        data[..., t] = np.where(mask, frame, 0)
    img = nib.Nifti1Image(data, np.diag([-2.0, 2.0, 2.0, 1.0]))
    img.header.set_xyzt_units("mm", "sec")
    img.header["pixdim"][4] = 0.735
    nib.save(img, path)


def timed(argv):
    """Runs argv to completion; (wall s, cpu s = user + sys of that child, peak RSS MiB)."""
    t0 = time.perf_counter()
    p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t0
    err = p.stderr.read().decode(errors="replace")
    p.stderr.close()
    if status != 0:
        sys.exit(f"{argv} failed ({status}):\n{err}")
    return wall, ru.ru_utime + ru.ru_stime, ru.ru_maxrss / 1024, ru.ru_utime, ru.ru_stime


def run_side(cmds, clean):
    for d in clean:
        shutil.rmtree(d, ignore_errors=True)
    tot = [0.0] * 5
    peak = 0.0
    for argv in cmds:
        w, c, rss, u, s = timed(argv)
        tot = [tot[0] + w, tot[1] + c, 0, tot[3] + u, tot[4] + s]
        peak = max(peak, rss)
    tot[2] = peak
    return tot


def has_direct(bomdata):
    out = subprocess.run([bomdata, "ingest", "--help"], capture_output=True, text=True)
    return "--profile" in out.stdout + out.stderr


def main():
    bomdata, bench_nifti, work = sys.argv[1], sys.argv[2], sys.argv[3]
    nx, ny, nz, nt = map(int, sys.argv[4:8])
    rounds = max(3, int(os.environ.get("REPEAT", "3")))
    py = os.environ.get("PYTHON", sys.executable)
    bids = os.path.join(work, "bids")
    run = os.path.join(bids, "sub-01", "func", "sub-01_task-rest_bold.nii.gz")
    if not os.path.exists(run):
        os.makedirs(os.path.dirname(run), exist_ok=True)
        with open(os.path.join(bids, "dataset_description.json"), "w") as f:
            f.write('{"Name": "bench", "BIDSVersion": "1.8.0"}')
        t0 = time.perf_counter()
        generate(run, nx, ny, nz, nt)
        print(f"generated {run} in {time.perf_counter() - t0:.1f} s")
    canon, train, direct, npout = (os.path.join(work, d) for d in ("canon", "train", "direct", "npout"))
    ing = ["--source", "hbn_mri", "--allow-unkeyed", "-j", "1"]
    sides = {
        "numpy": ([[py, os.path.join(HERE, "swift_numpy.py"), run, npout]], [npout]),
        "bomdata": ([[bomdata, "ingest", bids, "--out", canon, *ing],
                     [bomdata, "shard", canon, "--out", train, "--profile", "swift", "-j", "1"]],
                    [canon, canon + ".private", train]),
    }
    if has_direct(bomdata):
        sides["direct"] = ([[bomdata, "ingest", bids, "--out", direct, *ing, "--profile", "swift"]],
                           [direct, direct + ".private"])
    old_bin = os.environ.get("OLD_BOMDATA")
    if old_bin:  # an earlier build, for old and new figures side by side in one run
        sides["old"] = ([[old_bin, "ingest", bids, "--out", canon, *ing],
                         [old_bin, "shard", canon, "--out", train, "--profile", "swift", "-j", "1"]],
                        [canon, canon + ".private", train])
    sides["nibabel"] = ([[py, os.path.join(HERE, "swift_numpy.py"), "--load", run]], [])
    sides["read"] = ([[bench_nifti, "read", run]], [])
    if os.environ.get("OLD_BENCH_NIFTI"):
        sides["oldread"] = ([[os.environ["OLD_BENCH_NIFTI"], "read", run]], [])
    raw = nx * ny * nz * nt * 4
    print(f"run {nx}x{ny}x{nz}x{nt} float32: {raw / 2**20:.0f} MiB raw, "
          f"{os.path.getsize(run) / 2**20:.0f} MiB gzip; cpus {os.cpu_count()}; "
          f"{rounds} alternating rounds after one warm-up")
    res = {k: [] for k in sides}
    for r in range(rounds + 1):
        for k, (cmds, clean) in sides.items():
            t = run_side(cmds, clean)
            if r > 0:
                res[k].append(t)
    print("uptime:", subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())

    def fig(k):
        w = [t[0] for t in res[k]]
        c = [t[1] for t in res[k]]
        return min(w), statistics.median(w), min(c), statistics.median(c)

    print(f"{'side':8s} {'wall min':>9s} {'wall med':>9s} {'cpu min':>8s} {'cpu med':>8s} "
          f"{'user med':>8s} {'sys med':>8s} {'peak MiB':>8s}")
    for k in sides:
        wmin, wmed, cmin, cmed = fig(k)
        u = statistics.median(t[3] for t in res[k])
        s = statistics.median(t[4] for t in res[k])
        pk = max(t[2] for t in res[k])
        print(f"{k:8s} {wmin:9.2f} {wmed:9.2f} {cmin:8.2f} {cmed:8.2f} {u:8.2f} {s:8.2f} {pk:8.0f}")
    n = fig("numpy")
    for k in ("bomdata", "direct", "old"):
        if k in res:
            b = fig(k)
            print(f"{k} vs numpy: {n[1] / b[1]:.2f}x wall (median), {n[3] / b[3]:.2f}x cpu (median), "
                  f"{n[2] / b[2]:.2f}x cpu (min)  (target >= 5x cpu)")
    nb, rd = fig("nibabel"), fig("read")
    print(f"read stage: bomdata read {nb[1] / rd[1]:.2f}x nibabel load wall (median), "
          f"{nb[3] / rd[3]:.2f}x cpu (median)  (target > 1)")
    if "oldread" in res:
        o = fig("oldread")
        print(f"read stage before: {nb[1] / o[1]:.2f}x wall (median), {nb[3] / o[3]:.2f}x cpu (median)")


if __name__ == "__main__":
    main()
