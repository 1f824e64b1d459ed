"""ferronet.distributed: data-parallel training (local SGD) on a Dask LocalCluster of two worker processes.

What is checked: one partition trains exactly as ``Sequential.fit`` (bits, counters, history); several partitions
train deterministically, each on the worker that holds it; the History and callbacks follow Keras; a worker killed
mid-fit costs only a recomputation (same bits), and a task that keeps killing workers raises and leaves the model as
it was; bad input raises before anything changes; the scikit-learn wrappers fit dask arrays.
"""

from __future__ import annotations

import os
import re
import signal
import time

import numpy as np
import pytest

pytest.importorskip("distributed", reason="dask.distributed is not installed (pip install 'ferronet[dask]')")
pytest.importorskip("sklearn", reason="scikit-learn is not installed (pip install 'ferronet[dask]')")

import dask.array as da
import ferronet as fnet
from conftest import classification_data
from dask.utils import key_split
from distributed import Client, LocalCluster, futures_of, get_task_stream, wait
from distributed.diagnostics.plugin import SchedulerPlugin
from ferronet import distributed as fd
from ferronet.callbacks import Callback, EarlyStopping, TerminateOnNaN
from ferronet.optim import SGD, Adam
from ferronet.sklearn import MLPClassifier
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning


@pytest.fixture(scope="module")
def cluster():
    # One engine thread per worker: the two worker processes share this machine's cores. Nannies restart a killed
    # worker (the fault tests rely on it).
    with LocalCluster(
        n_workers=2,
        processes=True,
        threads_per_worker=1,
        dashboard_address=None,
        env={"FERRONET_NUM_THREADS": "1"},
    ) as local_cluster:
        yield local_cluster


@pytest.fixture(scope="module")
def client(cluster):
    with Client(cluster) as dask_client:
        yield dask_client


def _model(seed: int = 7, dropout: float = 0.2, input_dim: int | None = 5) -> fnet.Sequential:
    layers = [fnet.Dense(16, activation="relu"), fnet.Dropout(dropout), fnet.Dense(3)]
    return fnet.Sequential(layers, input_dim=input_dim, seed=seed)


def _data(n: int = 203, d: int = 5, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    X, y = classification_data(n=n, d=d, k=3, seed=seed)
    return X.astype(np.float32), y


def _dask(X: np.ndarray, y: np.ndarray, rows: int | tuple[int, ...]) -> tuple[da.Array, da.Array]:
    return da.from_array(X, chunks=(rows, X.shape[1])), da.from_array(y, chunks=(rows,))


def _assert_same_state(a: fnet.Sequential, b: fnet.Sequential) -> None:
    first, second = a.state_dict(), b.state_dict()
    assert first["meta"] == second["meta"]
    assert sorted(first["tensors"]) == sorted(second["tensors"])
    for name, array in first["tensors"].items():
        np.testing.assert_array_equal(array, second["tensors"][name], err_msg=name)


def _states_equal(a: fnet.Sequential, b: fnet.Sequential) -> bool:
    first, second = a.state_dict(), b.state_dict()
    return first["meta"] == second["meta"] and all(
        np.array_equal(array, second["tensors"][name]) for name, array in first["tensors"].items()
    )


# ---- one partition is Sequential.fit --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "make_optimizer",
    [lambda: SGD(lr=0.05, momentum=0.9), lambda: Adam(lr=3e-3)],
    ids=["sgd-momentum", "adam"],
)
def test_one_partition_equals_sequential_fit_bit_for_bit(client, make_optimizer):
    X, y = _data()
    X_val, y_val = _data(n=50, seed=1)
    reference, distributed = _model(), _model()
    optimizer = make_optimizer()
    expected = reference.fit(X, y, epochs=2, batch_size=10, optimizer=optimizer, validation_data=(X_val, y_val))
    expected_more = reference.fit(X, y, epochs=1, batch_size=10)  # continues: same optimizer, epoch index 2
    X_dask, y_dask = _dask(X, y, len(X))
    # sync_every=7 does not divide the 21 batches of an epoch: rounds cross nothing but the engine's own epoch.
    history = fd.fit(
        distributed,
        X_dask,
        y_dask,
        client=client,
        epochs=2,
        batch_size=10,
        optimizer=make_optimizer(),
        sync_every=7,
        validation_data=(X_val, y_val),
    )
    more = fd.fit(distributed, X_dask, y_dask, client=client, epochs=1, batch_size=10, sync_every=7)

    _assert_same_state(reference, distributed)  # weights, dropout masks' step, optimizer state, all four counters
    assert history.history.keys() == expected.history.keys()
    assert history.epoch == expected.epoch == [0, 1]
    assert more.epoch == expected_more.epoch == [2]
    for key in ("loss", "accuracy", "val_loss", "val_accuracy", "lr"):
        np.testing.assert_allclose(history.history[key], expected.history[key], rtol=1e-12, err_msg=key)
    np.testing.assert_allclose(more.history["loss"], expected_more.history["loss"], rtol=1e-12)
    assert distributed.history is more
    assert isinstance(distributed.optimizer, type(optimizer))


