"""Callbacks: code that runs inside ``fit`` between epochs, with Keras' names and semantics.

A callback subclasses ``Callback`` and overrides any of ``on_train_begin(logs)``, ``on_epoch_begin(epoch, logs)``,
``on_train_batch_end(batch, logs)``, ``on_epoch_end(epoch, logs)`` and ``on_train_end(logs)``; ``self.model`` is
the model being trained. Setting ``model.stop_training = True`` ends ``fit`` after the current epoch.

Whole epochs run in Rust, so ``on_train_batch_end`` is called once per *chunk* of batches (about 0.1 s of
training), not per batch: ``batch`` is the index of the last batch of the chunk and ``logs["loss"]`` the mean
objective of the epoch so far. Epoch indices are 0-based and continue across ``fit`` calls (see ``fit``'s
``initial_epoch``). ``logs`` at the end of an epoch hold ``loss`` (and ``accuracy`` for classifiers), ``val_*``
with validation data, ``lr`` and ``epoch_seconds``.

Built-ins: ``History`` (added by ``fit``), ``EarlyStopping``, ``ModelCheckpoint``, ``ReduceLROnPlateau``,
``LearningRateScheduler``, ``CSVLogger`` and ``TerminateOnNaN``. A callback object serves one ``fit`` at a time.
"""

from __future__ import annotations

import csv
import math
import os
import threading
import weakref
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, get_args

import numpy as np

from ._names import keywords
from ._types import MonitorMode, MonitorName
from ._validation import check_bool, check_choice, check_float, check_int

if TYPE_CHECKING:
    from .model import Sequential

#: Metrics a callback can monitor: the values of ``MonitorName``.
MONITORS: tuple[MonitorName, ...] = get_args(MonitorName)
#: The metrics of an epoch, as the callbacks receive them.
Logs = dict[str, Any]


class Callback:
    """Base class of the callbacks ``fit(callbacks=[...])`` calls (every hook does nothing by default)."""

    #: The model being trained (set by ``fit`` through ``set_model``).
    model: Sequential | None = None

    def set_model(self, model: Sequential) -> None:
        """Attach the model being trained (``fit`` calls it before ``on_train_begin``).

        Parameters
        ----------
        model : Sequential
            Available to the hooks as ``self.model``.
        """
        self.model = model

    def required_metrics(self) -> tuple[str, ...]:
        """The metrics this callback reads from the epoch's logs (``fit`` checks it will report them).

        Returns
        -------
        tuple of str
            Metric names such as ``"val_loss"``; ``fit`` raises ``ValueError`` before training when one needs
            validation data it does not have, or accuracy from a model that is not a classifier.
        """
        return ()

    def on_train_begin(self, logs: Logs | None = None) -> None:
        """Called once at the start of ``fit``.

        Parameters
        ----------
        logs : dict, optional
            Unused: ``fit`` passes None.
        """

    def on_epoch_begin(self, epoch: int, logs: Logs | None = None) -> None:
        """Called at the start of every epoch.

        Parameters
        ----------
        epoch : int
            The 0-based epoch index (continuing across ``fit`` calls).
        logs : dict, optional
            Unused: ``fit`` passes None.
        """

    def on_train_batch_end(self, batch: int, logs: Logs | None = None) -> None:
        """Called after each chunk of batches (about 0.1 s of training), not after every batch.

        Parameters
        ----------
        batch : int
            The index, within the epoch, of the last batch of the chunk just trained.
        logs : dict, optional
            ``{"loss": mean objective of the epoch so far}`` (and ``"accuracy"`` for classifiers); at a non-finite
            loss, ``{"loss": that value}`` with ``batch`` the batch that produced it.
        """

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        """Called at the end of every epoch, with its metrics.

        Parameters
        ----------
        epoch : int
            The 0-based epoch index (continuing across ``fit`` calls).
        logs : dict, optional
            The epoch's metrics: ``loss`` (and ``accuracy`` for classifiers), ``val_*`` with validation data,
            ``lr`` and ``epoch_seconds``.
        """

    def on_train_end(self, logs: Logs | None = None) -> None:
        """Called once when ``fit`` ends normally (also after ``stop_training``); not after an exception.

        Parameters
        ----------
        logs : dict, optional
            The last epoch's metrics (``fit`` passes them; empty when no epoch ran).
        """


