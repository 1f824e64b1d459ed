"""Training epochs and predict: ferronet vs the NumPy reference (vs PyTorch when installed).

Each benchmark first checks that the backends agree on the same batches from the same weights, then times one
epoch. Compare ratios within one run (``pytest benches``); ``python -m ferronet bench`` prints the table.
"""

import numpy as np
import pytest
from ferronet import bench
from ferronet.optim import SGD

BATCH_SIZES = [1, 32, 128, 512]


def epoch_rows(batch_size: int, python: bool) -> int:
    # Online SGD in Python is slow: fewer rows keep a round short (the rate is per row).
    return 128 if batch_size == 1 and python else 2048


@pytest.mark.parametrize("batch_size", BATCH_SIZES)
def test_ferronet_fit_epoch(benchmark, rows, batch_size):
    bench.check_agreement("float32", batch_size, rows=64)
    X, y = rows
    model = bench.ferronet_model("float32")
    optimizer = SGD(lr=bench.LR, momentum=bench.MOMENTUM)
    n = epoch_rows(batch_size, python=False)
    benchmark.extra_info["rows"] = n
    history = benchmark.pedantic(lambda: model.fit(X[:n], y[:n], batch_size=batch_size, optimizer=optimizer), rounds=3)
    assert np.isfinite(history.history["loss"][-1])


@pytest.mark.parametrize("batch_size", BATCH_SIZES)
def test_reference_fit_epoch(benchmark, rows, batch_size):
    X, y = rows
    model = bench.reference_model(bench.ferronet_model("float32").get_weights(), "float32")
    optimizer = SGD(lr=bench.LR, momentum=bench.MOMENTUM)
    n = epoch_rows(batch_size, python=True)
    benchmark.extra_info["rows"] = n
    history = benchmark.pedantic(lambda: model.fit(X[:n], y[:n], batch_size=batch_size, optimizer=optimizer), rounds=3)
    assert np.isfinite(history["loss"][-1])


@pytest.mark.parametrize("batch_size", BATCH_SIZES)
def test_torch_fit_epoch(benchmark, rows, batch_size):
    if not bench.torch_available():
        pytest.skip("PyTorch is not installed (an optional comparison, never a dependency)")
    bench.check_agreement("float32", batch_size, rows=64, torch=True)
    X, y = rows
    import ferronet

    trainer = bench.TorchTrainer(bench.ferronet_model("float32").get_weights(), "float32", ferronet.get_num_threads())
    n = epoch_rows(batch_size, python=True)
    order = np.arange(n)
    benchmark.extra_info["rows"] = n
    benchmark.pedantic(lambda: trainer.fit(X[:n], y[:n], batch_size, order), rounds=3)


@pytest.mark.parametrize("backend", ["ferronet", "reference"])
def test_predict_1024(benchmark, rows, backend):
    X, _ = rows
    model = bench.ferronet_model("float32")
    ref = bench.reference_model(model.get_weights(), "float32")
    np.testing.assert_allclose(model.forward(X[:1024]), ref.forward(X[:1024]), rtol=1e-4, atol=1e-4)
    predictor = model if backend == "ferronet" else ref
    labels = benchmark(predictor.predict, X[:1024])
    assert labels.shape == (1024,)


@pytest.mark.parametrize("batch_size", BATCH_SIZES)
def test_numpy_loop_fit_epoch(benchmark, rows, batch_size):
    bench.check_agreement("float32", batch_size, rows=64)  # includes the NumPy loop
    X, y = rows
    n = epoch_rows(batch_size, python=True)
    loop = bench.numpy_loop(bench.ferronet_model("float32").get_weights(), "float32", batch_size)
    order = np.arange(n)
    benchmark.extra_info["rows"] = n
    benchmark.pedantic(lambda: loop.fit(X[:n], y[:n], batch_size, order), rounds=3)
    assert all(np.isfinite(layer["W"]).all() for layer in loop.weights())


@pytest.mark.parametrize("backend", ["ferronet", "numpy"])
def test_tabular_fit_epoch(benchmark, backend):
    spec = bench.WORKLOADS["tabular"]
    bench.check_agreement("float32", 128, rows=256, spec=spec)
    X, y, _ = spec.data(8192, "float32")
    model = spec.model("float32")
    if backend == "ferronet":
        optimizer = spec.optimizer()
        benchmark.pedantic(lambda: model.fit(X, y, batch_size=128, optimizer=optimizer), rounds=3)
    else:
        loop = bench.numpy_loop(model.get_weights(), "float32", 128, spec)
        order = np.arange(len(X))
        benchmark.pedantic(lambda: loop.fit(X, y, 128, order), rounds=3)
