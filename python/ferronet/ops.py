"""The Rust kernels one by one, on NumPy arrays: ``fnet.ops``.

Each function has the name and signature of its NumPy twin in ``ferronet.reference``, so the two modules are
interchangeable (``ops.relu_backward(g, a)`` ≈ ``reference.relu_backward(g, a)``), and calls the kernel of the same
name in ``ferronet._core`` (``rust/py/ops.rs``). Every argument is checked here first, with messages that name it:

- array-likes (lists, any memory order, read-only or strided views) become C-contiguous arrays of one float dtype,
  the dtype of the call's first array argument: float32 and float64 are kept, float16 becomes float32, integers and
  bools become float64; every other float array of the call is converted to that same dtype;
- shapes are checked against each other, NaN/inf are refused (``ValueError``), so are out-of-range hyperparameters;
  wrong types raise ``TypeError``;
- inputs are never modified; results are new NumPy arrays (scalar losses and penalties are Python floats).

Arrays are (samples, features) as in the reference.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable
from typing import Any

import numpy as np

from . import _core
from ._types import ActivationName
from ._validation import (
    SparseRows,
    as_array,
    check_choice,
    check_float,
    check_int,
    check_labels,
    check_probability,
    check_sample_weight,
    check_sparse_features,
    is_sparse,
    require_finite,
)
from .activations import ACTIVATIONS, LEAKY_RELU_SLOPE

__all__ = [
    "LOSS_FUNCTIONS",
    "activation_backward",
    "activation_forward",
    "adam_update",
    "batchnorm_backward",
    "batchnorm_forward_eval",
    "batchnorm_forward_train",
    "batchnorm_update_running",
    "binary_cross_entropy",
    "dense_backward",
    "dense_forward",
    "dense_weight_grads",
    "dropout_backward",
    "dropout_forward",
    "dropout_mask",
    "hinge",
    "leaky_relu_backward",
    "leaky_relu_forward",
    "linear_backward",
    "linear_forward",
    "momentum_update",
    "mse",
    "nesterov_update",
    "penalty",
    "penalty_grad",
    "poisson",
    "relu_backward",
    "relu_forward",
    "rmsprop_update",
    "rng",
    "sgd_update",
    "sigmoid_backward",
    "sigmoid_forward",
    "softmax_backward",
    "softmax_cross_entropy",
    "softmax_forward",
    "sparse_dense_forward",
    "sparse_dense_weight_grads",
    "tanh_backward",
    "tanh_forward",
]

_U64_MAX = 2**64 - 1
#: Upper bound for counts passed to the engine as 64-bit integers (rows, steps).
_MAX_COUNT = 2**62
#: The engine draws masks of at most this many entries in one call.
_MAX_MASK = 2**31

# ---- argument conversion ------------------------------------------------------------------------------------


def _float_dtype(array: np.ndarray) -> np.dtype:
    """The computing dtype a first array argument selects: float32 for float16/float32, else float64."""
    if array.dtype.kind == "f" and array.dtype.itemsize <= 4:
        return np.dtype(np.float32)
    return np.dtype(np.float64)


def _shape_text(shape: tuple[int, ...]) -> str:
    return str(tuple(int(s) for s in shape))


def _array(
    value: Any, name: str, dtype: np.dtype | None = None, *, ndim: int | None = None, layout: str = ""
) -> np.ndarray:
    """``value`` as a C-contiguous, aligned, finite array of ``dtype`` (None: chosen from ``value``, see module doc)."""
    array = np.asarray(as_array(value, name))
    if ndim is not None and array.ndim != ndim:
        raise ValueError(
            f"{name} must be a {ndim}-D array{layout}; got {array.ndim}-D shape {_shape_text(array.shape)}"
        )
    if dtype is None:
        dtype = _float_dtype(array)
    with np.errstate(over="ignore", invalid="ignore"):  # values beyond the dtype's range become inf, refused below
        converted = np.require(array, dtype=dtype, requirements=("C_CONTIGUOUS", "ALIGNED"))
    require_finite(converted, name)
    return converted


def _matrix(
    value: Any, name: str, dtype: np.dtype | None = None, *, layout: str = " of shape (n_samples, n_features)"
) -> np.ndarray:
    return _array(value, name, dtype, ndim=2, layout=layout)


def _vector(value: Any, name: str, dtype: np.dtype, length: int, of: str) -> np.ndarray:
    """A 1-D array of ``length`` entries, one per column of ``of``."""
    vector = _array(value, name, dtype, ndim=1, layout=f" of shape ({length},)")
    if vector.shape[0] != length:
        raise ValueError(f"{name} has {vector.shape[0]} entries but {of} has {length} columns")
    return vector


def _like(value: Any, name: str, reference: np.ndarray, reference_name: str) -> np.ndarray:
    """An array of the same shape and dtype as ``reference``."""
    array = _array(value, name, reference.dtype)
    if array.shape != reference.shape:
        raise ValueError(
            f"{name} has shape {_shape_text(array.shape)} but {reference_name} has shape {_shape_text(reference.shape)}"
        )
    return array


def _non_empty(array: np.ndarray, name: str, *, rows: bool = True, cols: bool = True) -> None:
    if rows and array.shape[0] == 0:
        raise ValueError(f"{name} must have at least one row; got shape {_shape_text(array.shape)}")
    if cols and array.shape[1] == 0:
        raise ValueError(f"{name} must have at least one column; got shape {_shape_text(array.shape)}")


def _non_negative(array: np.ndarray, name: str, why: str) -> None:
    if array.size and array.min() < 0:
        raise ValueError(f"{name} must be >= 0 ({why}); got {array.min()}")


def _labels(value: Any, name: str, n_rows: int, n_classes: int, of: str) -> np.ndarray:
    """Class labels in 0..n_classes-1, one per row of ``of``, as C-contiguous int64."""
    array = np.asarray(as_array(value, name))
    if array.ndim != 1:
        raise ValueError(f"{name} must be 1-D class labels of shape ({n_rows},); got shape {_shape_text(array.shape)}")
    if array.shape[0] != n_rows:
        raise ValueError(f"{name} has {array.shape[0]} entries but {of} has {n_rows} rows")
    if array.dtype.kind == "f":
        require_finite(array, name)
    if array.size:
        low, high = array.min(), array.max()
        if low < 0:
            raise ValueError(f"{name} must hold class labels >= 0; got {low}")
        if high >= n_classes:
            raise ValueError(f"{name} holds label {high} but {of} has {n_classes} columns (labels 0..{n_classes - 1})")
    labels = check_labels(array, name, n_samples=n_rows, n_classes=n_classes)
    return np.require(labels, dtype=np.int64, requirements=("C_CONTIGUOUS", "ALIGNED"))


def _sample_weight(value: Any, n_rows: int, dtype: np.dtype) -> np.ndarray | None:
    if value is None:
        return None
    with np.errstate(over="ignore", invalid="ignore"):
        weights = check_sample_weight(value, n_rows, dtype)
    return np.require(weights, dtype=dtype, requirements=("C_CONTIGUOUS", "ALIGNED"))


def _mask(value: Any, reference: np.ndarray, reference_name: str) -> np.ndarray:
    """A keep mask (True = kept) of the shape of ``reference``, as C-contiguous bool."""
    array = np.asarray(as_array(value, "mask"))
    if array.shape != reference.shape:
        raise ValueError(
            f"mask has shape {_shape_text(array.shape)} but {reference_name} has shape {_shape_text(reference.shape)}"
        )
    if array.dtype.kind != "b":
        if array.dtype.kind == "f":
            require_finite(array, "mask")
        bad = array[~np.isin(array, (0, 1))]
        if bad.size:
            raise ValueError(f"mask must hold True/False (or 0/1) keep flags; got values such as {bad.flat[0]}")
        array = array.astype(bool)
    return np.require(array, dtype=bool, requirements=("C_CONTIGUOUS", "ALIGNED"))


def _u64(value: Any, name: str) -> int:
    return check_int(value, name, minimum=0, maximum=_U64_MAX)


# ---- dense ---------------------------------------------------------------------------------------------------


def _dense_inputs(x: Any, W: Any) -> tuple[np.ndarray, np.ndarray]:
    x = _matrix(x, "x")
    W = _matrix(W, "W", x.dtype, layout=" of shape (fan_in, fan_out)")
    if W.shape[0] != x.shape[1]:
        raise ValueError(f"W has {W.shape[0]} rows but x has {x.shape[1]} columns")
    return x, W


def dense_forward(x: Any, W: Any, b: Any) -> np.ndarray:
    """``z = x @ W + b``.

    Parameters
    ----------
    x : array-like of shape (n_samples, fan_in)
        The layer's input.
    W : array-like of shape (fan_in, fan_out)
        The weights.
    b : array-like of shape (fan_out,)
        The biases.

    Returns
    -------
    numpy.ndarray of shape (n_samples, fan_out)
        The pre-activations ``z``.

    Raises
    ------
    TypeError, ValueError
        If an argument has the wrong type, shape or value, or holds NaN or infinity.
    """
    x, W = _dense_inputs(x, W)
    b = _vector(b, "b", x.dtype, W.shape[1], "W")
    return _core.dense_forward(x, W, b)


def dense_backward(x: Any, W: Any, dz: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``dx = dz @ W.T``, ``dW = x.T @ dz``, ``db = dz.sum(axis=0)``.

    Parameters
    ----------
    x : array-like of shape (n_samples, fan_in)
        The layer's input.
    W : array-like of shape (fan_in, fan_out)
        The weights.
    dz : array-like of shape (n_samples, fan_out)
        d loss / d z.

    Returns
    -------
    dx, dW, db : numpy.ndarray
        The gradients with respect to ``x``, ``W`` and ``b``.

    Raises
    ------
    TypeError, ValueError
        If an argument has the wrong type, shape or value, or holds NaN or infinity.
    """
    x, W = _dense_inputs(x, W)
    dz = _matrix(dz, "dz", x.dtype, layout=" of shape (n_samples, fan_out)")
    if dz.shape[0] != x.shape[0]:
        raise ValueError(f"dz has {dz.shape[0]} rows but x has {x.shape[0]} rows")
    if dz.shape[1] != W.shape[1]:
        raise ValueError(f"dz has {dz.shape[1]} columns but W has {W.shape[1]} columns")
    dx, dW, db = _core.dense_backward(x, W, dz)
    return dx, dW, db


