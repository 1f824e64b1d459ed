"""fnet.diagnostics.layer_stats against the NumPy reference, and the 20-layer batch-norm experiment."""

from __future__ import annotations

import itertools

import ferronet as fnet
import numpy as np
import pytest
from conftest import classification_data
from ferronet import reference
from ferronet.diagnostics import format_table, layer_stats
from ferronet.layers import Activation, BatchNorm, Dense, Dropout
from ferronet.reference import activations as ref_activations

KEYS = {
    "name",
    "activation_mean",
    "activation_std",
    "activation_zero_fraction",
    "activation_hist",
    "grad_mean",
    "grad_std",
    "grad_zero_fraction",
    "weight_grad_std",
}


def small_layers():
    return [
        fnet.Dense(7, activation="relu"),
        fnet.BatchNorm(),
        fnet.Dropout(0.3),
        fnet.Dense(6, activation="tanh"),
        fnet.Activation("relu"),
        fnet.Dense(3, activation="softmax"),
    ]


@pytest.fixture
def small_model():
    X, y = classification_data(n=20, d=5, k=3, seed=1)
    model = fnet.Sequential(small_layers(), input_dim=5, dtype="float64", seed=3, l2=0.01)
    return model, X, y


def reference_trace(ref: reference.Sequential, X: np.ndarray, y: np.ndarray):
    """Each layer's output and d loss / d output, by walking the reference's kernels backwards."""
    logits, caches = ref._forward(X, training=True, keep=True)
    _, grad = reference.LOSS_FUNCTIONS[ref.loss](logits, y, None)
    output_grads = [None] * len(ref.layers)
    for index in range(len(ref.layers) - 1, -1, -1):
        layer, cache, params = ref.layers[index], caches[index], ref._params[index]
        output_grads[index] = grad
        if isinstance(layer, (Dense, Activation)) and not ref._is_head(index):
            grad = ref_activations.backward(layer.activation, grad, cache["output"])
        if isinstance(layer, Dense):
            grad = grad @ cache["W"].T
        elif isinstance(layer, BatchNorm):
            grad = reference.batchnorm_backward(grad, cache["input"], params["gamma"], layer.eps)[0]
        elif isinstance(layer, Dropout) and cache["mask"] is not None:
            grad = reference.dropout_backward(grad, cache["mask"], layer.p)
    return [cache["output"] for cache in caches], output_grads


def test_names_keys_and_summary_agree(small_model):
    model, X, y = small_model
    stats = layer_stats(model, X, y)
    names = [row["name"] for row in stats]
    assert names == ["dense_0", "batchnorm_1", "dropout_2", "dense_3", "activation_4", "dense_5"]
    lines: list[str] = []
    model.summary(print_fn=lines.append)
    summary = "\n".join(lines)
    for name in names:
        assert f"\n{name} (" in summary
    for row in stats:
        assert KEYS <= set(row)
    assert [row["weight_grad_std"] is None for row in stats] == [False, False, True, False, True, False]


def test_matches_the_reference_twin(small_model):
    model, X, y = small_model
    stats = layer_stats(model, X, y)
    ref = reference.Sequential(small_layers(), input_dim=5, dtype="float64", seed=3, l2=0.01)
    ref.set_weights(model.get_weights())
    outputs, output_grads = reference_trace(ref, X, y)
    ref_grads = ref.gradients(X, y)
    engine_grads = model.gradients(X, y)
    assert any(0 < row["activation_zero_fraction"] < 1 for row in stats)  # relu and dropout zeros are counted
    for row, out, grad, pgrad, egrad in zip(stats, outputs, output_grads, ref_grads, engine_grads, strict=True):
        assert row["activation_mean"] == pytest.approx(out.mean(), rel=1e-9, abs=1e-12), row["name"]
        assert row["activation_std"] == pytest.approx(out.std(), rel=1e-9), row["name"]
        assert row["activation_zero_fraction"] == np.mean(out == 0), row["name"]
        assert row["grad_mean"] == pytest.approx(grad.mean(), rel=1e-8, abs=1e-14), row["name"]
        assert row["grad_std"] == pytest.approx(grad.std(), rel=1e-8), row["name"]
        assert row["grad_zero_fraction"] == np.mean(grad == 0), row["name"]
        key = {"dense": "W", "batchnorm": "gamma"}.get(row["kind"])
        if key is not None:
            assert row["weight_grad_std"] == pytest.approx(pgrad[key].std(), rel=1e-8), row["name"]
            assert row["weight_grad_std"] == pytest.approx(egrad[key].std(), rel=1e-12), row["name"]
        counts, edges = row["activation_hist"]
        ref_counts, ref_edges = np.histogram(out, bins=len(counts))
        np.testing.assert_allclose(edges, ref_edges, rtol=1e-9, atol=1e-12)
        assert counts.sum() == ref_counts.sum() == out.size


