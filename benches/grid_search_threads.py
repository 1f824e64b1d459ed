"""GridSearchCV(n_jobs=2) over a small ferronet MLPClassifier grid: wall time and the engine threads inside the workers.

joblib's loky workers get OMP_NUM_THREADS = cores // n_jobs; dask's nanny sets OMP_NUM_THREADS=1. When the engine
follows that variable, two workers on two cores run one engine thread each instead of one per core each.

    python benches/grid_search_threads.py [--repeats 3]

Prints one JSON line: wall seconds per repeat, the engine thread count and the OS thread count seen in each worker
(from a scorer, so they are measured inside the fits' own processes), the parent's thread count and the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import time
import warnings

import ferronet as fnet
import numpy as np
from ferronet.sklearn import MLPClassifier
from sklearn.model_selection import GridSearchCV


def engine_threads(estimator: object, X: object, y: object) -> float:
    return float(fnet.get_num_threads())


def os_threads(estimator: object, X: object, y: object) -> float:
    return float(len(os.listdir("/proc/self/task")))


def worker_pid(estimator: object, X: object, y: object) -> float:
    return float(os.getpid())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--rows", type=int, default=6000, help="Fashion-MNIST training rows (default: 6000)")
    args = parser.parse_args()
    (X, y), _ = fnet.datasets.load_fashion_mnist(download=False)
    X, y = X[: args.rows], y[: args.rows]
    grid = {"hidden_layer_sizes": [(256,), (256, 128)], "alpha": [1e-4, 1e-3]}
    estimator = MLPClassifier(max_iter=5, batch_size=64, random_state=0, n_iter_no_change=1000)
    scoring = {"accuracy": "accuracy", "engine": engine_threads, "os": os_threads, "pid": worker_pid}
    warnings.simplefilter("ignore")  # max_iter is small on purpose: ConvergenceWarning
    os.environ["PYTHONWARNINGS"] = "ignore"  # and in the workers
    walls = []
    for _ in range(args.repeats):
        search = GridSearchCV(estimator, grid, cv=3, n_jobs=args.n_jobs, scoring=scoring, refit=False)
        start = time.perf_counter()
        search.fit(X, y)
        walls.append(round(time.perf_counter() - start, 2))
    results = search.cv_results_
    engine = sorted({int(v) for split in range(3) for v in results[f"split{split}_test_engine"]})
    threads = sorted({int(v) for split in range(3) for v in results[f"split{split}_test_os"]})
    pids = {int(v) for split in range(3) for v in results[f"split{split}_test_pid"]}
    print(
        json.dumps(
            {
                "wall_seconds": walls,
                "best_wall_seconds": min(walls),
                "engine_threads_in_workers": engine,
                "os_threads_in_workers": threads,
                "workers": len(pids),
                "parent_engine_threads": fnet.get_num_threads(),
                "mean_accuracy": round(float(np.mean(results["mean_test_accuracy"])), 4),
                "cpus": os.cpu_count(),
                "load_before": os.getloadavg(),
                "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS"),
                "FERRONET_NUM_THREADS": os.environ.get("FERRONET_NUM_THREADS"),
            }
        )
    )


if __name__ == "__main__":
    main()
