"""ferronet.onnx.to_onnx: valid ONNX that onnxruntime runs to the same predictions as ferronet, for every layer
kind, activation, loss and dtype; the file write; and clear errors."""

from __future__ import annotations

import json
import os

import ferronet as fnet
import numpy as np
import onnx  # the [test] extra installs onnx and onnxruntime: a missing one fails here rather than skipping
import onnxruntime as ort
import pytest
from ferronet.onnx import DEFAULT_OPSET, MIN_OPSET, OUTPUT_NAMES, to_onnx

# onnxruntime computes in the same precision but with other kernels (Gemm blocking, exp/tanh approximations).
# float64: BatchNormalization's epsilon is a float32 attribute and (x - mean) / sqrt(var + eps) is ordered
# differently, which moves results by ~1e-12.
TOLERANCE = {"float32": 1e-5, "float64": 1e-9}

ARCHITECTURES = {
    # every activation inside Dense layers
    "dense": lambda k, last: [
        fnet.Dense(9, activation="relu"),
        fnet.Dense(8, activation="leaky_relu"),
        fnet.Dense(7, activation="sigmoid"),
        fnet.Dense(6, activation="tanh"),
        fnet.Dense(k, activation=last),
    ],
    # BatchNorm between a Dense layer and its activation, Dropout, DropConnect
    "batchnorm-dropout": lambda k, last: [
        fnet.Dense(10),
        fnet.BatchNorm(momentum=0.8, eps=1e-3),
        fnet.Activation("relu"),
        fnet.Dropout(0.3),
        fnet.Dense(8, activation="tanh", dropconnect=0.2),
        fnet.BatchNorm(),
        fnet.Dense(k, activation=last),
    ],
    # activations as layers of their own, the last one too
    "activation-layers": lambda k, last: [
        fnet.Dense(8),
        fnet.Activation("leaky_relu"),
        fnet.Dropout(0.1),
        fnet.Dense(6),
        fnet.Activation("sigmoid"),
        fnet.Dense(k),
        fnet.Activation(last),
    ],
}

# (loss, last activation, outputs): fused heads, unfused ones, and multi-output variants
HEADS = [
    ("softmax_cross_entropy", "softmax", 3),
    ("softmax_cross_entropy", "linear", 4),
    ("binary_cross_entropy", "sigmoid", 1),
    ("binary_cross_entropy", "sigmoid", 3),
    ("binary_cross_entropy", "linear", 1),
    ("mse", "linear", 1),
    ("mse", "linear", 2),
    ("mse", "tanh", 2),
    ("hinge", "linear", 3),
    ("poisson", "linear", 1),
    ("poisson", "linear", 2),
]


def make_data(loss: str, k: int, n: int = 120, d: int = 5, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)) * 2.0 + 0.5
    scores = X @ rng.normal(size=(d, k)) + 0.3 * rng.normal(size=(n, k))
    if loss in ("softmax_cross_entropy", "hinge"):
        return X, scores.argmax(axis=1)
    if loss == "binary_cross_entropy":
        return X, (scores > 0).astype(np.float64)
    if loss == "poisson":
        return X, rng.poisson(np.exp(np.tanh(scores))).astype(np.float64)
    return X, np.tanh(scores)


def trained(architecture: str, loss: str, last: str, k: int, dtype: str) -> tuple[fnet.Sequential, np.ndarray]:
    X, y = make_data(loss, k)
    model = fnet.Sequential(ARCHITECTURES[architecture](k, last), input_dim=X.shape[1], loss=loss, dtype=dtype, seed=1)
    # a few epochs, so that the BatchNorm running statistics and every weight are far from their initial values
    model.fit(X, y, epochs=4, batch_size=16, optimizer=fnet.optim.Adam(lr=0.01))
    return model, X.astype(dtype)


def run(proto: onnx.ModelProto, X: np.ndarray) -> dict[str, np.ndarray]:
    session = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    names = [output.name for output in session.get_outputs()]
    return dict(zip(names, session.run(None, {session.get_inputs()[0].name: X}), strict=True))


