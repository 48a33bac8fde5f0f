"""Writes a synthetic soft-masked genome FASTA (60-column lines) for bench/genomic/product.sh.

Usage: gen_genome.py OUT.fa MBP [CHROMS=8]. Bases are uniform ACGT; about a third of each
sequence is lower case (runs of 200-3000 bp) and a few N runs (1-50 kbp) stand in for gaps.
"""
import sys

import numpy as np

out, mbp = sys.argv[1], int(sys.argv[2])
chroms = int(sys.argv[3]) if len(sys.argv) > 3 else 8
rng = np.random.default_rng(7)
total = mbp * 1_000_000
with open(out, "wb") as f:
    for c in range(chroms):
        n = total // chroms
        a = np.frombuffer(b"ACGT", dtype=np.uint8)[rng.integers(0, 4, n)]
        at = 0
        while at < n:
            at += int(rng.integers(500, 6000))
            ln = int(rng.integers(200, 3000))
            a[at:at + ln] |= 32
            at += ln
        for _ in range(3):
            s = int(rng.integers(0, n))
            a[s:s + int(rng.integers(1000, 50000))] = ord("N")
        f.write(f">chr{c + 1}\n".encode())
        body = a.tobytes()
        f.write(b"\n".join(body[i:i + 60] for i in range(0, n, 60)))
        f.write(b"\n")
