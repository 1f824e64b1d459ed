"""The losses ferronet knows, by name, and what they expect of the targets.

All losses average over the batch (weighted by ``sample_weight`` when given); the reported objective adds the
penalty ``0.5*l2*sum(W**2) + l1*sum(|W|)`` over weights. Exact formulas: docs/formulas.md.

``"poisson"`` is half the Poisson deviance with the log link: the last layer (linear) outputs ``z = log(mean)``,
``predict`` returns ``exp(z)``, and targets are counts or rates (>= 0).
"""

from __future__ import annotations

from typing import get_args

from ._types import ActivationName, LossName

#: Names accepted by ``Sequential(loss=...)``: the values of ``LossName``.
LOSSES: tuple[LossName, ...] = get_args(LossName)

#: Losses whose targets are class indices (given as labels of shape (n,) or one-hot rows).
LABEL_LOSSES: tuple[LossName, ...] = ("softmax_cross_entropy", "hinge")

#: Losses that are classification losses (they report accuracy).
CLASSIFICATION_LOSSES: tuple[LossName, ...] = ("softmax_cross_entropy", "binary_cross_entropy", "hinge")

#: The loss a seed-style architecture list implies through its last activation.
LOSS_FOR_LAST_ACTIVATION: dict[str, LossName] = {
    "softmax": "softmax_cross_entropy",
    "sigmoid": "binary_cross_entropy",
    "linear": "mse",
}

#: (last activation, loss) pairs computed as one fused, stable operation on the logits.
FUSED_HEADS: set[tuple[ActivationName, LossName]] = {
    ("softmax", "softmax_cross_entropy"),
    ("sigmoid", "binary_cross_entropy"),
}

#: Losses whose last layer outputs the log of the prediction (the log link): ``predict`` returns ``exp(output)``.
LOG_LINK_LOSSES: tuple[LossName, ...] = ("poisson",)

__all__ = [
    "CLASSIFICATION_LOSSES",
    "FUSED_HEADS",
    "LABEL_LOSSES",
    "LOG_LINK_LOSSES",
    "LOSSES",
    "LOSS_FOR_LAST_ACTIVATION",
    "LossName",
]
