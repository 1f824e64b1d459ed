"""The 1,797 8x8 handwritten digits shipped with ferronet (UCI Optical Recognition of Handwritten Digits)."""

from __future__ import annotations

import functools
import gzip
import io
from importlib import resources

import numpy as np

from .._names import keywords
from .._validation import check_bool

__all__ = ["load_digits"]

_RESOURCE = "digits.csv.gz"
N_SAMPLES = 1797


@functools.lru_cache(maxsize=1)
def _load_raw() -> np.ndarray:
    """The shipped table as uint8 of shape (1797, 65): 64 pixels then the label. Read once, kept read-only."""
    compressed = resources.files(__package__).joinpath("data").joinpath(_RESOURCE).read_bytes()
    text = gzip.decompress(compressed).decode("ascii")
    table = np.loadtxt(io.StringIO(text), delimiter=",", dtype=np.uint8, ndmin=2)
    if table.shape != (N_SAMPLES, 65) or table[:, :64].max() > 16 or table[:, 64].max() > 9:
        raise RuntimeError(f"the shipped {_RESOURCE} is damaged (shape {table.shape}); reinstall ferronet")
    table.setflags(write=False)
    return table


@keywords(hints={"return_X_y": "load_digits returns (X, y) already"})
def load_digits(return_images: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """The 1,797 handwritten digits (8x8 pixels, values 0..16, 10 classes), shipped with the package.

    This is the test set of the UCI "Optical Recognition of Handwritten Digits" data (E. Alpaydin and
    C. Kaynak, 1998, https://doi.org/10.24432/C50P49, CC BY 4.0; see ``datasets/data/DIGITS_LICENSE.txt``), the
    same data as scikit-learn's ``load_digits``, in the same order. No download is ever needed.

    Parameters
    ----------
    return_images : bool, default False
        Give ``X`` the shape (1797, 8, 8) instead of (1797, 64).

    Returns
    -------
    X : numpy.ndarray
        float64 of shape (1797, 64), pixels in row-major order with integer values 0..16 (not scaled; divide by 16
        or standardize). Each call returns fresh arrays that the caller may modify.
    y : numpy.ndarray
        int64 labels 0..9, of shape (1797,).

    Raises
    ------
    TypeError
        If ``return_images`` is not a bool.

    Examples
    --------
    >>> X, y = load_digits()
    >>> X.shape, y.shape, int(X.max())
    ((1797, 64), (1797,), 16)
    """
    return_images = check_bool(return_images, "return_images")
    table = _load_raw()
    X = table[:, :64].astype(np.float64)
    y = table[:, 64].astype(np.int64)
    if return_images:
        X = X.reshape(N_SAMPLES, 8, 8)
    return X, y
