"""The CS231n spiral: a linear softmax classifier (about 50%) against a 2-layer ReLU network (about 99%).

Three interleaved arms cannot be split by straight lines; one hidden layer of 100 ReLUs bends the boundaries
around them. Writes spiral.png with both decision boundaries side by side.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import ferronet as fnet
from matplotlib.figure import Figure


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out-dir", type=Path, default=Path("."), help="where to write spiral.png (default: .)")
    parser.add_argument("--quick", action="store_true", help="1,000 full-batch epochs instead of 10,000 (for tests)")
    args = parser.parse_args(argv)

    X, y = fnet.datasets.make_spiral(n_per_class=100, n_classes=3, noise=0.2, seed=0)
    sgd = fnet.optim.SGD(lr=1.0)  # full-batch gradient descent, as in the CS231n notes
    linear = fnet.Sequential([fnet.Dense(3)], input_dim=2, l2=1e-3, seed=0)
    linear.fit(X, y, epochs=200, batch_size=len(X), optimizer=sgd)
    net = fnet.Sequential([fnet.Dense(100, activation="relu"), fnet.Dense(3)], input_dim=2, l2=1e-3, seed=0)
    net.fit(X, y, epochs=1_000 if args.quick else 10_000, batch_size=len(X), optimizer=sgd)

    fig = Figure(figsize=(10, 4.5), layout="constrained")
    for ax, (label, model) in zip(
        fig.subplots(1, 2), [("linear softmax", linear), ("2-layer ReLU net", net)], strict=True
    ):
        accuracy = model.evaluate(X, y)["accuracy"]
        print(f"{label}: training accuracy {accuracy:.3f}")
        fnet.plot.decision_boundary(model, X, y, ax=ax, title=f"{label}: {accuracy:.1%}")
    args.out_dir.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out_dir / "spiral.png", dpi=100)
    print(f"wrote {args.out_dir / 'spiral.png'}")


if __name__ == "__main__":
    main()
