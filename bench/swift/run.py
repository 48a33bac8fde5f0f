#!/usr/bin/env python3
"""Helper of bench/swift/run.sh: generate the run, time the NumPy reference and bomdata.

usage: run.py BENCH_SWIFT_BINARY FILE.nii.gz NX NY NZ NT
"""

import json
import os
import resource
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def generate(path, nx, ny, nz, nt):
    """A float32 run on an MNI-like grid: ellipsoid brain (~30% of the box) with a per-voxel
    baseline and temporal noise, zero background; saved by nibabel (its default gzip level)."""
    import nibabel as nib

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


REF = """
import sys, time
sys.path.insert(0, {mri!r})
import numpy as np
import swift_reference as s
t0 = time.perf_counter()
data = s.load_nifti({path!r})
t1 = time.perf_counter()
wins, stats = s.swift_windows(data, rule="ukb" if data.shape[:3] == (91, 109, 91) else "center")
t2 = time.perf_counter()
assert wins[0].shape == (1, 96, 96, 96, 20) and wins[0].dtype == np.float16
print({{"load_s": t1 - t0, "preprocess_s": t2 - t1, "total_s": t2 - t0, "windows": len(wins)}})
"""


def child(argv):
    """Runs argv; its last stdout line and the CPU seconds (user + sys) it used."""
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run(argv, check=True, capture_output=True, text=True)
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    return out.stdout.strip().splitlines()[-1], cpu


def python_ref(path):
    code = REF.format(mri=os.path.join(ROOT, "python", "mri"), path=path)
    line, cpu = child([sys.executable, "-c", code])
    r = eval(line)
    r["cpu_s"] = cpu
    return r


def bomdata(binary, path, jobs):
    line, cpu = child([binary, path, "--jobs", str(jobs)])
    r = json.loads(line)
    r["cpu_s"] = cpu
    return r


def main():
    binary, path = sys.argv[1], sys.argv[2]
    nx, ny, nz, nt = map(int, sys.argv[3:7])
    if not os.path.exists(path):
        t0 = time.perf_counter()
        generate(path, nx, ny, nz, nt)
        print(f"generated {path} in {time.perf_counter() - t0:.1f} s")
    raw = nx * ny * nz * nt * 4
    print(f"run {nx}x{ny}x{nz}x{nt} float32: {raw / 2**20:.0f} MiB raw, {os.path.getsize(path) / 2**20:.0f} MiB gzip; "
          f"cpus: {os.cpu_count()}, load average {os.getloadavg()[0]:.1f}")
    # Warm the page cache, then interleave the measurements (best of REPEAT each, default 2).
    bomdata(binary, path, 1)
    py, b1, b2 = [], [], []
    for _ in range(int(os.environ.get("REPEAT", "2"))):
        py.append(python_ref(path))
        b1.append(bomdata(binary, path, 1))
        b2.append(bomdata(binary, path, 2))
    p = min(py, key=lambda r: r["total_s"])
    one = min(b1, key=lambda r: r["wall_s"])
    two = min(b2, key=lambda r: r["wall_s"])
    print(f"(a) numpy/nibabel reference  : {p['total_s']:.2f} s wall, {p['cpu_s']:.2f} s cpu  (load {p['load_s']:.2f} s, preprocess {p['preprocess_s']:.2f} s, {p['windows']} windows)")
    print(f"(b) bomdata 1 thread, 1 run   : {one['wall_s']:.2f} s wall, {one['cpu_s']:.2f} s cpu  (read {one['read_s']:.2f} s, profile {one['profile_s']:.2f} s, {one['windows']} windows)")
    print(f"(c) bomdata 2 threads, 2 runs : {two['wall_s']:.2f} s wall, {two['cpu_s']:.2f} s cpu")
    print(f"speed-up single-threaded: {p['total_s'] / one['wall_s']:.1f}x wall, {p['cpu_s'] / one['cpu_s']:.1f}x cpu (target >= 5x)")
    print(f"2-thread scaling: {2 * one['wall_s'] / two['wall_s']:.2f}x the throughput of 1 thread (linear = 2.00x; "
          f"cpu per run {two['cpu_s'] / 2:.2f} s vs {one['cpu_s']:.2f} s)")

if __name__ == "__main__":
    main()
