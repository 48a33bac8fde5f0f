"""Token shards (`bomdata shard --tokens`) read in Python with tarfile + numpy.

A FASTA fixture is ingested by the genome adapter, tokenized with the HyenaDNA character
tokenizer, and the ids are checked against an independent Python implementation of its rule
(`[SEP]1 [UNK]6 A7 C8 G9 T10 N11`, lower case -> `[UNK]`, `[SEP]` appended): same total token
count, documents rebuilt from `doc_offsets` equal to the per-window ids, dtype uint8.
Canonical DNA samples are blocks of windows (`genome/2`: bases concatenated, window lengths in
`meta.json`); token samples hold several packed sequences (`tokens/2`).
"""
import io
import json
import os
import pathlib
import tarfile

import numpy as np

from conftest import ROOT, manifest, run

HYENA = {ord(c): 7 + i for i, c in enumerate("ACGTN")}


def fixtures() -> pathlib.Path:
    p = pathlib.Path(os.environ.get("BOMDATA_FIXTURES", ROOT / "tests" / "fixtures"))
    assert p.is_dir(), f"fixture corpus missing at {p} (tests/fixtures, or BOMDATA_FIXTURES)"
    return p


def hyena_ids(seq: bytes) -> list:
    return [HYENA.get(b, 6) for b in seq] + [1]


def members(dataset: pathlib.Path, wanted):
    """{key: {member: bytes}} of every shard in a dataset, in manifest order."""
    out = {}
    for e in manifest(dataset)["shards"]:
        with tarfile.open(dataset / "shards" / e["name"]) as t:
            for m in t.getmembers():
                key, field = m.name.split(".", 1)
                if field in wanted:
                    out.setdefault(key, {})[field] = t.extractfile(m).read()
    return out


def test_token_shards_read_back_in_numpy(tmp_path):
    src = tmp_path / "genome"
    src.mkdir()
    (src / "volvox.fa").write_bytes((fixtures() / "fasta" / "volvox.fa").read_bytes())
    (src / "genome.toml").write_text('window = 500\nstride = 500\nseq_format = "npy"\n')
    canon = tmp_path / "canon"
    run("ingest", src, "--source", "t2t_chm13", "--out", canon)
    docs = {}
    for key, m in members(canon, {"seq.npy", "meta.json"}).items():
        seq = np.load(io.BytesIO(m["seq.npy"]))
        meta = json.loads(m["meta.json"])
        assert seq.dtype == np.uint8 and meta["schema"] == "genome/2"
        assert sum(meta["lengths"]) == len(seq)
        stem = key.rsplit("_", 1)[0]
        at = 0
        for i, n in enumerate(meta["lengths"]):
            docs[f"{stem}_{meta['first_index'] + i:06d}"] = hyena_ids(seq[at:at + n].tobytes())
            at += n
    assert len(docs) > 10

    out = tmp_path / "tokens"
    run("shard", canon, "--out", out, "--tokens", "hyena-char", "--seq-len", "256",
        "--tokens-per-shard", "4096", "--seed", "2")
    m = manifest(out)
    assert m["tokenizer"]["id"] == "hyena-char"
    assert m["tokenizer"]["dtype"] == "u8"
    assert json.loads((out / "tokenizer" / "config.json").read_text()) == m["tokenizer"]["config"]

    rebuilt = {}
    total = 0
    for key, mm in members(out, {"input_ids.npy", "doc_offsets.npy", "meta.json"}).items():
        ids = np.load(io.BytesIO(mm["input_ids.npy"]))
        offs = np.load(io.BytesIO(mm["doc_offsets.npy"]))
        meta = json.loads(mm["meta.json"])
        assert ids.dtype == np.uint8 and ids.shape == (256 * meta["sequences"],)
        assert meta["schema"] == "tokens/2"
        assert offs.dtype == np.uint32
        total += int(offs[-1] - offs[0])
        for k, start, a, b in zip(meta["keys"], meta["doc_starts"], offs[:-1], offs[1:]):
            doc = rebuilt.setdefault(k, [])
            assert len(doc) == start
            doc.extend(ids[a:b].tolist())
        # Padding ([PAD] = 4) only outside the real tokens.
        assert (ids[offs[-1]:] == 4).all()
    assert total == sum(len(v) for v in docs.values()) == m["tokenizer"]["tokens"]
    assert rebuilt == docs
