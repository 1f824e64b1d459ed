"""Train an MLP on Fashion-MNIST to about 90% test accuracy in well under a minute of CPU time.

The recipe (the one tests/test_fashion_mnist.py checks in CI):

- inputs standardized per pixel with the training set's mean and standard deviation;
- 784-512-256-10, ReLU hidden layers, a linear output layer (the softmax is in the cross-entropy loss);
- Adam (lr 1e-3), batch size 128, 12 epochs, the learning rate falling linearly towards 0 (epoch e of E trains at
  lr * (1 - e/E)). Decaying matters: 784-256-128 for 10 epochs reached 88.5% at a constant rate, 89.7% decayed.

Measured: 90.38%, 90.00% and 90.34% test accuracy for seeds 0, 1, 2, with 31-33 s of CPU time in fit (about 17 s
of wall time on an idle 2-core machine). BatchNorm and dropout are options of ``Recipe``; in runs this short they
did not pay for themselves (BatchNorm + dropout 0.2, exponential decay 0.75, 12 epochs: 89.82%; dropout 0.2 alone,
15 epochs: 90.31% for 45 s of CPU time).

    python examples/fashion_mnist.py                       # the recipe; prints accuracies and training time
    python examples/fashion_mnist.py --epochs 3 --out-dir /tmp/fmnist

The data comes from ``fnet.datasets.load_fashion_mnist()`` (Debian: ``apt-get install dataset-fashion-mnist``;
otherwise it is downloaded once into ``~/.cache/ferronet``). With matplotlib installed, the training history is
saved as ``<out-dir>/fashion_mnist_history.png``.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import ferronet as fnet
import numpy as np


@dataclass(frozen=True)
class Recipe:
    hidden: tuple[int, ...] = (512, 256)
    batch_norm: bool = False
    dropout: float = 0.0
    lr: float = 1e-3
    batch_size: int = 128
    epochs: int = 12
    seed: int = 0


class LinearDecay:
    """A schedule (any callable (epoch, lr0) -> lr works): lr0 * (1 - epoch/epochs), from lr0 down to lr0/epochs."""

    def __init__(self, epochs: int):
        self.epochs = epochs

    def __call__(self, epoch: int, lr0: float) -> float:
        return lr0 * (1.0 - epoch / self.epochs)


@dataclass
class Result:
    model: fnet.Sequential
    history: fnet.History
    seconds: float  # wall time of fit only
    cpu_seconds: float  # CPU time of this process during fit (all engine threads)
    train_accuracy: float
    test_accuracy: float


def load_standardized() -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Fashion-MNIST as float32 rows of 784 pixels, standardized with the training set's per-pixel statistics."""
    (X_train, y_train), (X_test, y_test) = fnet.datasets.load_fashion_mnist()
    scaler = fnet.preprocessing.Standardizer().fit(X_train)
    return (scaler.transform(X_train), y_train), (scaler.transform(X_test), y_test)


def build_model(recipe: Recipe, input_dim: int = 784, n_classes: int = 10) -> fnet.Sequential:
    layers: list[fnet.layers.Layer] = []
    for units in recipe.hidden:
        if recipe.batch_norm:
            # BatchNorm between the affine map and the nonlinearity, as in Ioffe & Szegedy (2015).
            layers += [fnet.Dense(units), fnet.BatchNorm(), fnet.Activation("relu")]
        else:
            layers.append(fnet.Dense(units, activation="relu"))
        if recipe.dropout:
            layers.append(fnet.Dropout(recipe.dropout))
    layers.append(fnet.Dense(n_classes))
    return fnet.Sequential(layers, input_dim=input_dim, seed=recipe.seed)


def train(
    recipe: Recipe,
    train_data: tuple[np.ndarray, np.ndarray],
    test_data: tuple[np.ndarray, np.ndarray],
    *,
    verbose: bool = False,
) -> Result:
    """Train ``recipe`` on ``train_data`` and evaluate on ``test_data``; times cover ``fit`` only."""
    model = build_model(recipe, input_dim=train_data[0].shape[1])
    started, cpu_started = time.perf_counter(), time.process_time()
    history = model.fit(
        *train_data,
        epochs=recipe.epochs,
        batch_size=recipe.batch_size,
        optimizer=fnet.optim.Adam(lr=recipe.lr),
        schedule=LinearDecay(recipe.epochs),
        verbose=verbose,
    )
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
    return Result(
        model=model,
        history=history,
        seconds=seconds,
        cpu_seconds=cpu_seconds,
        train_accuracy=model.evaluate(*train_data)["accuracy"],
        test_accuracy=model.evaluate(*test_data)["accuracy"],
    )


def save_history_plot(history: fnet.History, out_dir: Path) -> Path | None:
    """The loss/accuracy/lr curves as a PNG, or None (with a note) when matplotlib is not installed."""
    try:
        figure = fnet.plot.history(history, title="Fashion-MNIST MLP")
    except ImportError as error:
        print(f"no plot: {error}")
        return None
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "fashion_mnist_history.png"
    figure.savefig(path, dpi=100)
    return path


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    default = Recipe()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=default.epochs, help=f"default {default.epochs}")
    parser.add_argument("--batch-size", type=int, default=default.batch_size, help=f"default {default.batch_size}")
    parser.add_argument("--seed", type=int, default=default.seed)
    parser.add_argument("--out-dir", type=Path, default=Path("."), help="where the history plot goes (default .)")
    args = parser.parse_args(argv)
    if args.epochs < 1:
        parser.error(f"--epochs must be at least 1, got {args.epochs}")
    if args.batch_size < 2:  # BatchNorm needs two rows per batch
        parser.error(f"--batch-size must be at least 2, got {args.batch_size}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    recipe = Recipe(epochs=args.epochs, batch_size=args.batch_size, seed=args.seed)
    train_data, test_data = load_standardized()
    model = build_model(recipe)
    print(f"{recipe}\n{model.n_params} parameters, {fnet.get_num_threads()} threads")
    result = train(recipe, train_data, test_data, verbose=True)
    print(f"train accuracy {result.train_accuracy:.4f}")
    print(f"test accuracy  {result.test_accuracy:.4f}")
    print(f"training time  {result.seconds:.2f} s wall, {result.cpu_seconds:.2f} s CPU (fit only)")
    plot = save_history_plot(result.history, args.out_dir)
    if plot is not None:
        print(f"history plot   {plot}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
