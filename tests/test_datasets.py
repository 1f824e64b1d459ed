"""Tests of ferronet.datasets: the spiral, the shipped digits, IDX files and the (Fashion-)MNIST loaders.

The loaders are tested on small fake data sets written to temporary directories and served by a local HTTP
server; the real Fashion-MNIST files are tested when Debian's dataset-fashion-mnist is installed.
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import http.server
import logging
import os
import re
import socket
import struct
import threading
import tracemalloc
import types
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from ferronet import datasets
from ferronet.datasets import DatasetNotFoundError, _download, idx, load_digits, make_spiral, read_idx, write_idx

IDX_DTYPES = {0x08: "u1", 0x09: "i1", 0x0B: "i2", 0x0C: "i4", 0x0D: "f4", 0x0E: "f8"}
FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
REAL_FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")


# ============================================================================================== spiral


def test_spiral_shapes_and_dtypes():
    X, y = make_spiral()
    assert X.shape == (300, 2) and X.dtype == np.float64
    assert y.shape == (300,) and y.dtype == np.int64
    X, y = make_spiral(n_per_class=7, n_classes=5)
    assert X.shape == (35, 2) and y.shape == (35,)


def test_spiral_is_deterministic_per_seed():
    X1, y1 = make_spiral(seed=3)
    X2, y2 = make_spiral(seed=3)
    np.testing.assert_array_equal(X1, X2)
    np.testing.assert_array_equal(y1, y2)
    X3, _ = make_spiral(seed=4)
    assert not np.array_equal(X1, X3)


def test_spiral_classes_are_balanced_and_grouped():
    _, y = make_spiral(n_per_class=50, n_classes=4)
    np.testing.assert_array_equal(np.bincount(y), [50] * 4)
    np.testing.assert_array_equal(y, np.repeat(np.arange(4), 50))


def test_spiral_without_noise_lies_on_the_curve():
    n, k = 40, 3
    X, _ = make_spiral(n_per_class=n, n_classes=k, noise=0.0)
    r = np.linspace(0.0, 1.0, n)
    for j in range(k):
        t = np.linspace(4.0 * j, 4.0 * (j + 1), n)
        rows = X[j * n : (j + 1) * n]
        np.testing.assert_array_equal(rows[:, 0], r * np.sin(t))
        np.testing.assert_array_equal(rows[:, 1], r * np.cos(t))


def test_spiral_follows_the_cs231n_formula_with_noise():
    n, k, noise, seed = 25, 3, 0.2, 11
    X, _ = make_spiral(n_per_class=n, n_classes=k, noise=noise, seed=seed)
    rng = np.random.Generator(np.random.PCG64(seed))
    r = np.linspace(0.0, 1.0, n)
    for j in range(k):
        t = np.linspace(4.0 * j, 4.0 * (j + 1), n) + noise * rng.standard_normal(n)
        np.testing.assert_allclose(X[j * n : (j + 1) * n], np.c_[r * np.sin(t), r * np.cos(t)], rtol=0, atol=0)
    # the radius does not depend on the noise
    np.testing.assert_allclose(np.hypot(X[:n, 0], X[:n, 1]), r, atol=1e-15)


def test_spiral_seed_none_and_numpy_ints():
    X, _ = make_spiral(n_per_class=np.int64(5), n_classes=np.int32(2), noise=np.float32(0.1), seed=None)
    assert X.shape == (10, 2)
    X, _ = make_spiral(n_per_class=1, n_classes=1)
    np.testing.assert_array_equal(X, [[0.0, 0.0]])


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"n_per_class": 0}, ValueError, "n_per_class"),
        ({"n_per_class": 2.5}, TypeError, "n_per_class"),
        ({"n_per_class": True}, TypeError, "n_per_class"),
        ({"n_classes": 0}, ValueError, "n_classes"),
        ({"n_classes": "3"}, TypeError, "n_classes"),
        ({"noise": -0.1}, ValueError, "noise"),
        ({"noise": float("nan")}, ValueError, "noise"),
        ({"noise": float("inf")}, ValueError, "noise"),
        ({"noise": "0.2"}, TypeError, "noise"),
        ({"noise": 1e308}, ValueError, "noise must be <= 1000000.0"),  # angles would overflow (fuzz_api)
        ({"n_per_class": 2**40, "n_classes": 4}, ValueError, r"n_per_class \* n_classes must be <= 1099511627776"),
        ({"seed": -1}, ValueError, "seed"),
        ({"seed": 2**64}, ValueError, "seed must be <= 18446744073709551615"),
        ({"seed": 1.0}, TypeError, "seed"),
    ],
)
def test_spiral_rejects_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        make_spiral(**kwargs)


# ============================================================================================== digits


def test_digits_shape_values_and_labels():
    X, y = load_digits()
    assert X.shape == (1797, 64) and X.dtype == np.float64
    assert y.shape == (1797,) and y.dtype == np.int64
    assert X.min() == 0 and X.max() == 16
    np.testing.assert_array_equal(X, np.round(X))
    np.testing.assert_array_equal(np.unique(y), np.arange(10))
    np.testing.assert_array_equal(np.bincount(y), [178, 182, 177, 183, 181, 182, 181, 179, 174, 180])


def test_digits_images_and_fresh_copies():
    X, y = load_digits()
    images, y2 = load_digits(return_images=True)
    assert images.shape == (1797, 8, 8)
    np.testing.assert_array_equal(images.reshape(1797, 64), X)
    np.testing.assert_array_equal(y, y2)
    X[:] = -1
    y[:] = -1
    X_again, y_again = load_digits()
    assert X_again.min() == 0 and y_again.min() == 0


def test_digits_match_scikit_learn():
    sklearn_datasets = pytest.importorskip("sklearn.datasets")
    X_ref, y_ref = sklearn_datasets.load_digits(return_X_y=True)
    X, y = load_digits()
    np.testing.assert_array_equal(X, X_ref)
    np.testing.assert_array_equal(y, y_ref)


def test_digits_data_file_is_small_and_attributed():
    data = Path(datasets.__file__).parent / "data"
    assert (data / "digits.csv.gz").stat().st_size < 100_000
    license_text = (data / "DIGITS_LICENSE.txt").read_text()
    for needle in ("CC BY 4.0", "10.24432/C50P49", "Alpaydin", "Kaynak", "1998"):
        assert needle in license_text


def test_digits_rejects_bad_argument():
    with pytest.raises(TypeError, match="return_images"):
        load_digits(return_images="yes")


# ============================================================================================== IDX reading/writing


def _idx_bytes(code: int, shape: tuple[int, ...], payload: bytes) -> bytes:
    return bytes([0, 0, code, len(shape)]) + struct.pack(f">{len(shape)}I", *shape) + payload


@pytest.mark.parametrize("code", sorted(IDX_DTYPES))
@pytest.mark.parametrize("compress", [False, True])
@pytest.mark.parametrize("shape", [(7,), (3, 4), (2, 3, 5), (0, 4), (1, 1, 1, 2)])
def test_idx_round_trip_every_type(tmp_path, code, compress, shape):
    dtype = np.dtype(IDX_DTYPES[code])
    rng = np.random.default_rng(code)
    if dtype.kind == "f":
        array = rng.standard_normal(shape).astype(dtype) * 1e3
    else:
        info = np.iinfo(dtype)
        array = rng.integers(info.min, info.max, size=shape, endpoint=True, dtype=dtype)
    path = tmp_path / ("a.idx.gz" if compress else "a.idx")
    write_idx(path, array)
    assert (path.read_bytes()[:2] == b"\x1f\x8b") == compress
    back = read_idx(path)
    assert back.dtype == dtype.newbyteorder("=") and back.dtype.isnative
    assert back.shape == shape
    np.testing.assert_array_equal(back, array)
    assert back.flags.writeable
    back[...] = 0  # writable without touching anything else


@pytest.mark.parametrize("code", sorted(IDX_DTYPES))
def test_idx_bytes_on_disk_are_big_endian(tmp_path, code):
    dtype = np.dtype(IDX_DTYPES[code])
    values = np.array([[1, 2, 3], [-4, 5, 100]] if dtype.kind != "u" else [[1, 2, 3], [4, 5, 200]], dtype=dtype)
    if dtype.kind == "f":
        values = values + dtype.type(0.25)
    path = tmp_path / "a.idx"
    write_idx(path, values)
    expected = _idx_bytes(code, (2, 3), values.astype(dtype.newbyteorder(">")).tobytes())
    assert path.read_bytes() == expected
    # and a file built by hand, independent of write_idx, reads back the same values
    hand = tmp_path / "hand.idx"
    fmt = {"u1": "B", "i1": "b", "i2": "h", "i4": "i", "f4": "f", "f8": "d"}[IDX_DTYPES[code]]
    hand.write_bytes(_idx_bytes(code, (2, 3), struct.pack(f">6{fmt}", *values.ravel().tolist())))
    np.testing.assert_array_equal(read_idx(hand), values)


def test_idx_int32_exact_layout(tmp_path):
    path = tmp_path / "one.idx"
    write_idx(path, np.array([1, 258], dtype="<i4"))
    assert path.read_bytes() == b"\x00\x00\x0c\x01" + b"\x00\x00\x00\x02" + b"\x00\x00\x00\x01" + b"\x00\x00\x01\x02"


def test_idx_gzip_detected_by_content_not_name(tmp_path):
    array = np.arange(12, dtype=np.int16).reshape(3, 4)
    gz_named_plain = tmp_path / "plain.gz"
    plain_named_gz = tmp_path / "zipped.idx"
    write_idx(gz_named_plain, array, compress=False)
    write_idx(plain_named_gz, array, compress=True)
    assert gz_named_plain.read_bytes()[:2] == b"\x00\x00"
    assert plain_named_gz.read_bytes()[:2] == b"\x1f\x8b"
    np.testing.assert_array_equal(read_idx(gz_named_plain), array)
    np.testing.assert_array_equal(read_idx(str(plain_named_gz)), array)


def test_idx_accepts_big_endian_and_non_contiguous_input(tmp_path):
    array = np.arange(20, dtype=">f8").reshape(4, 5)[:, ::2]
    write_idx(tmp_path / "a.idx", array)
    np.testing.assert_array_equal(read_idx(tmp_path / "a.idx"), array)


def test_write_idx_gzip_is_reproducible(tmp_path):
    array = np.arange(100, dtype=np.uint8)
    write_idx(tmp_path / "a.gz", array)
    first = (tmp_path / "a.gz").read_bytes()
    write_idx(tmp_path / "a.gz", array)
    assert (tmp_path / "a.gz").read_bytes() == first


@pytest.mark.parametrize(
    ("array", "error", "match"),
    [
        (np.zeros(3, dtype=np.int64), TypeError, "int64"),
        (np.zeros(3, dtype=np.uint16), TypeError, "uint16"),
        (np.zeros(3, dtype=bool), TypeError, "bool"),
        (np.zeros(3, dtype=np.complex64), TypeError, "numbers"),
        (np.array(5, dtype=np.uint8), ValueError, "dimensions"),
    ],
)
def test_write_idx_rejects_unsupported_arrays(tmp_path, array, error, match):
    with pytest.raises(error, match=match):
        write_idx(tmp_path / "a.idx", array)
    assert not (tmp_path / "a.idx").exists()


def test_read_idx_rejects_bad_path_type():
    with pytest.raises(TypeError, match="path"):
        read_idx(123)


def test_read_idx_missing_file_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        read_idx(tmp_path / "nope.idx")


def _gz(data: bytes) -> bytes:
    return gzip.compress(data, mtime=0)


GOOD = _idx_bytes(0x08, (2, 3), bytes(range(6)))
MALFORMED = {
    "empty": (b"", "shorter than the 4-byte header"),
    "short header": (b"\x00\x00\x08", "shorter than the 4-byte header"),
    "nonzero first byte": (b"\x01\x00\x08\x01\x00\x00\x00\x01\x00", "first two bytes must be zero"),
    "nonzero second byte": (b"\x00\x07\x08\x01\x00\x00\x00\x01\x00", "first two bytes must be zero"),
    "unknown type code": (_idx_bytes(0x0A, (1,), b"\x00"), "unknown IDX type code 0x0A"),
    "zero dimensions": (b"\x00\x00\x08\x00\x05", "0 dimensions"),
    "truncated dims": (b"\x00\x00\x08\x03\x00\x00\x00\x02\x00\x00", "truncated IDX header"),
    "data too short": (GOOD[:-1], "truncated"),
    "trailing bytes": (GOOD + b"\x00\x00", "trailing bytes"),
    "int32 data not a multiple": (_idx_bytes(0x0C, (2,), b"\x00" * 7), "truncated"),
    "absurd size": (b"\x00\x00\x0e\x03\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff" + b"\x00" * 64, "truncated"),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
@pytest.mark.parametrize("compress", [False, True])
def test_read_idx_rejects_malformed_files(tmp_path, case, compress):
    content, reason = MALFORMED[case]
    path = tmp_path / f"bad-{case.replace(' ', '_')}.idx"
    path.write_bytes(_gz(content) if compress else content)
    if compress and case == "absurd size":
        reason = "more than a"  # rejected by the DEFLATE expansion limit
    with pytest.raises(ValueError, match=reason) as info:
        read_idx(path)
    assert str(path) in str(info.value)


def test_read_idx_gzip_absurd_claim_allocates_nothing(tmp_path):
    # A valid gzip stream of 1 MB of random bytes under a header claiming 10**9: within what DEFLATE could expand a
    # 1 MB file to, so it is decompressed, but the buffer only ever holds what the stream really contains.
    noise = np.random.default_rng(0).integers(0, 256, size=1_000_000, dtype=np.uint8).tobytes()
    content = b"\x00\x00\x08\x01" + struct.pack(">I", 10**9) + noise
    path = tmp_path / "liar.gz"
    path.write_bytes(_gz(content))
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match="truncated IDX data") as info:
            read_idx(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert str(path) in str(info.value)
    assert peak < 50_000_000


def test_read_idx_raw_absurd_claim_is_rejected_before_allocating(tmp_path):
    path = tmp_path / "liar.idx"
    path.write_bytes(b"\x00\x00\x0e\x02\xff\xff\xff\xff\xff\xff\xff\xff")
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match="truncated IDX file"):
            read_idx(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1_000_000


@pytest.mark.parametrize(
    "damage",
    ["cut", "crc", "garbage after"],
)
def test_read_idx_rejects_corrupt_gzip(tmp_path, damage):
    blob = bytearray(_gz(_idx_bytes(0x08, (100,), bytes(range(100)))))
    if damage == "cut":
        blob = blob[:-12]
    elif damage == "crc":
        blob[-8] ^= 0xFF
    else:
        blob += b"not gzip at all"
    path = tmp_path / "damaged.gz"
    path.write_bytes(bytes(blob))
    with pytest.raises(ValueError) as info:
        read_idx(path)
    assert str(path) in str(info.value)


# ============================================================================================== (Fashion-)MNIST: setup

TRAIN_N, TEST_N, SIDE = 12, 6, 4


@dataclasses.dataclass
class FakeData:
    """Small fake data set files (four IDX files) and the spec whose checksums match them."""

    arrays: dict[str, np.ndarray]
    gz: dict[str, bytes]  # file name (without .gz) -> gzipped bytes
    raw: dict[str, bytes]  # file name -> uncompressed bytes
    spec: idx.IdxDataset

    def write(self, directory: Path, *, compressed: bool = True) -> Path:
        directory.mkdir(parents=True, exist_ok=True)
        for name in FILES:
            if compressed:
                (directory / (name + ".gz")).write_bytes(self.gz[name])
            else:
                (directory / name).write_bytes(self.raw[name])
        return directory


def _make_fake(seed: int, name: str = "fashion-mnist", *, by_gz: bool = False) -> FakeData:
    rng = np.random.default_rng(seed)
    arrays = {
        FILES[0]: rng.integers(0, 256, size=(TRAIN_N, SIDE, SIDE), dtype=np.uint8),
        FILES[1]: rng.integers(0, 10, size=TRAIN_N, dtype=np.uint8),
        FILES[2]: rng.integers(0, 256, size=(TEST_N, SIDE, SIDE), dtype=np.uint8),
        FILES[3]: rng.integers(0, 10, size=TEST_N, dtype=np.uint8),
    }
    raw = {file: _idx_bytes(0x08, array.shape, array.tobytes()) for file, array in arrays.items()}
    gz = {file: _gz(content) for file, content in raw.items()}
    base = idx.DATASETS[name]
    entries = []
    for file in FILES:
        if by_gz:
            entries.append(idx.IdxFile(file, arrays[file].shape, gz_sha256=hashlib.sha256(gz[file]).hexdigest()))
        else:
            entries.append(idx.IdxFile(file, arrays[file].shape, sha256=hashlib.sha256(raw[file]).hexdigest()))
    spec = dataclasses.replace(
        base,
        train_images=entries[0],
        train_labels=entries[1],
        test_images=entries[2],
        test_labels=entries[3],
        mirrors=(),  # never the real network in tests unless a test says so
    )
    return FakeData(arrays, gz, raw, spec)


@pytest.fixture
def env(tmp_path, monkeypatch):
    """An isolated environment: no FERRONET_* variables, HOME and the system root in tmp_path."""
    for variable in ("FERRONET_DATA", "FERRONET_MNIST_MIRROR", "FERRONET_FASHION_MNIST_MIRROR", "XDG_CACHE_HOME"):
        monkeypatch.delenv(variable, raising=False)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    system = tmp_path / "system"
    monkeypatch.setattr(_download, "SYSTEM_DATA_ROOT", system)
    return types.SimpleNamespace(home=home, system=system, cache=home / ".cache" / "ferronet", root=tmp_path)


@pytest.fixture
def fake(monkeypatch) -> FakeData:
    data = _make_fake(1)
    monkeypatch.setitem(idx.DATASETS, "fashion-mnist", data.spec)
    return data


def _expected(data: FakeData, *, flatten=True, normalize=True):
    out = []
    for images, labels in ((FILES[0], FILES[1]), (FILES[2], FILES[3])):
        X = data.arrays[images]
        if flatten:
            X = X.reshape(X.shape[0], -1)
        if normalize:
            X = X.astype(np.float32) / np.float32(255)
        out.append((X, data.arrays[labels].astype(np.int64)))
    return out


def _assert_loaded(result, data: FakeData, **kwargs):
    (Xtr, ytr), (Xte, yte) = result
    (eXtr, eytr), (eXte, eyte) = _expected(data, **kwargs)
    for got, want in ((Xtr, eXtr), (ytr, eytr), (Xte, eXte), (yte, eyte)):
        assert got.dtype == want.dtype and got.shape == want.shape
        np.testing.assert_array_equal(got, want)


def _files_under(directory: Path) -> list[str]:
    if not directory.exists():
        return []
    return sorted(str(p.relative_to(directory)) for p in directory.rglob("*") if p.is_file())


# ============================================================================================== lookup chain


def test_loader_defaults_float32_flat_in_unit_interval(env, fake):
    directory = fake.write(env.root / "given")
    result = datasets.load_fashion_mnist(directory, download=False)
    _assert_loaded(result, fake)
    (Xtr, _), _ = result
    assert Xtr.dtype == np.float32 and Xtr.shape == (TRAIN_N, SIDE * SIDE)
    assert 0.0 <= Xtr.min() and Xtr.max() <= 1.0


@pytest.mark.parametrize("flatten", [False, True])
@pytest.mark.parametrize("normalize", [False, True])
def test_loader_flatten_and_normalize(env, fake, flatten, normalize):
    directory = fake.write(env.root / "given")
    result = datasets.load_fashion_mnist(str(directory), download=False, flatten=flatten, normalize=normalize)
    _assert_loaded(result, fake, flatten=flatten, normalize=normalize)
    (Xtr, _), _ = result
    assert Xtr.dtype == (np.float32 if normalize else np.uint8)
    assert Xtr.shape == ((TRAIN_N, SIDE * SIDE) if flatten else (TRAIN_N, SIDE, SIDE))


def test_loader_reads_uncompressed_files(env, fake):
    directory = fake.write(env.root / "plain", compressed=False)
    _assert_loaded(datasets.load_fashion_mnist(directory, download=False), fake)


@pytest.mark.parametrize("where", ["data/<name>", "data", "cache-home", "cache-xdg", "system"])
def test_loader_finds_files_in_each_place(env, fake, monkeypatch, where):
    if where == "data/<name>":
        fake.write(env.root / "data" / "fashion-mnist")
        monkeypatch.setenv("FERRONET_DATA", str(env.root / "data"))
    elif where == "data":
        fake.write(env.root / "data")
        monkeypatch.setenv("FERRONET_DATA", str(env.root / "data"))
    elif where == "cache-home":
        fake.write(env.home / ".cache" / "ferronet" / "fashion-mnist")
    elif where == "cache-xdg":
        fake.write(env.root / "xdg" / "ferronet" / "fashion-mnist")
        monkeypatch.setenv("XDG_CACHE_HOME", str(env.root / "xdg"))
    else:
        fake.write(env.system / "fashion-mnist", compressed=False)
    _assert_loaded(datasets.load_fashion_mnist(download=False), fake)


def test_loader_lookup_order(env, monkeypatch):
    """path (alone, when given), else $FERRONET_DATA/<name>, then $FERRONET_DATA, then the cache, then the system
    directory."""
    places = {
        "path": env.root / "given",
        "data/<name>": env.root / "data" / "fashion-mnist",
        "data": env.root / "data",
        "cache": env.cache / "fashion-mnist",
        "system": env.system / "fashion-mnist",
    }
    fakes = {label: _make_fake(seed) for seed, label in enumerate(places, start=10)}
    for label, directory in places.items():
        fakes[label].write(directory)
    monkeypatch.setenv("FERRONET_DATA", str(env.root / "data"))
    for label, directory in places.items():
        # each fake has its own checksums: loading verifies that this place, and no other, answered
        monkeypatch.setitem(idx.DATASETS, "fashion-mnist", fakes[label].spec)
        given = places["path"] if label == "path" else None
        _assert_loaded(datasets.load_fashion_mnist(given, download=False), fakes[label])
        for file in FILES:  # remove this place's files so the next one down the chain is found
            (directory / (file + ".gz")).unlink()


@pytest.mark.parametrize("case", ["missing directory", "empty directory", "two of four files"])
def test_loader_path_without_the_files_is_an_error_not_another_copy(env, fake, monkeypatch, case):
    """A path given explicitly is the only place looked at: a typo must not load the cache's copy silently."""
    fake.write(env.cache / "fashion-mnist")
    fake.write(env.system / "fashion-mnist")
    monkeypatch.setenv("FERRONET_DATA", str(fake.write(env.root / "data")))
    given = env.root / "typo"
    if case != "missing directory":
        given.mkdir()
    if case == "two of four files":
        for name in FILES[:2]:
            (given / name).write_bytes(fake.raw[name])
    with pytest.raises(DatasetNotFoundError) as info:
        datasets.load_fashion_mnist(given, download=True, mirror=(env.root / "mirror").as_uri())
    message = str(info.value)
    assert "\n" not in message
    state = {
        "missing directory": "does not exist",
        "empty directory": "holds none of its files",
        "two of four files": "lacks 2 of its 4 files",
    }[case]
    assert message.startswith(f"Fashion-MNIST not found: path={str(given)!r} {state}; looked for ")
    for name in FILES:
        assert f"{name} or {name}.gz" in message
    assert f" in {given}" in message
    if case == "two of four files":
        assert f"(missing: {FILES[2]}, {FILES[3]})" in message
    assert "leave path out" in message and str(env.cache / "fashion-mnist") in message
    assert all(line.startswith("path argument: ") for line in info.value.places)
    assert _files_under(env.root / "mirror") == []  # nothing was downloaded either


