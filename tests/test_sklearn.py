"""ferronet.sklearn: scikit-learn's own estimator checks, parity with scikit-learn's MLP, and the ecosystem."""

from __future__ import annotations

import pickle
import warnings

import joblib
import numpy as np
import pytest
from ferronet.sklearn import MLPClassifier, MLPRegressor
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.neural_network import MLPClassifier as SkMLPClassifier
from sklearn.neural_network import MLPRegressor as SkMLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils import compute_sample_weight
from sklearn.utils.estimator_checks import parametrize_with_checks

# Small and fast, yet enough training for the checks' accuracy thresholds (0.83 on blobs, R² on friedman).
CHECKED = [
    MLPClassifier(hidden_layer_sizes=(8,), learning_rate_init=0.01, max_iter=100, random_state=0),
    MLPRegressor(hidden_layer_sizes=(8,), learning_rate_init=0.01, max_iter=100, random_state=0),
    MLPClassifier(hidden_layer_sizes=(8,), solver="lbfgs", max_iter=100, random_state=0),
    MLPRegressor(hidden_layer_sizes=(8,), solver="lbfgs", max_iter=200, random_state=0),
    MLPRegressor(loss="poisson", hidden_layer_sizes=(8,), learning_rate_init=0.02, max_iter=200, random_state=0),
]


def _expected_failures(estimator):
    if getattr(estimator, "loss", None) == "poisson":
        return {
            "check_regressor_multioutput": "the check draws negative targets for multi-output regressors although "
            "the estimator's tags say positive_only; Poisson regression refuses negative targets"
        }
    return {}


# scikit-learn's own test of its estimators ignores ConvergenceWarning around every check (sklearn/tests/
# test_common.py::test_estimators): the checks train for few iterations on purpose. We ignore nothing else.
@parametrize_with_checks(CHECKED, expected_failed_checks=_expected_failures)
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


def _data(n=40, d=5, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.randn(n, d)
    return rng, X


def _max_diff(a, b):
    return max(float(np.abs(x - y).max()) for x, y in zip(a, b, strict=True))


# ---- parity with scikit-learn's MLP (same initial weights, full batches, no shuffling) ---------------------------

TARGETS = {
    "multiclass": lambda rng, n: rng.randint(0, 3, n),
    "binary": lambda rng, n: rng.randint(0, 2, n),
    "multilabel": lambda rng, n: rng.randint(0, 2, (n, 3)),
    "regression": lambda rng, n: rng.randn(n),
    "multi_output_regression": lambda rng, n: rng.randn(n, 3),
}


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("learning_rate", ["constant", "invscaling", "adaptive"])
@pytest.mark.parametrize("problem", list(TARGETS))
def test_sgd_trajectory_equals_sklearn(problem, learning_rate):
    """alpha's scaling, the loss scale per head, sample weights and the rate schedules all match scikit-learn:
    full-batch SGD from scikit-learn's initial weights ends with the same weights (float64, to rounding)."""
    rng, X = _data()
    y = TARGETS[problem](rng, 40)
    sample_weight = rng.randint(1, 4, 40).astype(float)
    params = dict(
        hidden_layer_sizes=(6,),
        solver="sgd",
        momentum=0.0,
        learning_rate_init=0.1,
        learning_rate=learning_rate,
        alpha=0.5,
        shuffle=False,
        max_iter=8,
        random_state=0,
        # adaptive: a tol no epoch can meet, so the rate is divided by 5 after every 2 epochs
        tol=0.5 if learning_rate == "adaptive" else 1e-4,
        n_iter_no_change=1,
    )
    regression = problem.endswith("regression")
    ours = (MLPRegressor if regression else MLPClassifier)(**params).fit(X, y, sample_weight=sample_weight)
    theirs = (SkMLPRegressor if regression else SkMLPClassifier)(**params).fit(X, y, sample_weight=sample_weight)
    assert _max_diff(ours.coefs_, theirs.coefs_) < 1e-12
    assert _max_diff(ours.intercepts_, theirs.intercepts_) < 1e-12
    assert ours.n_iter_ == theirs.n_iter_ and ours.t_ == theirs.t_
    assert ours.out_activation_ == theirs.out_activation_ and ours.n_outputs_ == theirs.n_outputs_
    if problem != "multi_output_regression":  # documented: there loss_ is the summed objective, not the mean
        np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=1e-12)
    if learning_rate == "adaptive":  # the rate really changed: a constant rate would end elsewhere
        constant = (MLPRegressor if regression else MLPClassifier)(**{**params, "learning_rate": "constant"})
        assert _max_diff(constant.fit(X, y, sample_weight=sample_weight).coefs_, ours.coefs_) > 1e-6


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("activation", ["identity", "logistic", "tanh"])
@pytest.mark.parametrize("hidden_layer_sizes", [(), (5, 4)])
def test_activations_and_depths_equal_sklearn(activation, hidden_layer_sizes):
    rng, X = _data()
    y = rng.randint(0, 3, 40)
    params = dict(hidden_layer_sizes=hidden_layer_sizes, activation=activation, solver="sgd", momentum=0.0)
    params.update(learning_rate_init=0.2, alpha=0.1, shuffle=False, max_iter=6, random_state=1)
    ours, theirs = MLPClassifier(**params).fit(X, y), SkMLPClassifier(**params).fit(X, y)
    assert len(ours.coefs_) == len(hidden_layer_sizes) + 1 == ours.n_layers_ - 1
    assert _max_diff(ours.coefs_, theirs.coefs_) < 1e-12
    np.testing.assert_allclose(ours.predict_proba(X), theirs.predict_proba(X), rtol=1e-10)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("nesterov", [False, True])
