"""Data-parallel training on a Dask cluster: many machines, one model.

``fit(model, X, y, client=...)`` trains a ``Sequential`` on dask arrays (or dask DataFrames) whose row chunks stay
on the workers that hold them; ``DistributedMLPClassifier``/``DistributedMLPRegressor`` do the same behind the
scikit-learn API. The client sends tasks and receives one averaged model per epoch, never the data.

The algorithm: local SGD (periodic parameter averaging)
-------------------------------------------------------
Every row chunk of X (a *partition*) trains its own replica of the model with the Rust engine, exactly as
``Sequential.fit`` would on that chunk alone: its own shuffle each epoch, the model's optimizer, the epoch's
learning rate. Every ``sync_every`` batches (a *round*) the replicas stop and their states are averaged, each
weighted by the rows it trained in that round; every replica starts the next round from the average. Averaged
are all the model's tensors:

* the parameters (Dense ``W`` and ``b``, BatchNorm ``gamma`` and ``beta``) and BatchNorm's running mean and
  variance;
* the optimizer state: SGD's ``momentum_buffer``, Adam's ``exp_avg`` and ``exp_avg_sq``, RMSProp's
  ``square_avg``.

The counters are not averaged: ``step`` and ``updates`` (dropout masks, Adam's bias correction ``t``) become the
largest of the replicas' (each replica made the same number of updates in a round, except a partition whose epoch
ends early), and ``epochs``/``optimizer_epochs`` grow by one when every partition has finished the epoch.

The average is a tree reduction on the workers: replica states are averaged in pairs (partition 0 with 1, 2 with 3,
then the pairs' results ...), ``ceil(log2(P))`` levels for P partitions, each pair on a worker holding one of the
two. The last level is not a task of its own: every task of the next round averages the root's two children itself
(the same inputs in the same order give the same bits everywhere), one scheduling hop and one transfer fewer per
round. Only the root of an epoch's last round goes to the client (for validation, callbacks and the history); the
next epoch starts from the client's model, so a callback that changes it is respected.

On a worker, each partition's rows are copied into an engine dataset once per fit and kept between rounds (with
the engine that trains them), so a worker holds about twice its chunks; the copies go when the fit ends. The first
training task of a worker process also keeps glibc from unmapping the engine's working memory after every matrix
product (see ``_tune_malloc``), which Dask's worker settings otherwise cause.

Each replica's shuffles and dropout masks use its own seed: partition 0 uses ``seed`` (the model's seed unless
given), partition i > 0 a seed hashed from (seed, i). A fit is therefore deterministic for a given seed and
partitioning (row chunks), whatever the number of workers and wherever the chunks are; with a single partition it
is ``Sequential.fit`` on the same data, bit for bit. This is the "local SGD" of Stich (2019, "Local SGD converges
fast and communicates little") and Lin et al. (2020, "Don't use large mini-batches, use local SGD"); see
docs/distributed.md for the hyperparameters, when it matches single-machine training, and measurements.

Faults
------
Tasks are plain Dask tasks with ``retries``: a worker lost mid-round has its tasks rerun elsewhere and lost
results (data chunks, round states) recomputed from their lineage. If the state an epoch started from was itself
lost, the epoch is trained again from the client's copy (same bits, the fit is deterministic). A task that keeps
killing workers (Dask's ``KilledWorker``) or an epoch lost too often raises ``RuntimeError``; like any other
exception it leaves the model exactly as it was before the call.
"""

from __future__ import annotations

import collections
import ctypes
import dataclasses
import json
import math
import os
import sys
import threading
import time
import uuid
import weakref
from collections.abc import Callable, Sequence
from concurrent.futures import CancelledError
from typing import TYPE_CHECKING, Any, Literal, cast

try:
    import dask.array as da
    from distributed import KilledWorker, futures_of, get_client, wait
    from sklearn.preprocessing import LabelBinarizer
except ImportError as error:  # without the extra: say how to get it
    raise ImportError(
        f'ferronet.distributed needs dask.distributed, dask-ml and scikit-learn: pip install "ferronet[dask]" ({error})'
    ) from error
import numpy as np
from dask.base import is_dask_collection
from dask.delayed import delayed
from dask.sizeof import sizeof
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets, unique_labels
from sklearn.utils.validation import check_is_fitted

from . import _core
from ._progress import progress_bar
from ._types import (
    ClassWeight,
    DTypeName,
    LearningRateName,
    OptimizerName,
    RegressorLoss,
    SklearnActivation,
    SolverName,
    Verbosity,
)
from ._validation import ENGINE_LAYOUT, check_bool, check_choice, check_int
from .callbacks import Callback, CallbackList, History, Logs, TerminateOnNaN, check_callbacks
from .layers import BatchNorm, Dense
from .losses import LABEL_LOSSES
from .model import PRECHECKED_EPOCHS, Sequential, _model_lock, _tqdm_available, check_seed
from .optim import Optimizer
from .schedules import Schedule, learning_rate
from .sklearn import MLPClassifier, MLPRegressor, _BaseMLP
from .training import _SHORT, check_verbose, epoch_line

if TYPE_CHECKING:  # typing.Self is Python 3.11+; annotations are not evaluated at runtime
    from typing_extensions import Self

__all__ = ["DistributedMLPClassifier", "DistributedMLPRegressor", "fit"]

#: Dask ``retries`` of every training task (an exception inside a task; a lost worker is rescheduled by Dask).
RETRIES = 3
#: Times an epoch is trained again from the client's copy when the state it started from was lost.
EPOCH_ATTEMPTS = 3
#: Rounds submitted ahead of the one the client waits for: hides the client's round trip between rounds.
LOOKAHEAD = 4
#: A round trains at most ``sync_every`` batches; this time limit is only a safety net.
_ROUND_SECONDS = 1e7
#: The stream word of the per-partition seeds (hash_words([seed, _PARTITION_STREAM, i])): b"part" as an int.
_PARTITION_STREAM = 0x70617274
#: glibc's mallopt parameter numbers.
_M_TOP_PAD, _M_MMAP_THRESHOLD = -2, -3


# ---- what travels between the client and the workers -------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class _Totals:
    """Rows trained, Σ batch objective x batch rows, and correct training predictions."""

    seen: int = 0
    loss_sum: float = 0.0
    correct: float = 0.0

    def __add__(self, other: _Totals) -> _Totals:
        return _Totals(self.seen + other.seen, self.loss_sum + other.loss_sum, self.correct + other.correct)


@dataclasses.dataclass(frozen=True)
class _Round:
    """A model state and what produced it: a replica after a round, an average of replicas, or an epoch's start.

    ``tensors``/``meta`` are ``_core.Model.state_dict(True)``. ``round`` holds this round's totals (``seen`` is the
    state's weight in an average), ``before`` those of the epoch's earlier rounds, ``batches`` the epoch's batch
    index reached. ``divergence`` is (partition, batch, loss) when a replica's loss stopped being finite: then
    ``tensors`` are the state the round started from, and later rounds pass it on untouched.
    """

    tensors: dict[str, np.ndarray]
    meta: str
    round: _Totals = _Totals()
    before: _Totals = _Totals()
    batches: int = 0
    divergence: tuple[int, int, float] | None = None

    @property
    def epoch(self) -> _Totals:
        """The totals of the epoch up to and including this round."""
        return self.before + self.round

    def summary(self) -> _Summary:
        return _Summary(self.epoch, self.round.seen, self.batches, self.divergence)


@dataclasses.dataclass(frozen=True)
class _Summary:
    """A round's progress without the state (what the client fetches between rounds when it reports them)."""

    epoch: _Totals
    seen: int
    batches: int
    divergence: tuple[int, int, float] | None


@sizeof.register(_Round)
def _sizeof_round(state: _Round) -> int:
    # Dask's memory accounting and placement see the tensors, not a small Python object.
    return sum(array.nbytes for array in state.tensors.values()) + len(state.meta) + 200


@dataclasses.dataclass(frozen=True)
class _Task:
    """What a worker needs, besides the state and the data, to train or prepare one partition."""

    run: str  # the run's token: the worker cache's key with ``partition``
    partition: int
    first_row: int
    config: str  # the model config JSON, with this partition's seed
    optimizer: str = ""
    lr: float = 0.0
    batch_size: int = 1
    shuffle: bool = True
    first_batch: int = 0
    max_batches: int = 1


# ---- the worker side -----------------------------------------------------------------------------------------------


