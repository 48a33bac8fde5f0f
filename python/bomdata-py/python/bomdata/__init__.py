"""bomdata: stream bomdata training shards into NumPy and PyTorch.

The package is a thin layer over the Rust ``bomdata-loader`` (no re-implementation in
Python): the order, the partition between ranks, the exact resume and the reading itself are
the Rust loader's, so a Python job sees byte for byte the batches a Rust job with the same
options sees, in the same order.

Example::

    import bomdata
    loader = bomdata.Loader(["ukb_swift/", "hcp_swift/"], weights=[0.7, 0.3], split="train",
                            fields=["fmri.npy"], batch_size=8, seed=0, shuffle_buffer=2048)
    loader.set_epoch(3)
    for batch in loader:                  # dict: field -> numpy array (zero-copy view)
        x = batch["fmri.npy"]
    state = loader.state_dict()           # small JSON-able dict
    loader.load_state_dict(state)         # resumes exactly (any world size)

See ``bomdata.torch`` for the PyTorch ``IterableDataset`` and ``DataLoader``.
"""
from __future__ import annotations

import json
import os
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple, TypeVar, Union

from ._native import BomdataError, NativeLoader, NativeTokenLoader

__all__ = ["Loader", "TokenLoader", "BomdataError", "pair_rows", "__version__"]
__version__ = "0.1.0"

PathLike = Union[str, "os.PathLike[str]"]

_Self = TypeVar("_Self", bound="_NativeLoader")


