"""`bomdata.torch` with PyTorch (run in .venv-torch by scripts/test.sh; skipped without torch).

- `DataLoader(num_workers=0)` yields exactly `bomdata.Loader`'s batches, as tensors;
- `DataLoader(num_workers=2)`: every unit of an epoch exactly once, and `state_dict()` after k
  batches resumed with 3 workers reads exactly the units not yet read;
- `python/examples/train_torch.py`: the loss trajectory of a run resumed from the checkpoint at
  step k equals the uninterrupted run's (in-process loader and with 2 worker processes).
"""
import json
import subprocess
import sys

import pytest

from conftest import ROOT, run

torch = pytest.importorskip("torch")
bomdata = pytest.importorskip("bomdata")
import bomdata.torch as bt  # noqa: E402

# 3 workers on a 2-core CI machine: torch warns, the test means it
pytestmark = pytest.mark.filterwarnings("ignore:This DataLoader will create")


@pytest.fixture(scope="session")
def eeg(tmp_path_factory):
    """EEG windows (the example BIDS tree's BOLD runs are too few): the generated 10-20 tree."""
    from test_loader_py import dump_bin

    d = tmp_path_factory.mktemp("torch")
    subprocess.run([str(dump_bin()), "trees", str(d / "src")], check=True)
    run("ingest", d / "src" / "eeg", "--out", d / "canon", "--source", "tueg", "--jobs", "2")
    run("shard", d / "canon", "--out", d / "eegpt", "--profile", "eegpt")
    return d / "eegpt"


def positions(batches):
    return [int(p) for b in batches for p in b["__positions__"]]


def resumed_with_three_workers(dataset, k=3):
    """The first ``k`` batches of a ``DataLoader`` over ``dataset()`` with 2 workers, then the
    rest of the epoch from its ``state_dict()`` (through JSON) with 3 workers: ``(first, rest,
    the resumed DataLoader)``."""
    dl = bt.DataLoader(dataset(), num_workers=2, pin_memory=False)
    first = []
    for b in dl:
        first.append(b)
        if len(first) == k:
            break
    state = json.loads(json.dumps(dl.state_dict()))
    dl2 = bt.DataLoader(dataset(), num_workers=3, pin_memory=False)
    dl2.load_state_dict(state)
    return first, list(dl2), dl2


def test_dataloader_in_process_matches_loader(eeg):
    kw = dict(batch_size=3, seed=2, shuffle_buffer=8)
    want = [b for b in bomdata.Loader(eeg, **kw)]
    ds = bt.IterableDataset(eeg, **kw)
    got = list(bt.DataLoader(ds, num_workers=0, pin_memory=False))
    assert len(got) == len(want)
    for g, w in zip(got, want):
        for k, v in w.items():
            if hasattr(v, "tobytes"):
                assert torch.is_tensor(g[k])
                assert g[k].numpy().tobytes() == v.tobytes()


def test_workers_exactly_once_and_resume(eeg):
    kw = dict(batch_size=2, seed=3, shuffle_buffer=8)
    n = len(positions(bomdata.Loader(eeg, **kw)))
    dl = bt.DataLoader(bt.IterableDataset(eeg, **kw), num_workers=2, pin_memory=False)
    assert sorted(positions(dl)) == list(range(n))
    # after a whole epoch the state stands at the next one
    assert dl.state_dict()["epoch"] == 1

    first, rest, dl2 = resumed_with_three_workers(lambda: bt.IterableDataset(eeg, **kw))
    got = positions(first) + positions(rest)
    assert sorted(got) == list(range(n)), "exactly once across the resume"
    assert dl2.state_dict()["epoch"] == 1


@pytest.mark.parametrize("workers", [0, 2])
def test_train_example_resumes_exactly(eeg, tmp_path, workers):
    script = ROOT / "python" / "examples" / "train_torch.py"
    ck = tmp_path / "ck.pt"
    common = [sys.executable, str(script), str(eeg), "--steps", "12", "--batch-size", "2",
              "--checkpoint", str(ck), "--workers", str(workers)]
    subprocess.run(common + ["--checkpoint-at", "4", "--out", str(tmp_path / "a.json")],
                   check=True, capture_output=True)
    subprocess.run(common + ["--resume", "--out", str(tmp_path / "b.json")], check=True,
                   capture_output=True)
    a = json.loads((tmp_path / "a.json").read_text())
    b = json.loads((tmp_path / "b.json").read_text())
    assert len(a) == 12
    assert a == b, "resumed loss trajectory differs"