def test_one_partition_with_sample_weights_equals_sequential_fit(client):
    X, y = _data()
    weights = np.random.default_rng(2).uniform(0.0, 2.0, size=len(X))
    reference, distributed = _model(), _model()
    reference.fit(X, y, epochs=2, batch_size=16, optimizer=Adam(), sample_weight=weights)
    fd.fit(
        distributed,
        *_dask(X, y, len(X)),
        client=client,
        epochs=2,
        batch_size=16,
        optimizer=Adam(),
        sample_weight=da.from_array(weights, chunks=len(X)),
    )
    _assert_same_state(reference, distributed)


# ---- several partitions ---------------------------------------------------------------------------------------------


def test_partitions_train_where_they_are_and_the_same_seed_gives_the_same_bits(client):
    X, y = _data(n=900)
    rows = (300, 250, 250, 100)  # uneven: the last partition ends its epoch rounds before the others
    X_dask, y_dask = (part.persist() for part in _dask(X, y, rows))
    wait(X_dask)
    holders = client.who_has(futures_of(X_dask))
    runs = []
    with get_task_stream(client) as stream:
        for seed in (None, None, 11):
            model = _model()
            optimizer = SGD(lr=0.1, momentum=0.9)
            history = fd.fit(
                model,
                X_dask,
                y_dask,
                client=client,
                epochs=3,
                batch_size=16,
                optimizer=optimizer,
                sync_every=4,
                seed=seed,
            )
            runs.append((model, history))
    (first, history), (second, again), (other_seed, _) = runs

    _assert_same_state(first, second)
    assert history.history == {**again.history, "epoch_seconds": history.history["epoch_seconds"]}
    assert not _states_equal(first, other_seed)  # the seed keys the shuffles and dropout masks
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert first.evaluate(X, y)["accuracy"] > 0.75  # three balanced classes: chance is about 1/3
    counters = first.state_dict()["meta"]["counters"]
    assert counters["epochs"] == counters["optimizer_epochs"] == 3
    assert counters["step"] == 3 * 19  # 300 rows / 16 → 19 batches per epoch in the longest partition

    train = [task for task in stream.data if key_split(task["key"]) == "ferronet-train"]
    assert {task["worker"] for task in train} == set(client.scheduler_info()["workers"])
    # Each partition trained on a worker that held its chunk of X: the data did not move.
    x_keys = [key[0] for key in X_dask.__dask_keys__()]
    for task in train:
        partition = int(task["key"].rsplit("-", 1)[1])
        assert task["worker"] in holders[x_keys[partition]], task["key"]
    # ... and the worker-side copies of the chunks are gone once the fits are over.
    assert sum(client.run(fd._cached_partitions).values()) == 0


def test_dask_dataframes_train_like_the_arrays_they_hold(client):
    pandas = pytest.importorskip("pandas", reason="pandas is not installed")
    dd = pytest.importorskip("dask.dataframe", reason="dask.dataframe is not installed")
    X, y = _data(n=240)
    frame = dd.from_pandas(pandas.DataFrame(X, columns=[f"f{i}" for i in range(5)]), npartitions=3)
    labels = dd.from_pandas(pandas.Series(y), npartitions=3)
    from_frames, from_arrays = _model(), _model()
    fd.fit(from_frames, frame, labels, client=client, epochs=2, batch_size=16, sync_every=3)
    chunks = tuple(int(n) for n in frame.map_partitions(len).compute())
    fd.fit(from_arrays, *_dask(X, y, chunks), client=client, epochs=2, batch_size=16, sync_every=3)
    _assert_same_state(from_frames, from_arrays)


