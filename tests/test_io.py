"""Tests of ferronet.io: model files (safetensors), resuming training, atomic saves, hostile files, pickling."""

from __future__ import annotations

import copy
import importlib.util
import json
import os
import pickle
import struct
import subprocess
import sys
from pathlib import Path
from typing import Any

import ferronet as fnet
import joblib
import numpy as np
import pytest
import safetensors.numpy
from conftest import assert_weights_equal, classification_data, weights_equal
from ferronet import io
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from safetensors import safe_open

ROOT = Path(__file__).resolve().parents[1]
ACTIVATIONS = ("relu", "leaky_relu", "sigmoid", "tanh", "linear")


def data(n: int = 40, d: int = 4, k: int = 3) -> tuple[np.ndarray, np.ndarray]:
    return classification_data(n=n, d=d, k=k, seed=1)


def every_layer_model(activation: str = "relu", dtype: str = "float32", seed: int = 3) -> fnet.Sequential:
    """Dense, BatchNorm, Dropout, DropConnect and Activation layers in one small model."""
    return fnet.Sequential(
        [
            fnet.Dense(6, activation=activation),
            fnet.BatchNorm(momentum=0.8),
            fnet.Dropout(0.25),
            fnet.Dense(5, activation="tanh", dropconnect=0.2),
            fnet.Activation(activation),
            fnet.Dense(3),
        ],
        input_dim=4,
        dtype=dtype,
        seed=seed,
        l2=1e-3,
        l1=1e-4,
    )


def trained(model: fnet.Sequential, optimizer: Any = None, epochs: int = 2) -> fnet.Sequential:
    X, y = data()
    model.fit(X, y, epochs=epochs, batch_size=8, optimizer=optimizer or fnet.optim.SGD(lr=0.05, momentum=0.9))
    return model


def assert_same_model(a: fnet.Sequential, b: fnet.Sequential) -> None:
    assert a.config() == b.config()
    if a.built:
        assert_weights_equal(a.get_weights(), b.get_weights())
        X, _ = data()
        np.testing.assert_array_equal(a.forward(X), b.forward(X))
        np.testing.assert_array_equal(a.predict(X), b.predict(X))
        sa, sb = a._engine.counters, b._engine.counters
        assert (sa["step"], sa["epochs"]) == (sb["step"], sb["epochs"])


# ============================================================================================== round trips


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_round_trip_every_layer_kind(tmp_path, activation, dtype):
    model = trained(every_layer_model(activation, dtype))
    path = tmp_path / "model.safetensors"
    model.save(path)
    loaded = fnet.load(path)
    assert loaded.dtype == dtype
    assert [type(layer) for layer in loaded.layers] == [type(layer) for layer in model.layers]
    assert_same_model(model, loaded)
    # BatchNorm's running statistics moved away from their start (0, 1) and survived.
    stats = loaded.get_weights()[1]
    assert not np.allclose(stats["running_mean"], 0) and not np.allclose(stats["running_var"], 1)


@pytest.mark.parametrize(
    ("last", "loss"),
    [
        ("softmax", "softmax_cross_entropy"),
        ("sigmoid", "binary_cross_entropy"),
        ("linear", "mse"),
        (None, "hinge"),
    ],
)
def test_round_trip_losses_and_heads(tmp_path, last, loss):
    model = fnet.Sequential(
        [fnet.Dense(5, activation="relu"), fnet.Dense(3, activation=last)],
        input_dim=4,
        loss=loss,
        seed=2**64 - 1,
        penalty_per_sample=True,
        l2=0.5,
    )
    path = tmp_path / "m.safetensors"
    fnet.io.save(model, str(path))
    loaded = fnet.io.load(str(path))
    assert loaded.loss == loss and loaded.seed == 2**64 - 1 and loaded.penalty_per_sample
    assert_same_model(model, loaded)


