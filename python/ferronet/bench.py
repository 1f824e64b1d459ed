"""Side-by-side training speed: ferronet against a fast NumPy hand loop, the readable NumPy reference and PyTorch
on the CPU (when it is installed).

Two workloads:

- ``mnist``: the performance issue's 784-256-128-10 ReLU net, softmax cross-entropy, SGD with momentum 0.9, on
  rows of Fashion-MNIST when installed (else random pixels), at batch sizes 1, 32, 128 and 512;
- ``tabular``: a small net on a few features, 8-256-1 ReLU, mean squared error, Adam, batch 128.

Every backend trains from the same initial weights with the same update rule, and their weights are checked to
agree after the same batches before anything is timed. Numbers are training samples per second over whole epochs
(``fit`` for ferronet, the backend's own loop otherwise); compare them as ratios taken in one run. ferronet is
also timed on one thread, for its scaling. "% peak" is the rate of floating-point operations actually computed
(forward 2·in·out and weight gradient 2·in·out per layer, input gradient 2·in·out for every layer but the first)
against NumPy's float32 2048³ matmul in the same run.
"""

from __future__ import annotations

import itertools
import json
import platform
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from . import reference
from ._numpy_loop import NumpyLoop
from ._types import DTypeName, LossName
from .layers import Dense, Layer
from .model import Sequential
from .optim import SGD, Adam, Optimizer

LR = 0.01
MOMENTUM = 0.9
ADAM_LR = 1e-3


@dataclass(frozen=True)
class Workload:
    """A network, its loss and optimizer, its data and the batch sizes it is timed at."""

    name: str
    input_dim: int
    widths: tuple[int, ...]
    outputs: int
    loss: LossName
    optimizer_kind: str
    batch_sizes: tuple[int, ...]

    @property
    def title(self) -> str:
        shape = "-".join(map(str, (self.input_dim, *self.widths, self.outputs)))
        loss = "softmax CE" if self.loss == "softmax_cross_entropy" else "MSE"
        optimizer = f"SGD momentum {MOMENTUM}" if self.optimizer_kind == "sgd" else "Adam"
        return f"{shape} ReLU, {loss}, {optimizer}"

    def layers(self) -> list[Layer]:
        return [*(Dense(width, activation="relu") for width in self.widths), Dense(self.outputs)]

    def optimizer(self) -> Optimizer:
        return SGD(lr=LR, momentum=MOMENTUM) if self.optimizer_kind == "sgd" else Adam(lr=ADAM_LR)

    def flops_per_sample(self) -> int:
        """Floating-point operations of one training step per row (see the module docstring)."""
        dims = (self.input_dim, *self.widths, self.outputs)
        weights = [a * b for a, b in itertools.pairwise(dims)]
        return 2 * (2 * sum(weights) + sum(weights[1:]))

    def data(self, rows: int, dtype: DTypeName, seed: int = 0) -> tuple[np.ndarray, np.ndarray, str]:
        if self.name == "mnist":
            return workload(rows, dtype, seed)
        generator = np.random.default_rng(seed)
        X = generator.normal(size=(rows, self.input_dim)).astype(dtype)
        y = (np.sin(X[:, 0]) + X[:, 1] * X[:, 2] + 0.1 * generator.normal(size=rows)).astype(dtype)
        return X, y, "synthetic regression"

    def model(self, dtype: DTypeName, seed: int = 0) -> Sequential:
        return Sequential(self.layers(), input_dim=self.input_dim, loss=self.loss, dtype=dtype, seed=seed)


WORKLOADS = {
    "mnist": Workload("mnist", 784, (256, 128), 10, "softmax_cross_entropy", "sgd", (1, 32, 128, 512)),
    "tabular": Workload("tabular", 8, (256,), 1, "mse", "adam", (128,)),
}
MNIST = WORKLOADS["mnist"]


def layers() -> list[Layer]:
    return MNIST.layers()


def flops_per_sample() -> int:
    return MNIST.flops_per_sample()


def workload(rows: int, dtype: DTypeName = "float32", seed: int = 0) -> tuple[np.ndarray, np.ndarray, str]:
    """``rows`` rows for the mnist workload: Fashion-MNIST when installed, else uniform random pixels and labels."""
    try:
        from .datasets import load_fashion_mnist

        (X, y), _ = load_fashion_mnist(download=False)
        return np.ascontiguousarray(X[:rows], dtype=dtype), y[:rows], "Fashion-MNIST"
    except (FileNotFoundError, ValueError):
        generator = np.random.default_rng(seed)
        X = generator.random((rows, MNIST.input_dim), dtype=np.float64).astype(dtype)
        return X, generator.integers(0, MNIST.outputs, rows), "random data"


