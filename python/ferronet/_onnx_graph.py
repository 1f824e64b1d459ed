"""The ONNX nodes of a ``Sequential``'s inference pass, written through a small builder interface.

Two builders share this code: ``HelperGraph`` (a standalone graph for ``ferronet.onnx.to_onnx``) and the
skl2onnx converters' builder (``ferronet._skl2onnx``), so a pipeline exports exactly the same network.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from .activations import LEAKY_RELU_SLOPE
from .layers import Activation, BatchNorm, Dense, Dropout, Layer
from .losses import FUSED_HEADS

#: ONNX operator for each activation (linear needs none; softmax is handled with its axis).
ACTIVATION_OPS = {"relu": "Relu", "leaky_relu": "LeakyRelu", "sigmoid": "Sigmoid", "tanh": "Tanh"}

#: BatchNormalization's inputs after X, in ONNX's order.
BATCHNORM_INPUTS = ("gamma", "beta", "running_mean", "running_var")

#: The float types an exported graph computes in.
TENSOR_TYPES = {np.dtype(np.float32): TensorProto.FLOAT, np.dtype(np.float64): TensorProto.DOUBLE}


class Builder(Protocol):
    """Where the nodes go: ``constant`` adds an initializer, ``node`` adds a node; both return the output name.

    ``output`` names a node's result explicitly (a graph output); otherwise a fresh name is made from ``stem``.
    """

    def constant(self, stem: str, array: np.ndarray) -> str: ...

    def node(self, op_type: str, inputs: list[str], stem: str, output: str | None = None, **attributes: Any) -> str: ...


class HelperGraph:
    """A ``Builder`` that collects nodes and initializers for ``onnx.helper.make_graph``."""

    def __init__(self) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self._used: set[str] = set()

    def reserve(self, name: str) -> None:
        """Keep ``name`` (an input or output of the graph) out of the generated names."""
        self._used.add(name)

    def _fresh(self, stem: str) -> str:
        name, index = stem, 1
        while name in self._used:
            name, index = f"{stem}_{index}", index + 1
        self._used.add(name)
        return name

    def constant(self, stem: str, array: np.ndarray) -> str:
        name = self._fresh(stem)
        self.initializers.append(numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def node(self, op_type: str, inputs: list[str], stem: str, output: str | None = None, **attributes: Any) -> str:
        result = output if output is not None else self._fresh(stem)
        self.nodes.append(helper.make_node(op_type, inputs, [result], name=self._fresh(op_type), **attributes))
        return result


def fused_activation(layers: list[Layer], loss: str) -> str | None:
    """The last activation that the engine fuses into the loss (its logits skip it), or None."""
    last = getattr(layers[-1], "activation", None)
    return last if (last, loss) in FUSED_HEADS else None


def activation(builder: Builder, name: str, value: str, stem: str, dtype: np.dtype) -> str:
    """Apply activation ``name`` to ``value`` (a tensor of ``dtype``)."""
    if name == "linear":
        return value
    if name == "softmax":
        return builder.node("Softmax", [value], stem, axis=1)
    if name == "leaky_relu" and dtype == np.float64:
        # max(z, slope*z): onnxruntime has no double LeakyRelu kernel, and LeakyRelu's alpha is a float32 attribute
        slope = builder.constant("leaky_slope", np.full((), LEAKY_RELU_SLOPE, dtype))
        return builder.node("Max", [value, builder.node("Mul", [value, slope], f"{stem}_scaled")], stem)
    if name == "leaky_relu":
        return builder.node("LeakyRelu", [value], stem, alpha=LEAKY_RELU_SLOPE)
    return builder.node(ACTIVATION_OPS[name], [value], stem)


def network(
    builder: Builder, layers: list[Layer], weights: list[dict[str, np.ndarray]], loss: str, value: str, dtype: np.dtype
) -> str:
    """Emit the inference pass of ``layers`` on ``value`` (a float [N, input_dim] tensor of ``dtype``).

    Returns the name of the logits: the last layer's output, without the activation that the engine fuses into
    the loss (``fused_activation``), as ``Sequential.predict`` sees them. Dropout (and DropConnect) are the
    identity at inference; BatchNorm uses its running statistics.
    """
    fused = fused_activation(layers, loss)
    last = len(layers) - 1
    for index, (layer, params) in enumerate(zip(layers, weights, strict=True)):
        stem = f"layer{index}"
        if isinstance(layer, Dense):
            W = builder.constant(f"{stem}_W", params["W"].astype(dtype))
            b = builder.constant(f"{stem}_b", params["b"].astype(dtype))
            value = builder.node("Gemm", [value, W, b], f"{stem}_dense")
            if not (index == last and fused is not None):
                value = activation(builder, layer.activation, value, f"{stem}_{layer.activation}", dtype)
        elif isinstance(layer, Activation):
            if not (index == last and fused is not None):
                value = activation(builder, layer.activation, value, f"{stem}_{layer.activation}", dtype)
        elif isinstance(layer, BatchNorm):
            names = [builder.constant(f"{stem}_{key}", params[key].astype(dtype)) for key in BATCHNORM_INPUTS]
            value = builder.node("BatchNormalization", [value, *names], f"{stem}_batchnorm", epsilon=layer.eps)
        elif not isinstance(layer, Dropout):  # Dropout: nothing to emit at inference
            raise TypeError(f"cannot export layer {index} of type {type(layer).__name__} to ONNX")
    return value


def probabilities(builder: Builder, logits: str, loss: str, outputs: int, dtype: np.dtype, result: str) -> str:
    """The ``predict_proba`` columns from the logits: softmax, or sigmoids ([1 - p, p] for a single output)."""
    if loss == "softmax_cross_entropy":
        return builder.node("Softmax", [logits], "softmax", output=result, axis=1)
    if outputs > 1:
        return builder.node("Sigmoid", [logits], "sigmoid", output=result)
    positive = builder.node("Sigmoid", [logits], "positive")
    one = builder.constant("one", np.ones((), dtype))
    negative = builder.node("Sub", [one, positive], "negative")
    return builder.node("Concat", [negative, positive], "concat", output=result, axis=1)


def flatten(builder: Builder, value: str, stem: str, output: str | None = None) -> str:
    """Reshape [N, 1] (or any shape) to [N]."""
    shape = builder.constant("flat_shape", np.array([-1], np.int64))
    return builder.node("Reshape", [value, shape], stem, output=output)


def tensor_type(dtype: np.dtype) -> int:
    return TENSOR_TYPES[np.dtype(dtype)]