def test_momentum_equals_sklearn_at_constant_rate(nesterov):
    rng, X = _data()
    y = rng.randint(0, 3, 40)
    params = dict(hidden_layer_sizes=(6,), solver="sgd", momentum=0.9, nesterovs_momentum=nesterov, shuffle=False)
    params.update(learning_rate_init=0.1, max_iter=8, random_state=0)
    ours, theirs = MLPClassifier(**params).fit(X, y), SkMLPClassifier(**params).fit(X, y)
    assert _max_diff(ours.coefs_, theirs.coefs_) < 1e-12


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_adam_close_to_sklearn():
    """Adam differs only by where epsilon sits (documented; it matters for weights whose gradients are about
    epsilon/sqrt(1 - beta_2**t) in the first steps): the weights stay close, far closer than they moved."""
    rng, X = _data()
    y = rng.randint(0, 3, 40)
    params = dict(hidden_layer_sizes=(6,), solver="adam", learning_rate_init=0.01, shuffle=False)
    params.update(max_iter=8, random_state=0)
    ours, theirs = MLPClassifier(**params).fit(X, y), SkMLPClassifier(**params).fit(X, y)
    start = SkMLPClassifier(**{**params, "max_iter": 1, "learning_rate_init": 1e-12}).fit(X, y)
    assert _max_diff(ours.coefs_, theirs.coefs_) < 1e-3 < 0.02 * _max_diff(ours.coefs_, start.coefs_)


def test_first_loss_is_sklearn_objective_computed_by_hand():
    """loss_curve_[0] of one full-batch epoch is scikit-learn's objective at the initial weights:
    weighted mean log-loss + 0.5 * alpha * ||W||^2 / sum(sample_weight), with scikit-learn's Glorot init."""
    rng, X = _data(n=30, d=4)
    y = rng.randint(0, 3, 30)
    sample_weight = rng.uniform(0.5, 2.0, 30)
    alpha = 3.0
    with pytest.warns(ConvergenceWarning):
        clf = MLPClassifier(hidden_layer_sizes=(5,), activation="tanh", solver="sgd", alpha=alpha, max_iter=1)
        clf.set_params(shuffle=False, random_state=7).fit(X, y, sample_weight=sample_weight)
    draws = np.random.RandomState(7)
    weights = []
    for fan_in, fan_out in [(4, 5), (5, 3)]:
        bound = np.sqrt(6.0 / (fan_in + fan_out))
        weights.append((draws.uniform(-bound, bound, (fan_in, fan_out)), draws.uniform(-bound, bound, fan_out)))
    hidden = np.tanh(X @ weights[0][0] + weights[0][1])
    logits = hidden @ weights[1][0] + weights[1][1]
    log_p = logits - logits.max(axis=1, keepdims=True)
    log_p -= np.log(np.exp(log_p).sum(axis=1, keepdims=True))
    data_loss = -(sample_weight * log_p[np.arange(30), y]).sum() / sample_weight.sum()
    penalty = 0.5 * alpha * sum((W**2).sum() for W, _ in weights) / sample_weight.sum()
    assert clf.loss_curve_[0] == pytest.approx(data_loss + penalty, rel=1e-12)


