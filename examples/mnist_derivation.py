"""The MNIST-derivation protocol, on Fashion-MNIST: 784-200-10 ReLU, online SGD, learning rate halved every epoch.

The network of the classic "derive backpropagation for MNIST by hand" tutorial: one hidden layer of 200 ReLU units,
softmax cross-entropy, plain SGD on one image at a time (batch_size=1), learning rate 1e-3 halved after every epoch.
Pixels are scaled to [0, 1], as in the tutorial. The last 10,000 training images are held out for validation (the
model never trains on them); the 10,000 test images are only evaluated.

    python examples/mnist_derivation.py                 # 5 epochs on all the data
    python examples/mnist_derivation.py --quick         # a small subset, for a smoke test

Prints one line per epoch with the learning rate used, train/validation/test accuracy and the epoch's training time.
"""

from __future__ import annotations

import argparse
import sys
import time

import ferronet as fnet
import numpy as np

N_VALIDATION = 10_000
QUICK_TRAIN, QUICK_VALIDATION, QUICK_TEST = 3_000, 1_000, 1_000


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=5, help="passes over the training images (default 5)")
    parser.add_argument("--lr", type=float, default=1e-3, help="initial learning rate, halved every epoch")
    parser.add_argument("--hidden", type=int, default=200, help="hidden ReLU units (default 200)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"train on {QUICK_TRAIN} images, validate and test on {QUICK_VALIDATION} each (a smoke test)",
    )
    args = parser.parse_args(argv)
    if args.epochs < 1:
        parser.error(f"--epochs must be at least 1, got {args.epochs}")
    if args.lr <= 0:
        parser.error(f"--lr must be positive, got {args.lr}")
    if args.hidden < 1:
        parser.error(f"--hidden must be at least 1, got {args.hidden}")
    return args


def split(quick: bool) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Train / validation (the last training images) / test, pixels in [0, 1] as float32."""
    (X, y), (X_test, y_test) = fnet.datasets.load_fashion_mnist()
    cut = X.shape[0] - N_VALIDATION
    parts = {"train": (X[:cut], y[:cut]), "validation": (X[cut:], y[cut:]), "test": (X_test, y_test)}
    if quick:
        sizes = {"train": QUICK_TRAIN, "validation": QUICK_VALIDATION, "test": QUICK_TEST}
        parts = {name: (Xp[: sizes[name]], yp[: sizes[name]]) for name, (Xp, yp) in parts.items()}
    return parts


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    data = split(args.quick)
    X_train, y_train = data["train"]
    model = fnet.Sequential(
        [fnet.Dense(args.hidden, activation="relu"), fnet.Dense(10)], input_dim=X_train.shape[1], seed=args.seed
    )
    optimizer = fnet.optim.SGD(lr=args.lr)
    schedule = fnet.schedules.StepDecay(factor=0.5, every=1)
    sizes = ", ".join(f"{name} {part[0].shape[0]}" for name, part in data.items())
    print(f"784-{args.hidden}-10 ReLU, online SGD (batch_size=1), lr {args.lr:g} halved every epoch; {sizes} images")
    print(f"{'epoch':>5} {'lr':>10} {'train_acc':>9} {'val_acc':>9} {'test_acc':>9} {'seconds':>8}")
    total = cpu = 0.0
    for epoch in range(args.epochs):
        # One epoch per fit call so that every epoch reports all three accuracies; the schedule is evaluated at the
        # true epoch number (StepDecay of `epoch`), so this is the same run as one fit(epochs=...) call.
        lr = schedule(epoch, args.lr)
        optimizer.lr = lr
        started, cpu_started = time.perf_counter(), time.process_time()
        model.fit(X_train, y_train, epochs=1, batch_size=1, optimizer=optimizer, shuffle=True)
        seconds = time.perf_counter() - started
        total += seconds
        cpu += time.process_time() - cpu_started
        accuracy = {name: model.evaluate(Xp, yp)["accuracy"] for name, (Xp, yp) in data.items()}
        print(
            f"{epoch + 1:>5} {lr:>10.3g} {accuracy['train']:>9.4f} {accuracy['validation']:>9.4f} "
            f"{accuracy['test']:>9.4f} {seconds:>8.2f}",
            flush=True,
        )
    print(f"training time {total:.2f} s wall, {cpu:.2f} s CPU (fit only, {fnet.get_num_threads()} threads)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
