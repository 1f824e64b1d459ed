"""Real data: the Fashion-MNIST files, the CI accuracy target (>= 89.5% in under 2 minutes) and the examples.

Skipped, with the install command, only when the data set files are not on this machine (the CI installs Debian's
``dataset-fashion-mnist``). Nothing here downloads anything.
"""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import ferronet as fnet
import numpy as np
import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
TARGET_ACCURACY = 0.895
TIME_LIMIT_SECONDS = 120.0  # wall time of fit on the 2-core CI machine; the recipe needs about a sixth of it


@pytest.fixture(scope="module")
def raw_data():
    try:
        return fnet.datasets.load_fashion_mnist(download=False)
    except fnet.datasets.DatasetNotFoundError:
        pytest.skip(reason="Fashion-MNIST not installed: apt-get install dataset-fashion-mnist")


def _load_example(name: str):
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class body runs
    spec.loader.exec_module(module)
    return module


def test_files_have_the_published_shapes_labels_and_balance(raw_data):
    (X_train, y_train), (X_test, y_test) = raw_data
    assert X_train.shape == (60000, 784) and X_test.shape == (10000, 784)
    assert y_train.shape == (60000,) and y_test.shape == (10000,)
    assert X_train.dtype == np.float32 and y_train.dtype == np.int64
    assert X_train.min() == 0.0 and X_train.max() == 1.0  # pixel / 255
    assert set(np.unique(y_train)) == set(range(10)) and set(np.unique(y_test)) == set(range(10))
    np.testing.assert_array_equal(np.bincount(y_train), np.full(10, 6000))
    np.testing.assert_array_equal(np.bincount(y_test), np.full(10, 1000))
    # Not a constant or shuffled-away copy: the first training image is an ankle boot (class 9), the first test one too.
    assert y_train[0] == 9 and y_test[0] == 9


def test_mlp_reaches_target_accuracy_in_ci_time(raw_data):
    example = _load_example("fashion_mnist")
    (X_train, y_train), (X_test, y_test) = raw_data
    scaler = fnet.preprocessing.Standardizer().fit(X_train)
    train_data, test_data = (scaler.transform(X_train), y_train), (scaler.transform(X_test), y_test)

    result = example.train(example.Recipe(), train_data, test_data)

    print(
        f"\nFashion-MNIST {example.Recipe()}: test accuracy {result.test_accuracy:.4f}, train {result.train_accuracy:.4f}, "
        f"fit {result.seconds:.1f} s wall / {result.cpu_seconds:.1f} s CPU on {fnet.get_num_threads()} threads"
    )
    assert result.test_accuracy >= TARGET_ACCURACY
    assert result.seconds < TIME_LIMIT_SECONDS
    assert len(result.history.history["loss"]) == example.Recipe().epochs
    lr = result.history.history["lr"]
    assert lr[0] == pytest.approx(1e-3) and lr[-1] == pytest.approx(1e-3 / len(lr))  # linear decay towards 0


LINE = re.compile(r"^\s*(\d+)\s+(\S+)\s+([01]\.\d{4})\s+([01]\.\d{4})\s+([01]\.\d{4})\s+(\d+\.\d+)\s*$")


def test_mnist_derivation_example_quick(raw_data):
    completed = subprocess.run(
        [sys.executable, str(EXAMPLES / "mnist_derivation.py"), "--quick", "--epochs", "3"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    lines = completed.stdout.splitlines()
    assert lines[0].startswith("784-200-10 ReLU, online SGD (batch_size=1)")
    assert "train 3000, validation 1000, test 1000 images" in lines[0]
    assert lines[1].split() == ["epoch", "lr", "train_acc", "val_acc", "test_acc", "seconds"]
    rows = [LINE.match(line) for line in lines[2:5]]
    assert all(rows), lines
    assert [int(row[1]) for row in rows] == [1, 2, 3]
    assert [float(row[2]) for row in rows] == pytest.approx([1e-3, 5e-4, 2.5e-4])  # halved every epoch
    train, val, test = (np.array([float(row[k]) for row in rows]) for k in (3, 4, 5))
    # Ten classes: chance is 10%; 3,000 images of online SGD reach about 75%.
    assert train.min() > 0.6 and val.min() > 0.6 and test.min() > 0.6
    assert train[-1] > train[0]
    assert re.fullmatch(r"training time \d+\.\d+ s wall, \d+\.\d+ s CPU \(fit only, \d+ threads\)", lines[5])
    assert len(lines) == 6


def test_mnist_derivation_rejects_bad_arguments():
    completed = subprocess.run(
        [sys.executable, str(EXAMPLES / "mnist_derivation.py"), "--epochs", "0"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 2
    assert "--epochs must be at least 1, got 0" in completed.stderr
