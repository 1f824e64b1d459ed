"""Model files: ``ferronet.load`` and the bytes of a model (``to_bytes``/``from_bytes``).

A model file is a plain safetensors file (``safetensors.numpy.load_file`` reads it) whose metadata holds the
architecture, the counters and, unless saved with ``include_optimizer=False``, the optimizer and its state; the
format is defined and checked by the engine (docs/architecture.md, "The model file"). Reading trusts nothing: a
truncated, corrupted, foreign or hostile file raises ``ValueError`` naming the file and the reason, never a
crash or a huge allocation.
"""

from __future__ import annotations

import os
from typing import Any

from . import _files
from ._validation import check_bool
from .model import Sequential


def to_bytes(model: Sequential, include_optimizer: bool = True) -> bytes:
    """The model as the bytes of a model file (what ``save`` writes; pickling uses this too)."""
    if not isinstance(model, Sequential):
        raise TypeError(f"model must be a ferronet.Sequential; got {type(model).__name__}")
    return model._to_bytes(check_bool(include_optimizer, "include_optimizer"))


def save(model: Sequential, path: str | os.PathLike[str], include_optimizer: bool = True) -> None:
    """Write ``model`` to ``path`` (see ``Sequential.save``)."""
    if not isinstance(model, Sequential):
        raise TypeError(f"model must be a ferronet.Sequential; got {type(model).__name__}")
    model.save(path, include_optimizer=include_optimizer)


def load(path: str | os.PathLike[str]) -> Sequential:
    """Read a model written by ``save``: the architecture, the weights and, when stored, the optimizer and its
    state (``fit`` then continues exactly). A missing path (or a directory) raises ``FileNotFoundError``; a file
    that is not a valid ferronet model file raises ``ValueError`` naming the file and the reason."""
    data = _files.read_bytes(path)
    return Sequential._from_bytes(data, f"model file {str(_files.as_path(path))!r}")


def from_bytes(data: Any) -> Sequential:
    """The model in ``data`` (bytes of a file written by ``save`` or ``to_bytes``)."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"data must be bytes (a ferronet model file's contents); got {type(data).__name__}")
    return Sequential._from_bytes(bytes(data), "model bytes")
