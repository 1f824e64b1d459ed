"""Training control between epochs."""

from __future__ import annotations

import math
from typing import Any

from ._validation import check_bool, check_choice, check_float, check_int

MONITORS = ("val_loss", "val_accuracy", "loss", "accuracy")


class EarlyStopping:
    """Stop ``fit`` when ``monitor`` has not improved by more than ``min_delta`` for ``patience`` epochs.

    Losses improve downwards, accuracies upwards. With ``restore_best=True`` the model ends with the weights of its
    best epoch (as Keras' ``restore_best_weights``). One object can be reused: ``fit`` resets it at the start.
    """

    def __init__(self, monitor: str = "val_loss", patience: int = 5, min_delta: float = 0.0, restore_best: bool = True):
        self.monitor = check_choice(monitor, "monitor", MONITORS)
        self.patience = check_int(patience, "patience", minimum=0)
        self.min_delta = check_float(min_delta, "min_delta", minimum=0.0)
        self.restore_best = check_bool(restore_best, "restore_best")
        self.reset()

    @property
    def maximize(self) -> bool:
        return self.monitor.endswith("accuracy")

    def reset(self) -> None:
        self.best: float = -math.inf if self.maximize else math.inf
        self.best_epoch: int | None = None
        self.best_weights: Any = None
        self.wait = 0
        self.stopped_epoch: int | None = None

    def improved(self, value: float) -> bool:
        if self.maximize:
            return value > self.best + self.min_delta
        return value < self.best - self.min_delta

    def update(self, epoch: int, value: float, weights: Any) -> bool:
        """Record an epoch's value; returns True when training should stop."""
        if self.improved(value):
            self.best, self.best_epoch, self.wait = value, epoch, 0
            if self.restore_best:
                self.best_weights = weights()
            return False
        self.wait += 1
        if self.wait >= self.patience:
            self.stopped_epoch = epoch
            return True
        return False

    def __repr__(self) -> str:
        return (
            f"EarlyStopping(monitor={self.monitor!r}, patience={self.patience}, min_delta={self.min_delta}, "
            f"restore_best={self.restore_best})"
        )
