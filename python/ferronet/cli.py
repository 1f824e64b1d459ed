"""``python -m ferronet``: train a network on a dataset from the command line (more commands: ``--help``)."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence

import numpy as np

from . import datasets, optim
from .layers import BatchNorm, Dense, Dropout, Layer
from .model import Sequential
from .preprocessing import standardize, train_test_split

DATASETS = ("digits", "spiral", "fashion-mnist", "mnist")


class UsageError(Exception):
    """A bad flag value or missing data: reported in one line, exit status 2."""


def _positive_ints(text: str) -> list[int]:
    try:
        values = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated positive integers, got {text!r}") from None
    if any(value < 1 for value in values):
        raise argparse.ArgumentTypeError(f"expected positive integers, got {text!r}")
    return values


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _load(name: str, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(X_train, X_test, y_train, y_test) for a dataset name, features scaled for training."""
    if name == "digits":
        X, y = datasets.load_digits()
        return train_test_split(X / 16.0, y, test_fraction=0.2, seed=seed)
    if name == "spiral":
        X, y = datasets.make_spiral(seed=seed)
        return train_test_split(standardize(X), y, test_fraction=0.2, seed=seed)
    loader = datasets.load_fashion_mnist if name == "fashion-mnist" else datasets.load_mnist
    try:
        (X_train, y_train), (X_test, y_test) = loader()
    except FileNotFoundError as error:
        raise UsageError(str(error).splitlines()[0] + " (see ferronet.datasets for how to provide the files)") from None
    return X_train, X_test, y_train, y_test


def build_model(args: argparse.Namespace, input_dim: int, n_classes: int) -> Sequential:
    layers: list[Layer] = []
    for units in args.hidden:
        layers.append(Dense(units, activation=args.activation))
        if args.batch_norm:
            layers.append(BatchNorm())
        if args.dropout:
            layers.append(Dropout(args.dropout))
    layers.append(Dense(n_classes))
    return Sequential(layers, input_dim=input_dim, seed=args.seed)


def make_optimizer(args: argparse.Namespace) -> optim.Optimizer:
    if args.optimizer == "sgd":
        return optim.SGD(lr=args.lr, momentum=args.momentum)
    if args.optimizer == "adam":
        return optim.Adam(lr=args.lr)
    return optim.RMSProp(lr=args.lr)


def train(args: argparse.Namespace) -> int:
    X_train, X_test, y_train, y_test = _load(args.dataset, args.seed)
    n_classes = int(max(y_train.max(), y_test.max())) + 1
    try:
        model = build_model(args, X_train.shape[1], n_classes)
        optimizer = make_optimizer(args)
    except (TypeError, ValueError) as error:
        raise UsageError(str(error)) from None
    print(
        f"{args.dataset}: {X_train.shape[0]} training rows, {X_test.shape[0]} test rows, {X_train.shape[1]} features, {n_classes} classes"
    )
    model.summary()
    started = time.perf_counter()
    try:
        model.fit(X_train, y_train, epochs=args.epochs, batch_size=args.batch_size, optimizer=optimizer, verbose=True)
    except (TypeError, ValueError) as error:
        raise UsageError(str(error)) from None
    elapsed = time.perf_counter() - started
    result = model.evaluate(X_test, y_test)
    print(f"test loss {result['loss']:.4f}  test accuracy {result['accuracy']:.4f}  ({elapsed:.2f}s of training)")
    return 0


def bench(args: argparse.Namespace) -> int:
    from . import bench as benchmark

    if args.threads is not None:
        from . import set_num_threads

        set_num_threads(args.threads)
    report = benchmark.run(
        args.batch_sizes,
        dtype=args.dtype,
        rows=args.rows,
        repeats=args.repeats,
        include_torch=not args.no_torch,
        progress=lambda message: print(f"... {message}", file=sys.stderr, flush=True),
    )
    print(report.table())
    if args.json:
        with open(args.json, "w", encoding="utf-8") as out:
            out.write(report.to_json())
        print(f"wrote {args.json}")
    return 0


def parser() -> argparse.ArgumentParser:
    main = argparse.ArgumentParser(
        prog="python -m ferronet", description="Train dense neural networks with a Rust engine."
    )
    commands = main.add_subparsers(dest="command", required=True, metavar="COMMAND")
    t = commands.add_parser(
        "train",
        help="train a network on a dataset and report test accuracy",
        description="Train an MLP and report its test accuracy. With no flags: the shipped 8x8 digits.",
    )
    t.add_argument(
        "--dataset",
        choices=DATASETS,
        default="digits",
        help="data to train on (default: digits, shipped with the package)",
    )
    t.add_argument(
        "--hidden",
        type=_positive_ints,
        default=[256, 128],
        metavar="N,N",
        help="hidden layer widths (default: 256,128)",
    )
    t.add_argument(
        "--activation",
        choices=("relu", "leaky_relu", "sigmoid", "tanh"),
        default="relu",
        help="hidden activation (default: relu)",
    )
    t.add_argument("--epochs", type=_positive_int, default=10, help="passes over the training set (default: 10)")
    t.add_argument("--batch-size", type=_positive_int, default=128, help="rows per update (default: 128)")
    t.add_argument("--optimizer", choices=("sgd", "adam", "rmsprop"), default="sgd", help="update rule (default: sgd)")
    t.add_argument("--lr", type=float, default=0.05, help="learning rate (default: 0.05)")
    t.add_argument("--momentum", type=float, default=0.9, help="SGD momentum (default: 0.9)")
    t.add_argument("--dropout", type=float, default=0.0, help="dropout after each hidden layer (default: 0)")
    t.add_argument("--batch-norm", action="store_true", help="BatchNorm after each hidden layer")
    t.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    t.set_defaults(handler=train)
    b = commands.add_parser(
        "bench",
        help="time training side by side with the NumPy reference (and PyTorch if installed)",
        description="Training samples/s of a 784-256-128-10 ReLU net (SGD momentum 0.9) per batch size: ferronet, "
        "the NumPy reference and PyTorch (when installed), their ratios and ferronet's share of the peak matmul rate.",
    )
    b.add_argument(
        "--batch-sizes", type=_positive_ints, default=[1, 32, 128, 512], metavar="N,N", help="(default: 1,32,128,512)"
    )
    b.add_argument("--dtype", choices=("float32", "float64"), default="float32", help="(default: float32)")
    b.add_argument("--rows", type=_positive_int, default=8192, help="training rows per timed epoch (default: 8192)")
    b.add_argument(
        "--repeats", type=_positive_int, default=3, help="timed runs per measurement, best kept (default: 3)"
    )
    b.add_argument("--threads", type=_positive_int, default=None, help="engine threads (default: all cores)")
    b.add_argument("--no-torch", action="store_true", help="leave PyTorch out even when it is installed")
    b.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    b.set_defaults(handler=bench)
    return main


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return int(args.handler(args))
    except UsageError as error:
        print(f"ferronet: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("ferronet: interrupted", file=sys.stderr)
        return 130
