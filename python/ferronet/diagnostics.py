"""Per-layer statistics of a network on a batch: what vanishing or exploding signals look like, in numbers.

``layer_stats`` runs one training-mode pass of the engine (``Sequential._trace``: dropout masks of the current step,
BatchNorm batch statistics, nothing updated) and summarises, for every layer, its output and the gradient of the
loss with respect to that output. The engine computes the arrays; this module only reduces them.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._validation import check_int
from .model import Sequential

#: The parameter whose gradient ``weight_grad_std`` reports, per kind of layer (BatchNorm's weights are gamma).
WEIGHT_PARAMETER = {"dense": "W", "batchnorm": "gamma"}


def layer_name(kind: str, index: int) -> str:
    """The name ``model.summary()`` prints for layer ``index``: its kind in lower case and its position.

    Parameters
    ----------
    kind : str
        The layer's ``kind`` (``"dense"``, ``"activation"``, ``"batchnorm"``, ``"dropout"``).
    index : int
        Its position in the model, >= 0.

    Returns
    -------
    str
        ``f"{kind}_{index}"``.

    Examples
    --------
    >>> layer_name("dense", 0)
    'dense_0'
    """
    index = check_int(index, "index", minimum=0)
    return f"{kind}_{index}"


def _summary(values: np.ndarray, bins: int) -> tuple[float, float, float, tuple[np.ndarray, np.ndarray]]:
    """(mean, std, fraction of exact zeros, histogram) of an array; the histogram counts its finite values."""
    flat = values.reshape(-1)
    with np.errstate(over="ignore", invalid="ignore"):  # an exploding network has inf values: nan/inf statistics
        mean = float(flat.mean(dtype=np.float64))
        std = float(flat.std(dtype=np.float64))
    zero_fraction = float(np.count_nonzero(flat == 0)) / flat.size
    finite = flat[np.isfinite(flat)]  # np.histogram cannot place inf or NaN
    counts, edges = np.histogram(finite.astype(np.float64, copy=False), bins=bins)
    return mean, std, zero_fraction, (counts, edges)


def _std(values: np.ndarray) -> float:
    with np.errstate(over="ignore", invalid="ignore"):
        return float(values.std(dtype=np.float64))


def layer_stats(
    model: Sequential, X: Any, y: Any, sample_weight: Any = None, *, bins: int = 30
) -> list[dict[str, Any]]:
    """Per-layer statistics of one training-mode pass over (X, y).

    When the last layer's softmax or sigmoid is fused into the loss, its "activation" is the logits (the loss's
    input) and its gradient d loss / d logits. Nothing in the model changes (no update, no running statistics).

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
    bins : int, default 30
        Histogram bins, 1 to 10,000.

    Returns
    -------
    list of dict
        One dict per layer with:

        - ``name`` (``dense_0``, ``activation_1``, ``batchnorm_2``, ``dropout_3``... as ``model.summary()``
          prints), ``kind``, ``index``, ``units`` and ``activation`` (the layer's activation name, or None);
        - ``activation_mean``, ``activation_std``, ``activation_zero_fraction``, ``activation_hist``
          ``(counts, edges)`` of the layer's output over all rows and units (``bins`` bins, finite values);
        - ``grad_mean``, ``grad_std``, ``grad_zero_fraction``, ``grad_hist``: the same for d loss / d output;
        - ``weight_std`` and ``weight_grad_std``: the standard deviation of the weights and of d objective /
          d weights (Dense: W; BatchNorm: gamma), None for layers without weights.

    Raises
    ------
    TypeError
        If ``model`` is not a ``ferronet.Sequential``.
    ValueError
        If the model is not built, or the data or ``bins`` is not valid.
    """
    if not isinstance(model, Sequential):
        raise TypeError(f"model must be a ferronet.Sequential; got {type(model).__name__}")
    bins = check_int(bins, "bins", minimum=1, maximum=10_000)
    trace = model._trace(X, y, sample_weight)
    parameters = model.get_weights()

    stats = []
    for index, layer in enumerate(model.layers):
        mean, std, zeros, hist = _summary(trace["outputs"][index], bins)
        grad_mean, grad_std, grad_zeros, grad_hist = _summary(trace["output_grads"][index], bins)
        key = WEIGHT_PARAMETER.get(layer.kind)
        stats.append(
            {
                "name": layer_name(layer.kind, index),
                "kind": layer.kind,
                "index": index,
                "units": trace["outputs"][index].shape[1],
                "activation": getattr(layer, "activation", None),
                "activation_mean": mean,
                "activation_std": std,
                "activation_zero_fraction": zeros,
                "activation_hist": hist,
                "grad_mean": grad_mean,
                "grad_std": grad_std,
                "grad_zero_fraction": grad_zeros,
                "grad_hist": grad_hist,
                "weight_std": None if key is None else _std(parameters[index][key]),
                "weight_grad_std": None if key is None else _std(trace["param_grads"][index][key]),
            }
        )
    return stats


def format_table(stats: list[dict[str, Any]]) -> str:
    """The statistics as a plain-text table, one line per layer (for scripts and notebooks).

    Parameters
    ----------
    stats : list of dict
        What ``layer_stats`` returns.

    Returns
    -------
    str
        A header, then per layer its name, output mean, std and zero fraction, d loss / d output std and weight
        gradient std ("-" for layers without weights).
    """
    header = f"{'layer':<16}{'act mean':>11}{'act std':>11}{'zeros':>7}{'grad std':>11}{'W grad std':>12}"
    lines = [header]
    for row in stats:
        weight = "-" if row["weight_grad_std"] is None else f"{row['weight_grad_std']:.3e}"
        lines.append(
            f"{row['name']:<16}{row['activation_mean']:>11.3e}{row['activation_std']:>11.3e}"
            f"{row['activation_zero_fraction']:>7.2f}{row['grad_std']:>11.3e}{weight:>12}"
        )
    return "\n".join(lines)


__all__ = ["format_table", "layer_name", "layer_stats"]
