"""Stock Python readers (webdataset, pyarrow, numpy) read what bomdata wrote, unchanged."""
import io
import json
import pathlib

import nibabel as nib
import numpy as np
import pyarrow.parquet as pq
import webdataset as wds

from conftest import ROOT, manifest, run


def _raw_members(dataset: pathlib.Path):
    """Every sample's members, sliced from the tar bytes at the offsets of bomdata's index."""
    out = {}
    for shard in manifest(dataset)["shards"]:
        data = (dataset / "shards" / shard["name"]).read_bytes()
        index = json.loads((dataset / "shards" / shard["index"]).read_text())
        for s in index["samples"]:
            out[s["key"]] = {m["name"]: data[m["offset"]: m["offset"] + m["size"]] for m in s["members"]}
    return out


def _source_volumes():
    vols = []
    for p in sorted((ROOT / "examples" / "bids-mini").rglob("*.nii*")):
        vols.append(np.asarray(nib.load(str(p)).get_fdata(), dtype=np.float32))
    return vols


def test_webdataset_reads_canonical_shards(example_dataset):
    ds = example_dataset["canonical"]
    urls = [str(ds / "shards" / s["name"]) for s in manifest(ds)["shards"]]
    raw = _raw_members(ds)
    sources = _source_volumes()
    seen = 0
    for sample in wds.WebDataset(urls, shardshuffle=False, empty_check=False).decode():
        key = sample["__key__"]
        vol = sample["volume.npy"]
        meta = sample["meta.json"]
        # Decoded by webdataset == the bytes bomdata's index points at.
        assert np.array_equal(vol, np.load(io.BytesIO(raw[key]["volume.npy"])))
        assert meta == json.loads(raw[key]["meta.json"])
        assert vol.dtype == np.float32
        assert list(vol.shape) == meta["shape"]
        # The values are exactly nibabel's scaled data for one of the source images.
        assert any(v.shape == vol.shape and np.array_equal(v, vol) for v in sources), key
        seen += 1
    assert seen == manifest(ds)["counts"]["samples"] == 5


def test_webdataset_reads_training_shards(example_dataset):
    ds = example_dataset["training"]
    m = manifest(ds)
    urls = [str(ds / "shards" / s["name"]) for s in m["shards"]]
    keys = [s["__key__"] for s in wds.WebDataset(urls, shardshuffle=False, empty_check=False).decode()]
    assert len(keys) == m["counts"]["samples"] == 5
    assert len(set(keys)) == len(keys)
    assert {s["split"] for s in m["shards"]} <= {"train", "valid", "test"}


def test_pyarrow_reads_subjects_table(example_dataset):
    for kind in ("canonical", "training"):
        ds = example_dataset[kind]
        t = pq.read_table(ds / "subjects.parquet")
        assert t.column_names == ["subject", "source", "session", "modalities", "n_samples", "split"]
        rows = t.to_pylist()
        m = manifest(ds)
        assert sum(r["n_samples"] for r in rows) == 5
        assert len({r["subject"] for r in rows}) == m["counts"]["subjects"] == 3
        # Same subjects as the shard indexes carry, and pseudonyms only.
        index_subjects = set()
        for s in m["shards"]:
            idx = json.loads((ds / "shards" / s["index"]).read_text())
            index_subjects |= {x["subject"] for x in idx["samples"]}
        assert index_subjects == {r["subject"] for r in rows}
        assert all(len(r["subject"]) == 32 and not r["subject"].startswith("sub-") for r in rows)
        mods = sorted(m2 for r in rows for m2 in r["modalities"])
        assert mods == ["dmri", "fmri", "fmri", "smri", "smri"]
        if kind == "training":
            assert all(r["split"] in ("train", "valid", "test") for r in rows)


def test_inspect_agrees_with_manifest(example_dataset):
    ds = example_dataset["canonical"]
    info = json.loads(run("inspect", ds, "--json").stdout)
    assert info["counts"] == manifest(ds)["counts"]
    assert info["modalities"]["fmri"]["subjects"] == 2


def test_float16_canonical_volumes(tmp_path):
    """`ingest --float16` stores each volume as nibabel's data rounded to float16."""
    out = tmp_path / "f16"
    run("ingest", ROOT / "examples" / "bids-mini", "--out", out, "--float16")
    urls = [str(out / "shards" / s["name"]) for s in manifest(out)["shards"]]
    sources = [v.astype(np.float16) for v in _source_volumes()]
    n = 0
    for sample in wds.WebDataset(urls, shardshuffle=False, empty_check=False).decode():
        vol = sample["volume.npy"]
        assert vol.dtype == np.float16
        assert sample["meta.json"]["dtype"] == "float16"
        assert any(
            v.shape == vol.shape and np.array_equal(v, vol, equal_nan=True) for v in sources
        ), sample["__key__"]
        n += 1
    assert n == 5
