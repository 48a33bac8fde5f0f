"""The Python package `bomdata` (pyo3 over bomdata-loader) against the Rust loader itself.

Synthetic trees of every modality (written by the Rust example `loader_dump trees`, the
generators of the golden e2e test) go through `bomdata ingest` and `bomdata shard` (SwiFT and
volume profiles, an EEG profile, DNA tokens, an Olink table, canonical MRI); then:

- batches from `bomdata.Loader` are byte-identical, in the same order, to what the Rust loader
  yields for the same options (`loader_dump dump`, built on the crate's API directly);
- exact resume: `state_dict()` after batch k in one process, `load_state_dict` in a new one:
  the remaining batches are identical (and equal to the Rust loader resumed from that state);
- elastic resume: 4 ranks read k batches each, 3 ranks resume from the saved state: every
  unit of the epoch is read exactly once;
- zero-copy views stay valid while the loader goes on; options pass through generically.
"""
import hashlib
import json
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

from conftest import ROOT, run

bomdata = pytest.importorskip("bomdata")


def dump_bin() -> pathlib.Path:
    p = os.environ.get("BOMDATA_LOADER_DUMP")
    if p:
        return pathlib.Path(p)
    target = pathlib.Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    return target / "debug" / "examples" / "loader_dump"


@pytest.fixture(scope="session")
def datasets(tmp_path_factory):
    """name -> dataset directory, one per modality and profile."""
    assert dump_bin().is_file(), f"{dump_bin()} missing: cargo build -p bomdata-loader --examples"
    d = tmp_path_factory.mktemp("loader_py")
    src = d / "src"
    subprocess.run([str(dump_bin()), "trees", str(src)], check=True)
    ingest = {
        "mri": ["--source", "openneuro"],
        "eeg": ["--source", "tueg"],
        "genome": ["--source", "t2t_chm13"],
    }
    shards = {
        "mri-canonical": ("mri", ["--seed", "3"]),
        "mri-swift": ("mri", ["--profile", "swift", "--param", "target=8", "--param", "window=2",
                              "--param", "stride=1"]),
        "mri-volume": ("mri", ["--profile", "volume", "--param", "target=[6,5,4]"]),
        "mri-volume-member": ("mri", ["--profile", "volume", "--param", "target=[6,5,4]",
                                      "--compress", "member"]),
        "eeg-eegpt": ("eeg", ["--profile", "eegpt", "--compress", "member"]),
        "genome-tokens": ("genome", ["--tokens", "hyena-char", "--seq-len", "128",
                                     "--tokens-per-shard", "2048"]),
        "genome-canonical": ("genome", ["--seed", "4"]),
        "eeg-canonical": ("eeg", ["--seed", "2"]),
    }
    for fam, args in ingest.items():
        run("ingest", src / fam, "--out", d / "canon" / fam, "--jobs", "2", *args)
    out = {}
    for name, (fam, args) in shards.items():
        run("shard", d / "canon" / fam, "--out", d / name, *args)
        out[name] = d / name
    return out


def rust_batches(out: pathlib.Path, **kv):
    """The Rust loader's batches: [(positions, {key: (dtype, shape, bytes) | [bytes]})]."""
    args = [f"{k}={v}" for k, v in kv.items()]
    subprocess.run([str(dump_bin()), "dump", str(out), *args], check=True)
    batches = []
    for line in (out / "index.jsonl").read_text().splitlines():
        b = json.loads(line)
        fields = {}
        for f in b["fields"]:
            key = f["name"] if f["slot"] == 0 else f"{f['name']}#{f['slot']}"
            data = (out / f["file"]).read_bytes()
            if f["kind"] == "tensor":
                fields[key] = (f["dtype"], tuple(f["shape"]), data)
            elif f["kind"] == "list":
                o = f["offsets"]
                fields[key] = [None if sh is None else (f["dtype"], tuple(sh), data[o[i]:o[i + 1]])
                               for i, sh in enumerate(f["row_shapes"])]
            else:
                o = f["offsets"]
                fields[key] = [data[o[i]:o[i + 1]] for i in range(len(o) - 1)]
        batches.append((list(b["positions"]), fields))
    return batches, json.loads((out / "state.json").read_text())