class CallbackList:
    """The callbacks of one ``fit``: each is claimed for this fit, so one object cannot serve two at once.

    Used as a context manager by ``fit``: entering claims every callback and calls its ``set_model`` (a callback
    already claimed by another fit raises ``ValueError``); leaving releases them. Each hook calls the same hook of
    every callback, in order.

    Parameters
    ----------
    callbacks : iterable of Callback
        The callbacks, in the order their hooks run.
    model : Sequential
        The model being trained.
    """

    def __init__(self, callbacks: Iterable[Callback], model: Sequential):
        self.callbacks = list(callbacks)
        self.model = model
        self._claimed: list[Callback] = []

    def __enter__(self) -> CallbackList:
        try:
            for callback in self.callbacks:
                _claim(callback, self)
                self._claimed.append(callback)
                callback.set_model(self.model)
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        for callback in self._claimed:
            _release(callback, self)
        self._claimed.clear()

    def on_train_begin(self, logs: Logs | None = None) -> None:
        """Call every callback's ``on_train_begin``.

        Parameters
        ----------
        logs : dict, optional
            Unused: ``fit`` passes None.
        """
        for callback in self.callbacks:
            callback.on_train_begin(logs)

    def on_epoch_begin(self, epoch: int, logs: Logs | None = None) -> None:
        """Call every callback's ``on_epoch_begin``.

        Parameters
        ----------
        epoch : int
            The 0-based epoch index (continuing across ``fit`` calls).
        logs : dict, optional
            Unused: ``fit`` passes None.
        """
        for callback in self.callbacks:
            callback.on_epoch_begin(epoch, logs)

    def on_train_batch_end(self, batch: int, logs: Logs | None = None) -> None:
        """Call every callback's ``on_train_batch_end``.

        Parameters
        ----------
        batch : int
            The index, within the epoch, of the last batch of the chunk just trained.
        logs : dict, optional
            ``{"loss": mean objective of the epoch so far}`` (and ``"accuracy"`` for classifiers); at a non-finite
            loss, ``{"loss": that value}`` with ``batch`` the batch that produced it.
        """
        for callback in self.callbacks:
            callback.on_train_batch_end(batch, logs)

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        """Call every callback's ``on_epoch_end``.

        Parameters
        ----------
        epoch : int
            The 0-based epoch index (continuing across ``fit`` calls).
        logs : dict, optional
            The epoch's metrics: ``loss`` (and ``accuracy`` for classifiers), ``val_*`` with validation data,
            ``lr`` and ``epoch_seconds``.
        """
        for callback in self.callbacks:
            callback.on_epoch_end(epoch, logs)

    def on_train_end(self, logs: Logs | None = None) -> None:
        """Call every callback's ``on_train_end``.

        Parameters
        ----------
        logs : dict, optional
            The last epoch's metrics (``fit`` passes them; empty when no epoch ran).
        """
        for callback in self.callbacks:
            callback.on_train_end(logs)


_claims_lock = threading.Lock()
#: Callbacks claimed by a fit right now (a forked child releases them: the fits are its parent's).
_claimed: weakref.WeakSet[Callback] = weakref.WeakSet()


def _release_all_in_child() -> None:
    global _claims_lock
    _claims_lock = threading.Lock()
    for callback in list(_claimed):
        callback._ferronet_owner = None  # type: ignore[attr-defined]
    _claimed.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_release_all_in_child)


