"""skl2onnx shape calculators and converters for ``ferronet.sklearn.MLPClassifier`` and ``MLPRegressor``.

They mirror skl2onnx's own MLP converters (the same output names, options and label handling), with the network
itself written by ``ferronet._onnx_graph`` as for ``ferronet.onnx.to_onnx``. The graph computes in the input's
float type (float32 unless the pipeline feeds doubles), as skl2onnx's converters do.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from onnx import TensorProto, numpy_helper
from skl2onnx import update_registered_converter
from skl2onnx.common.data_types import DoubleTensorType, FloatTensorType, Int64TensorType, guess_proto_type
from skl2onnx.common.shape_calculator import calculate_linear_classifier_output_shapes
from skl2onnx.common.utils import check_input_and_output_numbers
from skl2onnx.common.utils_classifier import get_label_classes

from . import _onnx_graph as graph
from .losses import LOG_LINK_LOSSES
from .sklearn import MLPClassifier, MLPRegressor

#: The oldest target opset the converters accept (as ``ferronet.onnx.MIN_OPSET``).
MIN_OPSET = 13

#: skl2onnx's options for classifiers, as its own MLPClassifier converter declares them.
CLASSIFIER_OPTIONS = {"zipmap": [True, False, "columns"], "output_class_labels": [False, True], "nocl": [True, False]}


class _ContainerBuilder:
    """A ``graph.Builder`` that writes into skl2onnx's scope (unique names) and container (nodes, initializers)."""

    def __init__(self, scope: Any, container: Any) -> None:
        self.scope = scope
        self.container = container

    def constant(self, stem: str, array: np.ndarray) -> str:
        name: str = self.scope.get_unique_variable_name(stem)
        if array.dtype.kind in "OUS":  # strings: skl2onnx copies only raw_data from a TensorProto, so pass values
            values = [str(value).encode("utf-8") for value in array.ravel()]
            self.container.add_initializer(name, TensorProto.STRING, list(array.shape), values)
        else:
            self.container.add_initializer(name, None, None, numpy_helper.from_array(np.ascontiguousarray(array)))
        return name

    def node(self, op_type: str, inputs: list[str], stem: str, output: str | None = None, **attributes: Any) -> str:
        result: str = output if output is not None else self.scope.get_unique_variable_name(stem)
        self.container.add_node(
            op_type, inputs, [result], name=self.scope.get_unique_operator_name(op_type), **attributes
        )
        return result


def _float_type(operator: Any) -> np.dtype:
    """The dtype the graph computes in: double for double inputs, else float (skl2onnx's rule)."""
    return np.dtype(np.float64 if guess_proto_type(operator.inputs[0].type) == TensorProto.DOUBLE else np.float32)


def _logits(scope: Any, operator: Any, container: Any, builder: _ContainerBuilder, dtype: np.dtype) -> str:
    if container.target_opset < MIN_OPSET:
        raise RuntimeError(f"ferronet's converters need target_opset >= {MIN_OPSET}; got {container.target_opset}")
    value = operator.inputs[0].full_name
    if guess_proto_type(operator.inputs[0].type) != graph.tensor_type(dtype):  # int64 or bool features
        value = builder.node("Cast", [value], "cast_input", to=graph.tensor_type(dtype))
    model = operator.raw_operator.model_
    return graph.network(builder, model.layers, model.get_weights(), model.loss, value, dtype)


def _is_multilabel(estimator: Any) -> bool:
    return bool(estimator._label_binarizer.y_type_ == "multilabel-indicator")


def _classes(scope: Any, estimator: Any) -> np.ndarray:
    """The label values, typed as skl2onnx types them: int64 for integer, bool and float classes (always whole
    numbers: scikit-learn refuses other floats as classes), strings otherwise."""
    classes = np.asarray(get_label_classes(scope, estimator))  # class indices under the option nocl
    return classes.astype(np.int64) if classes.dtype.kind in "iubf" else classes.astype(str)


def classifier_shapes(operator: Any) -> None:
    """skl2onnx's classifier shapes (label, probabilities), with a [N, k] 0/1 label matrix for multilabel."""
    calculate_linear_classifier_output_shapes(operator)
    if _is_multilabel(operator.raw_operator):
        n = operator.inputs[0].get_first_dimension()
        operator.outputs[0].type = Int64TensorType([n, len(operator.raw_operator.classes_)])


def convert_classifier(scope: Any, operator: Any, container: Any) -> None:
    """``label`` = ``predict``, ``probabilities`` = ``predict_proba``."""
    estimator = operator.raw_operator
    dtype = _float_type(operator)
    builder = _ContainerBuilder(scope, container)
    logits = _logits(scope, operator, container, builder, dtype)
    model = estimator.model_
    label, probabilities = operator.outputs[0].full_name, operator.outputs[1].full_name
    graph.probabilities(builder, logits, model.loss, model.output_dim, dtype, probabilities)
    if _is_multilabel(estimator):  # LabelBinarizer's rule: a label is on when its probability exceeds 0.5
        half = builder.constant("half", np.full((), 0.5, dtype))
        on = builder.node("Greater", [probabilities, half], "label_on")
        builder.node("Cast", [on], "label", output=label, to=TensorProto.INT64)
        return
    # The first class of highest probability, as LabelBinarizer.inverse_transform picks it.
    index = builder.node("ArgMax", [probabilities], "class_index", axis=1, keepdims=0)
    builder.node("Gather", [builder.constant("classes", _classes(scope, estimator)), index], "label", output=label)


def regressor_shapes(operator: Any) -> None:
    """One output, ``variable``: [N, n_outputs] in the input's float type (float for integer inputs)."""
    check_input_and_output_numbers(operator, input_count_range=1, output_count_range=1)
    float_type = DoubleTensorType if isinstance(operator.inputs[0].type, DoubleTensorType) else FloatTensorType
    n = operator.inputs[0].get_first_dimension()
    operator.outputs[0].type = float_type([n, operator.raw_operator.n_outputs_])


def convert_regressor(scope: Any, operator: Any, container: Any) -> None:
    """``variable`` = ``predict`` as [N, n_outputs] (``Exp`` of the last layer for ``loss="poisson"``)."""
    builder = _ContainerBuilder(scope, container)
    logits = _logits(scope, operator, container, builder, _float_type(operator))
    op = "Exp" if operator.raw_operator.model_.loss in LOG_LINK_LOSSES else "Identity"
    builder.node(op, [logits], "variable", output=operator.outputs[0].full_name)


def register() -> None:
    update_registered_converter(
        MLPClassifier,
        "FerronetMLPClassifier",
        classifier_shapes,
        convert_classifier,
        options=CLASSIFIER_OPTIONS,
    )
    update_registered_converter(MLPRegressor, "FerronetMLPRegressor", regressor_shapes, convert_regressor)