class _Entry:
    """A partition's engine dataset and the engine that trains it, cached on a worker between rounds."""

    def __init__(self, source: Any, dataset: _core.Dataset, engine: _core.Model):
        # The X chunk the dataset was copied from; a chunk type without weak references is held until the run ends.
        try:
            self.source: Callable[[], Any] = weakref.ref(source)
        except TypeError:
            self.source = lambda: source
        self.dataset = dataset
        self.engine = engine
        self.lock = threading.Lock()  # one task at a time on the engine (a rerun may overlap a stale one)


_cache: dict[tuple[str, int], _Entry] = {}
_cache_lock = threading.Lock()
#: Runs that ended in this process, oldest first (an ordered set): their partitions are not cached again.
_ended_runs: dict[str, None] = {}
_ENDED_RUNS_KEPT = 1000


def _evict(key: tuple[str, int]) -> None:
    """A chunk was released: drop its copy, unless the entry now holds a newer chunk (a recomputed one)."""
    with _cache_lock:
        entry = _cache.get(key)
        if entry is not None and entry.source() is None:
            del _cache[key]


def _evict_run(run: str) -> int:
    """Drop a run's cached partitions from this process (called on every worker when a fit ends); a task of the run
    still running here (cancelled, but Dask cannot stop a running task) then works uncached."""
    with _cache_lock:
        _ended_runs[run] = None
        while len(_ended_runs) > _ENDED_RUNS_KEPT:
            del _ended_runs[next(iter(_ended_runs))]
        keys = [key for key in _cache if key[0] == run]
        for key in keys:
            del _cache[key]
    return len(keys)


def _cached_partitions() -> int:
    """How many partitions this process holds in its cache (for tests)."""
    with _cache_lock:
        return len(_cache)


_malloc_tuned = False


def _tune_malloc() -> None:
    """Keep glibc from returning the engine's working memory to the OS after every use, in this worker process.

    Dask starts workers with ``MALLOC_TRIM_THRESHOLD_=65536``. That also freezes glibc's mmap threshold at 128 KiB,
    so the GEMM packing buffers (about 1 MiB, allocated by the GEMM crate on every call) are mapped and unmapped at
    every matrix product, and the trim returns every freed block at the top of the heap: a training batch then
    spends as long in page faults as in arithmetic (measured: 50 batches of 784-256-128-10 at batch size 32 take
    34 ms instead of 17). Allocations below 32 MiB are served from the heap instead, and 16 MiB stay at its top
    after a trim (``M_MMAP_THRESHOLD``, ``M_TOP_PAD``). Done once per process, only on glibc Linux with Dask's
    setting in place, and never when the user set either parameter (``MALLOC_MMAP_THRESHOLD_``,
    ``MALLOC_TOP_PAD_``).
    """
    global _malloc_tuned
    if _malloc_tuned:
        return
    _malloc_tuned = True
    if not sys.platform.startswith("linux") or "MALLOC_TRIM_THRESHOLD_" not in os.environ:
        return  # without Dask's setting glibc adapts its thresholds by itself
    if "MALLOC_MMAP_THRESHOLD_" in os.environ or "MALLOC_TOP_PAD_" in os.environ:
        return
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # not glibc (musl ...)
        return
    mallopt(_M_MMAP_THRESHOLD, 32 * 2**20)  # glibc's largest allowed value on 64-bit systems
    mallopt(_M_TOP_PAD, 16 * 2**20)


def _build_entry(x: Any, y: Any, w: Any, task: _Task) -> _Entry:
    """Copy a chunk into an engine dataset, with ``Sequential.fit``'s conversions and checks."""
    _tune_malloc()
    config = json.loads(task.config)
    model = Sequential.from_config(config)
    rows = f"partition {task.partition} (rows {task.first_row}..{task.first_row + len(x) - 1})"
    try:
        features, targets, weights = model._batch(x, y, w, check_finite=False)
        dataset = _core.Dataset(features, targets, model.loss in LABEL_LOSSES, weights)
    except (TypeError, ValueError) as error:
        raise type(error)(f"{rows}: {error}") from None
    return _Entry(x, dataset, model._require_built())


def _entry(x: Any, y: Any, w: Any, task: _Task) -> _Entry:
    """The partition's cached entry, built on first use or when the chunk is a new object (recomputed, moved)."""
    key = (task.run, task.partition)
    with _cache_lock:
        entry = _cache.get(key)
    if entry is not None and entry.source() is x:
        return entry
    entry = _build_entry(x, y, w, task)
    with _cache_lock:
        if task.run in _ended_runs:
            return entry
        _cache[key] = entry
    try:
        weakref.finalize(x, _evict, key)  # the chunk released by Dask: the copy goes too
    except TypeError:  # a chunk type without weak references: evicted when the run ends
        pass
    return entry


def _prepare_partition(x: Any, y: Any, w: Any, task: _Task) -> tuple[int, int]:
    """Check and cache a partition before training: returns (rows, one more than the largest label)."""
    entry = _entry(x, y, w, task)
    return int(entry.dataset.rows), int(entry.dataset.classes)


def _train_partition(x: Any, y: Any, w: Any, task: _Task, *tops: _Round) -> _Round:
    """One round of one partition: ``max_batches`` batches of its epoch from ``first_batch``, starting at the
    average of ``tops`` (the previous round's last two states of its tree, or the epoch's start)."""
    state = _merge(*tops)
    if state.divergence is not None:
        return state  # a replica diverged in an earlier round of this epoch: nothing more is trained
    entry = _entry(x, y, w, task)
    with entry.lock:
        engine, dataset = entry.engine, entry.dataset
        _load(engine, state)
        engine.begin_fit(task.optimizer, False)
        try:
            engine.set_lr(task.lr)
            engine.begin_epoch(dataset, task.batch_size, task.shuffle, task.first_batch)
            report = engine.train_chunk(dataset, _ROUND_SECONDS, task.max_batches)
        except BaseException:
            engine.end_fit(False)
            raise
        if report.divergence is not None:
            engine.end_fit(False)
            batch, value = report.divergence
            return _Round(state.tensors, state.meta, before=state.epoch, divergence=(task.partition, batch, value))
        engine.end_fit(True)
        tensors, meta = engine.state_dict(True)
    first_row = task.first_batch * min(task.batch_size, int(dataset.rows))
    trained = _Totals(int(report.seen) - first_row, float(report.loss_sum), float(report.correct))
    return _Round(dict(tensors), meta, round=trained, before=state.epoch, batches=int(report.batches))


def _average(a: _Round, b: _Round) -> _Round:
    """The two states averaged, weighted by the rows each trained (``a + (b - a) * b.seen / (a.seen + b.seen)``,
    in the model's dtype); counters as the module docstring says; the totals added."""
    if a.divergence is not None:
        return a
    if b.divergence is not None:
        return b
    if set(a.tensors) != set(b.tensors):
        raise ValueError(f"replica states differ in their tensors: {sorted(set(a.tensors) ^ set(b.tensors))}")
    share = b.round.seen / (a.round.seen + b.round.seen)
    tensors = {}
    for name, first in a.tensors.items():
        mixed = b.tensors[name] - first
        mixed *= mixed.dtype.type(share)
        mixed += first
        tensors[name] = mixed
    meta_a, meta_b = json.loads(a.meta), json.loads(b.meta)
    counters_a, counters_b = meta_a["counters"], meta_b["counters"]
    counters = {
        "step": max(counters_a["step"], counters_b["step"]),
        "updates": max(counters_a["updates"], counters_b["updates"]),
        "epochs": min(counters_a["epochs"], counters_b["epochs"]),
        "optimizer_epochs": min(counters_a["optimizer_epochs"], counters_b["optimizer_epochs"]),
    }
    meta = json.dumps({**meta_a, "counters": counters}, separators=(",", ":"))
    return _Round(tensors, meta, round=a.round + b.round, before=a.before, batches=max(a.batches, b.batches))


def _load(engine: _core.Model, state: _Round) -> None:
    """Load a state into an engine. Arrays that crossed the network may be unaligned: aligned copies of those."""
    tensors = {name: np.require(array, requirements=ENGINE_LAYOUT) for name, array in state.tensors.items()}
    engine.load_state_dict(tensors, state.meta)


def _merge(*tops: _Round) -> _Round:
    """The root of a round's tree from its last two states (every task that needs the root computes it: the same
    inputs in the same order give the same bits everywhere, one scheduling hop and one transfer fewer per round)."""
    if len(tops) == 1:
        return tops[0]
    first, second = tops
    return _average(first, second)


def _summarize(*tops: _Round) -> _Summary:
    """A round's summary from its last two states (or the one), without averaging the tensors."""
    diverged = [top for top in tops if top.divergence is not None]
    if diverged or len(tops) == 1:
        return (diverged or list(tops))[0].summary()
    first, second = tops
    return _Round({}, "", first.round + second.round, first.before, max(first.batches, second.batches)).summary()


