"""The public model API (README, docs): construction, introspection, inference, fit and its options, train_step,
gradients, sample weights, penalties, dtypes, divergence, repr and copy."""

from __future__ import annotations

import io
import re

import ferronet as fnet
import numpy as np
import pytest
from conftest import assert_weights_close, assert_weights_equal, classification_data, weights_equal
from ferronet import reference as R
from ferronet.optim import SGD, Adam, RMSProp


def softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def softmax_ce(z: np.ndarray, y: np.ndarray) -> float:
    shifted = z - z.max(axis=1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return float(-log_p[np.arange(len(y)), y].mean())


def bce(z: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean(np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z)))))


def hinge(z: np.ndarray, y: np.ndarray) -> float:
    margins = np.maximum(0.0, z - z[np.arange(len(y)), y][:, None] + 1.0)
    margins[np.arange(len(y)), y] = 0.0
    return float(margins.sum(axis=1).mean())


def dense_logits(weights: list[dict[str, np.ndarray]], X: np.ndarray, activations: list[str]) -> np.ndarray:
    """A forward pass by hand through Dense layers (activation of the last layer not applied)."""
    funcs = {"relu": lambda a: np.maximum(a, 0), "tanh": np.tanh, "sigmoid": sigmoid, "linear": lambda a: a}
    a = X
    for index, (layer, activation) in enumerate(zip(weights, activations, strict=True)):
        a = a @ layer["W"] + layer["b"]
        if index < len(weights) - 1:
            a = funcs[activation](a)
    return a


def mlp(out: int = 3, loss: str = "softmax_cross_entropy", head: str | None = None, **kwargs) -> fnet.Sequential:
    kwargs.setdefault("input_dim", 4)
    kwargs.setdefault("dtype", "float64")
    return fnet.Sequential([fnet.Dense(8, activation="tanh"), fnet.Dense(out, activation=head)], loss=loss, **kwargs)


# ------------------------------------------------------------------------------------------ construction


def test_constructor_with_input_dim_builds_the_model():
    model = fnet.Sequential([fnet.Dense(5, activation="relu"), fnet.Dense(2)], input_dim=3)
    assert model.built
    assert model.input_dim == 3
    weights = model.get_weights()
    assert weights[0]["W"].shape == (3, 5) and weights[0]["b"].shape == (5,)
    assert weights[1]["W"].shape == (5, 2) and weights[1]["b"].shape == (2,)
    assert all(not layer["b"].any() for layer in weights)  # biases start at zero
    assert model.loss == "softmax_cross_entropy" and model.dtype == "float32"


@pytest.mark.parametrize("how", ["fit", "train_step"])
def test_input_dim_is_inferred_by_the_first_fit_or_train_step(how):
    X, y = classification_data(n=32, d=5)
    layers = [fnet.Dense(6, activation="relu"), fnet.Dense(3)]
    lazy = fnet.Sequential(layers, dtype="float64", seed=3)
    assert not lazy.built and lazy.input_dim is None
    eager = fnet.Sequential(layers, input_dim=5, dtype="float64", seed=3)
    if how == "fit":
        lazy.fit(X, y, epochs=2, batch_size=8)
        eager.fit(X, y, epochs=2, batch_size=8)
    else:
        lazy.train_step(X, y)
        eager.train_step(X, y)
    assert lazy.built and lazy.input_dim == 5
    assert_weights_equal(lazy.get_weights(), eager.get_weights())
    with pytest.raises(ValueError, match="X has 4 features, the model expects 5"):
        lazy.fit(X[:, :4], y)


def test_unbuilt_model_cannot_predict_or_give_weights():
    model = fnet.Sequential([fnet.Dense(2)])
    with pytest.raises(ValueError, match="not built"):
        model.get_weights()
    with pytest.raises(ValueError, match="not built"):
        model.predict(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="not built"):
        model.evaluate(np.zeros((2, 3)), np.zeros(2, dtype=int))


@pytest.mark.parametrize(
    ("last", "loss"), [("softmax", "softmax_cross_entropy"), ("sigmoid", "binary_cross_entropy"), ("linear", "mse")]
)
def test_from_architecture_infers_the_loss(last, loss):
    arch = [
        {"input_dim": 2, "output_dim": 25, "activation": "relu"},
        {"input_dim": 25, "output_dim": 3, "activation": last},
    ]
    model = fnet.Sequential.from_architecture(arch, seed=0)
    assert model.loss == loss
    assert model.input_dim == 2 and model.output_dim == 3
    assert [layer.units for layer in model.layers] == [25, 3]
    assert [layer.activation for layer in model.layers] == ["relu", last]
    assert model.n_params == 2 * 25 + 25 + 25 * 3 + 3
    out = model.forward(np.random.default_rng(0).normal(size=(4, 2)))
    if last == "softmax":
        np.testing.assert_allclose(out.sum(axis=1), 1.0, rtol=1e-6)
    elif last == "sigmoid":
        assert ((out > 0) & (out < 1)).all()