# ---- the estimator API -----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return train_test_split(X / 16.0, y, test_size=0.3, random_state=0, stratify=y)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_digits_accuracy_comparable_to_sklearn(digits):
    X_train, X_test, y_train, y_test = digits
    params = dict(hidden_layer_sizes=(32,), learning_rate_init=0.01, max_iter=15, random_state=0)
    ours = MLPClassifier(**params).fit(X_train, y_train).score(X_test, y_test)
    theirs = SkMLPClassifier(**params).fit(X_train, y_train).score(X_test, y_test)
    assert ours >= 0.95 and theirs >= 0.95
    assert abs(ours - theirs) < 0.03


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_pipeline_and_attributes(digits):
    X_train, X_test, y_train, y_test = digits
    clf = MLPClassifier(hidden_layer_sizes=(32,), solver="sgd", learning_rate_init=0.05, max_iter=40, random_state=0)
    pipe = make_pipeline(StandardScaler(), clf).fit(X_train, y_train)
    assert pipe.score(X_test, y_test) >= 0.93
    proba = pipe.predict_proba(X_test)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-12)
    np.testing.assert_array_equal(pipe.classes_[proba.argmax(axis=1)], pipe.predict(X_test))
    fitted = pipe[-1]
    assert fitted.n_features_in_ == 64 and fitted.n_outputs_ == 10 and fitted.out_activation_ == "softmax"
    assert [W.shape for W in fitted.coefs_] == [(64, 32), (32, 10)]
    assert [b.shape for b in fitted.intercepts_] == [(32,), (10,)]
    assert len(fitted.loss_curve_) == fitted.n_iter_ <= 40 and fitted.loss_ == fitted.loss_curve_[-1]
    assert fitted.best_loss_ == min(fitted.loss_curve_) and fitted.validation_scores_ is None
    assert fitted.t_ == fitted.n_iter_ * len(X_train)


def test_grid_search_with_two_jobs(digits):
    X_train, X_test, y_train, y_test = digits
    base = MLPClassifier(hidden_layer_sizes=(16,), learning_rate_init=0.01, max_iter=30, random_state=0)
    grid = {"alpha": [1e-4, 1e-1], "activation": ["relu", "tanh"]}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        search = GridSearchCV(base, grid, cv=2, n_jobs=2).fit(X_train[:400], y_train[:400])
    assert len(search.cv_results_["params"]) == 4
    assert np.all(np.isfinite(search.cv_results_["mean_test_score"]))
    assert search.best_score_ > 0.8 and search.score(X_test, y_test) > 0.8


