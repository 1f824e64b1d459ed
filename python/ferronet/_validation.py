"""Every check of user input, in one place.

Messages speak the user's language: they name the argument, say what was expected and what was given.
Shapes, values, NaN/inf and unknown names raise ``ValueError``; wrong types raise ``TypeError``.
Checks never mutate their input; a function that validates everything first leaves state untouched on error.

Numbers: an integer argument is a Python or NumPy integer (not a bool: True is not a count, and not a float, as
``range`` refuses 3.0); a real argument is any real number (int, float, Fraction, Decimal, NumPy integer or
float scalar; not a bool, complex, datetime or timedelta). Values beyond what the engine can hold (10**400, a
Fraction too large for a float, 2**64 where a 64-bit integer is needed) are ``ValueError`` naming the argument,
never ``OverflowError``.

Arrays: anything NumPy can turn into an array of numbers. A masked array gives its data and its mask is ignored,
as scikit-learn's ``check_array`` does (``np.asarray``): masked NaN entries are still NaN and are refused.

Sparse features: SciPy CSR and CSC matrices and arrays (``check_sparse_features``), never densified: they become a
``SparseRows`` (CSR parts in the engine's types) that ``_core`` copies or reads as they are. Other sparse formats
are refused with the conversion to use (``X.tocsr()``).
"""

from __future__ import annotations

import decimal
import math
import numbers
import sys
from collections.abc import Iterable
from typing import Any, Literal, NamedTuple, TypeAlias

import numpy as np

from ._names import suggestion

FLOAT_DTYPES = ("float32", "float64")

#: Largest class label the engine accepts (labels are stored as uint32).
MAX_LABEL = 2**32 - 1

#: Integer arguments reach the engine or NumPy as 64-bit integers: ``check_int``'s upper bound unless told.
INT64_MAX = 2**63 - 1

#: Seeds are 64-bit everywhere (the engine's are u64; NumPy's would take any size, but one rule is simpler).
MAX_SEED = 2**64 - 1

#: Scalars NumPy counts as numbers that are not quantities (timedelta64 is registered as an Integral).
_NOT_NUMBERS = (bool, np.bool_, np.timedelta64, np.datetime64)


def _describe(value: Any) -> str:
    if isinstance(value, int) and value.bit_length() > 128:
        return _describe_int(value)
    try:
        text = repr(value)
    except ValueError:  # e.g. a Fraction of integers with more digits than int -> str allows
        text = f"<{type(value).__name__} too large to print>"
    return text if len(text) <= 60 else text[:57] + "..."


def _describe_int(number: int) -> str:
    """An integer for a message: huge ones by their size (str() refuses more than 4300 digits)."""
    if number.bit_length() <= 128:
        return str(number)
    digits = int(number.bit_length() * math.log10(2)) + 1
    return f"{'-' if number < 0 else ''}an integer of about {digits} digits"


def check_choice(value: Any, name: str, choices: Iterable[str]) -> str:
    """A string from a fixed set of names (case-sensitive)."""
    options = tuple(choices)
    if not isinstance(value, str):
        raise TypeError(
            f"{name} must be one of {', '.join(map(repr, options))}; got {type(value).__name__} {_describe(value)}"
        )
    if value not in options:
        raise ValueError(
            f"{name} must be one of {', '.join(map(repr, options))}; got {value!r}{suggestion(value, options)}"
        )
    return value


def check_bool(value: Any, name: str) -> bool:
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    raise TypeError(f"{name} must be True or False; got {type(value).__name__} {_describe(value)}")


def check_int(value: Any, name: str, *, minimum: int | None = None, maximum: int | None = INT64_MAX) -> int:
    """An integer (Python or NumPy, not bool) within [minimum, maximum]; ``maximum`` defaults to the int64 range
    (pass None for an unbounded Python int, e.g. a seed that only NumPy's SeedSequence sees)."""
    if isinstance(value, _NOT_NUMBERS) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer; got {type(value).__name__} {_describe(value)}")
    number = int(value)
    if minimum is not None and number < minimum:
        raise ValueError(f"{name} must be >= {minimum}; got {_describe_int(number)}")
    if maximum is not None and number > maximum:
        raise ValueError(f"{name} must be <= {maximum}; got {_describe_int(number)}")
    return number


