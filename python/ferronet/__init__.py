"""ferronet: train dense neural networks (MLPs) from NumPy, with every hot loop in Rust.

>>> import ferronet as fnet
>>> X, y = fnet.datasets.make_spiral()
>>> model = fnet.Sequential([fnet.Dense(100, activation="relu"), fnet.Dense(3)], input_dim=2, l2=1e-3)
>>> history = model.fit(X, y, epochs=200, batch_size=300, optimizer=fnet.optim.SGD(lr=1.0))
"""

from __future__ import annotations

import importlib
import logging
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

from . import _core, _threadpool, callbacks, datasets, ops, optim, preprocessing, reference, schedules, utils
from ._validation import check_int
from .callbacks import EarlyStopping, History
from .layers import Activation, BatchNorm, Dense, Dropout, Layer
from .model import Sequential

# Library convention: ferronet logs (where a data set was found ...) to the "ferronet" logger and shows nothing
# unless the application configures logging (logging.basicConfig(level=logging.INFO)); the command line does.
logging.getLogger("ferronet").addHandler(logging.NullHandler())

# threadpoolctl's limits (scikit-learn's, joblib's, the user's threadpool_limits) apply to the engine's pool too.
_threadpool.register()

if TYPE_CHECKING:
    # What the lazy names below are, for type checkers and IDEs; at run time they are imported on first use, so
    # `import ferronet` never imports matplotlib, scikit-learn, onnx, torch or dask.
    from . import diagnostics as diagnostics
    from . import distributed as distributed
    from . import io as io
    from . import onnx as onnx
    from . import plot as plot
    from . import sklearn as sklearn
    from . import torch_interop as torch_interop
    from .io import load as load

try:
    __version__ = version("ferronet")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without metadata
    __version__ = "0.0.0"


# Modules with optional dependencies (matplotlib, scikit-learn, onnx, torch, dask) load on first use.
_LAZY_MODULES = frozenset({"diagnostics", "distributed", "io", "onnx", "plot", "sklearn", "torch_interop"})


# Hidden from type checkers: a module-level __getattr__ would make every misspelt attribute (fnet.sklern) an Any
# instead of an error; they see the imports above instead.
if not TYPE_CHECKING:

    def __getattr__(name: str) -> Any:
        if name in _LAZY_MODULES:
            return importlib.import_module(f".{name}", __name__)
        if name == "load":
            return importlib.import_module(".io", __name__).load
        raise AttributeError(f"module 'ferronet' has no attribute {name!r}")


def set_num_threads(n: int) -> None:
    """Set the number of threads the engine computes with (results do not depend on it, only speed).

    Parameters
    ----------
    n : int
        Threads, from 1 to 1024; counts above ``max(4, os.cpu_count())`` use that cap (more threads than
        cores only wait for each other). The default is ``$FERRONET_NUM_THREADS``, else ``$OMP_NUM_THREADS``, else
        the number of cores.

    Raises
    ------
    TypeError
        If ``n`` is not an integer.
    ValueError
        If ``n`` is out of range.
    """
    _core.set_num_threads(check_int(n, "n", minimum=1, maximum=1024))


def get_num_threads() -> int:
    """The number of threads the engine computes with.

    Returns
    -------
    int
        What ``set_num_threads`` set; by default ``$FERRONET_NUM_THREADS``, else ``$OMP_NUM_THREADS``, else
        the number of cores. ``threadpoolctl.threadpool_limits`` changes it for its block.
    """
    return int(_core.get_num_threads())


__all__ = [
    "Activation",
    "BatchNorm",
    "Dense",
    "Dropout",
    "EarlyStopping",
    "History",
    "Layer",
    "Sequential",
    "__version__",
    "callbacks",
    "datasets",
    "diagnostics",
    "get_num_threads",
    "io",
    "load",
    "ops",
    "optim",
    "preprocessing",
    "reference",
    "schedules",
    "set_num_threads",
    "utils",
]