def test_from_architecture_keywords_and_explicit_loss():
    arch = [{"input_dim": 3, "output_dim": 4, "activation": "relu"}]
    model = fnet.Sequential.from_architecture(arch, loss="mse", init="zeros", seed=7, dtype="float64")
    assert model.loss == "mse" and model.seed == 7 and model.dtype == "float64"
    assert not model.get_weights()[0]["W"].any()
    a = fnet.Sequential.from_architecture([{"input_dim": 3, "output_dim": 2, "activation": "softmax"}], seed=1)
    b = fnet.Sequential.from_architecture([{"input_dim": 3, "output_dim": 2, "activation": "softmax"}], seed=1)
    c = fnet.Sequential.from_architecture([{"input_dim": 3, "output_dim": 2, "activation": "softmax"}], seed=2)
    assert weights_equal(a.get_weights(), b.get_weights())
    assert not weights_equal(a.get_weights(), c.get_weights())


def test_from_architecture_relu_last_needs_a_loss():
    arch = [{"input_dim": 2, "output_dim": 3, "activation": "relu"}]
    with pytest.raises(ValueError, match="loss"):
        fnet.Sequential.from_architecture(arch)


def test_from_architecture_mismatched_dims():
    arch = [
        {"input_dim": 2, "output_dim": 25, "activation": "relu"},
        {"input_dim": 24, "output_dim": 3, "activation": "softmax"},
    ]
    with pytest.raises(ValueError, match=r"architecture\[1\].*input_dim 24.*25"):
        fnet.Sequential.from_architecture(arch)


# ------------------------------------------------------------------------------------------ summary, n_params


def test_summary_text_and_n_params():
    model = fnet.Sequential(
        [
            fnet.Dense(8, activation="relu"),
            fnet.BatchNorm(),
            fnet.Dropout(0.2),
            fnet.Activation("tanh"),
            fnet.Dense(3, activation="softmax"),
        ],
        input_dim=5,
    )
    buffer = io.StringIO()
    assert model.summary(file=buffer) is None  # Keras' summary prints and returns nothing (shown once in a REPL)
    text = buffer.getvalue()
    captured: list[str] = []
    model.summary(print_fn=captured.append)
    assert captured == [text.rstrip("\n")]
    rows = {}
    for line in text.splitlines():
        match = re.match(r"^(\w+_\d+) \(.*\)\s+\(None, (\d+)\)\s+(\d+)$", line)
        if match:
            rows[match.group(1)] = (int(match.group(2)), int(match.group(3)))
    assert rows == {
        "dense_0": (8, 5 * 8 + 8),
        "batchnorm_1": (8, 2 * 8),
        "dropout_2": (8, 0),
        "activation_3": (8, 0),
        "dense_4": (3, 8 * 3 + 3),
    }
    total = 5 * 8 + 8 + 2 * 8 + 8 * 3 + 3
    assert model.n_params == total
    assert f"total parameters: {total}" in text
    # n_params counts the trainable arrays of get_weights (not BatchNorm's running statistics).
    trainable = sum(
        array.size for layer in model.get_weights() for key, array in layer.items() if not key.startswith("running")
    )
    assert model.n_params == trainable


@pytest.mark.parametrize("widths", [(1,), (7, 1), (16, 16, 4), (100, 50, 10)])
def test_n_params_formula(widths):
    model = fnet.Sequential(
        [fnet.Dense(w, activation="relu") for w in widths[:-1]] + [fnet.Dense(widths[-1])], input_dim=9
    )
    fans = (9, *widths)
    assert model.n_params == sum(fans[i] * fans[i + 1] + fans[i + 1] for i in range(len(widths)))


def test_summary_of_an_unbuilt_model():
    buffer = io.StringIO()
    fnet.Sequential([fnet.Dense(4)]).summary(file=buffer)
    text = buffer.getvalue()
    assert "dense_0" in text and "?" in text and "not built" in text


# ------------------------------------------------------------------------------------------ weights


def test_get_set_weights_round_trip_and_copies(rs):
    model = fnet.Sequential(
        [fnet.Dense(6, activation="relu"), fnet.BatchNorm(), fnet.Dense(3)], input_dim=4, dtype="float64"
    )
    new = [
        {"W": rs.normal(size=(4, 6)), "b": rs.normal(size=6)},
        {
            "gamma": rs.uniform(0.5, 2, 6),
            "beta": rs.normal(size=6),
            "running_mean": rs.normal(size=6),
            "running_var": rs.uniform(0.5, 2, 6),
        },
        {"W": rs.normal(size=(6, 3)), "b": rs.normal(size=3)},
    ]
    model.set_weights(new)
    got = model.get_weights()
    assert_weights_equal(got, new)
    # set_weights copies: changing the caller's arrays afterwards does not reach the model.
    saved = [{k: v.copy() for k, v in layer.items()} for layer in new]
    new[0]["W"][:] = 0.0
    new[1]["gamma"][:] = 0.0
    assert_weights_equal(model.get_weights(), saved)
    # get_weights returns copies too.
    got[2]["W"][:] = 0.0
    assert_weights_equal(model.get_weights(), saved)


def test_set_weights_casts_to_the_model_dtype(rs):
    model = fnet.Sequential([fnet.Dense(3)], input_dim=2, dtype="float32")
    W = rs.normal(size=(2, 3))
    model.set_weights([{"W": W, "b": [1, 2, 3]}])
    out = model.get_weights()[0]
    assert out["W"].dtype == np.float32 and out["b"].dtype == np.float32
    np.testing.assert_array_equal(out["W"], W.astype(np.float32))
    np.testing.assert_array_equal(out["b"], [1.0, 2.0, 3.0])