def py_batch(b):
    """A Python batch in the dump's terms."""
    fields = {}
    for k, v in b.items():
        if k.startswith("__"):
            continue
        if isinstance(v, np.ndarray):
            fields[k] = (v.dtype.str, v.shape, v.tobytes())
        else:
            fields[k] = [(x.dtype.str, x.shape, x.tobytes()) if isinstance(x, np.ndarray) else x
                         for x in v]
    return b["__positions__"].tolist(), fields


def py_kwargs(kv):
    """`Loader` keywords for the dump's key=value options."""
    kw = {"paths": kv["datasets"].split(",")}
    conv = {"batch_size": int, "seed": int, "shuffle_buffer": int, "threads": int,
            "epoch_len": int, "rank": int, "world": int, "drop_last": lambda s: s == "true",
            "split": str, "fields": lambda s: s.split(","),
            "weights": lambda s: [float(x) for x in s.split(",")]}
    for k, v in kv.items():
        if k in conv:
            kw["world_size" if k == "world" else k] = conv[k](v)
    if "shapes" in kv:
        kw["shapes"] = dict(item.split(":") for item in kv["shapes"].split(","))
    if kw.get("shuffle_buffer") == 0:
        kw["shuffle"] = "none"
    kw.setdefault("rank", 0)
    kw.setdefault("world_size", 1)
    return kw


