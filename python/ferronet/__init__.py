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
from typing import Any

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

try:
    __version__ = version("ferronet")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without metadata
    __version__ = "0.0.0"


# Modules with optional dependencies (matplotlib, scikit-learn, onnx, torch, dask) load on first use.
_LAZY_MODULES = frozenset({"diagnostics", "distributed", "io", "onnx", "plot", "sklearn", "torch_interop"})


def __getattr__(name: str) -> Any:
    if name in _LAZY_MODULES:
        return importlib.import_module(f".{name}", __name__)
    if name == "load":
        return importlib.import_module(".io", __name__).load
    raise AttributeError(f"module 'ferronet' has no attribute {name!r}")


def set_num_threads(n: int) -> None:
    """Set the number of threads the engine computes with (results do not depend on it, only speed).

    Counts above ``max(4, os.cpu_count())`` use that cap: more threads than cores only wait for each other.
    """
    _core.set_num_threads(check_int(n, "n", minimum=1, maximum=1024))


def get_num_threads() -> int:
    """The number of threads the engine computes with (default: $FERRONET_NUM_THREADS, else $OMP_NUM_THREADS,
    else all cores; ``threadpoolctl.threadpool_limits`` changes it for its block)."""
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
