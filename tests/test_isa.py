"""``FERRONET_ISA``: every instruction set this CPU has gives the product NumPy gives (to rounding), the same bits
on 1 and 2 threads, and naming an unknown set, or one the CPU lacks, is a ValueError rather than a crash.

Each case runs in a fresh interpreter, since the variable is read once per process.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = """
import numpy as np, ferronet
from ferronet import ops
rng = np.random.default_rng(3)
x = rng.standard_normal((130, 300)).astype(np.float32)
w = rng.standard_normal((300, 70)).astype(np.float32)
b = rng.standard_normal(70).astype(np.float32)
try:
    results = []
    for threads in (1, 2):
        ferronet.set_num_threads(threads)
        results.append(ops.dense_forward(x, w, b))
except ValueError as error:
    print("ValueError:", error)
else:
    assert np.array_equal(results[0], results[1]), "1 and 2 threads differ"
    np.testing.assert_allclose(results[0], x.astype(np.float64) @ w + b, rtol=1e-4, atol=1e-3)
    print("ok")
"""


def cpu_flags() -> set[str]:
    cpuinfo = Path("/proc/cpuinfo")
    if not cpuinfo.exists():
        return set()
    for line in cpuinfo.read_text().splitlines():
        if line.startswith("flags"):
            return set(line.split(":", 1)[1].split())
    return set()


def run_with(isa: str) -> str:
    env = dict(os.environ, FERRONET_ISA=isa)
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


FLAGS = cpu_flags()
HAS = {
    "auto": True,
    "generic": True,
    "avx2": {"avx2", "fma"} <= FLAGS,
    "avx512": {"avx2", "fma", "avx512f"} <= FLAGS,
}


@pytest.mark.parametrize("isa", ["auto", "generic", "avx2", "avx512"])
def test_each_available_set_matches_numpy_and_unavailable_ones_are_errors(isa: str) -> None:
    output = run_with(isa)
    if HAS[isa]:
        assert output == "ok"
    else:
        assert output.startswith("ValueError: FERRONET_ISA asks for"), output


def test_unknown_set_is_a_value_error() -> None:
    assert run_with("sse9").startswith("ValueError: FERRONET_ISA must be auto, avx512, avx2 or generic")