# ---- History and callbacks ------------------------------------------------------------------------------------------


class _Recorder(Callback):
    def __init__(self, stop_after: int | None = None):
        self.events: list[tuple[str, int, tuple[str, ...]]] = []
        self.stop_after = stop_after

    def on_epoch_begin(self, epoch, logs=None):
        self.events.append(("begin", epoch, ()))

    def on_train_batch_end(self, batch, logs=None):
        self.events.append(("batch", batch, tuple(sorted(logs or {}))))

    def on_epoch_end(self, epoch, logs=None):
        self.events.append(("end", epoch, tuple(sorted(logs or {}))))
        if self.stop_after is not None and epoch + 1 >= self.stop_after:
            self.model.stop_training = True


def test_history_callbacks_and_stop_training(client):
    X, y = _data(n=400)
    X_val, y_val = _data(n=120, seed=3)
    recorder = _Recorder(stop_after=2)
    model = _model()
    history = fd.fit(
        model,
        *_dask(X, y, 100),
        client=client,
        epochs=5,
        batch_size=20,
        sync_every=2,
        validation_data=_dask(X_val, y_val, 40),  # evaluated on the workers, chunk by chunk
        callbacks=[recorder],
    )
    assert history.epoch == [0, 1]  # stop_training after the second epoch
    assert set(history.history) == {"loss", "accuracy", "val_loss", "val_accuracy", "lr", "epoch_seconds"}
    begins = [event for event in recorder.events if event[0] == "begin"]
    ends = [event for event in recorder.events if event[0] == "end"]
    batches = [event for event in recorder.events if event[0] == "batch"]
    assert [e[1] for e in begins] == [e[1] for e in ends] == [0, 1]
    assert ends[0][2] == ("accuracy", "epoch_seconds", "loss", "lr", "val_accuracy", "val_loss")
    # one on_train_batch_end per round: 100 rows / 20 = 5 batches per partition, 2 per round → 3 rounds per epoch
    assert [e[1] for e in batches] == [1, 3, 4] * 2
    # the distributed validation equals evaluate() on the gathered data (up to the order of the sums)
    expected = model.evaluate(X_val, y_val)
    assert history.history["val_accuracy"][-1] == pytest.approx(expected["accuracy"], abs=1e-12)
    assert history.history["val_loss"][-1] == pytest.approx(expected["loss"], rel=1e-6)


def test_validation_on_the_workers_weights_rows_and_adds_the_penalty_once(client, capsys):
    X, y = _data(n=200)
    X_val, y_val = _data(n=90, seed=4)
    w_val = np.random.default_rng(3).uniform(0.0, 3.0, size=len(X_val))
    for per_sample in (False, True):
        layers = [fnet.Dense(16, activation="relu"), fnet.Dense(3)]
        model = fnet.Sequential(layers, input_dim=5, l2=0.05, l1=0.01, seed=1, penalty_per_sample=per_sample)
        validation = (*_dask(X_val, y_val, 40), da.from_array(w_val, chunks=40))  # chunks of 40, 40 and 10 rows
        history = fd.fit(model, *_dask(X, y, 100), client=client, epochs=1, validation_data=validation, verbose=2)
        expected = model.evaluate(X_val, y_val, sample_weight=w_val)
        assert history.history["val_loss"][0] == pytest.approx(expected["loss"], rel=1e-6)
        assert history.history["val_accuracy"][0] == pytest.approx(expected["accuracy"], abs=1e-12)
    assert re.search(
        r"epoch 1/1  loss \S+  accuracy \S+  val_loss \S+  val_accuracy \S+  lr 0.01", capsys.readouterr().out
    )


def test_early_stopping_restores_the_best_epoch(client):
    X, y = _data(n=200)
    X_val, y_val = _data(n=60, seed=5)
    stopper = EarlyStopping(monitor="val_loss", patience=0, restore_best=True)
    model = _model()
    # lr large enough that the validation loss turns up quickly
    history = fd.fit(
        model,
        *_dask(X, y, 100),
        client=client,
        epochs=30,
        batch_size=10,
        optimizer=SGD(lr=0.5, momentum=0.9),
        validation_data=(X_val, y_val),
        callbacks=[stopper],
    )
    assert len(history.epoch) < 30
    assert model.evaluate(X_val, y_val)["loss"] == pytest.approx(min(history.history["val_loss"]), rel=1e-12)