def test_loader_not_found_lists_every_place(env, fake, monkeypatch):
    monkeypatch.setenv("FERRONET_DATA", str(env.root / "data"))
    with pytest.raises(DatasetNotFoundError) as info:
        datasets.load_fashion_mnist(download=False)
    error = info.value
    assert isinstance(error, FileNotFoundError)
    message = str(error)
    assert "path argument: not given" in message
    for directory in (env.root / "data" / "fashion-mnist", env.root / "data", env.cache / "fashion-mnist"):
        assert str(directory / "train-images-idx3-ubyte") in message
        assert str(directory / "train-images-idx3-ubyte.gz") in message
    assert str(env.system / "fashion-mnist" / "train-images-idx3-ubyte.gz") in message
    assert "download=False" in message
    for hint in ("path=", "FERRONET_DATA", "apt-get install dataset-fashion-mnist", "FERRONET_FASHION_MNIST_MIRROR"):
        assert hint in message
    assert len(error.places) == 6
    assert _files_under(env.cache) == []


def test_loader_not_found_without_path_or_env(env, fake):
    with pytest.raises(DatasetNotFoundError) as info:
        datasets.load_fashion_mnist(download=False)
    message = str(info.value)
    assert "path argument: not given" in message
    assert "$FERRONET_DATA: not set" in message