def ferronet_model(dtype: DTypeName, seed: int = 0) -> Sequential:
    return MNIST.model(dtype, seed)


def reference_model(
    weights: list[dict[str, np.ndarray]], dtype: DTypeName, spec: Workload = MNIST
) -> reference.Sequential:
    model = reference.Sequential(spec.layers(), input_dim=spec.input_dim, loss=spec.loss, dtype=dtype)
    model.set_weights(weights)
    return model


def numpy_loop(
    weights: list[dict[str, np.ndarray]], dtype: DTypeName, batch_size: int, spec: Workload = MNIST
) -> NumpyLoop:
    return NumpyLoop(weights, spec.loss, spec.optimizer().config(), batch_size, dtype)


def torch_available() -> bool:
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


class TorchTrainer:
    """The same network and update rule in PyTorch, trained by the usual CPU loop (one Python step per batch)."""

    def __init__(self, weights: list[dict[str, np.ndarray]], dtype: DTypeName, threads: int, spec: Workload = MNIST):
        import torch

        torch.set_num_threads(threads)
        self.torch = torch
        self.dtype = getattr(torch, dtype)
        modules: list[Any] = []
        for index, layer in enumerate(weights):
            linear = torch.nn.Linear(*layer["W"].shape, dtype=self.dtype)
            with torch.no_grad():
                linear.weight.copy_(torch.from_numpy(np.ascontiguousarray(layer["W"].T)))
                linear.bias.copy_(torch.from_numpy(layer["b"]))
            modules.append(linear)
            if index < len(weights) - 1:
                modules.append(torch.nn.ReLU())
        self.net = torch.nn.Sequential(*modules)
        if spec.optimizer_kind == "sgd":
            self.optimizer = torch.optim.SGD(self.net.parameters(), lr=LR, momentum=MOMENTUM)
        else:
            self.optimizer = torch.optim.Adam(self.net.parameters(), lr=ADAM_LR, betas=(0.9, 0.999), eps=1e-8)
        self.classify = spec.loss == "softmax_cross_entropy"
        self.loss = torch.nn.CrossEntropyLoss() if self.classify else torch.nn.MSELoss()

    def fit(self, X: np.ndarray, y: np.ndarray, batch_size: int, order: np.ndarray) -> None:
        torch = self.torch
        X_t = torch.from_numpy(X)
        y_t = torch.from_numpy(y if self.classify else y.reshape(-1, 1))
        for start in range(0, len(order), batch_size):
            index = torch.from_numpy(order[start : start + batch_size])
            self.optimizer.zero_grad(set_to_none=True)
            self.loss(self.net(X_t[index]), y_t[index]).backward()
            self.optimizer.step()

    def predict(self, X: np.ndarray) -> np.ndarray:
        with self.torch.no_grad():
            out = self.net(self.torch.from_numpy(X))
        result: np.ndarray = (out.argmax(dim=1) if self.classify else out).numpy()
        return result

    def weights(self) -> list[dict[str, np.ndarray]]:
        linears = [m for m in self.net if isinstance(m, self.torch.nn.Linear)]
        return [{"W": m.weight.detach().numpy().T.copy(), "b": m.bias.detach().numpy().copy()} for m in linears]


def _max_relative_difference(a: list[dict[str, np.ndarray]], b: list[dict[str, np.ndarray]]) -> float:
    worst = 0.0
    for left, right in zip(a, b, strict=True):
        for key in ("W", "b"):
            scale = max(float(np.abs(right[key]).max()), 1e-12)
            worst = max(worst, float(np.abs(left[key] - right[key]).max()) / scale)
    return worst


def check_agreement(
    dtype: DTypeName, batch_size: int, rows: int = 256, torch: bool = False, spec: Workload = MNIST
) -> dict[str, float]:
    """Train one epoch without shuffling in each backend from the same weights; the largest relative weight
    difference of each from ferronet. Raises AssertionError beyond float tolerance."""
    X, y, _ = spec.data(rows, dtype)
    model = spec.model(dtype)
    start = model.get_weights()
    model.fit(X, y, epochs=1, batch_size=batch_size, optimizer=spec.optimizer(), shuffle=False)
    tolerance = 1e-4 if dtype == "float32" else 1e-9
    ref = reference_model(start, dtype, spec)
    ref.fit(X, y, epochs=1, batch_size=batch_size, optimizer=spec.optimizer(), shuffle=False)
    loop = numpy_loop(start, dtype, batch_size, spec)
    loop.fit(X, y, batch_size, np.arange(rows))
    differences = {
        "reference": _max_relative_difference(ref.get_weights(), model.get_weights()),
        "numpy": _max_relative_difference(loop.weights(), model.get_weights()),
    }
    if torch and torch_available():
        trainer = TorchTrainer(start, dtype, threads=1, spec=spec)
        trainer.fit(X, y, batch_size, np.arange(rows))
        differences["torch"] = _max_relative_difference(trainer.weights(), model.get_weights())
    for name, difference in differences.items():
        if difference > tolerance:
            raise AssertionError(f"{name} disagrees with ferronet by {difference:.2e} (relative) at batch {batch_size}")
    return differences


