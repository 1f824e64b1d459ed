"""Kernel micro-benchmarks: the GEMM shapes of the workload, activations and softmax cross-entropy, each
checked against its NumPy twin before it is timed."""

import numpy as np
import pytest
from ferronet import ops, reference

# (rows, fan_in, fan_out) of the 784-256-128-10 net's layers at batch 1 and 128.
DENSE_SHAPES = [(1, 784, 256), (128, 784, 256), (128, 256, 128), (128, 128, 10), (512, 784, 256)]


def operands(rows, fan_in, fan_out, seed=0):
    generator = np.random.default_rng(seed)
    x = generator.random((rows, fan_in), dtype=np.float32)
    W = generator.standard_normal((fan_in, fan_out)).astype(np.float32) * 0.05
    b = generator.standard_normal(fan_out).astype(np.float32)
    return x, W, b


@pytest.mark.parametrize("shape", DENSE_SHAPES, ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("backend", ["ferronet", "reference"])
def test_dense_forward(benchmark, shape, backend):
    x, W, b = operands(*shape)
    np.testing.assert_allclose(ops.dense_forward(x, W, b), reference.dense_forward(x, W, b), rtol=1e-4, atol=1e-4)
    kernel = ops.dense_forward if backend == "ferronet" else reference.dense_forward
    assert benchmark(kernel, x, W, b).shape == (shape[0], shape[2])


@pytest.mark.parametrize("shape", DENSE_SHAPES[1:], ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("backend", ["ferronet", "reference"])
def test_dense_backward(benchmark, shape, backend):
    x, W, _ = operands(*shape)
    dz = np.random.default_rng(1).standard_normal((shape[0], shape[2])).astype(np.float32)
    for ours, theirs in zip(ops.dense_backward(x, W, dz), reference.dense_backward(x, W, dz), strict=True):
        np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-3)
    kernel = ops.dense_backward if backend == "ferronet" else reference.dense_backward
    _dx, dW, _db = benchmark(kernel, x, W, dz)
    assert dW.shape == W.shape


@pytest.mark.parametrize("backend", ["ferronet", "reference"])
def test_relu_forward(benchmark, backend):
    z = np.random.default_rng(2).standard_normal((512, 256)).astype(np.float32)
    np.testing.assert_array_equal(ops.relu_forward(z), reference.relu_forward(z))
    kernel = ops.relu_forward if backend == "ferronet" else reference.relu_forward
    assert benchmark(kernel, z).shape == z.shape


@pytest.mark.parametrize("backend", ["ferronet", "reference"])
def test_softmax_cross_entropy(benchmark, backend):
    generator = np.random.default_rng(3)
    logits = generator.standard_normal((512, 10)).astype(np.float32)
    labels = generator.integers(0, 10, 512)
    ours, theirs = ops.softmax_cross_entropy(logits, labels), reference.softmax_cross_entropy(logits, labels)
    assert abs(ours[0] - theirs[0]) < 1e-5
    np.testing.assert_allclose(ours[1], theirs[1], rtol=1e-4, atol=1e-7)
    kernel = ops.softmax_cross_entropy if backend == "ferronet" else reference.softmax_cross_entropy
    _loss, grad = benchmark(kernel, logits, labels)
    assert grad.shape == logits.shape
