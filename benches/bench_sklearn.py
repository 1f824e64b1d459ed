"""ferronet.sklearn's L-BFGS beside scikit-learn's on a small problem (150 x 4, 10 hidden units, 3 classes) and a
medium one (the 1,797 digits, 64-100-10), from the same initial weights. Each benchmark first checks that both
libraries reach the same weights; compare the two rows of a problem within one run (``pytest benches``)."""

import warnings

import numpy as np
import pytest
from ferronet.sklearn import MLPClassifier
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier as SkMLPClassifier


def _small():
    rng = np.random.RandomState(0)
    X = rng.randn(150, 4)
    return X, (X[:, 0] + X[:, 1] ** 2 > 1).astype(int) + (X[:, 2] > 0), (10,)


def _digits():
    X, y = load_digits(return_X_y=True)
    return X / 16.0, y, (100,)


PROBLEMS = {"small": _small, "digits": _digits}
LIBRARIES = {"ferronet": MLPClassifier, "sklearn": SkMLPClassifier}


def _fit(library, X, y, hidden):
    estimator = LIBRARIES[library](hidden_layer_sizes=hidden, solver="lbfgs", max_iter=200, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return estimator.fit(X, y)


@pytest.mark.parametrize("library", list(LIBRARIES))
@pytest.mark.parametrize("problem", list(PROBLEMS))
def test_lbfgs_fit(benchmark, problem, library):
    X, y, hidden = PROBLEMS[problem]()
    ours, theirs = _fit("ferronet", X, y, hidden), _fit("sklearn", X, y, hidden)
    assert ours.n_iter_ == theirs.n_iter_
    assert max(float(np.abs(a - b).max()) for a, b in zip(ours.coefs_, theirs.coefs_, strict=True)) < 1e-6
    fitted = benchmark.pedantic(_fit, args=(library, X, y, hidden), rounds=3)
    assert fitted.n_iter_ == theirs.n_iter_
