"""Checks the training tables of the GARD-like cohort against a pandas join of the source files.

Usage: tables_check.py SRC TRAIN MAPPING_CSV   (run by tests/e2e/tables.rs with BOMDATA_PYTHON)

- every `tables/<modality>/<split>.parquet` reads with pyarrow and with polars, identically;
- a pandas join of the sources (EPIC beta CSVs, Olink long NPX pivoted, clinical CSV recoded;
  the BIOM v2.1 files when h5py is installed) on (pseudonymous subject, visit) equals the
  training rows value for value (float32), NA masks and Olink QC / below-LOD masks included;
- every source row is in exactly one split, and no subject is in two splits.
"""

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import polars as pl
import pyarrow.parquet as pq

SRC, TRAIN, MAPPING = (Path(a) for a in sys.argv[1:4])
VISITS = ["bl", "m24"]
pseudo = dict(pd.read_csv(MAPPING).itertuples(index=False, name=None))


def training(modality):
    """All splits of one modality: {(subject, visit): (split, row dict)}."""
    rows = {}
    for split in ["train", "valid", "test"]:
        p = TRAIN / "tables" / modality / f"{split}.parquet"
        if not p.exists():
            continue
        t = pq.read_table(p)
        df = pl.read_parquet(p)
        assert df.height == t.num_rows and df.columns == t.schema.names, p
        features = json.loads(t.schema.metadata[b"bomdata.features"])
        for r, row in enumerate(t.to_pylist()):
            got = np.asarray(df["values"][r].to_list(), dtype=np.float32)
            want = np.asarray(row["values"], dtype=np.float32)
            assert np.array_equal(got, want, equal_nan=True), (p, r)
            key = (row["subject"], row["session"])
            assert key not in rows, f"{key} twice in {modality}"
            rows[key] = (split, row, features)
    return rows


def check(modality, source):
    """`source`: {(subject, visit): (features, values, {mask: flags})}."""
    got = training(modality)
    assert set(got) == set(source), f"{modality}: {len(got)} rows, source {len(source)}"
    for key, (features, values, masks) in source.items():
        _, row, feats = got[key]
        pos = {f: i for i, f in enumerate(feats)}
        idx = [pos[f] for f in features]
        v = np.asarray(row["values"], dtype=np.float32)[idx]
        assert np.array_equal(v, np.asarray(values, dtype=np.float32), equal_nan=True), (
            modality,
            key,
        )
        na = np.asarray(row["mask.na"])[idx]
        assert np.array_equal(na, np.isnan(np.asarray(values, dtype=np.float64))), key
        for name, flags in masks.items():
            assert np.array_equal(np.asarray(row[f"mask.{name}"])[idx], flags), (key, name)
    print(f"{modality}: {len(source)} rows equal the pandas join")
    return got


def methylation():
    out = {}
    for v in VISITS:
        df = pd.read_csv(SRC / f"GARD/ses-{v}/GARD_EPIC_beta.csv", index_col="ID_REF")
        for sid in df.columns:
            out[(pseudo[sid], v)] = (list(df.index), df[sid].to_numpy(np.float64), {})
    return out


def olink():
    out = {}
    for v in VISITS:
        df = pd.read_csv(SRC / f"GARD/ses-{v}/GARD_NPX.csv", sep=";")
        npx = df.pivot_table(index="SampleID", columns="OlinkID", values="NPX", aggfunc="mean")
        df["qc"] = df["QC_Warning"].str.lower() != "pass"
        df["lod"] = df["NPX"] < df["LOD"]
        qc = df.pivot_table(index="SampleID", columns="OlinkID", values="qc", aggfunc="max")
        lod = df.pivot_table(index="SampleID", columns="OlinkID", values="lod", aggfunc="max")
        for sid in npx.index:
            masks = {
                "qc_warning": qc.loc[sid].to_numpy(bool),
                "below_lod": lod.loc[sid].to_numpy(bool),
            }
            out[(pseudo[sid], v)] = (list(npx.columns), npx.loc[sid].to_numpy(np.float64), masks)
    return out


def clinical():
    df = pd.read_csv(SRC / "GARD/clinical/GARD_visits.csv")
    df["diagnosis"] = df["DX"].replace({"NL": "CN"})
    out, dx = {}, {}
    for r in df.itertuples(index=False):
        key = (pseudo[r.PTID], r.VISCODE)
        out[key] = (["mmse"], np.array([r.MMSE], dtype=np.float64), {})
        dx[key] = r.diagnosis
    return out, dx


def microbiome():
    try:
        import h5py
    except ImportError:
        print("microbiome: h5py not installed, BIOM v2.1 left to the Rust check")
        return None
    out = {}
    for v in VISITS:
        with h5py.File(SRC / f"GARD/ses-{v}/GARD_microbiome.biom", "r") as f:
            obs = [x.decode() if isinstance(x, bytes) else x for x in f["observation/ids"][:]]
            smp = [x.decode() if isinstance(x, bytes) else x for x in f["sample/ids"][:]]
            m = np.zeros((len(obs), len(smp)))
            data, ind, ptr = (f[f"observation/matrix/{k}"][:] for k in ["data", "indices", "indptr"])
            for r in range(len(obs)):
                m[r, ind[ptr[r] : ptr[r + 1]]] = data[ptr[r] : ptr[r + 1]]
        for j, sid in enumerate(smp):
            out[(pseudo[sid], v)] = (obs, m[:, j], {})
    return out


def main():
    splits = {}
    sources = {"methylation": methylation(), "proteomics": olink()}
    clin, dx = clinical()
    sources["clinical_table"] = clin
    mb = microbiome()
    if mb is not None:
        sources["microbiome"] = mb
    else:
        training("microbiome")
    for modality, source in sources.items():
        got = check(modality, source)
        for (subject, _), (split, row, _) in got.items():
            assert splits.setdefault(subject, split) == split, f"{subject} in two splits"
            if modality == "clinical_table":
                assert row["diagnosis"] == dx[(subject, row["session"])]
    print(f"{len(splits)} subjects, each in one split")


main()