def test_clone_keeps_params_and_drops_fit(digits):
    X_train, _, y_train, _ = digits
    clf = MLPClassifier(hidden_layer_sizes=(7, 5), dropout=0.1, dtype="float32", class_weight="balanced", max_iter=2)
    with pytest.warns(ConvergenceWarning):
        clf.fit(X_train, y_train)
    copy = clone(clf)
    assert copy.get_params() == clf.get_params()
    with pytest.raises(NotFittedError):
        copy.predict(X_train)
    assert not hasattr(copy, "coefs_")


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("estimator", ["classifier", "regressor"])
def test_pickle_and_joblib_round_trips(tmp_path, digits, estimator):
    X_train, X_test, y_train, _ = digits
    if estimator == "classifier":
        model = MLPClassifier(hidden_layer_sizes=(12,), batch_norm=True, dropout=0.1, max_iter=5, random_state=0)
        model.fit(X_train, y_train)
        outputs = lambda m: m.predict_proba(X_test)  # noqa: E731
    else:
        model = MLPRegressor(hidden_layer_sizes=(12,), max_iter=5, random_state=0).fit(X_train, y_train.astype(float))
        outputs = lambda m: m.predict(X_test)  # noqa: E731
    restored = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(outputs(restored), outputs(model))
    path = tmp_path / "model.joblib"
    joblib.dump(model, path)
    loaded = joblib.load(path)
    np.testing.assert_array_equal(outputs(loaded), outputs(model))
    assert loaded.loss_curve_ == model.loss_curve_
    # training continues from the restored weights and optimizer state exactly as from the original
    model.partial_fit(X_train, y_train if estimator == "classifier" else y_train.astype(float))
    loaded.partial_fit(X_train, y_train if estimator == "classifier" else y_train.astype(float))
    np.testing.assert_array_equal(outputs(loaded), outputs(model))


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("estimator", [MLPClassifier, MLPRegressor])
def test_sample_weight_two_equals_duplicating_a_row(estimator):
    rng, X = _data(n=30)
    y = rng.randint(0, 3, 30) if estimator is MLPClassifier else rng.randn(30)
    params = dict(hidden_layer_sizes=(6,), solver="sgd", learning_rate_init=0.1, alpha=0.3, shuffle=False)
    params.update(max_iter=10, random_state=0)
    weights = np.ones(30)
    weights[[3, 17]] = 2.0
    weighted = estimator(**params).fit(X, y, sample_weight=weights)
    duplicated = estimator(**params).fit(np.vstack([X, X[[3, 17]]]), np.concatenate([y, y[[3, 17]]]))
    unweighted = estimator(**params).fit(X, y)
    assert _max_diff(weighted.coefs_, duplicated.coefs_) < 1e-12
    assert _max_diff(weighted.coefs_, unweighted.coefs_) > 1e-4
    zero = estimator(**params).fit(np.vstack([X, X[:5] + 1]), np.concatenate([y, y[:5]]), np.r_[np.ones(30), [0] * 5])
    assert _max_diff(zero.coefs_, unweighted.coefs_) < 1e-12


def test_sample_weight_errors():
    rng, X = _data()
    y = rng.randint(0, 2, 40)
    with pytest.raises(ValueError, match="sample_weight"):
        MLPClassifier().fit(X, y, sample_weight=np.zeros(40))
    with pytest.raises(ValueError, match="sample_weight"):
        MLPClassifier().fit(X, y, sample_weight=np.ones(39))
    with pytest.raises(ValueError, match="sample_weight"):
        MLPClassifier().fit(X, y, sample_weight=-np.ones(40))


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_class_weight_balanced():
    rng = np.random.RandomState(1)
    X = np.vstack([rng.randn(180, 2), rng.randn(20, 2) + 1.5])
    y = np.array(["common"] * 180 + ["rare"] * 20)
    params = dict(hidden_layer_sizes=(8,), learning_rate_init=0.02, max_iter=60, random_state=0, shuffle=False)
    balanced = MLPClassifier(class_weight="balanced", **params).fit(X, y)
    as_weights = MLPClassifier(**params).fit(X, y, sample_weight=compute_sample_weight("balanced", y))
    plain = MLPClassifier(**params).fit(X, y)
    assert _max_diff(balanced.coefs_, as_weights.coefs_) < 1e-12
    recall = lambda m: np.mean(m.predict(X[180:]) == "rare")  # noqa: E731
    assert recall(balanced) > recall(plain) and recall(balanced) >= 0.6
    dict_weighted = MLPClassifier(class_weight={"rare": 9.0}, **params).fit(X, y)
    assert recall(dict_weighted) > recall(plain)
    with pytest.raises(ValueError, match="class_weight"):
        MLPClassifier(class_weight="balanced").partial_fit(X, y, classes=["common", "rare"])
    with pytest.raises(ValueError, match="class_weight"):
        MLPClassifier(class_weight="heavy").fit(X, y)


def test_partial_fit_sequence_equals_fit():
    """partial_fit keeps weights and optimizer state: k calls equal fit(max_iter=k) with full batches."""
    rng, X = _data()
    y = rng.choice(["a", "b", "c"], 40)
    params = dict(hidden_layer_sizes=(6,), solver="sgd", momentum=0.9, learning_rate_init=0.05, shuffle=False)
    params.update(random_state=0)
    online = MLPClassifier(**params)
    with pytest.raises(ValueError, match="classes"):
        online.partial_fit(X, y)
    online.partial_fit(X, y, classes=["a", "b", "c"])
    for _ in range(3):
        online.partial_fit(X, y)
    assert online.n_iter_ == 1 and online.t_ == 4 * 40 and len(online.loss_curve_) == 4
    with pytest.warns(ConvergenceWarning):
        batch = MLPClassifier(max_iter=4, **params).fit(X, y)
    assert _max_diff(online.coefs_, batch.coefs_) < 1e-12
    online.partial_fit(X[y == "a"], y[y == "a"])  # a subset of the classes is fine
    with pytest.raises(ValueError, match="classes"):
        online.partial_fit(X, np.where(y == "a", "z", y))
    with pytest.raises(ValueError, match="classes"):
        online.partial_fit(X, y, classes=["a", "b"])
    with pytest.raises(ValueError, match="features"):
        online.partial_fit(X[:, :3], y)