def _evaluate_partition(state: _Round, x: Any, y: Any, w: Any, config: str) -> tuple[float, float, float, int]:
    """Validation on one chunk: (data loss x total weight, total weight, correct, rows)."""
    model = Sequential.from_config(json.loads(config))
    engine = model._require_built()
    _load(engine, state)
    names = ("validation_data X", "validation_data y", "validation_data sample_weight")
    features, targets, weights = model._batch(x, y, w, names=names)
    objective, correct = engine.evaluate(features, targets, weights)
    total = float(features.shape[0]) if weights is None else float(weights.sum(dtype=np.float64))
    penalty = _penalty(state, model)
    if model.penalty_per_sample:
        penalty = penalty / total if total > 0 else 0.0
    data_loss = float(objective) - penalty if total > 0 else 0.0
    return data_loss * total, total, float(correct), int(features.shape[0])


def _penalty(state: _Round, model: Sequential) -> float:
    """The weights' l1/l2 penalty of the state (before any division by a total weight)."""
    if not (model.l1 or model.l2):
        return 0.0
    total = 0.0
    for index, layer in enumerate(model.layers):
        if isinstance(layer, Dense):
            weights = np.require(state.tensors[f"layers.{index}.W"], requirements=ENGINE_LAYOUT)
            total += float(_core.penalty(weights, model.l1, model.l2))
    return total


# ---- the client side: data ------------------------------------------------------------------------------------------


def _is_dask_collection(value: Any) -> bool:
    return bool(is_dask_collection(value))


def _require_dask(value: Any, name: str) -> None:
    if not _is_dask_collection(value):
        raise TypeError(
            f"{name} must be a dask array, DataFrame or Series; got {type(value).__module__}.{type(value).__name__}. "
            "Train in-memory data with Sequential.fit, or wrap it: dask.array.from_array(data, chunks=(rows, -1))"
        )


def _as_dask_array(value: Any, name: str, ndims: tuple[int, ...], client: Any = None) -> da.Array:
    """A dask array (a dask DataFrame or Series converted, with its chunk lengths counted on ``client``'s cluster) of
    one of ``ndims``, chunked along rows only; anything else raises TypeError/ValueError."""
    _require_dask(value, name)
    if not isinstance(value, da.Array):
        to_array = getattr(value, "to_dask_array", None)
        if to_array is None:
            raise TypeError(f"{name} must be a dask array, DataFrame or Series; got {type(value).__name__}")
        lengths = True if client is None else tuple(client.compute(value.map_partitions(len)).result())
        value = to_array(lengths=lengths)
    if value.ndim not in ndims:
        shapes = " or ".join(f"{n}-D" for n in ndims)
        raise ValueError(f"{name} must be {shapes}; got a {value.ndim}-D dask array of shape {value.shape}")
    if value.dtype.kind not in "biuf":
        raise TypeError(f"{name} must hold numbers (bool, int or float); got dtype {value.dtype}")
    if any(math.isnan(size) for size in value.chunks[0]):
        raise ValueError(f"{name} has unknown chunk sizes; call {name}.compute_chunk_sizes() first")
    if value.ndim == 2 and value.numblocks[1] > 1:
        value = value.rechunk({1: -1})  # one chunk of columns: a partition is a block of whole rows
    return cast(da.Array, value)


@dataclasses.dataclass
class _Partitions:
    """The training data on the cluster: per non-empty row chunk, the futures of its X, y and weights blocks."""

    x: list[Any]
    y: list[Any]
    w: list[Any]
    rows: list[int]
    first_rows: list[int]
    workers: list[tuple[str, ...]]
    persisted: list[Any]  # the persisted collections: holding them keeps the blocks on the workers

    @property
    def total(self) -> int:
        return sum(self.rows)

    def release(self) -> None:
        """Drop the references to the blocks (a finished run's futures must not outlive it in a traceback)."""
        self.x, self.y, self.w, self.persisted = [], [], [], []


def _check_same_chunks(reference: da.Array, other: da.Array, name: str) -> None:
    if other.shape[0] != reference.shape[0]:
        raise ValueError(f"{name} has {other.shape[0]} rows but X has {reference.shape[0]}")
    if other.chunks[0] != reference.chunks[0]:
        raise ValueError(
            f"{name} is chunked along rows as {other.chunks[0]} but X as {reference.chunks[0]}: each partition needs "
            f"its rows of X, y and sample_weight together; rechunk one to the other, e.g. {name}.rechunk({{0: X.chunks[0]}})"
        )


def _block_futures(collection: da.Array, futures: dict[Any, Any]) -> list[Any]:
    keys = cast(list[Any], collection.__dask_keys__())
    flat = [row[0] for row in keys] if collection.ndim == 2 else keys
    return [futures[key] for key in flat]


def _partitions(client: Any, X: da.Array, y: da.Array, w: da.Array | None) -> _Partitions:
    """Persist the data on the workers (a no-op for data already there) and find each chunk's futures."""
    collections_ = [X, y] if w is None else [X, y, w]
    persisted = client.persist(collections_)
    futures = {future.key: future for future in futures_of(persisted)}
    x_blocks = _block_futures(persisted[0], futures)
    y_blocks = _block_futures(persisted[1], futures)
    w_blocks = _block_futures(persisted[2], futures) if w is not None else [None] * len(x_blocks)
    sizes = [int(size) for size in X.chunks[0]]
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(int).tolist() if sizes else []
    keep = [i for i, size in enumerate(sizes) if size > 0]
    wait([x_blocks[i] for i in keep])  # computed, so that each training task can be sent where its chunk is
    who_has = client.who_has([x_blocks[i] for i in keep])
    return _Partitions(
        x=[x_blocks[i] for i in keep],
        y=[y_blocks[i] for i in keep],
        w=[w_blocks[i] for i in keep],
        rows=[sizes[i] for i in keep],
        first_rows=[starts[i] for i in keep],
        workers=[tuple(who_has.get(x_blocks[i].key, ())) for i in keep],
        persisted=persisted,
    )


def _client(client: Any) -> Any:
    if client is not None:
        if not hasattr(client, "submit") or not hasattr(client, "persist"):
            raise TypeError(f"client must be a distributed.Client; got {type(client).__name__}")
        return client
    try:
        return get_client()
    except ValueError:
        raise ValueError(
            "no Dask client: pass client=distributed.Client(...) or create one before calling fit"
        ) from None


def _partition_seed(seed: int, partition: int) -> int:
    if partition == 0:
        return seed
    return int(_core.hash_words([seed, _PARTITION_STREAM, partition]))


# ---- the client side: a run ----------------------------------------------------------------------------------------


