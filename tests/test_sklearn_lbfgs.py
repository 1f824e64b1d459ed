"""solver="lbfgs" and loss="poisson" of ferronet.sklearn against scikit-learn's own MLP on the same data and the same
initial weights (the same random_state draws the same Glorot weights in both libraries)."""

from __future__ import annotations

import time
import warnings

import numpy as np
import pytest
import scipy.optimize
from ferronet.sklearn import MLPClassifier, MLPRegressor
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import PoissonRegressor
from sklearn.neural_network import MLPClassifier as SkMLPClassifier
from sklearn.neural_network import MLPRegressor as SkMLPRegressor

TARGETS = {
    "multiclass": lambda rng, n: rng.randint(0, 3, n),
    "binary": lambda rng, n: rng.choice(["no", "yes"], n),
    "multilabel": lambda rng, n: rng.randint(0, 2, (n, 3)),
    "regression": lambda rng, n: rng.randn(n),
    "multi_output_regression": lambda rng, n: rng.randn(n, 3),
    "poisson": lambda rng, n: rng.poisson(2.0, n).astype(float),
    "multi_output_poisson": lambda rng, n: rng.poisson(2.0, (n, 2)).astype(float),
}


def _data(n=40, d=5, seed=0):
    rng = np.random.RandomState(seed)
    return rng, rng.randn(n, d)


def _pair(problem, **params):
    """(ours, theirs): the two estimator classes for ``problem`` built with the same parameters."""
    if problem.endswith("regression") or "poisson" in problem:
        if "poisson" in problem:
            params["loss"] = "poisson"
        return MLPRegressor(**params), SkMLPRegressor(**params)
    return MLPClassifier(**params), SkMLPClassifier(**params)


def _max_diff(ours, theirs):
    pairs = zip(ours.coefs_ + ours.intercepts_, theirs.coefs_ + theirs.intercepts_, strict=True)
    return max(float(np.abs(a - b).max()) for a, b in pairs)


def _fit_recording(estimator, *args, **kwargs):
    """Fit; return the ConvergenceWarning messages it raised (every other warning stays an error)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        estimator.fit(*args, **kwargs)
    unexpected = [w for w in caught if not issubclass(w.category, ConvergenceWarning)]
    assert not unexpected, [str(w.message) for w in unexpected]
    return [str(w.message) for w in caught]


# ---- L-BFGS -------------------------------------------------------------------------------------------------


# (activation, max_iter): tanh for 5 and 60 iterations; identity hidden units run to convergence. On a non-convex
# surface, the last-bit differences of two implementations (summation orders in the matrix products) grow over
# L-BFGS iterations: tanh networks agree to ~1e-9 for the first ~80 iterations and can then drift apart, so
# converged runs are compared on the well-conditioned identity networks, where they agree to ~1e-8.
RUNS = [("tanh", 5), ("tanh", 60), ("identity", 500)]


@pytest.mark.parametrize(("activation", "max_iter"), RUNS)
@pytest.mark.parametrize("problem", list(TARGETS))
def test_lbfgs_equals_sklearn(problem, activation, max_iter):
    """The same iterates: weights, n_iter_, loss_ and the same ConvergenceWarning (each head, sample weights, the
    multi-output squared error whose value scikit-learn averages over outputs, Poisson)."""
    rng, X = _data()
    y = TARGETS[problem](rng, 40)
    sample_weight = rng.randint(1, 4, 40).astype(float)
    params = dict(hidden_layer_sizes=(6,), activation=activation, solver="lbfgs", alpha=0.5, max_iter=max_iter)
    ours, theirs = _pair(problem, random_state=0, **params)
    our_warnings = _fit_recording(ours, X, y, sample_weight=sample_weight)
    their_warnings = _fit_recording(theirs, X, y, sample_weight=sample_weight)
    assert _max_diff(ours, theirs) < 1e-6
    assert ours.n_iter_ == theirs.n_iter_ and ours.t_ == theirs.t_ == 0
    assert ours.loss_ == pytest.approx(theirs.loss_, rel=1e-9)
    assert our_warnings == their_warnings
    assert bool(their_warnings) == (theirs.n_iter_ == max_iter)  # warned exactly when stopped by max_iter
    assert (theirs.n_iter_ < max_iter) == (activation == "identity")  # the identity runs converged
    # scikit-learn's L-BFGS keeps no curve, best loss or validation scores
    for name in ("loss_curve_", "best_loss_", "validation_scores_", "best_validation_score_"):
        assert hasattr(ours, name) == hasattr(theirs, name) is False, name
    if isinstance(ours, MLPClassifier):
        np.testing.assert_array_equal(ours.predict(X), theirs.predict(X))
        np.testing.assert_allclose(ours.predict_proba(X), theirs.predict_proba(X), rtol=1e-6, atol=1e-9)
    else:
        np.testing.assert_allclose(ours.predict(X), theirs.predict(X), rtol=1e-6, atol=1e-9)


def test_lbfgs_multi_output_squared_error_uses_sklearns_value():
    """scikit-learn hands scipy the data term averaged over outputs (its gradient sums them); with the summed
    value the line searches, hence the iterates, differ: the parity above depends on using scikit-learn's."""
    rng, X = _data()
    Y = rng.randn(40, 3)
    params = dict(hidden_layer_sizes=(6,), solver="lbfgs", alpha=0.5, max_iter=40, random_state=0)
    ours, theirs = MLPRegressor(**params), SkMLPRegressor(**params)
    assert _fit_recording(ours, X, Y) == _fit_recording(theirs, X, Y)
    data_term = 0.5 * np.mean((theirs.predict(X) - Y) ** 2, axis=0).mean()
    penalty = 0.5 * 0.5 * sum(float((W**2).sum()) for W in theirs.coefs_) / 40
    assert theirs.loss_ == pytest.approx(data_term + penalty, rel=1e-9)
    assert ours.loss_ == pytest.approx(theirs.loss_, rel=1e-9) and _max_diff(ours, theirs) < 1e-6


