"""The CS231n spiral: a small, non-linearly separable 2-D classification problem."""

from __future__ import annotations

import numpy as np

from .._names import keywords
from .._validation import MAX_SEED, check_float, check_int

__all__ = ["make_spiral"]

#: Radians of angle noise; beyond this the angles are uniform noise anyway, and near 1e308 they overflow.
MAX_NOISE = 1e6
#: More rows than this could never be allocated (2**40 rows of 2 float64 features are 16 TiB).
MAX_ROWS = 2**40


@keywords()
def make_spiral(
    n_per_class: int = 100, n_classes: int = 3, noise: float = 0.2, seed: int | None = 0
) -> tuple[np.ndarray, np.ndarray]:
    """The classic CS231n spiral: ``n_classes`` interleaved arms of ``n_per_class`` points each.

    For class ``j`` the points have radius ``linspace(0, 1, n)`` and angle
    ``linspace(4j, 4(j+1), n) + noise * N(0, 1)``, and sit at ``(r sin t, r cos t)``. The normal draws come from
    ``numpy.random.default_rng(seed).standard_normal(n)``, one call per class in class order (also when
    ``noise == 0``, so the draws do not depend on it); ``seed=None`` takes fresh entropy.

    Parameters
    ----------
    n_per_class : int, default 100
        Points per class, >= 1.
    n_classes : int, default 3
        Arms (classes), >= 1.
    noise : float, default 0.2
        The standard deviation of the angle noise, in radians (0 to 1e6).
    seed : int or None, default 0
        Seeds ``numpy.random.default_rng``; None takes fresh entropy.

    Returns
    -------
    X : numpy.ndarray
        float64 of shape ``(n_per_class * n_classes, 2)``.
    y : numpy.ndarray
        int64 labels ``0..n_classes-1``, grouped by class (class 0 first).

    Raises
    ------
    TypeError, ValueError
        If an argument is not an integer/number in its range.

    Examples
    --------
    >>> X, y = make_spiral(n_per_class=100, n_classes=3)
    >>> X.shape, y.shape, sorted(set(y.tolist()))
    ((300, 2), (300,), [0, 1, 2])
    """
    n = check_int(n_per_class, "n_per_class", minimum=1)
    k = check_int(n_classes, "n_classes", minimum=1)
    noise = check_float(noise, "noise", minimum=0.0, maximum=MAX_NOISE)
    if n * k > MAX_ROWS:
        raise ValueError(f"n_per_class * n_classes must be <= {MAX_ROWS} rows; got {n} * {k}")
    if seed is not None:
        seed = check_int(seed, "seed", minimum=0, maximum=MAX_SEED)
    rng = np.random.default_rng(seed)
    X = np.empty((n * k, 2), dtype=np.float64)
    y = np.empty(n * k, dtype=np.int64)
    radius = np.linspace(0.0, 1.0, n)
    for j in range(k):
        rows = slice(n * j, n * (j + 1))
        angle = np.linspace(4.0 * j, 4.0 * (j + 1), n) + noise * rng.standard_normal(n)
        X[rows, 0] = radius * np.sin(angle)
        X[rows, 1] = radius * np.cos(angle)
        y[rows] = j
    return X, y