class DistributedRun:
    """One distributed training run over data on a Dask cluster, with ``TrainingRun``'s protocol (a context
    manager with ``next_epoch`` and ``run_epoch``), so that ``fit`` and the scikit-learn wrappers drive it alike.

    Entering the run installs the optimizer on the model; leaving it by an exception puts the model, its optimizer
    and their state back exactly as before. Use ``fit`` (or the wrappers) rather than this class.
    """

    def __init__(
        self,
        model: Sequential,
        client: Any,
        X: da.Array,
        y: da.Array,
        sample_weight: da.Array | None,
        *,
        optimizer: Optimizer,
        reset_optimizer: bool,
        batch_size: int,
        shuffle: bool,
        sync_every: int,
        seed: int,
        validation: tuple[Any, ...] | _DaskValidation | None = None,
        schedule: Any = None,
        callbacks: list[Callback] | None = None,
        verbose: int = 0,
    ):
        self.model = model
        self.client = client
        self.engine = model._require_built()
        self.optimizer = optimizer
        self.reset_optimizer = reset_optimizer
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.sync_every = sync_every
        self.seed = seed
        self.schedule = schedule
        self.verbose = verbose
        self.show_progress = verbose == 1 and _tqdm_available()
        self.token = uuid.uuid4().hex
        self.data = _partitions(client, X, y, sample_weight)
        self.rows = self.data.total
        if self.rows == 0:
            raise ValueError("X must have at least one row; got 0")
        self._check_batchnorm()
        config = json.loads(self.engine.config)
        self._configs = [json.dumps({**config, "seed": _partition_seed(seed, i)}) for i in range(len(self.data.rows))]
        self._model_config = self.engine.config
        self.validation = validation
        self.history = History()
        metrics = ["loss", "accuracy"] if model.is_classifier else ["loss"]
        if validation is not None:
            metrics += ["val_" + key for key in metrics]
        self.history.history = {key: [] for key in [*metrics, "lr", "epoch_seconds"]}
        self.callbacks = CallbackList([self.history, *(callbacks or [])], model)
        self._optimizer_json = ""
        self._backup: _core.Model | None = None
        self._previous_optimizer: Optimizer | None = None
        self._prepare()

    def _check_batchnorm(self) -> None:
        if not any(isinstance(layer, BatchNorm) for layer in self.model.layers):
            return
        for index, rows in enumerate(self.data.rows):
            batch = min(self.batch_size, rows)
            if batch < 2 or rows % batch == 1:
                raise ValueError(
                    f"BatchNorm needs at least 2 rows per training batch, but batch_size={self.batch_size} over "
                    f"partition {index}'s {rows} rows leaves a batch of 1 row; choose another batch_size or chunking"
                )

    def _task(self, partition: int, **fields: Any) -> _Task:
        return _Task(
            run=self.token,
            partition=partition,
            first_row=self.data.first_rows[partition],
            config=self._configs[partition],
            **fields,
        )

    def _submit(
        self, function: Callable[..., Any], *args: Any, key: str, workers: Any = None, retries: int = RETRIES
    ) -> Any:
        return self.client.submit(
            function,
            *args,
            key=key,
            retries=retries,
            workers=list(workers) if workers else None,
            allow_other_workers=bool(workers),
        )

    def _prepare(self) -> None:
        """Copy every partition into an engine dataset on its worker (checked as ``Sequential.fit`` checks X and y);
        a bad partition raises here, before the model changes."""
        data = self.data
        futures = [
            self._submit(
                _prepare_partition,
                data.x[i],
                data.y[i],
                data.w[i],
                self._task(i),
                key=f"ferronet-prepare-{self.token}-{i}",
                workers=data.workers[i],
                retries=0,  # bad data raises at once (a lost worker is Dask's to reschedule, not a retry)
            )
            for i in range(len(data.rows))
        ]
        try:
            self.client.gather(futures)
        except BaseException:
            self._evict()
            self.data.release()
            if isinstance(self.validation, _DaskValidation):
                self.validation.data.release()
            raise

    def _evict(self) -> None:
        try:
            self.client.run(_evict_run, self.token)
        except (OSError, RuntimeError, CancelledError):  # the cluster is gone: nothing left to free
            pass

    # ---- the transaction ----------------------------------------------------------------------------------------

    def __enter__(self) -> DistributedRun:
        self.callbacks.__enter__()
        try:
            self._backup = self.engine.copy()
            self._optimizer_json = json.dumps(self.optimizer.config())
            self.engine.begin_fit(self._optimizer_json, self.reset_optimizer)
            self.engine.end_fit(True)
        except BaseException:
            self.callbacks.__exit__()
            raise
        self._previous_optimizer = self.model._optimizer
        self.model._optimizer = self.optimizer
        self.model.stop_training = False
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, traceback: Any) -> None:
        try:
            if kind is not None and self._backup is not None:
                self.model._engine = self._backup
                self.engine = self._backup
                self.model._optimizer = self._previous_optimizer
        finally:
            self._backup = None
            self.callbacks.__exit__()
            self._evict()
            self.data.release()  # the chunks persisted for this run leave the workers (unless the caller holds them)
            if isinstance(self.validation, _DaskValidation):
                self.validation.data.release()

    # ---- epochs -------------------------------------------------------------------------------------------------

    @property
    def next_epoch(self) -> int:
        """The index of the next epoch when none is given: epochs trained with this optimizer state."""
        return int(self.engine.counters["optimizer_epochs"])

    def fit(self, epochs: int) -> History:
        """Train ``epochs`` epochs, continuing the epoch index; returns the history."""
        first = self.next_epoch
        last = first + epochs
        self.callbacks.on_train_begin()
        for epoch in range(first, last):
            self.run_epoch(epoch, last)
            if self.model.stop_training:
                break
        self.callbacks.on_train_end({key: values[-1] for key, values in self.history.history.items() if values})
        self.model.history = self.history
        return self.history

    def run_epoch(self, epoch: int, epochs: int, lr: float | None = None) -> Logs:
        """One epoch with index ``epoch`` (of ``epochs``, for display): returns its logs. ``lr`` overrides the
        schedule (the scikit-learn wrappers compute their own rates)."""
        self.callbacks.on_epoch_begin(epoch)
        if lr is None:
            lr = learning_rate(self.schedule, epoch, self.optimizer.lr)
        started = time.perf_counter()
        totals = self._train_epoch(epoch, epochs, lr)
        if totals is None:  # diverged, and a callback chose to stop instead of raising
            return {}
        logs: Logs = {"loss": totals.loss_sum / self.rows}
        if self.model.is_classifier:
            logs["accuracy"] = totals.correct / self.rows
        if self.validation is not None:
            logs.update(self._evaluate_validation())
        logs["lr"] = lr
        logs["epoch_seconds"] = time.perf_counter() - started
        if self.verbose == 2 or (self.verbose == 1 and not self.show_progress):
            print(epoch_line(epoch, epochs, logs), flush=True)
        self.callbacks.on_epoch_end(epoch, logs)
        return logs

    def _plan(self) -> list[list[int]]:
        """The partitions that train in each round of an epoch (a partition whose epoch is over sits out)."""
        batches = [math.ceil(rows / min(self.batch_size, rows)) for rows in self.data.rows]
        rounds = math.ceil(max(batches) / self.sync_every)
        return [[i for i, n in enumerate(batches) if r * self.sync_every < n] for r in range(rounds)]

    def _reports_rounds(self) -> bool:
        """Whether the client follows the rounds as they finish (a progress bar, or a callback that wants
        ``on_train_batch_end``); otherwise it only paces them, and the cluster runs without waiting on it."""
        quiet = (History, TerminateOnNaN)  # TerminateOnNaN hears of a divergence at the end of the epoch
        return self.show_progress or any(
            type(callback).on_train_batch_end is not Callback.on_train_batch_end and not isinstance(callback, quiet)
            for callback in self.callbacks.callbacks
        )

    def _train_epoch(self, epoch: int, epochs: int, lr: float) -> _Totals | None:
        """Train one epoch from the client's model and load the result into it: its totals, or None when it
        diverged and a callback stopped training."""
        bar = progress_bar(self.rows, epoch, epochs) if self.show_progress else None

        def on_round(summary: _Summary) -> None:
            if summary.divergence is not None:
                return
            seen = max(summary.epoch.seen, 1)
            logs: Logs = {"loss": summary.epoch.loss_sum / seen}
            if self.model.is_classifier:
                logs["accuracy"] = summary.epoch.correct / seen
            if bar is not None:
                bar.update(summary.seen)
                bar.set_postfix({_SHORT.get(key, key): f"{value:.4f}" for key, value in logs.items()}, refresh=False)
            self.callbacks.on_train_batch_end(summary.batches - 1, logs)

        try:
            final = self._epoch_with_retries(epoch, lr, on_round if self._reports_rounds() else None)
        finally:
            if bar is not None:
                bar.close()
        if final.divergence is not None:
            partition, batch, value = final.divergence
            self.callbacks.on_train_batch_end(batch, {"loss": value})
            if not self.model.stop_training:
                raise FloatingPointError(
                    f"training diverged: the loss became {value} at epoch {epoch + 1}, batch {batch + 1} (1-based) of "
                    f"partition {partition}; the model was restored to its state before this fit call. Try a smaller "
                    "learning rate."
                )
            _load(self.engine, final)  # the last finite average (TerminateOnNaN)
            return None
        _load(self.engine, final)
        return final.epoch

    def _epoch_with_retries(self, epoch: int, lr: float, on_round: Callable[[_Summary], None] | None) -> _Round:
        reported = [0]  # rounds already reported (an epoch trained again reports only the rounds after them)

        def report(index: int, summary: _Summary) -> None:
            if on_round is not None and index >= reported[0]:
                on_round(summary)
                reported[0] = index + 1

        for attempt in range(EPOCH_ATTEMPTS):
            try:
                return self._epoch_attempt(epoch, lr, attempt, report if on_round is not None else None)
            except KilledWorker as error:
                raise RuntimeError(
                    f"a training task of epoch {epoch + 1} kept losing its worker ({error}); the model was restored to "
                    "its state before this fit call. Check the workers' memory and logs."
                ) from error
            except CancelledError as error:  # the epoch's starting state was lost with a worker
                if attempt == EPOCH_ATTEMPTS - 1:
                    raise RuntimeError(
                        f"epoch {epoch + 1} lost its starting state with a worker {EPOCH_ATTEMPTS} times ({error}); the "
                        "model was restored to its state before this fit call"
                    ) from error
        raise AssertionError("unreachable")  # pragma: no cover

    def _epoch_attempt(
        self, epoch: int, lr: float, attempt: int, report: Callable[[int, _Summary], None] | None
    ) -> _Round:
        """Submit the epoch's rounds, at most ``LOOKAHEAD`` ahead of the last finished one, and return the final
        state. With ``report``, each round's summary is fetched and reported in order."""
        tensors, meta = self.engine.state_dict(True)
        data = self.data
        tops = [self.client.scatter(_Round(dict(tensors), meta), hash=False)]
        submitted: list[Any] = list(tops)
        rounds: list[list[Any]] = []
        summaries: collections.deque[tuple[int, Any]] = collections.deque()
        prefix = f"{self.token}-{epoch}.{attempt}"
        plan = self._plan()
        try:
            for index, participants in enumerate(plan):
                leaves = [
                    self._submit(
                        _train_partition,
                        data.x[i],
                        data.y[i],
                        data.w[i],
                        self._task(
                            i,
                            optimizer=self._optimizer_json,
                            lr=lr,
                            batch_size=self.batch_size,
                            shuffle=self.shuffle,
                            first_batch=index * self.sync_every,
                            max_batches=self.sync_every,
                        ),
                        *tops,
                        key=f"ferronet-train-{prefix}.{index}-{i}",
                        workers=data.workers[i],
                    )
                    for i in participants
                ]
                tops = self._reduce(leaves, f"{prefix}.{index}")
                submitted += [*leaves, *tops]
                rounds.append(tops)
                if report is not None:
                    summary = self._submit(_summarize, *tops, key=f"ferronet-summary-{prefix}.{index}")
                    submitted.append(summary)
                    summaries.append((index, summary))
                    diverged = None
                    while diverged is None and (len(summaries) >= LOOKAHEAD or (summaries and index == len(plan) - 1)):
                        done, future = summaries.popleft()
                        result = future.result()
                        report(done, result)
                        if result.divergence is not None:  # later rounds would only pass it on
                            diverged = done
                    if diverged is not None:
                        tops = rounds[diverged]
                        break
                elif index >= LOOKAHEAD:
                    wait(rounds[index - LOOKAHEAD])  # pacing only: nothing is fetched
            root = self._submit(_merge, *tops, key=f"ferronet-root-{prefix}")
            submitted.append(root)
            final: _Round = root.result()
            return final
        except BaseException:
            self.client.cancel(submitted)
            raise

    def _reduce(self, states: list[Any], name: str) -> list[Any]:
        """The states averaged pairwise, level by level (a fixed tree: results do not depend on timing), down to the
        root's two children (or the one state): the tasks that need the root average those themselves."""
        level = 0
        while len(states) > 2:
            paired = [
                self._submit(_average, states[j], states[j + 1], key=f"ferronet-average-{name}-{level}.{j // 2}")
                for j in range(0, len(states) - 1, 2)
            ]
            states = paired + ([states[-1]] if len(states) % 2 else [])
            level += 1
        return states

    def _evaluate_validation(self) -> Logs:
        assert self.validation is not None
        if isinstance(self.validation, _DaskValidation):
            return self._evaluate_on_workers(self.validation)
        features, targets, weights = self.validation
        loss, correct = self.engine.evaluate(features, targets, weights)
        logs: Logs = {"val_loss": float(loss)}
        if self.model.is_classifier:
            logs["val_accuracy"] = float(correct) / features.shape[0]
        return logs

    def _evaluate_on_workers(self, validation: _DaskValidation) -> Logs:
        """Validation chunk by chunk where the chunks are: the weighted mean of the data loss plus the penalty."""
        data = validation.data
        tensors, meta = self.engine.state_dict(True)
        state = self.client.scatter(_Round(dict(tensors), meta), hash=False)
        parts = self.client.gather(
            [
                self.client.submit(_evaluate_partition, state, x, y, w, self._model_config, retries=RETRIES, pure=False)
                for x, y, w in zip(data.x, data.y, data.w, strict=True)
            ]
        )
        weighted = sum(part[0] for part in parts)
        total = sum(part[1] for part in parts)
        correct = sum(part[2] for part in parts)
        rows = sum(part[3] for part in parts)
        penalty = _penalty(_Round(dict(tensors), meta), self.model)
        if self.model.penalty_per_sample:
            penalty = penalty / total if total > 0 else 0.0
        logs: Logs = {"val_loss": (weighted / total if total > 0 else 0.0) + penalty}
        if self.model.is_classifier:
            logs["val_accuracy"] = correct / rows
        return logs


