"""Small data-preparation helpers: one-hot labels, standardization and a train/test split.

They follow scikit-learn's conventions where it has one (``StandardScaler``'s ``mean_``/``scale_``, the order of
``train_test_split``'s results), so code moves between the two without surprises.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np

from ._names import keywords
from ._types import FloatDType
from ._validation import (
    MAX_SEED,
    as_array,
    check_bool,
    check_dtype,
    check_features,
    check_float,
    check_int,
    check_labels,
    require_finite,
)

__all__ = ["Standardizer", "one_hot", "standardize", "train_test_split"]


def one_hot(y: Any, n_classes: int | None = None, dtype: FloatDType = "float32") -> np.ndarray:
    """Integer labels of shape (n,) as a one-hot matrix of shape (n, n_classes).

    Parameters
    ----------
    y : array-like of shape (n,)
        Class labels: whole numbers in ``0..n_classes-1``.
    n_classes : int, optional
        The number of columns; None uses ``max(y) + 1`` (and needs a non-empty ``y``).
    dtype : {"float32", "float64"}, default "float32"
        The result's dtype.

    Returns
    -------
    numpy.ndarray of shape (n, n_classes)
        1 in each row's label column, 0 elsewhere.

    Raises
    ------
    TypeError
        If ``y`` does not hold numbers, or ``dtype`` is not a dtype.
    ValueError
        If ``y`` is not 1-D, holds negative, non-integer or too large labels, or ``dtype`` is not float32/float64.

    Examples
    --------
    >>> one_hot([0, 2, 1], 3)
    array([[1., 0., 0.],
           [0., 0., 1.],
           [0., 1., 0.]], dtype=float32)
    """
    labels = check_labels(y, "y")
    out_dtype = check_dtype(dtype)
    if n_classes is None:
        if labels.size == 0:
            raise ValueError("n_classes must be given when y is empty (it cannot be inferred from the labels)")
        n_classes = int(labels.max()) + 1
    else:
        n_classes = check_int(n_classes, "n_classes", minimum=1)
        if labels.size and labels.max() >= n_classes:
            raise ValueError(
                f"y holds label {labels.max()}, but n_classes={n_classes} allows labels 0..{n_classes - 1}"
            )
    encoded = np.zeros((labels.shape[0], n_classes), dtype=out_dtype)
    encoded[np.arange(labels.shape[0]), labels] = 1
    return encoded


def _float_array(X: Any, name: str) -> np.ndarray:
    """A finite float array (float32 and float64 kept, anything else converted to float64)."""
    array = as_array(X, name)
    if array.dtype not in (np.float32, np.float64):
        with np.errstate(over="ignore", invalid="ignore"):  # beyond float64 (longdouble) becomes inf: refused below
            array = array.astype(np.float64)
    require_finite(array, name)
    return array


def _moments(array: np.ndarray, axis: int | None, eps: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Mean, standard deviation (population, ddof=0), the mask of constant slices and the unit they were computed
    in, all in float64.

    A slice counts as constant when its standard deviation is <= ``eps`` or within the rounding error that summing
    its values can produce (scikit-learn's rule: ``var <= n*eps64*var + (n*mean*eps64)**2``), so columns such as
    ``[0.1] * 10`` are recognised even though their computed variance is not exactly zero.

    The unit is 1 unless the statistics overflow float64 (finite values near 1e308): they are then computed on
    the values divided by each slice's largest magnitude, the unit, and scaled back (the mean and standard
    deviation of finite values are finite). ``(x/unit - mean/unit) / (std/unit)`` standardizes without overflow.
    """
    values = array.astype(np.float64, copy=False)
    n = values.size if axis is None else values.shape[axis]
    with np.errstate(over="ignore", invalid="ignore"):
        mean = values.mean(axis=axis, keepdims=True)
        var = np.mean(np.square(values - mean), axis=axis, keepdims=True)
    unit = np.ones_like(mean)
    if not (np.isfinite(mean).all() and np.isfinite(var).all()):
        largest = np.max(np.abs(values), axis=axis, keepdims=True)
        unit = np.where(largest > 0, largest, 1.0)
        scaled = values / unit
        mean = scaled.mean(axis=axis, keepdims=True)
        var = np.mean(np.square(scaled - mean), axis=axis, keepdims=True)
        mean = mean * unit
    std = np.sqrt(var) * unit
    machine = np.finfo(np.float64).eps
    relative_mean, relative_std = mean / unit, np.sqrt(var)
    with np.errstate(over="ignore"):  # (n*mean*eps)**2 overflows for means beyond ~1e169
        bound = n * machine * var + (n * relative_mean * machine) ** 2
    # the same rule in standard deviations (hypot does not overflow) where the variance bound did
    tolerance = np.hypot(np.sqrt(n * machine) * relative_std, n * np.abs(relative_mean) * machine)
    within = np.where(np.isfinite(bound), var <= bound, relative_std <= tolerance)
    return mean, std, within | (std <= eps), unit


