"""Shared helpers for the model, parity, determinism and error tests."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from hypothesis import settings

# Property tests explore new examples on every local run; CI (HYPOTHESIS_PROFILE=ci, set by .ci/run) replays a
# fixed seed per test so that a submission's result does not depend on the draw. Bugs are found locally.
settings.register_profile("ci", derandomize=True, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "fuzz: a short run of a fuzzer in a subprocess (under 30 s)")


def weights_equal(a: list[dict[str, np.ndarray]], b: list[dict[str, np.ndarray]]) -> bool:
    """Whether two ``get_weights()`` structures hold the same keys and bit-identical arrays."""
    if len(a) != len(b):
        return False
    for layer_a, layer_b in zip(a, b, strict=True):
        if set(layer_a) != set(layer_b):
            return False
        if not all(np.array_equal(layer_a[key], layer_b[key]) for key in layer_a):
            return False
    return True


def assert_weights_equal(a: list[dict[str, np.ndarray]], b: list[dict[str, np.ndarray]]) -> None:
    assert len(a) == len(b)
    for index, (layer_a, layer_b) in enumerate(zip(a, b, strict=True)):
        assert set(layer_a) == set(layer_b), index
        for key in layer_a:
            np.testing.assert_array_equal(layer_a[key], layer_b[key], err_msg=f"layer {index} {key}")


def assert_weights_close(
    a: list[dict[str, np.ndarray]], b: list[dict[str, np.ndarray]], rtol: float = 1e-10, atol: float = 1e-12
) -> None:
    assert len(a) == len(b)
    for index, (layer_a, layer_b) in enumerate(zip(a, b, strict=True)):
        assert set(layer_a) == set(layer_b), index
        for key in layer_a:
            np.testing.assert_allclose(layer_a[key], layer_b[key], rtol=rtol, atol=atol, err_msg=f"layer {index} {key}")


def max_weight_difference(a: list[dict[str, np.ndarray]], b: list[dict[str, np.ndarray]]) -> float:
    """The largest absolute difference between matching arrays of two ``get_weights()`` structures."""
    return max(
        (
            float(np.max(np.abs(layer_a[key] - layer_b[key]), initial=0.0))
            for layer_a, layer_b in zip(a, b, strict=True)
            for key in layer_a
        ),
        default=0.0,
    )


def classification_data(n: int = 60, d: int = 4, k: int = 3, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian features and labels that depend on them (so that training makes progress)."""
    generator = np.random.default_rng(seed)
    X = generator.normal(size=(n, d))
    W = generator.normal(size=(d, k))
    y = (X @ W + 0.5 * generator.normal(size=(n, k))).argmax(axis=1)
    return X, y


@pytest.fixture
def rs() -> np.random.Generator:
    return np.random.default_rng(1234)


@pytest.fixture
def restore_threads():
    """Put the engine's thread count back as it was after a test that changes it."""
    import ferronet as fnet

    before = fnet.get_num_threads()
    yield before
    fnet.set_num_threads(before)


def sigint_child(script: str, args: list[str], wait: float) -> dict:
    """Run ``python -c script *args``, send SIGINT ``wait`` seconds after it prints READY, and return the JSON report
    of its last stdout line plus ``latency``: from the signal to the child's ``caught`` timestamp (monotonic)."""
    child = subprocess.Popen(
        [sys.executable, "-c", script, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        line = child.stdout.readline() if child.stdout else ""
        assert line.strip() == "READY", (line, child.stderr.read() if child.poll() is not None and child.stderr else "")
        time.sleep(wait)
        assert child.poll() is None, "the child ended before it was interrupted"
        sent = time.monotonic()
        os.kill(child.pid, signal.SIGINT)
        out, err = child.communicate(timeout=120)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode == 0, err
    report = json.loads(out.strip().splitlines()[-1])
    report["latency"] = report["caught"] - sent
    return report