class _NativeLoader:
    """What :class:`Loader` and :class:`TokenLoader` share over their native loader
    (``self._native``): state, epochs, iteration, closing and the context manager."""

    _native: Any

    @property
    def info(self) -> Dict[str, Any]:
        """Rank, world size, plan fingerprint, the effective options and counts."""
        i = dict(self._native.info())
        i["options"] = json.loads(i["options"])
        return i

    def set_epoch(self, epoch: int) -> None:
        """Jumps to the start of ``epoch`` (stops a running iteration)."""
        self._native.set_epoch(int(epoch))

    def state_dict(self) -> Dict[str, Any]:
        """The state after the batches yielded so far: a small JSON-able dict (epoch, global
        position or remaining ranges, plan fingerprint). It does not depend on the rank, the
        world size or the thread count: any of them may change on resume."""
        return json.loads(self._native.state_json())

    def load_state_dict(self, state: Dict[str, Any]) -> None:
        """Resumes exactly from a :meth:`state_dict` (any world size; raises if it belongs to
        another plan)."""
        self._native.load_state_json(json.dumps(state))

    def __iter__(self) -> Iterator[Dict[str, Any]]:
        # a new iteration continues from the state after the batches already handed out
        self._native.reset()
        return self._iterate()

    def _iterate(self) -> Iterator[Dict[str, Any]]:
        native = self._native
        while True:
            b = native.next_batch()
            if b is None:
                return
            yield b

    def close(self) -> None:
        """Stops the reader threads (the state is kept)."""
        self._native.reset()

    def __enter__(self: _Self) -> _Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Loader(_NativeLoader):
    """One rank's share of a planned, exactly-once order over bomdata datasets, in batches.

    Args:
        paths: dataset directories (``bomdata shard`` output); several are mixed by ``weights``.
        weights: one positive weight per path (default: equal).
        split: keep one split (``"train"``, ``"val"``, ``"test"``).
        fields: member names to collate (``"x.npy"``, ``"meta.json"``); default every member.
        batch_size: units per batch (a unit is a sample, or one pairing / group).
        seed: with the epoch, fixes the order.
        shuffle_buffer: shuffle buffer in samples (shards are permuted per epoch too).
        rank, world_size: this process's rank; ``None`` reads torchrun (``RANK``,
            ``WORLD_SIZE``) or Slurm (``SLURM_PROCID``, ``SLURM_NTASKS``) variables, else 0 of 1.
        threads: reader threads.
        drop_last: drop this rank's last short batch.
        **options: everything else the Rust loader takes, passed through unchanged:
            the binding's own keys (``epoch_len``, ``sources``, ``modalities``, ``meta``
            (equality filters on ``meta.json``), ``shuffle`` (``"buffer"``, ``"global"``,
            ``"none"``), ``shuffle_buffer_bytes``, ``shuffle_shards``, ``pairs``
            (``{"modalities": [...], "rows": [...]}``, see :func:`pair_rows`), ``groups``
            (``{"key": ..., "batch_size": ..., "drop_partial": ...}``), ``remainder``
            (``"uneven"``, ``"drop"``, ``"pad"``), ``partition`` (``"blocks"``,
            ``"interleave"``), ``lock_pages``) and every field of the Rust ``LoaderOptions``
            (``prefetch``, ``read`` (``"pread"``, the default: positioned reads straight
            into the batch buffers, one call per run of adjacent members; ``"mmap"``: copies
            from the mapped shard), and whatever the loader adds:
            new options need no change here). An unknown key raises :class:`BomdataError`.

    Raises :class:`BomdataError` when it would read nothing: a filter (``split``,
    ``sources``, ``modalities``, ``meta``) that leaves a dataset without samples (the message
    names the dataset and its filters, e.g. ``split=val`` on a dataset without that split), or
    a ``fields`` entry that no selected sample has (the message names the field, the datasets
    and the members they do have).

    Iterating yields the rest of the current epoch; afterwards the loader stands at the start
    of the next epoch. Each batch is a dict: ``field -> numpy array`` for ``.npy`` members
    (shape ``[rows, ...]``, a zero-copy view of the loader's batch buffer that stays valid as
    long as the array lives), ``field -> list[bytes]`` for other members,
    ``"__positions__"`` (global plan positions, uint64) and, when units have several slots,
    ``"__mask__"`` (bool ``[rows, slots]``). With pairing, keys are ``"<modality>/<field>"``;
    with group batches, slot ``s > 0`` is ``"<field>#<s>"``.

    Variable shapes: ``shapes={"volume.npy": policy}`` (the Rust ``LoaderOptions::shapes``)
    chooses per field what happens when the samples of a batch differ in shape:

    - ``"pad"`` / ``"pad_masked"``: the field is zero-padded to the batch's largest shape
      (a 3-D volume among 4-D ones counts as ``[x, y, z, 1]``), plus ``"<stem>.shape"``
      (int64 ``[rows, ndim]``, each row's own shape) and for ``pad_masked`` ``"<stem>.mask"``
      (bool, true on real elements), all NumPy arrays (``volume.npy`` -> ``volume.shape``);
    - ``"list"``: a Python list with one NumPy array per row in its own shape; each is a
      zero-copy (read-write, possibly unaligned) view of the batch buffer, valid as long as it
      lives (``None`` for a missing row);
    - ``"bucket"``: batches of one shape only. The planner makes them
      (``Planner::with_buckets`` over the bucket fields): ``batch_size`` is the number of
      samples of a bucket batch, the last batch of each shape may be short (dropped with
      ``drop_last=True``), ``"__positions__"`` holds one plan position per batch, and
      ``len()``, state and resume count bucket batches. Not with ``pairs`` or ``groups``.
    """

    def __init__(
        self,
        paths: Union[PathLike, Sequence[PathLike]],
        weights: Optional[Sequence[float]] = None,
        split: Optional[str] = None,
        fields: Optional[Sequence[str]] = None,
        batch_size: int = 1,
        seed: int = 0,
        shuffle_buffer: int = 4096,
        rank: Optional[int] = None,
        world_size: Optional[int] = None,
        threads: int = 2,
        drop_last: bool = False,
        **options: Any,
    ) -> None:
        if isinstance(paths, (str, os.PathLike)):
            paths = [paths]
        spec: Dict[str, Any] = {
            "paths": [os.fspath(p) for p in paths],
            "seed": int(seed),
            "shuffle_buffer": int(shuffle_buffer),
            "batch_size": int(batch_size),
            "threads": int(threads),
            "drop_last": bool(drop_last),
        }
        for k, v in (("weights", weights), ("split", split), ("rank", rank),
                     ("world_size", world_size)):
            if v is not None:
                spec[k] = list(v) if k == "weights" else v
        if fields is not None:
            spec["fields"] = list(fields)
        spec.update(options)
        self._spec = spec
        self._native = NativeLoader(json.dumps(spec))

    @property
    def spec(self) -> Dict[str, Any]:
        """The options this loader was built with (JSON-able; ``Loader(**spec)`` rebuilds it)."""
        return dict(self._spec)

    def stats(self) -> Optional[Dict[str, Any]]:
        """Statistics of the last finished epoch (batches, samples, bytes, stall time)."""
        s = self._native.stats_json()
        return None if s is None else json.loads(s)

    def __len__(self) -> int:
        """Batches left in the current epoch for this rank."""
        return int(self._native.num_batches())


