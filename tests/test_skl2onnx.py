"""skl2onnx converters for ferronet.sklearn: whole pipelines convert, and onnxruntime's labels, probabilities and
values match the pipeline's predict / predict_proba, with the estimator's own class labels."""

from __future__ import annotations

import sys

import ferronet.onnx  # registers the converters
import numpy as np
import onnxruntime as ort  # the [test] extra installs onnx, onnxruntime and skl2onnx
import pytest
import skl2onnx
from ferronet.sklearn import MLPClassifier, MLPRegressor
from skl2onnx.common.data_types import DoubleTensorType, Int64TensorType
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

# Short training runs: the conversion, not the fit, is under test.
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

NO_ZIPMAP = {MLPClassifier: {"zipmap": False}}


def features(n: int = 240, d: int = 6, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, d)) * 3.0 + 1.0  # unscaled: the pipeline's scaler matters


def pipeline(estimator) -> Pipeline:
    return Pipeline([("scale", StandardScaler()), ("mlp", estimator)])


def classifier(**kwargs) -> MLPClassifier:
    options = {"hidden_layer_sizes": (16, 8), "max_iter": 40, "random_state": 0, "learning_rate_init": 0.01}
    return MLPClassifier(**{**options, **kwargs})


def run(proto, X: np.ndarray) -> dict[str, object]:
    session = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    names = [output.name for output in session.get_outputs()]
    return dict(zip(names, session.run(None, {session.get_inputs()[0].name: X}), strict=True))


def assert_same_labels(labels: np.ndarray, expected: np.ndarray, probabilities: np.ndarray) -> None:
    """Equal labels, except where the two highest probabilities tie within float32 rounding."""
    top = np.sort(probabilities, axis=1)
    differ = np.asarray(labels != expected)
    assert not (differ & (top[:, -1] - top[:, -2] > 1e-5)).any(), np.argwhere(differ)


def make_targets(kind: str, X: np.ndarray) -> np.ndarray:
    if kind == "binary-strings":
        return np.where(X[:, 0] + X[:, 1] > 2, "yes", "no")
    if kind == "multiclass-1-to-10":
        return np.digitize(X[:, 0] + 0.5 * X[:, 1], np.linspace(-6, 8, 9)) + 1
    if kind == "multiclass-strings":
        return np.array(["cat", "dog", "emu", "yak"])[np.digitize(X[:, 2], [-1, 1, 3])]
    if kind == "binary-ints":
        return np.where(X[:, 3] > 1, 7, -2)
    if kind == "whole-floats":
        return np.digitize(X[:, 0], [0, 2]).astype(np.float64) + 1.0
    raise AssertionError(kind)


TARGETS = ["binary-strings", "multiclass-1-to-10", "multiclass-strings", "binary-ints", "whole-floats"]


def test_the_converters_are_registered_on_import():
    assert skl2onnx.get_model_alias(MLPClassifier) == "FerronetMLPClassifier"
    assert skl2onnx.get_model_alias(MLPRegressor) == "FerronetMLPRegressor"
    ferronet.onnx.register_skl2onnx()  # again: harmless
    assert skl2onnx.get_model_alias(MLPClassifier) == "FerronetMLPClassifier"


@pytest.mark.parametrize("kind", TARGETS)
@pytest.mark.parametrize("layers", ["plain", "batchnorm-dropout"])
def test_classifier_pipelines_give_the_estimators_labels_and_probabilities(kind, layers):
    X = features()
    y = make_targets(kind, X)
    extra = {"batch_norm": True, "dropout": 0.2, "activation": "tanh"} if layers != "plain" else {}
    model = pipeline(classifier(**extra)).fit(X, y)
    proto = skl2onnx.to_onnx(model, X[:1].astype(np.float32), options=NO_ZIPMAP)
    outputs = run(proto, X.astype(np.float32))
    assert list(outputs) == ["label", "probabilities"]
    expected_proba = model.predict_proba(X)
    np.testing.assert_allclose(outputs["probabilities"], expected_proba, atol=1e-5)
    labels = outputs["label"]
    assert labels.shape == (X.shape[0],)
    assert set(np.unique(labels)) <= set(model.classes_)  # the estimator's labels, not column indices
    assert_same_labels(labels, model.predict(X), expected_proba)


@pytest.mark.parametrize("kind", ["multiclass-1-to-10", "binary-strings"])
def test_zipmap_maps_each_class_label_to_its_probability(kind):
    X = features()
    model = pipeline(classifier()).fit(X, make_targets(kind, X))
    outputs = run(skl2onnx.to_onnx(model, X[:1].astype(np.float32)), X[:20].astype(np.float32))
    assert list(outputs) == ["output_label", "output_probability"]
    expected = model.predict_proba(X[:20])
    for row, probabilities in zip(expected, outputs["output_probability"], strict=True):
        assert list(probabilities) == list(model.classes_)
        np.testing.assert_allclose(list(probabilities.values()), row, atol=1e-5)


