"""Fuzz the file readers and the array kernels with atheris (libFuzzer for Python).

    python fuzz/fuzz_load.py -max_total_time=60      # fuzz for a minute
    python fuzz/fuzz_load.py -runs=2000 -seed=1      # a short, reproducible run (what the test suite does)
    python fuzz/fuzz_load.py crash-<hash>            # replay a finding

Each input drives one of four targets:

0. ``ferronet.io.from_bytes`` / ``ferronet.load`` on raw bytes;
1. the same on a valid model file (several kinds) edited by the input: bytes overwritten, the file truncated, or
   one field of its JSON header (a tensor's dtype/shape/offsets, a metadata config value) replaced by a fuzzed
   value, so that the fuzzer gets past the header checks into the semantic ones;
2. ``ferronet.datasets.read_idx`` on raw bytes, or on a plausible IDX header with fuzzed type code, dimensions and
   data, optionally gzipped;
3. a ``ferronet.ops`` kernel on arrays and scalars built from the input (shapes that often agree, every dtype,
   NaN/inf, negative and huge sizes, wrong types).

``ValueError``, ``TypeError`` and ``FileNotFoundError`` are the documented outcomes of bad input; anything else
(another exception, a warning, a crash of the process) is a finding and stops the run with a reproducer file.
"""

from __future__ import annotations

import contextlib
import gzip
import inspect
import json
import os
import struct
import sys
import tempfile
import warnings
from collections.abc import Iterator

import atheris
import numpy as np
import safetensors.numpy  # noqa: F401  (imported before instrumentation: only ferronet is instrumented)

with atheris.instrument_imports(include=["ferronet"], exclude=["ferronet.reference"]):
    import ferronet as fnet
    import ferronet.io
    from ferronet import ops
    from ferronet.datasets import read_idx

EXPECTED = (ValueError, TypeError, FileNotFoundError)


@contextlib.contextmanager
def scratch_file(content: bytes) -> Iterator[str]:
    """``content`` in a temporary file, removed afterwards (libFuzzer exits without running atexit handlers)."""
    fd, path = tempfile.mkstemp(prefix="ferronet-fuzz-")
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(content)
        yield path
    finally:
        os.unlink(path)


def _model_files() -> list[bytes]:
    """Valid files of several kinds: every layer and Adam state (float32), SGD momentum (float64), unbuilt."""
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(24, 3)), rng.integers(0, 3, size=24)
    full = fnet.Sequential(
        [
            fnet.Dense(4, activation="relu"),
            fnet.BatchNorm(),
            fnet.Dropout(0.2),
            fnet.Dense(3, activation="tanh", dropconnect=0.1),
            fnet.Activation("sigmoid"),
            fnet.Dense(3),
        ],
        input_dim=3,
        l2=1e-3,
    )
    full.fit(X, y, epochs=1, batch_size=8, optimizer=fnet.optim.Adam())
    small = fnet.Sequential([fnet.Dense(2, activation="softmax")], input_dim=3, dtype="float64", loss="mse")
    small.fit(X, np.eye(2)[y % 2], epochs=1, batch_size=6, optimizer=fnet.optim.SGD(momentum=0.9))
    unbuilt = fnet.Sequential([fnet.Dense(5), fnet.Dense(1, activation="sigmoid")], loss="binary_cross_entropy")
    return [
        ferronet.io.to_bytes(full, include_optimizer=True),
        ferronet.io.to_bytes(full, include_optimizer=False),
        ferronet.io.to_bytes(small, include_optimizer=True),
        ferronet.io.to_bytes(unbuilt, include_optimizer=True),
    ]


MODEL_FILES = _model_files()
KERNELS = sorted(name for name in ops.__all__ if callable(getattr(ops, name)) and name != "rng")
SIGNATURES = {name: list(inspect.signature(getattr(ops, name)).parameters) for name in KERNELS}
SCALAR_PARAMETERS = {
    "slope", "l1", "l2", "eps", "p", "lr", "momentum", "rho", "beta1", "beta2", "step", "n", "rows", "cols",
    "seed", "layer", "stream", "name",
}  # fmt: skip
LABEL_PARAMETERS = {"labels"}
DTYPES = (np.float64, np.float32, np.float16, np.int64, np.int32, np.uint8, np.bool_)


# ---------------------------------------------------------------------------------------------- model files


