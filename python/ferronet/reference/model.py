"""``Sequential`` in plain NumPy: the same models as ``ferronet.Sequential``, trained the same way.

Conventions shared with the engine (the whole-training parity tests depend on them):

- A sparse X (SciPy CSR/CSC) stays sparse: the first layer, which must be Dense, multiplies it with
  ``sparse_dense_forward`` and takes its weight gradient with ``sparse_dense_weight_grads``.
- The loss is applied to the *logits*: the last layer's output, except that a last ``softmax`` under
  softmax cross-entropy or ``sigmoid`` under binary cross-entropy is fused into the loss (``forward`` still returns
  the probabilities).
- Dropout and DropConnect masks are ``rng.mask`` keyed by (seed, step, layer index, row), where ``step`` is the
  number of optimizer updates made so far; a batch's rows are numbered 0..n-1.
- The objective is the data loss (a weighted mean over the batch) plus the penalty over Dense weights.
- ``fit``: epoch e (counted over the model's life) visits ``rng.epoch_permutation(n, seed, e)`` in consecutive
  batches; each batch runs forward and backward, then updates the BatchNorm running statistics, then every
  parameter (layers in order; W then b; gamma then beta), then ``step += 1``.
"""

from __future__ import annotations

from typing import Any, cast

import numpy as np

from .._validation import (
    SparseRows,
    as_array,
    check_any_features,
    check_bool,
    check_choice,
    check_dtype,
    check_float,
    check_int,
    check_labels,
    check_sample_weight,
    require_finite,
)
from ..layers import MAX_UNITS, Activation, BatchNorm, Dense, Dropout, Layer
from ..losses import CLASSIFICATION_LOSSES, FUSED_HEADS, LABEL_LOSSES, LOG_LINK_LOSSES, LOSSES
from ..optim import SGD, Optimizer, get_optimizer
from . import activations, rng
from .batchnorm import batchnorm_backward, batchnorm_forward_eval, batchnorm_forward_train, batchnorm_update_running
from .dense import dense_backward, dense_forward, dense_weight_grads
from .dropout import dropout_backward, dropout_forward, dropout_mask
from .losses import LOSS_FUNCTIONS
from .optim import adam_update, momentum_update, nesterov_update, rmsprop_update, sgd_update
from .penalty import penalty, penalty_grad
from .sparse import sparse_dense_forward, sparse_dense_weight_grads

#: The trainable parameters of each kind of layer, in update order.
TRAINABLE = {"dense": ("W", "b"), "batchnorm": ("gamma", "beta")}

MAX_SEED = 2**64 - 1

# What `_snapshot` saves: params, optimizer, optimizer state, optimizer updates, step.
_Snapshot = tuple[list[dict[str, np.ndarray]], Optimizer | None, dict[tuple[int, str], dict[str, np.ndarray]], int, int]


def init_weight(generator: np.random.Generator, init: str, fan_in: int, fan_out: int) -> np.ndarray:
    """A (fan_in, fan_out) float64 weight matrix drawn with ``init`` (variances as in docs/formulas.md)."""
    shape = (fan_in, fan_out)
    if init == "he":
        return generator.normal(0.0, np.sqrt(2.0 / fan_in), shape)
    if init == "xavier":
        return generator.normal(0.0, np.sqrt(2.0 / (fan_in + fan_out)), shape)
    if init == "xavier_uniform":
        limit = np.sqrt(6.0 / (fan_in + fan_out))
        return generator.uniform(-limit, limit, shape)
    if init == "lecun":
        return generator.normal(0.0, np.sqrt(1.0 / fan_in), shape)
    if init == "uniform":
        return generator.uniform(-1.0, 1.0, shape)
    if init == "small":
        return 0.01 * generator.standard_normal(shape)
    if init == "zeros":
        return np.zeros(shape)
    raise ValueError(f"unknown init {init!r}")


def _check_layers(layers: Any) -> list[Layer]:
    if not isinstance(layers, (list, tuple)):
        raise TypeError(f"layers must be a list of ferronet layers; got {type(layers).__name__}")
    if not layers:
        raise ValueError("layers must hold at least one layer; got an empty list")
    for index, layer in enumerate(layers):
        if not isinstance(layer, Layer):
            kinds = "Dense, Activation, Dropout, BatchNorm"
            raise TypeError(f"layers[{index}] must be a ferronet layer ({kinds}); got {type(layer).__name__}")
        if getattr(layer, "activation", None) == "softmax" and index != len(layers) - 1:
            raise ValueError(f"layers[{index}] uses 'softmax', which is only allowed in the last layer")
    return list(layers)


