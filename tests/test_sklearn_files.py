"""Estimators save and load themselves: one model file holds the network and, in its metadata, everything else a
fitted estimator needs (classes_ with their dtype, preprocessing state, parameters, training attributes)."""

from __future__ import annotations

import json
import pickle
import warnings

import ferronet as fnet
import numpy as np
import pytest
from ferronet import sklearn as fsk
from ferronet.sklearn import MLPClassifier, MLPRegressor
from safetensors import safe_open
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X[:600] / 16.0, y[:600]


def _quiet_fit(estimator, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return estimator.fit(*args, **kwargs)


def _same_attributes(loaded, original):
    for name in fsk.SAVED_ATTRIBUTES:
        assert hasattr(loaded, name) == hasattr(original, name), name
        if not hasattr(original, name) or name == "_label_binarizer":
            continue
        a, b = getattr(loaded, name), getattr(original, name)
        if isinstance(b, np.ndarray):
            assert a.dtype == b.dtype and a.shape == b.shape, name
            np.testing.assert_array_equal(a, b)
        else:
            assert type(a) is type(b) and (a == b or (a != a and b != b)), name  # NaN equals NaN here


def test_a_classifier_on_labels_1_to_10_predicts_1_to_10_after_loading(tmp_path, digits):
    X, y = digits
    clf = MLPClassifier(hidden_layer_sizes=(16,), learning_rate_init=0.01, max_iter=30, random_state=0)
    _quiet_fit(clf, X, y + 1)
    clf.save(tmp_path / "clf.safetensors")
    loaded = MLPClassifier.load(tmp_path / "clf.safetensors")
    assert type(loaded) is MLPClassifier and loaded.get_params() == clf.get_params()
    np.testing.assert_array_equal(loaded.classes_, np.arange(1, 11))
    assert set(loaded.predict(X)) <= set(range(1, 11))
    np.testing.assert_array_equal(loaded.predict(X), clf.predict(X))
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))
    assert loaded.score(X, y + 1) == clf.score(X, y + 1) > 0.8
    _same_attributes(loaded, clf)
    # the bare network, as ferronet.load reads the same file, predicts class indices
    network = fnet.load(tmp_path / "clf.safetensors")
    np.testing.assert_array_equal(network.predict(X) + 1, clf.predict(X))


@pytest.mark.parametrize(
    "labels",
    [
        lambda y: np.where(y % 2 == 0, "even", "odd"),  # strings, binary
        lambda y: y % 3 == 0,  # bools
        lambda y: np.array(["d" + str(v) for v in y], dtype=object),  # an object array of strings
        lambda y: (y // 2 - 1).astype(np.int8),  # small integers, negative ones too
        lambda y: (y % 4).astype(np.float32) * 2.0,  # integral floats
    ],
    ids=["str", "bool", "object", "int8", "float"],
)
def test_classes_keep_their_dtype(tmp_path, digits, labels):
    X, y = digits
    target = labels(y)
    clf = _quiet_fit(MLPClassifier(hidden_layer_sizes=(8,), max_iter=5, random_state=0), X, target)
    clf.save(tmp_path / "clf.safetensors")
    loaded = fsk.load(tmp_path / "clf.safetensors")
    assert loaded.classes_.dtype == clf.classes_.dtype
    np.testing.assert_array_equal(loaded.classes_, clf.classes_)
    predictions = loaded.predict(X)
    assert predictions.dtype == clf.predict(X).dtype
    np.testing.assert_array_equal(predictions, clf.predict(X))


def test_multilabel_and_feature_names(tmp_path, digits):
    pd = pytest.importorskip("pandas", reason="feature names need pandas")
    X, y = digits
    frame = pd.DataFrame(X, columns=[f"pixel{i}" for i in range(64)])
    Y = np.c_[y % 2, y > 4, y == 0].astype(int)
    clf = _quiet_fit(MLPClassifier(hidden_layer_sizes=(8,), max_iter=5, random_state=0), frame, Y)
    clf.save(tmp_path / "multilabel.safetensors")
    loaded = MLPClassifier.load(tmp_path / "multilabel.safetensors")
    assert list(loaded.feature_names_in_) == list(frame.columns) and loaded.feature_names_in_.dtype == object
    np.testing.assert_array_equal(loaded.predict(frame), clf.predict(frame))
    with pytest.warns(UserWarning, match="feature names"):
        loaded.predict(X)  # the names are checked as on the original


@pytest.mark.parametrize("loss", ["squared_error", "poisson"])
def test_a_regressor_round_trips_and_trains_on_exactly(tmp_path, digits, loss):
    X, y = digits
    target = np.c_[y, 9 - y].astype(float)
    params = dict(loss=loss, hidden_layer_sizes=(8,), solver="sgd", learning_rate="invscaling", max_iter=5)
    reg = _quiet_fit(MLPRegressor(random_state=np.random.RandomState(4), **params), X, target)
    reg.save(tmp_path / "reg.safetensors")
    loaded = MLPRegressor.load(tmp_path / "reg.safetensors")
    assert loaded.out_activation_ == reg.out_activation_ == ("exp" if loss == "poisson" else "identity")
    np.testing.assert_array_equal(loaded.predict(X), reg.predict(X))
    _same_attributes(loaded, reg)
    # the random_state (a RandomState object) comes back with its state
    assert loaded.random_state.get_state()[2] == reg.random_state.get_state()[2]
    # weights, optimizer state and the rate schedule continue exactly
    reg.partial_fit(X, target)
    loaded.partial_fit(X, target)
    np.testing.assert_array_equal(loaded.predict(X), reg.predict(X))
    assert loaded.t_ == reg.t_ and loaded._rate == reg._rate


def test_lbfgs_and_early_stopping_attributes(tmp_path, digits):
    X, y = digits
    lbfgs = _quiet_fit(MLPClassifier(hidden_layer_sizes=(8,), solver="lbfgs", max_iter=10, random_state=0), X, y)
    lbfgs.save(tmp_path / "lbfgs.safetensors", include_optimizer=False)
    loaded = MLPClassifier.load(tmp_path / "lbfgs.safetensors")
    assert not hasattr(loaded, "loss_curve_") and loaded.loss_ == lbfgs.loss_ and not hasattr(loaded, "partial_fit")
    early = MLPClassifier(hidden_layer_sizes=(8,), early_stopping=True, max_iter=15, random_state=0)
    _quiet_fit(early, X, y).save(tmp_path / "early.safetensors")
    loaded = MLPClassifier.load(tmp_path / "early.safetensors")
    assert loaded.best_loss_ is None and loaded.validation_scores_ == early.validation_scores_
    _same_attributes(loaded, early)


def test_the_state_is_in_the_safetensors_metadata(tmp_path, digits):
    X, y = digits
    clf = _quiet_fit(MLPClassifier(hidden_layer_sizes=(8,), max_iter=2, random_state=0, class_weight={3: 2.0}), X, y)
    clf.save(tmp_path / "clf.safetensors")
    with safe_open(tmp_path / "clf.safetensors", framework="numpy") as file:  # any safetensors reader
        metadata = file.metadata()
    state = json.loads(metadata["sklearn"])
    assert state["estimator"] == "MLPClassifier" and state["format"] == "ferronet.sklearn"
    assert metadata["format"] == "ferronet.model"
    assert MLPClassifier.load(tmp_path / "clf.safetensors").class_weight == {3: 2.0}


def test_pickle_and_joblib_keep_working(tmp_path, digits):
    X, y = digits
    clf = _quiet_fit(MLPClassifier(hidden_layer_sizes=(8,), max_iter=3, random_state=0), X, y + 1)
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(clf)).predict(X), clf.predict(X))


