"""Type stubs for ``ferronet._core``, the compiled engine (``rust/py/*.rs``).

Float arrays are float32 or float64 and C-contiguous (``ferronet.ops`` and ``Sequential`` convert before calling);
kernels return arrays of their first float argument's dtype. A sparse X is a CSR matrix by its parts (``_Csr``:
``data`` in the model's dtype, int32 or int64 ``indices`` and ``indptr``, ``shape``), read without densifying it. ``tests/test_typing.py`` checks that every name the
compiled module exports is declared here.
"""

from collections.abc import Sequence
from typing import Any, Literal, Protocol, TypeVar, final, overload

import numpy as np
from numpy.typing import NDArray

# The engine's two float types: a kernel's result has the dtype of its float arguments.
_F = TypeVar("_F", np.float32, np.float64)

_FloatArray = NDArray[np.floating[Any]]
_Labels = NDArray[np.int64]
_Mask = NDArray[np.bool_]
_DtypeName = Literal["float32", "float64"]

class _Csr(Protocol):
    """A CSR matrix by its parts: SciPy's CSR matrices and arrays, ``ferronet._validation.SparseRows``."""

    @property
    def data(self) -> _FloatArray: ...
    @property
    def indices(self) -> NDArray[np.integer[Any]]: ...
    @property
    def indptr(self) -> NDArray[np.integer[Any]]: ...
    @property
    def shape(self) -> tuple[int, int]: ...

_X = _FloatArray | _Csr

__all__ = [
    "ChunkReport",
    "Dataset",
    "Model",
    "adam_update",
    "after_fork",
    "batchnorm_backward",
    "batchnorm_forward_eval",
    "batchnorm_forward_train",
    "batchnorm_update_running",
    "binary_cross_entropy",
    "dense_backward",
    "dense_forward",
    "dropout_backward",
    "dropout_forward",
    "dropout_mask",
    "epoch_permutation",
    "get_num_threads",
    "hash_words",
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
    "read_model_fd",
    "read_model_file",
    "relu_backward",
    "relu_forward",
    "rmsprop_update",
    "set_num_threads",
    "sgd_update",
    "sigmoid_backward",
    "sigmoid_forward",
    "softmax_backward",
    "softmax_cross_entropy",
    "softmax_forward",
    "sparse_dense_forward",
    "sparse_dense_weight_grads",
    "splitmix64",
    "tanh_backward",
    "tanh_forward",
    "unbuilt_model_file",
]

# ---- module functions (rust/py/mod.rs) ------------------------------------------------------------------

def get_num_threads() -> int: ...
def set_num_threads(n: int) -> None: ...
def after_fork() -> None: ...

# ---- training engine (rust/py/model.rs, dataset.rs, report.rs) ------------------------------------------

@final
class Dataset:
    """A training set copied once into engine memory in X's dtype (labels' range recorded); a sparse X is kept as
    CSR."""

    def __new__(
        cls,
        x: _X,
        y: _Labels | _FloatArray,
        use_labels: bool,
        sample_weight: _FloatArray | None = None,
    ) -> Dataset: ...
    @property
    def rows(self) -> int: ...
    @property
    def cols(self) -> int: ...
    @property
    def classes(self) -> int: ...
    @property
    def dtype(self) -> _DtypeName: ...

@final
class ChunkReport:
    """Progress of the current epoch after ``Model.train_chunk``."""

    @property
    def done(self) -> bool: ...
    @property
    def seen(self) -> int: ...
    @property
    def batches(self) -> int: ...
    @property
    def loss_sum(self) -> float: ...
    @property
    def correct(self) -> float: ...
    @property
    def divergence(self) -> tuple[int, float] | None: ...

