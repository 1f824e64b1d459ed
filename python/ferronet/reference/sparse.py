"""A Dense layer on a sparse input, without densifying it: ``x`` is a CSR matrix given by its ``data``, ``indices``,
``indptr`` and ``shape`` (a SciPy CSR matrix, or ferronet's ``SparseRows``). Row i's stored entries are
``indices[indptr[i]:indptr[i + 1]]`` (column numbers, in any order, repeats adding up) with the same range of
``data``."""

from __future__ import annotations

from typing import Any

import numpy as np


def sparse_dense_forward(x: Any, W: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``z = x @ W + b``: row i of z is the sum, over row i's stored entries (column c, value v), of ``v * W[c]``,
    plus b."""
    z = np.zeros((x.shape[0], W.shape[1]), dtype=W.dtype)
    for i in range(x.shape[0]):
        entries = slice(x.indptr[i], x.indptr[i + 1])
        z[i] = x.data[entries] @ W[x.indices[entries]]
    z += b
    return z


def sparse_dense_weight_grads(x: Any, dz: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``dW = x.T @ dz``, ``db = dz.sum(axis=0)``: row c of dW is the sum, over the stored entries (row i, column c,
    value v), of ``v * dz[i]``. (A sparse input is a first layer's: no dx.)"""
    dW = np.zeros((x.shape[1], dz.shape[1]), dtype=dz.dtype)
    for i in range(x.shape[0]):
        entries = slice(x.indptr[i], x.indptr[i + 1])
        np.add.at(dW, x.indices[entries], np.outer(x.data[entries], dz[i]))
    return dW, dz.sum(axis=0)
