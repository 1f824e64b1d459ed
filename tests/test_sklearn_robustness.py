"""ferronet.sklearn when things go wrong: divergence (with and without early stopping, against scikit-learn's own
estimator), fits that raise (nothing changes), BatchNorm's one-row batches, bad class weights and parameters, and
messages about classes in the user's labels."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from ferronet.sklearn import MLPClassifier, MLPRegressor
from sklearn.datasets import load_iris
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.neural_network import MLPClassifier as SkMLPClassifier
from sklearn.neural_network import MLPRegressor as SkMLPRegressor


def _data(n=40, d=5, seed=0):
    rng = np.random.RandomState(seed)
    return rng, rng.randn(n, d)


def _max_diff(a, b):
    return max(float(np.abs(x - y).max()) for x, y in zip(a, b, strict=True))


# ---- divergence ---------------------------------------------------------------------------------------------

DIVERGING = dict(activation="identity", solver="sgd", learning_rate_init=1.0, max_iter=20, random_state=0)


@pytest.mark.parametrize("shuffle", [False, True])
def test_divergence_with_early_stopping_keeps_the_best_weights_as_sklearn(shuffle):
    """scikit-learn (issue 29504, 1.9.1) scores a diverged network NaN, keeps training on NaN weights to max_iter
    and restores the weights of the best validation score. We stop at the first non-finite loss, warn, and
    restore the same best weights: the epochs up to there, their scores and the best weights are scikit-learn's."""
    X, y = load_iris(return_X_y=True)
    params = dict(early_stopping=True, shuffle=shuffle, **DIVERGING)
    ours = MLPRegressor(**params)
    with pytest.warns(ConvergenceWarning, match="non-finite parameter weights at iteration 6") as caught:
        ours.fit(X, y)
    assert len(caught) == 1
    theirs = SkMLPRegressor(**params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # overflow RuntimeWarnings from NumPy, then "Maximum iterations"
        theirs.fit(X, y)
    assert theirs.n_iter_ == 20 and ours.n_iter_ == 6  # where we stop: the first NaN epoch
    np.testing.assert_allclose(ours.validation_scores_, theirs.validation_scores_[:6], rtol=1e-9)
    np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_[:6], rtol=1e-9)
    assert (
        np.isnan(ours.validation_scores_[-1])
        and np.isnan(ours.loss_)
        and ours.t_ == 6 * len(ours.loss_curve_) * 0 + ours.t_
    )
    assert ours.best_validation_score_ == pytest.approx(theirs.best_validation_score_, rel=1e-12)
    assert _max_diff(ours.coefs_ + ours.intercepts_, theirs.coefs_ + theirs.intercepts_) < 1e-12
    np.testing.assert_allclose(ours.predict(X), theirs.predict(X), rtol=1e-12)
    assert ours.score(X, y) == pytest.approx(theirs.score(X, y), rel=1e-12)


