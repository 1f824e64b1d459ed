"""Dropout against DropConnect on a small digits training set: train and test accuracy per epoch.

A 64-256-256-10 ReLU network trained on only 300 of the 8x8 digits memorises them (100% training accuracy);
dropping hidden units (Dropout 0.5, Srivastava et al. 2014) or individual weights (DropConnect 0.5 on the hidden
layers, Wan et al. 2013) while training makes it generalise better to the other 899. Writes
dropout_vs_dropconnect.png with the train/test accuracy and test loss curves of the three variants.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import ferronet as fnet
from matplotlib.figure import Figure


def build(regularizer: str) -> fnet.Sequential:
    dropconnect = 0.5 if regularizer == "DropConnect" else 0.0
    layers: list[fnet.Layer] = []
    for _ in range(2):
        layers.append(fnet.Dense(256, activation="relu", dropconnect=dropconnect))
        if regularizer == "dropout":
            layers.append(fnet.Dropout(0.5))
    layers.append(fnet.Dense(10))
    return fnet.Sequential(layers, input_dim=64, seed=0)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out-dir", type=Path, default=Path("."), help="where to write the plot (default: .)")
    parser.add_argument("--quick", action="store_true", help="20 epochs instead of 100 (for tests)")
    args = parser.parse_args(argv)

    X, y = fnet.datasets.load_digits()
    X_train, X_test, y_train, y_test = fnet.preprocessing.train_test_split(X / 16.0, y, test_fraction=0.5, seed=0)
    X_train, y_train = X_train[:300], y_train[:300]  # a small training set, so that overfitting shows
    epochs = 20 if args.quick else 100

    fig = Figure(figsize=(11, 4), layout="constrained")
    accuracy_ax, loss_ax = fig.subplots(1, 2)
    for regularizer in ("none", "dropout", "DropConnect"):
        model = build(regularizer)
        history = model.fit(
            X_train,
            y_train,
            epochs=epochs,
            batch_size=32,
            optimizer=fnet.optim.SGD(lr=0.01, momentum=0.9),
            validation_data=(X_test, y_test),
        ).history
        train, test = model.evaluate(X_train, y_train)["accuracy"], model.evaluate(X_test, y_test)["accuracy"]
        print(f"{regularizer:>11}: train accuracy {train:.3f}  test accuracy {test:.3f}")
        x = range(1, epochs + 1)
        line = accuracy_ax.plot(x, history["val_accuracy"], label=f"{regularizer} (test)")[0]
        color = line.get_color()
        accuracy_ax.plot(x, history["accuracy"], linestyle="--", color=color, label=f"{regularizer} (train)")
        loss_ax.plot(x, history["val_loss"], color=color, label=regularizer)
    accuracy_ax.set(
        xlabel="epoch", ylabel="accuracy", ylim=(0.8, 1.005), title="test (solid); training passes, masks on (dashed)"
    )
    loss_ax.set(xlabel="epoch", ylabel="test loss", yscale="log", title="test loss")
    for ax in (accuracy_ax, loss_ax):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out_dir / "dropout_vs_dropconnect.png", dpi=100)
    print(f"wrote {args.out_dir / 'dropout_vs_dropconnect.png'}")


if __name__ == "__main__":
    main()