@final
class Model:
    """A model (network + trainer): parameters, optimizer and its state, counters.

    ``config`` is the model config as JSON (``Sequential.config()``, with ``input_dim``); optimizers are JSON of
    ``Optimizer.config()``.
    """

    def __new__(cls, config: str) -> Model: ...
    def after_fork(self) -> None: ...
    def copy(self) -> Model: ...
    @property
    def input_dim(self) -> int: ...
    @property
    def output_dim(self) -> int: ...
    @property
    def n_params(self) -> int: ...
    @property
    def config(self) -> str: ...
    @property
    def counters(self) -> dict[str, int]: ...
    @property
    def optimizer(self) -> str | None: ...
    @property
    def lr(self) -> float | None: ...
    @overload
    def forward(self, x: NDArray[_F], training: bool, logits_only: bool) -> NDArray[_F]: ...
    @overload
    def forward(self, x: _Csr, training: bool, logits_only: bool) -> _FloatArray: ...
    def evaluate(
        self, x: _X, y: _Labels | _FloatArray, sample_weight: _FloatArray | None = None
    ) -> tuple[float, float]: ...
    def gradients(
        self, x: _X, y: _Labels | _FloatArray, sample_weight: _FloatArray | None = None
    ) -> tuple[float, list[dict[str, _FloatArray]]]: ...
    def trace(self, x: _X, y: _Labels | _FloatArray, sample_weight: _FloatArray | None = None) -> dict[str, Any]: ...
    def get_weights(self) -> list[dict[str, _FloatArray]]: ...
    def set_weights(self, weights: Sequence[dict[str, _FloatArray]]) -> None: ...
    def state_dict(self, include_optimizer: bool) -> tuple[dict[str, _FloatArray], str]: ...
    def load_state_dict(self, tensors: dict[str, _FloatArray], meta: str) -> None: ...
    def to_file_bytes(self, include_optimizer: bool, metadata: dict[str, str] | None = None) -> bytes: ...
    def set_lr(self, lr: float) -> None: ...
    def train_step(
        self,
        x: _X,
        y: _Labels | _FloatArray,
        sample_weight: _FloatArray | None = None,
        optimizer: str | None = None,
        reset: bool = False,
    ) -> tuple[float, float]: ...
    def begin_fit(self, optimizer: str, reset: bool) -> None: ...
    def end_fit(self, commit: bool) -> None: ...
    def begin_epoch(self, dataset: Dataset, batch_size: int, shuffle: bool, first_batch: int = 0) -> None: ...
    def train_chunk(self, dataset: Dataset, seconds: float, max_batches: int | None = None) -> ChunkReport: ...

def read_model_file(data: bytes, source: str) -> tuple[str, Model | None, str | None, dict[str, str]]: ...
def read_model_fd(fd: int, source: str) -> tuple[str, Model | None, str | None, dict[str, str]]: ...
def unbuilt_model_file(config: str) -> bytes: ...

# ---- kernels (rust/py/ops.rs) ---------------------------------------------------------------------------

def dense_forward(x: NDArray[_F], w: NDArray[_F], b: NDArray[_F]) -> NDArray[_F]: ...
def dense_backward(x: NDArray[_F], w: NDArray[_F], dz: NDArray[_F]) -> tuple[NDArray[_F], NDArray[_F], NDArray[_F]]: ...
def sparse_dense_forward(x: _Csr, w: NDArray[_F], b: NDArray[_F]) -> NDArray[_F]: ...
def sparse_dense_weight_grads(x: _Csr, dz: NDArray[_F]) -> tuple[NDArray[_F], NDArray[_F]]: ...
def relu_forward(z: NDArray[_F]) -> NDArray[_F]: ...
def relu_backward(grad: NDArray[_F], output: NDArray[_F]) -> NDArray[_F]: ...

# slope defaults to 0.01 (LEAKY_SLOPE in rust/kernels/activation.rs; the runtime signature shows it as `...`).
def leaky_relu_forward(z: NDArray[_F], slope: float = ...) -> NDArray[_F]: ...
def leaky_relu_backward(grad: NDArray[_F], output: NDArray[_F], slope: float = ...) -> NDArray[_F]: ...
def sigmoid_forward(z: NDArray[_F]) -> NDArray[_F]: ...
def sigmoid_backward(grad: NDArray[_F], output: NDArray[_F]) -> NDArray[_F]: ...
def tanh_forward(z: NDArray[_F]) -> NDArray[_F]: ...
def tanh_backward(grad: NDArray[_F], output: NDArray[_F]) -> NDArray[_F]: ...
def linear_forward(z: NDArray[_F]) -> NDArray[_F]: ...
def linear_backward(grad: NDArray[_F], output: NDArray[_F]) -> NDArray[_F]: ...
def softmax_forward(z: NDArray[_F]) -> NDArray[_F]: ...
def softmax_backward(grad: NDArray[_F], output: NDArray[_F]) -> NDArray[_F]: ...