def _load(content: bytes, fdp: atheris.FuzzedDataProvider) -> fnet.Sequential:
    if fdp.ConsumeBool():
        return ferronet.io.from_bytes(content)
    with scratch_file(content) as path:
        return ferronet.io.load(path)


def _fuzzed_json_value(fdp: atheris.FuzzedDataProvider) -> object:
    choice = fdp.ConsumeIntInRange(0, 7)
    if choice == 0:
        return fdp.ConsumeInt(9)
    if choice == 1:
        return fdp.ConsumeIntInRange(-2, 40)
    if choice == 2:
        return fdp.ConsumeRegularFloat()
    if choice == 3:
        return fdp.ConsumeUnicodeNoSurrogates(12)
    if choice == 4:
        return [fdp.ConsumeIntInRange(-1, 12) for _ in range(fdp.ConsumeIntInRange(0, 3))]
    if choice == 5:
        return None
    if choice == 6:
        return {"kind": fdp.PickValueInList(["dense", "batchnorm", "dropout", "activation", "sgd", "adam", "x"])}
    return fdp.ConsumeBool()


def _edit_header(base: bytes, fdp: atheris.FuzzedDataProvider) -> bytes:
    (length,) = struct.unpack("<Q", base[:8])
    header, body = json.loads(base[8 : 8 + length]), base[8 + length :]
    metadata = header["__metadata__"]
    names = sorted(header)
    name = fdp.PickValueInList(names)
    if name == "__metadata__":
        key = fdp.PickValueInList(sorted(metadata))
        try:
            value = json.loads(metadata[key])
        except ValueError:
            value = metadata[key]
        if isinstance(value, dict) and value:
            inner = fdp.PickValueInList(sorted(value))
            if inner == "layers" and isinstance(value[inner], list) and value[inner] and fdp.ConsumeBool():
                layer = dict(fdp.PickValueInList(value[inner]))
                layer[fdp.PickValueInList([*sorted(layer), "extra"])] = _fuzzed_json_value(fdp)
                value[inner] = [layer, *value[inner][1:]]
            else:
                value[inner] = _fuzzed_json_value(fdp)
        else:
            value = _fuzzed_json_value(fdp)
        metadata[key] = value if fdp.ConsumeBool() and isinstance(value, str) else json.dumps(value)
    else:
        field = fdp.PickValueInList(["dtype", "shape", "data_offsets", "drop"])
        if field == "drop":
            del header[name]
        else:
            header[name][field] = _fuzzed_json_value(fdp) if field != "dtype" else fdp.ConsumeUnicode(3)
    raw = json.dumps(header).encode()
    return struct.pack("<Q", len(raw)) + raw + body


def fuzz_model_bytes(fdp: atheris.FuzzedDataProvider) -> None:
    _load(fdp.ConsumeBytes(max(fdp.remaining_bytes() - 1, 0)), fdp)


def fuzz_model_edits(fdp: atheris.FuzzedDataProvider) -> None:
    base = fdp.PickValueInList(MODEL_FILES)
    how = fdp.ConsumeIntInRange(0, 2)
    if how == 0:
        content = bytearray(base)
        for _ in range(fdp.ConsumeIntInRange(1, 8)):
            content[fdp.ConsumeIntInRange(0, len(content) - 1)] = fdp.ConsumeIntInRange(0, 255)
        content = bytes(content)
    elif how == 1:
        content = base[: fdp.ConsumeIntInRange(0, len(base))]
    else:
        content = _edit_header(base, fdp)
    try:
        model = _load(content, fdp)
    except EXPECTED:
        return
    if model.built:  # whatever loads is usable
        model.predict(np.zeros((2, model.input_dim)))


# ---------------------------------------------------------------------------------------------- IDX files


def fuzz_idx(fdp: atheris.FuzzedDataProvider) -> None:
    if fdp.ConsumeBool():
        content = fdp.ConsumeBytes(fdp.remaining_bytes())
    else:
        code = fdp.PickValueInList([0x08, 0x09, 0x0B, 0x0C, 0x0D, 0x0E, fdp.ConsumeIntInRange(0, 255)])
        ndim = fdp.ConsumeIntInRange(0, 5)
        dims = [
            fdp.PickValueInList([fdp.ConsumeIntInRange(0, 6), fdp.ConsumeIntInRange(0, 2**32 - 1)]) for _ in range(ndim)
        ]
        content = bytes([0, 0, code, ndim]) + struct.pack(f">{ndim}I", *dims) + fdp.ConsumeBytes(fdp.remaining_bytes())
        if fdp.ConsumeBool():
            content = gzip.compress(content)
    with scratch_file(content) as path:
        read_idx(path)