# ------------------------------------------------------------------------------------------ forward


def test_forward_returns_logits_without_activation(rs):
    model = mlp(out=3)
    X = rs.normal(size=(7, 4))
    out = model.forward(X)
    assert out.shape == (7, 3) and out.dtype == np.float64
    np.testing.assert_allclose(out, dense_logits(model.get_weights(), X, ["tanh", "linear"]), rtol=1e-12, atol=1e-14)


def test_forward_with_softmax_head_gives_probabilities(rs):
    model = mlp(out=4, head="softmax")
    X = rs.normal(size=(9, 4))
    out = model.forward(X)
    assert out.shape == (9, 4)
    np.testing.assert_allclose(out.sum(axis=1), 1.0, rtol=1e-12)
    np.testing.assert_allclose(out, softmax(dense_logits(model.get_weights(), X, ["tanh", "linear"])), rtol=1e-12)
    # predict_proba agrees with the probabilities, predict with their argmax.
    np.testing.assert_allclose(model.predict_proba(X), out, rtol=1e-12)
    np.testing.assert_array_equal(model.predict(X), out.argmax(axis=1))


def test_forward_training_mode_applies_dropout_and_changes_nothing(rs):
    model = fnet.Sequential(
        [fnet.Dense(16, activation="relu"), fnet.BatchNorm(), fnet.Dropout(0.5), fnet.Dense(3)],
        input_dim=4,
        dtype="float64",
    )
    X = rs.normal(size=(20, 4))
    before = model.get_weights()
    train_out = model.forward(X, training=True)
    assert not np.allclose(train_out, model.forward(X))
    np.testing.assert_array_equal(model.forward(X, training=True), train_out)  # same step: same masks
    assert_weights_equal(model.get_weights(), before)  # running statistics untouched


# ------------------------------------------------------------------------------------------ predict, evaluate


def test_softmax_cross_entropy_predict_proba_evaluate(rs):
    model = mlp(out=3)
    X = rs.normal(size=(30, 4))
    y = rs.integers(0, 3, 30)
    logits = model.forward(X)
    pred = model.predict(X)
    assert pred.shape == (30,) and pred.dtype.kind == "i"
    np.testing.assert_array_equal(pred, logits.argmax(axis=1))
    proba = model.predict_proba(X)
    np.testing.assert_allclose(proba, softmax(logits), rtol=1e-12)
    result = model.evaluate(X, y)
    assert set(result) == {"loss", "accuracy"}
    assert result["loss"] == pytest.approx(softmax_ce(logits, y), rel=1e-12)
    assert result["accuracy"] == pytest.approx(np.mean(pred == y), abs=1e-15)
    one_hot = np.eye(3)[y]
    assert model.evaluate(X, one_hot) == result
    assert model.evaluate(X, one_hot.astype(np.int32)) == result


def test_hinge_predict_evaluate_and_no_probabilities(rs):
    model = mlp(out=3, loss="hinge")
    X = rs.normal(size=(25, 4))
    y = rs.integers(0, 3, 25)
    logits = model.forward(X)
    np.testing.assert_array_equal(model.predict(X), logits.argmax(axis=1))
    result = model.evaluate(X, y)
    assert result["loss"] == pytest.approx(hinge(logits, y), rel=1e-12)
    assert result["accuracy"] == pytest.approx(np.mean(logits.argmax(axis=1) == y))
    assert model.evaluate(X, np.eye(3)[y]) == result
    with pytest.raises(ValueError, match="predict_proba"):
        model.predict_proba(X)


def test_binary_cross_entropy_one_output(rs):
    model = mlp(out=1, loss="binary_cross_entropy", head="sigmoid")
    X = rs.normal(size=(40, 4))
    y = rs.integers(0, 2, 40)
    p = model.forward(X)
    assert p.shape == (40, 1) and ((p > 0) & (p < 1)).all()
    logits = dense_logits(model.get_weights(), X, ["tanh", "linear"])
    np.testing.assert_allclose(p, sigmoid(logits), rtol=1e-12)
    pred = model.predict(X)
    assert pred.shape == (40,)
    np.testing.assert_array_equal(pred, (logits[:, 0] > 0).astype(int))
    proba = model.predict_proba(X)
    assert proba.shape == (40, 2)
    np.testing.assert_allclose(proba[:, 1], p[:, 0], rtol=1e-12)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-12)
    result = model.evaluate(X, y)
    assert result["loss"] == pytest.approx(bce(logits, y[:, None]), rel=1e-12)
    assert result["accuracy"] == pytest.approx(np.mean(pred == y))
    assert model.evaluate(X, y.reshape(-1, 1)) == result
    assert model.evaluate(X, y.astype(bool)) == result


def test_binary_cross_entropy_several_outputs(rs):
    model = mlp(out=3, loss="binary_cross_entropy")
    X = rs.normal(size=(20, 4))
    Y = rs.integers(0, 2, (20, 3)).astype(float)
    logits = model.forward(X)
    pred = model.predict(X)
    assert pred.shape == (20, 3)
    np.testing.assert_array_equal(pred, (logits > 0).astype(int))
    np.testing.assert_allclose(model.predict_proba(X), sigmoid(logits), rtol=1e-12)
    result = model.evaluate(X, Y)
    assert result["loss"] == pytest.approx(bce(logits, Y), rel=1e-12)
    assert result["accuracy"] == pytest.approx(np.mean(pred == Y))
    soft = rs.uniform(0, 1, (20, 3))  # probabilities as targets are fine too
    assert model.evaluate(X, soft)["loss"] == pytest.approx(bce(logits, soft), rel=1e-12)


