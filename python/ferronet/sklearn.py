"""scikit-learn estimators: ``MLPClassifier`` and ``MLPRegressor``, drop-in for ``sklearn.neural_network``.

Same parameter names, defaults and meanings as scikit-learn's MLP (1.9), trained by a ``ferronet.Sequential``, plus
``dropout``, ``batch_norm``, ``dtype`` and (classifier) ``class_weight``. Built on scikit-learn's ``BaseEstimator``,
mixins and validation helpers, so ``Pipeline``, ``GridSearchCV``, ``clone`` and joblib work as with scikit-learn.

How scikit-learn's numbers map onto ours (so a ``learning_rate_init`` tuned for scikit-learn behaves the same):

* scikit-learn minimises ``G = sum_i w_i * sum_j l_ij / sum_i w_i + 0.5 * alpha * ||W||^2 / sum_i w_i`` per batch,
  with ``l`` the softmax log-loss, the per-output binary log-loss (summed over outputs), half the squared error
  (its gradient uses the sum over outputs) or half the Poisson deviance (summed over outputs). Our losses average
  over outputs and the mse is not halved, so our data loss is ``c * G_data`` with ``c = 1`` (softmax), ``1/k``
  (k logistic or Poisson outputs), ``2/k`` (k squared-error outputs). We train ``c * G`` exactly:
  ``l2 = c * alpha`` with ``penalty_per_sample=True`` (the penalty divided by each batch's total sample weight),
  SGD's rate divided by ``c`` and Adam's ``eps`` multiplied by ``c``. ``loss_``/``loss_curve_`` report ``G`` (for
  multi-output squared error, scikit-learn's stochastic solvers report the data term averaged over outputs
  instead; it equals ``G`` for one output). An epoch's loss is the mean over batches of the batch objective
  weighted by batch rows, as scikit-learn computes it.
* Initial weights are drawn exactly as scikit-learn draws them (Glorot uniform, biases too, from ``random_state``),
  so with full batches, no momentum and ``solver="sgd"`` both libraries follow the same trajectory.
* ``learning_rate="invscaling"`` sets ``lr = learning_rate_init / (t_ + 1) ** power_t`` at the end of each epoch
  with ``t_`` the number of samples seen (scikit-learn's rule: per epoch, counted in samples).
  ``"adaptive"`` divides the rate by 5 each time the training loss (or validation score) fails to improve by
  ``tol`` for more than ``n_iter_no_change`` consecutive epochs, and stops below 1e-6, as scikit-learn does.
* Momentum follows torch (``v = m*v + g; p -= lr*v``), which equals scikit-learn's
  ``v = m*v - lr*g; p += v`` while the rate is constant (they differ slightly right after a rate change).
  Adam's ``epsilon`` is added outside the bias correction (torch's form); scikit-learn's effective epsilon is
  ``epsilon / sqrt(1 - beta_2**t)``, a difference that fades over the first few thousand steps.
* A ``fit`` (or ``partial_fit``) call is one training run of the ferronet model: X is copied into the engine once,
  and scikit-learn's stopping rules and rate changes run between epochs in Python.
* ``solver="lbfgs"`` runs scipy's L-BFGS-B exactly as scikit-learn does (``maxiter=max_iter``,
  ``maxfun=max_fun``, ``gtol=tol``, ``iprint`` from ``verbose`` on scipy < 1.15) on the full-batch objective ``G``
  and its gradient, each evaluation one engine call on all the rows, with the parameters flattened in
  scikit-learn's order (every ``coefs_`` matrix, then every ``intercepts_`` vector). For multi-output squared
  error the value handed to scipy is scikit-learn's (data term averaged over outputs, gradient summed), so the
  iterates and ``loss_`` are scikit-learn's. It sets ``n_iter_`` and ``loss_`` and, as scikit-learn, no
  ``loss_curve_``, ``best_loss_`` or validation scores; ``ConvergenceWarning`` comes from scikit-learn's own
  ``_check_optimize_result``. ``early_stopping``, ``batch_size``, ``learning_rate*``, ``shuffle``, ``momentum``,
  ``beta_*``, ``epsilon`` and ``n_iter_no_change`` are ignored, as in scikit-learn; ``partial_fit`` is not
  available (``hasattr(est, "partial_fit")`` is False).
* ``MLPRegressor(loss="poisson")``: the output activation is ``exp`` (``out_activation_ == "exp"``), the loss half
  the Poisson deviance (ferronet's loss ``"poisson"`` on the log of the mean), as scikit-learn.

Sparse X (SciPy CSR or CSC matrices and arrays; other formats are converted to CSR, as scikit-learn does) is
trained on without densifying it, by every solver: the engine keeps X in CSR and the first layer multiplies the
sparse rows (see ``ferronet.Sequential.fit``).

Differences from scikit-learn, on purpose: negative sample weights are
rejected, and so are negative targets with ``loss="poisson"``; ``momentum`` must be < 1; a fit that raises leaves
the estimator exactly as it was (a first fit leaves it unfitted); a diverging fit without early stopping raises
``ValueError`` at the first non-finite loss; with ``early_stopping=True`` it stops there with a
``ConvergenceWarning`` and keeps the best weights (scikit-learn keeps training to ``max_iter`` on NaN weights, then
keeps the same best weights); ``MLPRegressor(solver="lbfgs")`` has no ``partial_fit`` (scikit-learn's regressor keeps
one that runs a whole L-BFGS fit); ``solver="lbfgs"`` refuses ``dropout`` and ``batch_norm`` (ferronet's own
parameters). With ``batch_norm=True``, a batch size that would leave a last batch of one row (``n % batch_size ==
1``, e.g. 201 rows with the default ``min(200, n)``) becomes the nearest larger size (else smaller) that leaves
none, since BatchNorm cannot normalize a single row. Binary classification uses one logistic output (as
scikit-learn), multilabel targets logistic outputs with binary cross-entropy, several classes a softmax.
``dtype=None`` computes in X's dtype when it is float32, else float64 (scikit-learn's rule); "float32" trains
faster (scikit-learn's L-BFGS turns float32 weights into float64 after its first iteration; ours stay float32).

``est.save(path)`` writes one model file (safetensors) holding the network and, in its metadata, the estimator's
parameters, ``classes_`` (with their dtype), ``n_features_in_``, ``feature_names_in_``, the label binarizer and the
training attributes; ``MLPClassifier.load(path)``, ``MLPRegressor.load(path)`` or ``ferronet.sklearn.load(path)``
read it back. ``est.model_.save(path)`` writes the bare network only (``ferronet.load`` gives a ``Sequential``
that predicts class indices, not ``classes_``). Pickle and joblib keep working.
"""

from __future__ import annotations

import contextlib
import copy
import itertools
import json
import math
import numbers
import os
import warnings
from abc import ABCMeta, abstractmethod
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, Literal, TypeVar, cast

try:
    import scipy.optimize
    from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
except ImportError as error:  # without the extra: say how to get it
    raise ImportError(f'ferronet.sklearn needs scikit-learn: pip install "ferronet[sklearn]" ({error})') from error
import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import accuracy_score, r2_score
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils import check_random_state, column_or_1d, compute_sample_weight
from sklearn.utils.fixes import parse_version, sp_version
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import check_classification_targets, type_of_target, unique_labels
from sklearn.utils.optimize import _check_optimize_result
from sklearn.utils.validation import check_consistent_length, check_is_fitted, validate_data

from . import _files, _memory, _sklearn_state
from ._names import keywords
from ._types import (
    ActivationName,
    ClassWeight,
    DTypeName,
    LearningRateName,
    LossName,
    RegressorLoss,
    SklearnActivation,
    SolverName,
)
from ._validation import check_bool, check_choice, check_float, check_int, check_sample_weight
from .layers import Activation, BatchNorm, Dense, Dropout
from .model import Sequential
from .optim import SGD, Adam

if TYPE_CHECKING:  # typing.Self is Python 3.11+; annotations are not evaluated at runtime
    from typing_extensions import Self

#: scikit-learn's activation names → ours.
ACTIVATIONS: dict[str, ActivationName] = {"identity": "linear", "logistic": "sigmoid", "tanh": "tanh", "relu": "relu"}
SOLVERS = ("lbfgs", "sgd", "adam")


