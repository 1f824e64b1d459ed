"""Whole-training parity: ferronet (Rust engine) and ``ferronet.reference.Sequential`` (plain NumPy), started from
the same weights with the same seed, visit the same batches with the same dropout/DropConnect masks and must end
with the same weights, BatchNorm statistics and history (float64: rtol 1e-10)."""

from __future__ import annotations

import itertools

import ferronet as fnet
import numpy as np
import pytest
from conftest import assert_weights_close, max_weight_difference
from ferronet import reference as R
from ferronet.layers import Activation, BatchNorm, Dense, Dropout
from ferronet.optim import SGD, Adam, RMSProp

N_ROWS, N_FEATURES, BATCH, EPOCHS = 103, 6, 16, 3  # 103 = 6 * 16 + 7: a partial last batch

OPTIMIZERS = {
    "sgd": lambda: SGD(lr=0.1),
    "momentum": lambda: SGD(lr=0.05, momentum=0.9),
    "nesterov": lambda: SGD(lr=0.05, momentum=0.9, nesterov=True),
    "adam": lambda: Adam(lr=0.01),
    "adam_betas": lambda: Adam(lr=0.005, beta1=0.8, beta2=0.99, eps=1e-6),
    "rmsprop": lambda: RMSProp(lr=0.005, rho=0.9),
}


def make_targets(
    loss: str, n_out: int, X: np.ndarray, generator: np.random.Generator, soft: bool = False
) -> np.ndarray:
    projection = generator.normal(size=(X.shape[1], n_out))
    scores = X @ projection + 0.3 * generator.normal(size=(X.shape[0], n_out))
    if loss in ("softmax_cross_entropy", "hinge"):
        return scores.argmax(axis=1)
    if loss == "binary_cross_entropy":
        targets = 1.0 / (1.0 + np.exp(-scores)) if soft else (scores > 0).astype(np.float64)
        return targets[:, 0] if n_out == 1 else targets
    if loss == "poisson":  # counts whose log-mean is the scores
        counts = generator.poisson(np.exp(np.clip(scores, -3.0, 3.0))).astype(np.float64)
        return counts[:, 0] if n_out == 1 else counts
    return scores[:, 0] if n_out == 1 else scores


def run_parity(
    layers,
    loss: str = "softmax_cross_entropy",
    optimizer: str = "momentum",
    *,
    l1: float = 0.0,
    l2: float = 0.0,
    sample_weight: bool = False,
    soft: bool = False,
    dtype: str = "float64",
    shuffle: bool = True,
    epochs: int = EPOCHS,
    batch_size: int = BATCH,
    fits: int = 1,
    seed: int = 3,
    rtol: float = 1e-10,
    atol: float = 1e-12,
):
    generator = np.random.default_rng(seed + 100)
    X = generator.normal(size=(N_ROWS, N_FEATURES))
    n_out = [layer.units for layer in layers if isinstance(layer, Dense)][-1]
    y = make_targets(loss, n_out, X, generator, soft=soft)
    weights = generator.uniform(0.0, 2.0, N_ROWS) if sample_weight else None
    if weights is not None:
        weights[::10] = 0.0

    model = fnet.Sequential(layers, input_dim=N_FEATURES, loss=loss, l1=l1, l2=l2, dtype=dtype, seed=seed)
    ref = R.Sequential(layers, input_dim=N_FEATURES, loss=loss, l1=l1, l2=l2, dtype=dtype, seed=seed)
    ref.set_weights(model.get_weights())
    start = model.get_weights()

    opt = OPTIMIZERS[optimizer]()
    losses, ref_losses, accs, ref_accs = [], [], [], []
    for _ in range(fits):
        history = model.fit(
            X, y, epochs=epochs, batch_size=batch_size, optimizer=opt, shuffle=shuffle, sample_weight=weights
        ).history
        ref_history = ref.fit(
            X, y, epochs=epochs, batch_size=batch_size, optimizer=opt, shuffle=shuffle, sample_weight=weights
        )
        losses += history["loss"]
        ref_losses += ref_history["loss"]
        accs += history.get("accuracy", [])
        ref_accs += ref_history.get("accuracy", [])

    final, ref_final = model.get_weights(), ref.get_weights()
    assert max_weight_difference(final, start) > 1e-3, "training must move the weights for parity to mean anything"
    noise = _bias_before_batchnorm(layers)
    for index, (layer, ref_layer) in enumerate(zip(final, ref_final, strict=True)):
        assert set(layer) == set(ref_layer)
        for key in layer:
            if (index, key) in noise:
                # The exact gradient of a bias that feeds BatchNorm is zero (BN subtracts the batch mean), so both
                # sides hold rounding noise; Adam and RMSProp rescale that noise to steps of ~lr*noise/eps. Both
                # must stay at noise level, and agree to an absolute 1e-9.
                assert np.abs(layer[key]).max() < 1e-8 and np.abs(ref_layer[key]).max() < 1e-8
                np.testing.assert_allclose(layer[key], ref_layer[key], rtol=0, atol=1e-9)
            elif (index - 1, "b") in noise and key == "running_mean":
                # that BatchNorm's running mean averages x@W + b, so it carries the bias' noise (absolute)
                np.testing.assert_allclose(layer[key], ref_layer[key], rtol=rtol, atol=1e-9)
            else:
                np.testing.assert_allclose(layer[key], ref_layer[key], rtol=rtol, atol=atol, err_msg=f"{index} {key}")
    np.testing.assert_allclose(losses, ref_losses, rtol=rtol, atol=atol)
    np.testing.assert_allclose(accs, ref_accs, rtol=0, atol=1.5 / N_ROWS)  # at most one row may flip on a tie
    assert np.isfinite(losses).all()
    # inference after training agrees too (BatchNorm running statistics, fused heads)
    # (in inference BatchNorm subtracts the running mean, so the bias noise above shows up as an absolute ~1e-10)
    forward_atol = 1e-9 if noise else atol * 10
    np.testing.assert_allclose(model.forward(X), ref.forward(X), rtol=rtol * 10, atol=forward_atol)
    return model, ref


