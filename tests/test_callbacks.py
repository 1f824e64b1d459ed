"""Keras-style callbacks: the hooks and their order, stop_training, and each built-in against its Keras semantics
computed by hand from the epoch-by-epoch numbers of the same training."""

from __future__ import annotations

import csv
import math
import threading

import ferronet as fnet
import numpy as np
import pytest
from conftest import assert_weights_equal, classification_data
from ferronet.callbacks import (
    Callback,
    CSVLogger,
    EarlyStopping,
    LearningRateScheduler,
    ModelCheckpoint,
    ReduceLROnPlateau,
    TerminateOnNaN,
)
from ferronet.optim import SGD


def data():
    X, y = classification_data(n=60, d=4, k=3, seed=5)
    return X[:40], y[:40], X[40:], y[40:]


def net(seed: int = 0) -> fnet.Sequential:
    return fnet.Sequential([fnet.Dense(16, activation="relu"), fnet.Dense(3)], input_dim=4, dtype="float64", seed=seed)


class Recorder(Callback):
    def __init__(self):
        self.calls = []

    def on_train_begin(self, logs=None):
        self.calls.append(("train_begin",))

    def on_epoch_begin(self, epoch, logs=None):
        self.calls.append(("epoch_begin", epoch))

    def on_train_batch_end(self, batch, logs=None):
        self.calls.append(("batch_end", batch, sorted(logs)))

    def on_epoch_end(self, epoch, logs=None):
        self.calls.append(("epoch_end", epoch, sorted(logs)))

    def on_train_end(self, logs=None):
        self.calls.append(("train_end", sorted(logs)))


def test_hooks_run_in_keras_order_with_the_model_and_logs():
    X, y, Xv, yv = data()
    model = net()
    recorder = Recorder()
    model.fit(X, y, epochs=2, batch_size=10, validation_data=(Xv, yv), callbacks=[recorder])
    assert recorder.model is model
    kinds = [call[0] for call in recorder.calls]
    assert kinds[0] == "train_begin" and kinds[-1] == "train_end"
    epoch_logs = ["accuracy", "epoch_seconds", "loss", "lr", "val_accuracy", "val_loss"]
    assert [c for c in recorder.calls if c[0] in ("epoch_begin", "epoch_end")] == [
        ("epoch_begin", 0),
        ("epoch_end", 0, epoch_logs),
        ("epoch_begin", 1),
        ("epoch_end", 1, epoch_logs),
    ]
    # per chunk of batches: the index of the chunk's last batch and the running loss and accuracy
    batch_calls = [c for c in recorder.calls if c[0] == "batch_end"]
    assert batch_calls and all(c[2] == ["accuracy", "loss"] and 0 <= c[1] < 4 for c in batch_calls)
    assert [c[1] for c in batch_calls if c[1] == 3] == [3, 3]  # each epoch ends with its last batch (index 3)


