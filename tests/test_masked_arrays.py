"""Masked arrays (and other ndarray subclasses) as inputs: ferronet takes their data and ignores the mask, as
scikit-learn's ``check_array`` does (``np.asarray``), so masked NaN entries are still refused as NaN."""

from __future__ import annotations

import ferronet as fnet
import numpy as np
import pytest
from ferronet import _validation

X = np.random.default_rng(0).normal(size=(6, 2))
Y = np.array([0, 1, 2] * 2)


@pytest.fixture
def model() -> fnet.Sequential:
    return fnet.Sequential([fnet.Dense(3)], input_dim=2, seed=0)


def test_a_masked_nan_is_refused_by_predict(model):
    with pytest.raises(ValueError, match=r"^X contains NaN or infinity \(first at index \(0, 0\): nan\)"):
        model.predict(np.ma.masked_invalid([[np.nan, 1.0]]))


@pytest.mark.parametrize("method", ["predict_proba", "forward", "evaluate", "fit", "train_step", "gradients"])
def test_a_masked_nan_is_refused_everywhere(model, method):
    masked = np.ma.masked_invalid(np.vstack([X[:-1], [[np.nan, 1.0]]]))
    call = getattr(model, method)
    args = (masked,) if method in ("predict_proba", "forward") else (masked, Y)
    before = model.get_weights()
    with pytest.raises(ValueError, match=r"X contains NaN or infinity"):
        call(*args)
    np.testing.assert_array_equal(model.get_weights()[0]["W"], before[0]["W"])


def test_a_masked_nan_sample_weight_is_refused(model):
    weights = np.ma.masked_invalid([np.nan, 1.0, 1.0, 1.0, 1.0, 1.0])
    for call in (model.fit, model.evaluate, model.train_step):
        with pytest.raises(ValueError, match=r"^sample_weight contains NaN or infinity \(first at index 0: nan\)"):
            call(X, Y, sample_weight=weights)


def test_masked_labels_use_their_data(model):
    labels = np.ma.masked_array(Y, mask=[True, False, False, False, False, False])
    assert model.evaluate(X, labels) == model.evaluate(X, Y)
    with pytest.raises(ValueError, match="must hold class labels >= 0"):
        model.evaluate(X, np.ma.masked_less(np.array([-1, 1, 2, 0, 1, 2]), 0))


def test_the_mask_is_ignored_and_the_data_used(model):
    masked = np.ma.masked_array(X, mask=np.eye(6, 2, dtype=bool))
    np.testing.assert_array_equal(model.predict_proba(masked), model.predict_proba(X))


def test_a_fully_masked_input_uses_its_data_and_raises_no_index_error(model):
    fully = np.ma.masked_array(np.zeros((2, 2)), mask=True)
    np.testing.assert_array_equal(model.predict(fully), model.predict(np.zeros((2, 2))))
    nan_data = np.ma.masked_array(np.full((2, 2), np.nan), mask=True)
    with pytest.raises(ValueError, match="X contains NaN"):
        model.predict(nan_data)
    uninitialised = np.ma.masked_all((2, 2))  # data is np.empty: any values; never an IndexError
    try:
        assert model.predict(uninitialised).shape == (2,)
    except ValueError as error:
        assert "X contains NaN or infinity" in str(error)


def test_require_finite_on_a_masked_array_reports_the_nan():
    with pytest.raises(ValueError, match=r"x contains NaN or infinity \(first at index 1: nan\)"):
        _validation.require_finite(_validation.as_array(np.ma.masked_invalid([1.0, np.nan]), "x"), "x")


@pytest.mark.parametrize(
    "subclass",
    [lambda a: np.ma.masked_array(a), lambda a: a.view(np.recarray)],
    ids=["masked", "recarray"],
)
def test_subclasses_become_plain_views_without_copying(subclass):
    data = np.arange(6.0).reshape(3, 2)
    array = _validation.as_array(subclass(data), "X")
    assert type(array) is np.ndarray and np.shares_memory(array, data)
    np.testing.assert_array_equal(array, data)


def test_the_same_data_as_scikit_learns_check_array():
    check_array = pytest.importorskip("sklearn.utils", reason="comparison with scikit-learn").check_array
    masked = np.ma.masked_array([[5.0, 1.0]], mask=[[True, False]])
    np.testing.assert_array_equal(_validation.check_features(masked, "X", np.dtype("float64")), check_array(masked))
    with pytest.raises(ValueError, match="NaN"):
        check_array(np.ma.masked_invalid([[np.nan, 1.0]]))


def test_the_sklearn_estimators_take_the_data_too():
    pytest.importorskip("sklearn", reason="ferronet.sklearn needs scikit-learn")
    from ferronet.sklearn import MLPClassifier

    with pytest.warns(Warning):  # ConvergenceWarning after 2 iterations
        estimator = MLPClassifier(hidden_layer_sizes=(3,), max_iter=2, random_state=0).fit(X, Y)
    with pytest.raises(ValueError, match="NaN"):
        estimator.predict(np.ma.masked_invalid([[np.nan, 1.0]]))