def test_token_iterable_dataset_resumes(tmp_path):
    """`TokenIterableDataset` through `DataLoader(num_workers=0)`: the TokenLoader's batches as
    tensors; `state_dict()` after k batches resumes to exactly the remaining ones. With
    `num_workers=2`: every unit once, resumed with 3 workers."""
    from test_loader_py import dump_bin

    subprocess.run([str(dump_bin()), "trees", str(tmp_path / "src")], check=True)
    run("ingest", tmp_path / "src" / "genome", "--out", tmp_path / "canon", "--source",
        "t2t_chm13")
    out = tmp_path / "tokens"
    run("shard", tmp_path / "canon", "--out", out, "--tokens", "hyena-char", "--seq-len", "128")
    kw = dict(mode="budget", max_tokens=256, split_long=True, seed=3, rank=0, world_size=1)
    want = [b["input_ids"].tobytes() for b in bomdata.TokenLoader(out, **kw)]
    assert len(want) > 3
    dl = bt.DataLoader(bt.TokenIterableDataset(out, **kw), pin_memory=False)
    got = []
    for b in dl:
        assert isinstance(b["input_ids"], torch.Tensor) and b["input_ids"].dtype == torch.int64
        assert b["cu_seqlens"].dtype == torch.int32
        got.append(b["input_ids"].numpy().tobytes())
        if len(got) == 2:
            break
    state = dl.state_dict()
    dl2 = bt.DataLoader(bt.TokenIterableDataset(out, **kw), pin_memory=False)
    dl2.load_state_dict(state)
    got += [b["input_ids"].numpy().tobytes() for b in dl2]
    assert got == want

    # worker processes: the worker folded into the partition, every unit (and so every token)
    # exactly once, each batch the one the single loader reads at that position; state_dict
    # after k batches resumed with 3 workers reads exactly the units not yet read
    by_pos = {int(b["__positions__"][0]): b["input_ids"].tobytes()
              for b in bomdata.TokenLoader(out, **kw)}
    n = len(by_pos)

    def check(batches):
        for b in batches:
            assert b["input_ids"].numpy().tobytes() == by_pos[int(b["__positions__"][0])]
        return positions(batches)

    dl = bt.DataLoader(bt.TokenIterableDataset(out, **kw), num_workers=2, pin_memory=False)
    assert sorted(check(list(dl))) == list(range(n))
    assert dl.state_dict()["epoch"] == 1
    first, rest, dl2 = resumed_with_three_workers(lambda: bt.TokenIterableDataset(out, **kw))
    assert sorted(check(first) + check(rest)) == list(range(n)), "exactly once across the resume"
    assert dl2.state_dict()["epoch"] == 1


def test_pin_memory_without_cuda_is_a_clear_no_op_or_error(eeg):
    """`pin_memory=None` pins only when CUDA is present (here: a no-op, the loader's own
    batches); `True` without CUDA is refused with a message naming the option. With CUDA,
    `True` yields pinned tensors."""
    kw = dict(batch_size=4, seed=1, shuffle_buffer=8)
    want = [b for b in bomdata.Loader(eeg, **kw)]
    if torch.cuda.is_available():
        got = list(bt.DataLoader(bt.IterableDataset(eeg, **kw), pin_memory=True))
        assert all(v.is_pinned() for b in got for v in b.values() if torch.is_tensor(v))
        return
    got = list(bt.IterableDataset(eeg, pin_memory=None, **kw))
    assert [positions([b]) for b in got] == [positions([b]) for b in want]
    for g, w in zip(got, want):
        for k, v in w.items():
            if hasattr(v, "tobytes"):
                assert type(g[k]) is type(v) and g[k].tobytes() == v.tobytes()
    got = list(bt.DataLoader(bt.IterableDataset(eeg, **kw), num_workers=0))
    assert len(got) == len(want)
    with pytest.raises(ValueError, match="pin_memory=True needs CUDA"):
        bt.DataLoader(bt.IterableDataset(eeg, **kw), pin_memory=True)
    with pytest.raises(ValueError, match="pin_memory=True needs CUDA"):
        next(iter(bt.IterableDataset(eeg, pin_memory=True, **kw)))
