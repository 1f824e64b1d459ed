"""Data sets: the CS231n spiral, the shipped 8x8 digits, IDX files and (Fashion-)MNIST.

>>> import ferronet as fnet
>>> X, y = fnet.datasets.make_spiral(n_per_class=100, n_classes=3, noise=0.2, seed=0)
>>> X, y = fnet.datasets.load_digits()
>>> (Xtr, ytr), (Xte, yte) = fnet.datasets.load_fashion_mnist()   # doctest: +SKIP
"""

from ._download import DatasetNotFoundError
from .digits import load_digits
from .idx import load_fashion_mnist, load_mnist, read_idx, write_idx
from .spiral import make_spiral

__all__ = [
    "DatasetNotFoundError",
    "load_digits",
    "load_fashion_mnist",
    "load_mnist",
    "make_spiral",
    "read_idx",
    "write_idx",
]