def _claim(callback: Callback, owner: object) -> None:
    with _claims_lock:
        if getattr(callback, "_ferronet_owner", None) is not None:
            raise ValueError(
                f"{type(callback).__name__} is already in use by another fit; give each concurrent fit its own "
                "callback objects"
            )
        callback._ferronet_owner = owner  # type: ignore[attr-defined]
        _claimed.add(callback)


def _release(callback: Callback, owner: object) -> None:
    with _claims_lock:
        if getattr(callback, "_ferronet_owner", None) is owner:
            callback._ferronet_owner = None  # type: ignore[attr-defined]
            _claimed.discard(callback)


def check_callbacks(callbacks: Any) -> list[Callback]:
    """Check ``fit``'s ``callbacks`` argument.

    Parameters
    ----------
    callbacks : list of Callback or None
        What the user passed.

    Returns
    -------
    list of Callback
        A new list (empty for None).

    Raises
    ------
    TypeError
        If ``callbacks`` is not a list (or tuple) of ``Callback`` instances; a class instead of an instance is
        named as such.
    """
    if callbacks is None:
        return []
    if isinstance(callbacks, Callback) or not isinstance(callbacks, Sequence) or isinstance(callbacks, str):
        raise TypeError(
            f"callbacks must be a list of ferronet.callbacks.Callback objects; got {type(callbacks).__name__}"
        )
    for index, callback in enumerate(callbacks):
        if isinstance(callback, type) and issubclass(callback, Callback):
            raise TypeError(
                f"callbacks[{index}] is the class {callback.__name__}; pass an instance: {callback.__name__}()"
            )
        if not isinstance(callback, Callback):
            raise TypeError(f"callbacks[{index}] must be a ferronet.callbacks.Callback; got {type(callback).__name__}")
    return list(callbacks)


class History(Callback):
    """What ``fit`` returns: ``history.history`` maps each metric to its per-epoch values, ``history.epoch`` the
    epoch indices.

    Examples
    --------
    >>> history = History()
    >>> history.on_epoch_end(0, {"loss": 0.5})
    >>> history.history, history.epoch
    ({'loss': [0.5]}, [0])
    """

    def __init__(self) -> None:
        #: Each metric (``loss``, ``accuracy``, ``val_*``, ``lr``, ``epoch_seconds``) to its per-epoch values.
        self.history: dict[str, list[float]] = {}
        #: The indices of the epochs recorded.
        self.epoch: list[int] = []

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        """Record the epoch's index and metrics.

        Parameters
        ----------
        epoch : int
            The 0-based epoch index (continuing across ``fit`` calls).
        logs : dict, optional
            The epoch's metrics: ``loss`` (and ``accuracy`` for classifiers), ``val_*`` with validation data,
            ``lr`` and ``epoch_seconds``.
        """
        self.epoch.append(epoch)
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(value)

    def __repr__(self) -> str:
        last = {key: values[-1] for key, values in self.history.items() if values}
        return f"History(epochs={len(self.epoch)}, last={last})"


class _Monitor:
    """A monitored metric and whether a value improves on the best: losses go down, accuracies up."""

    def __init__(self, monitor: str, mode: MonitorMode, min_delta: float):
        self.monitor = monitor
        self.mode = check_choice(mode, "mode", ("auto", "min", "max"))
        self.maximize = monitor.endswith("accuracy") if mode == "auto" else mode == "max"
        self.min_delta = min_delta

    def start(self) -> float:
        return -math.inf if self.maximize else math.inf

    def improved(self, value: float, best: float) -> bool:
        if self.maximize:
            return value > best + self.min_delta
        return value < best - self.min_delta

    def value(self, logs: Logs | None, who: str) -> float:
        if not logs or self.monitor not in logs:
            available = ", ".join(sorted(logs or {})) or "none"
            raise ValueError(f"{who} monitors {self.monitor!r}, which fit does not report (available: {available})")
        try:
            if isinstance(logs[self.monitor], (complex, np.complexfloating)):
                raise TypeError("complex")
            return float(logs[self.monitor])
        except (OverflowError, TypeError, ValueError):
            raise ValueError(
                f"{who}: logs[{self.monitor!r}] must be a number; got {type(logs[self.monitor]).__name__}"
            ) from None