def test_loader_wrong_checksum_on_found_file(env, fake):
    directory = fake.write(env.system / "fashion-mnist")
    target = directory / "t10k-labels-idx1-ubyte.gz"
    labels = fake.arrays["t10k-labels-idx1-ubyte"].copy()
    labels[0] = (labels[0] + 1) % 10
    write_idx(target, labels)
    before = target.read_bytes()
    with pytest.raises(ValueError, match="wrong SHA-256") as info:
        datasets.load_fashion_mnist(download=True, mirror="http://127.0.0.1:9/")
    assert str(target) in str(info.value)
    assert "verify=False" in str(info.value)
    assert target.read_bytes() == before  # not replaced by a download
    assert _files_under(env.cache) == []
    # the user's own variant loads with verify=False
    (_, _), (_, yte) = datasets.load_fashion_mnist(download=False, verify=False)
    np.testing.assert_array_equal(yte, labels)


def test_loader_recompressed_gz_verifies_by_decompressed_checksum(env, fake):
    directory = env.root / "recompressed"
    directory.mkdir()
    for file in FILES:
        (directory / (file + ".gz")).write_bytes(gzip.compress(fake.raw[file], compresslevel=1, mtime=12345))
        assert (directory / (file + ".gz")).read_bytes() != fake.gz[file]
    _assert_loaded(datasets.load_fashion_mnist(directory, download=False), fake)


