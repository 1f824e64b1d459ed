"""Sparse X (SciPy CSR/CSC): never densified, checked once, and computing what the dense path computes.

Parity: the sparse kernels sum in another order than the dense GEMM, so results are compared with tolerances
(float64: 1e-12 relative for one pass, 1e-10 after whole trainings; float32: 1e-4) against the dense path on
``X.toarray()`` and against the NumPy reference. Determinism: bit-identical for any thread count.
"""

from __future__ import annotations

import ferronet as fnet
import numpy as np
import pytest
from conftest import assert_weights_close, assert_weights_equal
from ferronet import ops
from ferronet import reference as R
from ferronet._validation import SparseRows
from ferronet.layers import BatchNorm, Dense, Dropout
from ferronet.optim import SGD, Adam, RMSProp

sp = pytest.importorskip("scipy.sparse")

N_ROWS, N_FEATURES = 103, 40  # batches of 16: a partial last batch

OPTIMIZERS = {
    "sgd": lambda: SGD(lr=0.1),
    "momentum": lambda: SGD(lr=0.05, momentum=0.9),
    "nesterov": lambda: SGD(lr=0.05, momentum=0.9, nesterov=True),
    "adam": lambda: Adam(lr=0.01),
    "rmsprop": lambda: RMSProp(lr=0.005, rho=0.9),
}

TOLERANCE = {"float64": {"rtol": 1e-10, "atol": 1e-12}, "float32": {"rtol": 1e-4, "atol": 1e-5}}


def sparse_data(
    n: int = N_ROWS, d: int = N_FEATURES, density: float = 0.15, dtype=np.float64, seed: int = 0, k: int = 3
) -> tuple[object, np.ndarray]:
    """A CSR matrix with unsorted column indices, a repeated index and an empty row, and labels that depend on it."""
    generator = np.random.default_rng(seed)
    X = sp.random(n, d, density=density, format="csr", random_state=seed, dtype=np.float64)
    X.data = generator.normal(size=X.nnz)
    X = X.tolil()
    X[3, :] = 0  # an empty row
    X = X.tocsr()
    # reverse each row's entries (unsorted) and repeat the first entry of row 0 with half its value removed
    indices, data = X.indices.copy(), X.data.copy()
    for i in range(n):
        s = slice(X.indptr[i], X.indptr[i + 1])
        indices[s], data[s] = indices[s][::-1], data[s][::-1]
    first = X.indptr[1] - 1
    indptr = X.indptr.copy()
    indptr[1:] += 1
    indices = np.insert(indices, first, indices[first])
    data = np.insert(data, first, 0.5)
    X = sp.csr_matrix((data.astype(dtype), indices, indptr), shape=(n, d))
    assert not X.has_sorted_indices or not X.has_canonical_format
    y = (X.toarray() @ generator.normal(size=(d, k))).argmax(axis=1)
    return X, y


def relative_difference(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300))


# ---- kernels: ops vs the dense kernels vs the NumPy twins ------------------------------------------------------


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_sparse_kernels_match_the_dense_kernels_and_their_twins(dtype):
    X, _ = sparse_data(dtype=dtype)
    generator = np.random.default_rng(1)
    W = generator.normal(size=(N_FEATURES, 7)).astype(dtype)
    b = generator.normal(size=7).astype(dtype)
    dz = generator.normal(size=(N_ROWS, 7)).astype(dtype)
    tol = {"rtol": 1e-12, "atol": 1e-13} if dtype == "float64" else {"rtol": 1e-4, "atol": 1e-5}
    z = ops.sparse_dense_forward(X, W, b)
    assert z.dtype == dtype and z.shape == (N_ROWS, 7)
    np.testing.assert_allclose(z, ops.dense_forward(X.toarray(), W, b), **tol)
    np.testing.assert_allclose(z, R.sparse_dense_forward(X, W, b), **tol)
    dW, db = ops.sparse_dense_weight_grads(X, dz)
    dense_dW, dense_db = ops.dense_weight_grads(X.toarray(), dz)
    np.testing.assert_allclose(dW, dense_dW, **tol)
    np.testing.assert_array_equal(db, dense_db)  # column sums over rows in order: the dense path's bits
    ref_dW, ref_db = R.sparse_dense_weight_grads(X, dz)
    np.testing.assert_allclose(dW, ref_dW, **tol)
    np.testing.assert_allclose(db, ref_db, **tol)
    # sparse arrays and int64 indices give the same bits; CSC those of its CSR form (sorted, duplicates summed)
    for other in (sp.csr_array(X), X.astype(dtype)):
        np.testing.assert_array_equal(ops.sparse_dense_forward(other, W, b), z)
    canonical = X.copy()
    canonical.sum_duplicates()
    np.testing.assert_array_equal(
        ops.sparse_dense_forward(canonical.tocsc(), W, b), ops.sparse_dense_forward(canonical, W, b)
    )
    wide = sp.csr_matrix((X.data, X.indices.astype(np.int64), X.indptr.astype(np.int64)), shape=X.shape)
    np.testing.assert_array_equal(ops.sparse_dense_weight_grads(wide, dz)[0], dW)