def check_float(
    value: Any,
    name: str,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    min_inclusive: bool = True,
    max_inclusive: bool = True,
) -> float:
    """A finite real number within the given bounds, as a Python float."""
    if isinstance(value, _NOT_NUMBERS) or not isinstance(value, (numbers.Real, decimal.Decimal)):
        raise TypeError(f"{name} must be a number; got {type(value).__name__} {_describe(value)}")
    try:
        number = float(value)
    except OverflowError:  # an int or Fraction beyond the float range
        raise ValueError(f"{name} must be finite; got {_describe(value)}, too large for a float") from None
    except (ValueError, ArithmeticError):  # Decimal('sNaN') refuses conversion
        raise ValueError(f"{name} must be finite; got {_describe(value)}") from None
    if not math.isfinite(number):
        raise ValueError(f"{name} must be finite; got {number}")
    if minimum is not None and (number < minimum or (not min_inclusive and number == minimum)):
        bound = ">=" if min_inclusive else ">"
        raise ValueError(f"{name} must be {bound} {minimum}; got {number}")
    if maximum is not None and (number > maximum or (not max_inclusive and number == maximum)):
        bound = "<=" if max_inclusive else "<"
        raise ValueError(f"{name} must be {bound} {maximum}; got {number}")
    return number


def check_probability(value: Any, name: str) -> float:
    """A drop probability: 0 <= p < 1."""
    return check_float(value, name, minimum=0.0, maximum=1.0, max_inclusive=False)


def check_dtype(value: Any, name: str = "dtype") -> np.dtype:
    """'float32' or 'float64' (a string, a NumPy dtype or the NumPy scalar type)."""
    try:
        dtype: np.dtype[Any] = np.dtype(value)
    except TypeError:
        raise TypeError(f"{name} must be 'float32' or 'float64'; got {_describe(value)}") from None
    if dtype.name not in FLOAT_DTYPES:
        raise ValueError(f"{name} must be 'float32' or 'float64'; got {dtype.name!r}")
    return dtype


def as_array(value: Any, name: str) -> np.ndarray:
    """Anything array-like (lists, DataFrames, arrays) as a plain NumPy array, without copying when possible.

    Subclasses become plain arrays (a view): a masked array gives its data, mask ignored, as scikit-learn's
    ``check_array`` does; np.matrix and np.memmap their data. Checks then see every value, including masked NaN.
    """
    if isinstance(value, np.ndarray):
        array = value if type(value) is np.ndarray else np.asarray(value)
    elif type(value).__module__.startswith("scipy.sparse"):
        raise TypeError(_sparse_refused(value, name))
    elif value is None or isinstance(value, (str, bytes, dict, set)):
        raise TypeError(f"{name} must be an array-like of numbers; got {type(value).__name__}")
    else:
        try:
            array = np.asarray(value)
        except (TypeError, ValueError) as error:
            raise TypeError(f"{name} must be an array-like of numbers; could not convert it: {error}") from None
    if array.dtype.kind not in "biuf":
        raise TypeError(f"{name} must hold numbers (bool, int or float); got dtype {array.dtype}")
    return array


def _bytes(size: float) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GiB"  # pragma: no cover - the loop returns


def _sparse_refused(value: Any, name: str) -> str:
    """The message for a scipy.sparse matrix or array where dense input is needed (callers that take sparse input
    convert it before they get here)."""
    shape = getattr(value, "shape", None)
    dtype = getattr(value, "dtype", None)
    try:
        size = math.prod(shape) * np.dtype(dtype).itemsize if shape is not None else None
    except TypeError:
        size = None
    dense = "" if size is None else f" (dense: {_bytes(size)})"
    return (
        f"{name} is a scipy.sparse {type(value).__name__} of shape {shape}; sparse input is not accepted here: "
        f"convert it with {name}.toarray(){dense}"
    )