@pytest.mark.parametrize("k", [1, 3])
def test_mse_predict_evaluate(rs, k):
    model = mlp(out=k, loss="mse")
    X = rs.normal(size=(15, 4))
    Y = rs.normal(size=(15, k))
    logits = model.forward(X)
    pred = model.predict(X)
    if k == 1:
        assert pred.shape == (15,)
        np.testing.assert_allclose(pred, logits[:, 0], rtol=1e-15)
        result = model.evaluate(X, Y[:, 0])
        assert model.evaluate(X, Y) == result
    else:
        assert pred.shape == (15, k)
        np.testing.assert_allclose(pred, logits, rtol=1e-15)
        result = model.evaluate(X, Y)
    assert set(result) == {"loss"}
    assert result["loss"] == pytest.approx(np.mean((logits - Y) ** 2), rel=1e-12)
    with pytest.raises(ValueError, match="predict_proba"):
        model.predict_proba(X)


@pytest.mark.parametrize(
    ("loss", "k", "shape"),
    [
        ("softmax_cross_entropy", 3, (0,)),
        ("hinge", 3, (0,)),
        ("binary_cross_entropy", 1, (0,)),
        ("mse", 1, (0,)),
        ("mse", 2, (0, 2)),
    ],
)
def test_predict_on_zero_rows(loss, k, shape):
    model = mlp(out=k, loss=loss)
    pred = model.predict(np.zeros((0, 4)))
    assert isinstance(pred, np.ndarray) and pred.shape == shape
    assert model.forward(np.zeros((0, 4))).shape == (0, k)
    if loss == "softmax_cross_entropy":
        assert model.predict_proba(np.zeros((0, 4))).shape == (0, 3)


# ------------------------------------------------------------------------------------------ fit: history, validation


def test_fit_history_keys_and_lengths():
    X, y = classification_data(n=50)
    model = mlp()
    history = model.fit(X, y, epochs=4, batch_size=16, optimizer=SGD(lr=0.1), validation_data=(X[:10], y[:10]))
    assert set(history.history) == {"loss", "accuracy", "val_loss", "val_accuracy", "lr", "epoch_seconds"}
    assert all(len(values) == 4 for values in history.history.values())
    assert history.epoch == [0, 1, 2, 3]
    assert all(t >= 0 for t in history.history["epoch_seconds"])
    assert history.history["lr"] == [0.1] * 4
    assert all(0 <= a <= 1 for a in history.history["accuracy"] + history.history["val_accuracy"])
    assert history.history["loss"][-1] < history.history["loss"][0]
    # the last epoch's validation numbers are evaluate's on the final weights
    final = model.evaluate(X[:10], y[:10])
    assert history.history["val_loss"][-1] == pytest.approx(final["loss"], rel=1e-12)
    assert history.history["val_accuracy"][-1] == final["accuracy"]
    # regression: no accuracy keys
    reg = mlp(out=1, loss="mse")
    history = reg.fit(X, X[:, 0], epochs=2, batch_size=16)
    assert set(history.history) == {"loss", "lr", "epoch_seconds"}
    assert len(history.history["loss"]) == 2


def test_fit_with_zero_epochs_changes_nothing():
    X, y = classification_data(n=20)
    model = mlp()
    before = model.get_weights()
    history = model.fit(X, y, epochs=0)
    assert history.history["loss"] == []
    assert_weights_equal(model.get_weights(), before)


def test_validation_data_with_sample_weight():
    X, y = classification_data(n=40)
    Xv, yv = classification_data(n=12, seed=9)
    w = np.linspace(0.1, 2.0, 12)
    model = mlp()
    history = model.fit(X, y, epochs=1, batch_size=8, validation_data=(Xv, yv, w))
    assert history.history["val_loss"][0] == pytest.approx(model.evaluate(Xv, yv, sample_weight=w)["loss"], rel=1e-12)
    assert history.history["val_loss"][0] != pytest.approx(model.evaluate(Xv, yv)["loss"], rel=1e-6)


def test_validation_split_holds_out_the_tail_before_shuffling():
    X, y = classification_data(n=40)
    split = mlp(seed=5)
    history = split.fit(X, y, epochs=2, batch_size=8, validation_split=0.25, shuffle=True, optimizer=SGD(lr=0.1))
    # the validation rows are the last 10, evaluated on the final weights
    tail = split.evaluate(X[30:], y[30:])
    assert history.history["val_loss"][-1] == pytest.approx(tail["loss"], rel=1e-12)
    assert history.history["val_accuracy"][-1] == tail["accuracy"]
    assert history.history["val_loss"][-1] != pytest.approx(split.evaluate(X[:10], y[:10])["loss"], rel=1e-6)
    # the training rows are the first 30: same result as training on them alone
    head = mlp(seed=5)
    head.fit(X[:30], y[:30], epochs=2, batch_size=8, shuffle=True, optimizer=SGD(lr=0.1))
    assert_weights_equal(split.get_weights(), head.get_weights())


