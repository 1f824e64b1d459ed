"""Model files: safetensors with the architecture and training state as JSON metadata.

A file is a plain safetensors file (``safetensors.numpy.load_file`` reads it). Tensors are named per layer index:
``layers.0.W``, ``layers.0.b``, ``layers.2.running_mean`` ...; with ``include_optimizer=True`` the optimizer's
per-parameter state follows torch's names: ``optimizer.0.W.momentum_buffer`` (SGD), ``optimizer.0.W.exp_avg`` and
``exp_avg_sq`` (Adam), ``optimizer.0.W.square_avg`` (RMSProp). The metadata (string -> string) holds:

- ``format`` = "ferronet.model", ``format_version`` = "1", ``ferronet_version``;
- ``config``: ``Sequential.config()`` as JSON (layers, input_dim, loss, l1, l2, dtype, seed, penalty_per_sample);
- ``counters``: the engine's ``step`` (keys dropout masks), ``updates`` (Adam's step count) and ``epochs`` (keys
  the shuffle), so that training resumes with the same random streams;
- ``optimizer`` (only with ``include_optimizer``): the Python optimizer's config (the learning rate a schedule
  starts from) and the engine's (the rate in use), whose state tensors are stored.

Reading trusts nothing: the 8-byte header length and the JSON header are parsed and checked here (sizes, dtypes,
shapes, offsets, names, the config) before the data is read or anything is built, so a truncated, corrupted,
foreign or hostile file raises ``ValueError`` naming the file and the reason, never a crash or a huge allocation.
Writes are atomic: a temporary file in the same directory, fsync, then ``os.replace``.
"""

from __future__ import annotations

import json
import math
import os
import secrets
import struct
from pathlib import Path
from typing import Any

import numpy as np
import safetensors.numpy

from ._validation import check_bool
from .layers import MAX_UNITS, BatchNorm, Dense, layer_from_config
from .model import Sequential
from .optim import optimizer_from_config

FORMAT = "ferronet.model"
FORMAT_VERSION = "1"

#: A header larger than this is rejected before it is read (ours are a few kB).
MAX_HEADER_BYTES = 100 * 1024 * 1024

#: The engine's optimizer state slots ("first", "second") under torch's names, per optimizer kind.
SLOT_NAMES = {
    "sgd": {"first": "momentum_buffer"},
    "adam": {"first": "exp_avg", "second": "exp_avg_sq"},
    "rmsprop": {"second": "square_avg"},
}

_SAFETENSORS_DTYPES = {"float32": "F32", "float64": "F64"}
_COUNTERS = ("step", "updates", "epochs")
_CONFIG_KEYS = {"layers", "input_dim", "loss", "l1", "l2", "dtype", "seed", "penalty_per_sample"}
_U64_MAX = 2**64 - 1
#: BatchNorm's running statistics are stored with the weights but have no optimizer state.
_NOT_TRAINED = ("running_mean", "running_var")


# ----------------------------------------------------------------------------------------------- writing


def to_bytes(model: Sequential, include_optimizer: bool = True) -> bytes:
    """The model as the bytes of a safetensors file (what ``save`` writes; pickling uses this too)."""
    if not isinstance(model, Sequential):
        raise TypeError(f"model must be a ferronet.Sequential; got {type(model).__name__}")
    include_optimizer = check_bool(include_optimizer, "include_optimizer")
    engine = model._engine
    tensors: dict[str, np.ndarray] = {}
    counters = {"step": 0, "updates": 0, "epochs": 0}
    optimizer_meta: dict[str, Any] = {"config": None, "engine": None}
    if engine is not None:
        for index, layer_weights in enumerate(model.get_weights()):
            for name, array in layer_weights.items():
                tensors[f"layers.{index}.{name}"] = np.ascontiguousarray(array)
        state = engine.get_state()
        counters = {key: int(state[key]) for key in _COUNTERS}
        if include_optimizer and state["optimizer"] is not None:
            engine_config = dict(state["optimizer"])
            optimizer_meta["engine"] = engine_config
            for slot, slot_name in SLOT_NAMES[engine_config["kind"]].items():
                for index, layer_slots in enumerate(state["slots"]):
                    for name, entry in layer_slots.items():
                        if slot in entry:
                            tensors[f"optimizer.{index}.{name}.{slot_name}"] = np.ascontiguousarray(entry[slot])
    if include_optimizer and model._optimizer is not None:
        optimizer_meta["config"] = model._optimizer.config()
    if not include_optimizer:
        counters["updates"] = 0  # no optimizer state is stored: the next optimizer starts fresh
    metadata = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "ferronet_version": _package_version(),
        "config": json.dumps(model.config()),
        "counters": json.dumps(counters),
    }
    if include_optimizer:
        metadata["optimizer"] = json.dumps(optimizer_meta)
    return safetensors.numpy.save(tensors, metadata=metadata)


