"""The engine's counter-based generator (``rust/rng.rs`` through ``ferronet._core``) equals the NumPy twin
(``ferronet.reference.rng``) bit for bit: SplitMix64, the key hash, the epoch shuffles and the dropout masks."""

from __future__ import annotations

import numpy as np
import pytest
from ferronet import _core, ops
from ferronet.reference import rng
from hypothesis import given, settings
from hypothesis import strategies as st

U64 = st.integers(0, 2**64 - 1)
#: Words that often sit at the edges of 64-bit arithmetic.
WORD = st.one_of(U64, st.sampled_from([0, 1, 2, rng.GAMMA, 2**32 - 1, 2**32, 2**63 - 1, 2**63, 2**64 - 1]))
EXACT = settings(max_examples=200, deadline=None, derandomize=True, database=None)


def splitmix64_int(x: int) -> int:
    """SplitMix64's finalizer in plain Python integers (mod 2**64): a third, independent implementation."""
    mask = (1 << 64) - 1
    z = (x + 0x9E3779B97F4A7C15) & mask
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & mask
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & mask
    return z ^ (z >> 31)


# ------------------------------------------------------------------------------------------------ pinned values


def test_pinned_values():
    assert _core.splitmix64(0) == 0xE220A8397B1DCDAF
    assert _core.hash_words([1, 2, 3]) == 0xD0734750FDE362B3
    assert _core.epoch_permutation(10, 42, 0).tolist() == [7, 9, 2, 5, 1, 8, 3, 4, 6, 0]
    expected = [[True, True, False, True, False], [False, False, True, False, True]]
    assert _core.dropout_mask(2, 5, 0.5, seed=7, step=3, layer=1, stream=2).tolist() == expected
    # and the public wrappers give the same numbers
    assert ops.rng.splitmix64(0) == 0xE220A8397B1DCDAF
    assert ops.rng.hash_words(1, 2, 3) == 0xD0734750FDE362B3
    assert ops.rng.epoch_permutation(10, 42, 0).tolist() == [7, 9, 2, 5, 1, 8, 3, 4, 6, 0]
    assert ops.dropout_mask(2, 5, 0.5, seed=7, step=3, layer=1).tolist() == expected


def test_result_types():
    assert type(_core.splitmix64(5)) is int and type(_core.hash_words([5, 6])) is int
    order = _core.epoch_permutation(5, 1, 2)
    assert order.dtype == np.int64 and order.shape == (5,)
    mask = _core.dropout_mask(3, 4, 0.5, 1, 2, 3)
    assert mask.dtype == bool and mask.shape == (3, 4) and mask.flags.c_contiguous


# ------------------------------------------------------------------------------------------------ splitmix64, hash


@EXACT
@given(x=WORD)
def test_splitmix64_bit_for_bit(x):
    value = _core.splitmix64(x)
    assert value == int(rng.splitmix64(x)) == splitmix64_int(x)
    assert 0 <= value < 2**64


def test_splitmix64_vectorised_reference_agrees_element_by_element():
    xs = np.random.default_rng(0).integers(0, 2**64 - 1, size=500, dtype=np.uint64, endpoint=True)
    expected = rng.splitmix64(xs)
    assert [_core.splitmix64(x) for x in xs.tolist()] == expected.tolist()


@EXACT
@given(words=st.lists(WORD, min_size=1, max_size=8))
def test_hash_words_bit_for_bit(words):
    value = _core.hash_words(words)
    assert value == int(rng.hash_words(*words))
    h = splitmix64_int(words[0])
    for w in words[1:]:
        h = splitmix64_int(h ^ w)
    assert value == h
    assert ops.rng.hash_words(*words) == value


def test_hash_words_of_one_word_is_splitmix64():
    for x in (0, 1, 12345, 2**64 - 1):
        assert _core.hash_words([x]) == _core.splitmix64(x)


# ------------------------------------------------------------------------------------------------ shuffles