def test_file_is_plain_safetensors_with_expected_names_and_metadata(tmp_path):
    model = trained(every_layer_model(), optimizer=fnet.optim.Adam(lr=0.01))
    path = tmp_path / "m.safetensors"
    model.save(path, include_optimizer=True)
    tensors = safetensors.numpy.load_file(str(path))
    weights = model.get_weights()
    layer_names = {f"layers.{i}.{k}" for i, layer in enumerate(weights) for k in layer}
    assert layer_names == {
        "layers.0.W",
        "layers.0.b",
        "layers.1.gamma",
        "layers.1.beta",
        "layers.1.running_mean",
        "layers.1.running_var",
        "layers.3.W",
        "layers.3.b",
        "layers.5.W",
        "layers.5.b",
    }
    for name in layer_names:
        _, index, key = name.split(".")
        np.testing.assert_array_equal(tensors[name], weights[int(index)][key])
    state = model.state_dict()["tensors"]
    optimizer_names = {name for name in tensors if name.startswith("optimizer.")}
    trainable = {name for name in layer_names if not name.endswith(("running_mean", "running_var"))}
    expected = {f"optimizer.{n.split('.', 1)[1]}.{slot}" for n in trainable for slot in ("exp_avg", "exp_avg_sq")}
    assert optimizer_names == expected
    np.testing.assert_array_equal(tensors["optimizer.3.W.exp_avg"], state["optimizer.3.W.exp_avg"])
    np.testing.assert_array_equal(tensors["optimizer.1.gamma.exp_avg_sq"], state["optimizer.1.gamma.exp_avg_sq"])

    with safe_open(str(path), "np") as file:
        metadata = file.metadata()
    assert metadata["format"] == "ferronet.model" and metadata["format_version"] == "1"
    assert metadata["ferronet_version"] == fnet.__version__
    assert json.loads(metadata["config"]) == model.config()
    assert json.loads(metadata["counters"]) == {"step": 10, "updates": 10, "epochs": 2, "optimizer_epochs": 2}
    optimizer = json.loads(metadata["optimizer"])
    assert optimizer["config"] == {"kind": "adam", "lr": 0.01, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8}
    assert optimizer["engine"]["kind"] == "adam"


def test_without_optimizer_no_state_is_stored(tmp_path):
    model = trained(every_layer_model())
    path = tmp_path / "m.safetensors"
    model.save(path, include_optimizer=False)
    assert not [name for name in safetensors.numpy.load_file(str(path)) if name.startswith("optimizer.")]
    with safe_open(str(path), "np") as file:
        metadata = file.metadata()
    assert "optimizer" not in metadata
    assert json.loads(metadata["counters"]) == {"step": 10, "updates": 0, "epochs": 2, "optimizer_epochs": 0}
    loaded = fnet.load(path)
    assert loaded.optimizer is None and loaded._engine.optimizer is None


def test_unbuilt_model_round_trips_as_config_only(tmp_path):
    model = fnet.Sequential([fnet.Dense(7, activation="tanh"), fnet.Dropout(0.1), fnet.Dense(3)], seed=5)
    path = tmp_path / "unbuilt.safetensors"
    model.save(path, include_optimizer=True)
    assert safetensors.numpy.load_file(str(path)) == {}
    loaded = fnet.load(path)
    assert not loaded.built and loaded.config() == model.config()
    # Built later by fit, it trains exactly as the original would.
    X, y = data()
    loaded.fit(X, y, epochs=2, batch_size=8)
    model.fit(X, y, epochs=2, batch_size=8)
    assert_weights_equal(model.get_weights(), loaded.get_weights())


def test_built_but_never_trained_and_zero_epoch_fit(tmp_path):
    model = every_layer_model()
    model.save(tmp_path / "a.safetensors", include_optimizer=True)
    assert_same_model(model, fnet.load(tmp_path / "a.safetensors"))
    X, y = data()
    model.fit(X, y, epochs=0, optimizer=fnet.optim.Adam())  # an optimizer without state yet
    model.save(tmp_path / "b.safetensors", include_optimizer=True)
    loaded = fnet.load(tmp_path / "b.safetensors")
    assert loaded._optimizer.config() == model._optimizer.config()
    assert_same_model(model, loaded)


