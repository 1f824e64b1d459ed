"""Merge several `gemm_choice bench` outputs: best GFLOP/s per crate and row over all runs, plus step-weighted ratios.

Usage: python merge.py bench2.txt bench3.txt ... > merged.md

Under load from other processes, the best of all samples is the least disturbed one, so the maximum over runs is
the estimate of each kernel's speed. The "training step" figure sums the time of the GEMMs one SGD step of the
784-256-128-10 net runs (forward X·W of all 3 layers, Xᵀ·dY of all 3, dY·Wᵀ of layers 2 and 3: no input gradient).
"""

import math
import sys
from collections import defaultdict

CRATES = ("faer", "gemm", "matrixmultiply")


def parse(paths):
    best = {}
    for path in paths:
        with open(path, encoding="utf-8") as handle:
            for line in handle:
                cells = [c.strip() for c in line.strip().strip("|").split("|")]
                if len(cells) != 11 or cells[0] not in ("f32", "f64"):
                    continue
                key = (cells[0], int(cells[1]), cells[2], cells[3])
                speeds = [float(c) for c in cells[5:8]]
                old = best.get(key, [0.0, 0.0, 0.0])
                best[key] = [max(a, b) for a, b in zip(old, speeds, strict=True)]
    return best


def flops(shape):
    m, k, n = (int(x) for x in shape.split("×"))
    return 2.0 * m * k * n


def main(paths):
    best = parse(paths)
    print(f"Best GFLOP/s over {len(paths)} runs.\n")
    print("| dtype | thr | product | m×k×n | faer | gemm | mm | faer/mm | gemm/mm | best |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for (dtype, threads, op, shape), speeds in best.items():
        winner = CRATES[speeds.index(max(speeds))]
        f, g, mm = speeds
        print(
            f"| {dtype} | {threads} | {op} | {shape} | {f:.1f} | {g:.1f} | {mm:.1f} | {f / mm:.2f} | {g / mm:.2f} | "
            f"{winner} |"
        )
    step = defaultdict(lambda: [0.0, 0.0, 0.0])
    for (dtype, threads, op, shape), speeds in best.items():
        m, k, _ = (int(x) for x in shape.split("×"))
        if op == "dY·Wᵀ" and k == 784:
            continue  # the first layer's input gradient is never computed
        for i, speed in enumerate(speeds):
            step[(dtype, threads, m)][i] += flops(shape) / (speed * 1e9)
    print("\nTime of one training step's GEMMs (784-256-128-10), as speed ratios to matrixmultiply (>1: faster).\n")
    print("| dtype | thr | batch | faer/mm | gemm/mm | mm µs/step |")
    print("|---|---|---|---|---|---|")
    for (dtype, threads, m), times in sorted(step.items()):
        f, g, mm = times
        print(f"| {dtype} | {threads} | {m} | {mm / f:.2f} | {mm / g:.2f} | {mm * 1e6:.0f} |")
    geo = defaultdict(list)
    for (dtype, threads, _, shape), (f, g, mm) in best.items():
        if not shape.startswith("1×"):
            geo[(dtype, threads)].append((math.log(f / mm), math.log(g / mm)))
    print("\nGeometric mean over all shapes with batch ≥ 32:\n")
    for (dtype, threads), logs in sorted(geo.items()):
        f = math.exp(sum(x for x, _ in logs) / len(logs))
        g = math.exp(sum(y for _, y in logs) / len(logs))
        print(f"- {dtype}, {threads} thread(s): faer/mm {f:.2f}, gemm/mm {g:.2f}")


if __name__ == "__main__":
    main(sys.argv[1:])