# ---- fit ------------------------------------------------------------------------------------------------------------


@dataclasses.dataclass
class _DaskValidation:
    """Validation data on the cluster."""

    data: _Partitions


def _validation(model: Sequential, client: Any, validation_data: Any) -> tuple[Any, ...] | _DaskValidation | None:
    """Validation data: in memory (checked here, evaluated in the client as ``Sequential.fit`` does) or dask
    collections (evaluated on the workers, block by block)."""
    if validation_data is None:
        return None
    if not isinstance(validation_data, (tuple, list)) or len(validation_data) not in (2, 3):
        raise TypeError("validation_data must be a tuple (X_val, y_val) or (X_val, y_val, sample_weight)")
    X_val, y_val, *rest = validation_data
    w_val = rest[0] if rest else None
    names = ("validation_data X", "validation_data y", "validation_data sample_weight")
    if not any(_is_dask_collection(part) for part in (X_val, y_val, w_val)):
        return model._batch(X_val, y_val, w_val, names=names)
    X_val = _as_dask_array(X_val, names[0], (2,), client)
    y_val = _as_dask_array(y_val, names[1], (1, 2), client)
    _check_same_chunks(X_val, y_val, names[1])
    if w_val is not None:
        w_val = _as_dask_array(w_val, names[2], (1,), client)
        _check_same_chunks(X_val, w_val, names[2])
    if X_val.shape[1] != model.input_dim:
        raise ValueError(f"validation_data X has {X_val.shape[1]} features, the model expects {model.input_dim}")
    data = _partitions(client, X_val, y_val, w_val)
    if data.total == 0:
        raise ValueError("validation_data X must have at least one row; got 0")
    return _DaskValidation(data)