# ============================================================================================== resuming


OPTIMIZERS = {
    "sgd": lambda: fnet.optim.SGD(lr=0.05),
    "momentum": lambda: fnet.optim.SGD(lr=0.05, momentum=0.9),
    "nesterov": lambda: fnet.optim.SGD(lr=0.05, momentum=0.9, nesterov=True),
    "adam": lambda: fnet.optim.Adam(lr=0.01),
    "rmsprop": lambda: fnet.optim.RMSProp(lr=0.01),
}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_resume_is_bit_identical_to_uninterrupted_training(tmp_path, name, dtype):
    """k epochs, save, load, m epochs == k + m epochs in one go (dropout, DropConnect, BatchNorm, shuffle on)."""
    X, y = data()
    k, m = 2, 3
    uninterrupted = every_layer_model(dtype=dtype)
    history = uninterrupted.fit(X, y, epochs=k + m, batch_size=6, optimizer=OPTIMIZERS[name](), shuffle=True)

    first = every_layer_model(dtype=dtype)
    first.fit(X, y, epochs=k, batch_size=6, optimizer=OPTIMIZERS[name](), shuffle=True)
    path = tmp_path / "ckpt.safetensors"
    first.save(path, include_optimizer=True)
    resumed = fnet.load(path)
    resumed_history = resumed.fit(X, y, epochs=m, batch_size=6, shuffle=True)

    assert_weights_equal(uninterrupted.get_weights(), resumed.get_weights())
    assert resumed_history.history["loss"] == history.history["loss"][k:]
    assert resumed._engine.counters == uninterrupted._engine.counters


def test_resume_without_optimizer_state_differs():
    """The resumption test can fail: without the saved moments Adam takes different steps."""
    X, y = data()
    uninterrupted = every_layer_model()
    uninterrupted.fit(X, y, epochs=3, batch_size=6, optimizer=fnet.optim.Adam(lr=0.01))
    first = every_layer_model()
    first.fit(X, y, epochs=1, batch_size=6, optimizer=fnet.optim.Adam(lr=0.01))
    resumed = io.from_bytes(io.to_bytes(first, include_optimizer=False))
    resumed.fit(X, y, epochs=2, batch_size=6, optimizer=fnet.optim.Adam(lr=0.01))
    assert not weights_equal(uninterrupted.get_weights(), resumed.get_weights())


def test_resume_after_train_steps_keeps_the_dropout_stream():
    X, y = data()
    a, b = every_layer_model(), every_layer_model()
    opt_a, opt_b = fnet.optim.RMSProp(lr=0.01), fnet.optim.RMSProp(lr=0.01)
    for start in range(0, 40, 10):
        a.train_step(X[start : start + 10], y[start : start + 10], optimizer=opt_a)
    for start in range(0, 20, 10):
        b.train_step(X[start : start + 10], y[start : start + 10], optimizer=opt_b)
    b = io.from_bytes(io.to_bytes(b))
    for start in range(20, 40, 10):
        b.train_step(X[start : start + 10], y[start : start + 10])
    assert_weights_equal(a.get_weights(), b.get_weights())


# ============================================================================================== atomic saves


def leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.endswith(".tmp"))