# ---- divergence -----------------------------------------------------------------------------------------------------


def test_divergence_raises_and_leaves_the_model_or_stops_with_terminate_on_nan(client):
    X, y = _data(n=200)
    X *= 1e4
    model = _model()
    model.fit(X[:20] / 1e4, y[:20], epochs=1, batch_size=10)  # a trained model with an optimizer state
    before = model.copy()
    with pytest.raises(FloatingPointError, match=r"training diverged.*partition"):
        fd.fit(model, *_dask(X, y, 100), client=client, epochs=3, batch_size=10, optimizer=SGD(lr=10.0))
    _assert_same_state(model, before)

    history = fd.fit(
        model,
        *_dask(X, y, 100),
        client=client,
        epochs=3,
        batch_size=10,
        optimizer=SGD(lr=10.0),
        callbacks=[TerminateOnNaN()],
    )
    assert history.epoch == []  # the first epoch diverged: it does not count
    weights = model.get_weights()
    assert all(np.isfinite(array).all() for layer in weights for array in layer.values())


# ---- faults ---------------------------------------------------------------------------------------------------------


class _KillWorker(SchedulerPlugin):
    """Kill (SIGKILL) the worker process a matching task is sent to, once."""

    def __init__(self, scheduler, pattern: str, pids: dict[str, int]):
        self.scheduler = scheduler
        self.pattern = re.compile(pattern)
        self.pids = pids
        self.killed: str | None = None

    def transition(self, key, start, finish, *args, **kwargs):
        if self.killed is None and finish == "processing" and isinstance(key, str) and self.pattern.fullmatch(key):
            worker = self.scheduler.tasks[key].processing_on.address
            self.killed = worker
            os.kill(self.pids[worker], signal.SIGKILL)


def _kill_during(cluster, client, pattern: str):
    plugin = _KillWorker(cluster.scheduler, pattern, client.run(os.getpid))
    cluster.scheduler.add_plugin(plugin, name="ferronet-test-kill")
    return plugin


def _restore_workers(cluster, client) -> None:
    cluster.scheduler.remove_plugin(name="ferronet-test-kill")
    client.wait_for_workers(2, timeout=60)


def test_a_worker_killed_mid_fit_costs_a_recomputation_not_the_fit(cluster, client):
    X, y = _data(n=800)
    X_dask, y_dask = (part.persist() for part in _dask(X, y, 200))

    def train() -> fnet.Sequential:
        model = _model()
        fd.fit(model, X_dask, y_dask, client=client, epochs=3, batch_size=10, optimizer=Adam(3e-3), sync_every=4)
        return model

    uninterrupted = train()
    # The worker that gets partition 1's training task of epoch 1, round 2 dies (data chunks and round states it held
    # are lost with it); its nanny starts a new one.
    plugin = _kill_during(cluster, client, r"ferronet-train-[0-9a-f]+-1\.0\.2-1")
    try:
        started = time.perf_counter()
        survived = train()
        seconds = time.perf_counter() - started
    finally:
        _restore_workers(cluster, client)
    assert plugin.killed is not None
    _assert_same_state(uninterrupted, survived)
    assert seconds < 45


class _KillStartHolder(SchedulerPlugin):
    """When the first training task of epoch 1 is sent to a worker, kill (SIGKILL) the workers holding the state the
    epoch started from (scattered by the client: Dask cannot recompute it); record the tasks of later attempts."""

    def __init__(self, scheduler, pids: dict[str, int]):
        self.scheduler = scheduler
        self.pids = pids
        self.killed: list[str] = []
        self.retried = False

    def transition(self, key, start, finish, *args, **kwargs):
        if not isinstance(key, str) or not key.startswith("ferronet-train-"):
            return
        if re.fullmatch(r"ferronet-train-[0-9a-f]+-1\.[1-9]\.\d+-\d+", key):
            self.retried = True
        if self.killed or finish != "processing" or not re.fullmatch(r"ferronet-train-[0-9a-f]+-1\.0\.0-\d+", key):
            return
        # the scattered start (named after its type, _Round), not a chunk of X or y
        starts = [dep for dep in self.scheduler.tasks[key].dependencies if str(dep.key).startswith("_Round-")]
        for worker in sorted({holder.address for dep in starts for holder in dep.who_has}):
            self.killed.append(worker)
            os.kill(self.pids[worker], signal.SIGKILL)