def standardize(X: Any, axis: int | None = 0, eps: float = 0.0) -> np.ndarray:
    """``(X - mean) / std`` along ``axis`` (per column by default), as a new array.

    Slices with zero variance (standard deviation <= ``eps``, or zero up to rounding) come out as exactly 0:
    no division by zero and no warnings. float32 input stays float32 (the statistics are computed in float64);
    any other numeric input becomes float64. NaN or infinity raises ``ValueError``.

    For statistics you can reuse on new data (a test set), use ``Standardizer``.

    Parameters
    ----------
    X : array-like
        Numbers, at least 1-D, finite.
    axis : int or None, default 0
        The axis along which mean and std are computed (0: per column); None uses the whole array.
    eps : float, default 0.0
        Slices whose standard deviation is at most ``eps`` count as constant; >= 0.

    Returns
    -------
    numpy.ndarray
        A new array of ``X``'s shape: float32 for float32 input, float64 otherwise.

    Raises
    ------
    TypeError
        If ``X`` does not hold numbers.
    ValueError
        If ``X`` is a scalar, empty along ``axis``, or holds NaN or infinity, or ``axis``/``eps`` is out of range.

    Examples
    --------
    >>> standardize([[1.0, 5.0], [3.0, 5.0]])
    array([[-1.,  0.],
           [ 1.,  0.]])
    """
    array = _float_array(X, "X")
    if array.ndim == 0:
        raise ValueError("X must have at least one dimension; got a scalar")
    if axis is not None:
        axis = check_int(axis, "axis", minimum=-array.ndim, maximum=array.ndim - 1)
    eps = check_float(eps, "eps", minimum=0.0)
    if array.size == 0 or (axis is not None and array.shape[axis] == 0):
        raise ValueError(f"X must not be empty along axis {axis}; got shape {array.shape}")
    mean, std, constant, unit = _moments(array, axis, eps)
    scale = np.where(constant, 1.0, std / unit)
    values = array.astype(np.float64, copy=False)
    result = (values / unit - mean / unit) / scale  # unit is 1 but for values near the float64 limit
    result = np.where(constant, 0.0, result)
    return result.astype(array.dtype, copy=False)