def check_features(
    value: Any,
    name: str,
    dtype: np.dtype,
    *,
    n_features: int | None = None,
    allow_empty: bool = False,
    check_finite: bool = True,
) -> np.ndarray:
    """A 2-D matrix of samples × features, returned C-contiguous in ``dtype`` (no copy when already so).

    A 1-D input is rejected rather than guessed at (one sample or one feature?), as scikit-learn does.
    """
    array = as_array(value, name)
    if array.ndim != 2:
        hint = (
            " (reshape a single sample with X.reshape(1, -1), a single feature with X.reshape(-1, 1))"
            if array.ndim == 1
            else ""
        )
        raise ValueError(
            f"{name} must be a 2-D array of shape (n_samples, n_features); got {array.ndim}-D shape {array.shape}{hint}"
        )
    if array.shape[0] == 0 and not allow_empty:
        raise ValueError(f"{name} must have at least one row; got shape {array.shape}")
    if n_features is not None and array.shape[1] != n_features:
        raise ValueError(f"{name} has {array.shape[1]} features, the model expects {n_features}")
    if array.shape[1] == 0:
        raise ValueError(f"{name} must have at least one feature; got shape {array.shape}")
    converted = cast(array, dtype)
    if check_finite:
        require_finite(converted, name)
    return converted


#: What the engine needs of an array: one C-contiguous block, aligned for its dtype. Arrays that crossed a
#: network (Dask, pickle protocol 5 buffers) can be contiguous but unaligned; np.ascontiguousarray keeps those.
ENGINE_LAYOUT: tuple[Literal["C_CONTIGUOUS"], Literal["ALIGNED"]] = ("C_CONTIGUOUS", "ALIGNED")


