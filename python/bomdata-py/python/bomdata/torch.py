"""PyTorch integration: :class:`IterableDataset` for ``torch.utils.data.DataLoader(batch_size=None)``
and :class:`DataLoader`, which also keeps the resumable state when batches come from worker
processes.

The batches are the Rust loader's: ``DataLoader`` only moves them (``default_convert`` turns the
NumPy views into tensors without a copy in the main process; worker processes send them
through shared memory). With ``num_workers=K > 0`` worker ``w`` of rank ``r`` reads as rank
``r*K + w`` of ``world*K`` (the worker id folded into the partition), so every unit is still
read exactly once per epoch; the batch order then interleaves the workers' shares.
"""
from __future__ import annotations

import json
from typing import Any, Dict, Iterator, List, Optional

import torch
import torch.utils.data

from . import Loader, TokenLoader

__all__ = ["IterableDataset", "TokenIterableDataset", "DataLoader"]

WORKER_KEY = "__worker__"


def _cuda() -> bool:
    try:
        return bool(torch.cuda.is_available())
    except Exception:  # a CUDA build without a driver
        return False


class IterableDataset(torch.utils.data.IterableDataset):
    """bomdata batches as a PyTorch ``IterableDataset`` (use with ``batch_size=None``).

    Args:
        paths, **kwargs: as :class:`bomdata.Loader` (``rank``/``world_size`` default to the
            torchrun or Slurm variables).
        pin_memory: when iterated in the main process (``num_workers=0`` or no DataLoader),
            yield tensors in pinned memory (a copy); ``None``: when CUDA is available (checked
            at run time: without CUDA the batches are yielded as they are, NumPy views, a
            no-op); ``True`` without CUDA raises ``ValueError`` when iteration starts (pinned
            memory needs a CUDA driver). With worker processes use
            ``DataLoader(pin_memory=...)`` instead.

    In the main process the dataset holds one :class:`bomdata.Loader`; in each worker process
    it builds its own with the worker folded into the partition, starting from the state the
    main process set (:meth:`set_epoch` / :meth:`load_state_dict`). Each batch carries
    ``"__worker__"`` (the worker id) when it comes from a worker; :class:`DataLoader` removes it
    and counts batches per worker for :meth:`DataLoader.state_dict`.
    """

    _loader_class: Any = Loader

    def __init__(self, paths: Any, pin_memory: Optional[bool] = None, **kwargs: Any) -> None:
        super().__init__()
        self._kwargs: Dict[str, Any] = dict(kwargs, paths=paths)
        self.pin_memory = pin_memory
        self._loader: Optional[Loader] = None
        self._state: Optional[Dict[str, Any]] = None

    def __getstate__(self) -> Dict[str, Any]:
        d = dict(self.__dict__)
        d["_loader"] = None  # rebuilt where it is used
        return d

    def loader(self) -> Any:
        """The main-process loader (built on first use)."""
        if self._loader is None:
            self._loader = self._loader_class(**self._kwargs)
            if self._state is not None:
                self._loader.load_state_dict(self._state)
        return self._loader

    def set_epoch(self, epoch: int) -> None:
        """Start the next iteration at the beginning of ``epoch``."""
        self.loader().set_epoch(epoch)
        self._state = self.loader().state_dict()

    def state_dict(self) -> Dict[str, Any]:
        """The state after the batches the main process iterated (``num_workers=0``); with
        worker processes use :meth:`DataLoader.state_dict`."""
        return self.loader().state_dict()

    def load_state_dict(self, state: Dict[str, Any]) -> None:
        """Resume from a saved state (any world size or worker count)."""
        self.loader().load_state_dict(state)
        self._state = dict(state)

    def __iter__(self) -> Iterator[Dict[str, Any]]:
        info = torch.utils.data.get_worker_info()
        if info is None:
            pin = _pin(self.pin_memory)
            for b in self.loader():
                yield _pinned(b) if pin else b
            self._state = self.loader().state_dict()
            return
        start = self._state
        loader = self._loader_class(**dict(self._kwargs, worker=[info.id, info.num_workers]))
        if start is not None:
            loader.load_state_dict(start)
        for b in loader:
            b[WORKER_KEY] = info.id
            yield b