def test_lbfgs_max_fun_and_convergence_warning_as_sklearn():
    rng, X = _data()
    y = rng.randint(0, 3, 40)
    params = dict(hidden_layer_sizes=(6,), solver="lbfgs", max_fun=7, random_state=0)
    ours, theirs = MLPClassifier(**params), SkMLPClassifier(**params)
    our_warnings, their_warnings = _fit_recording(ours, X, y), _fit_recording(theirs, X, y)
    assert len(their_warnings) == 1 and "lbfgs failed to converge" in their_warnings[0]
    assert our_warnings == their_warnings and ours.n_iter_ == theirs.n_iter_ < 200
    assert _max_diff(ours, theirs) < 1e-9
    # converged (a loose gradient tolerance): no warning from either
    loose = dict(hidden_layer_sizes=(6,), solver="lbfgs", tol=0.05, random_state=0)
    assert _fit_recording(MLPClassifier(**loose), X, y) == _fit_recording(SkMLPClassifier(**loose), X, y) == []


def test_lbfgs_ignores_the_stochastic_parameters_and_has_no_partial_fit():
    rng, X = _data()
    y = rng.randint(0, 3, 40)
    base = dict(hidden_layer_sizes=(6,), solver="lbfgs", max_iter=30, random_state=0)
    ignored = dict(early_stopping=True, batch_size=7, learning_rate="adaptive", learning_rate_init=0.5, shuffle=False)
    plain = MLPClassifier(**base)
    _fit_recording(plain, X, y)
    for estimator in (MLPClassifier(**base, **ignored), SkMLPClassifier(**base, **ignored)):
        _fit_recording(estimator, X, y)
        assert _max_diff(plain, estimator) < 1e-9
    for lbfgs, sk_lbfgs in (
        (MLPClassifier(solver="lbfgs"), SkMLPClassifier(solver="lbfgs")),
        (MLPRegressor(solver="lbfgs"), None),
    ):
        assert not hasattr(lbfgs, "partial_fit")
        assert sk_lbfgs is None or not hasattr(sk_lbfgs, "partial_fit")
        with pytest.raises(AttributeError, match="has no attribute 'partial_fit'") as error:
            lbfgs.partial_fit  # noqa: B018
        assert "only available for stochastic optimizers. lbfgs is not stochastic" in str(error.value.__cause__)
        assert hasattr(lbfgs.set_params(solver="sgd"), "partial_fit")
        assert hasattr(lbfgs.set_params(solver="adam"), "partial_fit")


def test_lbfgs_warm_start_continues_as_sklearn():
    rng, X = _data()
    y = rng.randint(0, 3, 40)
    params = dict(hidden_layer_sizes=(6,), solver="lbfgs", max_iter=10, random_state=0, warm_start=True)
    ours, theirs = MLPClassifier(**params), SkMLPClassifier(**params)
    for _ in range(2):
        assert _fit_recording(ours, X, y) == _fit_recording(theirs, X, y)
    assert _max_diff(ours, theirs) < 1e-8 and ours.n_iter_ == theirs.n_iter_ == 10