def assert_same_labels(onnx_labels: np.ndarray, expected: np.ndarray, scores: np.ndarray, threshold: float) -> None:
    """Labels agree except where the deciding score is within rounding of the decision threshold (a tie)."""
    assert onnx_labels.dtype == np.int64
    assert onnx_labels.shape == expected.shape
    differ = onnx_labels != expected
    if scores.ndim == 2 and expected.ndim == 1 and scores.shape[1] > 1:  # argmax: the top two scores tie
        top = np.sort(scores, axis=1)
        margin = top[:, -1] - top[:, -2]
    else:
        margin = np.abs(scores.reshape(expected.shape) - threshold)
    assert not (differ & (margin > 1e-5)).any(), np.argwhere(differ)
    assert differ.mean() < 0.02


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize(("loss", "last", "k"), HEADS, ids=[f"{loss}-{last}-{k}" for loss, last, k in HEADS])
@pytest.mark.parametrize("architecture", list(ARCHITECTURES))
def test_onnxruntime_predicts_what_ferronet_predicts(architecture, loss, last, k, dtype):
    model, X = trained(architecture, loss, last, k, dtype)
    proto = to_onnx(model)
    onnx.checker.check_model(proto, full_check=True)
    outputs = run(proto, X)
    assert list(outputs) == list(OUTPUT_NAMES[loss])
    tolerance = TOLERANCE[dtype]
    logits = model._logits(X)
    if loss in ("mse", "poisson"):
        variable = outputs["variable"]
        assert variable.dtype == np.dtype(dtype) and variable.shape == (X.shape[0], k)
        np.testing.assert_allclose(variable, model.predict(X).reshape(-1, k), rtol=tolerance, atol=tolerance)
        return
    second = "scores" if loss == "hinge" else "probabilities"
    expected = logits if loss == "hinge" else model.predict_proba(X)
    assert outputs[second].dtype == np.dtype(dtype)
    assert outputs[second].shape == expected.shape
    np.testing.assert_allclose(outputs[second], expected, rtol=tolerance, atol=tolerance)
    assert_same_labels(outputs["label"], model.predict(X), logits, threshold=0.0)


def test_graph_inputs_outputs_and_operators():
    model, _ = trained("batchnorm-dropout", "softmax_cross_entropy", "softmax", 3, "float32")
    proto = to_onnx(model)
    assert [opset.version for opset in proto.opset_import if opset.domain in ("", "ai.onnx")] == [DEFAULT_OPSET]
    assert proto.ir_version == onnx.helper.find_min_ir_version_for(list(proto.opset_import))
    assert proto.producer_name == "ferronet"
    (graph_input,) = proto.graph.input
    assert graph_input.name == "X"
    assert graph_input.type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    dims = graph_input.type.tensor_type.shape.dim
    assert dims[0].dim_param == "N" and dims[1].dim_value == 5
    label, probabilities = proto.graph.output
    assert (label.name, label.type.tensor_type.elem_type) == ("label", onnx.TensorProto.INT64)
    assert (probabilities.name, probabilities.type.tensor_type.elem_type) == ("probabilities", onnx.TensorProto.FLOAT)
    assert [d.dim_value for d in probabilities.type.tensor_type.shape.dim][1] == 3
    ops = [node.op_type for node in proto.graph.node]
    assert ops.count("Gemm") == 3 and ops.count("BatchNormalization") == 2
    assert "Dropout" not in ops
    # the whole configuration travels in the metadata
    props = {prop.key: prop.value for prop in proto.metadata_props}
    assert props["ferronet.loss"] == "softmax_cross_entropy"
    assert fnet.Sequential.from_config(json.loads(props["ferronet.config"])).layers == model.layers


@pytest.mark.parametrize(
    ("loss", "k", "label_shape", "second_width"),
    [("binary_cross_entropy", 1, 1, 2), ("binary_cross_entropy", 3, 2, 3), ("mse", 1, None, 1)],
)
def test_output_shapes_follow_skl2onnx(loss, k, label_shape, second_width):
    model, X = trained("dense", loss, "sigmoid" if loss != "mse" else "linear", k, "float32")
    outputs = run(to_onnx(model), X[:7])
    if label_shape is not None:
        assert outputs["label"].ndim == label_shape
    assert list(outputs.values())[-1].shape == (7, second_width)


@pytest.mark.parametrize("opset", [MIN_OPSET, 15, DEFAULT_OPSET, 21])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_every_supported_opset_runs(opset, dtype):
    model, X = trained("activation-layers", "softmax_cross_entropy", "softmax", 3, dtype)
    proto = to_onnx(model, opset=opset)
    assert proto.opset_import[0].version == opset
    np.testing.assert_allclose(run(proto, X)["probabilities"], model.predict_proba(X), atol=TOLERANCE[dtype])


def test_the_newest_opset_of_the_installed_onnx_is_valid():
    model, _ = trained("batchnorm-dropout", "mse", "linear", 2, "float64")
    newest = onnx.defs.onnx_opset_version()
    onnx.checker.check_model(to_onnx(model, opset=newest), full_check=True)


def test_dtype_exports_a_float64_model_as_float32():
    model, X = trained("batchnorm-dropout", "softmax_cross_entropy", "softmax", 3, "float64")
    proto = to_onnx(model, dtype="float32")
    assert proto.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    outputs = run(proto, X.astype(np.float32))
    assert outputs["probabilities"].dtype == np.float32
    np.testing.assert_allclose(outputs["probabilities"], model.predict_proba(X), atol=1e-5)