class EarlyStopping(Callback):
    """Stop ``fit`` when ``monitor`` has not improved by more than ``min_delta`` for ``patience`` epochs.

    Pass it in ``callbacks=[...]`` (or as ``fit``'s ``early_stopping``).

    Parameters
    ----------
    monitor : {"val_loss", "val_accuracy", "loss", "accuracy"}, default "val_loss"
        The metric watched (``val_*`` needs validation data, ``*accuracy`` a classifier).
    patience : int, default 5
        Epochs without improvement before stopping; >= 0.
    min_delta : float, default 0.0
        The smallest change that counts as an improvement; >= 0.
    restore_best : bool, optional
        End with the weights of the best epoch (the default, True); ``restore_best_weights`` is Keras' name for it.
    mode : {"auto", "min", "max"}, default "auto"
        Whether the metric improves downwards or upwards; ``"auto"``: losses down, accuracies up.
    baseline : float, optional
        Stop unless the metric beats this value within ``patience`` epochs.
    start_from_epoch : int, default 0
        Epochs to wait before monitoring.
    verbose : int, default 0
        1 or 2 print a line when stopping and when restoring weights.
    restore_best_weights : bool, optional
        Keras' name for ``restore_best`` (pass one or the other).

    Raises
    ------
    TypeError
        If an argument has the wrong type, or both ``restore_best`` and ``restore_best_weights`` are given.
    ValueError
        If a name is unknown or a number out of range.

    Examples
    --------
    >>> stop = EarlyStopping(monitor="val_loss", patience=3)
    >>> stop.maximize, stop.restore_best
    (False, True)
    """

    @keywords()
    def __init__(
        self,
        monitor: MonitorName = "val_loss",
        patience: int = 5,
        min_delta: float = 0.0,
        restore_best: bool | None = None,
        *,
        mode: MonitorMode = "auto",
        baseline: float | None = None,
        start_from_epoch: int = 0,
        verbose: int = 0,
        restore_best_weights: bool | None = None,
    ):
        self.monitor = check_choice(monitor, "monitor", MONITORS)
        self.patience = check_int(patience, "patience", minimum=0)
        self.min_delta = check_float(min_delta, "min_delta", minimum=0.0)
        if restore_best is not None and restore_best_weights is not None:
            raise TypeError("pass restore_best or its Keras name restore_best_weights, not both")
        chosen = restore_best if restore_best is not None else restore_best_weights
        self.restore_best = True if chosen is None else check_bool(chosen, "restore_best")
        self._monitor = _Monitor(self.monitor, mode, self.min_delta)
        self.mode = mode
        self.baseline = None if baseline is None else check_float(baseline, "baseline")
        self.start_from_epoch = check_int(start_from_epoch, "start_from_epoch", minimum=0)
        self.verbose = check_int(verbose, "verbose", minimum=0, maximum=2)
        self.reset()

    @property
    def maximize(self) -> bool:
        """Whether a larger value of the metric is better (``mode`` resolved)."""
        return self._monitor.maximize

    def required_metrics(self) -> tuple[str, ...]:
        """The metric this callback reads.

        Returns
        -------
        tuple of str
            ``(monitor,)``.
        """
        return (self.monitor,)

    def reset(self) -> None:
        """Forget the best value, its weights and the wait count (done at the start of every ``fit``)."""
        self.best: float = self._monitor.start() if self.baseline is None else self.baseline
        self.best_epoch: int | None = None
        self.best_weights: Any = None
        self.wait = 0
        self.stopped_epoch: int | None = None

    def on_train_begin(self, logs: Logs | None = None) -> None:
        """Start monitoring afresh (``reset``).

        Parameters
        ----------
        logs : dict, optional
            Unused: ``fit`` passes None.
        """
        self.reset()

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        """Compare the metric with the best so far; set ``model.stop_training`` after ``patience`` epochs without
        improvement.

        Parameters
        ----------
        epoch : int
            The 0-based epoch index (continuing across ``fit`` calls).
        logs : dict, optional
            The epoch's metrics: ``loss`` (and ``accuracy`` for classifiers), ``val_*`` with validation data,
            ``lr`` and ``epoch_seconds``.

        Raises
        ------
        ValueError
            If ``logs`` lack the monitored metric or it is not a number.
        """
        if epoch < self.start_from_epoch or self.model is None:
            return
        value = self._monitor.value(logs, "EarlyStopping")
        if self._monitor.improved(value, self.best):
            self.best, self.best_epoch, self.wait = value, epoch, 0
            if self.restore_best:
                self.best_weights = self.model.get_weights()
            return
        self.wait += 1
        if self.wait >= self.patience:
            self.stopped_epoch = epoch
            self.model.stop_training = True
            if self.verbose:
                print(f"Epoch {epoch + 1}: early stopping")

    def on_train_end(self, logs: Logs | None = None) -> None:
        """With ``restore_best``, give the model the weights of its best epoch.

        Parameters
        ----------
        logs : dict, optional
            The last epoch's metrics (``fit`` passes them; empty when no epoch ran).
        """
        if self.restore_best and self.best_weights is not None and self.model is not None:
            if self.verbose:
                print(f"Restoring model weights from the end of the best epoch: {(self.best_epoch or 0) + 1}.")
            self.model.set_weights(self.best_weights)

    def __repr__(self) -> str:
        return (
            f"EarlyStopping(monitor={self.monitor!r}, patience={self.patience}, min_delta={self.min_delta}, "
            f"restore_best={self.restore_best})"
        )


