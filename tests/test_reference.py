"""Tests of the NumPy reference itself: gradients by central differences, optimizer steps by hand, the counter-based
generator's pinned values (the Rust engine is checked against the same numbers), and a toy problem that trains."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from ferronet import reference as R
from ferronet.layers import Activation, BatchNorm, Dense, Dropout
from ferronet.optim import SGD, Adam, RMSProp
from ferronet.reference import rng

ACTIVATIONS = ("relu", "leaky_relu", "sigmoid", "tanh", "linear", "softmax")
DTYPES = (np.float32, np.float64)


def numerical_grad(f, x: np.ndarray, h: float = 1e-6) -> np.ndarray:
    """Central differences of the scalar function f() with respect to the array x (perturbed in place)."""
    grad = np.zeros_like(x)
    for index in np.ndindex(x.shape):
        saved = x[index]
        x[index] = saved + h
        plus = f()
        x[index] = saved - h
        minus = f()
        x[index] = saved
        grad[index] = (plus - minus) / (2 * h)
    return grad


def assert_close(actual, expected, rtol=1e-6, atol=1e-8):
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol)


@pytest.fixture
def rs() -> np.random.Generator:
    return np.random.default_rng(1234)


# ------------------------------------------------------------------------------------------------ rng


def splitmix64_int(x: int) -> int:
    """An independent, pure-Python SplitMix64 finalizer (mod 2**64)."""
    mask = (1 << 64) - 1
    z = (x + 0x9E3779B97F4A7C15) & mask
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & mask
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & mask
    return z ^ (z >> 31)


def test_rng_pinned_values():
    # Known values of the spec; rust/rng.rs must produce the same numbers.
    assert int(rng.splitmix64(0)) == 0xE220A8397B1DCDAF  # 16294208416658607535
    assert int(rng.hash_words(1, 2, 3)) == 0xD0734750FDE362B3  # 15020427595393229491
    assert rng.epoch_permutation(10, 42, 0).tolist() == [7, 9, 2, 5, 1, 8, 3, 4, 6, 0]
    expected_mask = [[True, True, False, True, False], [False, False, True, False, True]]
    assert rng.mask(2, 5, 0.5, seed=7, stream=2, step=3, layer=1).tolist() == expected_mask


def test_rng_matches_pure_python_and_is_vectorised():
    for x in (0, 1, 2**63, 2**64 - 1, rng.GAMMA):
        assert int(rng.splitmix64(x)) == splitmix64_int(x)
    words = np.array([0, 5, 2**64 - 1], dtype=np.uint64)
    h = rng.hash_words(3, 4, words)
    for w, value in zip(words.tolist(), h.tolist(), strict=True):
        assert value == splitmix64_int(splitmix64_int(splitmix64_int(3) ^ 4) ^ w)
    key = int(rng.hash_words(9, rng.DROPOUT, 0, 2, 1))
    bits = [splitmix64_int((key + c * rng.GAMMA) % 2**64) for c in range(6)]
    threshold = int(0.7 * 2**53)
    assert rng.mask(3, 6, 0.3, 9, rng.DROPOUT, 0, 2)[1].tolist() == [(b >> 11) < threshold for b in bits]


def test_rng_emits_no_overflow_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        rng.hash_words(2**64 - 1, 2**64 - 1, 2**64 - 1)
        rng.mask(4, 4, 0.5, 2**64 - 1, rng.DROPCONNECT, 10**6, 3)
        rng.epoch_permutation(100, 2**64 - 1, 7)


def test_epoch_permutation_is_a_deterministic_permutation():
    a = rng.epoch_permutation(1000, 42, 0)
    assert a.dtype == np.int64
    assert sorted(a.tolist()) == list(range(1000))
    assert np.array_equal(a, rng.epoch_permutation(1000, 42, 0))
    assert not np.array_equal(a, rng.epoch_permutation(1000, 42, 1))
    assert not np.array_equal(a, rng.epoch_permutation(1000, 43, 0))
    assert rng.epoch_permutation(0, 1, 0).tolist() == [] and rng.epoch_permutation(1, 1, 0).tolist() == [0]


@pytest.mark.parametrize("p", [0.1, 0.5, 0.9])
def test_mask_keeps_about_one_minus_p(p):
    kept = rng.mask(200, 500, p, 3, rng.DROPOUT, 5, 0)
    assert kept.shape == (200, 500) and kept.dtype == bool
    assert abs(kept.mean() - (1 - p)) < 0.01
    assert not np.array_equal(kept, rng.mask(200, 500, p, 3, rng.DROPOUT, 6, 0))  # a fresh mask per step
    assert not np.array_equal(kept, rng.mask(200, 500, p, 3, rng.DROPCONNECT, 5, 0))  # and per stream


def test_mask_with_p_zero_keeps_everything():
    assert rng.mask(3, 4, 0.0, 1, rng.DROPOUT, 0, 0).all()


# ---------------------------------------------------------------------------------- kernels: gradients


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_activation_backward_matches_finite_differences(name, rs):
    z = rs.normal(size=(4, 5))
    z[np.abs(z) < 0.05] = 0.3  # away from the kinks of relu and leaky_relu
    weights = rs.normal(size=z.shape)
    analytic = R.activation_backward(name, weights, R.activation_forward(name, z))
    numeric = numerical_grad(lambda: np.sum(R.activation_forward(name, z) * weights), z)
    assert_close(analytic, numeric)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ACTIVATIONS)
def test_activations_keep_the_dtype(name, dtype, rs):
    z = rs.normal(size=(3, 4)).astype(dtype)
    out = R.activation_forward(name, z)
    assert out.dtype == dtype and R.activation_backward(name, z, out).dtype == dtype


def test_sigmoid_and_softmax_are_stable_at_extremes():
    z = np.array([[-1000.0, 0.0, 1000.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sig = R.sigmoid_forward(z)
        soft = R.softmax_forward(z)
        loss, grad = R.softmax_cross_entropy(z, np.array([0]))
        bce, _ = R.binary_cross_entropy(z, np.ones((1, 3)))
    assert sig.tolist() == [[0.0, 0.5, 1.0]]
    assert soft.tolist() == [[0.0, 0.0, 1.0]]
    assert loss == 2000.0 and np.isfinite(grad).all()
    assert bce == pytest.approx((1000 + math.log(2)) / 3)


def test_leaky_relu_and_relu_values():
    z = np.array([[-2.0, 0.0, 3.0]])
    assert R.relu_forward(z).tolist() == [[0.0, 0.0, 3.0]]
    assert R.leaky_relu_forward(z).tolist() == [[-0.02, 0.0, 3.0]]
    assert R.leaky_relu_backward(np.ones((1, 3)), R.leaky_relu_forward(z)).tolist() == [[0.01, 0.01, 1.0]]


def test_dense_backward_matches_finite_differences(rs):
    x, W, b = rs.normal(size=(4, 3)), rs.normal(size=(3, 5)), rs.normal(size=5)
    weights = rs.normal(size=(4, 5))
    dx, dW, db = R.dense_backward(x, W, weights)
    for analytic, array in ((dx, x), (dW, W), (db, b)):
        assert_close(analytic, numerical_grad(lambda: np.sum(R.dense_forward(x, W, b) * weights), array))


def _loss_inputs(name: str, rs: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    n, k = 5, 4
    z = rs.normal(size=(n, k))
    if name in ("softmax_cross_entropy", "hinge"):
        return z, rs.integers(0, k, n)
    if name == "binary_cross_entropy":
        return z, rs.uniform(size=(n, k))
    if name == "poisson":
        return z, rs.poisson(2.0, size=(n, k)).astype(np.float64)
    return z, rs.normal(size=(n, k))


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("name", list(R.LOSS_FUNCTIONS))
def test_loss_grad_matches_finite_differences(name, weighted, rs):
    loss_fn = R.LOSS_FUNCTIONS[name]
    z, target = _loss_inputs(name, rs)
    sample_weight = rs.uniform(0.0, 2.0, z.shape[0]) if weighted else None
    if name == "hinge":  # keep every margin away from its kink at 0
        margins = z - z[np.arange(len(z)), target][:, None] + 1
        z += np.where(np.abs(margins) < 0.05, 0.2, 0.0) * (np.arange(z.shape[1]) != target[:, None])
    loss, grad = loss_fn(z, target, sample_weight)
    assert isinstance(loss, float) and grad.shape == z.shape
    assert_close(grad, numerical_grad(lambda: loss_fn(z, target, sample_weight)[0], z))


@pytest.mark.parametrize("name", list(R.LOSS_FUNCTIONS))
def test_loss_weighting_conventions(name, rs):
    loss_fn = R.LOSS_FUNCTIONS[name]
    z, target = _loss_inputs(name, rs)
    unweighted, grad = loss_fn(z, target)
    ones, grad_ones = loss_fn(z, target, np.ones(len(z)))
    assert ones == pytest.approx(unweighted) and np.allclose(grad_ones, grad)
    # integer weights are the same as repeating rows
    w = np.array([1, 0, 2, 1, 3])
    weighted, _ = loss_fn(z, target, w.astype(float))
    repeated, _ = loss_fn(np.repeat(z, w, axis=0), np.repeat(target, w, axis=0))
    assert weighted == pytest.approx(repeated)
    zero_loss, zero_grad = loss_fn(z, target, np.zeros(len(z)))
    assert zero_loss == 0.0 and not zero_grad.any()


def test_loss_values_by_hand():
    z = np.array([[1.0, 2.0, 0.5]])
    loss, _ = R.softmax_cross_entropy(z, np.array([1]))
    assert loss == pytest.approx(math.log(math.exp(1) + math.exp(2) + math.exp(0.5)) - 2)
    loss, grad = R.mse(np.array([[1.0, 3.0]]), np.array([[0.0, 0.0]]))
    assert loss == 5.0 and grad.tolist() == [[1.0, 3.0]]
    # margins: class 0: 1 - 2 + 1 = 0 (not positive), class 2: 2.5 - 2 + 1 = 1.5
    loss, grad = R.hinge(np.array([[1.0, 2.0, 2.5]]), np.array([1]))
    assert loss == 1.5 and grad.tolist() == [[0.0, -1.0, 1.0]]
    # poisson: exp(0) - 2*0 + 2*log(2) - 2 = 2*log(2) - 1, and exp(1) - 0 (a zero count); mean over the outputs
    loss, grad = R.poisson(np.array([[0.0, 1.0]]), np.array([[2.0, 0.0]]))
    assert loss == pytest.approx((2 * math.log(2) - 1 + math.e) / 2) and grad.tolist() == [[-0.5, math.e / 2]]


@pytest.mark.parametrize("dtype", DTYPES)
def test_losses_keep_the_dtype(dtype, rs):
    for name, loss_fn in R.LOSS_FUNCTIONS.items():
        z, target = _loss_inputs(name, rs)
        z = z.astype(dtype)
        if target.dtype.kind == "f":
            target = target.astype(dtype)
        loss, grad = loss_fn(z, target, np.ones(len(z), dtype=dtype))
        assert isinstance(loss, float) and grad.dtype == dtype


def test_batchnorm_backward_matches_finite_differences(rs):
    x, gamma, beta = rs.normal(size=(6, 3)) * 2 + 1, rs.normal(size=3), rs.normal(size=3)
    weights = rs.normal(size=(6, 3))
    eps = 1e-5
    dx, dgamma, dbeta = R.batchnorm_backward(weights, x, gamma, eps)

    def f():
        return np.sum(R.batchnorm_forward_train(x, gamma, beta, eps)[0] * weights)

    for analytic, array in ((dx, x), (dgamma, gamma), (dbeta, beta)):
        assert_close(analytic, numerical_grad(f, array))


def test_batchnorm_statistics_and_running_update(rs):
    x = rs.normal(size=(8, 3))
    gamma, beta = np.array([1.0, 2.0, 0.5]), np.array([0.0, -1.0, 3.0])
    y, mean, var = R.batchnorm_forward_train(x, gamma, beta, 1e-5)
    assert_close(mean, x.mean(axis=0)) and assert_close(var, x.var(axis=0))
    assert_close(y, gamma * (x - x.mean(axis=0)) / np.sqrt(x.var(axis=0) + 1e-5) + beta)
    r_mean, r_var = R.batchnorm_update_running(np.zeros(3), np.ones(3), mean, var, 8, 0.9)
    assert_close(r_mean, 0.1 * mean) and assert_close(r_var, 0.9 + 0.1 * x.var(axis=0, ddof=1))
    y_eval = R.batchnorm_forward_eval(x, gamma, beta, r_mean, r_var, 1e-5)
    assert_close(y_eval, gamma * (x - r_mean) / np.sqrt(r_var + 1e-5) + beta)
    with pytest.raises(ValueError, match="at least 2 rows"):
        R.batchnorm_update_running(np.zeros(3), np.ones(3), mean, var, 1, 0.9)


@pytest.mark.parametrize("dtype", DTYPES)
def test_batchnorm_keeps_the_dtype(dtype, rs):
    x, gamma, beta = (rs.normal(size=s).astype(dtype) for s in ((5, 3), 3, 3))
    y, mean, var = R.batchnorm_forward_train(x, gamma, beta, 1e-5)
    dx, dgamma, dbeta = R.batchnorm_backward(y, x, gamma, 1e-5)
    r_mean, r_var = R.batchnorm_update_running(mean, var, mean, var, 5, 0.9)
    y_eval = R.batchnorm_forward_eval(x, gamma, beta, mean, var, 1e-5)
    for array in (y, mean, var, dx, dgamma, dbeta, r_mean, r_var, y_eval):
        assert array.dtype == dtype


def test_penalty_and_its_gradient(rs):
    W = rs.normal(size=(4, 3))
    W[np.abs(W) < 0.05] = 0.5  # away from the kink of |w|
    assert R.penalty(W, 0.1, 0.2) == pytest.approx(0.5 * 0.2 * np.sum(W**2) + 0.1 * np.sum(np.abs(W)))
    assert_close(R.penalty_grad(W, 0.1, 0.2), numerical_grad(lambda: R.penalty(W, 0.1, 0.2), W))
    assert R.penalty_grad(np.zeros((2, 2)), 0.1, 0.0).tolist() == [[0.0, 0.0], [0.0, 0.0]]
    assert R.penalty(W, 0.0, 0.0) == 0.0 and R.penalty_grad(W.astype(np.float32), 0.1, 0.2).dtype == np.float32


@pytest.mark.parametrize("dtype", DTYPES)
def test_dropout_scales_kept_units_exactly(dtype, rs):
    x = rs.normal(size=(5, 4)).astype(dtype)
    mask = R.dropout_mask(5, 4, 0.3, seed=1, step=0, layer=2)
    scale = np.where(mask, dtype(1.0 / (1.0 - 0.3)), dtype(0))
    out = R.dropout_forward(x, mask, 0.3)
    assert out.dtype == dtype and np.array_equal(out, x * scale)
    assert np.array_equal(R.dropout_backward(x, mask, 0.3), x * scale)
    assert np.array_equal(mask, rng.mask(5, 4, 0.3, 1, rng.DROPOUT, 0, 2))


# ------------------------------------------------------------------------------------------ optimizers

P, G1, G2, LR, MU = 1.0, 0.5, -0.25, 0.1, 0.9


def two_steps(update, state_count: int, dtype=np.float64, **hyper):
    """Two updates of a 1-element parameter with gradients G1 then G2; returns the parameter after each."""
    param = np.array([P], dtype=dtype)
    state = [np.zeros(1, dtype=dtype) for _ in range(state_count)]
    params = []
    for step, g in enumerate((G1, G2), start=1):
        grad = np.array([g], dtype=dtype)
        before = (param.copy(), grad.copy(), [s.copy() for s in state])
        extra = {"step": step} if update is R.adam_update else {}
        result = update(param, grad, *state, **extra, **hyper)
        assert np.array_equal(param, before[0]) and all(
            np.array_equal(s, b) for s, b in zip(state, before[2], strict=True)
        )
        param, *state = result if isinstance(result, tuple) else (result,)
        assert param.dtype == dtype
        params.append(float(param[0]))
    return params


@pytest.mark.parametrize("dtype", DTYPES)
def test_sgd_by_hand(dtype):
    tol = 1e-15 if dtype is np.float64 else 1e-6
    assert two_steps(R.sgd_update, 0, dtype, lr=LR) == pytest.approx([0.95, 0.975], abs=tol)
    # v1 = 0.5, p1 = 1 - 0.05; v2 = 0.45 - 0.25 = 0.2, p2 = 0.95 - 0.02
    assert two_steps(R.momentum_update, 1, dtype, lr=LR, momentum=MU) == pytest.approx([0.95, 0.93], abs=tol)
    # p1 = 1 - 0.1*(0.5 + 0.45) = 0.905; p2 = 0.905 - 0.1*(-0.25 + 0.9*0.2) = 0.912
    assert two_steps(R.nesterov_update, 1, dtype, lr=LR, momentum=MU) == pytest.approx([0.905, 0.912], abs=tol)


def test_adam_by_hand():
    b1, b2, eps = 0.9, 0.999, 1e-8
    m1, v1 = (1 - b1) * G1, (1 - b2) * G1 * G1
    p1 = P - LR * (m1 / (1 - b1)) / (math.sqrt(v1 / (1 - b2)) + eps)  # = 1 - 0.1 * 0.5 / (0.5 + eps)
    m2, v2 = b1 * m1 + (1 - b1) * G2, b2 * v1 + (1 - b2) * G2 * G2  # 0.02, 0.00031225
    p2 = p1 - LR * (m2 / (1 - b1**2)) / (math.sqrt(v2 / (1 - b2**2)) + eps)
    assert p1 == pytest.approx(0.9, abs=1e-8)
    assert p2 == pytest.approx(0.9 - 0.1 * (0.02 / 0.19) / math.sqrt(0.00031225 / 0.001999))
    hyper = {"lr": LR, "beta1": b1, "beta2": b2, "eps": eps}
    assert two_steps(R.adam_update, 2, **hyper) == pytest.approx([p1, p2], rel=1e-15)
    assert two_steps(R.adam_update, 2, np.float32, **hyper) == pytest.approx([p1, p2], rel=1e-6)


def test_rmsprop_by_hand():
    rho, eps = 0.9, 1e-8
    s1 = (1 - rho) * G1 * G1  # 0.025
    p1 = P - LR * G1 / (math.sqrt(s1) + eps)  # 1 - 0.05 / (0.158113883 + 1e-8) = 0.683772254
    s2 = rho * s1 + (1 - rho) * G2 * G2  # 0.02875
    p2 = p1 - LR * G2 / (math.sqrt(s2) + eps)
    assert p1 == pytest.approx(0.683772254, abs=1e-9)
    assert two_steps(R.rmsprop_update, 1, lr=LR, rho=rho, eps=eps) == pytest.approx([p1, p2], rel=1e-15)


def test_adam_rejects_step_zero():
    with pytest.raises(ValueError, match="step"):
        R.adam_update(np.ones(1), np.ones(1), np.zeros(1), np.zeros(1), 0, 0.1, 0.9, 0.999, 1e-8)


# ------------------------------------------------------------------------------------------ Sequential


def model_gradient_check(model: R.Sequential, X, y, sample_weight=None, h=1e-6, rtol=1e-5, atol=1e-7):
    """Sequential.gradients against central differences of Sequential.objective (training mode, same step)."""
    analytic = model.gradients(X, y, sample_weight)
    weights = model.get_weights()
    for index, layer_weights in enumerate(weights):
        for key, array in layer_weights.items():
            if key.startswith("running"):
                assert key not in analytic[index]
                continue

            def f():
                model.set_weights(weights)
                return model.objective(X, y, sample_weight)

            numeric = numerical_grad(f, array, h)
            assert_close(analytic[index][key], numeric, rtol=rtol, atol=atol)
    model.set_weights(weights)


def small_data(rs, n=6, d=3, loss="softmax_cross_entropy", k=3):
    X = rs.normal(size=(n, d))
    if loss in ("softmax_cross_entropy", "hinge"):
        y = rs.integers(0, k, n)
    elif loss == "binary_cross_entropy":
        y = (rs.uniform(size=(n, k)) > 0.5).astype(float)
    else:
        y = rs.normal(size=(n, k))
    return X, y


@pytest.mark.parametrize("activation", ["relu", "leaky_relu", "sigmoid", "tanh", "linear"])
@pytest.mark.parametrize("loss", ["softmax_cross_entropy", "mse", "binary_cross_entropy", "hinge"])
def test_sequential_gradients_every_activation_and_loss(activation, loss, rs):
    layers = [Dense(5, activation), Dense(4, "tanh"), Dense(3)]
    model = R.Sequential(layers, 3, loss=loss, l1=0.01, l2=0.1, dtype="float64", seed=3)
    X, y = small_data(rs, loss=loss)
    model_gradient_check(model, X, y)
    model_gradient_check(model, X, y, sample_weight=rs.uniform(0.1, 2.0, len(X)))


@pytest.mark.parametrize(
    "head, loss",
    [
        ("softmax", "softmax_cross_entropy"),  # fused
        ("sigmoid", "binary_cross_entropy"),  # fused
        ("softmax", "mse"),
        ("softmax", "hinge"),
        ("sigmoid", "mse"),
    ],
)
def test_sequential_gradients_with_output_activations(head, loss, rs):
    X, y = small_data(rs, loss=loss)
    for last in (Dense(3, head), Activation(head)):
        layers = [Dense(4, "tanh"), last] if isinstance(last, Dense) else [Dense(4, "tanh"), Dense(3), last]
        model = R.Sequential(layers, 3, loss=loss, dtype="float64", seed=1)
        model_gradient_check(model, X, y)


def test_sequential_gradients_with_batchnorm_dropout_and_dropconnect(rs):
    layers = [
        Dense(6, "relu", dropconnect=0.3),
        BatchNorm(),
        Activation("tanh"),
        Dropout(0.4),
        Dense(5, "sigmoid"),
        BatchNorm(momentum=0.5, eps=1e-3),
        Dense(3, "softmax"),
    ]
    model = R.Sequential(layers, 4, l2=0.05, dtype="float64", seed=5)
    model.step = 7  # masks are keyed by the step; it does not change while gradients are checked
    X, y = small_data(rs, n=8, d=4)
    weights = model.get_weights()
    weights[1]["gamma"] = rs.uniform(0.5, 1.5, 6)
    weights[1]["beta"] = rs.normal(size=6)
    model.set_weights(weights)
    model_gradient_check(model, X, y)
    assert model.forward(X, training=True).shape == (8, 3)
    assert not np.allclose(model.forward(X, training=True), model.forward(X))  # masks and batch statistics


def test_dropout_layer_uses_the_step_and_layer_masks(rs):
    model = R.Sequential([Dense(5, "linear"), Dropout(0.5)], 2, loss="mse", dtype="float64")
    X = rs.normal(size=(4, 2))
    plain = model.forward(X)
    model.step = 11
    mask = rng.mask(4, 5, 0.5, 0, rng.DROPOUT, 11, 1)
    assert np.array_equal(model.forward(X, training=True), R.dropout_forward(plain, mask, 0.5))


def test_forward_returns_probabilities_for_fused_heads(rs):
    X = rs.normal(size=(5, 3))
    model = R.Sequential([Dense(4, "softmax")], 3, dtype="float64")
    probabilities = model.forward(X)
    assert_close(probabilities.sum(axis=1), np.ones(5))
    assert np.array_equal(model.predict(X), probabilities.argmax(axis=1))
    bce = R.Sequential([Dense(1, "sigmoid")], 3, loss="binary_cross_entropy", dtype="float64")
    assert bce.predict(X).shape == (5,) and set(bce.predict(X).tolist()) <= {0, 1}


def test_evaluate_reports_objective_and_accuracy(rs):
    X, y = small_data(rs, n=10)
    model = R.Sequential([Dense(3)], 3, l1=0.1, l2=0.2, dtype="float64")
    W, b = model.get_weights()[0]["W"], model.get_weights()[0]["b"]
    logits = X @ W + b
    expected = R.softmax_cross_entropy(logits, y)[0] + R.penalty(W, 0.1, 0.2)
    result = model.evaluate(X, y)
    assert result["loss"] == pytest.approx(expected)
    assert result["accuracy"] == np.mean(logits.argmax(axis=1) == y)
    assert model.evaluate(X, np.eye(3)[y]) == result  # one-hot labels
    assert "accuracy" not in R.Sequential([Dense(2)], 3, loss="mse").evaluate(X, rs.normal(size=(10, 2)))


def test_train_step_returns_the_pre_update_objective_and_counts_steps(rs):
    X, y = small_data(rs, n=8)
    model = R.Sequential([Dense(4, "relu"), BatchNorm(), Dense(3)], 3, dtype="float64")
    before = model.objective(X, y)
    first = model.get_weights()[0]
    loss = model.train_step(X, y, SGD(lr=0.1))
    assert loss == before and model.step == 1
    hidden = R.relu_forward(X @ first["W"] + first["b"])  # BatchNorm's input before the update
    running = model.get_weights()[1]
    assert_close(running["running_mean"], 0.1 * hidden.mean(axis=0))
    assert_close(running["running_var"], 0.9 + 0.1 * hidden.var(axis=0, ddof=1))
    assert model.objective(X, y) < before


def test_optimizer_state_restarts_with_a_new_optimizer(rs):
    X, y = small_data(rs, n=8)
    a = R.Sequential([Dense(3)], 3, dtype="float64")
    b = R.Sequential([Dense(3)], 3, dtype="float64")
    opt = SGD(lr=0.1, momentum=0.9)
    a.train_step(X, y, opt)
    a.train_step(X, y, opt)  # velocity carried over
    b.train_step(X, y, opt)
    b.train_step(X, y, SGD(lr=0.1, momentum=0.9))  # fresh velocity: the same as plain SGD this step
    assert not np.allclose(a.get_weights()[0]["W"], b.get_weights()[0]["W"])
    c = R.Sequential([Dense(3)], 3, dtype="float64")
    c.train_step(X, y, opt)
    c.train_step(X, y, SGD(lr=0.1))
    assert np.allclose(b.get_weights()[0]["W"], c.get_weights()[0]["W"])


OPTIMIZERS = [SGD(lr=0.05), SGD(lr=0.05, momentum=0.9, nesterov=True), Adam(lr=0.01), RMSProp(lr=0.01)]


@pytest.mark.parametrize("optimizer", OPTIMIZERS)
def test_fit_twice_continues_the_epochs(optimizer, rs):
    X, y = small_data(rs, n=50)
    layers = [Dense(8, "relu"), BatchNorm(), Dropout(0.2), Dense(3)]
    one = R.Sequential(layers, 3, dtype="float64", seed=9)
    two = R.Sequential(layers, 3, dtype="float64", seed=9)
    history = one.fit(X, y, epochs=2, batch_size=16, optimizer=optimizer)
    first = two.fit(X, y, epochs=1, batch_size=16, optimizer=optimizer)
    second = two.fit(X, y, epochs=1, batch_size=16)  # None: keep the optimizer (and its state)
    assert history["loss"] == first["loss"] + second["loss"]
    assert history["accuracy"] == first["accuracy"] + second["accuracy"]
    assert one.step == two.step == 8 and one.epoch == two.epoch == 2
    for a, b in zip(one.get_weights(), two.get_weights(), strict=True):
        for key in a:
            assert np.array_equal(a[key], b[key])


def test_fit_is_train_steps_over_the_epoch_permutation(rs):
    X, y = small_data(rs, n=10)
    fitted = R.Sequential([Dense(4, "tanh"), Dense(3)], 3, dtype="float64", seed=2)
    stepped = R.Sequential([Dense(4, "tanh"), Dense(3)], 3, dtype="float64", seed=2)
    opt_a, opt_b = Adam(lr=0.01), Adam(lr=0.01)
    history = fitted.fit(X, y, epochs=1, batch_size=4, optimizer=opt_a)
    order = rng.epoch_permutation(10, 2, 0)
    losses = [stepped.train_step(X[order[s : s + 4]], y[order[s : s + 4]], opt_b) for s in (0, 4, 8)]
    assert history["loss"][0] == pytest.approx((4 * losses[0] + 4 * losses[1] + 2 * losses[2]) / 10, rel=1e-15)
    assert np.array_equal(fitted.get_weights()[0]["W"], stepped.get_weights()[0]["W"])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_spiral_trains(dtype):
    rs = np.random.default_rng(0)
    n, classes = 100, 3
    X, y = np.zeros((n * classes, 2)), np.repeat(np.arange(classes), n)
    for j in range(classes):
        r, t = np.linspace(0.0, 1, n), np.linspace(j * 4, (j + 1) * 4, n) + rs.normal(size=n) * 0.2
        X[j * n : (j + 1) * n] = np.c_[r * np.sin(t), r * np.cos(t)]
    model = R.Sequential([Dense(32, "relu"), Dense(32, "tanh"), Dense(3, "softmax")], 2, l2=1e-4, dtype=dtype, seed=0)
    history = model.fit(X, y, epochs=60, batch_size=32, optimizer=Adam(lr=0.02))
    assert history["loss"][-1] < 0.5 * history["loss"][0]
    assert model.evaluate(X, y)["accuracy"] > 0.85
    assert all(value.dtype == dtype for weights in model.get_weights() for value in weights.values())


def test_set_weights_validates_and_copies(rs):
    model = R.Sequential([Dense(3), BatchNorm()], 2)
    weights = model.get_weights()
    weights[0]["W"][0, 0] = 5.0
    assert model.get_weights()[0]["W"][0, 0] != 5.0  # get_weights returns copies
    model.set_weights(weights)
    weights[0]["W"][0, 0] = 6.0
    assert model.get_weights()[0]["W"][0, 0] == 5.0  # set_weights copies in
    bad_shape = model.get_weights()
    bad_shape[0]["W"] = np.zeros((3, 3))
    bad_value = model.get_weights()
    bad_value[1]["beta"] = np.array([0.0, np.nan, 0.0])
    bad_keys = model.get_weights()
    del bad_keys[1]["running_var"]
    for bad in (bad_shape, bad_value, bad_keys, model.get_weights()[:1]):
        with pytest.raises(ValueError):
            model.set_weights(bad)
    assert model.get_weights()[0]["W"][0, 0] == 5.0


def test_sequential_validation(rs):
    with pytest.raises(ValueError, match="seed"):
        R.Sequential([Dense(2)], 2, seed=-1)
    with pytest.raises(TypeError, match="seed"):
        R.Sequential([Dense(2)], 2, seed=1.5)
    with pytest.raises(ValueError, match="softmax"):
        R.Sequential([Dense(2, "softmax"), Dense(2)], 2)
    with pytest.raises(ValueError, match="loss"):
        R.Sequential([Dense(2)], 2, loss="nope")
    with pytest.raises(TypeError):
        R.Sequential(["dense"], 2)
    model = R.Sequential([Dense(4), BatchNorm(), Dense(2)], 3)
    X, y = rs.normal(size=(5, 3)), np.array([0, 1, 1, 0, 1])
    with pytest.raises(ValueError, match="BatchNorm needs at least 2 rows"):
        model.train_step(X[:1], y[:1], SGD())
    with pytest.raises(ValueError, match="BatchNorm needs at least 2 rows"):
        model.fit(X, y, batch_size=2)  # the last batch would have 1 row
    with pytest.raises(ValueError, match="features"):
        model.forward(X[:, :2])
    with pytest.raises(ValueError, match="label"):
        model.evaluate(X, np.array([0, 1, 2, 0, 1]))
    assert model.step == 0 and model.epoch == 0
    model.forward(X[:1])  # inference with one row is fine


def test_non_finite_loss_raises_and_restores_the_epoch(rs):
    X, y = small_data(rs, n=8)
    model = R.Sequential([Dense(3)], 3, dtype="float64")
    start = model.get_weights()
    with np.errstate(all="ignore"), pytest.raises(FloatingPointError, match="epoch 0"):
        model.fit(X * 1e300, y, epochs=1, batch_size=4, optimizer=SGD(lr=1e300))
    assert model.step == 0 and np.array_equal(model.get_weights()[0]["W"], start[0]["W"])