def fit(
    model: Sequential,
    X: Any,
    y: Any,
    *,
    client: Any = None,
    epochs: int = 1,
    batch_size: int = 32,
    optimizer: Optimizer | OptimizerName | None = None,
    sync_every: int = 200,
    validation_data: tuple[Any, ...] | None = None,
    callbacks: Sequence[Callback] | None = None,
    seed: int | None = None,
    sample_weight: Any = None,
    shuffle: bool = True,
    schedule: Schedule | Callable[[int, float], float] | None = None,
    verbose: Verbosity = 0,
) -> History:
    """Train ``model`` in place on a Dask cluster, each worker on the row chunks it holds (local SGD).

    Every row chunk of X trains a replica of the model for ``sync_every`` batches, then the replicas' parameters
    and optimizer state are averaged (weighted by the rows each trained) through a tree reduction on the workers;
    see the module docstring for exactly what is averaged. An epoch is one pass of every chunk over its rows.

    Parameters
    ----------
    model : Sequential
        Trained in place (built from X's width if it is not built yet).
    X : dask array or dask DataFrame
        Samples (n, features), chunked along rows (column chunks are merged). Each row chunk is a partition: it
        trains where Dask keeps it. For speed, give it at least as many chunks as workers, of similar sizes.
    y : dask array, DataFrame or Series
        Targets as ``Sequential.fit`` takes them, chunked along rows exactly as X.
    client : distributed.Client, optional
        The cluster to train on (default: the current client, ``distributed.get_client()``).
    epochs : int
        Epochs to train; the epoch index continues from the epochs already trained with this optimizer.
    batch_size : int
        Rows per batch within each partition (a partition smaller than it trains in one batch).
    optimizer : Optimizer or "sgd"/"adam"/"rmsprop", optional
        As in ``Sequential.fit``: defaults to the model's last optimizer (or ``SGD()``); a new object starts fresh
        optimizer state.
    sync_every : int, default 200
        Batches each partition trains between two averages (a round). An average costs about 20 ms on a local
        cluster; 200 batches make rounds long enough to hide it (2 workers: 1.7-1.8x one, within 0.5 points of
        single-machine accuracy, see docs/distributed.md). Lower it if the replicas drift apart (small batches,
        large learning rates); ``sync_every=1`` with plain SGD is large-batch SGD.
    validation_data : (X_val, y_val) or (X_val, y_val, sample_weight), optional
        In-memory arrays (evaluated in this process, as ``Sequential.fit`` does) or dask collections (evaluated
        on the workers, block by block).
    callbacks : list of Callback, optional
        Keras-style callbacks: ``on_epoch_begin``/``on_epoch_end`` per epoch, ``on_train_batch_end`` per round;
        ``model.stop_training = True`` ends the fit after the epoch.
    seed : int, optional
        Seed of the shuffles and dropout masks (default: the model's seed). Partition 0 uses it as is, partition
        i > 0 a seed derived from (seed, i).
    sample_weight : dask array, optional
        Per-row weights (n,), chunked as X.
    shuffle : bool
        Shuffle each partition's rows every epoch (by the partition's seed and the epoch).
    schedule : Schedule or callable (epoch, lr0) -> lr, optional
        The learning rate of each epoch from the optimizer's ``lr``.
    verbose : 0, 1, 2, bool or "auto"
        0 silent, 1 a progress bar (a line per epoch without tqdm), 2 a line per epoch.

    Returns
    -------
    History
        As ``Sequential.fit``'s: "loss" (and "accuracy", "val_*"), "lr" and "epoch_seconds" per epoch.

    Raises
    ------
    TypeError
        For arguments of the wrong type, e.g. X a NumPy array instead of a dask collection.
    ValueError
        For bad values (mismatched row chunks, NaN or infinity in X, labels out of range, no Dask client ...).
    FloatingPointError
        When the loss stops being finite in a replica (unless a TerminateOnNaN callback stops training instead).
    RuntimeError
        When a task keeps killing workers, or an epoch's starting state is lost too often.

    Every exception leaves the model (weights, optimizer and its state, counters) exactly as it was before the
    call. With one partition the result equals ``Sequential.fit(X, y, ...)`` with the same arguments bit for bit.
    """
    if not isinstance(model, Sequential):
        raise TypeError(f"model must be a ferronet.Sequential; got {type(model).__name__}")
    with _model_lock(model):
        epochs = check_int(epochs, "epochs", minimum=0)
        batch_size = check_int(batch_size, "batch_size", minimum=1)
        sync_every = check_int(sync_every, "sync_every", minimum=1)
        shuffle = check_bool(shuffle, "shuffle")
        verbosity = check_verbose(verbose)
        callback_list = check_callbacks(callbacks)
        if schedule is not None and not callable(schedule):
            raise TypeError("schedule must be a ferronet.schedules.Schedule or a callable (epoch, lr0) -> lr")
        seed = model.seed if seed is None else check_seed(seed)
        chosen, reset = model._choose_optimizer(optimizer)
        _require_dask(X, "X")
        _require_dask(y, "y")
        dask_client = _client(client)
        X = _as_dask_array(X, "X", (2,), dask_client)
        y = _as_dask_array(y, "y", (1, 2), dask_client)
        _check_same_chunks(X, y, "y")
        if sample_weight is not None:
            sample_weight = _as_dask_array(sample_weight, "sample_weight", (1,), dask_client)
            _check_same_chunks(X, sample_weight, "sample_weight")
        with model._unbuilt_on_error():  # a first fit that raises leaves the model unbuilt
            if model.built and X.shape[1] != model.input_dim:
                raise ValueError(f"X has {X.shape[1]} features, the model expects {model.input_dim}")
            model.build(int(X.shape[1]))
            validation = _validation(model, dask_client, validation_data)
            for callback in callback_list:
                for monitor in callback.required_metrics():
                    if monitor.startswith("val_") and validation is None:
                        raise ValueError(f"{type(callback).__name__} monitors {monitor!r}, which needs validation_data")
                    if monitor.endswith("accuracy") and not model.is_classifier:
                        raise ValueError(
                            f"{type(callback).__name__} monitors {monitor!r}, which needs a classification loss; "
                            f"this model uses {model.loss}"
                        )
            if schedule is not None:
                first = 0 if reset else int(model._require_built().counters["optimizer_epochs"])
                for epoch in range(first, first + min(epochs, PRECHECKED_EPOCHS)):
                    learning_rate(schedule, epoch, chosen.lr)
            run = DistributedRun(
                model,
                dask_client,
                X,
                y,
                sample_weight,
                optimizer=chosen,
                reset_optimizer=reset,
                batch_size=batch_size,
                shuffle=shuffle,
                sync_every=sync_every,
                seed=seed,
                validation=validation,
                schedule=schedule,
                callbacks=callback_list,
                verbose=verbosity,
            )
        with run:
            return run.fit(epochs)


# ---- scikit-learn ---------------------------------------------------------------------------------------------------


def _is_dask_input(*values: Any) -> bool:
    return any(_is_dask_collection(value) for value in values if value is not None)


def _encode_labels(block: np.ndarray, binarizer: Any, softmax: bool) -> np.ndarray:
    """``MLPClassifier._encode`` of one chunk of labels."""
    indicator = np.asarray(binarizer.transform(block))
    if softmax:
        return np.asarray(indicator.argmax(axis=1), dtype=np.int64)
    return indicator.astype(np.float64)