@contextlib.contextmanager
def _quiet_cast() -> Iterator[None]:
    """Around scikit-learn's validation of X and y. Casting to float64 turns a value beyond its range (a long
    double 1e4000) into inf with a RuntimeWarning: the finiteness check that follows raises a clear ValueError, so
    the warning is silenced. A Python int or Fraction beyond a float's range raises OverflowError inside NumPy:
    it becomes the ValueError the rest of the API raises for numbers out of range."""
    try:
        with np.errstate(over="ignore", invalid="ignore"):
            yield
    except OverflowError as error:
        raise ValueError(f"X and y must hold numbers within the float range (about ±1.8e308): {error}") from None


def _check_size(X: Any, what: str = "training on this X", name: str = "X") -> None:
    """Refuse an X whose float copy cannot fit in memory before scikit-learn scans it for NaN: a broadcast view
    (strides of 0) can claim 2**51 values in a few bytes, and that scan would run for hours."""
    shape, dtype = getattr(X, "shape", None), getattr(X, "dtype", None)
    if isinstance(X, np.ndarray) and shape is not None and dtype is not None and X.size > 0:
        _memory.require([(f"a float copy of {name}", X.size * max(dtype.itemsize, 4))], what)


#: The solvers that train epoch by epoch on batches (and have ``partial_fit``).
STOCHASTIC_SOLVERS = ("sgd", "adam")

#: The sparse formats taken as they are (scikit-learn converts any other sparse X to the first).
SPARSE_FORMATS = ["csr", "csc"]
LEARNING_RATES = ("constant", "invscaling", "adaptive")
#: Output activation (scikit-learn's name) → (our last activation, our loss).
HEADS: dict[str, tuple[ActivationName, LossName]] = {
    "softmax": ("softmax", "softmax_cross_entropy"),
    "logistic": ("sigmoid", "binary_cross_entropy"),
    "identity": ("linear", "mse"),
    "exp": ("linear", "poisson"),  # the engine's poisson loss takes log(mean); predict applies exp
}
#: The adaptive rate stops shrinking (and training stops) at this rate, as in scikit-learn.
MIN_ADAPTIVE_RATE = 1e-6
#: The metadata key of an estimator's state in its model file (see ``_BaseMLP.save``).
METADATA_KEY = "sklearn"
#: What the state under ``METADATA_KEY`` says it is, and its version.
STATE_FORMAT, STATE_VERSION = "ferronet.sklearn", 1
#: The fitted attributes a saved estimator stores (those it has), besides the network.
SAVED_ATTRIBUTES = (
    "classes_",
    "_label_binarizer",
    "n_features_in_",
    "feature_names_in_",
    "out_activation_",
    "n_outputs_",
    "n_layers_",
    "n_iter_",
    "t_",
    "loss_",
    "loss_curve_",
    "best_loss_",
    "validation_scores_",
    "best_validation_score_",
    "_no_improvement_count",
    "_has_optimizer",
    "_rate",
)


_Method = TypeVar("_Method", bound=Callable[..., Any])


def _if_stochastic(method: _Method) -> _Method:
    """scikit-learn's ``available_if``: the method exists only with a stochastic solver (``hasattr`` is False for
    ``solver="lbfgs"``)."""
    return cast(_Method, available_if(lambda estimator: estimator._check_solver())(method))


def _lbfgs_options(max_iter: int, max_fun: int, tol: float, verbose: Any) -> dict[str, Any]:
    """scipy's L-BFGS-B options as scikit-learn passes them (``iprint`` only where scipy still takes it)."""
    options: dict[str, Any] = {"maxfun": max_fun, "maxiter": max_iter, "gtol": tol}
    if sp_version < parse_version("1.15"):
        options["iprint"] = 1 if verbose is True or verbose >= 1 else -1
    return options


