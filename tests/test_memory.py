"""Peak memory of a fit on Fashion-MNIST-sized data: the engine keeps one copy of the training set (no copy per
epoch, no per-batch buffers beyond the workspace), so peak RSS stays within 2 x the input's size + 150 MB."""

from __future__ import annotations

import json
import subprocess
import sys

CHILD = r"""
import json
import numpy as np
import ferronet as fnet

def status(field):  # bytes; VmHWM is this process's peak RSS (ru_maxrss would include the parent's, via fork)
    with open("/proc/self/status") as f:
        line = next(line for line in f if line.startswith(field + ":"))
    return int(line.split()[1]) * 1024

X = np.random.default_rng(0).random((60_000, 784), dtype=np.float32)
y = np.random.default_rng(1).integers(0, 10, 60_000)
before = status("VmHWM")
model = fnet.Sequential([fnet.Dense(256, activation="relu"), fnet.Dense(128, activation="relu"), fnet.Dense(10)],
                        input_dim=784, seed=0)
model.fit(X, y, epochs=2, batch_size=512, optimizer=fnet.optim.SGD(lr=0.01, momentum=0.9))
model.predict(X[:10_000])
peak = status("VmHWM")
print(json.dumps({"input": X.nbytes + y.nbytes, "before_fit": before, "peak": peak}))
"""


def test_fit_peak_rss_is_one_engine_copy_of_the_data():
    out = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True, timeout=300, check=True)
    figures = json.loads(out.stdout.strip().splitlines()[-1])
    mb = 1024 * 1024
    print(
        f"input {figures['input'] / mb:.0f} MB, RSS before fit {figures['before_fit'] / mb:.0f} MB, "
        f"peak {figures['peak'] / mb:.0f} MB"
    )
    assert figures["peak"] <= 2 * figures["input"] + 150 * mb, figures