def test_sparse_ops_check_their_arguments():
    X, _ = sparse_data()
    W, b = np.zeros((N_FEATURES, 3)), np.zeros(3)
    with pytest.raises(TypeError, match=r"x must be a scipy.sparse CSR or CSC"):
        ops.sparse_dense_forward(X.toarray(), W, b)
    with pytest.raises(TypeError, match=r"COO format.*x\.tocsr\(\)"):
        ops.sparse_dense_forward(X.tocoo(), W, b)
    with pytest.raises(ValueError, match=r"W has 39 rows but x has 40 columns"):
        ops.sparse_dense_forward(X, W[1:], b)
    with pytest.raises(ValueError, match=r"dz has 3 rows but x has 103 rows"):
        ops.sparse_dense_weight_grads(X, np.zeros((3, 3)))
    bad = X.copy()
    bad.data[5] = np.inf
    row = int(np.searchsorted(bad.indptr, 5, side="right")) - 1
    with pytest.raises(
        ValueError, match=rf"x contains NaN or infinity \(first at index \({row}, {bad.indices[5]}\): inf\)"
    ):
        ops.sparse_dense_forward(bad, W, b)


# ---- the model: forward, gradients, evaluation ----------------------------------------------------------------


def model_pair(layers, dtype="float64", **kwargs):
    a = fnet.Sequential(layers, input_dim=N_FEATURES, dtype=dtype, seed=3, **kwargs)
    b = fnet.Sequential(layers, input_dim=N_FEATURES, dtype=dtype, seed=3, **kwargs)
    return a, b


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_inference_and_gradients_match_the_dense_path(dtype):
    X, y = sparse_data()
    layers = [Dense(16, activation="tanh", dropconnect=0.2), Dropout(0.3), Dense(3, activation="softmax")]
    model = fnet.Sequential(layers, input_dim=N_FEATURES, dtype=dtype, seed=3, l2=1e-3, l1=1e-4)
    dense = X.toarray()
    tol = {"rtol": 1e-12, "atol": 1e-13} if dtype == "float64" else {"rtol": 1e-4, "atol": 1e-5}
    np.testing.assert_allclose(model.predict_proba(X), model.predict_proba(dense), **tol)
    np.testing.assert_allclose(model.forward(X, training=True), model.forward(dense, training=True), **tol)
    assert model.evaluate(X, y)["loss"] == pytest.approx(model.evaluate(dense, y)["loss"], rel=tol["rtol"])
    assert_weights_close(model.gradients(X, y), model.gradients(dense, y), **tol)
    assert (model.predict(X) == model.predict(dense)).mean() > 0.99
    # more rows than one inference block (1024): blocks of rows of the CSR matrix
    big, _ = sparse_data(n=2500, seed=5)
    np.testing.assert_allclose(model.forward(big), model.forward(big.toarray()), **tol)
    assert model.forward(X[:0]).shape == (0, 3)


@pytest.mark.parametrize("rows", [1, 5])
def test_train_step_matches_the_dense_path(rows):
    X, y = sparse_data()
    a, b = model_pair([Dense(8, activation="relu"), Dense(3)])
    for start in range(0, 20, rows):  # rows=1: the online path reads the dense copy of the one row
        sl = slice(start, start + rows)
        assert a.train_step(X[sl], y[sl], "adam") == pytest.approx(
            b.train_step(X[sl].toarray(), y[sl], "adam"), rel=1e-12
        )
    assert_weights_close(a.get_weights(), b.get_weights(), rtol=1e-12, atol=1e-14)


# ---- whole trainings: sparse vs dense vs the reference -----------------------------------------------------------


