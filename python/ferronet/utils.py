"""Utilities: gradient checking."""

from __future__ import annotations

from typing import Any

import numpy as np

from ._validation import MAX_SEED, check_float, check_int
from .model import Sequential


def gradient_check(
    model: Sequential,
    X: Any,
    y: Any,
    sample_weight: Any = None,
    *,
    eps: float = 1e-5,
    max_entries: int | None = 50,
    seed: int = 0,
    floor: float = 1e-4,
) -> float:
    """The largest relative error between the model's analytic gradients and central differences.

    Runs on a float64 copy of the model (the original is untouched), in training mode: the objective is the one
    ``gradients`` differentiates (data loss + penalty, masks of the current step, BatchNorm batch statistics).

    Parameters
    ----------
    model : Sequential
        A built model.
    X : array-like of shape (n_samples, n_features)
        The batch.
    y : array-like
        Its targets, as ``fit`` takes them.
    sample_weight : array-like of shape (n_samples,), optional
        Non-negative weights of the samples in the loss.
    eps : float, default 1e-5
        The step of the central differences ``(f(w + eps) - f(w - eps)) / (2 eps)``; > 0.
    max_entries : int or None, default 50
        How many entries of each parameter are checked, drawn with ``seed`` (None: all).
    seed : int, default 0
        Seeds the choice of entries.
    floor : float, default 1e-4
        The error of an entry is ``|analytic - numeric| / max(|analytic|, |numeric|, floor)``: the floor keeps
        gradients that are (nearly) zero from turning finite-difference noise (~1e-10 in float64) into large
        relative errors; > 0.

    Returns
    -------
    float
        The largest error over the entries checked (the tests hold correct gradients to below 1e-5).

    Raises
    ------
    TypeError, ValueError
        If an argument is not valid, or the model is not built.
    """
    eps = check_float(eps, "eps", minimum=0.0, min_inclusive=False)
    floor = check_float(floor, "floor", minimum=0.0, min_inclusive=False)
    if max_entries is not None:
        max_entries = check_int(max_entries, "max_entries", minimum=1)
    seed = check_int(seed, "seed", minimum=0, maximum=MAX_SEED)
    copy = model.copy(dtype="float64")
    analytic = copy.gradients(X, y, sample_weight)
    weights = copy.get_weights()
    generator = np.random.default_rng(seed)

    def objective() -> float:
        copy.set_weights(weights)
        return copy._objective(X, y, sample_weight)

    worst = 0.0
    for layer_index, layer_grads in enumerate(analytic):
        for name, grad in layer_grads.items():
            values = weights[layer_index][name].reshape(-1)
            entries = np.arange(values.size)
            if max_entries is not None and values.size > max_entries:
                entries = generator.choice(values.size, size=max_entries, replace=False)
            for entry in entries:
                original = values[entry]
                values[entry] = original + eps
                plus = objective()
                values[entry] = original - eps
                minus = objective()
                values[entry] = original
                numeric = (plus - minus) / (2 * eps)
                exact = float(grad.reshape(-1)[entry])
                worst = max(worst, abs(exact - numeric) / max(abs(exact), abs(numeric), floor))
    return worst


__all__ = ["gradient_check"]