def test_loader_wrong_shape_is_rejected_unless_verify_false(env, monkeypatch):
    data = _make_fake(2)
    spec = dataclasses.replace(data.spec, test_labels=dataclasses.replace(data.spec.test_labels, shape=(99,)))
    monkeypatch.setitem(idx.DATASETS, "fashion-mnist", spec)
    directory = data.write(env.root / "given")
    with pytest.raises(ValueError, match=r"expected \(99,\)"):
        datasets.load_fashion_mnist(directory, download=False)
    _assert_loaded(datasets.load_fashion_mnist(directory, download=False, verify=False), data)


def test_loader_mismatched_counts_rejected_even_without_verify(env, fake):
    directory = fake.write(env.root / "given")
    write_idx(directory / "t10k-labels-idx1-ubyte.gz", np.zeros(TEST_N + 1, dtype=np.uint8))
    with pytest.raises(ValueError, match="test files disagree"):
        datasets.load_fashion_mnist(directory, download=False, verify=False)


def test_loader_malformed_found_file_names_it(env, fake):
    directory = fake.write(env.root / "given")
    bad = directory / "train-labels-idx1-ubyte.gz"
    bad.write_bytes(b"\x1f\x8b garbage")
    with pytest.raises(ValueError) as info:
        datasets.load_fashion_mnist(directory, download=False)
    assert str(bad) in str(info.value)