def run_three(layers, optimizer, *, dtype="float64", batch_size=16, epochs=3, sample_weight=False, **kwargs):
    X, y = sparse_data(dtype=dtype)
    weights = np.random.default_rng(7).uniform(0.0, 2.0, N_ROWS) if sample_weight else None
    sparse_model, dense_model = model_pair(layers, dtype=dtype, **kwargs)
    ref = R.Sequential(layers, input_dim=N_FEATURES, dtype=dtype, seed=3, **kwargs)
    ref.set_weights(sparse_model.get_weights())
    histories = []
    for model, features in ((sparse_model, X), (dense_model, X.toarray())):
        opt = OPTIMIZERS[optimizer]()
        histories.append(
            model.fit(features, y, epochs=epochs, batch_size=batch_size, optimizer=opt, sample_weight=weights).history
        )
    ref_history = ref.fit(
        X, y, epochs=epochs, batch_size=batch_size, optimizer=OPTIMIZERS[optimizer](), sample_weight=weights
    )
    return sparse_model, dense_model, ref, histories, ref_history


@pytest.mark.parametrize("optimizer", sorted(OPTIMIZERS))
def test_training_matches_the_dense_path_and_the_reference(optimizer):
    layers = [Dense(16, activation="relu", dropconnect=0.1), Dropout(0.2), Dense(8, activation="tanh"), Dense(3)]
    sparse_model, dense_model, ref, (sparse_h, dense_h), ref_h = run_three(
        layers, optimizer, l2=1e-3, l1=1e-4, sample_weight=True
    )
    assert sparse_model.get_weights()[0]["W"].any() and not np.array_equal(
        sparse_model.get_weights()[0]["W"],
        fnet.Sequential(layers, input_dim=N_FEATURES, dtype="float64", seed=3).get_weights()[0]["W"],
    )
    assert_weights_close(sparse_model.get_weights(), dense_model.get_weights())
    assert_weights_close(sparse_model.get_weights(), ref.get_weights())
    np.testing.assert_allclose(sparse_h["loss"], dense_h["loss"], rtol=1e-10)
    np.testing.assert_allclose(sparse_h["loss"], ref_h["loss"], rtol=1e-10)
    np.testing.assert_allclose(sparse_h["accuracy"], ref_h["accuracy"], rtol=1e-10)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("batch_size", [1, 16])
def test_training_parity_in_both_dtypes_and_at_batch_one(dtype, batch_size):
    if batch_size > 1:
        layers, optimizer = [Dense(12, activation="sigmoid"), BatchNorm(), Dense(3)], "momentum"
    else:  # 206 steps of batch 1 (the online path): plain SGD, which amplifies float32 rounding less
        layers, optimizer = [Dense(12, activation="tanh"), Dense(3)], "sgd"
    sparse_model, dense_model, ref, (sparse_h, dense_h), _ = run_three(
        layers, optimizer, dtype=dtype, batch_size=batch_size, epochs=2, l2=1e-3
    )
    tol = TOLERANCE[dtype]
    assert_weights_close(sparse_model.get_weights(), dense_model.get_weights(), **tol)
    assert_weights_close(sparse_model.get_weights(), ref.get_weights(), **tol)
    np.testing.assert_allclose(sparse_h["loss"], dense_h["loss"], rtol=tol["rtol"])


def test_validation_split_and_validation_data_stay_sparse():
    X, y = sparse_data()
    a, b = model_pair([Dense(8, activation="relu"), Dense(3)])
    h_sparse = a.fit(X, y, epochs=2, validation_split=0.25, optimizer="adam").history
    h_dense = b.fit(X.toarray(), y, epochs=2, validation_split=0.25, optimizer="adam").history
    np.testing.assert_allclose(h_sparse["val_loss"], h_dense["val_loss"], rtol=1e-10)
    h_sparse = a.fit(X, y, epochs=1, validation_data=(X.tocsc(), y)).history
    h_dense = b.fit(X.toarray(), y, epochs=1, validation_data=(X.toarray(), y)).history
    np.testing.assert_allclose(h_sparse["val_accuracy"], h_dense["val_accuracy"])


def test_results_do_not_depend_on_the_thread_count():
    # large enough for the parallel plans: row blocks of the forward pass, the transposed weight gradient
    X, y = sparse_data(n=1500, d=3000, density=0.01, seed=2, k=5)
    layers = [Dense(64, activation="relu", dropconnect=0.1), Dropout(0.1), Dense(5)]
    previous = fnet.get_num_threads()
    results = []
    try:
        for threads in (1, 2, 3):
            fnet.set_num_threads(threads)
            model = fnet.Sequential(layers, input_dim=3000, seed=4, l2=1e-4)
            model.fit(X, y, epochs=2, batch_size=256, optimizer="adam")
            results.append((model.get_weights(), model.predict_proba(X), model.gradients(X[:700], y[:700])))
    finally:
        fnet.set_num_threads(previous)
    for weights, proba, grads in results[1:]:
        assert_weights_equal(weights, results[0][0])
        np.testing.assert_array_equal(proba, results[0][1])
        assert_weights_equal(grads, results[0][2])


