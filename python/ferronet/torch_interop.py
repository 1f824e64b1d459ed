"""Move models between ferronet and PyTorch: ``Sequential.to_torch()`` and ``Sequential.from_torch(module)``
(``to_torch`` and ``from_torch_layers`` here do the work).

PyTorch is not a ferronet dependency: install it yourself to use this module. The layers map one to one:

| ferronet | torch.nn |
| --- | --- |
| ``Dense(units, activation)`` | ``Linear`` (weight = W.T, bias = b), then the activation module |
| activation relu / leaky_relu / sigmoid / tanh / softmax / linear | ``ReLU`` / ``LeakyReLU(0.01)`` / ``Sigmoid`` / ``Tanh`` / ``Softmax(dim=1)`` (last layer only) / none (``Identity`` for a standalone ``Activation("linear")``) |
| ``BatchNorm(momentum, eps)`` | ``BatchNorm1d(momentum=1 - momentum, eps)`` with the running statistics |
| ``Dropout(p)`` | ``Dropout(p)`` |

Weights are copied bit for bit, in the model's dtype (float32 or float64). The torch module computes what
``Sequential.forward`` does: a last softmax or sigmoid is applied even when ferronet fuses it into the loss.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

import numpy as np

try:
    import torch
except ImportError:  # pragma: no cover - exercised only without torch
    raise ImportError(
        "ferronet.torch_interop needs PyTorch, which ferronet does not install: pip install torch"
    ) from None

from ._types import ActivationName, DTypeName, FloatDType, LossName
from ._validation import check_choice, check_dtype, check_int
from .activations import LEAKY_RELU_SLOPE
from .layers import Activation, BatchNorm, Dense, Dropout, Layer
from .losses import LOSS_FOR_LAST_ACTIVATION, LOSSES

if TYPE_CHECKING:  # the model calls this module, not the reverse
    from .model import Sequential

TORCH_DTYPES = {"float32": torch.float32, "float64": torch.float64}

#: torch activation module classes and the ferronet activation each stands for.
ACTIVATION_MODULES: dict[type, ActivationName] = {
    torch.nn.ReLU: "relu",
    torch.nn.LeakyReLU: "leaky_relu",
    torch.nn.Sigmoid: "sigmoid",
    torch.nn.Tanh: "tanh",
    torch.nn.Softmax: "softmax",
}

SUPPORTED = "Linear, ReLU, LeakyReLU(0.01), Sigmoid, Tanh, Identity, BatchNorm1d, Dropout and a last Softmax(dim=1)"


def to_torch(model: Sequential) -> torch.nn.Sequential:
    """A ``torch.nn.Sequential`` computing the same function as ``model``, in eval mode.

    Parameters
    ----------
    model : ferronet.Sequential
        A built model. DropConnect (``Dense(dropconnect=p)``) has no torch counterpart and is left out: it only
        acts while training.

    Returns
    -------
    torch.nn.Sequential
        Modules as in the module docstring, parameters in the model's dtype on the CPU, in eval mode (Dropout
        off, BatchNorm on its running statistics), so ``module(torch.from_numpy(X))`` equals
        ``model.forward(X)``.

    Raises
    ------
    TypeError
        If ``model`` is not a ``ferronet.Sequential``.
    ValueError
        If ``model`` is not built.
    """
    if not all(hasattr(model, name) for name in ("layers", "get_weights", "dtype", "built")):
        raise TypeError(f"model must be a ferronet.Sequential; got {type(model).__name__}")
    if not model.built:
        raise ValueError("model is not built yet: pass input_dim= to Sequential or fit it before converting")
    dtype = TORCH_DTYPES[model.dtype]
    modules: list[torch.nn.Module] = []
    with torch.no_grad():
        for layer, params in zip(model.layers, model.get_weights(), strict=True):
            if isinstance(layer, Dense):
                fan_in, fan_out = params["W"].shape
                linear = torch.nn.Linear(fan_in, fan_out, dtype=dtype)
                linear.weight.copy_(torch.from_numpy(params["W"].T.copy()))
                linear.bias.copy_(torch.from_numpy(params["b"]))
                modules.append(linear)
                if layer.activation != "linear":
                    modules.append(_activation_module(layer.activation))
            elif isinstance(layer, Activation):
                modules.append(_activation_module(layer.activation))
            elif isinstance(layer, BatchNorm):
                width = params["gamma"].shape[0]
                norm = torch.nn.BatchNorm1d(width, eps=layer.eps, momentum=1.0 - layer.momentum, dtype=dtype)
                norm.weight.copy_(torch.from_numpy(params["gamma"]))
                norm.bias.copy_(torch.from_numpy(params["beta"]))
                norm.running_mean.copy_(torch.from_numpy(params["running_mean"]))
                norm.running_var.copy_(torch.from_numpy(params["running_var"]))
                modules.append(norm)
            elif isinstance(layer, Dropout):
                modules.append(torch.nn.Dropout(layer.p))
            else:  # pragma: no cover - Sequential accepts only the four kinds above
                raise TypeError(f"cannot convert a {type(layer).__name__} layer to torch")
    return torch.nn.Sequential(*modules).eval()


def _activation_module(name: str) -> torch.nn.Module:
    if name == "leaky_relu":
        return torch.nn.LeakyReLU(LEAKY_RELU_SLOPE)
    if name == "softmax":
        return torch.nn.Softmax(dim=1)
    return {"relu": torch.nn.ReLU, "sigmoid": torch.nn.Sigmoid, "tanh": torch.nn.Tanh, "linear": torch.nn.Identity}[
        name
    ]()


@dataclass(frozen=True)
class TorchModel:
    """What ``from_torch_layers`` read from a torch module: a Sequential's arguments and its weights.

    Parameters
    ----------
    layers : list of Layer
        The ferronet layers.
    weights : list of dict
        Their parameters, in ``Sequential.get_weights`` form.
    input_dim : int
        The input width.
    loss : {"softmax_cross_entropy", "mse", "binary_cross_entropy", "hinge", "poisson"}
        The loss given or inferred.
    dtype : {"float32", "float64"}
        The model's dtype.
    """

    layers: list[Layer]
    weights: list[dict[str, np.ndarray]]
    input_dim: int
    loss: LossName
    dtype: DTypeName


def from_torch_layers(
    module: torch.nn.Sequential,
    *,
    loss: LossName | None = None,
    input_dim: int | None = None,
    dtype: FloatDType | None = None,
) -> TorchModel:
    """The layers and weights of a ``torch.nn.Sequential`` (what ``Sequential.from_torch`` builds a model from).

    An activation module right after a ``Linear`` becomes that Dense layer's activation; elsewhere (after
    BatchNorm1d or Dropout) it becomes an ``Activation`` layer. ``Identity`` modules are skipped and nested
    ``nn.Sequential`` containers opened; error messages name a module by its path, such as ``module[4][1]``.

    Parameters
    ----------
    module : torch.nn.Sequential
        Made of Linear, ReLU, LeakyReLU (negative_slope 0.01 only), Sigmoid, Tanh, Identity, BatchNorm1d (tracking
        running statistics, momentum in (0, 1)), Dropout and, as the last module only, Softmax over dim 1.
    loss : {"softmax_cross_entropy", "mse", "binary_cross_entropy", "hinge", "poisson"}, optional
        By default the last activation decides: softmax → softmax cross-entropy,
        sigmoid → binary cross-entropy, none → mse.
    input_dim : int, optional
        Checked against the width of the first Linear (or BatchNorm1d); taken from it when omitted.
    dtype : {"float32", "float64"}, optional
        The model's dtype; by default that of the module's parameters (which must then all be float32 or all
        float64).

    Returns
    -------
    TorchModel
        Layers and weights of a model whose ``forward`` equals the module's output in eval mode. The weights are
        bit-identical when ``dtype`` is the module's.

    Raises
    ------
    TypeError
        If ``module`` is not a ``torch.nn.Sequential``, or an argument has the wrong type.
    ValueError
        If a module is not one of those above (the message names its path and type), the widths do not chain,
        ``input_dim`` differs from the module's, the parameters' dtype needs an explicit ``dtype=``, or the loss
        cannot be inferred.
    """
    if not _is_sequential(module):
        raise TypeError(f"module must be a torch.nn.Sequential; got {type(module).__name__}")
    if loss is not None:
        check_choice(loss, "loss", LOSSES)
    if input_dim is not None:
        input_dim = check_int(input_dim, "input_dim", minimum=1)
    modules = _flatten(module)
    if not any(type(child) is torch.nn.Linear for _, child in modules):
        kinds = [type(child).__name__ for child in module.modules()][1:]
        raise ValueError(f"module must contain a torch.nn.Linear; got {kinds}")
    model_dtype = check_dtype(dtype).name if dtype is not None else _parameter_dtype([child for _, child in modules])

    layers: list[Layer] = []
    weights: list[dict[str, np.ndarray]] = []
    expected = input_dim  # the width the next Linear or BatchNorm1d must take
    for index, (path, child) in enumerate(modules):
        where = f"{path} ({type(child).__name__})"
        kind = type(child)
        if kind is torch.nn.Linear:
            input_dim = input_dim or child.in_features
            _check_width(expected, child.in_features, where)
            layers.append(Dense(child.out_features))
            weights.append(_linear_weights(child, model_dtype))
            expected = child.out_features
        elif kind in ACTIVATION_MODULES:
            name = _activation_name(child, last=index == len(modules) - 1, where=where)
            if index > 0 and type(modules[index - 1][1]) is torch.nn.Linear:
                layers[-1] = Dense(layers[-1].units, activation=name)  # type: ignore[attr-defined]
            else:
                layers.append(Activation(name))
                weights.append({})
        elif kind is torch.nn.BatchNorm1d:
            input_dim = input_dim or child.num_features
            _check_width(expected, child.num_features, where)
            layers.append(_batchnorm(child, where))
            weights.append(_batchnorm_weights(child, model_dtype))
            expected = child.num_features
        elif kind is torch.nn.Dropout:
            layers.append(Dropout(child.p))
            weights.append({})
        else:
            raise ValueError(f"{where} is not supported: from_torch accepts {SUPPORTED}")
    if loss is None:
        last = getattr(layers[-1], "activation", "linear")
        if last not in LOSS_FOR_LAST_ACTIVATION:
            raise ValueError(
                f"cannot infer the loss from a last activation {last!r}; pass loss= (one of {', '.join(LOSSES)})"
            )
        loss = LOSS_FOR_LAST_ACTIVATION[last]
    assert input_dim is not None  # a Linear was found above
    return TorchModel(
        layers=layers, weights=weights, input_dim=input_dim, loss=loss, dtype=cast(DTypeName, model_dtype)
    )


def _is_sequential(module: Any) -> bool:
    """An nn.Sequential whose forward is nn.Sequential's (a subclass with its own forward computes something else)."""
    return isinstance(module, torch.nn.Sequential) and type(module).forward is torch.nn.Sequential.forward