def test_partial_fit_regressor_and_chunks(digits):
    X_train, X_test, y_train, y_test = digits
    clf = MLPClassifier(hidden_layer_sizes=(32,), learning_rate_init=0.01, random_state=0)
    for epoch in range(8):
        for chunk in np.array_split(np.arange(len(X_train)), 5):
            clf.partial_fit(X_train[chunk], y_train[chunk], classes=np.arange(10) if epoch == 0 else None)
    assert clf.score(X_test, y_test) >= 0.93
    _, X = _data()
    reg = MLPRegressor(hidden_layer_sizes=(6,), random_state=0)
    reg.partial_fit(X, X[:, :2])
    assert reg.n_outputs_ == 2 and reg.predict(X).shape == (40, 2)
    with pytest.raises(ValueError, match="early_stopping"):
        MLPRegressor(early_stopping=True).partial_fit(X, X[:, 0])


def test_warm_start():
    rng, X = _data()
    y = rng.randint(0, 3, 40)
    params = dict(hidden_layer_sizes=(6,), solver="sgd", momentum=0.0, learning_rate_init=0.05, shuffle=False)
    params.update(random_state=0, max_iter=3)
    with pytest.warns(ConvergenceWarning):
        warm = MLPClassifier(warm_start=True, **params).fit(X, y)
    with pytest.warns(ConvergenceWarning):
        warm.fit(X, y)
    with pytest.warns(ConvergenceWarning):
        long = MLPClassifier(**{**params, "max_iter": 6}).fit(X, y)
    assert _max_diff(warm.coefs_, long.coefs_) < 1e-12 and len(warm.loss_curve_) == 6
    with pytest.raises(ValueError, match="warm_start"):
        warm.fit(X, np.where(y == 2, 1, y))
    with pytest.warns(ConvergenceWarning):
        cold = MLPClassifier(**params).fit(X, y)
    with pytest.warns(ConvergenceWarning):
        cold.fit(X, y)  # without warm_start, fit starts over
    assert len(cold.loss_curve_) == 3


@pytest.mark.parametrize("estimator", ["classifier", "regressor"])
def test_early_stopping_equals_sklearn(estimator):
    """Same validation split, scores, stopping epoch and restored best weights as scikit-learn."""
    rng, X = _data(n=80)
    y = (X[:, 0] + 0.5 * rng.randn(80) > 0).astype(int) if estimator == "classifier" else X[:, 0] + rng.randn(80)
    params = dict(hidden_layer_sizes=(6,), solver="sgd", momentum=0.0, learning_rate_init=0.3, shuffle=False)
    params.update(early_stopping=True, validation_fraction=0.25, n_iter_no_change=3, max_iter=200, random_state=0)
    ours_type, theirs_type = (
        (MLPClassifier, SkMLPClassifier) if estimator == "classifier" else (MLPRegressor, SkMLPRegressor)
    )
    ours, theirs = ours_type(**params).fit(X, y), theirs_type(**params).fit(X, y)
    np.testing.assert_allclose(ours.validation_scores_, theirs.validation_scores_, rtol=1e-10)
    assert ours.n_iter_ == theirs.n_iter_ < 200 and ours.best_validation_score_ == pytest.approx(
        theirs.best_validation_score_, rel=1e-10
    )
    assert _max_diff(ours.coefs_, theirs.coefs_) < 1e-12