def _best_rate(run: Callable[[], object], rows: int, repeats: int) -> float:
    """Rows per second of the fastest of ``repeats`` runs."""
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - started)
    return rows / best


def peak_matmul_gflops(dtype: DTypeName = "float32", size: int = 2048, repeats: int = 3) -> float:
    """The machine's practical peak: NumPy's (BLAS) size³ matmul, best of ``repeats``."""
    a = np.random.default_rng(0).random((size, size)).astype(dtype)
    a @ a
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        a @ a
        best = min(best, time.perf_counter() - started)
    return 2 * size**3 / best / 1e9


BACKENDS = ("ferronet", "ferronet 1 thread", "numpy", "torch", "reference")


@dataclass
class Row:
    workload: str
    label: str
    samples_per_second: dict[str, float] = field(default_factory=dict)
    flops_per_sample: int = 0

    def ratio(self, other: str) -> float | None:
        if other not in self.samples_per_second or "ferronet" not in self.samples_per_second:
            return None
        return self.samples_per_second["ferronet"] / self.samples_per_second[other]


@dataclass
class Report:
    dtype: str
    data: dict[str, str]
    machine: str
    threads: int
    peak_gflops: float
    rows: list[Row]
    agreement: dict[str, dict[str, float]]

    def percent_of_peak(self, row: Row) -> float | None:
        if not row.flops_per_sample:
            return None
        return 100 * row.samples_per_second["ferronet"] * row.flops_per_sample / (self.peak_gflops * 1e9)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)

    def table(self) -> str:
        backends = [b for b in BACKENDS if any(b in r.samples_per_second for r in self.rows)]
        ratios = [b for b in ("numpy", "torch", "reference", "ferronet 1 thread") if b in backends]
        names = {"ferronet 1 thread": "1 thread"}
        header = f"{'workload':<9}{'rows':>9} " + " ".join(f"{names.get(b, b) + ' /s':>13}" for b in backends)
        header += " " + " ".join(f"{'× ' + names.get(b, b):>10}" for b in ratios) + f" {'% peak':>7}"
        lines = [
            f"ferronet bench ({self.dtype}); "
            + "; ".join(
                f"{w.name}: {w.title}, {self.data.get(w.name, '')}" for w in WORKLOADS.values() if w.name in self.data
            ),
            f"machine: {self.machine}; {self.threads} threads; peak matmul {self.peak_gflops:.1f} GFLOP/s (NumPy float32)",
            header,
        ]
        for row in self.rows:
            cells = " ".join(f"{row.samples_per_second.get(b, float('nan')):>13,.0f}" for b in backends)
            line = f"{row.workload:<9}{row.label:>9} {cells} "
            parts = []
            for b in ratios:
                value = row.ratio(b)
                parts.append(f"{value:>9.2f}×" if value else f"{'-':>10}")
            line += " ".join(parts)
            peak = self.percent_of_peak(row)
            line += f" {peak:>6.1f}%" if peak is not None else f" {'':>7}"
            lines.append(line)
        return "\n".join(lines)


