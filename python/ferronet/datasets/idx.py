"""IDX files (the MNIST format) and the MNIST / Fashion-MNIST loaders.

An IDX file is: two zero bytes, a type code (0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32, 0x0D float32,
0x0E float64), the number of dimensions d, then d big-endian uint32 sizes, then the data in C order, big-endian.
The files are usually distributed gzipped; ``read_idx`` tells the two apart by the gzip magic bytes, not by
the file name.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import logging
import math
import os
import struct
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .. import _files
from .._names import keywords
from .._validation import as_array, check_bool, check_float
from . import _download
from ._download import DatasetNotFoundError, DownloadError

__all__ = ["DatasetNotFoundError", "load_fashion_mnist", "load_mnist", "read_idx", "write_idx"]

_TYPE_CODES: dict[int, np.dtype] = {
    0x08: np.dtype("u1"),
    0x09: np.dtype("i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_CODE_OF_KIND: dict[tuple[str, int], int] = {(dtype.kind, dtype.itemsize): code for code, dtype in _TYPE_CODES.items()}
_GZIP_MAGIC = b"\x1f\x8b"
# DEFLATE cannot expand data by more than ~1032:1, so a gzip file of c bytes holds at most about 1032*c bytes.
_MAX_DEFLATE_RATIO = 1032
_CHUNK = 1 << 20
#: Seconds; sockets cannot wait longer on every platform (a larger value overflows the platform's time_t).
MAX_TIMEOUT = 1e8

PathLike = str | os.PathLike[str]

#: Where each data set was found (INFO). A child of the "ferronet" logger, which has only a NullHandler: an
#: application shows these lines with logging.basicConfig(level=logging.INFO); the command line shows them.
logger = logging.getLogger("ferronet.datasets")


# ----------------------------------------------------------------------------------------------- reading


def _read_exactly(stream: io.BufferedIOBase, n: int) -> bytes:
    """Up to ``n`` bytes (fewer only at the end of the stream)."""
    parts = []
    remaining = n
    while remaining > 0:
        chunk = stream.read(remaining)
        if not chunk:
            break
        parts.append(chunk)
        remaining -= len(chunk)
    return b"".join(parts)


def _read_header(stream: io.BufferedIOBase, where: str) -> tuple[bytes, np.dtype, tuple[int, ...]]:
    """Read and check the header; return its bytes, the on-disk dtype and the shape."""
    magic = _read_exactly(stream, 4)
    if len(magic) < 4:
        raise ValueError(f"{where}: not an IDX file: {len(magic)} bytes, shorter than the 4-byte header")
    if magic[0] != 0 or magic[1] != 0:
        raise ValueError(f"{where}: not an IDX file: the first two bytes must be zero, got {magic[:2].hex()}")
    code, ndim = magic[2], magic[3]
    if code not in _TYPE_CODES:
        known = ", ".join(f"0x{c:02X}" for c in _TYPE_CODES)
        raise ValueError(f"{where}: unknown IDX type code 0x{code:02X} (known: {known})")
    if ndim == 0:
        raise ValueError(f"{where}: IDX header declares 0 dimensions")
    sizes = _read_exactly(stream, 4 * ndim)
    if len(sizes) < 4 * ndim:
        raise ValueError(
            f"{where}: truncated IDX header: {ndim} dimension sizes need {4 * ndim} bytes, got {len(sizes)}"
        )
    shape = struct.unpack(f">{ndim}I", sizes)
    return magic + sizes, _TYPE_CODES[code], shape


def _describe_shape(shape: tuple[int, ...], dtype: np.dtype) -> str:
    return f"shape {shape} of {dtype.newbyteorder('=').name}"


def _load_buffer(path: Path) -> tuple[bytearray, np.dtype, tuple[int, ...], int]:
    """The whole decompressed file in a bytearray, after checking that its length agrees with its header.

    Returns ``(buffer, on-disk dtype, shape, header length)``. Nothing proportional to the claimed size is
    allocated before the claim has been checked against what the file can hold: for a raw file, its size; for a
    gzip file, the DEFLATE expansion limit, then a decompression that stops one byte past the claimed length.
    """
    where = str(path)
    with _files.open_regular(path) as raw:
        file_size = os.fstat(raw.fileno()).st_size
        gzipped = _read_exactly(raw, 2) == _GZIP_MAGIC
        raw.seek(0)
        try:
            if gzipped:
                with gzip.GzipFile(fileobj=raw, mode="rb") as stream:
                    return _read_body(stream, where, file_size, gzipped=True)
            return _read_body(raw, where, file_size, gzipped=False)
        except (gzip.BadGzipFile, EOFError, zlib.error) as error:
            raise ValueError(f"{where}: corrupt gzip data: {error}") from None


def _read_body(
    stream: io.BufferedIOBase, where: str, file_size: int, *, gzipped: bool
) -> tuple[bytearray, np.dtype, tuple[int, ...], int]:
    header, dtype, shape = _read_header(stream, where)
    n_items = math.prod(shape)
    expected = len(header) + n_items * dtype.itemsize
    description = _describe_shape(shape, dtype)
    if not gzipped:
        if file_size < expected:
            raise ValueError(
                f"{where}: truncated IDX file: the header declares {description} ({expected} bytes with the header), "
                f"the file has {file_size} bytes"
            )
        if file_size > expected:
            raise ValueError(
                f"{where}: {file_size - expected} trailing bytes after the data declared by the header ({description})"
            )
        buffer = bytearray(expected)
        buffer[: len(header)] = header
        view = memoryview(buffer)
        filled = len(header)
        while filled < expected:
            count = stream.readinto(view[filled:])
            if not count:
                raise ValueError(f"{where}: the file shrank while being read ({filled} of {expected} bytes)")
            filled += count
        return buffer, dtype, shape, len(header)
    if expected > file_size * _MAX_DEFLATE_RATIO + 1024:
        raise ValueError(
            f"{where}: the header declares {description}, {expected} bytes, "
            f"more than a {file_size}-byte gzip file can hold"
        )
    buffer = bytearray(header)
    while len(buffer) <= expected:  # read one byte past the claim to catch trailing data
        chunk = stream.read(min(_CHUNK, expected + 1 - len(buffer)))
        if not chunk:
            break
        buffer += chunk
    if len(buffer) < expected:
        raise ValueError(
            f"{where}: truncated IDX data: the header declares {description} ({expected} bytes with the header), "
            f"the decompressed file has {len(buffer)} bytes"
        )
    if len(buffer) > expected:
        raise ValueError(f"{where}: trailing bytes after the data declared by the header ({description})")
    return buffer, dtype, shape, len(header)


def _to_array(buffer: bytearray, dtype: np.dtype, shape: tuple[int, ...], offset: int) -> np.ndarray:
    """The data of a checked buffer as an array in native byte order (no copy for single-byte types)."""
    array = np.frombuffer(buffer, dtype=dtype, offset=offset, count=math.prod(shape)).reshape(shape)
    if dtype.itemsize == 1:
        return array  # writable (the buffer is a bytearray), shares its memory
    return array.astype(dtype.newbyteorder("="))  # a native, aligned copy


def _as_path(path: Any, name: str = "path") -> Path:
    return _files.as_path(path, name)


def read_idx(path: PathLike) -> np.ndarray:
    """Read an IDX file, gzipped or not (detected by its magic bytes), as an array in native byte order.

    Every IDX type is supported: uint8, int8, int16, int32, float32 and float64. Sizes are checked against what
    the file can hold before any large allocation.

    Parameters
    ----------
    path : str or os.PathLike
        The IDX file, gzipped or not.

    Returns
    -------
    numpy.ndarray
        The array, of the shape and type the header declares, in native byte order.

    Raises
    ------
    FileNotFoundError
        If the file does not exist.
    ValueError
        If the file is malformed (short header, nonzero first bytes, unknown type code, data shorter or longer than
        the header declares, corrupt gzip); the message names the file and the reason.

    Examples
    --------
    >>> images = read_idx("train-images-idx3-ubyte.gz")   # doctest: +SKIP
    >>> images.shape, images.dtype                          # doctest: +SKIP
    ((60000, 28, 28), dtype('uint8'))
    """
    buffer, dtype, shape, offset = _load_buffer(_as_path(path))
    return _to_array(buffer, dtype, shape, offset)


# ----------------------------------------------------------------------------------------------- writing


def write_idx(path: PathLike, array: Any, *, compress: bool | None = None) -> None:
    """Write ``array`` as an IDX file (big-endian, as the format says).

    The file is written atomically: a failure leaves the previous file, if any, as it was. Gzipped output is
    reproducible (no timestamp).

    Parameters
    ----------
    path : str or os.PathLike
        The file to write.
    array : array-like
        1 to 255 dimensions, each below 2**32. Its dtype picks the type code: uint8, int8, int16, int32, float32
        or float64 (any byte order).
    compress : bool, optional
        Gzip the file; None (the default) gzips when the name ends in ``.gz``.

    Raises
    ------
    TypeError
        If the dtype is not one IDX stores (convert first, e.g. ``array.astype(np.int32)``).
    ValueError
        If the array has too many dimensions or a dimension too large.
    OSError
        If the file cannot be written.
    """
    target = _as_path(path)
    data = as_array(array, "array")
    if compress is None:
        compress = target.name.endswith(".gz")
    compress = check_bool(compress, "compress")
    code = _CODE_OF_KIND.get((data.dtype.kind, data.dtype.itemsize)) if data.dtype.kind != "b" else None
    if code is None:
        names = ", ".join(dtype.newbyteorder("=").name for dtype in _TYPE_CODES.values())
        raise TypeError(f"array has dtype {data.dtype}, which IDX cannot store; expected one of {names}")
    if not 1 <= data.ndim <= 255:
        raise ValueError(f"array must have between 1 and 255 dimensions for IDX; got {data.ndim}")
    if any(size >= 2**32 for size in data.shape):
        raise ValueError(f"array has a dimension of 2**32 or more, which IDX cannot store; got shape {data.shape}")
    header = bytes([0, 0, code, data.ndim]) + struct.pack(f">{data.ndim}I", *data.shape)
    body = np.ascontiguousarray(data, dtype=_TYPE_CODES[code]).tobytes()
    if compress:
        buffer = io.BytesIO()
        with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0) as stream:
            stream.write(header)
            stream.write(body)
        content = buffer.getvalue()
    else:
        content = header + body
    _files.atomic_write(target, content)


# ----------------------------------------------------------------------------------------------- MNIST-like sets


@dataclass(frozen=True)
class IdxFile:
    """One file of a data set: its base name (without ``.gz``), expected shape and checksums.

    ``sha256`` is of the decompressed bytes (stable across recompression); ``gz_sha256`` of the upstream ``.gz``
    file, used when no decompressed checksum is known.
    """

    filename: str
    shape: tuple[int, ...]
    sha256: str | None = None
    gz_sha256: str | None = None


@dataclass(frozen=True)
class IdxDataset:
    name: str  # directory name in the lookup chain
    title: str  # for messages
    train_images: IdxFile
    train_labels: IdxFile
    test_images: IdxFile
    test_labels: IdxFile
    mirrors: tuple[str, ...]
    mirror_env: str
    debian_package: str | None = None

    @property
    def files(self) -> tuple[IdxFile, IdxFile, IdxFile, IdxFile]:
        return (self.train_images, self.train_labels, self.test_images, self.test_labels)


#: The known data sets. Fashion-MNIST is verified by the SHA-256 of its decompressed files (Debian recompresses the
#: .gz). For MNIST no published SHA-256 of the decompressed files was available to us, so the SHA-256 of the
#: upstream .gz files is used (the same files whose MD5s are f68b3c2dcbeaaa9fbdd348bbdeb94873,
#: d53e105ee54ea40749a09fcbcd1e9432, 9fb629c4189551a2d022fa330f9573f3 and ec29112dd5afa0611ce80d1b7f02629c).
DATASETS: dict[str, IdxDataset] = {
    "fashion-mnist": IdxDataset(
        name="fashion-mnist",
        title="Fashion-MNIST",
        train_images=IdxFile(
            "train-images-idx3-ubyte",
            (60000, 28, 28),
            "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
        ),
        train_labels=IdxFile(
            "train-labels-idx1-ubyte", (60000,), "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9"
        ),
        test_images=IdxFile(
            "t10k-images-idx3-ubyte",
            (10000, 28, 28),
            "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
        ),
        test_labels=IdxFile(
            "t10k-labels-idx1-ubyte", (10000,), "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34"
        ),
        mirrors=("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
        mirror_env="FERRONET_FASHION_MNIST_MIRROR",
        debian_package="dataset-fashion-mnist",
    ),
    "mnist": IdxDataset(
        name="mnist",
        title="MNIST",
        train_images=IdxFile(
            "train-images-idx3-ubyte",
            (60000, 28, 28),
            gz_sha256="440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
        ),
        train_labels=IdxFile(
            "train-labels-idx1-ubyte",
            (60000,),
            gz_sha256="3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
        ),
        test_images=IdxFile(
            "t10k-images-idx3-ubyte",
            (10000, 28, 28),
            gz_sha256="8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
        ),
        test_labels=IdxFile(
            "t10k-labels-idx1-ubyte",
            (10000,),
            gz_sha256="f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
        ),
        mirrors=(
            "https://ossci-datasets.s3.amazonaws.com/mnist/",
            "https://storage.googleapis.com/cvdf-datasets/mnist/",
        ),
        mirror_env="FERRONET_MNIST_MIRROR",
    ),
}


def _sha256_of_file(path: Path) -> str:
    digest = hashlib.sha256()
    with _files.open_regular(path) as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _verified_array(path: Path, spec: IdxFile, title: str, *, verify: bool, origin: str) -> np.ndarray:
    """Read one data-set file; with ``verify``, check its checksum (when one is known) and its shape.

    A mismatch raises ``ValueError`` naming the file (``origin`` says where it came from, e.g. a URL).
    """
    buffer, dtype, shape, offset = _load_buffer(path)
    if verify:
        advice = "delete or replace it, or pass verify=False to use a variant of the data on purpose"
        if spec.sha256 is not None:
            actual = hashlib.sha256(buffer).hexdigest()
            if actual != spec.sha256:
                raise ValueError(
                    f"{title} file {origin} has the wrong SHA-256 (of its decompressed bytes): expected {spec.sha256}, "
                    f"got {actual}; {advice}"
                )
        elif spec.gz_sha256 is not None and _is_gzip(path):
            actual = _sha256_of_file(path)
            if actual != spec.gz_sha256:
                raise ValueError(
                    f"{title} file {origin} has the wrong SHA-256 (of the .gz file): expected {spec.gz_sha256}, got "
                    f"{actual}; {advice} (an uncompressed copy is checked by its shape only)"
                )
        # files without a known checksum (uncompressed MNIST) are checked by their shape and type only
        if dtype != np.dtype("u1") or shape != spec.shape:
            raise ValueError(
                f"{title} file {origin} holds {_describe_shape(shape, dtype)}, expected {spec.shape} of uint8; {advice}"
            )
    return _to_array(buffer, dtype, shape, offset)


def _is_gzip(path: Path) -> bool:
    with _files.open_regular(path) as handle:
        return handle.read(2) == _GZIP_MAGIC


def _mirror_urls(dataset: IdxDataset, mirror: str | Sequence[str] | None) -> list[str]:
    if mirror is None:
        configured = os.environ.get(dataset.mirror_env, "").split()
        bases = configured or list(dataset.mirrors)
    elif isinstance(mirror, str):
        bases = [mirror]
    elif isinstance(mirror, os.PathLike):  # a local directory laid out like a mirror
        bases = [Path(mirror).resolve().as_uri()]
    elif isinstance(mirror, Sequence) and all(isinstance(m, str) for m in mirror):
        bases = list(mirror)
    else:
        raise TypeError(
            f"mirror must be a URL string, a sequence of URL strings, a local directory or None; "
            f"got {type(mirror).__name__}"
        )
    return [base if base.endswith("/") else base + "/" for base in bases]


def _not_found(
    dataset: IdxDataset, spec: IdxFile, places: list[tuple[str, Path | None]], download_note: list[str]
) -> DatasetNotFoundError:
    gz, raw = spec.filename + ".gz", spec.filename
    lines = []
    for label, directory in places:
        if directory is None:
            lines.append(f"{label}: not given" if label == "path argument" else f"{label}: not set")
        else:
            lines.append(f"{label}: {directory / raw} and {directory / gz}")
    lines.extend(download_note)
    files = ", ".join(f.filename + ".gz" for f in dataset.files)
    how = [
        f"pass path='DIR' (a directory holding {files}, gzipped or not)",
        f"or set FERRONET_DATA=DIR (files in DIR/{dataset.name}/ or DIR/)",
    ]
    if dataset.debian_package:
        how.append(f"or, on Debian/Ubuntu, `apt-get install {dataset.debian_package}`")
    how.append(f"or put them in {_download.cache_root() / dataset.name}/")
    how.append(f"or point mirror= or ${dataset.mirror_env} at a URL serving them")
    message = (
        f"{dataset.title} file {raw} (or {gz}) not found. Looked in:\n"
        + "".join(f"  - {line}\n" for line in lines)
        + "To provide the files: "
        + "; ".join(how)
        + "."
    )
    return DatasetNotFoundError(message, lines)


#: How the log names each place of the lookup chain.
_SOURCE_NAMES = {"path argument": "the path argument", "cache": "the cache", "system": "the system directory"}


def _first_file(places: Sequence[tuple[str, Path | None]], filename: str) -> tuple[Path, str] | None:
    """The first place of the lookup chain that holds ``filename`` (gzipped or not), with the place's label."""
    for label, directory in places:
        found = _download.find_file(directory, filename)
        if found is not None:
            return found, label
    return None


