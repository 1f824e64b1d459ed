"""Analytic gradients of the engine against central differences (``fnet.utils.gradient_check``), in float64, for
every hidden activation x every loss, with penalties, sample weights, BatchNorm and Dropout/DropConnect.

Tolerance: the maximum relative error must be below 1e-5. The checks use ``eps=1e-5`` and ``floor=1e-4``:
a central difference carries a rounding error of about ulp(f) / (2 eps), i.e. 1e-11 to 1e-10 for objectives of 1
to 4, plus a truncation error of eps**2 |f'''| / 6 (about 1e-11). A relative error is only meaningful for
gradients well above that noise, so entries smaller than ``floor`` are held to an absolute error of
1e-5 * floor = 1e-9 instead (some gradients are exactly 0, e.g. the bias of a Dense layer that feeds BatchNorm).
With ``gradient_check``'s default floor (1e-7) such an entry reports the rounding noise, ~1e-3, not a bug.

Kinks: biases (and BatchNorm's beta) are set to random non-zero values, so that a row whose ReLU units are all dead
does not put the next layer's pre-activation exactly at 0; each check runs on the first seed (deterministic) whose
ReLU pre-activations, hinge margins and (with l1) weights are all at least 1e-3 away from their kink, far beyond the
1e-5 perturbation.
"""

from __future__ import annotations

import ferronet as fnet
import numpy as np
import pytest
from ferronet import reference as R
from ferronet.layers import Activation, BatchNorm, Dense, Dropout

ACTIVATIONS = ["relu", "leaky_relu", "sigmoid", "tanh", "linear"]
LOSSES = {
    "softmax_ce_logits": ("softmax_cross_entropy", None, 3),
    "softmax_ce_fused_softmax": ("softmax_cross_entropy", "softmax", 3),
    "mse": ("mse", None, 2),
    "bce_fused_sigmoid": ("binary_cross_entropy", "sigmoid", 2),
    "hinge": ("hinge", None, 3),
    "poisson": ("poisson", None, 2),
}
TOLERANCE = 1e-5
CHECK = {"eps": 1e-5, "floor": 1e-4, "max_entries": None}


def build_layers(variant: str, activation: str, head: str | None, n_out: int) -> list:
    if variant == "plain":
        return [Dense(6, activation=activation), Dense(5, activation=activation), Dense(n_out, activation=head)]
    if variant == "batchnorm_before_activation":
        return [Dense(6), BatchNorm(), Activation(activation), Dense(n_out, activation=head)]
    if variant == "batchnorm_after_activation":
        return [Dense(6, activation=activation), BatchNorm(momentum=0.8, eps=1e-3), Dense(n_out, activation=head)]
    if variant == "dropout_dropconnect":
        return [
            Dense(6, activation=activation, dropconnect=0.2),
            Dropout(0.3),
            Dense(n_out, activation=head, dropconnect=0.1),
        ]
    raise AssertionError(variant)


def make_targets(loss: str, n_out: int, n: int, generator: np.random.Generator) -> np.ndarray:
    if loss in ("softmax_cross_entropy", "hinge"):
        return generator.integers(0, n_out, n)
    if loss == "mse":
        return generator.normal(size=(n, n_out))
    if loss == "poisson":
        return generator.poisson(1.5, size=(n, n_out)).astype(np.float64)
    return generator.integers(0, 2, (n, n_out)).astype(np.float64)


def randomize_offsets(model: fnet.Sequential, generator: np.random.Generator) -> None:
    """Non-zero biases and BatchNorm beta/gamma: keeps ReLU pre-activations off their kink at exactly 0."""
    weights = model.get_weights()
    for layer in weights:
        for key in ("b", "beta"):
            if key in layer:
                layer[key] = 0.5 * generator.normal(size=layer[key].shape)
        if "gamma" in layer:
            layer["gamma"] = generator.uniform(0.5, 1.5, layer["gamma"].shape)
    model.set_weights(weights)


def kink_distance(model: fnet.Sequential, X: np.ndarray, y: np.ndarray) -> float:
    """The smallest distance of a ReLU/leaky-ReLU pre-activation, a hinge margin or an l1-penalised weight from its
    kink, in the training pass that ``gradients`` differentiates (the NumPy twin reproduces the engine's masks)."""
    twin = R.Sequential(
        model.layers,
        input_dim=model.input_dim,
        loss=model.loss,
        l1=model.l1,
        l2=model.l2,
        dtype="float64",
        seed=model.seed,
    )
    weights = model.get_weights()
    twin.set_weights(weights)
    _, caches = twin._forward(np.asarray(X, dtype=np.float64), training=True, keep=True)
    distance = np.inf
    for layer, params, cache in zip(model.layers, weights, caches, strict=True):
        if getattr(layer, "activation", None) in ("relu", "leaky_relu"):
            z = cache["input"] @ cache["W"] + params["b"] if isinstance(layer, Dense) else cache["input"]
            distance = min(distance, float(np.abs(z).min()))
        if isinstance(layer, Dense) and model.l1:
            distance = min(distance, float(np.abs(params["W"]).min()))
    if model.loss == "hinge":
        logits = caches[-1]["output"]
        rows = np.arange(len(y))
        margins = logits - logits[rows, y][:, None] + 1.0
        margins[rows, y] = np.inf
        distance = min(distance, float(np.abs(margins).min()))
    return distance