class _BaseMLP(BaseEstimator, metaclass=ABCMeta):
    """What the classifier and the regressor share: parameters, the training loop and the weights' views."""

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True  # CSR/CSC X, never densified
        return tags

    # Fitted attributes whose type depends on early_stopping (declared only: fit creates them).
    best_loss_: Any
    validation_scores_: Any
    best_validation_score_: Any

    def __init__(
        self,
        hidden_layer_sizes: Any = (100,),
        activation: SklearnActivation = "relu",
        *,
        solver: SolverName = "adam",
        alpha: float = 0.0001,
        batch_size: int | Literal["auto"] = "auto",
        learning_rate: LearningRateName = "constant",
        learning_rate_init: float = 0.001,
        power_t: float = 0.5,
        max_iter: int = 200,
        shuffle: bool = True,
        random_state: Any = None,
        tol: float = 1e-4,
        verbose: bool = False,
        warm_start: bool = False,
        momentum: float = 0.9,
        nesterovs_momentum: bool = True,
        early_stopping: bool = False,
        validation_fraction: float = 0.1,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-8,
        n_iter_no_change: Any = 10,
        max_fun: int = 15000,
        dropout: float = 0.0,
        batch_norm: bool = False,
        dtype: DTypeName | None = None,
    ):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.max_fun = max_fun
        self.dropout = dropout
        self.batch_norm = batch_norm
        self.dtype = dtype

    # ---- parameters (checked at fit time, as scikit-learn does) --------------------------------------------

    def _check_params(self) -> tuple[int, ...]:
        """Validate every constructor parameter; returns the hidden layer sizes as a tuple."""
        check_choice(self.solver, "solver", SOLVERS)
        check_choice(self.activation, "activation", ACTIVATIONS)
        check_choice(self.learning_rate, "learning_rate", LEARNING_RATES)
        sizes = self.hidden_layer_sizes
        if isinstance(sizes, numbers.Integral) and not isinstance(sizes, bool):
            sizes = (sizes,)
        if isinstance(sizes, (str, bytes)) or not hasattr(sizes, "__iter__"):
            raise TypeError(f"hidden_layer_sizes must be an int or a sequence of ints; got {sizes!r}")
        sizes = tuple(check_int(size, "hidden_layer_sizes", minimum=1) for size in sizes)
        # ferronet's number checks (not scikit-learn's check_scalar, which lets NaN, inf, bools and integers too
        # large for a float through): every bad value is a ValueError/TypeError naming the parameter.
        check_float(self.alpha, "alpha", minimum=0.0)
        if not (isinstance(self.batch_size, str) and self.batch_size == "auto"):
            check_int(self.batch_size, "batch_size", minimum=1)
        check_float(self.learning_rate_init, "learning_rate_init", minimum=0.0, min_inclusive=False)
        check_float(self.power_t, "power_t", minimum=0.0)
        check_int(self.max_iter, "max_iter", minimum=1)
        check_float(self.tol, "tol", minimum=0.0)
        if not isinstance(self.verbose, (bool, np.bool_)):
            check_int(self.verbose, "verbose", minimum=0)
        unit = {"minimum": 0.0, "maximum": 1.0, "max_inclusive": False}
        for name in ("momentum", "validation_fraction", "beta_1", "beta_2", "dropout"):
            check_float(getattr(self, name), name, **unit)  # type: ignore[arg-type]
        check_float(self.epsilon, "epsilon", minimum=0.0, min_inclusive=False)
        if not (isinstance(self.n_iter_no_change, (float, np.floating)) and self.n_iter_no_change == np.inf):
            check_int(self.n_iter_no_change, "n_iter_no_change", minimum=1)
        check_int(self.max_fun, "max_fun", minimum=1)
        for name in ("shuffle", "warm_start", "nesterovs_momentum", "early_stopping", "batch_norm"):
            check_bool(getattr(self, name), name)
        if self.dtype is not None:
            check_choice(self.dtype, "dtype", ("float32", "float64"))
        if self.solver == "lbfgs" and (self.dropout or self.batch_norm):
            name = "dropout" if self.dropout else "batch_norm"
            raise ValueError(
                f"{name} is not supported with solver='lbfgs' (L-BFGS needs a deterministic full-batch objective); "
                "use solver='sgd' or 'adam', or leave dropout=0.0 and batch_norm=False"
            )
        return sizes

    # ---- what the subclasses provide -----------------------------------------------------------------------

    @abstractmethod
    def _validate_targets(self, X: Any, y: Any, incremental: bool, reset: bool) -> tuple[np.ndarray, np.ndarray]: ...

    @abstractmethod
    def _encode(self, y: np.ndarray) -> np.ndarray:
        """The targets the ferronet model trains on (int labels or a float matrix)."""
        ...

    @abstractmethod
    def _score(self, X: np.ndarray, y: np.ndarray, sample_weight: np.ndarray | None) -> float: ...

    def _class_sample_weight(self, y: np.ndarray, incremental: bool) -> np.ndarray | None:
        return None

    # ---- fitting -------------------------------------------------------------------------------------------

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> Self:
        """Fit the model to data matrix X and targets y.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The input data (a sparse X is kept sparse: CSR or CSC, other formats converted to CSR).
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Class labels (classifier) or values (regressor).
        sample_weight : array-like of shape (n_samples,), optional
            Non-negative weights, not all zero.

        Returns
        -------
        self
            The fitted estimator. A fit that raises leaves the estimator exactly as it was before the call.
        """
        return self._fit(X, y, sample_weight, incremental=False)

    def _check_solver(self) -> bool:
        """``partial_fit`` exists for the stochastic solvers only (scikit-learn's ``available_if`` rule)."""
        if self.solver not in STOCHASTIC_SOLVERS:
            raise AttributeError(
                f"partial_fit is only available for stochastic optimizers. {self.solver} is not stochastic."
            )
        return True

    def _loss_scale(self) -> float:
        """c: our data loss divided by scikit-learn's objective (see the module docstring)."""
        k = self.n_outputs_
        return {"softmax": 1.0, "logistic": 1.0 / k, "identity": 2.0 / k, "exp": 1.0 / k}[self.out_activation_]

    def _fit(self, X: Any, y: Any, sample_weight: Any, incremental: bool) -> Self:
        """A fit as a transaction: if anything raises, every attribute goes back to what it was (a first fit
        leaves the estimator unfitted; the network of a warm start or partial_fit is restored by its training
        run or by ``_fit_lbfgs``)."""
        saved = {key: list(value) if isinstance(value, list) else value for key, value in self.__dict__.items()}
        try:
            return self._fit_checked(X, y, sample_weight, incremental)
        except BaseException:
            self.__dict__.clear()
            self.__dict__.update(saved)
            raise

    def _fit_checked(self, X: Any, y: Any, sample_weight: Any, incremental: bool) -> Self:
        _check_size(X)
        _check_size(y, "training on this y", "y")
        if y is not None and hasattr(X, "shape") and hasattr(y, "shape"):
            # from the shapes, before scikit-learn's validation scans a broadcast y of 2**40 values for NaN
            check_consistent_length(X, y)
        sizes = self._check_params()
        if self.early_stopping and incremental:
            raise ValueError("partial_fit does not support early_stopping=True")
        first_pass = not hasattr(self, "_model") or (not self.warm_start and not incremental)
        X, y = self._validate_targets(X, y, incremental, reset=first_pass)
        weights = check_sample_weight(sample_weight, X.shape[0], np.dtype(np.float64))
        if weights is not None and not weights.any():
            raise ValueError("sample_weight must contain at least one non-zero weight; got all zeros")
        class_weights = self._class_sample_weight(y, incremental)
        if class_weights is not None:
            weights = class_weights if weights is None else weights * class_weights
        targets = self._encode(y)
        random_state = check_random_state(self.random_state)
        if first_pass:
            self._initialize(X, targets, sizes, random_state)
        elif targets.ndim == 2 and targets.shape[1] != self.n_outputs_:
            raise ValueError(f"y has {targets.shape[1]} outputs; the fitted model has {self.n_outputs_}")
        if self.solver == "lbfgs":
            self._fit_lbfgs(X, targets, weights)
        else:
            self._fit_stochastic(X, y, targets, weights, incremental, random_state)
        return self

    def _initialize(self, X: np.ndarray, targets: np.ndarray, sizes: tuple[int, ...], random_state: Any) -> None:
        """Build the ferronet model with scikit-learn's initial weights, and reset the training attributes."""
        self.n_outputs_ = 1 if targets.ndim == 1 else targets.shape[1]
        if self.out_activation_ == "softmax":
            self.n_outputs_ = len(self.classes_)
        self.n_layers_ = len(sizes) + 2
        dtype = cast(DTypeName, self.dtype or (X.dtype.name if X.dtype == np.float32 else "float64"))
        activation = ACTIVATIONS[self.activation]
        layers: list[Any] = []
        for size in sizes:
            if self.batch_norm:
                layers += [Dense(size), BatchNorm()]
                if activation != "linear":
                    layers.append(Activation(activation))
            else:
                layers.append(Dense(size, activation=activation))
            if self.dropout:
                layers.append(Dropout(self.dropout))
        last_activation, loss = HEADS[self.out_activation_]
        layers.append(Dense(self.n_outputs_, activation=last_activation))
        units = [X.shape[1], *sizes, self.n_outputs_]
        # scikit-learn's Glorot-uniform draws, in its order (coef then intercept per layer).
        factor = 2.0 if self.activation == "logistic" else 6.0
        dense_weights = []
        for fan_in, fan_out in itertools.pairwise(units):
            bound = np.sqrt(factor / (fan_in + fan_out))
            W = random_state.uniform(-bound, bound, (fan_in, fan_out))
            b = random_state.uniform(-bound, bound, fan_out)
            dense_weights.append({"W": W, "b": b})
        # The engine's seed (shuffles, dropout) comes from a copy, so the early-stopping split that follows draws
        # from the same state as scikit-learn's and selects the same validation rows.
        seed = int(copy.deepcopy(random_state).randint(np.iinfo(np.int32).max))
        model = Sequential(
            layers,
            input_dim=X.shape[1],
            loss=loss,
            l2=float(self.alpha) * self._loss_scale(),
            dtype=dtype,
            seed=seed,
            penalty_per_sample=True,
        )
        initial = iter(dense_weights)
        model.set_weights([next(initial) if "W" in w else w for w in model.get_weights()])
        self._model = model
        self._has_optimizer = False
        self.n_iter_ = 0
        self.t_ = 0
        self._best_weights = model.get_weights()
        if self.solver in STOCHASTIC_SOLVERS:  # as scikit-learn: L-BFGS keeps no curve, best loss or scores
            self._initialize_stochastic()

    def _initialize_stochastic(self) -> None:
        self.loss_curve_: list[float] = []
        self._no_improvement_count = 0
        if self.early_stopping:
            self.validation_scores_ = []
            self.best_validation_score_ = -np.inf
            self.best_loss_: float | None = None
        else:
            self.best_loss_ = np.inf
            self.validation_scores_ = None
            self.best_validation_score_ = None

    def _new_optimizer(self) -> Any:
        """A fresh optimizer at scikit-learn's scale (``c`` maps our gradient to scikit-learn's)."""
        scale = self._loss_scale()
        if self.solver == "sgd":
            momentum = float(self.momentum)
            return SGD(lr=self._rate / scale, momentum=momentum, nesterov=self.nesterovs_momentum and momentum > 0)
        return Adam(lr=self._rate, beta1=float(self.beta_1), beta2=float(self.beta_2), eps=float(self.epsilon) * scale)

    def _split_validation(
        self, X: np.ndarray, y: np.ndarray, targets: np.ndarray, weights: Any, random_state: Any
    ) -> tuple[list[Any], list[Any]]:
        """scikit-learn's early-stopping split: stratified for single-output classifiers (on the user's labels,
        so that an error about a class names the user's label)."""
        stratify = y if isinstance(self, ClassifierMixin) and self.n_outputs_ == 1 else None
        arrays = [X, y, targets] + ([] if weights is None else [weights])
        parts = train_test_split(
            *arrays, random_state=random_state, test_size=self.validation_fraction, stratify=stratify
        )
        train, val = parts[0::2], parts[1::2]
        if val[0].shape[0] < 2:
            raise ValueError(
                "The validation set is too small. Increase 'validation_fraction' or the size of your dataset."
            )
        if weights is None:
            train.append(None)
            val.append(None)
        return train, val

    def _batch_size(self, n_samples: int) -> int:
        """scikit-learn's batch size (``"auto"``: ``min(200, n)``; larger ones clipped to n with a warning), moved
        to the nearest size that leaves no one-row batch when BatchNorm needs two rows per batch."""
        if self.batch_size == "auto":
            batch_size = min(200, n_samples)
        else:
            if self.batch_size > n_samples:
                warnings.warn(
                    "Got `batch_size` less than 1 or larger than sample size. It is going to be clipped", stacklevel=6
                )
            batch_size = min(int(self.batch_size), n_samples)
        if not self.batch_norm or (batch_size >= 2 and n_samples % batch_size != 1):
            return batch_size
        if n_samples < 2 or batch_size < 2:
            raise ValueError(
                f"batch_norm=True needs at least 2 rows per training batch; got batch_size={self.batch_size!r} "
                f"over {n_samples} training row(s)"
            )
        # n % b == 1: try b + 1, b - 1, b + 2, ... (b = n always works, so the search ends).
        for step in range(1, n_samples):
            for candidate in (batch_size + step, batch_size - step):
                if 2 <= candidate <= n_samples and n_samples % candidate != 1:
                    return candidate
        return n_samples  # pragma: no cover - the loop above reaches candidate == n

    def _fit_stochastic(
        self, X: np.ndarray, y: np.ndarray, targets: np.ndarray, weights: Any, incremental: bool, random_state: Any
    ) -> None:
        if not hasattr(self, "loss_curve_"):  # a warm start after an L-BFGS fit (scikit-learn fails there)
            self._initialize_stochastic()
        if not incremental or not self._has_optimizer:
            self._rate = float(self.learning_rate_init)
            self._has_optimizer = False
        if self.early_stopping:
            (X_train, _, t_train, w_train), (X_val, y_val, _, w_val) = self._split_validation(
                X, y, targets, weights, random_state
            )
        else:
            X_train, t_train, w_train = X, targets, weights
        n_samples = X_train.shape[0]
        batch_size = self._batch_size(n_samples)
        model, scale = self._model, self._loss_scale()
        optimizer = None if self._has_optimizer else self._new_optimizer()
        # One training run for the whole loop: X is copied into the engine once per fit/partial_fit call.
        run = model._training_run(
            X_train, t_train, w_train, optimizer=optimizer, batch_size=batch_size, shuffle=self.shuffle
        )
        diverged = False
        with run:
            try:
                self.n_iter_ = 0
                for _ in range(self.max_iter):
                    rate = self._rate / scale if self.solver == "sgd" else self._rate
                    try:
                        loss = run.run_epoch(run.next_epoch, self.max_iter, lr=rate)["loss"] / scale
                    except FloatingPointError as error:
                        if not self.early_stopping:
                            raise ValueError(
                                "Solver produced non-finite parameter weights. The input data may contain large "
                                f"values and need to be preprocessed, or the learning rate is too large ({error})"
                            ) from error
                        diverged, loss = True, math.nan  # scikit-learn's loss and score of this epoch are NaN
                    self._has_optimizer = True
                    self.n_iter_ += 1
                    self.loss_ = loss
                    self.t_ += n_samples
                    self.loss_curve_.append(self.loss_)
                    if self.verbose:
                        print(f"Iteration {self.n_iter_}, loss = {self.loss_:.8f}")
                    if self.early_stopping:
                        self._update_validation(X_val, y_val, w_val, diverged)
                    else:
                        self._update_training_loss()
                    if diverged:
                        warnings.warn(
                            f"Solver produced non-finite parameter weights at iteration {self.n_iter_}: training "
                            "stopped there and the weights of the best validation score were restored. The input "
                            "data may contain large values and need to be preprocessed, or the learning rate is too "
                            "large.",
                            ConvergenceWarning,
                            stacklevel=5,
                        )
                        break
                    if self.solver == "sgd" and self.learning_rate == "invscaling":
                        self._rate = float(self.learning_rate_init) / (self.t_ + 1) ** float(self.power_t)
                    if self._no_improvement_count > self.n_iter_no_change:
                        if self._should_stop():
                            break
                        self._no_improvement_count = 0
                    if incremental:
                        break
                    if self.n_iter_ == self.max_iter:
                        warnings.warn(
                            f"Stochastic Optimizer: Maximum iterations ({self.max_iter}) reached and the optimization "
                            "hasn't converged yet.",
                            ConvergenceWarning,
                            stacklevel=5,
                        )
            except KeyboardInterrupt:  # scikit-learn keeps what was trained and warns
                warnings.warn("Training interrupted by user.", stacklevel=5)
            if self.early_stopping:
                model.set_weights(self._best_weights)
            self._check_finite_weights()  # inside the run: raising here puts the network back as it was

    def _check_finite_weights(self) -> None:
        """scikit-learn's last check of a fit (a loss can stay finite while an update overflows the weights)."""
        if not all(np.isfinite(array).all() for layer in self._model.get_weights() for array in layer.values()):
            raise ValueError(
                "Solver produced non-finite parameter weights. The input data may contain large values and need to "
                "be preprocessed."
            )

    def _fit_lbfgs(self, X: np.ndarray, targets: np.ndarray, weights: np.ndarray | None) -> None:
        """scipy's L-BFGS-B over all the rows, as scikit-learn runs it (see the module docstring)."""
        model, scale = self._model, self._loss_scale()
        features, engine_targets, engine_weights = model._batch(X, targets, weights)  # checked and converted once
        engine = model._require_built()
        dtype = np.dtype(model.dtype)
        before = model.get_weights()  # every layer is Dense: lbfgs refuses dropout and batch_norm
        shapes = [layer["W"].shape for layer in before]
        coef_sizes = [math.prod(shape) for shape in shapes]
        cuts = np.cumsum(coef_sizes + [shape[1] for shape in shapes])[:-1]
        n_coefs = sum(coef_sizes)
        # scikit-learn's squared error averages its value over k outputs but sums its gradient: hand scipy the same
        k = self.n_outputs_
        average_outputs = self.out_activation_ == "identity" and k > 1
        alpha, total_weight = float(self.alpha), float(X.shape[0] if weights is None else weights.sum())

        def unpack(packed: np.ndarray) -> list[dict[str, np.ndarray]]:
            parts = np.split(packed.astype(dtype, copy=False), cuts)
            coefs, intercepts = parts[: len(shapes)], parts[len(shapes) :]
            return [
                {"W": np.ascontiguousarray(W.reshape(shape)), "b": np.ascontiguousarray(b)}
                for W, b, shape in zip(coefs, intercepts, shapes, strict=True)
            ]

        def loss_and_gradient(packed: np.ndarray) -> tuple[float, np.ndarray]:
            engine.set_weights(unpack(packed))
            objective, grads = engine.gradients(features, engine_targets, engine_weights)
            gradient = np.concatenate([g["W"].ravel() for g in grads] + [g["b"] for g in grads])
            value = objective / scale
            if average_outputs:
                coefs = packed[:n_coefs]
                penalty = 0.5 * alpha * float(coefs @ coefs) / total_weight
                value = (value - penalty) / k + penalty
            return value, gradient.astype(np.float64) / scale

        packed = np.concatenate([layer["W"].ravel() for layer in before] + [layer["b"] for layer in before])
        try:
            result = scipy.optimize.minimize(
                loss_and_gradient,
                packed.astype(np.float64),
                method="L-BFGS-B",
                jac=True,
                options=_lbfgs_options(self.max_iter, self.max_fun, float(self.tol), self.verbose),
            )
            self.n_iter_ = _check_optimize_result("lbfgs", result, self.max_iter)
            if not np.isfinite(result.x).all():
                raise ValueError(
                    "Solver produced non-finite parameter weights. The input data may contain large values and "
                    "need to be preprocessed."
                )
            engine.set_weights(unpack(result.x))
        except BaseException:
            engine.set_weights(before)
            raise
        self.loss_ = float(result.fun)

    def _update_validation(self, X_val: np.ndarray, y_val: np.ndarray, w_val: Any, diverged: bool = False) -> None:
        score = math.nan if diverged else self._score(X_val, y_val, w_val)
        self.validation_scores_.append(score)
        if self.verbose:
            print(f"Validation score: {score:f}")
        if score < self.best_validation_score_ + float(self.tol):
            self._no_improvement_count += 1
        else:
            self._no_improvement_count = 0
        if score > self.best_validation_score_:
            self.best_validation_score_ = score
            self._best_weights = self._model.get_weights()

    def _update_training_loss(self) -> None:
        if self.loss_curve_[-1] > self.best_loss_ - float(self.tol):
            self._no_improvement_count += 1
        else:
            self._no_improvement_count = 0
        self.best_loss_ = min(self.best_loss_, self.loss_curve_[-1])

    def _should_stop(self) -> bool:
        """No improvement for too long: stop, or (adaptive SGD) divide the rate by 5 and go on."""
        what = "Validation score" if self.early_stopping else "Training loss"
        message = f"{what} did not improve more than tol={self.tol:f} for {self.n_iter_no_change} consecutive epochs."
        if self.solver != "sgd" or self.learning_rate != "adaptive":
            if self.verbose:
                print(message + " Stopping.")
            return True
        if self._rate <= MIN_ADAPTIVE_RATE:
            if self.verbose:
                print(message + " Learning rate too small. Stopping.")
            return True
        self._rate /= 5.0
        if self.verbose:
            print(message + f" Setting learning rate to {self._rate:f}")
        return False

    # ---- inference and introspection -----------------------------------------------------------------------

    def __sklearn_is_fitted__(self) -> bool:
        return hasattr(self, "_model")

    def _check_X(self, X: Any) -> Any:
        """X checked by scikit-learn: a float array, or a CSR/CSC sparse matrix (kept sparse)."""
        check_is_fitted(self)
        _check_size(X, "predicting on this X")
        with _quiet_cast():
            return validate_data(self, X, accept_sparse=SPARSE_FORMATS, reset=False, dtype=(np.float64, np.float32))

    @property
    def coefs_(self) -> list[np.ndarray]:
        """The Dense layers' weight matrices, (fan_in, fan_out) each (copies)."""
        check_is_fitted(self)
        return [w["W"] for w in self._model.get_weights() if "W" in w]

    @coefs_.setter
    def coefs_(self, coefs: Any) -> None:
        self._set_dense("W", coefs, "coefs_")

    @property
    def intercepts_(self) -> list[np.ndarray]:
        """The Dense layers' biases (copies)."""
        check_is_fitted(self)
        return [w["b"] for w in self._model.get_weights() if "W" in w]

    @intercepts_.setter
    def intercepts_(self, intercepts: Any) -> None:
        self._set_dense("b", intercepts, "intercepts_")

    def _set_dense(self, key: str, values: Any, name: str) -> None:
        """Assigning ``coefs_``/``intercepts_`` (as scikit-learn allows) writes them into the model."""
        check_is_fitted(self)
        weights = self._model.get_weights()
        dense = [w for w in weights if "W" in w]
        if not isinstance(values, (list, tuple)) or len(values) != len(dense):
            raise ValueError(f"{name} must be a list of {len(dense)} arrays, one per layer")
        for index, (layer, value) in enumerate(zip(dense, values, strict=True)):
            array = np.asarray(value)
            if array.shape != layer[key].shape:
                raise ValueError(f"{name}[{index}] must have shape {layer[key].shape}; got {array.shape}")
            layer[key] = array
        self._model.set_weights(weights)

    @property
    def model_(self) -> Sequential:
        """The trained ``ferronet.Sequential``.

        Its ``predict`` gives class indices, not ``classes_``, and ``model_.save`` writes the network alone: save
        the estimator with ``save`` to keep ``classes_`` and everything else a reloaded estimator needs.
        """
        check_is_fitted(self)
        return self._model

    # ---- files -----------------------------------------------------------------------------------------------

    def save(self, path: str | os.PathLike[str], include_optimizer: bool = True) -> None:
        """Write the fitted estimator to ``path`` as one model file (safetensors); the write is atomic.

        Parameters
        ----------
        path : str or os.PathLike
            The file to write (an existing file is replaced only by a complete new one).
        include_optimizer : bool, default True
            Keep the optimizer state, so that ``partial_fit`` or a warm start continues exactly.

        Notes
        -----
        The network is the file's tensors and model config; the estimator's parameters, ``classes_`` (with their
        dtype), ``n_features_in_``, ``feature_names_in_``, ``out_activation_``, the label binarizer and the training
        attributes (``loss_curve_``, ``n_iter_``, ...) go into the file's metadata under ``"sklearn"``. Read it back
        with ``load``. ``ferronet.load(path)`` reads the same file as a bare ``Sequential``.
        """
        check_is_fitted(self)
        state = {
            "format": STATE_FORMAT,
            "version": STATE_VERSION,
            "estimator": type(self).__name__,
            "params": {name: _sklearn_state.encode(value, name) for name, value in self.get_params(deep=False).items()},
            "attributes": {
                name: _sklearn_state.encode(getattr(self, name), name)
                for name in SAVED_ATTRIBUTES
                if hasattr(self, name)
            },
        }
        metadata = {METADATA_KEY: json.dumps(state, allow_nan=False)}
        data = self._model._to_bytes(check_bool(include_optimizer, "include_optimizer"), metadata)
        _files.atomic_write(path, data)

    def _check_loaded(self, model: Sequential, what: str) -> None:
        """The loaded attributes describe ``model`` (the engine already checked the network itself)."""
        missing = [
            name for name in ("n_features_in_", "n_outputs_", "n_layers_", "out_activation_") if not hasattr(self, name)
        ]
        if isinstance(self, ClassifierMixin):
            missing += [name for name in ("classes_", "_label_binarizer") if not hasattr(self, name)]
        if missing:
            raise ValueError(f"{what} lacks {missing}")
        head = HEADS.get(self.out_activation_) if isinstance(self.out_activation_, str) else None
        if (
            head is None
            or head[1] != model.loss
            or self.n_features_in_ != model.input_dim
            or self.n_outputs_ != model.output_dim
            or self.n_layers_ != sum(isinstance(layer, Dense) for layer in model.layers) + 1
        ):
            raise ValueError(f"{what} does not describe the file's network")
        if isinstance(self, ClassifierMixin):
            binary = self.out_activation_ == "logistic" and self._label_binarizer.y_type_ == "binary"
            if len(self.classes_) != (2 if binary else self.n_outputs_):
                raise ValueError(f"{what} has {len(self.classes_)} classes for a network of {self.n_outputs_} outputs")

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Self:
        """The estimator that ``save`` wrote to ``path`` (see ``ferronet.sklearn.load``).

        Parameters
        ----------
        path : str or os.PathLike
            A model file written by ``save``.

        Returns
        -------
        MLPClassifier or MLPRegressor
            A fitted estimator of this class.

        Raises
        ------
        ValueError
            If the file is not a valid model file, holds no estimator, or holds an estimator of another class.
        FileNotFoundError
            If ``path`` does not exist or is not a file.
        """
        estimator = load(path)
        if not isinstance(estimator, cls):
            raise ValueError(
                f"model file {str(path)!r} holds a {type(estimator).__name__}, not a {cls.__name__}; "
                "use ferronet.sklearn.load to read any estimator"
            )
        return estimator