# ---- what is refused, and how --------------------------------------------------------------------------------


def test_other_sparse_formats_are_refused_with_the_conversion_to_use():
    X, y = sparse_data()
    model = fnet.Sequential([Dense(4), Dense(3)])
    for other in (X.tocoo(), X.tolil(), X.todok(), sp.coo_array(X)):
        with pytest.raises(
            TypeError, match=r"format; ferronet takes sparse input in CSR or CSC format: convert it with X\.tocsr\(\)"
        ):
            model.fit(other, y)
    assert not model.built


def test_bad_sparse_values_are_refused_naming_the_argument_and_the_entry():
    X, y = sparse_data()
    bad = X.copy()
    bad.data[10] = np.nan
    row, col = int(np.searchsorted(bad.indptr, 10, side="right")) - 1, int(bad.indices[10])
    model = fnet.Sequential([Dense(4), Dense(3)], input_dim=N_FEATURES)
    before = model.get_weights()
    message = rf"X contains NaN or infinity \(first at index \({row}, {col}\): nan\)"
    with pytest.raises(ValueError, match=message.replace("nan", "(nan|NaN)")):
        model.fit(bad, y)  # found by the engine while it copies X
    with pytest.raises(ValueError, match=message):
        model.predict(bad)  # found by Python
    with pytest.raises(ValueError, match=r"validation_data X contains NaN"):
        model.fit(X, y, validation_data=(bad, y))
    with pytest.raises(ValueError, match=r"X has 39 features, the model expects 40"):
        model.fit(X[:, 1:], y)
    out_of_range = SparseRows(X.data, X.indices.copy(), X.indptr, X.shape)
    out_of_range.indices[7] = N_FEATURES
    row = int(np.searchsorted(X.indptr, 7, side="right")) - 1
    with pytest.raises(
        ValueError, match=rf"X holds column index {N_FEATURES} in row {row}, out of range for 40 columns"
    ):
        model.fit(out_of_range, y)
    with pytest.raises(ValueError, match=r"X holds column index"):
        model.predict(sp.csr_matrix((out_of_range.data, out_of_range.indices, out_of_range.indptr), shape=X.shape))
    assert_weights_equal(model.get_weights(), before)


@pytest.mark.parametrize("first", [Dropout(0.2), BatchNorm()])
def test_a_first_layer_that_is_not_dense_is_refused_for_sparse_input(first):
    X, y = sparse_data()
    model = fnet.Sequential([first, Dense(4), Dense(3)])
    with pytest.raises(ValueError, match=r"X is sparse, so the first layer must be a Dense layer.*X\.toarray\(\)"):
        model.fit(X, y)
    assert not model.built
    model.fit(X.toarray(), y)  # the dense path is unchanged
    with pytest.raises(ValueError, match=r"first layer must be a Dense layer"):
        model.predict(X)


# ---- scikit-learn ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("solver", ["sgd", "adam", "lbfgs"])
def test_sklearn_estimators_take_sparse_x_as_they_take_its_dense_form(solver):
    sklearn = pytest.importorskip("ferronet.sklearn")
    X, y = sparse_data(n=150)
    kwargs = {"hidden_layer_sizes": (10,), "solver": solver, "max_iter": 15, "random_state": 0, "tol": 0.0}
    with pytest.warns(Warning):  # ConvergenceWarning: max_iter is small on purpose
        a = sklearn.MLPClassifier(**kwargs).fit(X, y)
    with pytest.warns(Warning):
        b = sklearn.MLPClassifier(**kwargs).fit(X.toarray(), y)
    for coef_a, coef_b in zip(a.coefs_ + a.intercepts_, b.coefs_ + b.intercepts_, strict=True):
        np.testing.assert_allclose(coef_a, coef_b, rtol=1e-9, atol=1e-11)
    np.testing.assert_allclose(a.predict_proba(X.tocsc()), b.predict_proba(X.toarray()), rtol=1e-9, atol=1e-11)
    assert a.loss_ == pytest.approx(b.loss_, rel=1e-9)
    target = X.toarray() @ np.arange(N_FEATURES) / N_FEATURES
    with pytest.warns(Warning):
        reg = sklearn.MLPRegressor(**kwargs).fit(X.tocoo(), target)  # other formats: converted, as scikit-learn does
    with pytest.warns(Warning):
        dense_reg = sklearn.MLPRegressor(**kwargs).fit(X.toarray(), target)
    np.testing.assert_allclose(reg.predict(X), dense_reg.predict(X.toarray()), rtol=1e-9, atol=1e-11)


