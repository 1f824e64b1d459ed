"""Tests of ferronet.preprocessing: one_hot, standardize, Standardizer and train_test_split."""

from __future__ import annotations

import warnings

import ferronet as fnet
import numpy as np
import pytest
from ferronet.preprocessing import Standardizer, one_hot, standardize, train_test_split

# ============================================================================================== one_hot


def test_one_hot_basic():
    Y = one_hot([0, 2, 1, 2], 3)
    assert Y.dtype == np.float32 and Y.shape == (4, 3)
    np.testing.assert_array_equal(Y, [[1, 0, 0], [0, 0, 1], [0, 1, 0], [0, 0, 1]])


def test_one_hot_infers_classes_and_takes_dtype():
    Y = one_hot(np.array([3, 0]), dtype="float64")
    assert Y.dtype == np.float64 and Y.shape == (2, 4)
    np.testing.assert_array_equal(Y.argmax(axis=1), [3, 0])
    assert one_hot([1], 5, dtype=np.float32).shape == (1, 5)


def test_one_hot_accepts_whole_floats_and_numpy_ints():
    np.testing.assert_array_equal(one_hot(np.array([1.0, 0.0]), np.int64(2)), [[0, 1], [1, 0]])


def test_one_hot_empty():
    assert one_hot(np.array([], dtype=np.int64), 3).shape == (0, 3)
    with pytest.raises(ValueError, match="n_classes"):
        one_hot([])


@pytest.mark.parametrize(
    ("y", "n_classes", "dtype", "error", "match"),
    [
        ([0, -1], 3, "float32", ValueError, ">= 0"),
        ([0, 3], 3, "float32", ValueError, "n_classes=3"),
        ([0.5, 1], 3, "float32", ValueError, "integer"),
        ([[0, 1]], 3, "float32", ValueError, "1-D"),
        ([0, float("nan")], 3, "float32", ValueError, "NaN"),
        (["a", "b"], 3, "float32", TypeError, "y"),
        ([0, 1], 0, "float32", ValueError, "n_classes"),
        ([0, 1], 2.0, "float32", TypeError, "n_classes"),
        ([0, 1], 2, "int8", ValueError, "dtype"),
        ([0, 1], 2, "nonsense", TypeError, "dtype"),
    ],
)
def test_one_hot_rejects_bad_input(y, n_classes, dtype, error, match):
    with pytest.raises(error, match=match):
        one_hot(y, n_classes, dtype=dtype)


# ============================================================================================== standardize


