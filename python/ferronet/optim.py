"""Optimizers: hyperparameters here, state (velocities, moments, step count) in the Rust engine.

Update rules follow torch.optim (docs/formulas.md); ``g`` is the gradient of the objective, penalty
included. An optimizer object can be reused across ``fit`` calls: the engine keeps its state while the same object
is passed again, and starts fresh state when a different optimizer object is given.

Keras' and torch's names are accepted too: ``learning_rate`` for ``lr``; ``beta_1``, ``beta_2`` or
``betas=(beta1, beta2)`` and ``epsilon`` for Adam's; ``alpha`` (torch) for RMSProp's ``rho``. Passing a name and
its alias together is a ``TypeError``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from ._names import instance_hint, keywords
from ._types import OptimizerName
from ._validation import check_bool, check_choice, check_float

#: torch.optim and Keras arguments ferronet has no counterpart for, and what to do instead.
_HINTS = {
    "params": "ferronet optimizers take no parameters: the model owns them; pass the optimizer to Sequential.fit",
    "weight_decay": "ferronet puts the L2 penalty in the model: Sequential(..., l2=...)",
    "decay": "use a learning-rate schedule: Sequential.fit(..., schedule=fnet.schedules....)",
    "clipnorm": "gradient clipping is not supported",
    "clipvalue": "gradient clipping is not supported",
    "global_clipnorm": "gradient clipping is not supported",
}


class Optimizer(ABC):
    """Base class: an optimizer is its configuration; ``lr`` may be changed between epochs by a schedule.

    Parameters
    ----------
    lr : float
        The learning rate (>= 0): the base rate a schedule starts from; callbacks such as ``ReduceLROnPlateau``
        change it.

    Raises
    ------
    TypeError, ValueError
        If ``lr`` is not a finite number >= 0.
    """

    #: The optimizer's name in configurations and saved files ("sgd", "adam", "rmsprop").
    kind: str = "optimizer"

    def __init__(self, lr: float):
        self.lr = check_float(lr, "lr", minimum=0.0)

    @abstractmethod
    def config(self) -> dict[str, Any]:
        """The JSON-able hyperparameters.

        Returns
        -------
        dict
            ``{"kind": ..., "lr": ..., **hyperparameters}``; ``optimizer_from_config`` rebuilds the optimizer.
        """

    def __repr__(self) -> str:
        args = ", ".join(f"{key}={value!r}" for key, value in self.config().items() if key != "kind")
        return f"{type(self).__name__}({args})"


class SGD(Optimizer):
    """Stochastic gradient descent with optional (Nesterov) momentum, as torch.optim.SGD (no dampening).

    ``v = momentum*v + g``; plain ``p -= lr*v``; Nesterov ``p -= lr*(g + momentum*v)``. momentum=0 is plain SGD.

    Parameters
    ----------
    lr : float, default 0.01
        The learning rate, >= 0.
    momentum : float, default 0.0
        The velocity's decay, in ``[0, 1)``.
    nesterov : bool, default False
        Nesterov momentum (needs ``momentum > 0``).
    learning_rate : float, optional
        Keras' name for ``lr`` (pass one or the other).

    Raises
    ------
    TypeError, ValueError
        If an argument has the wrong type or range, or ``nesterov=True`` with ``momentum=0``.

    Examples
    --------
    >>> SGD(lr=0.05, momentum=0.9)
    SGD(lr=0.05, momentum=0.9, nesterov=False)
    """

    kind = "sgd"

    @keywords(aliases={"learning_rate": "lr"}, hints={**_HINTS, "dampening": "dampening is not supported (it is 0)"})
    def __init__(
        self, lr: float = 0.01, momentum: float = 0.0, nesterov: bool = False, *, learning_rate: float | None = None
    ):
        super().__init__(lr)
        self.momentum = check_float(momentum, "momentum", minimum=0.0, maximum=1.0, max_inclusive=False)
        self.nesterov = check_bool(nesterov, "nesterov")
        if self.nesterov and self.momentum == 0.0:
            raise ValueError("nesterov=True needs momentum > 0 (as torch.optim.SGD requires); got momentum=0")

    def config(self) -> dict[str, Any]:
        """The JSON-able hyperparameters.

        Returns
        -------
        dict
            ``{"kind": "sgd", "lr", "momentum", "nesterov"}``.
        """
        return {"kind": self.kind, "lr": self.lr, "momentum": self.momentum, "nesterov": self.nesterov}


class Adam(Optimizer):
    """Adam with bias correction, eps outside the square root (torch.optim.Adam, no weight decay, no amsgrad).

    ``m = beta1*m + (1-beta1)*g``; ``v = beta2*v + (1-beta2)*g*g``;
    ``p -= lr * (m / (1-beta1**t)) / (sqrt(v / (1-beta2**t)) + eps)``.

    Parameters
    ----------
    lr : float, default 1e-3
        The learning rate, >= 0.
    beta1 : float, default 0.9
        Decay of the first-moment average, in ``[0, 1)``.
    beta2 : float, default 0.999
        Decay of the second-moment average, in ``[0, 1)``.
    eps : float, default 1e-8
        Added to the denominator; > 0.
    learning_rate : float, optional
        Keras' name for ``lr``.
    betas : tuple of float, optional
        torch's ``(beta1, beta2)``.
    beta_1, beta_2 : float, optional
        Keras' names for ``beta1`` and ``beta2``.
    epsilon : float, optional
        Keras' name for ``eps``. Each alias replaces its ferronet name; passing both is a TypeError.

    Raises
    ------
    TypeError, ValueError
        If an argument has the wrong type or range.
    """

    kind = "adam"

    @keywords(
        aliases={
            "learning_rate": "lr",
            "betas": ("beta1", "beta2"),
            "beta_1": "beta1",
            "beta_2": "beta2",
            "epsilon": "eps",
        },
        hints={**_HINTS, "amsgrad": "AMSGrad is not supported"},
    )
    def __init__(
        self,
        lr: float = 1e-3,
        beta1: float = 0.9,
        beta2: float = 0.999,
        eps: float = 1e-8,
        *,
        learning_rate: float | None = None,
        betas: tuple[float, float] | None = None,
        beta_1: float | None = None,
        beta_2: float | None = None,
        epsilon: float | None = None,
    ):
        super().__init__(lr)
        self.beta1 = check_float(beta1, "beta1", minimum=0.0, maximum=1.0, max_inclusive=False)
        self.beta2 = check_float(beta2, "beta2", minimum=0.0, maximum=1.0, max_inclusive=False)
        self.eps = check_float(eps, "eps", minimum=0.0, min_inclusive=False)

    def config(self) -> dict[str, Any]:
        """The JSON-able hyperparameters.

        Returns
        -------
        dict
            ``{"kind": "adam", "lr", "beta1", "beta2", "eps"}``.
        """
        return {"kind": self.kind, "lr": self.lr, "beta1": self.beta1, "beta2": self.beta2, "eps": self.eps}


class RMSProp(Optimizer):
    """RMSprop as torch.optim.RMSprop with ``alpha = rho``: no centering, no momentum.

    ``sq = rho*sq + (1-rho)*g*g``; ``p -= lr * g / (sqrt(sq) + eps)``.

    Parameters
    ----------
    lr : float, default 1e-3
        The learning rate, >= 0.
    rho : float, default 0.9
        Decay of the squared-gradient average, in ``[0, 1)``.
    eps : float, default 1e-8
        Added to the denominator; > 0.
    learning_rate : float, optional
        Keras' name for ``lr``.
    alpha : float, optional
        torch's name for ``rho``.
    epsilon : float, optional
        Keras' name for ``eps``. Each alias replaces its ferronet name; passing both is a TypeError.

    Raises
    ------
    TypeError, ValueError
        If an argument has the wrong type or range.
    """

    kind = "rmsprop"

    @keywords(
        aliases={"learning_rate": "lr", "alpha": "rho", "epsilon": "eps"},
        hints={
            **_HINTS,
            "momentum": "RMSProp with momentum is not supported (use SGD(momentum=...) or Adam)",
            "centered": "centered RMSProp is not supported",
        },
    )
    def __init__(
        self,
        lr: float = 1e-3,
        rho: float = 0.9,
        eps: float = 1e-8,
        *,
        learning_rate: float | None = None,
        alpha: float | None = None,
        epsilon: float | None = None,
    ):
        super().__init__(lr)
        self.rho = check_float(rho, "rho", minimum=0.0, maximum=1.0, max_inclusive=False)
        self.eps = check_float(eps, "eps", minimum=0.0, min_inclusive=False)

    def config(self) -> dict[str, Any]:
        """The JSON-able hyperparameters.

        Returns
        -------
        dict
            ``{"kind": "rmsprop", "lr", "rho", "eps"}``.
        """
        return {"kind": self.kind, "lr": self.lr, "rho": self.rho, "eps": self.eps}


#: Optimizer classes by name (``kind``).
OPTIMIZER_TYPES = {cls.kind: cls for cls in (SGD, Adam, RMSProp)}


def optimizer_from_config(config: dict[str, Any]) -> Optimizer:
    """Rebuild an optimizer from ``Optimizer.config()``.

    Parameters
    ----------
    config : dict
        An optimizer's ``config()``: its ``"kind"`` and its hyperparameters.

    Returns
    -------
    Optimizer
        A new ``SGD``, ``Adam`` or ``RMSProp``.

    Raises
    ------
    ValueError
        If ``config`` is not a dict with a known ``"kind"``, or its hyperparameters do not fit that optimizer.
    """
    if not isinstance(config, dict) or "kind" not in config:
        raise ValueError(f"an optimizer config must be a dict with a 'kind' key; got {config!r}")
    kind = check_choice(config["kind"], "optimizer kind", OPTIMIZER_TYPES)
    arguments = {key: value for key, value in config.items() if key != "kind"}
    try:
        return OPTIMIZER_TYPES[kind](**arguments)
    except TypeError as error:
        raise ValueError(f"bad {kind} optimizer config {config!r}: {error}") from None


def get_optimizer(value: Optimizer | OptimizerName) -> Optimizer:
    """The optimizer ``fit(optimizer=...)`` means: an instance as it is, or a name for a new default one.

    Parameters
    ----------
    value : Optimizer or {"sgd", "adam", "rmsprop"}
        An optimizer object, or a name for ``SGD()``, ``Adam()`` or ``RMSProp()`` with default hyperparameters.

    Returns
    -------
    Optimizer
        ``value`` itself when it is an ``Optimizer`` (it keeps its state in the model), else a new instance.

    Raises
    ------
    TypeError
        If ``value`` is neither an ``Optimizer`` nor a string.
    ValueError
        If the name is unknown.
    """
    if isinstance(value, Optimizer):
        return value
    if isinstance(value, str):
        return OPTIMIZER_TYPES[check_choice(value, "optimizer", OPTIMIZER_TYPES)]()
    hint = instance_hint(value, Optimizer, "optimizer")
    raise TypeError(
        hint
        or f"optimizer must be a ferronet.optim.Optimizer or one of 'sgd', 'adam', 'rmsprop'; got {type(value).__name__}"
    )
