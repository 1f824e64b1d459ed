"""Side-by-side training speed: ferronet vs the NumPy reference (and PyTorch on the CPU when it is installed).

The workload of the performance issue: a 784-256-128-10 ReLU net, softmax cross-entropy, SGD with momentum 0.9,
whole epochs through ``fit``, on rows of Fashion-MNIST when installed (else random data of that shape). Every
backend trains from the same initial weights, and their results are checked to agree before anything is timed.
Numbers are training samples per second; compare them as ratios taken in one run.
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
from ._types import DTypeName
from .layers import Dense, Layer
from .model import Sequential
from .optim import SGD

WIDTHS = (256, 128)
INPUT_DIM = 784
CLASSES = 10
LR = 0.01
MOMENTUM = 0.9


def layers() -> list[Layer]:
    return [Dense(WIDTHS[0], activation="relu"), Dense(WIDTHS[1], activation="relu"), Dense(CLASSES)]


def flops_per_sample() -> int:
    """Multiply-adds × 2 of one training step per row: forward, dW for every layer, dX for all but the first."""
    dims = (INPUT_DIM, *WIDTHS, CLASSES)
    weights = [a * b for a, b in itertools.pairwise(dims)]
    return 2 * (2 * sum(weights) + sum(weights[1:]))


def workload(rows: int, dtype: DTypeName = "float32", seed: int = 0) -> tuple[np.ndarray, np.ndarray, str]:
    """``rows`` training rows: Fashion-MNIST when installed, else uniform random pixels and labels."""
    try:
        from .datasets import load_fashion_mnist

        (X, y), _ = load_fashion_mnist(download=False)
        return np.ascontiguousarray(X[:rows], dtype=dtype), y[:rows], "Fashion-MNIST"
    except (FileNotFoundError, ValueError):
        generator = np.random.default_rng(seed)
        X = generator.random((rows, INPUT_DIM), dtype=np.float64).astype(dtype)
        return X, generator.integers(0, CLASSES, rows), "random data"


def ferronet_model(dtype: DTypeName, seed: int = 0) -> Sequential:
    return Sequential(layers(), input_dim=INPUT_DIM, dtype=dtype, seed=seed)


def reference_model(weights: list[dict[str, np.ndarray]], dtype: DTypeName) -> reference.Sequential:
    model = reference.Sequential(layers(), input_dim=INPUT_DIM, dtype=dtype)
    model.set_weights(weights)
    return model


def torch_available() -> bool:
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


class TorchTrainer:
    """The same network and update rule in PyTorch, trained by the usual CPU loop (one Python step per batch)."""

    def __init__(self, weights: list[dict[str, np.ndarray]], dtype: DTypeName, threads: int):
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
        self.optimizer = torch.optim.SGD(self.net.parameters(), lr=LR, momentum=MOMENTUM)
        self.loss = torch.nn.CrossEntropyLoss()

    def fit(self, X: np.ndarray, y: np.ndarray, batch_size: int, order: np.ndarray) -> None:
        torch = self.torch
        X_t, y_t = torch.from_numpy(X), torch.from_numpy(y)
        for start in range(0, len(order), batch_size):
            index = torch.from_numpy(order[start : start + batch_size])
            self.optimizer.zero_grad(set_to_none=True)
            self.loss(self.net(X_t[index]), y_t[index]).backward()
            self.optimizer.step()

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


def check_agreement(dtype: DTypeName, batch_size: int, rows: int = 256, torch: bool = False) -> dict[str, float]:
    """Train one epoch without shuffling in each backend from the same weights; the largest relative weight
    difference of the reference (and PyTorch) from ferronet. Raises AssertionError beyond float tolerance."""
    X, y, _ = workload(rows, dtype)
    model = ferronet_model(dtype)
    start = model.get_weights()
    model.fit(X, y, epochs=1, batch_size=batch_size, optimizer=SGD(lr=LR, momentum=MOMENTUM), shuffle=False)
    tolerance = 1e-4 if dtype == "float32" else 1e-9
    ref = reference_model(start, dtype)
    ref.fit(X, y, epochs=1, batch_size=batch_size, optimizer=SGD(lr=LR, momentum=MOMENTUM), shuffle=False)
    differences = {"reference": _max_relative_difference(ref.get_weights(), model.get_weights())}
    if torch and torch_available():
        trainer = TorchTrainer(start, dtype, threads=1)
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


@dataclass
class Row:
    batch_size: int
    samples_per_second: dict[str, float] = field(default_factory=dict)

    def ratio(self, other: str) -> float | None:
        if other not in self.samples_per_second:
            return None
        return self.samples_per_second["ferronet"] / self.samples_per_second[other]


@dataclass
class Report:
    dtype: DTypeName
    data: str
    machine: str
    threads: int
    peak_gflops: float
    flops_per_sample: int
    rows: list[Row]
    predict: Row | None
    agreement: dict[str, dict[str, float]]

    def percent_of_peak(self, row: Row) -> float:
        return 100 * row.samples_per_second["ferronet"] * self.flops_per_sample / (self.peak_gflops * 1e9)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)

    def table(self) -> str:
        backends = [b for b in ("ferronet", "reference", "torch") if any(b in r.samples_per_second for r in self.rows)]
        header = f"{'batch':>7} " + " ".join(f"{b + ' /s':>14}" for b in backends)
        header += f" {'× reference':>12}" + (f" {'× torch':>9}" if "torch" in backends else "") + f" {'% peak':>7}"
        lines = [
            f"ferronet bench: 784-256-128-10 ReLU, softmax CE, SGD momentum {MOMENTUM}, {self.dtype}, {self.data}",
            f"machine: {self.machine}; {self.threads} threads; peak matmul {self.peak_gflops:.1f} GFLOP/s (NumPy)",
            header,
        ]
        for row in [*self.rows, *([self.predict] if self.predict else [])]:
            label = f"{row.batch_size:>7}" if row is not self.predict else f"{'predict':>7}"
            cells = " ".join(f"{row.samples_per_second.get(b, float('nan')):>14,.0f}" for b in backends)
            ratio = row.ratio("reference")
            line = f"{label} {cells} {ratio:>11.2f}×"
            if "torch" in backends:
                torch_ratio = row.ratio("torch")
                line += f" {torch_ratio:>8.2f}×" if torch_ratio else f" {'-':>9}"
            line += f" {self.percent_of_peak(row):>6.1f}%" if row is not self.predict else f" {'':>7}"
            lines.append(line)
        return "\n".join(lines)


def _measure_batch_size(
    batch_size: int, X: np.ndarray, y: np.ndarray, dtype: DTypeName, repeats: int, use_torch: bool
) -> Row:
    """Samples/s of one training epoch at ``batch_size`` for each backend."""
    from . import get_num_threads

    rows = X.shape[0]
    # Batch 1 is slow in Python backends: they see fewer rows (rates are per row).
    python_rows = min(rows, 1024) if batch_size == 1 else min(rows, 4096)
    model = ferronet_model(dtype)
    optimizer = SGD(lr=LR, momentum=MOMENTUM)
    warmup = min(rows, 4 * batch_size)
    model.fit(X[:warmup], y[:warmup], batch_size=batch_size, optimizer=optimizer)
    row = Row(batch_size)
    row.samples_per_second["ferronet"] = _best_rate(
        lambda: model.fit(X, y, epochs=1, batch_size=batch_size, optimizer=optimizer), rows, repeats
    )
    ref = reference_model(model.get_weights(), dtype)
    ref_optimizer = SGD(lr=LR, momentum=MOMENTUM)
    row.samples_per_second["reference"] = _best_rate(
        lambda: ref.fit(X[:python_rows], y[:python_rows], epochs=1, batch_size=batch_size, optimizer=ref_optimizer),
        python_rows,
        repeats,
    )
    if use_torch:
        trainer = TorchTrainer(model.get_weights(), dtype, threads=get_num_threads())
        order = np.random.default_rng(0).permutation(python_rows)
        row.samples_per_second["torch"] = _best_rate(
            lambda: trainer.fit(X[:python_rows], y[:python_rows], batch_size, order), python_rows, repeats
        )
    return row


def run(
    batch_sizes: Sequence[int] = (1, 32, 128, 512),
    dtype: DTypeName = "float32",
    rows: int = 8192,
    repeats: int = 3,
    include_torch: bool = True,
    progress: Callable[[str], None] | None = None,
) -> Report:
    """Measure every backend at every batch size; see the module docstring."""
    from . import get_num_threads

    say = progress or (lambda message: None)
    X, y, data = workload(rows, dtype)
    use_torch = include_torch and torch_available()
    agreement = {}
    for batch_size in sorted(set(batch_sizes)):
        say(f"checking agreement at batch {batch_size}")
        agreement[str(batch_size)] = check_agreement(dtype, max(batch_size, 1), rows=min(256, rows), torch=use_torch)
    table_rows = []
    for batch_size in batch_sizes:
        say(f"timing batch {batch_size}")
        table_rows.append(_measure_batch_size(batch_size, X, y, dtype, repeats, use_torch))
    say("timing predict")
    model = ferronet_model(dtype)
    ref = reference_model(model.get_weights(), dtype)
    block = X[:1024]
    agreement_rate = float(np.mean(model.predict(block) == ref.predict(block)))
    if agreement_rate < 0.99:
        raise AssertionError(f"predictions agree with the reference on only {agreement_rate:.1%} of rows")
    predict = Row(1024)
    predict.samples_per_second["ferronet"] = _best_rate(lambda: model.predict(block), 1024, 10 * repeats)
    predict.samples_per_second["reference"] = _best_rate(lambda: ref.predict(block), 1024, 10 * repeats)
    say("measuring the peak matmul rate")
    return Report(
        dtype=dtype,
        data=data,
        machine=f"{platform.processor() or platform.machine()} ({_cpu_name()})",
        threads=get_num_threads(),
        peak_gflops=peak_matmul_gflops(dtype),
        flops_per_sample=flops_per_sample(),
        rows=table_rows,
        predict=predict,
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