def test_stop_training_ends_fit_after_the_epoch():
    class StopAt(Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 2:
                self.model.stop_training = True

    X, y, _, _ = data()
    history = net().fit(X, y, epochs=10, batch_size=10, callbacks=[StopAt()])
    assert history.epoch == [0, 1, 2]


def test_callbacks_argument_is_checked():
    X, y, _, _ = data()
    with pytest.raises(TypeError, match=r"pass an instance: EarlyStopping\(\)"):
        net().fit(X, y, callbacks=[EarlyStopping])
    with pytest.raises(TypeError, match=r"callbacks\[0\] must be a ferronet.callbacks.Callback"):
        net().fit(X, y, callbacks=[print])
    with pytest.raises(TypeError, match="callbacks must be a list"):
        net().fit(X, y, callbacks=EarlyStopping())


def test_one_callback_object_cannot_serve_two_fits_at_once():
    X, y, Xv, yv = data()
    stopper = EarlyStopping(patience=100)
    gate, release = threading.Event(), threading.Event()

    class Hold(Callback):
        def on_epoch_end(self, epoch, logs=None):
            gate.set()
            release.wait(10)

    errors = []
    first = threading.Thread(
        target=lambda: net(1).fit(X, y, epochs=1, validation_data=(Xv, yv), callbacks=[stopper, Hold()])
    )
    first.start()
    gate.wait(10)
    try:
        with pytest.raises(ValueError, match="already in use by another fit"):
            net(2).fit(X, y, epochs=1, validation_data=(Xv, yv), callbacks=[stopper])
    except AssertionError as error:  # pragma: no cover - reported after the thread is released
        errors.append(error)
    release.set()
    first.join(10)
    assert not errors
    # once the first fit is over, the object can serve another
    net(3).fit(X, y, epochs=1, validation_data=(Xv, yv), callbacks=[stopper])


def per_epoch(epochs: int, optimizer_lr: float = 0.5):
    """Weights and validation losses after each epoch of a plain run (what the callbacks see)."""
    X, y, Xv, yv = data()
    model = net()
    opt = SGD(lr=optimizer_lr, momentum=0.9)
    weights, val_losses = [], []
    for _ in range(epochs):
        model.fit(X, y, epochs=1, batch_size=10, optimizer=opt)
        weights.append(model.get_weights())
        val_losses.append(model.evaluate(Xv, yv)["loss"])
    return weights, val_losses


def test_early_stopping_as_a_callback_with_keras_names():
    X, y, Xv, yv = data()
    weights, val_losses = per_epoch(30)
    best, wait, stop = math.inf, 0, None
    for epoch, value in enumerate(val_losses):
        if value < best:
            best, best_epoch, wait = value, epoch, 0
        else:
            wait += 1
            if wait >= 2:
                stop = epoch
                break
    assert stop is not None
    model = net()
    stopper = EarlyStopping(monitor="val_loss", patience=2, restore_best_weights=True)
    history = model.fit(
        X, y, epochs=30, batch_size=10, optimizer=SGD(lr=0.5, momentum=0.9), validation_data=(Xv, yv),
        callbacks=[stopper],
    )  # fmt: skip
    assert history.epoch[-1] == stop == stopper.stopped_epoch and stopper.best_epoch == best_epoch
    assert_weights_equal(model.get_weights(), weights[best_epoch])
    with pytest.raises(TypeError, match="not both"):
        EarlyStopping(restore_best=True, restore_best_weights=True)


def test_early_stopping_baseline_and_start_from_epoch():
    X, y, Xv, yv = data()
    # a baseline nobody reaches: stops after `patience` epochs
    history = net().fit(X, y, epochs=20, validation_data=(Xv, yv), callbacks=[EarlyStopping(patience=3, baseline=0.0)])
    assert history.epoch == [0, 1, 2]
    history = net().fit(
        X, y, epochs=20, validation_data=(Xv, yv),
        callbacks=[EarlyStopping(patience=3, baseline=0.0, start_from_epoch=4)],
    )  # fmt: skip
    assert history.epoch == list(range(7))


def test_model_checkpoint_every_epoch_and_best_only(tmp_path):
    X, y, Xv, yv = data()
    _, val_losses = per_epoch(6)
    every = ModelCheckpoint(str(tmp_path / "every-{epoch:02d}-{val_loss:.4f}.safetensors"))
    best = ModelCheckpoint(tmp_path / "best.safetensors", monitor="val_loss", save_best_only=True)
    model = net()
    model.fit(
        X, y, epochs=6, batch_size=10, optimizer=SGD(lr=0.5, momentum=0.9), validation_data=(Xv, yv),
        callbacks=[every, best],
    )  # fmt: skip
    names = sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("every-"))
    assert names == sorted(f"every-{e + 1:02d}-{v:.4f}.safetensors" for e, v in enumerate(val_losses))
    assert (tmp_path / "best.safetensors").is_file() and not list(tmp_path.glob("*.tmp"))
    best_epoch = int(np.argmin(val_losses))
    restored = fnet.load(tmp_path / "best.safetensors")
    assert restored.evaluate(Xv, yv)["loss"] == pytest.approx(val_losses[best_epoch], rel=1e-12)
    # a checkpoint holds the optimizer: resuming from the last one continues exactly
    last = fnet.load(tmp_path / names[5])
    model.fit(X, y, epochs=8, initial_epoch=6, batch_size=10)
    last.fit(X, y, epochs=8, initial_epoch=6, batch_size=10)
    assert_weights_equal(model.get_weights(), last.get_weights())