class MLPClassifier(ClassifierMixin, _BaseMLP):
    """Multi-layer perceptron classifier: scikit-learn's ``MLPClassifier``, trained by ferronet.

    Parameters and attributes as ``sklearn.neural_network.MLPClassifier`` (see the module docstring for the
    differences), plus ``dropout`` (after each hidden layer), ``batch_norm`` (BatchNorm between each hidden Dense
    layer and its activation), ``dtype`` ("float32", "float64" or None: X's float32, else float64) and
    ``class_weight`` (None, "balanced" or {class: weight}; multiplies ``sample_weight``). Parameters are checked
    by ``fit``, as scikit-learn does.

    Parameters
    ----------
    hidden_layer_sizes : int or sequence of int, default (100,)
        The width of each hidden layer.
    activation : {"identity", "logistic", "tanh", "relu"}, default "relu"
        The hidden layers' activation (ferronet's linear, sigmoid, tanh, relu).
    solver : {"lbfgs", "sgd", "adam"}, default "adam"
        ``"sgd"`` and ``"adam"`` train epoch by epoch on batches (and have ``partial_fit``); ``"lbfgs"`` runs
        scipy's L-BFGS-B on the full-batch objective, as scikit-learn does.
    alpha : float, default 0.0001
        The L2 penalty, ``0.5 * alpha * ||W||^2`` divided by the batch's total sample weight; >= 0.
    batch_size : int or "auto", default "auto"
        Rows per batch of the stochastic solvers; ``"auto"`` is ``min(200, n_samples)``, larger sizes are clipped
        to ``n_samples`` with a warning (with ``batch_norm``, moved to the nearest size that leaves no one-row batch).
    learning_rate : {"constant", "invscaling", "adaptive"}, default "constant"
        The rate schedule of ``solver="sgd"``: constant, ``learning_rate_init / (t_ + 1) ** power_t``, or divided by
        5 whenever the loss (or validation score) stops improving.
    learning_rate_init : float, default 0.001
        The initial learning rate of the stochastic solvers; > 0.
    power_t : float, default 0.5
        The exponent of ``learning_rate="invscaling"``; >= 0.
    max_iter : int, default 200
        Epochs of the stochastic solvers, iterations of L-BFGS.
    shuffle : bool, default True
        Shuffle the rows every epoch (stochastic solvers).
    random_state : int, RandomState or None, default None
        Seeds the initial weights (drawn as scikit-learn draws them), the early-stopping split, and the engine's
        shuffles and dropout masks.
    tol : float, default 1e-4
        The improvement below which an epoch counts as no progress (or L-BFGS's ``gtol``).
    verbose : bool or int, default False
        Print the loss of each epoch.
    warm_start : bool, default False
        Continue from the previous fit's weights instead of starting over.
    momentum : float, default 0.9
        The momentum of ``solver="sgd"``, in [0, 1).
    nesterovs_momentum : bool, default True
        Nesterov momentum for ``solver="sgd"``.
    early_stopping : bool, default False
        Hold out ``validation_fraction`` of the rows and stop when the validation score has not improved by ``tol``
        for ``n_iter_no_change`` epochs, keeping the best weights (stochastic solvers).
    validation_fraction : float, default 0.1
        The held-out fraction for ``early_stopping``, in [0, 1).
    beta_1 : float, default 0.9
        Adam's first-moment decay, in [0, 1).
    beta_2 : float, default 0.999
        Adam's second-moment decay, in [0, 1).
    epsilon : float, default 1e-8
        Adam's epsilon; > 0.
    n_iter_no_change : int, default 10
        Epochs without improvement of more than ``tol`` before stopping (or, adaptive, dividing the rate); may be
        ``numpy.inf``.
    max_fun : int, default 15000
        The most function evaluations of L-BFGS.
    dropout : float, default 0.0
        ferronet's: the drop probability of a Dropout layer after each hidden layer, in [0, 1) (not with
        ``"lbfgs"``).
    batch_norm : bool, default False
        ferronet's: BatchNorm between each hidden Dense layer and its activation (not with ``"lbfgs"``).
    dtype : {"float32", "float64"} or None, default None
        ferronet's: the float type of training; None computes in X's dtype when it is float32, else float64.
    class_weight : None, "balanced", dict or list of dict, default None
        ferronet's: weights multiplying ``sample_weight`` per class: ``{class: weight}``, ``"balanced"`` (inversely
        proportional to the class frequencies; not with ``partial_fit``), or one dict per output for multilabel
        targets.

    Attributes
    ----------
    classes_ : numpy.ndarray
        The class labels (or, multilabel, the output indices).
    coefs_ : list of numpy.ndarray
        The Dense layers' weight matrices, (fan_in, fan_out) each.
    intercepts_ : list of numpy.ndarray
        The Dense layers' biases.
    loss_ : float
        scikit-learn's objective at the end of the last epoch (or L-BFGS's last value).
    loss_curve_ : list of float
        The objective per epoch (stochastic solvers).
    best_loss_ : float or None
        The best training loss (None with ``early_stopping``).
    validation_scores_ : list of float or None
        The validation score per epoch with ``early_stopping``.
    best_validation_score_ : float or None
        The best validation score with ``early_stopping``.
    t_ : int
        Samples seen by the stochastic solvers.
    n_features_in_ : int
        The number of features seen by ``fit``.
    feature_names_in_ : numpy.ndarray
        The column names of a DataFrame X.
    n_iter_ : int
        Epochs (or L-BFGS iterations) run.
    n_layers_ : int
        Layers, input and output included.
    n_outputs_ : int
        Output units.
    model_ : Sequential
        The trained ferronet network.
    out_activation_ : str
        ``"softmax"`` (several classes) or ``"logistic"`` (binary or multilabel).

    Examples
    --------
    >>> from ferronet.sklearn import MLPClassifier
    >>> X, y = [[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]], [0, 1, 1, 0]
    >>> clf = MLPClassifier(hidden_layer_sizes=(8,), solver="lbfgs", random_state=0).fit(X, y)
    >>> clf.predict(X).shape
    (4,)
    """

    @keywords()
    def __init__(
        self,
        hidden_layer_sizes: Any = (100,),
        activation: SklearnActivation = "relu",
        *,
        solver: SolverName = "adam",
        alpha: float = 0.0001,
        batch_size: int | Literal["auto"] = "auto",
        learning_rate: LearningRateName = "constant",
        learning_rate_init: float = 0.001,
        power_t: float = 0.5,
        max_iter: int = 200,
        shuffle: bool = True,
        random_state: Any = None,
        tol: float = 1e-4,
        verbose: bool = False,
        warm_start: bool = False,
        momentum: float = 0.9,
        nesterovs_momentum: bool = True,
        early_stopping: bool = False,
        validation_fraction: float = 0.1,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-8,
        n_iter_no_change: Any = 10,
        max_fun: int = 15000,
        dropout: float = 0.0,
        batch_norm: bool = False,
        dtype: DTypeName | None = None,
        class_weight: ClassWeight = None,
    ):
        super().__init__(
            hidden_layer_sizes=hidden_layer_sizes,
            activation=activation,
            solver=solver,
            alpha=alpha,
            batch_size=batch_size,
            learning_rate=learning_rate,
            learning_rate_init=learning_rate_init,
            power_t=power_t,
            max_iter=max_iter,
            shuffle=shuffle,
            random_state=random_state,
            tol=tol,
            verbose=verbose,
            warm_start=warm_start,
            momentum=momentum,
            nesterovs_momentum=nesterovs_momentum,
            early_stopping=early_stopping,
            validation_fraction=validation_fraction,
            beta_1=beta_1,
            beta_2=beta_2,
            epsilon=epsilon,
            n_iter_no_change=n_iter_no_change,
            max_fun=max_fun,
            dropout=dropout,
            batch_norm=batch_norm,
            dtype=dtype,
        )
        self.class_weight = class_weight

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags

    def _validate_targets(self, X: Any, y: Any, incremental: bool, reset: bool) -> tuple[np.ndarray, np.ndarray]:
        with _quiet_cast():
            X, y = validate_data(
                self, X, y, accept_sparse=SPARSE_FORMATS, multi_output=True, dtype=(np.float64, np.float32), reset=reset
            )
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        check_classification_targets(y)
        # scikit-learn's rules: new classes on a fresh fit; the same ones under warm_start; a subset in partial_fit.
        if not hasattr(self, "classes_") or (not self.warm_start and not incremental):
            self._label_binarizer = LabelBinarizer().fit(y)
            self.classes_ = self._label_binarizer.classes_
        else:
            classes = unique_labels(y)
            if self.warm_start and not incremental:
                if set(classes) != set(self.classes_):
                    raise ValueError(
                        "warm_start can only be used where `y` has the same classes as in the previous call to fit. "
                        f"Previously got {self.classes_}, `y` has {classes}"
                    )
            elif len(np.setdiff1d(classes, self.classes_, assume_unique=True)):
                raise ValueError(
                    f"`y` has classes not in `self.classes_`. `self.classes_` has {self.classes_}. 'y' has {classes}."
                )
        y_type = self._label_binarizer.y_type_
        self.out_activation_ = "softmax" if y_type == "multiclass" else "logistic"
        return X, y

    def _encode(self, y: np.ndarray) -> np.ndarray:
        indicator = np.asarray(self._label_binarizer.transform(y))
        if self.out_activation_ == "softmax":
            return np.asarray(indicator.argmax(axis=1), dtype=np.int64)
        return indicator.astype(np.float64)

    def _class_sample_weight(self, y: np.ndarray, incremental: bool) -> np.ndarray | None:
        if self.class_weight is None:
            return None
        if isinstance(self.class_weight, str):
            check_choice(self.class_weight, "class_weight", ("balanced",))
            if incremental:
                raise ValueError(
                    "class_weight='balanced' is not supported for partial_fit (each call sees only part of the data); "
                    "pass class_weight=dict(zip(classes, compute_class_weight('balanced', classes=classes, y=y_all)))"
                )
        elif isinstance(self.class_weight, list):
            # one dict per output, for multilabel targets only (scikit-learn's multi-output form)
            if not all(isinstance(weights, dict) for weights in self.class_weight):
                raise TypeError(
                    "class_weight as a list must hold one dict {class: weight} per output (multilabel targets); "
                    f"got {self.class_weight!r}"
                )
            outputs = y.shape[1] if y.ndim == 2 else 1
            if y.ndim != 2 or len(self.class_weight) != outputs:
                raise ValueError(
                    f"class_weight as a list needs multilabel targets and one dict per output; got "
                    f"{len(self.class_weight)} dict(s) for {'multilabel targets of ' if y.ndim == 2 else ''}"
                    f"{outputs} output(s) (for single-output targets pass a dict {{class: weight}} or 'balanced')"
                )
        elif not isinstance(self.class_weight, dict):
            raise TypeError(
                f"class_weight must be None, 'balanced' or a dict {{class: weight}}; got {self.class_weight!r}"
            )
        return np.asarray(compute_sample_weight(self.class_weight, y))

    @_if_stochastic
    def partial_fit(self, X: Any, y: Any, sample_weight: Any = None, classes: Any = None) -> Self:
        """One epoch over (X, y), continuing from the current weights and optimizer state.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_classes)
            Labels (a subset of ``classes`` is fine), or a multilabel indicator matrix.
        sample_weight : array-like of shape (n_samples,), optional
        classes : array-like, optional
            Every class that will ever be seen; required on the first call.

        Returns
        -------
        self
            Only with ``solver="sgd"`` or ``"adam"`` (the attribute does not exist for ``"lbfgs"``).
        """
        if hasattr(self, "classes_"):
            if classes is not None and not np.array_equal(np.sort(unique_labels(classes)), np.sort(self.classes_)):
                raise ValueError(
                    f"`classes={classes!r}` is not the same as on last call to partial_fit, was: {self.classes_!r}"
                )
            return self._fit(X, y, sample_weight, incremental=True)
        if classes is None:
            raise ValueError("classes must be passed on the first call to partial_fit.")
        binarizer = LabelBinarizer()
        with _quiet_cast():  # NaN labels: the validation in _fit names them; scikit-learn's cast only warns here
            multilabel = type_of_target(y).startswith("multilabel")
        binarizer.fit(y if multilabel else classes)
        saved = self.__dict__.copy()
        self._label_binarizer, self.classes_ = binarizer, binarizer.classes_
        try:
            return self._fit(X, y, sample_weight, incremental=True)
        except BaseException:  # a first call that raises leaves no classes_ behind
            self.__dict__.clear()
            self.__dict__.update(saved)
            raise

    def _scores(self, X: np.ndarray) -> np.ndarray:
        """The output layer's probabilities: (n, 1) for one logistic output, else (n, outputs)."""
        proba = np.asarray(self._model.predict_proba(X))
        return proba[:, 1:] if self.n_outputs_ == 1 else proba

    def _predict(self, X: np.ndarray) -> np.ndarray:
        scores = self._scores(X)
        return np.asarray(self._label_binarizer.inverse_transform(scores.ravel() if self.n_outputs_ == 1 else scores))

    def predict(self, X: Any) -> np.ndarray:
        """Predicted class labels.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The samples.

        Returns
        -------
        numpy.ndarray
            Labels from ``classes_``, shape (n_samples,); an indicator matrix for multilabel targets.
        """
        return self._predict(self._check_X(X))

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities in the order of ``classes_``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The samples.

        Returns
        -------
        numpy.ndarray of shape (n_samples, n_classes)
            (n, 2) for binary problems; per-output probabilities for multilabel targets.
        """
        scores = self._scores(self._check_X(X))
        return np.hstack([1 - scores, scores]) if self.n_outputs_ == 1 else scores

    def predict_log_proba(self, X: Any) -> np.ndarray:
        """The logarithm of ``predict_proba``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The samples.

        Returns
        -------
        numpy.ndarray of shape (n_samples, n_classes)
            ``log(predict_proba(X))`` (``-inf`` where a probability is 0).
        """
        with np.errstate(divide="ignore"):
            return np.asarray(np.log(self.predict_proba(X)))

    def _score(self, X: np.ndarray, y: np.ndarray, sample_weight: np.ndarray | None) -> float:
        return float(accuracy_score(y, self._predict(X), sample_weight=sample_weight))


class MLPRegressor(RegressorMixin, _BaseMLP):
    """Multi-layer perceptron regressor: scikit-learn's ``MLPRegressor``, trained by ferronet.

    Parameters and attributes as ``sklearn.neural_network.MLPRegressor`` (``loss="squared_error"`` or
    ``"poisson"``; see the module docstring), plus ``dropout``, ``batch_norm`` and ``dtype``. Targets may have
    several outputs; with ``loss="poisson"`` they must be >= 0 and ``predict`` returns ``exp`` of the last layer.
    Parameters are checked by ``fit``, as scikit-learn does.

    Parameters
    ----------
    loss : {"squared_error", "poisson"}, default "squared_error"
        The loss; ``"poisson"`` is half the Poisson deviance with an ``exp`` output (targets >= 0).
    hidden_layer_sizes : int or sequence of int, default (100,)
        The width of each hidden layer.
    activation : {"identity", "logistic", "tanh", "relu"}, default "relu"
        The hidden layers' activation (ferronet's linear, sigmoid, tanh, relu).
    solver : {"lbfgs", "sgd", "adam"}, default "adam"
        ``"sgd"`` and ``"adam"`` train epoch by epoch on batches (and have ``partial_fit``); ``"lbfgs"`` runs
        scipy's L-BFGS-B on the full-batch objective, as scikit-learn does.
    alpha : float, default 0.0001
        The L2 penalty, ``0.5 * alpha * ||W||^2`` divided by the batch's total sample weight; >= 0.
    batch_size : int or "auto", default "auto"
        Rows per batch of the stochastic solvers; ``"auto"`` is ``min(200, n_samples)``, larger sizes are clipped
        to ``n_samples`` with a warning (with ``batch_norm``, moved to the nearest size that leaves no one-row batch).
    learning_rate : {"constant", "invscaling", "adaptive"}, default "constant"
        The rate schedule of ``solver="sgd"``: constant, ``learning_rate_init / (t_ + 1) ** power_t``, or divided by
        5 whenever the loss (or validation score) stops improving.
    learning_rate_init : float, default 0.001
        The initial learning rate of the stochastic solvers; > 0.
    power_t : float, default 0.5
        The exponent of ``learning_rate="invscaling"``; >= 0.
    max_iter : int, default 200
        Epochs of the stochastic solvers, iterations of L-BFGS.
    shuffle : bool, default True
        Shuffle the rows every epoch (stochastic solvers).
    random_state : int, RandomState or None, default None
        Seeds the initial weights (drawn as scikit-learn draws them), the early-stopping split, and the engine's
        shuffles and dropout masks.
    tol : float, default 1e-4
        The improvement below which an epoch counts as no progress (or L-BFGS's ``gtol``).
    verbose : bool or int, default False
        Print the loss of each epoch.
    warm_start : bool, default False
        Continue from the previous fit's weights instead of starting over.
    momentum : float, default 0.9
        The momentum of ``solver="sgd"``, in [0, 1).
    nesterovs_momentum : bool, default True
        Nesterov momentum for ``solver="sgd"``.
    early_stopping : bool, default False
        Hold out ``validation_fraction`` of the rows and stop when the validation score has not improved by ``tol``
        for ``n_iter_no_change`` epochs, keeping the best weights (stochastic solvers).
    validation_fraction : float, default 0.1
        The held-out fraction for ``early_stopping``, in [0, 1).
    beta_1 : float, default 0.9
        Adam's first-moment decay, in [0, 1).
    beta_2 : float, default 0.999
        Adam's second-moment decay, in [0, 1).
    epsilon : float, default 1e-8
        Adam's epsilon; > 0.
    n_iter_no_change : int, default 10
        Epochs without improvement of more than ``tol`` before stopping (or, adaptive, dividing the rate); may be
        ``numpy.inf``.
    max_fun : int, default 15000
        The most function evaluations of L-BFGS.
    dropout : float, default 0.0
        ferronet's: the drop probability of a Dropout layer after each hidden layer, in [0, 1) (not with
        ``"lbfgs"``).
    batch_norm : bool, default False
        ferronet's: BatchNorm between each hidden Dense layer and its activation (not with ``"lbfgs"``).
    dtype : {"float32", "float64"} or None, default None
        ferronet's: the float type of training; None computes in X's dtype when it is float32, else float64.

    Attributes
    ----------
    coefs_ : list of numpy.ndarray
        The Dense layers' weight matrices, (fan_in, fan_out) each.
    intercepts_ : list of numpy.ndarray
        The Dense layers' biases.
    loss_ : float
        scikit-learn's objective at the end of the last epoch (or L-BFGS's last value).
    loss_curve_ : list of float
        The objective per epoch (stochastic solvers).
    best_loss_ : float or None
        The best training loss (None with ``early_stopping``).
    validation_scores_ : list of float or None
        The validation score per epoch with ``early_stopping``.
    best_validation_score_ : float or None
        The best validation score with ``early_stopping``.
    t_ : int
        Samples seen by the stochastic solvers.
    n_features_in_ : int
        The number of features seen by ``fit``.
    feature_names_in_ : numpy.ndarray
        The column names of a DataFrame X.
    n_iter_ : int
        Epochs (or L-BFGS iterations) run.
    n_layers_ : int
        Layers, input and output included.
    n_outputs_ : int
        Output units.
    model_ : Sequential
        The trained ferronet network.
    out_activation_ : str
        ``"identity"``, or ``"exp"`` for ``loss="poisson"``.
    """

    @keywords()
    def __init__(
        self,
        loss: RegressorLoss = "squared_error",
        hidden_layer_sizes: Any = (100,),
        activation: SklearnActivation = "relu",
        *,
        solver: SolverName = "adam",
        alpha: float = 0.0001,
        batch_size: int | Literal["auto"] = "auto",
        learning_rate: LearningRateName = "constant",
        learning_rate_init: float = 0.001,
        power_t: float = 0.5,
        max_iter: int = 200,
        shuffle: bool = True,
        random_state: Any = None,
        tol: float = 1e-4,
        verbose: bool = False,
        warm_start: bool = False,
        momentum: float = 0.9,
        nesterovs_momentum: bool = True,
        early_stopping: bool = False,
        validation_fraction: float = 0.1,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-8,
        n_iter_no_change: Any = 10,
        max_fun: int = 15000,
        dropout: float = 0.0,
        batch_norm: bool = False,
        dtype: DTypeName | None = None,
    ):
        super().__init__(
            hidden_layer_sizes=hidden_layer_sizes,
            activation=activation,
            solver=solver,
            alpha=alpha,
            batch_size=batch_size,
            learning_rate=learning_rate,
            learning_rate_init=learning_rate_init,
            power_t=power_t,
            max_iter=max_iter,
            shuffle=shuffle,
            random_state=random_state,
            tol=tol,
            verbose=verbose,
            warm_start=warm_start,
            momentum=momentum,
            nesterovs_momentum=nesterovs_momentum,
            early_stopping=early_stopping,
            validation_fraction=validation_fraction,
            beta_1=beta_1,
            beta_2=beta_2,
            epsilon=epsilon,
            n_iter_no_change=n_iter_no_change,
            max_fun=max_fun,
            dropout=dropout,
            batch_norm=batch_norm,
            dtype=dtype,
        )
        self.loss = loss

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.target_tags.positive_only = self.loss == "poisson"  # as PoissonRegressor: y must be >= 0
        return tags

    def _check_params(self) -> tuple[int, ...]:
        check_choice(self.loss, "loss", ("squared_error", "poisson"))
        return super()._check_params()

    def _validate_targets(self, X: Any, y: Any, incremental: bool, reset: bool) -> tuple[np.ndarray, np.ndarray]:
        with _quiet_cast():
            X, y = validate_data(
                self,
                X,
                y,
                accept_sparse=SPARSE_FORMATS,
                multi_output=True,
                y_numeric=True,
                dtype=(np.float64, np.float32),
                reset=reset,
            )
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        if self.loss == "poisson" and y.size and np.min(y) < 0:
            raise ValueError("Some value(s) of y are negative which is not allowed for Poisson regression.")
        self.out_activation_ = "exp" if self.loss == "poisson" else "identity"
        return X, y

    def _encode(self, y: np.ndarray) -> np.ndarray:
        return np.asarray(y, dtype=np.float64).reshape(y.shape[0], -1)

    @_if_stochastic
    def partial_fit(self, X: Any, y: Any, sample_weight: Any = None) -> Self:
        """One epoch over (X, y), continuing from the current weights and optimizer state.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
        sample_weight : array-like of shape (n_samples,), optional

        Returns
        -------
        self
            Only with ``solver="sgd"`` or ``"adam"`` (the attribute does not exist for ``"lbfgs"``).
        """
        return self._fit(X, y, sample_weight, incremental=True)

    def _predict(self, X: np.ndarray) -> np.ndarray:
        return np.asarray(self._model.predict(X))

    def predict(self, X: Any) -> np.ndarray:
        """Predicted values.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The samples.

        Returns
        -------
        numpy.ndarray
            Shape (n,) for one output, (n, n_outputs) otherwise (the means ``exp(output)`` for ``loss="poisson"``).
        """
        return self._predict(self._check_X(X))

    def _score(self, X: np.ndarray, y: np.ndarray, sample_weight: np.ndarray | None) -> float:
        predictions = self._predict(X)
        if not np.isfinite(predictions).all():  # scikit-learn's validation score of a diverged network
            return math.nan
        return float(r2_score(y, predictions, sample_weight=sample_weight))


def load(path: str | os.PathLike[str]) -> MLPClassifier | MLPRegressor:
    """The estimator that ``MLPClassifier.save`` or ``MLPRegressor.save`` wrote to ``path``.

    Parameters
    ----------
    path : str or os.PathLike
        A model file written by an estimator's ``save``.

    Returns
    -------
    MLPClassifier or MLPRegressor
        Fitted, with its parameters, ``classes_`` (of their saved dtype), the other fitted attributes and the
        network (weights, and the optimizer state when it was saved) as they were.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist or is not a file.
    ValueError
        If the file is not a valid model file (the engine checks it), holds a bare ``Sequential`` (read it with
        ``ferronet.load``), or its estimator state is invalid or inconsistent with its network.
    """
    source = f"model file {str(_files.as_path(path))!r}"
    model, metadata = Sequential._from_path_with_metadata(path, source)
    if METADATA_KEY not in metadata:
        raise ValueError(
            f"{source} holds a ferronet.Sequential without a scikit-learn estimator (it was not written by an "
            "estimator's save): read it with ferronet.load"
        )
    try:
        state = json.loads(metadata[METADATA_KEY])
    except ValueError as error:
        raise ValueError(f"{source} holds an invalid estimator state: {error}") from None
    if not isinstance(state, dict) or state.get("format") != STATE_FORMAT:
        raise ValueError(f"{source} holds an invalid estimator state (its format is not {STATE_FORMAT!r})")
    if state.get("version") != STATE_VERSION:
        raise ValueError(
            f"{source} holds an estimator state of version {state.get('version')!r}; this ferronet reads version "
            f"{STATE_VERSION}"
        )
    classes: dict[Any, type[MLPClassifier] | type[MLPRegressor]] = {
        "MLPClassifier": MLPClassifier,
        "MLPRegressor": MLPRegressor,
    }
    kind = classes.get(state.get("estimator"))
    params, attributes = state.get("params"), state.get("attributes")
    if kind is None or not isinstance(params, dict) or not isinstance(attributes, dict):
        raise ValueError(f"{source} holds an invalid estimator state (estimator, params and attributes)")
    what = f"{source} (estimator state)"
    unknown = sorted(set(params) - set(kind._get_param_names())) + sorted(set(attributes) - set(SAVED_ATTRIBUTES))
    if unknown:
        raise ValueError(f"{what} has entries this version of ferronet does not know: {unknown}")
    estimator: MLPClassifier | MLPRegressor = kind(
        **{name: _sklearn_state.decode(value, f"{what} {name}") for name, value in params.items()}
    )
    for name, value in attributes.items():
        setattr(estimator, name, _sklearn_state.decode(value, f"{what} {name}"))
    estimator._check_loaded(model, what)
    estimator._model = model
    estimator._best_weights = model.get_weights()
    return estimator
