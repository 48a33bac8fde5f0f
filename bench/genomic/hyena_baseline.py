"""HyenaDNA-style baseline for bench/genomic/product.sh: slice every window of a FASTA with
pyfaidx and tokenize it in memory with the HyenaDNA character rule ([SEP]1 [UNK]6 A7 C8 G9
T10 N11, lower case -> [UNK], [SEP] appended), via a NumPy lookup table; the ids of all
windows are kept in one uint8 array (nothing written). Whole windows only, stride = LEN.

Usage: hyena_baseline.py FASTA LEN
"""
import json
import sys

import numpy as np
import pyfaidx

path, length = sys.argv[1], int(sys.argv[2])
lut = np.full(256, 6, dtype=np.uint8)
for i, c in enumerate(b"ACGTN"):
    lut[c] = 7 + i
fa = pyfaidx.Fasta(path, as_raw=True, sequence_always_upper=False, rebuild=False)
chunks = []
windows = bases = 0
for name in fa.keys():
    rec = fa[name]
    size = len(rec)
    for start in range(0, size - length + 1, length):
        a = np.frombuffer(rec[start:start + length].encode("ascii"), dtype=np.uint8)
        ids = np.empty(a.size + 1, dtype=np.uint8)
        ids[:-1] = lut[a]
        ids[-1] = 1
        chunks.append(ids)
        windows += 1
        bases += a.size
ids = np.concatenate(chunks)
print(json.dumps({"windows": windows, "bases": bases, "tokens": int(ids.size)}))