def test_standardize_columns():
    rng = np.random.default_rng(0)
    X = rng.normal(5.0, 3.0, size=(200, 4))
    Z = standardize(X)
    assert Z.dtype == np.float64 and Z.shape == X.shape
    np.testing.assert_allclose(Z.mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(Z.std(axis=0), 1.0, rtol=1e-12)
    np.testing.assert_allclose(Z, (X - X.mean(axis=0)) / X.std(axis=0), rtol=1e-12)


def test_standardize_does_not_modify_input():
    X = np.array([[1.0, 2.0], [3.0, 6.0]])
    copy = X.copy()
    standardize(X)
    np.testing.assert_array_equal(X, copy)


def test_standardize_constant_columns_are_zero_without_warnings():
    X = np.array([[1.0, 7.0, 0.1], [3.0, 7.0, 0.1], [5.0, 7.0, 0.1]] * 5)
    with np.errstate(all="raise"):
        Z = standardize(X)
    np.testing.assert_array_equal(Z[:, 1], 0.0)
    np.testing.assert_array_equal(Z[:, 2], 0.0)  # 0.1 repeated: its computed variance is rounding noise
    assert np.isfinite(Z).all()
    np.testing.assert_allclose(Z[:, 0].std(), 1.0)


def test_standardize_single_row_is_all_zero():
    np.testing.assert_array_equal(standardize([[3.0, -2.0, 8.0]]), [[0.0, 0.0, 0.0]])


def test_standardize_eps_threshold():
    X = np.array([[0.0, 0.0], [1e-6, 10.0]])
    np.testing.assert_array_equal(standardize(X, eps=1e-3)[:, 0], 0.0)
    np.testing.assert_allclose(standardize(X)[:, 0], [-1.0, 1.0])


def test_standardize_keeps_float32_and_converts_ints():
    X32 = np.arange(12, dtype=np.float32).reshape(4, 3)
    assert standardize(X32).dtype == np.float32
    Xint = np.arange(12).reshape(4, 3)
    Z = standardize(Xint)
    assert Z.dtype == np.float64
    np.testing.assert_allclose(Z, standardize(Xint.astype(np.float64)))


def test_standardize_other_axes():
    X = np.array([[1.0, 2.0, 3.0], [10.0, 10.0, 10.0]])
    rows = standardize(X, axis=1)
    np.testing.assert_allclose(rows[0], (X[0] - 2.0) / np.std(X[0]))
    np.testing.assert_array_equal(rows[1], 0.0)
    np.testing.assert_allclose(standardize(X, axis=-1), rows)
    whole = standardize(X, axis=None)
    np.testing.assert_allclose(whole, (X - X.mean()) / X.std())
    np.testing.assert_allclose(standardize([1.0, 2.0, 3.0]), [-np.sqrt(1.5), 0.0, np.sqrt(1.5)])


def test_standardize_matches_scikit_learn():
    preprocessing = pytest.importorskip("sklearn.preprocessing")
    rng = np.random.default_rng(1)
    X = np.c_[rng.normal(size=(50, 3)) * [1.0, 100.0, 1e-3], np.full(50, 4.2)]
    np.testing.assert_allclose(standardize(X), preprocessing.StandardScaler().fit_transform(X), atol=1e-12)


@pytest.mark.parametrize(
    ("X", "kwargs", "error", "match"),
    [
        ([[1.0, np.nan]], {}, ValueError, "NaN"),
        ([[1.0, np.inf]], {}, ValueError, "NaN or infinity"),
        ("abc", {}, TypeError, "X"),
        (np.zeros((0, 3)), {}, ValueError, "empty"),
        (3.0, {}, ValueError, "scalar"),
        ([[1.0, 2.0]], {"axis": 2}, ValueError, "axis"),
        ([[1.0, 2.0]], {"axis": 0.0}, TypeError, "axis"),
        ([[1.0, 2.0]], {"eps": -1.0}, ValueError, "eps"),
    ],
)
def test_standardize_rejects_bad_input(X, kwargs, error, match):
    with pytest.raises(error, match=match):
        standardize(X, **kwargs)


# ============================================================================================== Standardizer


def test_standardizer_attributes_match_scikit_learn():
    preprocessing = pytest.importorskip("sklearn.preprocessing")
    rng = np.random.default_rng(2)
    X = np.c_[rng.normal(3.0, 2.0, size=(40, 3)), np.full(40, -1.5)]
    ours = Standardizer().fit(X)
    theirs = preprocessing.StandardScaler().fit(X)
    np.testing.assert_allclose(ours.mean_, theirs.mean_, rtol=1e-14)
    np.testing.assert_allclose(ours.var_, theirs.var_, rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(ours.scale_, theirs.scale_, rtol=1e-12)
    assert ours.scale_[3] == 1.0
    X_new = rng.normal(size=(5, 4))
    np.testing.assert_allclose(ours.transform(X_new), theirs.transform(X_new), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(ours.inverse_transform(X_new), theirs.inverse_transform(X_new), rtol=1e-12)
    assert ours.n_features_in_ == 4 and ours.n_samples_seen_ == 40


def test_standardizer_round_trip_and_fit_transform():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(30, 5)) * 7 + 2
    scaler = Standardizer()
    Z = scaler.fit_transform(X)
    np.testing.assert_allclose(Z.mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(Z.std(axis=0), 1.0)
    np.testing.assert_allclose(scaler.inverse_transform(Z), X, rtol=1e-12)
    np.testing.assert_allclose(scaler.transform(X), Z)
    assert scaler.fit(X) is scaler


def test_standardizer_constant_column_has_unit_scale():
    X = np.array([[1.0, 5.0], [3.0, 5.0]])
    scaler = Standardizer().fit(X)
    np.testing.assert_array_equal(scaler.mean_, [2.0, 5.0])
    np.testing.assert_array_equal(scaler.scale_, [1.0, 1.0])
    np.testing.assert_array_equal(scaler.var_, [1.0, 0.0])
    np.testing.assert_array_equal(scaler.transform([[2.0, 6.0]]), [[0.0, 1.0]])


def test_standardizer_keeps_float32():
    X = np.arange(12, dtype=np.float32).reshape(6, 2)
    scaler = Standardizer().fit(X)
    assert scaler.transform(X).dtype == np.float32
    assert scaler.inverse_transform(X).dtype == np.float32
    assert scaler.transform(X.astype(np.float64)).dtype == np.float64


def test_standardizer_without_mean_or_std():
    X = np.array([[1.0, 2.0], [3.0, 6.0]])
    centred = Standardizer(with_std=False).fit(X)
    assert centred.scale_ is None
    np.testing.assert_array_equal(centred.transform(X), X - X.mean(axis=0))
    scaled = Standardizer(with_mean=False).fit(X)
    assert scaled.mean_ is None
    np.testing.assert_allclose(scaled.transform(X), X / X.std(axis=0))
    np.testing.assert_allclose(scaled.inverse_transform(scaled.transform(X)), X)
    assert "with_mean=False" in repr(Standardizer(with_mean=False))


def test_standardizer_errors():
    with pytest.raises(ValueError, match="not fitted"):
        Standardizer().transform([[1.0]])
    scaler = Standardizer().fit([[1.0, 2.0], [2.0, 3.0]])
    with pytest.raises(ValueError, match=r"3 features.*fitted on 2"):
        scaler.transform([[1.0, 2.0, 3.0]])
    with pytest.raises(ValueError, match="2-D"):
        Standardizer().fit([1.0, 2.0])
    with pytest.raises(ValueError, match="NaN"):
        Standardizer().fit([[np.nan]])
    with pytest.raises(TypeError, match="with_mean"):
        Standardizer(with_mean="yes").fit([[1.0]])


# ============================================================================================== train_test_split


def test_split_sizes_and_partition():
    X = np.arange(200).reshape(100, 2)
    y = np.arange(100)
    X_train, X_test, y_train, y_test = train_test_split(X, y)
    assert X_train.shape == (80, 2) and X_test.shape == (20, 2)
    assert y_train.shape == (80,) and y_test.shape == (20,)
    np.testing.assert_array_equal(X_train[:, 0] // 2, y_train)  # rows stay paired with their labels
    np.testing.assert_array_equal(X_test[:, 0] // 2, y_test)
    np.testing.assert_array_equal(np.sort(np.r_[y_train, y_test]), y)


def test_split_follows_the_seeded_permutation():
    X = np.arange(50, dtype=np.float32)[:, None]
    y = np.arange(50)
    X_train, _, y_train, y_test = train_test_split(X, y, test_fraction=0.3, seed=7)
    order = np.random.Generator(np.random.PCG64(7)).permutation(50)
    np.testing.assert_array_equal(y_train, order[:35])
    np.testing.assert_array_equal(y_test, order[35:])
    assert X_train.dtype == np.float32
    again = train_test_split(X, y, test_fraction=0.3, seed=7)
    np.testing.assert_array_equal(again[3], y_test)
    other = train_test_split(X, y, test_fraction=0.3, seed=8)
    assert not np.array_equal(other[3], y_test)


def test_split_without_shuffle_and_rounding():
    X = np.arange(10)
    X_train, X_test, _, _ = train_test_split(X, X, test_fraction=0.25, shuffle=False)
    np.testing.assert_array_equal(X_train, np.arange(7))  # ceil(2.5) = 3 test rows, as scikit-learn
    np.testing.assert_array_equal(X_test, [7, 8, 9])
    assert len(train_test_split(X, X, seed=None)[1]) == 2


def test_split_accepts_lists_and_one_hot_targets():
    X = [[i, i] for i in range(5)]
    Y = np.eye(5)
    X_train, _, Y_train, Y_test = train_test_split(X, Y, test_fraction=0.4, seed=1)
    assert X_train.shape == (3, 2) and Y_test.shape == (2, 5)
    np.testing.assert_array_equal(X_train[:, 0], Y_train.argmax(axis=1))


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"test_fraction": 0.0}, ValueError, "test_fraction"),
        ({"test_fraction": 1.0}, ValueError, "test_fraction"),
        ({"test_fraction": -0.2}, ValueError, "test_fraction"),
        ({"test_fraction": float("nan")}, ValueError, "test_fraction"),
        ({"test_fraction": "0.2"}, TypeError, "test_fraction"),
        ({"test_fraction": 0.99}, ValueError, "at least 1"),
        ({"seed": -3}, ValueError, "seed"),
        ({"seed": 0.5}, TypeError, "seed"),
        ({"shuffle": 1}, TypeError, "shuffle"),
    ],
)
def test_split_rejects_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        train_test_split(np.zeros((10, 2)), np.zeros(10), **kwargs)


def test_split_rejects_mismatched_lengths_and_scalars():
    with pytest.raises(ValueError, match="y has 9 rows but X has 10"):
        train_test_split(np.zeros((10, 2)), np.zeros(9))
    with pytest.raises(ValueError, match="scalar"):
        train_test_split(3.0, [1.0])
    with pytest.raises(TypeError, match="X"):
        train_test_split(None, [1.0])


# ---- values near the float64 limit (found by fuzz/fuzz_api.py) ---------------------------------------------------


def test_standardize_values_near_the_float64_limit_without_overflow():
    X = np.array([[1e308], [-1e308], [1.7e308]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = fnet.preprocessing.standardize(X)
        whole = fnet.preprocessing.standardize(X, axis=None)
        scaler = fnet.preprocessing.Standardizer().fit(X)
        transformed = scaler.transform(X)
    expected = (X / 1e308 - (X / 1e308).mean()) / (X / 1e308).std()
    np.testing.assert_allclose(result, expected, rtol=1e-12)
    np.testing.assert_allclose(whole, expected, rtol=1e-12)
    np.testing.assert_allclose(transformed, expected, rtol=1e-12)
    assert np.isfinite(scaler.mean_).all() and np.isfinite(scaler.scale_).all() and np.isinf(scaler.var_).all()


def test_standardize_a_column_of_huge_values_next_to_ordinary_ones():
    X = np.array([[-1.45, 1e300], [-1.47, -1.75], [0.9, -0.74]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = fnet.preprocessing.standardize(X)
        fnet.preprocessing.Standardizer(with_std=False).fit(X).fit_transform(X)
    np.testing.assert_allclose(result.mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(result.std(axis=0), 1.0, rtol=1e-12)


def test_transform_beyond_the_float_range_is_a_value_error():
    scaler = fnet.preprocessing.Standardizer().fit(np.array([[0.0], [1e-150]]))
    with pytest.raises(ValueError, match="transform gives values beyond the range of float64"):
        scaler.transform([[1e200]])
    small = fnet.preprocessing.Standardizer().fit(np.array([[0.0], [1e-3]], dtype=np.float32))
    with pytest.raises(ValueError, match="beyond the range of float32"):
        small.transform(np.array([[3e38]], dtype=np.float32))
    with pytest.raises(ValueError, match="inverse_transform gives values beyond"):
        fnet.preprocessing.Standardizer().fit([[0.0], [1e300]]).inverse_transform([[1e300]])


def test_a_longdouble_beyond_float64_is_refused_without_a_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ValueError, match="X contains NaN or infinity"):
            fnet.preprocessing.standardize(np.array([np.longdouble("1e4000"), 1.0]))


@pytest.mark.parametrize("value", [1e200, -3e300, 1e170])
def test_constant_columns_of_huge_values_are_recognised_without_overflow(value):
    X = np.array([[value, 1.0], [value, 2.0], [value, 3.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = fnet.preprocessing.standardize(X)
        scaler = fnet.preprocessing.Standardizer().fit(X)
    np.testing.assert_array_equal(result[:, 0], 0.0)
    assert scaler.scale_[0] == 1.0 and scaler.mean_[0] == value
    spread = np.array([[1e200], [2e200], [3e200]])
    np.testing.assert_allclose(fnet.preprocessing.standardize(spread).ravel(), [-1.2247449, 0.0, 1.2247449], rtol=1e-6)