@pytest.mark.parametrize("failure", ["serialize", "write", "fsync", "replace"])
def test_failed_save_leaves_nothing_behind_and_keeps_the_old_file(tmp_path, monkeypatch, failure):
    model = trained(every_layer_model())
    path = tmp_path / "model.safetensors"
    path.write_bytes(b"previous contents")

    def broken(*args, **kwargs):
        raise OSError(f"simulated {failure} failure")

    if failure == "serialize":
        monkeypatch.setattr(fnet.Sequential, "_to_bytes", broken)
    elif failure == "write":
        real_fdopen = os.fdopen

        class FailingFile:
            def __init__(self, *args, **kwargs):
                self.file = real_fdopen(*args, **kwargs)

            def __enter__(self):
                return self

            def __exit__(self, *exc):
                self.file.close()

            def write(self, data):
                self.file.write(data[: len(data) // 2])
                raise OSError("simulated write failure: disk full")

        monkeypatch.setattr(io.os, "fdopen", FailingFile)
    elif failure == "fsync":
        monkeypatch.setattr(io.os, "fsync", broken)
    else:
        monkeypatch.setattr(io.os, "replace", broken)
    with pytest.raises(OSError, match="simulated"):
        model.save(path)
    assert path.read_bytes() == b"previous contents"
    assert leftovers(tmp_path) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.safetensors"]


def test_save_into_missing_directory_or_onto_a_directory(tmp_path):
    model = every_layer_model()
    with pytest.raises(FileNotFoundError):
        model.save(tmp_path / "missing" / "m.safetensors")
    assert not (tmp_path / "missing").exists()
    (tmp_path / "adir").mkdir()
    with pytest.raises(OSError):
        model.save(tmp_path / "adir")
    assert leftovers(tmp_path) == [] and list((tmp_path / "adir").iterdir()) == []


def test_save_replaces_an_existing_file_with_normal_permissions(tmp_path):
    path = tmp_path / "m.safetensors"
    path.write_bytes(b"old")
    model = trained(every_layer_model())
    model.save(path)
    assert_same_model(model, fnet.load(path))
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask
    assert leftovers(tmp_path) == []


# ============================================================================================== arguments


def test_path_types_and_bad_arguments(tmp_path):
    model = every_layer_model()
    model.save(str(tmp_path / "s.safetensors"))
    model.save(tmp_path / "p.safetensors")
    assert_same_model(fnet.load(str(tmp_path / "p.safetensors")), fnet.load(tmp_path / "s.safetensors"))
    with pytest.raises(TypeError, match=r"path must be a str or os\.PathLike; got int"):
        model.save(3)
    with pytest.raises(TypeError, match="path"):
        fnet.load(3)
    with pytest.raises(TypeError, match="path"):
        fnet.load(b"m.safetensors")
    with pytest.raises(TypeError, match="include_optimizer must be True or False; got str 'yes'"):
        model.save(tmp_path / "x.safetensors", include_optimizer="yes")
    assert not (tmp_path / "x.safetensors").exists()
    with pytest.raises(TypeError, match=r"model must be a ferronet\.Sequential"):
        io.save("not a model", tmp_path / "y.safetensors")
    with pytest.raises(TypeError, match="data must be bytes"):
        io.from_bytes("a string")
    with pytest.raises(ValueError, match="path must name a file"):
        fnet.load("")


def test_missing_file_or_directory_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"cannot read path .*No such file or directory"):
        fnet.load(tmp_path / "nothing.safetensors")
    with pytest.raises(IsADirectoryError, match="is a directory; give a file name"):
        fnet.load(tmp_path)


# ============================================================================================== hostile files


def file_parts(data: bytes) -> tuple[dict[str, Any], bytes]:
    (length,) = struct.unpack("<Q", data[:8])
    return json.loads(data[8 : 8 + length]), data[8 + length :]


def assemble(header: dict[str, Any], body: bytes, length: int | None = None) -> bytes:
    raw = json.dumps(header).encode()
    return struct.pack("<Q", len(raw) if length is None else length) + raw + body


def valid_bytes() -> bytes:
    return io.to_bytes(trained(every_layer_model(), optimizer=fnet.optim.Adam(lr=0.01)), include_optimizer=True)


def edit_header(edit) -> bytes:
    header, body = file_parts(valid_bytes())
    result = edit(header, body)
    return assemble(header, result if isinstance(result, bytes) else body)


def edit_meta(key: str, edit) -> bytes:
    def change(header, body):
        value = json.loads(header["__metadata__"][key])
        header["__metadata__"][key] = json.dumps(edit(value) if callable(edit) else edit)

    return edit_header(change)


def set_tensor(name: str, **fields):
    def change(header, body):
        header[name].update(fields)

    return change


def replace_values(name: str, value: float):
    """Keep the header, overwrite a tensor's bytes with ``value``."""

    def change(header, body):
        begin, end = header[name]["data_offsets"]
        dtype = {"F32": np.float32, "F64": np.float64}[header[name]["dtype"]]
        fill = np.full((end - begin) // np.dtype(dtype).itemsize, value, dtype=dtype).tobytes()
        return body[:begin] + fill + body[end:]

    return change


def drop_tensor(name: str):
    def change(header, body):
        begin, end = header.pop(name)["data_offsets"]
        for entry in header.values():
            if "data_offsets" in entry and entry["data_offsets"][0] >= end:
                entry["data_offsets"] = [o - (end - begin) for o in entry["data_offsets"]]
        return body[:begin] + body[end:]

    return change


def add_tensor(name: str, dtype: str = "F32", shape: tuple[int, ...] = (2,)):
    def change(header, body):
        nbytes = int(np.prod(shape)) * (4 if dtype == "F32" else 8)
        header[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [len(body), len(body) + nbytes]}
        return body + bytes(nbytes)

    return change


def png_bytes() -> bytes:
    return b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(200)


def idx_bytes() -> bytes:
    # An IDX header (uint8, 3 dimensions 3x4x5) and its data, as fnet.datasets.write_idx writes it.
    return b"\x00\x00\x08\x03" + struct.pack(">3I", 3, 4, 5) + bytes(range(60))


def retype_all(dtype: str):
    """Declare every tensor as another dtype, with consistent offsets (the data is reinterpreted)."""

    def change(header, body):
        position = 0
        for name in sorted((n for n in header if n != "__metadata__"), key=lambda n: header[n]["data_offsets"]):
            nbytes = int(np.prod(header[name]["shape"])) * (4 if dtype == "F32" else 8)
            header[name].update(dtype=dtype, data_offsets=[position, position + nbytes])
            position += nbytes
        return bytes(position)

    return change


def overlap(header, body):
    """Shift the second tensor of the data section 4 bytes back, into the first."""
    _, second = sorted((n for n in header if n != "__metadata__"), key=lambda n: header[n]["data_offsets"])[:2]
    header[second]["data_offsets"] = [o - 4 for o in header[second]["data_offsets"]]


def with_config(edit):
    return lambda: edit_meta("config", edit)


# (case, bytes, a fragment of the expected message)
HOSTILE: list[tuple[str, Any, str]] = [
    ("empty", lambda: b"", "shorter than the 8-byte header size"),
    ("four bytes", lambda: b"\x01\x02\x03\x04", "shorter than the 8-byte"),
    ("zero-filled", lambda: bytes(4096), "header is empty"),
    ("png", png_bytes, "claim a header of"),
    ("idx file", idx_bytes, "claim a header of"),
    ("header longer than file", lambda: struct.pack("<Q", 10_000) + b"{}", "truncated"),
    ("huge header length", lambda: struct.pack("<Q", 2**63) + bytes(64), "at most"),
    ("header over the cap", lambda: struct.pack("<Q", 100 * 2**20 + 1) + bytes(64), "at most"),
    ("bad json header", lambda: struct.pack("<Q", 10) + b"{not json}", "not valid safetensors JSON"),
    ("json array header", lambda: assemble([1, 2], b""), "expected a safetensors header (a JSON object)"),  # type: ignore[arg-type]
    ("invalid utf-8 header", lambda: struct.pack("<Q", 4) + b"\xff\xfe\xfd\xfc", "not valid safetensors JSON"),
    (
        "deeply nested header",
        lambda: struct.pack("<Q", 400_000) + b"[" * 200_000 + b"]" * 200_000,
        "not valid safetensors JSON",
    ),
    ("NaN literal in header", lambda: struct.pack("<Q", 11) + b'{"a": NaN }', "not valid safetensors JSON"),
    (
        "duplicate metadata keys",
        lambda: edit_header(lambda h, b: None).replace(b'"format":', b'"format":"x","format":', 1),
        "duplicate keys",
    ),
    (
        "foreign safetensors without metadata",
        lambda: safetensors.numpy.save({"weight": np.ones((2, 2), np.float32)}),
        "without metadata",
    ),
    (
        "foreign safetensors (pt format)",
        lambda: safetensors.numpy.save({"weight": np.ones(3, np.float32)}, metadata={"format": "pt"}),
        "not a ferronet model file: its metadata format is 'pt'",
    ),
    (
        "newer format version",
        lambda: edit_header(lambda h, b: h["__metadata__"].update(format_version="2")),
        "format version '2'",
    ),
    (
        "metadata value not a string",
        lambda: edit_header(lambda h, b: h["__metadata__"].update(config=5)),
        "expected a string",
    ),
    ("metadata without config", lambda: edit_header(lambda h, b: h["__metadata__"].pop("config")), "no 'config' entry"),
    (
        "huge tensor claim",
        lambda: edit_header(set_tensor("layers.0.b", shape=[10**15], data_offsets=[0, 4 * 10**15])),
        "of shape [1000000000000000]; the model config implies [6]",
    ),
    (
        "shape and offsets disagree",
        lambda: edit_header(set_tensor("layers.0.W", data_offsets=[0, 8])),
        "needs 96 bytes",
    ),
    ("negative dimension", lambda: edit_header(set_tensor("layers.0.W", shape=[-4, 6])), "invalid value: integer `-4`"),
    ("float dimension", lambda: edit_header(set_tensor("layers.0.W", shape=[4.0, 6])), "invalid type: floating point"),
    ("bool dimension", lambda: edit_header(set_tensor("layers.0.b", shape=[True])), "invalid type: boolean"),
    (
        "offsets not a pair",
        lambda: edit_header(set_tensor("layers.0.b", data_offsets=[0])),
        "expected an array of length 2",
    ),
    ("missing entry field", lambda: edit_header(lambda h, b: h["layers.0.b"].pop("dtype")), "missing field `dtype`"),
    (
        "offsets out of range",
        lambda: edit_header(lambda h, b: h["layers.0.b"].update(data_offsets=[len(b), len(b) + 24])),
        "ends at byte",
    ),
    ("overlapping offsets", lambda: edit_header(overlap), "overlaps another tensor"),
    ("unknown tensor dtype", lambda: edit_header(set_tensor("layers.0.b", dtype="I32")), "of dtype 'I32'"),
    ("dtype differs from config", lambda: edit_header(retype_all("F64")), "model's dtype is float32"),
    ("missing weight tensor", lambda: edit_header(drop_tensor("layers.3.W")), "missing tensors ['layers.3.W']"),
    (
        "missing optimizer tensor",
        lambda: edit_header(drop_tensor("optimizer.3.W.exp_avg")),
        "missing tensors ['optimizer.3.W.exp_avg']",
    ),
    ("extra tensor", lambda: edit_header(add_tensor("layers.2.W")), "unexpected tensors ['layers.2.W']"),
    (
        "optimizer state for running statistics",
        lambda: edit_header(add_tensor("optimizer.1.running_mean.exp_avg", shape=(6,))),
        "unexpected tensors",
    ),
    ("wrong shape", lambda: edit_header(set_tensor("layers.0.W", shape=[6, 4])), "config implies [4, 6]"),
    ("NaN weights", lambda: edit_header(replace_values("layers.3.W", np.nan)), "'layers.3.W' contains NaN"),
    (
        "infinite optimizer state",
        lambda: edit_header(replace_values("optimizer.0.W.exp_avg_sq", np.inf)),
        "contains NaN or infinity",
    ),
    ("negative running variance", lambda: edit_header(replace_values("layers.1.running_var", -1.0)), ">= 0"),
    ("truncated data", lambda: valid_bytes()[:-5], "ends at byte"),
    ("trailing bytes", lambda: valid_bytes() + bytes(16), "the data section has"),
    (
        "config not json",
        lambda: edit_header(lambda h, b: h["__metadata__"].update(config="{layers")),
        "the model config is not valid",
    ),
    ("config missing key", with_config(lambda c: {k: v for k, v in c.items() if k != "loss"}), "missing field `loss`"),
    ("unknown layer kind", with_config(lambda c: {**c, "layers": [{"kind": "conv"}]}), "unknown variant `conv`"),
    (
        "layer with bad units",
        with_config(lambda c: {**c, "layers": [{**c["layers"][0], "units": "six"}, *c["layers"][1:]]}),
        'invalid type: string "six", expected usize',
    ),
    (
        "layer with unknown argument",
        with_config(lambda c: {**c, "layers": [{**c["layers"][0], "bias": True}, *c["layers"][1:]]}),
        "bias",
    ),
    ("layers not a list", with_config(lambda c: {**c, "layers": {"kind": "dense"}}), "expected a sequence"),
    ("unknown loss", with_config(lambda c: {**c, "loss": "nll"}), "loss must be one of"),
    ("unknown dtype", with_config(lambda c: {**c, "dtype": "float16"}), "dtype must be"),
    ("null dtype", with_config(lambda c: {**c, "dtype": None}), "invalid type: null, expected a string"),
    ("dtype alias", with_config(lambda c: {**c, "dtype": "f4"}), "dtype must be 'float32' or 'float64'; got 'f4'"),
    ("huge input_dim", with_config(lambda c: {**c, "input_dim": 10**15}), "input_dim must be between 1 and"),
    ("negative seed", with_config(lambda c: {**c, "seed": -1}), "invalid value: integer `-1`, expected u64"),
    ("null seed", with_config(lambda c: {**c, "seed": None}), "invalid type: null, expected u64"),
    (
        "negative counter",
        lambda: edit_meta("counters", lambda c: {**c, "step": -1}),
        "the counters metadata is not valid",
    ),
    (
        "counter too large",
        lambda: edit_meta("counters", lambda c: {**c, "epochs": 2**64}),
        "the counters metadata is not valid",
    ),
    (
        "unknown optimizer",
        lambda: edit_meta("optimizer", lambda o: {**o, "config": {"kind": "lbfgs"}}),
        "unknown variant `lbfgs`",
    ),
    (
        "optimizer with bad lr",
        lambda: edit_meta("optimizer", lambda o: {**o, "engine": {**o["engine"], "lr": "x"}}),
        'invalid type: string "x", expected f64',
    ),
    ("optimizer meta not a dict", lambda: edit_meta("optimizer", [1, 2]), "the optimizer metadata is not valid"),
]


@pytest.mark.parametrize(("case", "make", "reason"), HOSTILE, ids=[case for case, _, _ in HOSTILE])
def test_hostile_files_raise_value_error_naming_the_file(tmp_path, case, make, reason):
    content = make()
    path = tmp_path / "hostile.safetensors"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=r"hostile\.safetensors") as error:
        fnet.load(path)
    assert reason in str(error.value)
    with pytest.raises(ValueError, match="model bytes") as error:
        io.from_bytes(content)
    assert reason in str(error.value)


def test_the_editing_helpers_alone_give_a_loadable_file():
    """Applied without a change, the hostile cases' editing gives a file that loads (so each case tests its edit)."""
    model = io.from_bytes(edit_header(lambda header, body: None))
    assert model.built and model._optimizer.config()["kind"] == "adam"
    assert io.from_bytes(edit_meta("config", lambda c: c)).config() == model.config()


def test_huge_claims_are_rejected_without_allocating():
    import tracemalloc

    content = edit_header(set_tensor("layers.0.W", shape=[10**6, 10**6], data_offsets=[0, 4 * 10**12]))
    tracemalloc.start()
    with pytest.raises(ValueError, match=r"of shape \[1000000, 1000000\]"):
        io.from_bytes(content)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 10 * len(content) + 1_000_000


VALID = valid_bytes()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    cut=st.integers(min_value=0, max_value=len(VALID)),
    flips=st.lists(
        st.tuples(st.integers(min_value=0, max_value=len(VALID) - 1), st.integers(min_value=0, max_value=255)),
        max_size=4,
    ),
)
def test_random_corruption_loads_or_raises_value_error(cut, flips):
    content = bytearray(VALID)
    for position, value in flips:
        content[position] = value
    content = bytes(content[:cut]) if cut < len(content) else bytes(content)
    try:
        model = io.from_bytes(content)
    except ValueError as error:
        assert "model bytes" in str(error)
        return
    # Whatever loaded is a usable model.
    if model.built:
        X, _ = data()
        assert model.predict(X).shape == (X.shape[0],)


