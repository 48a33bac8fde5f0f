"""Writes a synthetic EPIC-like beta matrix CSV: ID_REF + one column per sample, probes as rows.

usage: gen_epic.py OUT.csv N_PROBES N_SAMPLES   (values 0..1 with 6 decimals, a few NA cells)

The text is built as bytes with numpy (no per-cell string formatting), so a 850k × 500 matrix
takes about a minute. The values are those of `"%.6f" % beta` (the same random stream as
before); the last digit may differ where `beta * 1e6` rounds to a tie differently.
"""
import sys

import numpy as np

out, n_probes, n_samples = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rng = np.random.default_rng(850)
samples = [f"2056{i:08d}_R{(i % 8) + 1:02d}C01" for i in range(n_samples)]
ZERO = ord("0")


def block(start, n):
    vals = rng.beta(0.5, 0.5, size=(n, n_samples))
    na = rng.random((n, n_samples)) < 1e-4
    q = np.rint(vals * 1e6).astype(np.int64)
    # A cell is ",I.dddddd" (9 bytes); an NA cell ",NA" plus 6 bytes dropped below.
    cell = np.empty((n, n_samples, 9), dtype=np.uint8)
    cell[:, :, 0] = ord(",")
    cell[:, :, 1] = ZERO + q // 1_000_000
    cell[:, :, 2] = ord(".")
    frac = q % 1_000_000
    for k in range(6):
        cell[:, :, 8 - k] = ZERO + frac % 10
        frac //= 10
    keep = np.ones((n, n_samples, 9), dtype=bool)
    cell[na, 1] = ord("N")
    cell[na, 2] = ord("A")
    keep[na, 3:] = False
    ids = np.frombuffer(
        "".join(f"cg{start + i:08d}" for i in range(n)).encode(), dtype=np.uint8
    ).reshape(n, 10)
    line = np.concatenate(
        [ids, cell.reshape(n, -1), np.full((n, 1), ord("\n"), dtype=np.uint8)], axis=1
    )
    mask = np.concatenate(
        [np.ones((n, 10), dtype=bool), keep.reshape(n, -1), np.ones((n, 1), dtype=bool)],
        axis=1,
    )
    return line[mask].tobytes()


with open(out, "wb") as fh:
    fh.write(("ID_REF," + ",".join(samples) + "\n").encode())
    chunk = 20000
    for start in range(0, n_probes, chunk):
        fh.write(block(start, min(chunk, n_probes - start)))