class ModelCheckpoint(Callback):
    """Save the model at the end of every epoch, or only when ``monitor`` improves (``save_best_only``).

    Files are written atomically and, unless ``save_weights_only``, include the optimizer state, so training
    resumes exactly from them (``ferronet.load`` then ``fit(..., initial_epoch=k)``). The best value carries over
    from one ``fit`` to the next (as in Keras).

    Parameters
    ----------
    filepath : str or pathlib.Path
        The file to write; it may hold ``str.format`` fields filled from the epoch's logs and its 1-based number,
        e.g. ``"ckpt-{epoch:02d}-{val_loss:.3f}.safetensors"``.
    monitor : {"val_loss", "val_accuracy", "loss", "accuracy"}, default "val_loss"
        The metric ``save_best_only`` compares.
    verbose : int, default 0
        1 or 2 print a line per file written.
    save_best_only : bool, default False
        Save only when ``monitor`` improves on the best value so far.
    save_weights_only : bool, default False
        Leave the optimizer and its state out of the files.
    mode : {"auto", "min", "max"}, default "auto"
        Whether the metric improves downwards or upwards; ``"auto"``: losses down, accuracies up.
    save_freq : {"epoch"}, default "epoch"
        Only ``"epoch"`` (Keras' default) is supported.
    initial_value_threshold : float, optional
        The value to beat for the first save with ``save_best_only``.

    Raises
    ------
    TypeError, ValueError
        If an argument has the wrong type or value.
    """

    @keywords()
    def __init__(
        self,
        filepath: str | Path,
        monitor: MonitorName = "val_loss",
        verbose: int = 0,
        save_best_only: bool = False,
        save_weights_only: bool = False,
        mode: MonitorMode = "auto",
        save_freq: Literal["epoch"] = "epoch",
        initial_value_threshold: float | None = None,
    ):
        if not isinstance(filepath, (str, Path)):
            raise TypeError(f"filepath must be a str or a pathlib.Path; got {type(filepath).__name__}")
        self.filepath = str(filepath)
        self.monitor = check_choice(monitor, "monitor", MONITORS)
        self.verbose = check_int(verbose, "verbose", minimum=0, maximum=2)
        self.save_best_only = check_bool(save_best_only, "save_best_only")
        self.save_weights_only = check_bool(save_weights_only, "save_weights_only")
        check_choice(save_freq, "save_freq", ("epoch",))
        self._monitor = _Monitor(self.monitor, mode, 0.0)
        self.initial_value_threshold = (
            None if initial_value_threshold is None else check_float(initial_value_threshold, "initial_value_threshold")
        )
        # The best value carries over from fit to fit (as in Keras): a resumed run saves only real improvements.
        self.best = self._monitor.start() if self.initial_value_threshold is None else self.initial_value_threshold
        self.last_saved: str | None = None

    def required_metrics(self) -> tuple[str, ...]:
        """The metric this callback reads.

        Returns
        -------
        tuple of str
            ``(monitor,)`` with ``save_best_only``, else ``()``.
        """
        return (self.monitor,) if self.save_best_only else ()

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        """Save the model (with ``save_best_only``, when the metric improved); ``last_saved`` is the path.

        Parameters
        ----------
        epoch : int
            The 0-based epoch index (continuing across ``fit`` calls).
        logs : dict, optional
            The epoch's metrics: ``loss`` (and ``accuracy`` for classifiers), ``val_*`` with validation data,
            ``lr`` and ``epoch_seconds``.

        Raises
        ------
        ValueError
            If ``filepath``'s fields cannot be filled from ``logs``, or the monitored metric is missing.
        OSError
            If the file cannot be written.
        """
        if self.model is None:
            return
        logs = logs or {}
        if self.save_best_only:
            value = self._monitor.value(logs, "ModelCheckpoint")
            if not self._monitor.improved(value, self.best):
                return
            self.best = value
        try:
            path = self.filepath.format(epoch=epoch + 1, **logs)
        except (KeyError, IndexError, ValueError) as error:
            raise ValueError(
                f"ModelCheckpoint filepath {self.filepath!r} could not be filled from the epoch's logs "
                f"({', '.join(sorted(logs))}): {error}"
            ) from None
        self.model.save(path, include_optimizer=not self.save_weights_only)
        self.last_saved = path
        if self.verbose:
            print(f"Epoch {epoch + 1}: saved the model to {path}")


