"""How accurate can an MLP get on Fashion-MNIST within 10 seconds of training, on 2 CPU cores?

The timer wraps ``model.fit`` only (time.perf_counter): loading, standardizing and evaluating are excluded. The
CPU time of the process during fit (time.process_time, all engine threads) is printed too, because wall time on a
shared machine says more about the neighbours than about the recipe; on an idle 2-core machine the wall time is
about half the CPU time.

Recipe (chosen on a validation split, the last 10,000 training images, then trained on all 60,000):
784-256-128-10, each hidden layer Dense -> BatchNorm -> ReLU -> Dropout(0.1); Adam with lr 3e-3 falling linearly
towards 0 over 12 epochs; batch size 256; float32; inputs standardized per pixel.
Measured: 89.90%, 90.08%, 90.16% test accuracy for seeds 0, 1, 2 (mean 90.05%), with 14.8-16.2 s of CPU time in
fit, about 8 s of wall time on an idle 2-core machine.

    python examples/fashion_mnist_10s.py             # trains once, prints test accuracy and times
    python examples/fashion_mnist_10s.py --seed 1
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import ferronet as fnet

HIDDEN = (256, 128)
DROPOUT = 0.1
LR = 3e-3
BATCH_SIZE = 256
EPOCHS = 12
BUDGET_SECONDS = 10.0


def linear_decay(epoch: int, lr0: float) -> float:
    """lr0 falling linearly towards 0 over the run: epoch e of E trains at lr0 * (1 - e/E)."""
    return lr0 * (1.0 - epoch / EPOCHS)


def build_model(seed: int) -> fnet.Sequential:
    layers: list[fnet.layers.Layer] = []
    for units in HIDDEN:
        # BatchNorm between the affine map and the nonlinearity (Ioffe & Szegedy, 2015).
        layers += [fnet.Dense(units), fnet.BatchNorm(), fnet.Activation("relu")]
        if DROPOUT:
            layers.append(fnet.Dropout(DROPOUT))
    layers.append(fnet.Dense(10))
    return fnet.Sequential(layers, input_dim=784, seed=seed)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    (X_train, y_train), (X_test, y_test) = fnet.datasets.load_fashion_mnist()
    scaler = fnet.preprocessing.Standardizer().fit(X_train)
    X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)
    model = build_model(args.seed)
    optimizer = fnet.optim.Adam(lr=LR)

    load_before = os.getloadavg()[0]
    started, cpu_started = time.perf_counter(), time.process_time()
    model.fit(X_train, y_train, epochs=EPOCHS, batch_size=BATCH_SIZE, optimizer=optimizer, schedule=linear_decay)
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started

    accuracy = model.evaluate(X_test, y_test)["accuracy"]
    print(
        f"784-{'-'.join(map(str, HIDDEN))}-10 BatchNorm, dropout {DROPOUT}, Adam {LR:g} linear decay, "
        f"batch {BATCH_SIZE}, {EPOCHS} epochs"
    )
    print(f"test accuracy {accuracy:.4f}")
    print(
        f"fit time {seconds:.2f} s wall, {cpu_seconds:.2f} s CPU on {fnet.get_num_threads()} threads "
        f"(load average {load_before:.2f} before fit)"
    )
    if seconds > BUDGET_SECONDS:
        print(f"over the {BUDGET_SECONDS:g} s budget (a busy machine? see the load average)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
