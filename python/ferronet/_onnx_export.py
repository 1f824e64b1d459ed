"""Export a ``Sequential`` as an ONNX model: the machinery behind ``ferronet.onnx.to_onnx`` and
``Sequential.to_onnx`` (see ``ferronet.onnx`` for the graph's inputs, outputs and opsets). It uses the model's
public surface only (``layers``, ``get_weights``, ``loss``, ``dtype``, ``input_dim``), so it does not import
``model.py``, which calls it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

try:
    import onnx
except ImportError:  # pragma: no cover - exercised only without the extra
    raise ImportError('ferronet.onnx needs the onnx package: pip install "ferronet[onnx]"') from None
from onnx import TensorProto, helper

from . import _files
from . import _onnx_graph as graph
from ._validation import check_dtype, check_int

if TYPE_CHECKING:
    from .model import Sequential

#: The opset ``to_onnx`` writes unless told otherwise (see the module docstring for why).
DEFAULT_OPSET = 17

#: The oldest opset accepted: from it on, every operator used here computes as it does today (Softmax per axis).
MIN_OPSET = 13

#: The names of the graph outputs, by loss.
OUTPUT_NAMES = {
    "softmax_cross_entropy": ("label", "probabilities"),
    "binary_cross_entropy": ("label", "probabilities"),
    "hinge": ("label", "scores"),
    "mse": ("variable",),
    "poisson": ("variable",),
}

#: protobuf cannot serialize a message of 2 GiB or more.
MAX_PROTO_BYTES = 2**31 - 1


def to_onnx(
    model: Sequential,
    path: str | os.PathLike[str] | None = None,
    *,
    opset: int | None = None,
    dtype: str | None = None,
    input_name: str = "X",
) -> onnx.ModelProto:
    """Export ``model`` (built, with its current weights) as a standard ONNX model.

    Parameters
    ----------
    model : ferronet.Sequential
        A built model (``input_dim`` given, or fitted).
    path : str or os.PathLike, optional
        Where to write the ``.onnx`` file. The write is atomic: a temporary file in the same directory, then
        ``os.replace``, so an existing file is replaced only by a complete new one.
    opset : int, optional
        The ONNX opset, from ``MIN_OPSET`` (13) to the installed onnx's newest; ``DEFAULT_OPSET`` (17) by default.
    dtype : {"float32", "float64"}, optional
        The float type of the input, the weights and the float outputs; the model's dtype by default.
    input_name : str, default "X"
        The name of the graph input.

    Returns
    -------
    onnx.ModelProto
        The model, checked with ``onnx.checker.check_model(..., full_check=True)``. Its outputs are listed in
        the module docstring.

    Raises
    ------
    TypeError
        If ``model`` is not a ``ferronet.Sequential``, or an argument has the wrong type.
    ValueError
        If ``model`` is not built, ``opset``/``dtype``/``input_name`` is not allowed, ``path`` does not name a file
        in an existing directory, or the model is too large for one ONNX file (2 GiB).
    OSError
        If writing the file fails (nothing is left behind).
    """
    if not all(hasattr(model, name) for name in ("layers", "get_weights", "loss", "dtype", "input_dim")):
        raise TypeError(f"model must be a ferronet.Sequential; got {type(model).__name__}")
    if not model.built:
        raise ValueError("model is not built yet: pass input_dim= to Sequential or fit it before exporting")
    target = None if path is None else _check_path(path)
    opset = _check_opset(opset)
    float_type = check_dtype(model.dtype if dtype is None else dtype)
    outputs = OUTPUT_NAMES[model.loss]
    if not isinstance(input_name, str):
        raise TypeError(f"input_name must be a str; got {type(input_name).__name__}")
    if not input_name or input_name in outputs:
        raise ValueError(
            f"input_name must be a non-empty name other than the outputs {list(outputs)}; got {input_name!r}"
        )

    builder = graph.HelperGraph()
    for name in (input_name, *outputs):
        builder.reserve(name)
    logits = graph.network(builder, model.layers, model.get_weights(), model.loss, input_name, float_type)
    output_infos = _head(builder, model, logits, float_type)
    elem_type = graph.tensor_type(float_type)
    onnx_graph = helper.make_graph(
        builder.nodes,
        "ferronet_Sequential",
        [helper.make_tensor_value_info(input_name, elem_type, ["N", model.input_dim])],
        output_infos,
        builder.initializers,
    )
    opsets = [helper.make_opsetid("", opset)]
    proto = helper.make_model(
        onnx_graph,
        opset_imports=opsets,
        ir_version=helper.find_min_ir_version_for(opsets),
        producer_name="ferronet",
        producer_version=_version(),
        doc_string=f"ferronet.Sequential ({model.loss}), exported by ferronet.onnx.to_onnx",
    )
    helper.set_model_props(proto, {"ferronet.loss": model.loss, "ferronet.config": json.dumps(model.config())})
    if proto.ByteSize() > MAX_PROTO_BYTES:
        raise ValueError(
            f"model is too large for one ONNX file ({proto.ByteSize()} bytes; protobuf's limit is 2 GiB): "
            "save it with onnx.save_model(proto, path, save_as_external_data=True) instead"
        )
    onnx.checker.check_model(proto, full_check=True)
    if target is not None:
        _files.atomic_write(target, proto.SerializeToString())
    return proto


def _head(builder: graph.HelperGraph, model: Sequential, logits: str, dtype: np.dtype) -> list[onnx.ValueInfoProto]:
    """The outputs of ``OUTPUT_NAMES[model.loss]`` from the logits, with their value infos."""
    k, loss = model.output_dim, model.loss
    elem_type = graph.tensor_type(dtype)
    if loss in ("mse", "poisson"):  # poisson's last layer outputs log(mean): predict is its exp
        builder.node("Exp" if loss == "poisson" else "Identity", [logits], "variable", output="variable")
        return [helper.make_tensor_value_info("variable", elem_type, ["N", k])]
    label_shape: list[str | int] = ["N"]
    if loss == "binary_cross_entropy":
        positive = builder.node("Greater", [logits, builder.constant("zero", np.zeros((), dtype))], "positive_logit")
        if k == 1:
            indicator = builder.node("Cast", [positive], "indicator", to=TensorProto.INT64)
            graph.flatten(builder, indicator, "label", output="label")
        else:
            builder.node("Cast", [positive], "label", output="label", to=TensorProto.INT64)
            label_shape = ["N", k]
    else:
        builder.node("ArgMax", [logits], "label", output="label", axis=1, keepdims=0)
    second = OUTPUT_NAMES[loss][1]
    if loss == "hinge":
        builder.node("Identity", [logits], second, output=second)
        width = k
    else:
        graph.probabilities(builder, logits, loss, k, dtype, second)
        width = 2 if k == 1 and loss == "binary_cross_entropy" else k
    return [
        helper.make_tensor_value_info("label", TensorProto.INT64, label_shape),
        helper.make_tensor_value_info(second, elem_type, ["N", width]),
    ]


def _check_opset(opset: Any) -> int:
    if opset is None:
        return DEFAULT_OPSET
    return check_int(opset, "opset", minimum=MIN_OPSET, maximum=onnx.defs.onnx_opset_version())


def _check_path(path: Any) -> Path:
    if isinstance(path, bytes) or not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str or os.PathLike; got {type(path).__name__}")
    target = Path(path)
    if str(target) in ("", ".") or target.is_dir():
        raise ValueError(f"path must name a file; got {str(path)!r}, a directory")
    if not target.parent.is_dir():
        raise ValueError(f"path {str(path)!r}: the directory {str(target.parent)!r} does not exist")
    return target


def _version() -> str:
    from . import __version__

    return str(__version__)