def _flatten(module: torch.nn.Sequential, prefix: str = "module") -> list[tuple[str, torch.nn.Module]]:
    """The modules in order with their paths ("module[4][1]"): nested Sequentials opened, Identity dropped."""
    modules: list[tuple[str, torch.nn.Module]] = []
    for index, child in enumerate(module):
        where = f"{prefix}[{index}]"
        if _is_sequential(child):
            modules.extend(_flatten(child, where))
        elif type(child) is not torch.nn.Identity:
            modules.append((where, child))
    return modules


def _parameter_dtype(modules: list[torch.nn.Module]) -> str:
    """The dtype name shared by every parameter and floating buffer, when it is float32 or float64."""
    dtypes = {
        tensor.dtype
        for child in modules
        for tensor in [*child.parameters(), *child.buffers()]
        if tensor.is_floating_point()
    }
    names = {name for name, torch_dtype in TORCH_DTYPES.items() if torch_dtype in dtypes}
    if len(dtypes) != 1 or len(names) != 1:
        raise ValueError(
            f"module's parameters are {sorted(map(str, dtypes))}: pass dtype='float32' or dtype='float64' to convert them"
        )
    return names.pop()


def _check_width(expected: int | None, width: int, where: str) -> None:
    if expected is not None and width != expected:
        raise ValueError(f"{where} takes {width} features, but its input has {expected}")


