"""How accurate can an MLP get on Fashion-MNIST within 10 seconds of training, on 2 CPU cores?

The timer wraps ``model.fit`` only (time.perf_counter): loading, standardizing and evaluating are excluded. The
CPU time of the process during fit (time.process_time, all engine threads) is printed too, because wall time on a
shared machine says more about the neighbours than about the recipe; on a quiet 2-core machine the wall time was
0.54-0.57 of the CPU time.

Recipe (chosen on a validation split, the last 10,000 training images, then trained on all 60,000):
784-256-128-10, each hidden layer Dense -> BatchNorm -> ReLU -> Dropout(0.1); Adam with lr 3e-3 falling linearly
towards 0 over 12 epochs; batch size 256; float32; inputs standardized per pixel.
Measured (2 shared cores; test accuracy is deterministic per seed): 89.90%, 90.08%, 90.16% for seeds 0, 1, 2
(mean 90.05%), with 13.5-17.3 s of CPU time in fit. Wall time depended on the neighbours: 7.8 s at a load average of
2.3, 10.7-11.5 s at 1.4-2.4, more when busier; the best wall time is within the 10 s budget. ``--epochs 10`` is the
safer choice on a busy machine: 89.95%, 89.76%, 89.73% (mean 89.81%) in 8.8-9.2 s at a load average of about 1.8.

Tried (Adam, linear decay, batch 128 unless stated; validation split; CPU seconds for 50,000 training rows):

    recipe                                                     val acc  CPU s
    784-256-128, Adam 2e-3, linear decay, batch 128, 12 ep      0.8990   12.4
    784-512-256, Adam 1e-3, linear decay, batch 128, 7 ep       0.8999   16.7
    784-512-256 BN, dropout 0.2, Adam 2e-3, 6 ep                0.8952   15.5
    784-1024 BN, dropout 0.3, Adam 2e-3, 5 ep                   0.8904   17.3
    784-512 BN, dropout 0.2, Adam 3e-3, batch 256, 8 ep         0.8941   13.7
    784-256-128 BN, dropout 0.1, Adam 3e-3, batch 256, 12 ep    0.9015   12.4   <- this recipe (seed 1: 0.9010)
    the same, 15 epochs                                         0.9002   16.5
    the same, dropout 0.2                                       0.9001   12.7
    the same, dropout 0.15, 13 epochs                           0.8997   15.5
    the same, Adam 5e-3, batch 512, 15 epochs                   0.8989   15.8
    the same, Adam 2e-3, batch 128, 10 epochs                   0.8983   13.4
    784-384-192 BN, dropout 0.1, 10 epochs                      0.9016   16.7   (60k rows: 0.9013 test in 9 ep, 19 s CPU)
    784-256-256 BN, dropout 0.1, 11 epochs                      0.9020   17.7   (too slow for 10 s on 60k rows)

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


class LinearDecay:
    """lr0 falling linearly towards 0 over the run: epoch e of E trains at lr0 * (1 - e/E)."""

    def __init__(self, epochs: int):
        self.epochs = epochs

    def __call__(self, epoch: int, lr0: float) -> float:
        return lr0 * (1.0 - epoch / self.epochs)


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
    parser.add_argument("--epochs", type=int, default=EPOCHS, help=f"default {EPOCHS}; 10 on a busy machine")
    args = parser.parse_args(argv)
    if args.epochs < 1:
        parser.error(f"--epochs must be at least 1, got {args.epochs}")

    (X_train, y_train), (X_test, y_test) = fnet.datasets.load_fashion_mnist()
    scaler = fnet.preprocessing.Standardizer().fit(X_train)
    X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)
    model = build_model(args.seed)
    optimizer = fnet.optim.Adam(lr=LR)

    load_before = os.getloadavg()[0]
    started, cpu_started = time.perf_counter(), time.process_time()
    model.fit(
        X_train,
        y_train,
        epochs=args.epochs,
        batch_size=BATCH_SIZE,
        optimizer=optimizer,
        schedule=LinearDecay(args.epochs),
    )
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started

    accuracy = model.evaluate(X_test, y_test)["accuracy"]
    print(
        f"784-{'-'.join(map(str, HIDDEN))}-10 BatchNorm, dropout {DROPOUT}, Adam {LR:g} linear decay, "
        f"batch {BATCH_SIZE}, {args.epochs} epochs"
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
