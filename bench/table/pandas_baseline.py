"""Baseline: pandas read_csv + to_parquet of the same matrix (pyarrow engine for Parquet)."""
import sys
import time

import pandas as pd

t0 = time.perf_counter()
df = pd.read_csv(sys.argv[1])
df.to_parquet(sys.argv[2], compression="zstd")
print(f"{df.shape[0]} rows x {df.shape[1]} columns in {time.perf_counter() - t0:.2f}s")