def dense_weight_grads(x: Any, dz: Any) -> tuple[np.ndarray, np.ndarray]:
    """``dW = x.T @ dz``, ``db = dz.sum(axis=0)`` (through ``dense_backward``, which also computes a discarded dx).

    Parameters
    ----------
    x : array-like of shape (n_samples, fan_in)
        The layer's input.
    dz : array-like of shape (n_samples, fan_out)
        d loss / d z.

    Returns
    -------
    dW, db : numpy.ndarray
        The gradients with respect to the weights and the biases.

    Raises
    ------
    TypeError, ValueError
        If an argument has the wrong type, shape or value, or holds NaN or infinity.
    """
    x = _matrix(x, "x")
    dz = _matrix(dz, "dz", x.dtype, layout=" of shape (n_samples, fan_out)")
    if dz.shape[0] != x.shape[0]:
        raise ValueError(f"dz has {dz.shape[0]} rows but x has {x.shape[0]} rows")
    W = np.zeros((x.shape[1], dz.shape[1]), dtype=x.dtype)
    _, dW, db = _core.dense_backward(x, W, dz)
    return dW, db


# ---- sparse × dense ---------------------------------------------------------------------------------------------


def _sparse_x(x: Any) -> SparseRows:
    """A SciPy CSR or CSC x as CSR parts of the dtype its values select (see the module doc), finite."""
    if not is_sparse(x):
        raise TypeError(f"x must be a scipy.sparse CSR or CSC matrix (or array); got {type(x).__name__}")
    data = np.asarray(x.data)
    dtype = _float_dtype(data) if data.dtype.kind in "biuf" else np.dtype(np.float64)
    return check_sparse_features(x, "x", dtype, allow_empty=True)


def sparse_dense_forward(x: Any, W: Any, b: Any) -> np.ndarray:
    """``z = x @ W + b`` for a sparse x (SciPy CSR or CSC, never densified): row i of z sums ``v * W[c]`` over row
    i's stored entries (column c, value v), then adds b.

    Parameters
    ----------
    x : scipy.sparse CSR or CSC matrix or array of shape (n_samples, fan_in)
    W : array-like of shape (fan_in, fan_out)
    b : array-like of shape (fan_out,)

    Returns
    -------
    numpy.ndarray
        z, of shape (n_samples, fan_out) and the dtype of x's values.
    """
    x = _sparse_x(x)
    W = _matrix(W, "W", x.data.dtype, layout=" of shape (fan_in, fan_out)")
    if W.shape[0] != x.shape[1]:
        raise ValueError(f"W has {W.shape[0]} rows but x has {x.shape[1]} columns")
    b = _vector(b, "b", x.data.dtype, W.shape[1], "W")
    return _core.sparse_dense_forward(x, W, b)