def test_an_epoch_whose_starting_state_is_lost_is_trained_again(cluster, client):
    X, y = _data(n=600)
    X_dask, y_dask = (part.persist() for part in _dask(X, y, 200))

    def train() -> fnet.Sequential:
        model = _model()
        fd.fit(model, X_dask, y_dask, client=client, epochs=2, batch_size=10, optimizer=Adam(3e-3), sync_every=5)
        return model

    uninterrupted = train()
    plugin = _KillStartHolder(cluster.scheduler, client.run(os.getpid))
    cluster.scheduler.add_plugin(plugin, name="ferronet-test-kill")
    try:
        survived = train()
    finally:
        _restore_workers(cluster, client)
    assert plugin.killed
    assert plugin.retried  # epoch 1 ran again (attempt 1) from the client's copy
    _assert_same_state(uninterrupted, survived)


def test_a_task_that_keeps_killing_workers_raises_and_leaves_the_model(cluster, client):
    X, y = _data(n=400)
    model = _model()
    model.fit(X, y, epochs=1, batch_size=20, optimizer=Adam(1e-3))
    optimizer = model.optimizer
    before = model.copy()
    # The worker is killed as the scheduler hands it the task. Now and then Dask sees the worker gone before the
    # task counts as started there and simply runs it elsewhere (the fit then succeeds, which is fine too): try a
    # few times until the task is charged with the loss, which is the case under test.
    raised = False
    for _ in range(4):
        attempt = model.copy()
        attempt_optimizer = attempt.optimizer
        plugin = _kill_during(cluster, client, r"ferronet-train-[0-9a-f]+-1\.0\.1-0")
        cluster.scheduler.allowed_failures = 0  # the first loss of a worker under a task counts as "keeps killing"
        try:
            fd.fit(attempt, *_dask(X, y, 200), client=client, epochs=3, batch_size=20, sync_every=3)
        except RuntimeError as error:
            assert re.search(r"kept losing its worker.*restored", str(error), re.DOTALL), str(error)
            raised = True
        finally:
            cluster.scheduler.allowed_failures = 3
            _restore_workers(cluster, client)
        assert plugin.killed is not None
        if raised:
            _assert_same_state(attempt, before)
            assert attempt.optimizer is attempt_optimizer
            assert attempt_optimizer is not None and attempt_optimizer.config() == optimizer.config()
            break
    assert raised, "no attempt charged the task with its worker's loss"


# ---- bad input ------------------------------------------------------------------------------------------------------


def _bad_inputs() -> list[tuple[str, object]]:
    X, y = _data(n=100)
    X_nan = X.copy()
    X_nan[73, 2] = np.nan
    return [
        ("numpy X", (X, da.from_array(y, chunks=50), TypeError, "X must be a dask array")),
        ("numpy y", (da.from_array(X, chunks=(50, 5)), y, TypeError, "y must be a dask array")),
        (
            "mismatched chunks",
            (da.from_array(X, chunks=(50, 5)), da.from_array(y, chunks=40), ValueError, "chunked along rows"),
        ),
        ("NaN in X", (*_dask(X_nan, y, 50), ValueError, r"partition 1 \(rows 50..99\).*NaN")),
        ("label out of range", (*_dask(X, y + 5, 50), ValueError, "label")),
        ("features", (*_dask(X[:, :4].copy(), y, 50), ValueError, "4 features, the model expects 5")),
        ("3-D X", (da.zeros((100, 5, 2), chunks=50), da.from_array(y, chunks=50), ValueError, "2-D")),
        (
            "unknown chunks",
            (da.from_array(X, chunks=(50, 5))[da.from_array(y) >= 0], da.from_array(y), ValueError, "unknown chunk"),
        ),
    ]


@pytest.mark.parametrize("case", [case for _, case in _bad_inputs()], ids=[name for name, _ in _bad_inputs()])
def test_bad_input_raises_before_anything_changes(client, case):
    X, y, error, message = case
    trained = _model()
    trained.fit(*_data(n=40), epochs=1, batch_size=10, optimizer=Adam())
    optimizer = trained.optimizer
    before = trained.copy()
    with pytest.raises(error, match=message):
        fd.fit(trained, X, y, client=client, epochs=2, batch_size=10)
    _assert_same_state(trained, before)
    assert trained.optimizer is optimizer
    if message.startswith("4 features"):
        return  # an unbuilt model would build itself from those 4 features
    unbuilt = _model(input_dim=None)
    with pytest.raises(error, match=message):
        fd.fit(unbuilt, X, y, client=client, epochs=2, batch_size=10)
    assert not unbuilt.built
    assert sum(client.run(fd._cached_partitions).values()) == 0