def test_options_nocl_and_output_class_labels():
    X = features()
    model = classifier().fit(X, make_targets("multiclass-strings", X))
    nocl = run(
        skl2onnx.to_onnx(model, X[:1].astype(np.float32), options={MLPClassifier: {"zipmap": False, "nocl": True}}),
        X.astype(np.float32),
    )
    np.testing.assert_array_equal(model.classes_[nocl["label"]], model.predict(X))
    with_classes = run(
        skl2onnx.to_onnx(
            model, X[:1].astype(np.float32), options={MLPClassifier: {"zipmap": False, "output_class_labels": True}}
        ),
        X.astype(np.float32),
    )
    assert list(with_classes) == ["label", "probabilities", "class_labels"]
    assert list(with_classes["class_labels"]) == list(model.classes_)


def test_multilabel_targets_give_a_label_matrix():
    X = features()
    Y = np.column_stack([X[:, 0] > 1, X[:, 1] + X[:, 2] > 2, X[:, 3] < 0]).astype(int)
    model = classifier().fit(X, Y)
    outputs = run(skl2onnx.to_onnx(model, X[:1].astype(np.float32), options=NO_ZIPMAP), X.astype(np.float32))
    probabilities = model.predict_proba(X)
    np.testing.assert_allclose(outputs["probabilities"], probabilities, atol=1e-5)
    labels = outputs["label"]
    assert labels.shape == Y.shape and labels.dtype == np.int64
    differ = labels != model.predict(X)
    assert not (differ & (np.abs(probabilities - 0.5) > 1e-5)).any()


@pytest.mark.parametrize("n_outputs", [1, 3])
@pytest.mark.parametrize("layers", ["plain", "batchnorm-dropout"])
def test_regressor_pipelines_give_the_predictions(n_outputs, layers):
    X = features()
    Y = np.column_stack([np.sin(X[:, 0]), X[:, 1] * 0.5, X[:, 2] * X[:, 3] / 9])[:, :n_outputs]
    extra = {"batch_norm": True, "dropout": 0.1, "activation": "logistic"} if layers != "plain" else {}
    estimator = MLPRegressor(hidden_layer_sizes=(16,), max_iter=40, random_state=0, **extra)
    model = pipeline(estimator).fit(X, Y[:, 0] if n_outputs == 1 else Y)
    outputs = run(skl2onnx.to_onnx(model, X[:1].astype(np.float32)), X.astype(np.float32))
    assert list(outputs) == ["variable"]
    assert outputs["variable"].shape == (X.shape[0], n_outputs)
    np.testing.assert_allclose(outputs["variable"], model.predict(X).reshape(-1, n_outputs), atol=1e-5)


@pytest.mark.parametrize("n_outputs", [1, 2])
def test_poisson_regressor_pipelines_give_the_means(n_outputs):
    """loss="poisson": the network gives the log of the mean; the converted graph ends with its Exp."""
    X = features()
    rates = np.exp(np.column_stack([0.3 * X[:, 0], -0.2 * X[:, 1]]) / 3)[:, :n_outputs]
    counts = np.random.default_rng(1).poisson(rates).astype(np.float64)
    estimator = MLPRegressor(loss="poisson", hidden_layer_sizes=(8,), solver="lbfgs", max_iter=100, random_state=0)
    model = pipeline(estimator).fit(X, counts[:, 0] if n_outputs == 1 else counts)
    outputs = run(skl2onnx.to_onnx(model, X[:1].astype(np.float32)), X.astype(np.float32))
    predictions = model.predict(X).reshape(-1, n_outputs)
    assert (predictions > 0).all()
    np.testing.assert_allclose(outputs["variable"], predictions, rtol=1e-5)


def test_double_inputs_compute_in_double():
    X = features()
    y = make_targets("multiclass-1-to-10", X)
    model = pipeline(classifier(batch_norm=True)).fit(X, y)
    proto = skl2onnx.to_onnx(model, initial_types=[("X", DoubleTensorType([None, X.shape[1]]))], options=NO_ZIPMAP)
    outputs = run(proto, X)
    assert outputs["probabilities"].dtype == np.float64
    np.testing.assert_allclose(outputs["probabilities"], model.predict_proba(X), atol=1e-9)
    np.testing.assert_array_equal(outputs["label"], model.predict(X))


def test_integer_inputs_are_cast():
    X = np.rint(features()).astype(np.int64)
    model = MLPRegressor(hidden_layer_sizes=(8,), max_iter=20, random_state=0).fit(X, X[:, 0] - X[:, 1])
    proto = skl2onnx.to_onnx(model, initial_types=[("X", Int64TensorType([None, X.shape[1]]))])
    np.testing.assert_allclose(run(proto, X)["variable"][:, 0], model.predict(X), atol=1e-4)


def test_an_opset_older_than_13_is_refused():
    X = features()
    model = MLPRegressor(hidden_layer_sizes=(4,), max_iter=5, random_state=0).fit(X, X[:, 0])
    with pytest.raises(RuntimeError, match=r"target_opset >= 13"):
        skl2onnx.to_onnx(model, X[:1].astype(np.float32), target_opset=12)


def test_without_skl2onnx_registering_raises_a_clear_import_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "skl2onnx", None)  # makes `import skl2onnx` raise ImportError
    monkeypatch.delitem(sys.modules, "ferronet._skl2onnx")  # imported afresh, and failing
    monkeypatch.delattr(ferronet, "_skl2onnx")
    with pytest.raises(ImportError, match=r"register_skl2onnx needs skl2onnx and scikit-learn"):
        ferronet.onnx.register_skl2onnx()
