"""Best value per cell over several `gemm_choice bench` outputs (load from other processes only ever slows a
run down), with the ratio columns recomputed. Usage: python merge.py run1.txt run2.txt ... > table.md"""

import sys

header = None
best: dict[tuple[str, str, str], list[float]] = {}
order: list[tuple[str, str, str]] = []
for path in sys.argv[1:]:
    for line in open(path, encoding="utf-8"):
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("| dtype"):
            header = line.rstrip("\n")
        if len(cells) < 6 or cells[0] not in ("f32", "f64"):
            continue
        key = (cells[0], cells[1], cells[2])
        values = [float(c) for c in cells[3:]]
        if key not in best:
            best[key] = values
            order.append(key)
        else:
            best[key] = [max(a, b) for a, b in zip(best[key], values, strict=True)]

if header:
    header = header.rsplit("|", 2)[0] + "|"  # without the reps column
    print(header)
    print("|" + "---|" * (header.count("|") - 1))
for key in sorted(order, key=lambda k: (k[0], k[1], order.index(k))):
    v = best[key]
    # Columns: NumPy AVX-512, NumPy AVX2, ferronet-avx512, ferronet-avx2, crates..., two ratios, reps.
    v[-3] = v[2] / v[0]
    v[-2] = v[3] / v[1]
    cells = [f"{x:.1f}" for x in v[:-3]] + [f"{v[-3]:.2f}", f"{v[-2]:.2f}"]
    print(f"| {key[0]} | {key[1]} | {key[2]} | " + " | ".join(cells) + " |")
