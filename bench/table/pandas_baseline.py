"""Baseline: pandas read_csv + to_parquet of the same matrix (pyarrow engine for Parquet).

usage: pandas_baseline.py IN.csv OUT.parquet [zstd|none]
"""
import sys
import time

import pandas as pd

t0 = time.perf_counter()
df = pd.read_csv(sys.argv[1])
comp = sys.argv[3] if len(sys.argv) > 3 else "zstd"
df.to_parquet(sys.argv[2], compression=None if comp == "none" else comp)
print(f"{df.shape[0]} rows x {df.shape[1]} columns in {time.perf_counter() - t0:.2f}s")