class Standardizer:
    """Standardize features by removing the mean and scaling to unit variance (scikit-learn's ``StandardScaler``).

    ``fit(X)`` learns, per column of a 2-D ``X``, ``mean_`` and ``scale_`` (the population standard deviation,
    ddof=0, set to 1 for constant columns so they are only centred), plus ``var_``, ``n_features_in_`` and
    ``n_samples_seen_``. ``transform`` computes ``(X - mean_) / scale_``; ``inverse_transform`` undoes it.
    ``with_mean=False`` / ``with_std=False`` skip centring / scaling (``mean_`` / ``scale_`` are then None).
    Outputs are float32 for float32 input, float64 otherwise.

    Parameters
    ----------
    with_mean : bool, default True
        Centre the data (False: ``mean_`` is None).
    with_std : bool, default True
        Scale to unit variance (False: ``scale_`` and ``var_`` are None).

    Examples
    --------
    >>> s = Standardizer().fit([[0.0, 1.0], [2.0, 1.0]])
    >>> s.mean_, s.scale_
    (array([1., 1.]), array([1., 1.]))
    """

    @keywords()
    def __init__(self, *, with_mean: bool = True, with_std: bool = True) -> None:
        self.with_mean = with_mean
        self.with_std = with_std

    def __repr__(self) -> str:
        return f"Standardizer(with_mean={self.with_mean}, with_std={self.with_std})"

    @staticmethod
    def _matrix(X: Any) -> np.ndarray:
        array = as_array(X, "X")
        dtype = np.float32 if array.dtype == np.float32 else np.float64
        return check_features(array, "X", np.dtype(dtype))

    def fit(self, X: Any, y: Any = None) -> Standardizer:
        """Learn the per-column mean and scale of ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Finite numbers.
        y : None
            Ignored (scikit-learn's signature).

        Returns
        -------
        Standardizer
            The fitted standardizer itself.

        Raises
        ------
        TypeError, ValueError
            If ``X`` is not a non-empty finite 2-D array, or ``with_mean``/``with_std`` is not a bool.
        """
        with_mean = check_bool(self.with_mean, "with_mean")
        with_std = check_bool(self.with_std, "with_std")
        matrix = self._matrix(X)
        mean, std, constant, _ = _moments(matrix, 0, 0.0)
        self.n_features_in_ = matrix.shape[1]
        self.n_samples_seen_ = matrix.shape[0]
        self.mean_ = mean[0] if with_mean else None
        with np.errstate(over="ignore"):  # the variance of values near 1e308 is beyond float64: inf, honestly
            self.var_ = np.square(std[0]) if with_std else None
        self.scale_ = np.where(constant[0], 1.0, std[0]) if with_std else None
        return self

    def _check_fitted(self, X: Any) -> np.ndarray:
        if not hasattr(self, "n_features_in_"):
            raise ValueError("this Standardizer is not fitted yet; call fit(X) first")
        matrix = self._matrix(X)
        if matrix.shape[1] != self.n_features_in_:
            raise ValueError(
                f"X has {matrix.shape[1]} features, but the Standardizer was fitted on {self.n_features_in_}"
            )
        return matrix

    def transform(self, X: Any) -> np.ndarray:
        """``(X - mean_) / scale_`` as a new array.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Finite numbers with as many features as the fitted data.

        Returns
        -------
        numpy.ndarray
            float32 for float32 input, float64 otherwise.

        Raises
        ------
        ValueError
            If the standardizer is not fitted, ``X`` has another number of features or is not finite, or the
            result is beyond the dtype's range.
        """
        matrix = self._check_fitted(X)
        with np.errstate(over="ignore", invalid="ignore"):
            result = matrix.astype(np.float64)
            if self.mean_ is not None:
                result -= self.mean_
            if self.scale_ is not None:
                result /= self.scale_
            return _representable(result, matrix.dtype, "transform")

    def fit_transform(self, X: Any, y: Any = None) -> np.ndarray:
        """``fit(X)`` then ``transform(X)``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Finite numbers.
        y : None
            Ignored (scikit-learn's signature).

        Returns
        -------
        numpy.ndarray
            ``X`` standardized with its own statistics.
        """
        return self.fit(X).transform(X)

    def inverse_transform(self, X: Any) -> np.ndarray:
        """``X * scale_ + mean_``: back to the original units.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Standardized data.

        Returns
        -------
        numpy.ndarray
            float32 for float32 input, float64 otherwise.

        Raises
        ------
        ValueError
            If the standardizer is not fitted, ``X`` has another number of features or is not finite, or the
            result is beyond the dtype's range.
        """
        matrix = self._check_fitted(X)
        with np.errstate(over="ignore", invalid="ignore"):
            result = matrix.astype(np.float64)
            if self.scale_ is not None:
                result *= self.scale_
            if self.mean_ is not None:
                result += self.mean_
            return _representable(result, matrix.dtype, "inverse_transform")


def _representable(result: np.ndarray, dtype: np.dtype, method: str) -> np.ndarray:
    """``result`` in ``dtype``; ValueError when finite inputs gave values beyond its range (far outside the
    fitted data), instead of an overflow warning and infinities."""
    converted = result.astype(dtype, copy=False)
    if not np.isfinite(converted).all():
        raise ValueError(
            f"X is too far from the fitted data: {method} gives values beyond the range of {np.dtype(dtype).name}"
        )
    return converted


