"""How much memory a model or a fit needs, and whether the machine has it.

The engine allocates fallibly (MemoryError, never an abort), but zeroed pages are only committed when first
written: a model larger than the machine's memory would be built "successfully" and then killed by the kernel's
OOM killer while its weights are drawn. So ``build`` and ``fit`` estimate what they need beforehand and refuse a
request beyond the memory available, with a message that says how much it needs and for what.
"""

from __future__ import annotations

import os
import resource
from collections.abc import Iterable

#: Kept free for Python, NumPy and the rest of the process.
HEADROOM_BYTES = 64 * 2**20


def available_bytes() -> int | None:
    """Memory this process can still get: the smaller of the machine's available memory (Linux'
    ``MemAvailable``) and what the address-space limit (RLIMIT_AS) leaves; None where neither is known."""
    limits = []
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    limits.append(int(line.split()[1]) * 1024)
                    break
    except OSError:
        pass
    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    if soft != resource.RLIM_INFINITY:
        limits.append(max(soft - _address_space_in_use(), 0))
    return min(limits) if limits else None


def _address_space_in_use() -> int:
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError):
        return 0


def _gib(nbytes: float) -> str:
    return f"{nbytes / 2**30:.2f} GiB"


def require(parts: Iterable[tuple[str, int]], what: str) -> None:
    """Raise MemoryError when the named byte counts of ``parts`` add up to more than is available."""
    parts = [(name, int(size)) for name, size in parts if size > 0]
    needed = sum(size for _, size in parts)
    available = available_bytes()
    if available is None or needed + HEADROOM_BYTES <= available:
        return
    breakdown = ", ".join(f"{name} {_gib(size)}" for name, size in parts)
    raise MemoryError(f"{what} needs about {_gib(needed)} ({breakdown}); only {_gib(available)} is available")
