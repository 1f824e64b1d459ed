"""Arrays in files, for the command line: ``.npy`` (NumPy's format, never pickles) and ``.csv`` (numbers separated
by commas, one row per line; a first line that is not numbers is a header and is skipped).

Reading checks before allocating: a ``.npy`` header that claims more data than the file holds is refused without
building the array. Errors are ``ValueError`` naming the flag and the file; the file policy (symbolic links,
special files, atomic writes) is ``ferronet._files``'s.
"""

from __future__ import annotations

import io
import math
from pathlib import Path
from typing import Any

import numpy as np

from . import _files

SUFFIXES = (".csv", ".npy")


def suffix_of(path: Any, what: str) -> str:
    """``.csv`` or ``.npy`` (case-insensitive) from the file name, else ``ValueError``."""
    suffix = _files.as_path(path, what).suffix.lower()
    if suffix not in SUFFIXES:
        shown = repr(suffix) if suffix else "no suffix"
        raise ValueError(f"{what} {path}: unknown file type ({shown}); use a .csv or .npy file")
    return suffix


def read_array(path: Any, *, what: str) -> np.ndarray:
    """The array stored in a ``.npy`` or ``.csv`` file (CSV: float64, at least 2-D)."""
    suffix = suffix_of(path, what)
    data = _files.read_bytes(path, what=what)
    if suffix == ".npy":
        return _read_npy(data, f"{what} {path}")
    return _read_csv(data, f"{what} {path}")


def _read_npy(data: bytes, where: str) -> np.ndarray:
    stream = io.BytesIO(data)
    try:
        version = np.lib.format.read_magic(stream)
        if version == (1, 0):
            shape, _, dtype = np.lib.format.read_array_header_1_0(stream)
        elif version == (2, 0):
            shape, _, dtype = np.lib.format.read_array_header_2_0(stream)
        else:
            raise ValueError(f"format version {version} is not supported (1.0 and 2.0 are)")
    except (ValueError, OSError, EOFError, SyntaxError) as error:  # SyntaxError: an unparsable header literal
        raise ValueError(f"{where}: not a valid .npy file ({_first_line(error)})") from None
    if dtype.hasobject:
        raise ValueError(f"{where}: holds Python objects (dtype {dtype}); only arrays of numbers can be read")
    needed = math.prod(shape) * dtype.itemsize
    available = len(data) - stream.tell()
    if needed != available:
        raise ValueError(
            f"{where}: its header claims shape {shape} of {dtype} ({needed} bytes) but {available} bytes follow"
        )
    try:
        array: np.ndarray = np.load(io.BytesIO(data), allow_pickle=False)
    except (ValueError, OSError, EOFError) as error:
        raise ValueError(f"{where}: not a valid .npy file ({_first_line(error)})") from None
    return array


def _read_csv(data: bytes, where: str) -> np.ndarray:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ValueError(f"{where}: not a text file (byte {error.start} is not UTF-8)") from None
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        raise ValueError(f"{where}: the file holds no rows")
    if len(lines) > 1 and not _is_numbers(lines[0]):
        lines = lines[1:]  # a header line (column names)
    return _parse_rows(lines, where)


def _is_numbers(line: str) -> bool:
    try:
        [float(field) for field in line.split(",")]
    except ValueError:
        return False
    return True


def _parse_rows(lines: list[str], where: str) -> np.ndarray:
    rows = []
    for number, line in enumerate(lines, start=1):
        try:
            rows.append([float(field) for field in line.split(",")])
        except ValueError:
            raise ValueError(f"{where}: row {number} is not comma-separated numbers: {line[:60]!r}") from None
        if len(rows[-1]) != len(rows[0]):
            raise ValueError(f"{where}: row {number} has {len(rows[-1])} values, the first row {len(rows[0])}")
    return np.array(rows, dtype=np.float64)


def write_array(path: Any, array: np.ndarray, *, what: str) -> Path:
    """Write ``array`` as ``.npy`` or ``.csv`` (by the suffix), atomically."""
    suffix = suffix_of(path, what)
    if suffix == ".npy":
        buffer = io.BytesIO()
        np.save(buffer, array, allow_pickle=False)
        return _files.atomic_write(path, buffer.getvalue(), what=what)
    return _files.atomic_write(path, to_csv(array).encode(), what=what)


def to_csv(array: np.ndarray) -> str:
    """The rows of a 1-D or 2-D array as CSV text (integers as integers, floats to 9 significant digits)."""
    text = io.StringIO()
    fmt = "%d" if array.dtype.kind in "iub" else "%.9g"
    np.savetxt(text, array.reshape(array.shape[0], -1) if array.ndim else array.reshape(1, 1), fmt=fmt, delimiter=",")
    return text.getvalue()


def _first_line(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__