@pytest.mark.parametrize("n", [0, 1, 2, 3, 10, 1000])
@pytest.mark.parametrize("seed", [0, 1, 42, 2**32, 2**64 - 1])
@pytest.mark.parametrize("epoch", [0, 1, 7, 2**63])
def test_epoch_permutation_bit_for_bit(n, seed, epoch):
    order = _core.epoch_permutation(n, seed, epoch)
    np.testing.assert_array_equal(order, rng.epoch_permutation(n, seed, epoch))
    assert sorted(order.tolist()) == list(range(n))


@settings(max_examples=100, deadline=None, derandomize=True, database=None)
@given(n=st.integers(0, 2000), seed=WORD, epoch=st.integers(0, 10**6))
def test_epoch_permutation_bit_for_bit_drawn(n, seed, epoch):
    np.testing.assert_array_equal(_core.epoch_permutation(n, seed, epoch), rng.epoch_permutation(n, seed, epoch))


def test_epoch_permutations_differ_by_seed_and_epoch():
    a = _core.epoch_permutation(1000, 42, 0)
    assert not np.array_equal(a, _core.epoch_permutation(1000, 42, 1))
    assert not np.array_equal(a, _core.epoch_permutation(1000, 43, 0))
    np.testing.assert_array_equal(a, _core.epoch_permutation(1000, 42, 0))
    assert _core.epoch_permutation(1, 5, 5).tolist() == [0]
    assert sorted(_core.epoch_permutation(2, 5, 5).tolist()) == [0, 1]
    # both orders of two elements occur across epochs
    assert {tuple(_core.epoch_permutation(2, 5, e).tolist()) for e in range(32)} == {(0, 1), (1, 0)}


# ------------------------------------------------------------------------------------------------ dropout masks


@EXACT
@given(
    rows=st.integers(0, 40),
    cols=st.integers(0, 40),
    p=st.one_of(st.sampled_from([0.0, 0.1, 0.5, 0.9, 0.999]), st.floats(0.0, 0.999)),
    seed=WORD,
    step=WORD,
    layer=st.integers(0, 2**32),
    stream=st.sampled_from([rng.DROPOUT, rng.DROPCONNECT, 0, 2**64 - 1]),
)
def test_dropout_mask_bit_for_bit(rows, cols, p, seed, step, layer, stream):
    mask = _core.dropout_mask(rows, cols, p, seed, step, layer, stream)
    np.testing.assert_array_equal(mask, rng.mask(rows, cols, p, seed, stream, step, layer))
    assert mask.shape == (rows, cols) and mask.dtype == bool


@pytest.mark.parametrize(("rows", "cols"), [(1, 1), (1, 1000), (1000, 1), (2, 5), (37, 53)])
def test_dropout_mask_bit_for_bit_at_odd_shapes(rows, cols):
    for p in (0.2, 0.5):
        expected = rng.mask(rows, cols, p, 123, rng.DROPOUT, 9, 4)
        np.testing.assert_array_equal(_core.dropout_mask(rows, cols, p, 123, 9, 4), expected)


def test_dropout_mask_default_stream_is_dropout():
    np.testing.assert_array_equal(_core.dropout_mask(6, 7, 0.3, 1, 2, 3), _core.dropout_mask(6, 7, 0.3, 1, 2, 3, 2))
    assert not np.array_equal(_core.dropout_mask(20, 20, 0.5, 1, 2, 3), _core.dropout_mask(20, 20, 0.5, 1, 2, 3, 3))


def test_dropout_mask_rows_do_not_depend_on_the_number_of_rows():
    # each row is keyed by its index, so a mask for more rows starts with the mask for fewer
    np.testing.assert_array_equal(_core.dropout_mask(10, 8, 0.5, 4, 4, 4)[:3], _core.dropout_mask(3, 8, 0.5, 4, 4, 4))


@pytest.mark.parametrize("p", [0.0, 0.1, 0.3, 0.5, 0.9])
def test_dropout_mask_keep_fraction(p):
    mask = _core.dropout_mask(300, 400, p, 17, 0, 1)
    assert abs(mask.mean() - (1 - p)) < 0.01
    np.testing.assert_array_equal(mask, rng.mask(300, 400, p, 17, rng.DROPOUT, 0, 1))