def sparse_dense_weight_grads(x: Any, dz: Any) -> tuple[np.ndarray, np.ndarray]:
    """``dW = x.T @ dz``, ``db = dz.sum(axis=0)`` for a sparse x (SciPy CSR or CSC, never densified): the
    gradients of a first Dense layer, whose input gradient is never needed.

    Parameters
    ----------
    x : scipy.sparse CSR or CSC matrix or array of shape (n_samples, fan_in)
    dz : array-like of shape (n_samples, fan_out)

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        dW of shape (fan_in, fan_out) and db of shape (fan_out,), in the dtype of x's values.
    """
    x = _sparse_x(x)
    dz = _matrix(dz, "dz", x.data.dtype, layout=" of shape (n_samples, fan_out)")
    if dz.shape[0] != x.shape[0]:
        raise ValueError(f"dz has {dz.shape[0]} rows but x has {x.shape[0]} rows")
    dW, db = _core.sparse_dense_weight_grads(x, dz)
    return dW, db


# ---- activations ---------------------------------------------------------------------------------------------


def _forward(kernel: Callable[..., np.ndarray], z: Any, *extra: float) -> np.ndarray:
    return kernel(_array(z, "z"), *extra)


def _backward(kernel: Callable[..., np.ndarray], grad: Any, output: Any, *extra: float) -> np.ndarray:
    grad = _array(grad, "grad")
    return kernel(grad, _like(output, "output", grad, "grad"), *extra)


def _softmax_matrix(array: np.ndarray, name: str) -> None:
    if array.ndim != 2:
        raise ValueError(
            f"{name} must be a 2-D array of shape (n_samples, n_classes) for softmax; got {array.ndim}-D shape "
            f"{_shape_text(array.shape)}"
        )
    _non_empty(array, name, rows=False)


def relu_forward(z: Any) -> np.ndarray:
    """``max(z, 0)``.

    Parameters
    ----------
    z : array-like
        The pre-activations.

    Returns
    -------
    numpy.ndarray
        A new array of ``z``'s shape.

    Raises
    ------
    TypeError, ValueError
        If an argument has the wrong type, shape or value, or holds NaN or infinity.
    """
    return _forward(_core.relu_forward, z)


def relu_backward(grad: Any, output: Any) -> np.ndarray:
    """``grad`` where ``output > 0``, else 0.

    Parameters
    ----------
    grad : array-like
        The gradient of the loss with respect to the activation's output.
    output : array-like
        The forward output ``a``, of the shape of ``grad``.

    Returns
    -------
    numpy.ndarray
        The gradient with respect to the input, of ``grad``'s shape.

    Raises
    ------
    TypeError, ValueError
        If an argument has the wrong type, shape or value, or holds NaN or infinity.
    """
    return _backward(_core.relu_backward, grad, output)


def leaky_relu_forward(z: Any, slope: float = LEAKY_RELU_SLOPE) -> np.ndarray:
    """``z`` where ``z > 0``, else ``z * slope``.

    Parameters
    ----------
    z : array-like
        The pre-activations.
    slope : float, default 0.01
        The slope for negative inputs (``activations.LEAKY_RELU_SLOPE``).

    Returns
    -------
    numpy.ndarray
        A new array of ``z``'s shape.

    Raises
    ------
    TypeError, ValueError
        If an argument has the wrong type, shape or value, or holds NaN or infinity.
    """
    slope = check_float(slope, "slope")
    return _forward(_core.leaky_relu_forward, z, slope)


def leaky_relu_backward(grad: Any, output: Any, slope: float = LEAKY_RELU_SLOPE) -> np.ndarray:
    """``grad`` where ``output > 0``, else ``grad * slope``.

    Parameters
    ----------
    grad : array-like
        The gradient of the loss with respect to the activation's output.
    output : array-like
        The forward output ``a``, of the shape of ``grad``.
    slope : float, default 0.01
        The slope for negative inputs.

    Returns
    -------
    numpy.ndarray
        The gradient with respect to the input, of ``grad``'s shape.

    Raises
    ------
    TypeError, ValueError
        If an argument has the wrong type, shape or value, or holds NaN or infinity.
    """
    slope = check_float(slope, "slope")
    return _backward(_core.leaky_relu_backward, grad, output, slope)


def sigmoid_forward(z: Any) -> np.ndarray:
    """``1 / (1 + exp(-z))``, computed without overflow.

    Parameters
    ----------
    z : array-like
        The pre-activations.

    Returns
    -------
    numpy.ndarray
        A new array of ``z``'s shape.

    Raises
    ------
    TypeError, ValueError
        If an argument has the wrong type, shape or value, or holds NaN or infinity.
    """
    return _forward(_core.sigmoid_forward, z)


def sigmoid_backward(grad: Any, output: Any) -> np.ndarray:
    """``grad * a * (1 - a)``.

    Parameters
    ----------
    grad : array-like
        The gradient of the loss with respect to the activation's output.
    output : array-like
        The forward output ``a``, of the shape of ``grad``.

    Returns
    -------
    numpy.ndarray
        The gradient with respect to the input, of ``grad``'s shape.

    Raises
    ------
    TypeError, ValueError
        If an argument has the wrong type, shape or value, or holds NaN or infinity.
    """
    return _backward(_core.sigmoid_backward, grad, output)


def tanh_forward(z: Any) -> np.ndarray:
    """``tanh(z)``.

    Parameters
    ----------
    z : array-like
        The pre-activations.

    Returns
    -------
    numpy.ndarray
        A new array of ``z``'s shape.

    Raises
    ------
    TypeError, ValueError
        If an argument has the wrong type, shape or value, or holds NaN or infinity.
    """
    return _forward(_core.tanh_forward, z)