# ---------------------------------------------------------------------------------------------- kernels


def _int(fdp: atheris.FuzzedDataProvider) -> int:
    # Small values, or values that must be refused; never sizes that are valid but large (a real allocation).
    return fdp.PickValueInList([fdp.ConsumeIntInRange(0, 12), fdp.ConsumeIntInRange(-3, 0), 2**62 + 1, 2**70, -(2**63)])


def _scalar(name: str, fdp: atheris.FuzzedDataProvider) -> object:
    if name == "name":
        return fdp.PickValueInList([*fnet.activations.ACTIVATIONS, "gelu", "", 3])
    choice = fdp.ConsumeIntInRange(0, 9)
    if choice <= 3:
        return (
            _int(fdp) if name in {"rows", "cols", "n", "step", "seed", "layer", "stream"} else fdp.ConsumeProbability()
        )
    if choice == 4:
        return fdp.ConsumeFloat()  # NaN, inf, huge, tiny
    if choice == 5:
        return _int(fdp)
    if choice == 6:
        return fdp.ConsumeRegularFloat()
    if choice == 7:
        return None
    if choice == 8:
        return np.float32(fdp.ConsumeProbability())
    return fdp.PickValueInList(["0.1", True, [0.1], np.array([0.5])])


def _array(name: str, sizes: tuple[int, int, int], fdp: atheris.FuzzedDataProvider) -> object:
    r, c, k = sizes
    shape = fdp.PickValueInList([(r, c), (r, c), (c, k), (r, k), (c,), (r,), (k,), (), (r, c, k), (0, c)])
    count = int(np.prod(shape))
    if name in LABEL_PARAMETERS and fdp.ConsumeIntInRange(0, 3):
        return np.array([fdp.ConsumeIntInRange(-1, k) for _ in range(shape[0] if shape else 1)])
    if fdp.ConsumeIntInRange(0, 9) == 0:
        return fdp.PickValueInList([None, "x", 1.5, [[1, 2], [3]], {"a": 1}, np.array(["a", "b"])])
    values = [fdp.ConsumeRegularFloat() if fdp.ConsumeIntInRange(0, 15) else fdp.ConsumeFloat() for _ in range(count)]
    dtype = fdp.PickValueInList(DTYPES)
    with np.errstate(all="ignore"):
        array = np.array(values, dtype=np.float64).reshape(shape).astype(dtype)
    layout = fdp.ConsumeIntInRange(0, 3)
    if layout == 1 and array.ndim == 2:
        array = np.asfortranarray(array)
    elif layout == 2 and array.ndim >= 1:
        array = np.repeat(array, 2, axis=0)[::2]  # a strided view
    elif layout == 3:
        array.setflags(write=False)
    return array.tolist() if fdp.ConsumeIntInRange(0, 7) == 0 else array


def fuzz_kernel(fdp: atheris.FuzzedDataProvider) -> None:
    name = fdp.PickValueInList(KERNELS)
    sizes = (fdp.ConsumeIntInRange(0, 6), fdp.ConsumeIntInRange(0, 6), fdp.ConsumeIntInRange(0, 6))
    arguments = [
        _scalar(parameter, fdp) if parameter in SCALAR_PARAMETERS else _array(parameter, sizes, fdp)
        for parameter in SIGNATURES[name]
    ]
    getattr(ops, name)(*arguments)


TARGETS = (fuzz_model_bytes, fuzz_model_edits, fuzz_idx, fuzz_kernel)


def TestOneInput(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    target = TARGETS[fdp.ConsumeIntInRange(0, len(TARGETS) - 1)]
    try:
        target(fdp)
    except EXPECTED:
        pass


def main() -> None:
    warnings.simplefilter("error")  # a warning from ferronet on bad input is a finding too (pytest runs so)
    argv = list(sys.argv)
    # Inputs of realistic size from the start (libFuzzer otherwise grows them slowly from 4 bytes).
    if not any(arg.startswith("-max_len=") for arg in argv):
        argv.append("-max_len=4096")
    if not any(arg.startswith("-len_control=") for arg in argv):
        argv.append("-len_control=0")
    atheris.Setup(argv, TestOneInput)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
