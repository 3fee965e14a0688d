"""Checkpoints of a long rehearsal: one ``.npz`` file, written atomically, checked on load.

A checkpoint holds the coordinator's clock and warehouse queues and every
shard's state merged into whole-problem arrays, so a run resumes with any
number of workers. A fingerprint of the problem, the parameters that change
results, and the seed guards against resuming a different run.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import numpy as np

from forestock.errors import ForestockError

_VERSION = 2  # 2: one keyed draw per order, stratified arrivals


def fingerprint(*parts: object) -> str:
    """A SHA-256 over arrays (their bytes, dtype and shape) and other values (their repr)."""
    h = hashlib.sha256(f"v{_VERSION}".encode())
    for part in parts:
        if isinstance(part, np.ndarray):
            arr = np.ascontiguousarray(part)
            h.update(f"{arr.dtype.str}{arr.shape}".encode())
            h.update(arr.tobytes())
        else:
            h.update(repr(part).encode())
    return h.hexdigest()


def save(path: Path, stamp: str, arrays: dict[str, np.ndarray]) -> None:
    """Write ``arrays`` and ``stamp`` to ``path`` via a temporary file and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with tmp.open("wb") as fh:
        payload: dict[str, Any] = {"__stamp__": np.array(stamp), **arrays}
        np.savez(fh, **payload)
        fh.flush()
        os.fsync(fh.fileno())
    tmp.replace(path)


def load(path: Path, stamp: str) -> dict[str, np.ndarray]:
    """Read a checkpoint; raise :class:`ForestockError` if it belongs to another run."""
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except (OSError, ValueError) as err:
        raise ForestockError(f"checkpoint {path} cannot be read: {err}") from None
    if str(arrays.pop("__stamp__", "")) != stamp:
        raise ForestockError(
            f"checkpoint {path} was made by a run with other inputs, options or seed; "
            "rerun with the same ones, or start afresh without resuming"
        )
    return arrays
