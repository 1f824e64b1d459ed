"""The choice strings of ferronet's public signatures, as ``Literal`` types.

A type checker (mypy, pyright) or an IDE then catches a misspelt name before anything runs:

```python
fnet.Dense(10, activation="rleu")   # mypy: Argument "activation" to "Dense" has incompatible type
                                    #       "Literal['rleu']"; expected "Literal['relu', 'leaky_relu', ...] | None"
```

Each alias is defined here once. The run-time checks (``ferronet._validation.check_choice``) stay: the name tables
they check against are built from these aliases (``ACTIVATIONS = typing.get_args(ActivationName)``) or, for the
tables of modules that keep their own, tests/test_types.py checks that the two agree.

Import them for your own annotations: ``from ferronet._types import ActivationName``.
"""

from __future__ import annotations

from typing import Any, Literal, TypeAlias

import numpy as np

#: Activation functions: ``Dense(activation=...)``, ``Activation(...)``, ``ops.activation_forward(name, ...)``.
ActivationName: TypeAlias = Literal["relu", "leaky_relu", "sigmoid", "tanh", "linear", "softmax"]

#: Weight initializations: ``Dense(init=...)``, ``Sequential.from_architecture(init=...)``.
InitName: TypeAlias = Literal["he", "xavier", "xavier_uniform", "lecun", "uniform", "small", "zeros"]

#: Losses: ``Sequential(loss=...)``.
LossName: TypeAlias = Literal["softmax_cross_entropy", "mse", "binary_cross_entropy", "hinge", "poisson"]

#: The float types the engine computes in, by name.
DTypeName: TypeAlias = Literal["float32", "float64"]

#: A ``dtype`` argument: a name, a NumPy dtype or a NumPy scalar type of float32 or float64.
FloatDType: TypeAlias = DTypeName | np.dtype[np.float32] | np.dtype[np.float64] | type[np.float32] | type[np.float64]

#: Optimizers by name (each with its default hyperparameters): ``fit(optimizer=...)``.
OptimizerName: TypeAlias = Literal["sgd", "adam", "rmsprop"]

#: Metrics a callback can monitor: ``EarlyStopping(monitor=...)``, ``ModelCheckpoint``, ``ReduceLROnPlateau``.
MonitorName: TypeAlias = Literal["val_loss", "val_accuracy", "loss", "accuracy"]

#: Whether a monitored metric improves downwards or upwards (``"auto"``: losses down, accuracies up).
MonitorMode: TypeAlias = Literal["auto", "min", "max"]

#: ``fit(verbose=...)``: Keras' 0 silent, 1 a progress bar, 2 a line per epoch; True is 2, "auto" is 1 (an int
#: rather than ``Literal[0, 1, 2]``, so that a verbosity held in a variable type-checks; 3 fails at run time).
Verbosity: TypeAlias = bool | int | Literal["auto"]

#: ``fit(progress=...)``: a tqdm bar per epoch, or ``"auto"`` (when stderr is a terminal).
Progress: TypeAlias = bool | Literal["auto"]

#: scikit-learn's hidden activations: ``MLPClassifier(activation=...)``.
SklearnActivation: TypeAlias = Literal["identity", "logistic", "tanh", "relu"]

#: scikit-learn's solvers: ``MLPClassifier(solver=...)``.
SolverName: TypeAlias = Literal["lbfgs", "sgd", "adam"]

#: scikit-learn's learning-rate schedules: ``MLPClassifier(learning_rate=...)``.
LearningRateName: TypeAlias = Literal["constant", "invscaling", "adaptive"]

#: ``MLPRegressor(loss=...)``.
RegressorLoss: TypeAlias = Literal["squared_error", "poisson"]

#: ``MLPClassifier(class_weight=...)``: None, ``"balanced"``, ``{class: weight}`` or one such dict per output.
ClassWeight: TypeAlias = Literal["balanced"] | dict[Any, float] | list[dict[Any, float]] | None

#: Which per-layer array ``plot.layer_histograms`` shows: the layer outputs or d loss / d output.
HistogramKind: TypeAlias = Literal["activation", "grad"]

#: Data sets the command line trains on: ``ferronet train --dataset NAME``.
DatasetName: TypeAlias = Literal["digits", "spiral", "fashion-mnist", "mnist"]

__all__ = [
    "ActivationName",
    "ClassWeight",
    "DTypeName",
    "DatasetName",
    "FloatDType",
    "HistogramKind",
    "InitName",
    "LearningRateName",
    "LossName",
    "MonitorMode",
    "MonitorName",
    "OptimizerName",
    "Progress",
    "RegressorLoss",
    "SklearnActivation",
    "SolverName",
    "Verbosity",
]