def _lookup_weights(block: np.ndarray, classes: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Each label's class weight."""
    return np.asarray(weights[np.searchsorted(classes, block)], dtype=np.float64)


def _predict_block(block: np.ndarray, estimator: Any, method: str) -> np.ndarray:
    return np.asarray(getattr(estimator, method)(block))


def _fit_on_dask(estimator: Any, X: Any, y: Any, sample_weight: Any, incremental: bool) -> Any:
    """``_BaseMLP._fit`` for dask input: the same checks, initialization and training loop (scikit-learn's stopping
    rules and rate changes between epochs), with each epoch trained by ``DistributedRun`` on the cluster."""
    sizes = estimator._check_params()
    sync_every = check_int(estimator.sync_every, "sync_every", minimum=1)
    if estimator.early_stopping:
        raise ValueError(
            "early_stopping=True is not supported with dask input (it would hold out rows on the client); use "
            "ferronet.distributed.fit with validation_data and an EarlyStopping callback, or in-memory data"
        )
    client = _client(None)
    names = list(getattr(X, "columns", [])) if hasattr(X, "columns") else None
    X = _as_dask_array(X, "X", (2,), client)
    y = _as_dask_array(y, "y", (1, 2), client)
    _check_same_chunks(X, y, "y")
    weights = None
    if sample_weight is not None:
        weights = _as_dask_array(sample_weight, "sample_weight", (1,), client).astype(np.float64)
        _check_same_chunks(X, weights, "sample_weight")
    first_pass = not hasattr(estimator, "_model") or (not estimator.warm_start and not incremental)
    if not first_pass and X.shape[1] != estimator.n_features_in_:
        raise ValueError(
            f"X has {X.shape[1]} features, but {type(estimator).__name__} is expecting {estimator.n_features_in_} "
            "features as input."
        )
    y = estimator._dask_targets(client, y, incremental, first_pass)
    if weights is not None and not client.compute((weights != 0).any()).result():
        raise ValueError("sample_weight must contain at least one non-zero weight; got all zeros")
    class_weights = estimator._dask_class_weights(client, y, incremental)
    if class_weights is not None:
        weights = class_weights if weights is None else weights * class_weights
    targets = estimator._dask_encode(y)
    random_state = check_random_state(estimator.random_state)
    if first_pass:
        estimator.n_features_in_ = int(X.shape[1])
        if names and all(isinstance(name, str) for name in names):
            estimator.feature_names_in_ = np.asarray(names, dtype=object)
        elif hasattr(estimator, "feature_names_in_"):
            del estimator.feature_names_in_
        estimator._initialize(X, targets, sizes, random_state)
    elif targets.ndim == 2 and targets.shape[1] != estimator.n_outputs_:
        raise ValueError(f"y has {targets.shape[1]} outputs; the fitted model has {estimator.n_outputs_}")
    model = estimator._model

    def training_run(
        features: da.Array,
        train_targets: da.Array,
        train_weights: Any,
        *,
        optimizer: Any,
        batch_size: int,
        shuffle: bool,
    ) -> DistributedRun:
        chosen, reset = model._choose_optimizer(optimizer)
        return DistributedRun(
            model,
            client,
            features,
            train_targets,
            train_weights,
            optimizer=chosen,
            reset_optimizer=reset,
            batch_size=check_int(batch_size, "batch_size", minimum=1),
            shuffle=check_bool(shuffle, "shuffle"),
            sync_every=sync_every,
            seed=model.seed,
        )

    # The estimators' loop asks the model for its training run: for the length of this fit, the model answers
    # with a distributed one (an instance attribute, removed afterwards; the class and other models are untouched).
    model.__dict__["_training_run"] = training_run
    try:
        _BaseMLP._fit_stochastic(estimator, X, y, targets, weights, incremental, random_state)
    finally:
        del model.__dict__["_training_run"]
    return estimator


def _dask_predict(estimator: Any, X: Any, method: str, columns: int | None) -> da.Array:
    """``method`` applied chunk by chunk on the workers: a lazy dask array of the results."""
    X = _as_dask_array(X, "X", (2,))
    fitted = delayed(estimator, pure=True)
    dtype = np.float64 if method == "predict_proba" else estimator._prediction_dtype()
    if columns is None:
        result = da.map_blocks(
            _predict_block, X, fitted, method, drop_axis=1, dtype=dtype, meta=np.empty((0,), dtype=dtype)
        )
    else:
        result = da.map_blocks(
            _predict_block,
            X,
            fitted,
            method,
            chunks=(X.chunks[0], (columns,)),
            dtype=dtype,
            meta=np.empty((0, 0), dtype=dtype),
        )
    return cast(da.Array, result)


class DistributedMLPClassifier(MLPClassifier):
    """``ferronet.sklearn.MLPClassifier`` that also fits dask arrays and DataFrames on a Dask cluster.

    With dask input (X, y and ``sample_weight`` chunked alike along rows), ``fit``/``partial_fit`` train through
    ``DistributedRun`` on the current Dask client (``distributed.get_client()``): every row chunk trains a replica,
    averaged every ``sync_every`` batches (see ``ferronet.distributed``); scikit-learn's rate schedules and stopping
    rules run between epochs as for in-memory data. Classes come from ``dask.array.unique(y)``; ``class_weight``
    (a dict or "balanced") is computed from the class counts. Not with dask input: ``early_stopping=True`` and
    multilabel targets (both raise ValueError). ``predict``/``predict_proba`` of a dask X return lazy dask arrays
    computed chunk by chunk on the workers, and ``score`` computes on the cluster. In-memory input behaves exactly
    as ``MLPClassifier``. With a single chunk, a fit equals ``MLPClassifier``'s on the same data bit for bit.

    Parameters
    ----------
    hidden_layer_sizes, activation, solver, alpha, batch_size, learning_rate, learning_rate_init, power_t, max_iter, shuffle, random_state, tol, verbose, warm_start, momentum, nesterovs_momentum, early_stopping, validation_fraction, beta_1, beta_2, epsilon, n_iter_no_change, max_fun, dropout, batch_norm, dtype, class_weight : see MLPClassifier
        As in ``ferronet.sklearn.MLPClassifier``.
    sync_every : int, default 200
        Batches each row chunk trains between two averages of the replicas (dask input only).
    """

    def __init__(
        self,
        hidden_layer_sizes: Any = (100,),
        activation: SklearnActivation = "relu",
        *,
        solver: SolverName = "adam",
        alpha: float = 0.0001,
        batch_size: int | Literal["auto"] = "auto",
        learning_rate: LearningRateName = "constant",
        learning_rate_init: float = 0.001,
        power_t: float = 0.5,
        max_iter: int = 200,
        shuffle: bool = True,
        random_state: Any = None,
        tol: float = 1e-4,
        verbose: bool = False,
        warm_start: bool = False,
        momentum: float = 0.9,
        nesterovs_momentum: bool = True,
        early_stopping: bool = False,
        validation_fraction: float = 0.1,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-8,
        n_iter_no_change: Any = 10,
        max_fun: int = 15000,
        dropout: float = 0.0,
        batch_norm: bool = False,
        dtype: DTypeName | None = None,
        class_weight: ClassWeight = None,
        sync_every: int = 200,
    ):
        super().__init__(
            hidden_layer_sizes=hidden_layer_sizes,
            activation=activation,
            solver=solver,
            alpha=alpha,
            batch_size=batch_size,
            learning_rate=learning_rate,
            learning_rate_init=learning_rate_init,
            power_t=power_t,
            max_iter=max_iter,
            shuffle=shuffle,
            random_state=random_state,
            tol=tol,
            verbose=verbose,
            warm_start=warm_start,
            momentum=momentum,
            nesterovs_momentum=nesterovs_momentum,
            early_stopping=early_stopping,
            validation_fraction=validation_fraction,
            beta_1=beta_1,
            beta_2=beta_2,
            epsilon=epsilon,
            n_iter_no_change=n_iter_no_change,
            max_fun=max_fun,
            dropout=dropout,
            batch_norm=batch_norm,
            dtype=dtype,
            class_weight=class_weight,
        )
        self.sync_every = sync_every

    def _fit(self, X: Any, y: Any, sample_weight: Any, incremental: bool) -> Self:
        if not _is_dask_input(X, y, sample_weight):
            return super()._fit(X, y, sample_weight, incremental)
        return cast("Self", _fit_on_dask(self, X, y, sample_weight, incremental))

    def partial_fit(self, X: Any, y: Any, sample_weight: Any = None, classes: Any = None) -> Self:
        """One epoch over (X, y), on the cluster for dask input.

        Parameters
        ----------
        X : array-like, dask array or dask DataFrame of shape (n_samples, n_features)
        y : array-like, dask array or dask Series of shape (n_samples,)
        sample_weight : array-like or dask array of shape (n_samples,), optional
        classes : array-like, optional
            All the classes that will ever be seen; required on the first call.

        Returns
        -------
        self

        Raises
        ------
        ValueError, TypeError
            For bad input (see ``ferronet.distributed.fit``), before the model changes.
        """
        if not _is_dask_input(X, y, sample_weight):
            return super().partial_fit(X, y, sample_weight=sample_weight, classes=classes)
        if not hasattr(self, "classes_"):
            if classes is None:
                raise ValueError("classes must be passed on the first call to partial_fit.")
            self._label_binarizer = LabelBinarizer().fit(classes)
            self.classes_ = self._label_binarizer.classes_
        elif classes is not None and not np.array_equal(np.sort(unique_labels(classes)), np.sort(self.classes_)):
            raise ValueError(
                f"`classes={classes!r}` is not the same as on last call to partial_fit, was: {self.classes_!r}"
            )
        return self._fit(X, y, sample_weight, incremental=True)

    def _dask_targets(self, client: Any, y: da.Array, incremental: bool, reset: bool) -> da.Array:
        """``_validate_targets`` for a dask y: the classes from ``dask.array.unique`` (computed on the cluster)."""
        if y.ndim == 2:
            if y.shape[1] != 1:
                raise ValueError("multilabel targets (a 2-D y) are not supported with dask input; pass 1-D labels")
            y = y[:, 0]
        classes = np.asarray(client.compute(da.unique(y)).result())
        check_classification_targets(classes)
        if not hasattr(self, "classes_") or (not self.warm_start and not incremental):
            self._label_binarizer = LabelBinarizer().fit(classes)
            self.classes_ = self._label_binarizer.classes_
        elif self.warm_start and not incremental:
            if set(classes) != set(self.classes_):
                raise ValueError(
                    "warm_start can only be used where `y` has the same classes as in the previous call to fit. "
                    f"Previously got {self.classes_}, `y` has {classes}"
                )
        elif len(np.setdiff1d(classes, self.classes_, assume_unique=True)):
            raise ValueError(
                f"`y` has classes not in `self.classes_`. `self.classes_` has {self.classes_}. 'y' has {classes}."
            )
        self.out_activation_ = "softmax" if self._label_binarizer.y_type_ == "multiclass" else "logistic"
        return y

    def _dask_class_weights(self, client: Any, y: da.Array, incremental: bool) -> da.Array | None:
        """``class_weight`` as per-row weights: a dict, or "balanced" from the class counts of y."""
        if self.class_weight is None:
            return None
        if isinstance(self.class_weight, str):
            check_choice(self.class_weight, "class_weight", ("balanced",))
            if incremental:
                raise ValueError(
                    "class_weight='balanced' is not supported for partial_fit (each call sees only part of the "
                    "data); pass class_weight as a dict {class: weight}"
                )
            present, counts = client.gather(client.compute(list(da.unique(y, return_counts=True))))
            table = len(y) / (len(present) * np.asarray(counts, dtype=np.float64))
        elif isinstance(self.class_weight, dict):
            present = np.asarray(self.classes_)
            table = np.asarray([float(self.class_weight.get(label, 1.0)) for label in present.tolist()])
        else:
            raise TypeError(
                f"class_weight must be None, 'balanced' or a dict {{class: weight}}; got {self.class_weight!r}"
            )
        return cast(da.Array, da.map_blocks(_lookup_weights, y, np.asarray(present), table, dtype=np.float64))

    def _dask_encode(self, y: da.Array) -> da.Array:
        softmax = self.out_activation_ == "softmax"
        if softmax:
            return cast(da.Array, da.map_blocks(_encode_labels, y, self._label_binarizer, True, dtype=np.int64))
        return cast(
            da.Array,
            da.map_blocks(
                _encode_labels,
                y,
                self._label_binarizer,
                False,
                dtype=np.float64,
                chunks=(y.chunks[0], (1,)),
                new_axis=1,
            ),
        )

    def _prediction_dtype(self) -> Any:
        return np.asarray(self.classes_).dtype

    def predict(self, X: Any) -> Any:
        """Predicted class labels.

        Parameters
        ----------
        X : array-like, dask array or dask DataFrame of shape (n_samples, n_features)

        Returns
        -------
        numpy.ndarray or dask.array.Array
            For a dask X, a lazy dask array computed chunk by chunk on the workers.
        """
        if _is_dask_input(X):
            check_is_fitted(self)
            return _dask_predict(self, X, "predict", None)
        return super().predict(X)

    def predict_proba(self, X: Any) -> Any:
        """Class probabilities in the order of ``classes_``.

        Parameters
        ----------
        X : array-like, dask array or dask DataFrame of shape (n_samples, n_features)

        Returns
        -------
        numpy.ndarray or dask.array.Array of shape (n_samples, n_classes)
            For a dask X, a lazy dask array computed chunk by chunk on the workers.
        """
        if _is_dask_input(X):
            check_is_fitted(self)
            return _dask_predict(self, X, "predict_proba", max(len(self.classes_), 2))
        return super().predict_proba(X)

    def score(self, X: Any, y: Any, sample_weight: Any = None) -> float:
        """Mean accuracy (weighted by ``sample_weight``).

        Parameters
        ----------
        X : array-like, dask array or dask DataFrame of shape (n_samples, n_features)
        y : array-like, dask array or dask Series of shape (n_samples,)
        sample_weight : array-like or dask array of shape (n_samples,), optional

        Returns
        -------
        float
            Computed on the cluster when any argument is a dask collection.
        """
        if not _is_dask_input(X, y, sample_weight):
            return float(super().score(X, y, sample_weight))
        predicted = self.predict(X)
        labels = _as_dask_array(y, "y", (1, 2))
        correct = (predicted == (labels[:, 0] if labels.ndim == 2 else labels)).astype(np.float64)
        if sample_weight is None:
            return float(_client(None).compute(correct.mean()).result())
        weights = _as_dask_array(sample_weight, "sample_weight", (1,)).astype(np.float64)
        total, hits = _client(None).compute([weights.sum(), (correct * weights).sum()])
        return float(hits.result() / total.result())


class DistributedMLPRegressor(MLPRegressor):
    """``ferronet.sklearn.MLPRegressor`` that also fits dask arrays and DataFrames on a Dask cluster.

    As ``DistributedMLPClassifier``: with dask input ``fit``/``partial_fit`` train on the current Dask client, one
    replica per row chunk averaged every ``sync_every`` batches; ``predict`` of a dask X returns a lazy dask array and
    ``score`` (R², uniform average over outputs) computes on the cluster. ``early_stopping=True`` is not supported
    with dask input. In-memory input behaves exactly as ``MLPRegressor``.

    Parameters
    ----------
    loss, hidden_layer_sizes, activation, solver, alpha, batch_size, learning_rate, learning_rate_init, power_t, max_iter, shuffle, random_state, tol, verbose, warm_start, momentum, nesterovs_momentum, early_stopping, validation_fraction, beta_1, beta_2, epsilon, n_iter_no_change, max_fun, dropout, batch_norm, dtype : see MLPRegressor
        As in ``ferronet.sklearn.MLPRegressor``.
    sync_every : int, default 200
        Batches each row chunk trains between two averages of the replicas (dask input only).
    """

    def __init__(
        self,
        loss: RegressorLoss = "squared_error",
        hidden_layer_sizes: Any = (100,),
        activation: SklearnActivation = "relu",
        *,
        solver: SolverName = "adam",
        alpha: float = 0.0001,
        batch_size: int | Literal["auto"] = "auto",
        learning_rate: LearningRateName = "constant",
        learning_rate_init: float = 0.001,
        power_t: float = 0.5,
        max_iter: int = 200,
        shuffle: bool = True,
        random_state: Any = None,
        tol: float = 1e-4,
        verbose: bool = False,
        warm_start: bool = False,
        momentum: float = 0.9,
        nesterovs_momentum: bool = True,
        early_stopping: bool = False,
        validation_fraction: float = 0.1,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-8,
        n_iter_no_change: Any = 10,
        max_fun: int = 15000,
        dropout: float = 0.0,
        batch_norm: bool = False,
        dtype: DTypeName | None = None,
        sync_every: int = 200,
    ):
        super().__init__(
            loss=loss,
            hidden_layer_sizes=hidden_layer_sizes,
            activation=activation,
            solver=solver,
            alpha=alpha,
            batch_size=batch_size,
            learning_rate=learning_rate,
            learning_rate_init=learning_rate_init,
            power_t=power_t,
            max_iter=max_iter,
            shuffle=shuffle,
            random_state=random_state,
            tol=tol,
            verbose=verbose,
            warm_start=warm_start,
            momentum=momentum,
            nesterovs_momentum=nesterovs_momentum,
            early_stopping=early_stopping,
            validation_fraction=validation_fraction,
            beta_1=beta_1,
            beta_2=beta_2,
            epsilon=epsilon,
            n_iter_no_change=n_iter_no_change,
            max_fun=max_fun,
            dropout=dropout,
            batch_norm=batch_norm,
            dtype=dtype,
        )
        self.sync_every = sync_every

    def _fit(self, X: Any, y: Any, sample_weight: Any, incremental: bool) -> Self:
        if not _is_dask_input(X, y, sample_weight):
            return super()._fit(X, y, sample_weight, incremental)
        return cast("Self", _fit_on_dask(self, X, y, sample_weight, incremental))

    def _dask_targets(self, client: Any, y: da.Array, incremental: bool, reset: bool) -> da.Array:
        self.out_activation_ = "identity"
        if y.ndim == 2 and y.shape[1] == 1:
            y = y[:, 0]
        return y

    def _dask_class_weights(self, client: Any, y: da.Array, incremental: bool) -> None:
        return None

    def _dask_encode(self, y: da.Array) -> da.Array:
        values = y.astype(np.float64)
        return cast(da.Array, values[:, None] if values.ndim == 1 else values)

    def _prediction_dtype(self) -> Any:
        return np.dtype(self._model.dtype)

    def predict(self, X: Any) -> Any:
        """Predicted values.

        Parameters
        ----------
        X : array-like, dask array or dask DataFrame of shape (n_samples, n_features)

        Returns
        -------
        numpy.ndarray or dask.array.Array
            Shape (n_samples,) for one output, else (n_samples, n_outputs); for a dask X, a lazy dask array
            computed chunk by chunk on the workers.
        """
        if _is_dask_input(X):
            check_is_fitted(self)
            return _dask_predict(self, X, "predict", None if self.n_outputs_ == 1 else self.n_outputs_)
        return super().predict(X)

    def score(self, X: Any, y: Any, sample_weight: Any = None) -> float:
        """R² (uniform average over outputs, weighted by ``sample_weight``).

        Parameters
        ----------
        X : array-like, dask array or dask DataFrame of shape (n_samples, n_features)
        y : array-like, dask array or dask DataFrame of shape (n_samples,) or (n_samples, n_outputs)
        sample_weight : array-like or dask array of shape (n_samples,), optional

        Returns
        -------
        float
            Computed on the cluster when any argument is a dask collection.
        """
        if not _is_dask_input(X, y, sample_weight):
            return float(super().score(X, y, sample_weight))
        predicted = self.predict(X)
        target = _as_dask_array(y, "y", (1, 2)).astype(np.float64)
        if predicted.ndim == 1 and target.ndim == 2:
            target = target[:, 0]
        weights = None if sample_weight is None else _as_dask_array(sample_weight, "sample_weight", (1,))
        w = da.ones(target.shape[0], chunks=target.chunks[0]) if weights is None else weights.astype(np.float64)
        column = w[:, None] if target.ndim == 2 else w
        mean = (target * column).sum(axis=0) / w.sum()
        residual = (((target - predicted) ** 2) * column).sum(axis=0)
        total = (((target - mean) ** 2) * column).sum(axis=0)
        residual_value, total_value = _client(None).compute([residual, total])
        res, tot = np.atleast_1d(residual_value.result()), np.atleast_1d(total_value.result())
        scores = np.where(tot > 0, 1.0 - res / np.where(tot > 0, tot, 1.0), np.where(res > 0, 0.0, 1.0))
        return float(scores.mean())
