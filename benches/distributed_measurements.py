"""The measurements of docs/distributed.md: ferronet.distributed on a LocalCluster of this machine.

    python benches/distributed_measurements.py throughput   # epoch time, 1 and 2 single-threaded workers, best of N
    python benches/distributed_measurements.py accuracy     # Fashion-MNIST test accuracy against Sequential.fit
    python benches/distributed_measurements.py workers8     # 8 worker processes: the same bits as 2, and accuracy
    python benches/distributed_measurements.py memory       # client peak memory on data 4x larger than it may use

Each prints one line per measurement, with the machine's load average.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

import dask.array as da
import ferronet as fnet
import numpy as np
from dask.distributed import Client, LocalCluster
from ferronet import distributed
from ferronet.optim import SGD, Adam


def network(seed: int = 0) -> fnet.Sequential:
    layers = [fnet.Dense(256, activation="relu"), fnet.Dense(128, activation="relu"), fnet.Dense(10)]
    return fnet.Sequential(layers, input_dim=784, seed=seed)


def make_optimizer(name: str) -> SGD | Adam:
    return Adam(lr=1e-3) if name == "adam" else SGD(lr=0.05, momentum=0.9)


def cluster(workers: int) -> LocalCluster:
    return LocalCluster(
        n_workers=workers,
        threads_per_worker=1,
        processes=True,
        dashboard_address=None,
        env={"FERRONET_NUM_THREADS": "1"},
    )


def load() -> str:
    return "load {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())


def fashion_on(client: Client, partitions: int) -> tuple[da.Array, da.Array, np.ndarray, np.ndarray]:
    (X, y), (X_test, y_test) = fnet.datasets.load_fashion_mnist()
    rows = -(-len(X) // partitions)
    X_dask, y_dask = client.persist([da.from_array(X, chunks=(rows, 784)), da.from_array(y, chunks=rows)])
    return X_dask, y_dask, X_test, y_test


def throughput(args: argparse.Namespace) -> None:
    """Best-of-N epoch seconds of the same fit (same partitioning, same bits) on 1 and on 2 workers, and of
    Sequential.fit on one thread."""
    fnet.set_num_threads(1)
    (X, y), _ = fnet.datasets.load_fashion_mnist()
    for batch_size, _ in args.configs:
        times = []
        for _ in range(args.repeats):
            model = network()
            started = time.perf_counter()
            model.fit(X, y, epochs=1, batch_size=batch_size, optimizer=make_optimizer(args.optimizer))
            times.append(time.perf_counter() - started)
        print(
            f"Sequential.fit 1 thread  {args.optimizer} batch {batch_size}: best {min(times):.3f} s/epoch "
            f"({len(X) / min(times):,.0f} rows/s)  [{load()}]",
            flush=True,
        )
    for workers in (1, 2):
        with cluster(workers) as local, Client(local) as client:
            X_dask, y_dask, _, _ = fashion_on(client, 2)
            for batch_size, sync_every in args.configs:
                times = []
                for _ in range(args.repeats):
                    history = distributed.fit(
                        network(),
                        X_dask,
                        y_dask,
                        client=client,
                        batch_size=batch_size,
                        optimizer=make_optimizer(args.optimizer),
                        sync_every=sync_every,
                    )
                    times.append(history.history["epoch_seconds"][0])
                print(
                    f"distributed {workers} worker(s), 2 chunks  {args.optimizer} batch {batch_size} sync_every "
                    f"{sync_every}: best {min(times):.3f} s/epoch ({len(X) / min(times):,.0f} rows/s)  "
                    f"all {[round(t, 3) for t in times]}  [{load()}]",
                    flush=True,
                )


def accuracy(args: argparse.Namespace) -> None:
    """Test accuracy after ``--epochs`` epochs: 2 workers (2 chunks) against Sequential.fit, per seed."""
    fnet.set_num_threads(1)
    batch_size, sync_every = args.configs[0]
    with cluster(2) as local, Client(local) as client:
        X_dask, y_dask, X_test, y_test = fashion_on(client, 2)
        (X, y), _ = fnet.datasets.load_fashion_mnist()
        for seed in range(args.seeds):
            single = network(seed)
            single.fit(X, y, epochs=args.epochs, batch_size=batch_size, optimizer=make_optimizer(args.optimizer))
            spread = network(seed)
            distributed.fit(
                spread,
                X_dask,
                y_dask,
                client=client,
                epochs=args.epochs,
                batch_size=batch_size,
                optimizer=make_optimizer(args.optimizer),
                sync_every=sync_every,
            )
            a, b = single.evaluate(X_test, y_test)["accuracy"], spread.evaluate(X_test, y_test)["accuracy"]
            print(
                f"seed {seed}, {args.epochs} epochs, {args.optimizer} batch {batch_size} sync_every {sync_every}: "
                f"Sequential.fit {a:.4f}, distributed (2 workers) {b:.4f}, difference {100 * (b - a):+.2f} points",
                flush=True,
            )


def workers8(args: argparse.Namespace) -> None:
    """8 chunks trained by 8 worker processes and by 2: the same bits; the accuracy."""
    batch_size, sync_every = args.configs[0]
    results = {}
    for workers in (8, 2):
        with cluster(workers) as local, Client(local) as client:
            X_dask, y_dask, X_test, y_test = fashion_on(client, 8)
            model = network()
            started = time.perf_counter()
            distributed.fit(
                model,
                X_dask,
                y_dask,
                client=client,
                epochs=args.epochs,
                batch_size=batch_size,
                optimizer=make_optimizer(args.optimizer),
                sync_every=sync_every,
            )
            seconds = time.perf_counter() - started
            used = len(client.scheduler_info()["workers"])
            results[workers] = model
            print(
                f"{used} workers, 8 chunks, {args.epochs} epoch(s): test accuracy "
                f"{model.evaluate(X_test, y_test)['accuracy']:.4f}, {seconds:.1f} s  [{load()}]",
                flush=True,
            )
    first, second = (results[w].state_dict() for w in (8, 2))
    same = first["meta"] == second["meta"] and all(
        np.array_equal(array, second["tensors"][name]) for name, array in first["tensors"].items()
    )
    print(f"8 workers and 2 workers give the same bits: {same}")


def _client_run(address: str, rows: int, limit: int, batch_size: int, sync_every: int) -> None:
    """The client process of ``memory``: limited to ``limit`` bytes of address space, it trains on a lazy
    array generated on the workers and reports its peak resident memory."""
    if limit:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    with Client(address) as client:
        generator = da.random.default_rng(0)
        X = generator.standard_normal((rows, 784), chunks=(-(-rows // 2), 784), dtype=np.float32)
        y = (X[:, :10].argmax(axis=1)).astype(np.int64)  # labels a function of the features: something to learn
        started = time.perf_counter()
        history = distributed.fit(
            network(),
            X,
            y,
            client=client,
            batch_size=batch_size,
            sync_every=sync_every,
            optimizer=make_optimizer("adam"),
        )
        seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**10
    print(
        json.dumps(
            {
                "rows": rows,
                "gib": rows * 784 * 4 / 2**30,
                "limit_gib": limit / 2**30,
                "seconds": seconds,
                "client_peak_mib": peak,
                "loss": history.history["loss"][0],
                "accuracy": history.history["accuracy"][0],
            }
        ),
        flush=True,
    )


def memory(args: argparse.Namespace) -> None:
    """Client peak memory for X of 0.75 GiB and of 3 GiB (4x the client's 768 MiB address-space limit)."""
    with cluster(2) as local:
        for rows, limit in ((256_000, 0), (1_024_000, 768 * 2**20)):
            child = subprocess.run(
                [sys.executable, __file__, "_client", local.scheduler_address, str(rows), str(limit)],
                capture_output=True,
                text=True,
                check=False,
                env={**os.environ, "MALLOC_ARENA_MAX": "2", "OPENBLAS_NUM_THREADS": "1"},
            )
            lines = [line for line in child.stdout.splitlines() if line.startswith("{")]
            if child.returncode != 0 or not lines:
                print(f"client for {rows} rows failed ({child.returncode}):\n{child.stderr[-3000:]}")
                continue
            result = json.loads(lines[-1])
            print(
                f"X {result['gib']:.2f} GiB ({rows:,} x 784 float32), client address space limit "
                f"{result['limit_gib'] or 'none'} GiB: 1 epoch in {result['seconds']:.1f} s, client peak RSS "
                f"{result['client_peak_mib']:.0f} MiB, training accuracy {result['accuracy']:.3f}  [{load()}]",
                flush=True,
            )


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "_client":
        _client_run(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), 256, 50)
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=("throughput", "accuracy", "workers8", "memory"))
    parser.add_argument("--optimizer", choices=("sgd", "adam"), default="adam")
    parser.add_argument("--config", action="append", help="BATCH_SIZE:SYNC_EVERY (repeatable; default 64:50)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args()
    args.configs = [tuple(int(part) for part in text.split(":")) for text in (args.config or ["64:50"])]
    {"throughput": throughput, "accuracy": accuracy, "workers8": workers8, "memory": memory}[args.what](args)


if __name__ == "__main__":
    main()