def tanh_backward(grad: Any, output: Any) -> np.ndarray:
    """``grad * (1 - a*a)``.

    Parameters
    ----------
    grad : array-like
        The gradient of the loss with respect to the activation's output.
    output : array-like
        The forward output ``a``, of the shape of ``grad``.

    Returns
    -------
    numpy.ndarray
        The gradient with respect to the input, of ``grad``'s shape.

    Raises
    ------
    TypeError, ValueError
        If an argument has the wrong type, shape or value, or holds NaN or infinity.
    """
    return _backward(_core.tanh_backward, grad, output)


def linear_forward(z: Any) -> np.ndarray:
    """The identity ``z`` (a converted copy).

    Parameters
    ----------
    z : array-like
        The pre-activations.

    Returns
    -------
    numpy.ndarray
        A new array of ``z``'s shape.

    Raises
    ------
    TypeError, ValueError
        If an argument has the wrong type, shape or value, or holds NaN or infinity.
    """
    return _forward(_core.linear_forward, z)


def linear_backward(grad: Any, output: Any) -> np.ndarray:
    """The identity ``grad`` (a converted copy; ``output`` is checked but unused).

    Parameters
    ----------
    grad : array-like
        The gradient of the loss with respect to the activation's output.
    output : array-like
        The forward output ``a``, of the shape of ``grad``.

    Returns
    -------
    numpy.ndarray
        The gradient with respect to the input, of ``grad``'s shape.

    Raises
    ------
    TypeError, ValueError
        If an argument has the wrong type, shape or value, or holds NaN or infinity.
    """
    return _backward(_core.linear_backward, grad, output)


def softmax_forward(z: Any) -> np.ndarray:
    """Row-wise ``exp(z - max) / sum(exp(z - max))``.

    Parameters
    ----------
    z : array-like of shape (n_samples, n_classes)
        The logits.

    Returns
    -------
    numpy.ndarray
        The probabilities, each row summing to 1.

    Raises
    ------
    TypeError, ValueError
        If an argument has the wrong type, shape or value, or holds NaN or infinity.
    """
    z = _array(z, "z")
    _softmax_matrix(z, "z")
    return _core.softmax_forward(z)


def softmax_backward(grad: Any, output: Any) -> np.ndarray:
    """Row-wise ``a * (grad - sum(grad * a))``.

    Parameters
    ----------
    grad : array-like of shape (n_samples, n_classes)
        d loss / d probabilities.
    output : array-like
        The softmax output ``a``, of the shape of ``grad``.

    Returns
    -------
    numpy.ndarray
        d loss / d logits.

    Raises
    ------
    TypeError, ValueError
        If an argument has the wrong type, shape or value, or holds NaN or infinity.
    """
    grad = _array(grad, "grad")
    _softmax_matrix(grad, "grad")
    return _core.softmax_backward(grad, _like(output, "output", grad, "grad"))


_FORWARD: dict[str, Callable[[Any], np.ndarray]] = {
    "relu": relu_forward,
    "leaky_relu": leaky_relu_forward,
    "sigmoid": sigmoid_forward,
    "tanh": tanh_forward,
    "linear": linear_forward,
    "softmax": softmax_forward,
}

_BACKWARD: dict[str, Callable[[Any, Any], np.ndarray]] = {
    "relu": relu_backward,
    "leaky_relu": leaky_relu_backward,
    "sigmoid": sigmoid_backward,
    "tanh": tanh_backward,
    "linear": linear_backward,
    "softmax": softmax_backward,
}


def activation_forward(name: ActivationName, z: Any) -> np.ndarray:
    """The activation ``name`` applied to ``z``.

    Parameters
    ----------
    name : {"relu", "leaky_relu", "sigmoid", "tanh", "linear", "softmax"}
        The activation.
    z : array-like
        The pre-activations.

    Returns
    -------
    numpy.ndarray
        A new array of ``z``'s shape.

    Raises
    ------
    TypeError, ValueError
        If an argument has the wrong type, shape or value, or holds NaN or infinity.
    """
    return _FORWARD[check_choice(name, "activation name", ACTIVATIONS)](z)


def activation_backward(name: ActivationName, grad: Any, output: Any) -> np.ndarray:
    """The gradient through activation ``name``, from its forward ``output``.

    Parameters
    ----------
    name : {"relu", "leaky_relu", "sigmoid", "tanh", "linear", "softmax"}
        The activation.
    grad : array-like
        The gradient of the loss with respect to the activation's output.
    output : array-like
        The forward output ``a``, of the shape of ``grad``.

    Returns
    -------
    numpy.ndarray
        The gradient with respect to the input, of ``grad``'s shape.

    Raises
    ------
    TypeError, ValueError
        If an argument has the wrong type, shape or value, or holds NaN or infinity.
    """
    return _BACKWARD[check_choice(name, "activation name", ACTIVATIONS)](grad, output)


# ---- losses --------------------------------------------------------------------------------------------------


def _loss_input(value: Any, name: str) -> np.ndarray:
    array = _matrix(value, name, layout=" of shape (n_samples, n_outputs)")
    _non_empty(array, name)
    return array


def softmax_cross_entropy(logits: Any, labels: Any, sample_weight: Any = None) -> tuple[float, np.ndarray]:
    """``mean_i(logsumexp(z_i) - z_i[y_i])`` (fused, max-shifted), grad ``(softmax(z) - onehot(y)) / n``.

    Parameters
    ----------
    logits : array-like of shape (n_samples, n_classes)
        The last layer's linear output.
    labels : array-like of shape (n_samples,)
        Integer class labels in ``0..n_classes-1``.
    sample_weight : array-like of shape (n_samples,), optional
        Non-negative per-row weights: the mean becomes ``sum_i w_i l_i / sum_i w_i``.

    Returns
    -------
    loss : float
        The mean loss.
    grad : numpy.ndarray
        d loss / d input, of the input's shape.

    Raises
    ------
    TypeError, ValueError
        If an argument has the wrong type, shape or value, or holds NaN or infinity.
    """
    logits = _loss_input(logits, "logits")
    n, k = logits.shape
    labels = _labels(labels, "labels", n, k, "logits")
    loss, grad = _core.softmax_cross_entropy(logits, labels, _sample_weight(sample_weight, n, logits.dtype))
    return float(loss), grad


