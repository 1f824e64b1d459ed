"""Hyperparameter search on a Dask cluster: scikit-learn's GridSearchCV over ferronet's MLPClassifier.

GridSearchCV hands its (candidate, fold) fits to joblib; under ``joblib.parallel_backend("dask")`` joblib sends
them to the workers of a dask.distributed cluster instead of local processes. Nothing else changes: the same
script runs on a laptop's LocalCluster or on many machines (pass the scheduler's address with --scheduler).
The result equals a local GridSearchCV with the same random_state (ferronet is deterministic).
Needs ``pip install 'ferronet[dask]'``.
"""

from __future__ import annotations

import argparse
import time
import warnings

import ferronet as fnet
import joblib
from dask.distributed import Client, LocalCluster
from ferronet.sklearn import MLPClassifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scheduler", help="address of a running scheduler (default: start a LocalCluster)")
    parser.add_argument("--n-workers", type=int, default=2, help="worker processes of the LocalCluster (default: 2)")
    parser.add_argument("--max-iter", type=int, default=30, help="epochs per fit (default: 30)")
    args = parser.parse_args(argv)

    X, y = fnet.datasets.load_digits()
    X_train, X_test, y_train, y_test = fnet.preprocessing.train_test_split(X / 16.0, y, test_fraction=0.25, seed=0)
    search = GridSearchCV(
        MLPClassifier(solver="sgd", learning_rate_init=0.1, batch_size=64, max_iter=args.max_iter, random_state=0),
        {"hidden_layer_sizes": [(32,), (128,), (64, 64)], "alpha": [1e-4, 1e-2, 1.0], "activation": ["relu", "tanh"]},
        cv=3,
    )

    if args.scheduler:
        client = Client(args.scheduler)
    else:
        # One engine thread per worker process, so the workers do not compete for the same cores.
        cluster = LocalCluster(
            n_workers=args.n_workers, threads_per_worker=1, processes=True, env={"FERRONET_NUM_THREADS": "1"}
        )
        client = Client(cluster)
    with client:
        print(f"cluster: {len(client.scheduler_info()['workers'])} workers, dashboard {client.dashboard_link}")
        start = time.perf_counter()
        with joblib.parallel_backend("dask"), warnings.catch_warnings():
            # A short max_iter may stop before tol is reached; that is the point of searching over it quickly.
            warnings.simplefilter("ignore", ConvergenceWarning)
            search.fit(X_train, y_train)
        seconds = time.perf_counter() - start
        if not args.scheduler:
            cluster.close()

    results = search.cv_results_
    print(f"{len(results['params'])} candidates x 3 folds in {seconds:.1f} s on the cluster")
    for rank, params, mean, std in sorted(
        zip(
            results["rank_test_score"],
            results["params"],
            results["mean_test_score"],
            results["std_test_score"],
            strict=True,
        ),
        key=lambda row: row[0],
    )[:5]:
        print(f"  #{rank}  {mean:.4f} ± {std:.4f}  {params}")
    print(f"best {search.best_params_}: held-out accuracy {search.score(X_test, y_test):.4f} ({len(X_test)} digits)")


if __name__ == "__main__":
    main()
