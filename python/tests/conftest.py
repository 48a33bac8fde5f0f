"""Shared fixtures for the Python interop tests: the bomdata binary and the example dataset."""
import json
import os
import pathlib
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]


def bomdata_bin() -> pathlib.Path:
    p = os.environ.get("BOMDATA_BIN")
    if p:
        return pathlib.Path(p)
    target = pathlib.Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    return target / "debug" / "bomdata"


def run(*args, check=True):
    env = dict(os.environ)
    env.setdefault("BOMDATA_KEY", "python-test-key-0123456789")
    r = subprocess.run([str(bomdata_bin()), *map(str, args)], capture_output=True, text=True, env=env)
    if check and r.returncode != 0:
        raise AssertionError(f"bomdata {args} exited {r.returncode}:\n{r.stderr}")
    return r


@pytest.fixture(scope="session")
def example_dataset(tmp_path_factory):
    """The shipped example BIDS tree, ingested and sharded."""
    assert bomdata_bin().is_file(), f"{bomdata_bin()} missing: build with cargo build -p bomdata"
    d = tmp_path_factory.mktemp("example")
    canon = d / "canonical"
    shards = d / "shards"
    run("ingest", ROOT / "examples" / "bids-mini", "--out", canon)
    run("shard", canon, "--out", shards, "--seed", "1", "--split", "0.34,0.33,0.33")
    return {"canonical": canon, "training": shards}


def manifest(path):
    return json.loads((path / "manifest.json").read_text())
