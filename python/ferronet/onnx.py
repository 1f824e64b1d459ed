"""Export a trained ``Sequential`` to ONNX, and convert the scikit-learn wrappers inside skl2onnx pipelines.

Needs the ``onnx`` package (``pip install 'ferronet[onnx]'``, which also brings onnxruntime and skl2onnx).

The graph has one input, ``X``: float[N, input_dim] in the model's dtype. Its outputs follow skl2onnx's names:

| loss | outputs |
| --- | --- |
| softmax_cross_entropy | ``label`` int64[N] (the class index), ``probabilities`` [N, k] |
| binary_cross_entropy | ``label`` int64[N] and ``probabilities`` [N, 2] ([1 - p, p]) for one output; ``label`` int64[N, k] (0/1 each) and ``probabilities`` [N, k] for k outputs |
| hinge | ``label`` int64[N] and ``scores`` [N, k] (the raw scores: not probabilities) |
| mse | ``variable`` [N, k] (also [N, 1] for one output, as skl2onnx's regressors) |
| poisson | ``variable`` [N, k]: ``Exp`` of the last layer (the mean; the layer gives its log) |

These are ``predict`` and ``predict_proba`` of the model. Dense layers become ``Gemm``, BatchNorm an inference
``BatchNormalization`` with the running statistics, Dropout nothing; leaky_relu is ``LeakyRelu`` in float32 and
``Max(z, 0.01 * z)`` in float64 (onnxruntime has no double LeakyRelu kernel).

The default opset is ``DEFAULT_OPSET`` (17): from opset 13 on, every operator used here computes as it does today
(later versions only add types), onnxruntime runs opset 17 since version 1.12 (2022), and a newer opset would add
nothing this graph uses while narrowing the runtimes that can load the file. ``opset`` accepts ``MIN_OPSET`` (13) up to the installed onnx's
newest; the file's IR version is the lowest that opset allows.

Importing this module with skl2onnx installed registers converters for ``ferronet.sklearn.MLPClassifier`` and
``MLPRegressor`` (see ``register_skl2onnx``).
"""

from __future__ import annotations

import importlib.util

from ._onnx_export import DEFAULT_OPSET, MIN_OPSET, OUTPUT_NAMES, to_onnx


def register_skl2onnx() -> None:
    """Register skl2onnx converters for ``ferronet.sklearn.MLPClassifier`` and ``MLPRegressor``.

    Done when this module is imported with skl2onnx installed; calling it again is harmless. Afterwards
    ``skl2onnx.to_onnx`` converts these estimators, alone or inside pipelines, with the outputs of skl2onnx's own
    MLP converters: ``label`` and ``probabilities`` for classifiers (the estimator's ``classes_`` as labels, with
    the ``zipmap``, ``nocl`` and ``output_class_labels`` options), ``variable`` [N, n_outputs] for regressors.

    Raises
    ------
    ImportError
        If skl2onnx or scikit-learn is not installed.
    """
    try:
        from . import _skl2onnx
    except ImportError as error:
        raise ImportError(
            f'register_skl2onnx needs skl2onnx and scikit-learn: pip install "ferronet[onnx]" ({error})'
        ) from None
    _skl2onnx.register()


# Registered on import, so that `import ferronet.onnx` is all a pipeline conversion needs.
if importlib.util.find_spec("skl2onnx") is not None and importlib.util.find_spec("sklearn") is not None:
    try:
        register_skl2onnx()
    except ImportError:  # a broken skl2onnx install must not break to_onnx; register_skl2onnx() shows the error
        pass


__all__ = ["DEFAULT_OPSET", "MIN_OPSET", "OUTPUT_NAMES", "register_skl2onnx", "to_onnx"]
