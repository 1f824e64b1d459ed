"""``ferronet.ops`` (the Rust kernels, validated) against ``ferronet.reference`` (the NumPy twin).

Parity over shapes drawn by hypothesis (1 row, 1 column, odd sizes), C-ordered, Fortran-ordered, strided and
read-only inputs, both dtypes: float64 to 1e-10 relative, float32 to 1e-4. Then the conventions of the wrapper
(dtype rules, inputs left untouched, stable extremes) and its errors: every bad input is a ValueError or TypeError
that names the argument, never a Rust panic.
"""

from __future__ import annotations

import inspect
import subprocess
import sys
import warnings

import numpy as np
import pytest
from ferronet import ops
from ferronet import reference as R
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

DTYPES = (np.float32, np.float64)
ACTIVATIONS = ("relu", "leaky_relu", "sigmoid", "tanh", "linear", "softmax")

#: Deterministic, fast: the same examples on every run, no example database written.
PARITY = settings(
    max_examples=30,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

SIZE = st.one_of(st.sampled_from([1, 2, 3, 7, 33]), st.integers(1, 40))
SMALL = st.one_of(st.sampled_from([1, 2, 3, 5]), st.integers(1, 12))
SEED = st.integers(0, 2**32 - 1)
DTYPE = st.sampled_from(DTYPES)
LAYOUTS = ("C", "F", "strided", "readonly")


def arrange(values: np.ndarray, layout: str) -> np.ndarray:
    """The same values in another memory layout: C order, Fortran order, a step-2 view, or read-only Fortran."""
    if layout == "C":
        return np.array(values, order="C")
    if layout == "F":
        return np.array(values, order="F")
    if layout == "strided":
        big = np.zeros(tuple(2 * s for s in values.shape), dtype=values.dtype)
        view = big[tuple(slice(None, None, 2) for _ in values.shape)]
        view[...] = values
        return view
    frozen = np.array(values, order="F")
    frozen.setflags(write=False)
    return frozen


class Maker:
    """Random arrays for one example: values from a seeded generator, layout drawn by hypothesis per array."""

    def __init__(self, data: st.DataObject, dtype: type):
        self.data = data
        self.dtype = np.dtype(dtype)
        self.rng = np.random.default_rng(data.draw(SEED, label="seed"))
        self.ties = data.draw(st.booleans(), label="ties")  # values on a grid of 0.5: exact zeros and equal margins

    def __call__(self, shape: tuple[int, ...], low: float = -3.0, high: float = 3.0) -> tuple[np.ndarray, np.ndarray]:
        """``(reference_input, ops_input)``: the same values, C-contiguous for the reference, laid out for ops."""
        values = self.rng.uniform(low, high, size=shape)
        if self.ties:
            values = np.round(values * 2) / 2
        values = values.astype(self.dtype)
        return values, arrange(values, self.data.draw(st.sampled_from(LAYOUTS), label="layout"))

    def labels(self, n: int, k: int) -> tuple[np.ndarray, np.ndarray]:
        labels = self.rng.integers(0, k, size=n)
        kind = self.data.draw(st.sampled_from(["int64", "int32", "uint8", "float64"]), label="labels dtype")
        return labels, arrange(labels.astype(kind), self.data.draw(st.sampled_from(LAYOUTS), label="layout"))

    def sample_weight(self, n: int) -> np.ndarray | None:
        kind = self.data.draw(st.sampled_from(["none", "uniform", "some zeros", "all zeros", "list"]), label="weights")
        if kind == "none":
            return None
        if kind == "all zeros":
            return np.zeros(n, dtype=self.dtype)
        weights = self.rng.uniform(0.0, 2.0, size=n).astype(self.dtype)
        if kind == "some zeros":
            weights[self.rng.random(n) < 0.5] = 0
        return weights.tolist() if kind == "list" else weights


def assert_close(actual, expected, dtype, mag: float | None = None) -> None:
    """float64: rtol 1e-10; float32: rtol 1e-4; atol scaled by ``mag``, the magnitude of the terms that were summed."""
    if isinstance(expected, float):
        assert isinstance(actual, float), f"expected a Python float, got {type(actual).__name__}"
    else:
        assert isinstance(actual, np.ndarray), f"expected an ndarray, got {type(actual).__name__}"
        assert actual.dtype == np.dtype(dtype), f"dtype {actual.dtype}, expected {np.dtype(dtype)}"
        assert actual.shape == np.shape(expected), f"shape {actual.shape}, expected {np.shape(expected)}"
    if mag is None:
        mag = float(np.max(np.abs(expected), initial=0.0))
    mag = max(1.0, mag)
    if np.dtype(dtype) == np.float64:
        np.testing.assert_allclose(actual, expected, rtol=1e-10, atol=1e-12 * mag)
    else:
        np.testing.assert_allclose(actual, expected, rtol=1e-4, atol=1e-5 * mag)


# ------------------------------------------------------------------------------------------------ interface


def test_ops_has_the_names_and_signatures_of_the_reference():
    names = [name for name in R.__all__ if name not in ("Sequential", "rng", "LOSS_FUNCTIONS")]
    for name in names:
        ours, theirs = inspect.signature(getattr(ops, name)), inspect.signature(getattr(R, name))
        assert [(p.name, p.default) for p in ours.parameters.values()] == [
            (p.name, p.default) for p in theirs.parameters.values()
        ], name
        assert getattr(ops, name).__doc__, name
    assert set(ops.LOSS_FUNCTIONS) == set(R.LOSS_FUNCTIONS)
    assert set(R.__all__) - set(ops.__all__) == {"Sequential"}
    import ferronet

    assert ferronet.ops is ops


# ------------------------------------------------------------------------------------------------ dense


@PARITY
@given(data=st.data(), n=SIZE, fan_in=SIZE, fan_out=SIZE, dtype=DTYPE)
def test_dense_parity(data, n, fan_in, fan_out, dtype):
    make = Maker(data, dtype)
    (x, x_), (W, W_), (b, b_), (dz, dz_) = (
        make((n, fan_in)),
        make((fan_in, fan_out)),
        make((fan_out,)),
        make((n, fan_out)),
    )
    assert_close(ops.dense_forward(x_, W_, b_), R.dense_forward(x, W, b), dtype, (abs(x) @ abs(W) + abs(b)).max())
    dx, dW, db = ops.dense_backward(x_, W_, dz_)
    rdx, rdW, rdb = R.dense_backward(x, W, dz)
    assert_close(dx, rdx, dtype, (abs(dz) @ abs(W).T).max())
    assert_close(dW, rdW, dtype, (abs(x).T @ abs(dz)).max())
    assert_close(db, rdb, dtype, abs(dz).sum(axis=0).max())
    wdW, wdb = ops.dense_weight_grads(x_, dz_)
    assert_close(wdW, rdW, dtype, (abs(x).T @ abs(dz)).max())
    assert_close(wdb, rdb, dtype, abs(dz).sum(axis=0).max())


# ------------------------------------------------------------------------------------------------ activations


@pytest.mark.parametrize("name", ACTIVATIONS)
@PARITY
@given(data=st.data(), n=SIZE, k=SIZE, dtype=DTYPE)
def test_activation_parity(name, data, n, k, dtype):
    make = Maker(data, dtype)
    (z, z_), (g, g_) = make((n, k)), make((n, k))
    expected_out = R.activation_forward(name, z)
    out = getattr(ops, f"{name}_forward")(z_)
    assert_close(out, expected_out, dtype)
    assert_close(ops.activation_forward(name, z_), expected_out, dtype)
    a_ = arrange(expected_out, data.draw(st.sampled_from(LAYOUTS)))
    expected_grad = R.activation_backward(name, g, expected_out)
    mag = abs(g).max() * k if name == "softmax" else None  # softmax_backward sums over a row
    assert_close(getattr(ops, f"{name}_backward")(g_, a_), expected_grad, dtype, mag)
    assert_close(ops.activation_backward(name, g_, a_), expected_grad, dtype, mag)


@PARITY
@given(data=st.data(), shape=st.lists(SMALL, min_size=1, max_size=3).map(tuple), dtype=DTYPE)
def test_elementwise_activations_take_any_shape(data, shape, dtype):
    make = Maker(data, dtype)
    (z, z_), (g, g_) = make(shape), make(shape)
    slope = data.draw(st.floats(0.0, 0.5), label="slope")
    assert_close(ops.leaky_relu_forward(z_, slope), R.leaky_relu_forward(z, slope), dtype)
    a = R.leaky_relu_forward(z, slope)
    assert_close(ops.leaky_relu_backward(g_, a, slope), R.leaky_relu_backward(g, a, slope), dtype)
    for name in ("relu", "sigmoid", "tanh", "linear"):
        a = R.activation_forward(name, z)
        assert_close(ops.activation_forward(name, z_), a, dtype)
        assert_close(ops.activation_backward(name, g_, a), R.activation_backward(name, g, a), dtype)


# ------------------------------------------------------------------------------------------------ losses


@pytest.mark.parametrize("loss", ["softmax_cross_entropy", "hinge"])
@PARITY
@given(data=st.data(), n=SIZE, k=SIZE, dtype=DTYPE)
def test_label_loss_parity(loss, data, n, k, dtype):
    make = Maker(data, dtype)
    z, z_ = make((n, k), -5.0, 5.0)
    labels, labels_ = make.labels(n, k)
    weights = make.sample_weight(n)
    value, grad = getattr(ops, loss)(z_, labels_, weights)
    expected_value, expected_grad = getattr(R, loss)(z, labels, None if weights is None else np.asarray(weights))
    assert_close(value, expected_value, dtype, abs(z).max() * (k if loss == "hinge" else 1))
    assert_close(grad, expected_grad, dtype)
    assert np.isfinite(value) and value >= 0


@pytest.mark.parametrize("loss", ["mse", "binary_cross_entropy", "poisson"])
@PARITY
@given(data=st.data(), n=SIZE, k=SIZE, dtype=DTYPE)
def test_dense_target_loss_parity(loss, data, n, k, dtype):
    make = Maker(data, dtype)
    z, z_ = make((n, k), -5.0, 5.0)
    if loss == "poisson":  # counts and rates, zeros included (the grid of ties puts some at exactly 0)
        t, t_ = make((n, k), 0.0, 20.0)
    else:
        t, t_ = make((n, k), 0.0, 1.0) if loss == "binary_cross_entropy" else make((n, k))
    weights = make.sample_weight(n)
    value, grad = ops.LOSS_FUNCTIONS[loss](z_, t_, weights)
    expected_value, expected_grad = R.LOSS_FUNCTIONS[loss](z, t, None if weights is None else np.asarray(weights))
    assert_close(value, expected_value, dtype, abs(z).max())
    assert_close(grad, expected_grad, dtype)


def test_all_zero_sample_weights_give_zero_loss_and_gradient():
    z = np.array([[1.0, 2.0], [0.5, -1.0]])
    for loss, target in (
        ("softmax_cross_entropy", [0, 1]),
        ("hinge", [1, 0]),
        ("mse", z * 0),
        ("binary_cross_entropy", z * 0),
        ("poisson", z * 0),
    ):
        value, grad = ops.LOSS_FUNCTIONS[loss](z, target, np.zeros(2))
        assert value == 0.0 and not grad.any(), loss


def test_poisson_refuses_negative_targets_and_is_zero_at_a_perfect_fit():
    with pytest.raises(ValueError, match="target must be >= 0"):
        ops.poisson(np.zeros((2, 1)), [[1.0], [-1.0]])
    target = np.array([[0.5, 3.0], [7.0, 1.0]])
    value, grad = ops.poisson(np.log(target), target)
    assert abs(value) < 1e-14 and np.abs(grad).max() < 1e-14
    # the mean exp(z) against zero counts costs exactly exp(z): the t*log(t) term is 0 at t = 0
    value, _ = ops.poisson(np.array([[0.5]]), np.array([[0.0]]))
    assert value == pytest.approx(np.exp(0.5), rel=1e-15)


def test_sample_weights_reweight_rows():
    z = np.array([[2.0, 0.0, -1.0], [0.3, 0.1, 0.2]])
    labels = np.array([1, 2])
    (a, ga), (b, _) = ops.softmax_cross_entropy(z, labels, [3.0, 0.0]), ops.softmax_cross_entropy(z[:1], labels[:1])
    assert a == pytest.approx(b, rel=1e-12)
    assert not ga[1].any()


@pytest.mark.parametrize("dtype", DTYPES)
def test_extreme_logits_are_stable(dtype):
    z = np.array([[1e4, -1e4, 0.0], [-1e4, -1e4, 1e4]], dtype=dtype)
    labels = np.array([1, 2])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        value, grad = ops.softmax_cross_entropy(z, labels)
        assert value == pytest.approx(1e4, rel=1e-6)  # row 0: 2e4, row 1: 0
        assert np.isfinite(grad).all()
        assert_close(value, R.softmax_cross_entropy(z, labels)[0], dtype, 1e4)
        assert_close(grad, R.softmax_cross_entropy(z, labels)[1], dtype)
        target = np.array([[0.0, 1.0, 0.0], [1.0, 1.0, 0.0]], dtype=dtype)
        value, grad = ops.binary_cross_entropy(z, target)
        assert np.isfinite(value) and np.isfinite(grad).all()
        assert value == pytest.approx(((2e4 + np.log(2)) / 3 + 1e4) / 2, rel=1e-6)
        assert_close(value, R.binary_cross_entropy(z, target)[0], dtype, 1e4)
        assert_close(grad, R.binary_cross_entropy(z, target)[1], dtype)
        value, grad = ops.hinge(z, labels)
        assert np.isfinite(value) and np.isfinite(grad).all()
        assert_close(ops.sigmoid_forward(z), R.sigmoid_forward(z), dtype)
        assert ops.sigmoid_forward(z).tolist()[0] == [1.0, 0.0, 0.5]
        probabilities = ops.softmax_forward(z)
        assert np.isfinite(probabilities).all()
        assert_close(probabilities, R.softmax_forward(z), dtype)
        assert_close(ops.tanh_forward(z), R.tanh_forward(z), dtype)


# ------------------------------------------------------------------------------------------------ penalty


@PARITY
@given(data=st.data(), shape=st.lists(SIZE, min_size=1, max_size=2).map(tuple), dtype=DTYPE)
def test_penalty_parity(data, shape, dtype):
    make = Maker(data, dtype)
    W, W_ = make(shape)
    l1 = data.draw(st.sampled_from([0.0, 1e-4, 0.3]), label="l1")
    l2 = data.draw(st.sampled_from([0.0, 1e-3, 2.0]), label="l2")
    assert_close(ops.penalty(W_, l1, l2), R.penalty(W, l1, l2), dtype)
    assert_close(ops.penalty_grad(W_, l1, l2), R.penalty_grad(W, l1, l2), dtype, abs(W).max() * l2 + l1)


# ------------------------------------------------------------------------------------------------ batchnorm


def bn_scale(x, gamma, dy, eps) -> float:
    """The size of the terms in the BatchNorm backward sums (they cancel: an absolute tolerance needs this)."""
    inv_std = 1 / np.sqrt(x.var(axis=0, dtype=np.float64) + eps)
    return float((abs(gamma) * inv_std).max() * max(1.0, abs(dy).max()) * max(1.0, abs(x).max()) * x.shape[0])


@PARITY
@given(data=st.data(), n=SIZE, k=SIZE, dtype=DTYPE)
def test_batchnorm_parity(data, n, k, dtype):
    make = Maker(data, dtype)
    (x, x_), (gamma, gamma_), (beta, beta_), (dy, dy_) = make((n, k)), make((k,)), make((k,)), make((n, k))
    eps = data.draw(st.sampled_from([1e-5, 1e-3, 0.1]), label="eps")
    inv_std = 1 / np.sqrt(x.var(axis=0, dtype=np.float64) + eps)
    y, mean, var = ops.batchnorm_forward_train(x_, gamma_, beta_, eps)
    ry, rmean, rvar = R.batchnorm_forward_train(x, gamma, beta, eps)
    x_mag = max(1.0, abs(x).max())
    assert_close(y, ry, dtype, (abs(gamma) * inv_std).max() * x_mag)
    assert_close(mean, rmean, dtype, x_mag)
    assert_close(var, rvar, dtype, x_mag**2)

    (rm, rm_), (rv, rv_) = make((k,)), make((k,), 0.0, 4.0)
    expected = R.batchnorm_forward_eval(x, gamma, beta, rm, rv, eps)
    scale = (abs(gamma) / np.sqrt(rv.astype(np.float64) + eps)).max() * (x_mag + abs(rm).max())
    assert_close(ops.batchnorm_forward_eval(x_, gamma_, beta_, rm_, rv_, eps), expected, dtype, scale)

    dx, dgamma, dbeta = ops.batchnorm_backward(dy_, x_, gamma_, eps)
    rdx, rdgamma, rdbeta = R.batchnorm_backward(dy, x, gamma, eps)
    assert_close(dx, rdx, dtype, bn_scale(x, gamma, dy, eps))
    assert_close(dgamma, rdgamma, dtype, bn_scale(x, np.ones_like(gamma), dy, eps))
    assert_close(dbeta, rdbeta, dtype, n * abs(dy).max())

    if n >= 2:
        momentum = data.draw(st.sampled_from([0.0, 0.1, 0.9, 0.99, 1.0]), label="momentum")
        new_mean, new_var = ops.batchnorm_update_running(rm_, rv_, mean, var, n, momentum)
        expected_mean, expected_var = R.batchnorm_update_running(rm, rv, rmean, rvar, n, momentum)
        assert_close(new_mean, expected_mean, dtype, x_mag)
        assert_close(new_var, expected_var, dtype, x_mag**2)


def test_batchnorm_with_one_row_and_constant_columns():
    x = np.array([[2.0, 5.0, -1.0]])
    y, mean, var = ops.batchnorm_forward_train(x, np.ones(3), np.full(3, 0.5), 1e-5)
    assert np.array_equal(y, np.full((1, 3), 0.5)) and np.array_equal(mean, x[0]) and not var.any()
    x = np.array([[1.5, 0.0], [1.5, 1.0], [1.5, 2.0]])
    dx, _, _ = ops.batchnorm_backward(np.ones_like(x), x, np.ones(2), 1e-5)
    assert np.isfinite(dx).all()
    assert_close(dx, R.batchnorm_backward(np.ones_like(x), x, np.ones(2), 1e-5)[0], np.float64, 1e3)


# ------------------------------------------------------------------------------------------------ dropout


@PARITY
@given(data=st.data(), shape=st.lists(SIZE, min_size=1, max_size=2).map(tuple), dtype=DTYPE)
def test_dropout_parity(data, shape, dtype):
    make = Maker(data, dtype)
    (x, x_), (g, g_) = make(shape), make(shape)
    p = data.draw(st.sampled_from([0.0, 0.1, 0.5, 0.9, 0.999]), label="p")
    mask = make.rng.random(shape) >= p
    mask_ = arrange(mask, data.draw(st.sampled_from(LAYOUTS), label="mask layout"))
    forward = ops.dropout_forward(x_, mask_, p)
    assert forward.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(forward, R.dropout_forward(x, mask, p))  # one product each: bit-identical
    np.testing.assert_array_equal(ops.dropout_backward(g_, mask_, p), R.dropout_backward(g, mask, p))
    np.testing.assert_array_equal(ops.dropout_forward(x_, mask.astype(np.int8), p), R.dropout_forward(x, mask, p))


@PARITY
@given(
    rows=st.integers(0, 40),
    cols=st.integers(0, 40),
    p=st.sampled_from([0.0, 0.1, 0.25, 0.5, 0.75, 0.99]),
    seed=st.integers(0, 2**64 - 1),
    step=st.integers(0, 2**64 - 1),
    layer=st.integers(0, 1000),
    stream=st.sampled_from([2, 3]),
)
def test_dropout_mask_parity(rows, cols, p, seed, step, layer, stream):
    mask = ops.dropout_mask(rows, cols, p, seed, step, layer, stream)
    assert mask.dtype == bool and mask.shape == (rows, cols)
    np.testing.assert_array_equal(mask, R.dropout_mask(rows, cols, p, seed, step, layer, stream))


@pytest.mark.parametrize("p", [0.0, 0.1, 0.3, 0.5, 0.9])
def test_dropout_mask_keeps_about_one_minus_p(p):
    mask = ops.dropout_mask(200, 500, p, seed=11, step=4, layer=2)
    assert abs(mask.mean() - (1 - p)) < 0.01
    x = np.ones((200, 500), dtype=np.float32)
    y = ops.dropout_forward(x, mask, p)
    assert abs(y.mean() - 1.0) < 0.02  # inverted dropout keeps the expectation
    assert set(np.unique(y).tolist()) <= {0.0, float(np.float32(1 / (1 - p)))}


# ------------------------------------------------------------------------------------------------ optimizers


@pytest.mark.parametrize("kind", ["sgd", "momentum", "nesterov", "adam", "rmsprop"])
@PARITY
@given(data=st.data(), shape=st.lists(SIZE, min_size=1, max_size=2).map(tuple), dtype=DTYPE)
def test_optimizer_parity_over_several_steps(kind, data, shape, dtype):
    make = Maker(data, dtype)
    param, param_ = make(shape)
    lr = data.draw(st.sampled_from([0.0, 1e-3, 0.05, 0.5]), label="lr")
    momentum = data.draw(st.sampled_from([0.0, 0.5, 0.9]), label="momentum")
    beta1, beta2 = data.draw(st.sampled_from([(0.9, 0.999), (0.5, 0.9), (0.0, 0.0)]), label="betas")
    rho = data.draw(st.sampled_from([0.0, 0.9, 0.99]), label="rho")
    eps = data.draw(st.sampled_from([1e-8, 1e-3]), label="eps")
    first_step = data.draw(st.sampled_from([1, 2, 1000]), label="first step")
    n_state = {"sgd": 0, "momentum": 1, "nesterov": 1, "adam": 2, "rmsprop": 1}[kind]
    expected = [param] + [np.zeros(shape, dtype=dtype) for _ in range(n_state)]
    ours = [param_] + [arrange(np.zeros(shape, dtype=dtype), "strided") for _ in range(n_state)]

    def step(module, state, grad, t):
        p, *s = state
        if kind == "sgd":
            return (module.sgd_update(p, grad, lr),)
        if kind in ("momentum", "nesterov"):
            return getattr(module, f"{kind}_update")(p, grad, s[0], lr, momentum)
        if kind == "adam":
            return module.adam_update(p, grad, s[0], s[1], t, lr, beta1, beta2, eps)
        return module.rmsprop_update(p, grad, s[0], lr, rho, eps)

    for t in range(first_step, first_step + data.draw(st.integers(1, 5), label="steps")):
        grad, grad_ = make(shape)
        expected, ours = list(step(R, expected, grad, t)), list(step(ops, ours, grad_, t))
        assert len(ours) == n_state + 1
        for actual, wanted in zip(ours, expected, strict=True):
            assert_close(actual, wanted, dtype)


# ------------------------------------------------------------------------------------------------ conventions


def kernel_calls(dtype=np.float64):
    """One valid call of every kernel, with fresh random inputs: ``(name, args)``."""
    r = np.random.default_rng(5)

    def m(*shape, low=-2.0, high=2.0):
        return r.uniform(low, high, size=shape).astype(dtype)

    x, W, b, dz = m(4, 3), m(3, 5), m(5), m(4, 5)
    labels, target = np.array([0, 4, 2, 1]), m(4, 5, low=0.0, high=1.0)
    mask = r.random((4, 3)) > 0.5
    return [
        ("dense_forward", (x, W, b)),
        ("dense_backward", (x, W, dz)),
        ("dense_weight_grads", (x, dz)),
        *((f"{name}_forward", (dz,)) for name in ACTIVATIONS),
        *((f"{name}_backward", (dz, m(4, 5, low=0.0, high=1.0))) for name in ACTIVATIONS),
        ("softmax_cross_entropy", (dz, labels, m(4, low=0.0))),
        ("hinge", (dz, labels, m(4, low=0.0))),
        ("mse", (dz, target, m(4, low=0.0))),
        ("binary_cross_entropy", (dz, target, m(4, low=0.0))),
        ("penalty", (W, 0.1, 0.2)),
        ("penalty_grad", (W, 0.1, 0.2)),
        ("batchnorm_forward_train", (x, m(3), m(3), 1e-5)),
        ("batchnorm_forward_eval", (x, m(3), m(3), m(3), m(3, low=0.1), 1e-5)),
        ("batchnorm_backward", (m(4, 3), x, m(3), 1e-5)),
        ("batchnorm_update_running", (m(3), m(3, low=0.0), m(3), m(3, low=0.0), 4, 0.9)),
        ("dropout_forward", (x, mask, 0.5)),
        ("dropout_backward", (x, mask, 0.5)),
        ("sgd_update", (W, m(3, 5), 0.1)),
        ("momentum_update", (W, m(3, 5), m(3, 5), 0.1, 0.9)),
        ("nesterov_update", (W, m(3, 5), m(3, 5), 0.1, 0.9)),
        ("adam_update", (W, m(3, 5), m(3, 5), m(3, 5, low=0.0), 3, 0.01, 0.9, 0.999, 1e-8)),
        ("rmsprop_update", (W, m(3, 5), m(3, 5, low=0.0), 0.01, 0.9, 1e-8)),
    ]


@pytest.mark.parametrize("dtype", DTYPES)
def test_ops_never_modify_their_inputs_and_accept_read_only_arrays(dtype):
    for name, args in kernel_calls(dtype):
        originals = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
        for a in args:
            if isinstance(a, np.ndarray):
                a.setflags(write=False)
        result = getattr(ops, name)(*args)
        expected = getattr(R, name)(*originals)
        for a, original in zip(args, originals, strict=True):
            if isinstance(a, np.ndarray):
                np.testing.assert_array_equal(a, original, err_msg=name)
        results = result if isinstance(result, tuple) else (result,)
        for actual in results:
            assert isinstance(actual, (np.ndarray, float)), name
            if isinstance(actual, np.ndarray):
                assert actual.flags.writeable, name
                assert not any(np.shares_memory(actual, a) for a in args if isinstance(a, np.ndarray)), name
        wanted = expected if isinstance(expected, tuple) else (expected,)
        for actual, want in zip(results, wanted, strict=True):
            assert_close(actual, want, dtype, 10.0)


def test_dtype_of_the_first_array_decides():
    x32 = np.ones((2, 3), dtype=np.float32)
    W64 = np.full((3, 2), 0.5)
    assert ops.dense_forward(x32, W64, [1, 2]).dtype == np.float32
    assert ops.dense_forward(x32.astype(np.float16), W64, [1, 2]).dtype == np.float32
    assert ops.dense_forward(x32.astype(np.int64), W64.astype(np.float32), [1, 2]).dtype == np.float64
    assert ops.dense_forward([[1, 2, 3]], W64, np.zeros(2, dtype=np.float32)).dtype == np.float64
    assert ops.relu_forward(np.array([True, False])).dtype == np.float64
    assert ops.relu_forward([[-1.0, 2.0]]).tolist() == [[0.0, 2.0]]
    big_endian = np.arange(6, dtype=">f8").reshape(2, 3) - 2
    assert ops.relu_forward(big_endian).tolist() == [[0.0, 0.0, 0.0], [1.0, 2.0, 3.0]]
    value, grad = ops.mse(np.zeros((2, 2), dtype=np.float32), np.ones((2, 2)))
    assert isinstance(value, float) and value == 1.0 and grad.dtype == np.float32
    assert isinstance(ops.penalty(np.ones(3, dtype=np.float32), 0.0, 1.0), float)
    labels_as_floats = ops.softmax_cross_entropy(np.zeros((2, 3)), np.array([2.0, 0.0]))[0]
    assert labels_as_floats == pytest.approx(np.log(3))
    assert ops.relu_forward(np.float64(-3.0)).shape == ()


MEMORY_PROBE = """
import resource
import numpy as np
from ferronet import ops
resource.setrlimit(resource.RLIMIT_AS, (2 * 2**30, 2 * 2**30))
calls = [
    lambda: ops.dense_forward(np.ones((100_000, 1)), np.ones((1, 100_000)), np.zeros(100_000)),
    lambda: ops.dropout_mask(2**30, 2, 0.5, 0, 0, 0),  # 2 GiB of flags: within the cap, beyond the limit
    lambda: ops.rng.epoch_permutation(2**32 - 1, 0, 0),
]
for call in calls:
    try:
        call()
    except MemoryError as error:
        print("MemoryError:", error)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="uses RLIMIT_AS, which only Linux enforces")
def test_results_too_large_for_memory_raise_memory_error_instead_of_aborting():
    # Results whose size does not follow from an input's size (a tiny x and W can make a huge z) are allocated
    # fallibly by the engine: MemoryError, never an abort of the process.
    done = subprocess.run([sys.executable, "-c", MEMORY_PROBE], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.count("MemoryError:") == 3, done.stdout


def test_rng_namespace_matches_the_reference():
    assert int(ops.rng.splitmix64(0)) == 0xE220A8397B1DCDAF
    assert ops.rng.hash_words(1, 2, 3) == R.rng.hash_words(1, 2, 3)
    words = np.array([0, 5, 2**64 - 1], dtype=np.uint64)
    np.testing.assert_array_equal(ops.rng.hash_words(3, words, [[1], [2]]), R.rng.hash_words(3, words, [[1], [2]]))
    np.testing.assert_array_equal(ops.rng.splitmix64(words), R.rng.splitmix64(words))
    np.testing.assert_array_equal(ops.rng.epoch_permutation(100, 3, 4), R.rng.epoch_permutation(100, 3, 4))
    np.testing.assert_array_equal(ops.rng.mask(7, 9, 0.3, 1, 3, 2, 5), R.rng.mask(7, 9, 0.3, 1, 3, 2, 5))


# ------------------------------------------------------------------------------------------------ errors

X, W3, B = np.ones((4, 3)), np.ones((3, 2)), np.zeros(2)
Z = np.zeros((4, 3))
LABELS = np.array([0, 1, 2, 0])
P = np.ones((2, 3))

BAD_CALLS = [
    # (id, call, exception, message pattern)
    ("W rows", lambda: ops.dense_forward(X, np.ones((5, 2)), B), ValueError, "W has 5 rows but x has 3 columns"),
    ("b length", lambda: ops.dense_forward(X, W3, np.zeros(3)), ValueError, "b has 3 entries but W has 2 columns"),
    ("x 1-D", lambda: ops.dense_forward(np.ones(3), W3, B), ValueError, "x must be a 2-D array"),
    ("x 3-D", lambda: ops.dense_forward(np.ones((1, 4, 3)), W3, B), ValueError, "x must be a 2-D array"),
    ("b 2-D", lambda: ops.dense_forward(X, W3, np.zeros((1, 2))), ValueError, "b must be a 1-D array"),
    ("dz rows", lambda: ops.dense_backward(X, W3, np.ones((5, 2))), ValueError, "dz has 5 rows but x has 4"),
    ("dz cols", lambda: ops.dense_backward(X, W3, np.ones((4, 3))), ValueError, "dz has 3 columns but W has 2"),
    ("ragged x", lambda: ops.dense_forward([[1.0, 2.0], [3.0]], W3, B), TypeError, "x must be an array-like"),
    ("object z", lambda: ops.relu_forward(np.array([1, "a"], dtype=object)), TypeError, "z must hold numbers"),
    ("str z", lambda: ops.relu_forward("1.0"), TypeError, "z must be an array-like"),
    ("str array z", lambda: ops.relu_forward(np.array(["1.0"])), TypeError, "z must hold numbers"),
    ("complex z", lambda: ops.tanh_forward(np.ones(3, dtype=complex)), TypeError, "z must hold numbers"),
    ("None z", lambda: ops.sigmoid_forward(None), TypeError, "z must be an array-like"),
    ("NaN z", lambda: ops.relu_forward(np.array([[1.0, np.nan]])), ValueError, r"z contains NaN or infinity"),
    ("inf grad", lambda: ops.tanh_backward(np.array([np.inf]), np.zeros(1)), ValueError, "grad contains NaN"),
    ("inf after cast", lambda: ops.dense_forward(X.astype(np.float32), W3 * 1e300, B), ValueError, "W contains NaN"),
    ("output shape", lambda: ops.sigmoid_backward(Z, np.zeros((3, 4))), ValueError, "output has shape"),
    ("softmax 1-D", lambda: ops.softmax_forward(np.ones(3)), ValueError, "z must be a 2-D array"),
    ("softmax no columns", lambda: ops.softmax_forward(np.ones((3, 0))), ValueError, "z must have at least one column"),
    ("slope str", lambda: ops.leaky_relu_forward(Z, "0.1"), TypeError, "slope must be a number"),
    ("slope nan", lambda: ops.leaky_relu_backward(Z, Z, float("nan")), ValueError, "slope must be finite"),
    ("activation name", lambda: ops.activation_forward("gelu", Z), ValueError, "activation name must be one of"),
    ("activation type", lambda: ops.activation_backward(3, Z, Z), TypeError, "activation name must be one of"),
    ("label too big", lambda: ops.softmax_cross_entropy(Z, [0, 1, 3, 0]), ValueError, "labels holds label 3"),
    ("label negative", lambda: ops.hinge(Z, [0, -1, 2, 0]), ValueError, "labels must hold class labels >= 0"),
    ("label fraction", lambda: ops.softmax_cross_entropy(Z, [0, 0.5, 1, 1]), ValueError, "labels must hold integer"),
    ("label 2-D", lambda: ops.softmax_cross_entropy(Z, LABELS[:, None]), ValueError, "labels must be 1-D"),
    ("label count", lambda: ops.hinge(Z, LABELS[:3]), ValueError, "labels has 3 entries but scores has 4 rows"),
    ("label str", lambda: ops.softmax_cross_entropy(Z, "0120"), TypeError, "labels must be an array-like"),
    ("label NaN", lambda: ops.softmax_cross_entropy(Z, [0, np.nan, 1, 1]), ValueError, "labels contains NaN"),
    ("label huge", lambda: ops.softmax_cross_entropy(Z, [0, 1e30, 1, 1]), ValueError, "labels holds label"),
    (
        "weights length",
        lambda: ops.softmax_cross_entropy(Z, LABELS, [1.0, 2.0]),
        ValueError,
        "sample_weight must have shape",
    ),
    ("weights negative", lambda: ops.mse(Z, Z, [1.0, -1.0, 1.0, 1.0]), ValueError, "sample_weight must be >= 0"),
    ("weights NaN", lambda: ops.hinge(Z, LABELS, [1.0, np.nan, 1.0, 1.0]), ValueError, "sample_weight contains NaN"),
    ("target shape", lambda: ops.mse(Z, np.zeros((4, 2))), ValueError, r"target has shape \(4, 2\) but pred has"),
    ("no rows", lambda: ops.mse(np.zeros((0, 3)), np.zeros((0, 3))), ValueError, "pred must have at least one row"),
    ("target inf", lambda: ops.binary_cross_entropy(Z, Z + np.inf), ValueError, "target contains NaN"),
    ("scores 1-D", lambda: ops.hinge(np.zeros(3), [0]), ValueError, "scores must be a 2-D array"),
    ("logits complex", lambda: ops.softmax_cross_entropy(Z.astype(complex), LABELS), TypeError, "logits must hold"),
    ("l1 negative", lambda: ops.penalty(W3, -0.1, 0.0), ValueError, "l1 must be >= 0"),
    ("l2 str", lambda: ops.penalty_grad(W3, 0.0, "big"), TypeError, "l2 must be a number"),
    ("l2 inf", lambda: ops.penalty(W3, 0.0, float("inf")), ValueError, "l2 must be finite"),
    (
        "gamma length",
        lambda: ops.batchnorm_forward_train(X, np.ones(2), np.zeros(3), 1e-5),
        ValueError,
        "gamma has 2 entries but x has 3 columns",
    ),
    (
        "beta 2-D",
        lambda: ops.batchnorm_forward_train(X, np.ones(3), np.zeros((1, 3)), 1e-5),
        ValueError,
        "beta must be a 1-D",
    ),
    (
        "bn eps zero",
        lambda: ops.batchnorm_forward_train(X, np.ones(3), np.zeros(3), 0.0),
        ValueError,
        "eps must be > 0",
    ),
    ("bn eps str", lambda: ops.batchnorm_backward(X, X, np.ones(3), "1e-5"), TypeError, "eps must be a number"),
    (
        "bn no rows",
        lambda: ops.batchnorm_forward_train(np.zeros((0, 3)), np.ones(3), np.zeros(3), 1e-5),
        ValueError,
        "x must have at least one row",
    ),
    (
        "running_var negative",
        lambda: ops.batchnorm_forward_eval(X, np.ones(3), np.zeros(3), np.zeros(3), -np.ones(3), 1e-5),
        ValueError,
        "running_var must be >= 0",
    ),
    (
        "running_mean length",
        lambda: ops.batchnorm_forward_eval(X, np.ones(3), np.zeros(3), np.zeros(4), np.ones(3), 1e-5),
        ValueError,
        "running_mean has 4 entries",
    ),
    ("bn x shape", lambda: ops.batchnorm_backward(X, np.ones((4, 2)), np.ones(3), 1e-5), ValueError, "x has shape"),
    (
        "bn n one",
        lambda: ops.batchnorm_update_running(np.zeros(3), np.ones(3), np.zeros(3), np.ones(3), 1, 0.9),
        ValueError,
        "n must be >= 2",
    ),
    (
        "bn n float",
        lambda: ops.batchnorm_update_running(np.zeros(3), np.ones(3), np.zeros(3), np.ones(3), 2.5, 0.9),
        TypeError,
        "n must be an integer",
    ),
    (
        "bn momentum",
        lambda: ops.batchnorm_update_running(np.zeros(3), np.ones(3), np.zeros(3), np.ones(3), 4, 1.5),
        ValueError,
        "momentum must be <= 1",
    ),
    (
        "bn var shape",
        lambda: ops.batchnorm_update_running(np.zeros(3), np.ones(4), np.zeros(3), np.ones(3), 4, 0.9),
        ValueError,
        "running_var has shape",
    ),
    ("p one", lambda: ops.dropout_forward(X, X > 0, 1.0), ValueError, "p must be < 1"),
    ("p negative", lambda: ops.dropout_backward(X, X > 0, -0.1), ValueError, "p must be >= 0"),
    ("p str", lambda: ops.dropout_forward(X, X > 0, "half"), TypeError, "p must be a number"),
    ("mask shape", lambda: ops.dropout_forward(X, np.ones((3, 4), dtype=bool), 0.5), ValueError, "mask has shape"),
    ("mask values", lambda: ops.dropout_forward(X, np.full((4, 3), 2), 0.5), ValueError, "mask must hold True/False"),
    ("mask str", lambda: ops.dropout_backward(X, np.full((4, 3), "y"), 0.5), TypeError, "mask must hold numbers"),
    ("mask rows negative", lambda: ops.dropout_mask(-1, 3, 0.5, 0, 0, 0), ValueError, "rows must be >= 0"),
    ("mask rows float", lambda: ops.dropout_mask(2.0, 3, 0.5, 0, 0, 0), TypeError, "rows must be an integer"),
    ("mask seed negative", lambda: ops.dropout_mask(2, 3, 0.5, -1, 0, 0), ValueError, "seed must be >= 0"),
    ("mask seed huge", lambda: ops.dropout_mask(2, 3, 0.5, 2**64, 0, 0), ValueError, "seed must be <="),
    ("mask too large", lambda: ops.dropout_mask(2**20, 2**20, 0.5, 0, 0, 0), ValueError, "rows \\* cols must be"),
    ("mask p one", lambda: ops.dropout_mask(2, 3, 1.0, 0, 0, 0), ValueError, "p must be < 1"),
    ("lr negative", lambda: ops.sgd_update(P, P, -0.1), ValueError, "lr must be >= 0"),
    ("lr nan", lambda: ops.sgd_update(P, P, float("nan")), ValueError, "lr must be finite"),
    ("lr str", lambda: ops.sgd_update(P, P, "0.1"), TypeError, "lr must be a number"),
    ("lr bool", lambda: ops.sgd_update(P, P, True), TypeError, "lr must be a number"),
    (
        "grad shape",
        lambda: ops.sgd_update(P, np.ones(6), 0.1),
        ValueError,
        r"grad has shape \(6,\) but param has shape \(2, 3\)",
    ),
    ("velocity shape", lambda: ops.momentum_update(P, P, np.ones((3, 2)), 0.1, 0.9), ValueError, "velocity has shape"),
    ("momentum one", lambda: ops.momentum_update(P, P, P, 0.1, 1.0), ValueError, "momentum must be < 1"),
    ("momentum negative", lambda: ops.nesterov_update(P, P, P, 0.1, -0.5), ValueError, "momentum must be >= 0"),
    ("adam step zero", lambda: ops.adam_update(P, P, P, P, 0, 0.1, 0.9, 0.999, 1e-8), ValueError, "step must be >= 1"),
    (
        "adam step float",
        lambda: ops.adam_update(P, P, P, P, 1.5, 0.1, 0.9, 0.999, 1e-8),
        TypeError,
        "step must be an integer",
    ),
    ("adam beta1", lambda: ops.adam_update(P, P, P, P, 1, 0.1, 1.0, 0.999, 1e-8), ValueError, "beta1 must be < 1"),
    ("adam beta2", lambda: ops.adam_update(P, P, P, P, 1, 0.1, 0.9, -0.1, 1e-8), ValueError, "beta2 must be >= 0"),
    ("adam eps", lambda: ops.adam_update(P, P, P, P, 1, 0.1, 0.9, 0.999, 0.0), ValueError, "eps must be > 0"),
    ("adam v negative", lambda: ops.adam_update(P, P, P, -P, 1, 0.1, 0.9, 0.999, 1e-8), ValueError, "v must be >= 0"),
    ("adam m shape", lambda: ops.adam_update(P, P, np.ones(3), P, 1, 0.1, 0.9, 0.999, 1e-8), ValueError, "m has shape"),
    ("rmsprop rho", lambda: ops.rmsprop_update(P, P, P, 0.1, 1.0, 1e-8), ValueError, "rho must be < 1"),
    ("rmsprop sq shape", lambda: ops.rmsprop_update(P, P, np.ones(2), 0.1, 0.9, 1e-8), ValueError, "sq has shape"),
    ("permutation n", lambda: ops.rng.epoch_permutation(-1, 0, 0), ValueError, "n must be >= 0"),
    ("hash no words", lambda: ops.rng.hash_words(), TypeError, "at least one word"),
    ("hash float word", lambda: ops.rng.hash_words(1, np.ones(2)), TypeError, r"words\[1\] must be an integer"),
]


@pytest.mark.parametrize(("call", "exception", "pattern"), [c[1:] for c in BAD_CALLS], ids=[c[0] for c in BAD_CALLS])
def test_bad_inputs_raise_errors_that_name_the_argument(call, exception, pattern):
    with pytest.raises(exception, match=pattern):
        call()


def test_there_are_many_distinct_error_cases():
    assert len({c[0] for c in BAD_CALLS}) == len(BAD_CALLS) >= 25


# Anything at all, in any argument position: the wrappers answer with ValueError/TypeError, never a panic.
JUNK = st.sampled_from(
    [
        None,
        "x",
        b"x",
        [],
        [[1.0, 2.0], [3.0]],
        {"a": 1},
        -1,
        0,
        1,
        3,
        2**64,
        2**70,
        -0.5,
        0.5,
        1.5,
        float("nan"),
        float("inf"),
        True,
        1 + 2j,
        np.zeros((0, 0)),
        np.zeros((0, 3)),
        np.zeros((3, 0)),
        np.ones((2, 3)),
        np.ones((3, 2), dtype=np.float32),
        np.ones(3),
        np.ones((2, 3, 4)),
        np.array(1.0),
        np.array([0, 1, 2]),
        np.array([-1, 5]),
        np.ones((2, 3), dtype=bool),
        np.ones((2, 3), dtype=complex),
        np.array(["a", "b"]),
        np.array([None, 1.0], dtype=object),
        np.array([[np.nan, 1.0, 2.0]]),
        np.full((2, 3), 1e300),
        np.ones((2, 3), dtype=np.float16),
        np.arange(6, dtype=np.uint64).reshape(2, 3),
    ]
)
FUNCTIONS = [name for name in ops.__all__ if callable(getattr(ops, name)) and name != "rng"] + [
    "rng.splitmix64",
    "rng.hash_words",
    "rng.epoch_permutation",
    "rng.mask",
]


def resolve(name: str):
    target = ops
    for part in name.split("."):
        target = getattr(target, part)
    return target


@pytest.mark.parametrize("name", FUNCTIONS)
@settings(max_examples=60, deadline=None, derandomize=True, database=None)
@given(data=st.data())
def test_no_input_crashes(name, data):
    function = resolve(name)
    parameters = inspect.signature(function).parameters.values()
    if any(p.kind is p.VAR_POSITIONAL for p in parameters):
        arity = data.draw(st.integers(0, 4), label="arity")
    else:
        required = sum(p.default is p.empty for p in parameters)
        arity = data.draw(st.integers(required, len(parameters)), label="arity")
    args = [data.draw(JUNK, label=f"arg{i}") for i in range(arity)]
    try:
        function(*args)
    except (ValueError, TypeError) as error:
        assert str(error)