def save(model: Sequential, path: str | os.PathLike[str], include_optimizer: bool = False) -> None:
    """Write ``model`` to ``path`` as a safetensors file, atomically: an existing file is replaced only by a
    complete new one, and a failed save leaves nothing behind."""
    target = _as_path(path)
    data = to_bytes(model, include_optimizer=include_optimizer)  # fails before any file is touched
    _atomic_write(target, data)


def _atomic_write(target: Path, data: bytes) -> None:
    directory = target.parent
    while True:  # a fresh name: O_EXCL never follows or clobbers another file; mode 0o666 & ~umask as open() gives
        temporary = directory / f".{target.name}.{secrets.token_hex(6)}.tmp"
        try:
            fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
            break
        except FileExistsError:
            continue
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    _fsync_directory(directory)


def _fsync_directory(directory: Path) -> None:
    """Make the rename durable (POSIX); best effort where directories cannot be opened."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# ----------------------------------------------------------------------------------------------- reading


def load(path: str | os.PathLike[str]) -> Sequential:
    """Read a model written by ``save``. A missing path (or a directory) raises ``FileNotFoundError``; a file that
    is not a valid ferronet model file raises ``ValueError`` naming the file and the reason."""
    target = _as_path(path)
    if not target.is_file():
        what = "is not a file" if target.exists() else "does not exist"
        raise FileNotFoundError(f"cannot load a model: {str(target)!r} {what}")
    source = f"model file {str(target)!r}"
    with open(target, "rb") as file:
        size = os.fstat(file.fileno()).st_size
        prefix = file.read(8)
        header_length = _read_header_length(prefix, size, source)
        raw_header = file.read(header_length)
        header = _parse_header(raw_header, header_length, source)
        tensors_spec, metadata = _check_header(header, size - 8 - header_length, source)
        plan = _plan(metadata, tensors_spec, source)  # everything is checked before the data is read
        body = file.read(size - 8 - header_length)
    if len(body) != size - 8 - header_length:
        raise ValueError(f"{source} changed while it was read (truncated to {8 + header_length + len(body)} bytes)")
    return _build(plan, prefix + raw_header + body, source)


def from_bytes(data: bytes | bytearray | memoryview) -> Sequential:
    """The model in ``data`` (bytes of a file written by ``save`` or ``to_bytes``)."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"data must be bytes (a ferronet model file's contents); got {type(data).__name__}")
    data = bytes(data)
    source = "model bytes"
    header_length = _read_header_length(data[:8], len(data), source)
    header = _parse_header(data[8 : 8 + header_length], header_length, source)
    tensors_spec, metadata = _check_header(header, len(data) - 8 - header_length, source)
    plan = _plan(metadata, tensors_spec, source)
    return _build(plan, data, source)


def _read_header_length(prefix: bytes, size: int, source: str) -> int:
    if len(prefix) < 8 or size < 8:
        raise ValueError(f"{source} is not a safetensors file: it is {size} bytes, shorter than the 8-byte header size")
    length: int
    (length,) = struct.unpack("<Q", prefix)
    if length == 0:
        raise ValueError(f"{source} is not a safetensors file: its header is empty (zero-filled or truncated file?)")
    if length > MAX_HEADER_BYTES:
        raise ValueError(
            f"{source} is not a valid safetensors file: its header claims {length} bytes (at most {MAX_HEADER_BYTES})"
        )
    if length > size - 8:
        raise ValueError(
            f"{source} is truncated or not a safetensors file: its header claims {length} bytes but only "
            f"{size - 8} follow the header size"
        )
    return length


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not valid JSON")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise ValueError("duplicate keys")
    return result


def _json(text: bytes | str, what: str, source: str) -> Any:
    try:
        return json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as error:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise ValueError(f"{source} is corrupted: {what} is not valid JSON ({error})") from None


def _parse_header(raw: bytes, length: int, source: str) -> dict[str, Any]:
    if len(raw) != length:
        raise ValueError(f"{source} is truncated: the header claims {length} bytes, {len(raw)} could be read")
    header = _json(raw, "the safetensors header", source)
    if not isinstance(header, dict):
        raise ValueError(f"{source} is corrupted: the safetensors header must be a JSON object")
    return header


def _check_header(header: dict[str, Any], data_length: int, source: str) -> tuple[dict[str, Any], dict[str, str]]:
    """The tensor entries (dtype, shape, offsets) checked against the data section, and the metadata."""
    metadata = header.get("__metadata__")
    if metadata is None:
        raise ValueError(f"{source} is a safetensors file without metadata: not a ferronet model file")
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise ValueError(f"{source} is corrupted: the safetensors metadata must map strings to strings")
    if metadata.get("format") != FORMAT:
        raise ValueError(
            f"{source} is not a ferronet model file: its metadata format is {metadata.get('format')!r}, "
            f"expected {FORMAT!r}"
        )
    if metadata.get("format_version") != FORMAT_VERSION:
        raise ValueError(
            f"{source} has format version {metadata.get('format_version')!r}; this ferronet reads version "
            f"{FORMAT_VERSION!r} (upgrade ferronet?)"
        )
    spans = []
    tensors = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        what = f"tensor {name!r}"
        if not isinstance(entry, dict) or set(entry) != {"dtype", "shape", "data_offsets"}:
            raise ValueError(f"{source} is corrupted: {what} must have exactly dtype, shape and data_offsets")
        dtype, shape, offsets = entry["dtype"], entry["shape"], entry["data_offsets"]
        if dtype not in _SAFETENSORS_DTYPES.values():
            raise ValueError(f"{source}: {what} has dtype {dtype!r}; ferronet files hold F32 or F64 tensors")
        if not isinstance(shape, list) or not all(_is_size(s) for s in shape):
            raise ValueError(f"{source} is corrupted: {what} has an invalid shape {shape!r}")
        if not isinstance(offsets, list) or len(offsets) != 2 or not all(_is_size(o) for o in offsets):
            raise ValueError(f"{source} is corrupted: {what} has invalid data_offsets {offsets!r}")
        begin, end = offsets
        nbytes = math.prod(shape) * (4 if dtype == "F32" else 8)
        if end < begin or end - begin != nbytes:
            raise ValueError(
                f"{source} is corrupted: {what} of shape {shape} and dtype {dtype} needs {nbytes} bytes but its "
                f"offsets {offsets} span {end - begin}"
            )
        if end > data_length:
            raise ValueError(
                f"{source} is truncated or corrupted: {what} ends at byte {end} of a data section of {data_length}"
            )
        spans.append((begin, end, name))
        tensors[name] = (dtype, tuple(shape))
    position = 0
    for begin, end, name in sorted(spans):
        if begin != position:
            kind = "overlaps another tensor" if begin < position else "leaves a gap before it"
            raise ValueError(f"{source} is corrupted: tensor {name!r} {kind} (starts at {begin}, expected {position})")
        position = end
    if position != data_length:
        raise ValueError(
            f"{source} is corrupted: the tensors take {position} bytes but the data section has {data_length}"
        )
    return tensors, metadata


def _is_size(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= _U64_MAX


class _Plan:
    """What a checked file will build: the model (not yet constructed) and the arrays to expect."""

    def __init__(self) -> None:
        self.config: dict[str, Any] = {}
        self.counters: dict[str, int] = {}
        self.weight_names: list[list[str]] = []
        self.optimizer_config: dict[str, Any] | None = None
        self.engine_optimizer: dict[str, Any] | None = None


def _plan(metadata: dict[str, str], tensors: dict[str, tuple[str, tuple[int, ...]]], source: str) -> _Plan:
    """Check the metadata and that the tensors are exactly those the config implies (names, dtypes, shapes)."""
    plan = _Plan()
    for key in ("config", "counters"):
        if key not in metadata:
            raise ValueError(f"{source} is corrupted: its metadata has no {key!r} entry")
    config = _json(metadata["config"], "the model config", source)
    if not isinstance(config, dict) or set(config) != _CONFIG_KEYS:
        keys = sorted(config) if isinstance(config, dict) else type(config).__name__
        raise ValueError(
            f"{source} is corrupted: the model config must have the keys {sorted(_CONFIG_KEYS)}; got {keys}"
        )
    layers_config = config["layers"]
    if not isinstance(layers_config, list) or not layers_config:
        raise ValueError(f"{source} is corrupted: the model config's layers must be a non-empty list")
    try:
        layers = [layer_from_config(layer) for layer in layers_config]
        # Constructing Sequential without input_dim checks every other field and allocates nothing.
        Sequential(
            layers,
            loss=config["loss"],
            l1=config["l1"],
            l2=config["l2"],
            dtype=config["dtype"],
            seed=config["seed"],
            penalty_per_sample=config["penalty_per_sample"],
        )
    except (TypeError, ValueError) as error:
        raise ValueError(f"{source} holds an invalid model config: {error}") from None
    if config["seed"] is None:
        raise ValueError(f"{source} holds an invalid model config: seed is null")
    if config["dtype"] not in _SAFETENSORS_DTYPES:  # Sequential also takes aliases (None, "f4"); files never do
        raise ValueError(
            f"{source} holds an invalid model config: dtype must be 'float32' or 'float64'; got {config['dtype']!r}"
        )
    input_dim = config["input_dim"]
    if input_dim is not None and not (_is_size(input_dim) and 1 <= input_dim <= MAX_UNITS):
        raise ValueError(
            f"{source} holds an invalid model config: input_dim must be in 1..{MAX_UNITS}; got {input_dim!r}"
        )
    plan.config = config

    counters = _json(metadata["counters"], "the counters", source)
    if not isinstance(counters, dict) or set(counters) != set(_COUNTERS) or not all(map(_is_size, counters.values())):
        raise ValueError(f"{source} is corrupted: counters must map {', '.join(_COUNTERS)} to integers >= 0")
    plan.counters = counters

    expected: dict[str, tuple[int, ...]] = {}
    width = input_dim
    if input_dim is not None:
        for index, layer in enumerate(layers):
            names: list[str] = []
            if isinstance(layer, Dense):
                names = ["W", "b"]
                expected[f"layers.{index}.W"] = (width, layer.units)
                expected[f"layers.{index}.b"] = (layer.units,)
                width = layer.units
            elif isinstance(layer, BatchNorm):
                names = ["gamma", "beta", "running_mean", "running_var"]
                expected.update({f"layers.{index}.{name}": (width,) for name in names})
            plan.weight_names.append(names)

    if "optimizer" in metadata:
        expected.update(_plan_optimizer(plan, metadata["optimizer"], expected, tensors, source))

    missing = sorted(set(expected) - set(tensors))
    extra = sorted(set(tensors) - set(expected))
    if missing or extra:
        parts = ([f"missing tensors {missing[:5]}"] if missing else []) + (
            [f"unexpected tensors {extra[:5]}"] if extra else []
        )
        raise ValueError(f"{source} does not match its model config: {'; '.join(parts)}")
    dtype = _SAFETENSORS_DTYPES[config["dtype"]]
    for name, shape in expected.items():
        got_dtype, got_shape = tensors[name]
        if got_dtype != dtype:
            raise ValueError(
                f"{source}: tensor {name!r} has dtype {got_dtype} but the model's dtype is {config['dtype']}"
            )
        if got_shape != shape:
            raise ValueError(
                f"{source}: tensor {name!r} has shape {list(got_shape)}; the model config implies {list(shape)}"
            )
    return plan


def _plan_optimizer(
    plan: _Plan, text: str, weights: dict[str, tuple[int, ...]], tensors: dict[str, Any], source: str
) -> dict[str, tuple[int, ...]]:
    """Check the optimizer metadata; return the state tensors it implies. The engine creates a state slot for
    every trainable parameter at the first update, so each slot name is present for all of them or for none."""
    meta = _json(text, "the optimizer metadata", source)
    if not isinstance(meta, dict) or set(meta) != {"config", "engine"}:
        raise ValueError(f"{source} is corrupted: the optimizer metadata must have the keys 'config' and 'engine'")
    for key in ("config", "engine"):
        if meta[key] is None:
            continue
        try:  # checked and completed (every hyperparameter present, as the engine needs)
            meta[key] = optimizer_from_config(meta[key]).config()
        except (TypeError, ValueError) as error:
            raise ValueError(f"{source} holds an invalid optimizer {key}: {error}") from None
    plan.optimizer_config, plan.engine_optimizer = meta["config"], meta["engine"]
    if plan.engine_optimizer is None:
        return {}
    if plan.config["input_dim"] is None:
        raise ValueError(f"{source} is corrupted: an unbuilt model cannot have optimizer state")
    allowed = SLOT_NAMES[plan.engine_optimizer["kind"]].values()
    present = {name.rsplit(".", 1)[-1] for name in tensors if name.startswith("optimizer.")}
    expected = {}
    for name, shape in weights.items():
        _, index, param = name.split(".")
        if param in _NOT_TRAINED:
            continue
        for slot_name in allowed:
            if slot_name in present:
                expected[f"optimizer.{index}.{param}.{slot_name}"] = shape
    return expected


def _build(plan: _Plan, data: bytes, source: str) -> Sequential:
    """Construct the model from a checked plan and the file's bytes."""
    config = plan.config
    try:
        arrays = safetensors.numpy.load(data)
    except Exception as error:  # safetensors' own error type; the header was checked, so this is unexpected
        raise ValueError(f"{source} could not be read by safetensors: {error}") from None
    for name, array in arrays.items():
        if not np.isfinite(array).all():
            raise ValueError(f"{source}: tensor {name!r} contains NaN or infinity")
    model = Sequential.from_config(config)
    if model._engine is None:
        if plan.optimizer_config is not None:
            model._optimizer = optimizer_from_config(plan.optimizer_config)
        return model
    weights = [
        {name: arrays[f"layers.{index}.{name}"] for name in names} for index, names in enumerate(plan.weight_names)
    ]
    state: dict[str, Any] = {**plan.counters, "optimizer": plan.engine_optimizer}
    if plan.engine_optimizer is None:
        state["updates"] = 0  # no stored state: the next optimizer starts fresh
    slot_of = (
        {name: slot for slot, name in SLOT_NAMES[plan.engine_optimizer["kind"]].items()}
        if plan.engine_optimizer
        else {}
    )
    state["slots"] = [
        {
            name: {
                slot: arrays[f"optimizer.{index}.{name}.{slot_name}"]
                for slot_name, slot in slot_of.items()
                if f"optimizer.{index}.{name}.{slot_name}" in arrays
            }
            for name in names
            if name not in _NOT_TRAINED
        }
        for index, names in enumerate(plan.weight_names)
    ]
    try:
        model.set_weights(weights)
        model._engine.set_state(state)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{source} holds invalid values: {error}") from None
    if plan.optimizer_config is not None:
        model._optimizer = optimizer_from_config(plan.optimizer_config)
    return model


# ----------------------------------------------------------------------------------------------- helpers


def _as_path(path: Any) -> Path:
    if isinstance(path, (str, os.PathLike)) and not isinstance(path, bytes):
        result = Path(path)
        if str(result) in ("", "."):
            raise ValueError(f"path must name a file; got {path!r}")
        return result
    raise TypeError(f"path must be a str or os.PathLike; got {type(path).__name__} {path!r}"[:200])


def _package_version() -> str:
    from . import __version__

    return str(__version__)