def _not_in_path(dataset: IdxDataset, path: Path, missing: Sequence[IdxFile]) -> DatasetNotFoundError:
    """The error for a directory given as ``path`` that lacks some of the files: what was looked for, and where.

    One line (the command line shows it as is, with ``path=`` read as ``--data-dir``)."""
    if not path.exists():
        state = "does not exist"
    elif len(missing) == len(dataset.files):
        state = "holds none of its files"
    else:
        state = f"lacks {len(missing)} of its {len(dataset.files)} files"
    looked = ", ".join(f"{spec.filename} or {spec.filename}.gz" for spec in dataset.files)
    lacking = "" if len(missing) == len(dataset.files) else f" (missing: {', '.join(s.filename for s in missing)})"
    message = (
        f"{dataset.title} not found: path={str(path)!r} {state}; looked for {looked} in {path}{lacking}. "
        f"Give the directory that holds the four files, or leave path out to look in $FERRONET_DATA, "
        f"{_download.cache_root() / dataset.name}, {_download.SYSTEM_DATA_ROOT / dataset.name} and then download them."
    )
    lines = [f"path argument: {path / spec.filename} and {path / spec.filename}.gz" for spec in missing]
    return DatasetNotFoundError(message, lines)


def _load_idx_dataset(
    dataset: IdxDataset,
    path: PathLike | None,
    *,
    flatten: bool,
    normalize: bool,
    download: bool,
    mirror: str | Sequence[str] | None,
    verify: bool,
    timeout: float,
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    if path is not None:
        path = _as_path(path)
        if path.exists() and not path.is_dir():
            raise ValueError(f"path must be a directory holding the {dataset.title} files; {path} is a file")
    flatten = check_bool(flatten, "flatten")
    normalize = check_bool(normalize, "normalize")
    download = check_bool(download, "download")
    verify = check_bool(verify, "verify")
    timeout = check_float(timeout, "timeout", minimum=0.0, maximum=MAX_TIMEOUT, min_inclusive=False)
    urls = _mirror_urls(dataset, mirror)

    places = _download.search_dirs(dataset.name, path)
    if path is not None:  # an explicit directory: the files must be there, nothing else is looked at
        places = places[:1]
        missing = [spec for spec in dataset.files if _download.find_file(path, spec.filename) is None]
        if missing:
            raise _not_in_path(dataset, path, missing)
    arrays = []
    sources: dict[str, list[str]] = {}  # where each file came from, for the log: "found in DIR (the cache)" -> names
    for spec in dataset.files:
        hit = _first_file(places, spec.filename)
        if hit is not None:
            found, label = hit
            arrays.append(_verified_array(found, spec, dataset.title, verify=verify, origin=str(found)))
            sources.setdefault(f"found in {found.parent} ({_SOURCE_NAMES.get(label, label)})", []).append(found.name)
            continue
        if not download:
            raise _not_found(dataset, spec, places, ["download: not attempted (download=False)"])
        destination = _download.cache_root() / dataset.name / (spec.filename + ".gz")
        used: list[str] = []

        def check(temporary: Path, url: str, spec: IdxFile = spec, used: list[str] = used) -> np.ndarray:
            used.append(url)
            return _verified_array(temporary, spec, dataset.title, verify=verify, origin=f"downloaded from {url}")

        raw_size = 4 + 4 * len(spec.shape) + math.prod(spec.shape)
        try:
            array = _download.download(
                [url + spec.filename + ".gz" for url in urls],
                destination,
                check=check,
                timeout=timeout,
                # gzip of incompressible data grows by ~0.03 %; a variant (verify=False) may be larger than the original
                max_bytes=raw_size + raw_size // 100 + 65536 if verify else max(4 * raw_size, 1 << 31),
            )
        except DownloadError as error:
            raise _not_found(
                dataset, spec, places, [f"download failed: {reason}" for reason in error.reasons]
            ) from None
        arrays.append(array)
        origin = used[-1].rsplit("/", 1)[0] + "/" if used else "a mirror"
        sources.setdefault(f"downloaded from {origin} into {destination.parent} (the cache)", []).append(
            destination.name
        )
    for source, names in sources.items():
        files = "" if len(names) == len(dataset.files) else f" ({', '.join(names)})"
        logger.info("%s%s %s", dataset.title, files, source)

    train_images, train_labels, test_images, test_labels = arrays
    for images, labels, split in ((train_images, train_labels, "training"), (test_images, test_labels, "test")):
        if images.ndim < 2 or labels.ndim != 1 or images.shape[0] != labels.shape[0]:
            raise ValueError(
                f"{dataset.title} {split} files disagree: images of shape {images.shape}, "
                f"labels of shape {labels.shape}"
            )
        if labels.dtype.kind not in "iu":
            raise ValueError(f"{dataset.title} {split} labels must be integers; the file holds {labels.dtype}")
        if normalize and images.dtype != np.uint8:
            raise ValueError(
                f"normalize=True scales uint8 pixels by 1/255, but the {split} images are {images.dtype}; "
                "pass normalize=False"
            )
    return (
        (_prepare_images(train_images, flatten, normalize), train_labels.astype(np.int64)),
        (_prepare_images(test_images, flatten, normalize), test_labels.astype(np.int64)),
    )


def _prepare_images(images: np.ndarray, flatten: bool, normalize: bool) -> np.ndarray:
    if flatten:
        images = images.reshape(images.shape[0], -1)
    if normalize:
        scaled = images.astype(np.float32)
        scaled /= np.float32(255.0)
        return scaled
    return images


#: torchvision's and Keras' arguments of their MNIST loaders.
_LOADER_HINTS = {
    "root": "ferronet's name is path (a directory holding the four files)",
    "data_dir": "ferronet's name is path (a directory holding the four files)",
    "train": "the loader returns both sets: (X_train, y_train), (X_test, y_test)",
    "transform": "the loader returns arrays: transform them afterwards",
}


@keywords(hints=_LOADER_HINTS)
def load_fashion_mnist(
    path: PathLike | None = None,
    *,
    flatten: bool = True,
    normalize: bool = True,
    download: bool = True,
    mirror: str | Sequence[str] | None = None,
    verify: bool = True,
    timeout: float = 30.0,
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Load Fashion-MNIST (Zalando Research; 10 classes of clothing, MIT licence): ``(X_train, y_train), (X_test, y_test)``.

    Given ``path`` (a directory), the four files must be there: nothing else is looked at, and a directory that
    lacks them raises :class:`DatasetNotFoundError` naming the files and the directory. Without it, each of the
    four files is looked for, first match wins, in:

    1. ``$FERRONET_DATA/fashion-mnist/``, then ``$FERRONET_DATA/``;
    2. the cache, ``$XDG_CACHE_HOME/ferronet/fashion-mnist/`` or ``~/.cache/ferronet/fashion-mnist/``;
    3. ``/usr/share/datasets/fashion-mnist/`` (Debian/Ubuntu: ``apt-get install dataset-fashion-mnist``);
    4. with ``download=True``, a download into the cache from ``mirror``, else ``$FERRONET_FASHION_MNIST_MIRROR``
       (whitespace-separated URLs), else http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/.

    Each file may be gzipped (``train-images-idx3-ubyte.gz``) or not (``train-images-idx3-ubyte``).
    Every file is verified by the SHA-256 of its decompressed bytes, so Debian's recompressed
    .gz files verify as well as the upstream ones.
    Downloads are read and checked before they land in the cache, atomically: a bad or malformed download raises
    ``ValueError`` and leaves nothing behind. Where the files were found (or downloaded from) is logged at INFO on
    the ``ferronet.datasets`` logger.

    Parameters
    ----------
    path : str or os.PathLike, optional
        The directory holding the four files (the only place looked at when given).
    flatten : bool, default True
        Images as rows of 784 pixels; False keeps them as (n, 28, 28).
    normalize : bool, default True
        Pixels as float32 scaled to [0, 1] (``pixel / 255``); False returns the raw uint8 pixels 0..255.
    download : bool, default True
        Download the files that are nowhere on disk.
    mirror : str or sequence of str, optional
        Base URL(s) to download from instead of ``$FERRONET_FASHION_MNIST_MIRROR`` or the default mirrors.
    verify : bool, default True
        Check files found on disk too (a mismatch raises ``ValueError`` naming the file; it is never silently
        replaced); False skips the checksums and expected shapes, for your own variants of the data (the files
        must still be well-formed IDX files with as many labels as images).
    timeout : float, default 30.0
        Seconds to wait for a connection or a read.

    Returns
    -------
    tuple
        ``((X_train, y_train), (X_test, y_test))``, NumPy arrays. With the defaults ``X_train`` is float32 of shape
        (60000, 784), ``X_test`` (10000, 784), and the labels int64 in 0..9.

    Raises
    ------
    DatasetNotFoundError
        A ``FileNotFoundError``: the files are in none of these places and no download was possible (offline,
        ``download=False``, a network error, or no answer within ``timeout``); it lists every path looked at, why
        each download failed, and how to provide the files.
    ValueError
        If a file is malformed or fails its checksum, or ``path`` is a file.

    Examples
    --------
    >>> (X_train, y_train), (X_test, y_test) = load_fashion_mnist()  # doctest: +SKIP
    >>> X_train.shape, X_test.shape  # doctest: +SKIP
    ((60000, 784), (10000, 784))
    """
    return _load_idx_dataset(
        DATASETS["fashion-mnist"],
        path,
        flatten=flatten,
        normalize=normalize,
        download=download,
        mirror=mirror,
        verify=verify,
        timeout=timeout,
    )


@keywords(hints=_LOADER_HINTS)
def load_mnist(
    path: PathLike | None = None,
    *,
    flatten: bool = True,
    normalize: bool = True,
    download: bool = True,
    mirror: str | Sequence[str] | None = None,
    verify: bool = True,
    timeout: float = 30.0,
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Load MNIST (LeCun, Cortes and Burges; handwritten digits): ``(X_train, y_train), (X_test, y_test)``.

    Given ``path`` (a directory), the four files must be there: nothing else is looked at, and a directory that
    lacks them raises :class:`DatasetNotFoundError` naming the files and the directory. Without it, each of the
    four files is looked for, first match wins, in:

    1. ``$FERRONET_DATA/mnist/``, then ``$FERRONET_DATA/``;
    2. the cache, ``$XDG_CACHE_HOME/ferronet/mnist/`` or ``~/.cache/ferronet/mnist/``;
    3. ``/usr/share/datasets/mnist/`` (no Debian package ships it; any directory laid out this way works);
    4. with ``download=True``, a download into the cache from ``mirror``, else ``$FERRONET_MNIST_MIRROR``
       (whitespace-separated URLs), else https://ossci-datasets.s3.amazonaws.com/mnist/,
       then https://storage.googleapis.com/cvdf-datasets/mnist/.

    Each file may be gzipped (``train-images-idx3-ubyte.gz``) or not (``train-images-idx3-ubyte``).
    Gzipped files are verified by the SHA-256 of the upstream .gz bytes (no published checksum of
    the decompressed files was available to us; the .gz files' upstream MD5s are noted beside
    ``DATASETS`` in ferronet/datasets/idx.py), so a recompressed copy fails the check (use ``verify=False``);
    uncompressed files are checked by their shape and type only.
    Downloads are read and checked before they land in the cache, atomically: a bad or malformed download raises
    ``ValueError`` and leaves nothing behind. Where the files were found (or downloaded from) is logged at INFO on
    the ``ferronet.datasets`` logger.

    Parameters
    ----------
    path : str or os.PathLike, optional
        The directory holding the four files (the only place looked at when given).
    flatten : bool, default True
        Images as rows of 784 pixels; False keeps them as (n, 28, 28).
    normalize : bool, default True
        Pixels as float32 scaled to [0, 1] (``pixel / 255``); False returns the raw uint8 pixels 0..255.
    download : bool, default True
        Download the files that are nowhere on disk.
    mirror : str or sequence of str, optional
        Base URL(s) to download from instead of ``$FERRONET_MNIST_MIRROR`` or the default mirrors.
    verify : bool, default True
        Check files found on disk too (a mismatch raises ``ValueError`` naming the file; it is never silently
        replaced); False skips the checksums and expected shapes, for your own variants of the data (the files
        must still be well-formed IDX files with as many labels as images).
    timeout : float, default 30.0
        Seconds to wait for a connection or a read.

    Returns
    -------
    tuple
        ``((X_train, y_train), (X_test, y_test))``, NumPy arrays. With the defaults ``X_train`` is float32 of shape
        (60000, 784), ``X_test`` (10000, 784), and the labels int64 in 0..9.

    Raises
    ------
    DatasetNotFoundError
        A ``FileNotFoundError``: the files are in none of these places and no download was possible (offline,
        ``download=False``, a network error, or no answer within ``timeout``); it lists every path looked at, why
        each download failed, and how to provide the files.
    ValueError
        If a file is malformed or fails its checksum, or ``path`` is a file.

    Examples
    --------
    >>> (X_train, y_train), (X_test, y_test) = load_mnist()  # doctest: +SKIP
    >>> X_train.shape, X_test.shape  # doctest: +SKIP
    ((60000, 784), (10000, 784))
    """
    return _load_idx_dataset(
        DATASETS["mnist"],
        path,
        flatten=flatten,
        normalize=normalize,
        download=download,
        mirror=mirror,
        verify=verify,
        timeout=timeout,
    )
