"""loss="poisson" on a Sequential: half the Poisson deviance with the log link (the engine kernel's parity with its
twin and its gradient check are in test_ops, test_reference, test_gradcheck and test_training_parity)."""

from __future__ import annotations

import ferronet as fnet
import numpy as np
import pytest
from ferronet import reference as R


def counts(n: int = 60, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    return X, rng.poisson(np.exp(0.5 * X[:, 0] - 0.3 * X[:, 1])).astype(np.float64)


def poisson_model(**kwargs) -> fnet.Sequential:
    layers = [fnet.Dense(5, activation="tanh"), fnet.Dense(1)]
    return fnet.Sequential(layers, input_dim=3, loss="poisson", dtype="float64", seed=3, **kwargs)


def test_predict_is_the_exp_of_the_last_layer_and_evaluate_is_the_half_deviance():
    X, y = counts()
    model = poisson_model()
    model.fit(X, y, epochs=5, batch_size=16, optimizer=fnet.optim.Adam(lr=0.02))
    z = model.forward(X)[:, 0]
    np.testing.assert_allclose(model.predict(X), np.exp(z), rtol=1e-15)
    mean = np.exp(z)
    log_term = np.where(y > 0, y * np.log(np.where(y > 0, y, 1.0) / mean), 0.0)
    assert model.evaluate(X, y)["loss"] == pytest.approx(np.mean(log_term - y + mean), rel=1e-12)
    assert "accuracy" not in model.evaluate(X, y) and not model.is_classifier


def test_training_lowers_the_deviance_and_matches_the_reference_twin():
    X, y = counts()
    model = poisson_model(l2=1e-3)
    twin = R.Sequential(model.layers, input_dim=3, loss="poisson", l2=1e-3, dtype="float64", seed=3)
    twin.set_weights(model.get_weights())
    before = model.evaluate(X, y)["loss"]
    for _ in range(20):
        loss = model.train_step(X, y, optimizer=fnet.optim.SGD(lr=0.1))
        assert loss == pytest.approx(twin.train_step(X, y, optimizer=fnet.optim.SGD(lr=0.1)), rel=1e-12)
    assert model.evaluate(X, y)["loss"] < 0.9 * before
    np.testing.assert_allclose(model.predict(X), twin.predict(X), rtol=1e-12)


def test_targets_must_be_counts_and_the_last_layer_linear():
    X, y = counts()
    model = poisson_model()
    weights = model.get_weights()
    with pytest.raises(ValueError, match=r"y must hold values >= 0 for poisson"):
        model.fit(X, -y)
    with pytest.raises(ValueError, match="y must hold values >= 0"):
        model.train_step(X, y - 1)
    for before, after in zip(weights, model.get_weights(), strict=True):  # nothing changed
        np.testing.assert_array_equal(before["W"], after["W"])
    with pytest.raises(ValueError, match="log link"):
        fnet.Sequential([fnet.Dense(4), fnet.Dense(1, activation="relu")], input_dim=3, loss="poisson")
    with pytest.raises(ValueError, match="log link"):
        fnet.Sequential([fnet.Dense(1), fnet.Activation("sigmoid")], input_dim=3, loss="poisson")
    fnet.Sequential([fnet.Dense(2), fnet.Activation("linear")], input_dim=3, loss="poisson")  # allowed


def test_a_poisson_model_round_trips_through_its_file(tmp_path):
    X, y = counts()
    model = poisson_model()
    model.fit(X, y, epochs=2, batch_size=16)
    model.save(tmp_path / "poisson.safetensors")
    loaded = fnet.load(tmp_path / "poisson.safetensors")
    assert loaded.loss == "poisson"
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