class ReduceLROnPlateau(Callback):
    """Multiply the learning rate by ``factor`` when ``monitor`` has not improved for ``patience`` epochs.

    Changes the optimizer's ``lr`` (the base rate a ``schedule`` starts from), never below ``min_lr``, then waits
    ``cooldown`` epochs before watching again (Keras' semantics).

    Parameters
    ----------
    monitor : {"val_loss", "val_accuracy", "loss", "accuracy"}, default "val_loss"
        The metric watched.
    factor : float, default 0.1
        The multiplier, in ``(0, 1)``.
    patience : int, default 10
        Epochs without improvement before reducing; >= 0.
    verbose : int, default 0
        1 or 2 print a line per reduction.
    mode : {"auto", "min", "max"}, default "auto"
        Whether the metric improves downwards or upwards; ``"auto"``: losses down, accuracies up.
    min_delta : float, default 1e-4
        The smallest change that counts as an improvement; >= 0.
    cooldown : int, default 0
        Epochs to wait after a reduction before watching again.
    min_lr : float, default 0.0
        The rate is never reduced below this.

    Raises
    ------
    TypeError, ValueError
        If an argument has the wrong type or value.
    """

    @keywords()
    def __init__(
        self,
        monitor: MonitorName = "val_loss",
        factor: float = 0.1,
        patience: int = 10,
        verbose: int = 0,
        mode: MonitorMode = "auto",
        min_delta: float = 1e-4,
        cooldown: int = 0,
        min_lr: float = 0.0,
    ):
        self.monitor = check_choice(monitor, "monitor", MONITORS)
        self.factor = check_float(factor, "factor", minimum=0.0, maximum=1.0, min_inclusive=False, max_inclusive=False)
        self.patience = check_int(patience, "patience", minimum=0)
        self.verbose = check_int(verbose, "verbose", minimum=0, maximum=2)
        self.min_delta = check_float(min_delta, "min_delta", minimum=0.0)
        self.cooldown = check_int(cooldown, "cooldown", minimum=0)
        self.min_lr = check_float(min_lr, "min_lr", minimum=0.0)
        self._monitor = _Monitor(self.monitor, mode, self.min_delta)
        self._reset()

    def required_metrics(self) -> tuple[str, ...]:
        """The metric this callback reads.

        Returns
        -------
        tuple of str
            ``(monitor,)``.
        """
        return (self.monitor,)

    def _reset(self) -> None:
        self.best = self._monitor.start()
        self.wait = 0
        self.cooldown_counter = 0

    def on_train_begin(self, logs: Logs | None = None) -> None:
        """Forget the best value, the wait and the cooldown.

        Parameters
        ----------
        logs : dict, optional
            Unused: ``fit`` passes None.
        """
        self._reset()

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        """Compare the metric with the best so far and reduce the optimizer's ``lr`` after ``patience`` epochs
        without improvement.

        Parameters
        ----------
        epoch : int
            The 0-based epoch index (continuing across ``fit`` calls).
        logs : dict, optional
            The epoch's metrics: ``loss`` (and ``accuracy`` for classifiers), ``val_*`` with validation data,
            ``lr`` and ``epoch_seconds``.

        Raises
        ------
        ValueError
            If ``logs`` lack the monitored metric or it is not a number.
        """
        if self.model is None or self.model.optimizer is None:
            return
        value = self._monitor.value(logs, "ReduceLROnPlateau")
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.wait = 0
        if self._monitor.improved(value, self.best):
            self.best, self.wait = value, 0
            return
        if self.cooldown_counter > 0:
            return
        self.wait += 1
        if self.wait >= self.patience:
            optimizer = self.model.optimizer
            if optimizer.lr > self.min_lr:
                optimizer.lr = max(optimizer.lr * self.factor, self.min_lr)
                if self.verbose:
                    print(f"Epoch {epoch + 1}: ReduceLROnPlateau reducing learning rate to {optimizer.lr:g}.")
                self.cooldown_counter = self.cooldown
                self.wait = 0