# ------------------------------------------------------------------------------------------ schedules


@pytest.mark.parametrize(
    ("schedule", "expected"),
    [
        (fnet.schedules.StepDecay(factor=0.5, every=2), [0.1, 0.1, 0.05, 0.05, 0.025]),
        (fnet.schedules.StepDecay(factor=0.1, every=1), [0.1, 0.01, 0.001, 0.0001, 0.00001]),
        (fnet.schedules.InverseTimeDecay(decay=0.5), [0.1, 0.1 / 1.5, 0.05, 0.04, 0.1 / 3]),
        (fnet.schedules.ExponentialDecay(gamma=0.9), [0.1, 0.09, 0.081, 0.0729, 0.06561]),
    ],
    ids=["step2", "step1", "inverse_time", "exponential"],
)
def test_schedules_recorded_in_history(schedule, expected):
    X, y = classification_data(n=24)
    opt = SGD(lr=0.1)
    history = mlp().fit(X, y, epochs=5, batch_size=8, optimizer=opt, schedule=schedule)
    np.testing.assert_allclose(history.history["lr"], expected, rtol=1e-14)
    assert history.history["lr"] == [schedule(e, 0.1) for e in range(5)]
    assert opt.lr == 0.1  # the optimizer object is not modified


def test_schedule_is_the_rate_the_engine_uses():
    """fit with StepDecay == the reference trained epoch by epoch with the scheduled rates (momentum state kept)."""
    X, y = classification_data(n=40)
    layers = [fnet.Dense(8, activation="relu"), fnet.Dense(3)]
    model = fnet.Sequential(layers, input_dim=4, dtype="float64", seed=4)
    ref = R.Sequential(layers, input_dim=4, dtype="float64", seed=4)
    ref.set_weights(model.get_weights())
    schedule = fnet.schedules.StepDecay(factor=0.5, every=1)
    model.fit(X, y, epochs=3, batch_size=16, optimizer=SGD(lr=0.2, momentum=0.9), schedule=schedule)
    ref_opt = SGD(lr=0.2, momentum=0.9)
    for epoch in range(3):
        ref_opt.lr = 0.2 * 0.5**epoch
        ref.fit(X, y, epochs=1, batch_size=16, optimizer=ref_opt)
    assert_weights_close(model.get_weights(), ref.get_weights())


def test_callable_schedule():
    X, y = classification_data(n=16)
    history = mlp().fit(X, y, epochs=3, optimizer=SGD(lr=0.3), schedule=lambda epoch, lr0: lr0 / (epoch + 1))
    assert history.history["lr"] == pytest.approx([0.3, 0.15, 0.1], rel=1e-15)


# ------------------------------------------------------------------------------------------ early stopping


def _overfitting_setup():
    X, y = classification_data(n=80, seed=0)
    generator = np.random.default_rng(5)
    Xv, yv = generator.normal(size=(30, 4)), generator.integers(0, 3, 30)
    layers = [fnet.Dense(32, activation="relu"), fnet.Dense(3)]
    return X, y, Xv, yv, layers


def _epoch_by_epoch(epochs: int):
    """A twin trained one epoch per fit call: the weights and val_loss after every epoch."""
    X, y, Xv, yv, layers = _overfitting_setup()
    twin = fnet.Sequential(layers, input_dim=4, dtype="float64", seed=0)
    opt = SGD(lr=0.2, momentum=0.9)
    weights, val_losses = [], []
    for _ in range(epochs):
        twin.fit(X, y, epochs=1, batch_size=8, optimizer=opt)
        weights.append(twin.get_weights())
        val_losses.append(twin.evaluate(Xv, yv)["loss"])
    return weights, val_losses


@pytest.mark.parametrize("restore_best", [True, False])
def test_early_stopping_patience_and_restore_best(restore_best):
    X, y, Xv, yv, layers = _overfitting_setup()
    patience, epochs = 3, 40
    weights, val_losses = _epoch_by_epoch(epochs)
    # where EarlyStopping must stop: `patience` epochs in a row without a new best
    best, best_epoch, wait, stop = np.inf, None, 0, None
    for epoch, value in enumerate(val_losses):
        if value < best:
            best, best_epoch, wait = value, epoch, 0
        else:
            wait += 1
            if wait >= patience:
                stop = epoch
                break
    assert stop is not None and stop < epochs - 1, "the setup must overfit for this test to mean anything"

    model = fnet.Sequential(layers, input_dim=4, dtype="float64", seed=0)
    es = fnet.EarlyStopping(monitor="val_loss", patience=patience, restore_best=restore_best)
    history = model.fit(
        X,
        y,
        epochs=epochs,
        batch_size=8,
        optimizer=SGD(lr=0.2, momentum=0.9),
        validation_data=(Xv, yv),
        early_stopping=es,
    )
    assert len(history.history["loss"]) == stop + 1
    np.testing.assert_allclose(history.history["val_loss"], val_losses[: stop + 1], rtol=1e-12)
    assert es.best_epoch == best_epoch and es.stopped_epoch == stop
    expected = weights[best_epoch] if restore_best else weights[stop]
    assert_weights_equal(model.get_weights(), expected)
    assert model.evaluate(Xv, yv)["loss"] == pytest.approx(
        min(val_losses[: stop + 1]) if restore_best else val_losses[stop]
    )