class Sequential:
    """A stack of layers trained with one loss, in NumPy (see the module docstring for the conventions)."""

    def __init__(
        self,
        layers: list[Layer],
        input_dim: int,
        loss: str = "softmax_cross_entropy",
        l1: float = 0.0,
        l2: float = 0.0,
        dtype: Any = "float32",
        seed: int = 0,
    ):
        self.layers = _check_layers(layers)
        self.input_dim = check_int(input_dim, "input_dim", minimum=1, maximum=MAX_UNITS)
        self.loss = check_choice(loss, "loss", LOSSES)
        self.l1 = check_float(l1, "l1", minimum=0.0)
        self.l2 = check_float(l2, "l2", minimum=0.0)
        self.dtype = check_dtype(dtype)
        self.seed = check_int(seed, "seed", minimum=0, maximum=MAX_SEED)

        self.widths = []  # the output width of each layer
        width = self.input_dim
        for layer in self.layers:
            width = layer.units if isinstance(layer, Dense) else width
            self.widths.append(width)
        self.n_outputs = width
        last = self.layers[-1]
        self._fused = isinstance(last, (Dense, Activation)) and (last.activation, self.loss) in FUSED_HEADS
        trainable = [i for i, layer in enumerate(self.layers) if layer.kind in TRAINABLE]
        self._first_trainable = trainable[0] if trainable else len(self.layers)

        self.step = 0  # optimizer updates made so far (keys the dropout masks)
        self.epoch = 0  # epochs trained so far (keys the shuffles)
        self._params = self._initial_params()
        self._optimizer: Optimizer | None = None
        self._optimizer_state: dict[tuple[int, str], dict[str, np.ndarray]] = {}
        self._optimizer_updates = 0

    def _initial_params(self) -> list[dict[str, np.ndarray]]:
        generator = np.random.default_rng(self.seed)
        params = []
        fan_in = self.input_dim
        for layer, width in zip(self.layers, self.widths, strict=True):
            if isinstance(layer, Dense):
                W = init_weight(generator, layer.init, fan_in, width).astype(self.dtype)
                params.append({"W": W, "b": np.zeros(width, self.dtype)})
            elif isinstance(layer, BatchNorm):
                ones, zeros = np.ones(width, self.dtype), np.zeros(width, self.dtype)
                params.append({"gamma": ones, "beta": zeros, "running_mean": zeros.copy(), "running_var": ones.copy()})
            else:
                params.append({})
            fan_in = width
        return params

    # ----------------------------------------------------------------------------------------------- weights

    def get_weights(self) -> list[dict[str, np.ndarray]]:
        """One dict per layer (Dense: W, b; BatchNorm: gamma, beta, running_mean, running_var; others empty); copies."""
        return [{key: value.copy() for key, value in params.items()} for params in self._params]

    def set_weights(self, weights: list[dict[str, Any]]) -> None:
        """Copy in weights of the structure ``get_weights`` returns (all checked before anything changes)."""
        if not isinstance(weights, (list, tuple)):
            raise TypeError(f"weights must be a list of dicts, one per layer; got {type(weights).__name__}")
        if len(weights) != len(self.layers):
            raise ValueError(f"weights must hold one dict per layer ({len(self.layers)}); got {len(weights)}")
        new_params = []
        for index, (entry, current) in enumerate(zip(weights, self._params, strict=True)):
            if not isinstance(entry, dict):
                raise TypeError(f"weights[{index}] must be a dict; got {type(entry).__name__}")
            if set(entry) != set(current):
                kind = self.layers[index].kind
                raise ValueError(f"weights[{index}] ({kind}) must have the keys {sorted(current)}; got {sorted(entry)}")
            arrays = {}
            for key, old in current.items():
                name = f"weights[{index}][{key!r}]"
                array = as_array(entry[key], name)
                if array.shape != old.shape:
                    raise ValueError(f"{name} must have shape {old.shape}; got {array.shape}")
                array = np.array(array, dtype=self.dtype, order="C")
                require_finite(array, name)
                if key == "running_var" and (array < 0).any():
                    raise ValueError(f"{name} must be >= 0; got {array.min()}")
                arrays[key] = array
            new_params.append(arrays)
        self._params = new_params

    # ------------------------------------------------------------------------------------- input checking

    def _check_X(self, X: Any) -> np.ndarray | SparseRows:
        features = check_any_features(X, "X", self.dtype, n_features=self.input_dim)
        if isinstance(features, SparseRows) and not isinstance(self.layers[0], Dense):
            raise ValueError("X is sparse: the first layer must be a Dense layer")
        return features

    def _check_y(self, y: Any, n: int) -> np.ndarray:
        """Labels (int64, (n,)) for label losses, else targets (model dtype, (n, n_outputs))."""
        k = self.n_outputs
        array = as_array(y, "y")
        if self.loss in LABEL_LOSSES:
            if array.ndim != 2:
                return check_labels(array, "y", n_samples=n, n_classes=k)
            if array.shape != (n, k):
                raise ValueError(f"y as one-hot rows must have shape ({n}, {k}); got {array.shape}")
            if not (np.isin(array, (0, 1)).all() and (array.sum(axis=1) == 1).all()):
                raise ValueError("y of shape (n_samples, n_classes) must be one-hot rows (a single 1, the rest 0)")
            return cast(np.ndarray, array.argmax(axis=1).astype(np.int64))  # NumPy types argmax as Any
        if array.ndim == 1:
            array = array.reshape(-1, 1)
        if array.ndim != 2 or array.shape != (n, k):
            shapes = f"({n}, {k})" + (f" or ({n},)" if k == 1 else "")
            raise ValueError(f"y must have shape {shapes}; got {np.shape(y)}")
        targets = np.ascontiguousarray(array, dtype=self.dtype)
        require_finite(targets, "y")
        if self.loss == "binary_cross_entropy" and (targets.min() < 0 or targets.max() > 1):
            low, high = targets.min(), targets.max()
            raise ValueError(f"y must be in [0, 1] for binary_cross_entropy; got values from {low} to {high}")
        if self.loss == "poisson" and targets.min() < 0:
            raise ValueError(f"y must be >= 0 for poisson; got a minimum of {targets.min()}")
        return targets

    def _check_data(self, X: Any, y: Any, sample_weight: Any = None) -> tuple[np.ndarray | SparseRows, np.ndarray, Any]:
        X = self._check_X(X)
        y = self._check_y(y, X.shape[0])
        return X, y, check_sample_weight(sample_weight, X.shape[0], self.dtype)

    def _check_batch_rows(self, rows: int) -> None:
        if rows < 2 and any(isinstance(layer, BatchNorm) for layer in self.layers):
            raise ValueError(f"BatchNorm needs at least 2 rows in training mode (batch statistics); got {rows}")

    def _check_optimizer(self, optimizer: Any) -> Optimizer:
        """None means the optimizer used last (or a fresh ``SGD()``); a name makes a fresh optimizer."""
        if optimizer is None:
            return self._optimizer if self._optimizer is not None else SGD()
        return get_optimizer(optimizer)

    # ----------------------------------------------------------------------------------- forward, backward

    def _is_head(self, index: int) -> bool:
        """Whether layer ``index``'s activation is fused into the loss (and skipped on the way to the logits)."""
        return self._fused and index == len(self.layers) - 1

    def _forward(
        self, X: np.ndarray | SparseRows, training: bool, keep: bool = False
    ) -> tuple[np.ndarray, list[dict[str, Any]]]:
        """The logits (the loss's input) and, if ``keep``, each layer's cache for the backward pass."""
        if training:
            self._check_batch_rows(X.shape[0])
        caches = []
        a: Any = X
        for index, (layer, params) in enumerate(zip(self.layers, self._params, strict=True)):
            cache: dict[str, Any] = {"input": a}
            if isinstance(layer, Dense):
                W, mask = params["W"], None
                if training and layer.dropconnect > 0:
                    p, stream = layer.dropconnect, rng.DROPCONNECT
                    mask = dropout_mask(W.shape[0], W.shape[1], p, self.seed, self.step, index, stream=stream)
                    W = dropout_forward(W, mask, layer.dropconnect)
                product = sparse_dense_forward if isinstance(a, SparseRows) else dense_forward
                a = product(a, W, params["b"])
                a = a if self._is_head(index) else activations.forward(layer.activation, a)
                cache.update(W=W, mask=mask)
            elif isinstance(layer, Activation):
                a = a if self._is_head(index) else activations.forward(layer.activation, a)
            elif isinstance(layer, Dropout):
                mask = None
                if training and layer.p > 0:
                    mask = dropout_mask(a.shape[0], a.shape[1], layer.p, self.seed, self.step, index)
                    a = dropout_forward(a, mask, layer.p)
                cache.update(mask=mask)
            elif isinstance(layer, BatchNorm):
                gamma, beta = params["gamma"], params["beta"]
                if training:
                    a, mean, var = batchnorm_forward_train(a, gamma, beta, layer.eps)
                    cache.update(mean=mean, var=var)
                else:
                    a = batchnorm_forward_eval(a, gamma, beta, params["running_mean"], params["running_var"], layer.eps)
            cache["output"] = a
            if keep:
                caches.append(cache)
        return a, caches

    def _backward(self, caches: list[dict[str, Any]], d_logits: np.ndarray) -> list[dict[str, np.ndarray]]:
        """d(objective)/d(param) per layer, from the caches of a training forward pass and d(loss)/d(logits)."""
        grads: list[dict[str, np.ndarray]] = [{} for _ in self.layers]
        grad = d_logits
        for index in range(len(self.layers) - 1, self._first_trainable - 1, -1):
            layer, params, cache = self.layers[index], self._params[index], caches[index]
            if isinstance(layer, (Dense, Activation)) and not self._is_head(index):
                grad = activations.backward(layer.activation, grad, cache["output"])
            if isinstance(layer, Dense):
                if index > self._first_trainable:
                    dx, dW, db = dense_backward(cache["input"], cache["W"], grad)
                else:  # nothing before this layer learns: skip dx
                    x = cache["input"]
                    weight_grads = sparse_dense_weight_grads if isinstance(x, SparseRows) else dense_weight_grads
                    dx, (dW, db) = None, weight_grads(x, grad)
                if cache["mask"] is not None:
                    dW = dropout_backward(dW, cache["mask"], layer.dropconnect)
                if self.l1 or self.l2:
                    dW += penalty_grad(params["W"], self.l1, self.l2)
                grads[index] = {"W": dW, "b": db}
                if dx is not None:  # None only at the first trainable layer, where the loop ends
                    grad = dx
            elif isinstance(layer, BatchNorm):
                grad, dgamma, dbeta = batchnorm_backward(grad, cache["input"], params["gamma"], layer.eps)
                grads[index] = {"gamma": dgamma, "beta": dbeta}
            elif isinstance(layer, Dropout) and cache["mask"] is not None:
                grad = dropout_backward(grad, cache["mask"], layer.p)
        return grads

    def _penalty(self) -> float:
        if not (self.l1 or self.l2):
            return 0.0
        weights = (
            params["W"] for layer, params in zip(self.layers, self._params, strict=True) if isinstance(layer, Dense)
        )
        return sum((penalty(W, self.l1, self.l2) for W in weights), 0.0)

    def _correct(self, logits: np.ndarray, y: np.ndarray) -> float:
        """Correct predictions among the rows (binary cross-entropy: correct outputs / outputs per row)."""
        if self.loss in LABEL_LOSSES:
            return float(np.count_nonzero(logits.argmax(axis=1) == y))
        if self.loss == "binary_cross_entropy":
            return float(np.count_nonzero((logits > 0) == (y > 0.5)) / logits.shape[1])
        return 0.0

    # -------------------------------------------------------------------------------------- public passes

    def forward(self, X: Any, training: bool = False) -> np.ndarray:
        """The last layer's output (probabilities for a fused softmax/sigmoid head). No state changes."""
        X = self._check_X(X)
        logits, _ = self._forward(X, check_bool(training, "training"))
        last = self.layers[-1]
        if self._fused and isinstance(last, (Dense, Activation)):  # a fused head is one of these
            return activations.forward(last.activation, logits)
        return logits

    def objective(self, X: Any, y: Any, sample_weight: Any = None, training: bool = True) -> float:
        """Data loss + penalty; in training mode (the default) it is the function ``gradients`` differentiates."""
        X, y, sample_weight = self._check_data(X, y, sample_weight)
        logits, _ = self._forward(X, check_bool(training, "training"))
        data_loss, _ = LOSS_FUNCTIONS[self.loss](logits, y, sample_weight)
        return data_loss + self._penalty()

    def _loss_and_grads(
        self, X: np.ndarray | SparseRows, y: np.ndarray, sample_weight: np.ndarray | None
    ) -> tuple[float, np.ndarray, list[dict[str, np.ndarray]], list[dict[str, Any]]]:
        """A training pass: ``(objective, logits, grads, caches)``."""
        logits, caches = self._forward(X, training=True, keep=True)
        data_loss, d_logits = LOSS_FUNCTIONS[self.loss](logits, y, sample_weight)
        grads = self._backward(caches, d_logits)
        return data_loss + self._penalty(), logits, grads, caches

    def gradients(self, X: Any, y: Any, sample_weight: Any = None) -> list[dict[str, np.ndarray]]:
        """d(objective)/d(param) in training mode at the current step (BatchNorm: gamma, beta); no update."""
        X, y, sample_weight = self._check_data(X, y, sample_weight)
        return self._loss_and_grads(X, y, sample_weight)[2]

    def evaluate(self, X: Any, y: Any, sample_weight: Any = None) -> dict[str, float]:
        """``{"loss": objective, "accuracy": ...}`` in inference mode (accuracy for classification losses only)."""
        X, y, sample_weight = self._check_data(X, y, sample_weight)
        logits, _ = self._forward(X, training=False)
        data_loss, _ = LOSS_FUNCTIONS[self.loss](logits, y, sample_weight)
        result = {"loss": data_loss + self._penalty()}
        if self.loss in CLASSIFICATION_LOSSES:
            result["accuracy"] = self._correct(logits, y) / X.shape[0]
        return result

    def predict(self, X: Any) -> np.ndarray:
        """Class indices (softmax cross-entropy, hinge); 0/1 (binary cross-entropy); values (mse); exp(output)
        (poisson).

        With one output, binary cross-entropy and mse predictions have shape (n,), else (n, outputs).
        """
        logits, _ = self._forward(self._check_X(X), training=False)
        if self.loss in LABEL_LOSSES:
            return cast(np.ndarray, logits.argmax(axis=1))
        predictions = (logits > 0).astype(np.int64) if self.loss == "binary_cross_entropy" else logits
        if self.loss in LOG_LINK_LOSSES:
            predictions = np.exp(logits)
        return predictions[:, 0] if self.n_outputs == 1 else predictions

    # ------------------------------------------------------------------------------------------- training

    def _update_rule(
        self, config: dict[str, Any], param: np.ndarray, grad: np.ndarray, state: dict[str, np.ndarray], t: int
    ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """``(new_param, new_state)`` for one parameter with the optimizer ``config`` at update number t (from 1)."""
        kind, lr = config["kind"], config["lr"]
        if kind == "sgd" and config["momentum"] == 0:
            return sgd_update(param, grad, lr), {}
        if kind == "sgd":
            rule = nesterov_update if config["nesterov"] else momentum_update
            velocity = state["velocity"] if "velocity" in state else np.zeros_like(param)
            param, velocity = rule(param, grad, velocity, lr, config["momentum"])
            return param, {"velocity": velocity}
        if kind == "adam":
            m = state["m"] if "m" in state else np.zeros_like(param)
            v = state["v"] if "v" in state else np.zeros_like(param)
            param, m, v = adam_update(param, grad, m, v, t, lr, config["beta1"], config["beta2"], config["eps"])
            return param, {"m": m, "v": v}
        if kind == "rmsprop":
            sq = state["sq"] if "sq" in state else np.zeros_like(param)
            param, sq = rmsprop_update(param, grad, sq, lr, config["rho"], config["eps"])
            return param, {"sq": sq}
        raise ValueError(f"unknown optimizer kind {kind!r}")

    def _train_batch(
        self, X: np.ndarray | SparseRows, y: np.ndarray, sample_weight: Any, optimizer: Optimizer
    ) -> tuple[float, float]:
        """One update; returns ``(objective before the update, correct predictions of the training pass)``.

        Everything is computed before anything is assigned, so a failure leaves the model unchanged.
        """
        objective, logits, grads, caches = self._loss_and_grads(X, y, sample_weight)
        if not np.isfinite(objective):
            raise FloatingPointError(f"the loss is {objective} (not finite) at step {self.step}")
        same = optimizer is self._optimizer
        state = self._optimizer_state if same else {}
        t = (self._optimizer_updates if same else 0) + 1
        config = optimizer.config()

        new_params = [dict(params) for params in self._params]
        for index, layer in enumerate(self.layers):
            if isinstance(layer, BatchNorm):
                params, cache = new_params[index], caches[index]
                running = params["running_mean"], params["running_var"]
                batch = cache["mean"], cache["var"], X.shape[0]
                params["running_mean"], params["running_var"] = batchnorm_update_running(
                    *running, *batch, layer.momentum
                )
        new_state = {}
        for index, layer in enumerate(self.layers):
            for name in TRAINABLE.get(layer.kind, ()):
                key = (index, name)
                new_params[index][name], new_state[key] = self._update_rule(
                    config, self._params[index][name], grads[index][name], state.get(key, {}), t
                )

        self._params, self._optimizer = new_params, optimizer
        self._optimizer_state, self._optimizer_updates = new_state, t
        self.step += 1
        return objective, self._correct(logits, y)

    def train_step(self, X: Any, y: Any, optimizer: Any = None, sample_weight: Any = None) -> float:
        """One optimizer update on a batch; returns the batch objective at the weights before the update."""
        X, y, sample_weight = self._check_data(X, y, sample_weight)
        optimizer = self._check_optimizer(optimizer)
        self._check_batch_rows(X.shape[0])
        return self._train_batch(X, y, sample_weight, optimizer)[0]

    def fit(
        self,
        X: Any,
        y: Any,
        epochs: int = 1,
        batch_size: int = 32,
        optimizer: Any = None,
        shuffle: bool = True,
        sample_weight: Any = None,
    ) -> dict[str, list[float]]:
        """Train for ``epochs`` epochs of consecutive batches of the epoch's order; returns the history.

        ``history["loss"][e]`` is the mean of the batch objectives weighted by batch rows; ``history["accuracy"]``
        (classification losses) the fraction of correct predictions of the training passes. A non-finite loss
        restores the model to the start of the epoch and raises ``FloatingPointError``.
        """
        X, y, sample_weight = self._check_data(X, y, sample_weight)
        epochs = check_int(epochs, "epochs", minimum=0)
        batch_size = check_int(batch_size, "batch_size", minimum=1)
        shuffle = check_bool(shuffle, "shuffle")
        optimizer = self._check_optimizer(optimizer)
        n = X.shape[0]
        self._check_batch_rows(min(batch_size, n))
        if n % batch_size:
            self._check_batch_rows(n % batch_size)

        history: dict[str, list[float]] = {"loss": []}
        if self.loss in CLASSIFICATION_LOSSES:
            history["accuracy"] = []
        for _ in range(epochs):
            order = rng.epoch_permutation(n, self.seed, self.epoch) if shuffle else np.arange(n)
            start_state = self._snapshot()
            loss_sum = correct = 0.0
            for batch, start in enumerate(range(0, n, batch_size)):
                rows = order[start : start + batch_size]
                weights = None if sample_weight is None else sample_weight[rows]
                try:
                    batch_X = X.take(rows) if isinstance(X, SparseRows) else X[rows]
                    objective, batch_correct = self._train_batch(batch_X, y[rows], weights, optimizer)
                except FloatingPointError as error:
                    self._restore(start_state)
                    where = f"in epoch {self.epoch}, batch {batch}; the model was restored to the start of the epoch"
                    raise FloatingPointError(f"{error} {where}") from None
                loss_sum += objective * len(rows)
                correct += batch_correct
            history["loss"].append(loss_sum / n)
            if "accuracy" in history:
                history["accuracy"].append(correct / n)
            self.epoch += 1
        return history

    def _snapshot(self) -> _Snapshot:
        # Updates replace arrays and never modify them, so shallow copies keep the whole state.
        params = [dict(p) for p in self._params]
        return params, self._optimizer, dict(self._optimizer_state), self._optimizer_updates, self.step

    def _restore(self, snapshot: _Snapshot) -> None:
        self._params, self._optimizer, self._optimizer_state, self._optimizer_updates, self.step = snapshot
