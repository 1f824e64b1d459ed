"""The NumPy reference: every kernel of the Rust engine, and ``Sequential``, in plain NumPy.

Written to be read, it is the ground truth of the parity tests (``ferronet.ops`` has the same functions with the
same names and signatures) and the baseline of the benchmarks. It needs only NumPy, never ``ferronet._core``.
Arrays are (samples, features); every function keeps its input's dtype (float32 or float64).
"""

from . import rng
from .activations import backward as activation_backward
from .activations import forward as activation_forward
from .activations import (
    leaky_relu_backward,
    leaky_relu_forward,
    linear_backward,
    linear_forward,
    relu_backward,
    relu_forward,
    sigmoid_backward,
    sigmoid_forward,
    softmax_backward,
    softmax_forward,
    tanh_backward,
    tanh_forward,
)
from .batchnorm import batchnorm_backward, batchnorm_forward_eval, batchnorm_forward_train, batchnorm_update_running
from .dense import dense_backward, dense_forward, dense_weight_grads
from .dropout import dropout_backward, dropout_forward, dropout_mask
from .losses import LOSS_FUNCTIONS, binary_cross_entropy, hinge, mse, poisson, softmax_cross_entropy
from .model import Sequential
from .optim import adam_update, momentum_update, nesterov_update, rmsprop_update, sgd_update
from .penalty import penalty, penalty_grad
from .sparse import sparse_dense_forward, sparse_dense_weight_grads

__all__ = [
    "LOSS_FUNCTIONS",
    "Sequential",
    "activation_backward",
    "activation_forward",
    "adam_update",
    "batchnorm_backward",
    "batchnorm_forward_eval",
    "batchnorm_forward_train",
    "batchnorm_update_running",
    "binary_cross_entropy",
    "dense_backward",
    "dense_forward",
    "dense_weight_grads",
    "dropout_backward",
    "dropout_forward",
    "dropout_mask",
    "hinge",
    "leaky_relu_backward",
    "leaky_relu_forward",
    "linear_backward",
    "linear_forward",
    "momentum_update",
    "mse",
    "nesterov_update",
    "penalty",
    "penalty_grad",
    "poisson",
    "relu_backward",
    "relu_forward",
    "rmsprop_update",
    "rng",
    "sgd_update",
    "sigmoid_backward",
    "sigmoid_forward",
    "softmax_backward",
    "softmax_cross_entropy",
    "softmax_forward",
    "sparse_dense_forward",
    "sparse_dense_weight_grads",
    "tanh_backward",
    "tanh_forward",
]