class LearningRateScheduler(Callback):
    """Set the learning rate at the start of every epoch to ``schedule(epoch, lr)`` (Keras' semantics: ``lr`` is
    the current rate, and the result becomes the optimizer's rate).

    Parameters
    ----------
    schedule : callable (epoch, lr) -> lr
        The new rate from the 0-based epoch index and the current rate.
    verbose : int, default 0
        1 or 2 print the rate set at each epoch.

    Raises
    ------
    TypeError
        If ``schedule`` is not callable.
    ValueError
        If ``verbose`` is not 0, 1 or 2.
    """

    @keywords()
    def __init__(self, schedule: Callable[[int, float], float], verbose: int = 0):
        if not callable(schedule):
            raise TypeError(f"schedule must be a callable (epoch, lr) -> lr; got {type(schedule).__name__}")
        self.schedule = schedule
        self.verbose = check_int(verbose, "verbose", minimum=0, maximum=2)

    def on_epoch_begin(self, epoch: int, logs: Logs | None = None) -> None:
        """Set the optimizer's ``lr`` to ``schedule(epoch, lr)``.

        Parameters
        ----------
        epoch : int
            The 0-based epoch index (continuing across ``fit`` calls).
        logs : dict, optional
            Unused: ``fit`` passes None.

        Raises
        ------
        TypeError, ValueError
            If the schedule returns something other than a finite number >= 0.
        """
        if self.model is None or self.model.optimizer is None:
            return
        optimizer = self.model.optimizer
        lr = check_float(
            self.schedule(epoch, float(optimizer.lr)),
            f"the learning rate the schedule returned for epoch {epoch}",
            minimum=0.0,
        )
        optimizer.lr = lr
        if self.verbose:
            print(f"Epoch {epoch + 1}: LearningRateScheduler setting learning rate to {lr:g}.")


