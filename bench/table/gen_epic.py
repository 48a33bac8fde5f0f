"""Writes a synthetic EPIC-like beta matrix CSV: ID_REF + one column per sample, probes as rows.

usage: gen_epic.py OUT.csv N_PROBES N_SAMPLES   (values 0..1 with 6 decimals, a few NA cells)
"""
import sys

import numpy as np

out, n_probes, n_samples = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rng = np.random.default_rng(850)
samples = [f"2056{i:08d}_R{(i % 8) + 1:02d}C01" for i in range(n_samples)]
with open(out, "w") as fh:
    fh.write("ID_REF," + ",".join(samples) + "\n")
    chunk = 20000
    for start in range(0, n_probes, chunk):
        n = min(chunk, n_probes - start)
        vals = rng.beta(0.5, 0.5, size=(n, n_samples))
        text = np.char.mod("%.6f", vals)
        text[rng.random((n, n_samples)) < 1e-4] = "NA"
        ids = [f"cg{start + i:08d}" for i in range(n)]
        fh.write("\n".join(p + "," + ",".join(row) for p, row in zip(ids, text)) + "\n")