@pytest.mark.parametrize("bins", [1, 8, 30])
def test_histograms_count_every_value(small_model, bins):
    model, X, y = small_model
    for row in layer_stats(model, X, y, bins=bins):
        for key in ("activation_hist", "grad_hist"):
            counts, edges = row[key]
            assert counts.shape == (bins,) and edges.shape == (bins + 1,)
            assert counts.sum() == X.shape[0] * row["units"]
            assert np.all(np.diff(edges) > 0)


def test_changes_nothing_and_works_in_float32():
    X, y = classification_data(n=16, d=5, k=3, seed=2)
    model = fnet.Sequential(small_layers(), input_dim=5, dtype="float32", seed=0)
    before = model.get_weights()
    training_output = model.forward(X, training=True)
    stats = layer_stats(model, X, y)
    after = model.get_weights()
    for old, new in zip(before, after, strict=True):
        for key in old:
            np.testing.assert_array_equal(old[key], new[key])  # running statistics included
    np.testing.assert_array_equal(model.forward(X, training=True), training_output)  # same dropout step
    assert all(np.isfinite(row["activation_std"]) for row in stats)
    assert stats[1]["activation_std"] == pytest.approx(1.0, rel=0.05)  # BatchNorm normalises its output


def test_bad_input():
    X, y = classification_data(n=10, d=5, k=3)
    unbuilt = fnet.Sequential([fnet.Dense(3)])
    with pytest.raises(ValueError, match="not built"):
        layer_stats(unbuilt, X, y)
    model = fnet.Sequential(small_layers(), input_dim=5)
    with pytest.raises(TypeError, match=r"model must be a ferronet\.Sequential"):
        layer_stats(object(), X, y)
    with pytest.raises(ValueError, match="X has 4 features, the model expects 5"):
        layer_stats(model, X[:, :4], y)
    with pytest.raises(ValueError, match="y has 9 labels"):
        layer_stats(model, X, y[:9])
    with pytest.raises(ValueError, match="label 7"):
        layer_stats(model, X, np.full(10, 7))
    with pytest.raises(ValueError, match="at least 2 rows"):
        layer_stats(model, X[:1], y[:1])
    with pytest.raises(ValueError, match="bins must be >= 1"):
        layer_stats(model, X, y, bins=0)
    with pytest.raises(TypeError, match="bins must be an integer"):
        layer_stats(model, X, y, bins=2.5)
    with pytest.raises(ValueError, match="NaN"):
        layer_stats(model, np.full((10, 5), np.nan), y)


def test_format_table_has_a_line_per_layer(small_model):
    model, X, y = small_model
    stats = layer_stats(model, X, y)
    lines = format_table(stats).splitlines()
    assert len(lines) == len(stats) + 1
    assert lines[1].startswith("dense_0") and lines[3].split()[-1] == "-"


# ---- the 20-layer experiment: 19 ReLU layers of width 100, small initial weights, 100 random 1000-d inputs -------