def setup(layers, loss: str, n_out: int, *, l1: float, l2: float, seed: int, sample_weight: bool):
    generator = np.random.default_rng(seed)
    X = generator.normal(size=(8, 4))
    y = make_targets(loss, n_out, 8, generator)
    weight = generator.uniform(0.5, 2.0, 8) if sample_weight else None
    model = fnet.Sequential(layers, input_dim=4, loss=loss, l1=l1, l2=l2, dtype="float64", seed=seed)
    randomize_offsets(model, generator)
    return model, X, y, weight


def check(layers, loss: str, n_out: int, *, l1: float, l2: float, seed: int, sample_weight: bool = True) -> float:
    """The gradient-check error on the first seed from ``seed`` on whose data and weights no kink is within 1e-3."""
    for attempt in range(seed, seed + 20):
        model, X, y, weight = setup(layers, loss, n_out, l1=l1, l2=l2, seed=attempt, sample_weight=sample_weight)
        if kink_distance(model, X, y) > 1e-3:
            break
    else:
        raise AssertionError("no kink-free setup among 20 seeds")
    before = model.get_weights()
    error = fnet.utils.gradient_check(model, X, y, weight, **CHECK)
    # the model itself is untouched
    for layer_before, layer_after in zip(before, model.get_weights(), strict=True):
        for key in layer_before:
            np.testing.assert_array_equal(layer_before[key], layer_after[key])
    return error


@pytest.mark.parametrize(
    "variant", ["plain", "batchnorm_before_activation", "batchnorm_after_activation", "dropout_dropconnect"]
)
@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("case", list(LOSSES))
def test_every_activation_loss_and_layer(case, activation, variant):
    loss, head, n_out = LOSSES[case]
    layers = build_layers(variant, activation, head, n_out)
    error = check(layers, loss, n_out, l1=1e-3, l2=1e-2, seed=0)
    assert error < TOLERANCE


@pytest.mark.parametrize("case", list(LOSSES))
@pytest.mark.parametrize(("l1", "l2", "sample_weight"), [(0.0, 0.0, False), (0.0, 0.1, False), (0.01, 0.0, True)])
def test_penalties_and_sample_weight(case, l1, l2, sample_weight):
    loss, head, n_out = LOSSES[case]
    layers = [
        Dense(7, activation="tanh"),
        BatchNorm(),
        Dense(5, activation="relu"),
        Dropout(0.2),
        Dense(n_out, activation=head),
    ]
    assert check(layers, loss, n_out, l1=l1, l2=l2, seed=11, sample_weight=sample_weight) < TOLERANCE


def test_deeper_net_all_layer_kinds():
    layers = [
        Dense(8, activation="leaky_relu", dropconnect=0.1),
        BatchNorm(),
        Dropout(0.2),
        Dense(7),
        BatchNorm(),
        Activation("tanh"),
        Dense(6, activation="sigmoid"),
        Dense(3, activation="softmax"),
    ]
    assert check(layers, "softmax_cross_entropy", 3, l1=1e-3, l2=1e-2, seed=5) < TOLERANCE


def test_default_arguments_on_a_smooth_net():
    """The defaults (eps=1e-6, 50 entries per parameter) on a net whose gradients are all well above the noise."""
    generator = np.random.default_rng(0)
    X, y = generator.normal(size=(10, 4)), generator.integers(0, 3, 10)
    model = fnet.Sequential([Dense(6, activation="tanh"), Dense(3)], input_dim=4, dtype="float64", l2=1e-2, seed=0)
    randomize_offsets(model, generator)
    assert fnet.utils.gradient_check(model, X, y) < TOLERANCE


def test_float32_model_is_checked_in_float64_and_left_alone():
    generator = np.random.default_rng(1)
    X, y = generator.normal(size=(10, 4)), generator.integers(0, 3, 10)
    model = fnet.Sequential(
        [Dense(6, activation="sigmoid"), BatchNorm(), Dense(3)], input_dim=4, dtype="float32", seed=1
    )
    randomize_offsets(model, generator)
    before = model.get_weights()
    assert fnet.utils.gradient_check(model, X, y, **CHECK) < TOLERANCE
    assert model.dtype == "float32" and model.get_weights()[0]["W"].dtype == np.float32
    np.testing.assert_array_equal(model.get_weights()[0]["W"], before[0]["W"])


def test_gradient_check_detects_a_wrong_gradient(monkeypatch):
    """The check is not vacuous: gradients off by 1% are reported as a relative error of about 1e-2."""
    generator = np.random.default_rng(2)
    X, y = generator.normal(size=(10, 4)), generator.integers(0, 3, 10)
    model = fnet.Sequential([Dense(6, activation="tanh"), Dense(3)], input_dim=4, dtype="float64", seed=2)
    assert fnet.utils.gradient_check(model, X, y, **CHECK) < TOLERANCE
    original = fnet.Sequential.gradients

    def skewed(self, *args, **kwargs):
        return [{key: 1.01 * value for key, value in layer.items()} for layer in original(self, *args, **kwargs)]

    monkeypatch.setattr(fnet.Sequential, "gradients", skewed)
    assert fnet.utils.gradient_check(model, X, y, **CHECK) == pytest.approx(0.01 / 1.01, rel=1e-3)