class TokenLoader(_NativeLoader):
    """Token batches over ``bomdata shard --tokens`` datasets (the Rust ``TokenLoader``).

    Documents are joined back from the stored sequences, permuted per epoch (seeded) and cut
    into units: every token of every document once per epoch, over any world size.

    Args:
        paths: token datasets; several are mixed by ``weights``.
        mode: ``"budget"`` (whole documents packed into batches of at most ``max_tokens``
            tokens; one row per batch) or ``"packed"`` (documents concatenated and cut every
            ``seq_len`` tokens, ``batch_size`` sequences per batch; the epoch's last sequence
            padded with ``pad_id``).
        max_tokens: budget mode: tokens per batch at most.
        seq_len: packed mode: tokens per sequence.
        batch_size: packed mode: sequences per batch.
        split_long: budget mode: cut a document longer than ``max_tokens`` into chunks (else
            such a document raises :class:`BomdataError`).
        seed: with the epoch, fixes the document order; ``shuffle=False`` keeps stored order.
        rank, world_size: as :class:`Loader` (``None``: torchrun / Slurm variables).
        drop_last: drop this rank's last short batch.
        threads: reader threads building batches ahead (batch ``b`` on thread
            ``b % threads``: the batches do not depend on it); 0 builds them on the loader's
            own thread, one batch ahead.
        prefetch: batches read ahead in all (default ``2 * threads``).
        split, weights, sources, modalities, meta, epoch_len, worker, remainder, partition:
            as :class:`Loader`.
        **token_options: other fields of the Rust ``TokenOptions`` (``shuffle``, ``pad_id``).

    Raises :class:`BomdataError` when a filter leaves a dataset without samples (as
    :class:`Loader`).

    Each batch is a dict of NumPy arrays (zero-copy views of the Rust batch):
    ``input_ids`` (int64 ``[rows, seq_len]``), ``position_ids`` (int64, same shape, restarting
    at 0 at every document piece), ``cu_seqlens`` (int32 ``[pieces + 1]``, the FlashAttention
    varlen convention; padding lies after its last entry), ``max_seqlen`` (int), and
    ``"__positions__"`` (uint64 plan positions) and ``"__spans__"`` (uint64 ``[pieces, 3]``:
    document number, first token, one past the last token; see :meth:`documents`).
    """

    _LOADER_KEYS = ("weights", "split", "sources", "modalities", "meta", "epoch_len", "worker",
                    "remainder", "partition")

    def __init__(
        self,
        paths: Union[PathLike, Sequence[PathLike]],
        mode: str = "budget",
        max_tokens: int = 8192,
        seq_len: int = 2048,
        batch_size: int = 1,
        split_long: bool = False,
        seed: int = 0,
        rank: Optional[int] = None,
        world_size: Optional[int] = None,
        drop_last: bool = False,
        threads: int = 2,
        prefetch: Optional[int] = None,
        **options: Any,
    ) -> None:
        if isinstance(paths, (str, os.PathLike)):
            paths = [paths]
        loader: Dict[str, Any] = {"paths": [os.fspath(p) for p in paths]}
        for k, v in (("rank", rank), ("world_size", world_size)):
            if v is not None:
                loader[k] = int(v)
        tokens: Dict[str, Any] = {"mode": mode, "max_tokens": int(max_tokens),
                                  "seq_len": int(seq_len), "batch_size": int(batch_size),
                                  "split_long": bool(split_long), "seed": int(seed),
                                  "drop_last": bool(drop_last)}
        for k, v in options.items():
            (loader if k in self._LOADER_KEYS else tokens)[k] = v
        self._spec = {"loader": loader, "tokens": tokens, "threads": int(threads)}
        if prefetch is not None:
            self._spec["prefetch"] = int(prefetch)
        self._native = NativeTokenLoader(json.dumps(self._spec))

    def documents(self) -> List[Tuple[str, int]]:
        """``(sample key, tokens)`` of every document, by document number."""
        return list(self._native.documents())


def pair_rows(paths: Union[PathLike, Sequence[PathLike]], **filters: Any) -> List[Dict[str, str]]:
    """Rows for same-subject pairing: one per selected sample of each dataset, with the
    subject, session and modality read from the sample key
    (``<source>_<subject>[_<session>][_<run>][_<modality>][_<index>]``): the session is the
    segment after the subject when one precedes the modality.

    Use as ``Loader(paths, pairs={"modalities": ["smri", "fmri"], "rows": pair_rows(paths)})``;
    ``filters`` (``split``, ``sources``, ...) narrow the selection as in :class:`Loader`.
    Build the rows yourself (e.g. from ``subjects.parquet``) when keys do not follow that
    layout.
    """
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    spec = dict(filters, paths=[os.fspath(p) for p in paths], shuffle="none", threads=1)
    rows: List[Dict[str, str]] = []
    return [{"key": k, "subject": s, "session": ss, "modality": m}
            for k, s, ss, m in NativeLoader(json.dumps(spec)).pair_rows()]
