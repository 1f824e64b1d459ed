"""A fast NumPy training loop: the baseline the benchmarks compare ferronet with.

Unlike ``ferronet.reference`` (written to be read), this is what a careful NumPy user would write for speed: every
buffer allocated once for the batch size, BLAS products written into them (``np.matmul(..., out=...)``), in-place
element-wise updates, no temporaries in the steady state. It trains ReLU networks with softmax cross-entropy or
mean squared error, by SGD with momentum (torch's rule) or Adam, exactly as ferronet does (same formulas, so the
benchmarks can check that both agree before timing them).
"""

from __future__ import annotations

import numpy as np


class NumpyLoop:
    """A ReLU MLP (linear last layer) trained by a preallocated, in-place NumPy loop."""

    def __init__(
        self,
        weights: list[dict[str, np.ndarray]],
        loss: str,
        optimizer: dict[str, float | str],
        batch_size: int,
        dtype: str,
    ):
        if loss not in ("softmax_cross_entropy", "mse"):
            raise ValueError(f"loss must be 'softmax_cross_entropy' or 'mse'; got {loss!r}")
        self.dtype = np.dtype(dtype)
        self.W = [np.array(layer["W"], dtype=self.dtype) for layer in weights]
        self.b = [np.array(layer["b"], dtype=self.dtype) for layer in weights]
        self.loss = loss
        self.optimizer = dict(optimizer)
        self.t = 0
        widths = [self.W[0].shape[0]] + [w.shape[1] for w in self.W]
        n = batch_size
        self.acts = [np.empty((n, width), self.dtype) for width in widths]  # acts[0] is the gathered batch
        self.grads = [np.empty((n, width), self.dtype) for width in widths]
        self.dW = [np.empty_like(w) for w in self.W]
        self.db = [np.empty_like(b) for b in self.b]
        self.first = [np.zeros_like(p) for p in (*self.W, *self.b)]
        self.second = [np.zeros_like(p) for p in (*self.W, *self.b)] if optimizer["kind"] == "adam" else []
        self.scratch = [np.empty_like(p) for p in (*self.W, *self.b)]
        self.rows_max = np.empty((n, 1), self.dtype)

    def fit(self, X: np.ndarray, y: np.ndarray, batch_size: int, order: np.ndarray) -> None:
        """One epoch over the rows of ``X`` in ``order``, in batches of ``batch_size``."""
        for start in range(0, len(order), batch_size):
            index = order[start : start + batch_size]
            self.step(X, y, index)

    def step(self, X: np.ndarray, y: np.ndarray, index: np.ndarray) -> None:
        n = len(index)
        acts = [a[:n] for a in self.acts]
        grads = [g[:n] for g in self.grads]
        np.take(X, index, axis=0, out=acts[0])
        last = len(self.W) - 1
        for layer, (W, b) in enumerate(zip(self.W, self.b, strict=True)):
            out = acts[layer + 1]
            np.matmul(acts[layer], W, out=out)
            out += b
            if layer < last:
                np.maximum(out, 0, out=out)
        self._loss_gradient(acts[-1], y[index], grads[-1])
        for layer in range(last, -1, -1):
            g = grads[layer + 1]
            np.matmul(acts[layer].T, g, out=self.dW[layer])
            np.sum(g, axis=0, out=self.db[layer])
            if layer > 0:
                previous = grads[layer]
                np.matmul(g, self.W[layer].T, out=previous)
                previous *= acts[layer] > 0
        self._update()

    def _loss_gradient(self, z: np.ndarray, y: np.ndarray, grad: np.ndarray) -> None:
        n = z.shape[0]
        if self.loss == "mse":
            np.subtract(z, y.reshape(n, -1), out=grad)
            grad *= 2.0 / grad.size
            return
        rows_max = self.rows_max[:n]
        np.max(z, axis=1, keepdims=True, out=rows_max)
        np.subtract(z, rows_max, out=grad)
        np.exp(grad, out=grad)
        np.sum(grad, axis=1, keepdims=True, out=rows_max)
        grad /= rows_max
        grad[np.arange(n), y] -= 1.0
        grad /= n

    def _update(self) -> None:
        self.t += 1
        params = [*self.W, *self.b]
        gradients = [*self.dW, *self.db]
        lr = float(self.optimizer["lr"])
        if self.optimizer["kind"] == "sgd":
            momentum = float(self.optimizer["momentum"])
            for p, g, v in zip(params, gradients, self.first, strict=True):
                v *= momentum
                v += g
                np.multiply(v, lr, out=g)  # the gradient's buffer is free now
                p -= g
            return
        beta1, beta2, eps = (float(self.optimizer[k]) for k in ("beta1", "beta2", "eps"))
        correction1, correction2 = 1 - beta1**self.t, 1 - beta2**self.t
        for p, g, m, s, tmp in zip(params, gradients, self.first, self.second, self.scratch, strict=True):
            m *= beta1
            np.multiply(g, 1 - beta1, out=tmp)
            m += tmp
            np.multiply(g, g, out=g)
            s *= beta2
            g *= 1 - beta2
            s += g
            np.divide(s, correction2, out=tmp)
            np.sqrt(tmp, out=tmp)
            tmp += eps
            np.divide(m, tmp, out=tmp)
            tmp *= lr / correction1
            p -= tmp

    def weights(self) -> list[dict[str, np.ndarray]]:
        return [{"W": W.copy(), "b": b.copy()} for W, b in zip(self.W, self.b, strict=True)]

    def predict(self, X: np.ndarray) -> np.ndarray:
        a = X
        for layer, (W, b) in enumerate(zip(self.W, self.b, strict=True)):
            a = a @ W
            a += b
            if layer < len(self.W) - 1:
                np.maximum(a, 0, out=a)
        return a.argmax(axis=1) if self.loss == "softmax_cross_entropy" else a