def _array(tensor: torch.Tensor, dtype: str) -> np.ndarray:
    """A NumPy copy of ``tensor`` in ``dtype`` (exact when it already has that dtype)."""
    array: np.ndarray = tensor.detach().to(device="cpu", dtype=TORCH_DTYPES[dtype]).numpy().copy()
    return array


def _linear_weights(linear: torch.nn.Linear, dtype: str) -> dict[str, np.ndarray]:
    W = _array(linear.weight, dtype).T.copy()  # torch stores (out, in); ferronet (in, out)
    b = _array(linear.bias, dtype) if linear.bias is not None else np.zeros(linear.out_features, dtype)
    return {"W": W, "b": b}


def _activation_name(child: torch.nn.Module, *, last: bool, where: str) -> ActivationName:
    name = ACTIVATION_MODULES[type(child)]
    if name == "leaky_relu" and child.negative_slope != LEAKY_RELU_SLOPE:
        raise ValueError(
            f"{where}: ferronet's leaky_relu has negative_slope {LEAKY_RELU_SLOPE}; got {child.negative_slope}"
        )
    if name == "softmax" and not (last and child.dim in (1, -1)):
        raise ValueError(f"{where}: Softmax is supported only as the last module, over dim 1; got dim={child.dim}")
    return name


def _batchnorm(norm: torch.nn.BatchNorm1d, where: str) -> BatchNorm:
    if not norm.track_running_stats or norm.running_mean is None or norm.running_var is None:
        raise ValueError(f"{where}: BatchNorm1d must track running statistics (track_running_stats=True)")
    if norm.momentum is None or not 0.0 < norm.momentum < 1.0:
        raise ValueError(
            f"{where}: BatchNorm1d momentum must be in (0, 1) (ferronet keeps 1 - momentum); got {norm.momentum}"
        )
    return BatchNorm(momentum=1.0 - norm.momentum, eps=norm.eps)


def _batchnorm_weights(norm: torch.nn.BatchNorm1d, dtype: str) -> dict[str, np.ndarray]:
    width = norm.num_features
    affine = norm.affine  # without affine parameters torch uses gamma = 1, beta = 0
    return {
        "gamma": _array(norm.weight, dtype) if affine else np.ones(width, dtype),
        "beta": _array(norm.bias, dtype) if affine else np.zeros(width, dtype),
        "running_mean": _array(norm.running_mean, dtype),
        "running_var": _array(norm.running_var, dtype),
    }


__all__ = ["TorchModel", "from_torch_layers", "to_torch"]