def test_early_stopping_on_training_accuracy_needs_no_validation():
    X, y = classification_data(n=30)
    es = fnet.EarlyStopping(monitor="accuracy", patience=0)
    history = mlp().fit(X, y, epochs=50, batch_size=30, optimizer=SGD(lr=1e-6), early_stopping=es)
    # patience 0: stops at the first epoch that does not improve
    acc = history.history["accuracy"]
    assert len(acc) < 50 and acc[-1] <= max(acc[:-1])


# ------------------------------------------------------------------------------------------ optimizer state


@pytest.mark.parametrize(
    "make_opt", [lambda: SGD(lr=0.05, momentum=0.9), lambda: Adam(lr=0.01), lambda: RMSProp(lr=0.01)]
)
def test_reused_optimizer_continues_new_one_restarts(make_opt):
    X, y = classification_data(n=48)
    layers = [fnet.Dense(8, activation="relu"), fnet.Dense(3)]

    def pair():
        model = fnet.Sequential(layers, input_dim=4, dtype="float64", seed=2)
        ref = R.Sequential(layers, input_dim=4, dtype="float64", seed=2)
        ref.set_weights(model.get_weights())
        return model, ref

    opt = make_opt()
    continued, ref_continued = pair()
    for m in (continued, ref_continued):
        m.fit(X, y, epochs=2, batch_size=16, optimizer=opt)
        m.fit(X, y, epochs=2, batch_size=16, optimizer=opt)  # same object: state continues
    assert_weights_close(continued.get_weights(), ref_continued.get_weights())

    restarted, ref_restarted = pair()
    first = make_opt()
    for m in (restarted, ref_restarted):
        m.fit(X, y, epochs=2, batch_size=16, optimizer=first)
    second = make_opt()  # equal hyperparameters, a new object: fresh state
    restarted.fit(X, y, epochs=2, batch_size=16, optimizer=second)
    ref_restarted.fit(X, y, epochs=2, batch_size=16, optimizer=second)
    assert_weights_close(restarted.get_weights(), ref_restarted.get_weights())
    assert not np.allclose(continued.get_weights()[0]["W"], restarted.get_weights()[0]["W"], rtol=1e-6)

    # optimizer=None continues with the last optimizer used (fit and train_step alike)
    none, ref_none = pair()
    for m in (none, ref_none):
        m.fit(X, y, epochs=1, batch_size=16, optimizer=opt)
        m.fit(X, y, epochs=1, batch_size=16)
        m.train_step(X[:10], y[:10])
    assert_weights_close(none.get_weights(), ref_none.get_weights())


# ------------------------------------------------------------------------------------------ train_step, gradients


def test_train_step_returns_pre_update_objective_and_changes_weights():
    X, y = classification_data(n=32)
    model = mlp(l2=1e-3)
    before_loss = model.evaluate(X, y)["loss"]
    before = model.get_weights()
    loss = model.train_step(X, y, optimizer=SGD(lr=0.1))
    assert isinstance(loss, float)
    assert loss == pytest.approx(before_loss, rel=1e-12)
    after = model.get_weights()
    assert not weights_equal(before, after)
    # plain SGD: the update is exactly -lr * gradient
    ref = mlp(l2=1e-3)
    grads = ref.gradients(X, y)
    for layer_before, layer_after, layer_grad in zip(before, after, grads, strict=True):
        for key in layer_grad:
            np.testing.assert_allclose(
                layer_after[key], layer_before[key] - 0.1 * layer_grad[key], rtol=1e-12, atol=1e-15
            )
    assert model.evaluate(X, y)["loss"] < before_loss


def test_gradients_structure_and_no_side_effects():
    X, y = classification_data(n=32)
    layers = [fnet.Dense(8, activation="relu"), fnet.BatchNorm(), fnet.Dropout(0.3), fnet.Dense(3)]
    model = fnet.Sequential(layers, input_dim=4, dtype="float64", seed=1)
    twin = fnet.Sequential(layers, input_dim=4, dtype="float64", seed=1)
    opt = SGD(lr=0.1, momentum=0.9)
    twin_opt = SGD(lr=0.1, momentum=0.9)
    model.fit(X, y, epochs=1, batch_size=8, optimizer=opt)
    twin.fit(X, y, epochs=1, batch_size=8, optimizer=twin_opt)
    before = model.get_weights()
    grads = model.gradients(X, y)
    assert [sorted(layer) for layer in grads] == [["W", "b"], ["beta", "gamma"], [], ["W", "b"]]
    for layer_grads, layer_weights in zip(grads, before, strict=True):
        for key, grad in layer_grads.items():
            assert grad.shape == layer_weights[key].shape and grad.dtype == np.float64
            assert np.isfinite(grad).all() and grad.any()
    assert_weights_equal(model.get_weights(), before)
    again = model.gradients(X, y)  # same step: same dropout masks, same gradients
    assert_weights_equal(again, grads)
    # nothing (weights, step counter, optimizer state) moved: training continues exactly like the twin's
    model.fit(X, y, epochs=1, batch_size=8, optimizer=opt)
    twin.fit(X, y, epochs=1, batch_size=8, optimizer=twin_opt)
    assert_weights_equal(model.get_weights(), twin.get_weights())


