#!/usr/bin/env python3
"""One rival loader process for bench/loader/run.sh: read a harness dataset with its own loader.

`rival_read.py SYSTEM DATA DATASET BATCH WORKERS`, SYSTEM one of
  - lit: LitData `StreamingDataset(input_dir=DATA/DATASET/lit, shuffle=False)` through its
         `StreamingDataLoader(batch_size=BATCH, num_workers=WORKERS)` (LitData's recommended way);
  - mds: MosaicML `StreamingDataset(local=DATA/DATASET/mds, shuffle=False, batch_size=BATCH)`
         through `StreamingDataLoader(batch_size=BATCH, num_workers=WORKERS)`.
BATCH is bomdata's (1 for fMRI, 64 for EEG, as the harness). Like the harness's consumer, every
batch's array is copied into one preallocated staging buffer and counted, `meta` is touched; the
first and last samples are checked against the raw layout. The whole process is what
bench/common/timing.py times (start, imports, workers, exit); the last stdout line is one JSON
object with the in-process figures (n, seconds, MB/s, first batch time; the clock starts
after the imports).
Run it with the torch venv and PYTHONPATH = the --target dir with litdata/mosaicml-streaming +
the harness (compat.py) + this folder (shims.py).
"""
import json
import os
import sys
import time

import numpy as np


def main():
    system, data, ds, batch, workers = sys.argv[1:6]
    batch, workers = int(batch), int(workers)
    with open(os.path.join(data, "manifest.json")) as f:
        m = json.load(f)[ds]
    shape, n = tuple(m["shape"]), m["n"]
    rec = int(np.prod(shape)) * 2
    sink = np.empty((batch,) + shape, np.float16)
    raw = np.memmap(os.path.join(data, ds, "raw", "data.bin"), dtype=np.float16, mode="r", shape=(n,) + shape)
    # Imports before the in-process clock (as the harness; the whole process, imports
    # included, is what timing.py measures).
    if system == "lit":
        import compat  # noqa: F401  (harness: torch dtype alias on old torch)
        import litdata
    elif system == "mds":
        import shims
        shims.install()
        import streaming  # noqa: F401
    t0 = time.perf_counter()
    if system == "lit":
        dset = litdata.StreamingDataset(input_dir=os.path.join(data, ds, "lit"), shuffle=False)
        dl = litdata.StreamingDataLoader(dset, batch_size=batch, num_workers=workers)
    elif system == "mds":
        from streaming import StreamingDataLoader, StreamingDataset
        from streaming.base.util import clean_stale_shared_memory
        clean_stale_shared_memory()
        dset = StreamingDataset(local=os.path.join(data, ds, "mds"), remote=None, shuffle=False, batch_size=batch)
        dl = StreamingDataLoader(dset, batch_size=batch, num_workers=workers)
    else:
        raise SystemExit(f"unknown system {system}")
    count = 0
    t_first = None
    first = last = None
    for b in dl:
        x = b["x"]
        x = x.numpy() if hasattr(x, "numpy") else np.asarray(x)
        k = x.shape[0] if x.shape != shape else 1
        np.copyto(sink[:k], x.reshape((k,) + shape))
        if b["meta"] is None:
            raise SystemExit("no meta")
        if t_first is None:
            t_first = time.perf_counter() - t0
            first = sink[0].copy()
        count += k
    last = sink[k - 1].copy() if count else None
    el = time.perf_counter() - t0
    ok = count == n and np.array_equal(first, raw[0]) and np.array_equal(last, raw[n - 1])
    print(json.dumps({"system": system, "dataset": ds, "batch": batch, "workers": workers, "n": count,
                      "expected_n": n, "order_ok": bool(ok), "seconds": round(el, 4),
                      "MB_per_s": round(count * rec / el / 1e6, 1), "samples_per_s": round(count / el, 1),
                      "first_batch_s": round(t_first or 0, 4)}))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
