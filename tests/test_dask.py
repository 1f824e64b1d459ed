"""ferronet on Dask: GridSearchCV under joblib's dask backend, and block-by-block training over a dask array.

Both run on one LocalCluster of two worker processes (the same code runs unchanged on a multi-machine cluster).
Block-by-block training uses dask-ml's ``Incremental``, which chains ``partial_fit`` calls through the task graph:
each block is produced and consumed on a worker, and the estimator travels (pickled) to the worker holding the block.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

pytest.importorskip("distributed", reason="dask.distributed is not installed (pip install 'ferronet[dask]')")
pytest.importorskip("dask_ml", reason="dask-ml is not installed (pip install 'ferronet[dask]')")

import dask
import dask.array as da
import joblib
from dask.distributed import Client, LocalCluster, get_task_stream, get_worker
from dask.utils import key_split
from dask_ml.wrappers import Incremental
from ferronet.sklearn import MLPClassifier
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV

N_FEATURES = 16
N_CLASSES = 4
ROWS_PER_BLOCK = 1000
N_BLOCKS = 8


@pytest.fixture(scope="module")
def client():
    # One engine thread per worker: the two worker processes share this machine's cores.
    with (
        LocalCluster(
            n_workers=2,
            processes=True,
            threads_per_worker=1,
            dashboard_address=None,
            env={"FERRONET_NUM_THREADS": "1"},
        ) as cluster,
        Client(cluster) as dask_client,
    ):
        yield dask_client


def _worker_addresses(dask_client: Client) -> set[str]:
    return set(dask_client.scheduler_info()["workers"])


# --- (a) hyperparameter search -------------------------------------------------------------------------------------


def _grid_search() -> GridSearchCV:
    return GridSearchCV(
        MLPClassifier(solver="sgd", learning_rate_init=0.1, max_iter=8, batch_size=64, random_state=0),
        {"hidden_layer_sizes": [(16,), (32,)], "alpha": [1e-4, 1e-1]},
        cv=3,
    )


def test_grid_search_runs_on_the_cluster_and_matches_a_local_search(client):
    X, y = load_digits(return_X_y=True)
    X, y = X[:600] / 16.0, y[:600]

    # max_iter is kept small so the test is fast: the ConvergenceWarning it causes is expected here.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        local = _grid_search().fit(X, y)
        with get_task_stream(client) as stream, joblib.parallel_backend("dask"):
            distributed = _grid_search().fit(X, y)

    # The fits ran as tasks on both worker processes, not in this process.
    workers = {task["worker"] for task in stream.data}
    assert workers == _worker_addresses(client)
    assert len(stream.data) >= 2
    # ferronet is deterministic for a given random_state, whatever process or thread count: identical scores.
    np.testing.assert_array_equal(distributed.cv_results_["mean_test_score"], local.cv_results_["mean_test_score"])
    assert distributed.best_params_ == local.best_params_
    assert distributed.best_score_ > 0.8
    np.testing.assert_array_equal(distributed.predict(X), local.predict(X))


# --- (b) data larger than memory, block by block ---------------------------------------------------------------------


def _teacher() -> np.ndarray:
    return np.random.default_rng(1234).normal(size=(N_FEATURES, N_CLASSES))


def _labels(X: np.ndarray) -> np.ndarray:
    return np.argmax(X @ _teacher(), axis=1)


def generate_block(index: int) -> tuple[np.ndarray, np.ndarray]:
    """Block ``index`` of the data set, generated where it is needed; raises ValueError if run outside a worker."""
    get_worker()
    X = np.random.default_rng(index).normal(size=(ROWS_PER_BLOCK, N_FEATURES)).astype(np.float32)
    return X, _labels(X)


def _lazy_dataset(n_blocks: int) -> tuple[da.Array, da.Array]:
    """A dask array whose blocks exist only as tasks until a worker computes them."""
    blocks = [dask.delayed(generate_block, pure=True)(i) for i in range(n_blocks)]
    X = da.concatenate(
        [da.from_delayed(b[0], shape=(ROWS_PER_BLOCK, N_FEATURES), dtype=np.float32) for b in blocks], axis=0
    )
    y = da.concatenate([da.from_delayed(b[1], shape=(ROWS_PER_BLOCK,), dtype=np.int64) for b in blocks], axis=0)
    return X, y


def test_incremental_learns_block_by_block_on_the_workers(client):
    X, y = _lazy_dataset(N_BLOCKS)
    assert X.numblocks == (N_BLOCKS, 1)
    model = Incremental(
        MLPClassifier(hidden_layer_sizes=(32,), solver="sgd", learning_rate_init=0.05, batch_size=50, random_state=0),
        shuffle_blocks=True,
        random_state=0,
    )
    with get_task_stream(client) as stream:
        model.fit(X, y, classes=np.arange(N_CLASSES))
        model.partial_fit(X, y)  # a second pass over the blocks continues from the first

    fitted = model.estimator_
    assert isinstance(fitted, MLPClassifier)
    np.testing.assert_array_equal(fitted.classes_, np.arange(N_CLASSES))
    # One partial_fit per block and pass, each one epoch over its block, all on the same travelling model.
    assert len(fitted.loss_curve_) == 2 * N_BLOCKS
    assert fitted.t_ == 2 * N_BLOCKS * ROWS_PER_BLOCK
    # The keys ("fit-<token>", i) are dask-ml's partial_fit steps; i == -1 holds the initial estimator.
    fit_tasks = [task for task in stream.data if key_split(task["key"]) == "fit" and task["key"][1] >= 0]
    assert len(fit_tasks) == 2 * N_BLOCKS
    # The blocks are spread over both workers and the estimator went to them, not the blocks to the estimator.
    assert {task["worker"] for task in fit_tasks} == _worker_addresses(client)
    # The blocks were computed on the workers: generate_block raises anywhere else (last test).
    block_tasks = [task for task in stream.data if key_split(task["key"]) == "generate_block"]
    assert len(block_tasks) >= N_BLOCKS

    rng = np.random.default_rng(10_000)
    X_test = rng.normal(size=(2000, N_FEATURES)).astype(np.float32)
    accuracy = fitted.score(X_test, _labels(X_test))
    assert accuracy > 1.0 / N_CLASSES + 0.5, accuracy
    # Prediction over a dask array also runs block by block on the workers.
    predicted = model.predict(X)
    assert isinstance(predicted, da.Array)
    assert float((predicted == y).mean().compute()) > 1.0 / N_CLASSES + 0.5


def _partial_fit_block(estimator: MLPClassifier, block: tuple[np.ndarray, np.ndarray]) -> MLPClassifier:
    X, y = block
    return estimator.partial_fit(X, y, classes=np.arange(N_CLASSES))


def test_a_block_received_from_another_worker_trains(client):
    # A block that crosses the network arrives as a view into the receive buffer, which need not be aligned for its
    # dtype (distributed packs a message's frames back to back; here X arrives at an odd address). The estimator must
    # train on it like on any array. Incremental meets this whenever the scheduler moves a block rather than the model.
    first, second = sorted(_worker_addresses(client))
    block = client.submit(generate_block, 0, workers=[first], pure=False)
    estimator = MLPClassifier(hidden_layer_sizes=(8,), random_state=0)
    remote = client.submit(_partial_fit_block, estimator, block, workers=[second], pure=False).result()
    assert remote.t_ == ROWS_PER_BLOCK
    X, y = (np.array(array) for array in block.result())
    local = clone(estimator).partial_fit(X, y, classes=np.arange(N_CLASSES))
    np.testing.assert_array_equal(remote.predict_proba(X), local.predict_proba(X))


def test_making_a_block_outside_a_worker_fails():
    # What makes the "blocks were generated on the workers" assertion above meaningful.
    with pytest.raises(ValueError, match="No worker found"):
        generate_block(0)
