"""Progress bars for ``fit`` (tqdm, an optional dependency)."""

from __future__ import annotations

import sys
from typing import Any

import numpy as np


def resolve_progress(progress: Any) -> bool:
    """``fit(progress=...)``: True or False, or "auto" (on when stderr is a terminal and tqdm is installed)."""
    if isinstance(progress, str):
        if progress != "auto":  # TypeError, as for every other value that is neither a bool nor "auto"
            raise TypeError(f"progress must be True, False or 'auto'; got {progress!r}")
        isatty = getattr(sys.stderr, "isatty", None)  # sys.stderr may be None (pythonw) or a stream without isatty
        if not (callable(isatty) and isatty()):
            return False
        try:
            import tqdm
        except ImportError:
            return False
        return True
    if not isinstance(progress, (bool, np.bool_)):
        raise TypeError(f"progress must be True, False or 'auto'; got {type(progress).__name__} {progress!r}")
    if progress:
        try:
            import tqdm  # noqa: F401
        except ImportError:
            raise ImportError("progress=True needs tqdm: pip install tqdm (or 'ferronet[progress]')") from None
    return bool(progress)


def progress_bar(total: int, epoch: int, epochs: int) -> Any:
    """A bar over the ``total`` rows of epoch ``epoch`` (0-based) of ``epochs``."""
    from tqdm.auto import tqdm

    # disable=False: the caller already decided (tqdm's disable=None would hide an asked-for bar off a terminal)
    return tqdm(
        total=total, desc=f"epoch {epoch + 1}/{epochs}", unit="rows", leave=True, file=sys.stderr, disable=False
    )
