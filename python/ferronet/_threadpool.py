"""ferronet's thread pool under threadpoolctl, so that the limits other libraries set apply to the engine too.

``threadpoolctl.threadpool_limits(1)`` (scikit-learn, and code that nests parallelism) limits the BLAS and OpenMP
pools it finds among the loaded libraries. Registering a controller for the engine (``_core``) makes it one of
them: ``threadpool_limits(limits=1)`` or ``threadpool_limits({"ferronet": 1})`` sets the engine's thread count
with ``ferronet.set_num_threads`` and puts it back afterwards, and ``threadpool_info()`` lists it. Worker
processes (joblib's loky, Dask's nanny) set ``OMP_NUM_THREADS``, which the engine reads for its default size
(``rust/threads.rs``). Without threadpoolctl (or with a version older than 3.5, which has no ``register``) there is
nothing to register.
"""

from __future__ import annotations

import os
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from . import _core

__all__ = ["register"]

_registered = False


def _version() -> str | None:
    try:
        return version("ferronet")
    except PackageNotFoundError:  # pragma: no cover - a source tree without metadata
        return None


def _same_file(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def register() -> bool:
    """Register the engine's controller with threadpoolctl (once); whether threadpoolctl now knows the engine."""
    global _registered
    if _registered:
        return True
    try:
        import threadpoolctl
    except ImportError:
        return False
    if not (hasattr(threadpoolctl, "register") and hasattr(threadpoolctl, "LibController")):
        return False

    class FerronetController(threadpoolctl.LibController):  # type: ignore[misc]  # threadpoolctl is untyped
        """The engine's pool, found by threadpoolctl as the loaded ``_core`` library of this package."""

        user_api = "ferronet"
        internal_api = "ferronet"
        filename_prefixes = ("_core",)
        check_symbols = ("PyInit__core",)

        def set_additional_attributes(self) -> None:
            # another package's "_core" extension is not ours: threadpoolctl skips a library whose controller
            # raises OSError while it is built
            if not _same_file(self.filepath, _core.__file__):
                raise OSError(f"{self.filepath} is not ferronet's engine")

        def get_num_threads(self) -> int:
            return int(_core.get_num_threads())

        def set_num_threads(self, num_threads: Any) -> None:
            _core.set_num_threads(max(1, min(int(num_threads), 1024)))

        def get_version(self) -> str | None:
            return _version()

    threadpoolctl.register(FerronetController)
    _registered = True
    return True
