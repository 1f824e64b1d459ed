"""A training run: what one ``fit`` (or one scikit-learn ``fit``/``partial_fit``) trains with, for its whole
length.

The run copies the training set into the engine once (``_core.Dataset``) and drives the model's trainer epoch
by epoch: the learning rate of each epoch (a schedule's, or what a callback set), the epoch itself in chunks of
about ``CHUNK_SECONDS`` inside Rust with the GIL released (progress and Ctrl-C are handled between chunks),
validation, callbacks and the history. It is a transaction: entering it starts a fit in the engine (with the
optimizer), leaving it normally keeps what was trained, and leaving it by any exception — bad input found late,
divergence, Ctrl-C, an error in a callback — puts the parameters, the optimizer and its state back as they were
before, bit for bit.
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

import numpy as np

from . import _core
from ._progress import progress_bar
from ._validation import SparseRows, check_int
from .callbacks import Callback, CallbackList, History, Logs
from .losses import LABEL_LOSSES
from .optim import Optimizer
from .schedules import learning_rate

if TYPE_CHECKING:
    from .model import Sequential

#: Seconds of training per call into the engine: progress and Ctrl-C are handled between calls.
CHUNK_SECONDS = 0.1

#: Progress-bar names of the metrics (the bar is narrow).
_SHORT = {"accuracy": "acc"}

Arrays = tuple["np.ndarray | SparseRows", np.ndarray, "np.ndarray | None"]


class TrainingRun:
    """One engine dataset and the model's trainer for a whole fit. Use as a context manager::

        with TrainingRun(model, features, targets, weights, optimizer=opt, batch_size=32) as run:
            history = run.fit(epochs=10)

    ``features``/``targets``/``weights`` are already checked and converted by the model (``Sequential._batch``):
    features are a C-contiguous matrix or ``SparseRows`` (CSR, copied as CSR); ``validation`` likewise. ``reset_optimizer`` starts fresh optimizer state (a new optimizer object).
    """

    def __init__(
        self,
        model: Sequential,
        features: np.ndarray | SparseRows,
        targets: np.ndarray,
        weights: np.ndarray | None,
        *,
        optimizer: Optimizer,
        reset_optimizer: bool,
        batch_size: int,
        shuffle: bool = True,
        validation: Arrays | None = None,
        schedule: Any = None,
        callbacks: list[Callback] | None = None,
        show_progress: bool = False,
        verbose: int = 0,
    ):
        self.model = model
        self.engine = model._require_built()
        # The one copy of X for the whole run (the engine checks it is finite while copying).
        self.dataset = _core.Dataset(features, targets, model.loss in LABEL_LOSSES, weights)
        self.rows = int(self.dataset.rows)
        self.optimizer = optimizer
        self.reset_optimizer = reset_optimizer
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.validation = validation
        self.schedule = schedule
        self.history = History()
        # Every metric this run reports, present even when no epoch runs (fit(epochs=0)).
        metrics = ["loss", "accuracy"] if model.is_classifier else ["loss"]
        if validation is not None:
            metrics += ["val_" + key for key in metrics]
        self.history.history = {key: [] for key in [*metrics, "lr", "epoch_seconds"]}
        self.callbacks = CallbackList([self.history, *(callbacks or [])], model)
        self.show_progress = show_progress
        self.verbose = verbose
        self._previous_optimizer: Optimizer | None = None

    # ---- the transaction ----------------------------------------------------------------------------------

    def __enter__(self) -> TrainingRun:
        self.callbacks.__enter__()
        try:
            self.engine.begin_fit(json.dumps(self.optimizer.config()), self.reset_optimizer)
        except BaseException:
            self.callbacks.__exit__()
            raise
        self._previous_optimizer = self.model._optimizer
        self.model._optimizer = self.optimizer
        self.model.stop_training = False
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, traceback: Any) -> None:
        try:
            self.engine.end_fit(kind is None)
            if kind is not None:
                self.model._optimizer = self._previous_optimizer
        finally:
            self.callbacks.__exit__()

    # ---- epochs -------------------------------------------------------------------------------------------

    @property
    def next_epoch(self) -> int:
        """The index the next epoch has when ``fit`` is not given one: epochs trained with this optimizer state."""
        return int(self.engine.counters["optimizer_epochs"])

    def fit(self, epochs: int, initial_epoch: int | None = None) -> History:
        """Train epochs ``initial_epoch .. epochs - 1`` (Keras), or ``epochs`` more epochs continuing the epoch
        index when ``initial_epoch`` is None. Returns the history."""
        first = self.next_epoch if initial_epoch is None else initial_epoch
        last = first + epochs if initial_epoch is None else epochs
        self.callbacks.on_train_begin()
        for epoch in range(first, last):
            self.run_epoch(epoch, last)
            if self.model.stop_training:
                break
        self.callbacks.on_train_end(self._last_logs())
        self.model.history = self.history
        return self.history

    def _last_logs(self) -> Logs:
        return {key: values[-1] for key, values in self.history.history.items() if values}

    def run_epoch(self, epoch: int, epochs: int, lr: float | None = None) -> Logs:
        """One epoch with index ``epoch`` (of ``epochs``, for display): returns its logs. ``lr`` overrides the
        schedule (the scikit-learn wrapper computes its own rates)."""
        self.callbacks.on_epoch_begin(epoch)
        if lr is None:
            lr = learning_rate(self.schedule, epoch, self.optimizer.lr)
        self.engine.set_lr(lr)
        started = time.perf_counter()
        totals = self._train_epoch(epoch, epochs)
        if totals is None:  # diverged, and a callback chose to stop instead of raising
            return {}
        loss_sum, correct = totals
        logs: Logs = {"loss": loss_sum / self.rows}
        if self.model.is_classifier:
            logs["accuracy"] = correct / self.rows
        if self.validation is not None:
            logs.update(self.evaluate_validation())
        logs["lr"] = lr
        logs["epoch_seconds"] = time.perf_counter() - started
        if self.verbose == 2 or (self.verbose == 1 and not self.show_progress):
            print(epoch_line(epoch, epochs, logs), flush=True)
        self.callbacks.on_epoch_end(epoch, logs)
        return logs

    def evaluate_validation(self) -> Logs:
        assert self.validation is not None
        features, targets, weights = self.validation
        loss, correct = self.engine.evaluate(features, targets, weights)
        logs: Logs = {"val_loss": float(loss)}
        if self.model.is_classifier:
            logs["val_accuracy"] = float(correct) / features.shape[0]
        return logs

    def _train_epoch(self, epoch: int, epochs: int) -> tuple[float, float] | None:
        """The epoch in chunks; (Σ objective·rows, correct), or None when it diverged and a callback stopped."""
        self.engine.begin_epoch(self.dataset, self.batch_size, self.shuffle)
        bar = progress_bar(self.rows, epoch, epochs) if self.show_progress else None
        try:
            seen = 0
            while True:
                report = self.engine.train_chunk(self.dataset, CHUNK_SECONDS)
                if report.divergence is not None:
                    self._diverged(epoch, *report.divergence)
                    return None  # a callback (TerminateOnNaN) stopped training instead of raising
                logs = {"loss": report.loss_sum / max(report.seen, 1)}
                if self.model.is_classifier:
                    logs["accuracy"] = report.correct / max(report.seen, 1)
                if bar is not None:
                    bar.update(report.seen - seen)
                    bar.set_postfix(
                        {_SHORT.get(key, key): f"{value:.4f}" for key, value in logs.items()}, refresh=False
                    )
                seen = report.seen
                self.callbacks.on_train_batch_end(report.batches - 1, logs)
                if report.done:
                    return report.loss_sum, report.correct
        finally:
            if bar is not None:
                bar.close()

    def _diverged(self, epoch: int, batch: int, value: float) -> None:
        """Tell the callbacks; unless one stops training (TerminateOnNaN: keep the last finite state and end the
        fit normally), raise."""
        self.callbacks.on_train_batch_end(batch, {"loss": value})
        if self.model.stop_training:
            return
        raise FloatingPointError(
            f"training diverged: the loss became {value} at epoch {epoch + 1}, batch {batch + 1} (1-based); the "
            "model was restored to its state before this fit call. Try a smaller learning rate."
        )


def duration(seconds: float) -> str:
    """``"3.2 ms"`` under a second (a small data set's epoch), else ``"1.23s"``."""
    return f"{seconds * 1000:.1f} ms" if seconds < 1 else f"{seconds:.2f}s"


def epoch_line(epoch: int, epochs: int, values: Logs) -> str:
    parts = [f"epoch {epoch + 1}/{epochs}"]
    parts += [f"{key} {values[key]:.4f}" for key in ("loss", "accuracy", "val_loss", "val_accuracy") if key in values]
    parts.append(f"lr {values['lr']:.4g}")
    parts.append(duration(values["epoch_seconds"]))
    return "  ".join(parts)


def check_verbose(verbose: Any) -> int:
    """Keras' verbose: 0 silent, 1 (or "auto") a progress bar (a line per epoch without tqdm), 2 a line per
    epoch. True is 2 (a line per epoch, as ferronet's boolean always meant), False is 0."""
    if isinstance(verbose, (bool, np.bool_)):
        return 2 if verbose else 0
    if isinstance(verbose, str):
        if verbose != "auto":
            raise TypeError(f"verbose must be 0, 1, 2, True, False or 'auto'; got {verbose[:40]!r}")
        return 1
    return check_int(verbose, "verbose (0, 1, 2, True, False or 'auto')", minimum=0, maximum=2)