def mse(pred: Any, target: Any, sample_weight: Any = None) -> tuple[float, np.ndarray]:
    """``mean((pred - target)**2)`` over rows and outputs, grad ``2 (pred - target) / (n*k)``.

    Parameters
    ----------
    pred : array-like of shape (n_samples, n_outputs)
        The predictions.
    target : array-like of shape (n_samples, n_outputs)
        The targets.
    sample_weight : array-like of shape (n_samples,), optional
        Non-negative per-row weights: the mean becomes ``sum_i w_i l_i / sum_i w_i``.

    Returns
    -------
    loss : float
        The mean loss.
    grad : numpy.ndarray
        d loss / d input, of the input's shape.

    Raises
    ------
    TypeError, ValueError
        If an argument has the wrong type, shape or value, or holds NaN or infinity.
    """
    pred = _loss_input(pred, "pred")
    target = _like(target, "target", pred, "pred")
    loss, grad = _core.mse(pred, target, _sample_weight(sample_weight, pred.shape[0], pred.dtype))
    return float(loss), grad


def binary_cross_entropy(logits: Any, target: Any, sample_weight: Any = None) -> tuple[float, np.ndarray]:
    """``mean(max(z, 0) - z*t + log1p(exp(-|z|)))`` on logits, grad ``(sigmoid(z) - t) / (n*k)``.

    Parameters
    ----------
    logits : array-like of shape (n_samples, n_outputs)
        The last layer's linear output.
    target : array-like of shape (n_samples, n_outputs)
        Targets in [0, 1].
    sample_weight : array-like of shape (n_samples,), optional
        Non-negative per-row weights: the mean becomes ``sum_i w_i l_i / sum_i w_i``.

    Returns
    -------
    loss : float
        The mean loss.
    grad : numpy.ndarray
        d loss / d input, of the input's shape.

    Raises
    ------
    TypeError, ValueError
        If an argument has the wrong type, shape or value, or holds NaN or infinity.
    """
    logits = _loss_input(logits, "logits")
    target = _like(target, "target", logits, "logits")
    loss, grad = _core.binary_cross_entropy(
        logits, target, _sample_weight(sample_weight, logits.shape[0], logits.dtype)
    )
    return float(loss), grad


def hinge(scores: Any, labels: Any, sample_weight: Any = None) -> tuple[float, np.ndarray]:
    """``mean_i sum_{j != y_i} max(0, s_ij - s_iy_i + 1)`` (multiclass hinge) and its subgradient.

    Parameters
    ----------
    scores : array-like of shape (n_samples, n_classes)
        The class scores.
    labels : array-like of shape (n_samples,)
        Integer class labels in ``0..n_classes-1``.
    sample_weight : array-like of shape (n_samples,), optional
        Non-negative per-row weights: the mean becomes ``sum_i w_i l_i / sum_i w_i``.

    Returns
    -------
    loss : float
        The mean loss.
    grad : numpy.ndarray
        A subgradient with respect to ``scores``.

    Raises
    ------
    TypeError, ValueError
        If an argument has the wrong type, shape or value, or holds NaN or infinity.
    """
    scores = _loss_input(scores, "scores")
    n, k = scores.shape
    labels = _labels(labels, "labels", n, k, "scores")
    loss, grad = _core.hinge(scores, labels, _sample_weight(sample_weight, n, scores.dtype))
    return float(loss), grad


def poisson(z: Any, target: Any, sample_weight: Any = None) -> tuple[float, np.ndarray]:
    """Half the Poisson deviance on ``z = log(mean)``: ``mean(exp(z) - t*z + t*log(t) - t)`` over rows and outputs
    (``0*log(0) = 0``), grad ``(exp(z) - t) / (n*k)``.

    Parameters
    ----------
    z : array-like of shape (n_samples, n_outputs)
        The log of the predicted means.
    target : array-like of shape (n_samples, n_outputs)
        Counts or rates, >= 0.
    sample_weight : array-like of shape (n_samples,), optional
        Non-negative per-row weights: the mean becomes ``sum_i w_i l_i / sum_i w_i``.

    Returns
    -------
    loss : float
        The mean loss.
    grad : numpy.ndarray
        d loss / d input, of the input's shape.

    Raises
    ------
    TypeError, ValueError
        If an argument has the wrong type, shape or value, or holds NaN or infinity.
    """
    z = _loss_input(z, "z")
    target = _like(target, "target", z, "z")
    if (target < 0).any():
        raise ValueError(f"target must be >= 0 for poisson (counts or rates); got a minimum of {target.min()}")
    loss, grad = _core.poisson(z, target, _sample_weight(sample_weight, z.shape[0], z.dtype))
    return float(loss), grad


LOSS_FUNCTIONS: dict[str, Callable[..., tuple[float, np.ndarray]]] = {
    "softmax_cross_entropy": softmax_cross_entropy,
    "mse": mse,
    "binary_cross_entropy": binary_cross_entropy,
    "hinge": hinge,
    "poisson": poisson,
}

# ---- penalty -------------------------------------------------------------------------------------------------


def _penalty_args(W: Any, l1: Any, l2: Any) -> tuple[np.ndarray, float, float]:
    W = _array(W, "W")
    return W, check_float(l1, "l1", minimum=0.0), check_float(l2, "l2", minimum=0.0)


def penalty(W: Any, l1: float, l2: float) -> float:
    """``0.5*l2*sum(W**2) + l1*sum(|W|)``.

    Parameters
    ----------
    W : array-like
        The weights.
    l1 : float
        The L1 factor, >= 0.
    l2 : float
        The L2 factor, >= 0.

    Returns
    -------
    float
        The penalty.

    Raises
    ------
    TypeError, ValueError
        If an argument has the wrong type, shape or value, or holds NaN or infinity.
    """
    return float(_core.penalty(*_penalty_args(W, l1, l2)))


def penalty_grad(W: Any, l1: float, l2: float) -> np.ndarray:
    """``l2*W + l1*sign(W)`` (sign(0) = 0).

    Parameters
    ----------
    W : array-like
        The weights.
    l1 : float
        The L1 factor, >= 0.
    l2 : float
        The L2 factor, >= 0.

    Returns
    -------
    numpy.ndarray
        d penalty / d W, of ``W``'s shape.

    Raises
    ------
    TypeError, ValueError
        If an argument has the wrong type, shape or value, or holds NaN or infinity.
    """
    return _core.penalty_grad(*_penalty_args(W, l1, l2))


# ---- batch normalization -------------------------------------------------------------------------------------


def _bn_eps(eps: Any) -> float:
    return check_float(eps, "eps", minimum=0.0, min_inclusive=False)


