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
    """The model as the bytes of a model file (what ``save`` writes; pickling uses this too).

    Parameters
    ----------
    model : Sequential
        The model (an unbuilt one gives its architecture only).
    include_optimizer : bool, default True
        Include the optimizer and its state.

    Returns
    -------
    bytes
        A safetensors file's contents; ``from_bytes`` reads them back.

    Raises
    ------
    TypeError
        If ``model`` is not a ``ferronet.Sequential`` or ``include_optimizer`` is not a bool.
    """
    if not isinstance(model, Sequential):
        raise TypeError(f"model must be a ferronet.Sequential; got {type(model).__name__}")
    return model._to_bytes(check_bool(include_optimizer, "include_optimizer"))


def save(model: Sequential, path: str | os.PathLike[str], include_optimizer: bool = True) -> None:
    """Write ``model`` to ``path``, atomically (see ``Sequential.save``).

    Parameters
    ----------
    model : Sequential
        The model to write.
    path : str or os.PathLike
        The file (its directory must exist).
    include_optimizer : bool, default True
        Store the optimizer and its state, so that ``fit`` continues exactly after ``load``.

    Raises
    ------
    TypeError
        If ``model`` is not a ``ferronet.Sequential``.
    OSError
        If the file cannot be written (an existing file is left as it was).
    """
    if not isinstance(model, Sequential):
        raise TypeError(f"model must be a ferronet.Sequential; got {type(model).__name__}")
    model.save(path, include_optimizer=include_optimizer)


def load(path: str | os.PathLike[str]) -> Sequential:
    """Read a model written by ``save``.

    Parameters
    ----------
    path : str or os.PathLike
        A model file written by ``Sequential.save`` or ``ferronet.io.save``.

    Returns
    -------
    Sequential
        The architecture, the weights and, when stored, the optimizer and its state (``fit`` then continues
        exactly).

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist or is a directory.
    ValueError
        If the file is not a valid ferronet model file (the message names the file and the reason).

    Examples
    --------
    >>> import ferronet as fnet
    >>> model = fnet.load("model.safetensors")  # doctest: +SKIP
    """
    return Sequential._from_path_with_metadata(path, f"model file {str(_files.as_path(path))!r}")[0]


def from_bytes(data: Any) -> Sequential:
    """The model in ``data``.

    Parameters
    ----------
    data : bytes, bytearray or memoryview
        The contents of a file written by ``save``, or what ``to_bytes`` returned.

    Returns
    -------
    Sequential
        The model, as ``load`` would give it.

    Raises
    ------
    TypeError
        If ``data`` is not bytes-like.
    ValueError
        If ``data`` is not a valid ferronet model file.
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"data must be bytes (a ferronet model file's contents); got {type(data).__name__}")
    return Sequential._from_bytes(bytes(data), "model bytes")


__all__ = ["from_bytes", "load", "save", "to_bytes"]
