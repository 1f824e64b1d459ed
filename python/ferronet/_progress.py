"""Progress bars for ``fit(progress=...)``: a tqdm bar per epoch, on a terminal or in a Jupyter notebook.

In a notebook the bar is tqdm's widget when ipywidgets is installed, and tqdm's text bar on the cell's stderr
otherwise (tqdm.auto would warn about the missing ipywidgets instead, and ``fit`` must not warn).
"""

from __future__ import annotations

import importlib.util
import sys
from typing import Any

import numpy as np


def in_notebook() -> bool:
    """Whether this code runs in a Jupyter kernel (Jupyter, JupyterLab, VS Code, Colab), not a terminal IPython."""
    ipython = sys.modules.get("IPython")  # never imported here: a kernel has always imported it already
    get_ipython = getattr(ipython, "get_ipython", None)
    shell = get_ipython() if callable(get_ipython) else None
    if shell is None:
        return False
    if any(cls.__name__ == "ZMQInteractiveShell" for cls in type(shell).__mro__):
        return True
    config = getattr(shell, "config", None)
    return config is not None and "IPKernelApp" in config


def _stderr_is_terminal() -> bool:
    isatty = getattr(sys.stderr, "isatty", None)  # sys.stderr may be None (pythonw) or a stream without isatty
    return bool(callable(isatty) and isatty())


def _has_tqdm() -> bool:
    try:
        import tqdm  # noqa: F401
    except ImportError:
        return False
    return True


def resolve_progress(progress: Any) -> bool:
    """Whether ``fit`` shows a progress bar.

    Parameters
    ----------
    progress : bool or "auto"
        True or False (NumPy bools too), or "auto": on when stderr is a terminal or the code runs in a Jupyter
        notebook, and tqdm is installed.

    Returns
    -------
    bool
        True to draw a bar per epoch.

    Raises
    ------
    TypeError
        If ``progress`` is neither a bool nor "auto".
    ImportError
        If ``progress`` is True and tqdm is not installed.
    """
    if isinstance(progress, str):
        if progress != "auto":  # TypeError, as for every other value that is neither a bool nor "auto"
            raise TypeError(f"progress must be True, False or 'auto'; got {progress!r}")
        return (_stderr_is_terminal() or in_notebook()) and _has_tqdm()
    if not isinstance(progress, (bool, np.bool_)):
        raise TypeError(f"progress must be True, False or 'auto'; got {type(progress).__name__} {progress!r}")
    if progress and not _has_tqdm():
        raise ImportError('progress=True needs tqdm: pip install tqdm (or "ferronet[progress]")')
    return bool(progress)


def progress_bar(total: int, epoch: int, epochs: int) -> Any:
    """A tqdm bar for one epoch of ``total`` rows, described as "epoch {epoch + 1}/{epochs}".

    Parameters
    ----------
    total : int
        Rows in the epoch.
    epoch : int
        The epoch, counted from 0.
    epochs : int
        Epochs in the ``fit`` call.

    Returns
    -------
    tqdm.tqdm
        A widget bar in a notebook with ipywidgets, otherwise a text bar on stderr (tqdm.auto's choice outside
        notebooks). The caller updates and closes it.
    """
    options = {"total": total, "desc": f"epoch {epoch + 1}/{epochs}", "unit": "rows", "leave": True}
    if in_notebook():
        if importlib.util.find_spec("ipywidgets") is not None:
            from tqdm.notebook import tqdm as notebook_tqdm

            try:
                return notebook_tqdm(**options, disable=False)
            except ImportError:  # ipywidgets too old for tqdm's widget: fall back to text
                pass
        from tqdm.std import tqdm as text_tqdm

        return text_tqdm(**options, file=sys.stderr, disable=False)
    from tqdm.auto import tqdm

    # disable=False: the caller already decided (tqdm's disable=None would hide an asked-for bar off a terminal)
    return tqdm(**options, file=sys.stderr, disable=False)