@keywords(aliases={"random_state": "seed"}, hints={"arrays": "pass X and y positionally"})
def train_test_split(
    X: Any,
    y: Any,
    test_fraction: float | None = None,
    seed: int | None = 0,
    shuffle: bool = True,
    *,
    test_size: float | int | None = None,
    train_size: float | int | None = None,
    random_state: int | None = None,
    stratify: Any = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Split ``X`` and ``y`` into ``X_train, X_test, y_train, y_test`` (scikit-learn's order).

    The test set has ``ceil(test_fraction * n)`` rows (scikit-learn's rounding; ``test_fraction`` defaults to 0.2),
    the training set the rest; both must be non-empty. With ``shuffle=True`` the rows are permuted by
    ``numpy.random.default_rng(seed).permutation(n)`` and the first ``n_train`` of the permutation form the training
    set; ``seed=None`` takes fresh entropy. With ``shuffle=False`` the first rows are the training set and the last
    ones the test set. Arrays keep their dtype.

    scikit-learn's names work too: ``test_size`` and ``train_size`` (a fraction, or a number of rows when an
    integer; given alone, the other set is the rest), ``random_state`` (``seed``) and ``stratify`` (labels whose
    proportions both sets keep: each class is split in proportion, rounded so the sizes add up). The rows drawn
    for a seed are ferronet's, not scikit-learn's.

    Parameters
    ----------
    X : array-like
        Samples, one row per sample.
    y : array-like
        Targets, as many rows as ``X``.
    test_fraction : float, default 0.2
        The fraction of rows in the test set, in ``(0, 1)``.
    seed : int or None, default 0
        Seeds the permutation; None takes fresh entropy.
    shuffle : bool, default True
        Permute the rows before splitting.
    test_size : float or int, optional
        scikit-learn's: the test set as a fraction in ``(0, 1)`` or a number of rows (instead of ``test_fraction``).
    train_size : float or int, optional
        scikit-learn's: the training set as a fraction or a number of rows; given alone, the test set is the rest.
    random_state : int or None, optional
        scikit-learn's name for ``seed``.
    stratify : array-like, optional
        Labels whose proportions both sets keep (needs ``shuffle=True``).

    Returns
    -------
    X_train, X_test, y_train, y_test : numpy.ndarray
        The rows of ``X`` and ``y`` in each set.

    Raises
    ------
    TypeError
        If an argument has the wrong type.
    ValueError
        If ``X`` and ``y`` have different numbers of rows, or a set would be empty.

    Examples
    --------
    >>> import numpy as np
    >>> X_train, X_test, y_train, y_test = train_test_split(np.arange(20).reshape(10, 2), np.arange(10))
    >>> X_train.shape, X_test.shape
    ((8, 2), (2, 2))
    """
    features = as_array(X, "X")
    targets = as_array(y, "y")
    if features.ndim == 0 or targets.ndim == 0:
        raise ValueError("X and y must be arrays with one row per sample; got a scalar")
    n = features.shape[0]
    if targets.shape[0] != n:
        raise ValueError(f"y has {targets.shape[0]} rows but X has {n}")
    if test_fraction is not None and test_size is not None:
        raise TypeError("train_test_split() got both test_fraction and test_size (scikit-learn's name); pass one")
    shuffle = check_bool(shuffle, "shuffle")
    if seed is not None:
        seed = check_int(seed, "seed", minimum=0, maximum=MAX_SEED)
    if test_size is None and train_size is None:
        test_fraction = check_float(
            0.2 if test_fraction is None else test_fraction,
            "test_fraction",
            minimum=0.0,
            maximum=1.0,
            min_inclusive=False,
            max_inclusive=False,
        )
        n_test = math.ceil(test_fraction * n)
        n_train = n - n_test
        if n_train < 1 or n_test < 1:
            raise ValueError(
                f"test_fraction={test_fraction} of {n} samples leaves {n_train} for training and {n_test} for "
                "testing; both must be at least 1"
            )
    else:
        test_name = "test_size" if test_fraction is None else "test_fraction"
        n_train, n_test = _split_sizes(n, test_fraction if test_size is None else test_size, test_name, train_size)
    rng = np.random.default_rng(seed)
    if stratify is not None:
        if not shuffle:
            raise ValueError("stratify needs shuffle=True (a stratified split draws rows per class)")
        train, test = _stratified(_strata(stratify, n), n_train, n_test, rng)
    else:
        order = rng.permutation(n) if shuffle else np.arange(n)
        train, test = order[:n_train], order[n_train : n_train + n_test]
    return features[train], features[test], targets[train], targets[test]


def _split_size(value: Any, name: str, n: int, *, round_up: bool) -> int | None:
    """A set's size as a number of rows: a fraction in (0, 1) of ``n`` (rounded up for the test set, down for the
    training set, as scikit-learn), or an integer count in [1, n)."""
    if value is None:
        return None
    if isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_)):
        return check_int(value, name, minimum=1, maximum=max(n - 1, 1))
    fraction = check_float(value, name, minimum=0.0, maximum=1.0, min_inclusive=False, max_inclusive=False)
    return math.ceil(fraction * n) if round_up else math.floor(fraction * n)


def _split_sizes(n: int, test_size: Any, test_name: str, train_size: Any) -> tuple[int, int]:
    """The training and test sizes from scikit-learn's ``train_size``/``test_size``: a size not given is the rest."""
    n_test = _split_size(test_size, test_name, n, round_up=True)
    n_train = _split_size(train_size, "train_size", n, round_up=False)
    if n_test is None:
        n_test = n - (n_train or 0)
    if n_train is None:
        n_train = n - n_test
    asked = f"train_size={train_size!r} and {test_name}={test_size!r}"
    if n_train + n_test > n:
        raise ValueError(f"{asked} ask for {n_train} + {n_test} rows; X has {n}")
    if n_train < 1 or n_test < 1:
        raise ValueError(
            f"{asked} leave {n_train} of {n} samples for training and {n_test} for testing; both must be at least 1"
        )
    return n_train, n_test


def _strata(stratify: Any, n: int) -> np.ndarray:
    """The class index of each row of ``stratify`` (labels of shape (n,), or rows of shape (n, k) as classes)."""
    array = np.asarray(stratify)
    if array.ndim not in (1, 2) or array.shape[0] != n:
        raise ValueError(f"stratify must hold one label per row of X, shape ({n},); got shape {array.shape}")
    try:
        _, inverse = np.unique(array, axis=0, return_inverse=True)
    except TypeError:
        raise TypeError(f"stratify must hold sortable labels; got dtype {array.dtype}") from None
    return inverse.reshape(-1)


def _allocate(counts: np.ndarray, total: int) -> np.ndarray:
    """``total`` split over the classes in proportion to ``counts`` (largest remainders get the rounding)."""
    exact = counts * (total / max(int(counts.sum()), 1))
    shares = np.floor(exact).astype(np.int64)
    remainder = total - int(shares.sum())
    if remainder > 0:
        # the largest fractional parts first; ties go to the class with more rows left, then the lower index
        room = counts - shares
        order = np.lexsort((np.arange(counts.size), -room, -(exact - shares)))
        order = order[room[order] > 0]
        shares[order[:remainder]] += 1
    return shares


def _stratified(
    strata: np.ndarray, n_train: int, n_test: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    counts = np.bincount(strata)
    n_classes = counts.size
    if counts.min() < 2:
        raise ValueError(
            f"stratify has a class with only {counts.min()} row; each class needs at least 2 to be in both sets"
        )
    if n_test < n_classes or n_train < n_classes:
        raise ValueError(
            f"stratify has {n_classes} classes; the training set ({n_train} rows) and the test set ({n_test} rows) "
            "must each have at least one row per class"
        )
    train_counts = _allocate(counts, n_train)
    test_counts = _allocate(counts - train_counts, n_test)
    train_parts, test_parts = [], []
    for label in range(n_classes):
        rows = rng.permutation(np.flatnonzero(strata == label))
        train_parts.append(rows[: train_counts[label]])
        test_parts.append(rows[train_counts[label] : train_counts[label] + test_counts[label]])
    return rng.permutation(np.concatenate(train_parts)), rng.permutation(np.concatenate(test_parts))
