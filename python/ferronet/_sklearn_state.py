"""The scikit-learn estimators' state as JSON, for the metadata of their model files (``MLPClassifier.save``).

The network itself (architecture, weights, optimizer state, counters) is the model file proper; this module
turns what the estimator keeps besides it — its parameters, ``classes_`` with their dtype, ``feature_names_in_``,
the label binarizer, the training attributes — into JSON that keeps every type a round trip needs (tuples, NumPy
arrays and their dtype, floats exactly, inf and NaN, dicts with non-string keys, a ``RandomState``), and back.

Reading trusts nothing: a value of a kind this module never writes, an array whose data does not fit its shape, a
dtype other than bool, integer, float, str or object, raise ``ValueError``.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np
from sklearn.preprocessing import LabelBinarizer

#: The array dtypes stored (by ``dtype.kind``): bool, signed and unsigned integers, floats, str, object.
ARRAY_KINDS = "biufUO"

#: What a LabelBinarizer needs to transform and inverse-transform after ``fit``.
BINARIZER_ATTRIBUTES = ("classes_", "y_type_", "sparse_input_")
BINARIZER_PARAMS = ("neg_label", "pos_label", "sparse_output")


def encode(value: Any, what: str) -> Any:
    """``value`` as JSON-able data that ``decode`` turns back into an equal value of the same type.

    Raises ``TypeError`` naming ``what`` for a value of a kind that cannot be stored.
    """
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, np.bool_):
        return {"numpy": "bool", "value": bool(value)}
    if isinstance(value, numbers.Integral) and not isinstance(value, np.integer):
        return int(value)
    if isinstance(value, float) and type(value) is float:
        return value if math.isfinite(value) else {"float": repr(value)}
    if isinstance(value, np.generic) and value.dtype.kind in "iuf":
        return {"numpy": value.dtype.str, "value": encode(value.item(), what)}
    if isinstance(value, np.generic) and value.dtype.kind == "U":
        return {"numpy": "str", "value": str(value)}
    if isinstance(value, tuple):
        return {"tuple": [encode(item, what) for item in value]}
    if isinstance(value, list):
        return [encode(item, what) for item in value]
    if isinstance(value, dict):
        return {"dict": [[encode(key, what), encode(item, what)] for key, item in value.items()]}
    if isinstance(value, np.ndarray):
        return _encode_array(value, what)
    if isinstance(value, np.random.RandomState):
        return {"RandomState": encode(value.get_state(legacy=True), what)}
    if isinstance(value, LabelBinarizer):
        state = {name: encode(getattr(value, name), what) for name in BINARIZER_PARAMS + BINARIZER_ATTRIBUTES}
        return {"LabelBinarizer": state}
    raise TypeError(f"cannot store {what} in a model file: {type(value).__name__} values are not supported")


def _encode_array(array: np.ndarray, what: str) -> dict[str, Any]:
    if array.dtype.kind not in ARRAY_KINDS:
        raise TypeError(f"cannot store {what} in a model file: arrays of dtype {array.dtype} are not supported")
    flat = array.ravel().tolist()
    if array.dtype.kind in "fO":  # floats may be inf or NaN; object arrays hold Python values of any stored kind
        flat = [encode(item, what) for item in flat]
    return {"ndarray": {"dtype": array.dtype.str, "shape": list(array.shape), "data": flat}}


def decode(data: Any, what: str) -> Any:
    """The value that ``encode`` turned into ``data``; ``ValueError`` naming ``what`` for anything else."""
    if data is None or isinstance(data, (bool, str, int)):
        return data
    if isinstance(data, float):
        return data
    if isinstance(data, list):
        return [decode(item, what) for item in data]
    if isinstance(data, dict) and len(data) == 1:
        ((tag, body),) = data.items()
        if tag == "float" and body in ("inf", "-inf", "nan"):
            return float(body)
        if tag == "tuple" and isinstance(body, list):
            return tuple(decode(item, what) for item in body)
        if tag == "dict" and isinstance(body, list) and all(isinstance(p, list) and len(p) == 2 for p in body):
            return {_hashable(decode(key, what), what): decode(item, what) for key, item in body}
        if tag == "ndarray" and isinstance(body, dict):
            return _decode_array(body, what)
        if tag == "RandomState":
            random_state = np.random.RandomState()
            try:
                random_state.set_state(decode(body, what))
            except (TypeError, ValueError) as error:
                raise ValueError(f"{what} holds an invalid RandomState ({error})") from None
            return random_state
        if tag == "LabelBinarizer" and isinstance(body, dict):
            return _decode_binarizer(body, what)
    if isinstance(data, dict) and set(data) == {"numpy", "value"}:
        return _decode_scalar(data["numpy"], data["value"], what)
    raise ValueError(f"{what} holds a value this version of ferronet does not read: {str(data)[:80]}")


def _hashable(key: Any, what: str) -> Any:
    try:
        hash(key)
    except TypeError:
        raise ValueError(f"{what} holds a dict key of type {type(key).__name__}") from None
    return key


def _dtype(text: Any, what: str) -> np.dtype:
    try:
        dtype = np.dtype(text) if isinstance(text, str) else None
    except TypeError:
        dtype = None
    if dtype is None or dtype.kind not in ARRAY_KINDS:
        raise ValueError(f"{what} holds an array of an unsupported dtype {text!r}")
    return dtype


def _decode_scalar(kind: Any, value: Any, what: str) -> Any:
    if kind == "bool" and isinstance(value, bool):
        return np.bool_(value)
    if kind == "str" and isinstance(value, str):
        return np.str_(value)
    dtype = _dtype(kind, what)
    number = decode(value, what)
    if dtype.kind not in "iuf" or isinstance(number, bool) or not isinstance(number, (int, float)):
        raise ValueError(f"{what} holds an invalid NumPy scalar of dtype {kind!r}")
    return dtype.type(number)


def _decode_array(body: dict[str, Any], what: str) -> np.ndarray:
    if set(body) != {"dtype", "shape", "data"}:
        raise ValueError(f"{what} holds an array without its dtype, shape and data")
    dtype, shape, data = _dtype(body["dtype"], what), body["shape"], body["data"]
    if not (isinstance(shape, list) and all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape)):
        raise ValueError(f"{what} holds an array of invalid shape {shape!r}")
    if not isinstance(data, list) or len(data) != math.prod(shape):
        raise ValueError(f"{what} holds an array whose data do not fill its shape {tuple(shape)}")
    values = [decode(item, what) for item in data] if dtype.kind in "fO" else data
    if dtype.kind == "O":
        if not all(item is None or isinstance(item, (bool, int, float, str, np.generic)) for item in values):
            raise ValueError(f"{what} holds an object array of values other than numbers and strings")
        array = np.empty(len(values), dtype=object)
        array[:] = values
        return array.reshape(shape)
    try:
        return np.array(values, dtype=dtype).reshape(shape)
    except (TypeError, ValueError, OverflowError) as error:
        raise ValueError(f"{what} holds an array whose values are not of dtype {dtype} ({error})") from None


def _decode_binarizer(body: dict[str, Any], what: str) -> LabelBinarizer:
    if set(body) != set(BINARIZER_PARAMS + BINARIZER_ATTRIBUTES):
        raise ValueError(f"{what} holds an incomplete label binarizer")
    params = {name: decode(body[name], what) for name in BINARIZER_PARAMS}
    binarizer = LabelBinarizer(**params)
    for name in BINARIZER_ATTRIBUTES:
        setattr(binarizer, name, decode(body[name], what))
    if not isinstance(binarizer.classes_, np.ndarray) or binarizer.classes_.ndim != 1:
        raise ValueError(f"{what} holds a label binarizer without its classes")
    return binarizer