def test_lbfgs_refuses_dropout_and_batch_norm_and_keeps_the_fit_on_error(monkeypatch):
    rng, X = _data()
    y = rng.randint(0, 3, 40)
    for name, value in (("dropout", 0.2), ("batch_norm", True)):
        with pytest.raises(ValueError, match=f"{name} is not supported with solver='lbfgs'"):
            MLPClassifier(solver="lbfgs", **{name: value}).fit(X, y)
    fitted = MLPClassifier(hidden_layer_sizes=(4,), solver="lbfgs", max_iter=300, random_state=0).fit(X, y)
    before = fitted.predict_proba(X)
    evaluations = []

    def interrupted(function, x0, **kwargs):  # a few evaluations move the weights, then Ctrl-C
        for step in range(3):
            evaluations.append(function(x0 + step)[0])
        raise KeyboardInterrupt

    monkeypatch.setattr(scipy.optimize, "minimize", interrupted)
    with pytest.raises(KeyboardInterrupt):
        fitted.set_params(warm_start=True).fit(X, y)
    assert len(set(evaluations)) == 3  # the evaluations did change the network's weights
    np.testing.assert_array_equal(fitted.predict_proba(X), before)


def test_lbfgs_is_faster_than_sklearn_on_digits():
    """64-100-10 on the 1,797 digits, full L-BFGS as scikit-learn runs it: same iterates, less time."""
    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    params = dict(hidden_layer_sizes=(100,), solver="lbfgs", max_iter=30, random_state=0)
    timings = {}
    for name, estimator_type in (("ours", MLPClassifier), ("theirs", SkMLPClassifier)):
        best = np.inf
        for _ in range(2):
            estimator = estimator_type(**params)
            started = time.perf_counter()
            _fit_recording(estimator, X, y)
            best = min(best, time.perf_counter() - started)
        timings[name] = (best, estimator)
    (ours_time, ours), (theirs_time, theirs) = timings["ours"], timings["theirs"]
    assert _max_diff(ours, theirs) < 1e-6 and ours.n_iter_ == theirs.n_iter_
    assert ours_time < theirs_time, timings


# ---- loss="poisson" -----------------------------------------------------------------------------------------


def test_poisson_with_one_identity_unit_is_sklearns_poisson_glm():
    """One identity hidden unit and no penalty make a log-linear model: at the optimum its predictions are those
    of PoissonRegressor(alpha=0)."""
    rng = np.random.RandomState(3)
    X = rng.randn(200, 3)
    y = rng.poisson(np.exp(0.3 + X @ np.array([0.5, -0.4, 0.2]))).astype(float)
    mlp = MLPRegressor(
        loss="poisson", hidden_layer_sizes=(1,), activation="identity", solver="lbfgs", alpha=0.0, tol=1e-10
    )
    mlp.set_params(max_iter=2000, random_state=0).fit(X, y)
    glm = PoissonRegressor(alpha=0.0, tol=1e-10, max_iter=1000).fit(X, y)
    assert mlp.out_activation_ == "exp"
    np.testing.assert_allclose(mlp.predict(X), glm.predict(X), rtol=1e-4)
    # its loss_ is the half Poisson deviance at those predictions
    mean = mlp.predict(X)
    deviance = np.mean(np.where(y > 0, y * np.log(np.where(y > 0, y, 1) / mean), 0.0) - y + mean)
    assert mlp.loss_ == pytest.approx(deviance, rel=1e-9)


@pytest.mark.parametrize("outputs", [1, 2])
@pytest.mark.parametrize("solver", ["sgd", "adam"])
def test_poisson_stochastic_solvers_equal_sklearn(solver, outputs):
    rng, X = _data()
    y = rng.poisson(2.0, (40, outputs)).astype(float).squeeze()
    sample_weight = rng.randint(1, 4, 40).astype(float)
    params = dict(loss="poisson", hidden_layer_sizes=(6,), solver=solver, momentum=0.0, learning_rate_init=0.05)
    params.update(alpha=0.5, shuffle=False, max_iter=8, random_state=0)
    ours, theirs = MLPRegressor(**params), SkMLPRegressor(**params)
    assert _fit_recording(ours, X, y, sample_weight=sample_weight) == _fit_recording(
        theirs, X, y, sample_weight=sample_weight
    )
    tolerance = 1e-12 if solver == "sgd" else 1e-3  # Adam's epsilon sits elsewhere (documented)
    assert _max_diff(ours, theirs) < tolerance
    np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=1e-12 if solver == "sgd" else 1e-3)
    np.testing.assert_allclose(ours.predict(X), theirs.predict(X), rtol=1e-10 if solver == "sgd" else 1e-3)
    assert ours.out_activation_ == theirs.out_activation_ == "exp"


def test_poisson_refuses_negative_targets():
    rng, X = _data()
    estimator = MLPRegressor(loss="poisson")
    with pytest.raises(ValueError, match="negative which is not allowed for Poisson regression"):
        estimator.fit(X, rng.randn(40))
    assert not hasattr(estimator, "n_features_in_")
    with pytest.raises(ValueError, match="loss"):
        MLPRegressor(loss="gamma").fit(X, np.abs(rng.randn(40)))
