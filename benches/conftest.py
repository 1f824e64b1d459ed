"""Shared data for the benchmarks: rows of the bench workload (Fashion-MNIST when installed)."""

import numpy as np
import pytest
from ferronet import bench


@pytest.fixture(scope="session")
def rows() -> tuple[np.ndarray, np.ndarray]:
    X, y, _ = bench.workload(2048, "float32")
    return X, y