def deep_relu_stats(batch_norm: bool):
    generator = np.random.default_rng(0)
    X, y = generator.normal(size=(100, 1000)), generator.integers(0, 10, size=100)
    layers = []
    for _ in range(19):
        if batch_norm:
            layers += [fnet.Dense(100, init="small"), fnet.BatchNorm(), fnet.Activation("relu")]
        else:
            layers.append(fnet.Dense(100, activation="relu", init="small"))
    layers.append(fnet.Dense(10, init="small"))
    model = fnet.Sequential(layers, input_dim=1000, dtype="float64", seed=0)
    stats = layer_stats(model, X, y)
    hidden = [row for row in stats if row["activation"] == "relu"]  # the 19 ReLU outputs
    dense = [row for row in stats if row["kind"] == "dense"]
    assert len(hidden) == 19 and len(dense) == 20
    return hidden, dense


def test_deep_relu_activations_vanish_without_batchnorm():
    hidden, dense = deep_relu_stats(batch_norm=False)
    first, last = hidden[0]["activation_std"], hidden[-1]["activation_std"]
    # measured: first ≈ 0.18, last ≈ 4e-22; each layer shrinks the scale by ~0.01·sqrt(100/2)
    assert 0.1 < first < 0.3
    assert last < first * 1e-15
    stds = [row["activation_std"] for row in hidden]
    assert all(b < a for a, b in itertools.pairwise(stds))  # shrinks at every layer
    assert dense[0]["weight_grad_std"] < 1e-20  # and the first layer learns nothing


def test_deep_relu_activations_stay_of_order_one_with_batchnorm():
    plain_hidden, plain_dense = deep_relu_stats(batch_norm=False)
    hidden, dense = deep_relu_stats(batch_norm=True)
    stds = [row["activation_std"] for row in hidden]
    # measured: ≈ 0.58 at every depth (a ReLU of a unit normal has std sqrt(1/2 - 1/(2π)) ≈ 0.58)
    assert all(0.3 < std < 1.0 for std in stds)
    assert hidden[-1]["activation_std"] > 1e15 * plain_hidden[-1]["activation_std"]
    assert all(0.3 < row["activation_zero_fraction"] < 0.7 for row in hidden)  # about half the units active
    # the first layer's weight gradients grow by orders of magnitude (measured: ≈ 7e-2 against ≈ 1e-24)
    assert dense[0]["weight_grad_std"] > 1e-3
    assert dense[0]["weight_grad_std"] > 1e15 * plain_dense[0]["weight_grad_std"]


def test_sample_weight_and_regression_losses():
    X, y = classification_data(n=12, d=4, k=2, seed=5)
    model = fnet.Sequential([fnet.Dense(5, activation="tanh"), fnet.Dense(2)], input_dim=4, dtype="float64")
    half = np.r_[np.ones(6), np.zeros(6)]
    weighted = layer_stats(model, X, y, sample_weight=half)
    first_rows = layer_stats(model, X[:6], y[:6])
    for a, b in zip(weighted, first_rows, strict=True):  # a weighted mean over the first six rows only
        assert a["weight_grad_std"] == pytest.approx(b["weight_grad_std"], rel=1e-10)
    assert weighted[1]["grad_zero_fraction"] == pytest.approx(0.5)  # zero-weight rows get no gradient
    with pytest.raises(ValueError, match="sample_weight must have shape"):
        layer_stats(model, X, y, sample_weight=half[:5])

    regressor = fnet.Sequential([fnet.Dense(5, activation="relu"), fnet.Dense(1)], input_dim=4, loss="mse")
    stats = layer_stats(regressor, X, X[:, 0])
    assert [row["name"] for row in stats] == ["dense_0", "dense_1"]
    assert stats[1]["activation"] == "linear" and stats[1]["weight_grad_std"] > 0


def test_an_exploding_network_reports_nan_and_inf_statistics_without_warnings():
    # found by fuzz/fuzz_api.py: l2 beyond float32's range makes the penalty gradient inf, then inf - inf
    model = fnet.Sequential([fnet.Dense(2)], input_dim=5, loss="hinge", l2=1e39, dtype="float32")
    X = np.random.default_rng(0).normal(size=(11, 5)).astype(np.float32)
    stats = fnet.diagnostics.layer_stats(model, X, np.arange(11) % 2)  # filterwarnings=error: a warning fails
    assert not np.isfinite(stats[0]["weight_grad_std"])
    assert fnet.diagnostics.format_table(stats).count("\n") == 1