def test_sklearn_partial_fit_and_early_stopping_with_sparse_x():
    sklearn = pytest.importorskip("ferronet.sklearn")
    X, y = sparse_data(n=200)
    a = sklearn.MLPClassifier(hidden_layer_sizes=(6,), random_state=0)
    b = sklearn.MLPClassifier(hidden_layer_sizes=(6,), random_state=0)
    for _ in range(3):
        a.partial_fit(X, y, classes=[0, 1, 2])
        b.partial_fit(X.toarray(), y, classes=[0, 1, 2])
    np.testing.assert_allclose(a.coefs_[0], b.coefs_[0], rtol=1e-9, atol=1e-11)
    kwargs = {"hidden_layer_sizes": (6,), "random_state": 0, "early_stopping": True, "max_iter": 5}
    with pytest.warns(Warning):
        c = sklearn.MLPClassifier(**kwargs).fit(X, y)
    with pytest.warns(Warning):
        d = sklearn.MLPClassifier(**kwargs).fit(X.toarray(), y)
    np.testing.assert_allclose(c.validation_scores_, d.validation_scores_)
    assert c.__sklearn_tags__().input_tags.sparse


# ---- memory: X is never densified -------------------------------------------------------------------------------

MEMORY_CHILD = r"""
import json
import numpy as np
import scipy.sparse as sp
import ferronet as fnet

def status(field):  # bytes; VmHWM is this process's peak RSS
    with open("/proc/self/status") as f:
        line = next(line for line in f if line.startswith(field + ":"))
    return int(line.split()[1]) * 1024

rows, cols, per_row = 10_000, 100_000, 100  # 0.1% density: 1M nonzeros
rng = np.random.default_rng(0)
indices = rng.integers(0, cols, size=rows * per_row, dtype=np.int32)
indptr = np.arange(0, rows * per_row + 1, per_row, dtype=np.int32)
X = sp.csr_matrix((rng.random(rows * per_row, dtype=np.float32), indices, indptr), shape=(rows, cols))
y = rng.integers(0, 2, rows)
before = status("VmHWM")
model = fnet.Sequential([fnet.Dense(16, activation="relu"), fnet.Dense(2)], input_dim=cols, seed=0)
history = model.fit(X, y, epochs=1, batch_size=128, optimizer=fnet.optim.SGD(lr=0.01, momentum=0.9))
predictions = model.predict(X)
print(json.dumps({
    "input": X.data.nbytes + X.indices.nbytes + X.indptr.nbytes, "model": model.n_params * 4,
    "before_fit": before, "peak": status("VmHWM"), "loss": history.history["loss"][0], "rows": len(predictions),
}))
"""


def test_a_large_sparse_fit_stays_within_a_small_multiple_of_the_sparse_input():
    """10,000 x 100,000 at 0.1% (1M nonzeros, 8 MB as CSR; 4 GB dense as float32), 100,000-16-2, one epoch: the
    fit (engine CSR copy, parameters, momentum, the fit's snapshot, the weight gradient, the CSR batch) and a
    predict over all rows add a few times the sparse input plus the model, nowhere near the dense matrix."""
    import json
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", MEMORY_CHILD], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    figures = json.loads(out.stdout.strip().splitlines()[-1])
    mb = 2**20
    grown = figures["peak"] - figures["before_fit"]
    print(
        f"sparse input {figures['input'] / mb:.1f} MB, model {figures['model'] / mb:.1f} MB, RSS before fit "
        f"{figures['before_fit'] / mb:.0f} MB, peak {figures['peak'] / mb:.0f} MB (+{grown / mb:.1f} MB)"
    )
    assert figures["rows"] == 10_000 and np.isfinite(figures["loss"])
    assert grown <= 4 * (figures["input"] + figures["model"]) + 32 * mb, figures
    assert figures["peak"] < 10_000 * 100_000 * 4 / 8, figures  # an eighth of the dense matrix