def cast(array: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """C-contiguous and aligned in ``dtype`` (no copy when already so). Values too large for the dtype become inf,
    which ``require_finite`` then reports, instead of an overflow warning."""
    with np.errstate(over="ignore", invalid="ignore"):
        return np.require(array, dtype=dtype, requirements=ENGINE_LAYOUT)


def require_finite(array: np.ndarray, name: str) -> None:
    """Raise ValueError naming the first NaN/inf entry (values that overflow the dtype count as inf)."""
    if array.dtype.kind == "f" and array.size and not np.isfinite(array).all():
        flat = int(np.flatnonzero(~np.isfinite(array.reshape(-1)))[0])
        index = np.unravel_index(flat, array.shape)
        where = index[0] if len(index) == 1 else tuple(int(i) for i in index)
        raise ValueError(f"{name} contains NaN or infinity (first at index {where}: {array.reshape(-1)[flat]})")


def check_labels(value: Any, name: str, *, n_samples: int | None = None, n_classes: int | None = None) -> np.ndarray:
    """Integer class labels of shape (n,), returned as int64. Floats are accepted when they are whole numbers."""
    array = as_array(value, name)
    if array.ndim != 1:
        raise ValueError(f"{name} must be 1-D integer labels of shape (n_samples,); got shape {array.shape}")
    if n_samples is not None and array.shape[0] != n_samples:
        raise ValueError(f"{name} has {array.shape[0]} labels but X has {n_samples} rows")
    if array.dtype.kind == "f":
        require_finite(array, name)
        if not np.array_equal(array, np.floor(array)):
            raise ValueError(
                f"{name} must hold integer class labels; got non-integer values such as {array[array != np.floor(array)][0]}"
            )
    # compared as a Python number: NumPy would cast MAX_LABEL to the array's dtype (an overflow for float16)
    if array.size and array.dtype.kind in "uf" and array.max().item() > MAX_LABEL:
        raise ValueError(f"{name} holds label {array.max()}; labels must be below {MAX_LABEL + 1}")
    labels = np.require(array, dtype=np.int64, requirements=ENGINE_LAYOUT)
    if labels.size and labels.min() < 0:
        raise ValueError(f"{name} must hold class labels >= 0; got {labels.min()}")
    if n_classes is not None and labels.size and labels.max() >= n_classes:
        raise ValueError(
            f"{name} holds label {labels.max()} but the model has {n_classes} outputs (labels 0..{n_classes - 1})"
        )
    return labels


def check_sample_weight(value: Any, n_samples: int, dtype: np.dtype, name: str = "sample_weight") -> np.ndarray | None:
    """Non-negative finite per-sample weights of shape (n,), or None."""
    if value is None:
        return None
    array = as_array(value, name)
    if array.ndim != 1 or array.shape[0] != n_samples:
        raise ValueError(f"{name} must have shape ({n_samples},); got {array.shape}")
    weights = cast(array, dtype)
    require_finite(weights, name)
    if weights.size and weights.min() < 0:
        raise ValueError(f"{name} must be >= 0; got {weights.min()}")
    return weights


# ---- sparse features ------------------------------------------------------------------------------------------

#: The index dtypes the engine reads (SciPy's).
INDEX_DTYPES = (np.dtype(np.int32), np.dtype(np.int64))


class SparseRows(NamedTuple):
    """A CSR matrix ready for the engine: ``data`` in the model's dtype, ``indices`` and ``indptr`` int32 or int64,
    all C-contiguous; ``shape`` is (rows, cols). Row i's entries are ``indptr[i]:indptr[i + 1]`` of ``indices``
    (column numbers, in any order, repeats adding up) and ``data``; ``indptr`` may start past 0 (``row_block``).
    ``_core`` reads it through its attributes, as it would read a SciPy CSR matrix."""

    data: np.ndarray
    indices: np.ndarray
    indptr: np.ndarray
    shape: tuple[int, int]

    @property
    def nnz(self) -> int:
        """Stored entries."""
        return int(self.indptr[-1] - self.indptr[0])

    @property
    def nbytes(self) -> int:
        """Bytes of the stored entries and of ``indptr``."""
        return self.nnz * (self.data.itemsize + self.indices.itemsize) + self.indptr.nbytes

    def row_block(self, start: int, stop: int) -> SparseRows:
        """Rows ``start:stop`` (no copy: a shorter ``indptr`` over the same entries)."""
        return SparseRows(self.data, self.indices, self.indptr[start : stop + 1], (stop - start, self.shape[1]))

    def take(self, rows: np.ndarray) -> SparseRows:
        """The rows ``rows`` in that order (a copy)."""
        starts, ends = self.indptr[:-1][rows], self.indptr[1:][rows]
        counts = ends - starts
        indptr = np.zeros(len(rows) + 1, dtype=np.int64)
        np.cumsum(counts, out=indptr[1:])
        # the position of each entry of the result in the original arrays
        positions = np.repeat(starts - indptr[:-1], counts) + np.arange(indptr[-1])
        return SparseRows(self.data[positions], self.indices[positions], indptr, (len(rows), self.shape[1]))


#: Features as the engine takes them: a C-contiguous matrix or CSR parts.
FeatureMatrix: TypeAlias = "np.ndarray | SparseRows"


def is_sparse(value: Any) -> bool:
    """Whether ``value`` is a SciPy sparse matrix or array, or already ``SparseRows`` (SciPy is not imported: a
    caller that holds a sparse matrix has imported it)."""
    if isinstance(value, SparseRows):
        return True
    module = sys.modules.get("scipy.sparse")
    return module is not None and bool(module.issparse(value))


def check_sparse_features(
    value: Any,
    name: str,
    dtype: np.dtype,
    *,
    n_features: int | None = None,
    allow_empty: bool = False,
    check_finite: bool = True,
) -> SparseRows:
    """A SciPy CSR or CSC matrix (or array) of samples × features as ``SparseRows`` in ``dtype``, without densifying
    it. CSC is converted to CSR (a copy); the values are copied only when their dtype is not ``dtype``; the index
    arrays are kept (int32 or int64; other integer types become int64). Other formats (COO, LIL, DOK, BSR, DIA)
    are a TypeError that names the conversion, ``.tocsr()``.

    Parameters
    ----------
    value : scipy.sparse matrix or array, or SparseRows
        The features.
    name : str
        The argument's name, for the messages.
    dtype : numpy.dtype
        float32 or float64: the values' dtype in the result.
    n_features : int, optional
        The number of columns required.
    allow_empty : bool
        Whether zero rows are accepted.
    check_finite : bool
        Whether NaN/inf values are refused here (the engine checks them again when it copies X for ``fit``).

    Returns
    -------
    SparseRows
        The CSR parts, ready for the engine.
    """
    if isinstance(value, SparseRows):
        rows = value
    else:
        form = str(getattr(value, "format", "?"))
        if form not in ("csr", "csc"):
            raise TypeError(
                f"{name} is a scipy.sparse {type(value).__name__} in {form.upper()} format; ferronet takes sparse "
                f"input in CSR or CSC format: convert it with {name}.tocsr()"
            )
        if value.ndim != 2:
            raise ValueError(
                f"{name} must be 2-D of shape (n_samples, n_features); got {value.ndim}-D shape {value.shape}"
            )
        if form == "csc":
            value = value.tocsr()
        if value.data.dtype.kind not in "biuf":
            raise TypeError(f"{name} must hold numbers (bool, int or float); got dtype {value.data.dtype}")
        index = [
            array if array.dtype in INDEX_DTYPES else np.asarray(array, dtype=np.int64)
            for array in (value.indices, value.indptr)
        ]
        index = [np.require(array, requirements=ENGINE_LAYOUT) for array in index]
        rows = SparseRows(value.data, index[0], index[1], (int(value.shape[0]), int(value.shape[1])))
    n_rows, n_cols = rows.shape
    if n_rows == 0 and not allow_empty:
        raise ValueError(f"{name} must have at least one row; got shape {rows.shape}")
    if n_features is not None and n_cols != n_features:
        raise ValueError(f"{name} has {n_cols} features, the model expects {n_features}")
    if n_cols == 0:
        raise ValueError(f"{name} must have at least one feature; got shape {rows.shape}")
    rows = rows._replace(data=cast(rows.data, dtype))
    if check_finite:
        require_finite_sparse(rows, name)
    return rows


def require_finite_sparse(rows: SparseRows, name: str) -> None:
    """Raise ValueError naming the first NaN/inf stored entry as (row, column)."""
    start, end = int(rows.indptr[0]), int(rows.indptr[-1])
    values = rows.data[start:end]
    if values.dtype.kind == "f" and values.size and not np.isfinite(values).all():
        k = int(np.flatnonzero(~np.isfinite(values))[0])
        row = int(np.searchsorted(rows.indptr, start + k, side="right")) - 1
        col = int(rows.indices[start + k])
        raise ValueError(f"{name} contains NaN or infinity (first at index ({row}, {col}): {values[k]})")


def check_any_features(
    value: Any,
    name: str,
    dtype: np.dtype,
    *,
    n_features: int | None = None,
    allow_empty: bool = False,
    check_finite: bool = True,
) -> np.ndarray | SparseRows:
    """``check_sparse_features`` for a sparse ``value``, else ``check_features``."""
    check = check_sparse_features if is_sparse(value) else check_features
    return check(value, name, dtype, n_features=n_features, allow_empty=allow_empty, check_finite=check_finite)


def require_finite_features(features: np.ndarray | SparseRows, name: str) -> None:
    """``require_finite`` for either kind of features."""
    if isinstance(features, SparseRows):
        require_finite_sparse(features, name)
    else:
        require_finite(features, name)