def _measure_training(
    spec: Workload, batch_size: int, X: np.ndarray, y: np.ndarray, dtype: DTypeName, repeats: int, use_torch: bool
) -> Row:
    """Samples/s of one training epoch at ``batch_size`` for each backend."""
    from . import get_num_threads, set_num_threads

    rows = X.shape[0]
    # Batch 1 is slow in Python backends: they see fewer rows (rates are per row).
    python_rows = min(rows, 1024) if batch_size == 1 else min(rows, 8192)
    model = spec.model(dtype)
    optimizer = spec.optimizer()
    warmup = min(rows, 4 * batch_size)
    model.fit(X[:warmup], y[:warmup], batch_size=batch_size, optimizer=optimizer)
    row = Row(spec.name, f"batch {batch_size}", flops_per_sample=spec.flops_per_sample())

    def epoch() -> object:
        return model.fit(X, y, epochs=1, batch_size=batch_size, optimizer=optimizer)

    row.samples_per_second["ferronet"] = _best_rate(epoch, rows, repeats)
    threads = get_num_threads()
    if threads > 1:
        set_num_threads(1)
        try:
            row.samples_per_second["ferronet 1 thread"] = _best_rate(epoch, rows, repeats)
        finally:
            set_num_threads(threads)
    weights = model.get_weights()
    order = np.random.default_rng(0).permutation(python_rows)
    loop = numpy_loop(weights, dtype, batch_size, spec)
    row.samples_per_second["numpy"] = _best_rate(
        lambda: loop.fit(X[:python_rows], y[:python_rows], batch_size, order), python_rows, repeats
    )
    ref = reference_model(weights, dtype, spec)
    ref_rows = min(python_rows, 2048)
    ref_optimizer = spec.optimizer()
    row.samples_per_second["reference"] = _best_rate(
        lambda: ref.fit(X[:ref_rows], y[:ref_rows], epochs=1, batch_size=batch_size, optimizer=ref_optimizer),
        ref_rows,
        repeats,
    )
    if use_torch:
        trainer = TorchTrainer(weights, dtype, threads=threads, spec=spec)
        row.samples_per_second["torch"] = _best_rate(
            lambda: trainer.fit(X[:python_rows], y[:python_rows], batch_size, order), python_rows, repeats
        )
    return row


def _measure_predict(spec: Workload, X: np.ndarray, dtype: DTypeName, repeats: int, use_torch: bool) -> Row:
    """Samples/s of predicting 1,024 rows."""
    from . import get_num_threads

    model = spec.model(dtype)
    weights = model.get_weights()
    block = np.ascontiguousarray(X[:1024])
    ref = reference_model(weights, dtype, spec)
    loop = numpy_loop(weights, dtype, 1024, spec)
    expected = model.predict(block)
    for name, predicted in (("reference", ref.predict(block)), ("numpy", loop.predict(block))):
        predicted = np.asarray(predicted).reshape(expected.shape)
        same = (
            np.mean(predicted == expected)
            if spec.loss != "mse"
            else float(np.allclose(predicted, expected, rtol=1e-3, atol=1e-4))
        )
        if same < 0.99:
            raise AssertionError(f"{name} predictions agree with ferronet on only {same:.1%} of rows")
    row = Row(spec.name, "predict")
    row.samples_per_second["ferronet"] = _best_rate(lambda: model.predict(block), 1024, 10 * repeats)
    row.samples_per_second["numpy"] = _best_rate(lambda: loop.predict(block), 1024, 10 * repeats)
    row.samples_per_second["reference"] = _best_rate(lambda: ref.predict(block), 1024, 10 * repeats)
    if use_torch:
        trainer = TorchTrainer(weights, dtype, threads=get_num_threads(), spec=spec)
        row.samples_per_second["torch"] = _best_rate(lambda: trainer.predict(block), 1024, 10 * repeats)
    return row


def run(
    batch_sizes: Sequence[int] | None = None,
    dtype: DTypeName = "float32",
    rows: int = 8192,
    repeats: int = 3,
    include_torch: bool = True,
    progress: Callable[[str], None] | None = None,
    workloads: Sequence[str] = ("mnist", "tabular"),
) -> Report:
    """Measure every backend on each workload (see the module docstring). ``batch_sizes`` replaces the mnist
    workload's batch sizes."""
    from . import get_num_threads

    say = progress or (lambda message: None)
    use_torch = include_torch and torch_available()
    agreement: dict[str, dict[str, float]] = {}
    table_rows: list[Row] = []
    data: dict[str, str] = {}
    for name in workloads:
        spec = WORKLOADS[name]
        sizes = tuple(batch_sizes) if batch_sizes and name == "mnist" else spec.batch_sizes
        X, y, data[name] = spec.data(rows, dtype)
        for batch_size in sorted(set(sizes)):
            say(f"{name}: checking agreement at batch {batch_size}")
            agreement[f"{name} {batch_size}"] = check_agreement(
                dtype, batch_size, rows=min(256, rows), torch=use_torch, spec=spec
            )
        for batch_size in sizes:
            say(f"{name}: timing batch {batch_size}")
            table_rows.append(_measure_training(spec, batch_size, X, y, dtype, repeats, use_torch))
        say(f"{name}: timing predict")
        table_rows.append(_measure_predict(spec, X, dtype, repeats, use_torch))
    say("measuring the peak matmul rate")
    return Report(
        dtype=dtype,
        data=data,
        machine=f"{platform.processor() or platform.machine()} ({_cpu_name()})",
        threads=get_num_threads(),
        peak_gflops=peak_matmul_gflops("float32"),
        rows=table_rows,
        agreement=agreement,
    )


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.machine()