def _bias_before_batchnorm(layers) -> set[tuple[int, str]]:
    """(layer index, "b") of every Dense layer whose output goes straight into a BatchNorm."""
    return {
        (index, "b")
        for index, (layer, following) in enumerate(itertools.pairwise(layers))
        if isinstance(layer, Dense) and layer.activation == "linear" and isinstance(following, BatchNorm)
    }


@pytest.mark.parametrize("optimizer", list(OPTIMIZERS))
def test_optimizers(optimizer):
    run_parity([Dense(16, activation="relu"), Dense(8, activation="tanh"), Dense(3)], optimizer=optimizer)


@pytest.mark.parametrize("activation", ["relu", "leaky_relu", "sigmoid", "tanh", "linear"])
@pytest.mark.parametrize("optimizer", ["momentum", "adam"])
def test_activations(activation, optimizer):
    run_parity(
        [Dense(12, activation=activation), Dense(10, activation=activation), Dense(3)], optimizer=optimizer, l2=1e-3
    )


LOSS_CASES = {
    "softmax_ce_logits": ([Dense(12, activation="relu"), Dense(3)], "softmax_cross_entropy", {}),
    "softmax_ce_fused": ([Dense(12, activation="relu"), Dense(3, activation="softmax")], "softmax_cross_entropy", {}),
    "softmax_ce_activation_layer": (
        [Dense(12, activation="relu"), Dense(4), Activation("softmax")],
        "softmax_cross_entropy",
        {},
    ),
    "mse_one_output": ([Dense(12, activation="tanh"), Dense(1)], "mse", {}),
    "mse_three_outputs": ([Dense(12, activation="tanh"), Dense(3)], "mse", {}),
    "bce_fused_sigmoid": ([Dense(12, activation="relu"), Dense(2, activation="sigmoid")], "binary_cross_entropy", {}),
    "bce_fused_one_output": (
        [Dense(12, activation="relu"), Dense(1, activation="sigmoid")],
        "binary_cross_entropy",
        {},
    ),
    "bce_logits_soft_targets": ([Dense(12, activation="relu"), Dense(3)], "binary_cross_entropy", {"soft": True}),
    "hinge": ([Dense(12, activation="relu"), Dense(3)], "hinge", {}),
    "poisson": ([Dense(12, activation="tanh"), Dense(2)], "poisson", {}),
}


@pytest.mark.parametrize("case", list(LOSS_CASES))
@pytest.mark.parametrize("optimizer", ["sgd", "nesterov", "rmsprop"])
def test_losses(case, optimizer):
    layers, loss, extra = LOSS_CASES[case]
    run_parity(layers, loss, optimizer, **extra)


@pytest.mark.parametrize(("l1", "l2"), [(1e-3, 0.0), (0.0, 1e-2), (1e-3, 1e-2)])
@pytest.mark.parametrize("optimizer", ["momentum", "adam"])
def test_penalties(l1, l2, optimizer):
    run_parity([Dense(16, activation="relu"), Dense(3)], optimizer=optimizer, l1=l1, l2=l2)


@pytest.mark.parametrize("loss", ["softmax_cross_entropy", "mse", "binary_cross_entropy", "hinge", "poisson"])
def test_sample_weight(loss):
    head = "sigmoid" if loss == "binary_cross_entropy" else None
    run_parity([Dense(12, activation="tanh"), Dense(3, activation=head)], loss, "momentum", sample_weight=True, l2=1e-3)


STOCHASTIC = {
    "dropout": [Dense(16, activation="relu"), Dropout(0.3), Dense(3)],
    "dropout_on_inputs": [Dropout(0.2), Dense(16, activation="relu"), Dense(3)],
    "dropout_two_layers": [
        Dense(16, activation="tanh"),
        Dropout(0.5),
        Dense(12, activation="relu"),
        Dropout(0.1),
        Dense(3),
    ],
    "dropconnect": [Dense(16, activation="relu", dropconnect=0.2), Dense(3, dropconnect=0.1)],
    "batchnorm_before_activation": [Dense(16), BatchNorm(), Activation("relu"), Dense(3)],
    "batchnorm_after_activation": [Dense(16, activation="tanh"), BatchNorm(momentum=0.8, eps=1e-3), Dense(3)],
    "batchnorm_first": [BatchNorm(), Dense(16, activation="sigmoid"), Dense(3)],
    "everything": [
        Dense(16, activation="relu", dropconnect=0.1),
        BatchNorm(),
        Dropout(0.2),
        Dense(10),
        BatchNorm(momentum=0.5),
        Activation("leaky_relu"),
        Dropout(0.1),
        Dense(3, activation="softmax", dropconnect=0.05),
    ],
}