class TokenIterableDataset(IterableDataset):
    """Token batches (:class:`bomdata.TokenLoader`: ``input_ids``, ``position_ids``,
    ``cu_seqlens``, ``max_seqlen``) as a PyTorch ``IterableDataset``; use with
    ``DataLoader(batch_size=None)``. With ``num_workers=K > 0`` worker ``w`` of rank ``r``
    reads as rank ``r*K + w`` of ``world*K`` over the token units (documents or packed
    sequences), so every token is still read exactly once per epoch, and
    :meth:`DataLoader.state_dict` resumes exactly. The loader's own reader threads
    (``threads``) usually make worker processes unnecessary. ``paths, **kwargs`` as
    :class:`bomdata.TokenLoader`.
    """

    _loader_class: Any = TokenLoader


def _pin(pin_memory: Optional[bool]) -> bool:
    """Whether to pin: ``None`` pins when CUDA is available; ``True`` without CUDA is refused
    (``torch.Tensor.pin_memory`` would fail deep inside the first batch)."""
    if pin_memory is None:
        return _cuda()
    if pin_memory and not _cuda():
        raise ValueError("bomdata.torch: pin_memory=True needs CUDA, but "
                         "torch.cuda.is_available() is False; use pin_memory=None (pin when "
                         "CUDA is present) or False")
    return bool(pin_memory)


def _pinned(batch: Dict[str, Any]) -> Dict[str, Any]:
    out: Dict[str, Any] = {}
    for k, v in batch.items():
        if hasattr(v, "__array_interface__"):
            out[k] = torch.from_numpy(v).pin_memory()
        else:
            out[k] = v
    return out


class DataLoader(torch.utils.data.DataLoader):
    """``torch.utils.data.DataLoader(dataset, batch_size=None, ...)`` over an
    :class:`IterableDataset`, with the loader state of the batches it yielded.

    ``pin_memory=None`` pins when CUDA is available (run-time check; without CUDA a no-op),
    ``True`` without CUDA raises ``ValueError`` here. :meth:`state_dict`
    after any batch, saved with the checkpoint, resumes exactly through
    :meth:`load_state_dict` (also with another world size or number of workers).
    """

    def __init__(self, dataset: IterableDataset, num_workers: int = 0,
                 pin_memory: Optional[bool] = None, **kwargs: Any) -> None:
        if kwargs.get("persistent_workers"):
            raise ValueError("bomdata.torch.DataLoader: persistent_workers is not supported "
                             "(each epoch's workers start from the state set in the main process)")
        pin = _pin(pin_memory)
        if num_workers == 0:
            dataset.pin_memory = pin
            pin = False  # the dataset pins in the main process
        super().__init__(dataset, batch_size=None, num_workers=num_workers, pin_memory=pin,
                         **kwargs)
        self._base: Optional[Dict[str, Any]] = None
        self._counts: Optional[List[int]] = None

    def state_dict(self) -> Dict[str, Any]:
        """The state after the batches this DataLoader yielded so far."""
        ds: IterableDataset = self.dataset  # type: ignore[assignment]
        if self.num_workers == 0 or self._counts is None or self._base is None:
            return ds.state_dict()
        native = ds.loader()._native
        return json.loads(native.merged_state_json(json.dumps(self._base), self._counts))

    def load_state_dict(self, state: Dict[str, Any]) -> None:
        """Resume from :meth:`state_dict` (takes effect at the next ``iter``)."""
        self._counts = None
        self._base = None
        self.dataset.load_state_dict(state)  # type: ignore[attr-defined]

    def __iter__(self) -> Iterator[Any]:  # type: ignore[override]
        ds: IterableDataset = self.dataset  # type: ignore[assignment]
        if self.num_workers == 0:
            yield from super().__iter__()
            return
        if self._counts is not None:
            # an earlier iteration stopped early: continue after what it yielded
            ds.load_state_dict(self.state_dict())
        self._base = ds.loader().state_dict() if ds._state is None else dict(ds._state)
        ds._state = self._base
        self._counts = [0] * self.num_workers
        for b in super().__iter__():
            w = int(b.pop(WORKER_KEY))
            self._counts[w] += 1
            yield b
        ds.load_state_dict(self.state_dict())
        self._counts = None
        self._base = None