def test_model_checkpoint_with_a_bad_template_names_the_logs(tmp_path):
    X, y, _, _ = data()
    with pytest.raises(ValueError, match=r"could not be filled from the epoch's logs \(accuracy, epoch_seconds"):
        net().fit(X, y, callbacks=[ModelCheckpoint(str(tmp_path / "{val_loss}.safetensors"))])


def test_reduce_lr_on_plateau_follows_keras():
    X, y, Xv, yv = data()
    optimizer = SGD(lr=0.8, momentum=0.9)
    reducer = ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=1, min_delta=0.0, cooldown=1, min_lr=0.05)
    history = net().fit(
        X, y, epochs=25, batch_size=10, optimizer=optimizer, validation_data=(Xv, yv), callbacks=[reducer]
    )
    # replay Keras' rule on the recorded validation losses: the rate of epoch e+1 is decided at the end of epoch e
    lr, best, wait, cooldown = 0.8, math.inf, 0, 0
    expected = []
    for value in history.history["val_loss"]:
        expected.append(lr)
        if cooldown > 0:
            cooldown -= 1
            wait = 0
        if value < best:
            best, wait = value, 0
        elif cooldown == 0:
            wait += 1
            if wait >= 1 and lr > 0.05:
                lr, cooldown, wait = max(lr * 0.5, 0.05), 1, 0
    assert history.history["lr"] == expected
    assert min(expected) < 0.8 and optimizer.lr == lr


def test_learning_rate_scheduler_sets_the_optimizer_rate():
    X, y, _, _ = data()
    optimizer = SGD(lr=0.4)
    scheduler = LearningRateScheduler(lambda epoch, lr: lr * 0.5 if epoch > 0 else lr)
    history = net().fit(X, y, epochs=4, optimizer=optimizer, callbacks=[scheduler])
    assert history.history["lr"] == [0.4, 0.2, 0.1, 0.05]
    assert optimizer.lr == 0.05


def test_csv_logger_writes_a_row_per_epoch_and_appends(tmp_path):
    X, y, Xv, yv = data()
    path = tmp_path / "log.csv"
    model = net()
    history = model.fit(X, y, epochs=3, validation_data=(Xv, yv), callbacks=[CSVLogger(path)])
    model.fit(X, y, epochs=2, validation_data=(Xv, yv), callbacks=[CSVLogger(path, append=True)])
    with path.open() as file:
        rows = list(csv.DictReader(file))
    assert [int(row["epoch"]) for row in rows] == [0, 1, 2, 3, 4]
    assert [float(row["loss"]) for row in rows[:3]] == pytest.approx(history.history["loss"])


def test_terminate_on_nan_stops_instead_of_raising():
    X, y, _, _ = data()
    model = net()
    model.fit(X, y, epochs=1, optimizer=SGD(lr=0.1))
    before = model.get_weights()
    history = model.fit(X, y, epochs=5, schedule=lambda e, lr: 1e300, callbacks=[TerminateOnNaN()])
    weights = model.get_weights()
    assert len(history.epoch) < 5 and all(np.isfinite(a).all() for layer in weights for a in layer.values())
    assert model.stop_training
    assert any(not np.array_equal(a, before[i][k]) for i, layer in enumerate(weights) for k, a in layer.items())
    # without it, the same fit raises and leaves the model as it was
    again = model.get_weights()
    with pytest.raises(FloatingPointError):
        model.fit(X, y, epochs=5, schedule=lambda e, lr: 1e300)
    assert_weights_equal(model.get_weights(), again)