def test_mnist_verifies_by_gz_checksum(env, monkeypatch):
    data = _make_fake(3, "mnist", by_gz=True)
    monkeypatch.setitem(idx.DATASETS, "mnist", data.spec)
    # the upstream .gz files verify
    _assert_loaded(datasets.load_mnist(data.write(env.root / "gz"), download=False), data)
    # uncompressed copies are checked by shape only
    _assert_loaded(datasets.load_mnist(data.write(env.root / "raw", compressed=False), download=False), data)
    # a recompressed .gz does not match the upstream .gz checksum
    other = env.root / "recompressed"
    other.mkdir()
    for file in FILES:
        (other / (file + ".gz")).write_bytes(gzip.compress(data.raw[file], compresslevel=1, mtime=1))
    with pytest.raises(ValueError, match=r"wrong SHA-256 \(of the \.gz file\)"):
        datasets.load_mnist(other, download=False)
    _assert_loaded(datasets.load_mnist(other, download=False, verify=False), data)


def test_real_specs_are_consistent():
    for name, spec in idx.DATASETS.items():
        assert spec.name == name
        assert [f.filename for f in spec.files] == list(FILES)
        assert [f.shape for f in spec.files] == [(60000, 28, 28), (60000,), (10000, 28, 28), (10000,)]
        for file in spec.files:
            digest = file.sha256 or file.gz_sha256
            assert digest is not None and len(digest) == 64 and int(digest, 16) >= 0
        assert spec.mirrors and all(m.endswith("/") for m in spec.mirrors)
    assert all(f.sha256 for f in idx.DATASETS["fashion-mnist"].files)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"flatten": 1}, TypeError, "flatten"),
        ({"normalize": "no"}, TypeError, "normalize"),
        ({"download": None}, TypeError, "download"),
        ({"verify": 0}, TypeError, "verify"),
        ({"timeout": 0}, ValueError, "timeout"),
        ({"timeout": "3"}, TypeError, "timeout"),
        ({"mirror": 5}, TypeError, "mirror"),
        ({"mirror": ["http://x/", 3]}, TypeError, "mirror"),
    ],
)
def test_loader_rejects_bad_arguments(env, fake, kwargs, error, match):
    with pytest.raises(error, match=match):
        datasets.load_fashion_mnist(**{"download": False, **kwargs})