CASES = {
    "mri-swift": dict(batch_size=4, seed=3, shuffle_buffer=8, threads=3),
    "mri-volume": dict(batch_size=1, seed=1, shuffle_buffer=4),
    "mri-canonical": dict(batch_size=1, seed=2, shuffle_buffer=0),
    "eeg-eegpt": dict(batch_size=5, seed=4, shuffle_buffer=16, rank=1, world=2,
                      drop_last="true"),
    # token samples hold several packed sequences (tokens/2): the last of a shard is shorter
    "genome-tokens": dict(batch_size=3, seed=5, fields="input_ids.npy,meta.json", split="train",
                          shapes="input_ids.npy:list"),
    # a canonical DNA sample is a block of windows (genome/2): its masks vary in length
    "genome-canonical": dict(batch_size=4, seed=6, shuffle_buffer=5, threads=1,
                             shapes="softmask.npy:list,nmask.npy:list"),
    "eeg-canonical": dict(batch_size=1, seed=7),
    # variable shapes: 3-D and 4-D volumes of `--profile volume --compress member` output
    "volume-pad-masked": dict(ds="mri-volume-member", batch_size=3, seed=8, shuffle_buffer=4,
                              shapes="volume.npy:pad_masked"),
    "volume-pad": dict(ds="mri-volume-member", batch_size=4, seed=2, shapes="volume.npy:pad"),
    "volume-list": dict(ds="mri-volume-member", batch_size=3, seed=9, threads=3,
                        shapes="volume.npy:list"),
    "volume-bucket": dict(ds="mri-volume-member", batch_size=2, seed=10, shuffle_buffer=4,
                          shapes="volume.npy:bucket"),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_batches_identical_to_rust(datasets, tmp_path, name):
    case = dict(CASES[name])
    kv = dict(case, datasets=str(datasets[case.pop("ds", name)]))
    kv.pop("ds", None)
    want, want_state = rust_batches(tmp_path / "dump", **kv)
    loader = bomdata.Loader(**py_kwargs(kv))
    got = [py_batch(b) for b in loader]
    assert len(want) > 0, name
    assert len(got) == len(want), name
    for i, (g, w) in enumerate(zip(got, want)):
        assert g[0] == w[0], f"{name} batch {i}: positions"
        assert g[1].keys() == w[1].keys(), f"{name} batch {i}: fields"
        for k in w[1]:
            assert g[1][k] == w[1][k], f"{name} batch {i} field {k}"
    assert loader.state_dict() == want_state


def test_mixture_identical_to_rust(datasets, tmp_path):
    p = str(datasets["eeg-eegpt"])
    kv = dict(datasets=f"{p},{p}", weights="0.7,0.3", epoch_len=50, batch_size=4, seed=9,
              shuffle_buffer=32)
    want, _ = rust_batches(tmp_path / "dump", **kv)
    got = [py_batch(b) for b in bomdata.Loader(**py_kwargs(kv))]
    assert got == [(w[0], w[1]) for w in want]


RESUME = r"""
import hashlib, json, sys
import bomdata
kw, k, state_in, state_out = json.loads(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
loader = bomdata.Loader(**kw)
if state_in != "-":
    loader.load_state_dict(json.load(open(state_in)))
out = []
for b in loader:
    h = hashlib.sha256()
    for key in sorted(b):
        v = b[key]
        h.update(key.encode())
        h.update(v.tobytes() if hasattr(v, "tobytes") else b"".join(v))
    out.append([b["__positions__"].tolist(), h.hexdigest()])
    if len(out) == k:
        break
if state_out != "-":
    json.dump(loader.state_dict(), open(state_out, "w"))
print(json.dumps(out))
"""


def run_py(kw, k, state_in="-", state_out="-"):
    r = subprocess.run([sys.executable, "-c", RESUME, json.dumps(kw), str(k), str(state_in),
                        str(state_out)], capture_output=True, text=True, check=True)
    return json.loads(r.stdout)


def test_exact_resume_in_a_new_process(datasets, tmp_path):
    kw = dict(paths=[str(datasets["eeg-eegpt"])], batch_size=2, seed=11, shuffle_buffer=16,
              threads=3, rank=0, world_size=1)
    full = run_py(kw, -1)
    assert len(full) > 8
    st = tmp_path / "state.json"
    first = run_py(kw, 5, state_out=st)
    assert first == full[:5]
    state = json.loads(st.read_text())
    assert set(state) <= {"epoch", "position", "fingerprint", "rest", "read"}
    rest = run_py(kw, -1, state_in=st)
    assert rest == full[5:]
    # the Rust loader resumed from the state Python saved yields the same batches
    want, _ = rust_batches(tmp_path / "dump", datasets=kw["paths"][0], batch_size=2, seed=11,
                           shuffle_buffer=16, state=st)
    assert [w[0] for w in want] == [r[0] for r in rest]


def test_elastic_resume_4_to_3(datasets, tmp_path):
    base = dict(paths=[str(datasets["eeg-eegpt"])], batch_size=2, seed=13, shuffle_buffer=16)
    n = sum(len(b["__positions__"]) for b in bomdata.Loader(**base, rank=0, world_size=1))
    read = []
    states = []
    for r in range(4):
        loader = bomdata.Loader(**base, rank=r, world_size=4)
        it = iter(loader)
        for _ in range(2):
            read.extend(next(it)["__positions__"].tolist())
        states.append(loader.state_dict())
    # ranks in lockstep save the same state (it does not depend on the rank)
    assert all(s == states[0] for s in states)
    assert states[0]["epoch"] == 0 and states[0]["read"]["units"] == 4
    (tmp_path / "state.json").write_text(json.dumps(states[0]))
    for r in range(3):
        loader = bomdata.Loader(**base, rank=r, world_size=3)
        loader.load_state_dict(json.loads((tmp_path / "state.json").read_text()))
        for b in loader:
            read.extend(b["__positions__"].tolist())
        assert loader.state_dict()["epoch"] == 1
    assert sorted(read) == list(range(n)), "every unit exactly once"


def test_views_are_zero_copy_and_stay_valid(datasets):
    loader = bomdata.Loader(datasets["eeg-eegpt"], batch_size=2, seed=1, threads=2, prefetch=2)
    kept = []
    for b in loader:
        for k, v in b.items():
            if isinstance(v, np.ndarray) and not k.startswith("__"):
                assert not v.flags.owndata  # a view of the batch buffer
                kept.append((v, v.tobytes()))
    assert len(kept) > 2
    # the loader went on (and freed other batches): every view still shows its batch
    for v, copy in kept:
        assert v.tobytes() == copy
    x = kept[0][0]
    assert x.flags.writeable and x.flags.c_contiguous


def test_options_pass_through(datasets):
    p = datasets["eeg-eegpt"]
    loader = bomdata.Loader(p, batch_size=4, prefetch=3, read="mmap", remainder="pad",
                            partition="interleave", rank=1, world_size=3)
    info = loader.info
    assert info["options"]["prefetch"] == 3 and info["options"]["read"] == "mmap"
    assert (info["rank"], info["world_size"]) == (1, 3)
    assert len(loader) == sum(1 for _ in loader)
    with pytest.raises(bomdata.BomdataError, match="no_such_option"):
        bomdata.Loader(p, no_such_option=1)
    with pytest.raises(bomdata.BomdataError, match="fingerprint"):
        loader.load_state_dict(bomdata.Loader(p, seed=99).state_dict())


def test_rank_from_torchrun_variables(datasets):
    code = ("import bomdata, sys; i = bomdata.Loader(sys.argv[1]).info; "
            "print(i['rank'], i['world_size'])")
    env = dict(os.environ, RANK="2", WORLD_SIZE="5")
    r = subprocess.run([sys.executable, "-c", code, str(datasets["eeg-eegpt"])], env=env,
                       capture_output=True, text=True, check=True)
    assert r.stdout.split() == ["2", "5"]
    code = ("import bomdata, sys; i = bomdata.TokenLoader(sys.argv[1], split_long=True).info; "
            "print(i['rank'], i['world_size'])")
    env = dict(os.environ, SLURM_PROCID="1", SLURM_NTASKS="3")
    r = subprocess.run([sys.executable, "-c", code, str(datasets["genome-tokens"])], env=env,
                       capture_output=True, text=True, check=True)
    assert r.stdout.split() == ["1", "3"]


def test_filters_and_pairing(datasets):
    p = datasets["mri-canonical"]
    every = bomdata.Loader(p, shuffle="none")
    n = sum(len(b["__positions__"]) for b in every)
    smri = bomdata.Loader(p, modalities=["smri"], shuffle="none")
    n_smri = sum(len(b["__positions__"]) for b in smri)
    assert 0 < n_smri < n
    rows = bomdata.pair_rows(p)
    assert {r["modality"] for r in rows} >= {"smri", "fmri"}
    loader = bomdata.Loader(p, batch_size=2, fields=["meta.json"],
                            pairs={"modalities": ["smri", "fmri"], "rows": rows})
    units = 0
    for b in loader:
        mask = b["__mask__"]
        assert mask.dtype == np.bool_ and mask.shape[1] == 2
        assert mask.any(axis=1).all()
        for r in range(mask.shape[0]):
            units += 1
            if mask[r].all():
                a = json.loads(b["smri/meta.json"][r])
                f = json.loads(b["fmri/meta.json"][r])
                assert a.get("subject") == f.get("subject")
    assert units > 0


def test_variable_shapes_typed(datasets):
    """3-D and 4-D volumes in one dataset: pad_masked gives arrays with real shapes and masks,
    list gives per-row arrays of their own rank, bucket gives batches of one shape."""
    p = datasets["mri-volume-member"]
    ndims = set()
    for b in bomdata.Loader(p, batch_size=3, seed=1, shapes={"volume.npy": "list"}):
        assert isinstance(b["volume.npy"], list)
        for x in b["volume.npy"]:
            assert isinstance(x, np.ndarray) and not x.flags.owndata
            ndims.add(x.ndim)
    assert ndims == {3, 4}, "the dataset mixes 3-D and 4-D volumes"
    for b in bomdata.Loader(p, batch_size=4, seed=1, shapes={"volume.npy": "pad_masked"}):
        v, shape, mask = b["volume.npy"], b["volume.shape"], b["volume.mask"]
        assert shape.dtype == np.int64 and shape.shape == (v.shape[0], v.ndim - 1)
        assert mask.dtype == np.bool_ and mask.shape == v.shape
        for r in range(v.shape[0]):
            assert mask[r].sum() == np.prod(shape[r])
            assert not v[r][~mask[r]].any()
    shapes = set()
    n = 0
    loader = bomdata.Loader(p, batch_size=2, seed=1, shapes={"volume.npy": "bucket"})
    assert len(loader) == sum(1 for _ in bomdata.Loader(p, batch_size=2, seed=1,
                                                        shapes={"volume.npy": "bucket"}))
    for b in loader:
        v = b["volume.npy"]
        assert 1 <= v.shape[0] <= 2 and len(b["__positions__"]) == 1
        shapes.add(v.shape[1:])
        n += v.shape[0]
    assert len(shapes) >= 2
    assert n == sum(len(b["__positions__"]) for b in bomdata.Loader(p, shuffle="none"))
    with pytest.raises(bomdata.BomdataError, match="bucket"):
        bomdata.Loader(p, shapes={"volume.npy": "bucket"},
                       groups={"key": "subject", "batch_size": 2})


def rust_tokens(out: pathlib.Path, **kv):
    """The Rust token loader's batches: [(positions, spans, max_seqlen, arrays)], state."""
    subprocess.run([str(dump_bin()), "tokens", str(out), *[f"{k}={v}" for k, v in kv.items()]],
                   check=True)
    batches = []
    for line in (out / "index.jsonl").read_text().splitlines():
        b = json.loads(line)
        i = b["batch"]
        arrays = {n: (out / f"b{i}_{n}").read_bytes()
                  for n in ("input_ids", "position_ids", "cu_seqlens")}
        shape = (b["rows"], b["seq_len"])
        batches.append((b["positions"], b["spans"], b["max_seqlen"], shape, arrays))
    return batches, json.loads((out / "state.json").read_text())


def py_tokens(b):
    assert b["input_ids"].dtype == np.int64 and b["position_ids"].dtype == np.int64
    assert b["cu_seqlens"].dtype == np.int32 and b["input_ids"].ndim == 2
    assert b["position_ids"].shape == b["input_ids"].shape
    arrays = {n: b[n].tobytes() for n in ("input_ids", "position_ids", "cu_seqlens")}
    return (b["__positions__"].tolist(), b["__spans__"].tolist(), b["max_seqlen"],
            b["input_ids"].shape, arrays)


TOKEN_CASES = {
    "budget": dict(mode="budget", max_tokens=300, split_long="true", seed=3),
    "packed": dict(mode="packed", seq_len=100, batch_size=3, seed=4),
    "budget-rank1of2": dict(mode="budget", max_tokens=500, split_long="true", seed=5, rank=1,
                            world=2),
}


def token_kwargs(kv):
    conv = {"max_tokens": int, "seq_len": int, "batch_size": int, "seed": int, "rank": int,
            "world": int, "mode": str, "split_long": lambda s: s == "true"}
    kw = {("world_size" if k == "world" else k): conv[k](v) for k, v in kv.items() if k in conv}
    kw.setdefault("rank", 0)
    kw.setdefault("world_size", 1)
    return kw


@pytest.mark.parametrize("name", sorted(TOKEN_CASES))
def test_token_batches_identical_to_rust(datasets, tmp_path, name):
    kv = dict(TOKEN_CASES[name], datasets=str(datasets["genome-tokens"]))
    want, want_state = rust_tokens(tmp_path / "dump", **kv)
    loader = bomdata.TokenLoader(kv["datasets"], **token_kwargs(kv))
    got = [py_tokens(b) for b in loader]
    assert len(want) > 1
    assert got == want
    assert loader.state_dict() == want_state
    # the reader threads build the same batches, in the same order (default: 2 threads)
    for threads in (0, 3):
        one = bomdata.TokenLoader(kv["datasets"], threads=threads, **token_kwargs(kv))
        assert [py_tokens(b) for b in one] == want, f"threads={threads}"
    b = next(iter(bomdata.TokenLoader(kv["datasets"], **token_kwargs(kv))))
    cu = b["cu_seqlens"]
    assert cu[0] == 0 and b["max_seqlen"] == int(np.diff(cu).max())
    with pytest.raises(bomdata.BomdataError, match="no_such_option"):
        bomdata.TokenLoader(kv["datasets"], no_such_option=1)


TOKEN_RESUME = r"""
import hashlib, json, sys
import bomdata
kw, k, state_in, state_out = json.loads(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
loader = bomdata.TokenLoader(**kw)
if state_in != "-":
    loader.load_state_dict(json.load(open(state_in)))
out = []
for b in loader:
    h = hashlib.sha256()
    for n in ("input_ids", "position_ids", "cu_seqlens", "__spans__"):
        h.update(b[n].tobytes())
    out.append([b["__positions__"].tolist(), b["max_seqlen"], h.hexdigest()])
    if len(out) == k:
        break
if state_out != "-":
    json.dump(loader.state_dict(), open(state_out, "w"))
print(json.dumps(out))
"""


def run_tokens(kw, k, state_in="-", state_out="-"):
    r = subprocess.run([sys.executable, "-c", TOKEN_RESUME, json.dumps(kw), str(k),
                        str(state_in), str(state_out)], capture_output=True, text=True,
                       check=True)
    return json.loads(r.stdout)


@pytest.mark.parametrize("mode", ["budget", "packed"])
def test_token_exact_resume_in_a_new_process(datasets, tmp_path, mode):
    kw = dict(paths=[str(datasets["genome-tokens"])], mode=mode, max_tokens=256,
              split_long=True, seq_len=64, batch_size=2, seed=7, rank=0, world_size=1)
    full = run_tokens(kw, -1)
    assert len(full) > 6
    st = tmp_path / "state.json"
    assert run_tokens(kw, 4, state_out=st) == full[:4]
    assert run_tokens(kw, -1, state_in=st) == full[4:]
    # the Rust token loader resumed from the state Python saved: the same batches
    want, _ = rust_tokens(tmp_path / "dump", datasets=kw["paths"][0], mode=mode,
                          max_tokens=256, split_long="true", seq_len=64, batch_size=2, seed=7,
                          state=st)
    assert [w[0] for w in want] == [f[0] for f in full[4:]]


@pytest.mark.parametrize("mode", ["budget", "packed"])
def test_token_elastic_4_to_3_exactly_once_over_documents(datasets, mode):
    base = dict(paths=str(datasets["genome-tokens"]), mode=mode, max_tokens=200,
                split_long=True, seq_len=50, batch_size=2, seed=13)
    one = bomdata.TokenLoader(**base, rank=0, world_size=1)
    docs = one.documents()
    assert len(docs) > 3
    spans = []
    states = []
    for r in range(4):
        loader = bomdata.TokenLoader(**base, rank=r, world_size=4)
        it = iter(loader)
        for _ in range(2):
            spans.extend(map(tuple, next(it)["__spans__"].tolist()))
        states.append(loader.state_dict())
    assert all(s == states[0] for s in states)
    for r in range(3):
        loader = bomdata.TokenLoader(**base, rank=r, world_size=3)
        loader.load_state_dict(states[0])
        for b in loader:
            spans.extend(map(tuple, b["__spans__"].tolist()))
        assert loader.state_dict()["epoch"] == 1
    # every token of every document exactly once: per document, the pieces tile [0, len)
    by_doc = {}
    for d, a, e in spans:
        by_doc.setdefault(d, []).append((a, e))
    assert sorted(by_doc) == list(range(len(docs)))
    for d, pieces in by_doc.items():
        pieces.sort()
        end = 0
        for a, e in pieces:
            assert a == end, f"document {d}: gap or overlap at {a}"
            end = e
        assert end == docs[d][1]


def test_a_selection_of_nothing_is_refused(datasets, tmp_path):
    """Filters that select nothing, or a field no sample has, raise naming the filter and the
    dataset (Python) and make `loader_dump` exit non-zero (Rust), instead of empty epochs."""
    p = datasets["mri-canonical"]
    with pytest.raises(bomdata.BomdataError, match="split=holdout") as e:
        bomdata.Loader(p, split="holdout")
    assert str(p) in str(e.value)
    with pytest.raises(bomdata.BomdataError, match=r"sources=nowhere"):
        bomdata.Loader(p, sources=["nowhere"])
    with pytest.raises(bomdata.BomdataError, match=r'meta=\{"site":"mars"\}'):
        bomdata.Loader(p, meta={"site": "mars"})
    with pytest.raises(bomdata.BomdataError, match="no_such.npy") as e:
        bomdata.Loader(p, fields=["meta.json", "no_such.npy"])
    assert str(p) in str(e.value)
    with pytest.raises(bomdata.BomdataError, match="split=holdout"):
        bomdata.TokenLoader(datasets["genome-tokens"], split="holdout")
    for kv in ("split=holdout", "fields=no_such.npy"):
        r = subprocess.run([str(dump_bin()), "dump", str(tmp_path / "d"), f"datasets={p}", kv],
                           capture_output=True, text=True)
        assert r.returncode != 0, kv
        assert kv.split("=")[1] in r.stderr and str(p) in r.stderr, r.stderr
