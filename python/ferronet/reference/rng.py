"""The counter-based generator shared bit for bit with the Rust engine (``rust/rng.rs``).

Every draw is a pure function of a key of 64-bit words, so it does not depend on how work is split across threads:
``splitmix64`` is the SplitMix64 finalizer, ``hash_words`` chains it over a key. All arithmetic is modulo 2**64 on
NumPy ``uint64`` (array arithmetic wraps silently; ``np.errstate`` also quiets the scalar overflow warnings).
"""

from __future__ import annotations

from typing import cast

import numpy as np

#: The SplitMix64 increment, 2**64 / golden ratio.
GAMMA = 0x9E3779B97F4A7C15

#: Stream ids: one per use of the generator, so equal counters in two uses give unrelated numbers.
SHUFFLE = 1
DROPOUT = 2
DROPCONNECT = 3

_GAMMA = np.uint64(GAMMA)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_TWO_POW_53 = 2.0**53


def _u64(value: int | np.ndarray) -> np.ndarray:
    """A non-negative int (< 2**64) or an integer array as uint64."""
    return np.asarray(value, dtype=np.uint64)


def splitmix64(x: int | np.ndarray) -> np.ndarray:
    """``z = x + GAMMA; z = (z ^ z>>30) * M1; z = (z ^ z>>27) * M2; return z ^ z>>31`` (mod 2**64), element-wise.

    Returns a uint64 scalar for a scalar input, a uint64 array for an array input.
    """
    with np.errstate(over="ignore"):
        z = _u64(x) + _GAMMA
        z = (z ^ (z >> np.uint64(30))) * _MIX1
        z = (z ^ (z >> np.uint64(27))) * _MIX2
        return cast(np.ndarray, z ^ (z >> np.uint64(31)))  # NumPy types array operators as Any


def hash_words(*words: int | np.ndarray) -> np.ndarray:
    """``h = splitmix64(w0)``, then ``h = splitmix64(h ^ w)`` for each further word (any word may be an array)."""
    h = splitmix64(words[0])
    for word in words[1:]:
        h = splitmix64(h ^ _u64(word))
    return h


def epoch_permutation(n: int, seed: int, epoch: int) -> np.ndarray:
    """The sample order of one epoch (int64, shape (n,)): a Fisher–Yates shuffle of ``arange(n)``.

    For i = n-1 down to 1: ``u = hash_words(seed, SHUFFLE, epoch, i)``, ``j = ((u >> 32) * (i + 1)) >> 32``
    (a draw in 0..i), then swap ``order[i]`` and ``order[j]``. Valid for n < 2**32.
    """
    order = list(range(n))
    if n < 2:
        return np.array(order, dtype=np.int64)
    i = np.arange(1, n, dtype=np.uint64)
    u = hash_words(seed, SHUFFLE, epoch, i)
    draws = (((u >> np.uint64(32)) * (i + np.uint64(1))) >> np.uint64(32)).tolist()  # draws[i - 1] is j for i
    for position in range(n - 1, 0, -1):
        j = draws[position - 1]
        order[position], order[j] = order[j], order[position]
    return np.array(order, dtype=np.int64)


def keep_threshold(p: float) -> int:
    """The 53-bit threshold below which a draw keeps its unit: ``int((1 - p) * 2**53)`` (float64, truncated)."""
    return int((1.0 - p) * _TWO_POW_53)


def mask(rows: int, cols: int, p: float, seed: int, stream: int, step: int, layer: int) -> np.ndarray:
    """A keep mask (bool, shape (rows, cols), True = kept) with P(keep) = 1 - p.

    Row r has the key ``hash_words(seed, stream, step, layer, r)``; element c draws
    ``bits = splitmix64(key + c * GAMMA)`` and is kept when ``bits >> 11 < keep_threshold(p)``.
    """
    if p == 0.0:
        return np.ones((rows, cols), dtype=bool)
    keys = hash_words(seed, stream, step, layer, np.arange(rows, dtype=np.uint64))
    with np.errstate(over="ignore"):
        offsets = np.arange(cols, dtype=np.uint64) * _GAMMA
        bits = splitmix64(keys[:, None] + offsets[None, :])
    return cast(np.ndarray, (bits >> np.uint64(11)) < np.uint64(keep_threshold(p)))