def test_early_stopping(digits):
    X_train, X_test, y_train, y_test = digits
    clf = MLPClassifier(hidden_layer_sizes=(32,), learning_rate_init=0.02, early_stopping=True, n_iter_no_change=3)
    clf.set_params(max_iter=200, random_state=0, validation_fraction=0.2).fit(X_train, y_train)
    assert clf.n_iter_ < 200 and len(clf.validation_scores_) == clf.n_iter_ == len(clf.loss_curve_)
    assert clf.best_validation_score_ == max(clf.validation_scores_) >= 0.9 and clf.best_loss_ is None
    best = int(np.argmax(clf.validation_scores_))
    assert clf.n_iter_ - 1 - best >= 3  # stopped after n_iter_no_change epochs without improvement
    assert clf.score(X_test, y_test) >= 0.9
    reg = MLPRegressor(hidden_layer_sizes=(8,), early_stopping=True, validation_fraction=0.02, random_state=0)
    with pytest.raises(ValueError, match="validation set is too small"):
        reg.fit(X_train[:40], y_train[:40].astype(float))


def test_convergence_warning_and_convergence():
    rng, X = _data()
    y = rng.randint(0, 2, 40)
    with pytest.warns(ConvergenceWarning, match="Maximum iterations \\(3\\)"):
        MLPClassifier(hidden_layer_sizes=(4,), max_iter=3).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # converging (tol met) raises no warning
        params = dict(hidden_layer_sizes=(4,), tol=10.0, n_iter_no_change=2, max_iter=50, random_state=0)
        clf = MLPClassifier(**params).fit(X, y)
    # the first epoch improves on inf; then n_iter_no_change + 1 epochs without improvement stop it, as in sklearn
    assert clf.n_iter_ == 4 == SkMLPClassifier(**params).fit(X, y).n_iter_


def test_multilabel_string_labels_and_regression_outputs():
    _, X = _data(n=60)
    Y = (X[:, :3] > 0).astype(int)
    clf = MLPClassifier(hidden_layer_sizes=(16,), learning_rate_init=0.05, max_iter=200, random_state=0).fit(X, Y)
    assert clf.out_activation_ == "logistic" and clf.n_outputs_ == 3
    assert clf.predict(X).shape == (60, 3) and clf.predict_proba(X).shape == (60, 3)
    assert clf.score(X, Y) > 0.8
    labels = np.where(X[:, 0] > 0, "yes", "no")
    binary = MLPClassifier(hidden_layer_sizes=(8,), learning_rate_init=0.05, max_iter=100, random_state=0)
    binary.fit(X, labels)
    assert list(binary.classes_) == ["no", "yes"] and binary.n_outputs_ == 1 and binary.out_activation_ == "logistic"
    assert binary.predict_proba(X).shape == (60, 2) and binary.score(X, labels) > 0.9
    np.testing.assert_allclose(np.exp(binary.predict_log_proba(X)), binary.predict_proba(X), rtol=1e-12)
    reg = MLPRegressor(hidden_layer_sizes=(16,), learning_rate_init=0.01, max_iter=300, random_state=0)
    targets = np.c_[X[:, 0] - X[:, 1], 2 * X[:, 2]]
    reg.fit(X, targets)
    assert reg.out_activation_ == "identity" and reg.predict(X).shape == (60, 2) and reg.score(X, targets) > 0.9


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_dtype_dropout_batch_norm_and_feature_names(digits):
    pd = pytest.importorskip("pandas", reason="feature names need pandas")
    X_train, X_test, y_train, y_test = digits
    params = dict(hidden_layer_sizes=(32,), learning_rate_init=0.01, max_iter=20, random_state=0)
    clf32 = MLPClassifier(dtype="float32", **params).fit(X_train, y_train)
    assert clf32.coefs_[0].dtype == np.float32 and clf32.score(X_test, y_test) > 0.9
    follows_X = MLPClassifier(**params).fit(X_train.astype(np.float32), y_train)
    assert follows_X.coefs_[0].dtype == np.float32
    assert MLPClassifier(**params).fit(X_train, y_train).coefs_[0].dtype == np.float64
    regularized = MLPClassifier(dropout=0.2, batch_norm=True, **params).fit(X_train, y_train)
    assert regularized.score(X_test, y_test) > 0.9 and len(regularized.coefs_) == 2
    frame = pd.DataFrame(X_train, columns=[f"pixel{i}" for i in range(64)])
    named = MLPClassifier(**params).fit(frame, y_train)
    assert list(named.feature_names_in_) == list(frame.columns)
    with pytest.warns(UserWarning, match="feature names"):
        named.predict(X_test)