# Losses return (mean loss, gradient with respect to the first argument).
def softmax_cross_entropy(
    logits: NDArray[_F], labels: _Labels, sample_weight: NDArray[_F] | None = None
) -> tuple[float, NDArray[_F]]: ...
def mse(
    pred: NDArray[_F], target: NDArray[_F], sample_weight: NDArray[_F] | None = None
) -> tuple[float, NDArray[_F]]: ...
def binary_cross_entropy(
    logits: NDArray[_F], target: NDArray[_F], sample_weight: NDArray[_F] | None = None
) -> tuple[float, NDArray[_F]]: ...
def hinge(
    scores: NDArray[_F], labels: _Labels, sample_weight: NDArray[_F] | None = None
) -> tuple[float, NDArray[_F]]: ...
def poisson(
    z: NDArray[_F], target: NDArray[_F], sample_weight: NDArray[_F] | None = None
) -> tuple[float, NDArray[_F]]: ...
def penalty(w: NDArray[_F], l1: float, l2: float) -> float: ...
def penalty_grad(w: NDArray[_F], l1: float, l2: float) -> NDArray[_F]: ...
def batchnorm_forward_train(
    x: NDArray[_F], gamma: NDArray[_F], beta: NDArray[_F], eps: float
) -> tuple[NDArray[_F], NDArray[_F], NDArray[_F]]:
    """(y, batch mean, batch variance)."""

def batchnorm_forward_eval(
    x: NDArray[_F],
    gamma: NDArray[_F],
    beta: NDArray[_F],
    running_mean: NDArray[_F],
    running_var: NDArray[_F],
    eps: float,
) -> NDArray[_F]: ...
def batchnorm_backward(
    dy: NDArray[_F], x: NDArray[_F], gamma: NDArray[_F], eps: float
) -> tuple[NDArray[_F], NDArray[_F], NDArray[_F]]:
    """(dx, dgamma, dbeta)."""

def batchnorm_update_running(
    running_mean: NDArray[_F],
    running_var: NDArray[_F],
    batch_mean: NDArray[_F],
    batch_var: NDArray[_F],
    n: int,
    momentum: float,
) -> tuple[NDArray[_F], NDArray[_F]]: ...
def dropout_forward(x: NDArray[_F], mask: _Mask, p: float) -> NDArray[_F]: ...
def dropout_backward(grad: NDArray[_F], mask: _Mask, p: float) -> NDArray[_F]: ...
def dropout_mask(rows: int, cols: int, p: float, seed: int, step: int, layer: int, stream: int = ...) -> _Mask:
    """The engine's keep mask (True = kept) for (seed, stream, step, layer); stream defaults to 2, dropout's."""

def sgd_update(param: NDArray[_F], grad: NDArray[_F], lr: float) -> NDArray[_F]: ...
def momentum_update(
    param: NDArray[_F], grad: NDArray[_F], velocity: NDArray[_F], lr: float, momentum: float
) -> tuple[NDArray[_F], NDArray[_F]]: ...
def nesterov_update(
    param: NDArray[_F], grad: NDArray[_F], velocity: NDArray[_F], lr: float, momentum: float
) -> tuple[NDArray[_F], NDArray[_F]]: ...
def adam_update(
    param: NDArray[_F],
    grad: NDArray[_F],
    m: NDArray[_F],
    v: NDArray[_F],
    step: int,
    lr: float,
    beta1: float,
    beta2: float,
    eps: float,
) -> tuple[NDArray[_F], NDArray[_F], NDArray[_F]]: ...
def rmsprop_update(
    param: NDArray[_F], grad: NDArray[_F], sq: NDArray[_F], lr: float, rho: float, eps: float
) -> tuple[NDArray[_F], NDArray[_F]]: ...
def epoch_permutation(n: int, seed: int, epoch: int) -> NDArray[np.int64]: ...
def splitmix64(x: int) -> int: ...
def hash_words(words: Sequence[int]) -> int: ...