def test_bad_arguments(client):
    X_dask, y_dask = _dask(*_data(n=60), 30)
    model = _model()
    with pytest.raises(TypeError, match=r"model must be a ferronet\.Sequential"):
        fd.fit("model", X_dask, y_dask, client=client)
    with pytest.raises(ValueError, match="sync_every must be >= 1"):
        fd.fit(model, X_dask, y_dask, client=client, sync_every=0)
    with pytest.raises(TypeError, match=r"client must be a distributed\.Client"):
        fd.fit(model, X_dask, y_dask, client="tcp://127.0.0.1:8786")
    with pytest.raises(ValueError, match="EarlyStopping monitors 'val_loss', which needs validation_data"):
        fd.fit(model, X_dask, y_dask, client=client, callbacks=[EarlyStopping()])
    with pytest.raises(ValueError, match="sample_weight is chunked along rows"):
        fd.fit(model, X_dask, y_dask, client=client, sample_weight=da.ones(60, chunks=20))


# ---- scikit-learn ---------------------------------------------------------------------------------------------------


def test_the_scikit_learn_wrappers_fit_dask_arrays(client):
    X, y = load_digits(return_X_y=True)
    X, y = (X[:600] / 16.0).astype(np.float32), y[:600]
    params = {"hidden_layer_sizes": (24,), "solver": "sgd", "learning_rate_init": 0.1, "batch_size": 50}
    params |= {"max_iter": 4, "random_state": 0, "dropout": 0.1}
    # max_iter is kept small so the test is fast: the ConvergenceWarning it causes is expected here.
    with pytest.warns(ConvergenceWarning):
        local = MLPClassifier(**params).fit(X, y)
    with pytest.warns(ConvergenceWarning):
        one_chunk = fd.DistributedMLPClassifier(**params).fit(*_dask(X, y, len(X)))
    for ours, theirs in zip(one_chunk.coefs_ + one_chunk.intercepts_, local.coefs_ + local.intercepts_, strict=True):
        np.testing.assert_array_equal(ours, theirs)
    assert one_chunk.loss_curve_ == local.loss_curve_
    assert (one_chunk.t_, one_chunk.n_iter_) == (local.t_, local.n_iter_)

    with pytest.warns(ConvergenceWarning):
        chunked = fd.DistributedMLPClassifier(**{**params, "max_iter": 8}).fit(*_dask(X, y, 150))
    X_dask, y_dask = _dask(X, y, 150)
    predicted = chunked.predict(X_dask)
    assert isinstance(predicted, da.Array)
    np.testing.assert_array_equal(predicted.compute(), chunked.predict(X))
    assert chunked.score(X_dask, y_dask) == pytest.approx(chunked.score(X, y), abs=1e-12)
    assert chunked.score(X, y) > 0.85
    assert chunked.predict_proba(X_dask).shape == (600, 10)

    # The wrappers take every parameter of the estimator they extend, and clone keeps sync_every.
    assert set(MLPClassifier().get_params()) < set(fd.DistributedMLPClassifier().get_params())
    assert set(fnet.sklearn.MLPRegressor().get_params()) < set(fd.DistributedMLPRegressor().get_params())
    assert clone(fd.DistributedMLPClassifier(sync_every=7)).sync_every == 7


def test_the_regressor_wrapper_fits_dask_arrays(client):
    X, _ = _data(n=300)
    target = X @ np.arange(1.0, 6.0) + 0.5
    regressor = fd.DistributedMLPRegressor(hidden_layer_sizes=(32,), learning_rate_init=0.01, max_iter=60, tol=0.0)
    regressor.set_params(random_state=0, n_iter_no_change=1000)
    with pytest.warns(ConvergenceWarning):
        regressor.fit(*_dask(X, target, 100))
    X_dask, y_dask = _dask(X, target, 100)
    assert regressor.score(X_dask, y_dask) == pytest.approx(regressor.score(X, target), rel=1e-9)
    assert regressor.score(X, target) > 0.9