def test_random_state_reproducible_and_verbose(capsys):
    rng, X = _data()
    y = rng.randint(0, 3, 40)
    params = dict(hidden_layer_sizes=(6,), batch_size=8, tol=10.0, n_iter_no_change=1, max_iter=20)
    a = MLPClassifier(random_state=3, **params).fit(X, y)
    b = MLPClassifier(random_state=3, **params).fit(X, y)
    c = MLPClassifier(random_state=4, **params).fit(X, y)
    assert _max_diff(a.coefs_, b.coefs_) == 0.0 and _max_diff(a.coefs_, c.coefs_) > 1e-3
    MLPClassifier(random_state=3, verbose=True, **params).fit(X, y)
    out = capsys.readouterr().out
    assert "Iteration 1, loss = " in out and "Training loss did not improve more than tol" in out


def test_batch_size_larger_than_data_warns_and_clips():
    _, X = _data()
    with pytest.warns(UserWarning, match="clipped"):
        MLPRegressor(hidden_layer_sizes=(4,), batch_size=100, tol=10.0, n_iter_no_change=1).fit(X, X[:, 0])


@pytest.mark.parametrize(
    ("param", "value"),
    [
        ("hidden_layer_sizes", (4, 0)),
        ("hidden_layer_sizes", "4"),
        ("activation", "softplus"),
        ("solver", "rmsprop"),
        ("alpha", -1.0),
        ("batch_size", 0),
        ("batch_size", "big"),
        ("learning_rate", "cyclic"),
        ("learning_rate_init", 0.0),
        ("power_t", -0.5),
        ("max_iter", 0),
        ("tol", -1.0),
        ("momentum", 1.5),
        ("momentum", 1.0),
        ("validation_fraction", 1.0),
        ("beta_1", 1.0),
        ("beta_2", -0.1),
        ("epsilon", 0.0),
        ("n_iter_no_change", 0),
        ("max_fun", 0),
        ("dropout", 1.0),
        ("dtype", "float16"),
        ("shuffle", "yes"),
        ("batch_norm", 1),
    ],
)
def test_bad_parameters_raise_at_fit_naming_the_parameter(param, value):
    rng, X = _data()
    clf = MLPClassifier(**{param: value})  # constructing never validates (scikit-learn's convention)
    with pytest.raises((ValueError, TypeError), match=param):
        clf.fit(X, rng.randint(0, 2, 40))
    assert not hasattr(clf, "classes_")


def test_coefs_can_be_assigned_as_in_sklearn():
    rng, X = _data()
    y = rng.randint(0, 3, 40)
    params = dict(hidden_layer_sizes=(6,), solver="sgd", shuffle=False, random_state=0, max_iter=3)
    with pytest.warns(ConvergenceWarning):
        ours = MLPClassifier(**params).fit(X, y)
    with pytest.warns(ConvergenceWarning):
        theirs = SkMLPClassifier(**{**params, "random_state": 5}).fit(X, y)
    ours.coefs_, ours.intercepts_ = theirs.coefs_, theirs.intercepts_
    np.testing.assert_allclose(ours.predict_proba(X), theirs.predict_proba(X), rtol=1e-12)
    with pytest.raises(ValueError, match=r"coefs_\[1\] must have shape"):
        ours.coefs_ = [theirs.coefs_[0], theirs.coefs_[1][:, :2]]


def test_divergence_is_a_value_error():
    rng, X = _data()
    reg = MLPRegressor(hidden_layer_sizes=(8,), solver="sgd", learning_rate_init=1e3, max_iter=50, random_state=0)
    with pytest.raises(ValueError, match="non-finite"):
        reg.fit(X * 1e3, rng.randn(40) * 1e6)


def test_bad_inputs():
    rng, X = _data()
    with pytest.raises(ValueError, match="Unknown label type"):
        MLPClassifier().fit(X, rng.randn(40))
    with pytest.raises(ValueError, match="NaN"):
        MLPClassifier().fit(np.where(X > 2, np.nan, X), rng.randint(0, 2, 40))
    with pytest.raises(NotFittedError):
        MLPRegressor().predict(X)