def test_loader_rejects_file_as_path(env, fake, tmp_path):
    a_file = tmp_path / "file.txt"
    a_file.write_text("x")
    with pytest.raises(ValueError, match="directory"):
        datasets.load_fashion_mnist(a_file, download=False)
    with pytest.raises(TypeError, match="path"):
        datasets.load_fashion_mnist(42, download=False)


# ============================================================================================== downloads


class _QuietServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):  # a client that gave up (timeout test) is not an error here
        pass


class _Mirror:
    """A local HTTP server: ``files`` maps URL paths to bytes; ``delay`` makes every answer wait for ``release``."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.requests: list[str] = []
        self.slow = False
        self.release = threading.Event()
        mirror = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                mirror.requests.append(self.path)
                if mirror.slow:
                    mirror.release.wait(10)
                    return
                body = mirror.files.get(self.path)
                if body is None:
                    self.send_error(404, "Not Found")
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format, *args):  # keep the test output clean
                pass

        self.server = _QuietServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


@pytest.fixture
def mirror() -> Iterator[_Mirror]:
    server = _Mirror()
    try:
        yield server
    finally:
        server.close()


def _serve(mirror: _Mirror, data: FakeData, prefix: str = "/") -> None:
    for file in FILES:
        mirror.files[f"{prefix}{file}.gz"] = data.gz[file]


def _closed_port_url() -> str:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/"


def test_download_lands_in_cache_atomically(env, fake, mirror):
    _serve(mirror, fake, prefix="/fashion/")
    _assert_loaded(datasets.load_fashion_mnist(mirror=mirror.url + "fashion"), fake)
    cache = env.cache / "fashion-mnist"
    assert _files_under(cache) == sorted(file + ".gz" for file in FILES)
    for file in FILES:
        assert (cache / (file + ".gz")).read_bytes() == fake.gz[file]
    assert sorted(mirror.requests) == sorted(f"/fashion/{file}.gz" for file in FILES)
    # next time the cache answers, without the network
    mirror.requests.clear()
    _assert_loaded(datasets.load_fashion_mnist(download=False), fake)
    _assert_loaded(datasets.load_fashion_mnist(mirror=mirror.url + "fashion"), fake)
    assert mirror.requests == []


def test_download_respects_xdg_cache_home(env, fake, mirror, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(env.root / "xdg"))
    _serve(mirror, fake)
    datasets.load_fashion_mnist(mirror=mirror.url)
    assert _files_under(env.root / "xdg" / "ferronet" / "fashion-mnist") == sorted(file + ".gz" for file in FILES)
    assert _files_under(env.cache) == []


def test_download_mirror_from_environment(env, fake, mirror, monkeypatch):
    _serve(mirror, fake)
    monkeypatch.setenv("FERRONET_FASHION_MNIST_MIRROR", mirror.url)
    _assert_loaded(datasets.load_fashion_mnist(), fake)
    assert len(mirror.requests) == 4


def test_download_falls_back_to_the_next_mirror(env, fake, mirror):
    _serve(mirror, fake, prefix="/second/")
    result = datasets.load_fashion_mnist(mirror=[_closed_port_url(), mirror.url + "first/", mirror.url + "second/"])
    _assert_loaded(result, fake)


def test_download_only_fetches_missing_files(env, fake, mirror):
    _serve(mirror, fake)
    partial = env.cache / "fashion-mnist"
    partial.mkdir(parents=True)
    (partial / "train-images-idx3-ubyte.gz").write_bytes(fake.gz["train-images-idx3-ubyte"])
    _assert_loaded(datasets.load_fashion_mnist(mirror=mirror.url), fake)
    assert "/train-images-idx3-ubyte.gz" not in mirror.requests
    assert len(mirror.requests) == 3


def test_download_checksum_mismatch_leaves_nothing(env, fake, mirror):
    _serve(mirror, fake)
    mirror.files["/train-images-idx3-ubyte.gz"] = _gz(
        _idx_bytes(0x08, (TRAIN_N, SIDE, SIDE), bytes(TRAIN_N * SIDE * SIDE))
    )
    with pytest.raises(ValueError, match="wrong SHA-256") as info:
        datasets.load_fashion_mnist(mirror=mirror.url)
    assert f"downloaded from {mirror.url}train-images-idx3-ubyte.gz" in str(info.value)
    assert _files_under(env.cache) == []  # neither the file nor a temporary


def test_download_of_garbage_leaves_nothing(env, fake, mirror):
    _serve(mirror, fake)
    mirror.files["/train-labels-idx1-ubyte.gz"] = b"<html>not the file</html>"
    with pytest.raises(ValueError, match="not an IDX file"):
        datasets.load_fashion_mnist(mirror=mirror.url)
    # the one good file downloaded before stays; nothing else, no temporary
    assert _files_under(env.cache) == ["fashion-mnist/train-images-idx3-ubyte.gz"]


def test_download_unreachable_mirror_is_not_found(env, fake):
    url = _closed_port_url()
    with pytest.raises(DatasetNotFoundError) as info:
        datasets.load_fashion_mnist(mirror=url, timeout=5)
    message = str(info.value)
    assert f"download failed: {url}train-images-idx3-ubyte.gz" in message
    assert "refused" in message.lower()
    assert str(env.cache / "fashion-mnist" / "train-images-idx3-ubyte.gz") in message
    assert str(env.system / "fashion-mnist" / "train-images-idx3-ubyte.gz") in message
    assert _files_under(env.cache) == []


def test_download_http_error_is_not_found(env, fake, mirror):
    with pytest.raises(DatasetNotFoundError, match="HTTP 404"):
        datasets.load_fashion_mnist(mirror=mirror.url)
    assert _files_under(env.cache) == []


def test_download_timeout_is_not_found(env, fake, mirror):
    mirror.slow = True
    with pytest.raises(DatasetNotFoundError, match="timed out"):
        datasets.load_fashion_mnist(mirror=mirror.url, timeout=0.3)
    assert _files_under(env.cache) == []


def test_download_oversized_answer_is_stopped(env, fake, mirror):
    _serve(mirror, fake)
    mirror.files["/train-images-idx3-ubyte.gz"] = os.urandom(200_000)
    with pytest.raises(DatasetNotFoundError, match="more than the"):
        datasets.load_fashion_mnist(mirror=mirror.url)
    assert _files_under(env.cache) == []


def test_download_from_file_url(env, fake):
    source = fake.write(env.root / "offline-mirror")
    _assert_loaded(datasets.load_fashion_mnist(mirror=source.as_uri()), fake)
    assert _files_under(env.cache / "fashion-mnist") == sorted(file + ".gz" for file in FILES)


def test_download_unknown_url_scheme_is_not_found(env, fake):
    with pytest.raises(DatasetNotFoundError, match="download failed"):
        datasets.load_fashion_mnist(mirror="gopher2://example/")


# ============================================================================================== the real Fashion-MNIST


@pytest.fixture
def real_fashion(env, monkeypatch):
    if not (REAL_FASHION_DIR / "train-images-idx3-ubyte.gz").exists():
        pytest.skip(reason="Fashion-MNIST not installed: apt-get install dataset-fashion-mnist")
    monkeypatch.setattr(_download, "SYSTEM_DATA_ROOT", REAL_FASHION_DIR.parent)
    return REAL_FASHION_DIR


def test_real_fashion_mnist_checksums(real_fashion):
    for spec in idx.DATASETS["fashion-mnist"].files:
        with gzip.open(real_fashion / (spec.filename + ".gz"), "rb") as stream:
            assert hashlib.sha256(stream.read()).hexdigest() == spec.sha256


def test_real_fashion_mnist_loads(real_fashion, env):
    (Xtr, ytr), (Xte, yte) = datasets.load_fashion_mnist(download=False)
    assert Xtr.shape == (60000, 784) and Xtr.dtype == np.float32
    assert Xte.shape == (10000, 784) and Xte.dtype == np.float32
    assert ytr.dtype == np.int64 and yte.dtype == np.int64
    assert Xtr.min() == 0.0 and Xtr.max() == 1.0
    np.testing.assert_array_equal(np.bincount(ytr), [6000] * 10)
    np.testing.assert_array_equal(np.bincount(yte), [1000] * 10)
    assert _files_under(env.cache) == []  # found, verified, nothing downloaded or copied


def test_real_fashion_mnist_raw_images(real_fashion):
    (Xtr, ytr), (Xte, _) = datasets.load_fashion_mnist(download=False, flatten=False, normalize=False)
    assert Xtr.shape == (60000, 28, 28) and Xtr.dtype == np.uint8
    assert Xte.shape == (10000, 28, 28)
    raw = read_idx(real_fashion / "train-images-idx3-ubyte.gz")
    np.testing.assert_array_equal(Xtr, raw)
    assert ytr[:10].tolist() == [9, 0, 0, 3, 0, 2, 7, 2, 5, 5]  # the first labels of the upstream training set


def test_download_variant_with_verify_false(env, fake, mirror):
    variant = _make_fake(99)
    _serve(mirror, variant)
    with pytest.raises(ValueError, match="wrong SHA-256"):
        datasets.load_fashion_mnist(mirror=mirror.url)
    assert _files_under(env.cache) == []
    _assert_loaded(datasets.load_fashion_mnist(mirror=mirror.url, verify=False), variant)
    # the cached variant is then refused by a verifying load, naming the cached file
    with pytest.raises(ValueError, match=re.escape(str(env.cache / "fashion-mnist" / "train-images-idx3-ubyte.gz"))):
        datasets.load_fashion_mnist(download=False)


def test_download_from_local_directory_mirror(env, fake):
    source = fake.write(env.root / "offline-mirror")
    _assert_loaded(datasets.load_fashion_mnist(mirror=source), fake)


def test_download_false_never_touches_the_network(env, fake, mirror):
    _serve(mirror, fake)
    with pytest.raises(DatasetNotFoundError, match="download=False"):
        datasets.load_fashion_mnist(download=False, mirror=mirror.url)
    assert mirror.requests == []


def test_loader_variant_types_with_verify_false(env, fake):
    directory = fake.write(env.root / "given")
    write_idx(directory / "train-images-idx3-ubyte.gz", fake.arrays["train-images-idx3-ubyte"].astype(np.float32))
    with pytest.raises(ValueError, match="normalize=False"):
        datasets.load_fashion_mnist(directory, download=False, verify=False)
    (Xtr, _), _ = datasets.load_fashion_mnist(directory, download=False, verify=False, normalize=False)
    assert Xtr.dtype == np.float32
    write_idx(directory / "train-labels-idx1-ubyte.gz", np.zeros(TRAIN_N, dtype=np.float64))
    with pytest.raises(ValueError, match="labels must be integers"):
        datasets.load_fashion_mnist(directory, download=False, verify=False, normalize=False)


# ============================================================================================== where it was found: the log


@pytest.mark.parametrize(
    ("where", "source"),
    [
        ("path", "the path argument"),
        ("data/<name>", "$FERRONET_DATA/fashion-mnist"),
        ("data", "$FERRONET_DATA"),
        ("cache", "the cache"),
        ("system", "the system directory"),
    ],
)
def test_loader_logs_where_it_found_the_files(env, fake, monkeypatch, caplog, where, source):
    directory = {
        "path": env.root / "given",
        "data/<name>": env.root / "data" / "fashion-mnist",
        "data": env.root / "data",
        "cache": env.cache / "fashion-mnist",
        "system": env.system / "fashion-mnist",
    }[where]
    fake.write(directory)
    if where.startswith("data"):
        monkeypatch.setenv("FERRONET_DATA", str(env.root / "data"))
    with caplog.at_level(logging.INFO, logger="ferronet"):
        datasets.load_fashion_mnist(directory if where == "path" else None, download=False)
    records = [record for record in caplog.records if record.name.startswith("ferronet")]
    assert [record.getMessage() for record in records] == [f"Fashion-MNIST found in {directory} ({source})"]
    assert records[0].name == "ferronet.datasets" and records[0].levelno == logging.INFO


def test_loader_logs_downloads_and_each_source_of_a_mixed_set(env, fake, mirror, caplog):
    _serve(mirror, fake, prefix="/fm/")
    for name in FILES[:2]:  # two files already in the cache, two to download
        (env.cache / "fashion-mnist").mkdir(parents=True, exist_ok=True)
        (env.cache / "fashion-mnist" / (name + ".gz")).write_bytes(fake.gz[name])
    with caplog.at_level(logging.INFO, logger="ferronet"):
        datasets.load_fashion_mnist(mirror=mirror.url + "fm")
    cache = env.cache / "fashion-mnist"
    assert [record.getMessage() for record in caplog.records if record.name.startswith("ferronet")] == [
        f"Fashion-MNIST ({FILES[0]}.gz, {FILES[1]}.gz) found in {cache} (the cache)",
        f"Fashion-MNIST ({FILES[2]}.gz, {FILES[3]}.gz) downloaded from {mirror.url}fm/ into {cache} (the cache)",
    ]


def test_the_ferronet_logger_shows_nothing_unless_configured():
    import ferronet  # noqa: F401  (the package adds the handler)

    logger = logging.getLogger("ferronet")
    assert any(isinstance(handler, logging.NullHandler) for handler in logger.handlers)
    assert logger.level == logging.NOTSET  # the application decides