def test_a_custom_input_name_and_an_empty_batch():
    model, X = trained("dense", "mse", "linear", 2, "float32")
    proto = to_onnx(model, input_name="features")
    assert proto.graph.input[0].name == "features"
    assert run(proto, X[:0])["variable"].shape == (0, 2)


def test_an_untrained_model_exports_its_initial_weights():
    model = fnet.Sequential([fnet.Dense(4, activation="relu"), fnet.Dense(2)], input_dim=3, loss="mse", seed=5)
    X = np.random.default_rng(0).normal(size=(10, 3)).astype(np.float32)
    np.testing.assert_allclose(run(to_onnx(model), X)["variable"], model.predict(X), atol=1e-6)


# ---- the file ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("as_str", [False, True])
def test_path_writes_the_model_and_replaces_an_existing_file(tmp_path, as_str):
    model, X = trained("dense", "softmax_cross_entropy", "softmax", 3, "float32")
    target = tmp_path / "model.onnx"
    target.write_bytes(b"an older file")
    proto = to_onnx(model, str(target) if as_str else target)
    assert target.read_bytes() == proto.SerializeToString()
    assert sorted(os.listdir(tmp_path)) == ["model.onnx"]  # no temporary file left behind
    session = ort.InferenceSession(str(target), providers=["CPUExecutionProvider"])
    np.testing.assert_array_equal(session.run(["label"], {"X": X})[0], run(proto, X)["label"])


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    model, _ = trained("dense", "mse", "linear", 1, "float32")
    target = tmp_path / "model.onnx"
    target.write_bytes(b"keep me")

    def failing_replace(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(OSError, match="disk full"):
        to_onnx(model, target)
    assert target.read_bytes() == b"keep me"
    assert sorted(os.listdir(tmp_path)) == ["model.onnx"]


# ---- errors --------------------------------------------------------------------------------------------------


@pytest.fixture
def small_model():
    return fnet.Sequential([fnet.Dense(3)], input_dim=2)


def test_an_unbuilt_model_is_rejected():
    with pytest.raises(ValueError, match=r"model is not built"):
        to_onnx(fnet.Sequential([fnet.Dense(3)]))


@pytest.mark.parametrize("model", [None, "model.onnx", object()], ids=repr)
def test_a_non_model_is_rejected(model):
    with pytest.raises(TypeError, match=r"model must be a ferronet.Sequential"):
        to_onnx(model)


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"opset": MIN_OPSET - 1}, ValueError, r"opset must be >= 13"),
        ({"opset": 10_000}, ValueError, r"opset must be <="),
        ({"opset": "17"}, TypeError, r"opset must be an integer"),
        ({"opset": True}, TypeError, r"opset must be an integer"),
        ({"dtype": "float16"}, ValueError, r"dtype must be 'float32' or 'float64'"),
        ({"dtype": 3}, TypeError, r"dtype must be 'float32' or 'float64'"),
        ({"input_name": ""}, ValueError, r"input_name must be a non-empty name"),
        ({"input_name": "probabilities"}, ValueError, r"input_name must be a non-empty name other than the outputs"),
        ({"input_name": 1}, TypeError, r"input_name must be a str"),
    ],
    ids=repr,
)
def test_bad_arguments_are_rejected(small_model, kwargs, error, message):
    with pytest.raises(error, match=message):
        to_onnx(small_model, **kwargs)


@pytest.mark.parametrize("path", [b"model.onnx", 3, ["model.onnx"]], ids=repr)
def test_a_path_of_the_wrong_type_is_rejected(small_model, path):
    with pytest.raises(TypeError, match=r"path must be a str or os.PathLike"):
        to_onnx(small_model, path)


def test_paths_that_name_no_writable_file_are_rejected_before_anything_is_written(small_model, tmp_path):
    with pytest.raises(ValueError, match=r"path must name a file"):
        to_onnx(small_model, tmp_path)
    with pytest.raises(ValueError, match=r"path must name a file"):
        to_onnx(small_model, "")
    with pytest.raises(ValueError, match=r"the directory .*missing.* does not exist"):
        to_onnx(small_model, tmp_path / "missing" / "model.onnx")
    assert os.listdir(tmp_path) == []


def test_the_method_writes_the_same_graph(tmp_path):
    model = fnet.Sequential([fnet.Dense(5, activation="relu"), fnet.Dense(3)], input_dim=4, seed=1)
    proto = model.to_onnx(tmp_path / "model.onnx")
    assert (tmp_path / "model.onnx").read_bytes() == proto.SerializeToString()
    assert proto.SerializeToString() == to_onnx(model).SerializeToString()
