"""Measurements of sparse input (SciPy CSR): a fit on the sparse matrix against densifying it first.

    python benches/sparse_measurements.py speed    # TF-IDF-like 20,000 x 50,000 at 0.2%, 50,000-64-10, Adam
    python benches/sparse_measurements.py memory   # 10,000 x 100,000 at 0.1%, 100,000-16-2: peak RSS of a fit

Each way runs in a fresh subprocess (its own peak RSS) and prints one JSON line, with the machine's load average.
Options: --rows, --cols, --density, --hidden, --classes, --epochs, --batch-size, --threads, --ways.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np


def peak_rss() -> int:
    """This process's peak resident set (VmHWM), bytes."""
    with open("/proc/self/status") as status:
        line = next(line for line in status if line.startswith("VmHWM:"))
    return int(line.split()[1]) * 1024


def tfidf_like(rows: int, cols: int, density: float, classes: int, seed: int = 0):
    """A CSR matrix shaped like TF-IDF features: row lengths around ``density * cols``, column frequencies that
    fall off as a power law, positive values with unit-norm rows; labels that depend on the features."""
    import scipy.sparse as sp

    rng = np.random.default_rng(seed)
    lengths = np.clip(rng.poisson(density * cols, rows), 1, cols)
    weights = 1.0 / np.arange(1, cols + 1) ** 0.8
    weights /= weights.sum()
    indices = rng.choice(cols, size=int(lengths.sum()), p=weights).astype(np.int32)
    indptr = np.zeros(rows + 1, dtype=np.int64)
    np.cumsum(lengths, out=indptr[1:])
    values = rng.random(indices.size, dtype=np.float32) + 0.1
    X = sp.csr_matrix((values, indices, indptr), shape=(rows, cols))
    X.sum_duplicates()
    norms = np.sqrt(np.asarray(X.multiply(X).sum(axis=1)).ravel())
    X = sp.csr_matrix(sp.diags(1.0 / np.maximum(norms, 1e-12)) @ X, dtype=np.float32)
    y = np.asarray(X @ rng.normal(size=(cols, classes)).astype(np.float32)).argmax(axis=1)
    return X, y


def run_way(args: argparse.Namespace, way: str) -> dict[str, object]:
    import ferronet as fnet

    if args.threads:
        fnet.set_num_threads(args.threads)
    X, y = tfidf_like(args.rows, args.cols, args.density, args.classes)
    before = peak_rss()
    started = time.perf_counter()
    features = X.toarray() if way == "dense" else X
    densify = time.perf_counter() - started
    model = fnet.Sequential(
        [fnet.Dense(args.hidden, activation="relu"), fnet.Dense(args.classes)], input_dim=args.cols, seed=0
    )
    epochs = []
    for _ in range(args.epochs):
        t = time.perf_counter()
        history = model.fit(features, y, epochs=1, batch_size=args.batch_size, optimizer=model.optimizer or "adam")
        epochs.append(time.perf_counter() - t)
    total = time.perf_counter() - started
    return {
        "way": way,
        "shape": [args.rows, args.cols],
        "nnz": int(X.nnz),
        "sparse_bytes": int(X.data.nbytes + X.indices.nbytes + X.indptr.nbytes),
        "model_bytes": int(model.n_params * 4),
        "densify_s": round(densify, 3),
        "epoch_s": [round(e, 3) for e in epochs],
        "total_s": round(total, 3),
        "loss": round(float(history.history["loss"][-1]), 5),
        "rss_before_mb": round(before / 2**20, 1),
        "peak_rss_mb": round(peak_rss() / 2**20, 1),
        "threads": fnet.get_num_threads(),
        "load_average": [round(v, 2) for v in os.getloadavg()],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", choices=["speed", "memory"])
    parser.add_argument("--rows", type=int)
    parser.add_argument("--cols", type=int)
    parser.add_argument("--density", type=float)
    parser.add_argument("--hidden", type=int)
    parser.add_argument("--classes", type=int)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--ways", default=None, help="comma-separated: sparse,dense")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    defaults = {
        "speed": {
            "rows": 20_000,
            "cols": 50_000,
            "density": 0.002,
            "hidden": 64,
            "classes": 10,
            "ways": "sparse,dense",
        },
        "memory": {"rows": 10_000, "cols": 100_000, "density": 0.001, "hidden": 16, "classes": 2, "ways": "sparse"},
    }[args.what]
    for key, value in defaults.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    if args.child:
        print(json.dumps(run_way(args, args.child)), flush=True)
        return
    for way in args.ways.split(","):
        command = [sys.executable, __file__, *sys.argv[1:], "--child", way]
        done = subprocess.run(command, capture_output=True, text=True, check=True)
        print(done.stdout.strip().splitlines()[-1], flush=True)


if __name__ == "__main__":
    main()
