"""Why batch normalization: a 20-layer ReLU network with small initial weights, with and without BatchNorm.

19 hidden layers of 100 ReLUs plus an output layer, weights drawn as 0.01·N(0, 1) ("small"), 100 random
1000-dimensional inputs. Without BatchNorm every layer shrinks its input's scale by about 0.01·sqrt(100/2), so the
last layer's outputs are some 20 orders of magnitude smaller than the first's and the first layer's weight
gradients vanish with them. With BatchNorm after each Dense layer, every layer's output stays of order 1 and the
gradients reach the first layer. Prints a per-layer table and writes deep_batchnorm.png (std per layer, both
nets) and deep_batchnorm_histograms.png (ReLU outputs at depths 1, 7, 13 and 19).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import ferronet as fnet
import numpy as np
from ferronet.diagnostics import format_table, layer_stats


def deep_relu_net(batch_norm: bool, depth: int = 20, width: int = 100, input_dim: int = 1000) -> fnet.Sequential:
    layers: list[fnet.Layer] = []
    for _ in range(depth - 1):
        if batch_norm:
            layers += [fnet.Dense(width, init="small"), fnet.BatchNorm(), fnet.Activation("relu")]
        else:
            layers.append(fnet.Dense(width, activation="relu", init="small"))
    layers.append(fnet.Dense(10, init="small"))
    # float64: without BatchNorm the signal falls to ~1e-22, near float32's denormals, which we do not want to test
    return fnet.Sequential(layers, input_dim=input_dim, dtype="float64", seed=0)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out-dir", type=Path, default=Path("."), help="where to write the plots (default: .)")
    parser.add_argument("--quick", action="store_true", help="accepted for symmetry: the full run takes ~1 s")
    args = parser.parse_args(argv)

    generator = np.random.default_rng(0)
    X, y = generator.normal(size=(100, 1000)), generator.integers(0, 10, size=100)
    runs = {}
    for label, batch_norm in (("plain", False), ("BatchNorm", True)):
        runs[label] = stats = layer_stats(deep_relu_net(batch_norm), X, y)
        relu = [row for row in stats if row["activation"] == "relu"]
        first_dense = next(row for row in stats if row["kind"] == "dense")
        print(f"\n== {label}: one training-mode pass, no update ==")
        print(format_table(stats))
        print(
            f"{label}: first ReLU layer std {relu[0]['activation_std']:.3e}, last {relu[-1]['activation_std']:.3e}, "
            f"first-layer weight-gradient std {first_dense['weight_grad_std']:.3e}"
        )

    args.out_dir.mkdir(parents=True, exist_ok=True)
    title = "20-layer ReLU net, init 0.01·N(0, 1): with and without BatchNorm"
    fnet.plot.layer_std(runs, title=title).savefig(args.out_dir / "deep_batchnorm.png", dpi=100)
    picked = []  # ReLU layers 1, 7, 13 and 19 of each net: one row of panels per net
    for label, stats in runs.items():
        relu = [row for row in stats if row["activation"] == "relu"]
        picked += [{**row, "name": f"{label}: {row['name']}"} for row in relu[::6]]
    histograms = fnet.plot.layer_histograms(picked, columns=4, title="ReLU outputs at depths 1, 7, 13, 19")
    histograms.savefig(args.out_dir / "deep_batchnorm_histograms.png", dpi=100)
    print(f"\nwrote {args.out_dir / 'deep_batchnorm.png'} and {args.out_dir / 'deep_batchnorm_histograms.png'}")


if __name__ == "__main__":
    main()