def test_gradients_match_the_reference():
    X, y = classification_data(n=20)
    layers = [fnet.Dense(6, activation="sigmoid"), fnet.BatchNorm(), fnet.Dense(3, dropconnect=0.2)]
    model = fnet.Sequential(layers, input_dim=4, dtype="float64", l2=1e-2, seed=3)
    ref = R.Sequential(layers, input_dim=4, dtype="float64", l2=1e-2, seed=3)
    ref.set_weights(model.get_weights())
    assert_weights_close(model.gradients(X, y), ref.gradients(X, y))


# ------------------------------------------------------------------------------------------ sample weights


@pytest.mark.parametrize("loss", ["softmax_cross_entropy", "mse", "hinge", "binary_cross_entropy"])
def test_duplicated_row_equals_weight_two(loss):
    X, y = classification_data(n=12)
    if loss == "mse":
        y = X[:, :3] * 2.0
    elif loss == "binary_cross_entropy":
        y = (X[:, :3] > 0).astype(float)
    model = fnet.Sequential(
        [fnet.Dense(5, activation="tanh"), fnet.Dense(3)], input_dim=4, loss=loss, dtype="float64", l2=1e-2
    )
    model.fit(X, y, epochs=1, batch_size=4, optimizer=SGD(lr=0.1))
    X_dup, y_dup = np.vstack([X, X[3:4]]), np.concatenate([y, y[3:4]])
    weight = np.ones(12)
    weight[3] = 2.0
    weighted, duplicated = model.evaluate(X, y, sample_weight=weight), model.evaluate(X_dup, y_dup)
    assert weighted["loss"] == pytest.approx(duplicated["loss"], rel=1e-12)
    assert weighted["loss"] != pytest.approx(model.evaluate(X, y)["loss"], rel=1e-6)
    assert_weights_close(
        model.gradients(X, y, sample_weight=weight), model.gradients(X_dup, y_dup), rtol=1e-11, atol=1e-14
    )
    # scaling all weights changes nothing (a weighted mean)
    assert model.evaluate(X, y, sample_weight=5 * weight)["loss"] == pytest.approx(weighted["loss"], rel=1e-12)
    # a zero weight removes the row
    zero = np.ones(12)
    zero[0] = 0.0
    assert model.evaluate(X, y, sample_weight=zero)["loss"] == pytest.approx(
        model.evaluate(X[1:], y[1:])["loss"], rel=1e-12
    )


def test_fit_with_sample_weight_equals_fit_on_duplicated_rows():
    X, y = classification_data(n=20)
    weight = np.ones(20)
    weight[[2, 7]] = 2.0
    X_dup, y_dup = np.vstack([X, X[[2, 7]]]), np.concatenate([y, y[[2, 7]]])
    a, b = mlp(seed=8), mlp(seed=8)
    a.fit(X, y, epochs=3, batch_size=20, shuffle=False, optimizer=SGD(lr=0.5), sample_weight=weight)
    b.fit(X_dup, y_dup, epochs=3, batch_size=22, shuffle=False, optimizer=SGD(lr=0.5))
    assert_weights_close(a.get_weights(), b.get_weights(), rtol=1e-11, atol=1e-14)


# ------------------------------------------------------------------------------------------ threads


def test_set_and_get_num_threads(restore_threads):
    assert restore_threads >= 1
    fnet.set_num_threads(1)
    assert fnet.get_num_threads() == 1
    fnet.set_num_threads(2)
    assert fnet.get_num_threads() == 2
    X, y = classification_data(n=16)
    mlp().fit(X, y, epochs=1)  # still trains


# ------------------------------------------------------------------------------------------ penalties


@pytest.mark.parametrize(("l1", "l2"), [(0.0, 0.0), (0.0, 1e-2), (1e-3, 0.0), (1e-3, 1e-2)])
def test_penalty_included_in_evaluate(rs, l1, l2):
    model = mlp(l1=l1, l2=l2)
    weights = model.get_weights()
    for layer in weights:
        layer["b"] = rs.normal(size=layer["b"].shape) * 3.0  # biases are not penalised
    model.set_weights(weights)
    X, y = rs.normal(size=(10, 4)), rs.integers(0, 3, 10)
    data = softmax_ce(dense_logits(weights, X, ["tanh", "linear"]), y)
    penalty = sum(0.5 * l2 * np.sum(layer["W"] ** 2) + l1 * np.sum(np.abs(layer["W"])) for layer in weights)
    assert model.evaluate(X, y)["loss"] == pytest.approx(data + penalty, rel=1e-12)
    if l1 or l2:
        assert penalty > 1e-3


# ------------------------------------------------------------------------------------------ dtypes


