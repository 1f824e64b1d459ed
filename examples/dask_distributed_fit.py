"""Many machines, one model: Fashion-MNIST trained data-parallel on a Dask cluster with ``ferronet.distributed.fit``.

The 60,000 training images become a dask array of ``--partitions`` row chunks, persisted on the workers. Each chunk
trains a replica of a 784-256-128-10 ReLU network; every ``--sync-every`` batches the replicas' weights and optimizer
state are averaged through a tree of pairwise averages on the workers (local SGD). The client sends tasks and gets
back one averaged model per epoch, never the images. The same model trained by ``Sequential.fit`` on one machine
(``--compare``) gives the reference accuracy. Measured on a 2-core machine (2 single-threaded workers, 2 chunks,
SGD momentum 0.9, lr 0.05, batch 32, sync every 50 batches, 3 epochs): see docs/distributed.md. Runs unchanged on a
multi-machine cluster (``--scheduler``). Needs ``pip install 'ferronet[dask]'``.
"""

from __future__ import annotations

import argparse
import time

import dask
import dask.array as da
import ferronet as fnet
import numpy as np
from dask.distributed import Client, LocalCluster
from ferronet import distributed
from ferronet.optim import SGD, Adam


def network(seed: int) -> fnet.Sequential:
    return fnet.Sequential(
        [fnet.Dense(256, activation="relu"), fnet.Dense(128, activation="relu"), fnet.Dense(10)],
        input_dim=784,
        seed=seed,
    )


def read_chunk(start: int, stop: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows start..stop-1 of the Fashion-MNIST training set (run on a worker)."""
    (X, y), _ = fnet.datasets.load_fashion_mnist()
    return X[start:stop], y[start:stop]


def training_chunks(n: int, rows: int) -> tuple[da.Array, da.Array]:
    """The first n training rows as lazy dask arrays of chunks of ``rows`` rows, each read where it is computed."""
    bounds = [(start, min(start + rows, n)) for start in range(0, n, rows)]
    chunks = [dask.delayed(read_chunk, pure=True)(start, stop) for start, stop in bounds]
    X = da.concatenate(
        [da.from_delayed(c[0], (b - a, 784), np.float32) for c, (a, b) in zip(chunks, bounds, strict=True)]
    )
    y = da.concatenate([da.from_delayed(c[1], (b - a,), np.int64) for c, (a, b) in zip(chunks, bounds, strict=True)])
    return X, y


def optimizer(name: str, lr: float | None) -> SGD | Adam:
    if name == "adam":
        return Adam(lr=lr or 1e-3)
    return SGD(lr=lr or 0.05, momentum=0.9)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scheduler", help="address of a running scheduler (default: start a LocalCluster)")
    parser.add_argument("--workers", type=int, default=2, help="LocalCluster worker processes (default: 2)")
    parser.add_argument("--partitions", type=int, help="row chunks of the training set (default: one per worker)")
    parser.add_argument("--epochs", type=int, default=3, help="epochs (default: 3)")
    parser.add_argument("--batch-size", type=int, default=32, help="rows per batch in each chunk (default: 32)")
    parser.add_argument("--sync-every", type=int, default=50, help="batches between averages (default: 50)")
    parser.add_argument("--optimizer", choices=("sgd", "adam"), default="sgd", help="sgd (momentum 0.9) or adam")
    parser.add_argument("--lr", type=float, help="learning rate (default: 0.05 for sgd, 1e-3 for adam)")
    parser.add_argument("--seed", type=int, default=0, help="the model's seed (default: 0)")
    parser.add_argument("--compare", action="store_true", help="also train on this machine with Sequential.fit")
    parser.add_argument("--quick", action="store_true", help="10,000 training rows and 1 epoch (for the tests)")
    args = parser.parse_args(argv)

    (X_train, y_train), (X_test, y_test) = fnet.datasets.load_fashion_mnist()
    if args.quick:
        X_train, y_train, args.epochs = X_train[:10_000], y_train[:10_000], 1
    partitions = args.partitions or args.workers
    rows = -(-len(X_train) // partitions)
    print(f"data: {len(X_train):,} training rows in {partitions} chunks of {rows:,}, {len(X_test):,} test rows")

    if args.scheduler:
        client = Client(args.scheduler)
        cluster = None
    else:
        # One engine thread per worker process: the workers share this machine's cores.
        cluster = LocalCluster(
            n_workers=args.workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            env={"FERRONET_NUM_THREADS": "1"},
        )
        client = Client(cluster)
    with client:
        # Each worker reads its chunks itself: the images never pass through this process, and a chunk lost with a
        # worker is read again.
        X, y = training_chunks(len(X_train), rows)
        X, y = client.persist([X, y])
        model = network(args.seed)
        started = time.perf_counter()
        history = distributed.fit(
            model,
            X,
            y,
            client=client,
            epochs=args.epochs,
            batch_size=args.batch_size,
            optimizer=optimizer(args.optimizer, args.lr),
            sync_every=args.sync_every,
            validation_data=(X_test, y_test),
            verbose=2,
        )
        seconds = time.perf_counter() - started
        workers = len(client.scheduler_info()["workers"])
    if cluster is not None:
        cluster.close()
    throughput = args.epochs * len(X_train) / sum(history.history["epoch_seconds"])
    accuracy = model.evaluate(X_test, y_test)["accuracy"]
    print(f"distributed ({workers} workers, {partitions} chunks): test accuracy {accuracy:.4f}, {seconds:.1f} s in all")
    print(f"  {throughput:,.0f} training rows/s over the epochs")

    if args.compare:
        fnet.set_num_threads(1)  # one core, as one worker has
        reference = network(args.seed)
        started = time.perf_counter()
        reference.fit(
            X_train,
            y_train,
            epochs=args.epochs,
            batch_size=args.batch_size,
            optimizer=optimizer(args.optimizer, args.lr),
        )
        seconds = time.perf_counter() - started
        single = reference.evaluate(X_test, y_test)["accuracy"]
        print(f"one machine (Sequential.fit, 1 thread): test accuracy {single:.4f}, {seconds:.1f} s")
        print(f"difference: {100 * (accuracy - single):+.2f} percentage points")
    print(f"chance: {np.bincount(y_test).max() / len(y_test):.2f} (the test set's most frequent class)")


if __name__ == "__main__":
    main()