# ============================================================================================== pickling


def models_to_pickle() -> dict[str, fnet.Sequential]:
    unbuilt = fnet.Sequential([fnet.Dense(4, activation="relu"), fnet.Dense(3)], seed=9)
    return {
        "unbuilt": unbuilt,
        "built": every_layer_model(dtype="float64"),
        "trained": trained(every_layer_model(), optimizer=fnet.optim.SGD(lr=0.05, momentum=0.9, nesterov=True)),
    }


@pytest.mark.parametrize("how", ["pickle", "deepcopy", "joblib"])
@pytest.mark.parametrize("kind", ["unbuilt", "built", "trained"])
def test_pickle_deepcopy_and_joblib_round_trip(tmp_path, how, kind):
    model = models_to_pickle()[kind]
    if how == "pickle":
        clone = pickle.loads(pickle.dumps(model))
    elif how == "deepcopy":
        clone = copy.deepcopy(model)
    else:
        joblib.dump(model, tmp_path / "model.joblib")
        clone = joblib.load(tmp_path / "model.joblib")
    assert clone is not model and isinstance(clone, fnet.Sequential)
    assert_same_model(model, clone)
    if model.built:
        assert clone._engine is not model._engine
        state, cloned_state = model.state_dict(), clone.state_dict()
        assert cloned_state["meta"] == state["meta"]
        assert set(cloned_state["tensors"]) == set(state["tensors"])
        for name, array in state["tensors"].items():
            np.testing.assert_array_equal(array, cloned_state["tensors"][name])
    if model._optimizer is not None:
        assert clone._optimizer.config() == model._optimizer.config()
    # Training the clone continues exactly as the original does.
    X, y = data()
    model.fit(X, y, epochs=1, batch_size=8)
    clone.fit(X, y, epochs=1, batch_size=8)
    assert_weights_equal(model.get_weights(), clone.get_weights())


def test_pickle_holds_no_python_objects_but_the_loader():
    """The pickle is a call to ferronet.model._from_pickle on the safe file bytes: nothing else is unpickled."""
    payload = pickle.dumps(trained(every_layer_model()))
    ops = {op.name for op, _, _ in __import__("pickletools").genops(payload)}
    assert ops & {"GLOBAL", "STACK_GLOBAL"}
    assert b"ferronet.model" in payload and b"_from_pickle" in payload
    assert b"Sequential" not in payload


# ============================================================================================== fuzz harness


@pytest.mark.skipif(importlib.util.find_spec("atheris") is None, reason="atheris is not installed")
def test_fuzz_harness_runs_clean():
    result = subprocess.run(
        [sys.executable, str(ROOT / "fuzz" / "fuzz_load.py"), "-runs=1500", "-seed=1"],
        capture_output=True,
        text=True,
        timeout=240,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Done 1500 runs" in result.stderr
