"""Learning-rate schedules, applied once per epoch by ``fit``.

A schedule maps the epoch index e = 0, 1, ... and the optimizer's learning rate ``lr0`` (its ``lr``) to the rate used
in that epoch, a Python float (computed in float64 whatever ``lr0``'s type, so that a float32 ``lr0`` cannot
overflow). The index counts the epochs trained with the current optimizer state, across ``fit`` calls (or starts at
``fit``'s ``initial_epoch``), so a schedule continues where the previous ``fit`` left it. The optimizer object
itself is not modified.
Any callable ``f(epoch, lr0) -> lr`` works as a schedule too.
"""

from __future__ import annotations

import math
import numbers
from abc import ABC, abstractmethod

from ._names import keywords
from ._validation import check_float, check_int


def _power(base: float, exponent: float) -> float:
    """``base ** exponent``, with inf or 0.0 where Python's float power would raise OverflowError (a growing
    schedule run for many epochs): ``learning_rate`` then reports the non-finite rate as a ValueError."""
    try:
        power: float = base**exponent  # float ** float is typed Any (a negative base gives a complex)
        return power
    except OverflowError:
        return math.inf if (base > 1) == (exponent > 0) else 0.0


def _real(value: object, name: str) -> float:
    """``value`` if it is a real number (int, float, Fraction, NumPy scalar), else TypeError: a complex epoch
    would make a complex rate."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number; got {type(value).__name__}")
    return value  # type: ignore[return-value]  # a numbers.Real: int, float, Fraction, NumPy scalar


class Schedule(ABC):
    """Base class of the learning-rate schedules: a callable ``(epoch, lr0) -> lr`` that ``fit`` calls once per
    epoch (any such callable works as a schedule too)."""

    @abstractmethod
    def __call__(self, epoch: int, lr0: float) -> float:
        """The learning rate of epoch ``epoch`` given the optimizer's rate ``lr0``.

        Parameters
        ----------
        epoch : int
            The 0-based epoch index (continuing across ``fit`` calls).
        lr0 : float
            The optimizer's ``lr``.

        Returns
        -------
        float
            The rate for this epoch.
        """

    def __repr__(self) -> str:
        args = ", ".join(f"{key}={value!r}" for key, value in vars(self).items())
        return f"{type(self).__name__}({args})"


class StepDecay(Schedule):
    """``lr0 * factor ** (epoch // every)``: e.g. halve the rate every epoch (factor=0.5, every=1).

    Parameters
    ----------
    factor : float, default 0.5
        The multiplier applied every ``every`` epochs; > 0 (above 1 the rate grows).
    every : int, default 1
        Epochs between two steps; >= 1.

    Raises
    ------
    TypeError, ValueError
        If an argument has the wrong type or range.

    Examples
    --------
    >>> [StepDecay(factor=0.5, every=2)(epoch, 1.0) for epoch in range(5)]
    [1.0, 1.0, 0.5, 0.5, 0.25]
    """

    @keywords()
    def __init__(self, factor: float = 0.5, every: int = 1):
        self.factor = check_float(factor, "factor", minimum=0.0, min_inclusive=False)
        self.every = check_int(every, "every", minimum=1)

    def __call__(self, epoch: int, lr0: float) -> float:
        """The learning rate of epoch ``epoch`` given the optimizer's rate ``lr0``.

        Parameters
        ----------
        epoch : int
            The 0-based epoch index (continuing across ``fit`` calls).
        lr0 : float
            The optimizer's ``lr``.

        Returns
        -------
        float
            The rate for this epoch (``lr0 * factor ** (epoch // every)``).
        """
        e, rate = _real(epoch, "epoch"), _real(lr0, "lr0")
        return float(rate) * _power(self.factor, e // self.every)


class InverseTimeDecay(Schedule):
    """``lr0 / (1 + decay * epoch)``.

    Parameters
    ----------
    decay : float
        The decay per epoch; >= 0 (0 keeps the rate constant).

    Raises
    ------
    TypeError, ValueError
        If ``decay`` is not a finite number >= 0.
    """

    @keywords()
    def __init__(self, decay: float):
        self.decay = check_float(decay, "decay", minimum=0.0)

    def __call__(self, epoch: int, lr0: float) -> float:
        """The learning rate of epoch ``epoch`` given the optimizer's rate ``lr0``.

        Parameters
        ----------
        epoch : int
            The 0-based epoch index (continuing across ``fit`` calls).
        lr0 : float
            The optimizer's ``lr``.

        Returns
        -------
        float
            The rate for this epoch (``lr0 / (1 + decay * epoch)``).
        """
        e, rate = _real(epoch, "epoch"), _real(lr0, "lr0")
        return float(rate) / (1.0 + self.decay * e)


class ExponentialDecay(Schedule):
    """``lr0 * gamma ** epoch``.

    Parameters
    ----------
    gamma : float
        The multiplier per epoch; > 0.

    Raises
    ------
    TypeError, ValueError
        If ``gamma`` is not a finite number > 0.
    """

    @keywords()
    def __init__(self, gamma: float):
        self.gamma = check_float(gamma, "gamma", minimum=0.0, min_inclusive=False)

    def __call__(self, epoch: int, lr0: float) -> float:
        """The learning rate of epoch ``epoch`` given the optimizer's rate ``lr0``.

        Parameters
        ----------
        epoch : int
            The 0-based epoch index (continuing across ``fit`` calls).
        lr0 : float
            The optimizer's ``lr``.

        Returns
        -------
        float
            The rate for this epoch (``lr0 * gamma ** epoch``).
        """
        e, rate = _real(epoch, "epoch"), _real(lr0, "lr0")
        return float(rate) * _power(self.gamma, e)


def learning_rate(schedule: object, epoch: int, lr0: float) -> float:
    """Evaluate a schedule and check that the result is a usable rate (what ``fit`` does every epoch).

    Parameters
    ----------
    schedule : Schedule, callable (epoch, lr0) -> lr, or None
        The schedule; None keeps the rate constant.
    epoch : int
        The 0-based epoch index, >= 0.
    lr0 : float
        The optimizer's rate, >= 0.

    Returns
    -------
    float
        ``schedule(epoch, lr0)`` (``lr0`` for None).

    Raises
    ------
    TypeError
        If ``schedule`` is not callable or returns something that is not a number.
    ValueError
        If ``epoch`` or ``lr0`` is out of range, or the rate returned is negative, NaN or infinite.
    """
    epoch = check_int(epoch, "epoch", minimum=0)
    lr0 = check_float(lr0, "lr0", minimum=0.0)
    if schedule is None:
        return lr0
    if not callable(schedule):
        raise TypeError(
            f"schedule must be a ferronet.schedules.Schedule or a callable (epoch, lr0) -> lr; got {type(schedule).__name__}"
        )
    return check_float(schedule(epoch, lr0), f"the learning rate the schedule returned for epoch {epoch}", minimum=0.0)


__all__ = ["ExponentialDecay", "InverseTimeDecay", "Schedule", "StepDecay", "learning_rate"]
