"""Type stubs of the extension module (Rust, pyo3): use :class:`bomdata.Loader` instead."""
from typing import Any, Dict, List, Optional, Tuple

class BomdataError(Exception):
    """A bomdata loader error (bad options, unreadable dataset, foreign state)."""

class BatchBuffer:
    """A batch owned by Python (its buffers stay out of the loader's pool while it lives)."""

class FieldArray:
    """One tensor field of a batch, or one row of a ``list`` field, exported through
    ``__array_interface__`` (a zero-copy view that keeps its batch alive)."""
    @property
    def __array_interface__(self) -> Dict[str, Any]: ...

class NativeLoader:
    """The Rust loader; ``spec`` is the JSON of :attr:`bomdata.Loader.spec`."""
    def __init__(self, spec: str) -> None:
        """Builds the loader; raises :class:`BomdataError` for bad options, an unreadable
        dataset, filters that select no sample of a dataset, or a field no sample has."""
    def next_batch(self) -> Optional[Dict[str, Any]]:
        """The next batch (``field -> ndarray | list``, ``__positions__``, ``__mask__``), or
        ``None`` at the end of the epoch (then the state points at the next epoch)."""
    def reset(self) -> None:
        """Stops reading ahead; the next batch continues from the current state."""
    def state_json(self) -> str:
        """The state after the batches handed out so far (JSON)."""
    def load_state_json(self, state: str) -> None:
        """Restores a state saved by :meth:`state_json` (any world size or worker count)."""
    def set_epoch(self, epoch: int) -> None:
        """Jumps to the start of ``epoch``."""
    def num_batches(self) -> int:
        """Batches this rank (and worker) yields from the current state to the epoch's end."""
    def merged_state_json(self, base: str, counts: List[int]) -> str:
        """The state after worker ``w`` delivered ``counts[w]`` batches from ``base``."""
    def stats_json(self) -> Optional[str]:
        """Statistics of the last finished epoch (JSON), if any."""
    def pair_rows(self) -> List[Tuple[str, str, str, str]]:
        """``(key, subject, session, modality)`` of every selected sample."""
    def info(self) -> Dict[str, Any]:
        """Rank, world size, slots, fingerprint, options (JSON string), samples per dataset."""

class TokenBuffer:
    """A token batch owned by Python (its arrays view the batch's vectors)."""

class TokenArray:
    """One array of a token batch, exported through ``__array_interface__``."""
    @property
    def __array_interface__(self) -> Dict[str, Any]: ...

class NativeTokenLoader:
    """The Rust token loader; ``spec`` is ``{"loader": {paths, filters, rank, ...},
    "tokens": {TokenOptions fields}, "threads": n, "prefetch": m}`` (see
    :class:`bomdata.TokenLoader`)."""
    def __init__(self, spec: str) -> None: ...
    def next_batch(self) -> Optional[Dict[str, Any]]:
        """The next batch (``input_ids``, ``position_ids``, ``cu_seqlens``, ``max_seqlen``,
        ``__positions__``, ``__spans__``), or ``None`` at the end of the epoch."""
    def reset(self) -> None:
        """Stops reading ahead; the next batch continues from the current state."""
    def state_json(self) -> str:
        """The state after the batches handed out so far (JSON)."""
    def load_state_json(self, state: str) -> None:
        """Restores a state saved by :meth:`state_json` (any world size)."""
    def merged_state_json(self, base: str, counts: List[int]) -> str:
        """The state after worker ``w`` of every rank delivered ``counts[w]`` batches from
        the state ``base`` (JSON in and out; see ``bomdata.torch.DataLoader``)."""
    def set_epoch(self, epoch: int) -> None:
        """Jumps to the start of ``epoch``."""
    def info(self) -> Dict[str, Any]:
        """Rank, world size, fingerprint, document count, token options (JSON string)."""
    def documents(self) -> List[Tuple[str, int]]:
        """``(key, tokens)`` of every document, by document number."""