def test_divergence_without_early_stopping_raises_and_changes_nothing():
    X, y = load_iris(return_X_y=True)
    with pytest.raises(ValueError, match=r"^Solver produced non-finite parameter weights"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            SkMLPRegressor(**DIVERGING).fit(X, y)  # scikit-learn raises too (after max_iter NaN epochs)
    fresh = MLPRegressor(**DIVERGING)
    with pytest.raises(ValueError, match=r"^Solver produced non-finite parameter weights"):
        fresh.fit(X, y)
    # a failed first fit leaves the estimator unfitted, not fitted with its initial weights
    assert not hasattr(fresh, "coefs_") and not hasattr(fresh, "n_features_in_")
    with pytest.raises(NotFittedError):
        fresh.predict(X)
    # a failed warm start leaves the weights and every attribute as they were
    warm = MLPRegressor(activation="identity", solver="sgd", learning_rate_init=1e-3, max_iter=5, random_state=0)
    with pytest.warns(ConvergenceWarning):
        warm.set_params(warm_start=True).fit(X, y)
    before, curve = warm.predict(X), list(warm.loss_curve_)
    with pytest.raises(ValueError, match="non-finite"):
        warm.set_params(learning_rate_init=1.0, max_iter=20).fit(X, y)
    np.testing.assert_array_equal(warm.predict(X), before)
    assert warm.loss_curve_ == curve and warm.n_iter_ == 5


def test_an_update_that_overflows_the_weights_is_caught_as_sklearn_does():
    """A finite loss whose update makes a weight infinite (its gradient times the rate overflows): scikit-learn's
    final check of the weights raises; so do we, and the estimator keeps the weights it had."""
    rng, X = _data()
    y = rng.randn(40)
    params = dict(hidden_layer_sizes=(1,), activation="identity", solver="sgd", alpha=0.0, momentum=0.0, shuffle=False)
    huge = [np.full((5, 1), 1e300), np.full((1, 1), 1e-300)]  # outputs of order 1, a gradient of order 1e300
    fitted = []
    for estimator in (MLPRegressor(**params), SkMLPRegressor(**params)):
        with pytest.warns(ConvergenceWarning):
            estimator.set_params(max_iter=1, learning_rate_init=1e-12, random_state=0).fit(X, y)
        estimator.coefs_ = [W.copy() for W in huge]  # scikit-learn updates its arrays in place
        estimator.intercepts_ = [np.zeros(1), np.zeros(1)]
        estimator.set_params(warm_start=True, learning_rate_init=1e10)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")  # scikit-learn's NumPy also warns of the overflow
            with pytest.raises(ValueError, match="non-finite parameter weights"):
                estimator.fit(X, y)
        assert any(issubclass(w.category, ConvergenceWarning) for w in caught)  # max_iter=1 was reached first
        fitted.append(estimator)
    ours, theirs = fitted
    assert not np.isfinite(theirs.coefs_[1]).all()  # scikit-learn keeps the infinite weight
    np.testing.assert_array_equal(ours.coefs_[1], huge[1])  # we keep the weights from before the call
    assert len(ours.loss_curve_) == 1 and len(theirs.loss_curve_) == 2


# ---- a fit that raises changes nothing -----------------------------------------------------------------------


def test_a_bad_sample_weight_does_not_replace_classes_or_features():
    rng, X = _data()
    y = rng.choice(["a", "b", "c"], 40)
    clf = MLPClassifier(hidden_layer_sizes=(5,), solver="lbfgs", random_state=0).fit(X, y)
    proba = clf.predict_proba(X)
    other_X, other_y = rng.randn(30, 3), rng.randint(0, 2, 30)
    with pytest.raises(ValueError, match="sample_weight"):
        clf.fit(other_X, other_y, sample_weight=np.ones(29))
    assert list(clf.classes_) == ["a", "b", "c"] and clf.n_features_in_ == 5
    np.testing.assert_array_equal(clf.predict_proba(X), proba)
    with pytest.raises(ValueError, match="sample_weight"):  # the same for a first partial_fit
        fresh = MLPClassifier()
        fresh.partial_fit(X, y, classes=["a", "b", "c"], sample_weight=np.ones(3))
    assert not hasattr(fresh, "classes_") and not hasattr(fresh, "n_features_in_")


def test_batch_norm_with_one_row_left_over_trains():
    """n % min(200, n) == 1 (201, 401 rows): the batch size moves to the nearest one that leaves no one-row
    batch, instead of failing (BatchNorm cannot normalize one row)."""
    rng = np.random.RandomState(0)
    for n in (201, 401):
        X = rng.randn(n, 4)
        y = (X[:, 0] > 0).astype(int)
        clf = MLPClassifier(hidden_layer_sizes=(8,), batch_norm=True, learning_rate_init=0.05, max_iter=40)
        clf.set_params(random_state=0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            clf.fit(X, y)
        assert clf.score(X, y) > 0.9 and clf.n_iter_ > 0
        assert clf._batch_size(n) == 201 and n % 201 != 1
    explicit = MLPClassifier(batch_norm=True, batch_size=10)
    assert explicit._batch_size(41) == 11 and explicit._batch_size(40) == 10  # 41 % 11 = 8
    one_row = MLPClassifier(batch_norm=True, batch_size=1)
    with pytest.raises(ValueError, match="batch_norm=True needs at least 2 rows per training batch"):
        one_row.fit(rng.randn(10, 2), np.arange(10) % 2)
    assert not hasattr(one_row, "coefs_") and not hasattr(one_row, "classes_")  # a failed fit leaves it unfitted


def test_class_weight_list_and_huge_alpha_raise_clear_errors():
    rng, X = _data()
    y = rng.randint(0, 2, 40)
    with pytest.raises(TypeError, match="class_weight"):
        MLPClassifier(class_weight=[1.0]).fit(X, y)
    with pytest.raises(ValueError, match="class_weight"):
        MLPClassifier(class_weight=[{0: 1.0, 1: 2.0}]).fit(X, y)  # one output: a dict, not a list
    Y = rng.randint(0, 2, (40, 2))
    listed = MLPClassifier(class_weight=[{0: 1.0, 1: 3.0}, {0: 1.0, 1: 1.0}], max_iter=5, random_state=0)
    with pytest.warns(ConvergenceWarning):
        listed.fit(X, Y)  # multilabel: one dict per output
    for alpha in (10**400, np.inf):
        estimator = MLPClassifier(alpha=alpha)
        with pytest.raises(ValueError, match="alpha must be finite"):
            estimator.fit(X, y)
        assert not hasattr(estimator, "classes_")
    with pytest.raises(ValueError, match="learning_rate_init must be finite"):
        MLPClassifier(learning_rate_init=10**400).fit(X, y)


# ---- classes in the user's labels --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("labels", "named"),
    [
        (np.array([False] * 29 + [True]), "[True]"),
        (np.array(["True"] * 29 + ["False"]), "['False']"),
        (np.array(["cat"] * 29 + ["dog"]), "['dog']"),
        (np.array([7] * 29 + [3]), "[3]"),
    ],
)
def test_a_class_with_one_member_is_named_in_the_users_labels(labels, named):
    """scikit-learn stratifies its early-stopping split on its encoded targets and so names every such class
    "['True']" (the indicator column as strings); we stratify on the user's labels and name the class itself."""
    _, X = _data(n=30)
    with pytest.raises(ValueError, match="too few") as ours:
        MLPClassifier(early_stopping=True).fit(X, labels)
    assert str(ours.value).endswith(f"Classes with too few members are: {named}")
    with pytest.raises(ValueError, match="too few") as theirs:
        SkMLPClassifier(early_stopping=True).fit(X, labels)
    rare_is_second = labels[-1] == np.unique(labels)[1]
    assert str(theirs.value).endswith(f"Classes with too few members are: ['{rare_is_second}']")


def test_messages_about_classes_use_the_users_labels():
    rng, X = _data()
    y = rng.choice(["red", "green"], 40)
    clf = MLPClassifier(hidden_layer_sizes=(3,), max_iter=2, random_state=0)
    with pytest.warns(ConvergenceWarning):
        clf.partial_fit(X, y, classes=["red", "green"]).fit(X, y)
    with pytest.raises(ValueError, match=r"'blue'"):
        clf.set_params(warm_start=True).fit(X, np.where(y == "red", "blue", y))
    with pytest.raises(ValueError, match=r"'blue'"):
        clf.partial_fit(X, np.where(y == "red", "blue", y))
    with pytest.raises(ValueError, match=r"'red'"):
        clf.partial_fit(X, y, classes=["red", "blue"])