class CSVLogger(Callback):
    """Append each epoch's logs to a CSV file (``epoch`` first, then the metrics in a fixed order).

    The columns are the first epoch's metrics in sorted order (or, when appending to a file that has a header,
    the header's).

    Parameters
    ----------
    filename : str or pathlib.Path
        The CSV file.
    separator : str, default ","
        The one-character field separator.
    append : bool, default False
        Append to an existing file instead of emptying it at the start of ``fit``.

    Raises
    ------
    TypeError, ValueError
        If an argument has the wrong type or value.
    """

    @keywords()
    def __init__(self, filename: str | Path, separator: str = ",", append: bool = False):
        if not isinstance(filename, (str, Path)):
            raise TypeError(f"filename must be a str or a pathlib.Path; got {type(filename).__name__}")
        if not isinstance(separator, str) or len(separator) != 1:
            raise ValueError(f"separator must be one character; got {separator!r}")
        self.filename = Path(filename)
        self.separator = separator
        self.append = check_bool(append, "append")
        self._keys: list[str] | None = None

    def on_train_begin(self, logs: Logs | None = None) -> None:
        """Empty the file (unless ``append``), or read the columns from its header.

        Parameters
        ----------
        logs : dict, optional
            Unused: ``fit`` passes None.
        """
        if not self.append:
            self.filename.write_text("")
        self._keys = None
        if self.append and self.filename.exists() and self.filename.stat().st_size:
            with self.filename.open(newline="") as file:
                header = next(csv.reader(file, delimiter=self.separator), None)
            self._keys = header[1:] if header else None

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        """Append the epoch's row (and the header first, when the file has none).

        Parameters
        ----------
        epoch : int
            The 0-based epoch index (continuing across ``fit`` calls).
        logs : dict, optional
            The epoch's metrics: ``loss`` (and ``accuracy`` for classifiers), ``val_*`` with validation data,
            ``lr`` and ``epoch_seconds``.
        """
        logs = logs or {}
        write_header = self._keys is None
        if self._keys is None:
            self._keys = sorted(logs)
        with self.filename.open("a", newline="") as file:
            writer = csv.writer(file, delimiter=self.separator)
            if write_header:
                writer.writerow(["epoch", *self._keys])
            writer.writerow([epoch, *(logs.get(key, "") for key in self._keys)])


class TerminateOnNaN(Callback):
    """Stop ``fit`` instead of raising when the loss stops being finite: the model keeps the weights of the last
    finite step (the update that produced the NaN is never applied), and ``fit`` returns normally."""

    def on_train_batch_end(self, batch: int, logs: Logs | None = None) -> None:
        """Set ``model.stop_training`` when the loss is NaN or infinite.

        Parameters
        ----------
        batch : int
            The index, within the epoch, of the last batch of the chunk just trained.
        logs : dict, optional
            ``{"loss": mean objective of the epoch so far}`` (and ``"accuracy"`` for classifiers); at a non-finite
            loss, ``{"loss": that value}`` with ``batch`` the batch that produced it.
        """
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(loss) and self.model is not None:
            print(f"Batch {batch}: invalid loss, terminating training")
            self.model.stop_training = True


__all__ = [
    "MONITORS",
    "CSVLogger",
    "Callback",
    "CallbackList",
    "EarlyStopping",
    "History",
    "LearningRateScheduler",
    "Logs",
    "ModelCheckpoint",
    "ReduceLROnPlateau",
    "TerminateOnNaN",
    "check_callbacks",
]