def test_float32_and_float64_models(rs):
    layers = [fnet.Dense(16, activation="relu"), fnet.Dense(3)]
    m32 = fnet.Sequential(layers, input_dim=4, dtype="float32", seed=0)
    m64 = fnet.Sequential(layers, input_dim=4, dtype="float64", seed=0)
    w32, w64 = m32.get_weights(), m64.get_weights()
    assert w32[0]["W"].dtype == np.float32 and w64[0]["W"].dtype == np.float64
    np.testing.assert_array_equal(w32[0]["W"], w64[0]["W"].astype(np.float32))  # same init, rounded
    X, y = rs.normal(size=(64, 4)), rs.integers(0, 3, 64)
    assert m32.forward(X).dtype == np.float32 and m64.forward(X).dtype == np.float64
    assert m32.predict_proba(X).dtype == np.float32
    np.testing.assert_allclose(m32.forward(X), m64.forward(X), rtol=1e-4, atol=1e-5)
    h32 = m32.fit(X, y, epochs=3, batch_size=16, optimizer=SGD(lr=0.1))
    h64 = m64.fit(X, y, epochs=3, batch_size=16, optimizer=SGD(lr=0.1))
    np.testing.assert_allclose(h32.history["loss"], h64.history["loss"], rtol=1e-4)
    assert_weights_close(m32.get_weights(), m64.get_weights(), rtol=1e-3, atol=1e-4)
    assert m32.get_weights()[0]["W"].dtype == np.float32
    assert not np.array_equal(m32.get_weights()[0]["W"], m64.get_weights()[0]["W"].astype(np.float32))


# ------------------------------------------------------------------------------------------ divergence


def _diverging_setup():
    generator = np.random.default_rng(0)
    X = generator.normal(size=(64, 4)) * 1e3
    y = generator.normal(size=64)
    model = fnet.Sequential([fnet.Dense(8, activation="relu"), fnet.Dense(1)], input_dim=4, loss="mse", dtype="float64")
    return model, X, y


def test_divergent_fit_raises_and_restores_the_start_of_the_epoch():
    model, X, y = _diverging_setup()
    model.fit(X, y, epochs=1, batch_size=16, optimizer=SGD(lr=1e-9))
    start = model.get_weights()
    with pytest.raises(FloatingPointError, match=r"epoch \d+.*batch \d+"):
        model.fit(X, y, epochs=3, batch_size=16, optimizer=SGD(lr=1e6))
    assert_weights_equal(model.get_weights(), start)
    # the model is usable afterwards, and continues as if the failed fit never happened
    twin, _, _ = _diverging_setup()
    twin.fit(X, y, epochs=1, batch_size=16, optimizer=SGD(lr=1e-9))
    model.fit(X, y, epochs=1, batch_size=16, optimizer=SGD(lr=1e-9))
    twin.fit(X, y, epochs=1, batch_size=16, optimizer=SGD(lr=1e-9))
    assert_weights_equal(model.get_weights(), twin.get_weights())
    assert np.isfinite(model.predict(X)).all()


def test_divergence_in_a_later_epoch_names_it_and_restores_the_model_as_before_the_call():
    model, X, y = _diverging_setup()
    optimizer = SGD(lr=1e-9, momentum=0.9)
    model.fit(X, y, epochs=1, batch_size=16, optimizer=optimizer)
    before = model.state_dict()
    with pytest.raises(FloatingPointError, match=r"epoch 3, batch \d+ \(1-based\); the model was restored"):
        model.fit(X, y, epochs=3, batch_size=16, schedule=lambda e, lr0: lr0 if e < 2 else 1e6)
    # The epoch that trained fine inside the failing call is undone too: the whole call is one transaction.
    after = model.state_dict()
    assert after["meta"] == before["meta"] and model.optimizer is optimizer
    for name, array in before["tensors"].items():
        np.testing.assert_array_equal(after["tensors"][name], array, err_msg=name)


# ------------------------------------------------------------------------------------------ repr, copy


def test_repr():
    model = fnet.Sequential([fnet.Dense(8, activation="relu"), fnet.Dropout(0.25), fnet.Dense(3)], input_dim=4, seed=11)
    text = repr(model)
    assert text.startswith("Sequential([Dense(units=8, activation='relu'")
    assert "Dropout(p=0.25)" in text and "input_dim=4" in text and "seed=11" in text
    assert "loss='softmax_cross_entropy'" in text and "dtype='float32'" in text
    assert repr(fnet.optim.SGD(lr=0.5, momentum=0.9)) == "SGD(lr=0.5, momentum=0.9, nesterov=False)"
    assert "EarlyStopping(monitor='val_loss', patience=2" in repr(fnet.EarlyStopping(patience=2))


def test_copy_is_independent_and_continues_identically():
    X, y = classification_data(n=32)
    layers = [fnet.Dense(8, activation="relu"), fnet.Dropout(0.3), fnet.Dense(3)]
    model = fnet.Sequential(layers, input_dim=4, dtype="float64", seed=4)
    model.fit(X, y, epochs=2, batch_size=8, optimizer=SGD(lr=0.1))
    clone = model.copy()
    assert clone is not model and repr(clone) == repr(model)
    assert_weights_equal(clone.get_weights(), model.get_weights())
    clone.fit(X, y, epochs=1, batch_size=8, optimizer=SGD(lr=0.1))
    assert not weights_equal(clone.get_weights(), model.get_weights())
    # the copy carries the counters: training the original the same way gives the same weights
    model.fit(X, y, epochs=1, batch_size=8, optimizer=SGD(lr=0.1))
    assert_weights_equal(clone.get_weights(), model.get_weights())
    as32 = model.copy(dtype="float32")
    assert as32.dtype == "float32" and as32.get_weights()[0]["W"].dtype == np.float32
    np.testing.assert_array_equal(as32.get_weights()[0]["W"], model.get_weights()[0]["W"].astype(np.float32))