def batchnorm_forward_train(x: Any, gamma: Any, beta: Any, eps: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(gamma * (x - mean) / sqrt(var + eps) + beta, mean, var)`` with the batch's mean and biased var.

    Parameters
    ----------
    x : array-like of shape (n_samples, n_features)
        The batch, at least one row.
    gamma : array-like of shape (n_features,)
        The scales.
    beta : array-like of shape (n_features,)
        The shifts.
    eps : float
        Added to the variance; > 0.

    Returns
    -------
    y : numpy.ndarray
        The normalized, scaled and shifted batch.
    mean, var : numpy.ndarray
        The batch's per-feature mean and biased variance.

    Raises
    ------
    TypeError, ValueError
        If an argument has the wrong type, shape or value, or holds NaN or infinity.
    """
    x = _matrix(x, "x")
    _non_empty(x, "x")
    cols = x.shape[1]
    gamma, beta = _vector(gamma, "gamma", x.dtype, cols, "x"), _vector(beta, "beta", x.dtype, cols, "x")
    y, mean, var = _core.batchnorm_forward_train(x, gamma, beta, _bn_eps(eps))
    return y, mean, var


def batchnorm_forward_eval(
    x: Any, gamma: Any, beta: Any, running_mean: Any, running_var: Any, eps: float
) -> np.ndarray:
    """``gamma * (x - running_mean) / sqrt(running_var + eps) + beta``.

    Parameters
    ----------
    x : array-like of shape (n_samples, n_features)
        The batch.
    gamma : array-like of shape (n_features,)
        The scales.
    beta : array-like of shape (n_features,)
        The shifts.
    running_mean : array-like of shape (n_features,)
        The running mean.
    running_var : array-like of shape (n_features,)
        The running variance, >= 0.
    eps : float
        Added to the variance; > 0.

    Returns
    -------
    numpy.ndarray
        The normalized batch, of ``x``'s shape.

    Raises
    ------
    TypeError, ValueError
        If an argument has the wrong type, shape or value, or holds NaN or infinity.
    """
    x = _matrix(x, "x")
    _non_empty(x, "x", rows=False)
    cols = x.shape[1]
    gamma, beta = _vector(gamma, "gamma", x.dtype, cols, "x"), _vector(beta, "beta", x.dtype, cols, "x")
    running_mean = _vector(running_mean, "running_mean", x.dtype, cols, "x")
    running_var = _vector(running_var, "running_var", x.dtype, cols, "x")
    _non_negative(running_var, "running_var", "a variance")
    return _core.batchnorm_forward_eval(x, gamma, beta, running_mean, running_var, _bn_eps(eps))


def batchnorm_backward(dy: Any, x: Any, gamma: Any, eps: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``dx = gamma / (n*sqrt(var + eps)) * (n*dy - sum(dy) - x_hat*sum(dy*x_hat))``, ``dgamma``, ``dbeta``.

    Parameters
    ----------
    dy : array-like of shape (n_samples, n_features)
        d loss / d output.
    x : array-like of shape (n_samples, n_features)
        The forward input.
    gamma : array-like of shape (n_features,)
        The scales.
    eps : float
        Added to the variance; > 0.

    Returns
    -------
    dx, dgamma, dbeta : numpy.ndarray
        The gradients with respect to ``x``, ``gamma`` and ``beta``.

    Raises
    ------
    TypeError, ValueError
        If an argument has the wrong type, shape or value, or holds NaN or infinity.
    """
    dy = _matrix(dy, "dy")
    _non_empty(dy, "dy")
    x = _like(x, "x", dy, "dy")
    gamma = _vector(gamma, "gamma", dy.dtype, x.shape[1], "x")
    dx, dgamma, dbeta = _core.batchnorm_backward(dy, x, gamma, _bn_eps(eps))
    return dx, dgamma, dbeta


def batchnorm_update_running(
    running_mean: Any, running_var: Any, batch_mean: Any, batch_var: Any, n: int, momentum: float
) -> tuple[np.ndarray, np.ndarray]:
    """``(k*running_mean + (1-k)*mean, k*running_var + (1-k)*var*n/(n-1))`` with k = ``momentum``.

    Parameters
    ----------
    running_mean : array-like of shape (n_features,)
        The running mean.
    running_var : array-like of shape (n_features,)
        The running variance.
    batch_mean : array-like of shape (n_features,)
        The batch's mean.
    batch_var : array-like of shape (n_features,)
        The batch's biased variance (made unbiased here).
    n : int
        The batch's rows, >= 2.
    momentum : float
        The keep factor k, in [0, 1].

    Returns
    -------
    new_mean, new_var : numpy.ndarray
        The updated running statistics.

    Raises
    ------
    TypeError, ValueError
        If an argument has the wrong type, shape or value, or holds NaN or infinity.
    """
    running_mean = _array(running_mean, "running_mean", ndim=1, layout=" of shape (n_features,)")
    running_var = _like(running_var, "running_var", running_mean, "running_mean")
    batch_mean = _like(batch_mean, "batch_mean", running_mean, "running_mean")
    batch_var = _like(batch_var, "batch_var", running_mean, "running_mean")
    n = check_int(n, "n", minimum=2, maximum=_MAX_COUNT)
    momentum = check_float(momentum, "momentum", minimum=0.0, maximum=1.0)
    new_mean, new_var = _core.batchnorm_update_running(running_mean, running_var, batch_mean, batch_var, n, momentum)
    return new_mean, new_var


# ---- dropout -------------------------------------------------------------------------------------------------


def dropout_forward(x: Any, mask: Any, p: float) -> np.ndarray:
    """``x * where(mask, 1/(1-p), 0)``.

    Parameters
    ----------
    x : array-like
        The input.
    mask : array-like of bool
        The keep mask (True = kept), of ``x``'s shape.
    p : float
        The drop probability, in [0, 1).

    Returns
    -------
    numpy.ndarray
        The kept entries scaled by ``1/(1-p)``, zeros elsewhere.

    Raises
    ------
    TypeError, ValueError
        If an argument has the wrong type, shape or value, or holds NaN or infinity.
    """
    x = _array(x, "x")
    mask = _mask(mask, x, "x")
    return _core.dropout_forward(x, mask, check_probability(p, "p"))


def dropout_backward(grad: Any, mask: Any, p: float) -> np.ndarray:
    """``grad * where(mask, 1/(1-p), 0)``.

    Parameters
    ----------
    grad : array-like
        d loss / d output.
    mask : array-like of bool
        The keep mask of the forward pass, of ``grad``'s shape.
    p : float
        The drop probability, in [0, 1).

    Returns
    -------
    numpy.ndarray
        d loss / d input.

    Raises
    ------
    TypeError, ValueError
        If an argument has the wrong type, shape or value, or holds NaN or infinity.
    """
    grad = _array(grad, "grad")
    mask = _mask(mask, grad, "grad")
    return _core.dropout_backward(grad, mask, check_probability(p, "p"))


def dropout_mask(rows: int, cols: int, p: float, seed: int, step: int, layer: int, stream: int = 2) -> np.ndarray:
    """The engine's keep mask for ``layer`` at ``step``, as training draws it.

    Parameters
    ----------
    rows : int
        Rows of the mask.
    cols : int
        Columns of the mask (rows * cols <= 2**31).
    p : float
        The drop probability, in [0, 1).
    seed : int
        The model's seed, below 2**64.
    step : int
        The optimizer step.
    layer : int
        The layer's index.
    stream : int, default 2
        The random stream: ``rng.DROPOUT`` (2) or ``rng.DROPCONNECT`` (3).

    Returns
    -------
    numpy.ndarray of bool, shape (rows, cols)
        True = kept, with probability ``1 - p``.

    Raises
    ------
    TypeError, ValueError
        If an argument has the wrong type, shape or value, or holds NaN or infinity.
    """
    rows = check_int(rows, "rows", minimum=0, maximum=_MAX_MASK)
    cols = check_int(cols, "cols", minimum=0, maximum=_MAX_MASK)
    if rows * cols > _MAX_MASK:
        raise ValueError(f"rows * cols must be <= 2**31 mask entries; got {rows} * {cols} = {rows * cols}")
    p = check_probability(p, "p")
    seed, step, layer, stream = _u64(seed, "seed"), _u64(step, "step"), _u64(layer, "layer"), _u64(stream, "stream")
    return _core.dropout_mask(rows, cols, p, seed, step, layer, stream)


# ---- optimizers ----------------------------------------------------------------------------------------------


def _lr(lr: Any) -> float:
    return check_float(lr, "lr", minimum=0.0)


def _unit(value: Any, name: str) -> float:
    """A decay factor in [0, 1)."""
    return check_float(value, name, minimum=0.0, maximum=1.0, max_inclusive=False)


def _eps(eps: Any) -> float:
    return check_float(eps, "eps", minimum=0.0, min_inclusive=False)


def sgd_update(param: Any, grad: Any, lr: float) -> np.ndarray:
    """``param - lr*grad``.

    Parameters
    ----------
    param : array-like
        The parameter.
    grad : array-like
        Its gradient, of the same shape.
    lr : float
        The learning rate, >= 0.

    Returns
    -------
    numpy.ndarray
        The updated parameter.

    Raises
    ------
    TypeError, ValueError
        If an argument has the wrong type, shape or value, or holds NaN or infinity.
    """
    param = _array(param, "param")
    grad = _like(grad, "grad", param, "param")
    return _core.sgd_update(param, grad, _lr(lr))


def _momentum_args(
    param: Any, grad: Any, velocity: Any, lr: Any, momentum: Any
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float, float]:
    param = _array(param, "param")
    grad = _like(grad, "grad", param, "param")
    velocity = _like(velocity, "velocity", param, "param")
    return param, grad, velocity, _lr(lr), _unit(momentum, "momentum")


def momentum_update(param: Any, grad: Any, velocity: Any, lr: float, momentum: float) -> tuple[np.ndarray, np.ndarray]:
    """``v = momentum*v + g``; ``p = p - lr*v``.

    Parameters
    ----------
    param : array-like
        The parameter.
    grad : array-like
        Its gradient, of the same shape.
    velocity : array-like
        The velocity, of the same shape.
    lr : float
        The learning rate, >= 0.
    momentum : float
        In [0, 1).

    Returns
    -------
    param, velocity : numpy.ndarray
        The updated parameter and velocity.

    Raises
    ------
    TypeError, ValueError
        If an argument has the wrong type, shape or value, or holds NaN or infinity.
    """
    new_param, new_velocity = _core.momentum_update(*_momentum_args(param, grad, velocity, lr, momentum))
    return new_param, new_velocity


def nesterov_update(param: Any, grad: Any, velocity: Any, lr: float, momentum: float) -> tuple[np.ndarray, np.ndarray]:
    """``v = momentum*v + g``; ``p = p - lr*(g + momentum*v)``.

    Parameters
    ----------
    param : array-like
        The parameter.
    grad : array-like
        Its gradient, of the same shape.
    velocity : array-like
        The velocity, of the same shape.
    lr : float
        The learning rate, >= 0.
    momentum : float
        In [0, 1).

    Returns
    -------
    param, velocity : numpy.ndarray
        The updated parameter and velocity.

    Raises
    ------
    TypeError, ValueError
        If an argument has the wrong type, shape or value, or holds NaN or infinity.
    """
    new_param, new_velocity = _core.nesterov_update(*_momentum_args(param, grad, velocity, lr, momentum))
    return new_param, new_velocity


def adam_update(
    param: Any, grad: Any, m: Any, v: Any, step: int, lr: float, beta1: float, beta2: float, eps: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``m = b1*m + (1-b1)*g``; ``v = b2*v + (1-b2)*g*g``; ``p -= lr*(m/(1-b1**t)) / (sqrt(v/(1-b2**t)) + eps)``.

    Parameters
    ----------
    param : array-like
        The parameter.
    grad : array-like
        Its gradient, of the same shape.
    m : array-like
        The first-moment average.
    v : array-like
        The second-moment average, >= 0.
    step : int
        The step number t, from 1.
    lr : float
        The learning rate, >= 0.
    beta1 : float
        In [0, 1).
    beta2 : float
        In [0, 1).
    eps : float
        > 0.

    Returns
    -------
    param, m, v : numpy.ndarray
        The updated parameter and moments.

    Raises
    ------
    TypeError, ValueError
        If an argument has the wrong type, shape or value, or holds NaN or infinity.
    """
    param = _array(param, "param")
    grad = _like(grad, "grad", param, "param")
    m = _like(m, "m", param, "param")
    v = _like(v, "v", param, "param")
    _non_negative(v, "v", "a running mean of squared gradients")
    step = check_int(step, "step", minimum=1, maximum=_MAX_COUNT)
    lr, beta1, beta2, eps = _lr(lr), _unit(beta1, "beta1"), _unit(beta2, "beta2"), _eps(eps)
    new_param, new_m, new_v = _core.adam_update(param, grad, m, v, step, lr, beta1, beta2, eps)
    return new_param, new_m, new_v


def rmsprop_update(param: Any, grad: Any, sq: Any, lr: float, rho: float, eps: float) -> tuple[np.ndarray, np.ndarray]:
    """``sq = rho*sq + (1-rho)*g*g``; ``p = p - lr*g / (sqrt(sq) + eps)``.

    Parameters
    ----------
    param : array-like
        The parameter.
    grad : array-like
        Its gradient, of the same shape.
    sq : array-like
        The squared-gradient average, >= 0.
    lr : float
        The learning rate, >= 0.
    rho : float
        In [0, 1).
    eps : float
        > 0.

    Returns
    -------
    param, sq : numpy.ndarray
        The updated parameter and average.

    Raises
    ------
    TypeError, ValueError
        If an argument has the wrong type, shape or value, or holds NaN or infinity.
    """
    param = _array(param, "param")
    grad = _like(grad, "grad", param, "param")
    sq = _like(sq, "sq", param, "param")
    _non_negative(sq, "sq", "a running mean of squared gradients")
    new_param, new_sq = _core.rmsprop_update(param, grad, sq, _lr(lr), _unit(rho, "rho"), _eps(eps))
    return new_param, new_sq


# ---- randomness ----------------------------------------------------------------------------------------------


def _words(value: Any, name: str) -> np.ndarray:
    """A non-negative integer below 2**64, or an array of them, as an object array of Python ints."""
    if isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_)):
        return np.array(_u64(value, name), dtype=object)
    array = np.asarray(as_array(value, name))
    if array.dtype.kind not in "iu":
        raise TypeError(f"{name} must be an integer or an array of integers; got dtype {array.dtype}")
    if array.size and array.min() < 0:
        raise ValueError(f"{name} must be >= 0; got {array.min()}")
    return array.astype(object)


def _mix(kernel: Callable[[Any], int], arrays: list[np.ndarray]) -> np.uint64 | np.ndarray:
    """``kernel`` (of a list of words) element-wise over the broadcast ``arrays``, as uint64."""
    try:
        shape = np.broadcast_shapes(*(a.shape for a in arrays))
    except ValueError:
        shapes = ", ".join(_shape_text(a.shape) for a in arrays)
        raise ValueError(f"words must broadcast to one shape; got shapes {shapes}") from None
    if not shape:
        word: np.uint64 = np.uint64(kernel([int(a) for a in arrays]))  # NumPy's stubs type this Any on Python 3.10
        return word
    out = np.empty(shape, dtype=np.uint64)
    for index, combo in zip(np.ndindex(shape), np.broadcast(*arrays), strict=True):
        out[index] = kernel([int(w) for w in combo])
    return out


class rng:
    """The engine's counter-based generator (``rust/rng.rs``), with the names of ``ferronet.reference.rng``.

    A namespace of static functions (not meant to be instantiated); ``SHUFFLE``, ``DROPOUT`` and ``DROPCONNECT``
    name its random streams.
    """

    GAMMA = 0x9E3779B97F4A7C15
    SHUFFLE = 1
    DROPOUT = 2
    DROPCONNECT = 3

    @staticmethod
    def splitmix64(x: int | np.ndarray) -> np.uint64 | np.ndarray:
        """``z = x + GAMMA; z = (z ^ z>>30) * M1; z = (z ^ z>>27) * M2; return z ^ z>>31`` (mod 2**64).

        Parameters
        ----------
        x : int or array-like of int
            Words in [0, 2**64).

        Returns
        -------
        numpy.uint64 or numpy.ndarray
            The mixed word(s), element-wise.

        Raises
        ------
        TypeError, ValueError
            If ``x`` is not a non-negative integer (array) below 2**64.
        """
        return _mix(lambda words: _core.splitmix64(words[0]), [_words(x, "x")])

    @staticmethod
    def hash_words(*words: int | np.ndarray) -> np.uint64 | np.ndarray:
        """``h = splitmix64(w0)``, then ``h = splitmix64(h ^ w)`` per further word (words broadcast element-wise).

        Parameters
        ----------
        *words : int or array-like of int
            At least one word; arrays broadcast together.

        Returns
        -------
        numpy.uint64 or numpy.ndarray
            The hash (an array of the broadcast shape when a word is an array).

        Raises
        ------
        TypeError, ValueError
            If no word is given, or a word is not a non-negative integer below 2**64, or the shapes do not broadcast.
        """
        if not words:
            raise TypeError("hash_words needs at least one word")
        return _mix(_core.hash_words, [_words(word, f"words[{i}]") for i, word in enumerate(words)])

    @staticmethod
    def epoch_permutation(n: int, seed: int, epoch: int) -> np.ndarray:
        """The sample order of one epoch: Fisher–Yates with draws ``hash_words(seed, SHUFFLE, epoch, i)``.

        Parameters
        ----------
        n : int
            Rows, below 2**32.
        seed : int
            The model's seed.
        epoch : int
            The epoch index.

        Returns
        -------
        numpy.ndarray of int64, shape (n,)
            A permutation of ``0..n-1``.

        Raises
        ------
        TypeError, ValueError
            If an argument is not an integer in range.
        """
        n = check_int(n, "n", minimum=0, maximum=2**32 - 1)
        return _core.epoch_permutation(n, _u64(seed, "seed"), _u64(epoch, "epoch"))

    @staticmethod
    def mask(rows: int, cols: int, p: float, seed: int, stream: int, step: int, layer: int) -> np.ndarray:
        """A keep mask with P(keep) = 1 - p, keyed by (seed, stream, step, layer, row) (``dropout_mask``'s order of arguments differs).

        Parameters
        ----------
        rows : int
            Rows of the mask.
        cols : int
            Columns of the mask.
        p : float
            The drop probability, in [0, 1).
        seed : int
            The model's seed.
        stream : int
            ``DROPOUT`` (2) or ``DROPCONNECT`` (3).
        step : int
            The optimizer step.
        layer : int
            The layer's index.

        Returns
        -------
        numpy.ndarray of bool, shape (rows, cols)
            True = kept.

        Raises
        ------
        TypeError, ValueError
            If an argument is not valid.
        """
        return dropout_mask(rows, cols, p, seed, step, layer, stream)