def test_loading_the_wrong_thing_is_a_clear_error(tmp_path, digits):
    X, y = digits
    reg = _quiet_fit(MLPRegressor(hidden_layer_sizes=(4,), max_iter=2, random_state=0), X, y.astype(float))
    reg.save(tmp_path / "reg.safetensors")
    with pytest.raises(ValueError, match="holds a MLPRegressor, not a MLPClassifier"):
        MLPClassifier.load(tmp_path / "reg.safetensors")
    reg.model_.save(tmp_path / "bare.safetensors")  # the network alone
    with pytest.raises(ValueError, match=r"without a scikit-learn estimator.*ferronet\.load"):
        fsk.load(tmp_path / "bare.safetensors")
    with pytest.raises(FileNotFoundError):
        fsk.load(tmp_path / "missing.safetensors")
    with pytest.raises(Exception, match="fitted"):
        MLPClassifier().save(tmp_path / "unfitted.safetensors")
    assert not (tmp_path / "unfitted.safetensors").exists()


def _rewrite_state(path, change):
    """The model file at ``path`` with its estimator state changed by ``change`` (written by the engine)."""
    model, metadata = fnet.Sequential._from_bytes_with_metadata(path.read_bytes())
    state = json.loads(metadata["sklearn"])
    change(state)
    path.write_bytes(model._to_bytes(True, {"sklearn": json.dumps(state)}))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda s: s.update(version=99), "version 99"),
        (lambda s: s.update(estimator="SVC"), "invalid estimator state"),
        (lambda s: s["params"].update(kernel="rbf"), "does not know"),
        (lambda s: s["attributes"].update(_model=None), "does not know"),
        (lambda s: s["attributes"].update(n_features_in_=3), "does not describe the file's network"),
        (lambda s: s["attributes"].pop("classes_"), "lacks"),
        (
            lambda s: s["attributes"].update(classes_={"ndarray": {"dtype": "<M8[s]", "shape": [1], "data": [0]}}),
            "dtype",
        ),
        (lambda s: s["attributes"].update(classes_={"ndarray": {"dtype": "<i8", "shape": [5], "data": [1]}}), "fill"),
        (lambda s: s["attributes"].update(loss_={"eval": "1+1"}), "does not read"),
    ],
)
def test_an_invalid_estimator_state_is_refused(tmp_path, digits, change, message):
    X, y = digits
    path = tmp_path / "clf.safetensors"
    _quiet_fit(MLPClassifier(hidden_layer_sizes=(4,), max_iter=2, random_state=0), X, y).save(path)
    _rewrite_state(path, change)
    with pytest.raises(ValueError, match=message):
        MLPClassifier.load(path)


def test_a_callers_metadata_may_not_take_an_engine_key(digits):
    X, y = digits
    clf = _quiet_fit(MLPClassifier(hidden_layer_sizes=(4,), max_iter=2, random_state=0), X, y)
    for key in ("format", "config", "counters", "optimizer"):
        with pytest.raises(ValueError, match=f'may not use the key "{key}"'):
            clf.model_._to_bytes(True, {key: "x"})
    model, metadata = fnet.Sequential._from_bytes_with_metadata(clf.model_._to_bytes(True, {"mine": "kept"}))
    assert metadata == {"mine": "kept"}
    np.testing.assert_array_equal(model.predict(X), clf.model_.predict(X))