@pytest.mark.parametrize("case", list(STOCHASTIC))
@pytest.mark.parametrize("optimizer", ["nesterov", "adam"])
def test_dropout_dropconnect_batchnorm(case, optimizer):
    run_parity(STOCHASTIC[case], optimizer=optimizer)


def test_everything_at_once():
    run_parity(STOCHASTIC["everything"], optimizer="rmsprop", l1=1e-4, l2=1e-3, sample_weight=True, epochs=4)


@pytest.mark.parametrize("loss", ["mse", "hinge"])
def test_stochastic_layers_with_other_losses(loss):
    run_parity([Dense(16, activation="relu", dropconnect=0.2), BatchNorm(), Dropout(0.3), Dense(3)], loss, "adam")


def test_no_shuffle_and_one_batch():
    layers = [Dense(16, activation="relu"), Dropout(0.2), Dense(3)]
    run_parity(layers, shuffle=False)
    run_parity(layers, batch_size=N_ROWS)  # full batch
    run_parity(layers, batch_size=500, epochs=5)  # batch_size larger than the data
    run_parity(layers, batch_size=1, epochs=1, optimizer="sgd")  # online


def test_several_fit_calls_continue_the_shuffles_and_state():
    run_parity([Dense(16, activation="relu"), Dropout(0.3), Dense(3)], optimizer="adam", epochs=2, fits=3)


def test_float32_parity():
    """float32: the engine and NumPy round differently (GEMM blocking, fused operations), so the agreement after
    3 epochs is about 1e-5 relative, not bitwise."""
    layers = [Dense(16, activation="relu"), BatchNorm(), Dropout(0.2), Dense(8, activation="tanh"), Dense(3)]
    model, ref = run_parity(layers, optimizer="momentum", l2=1e-3, dtype="float32", rtol=1e-4, atol=1e-5)
    assert model.get_weights()[0]["W"].dtype == np.float32
    assert ref.get_weights()[0]["W"].dtype == np.float32


@pytest.mark.parametrize("optimizer", ["momentum", "adam", "rmsprop"])
def test_train_step_by_train_step(optimizer):
    layers = [Dense(12, activation="relu", dropconnect=0.1), BatchNorm(), Dropout(0.25), Dense(3, activation="softmax")]
    model = fnet.Sequential(layers, input_dim=5, dtype="float64", l2=1e-3, seed=9)
    ref = R.Sequential(layers, input_dim=5, dtype="float64", l2=1e-3, seed=9)
    ref.set_weights(model.get_weights())
    generator = np.random.default_rng(0)
    opt = OPTIMIZERS[optimizer]()
    for step, rows in enumerate([8, 8, 5, 13, 2, 8]):
        X = generator.normal(size=(rows, 5))
        y = generator.integers(0, 3, rows)
        weight = generator.uniform(0.5, 1.5, rows) if step % 2 else None
        loss = model.train_step(X, y, optimizer=opt, sample_weight=weight)
        ref_loss = ref.train_step(X, y, optimizer=opt, sample_weight=weight)
        assert loss == pytest.approx(ref_loss, rel=1e-12)
        assert_weights_close(model.get_weights(), ref.get_weights(), rtol=1e-11, atol=1e-14)
    # the step counter advanced in both: a following epoch of fit uses the same masks
    X = generator.normal(size=(30, 5))
    y = generator.integers(0, 3, 30)
    model.fit(X, y, epochs=2, batch_size=7, optimizer=opt)
    ref.fit(X, y, epochs=2, batch_size=7, optimizer=opt)
    assert_weights_close(model.get_weights(), ref.get_weights())


def test_gradients_parity_with_masks():
    layers = [Dense(12, activation="sigmoid", dropconnect=0.3), Dropout(0.4), BatchNorm(), Dense(2)]
    model = fnet.Sequential(layers, input_dim=5, loss="binary_cross_entropy", dtype="float64", l1=1e-3, seed=2)
    ref = R.Sequential(layers, input_dim=5, loss="binary_cross_entropy", dtype="float64", l1=1e-3, seed=2)
    ref.set_weights(model.get_weights())
    generator = np.random.default_rng(1)
    X, Y = generator.normal(size=(9, 5)), generator.integers(0, 2, (9, 2))
    assert_weights_close(model.gradients(X, Y), ref.gradients(X, Y), rtol=1e-11, atol=1e-14)
    np.testing.assert_allclose(model.forward(X, training=True), ref.forward(X, training=True), rtol=1e-12)
    assert fnet.utils.gradient_check(model, X, Y) < 1e-5
