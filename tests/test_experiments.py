"""The seeds' experiments, with the numbers they must reach."""

from __future__ import annotations

import ferronet as fnet
import numpy as np
import pytest
from ferronet.optim import SGD


@pytest.fixture(scope="module")
def spiral():
    X, y = fnet.datasets.make_spiral(n_per_class=100, n_classes=3, seed=0)
    assert X.shape == (300, 2) and np.bincount(y).tolist() == [100, 100, 100]
    return X, y


@pytest.fixture(scope="module")
def linear_accuracy(spiral):
    X, y = spiral
    model = fnet.Sequential([fnet.Dense(3)], input_dim=2, l2=1e-3, seed=0)
    history = model.fit(X, y, epochs=200, batch_size=300, optimizer=SGD(lr=1.0))
    accuracy = model.evaluate(X, y)["accuracy"]
    assert history.history["loss"][-1] < history.history["loss"][0]
    return accuracy


def test_linear_softmax_classifier_on_spiral(linear_accuracy):
    # a linear boundary cannot separate three interleaved arms: about half the points, as in CS231n
    assert 0.4 <= linear_accuracy <= 0.6


def test_two_layer_relu_net_on_spiral(spiral, linear_accuracy):
    X, y = spiral
    model = fnet.Sequential([fnet.Dense(100, activation="relu"), fnet.Dense(3)], input_dim=2, l2=1e-3, seed=0)
    history = model.fit(X, y, epochs=10000, batch_size=300, optimizer=SGD(lr=1.0))
    accuracy = model.evaluate(X, y)["accuracy"]
    assert accuracy >= 0.97
    assert accuracy > linear_accuracy + 0.3
    assert history.history["accuracy"][-1] >= 0.97
    assert len(history.history["loss"]) == 10000


def test_digits_sigmoid_online_sgd():
    X, y = fnet.datasets.load_digits()
    assert X.shape == (1797, 64) and X.max() == 16
    X_train, X_test, y_train, y_test = fnet.preprocessing.train_test_split(X / 16.0, y, test_fraction=0.2, seed=0)
    assert X_train.shape == (1437, 64) and X_test.shape == (360, 64)
    model = fnet.Sequential([fnet.Dense(200, activation="sigmoid"), fnet.Dense(10)], input_dim=64, seed=0)
    history = model.fit(X_train, y_train, epochs=10, batch_size=1, optimizer=SGD(lr=0.01))
    assert model.evaluate(X_test, y_test)["accuracy"] >= 0.93
    assert history.history["loss"][-1] < history.history["loss"][0]


def test_seed_style_architecture_on_spiral(spiral, linear_accuracy):
    X, y = spiral
    model = fnet.Sequential.from_architecture(
        [
            {"input_dim": 2, "output_dim": 25, "activation": "relu"},
            {"input_dim": 25, "output_dim": 3, "activation": "softmax"},
        ],
        seed=0,
    )
    assert model.loss == "softmax_cross_entropy"
    model.fit(X, y, epochs=1000, batch_size=300, optimizer=SGD(lr=1.0))
    accuracy = model.evaluate(X, y)["accuracy"]
    assert accuracy >= 0.9
    assert accuracy > linear_accuracy + 0.25
    probabilities = model.forward(X)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(model.predict(X), probabilities.argmax(axis=1))
