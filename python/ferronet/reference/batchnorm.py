"""Batch normalization with torch.nn.BatchNorm1d semantics, per feature (column) over the rows of a batch.

Training: ``mu = mean(x)``, ``var = mean((x - mu)**2)`` (biased), ``x_hat = (x - mu) / sqrt(var + eps)``,
``y = gamma * x_hat + beta``. Inference uses the running statistics instead of the batch's.
"""

from __future__ import annotations

import numpy as np


def _batch_statistics(x: np.ndarray, eps: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(mean, biased var, inv_std = 1/sqrt(var + eps), x_hat = (x - mean) * inv_std)`` of the columns of x."""
    mean = x.mean(axis=0)
    x_hat = x - mean
    var = (x_hat * x_hat).mean(axis=0)
    inv_std = 1 / np.sqrt(var + x.dtype.type(eps))
    x_hat *= inv_std
    return mean, var, inv_std, x_hat


def batchnorm_forward_train(
    x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, eps: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(y, batch_mean, batch_var)`` with ``y = gamma * (x - mean) / sqrt(var + eps) + beta``, var biased."""
    mean, var, _, x_hat = _batch_statistics(x, eps)
    y = x_hat
    y *= gamma
    y += beta
    return y, mean, var


def batchnorm_forward_eval(
    x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, running_mean: np.ndarray, running_var: np.ndarray, eps: float
) -> np.ndarray:
    """``y = gamma * (x - running_mean) / sqrt(running_var + eps) + beta``."""
    y: np.ndarray = x - running_mean
    y *= 1 / np.sqrt(running_var + x.dtype.type(eps))
    y *= gamma
    y += beta
    return y


def batchnorm_backward(
    dy: np.ndarray, x: np.ndarray, gamma: np.ndarray, eps: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(dx, dgamma, dbeta)``, recomputing the batch statistics from x (n rows):

    ``dbeta = sum(dy)``, ``dgamma = sum(dy * x_hat)``,
    ``dx = gamma / (n * sqrt(var + eps)) * (n*dy - dbeta - x_hat * dgamma)``.
    """
    n = x.shape[0]
    _, _, inv_std, x_hat = _batch_statistics(x, eps)
    dbeta = dy.sum(axis=0)
    dgamma = (dy * x_hat).sum(axis=0)
    dx = n * dy
    dx -= dbeta
    dx -= x_hat * dgamma
    dx *= gamma * inv_std / n
    return dx, dgamma, dbeta


def batchnorm_update_running(
    running_mean: np.ndarray,
    running_var: np.ndarray,
    batch_mean: np.ndarray,
    batch_var: np.ndarray,
    n: int,
    momentum: float,
) -> tuple[np.ndarray, np.ndarray]:
    """``(k*r_mean + (1-k)*mean, k*r_var + (1-k)*var*n/(n-1))`` with k = ``momentum``, the keep factor (0.9 = torch's 0.1).

    The batch variance is unbiased by n/(n-1) (n rows); k, 1 - k and n are in the arrays' dtype.
    """
    if n < 2:
        raise ValueError(f"BatchNorm needs at least 2 rows to update its running variance; got n={n}")
    dtype = running_mean.dtype.type
    keep = dtype(momentum)
    rows = dtype(n)
    new_mean = keep * running_mean + (1 - keep) * batch_mean
    new_var = keep * running_var + (1 - keep) * batch_var * rows / (rows - 1)
    return new_mean, new_var
