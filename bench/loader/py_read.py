#!/usr/bin/env python3
"""Reads a bomdata dataset through the Python package (`bomdata.Loader`) the way
`bench_loader_read` reads it in Rust, and prints one JSON line of the same figures.

    py_read.py DATASET_DIR THREADS BATCH [mmap|pread] [RAW_DATA_BIN]

Sequential order (shuffle none, shard order), batches of BATCH samples from THREADS reader
threads; each batch's `x.npy` arrives as a zero-copy NumPy view of the loader's batch buffer
(the staging buffer: no further copy, as in the Rust bench), `meta.json` as bytes. Figures:
decoded MB/s and samples/s from loader construction to the last batch, CPU seconds per GB
(user+sys of the process), time to the first batch. With RAW_DATA_BIN, the sample count and the
first and last samples are checked against the harness's flat layout.
"""
import json
import os
import resource
import sys
import time

import numpy as np

import bomdata


def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def same_as_raw(f, off, arr):
    """Whether ``arr``'s bytes equal the raw file's at ``off`` (64 KiB chunks into one buffer,
    no copy of the sample: as bench_loader_read's check)."""
    want = memoryview(np.ascontiguousarray(arr)).cast("B")
    buf = bytearray(64 << 10)
    f.seek(off)
    for i in range(0, len(want), len(buf)):
        n = min(len(buf), len(want) - i)
        if f.readinto(memoryview(buf)[:n]) != n:
            return False
        # bytearray == buffer compares with memcmp
        if (buf if n == len(buf) else buf[:n]) != want[i:i + n]:
            return False
    return True


def main():
    path, threads, batch = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    read = sys.argv[4] if len(sys.argv) > 4 else "pread"
    raw = sys.argv[5] if len(sys.argv) > 5 else None
    c0, t0 = cpu(), time.perf_counter()
    loader = bomdata.Loader(path, batch_size=batch, threads=threads, shuffle="none",
                            shuffle_shards=False, read=read, fields=["x.npy", "meta.json"],
                            prefetch=2 * threads, rank=0, world_size=1)
    f = open(raw, "rb") if raw else None
    first_t, n, nbytes, first_ok, last = None, 0, 0, None, None
    for b in loader:
        x = b["x.npy"]
        if first_t is None:
            first_t = time.perf_counter() - t0
            if f is not None:
                first_ok = same_as_raw(f, 0, x[0])
        n += x.shape[0]
        nbytes += x.nbytes
        last = x
    wall = time.perf_counter() - t0
    c = cpu() - c0
    ok = None
    if f is not None and last is not None:
        rec = last[-1].nbytes
        whole = os.fstat(f.fileno()).st_size == rec * n
        ok = bool(whole and first_ok and same_as_raw(f, (n - 1) * rec, last[-1]))
    print(json.dumps({
        "system": "bomdata_py", "dataset": path, "threads": threads, "batch": batch,
        "read": read, "samples": n, "bytes": nbytes, "wall_s": round(wall, 4),
        "mb_s": round(nbytes / wall / 1e6, 1), "samples_s": round(n / wall, 1),
        "cpu_s_per_gb": round(c / (nbytes / 1e9), 3), "first_batch_s": round(first_t or 0, 4),
        "check_ok": ok,
    }))


if __name__ == "__main__":
    main()
