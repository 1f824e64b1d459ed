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
    """Base class: an optimizer is its configuration; ``lr`` may be changed between epochs by a schedule."""

    kind: str = "optimizer"

    def __init__(self, lr: float):
        self.lr = check_float(lr, "lr", minimum=0.0)

    @abstractmethod
    def config(self) -> dict[str, Any]:
        """The JSON-able hyperparameters, with "kind"."""

    def __repr__(self) -> str:
        args = ", ".join(f"{key}={value!r}" for key, value in self.config().items() if key != "kind")
        return f"{type(self).__name__}({args})"


class SGD(Optimizer):
    """Stochastic gradient descent with optional (Nesterov) momentum, as torch.optim.SGD (no dampening).

    ``v = momentum*v + g``; plain ``p -= lr*v``; Nesterov ``p -= lr*(g + momentum*v)``. momentum=0 is plain SGD.
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
        return {"kind": self.kind, "lr": self.lr, "momentum": self.momentum, "nesterov": self.nesterov}


class Adam(Optimizer):
    """Adam with bias correction, eps outside the square root (torch.optim.Adam, no weight decay, no amsgrad)."""

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
        return {"kind": self.kind, "lr": self.lr, "beta1": self.beta1, "beta2": self.beta2, "eps": self.eps}


class RMSProp(Optimizer):
    """RMSprop as torch.optim.RMSprop with ``alpha = rho``: no centering, no momentum."""

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
        return {"kind": self.kind, "lr": self.lr, "rho": self.rho, "eps": self.eps}


OPTIMIZER_TYPES = {cls.kind: cls for cls in (SGD, Adam, RMSProp)}


def optimizer_from_config(config: dict[str, Any]) -> Optimizer:
    """Rebuild an optimizer from ``Optimizer.config()``."""
    if not isinstance(config, dict) or "kind" not in config:
        raise ValueError(f"an optimizer config must be a dict with a 'kind' key; got {config!r}")
    kind = check_choice(config["kind"], "optimizer kind", OPTIMIZER_TYPES)
    arguments = {key: value for key, value in config.items() if key != "kind"}
    try:
        return OPTIMIZER_TYPES[kind](**arguments)
    except TypeError as error:
        raise ValueError(f"bad {kind} optimizer config {config!r}: {error}") from None


def get_optimizer(value: Any) -> Optimizer:
    """An Optimizer instance, or a name ('sgd', 'adam', 'rmsprop') for one with default hyperparameters."""
    if isinstance(value, Optimizer):
        return value
    if isinstance(value, str):
        return OPTIMIZER_TYPES[check_choice(value, "optimizer", OPTIMIZER_TYPES)]()
    hint = instance_hint(value, Optimizer, "optimizer")
    raise TypeError(
        hint
        or f"optimizer must be a ferronet.optim.Optimizer or one of 'sgd', 'adam', 'rmsprop'; got {type(value).__name__}"
    )
