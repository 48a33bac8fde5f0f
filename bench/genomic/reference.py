"""pyfaidx + NumPy reference for the bomdata windowing benchmark.

For every window (fixed length and stride, whole windows only) of every sequence: fetch the
bases as stored with pyfaidx, then build the soft-mask and N bit masks (little bit order) and
count N and lowercase bases with NumPy -- the same work `bench_genomic run` does. Counts use
`np.count_nonzero` on the boolean arrays (the cheapest NumPy way; unpacking the packed mask
again or `bool.sum()` made the NumPy part of the loop about 40% slower).
Usage: reference.py FASTA LEN STRIDE
"""
import json
import sys
import time

import numpy as np
import pyfaidx

path, length, stride = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
c0 = time.process_time()
t0 = time.perf_counter()
fa = pyfaidx.Fasta(path, as_raw=True, sequence_always_upper=False, rebuild=False)
t_open = time.perf_counter() - t0
n = bases = nn = low = 0
for name in fa.keys():
    rec = fa[name]
    size = len(rec)
    for start in range(0, size - length + 1, stride):
        s = rec[start:start + length]
        a = np.frombuffer(s.encode("ascii"), dtype=np.uint8)
        lower = (a >= 97) & (a <= 122)
        isn = (a | 32) == 110
        soft = np.packbits(lower, bitorder="little")
        nmask = np.packbits(isn, bitorder="little")
        n += 1
        bases += a.size
        nn += int(np.count_nonzero(isn))
        low += int(np.count_nonzero(lower))
secs = time.perf_counter() - t0
cpu = time.process_time() - c0
print(json.dumps({"tool": "pyfaidx+numpy", "file": path, "windows": n, "bases": bases, "n_count": nn,
                  "lowercase": low, "open_s": round(t_open, 4), "seconds": round(secs, 4), "cpu_s": round(cpu, 4),
                  "windows_per_s": round(n / secs, 1), "mb_per_s": round(bases / secs / 1e6, 1),
                  "windows_per_cpu_s": round(n / cpu, 1), "mb_per_cpu_s": round(bases / cpu / 1e6, 1)}))
