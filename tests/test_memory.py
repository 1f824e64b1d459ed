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


LOW_MEMORY = r"""
import resource, sys
import numpy as np
import ferronet as fnet

limit = int(sys.argv[1]) * 2**30
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
X = np.random.default_rng(0).random((64, 32768), dtype=np.float32)
y = np.random.default_rng(1).integers(0, 2, 64)
try:  # 4 GiB of float32 weights: refused before anything is allocated
    fnet.Sequential([fnet.Dense(32768), fnet.Dense(2)], input_dim=32768)
except MemoryError as error:
    print("BUILD", error)
model = fnet.Sequential([fnet.Dense(8192), fnet.Dense(2)], input_dim=32768)  # 1 GiB of weights: fits
before = model.predict(X[:4])
try:  # Adam's two moments, the fit's snapshot and the buffers do not fit beside them
    model.fit(X, y, epochs=1, optimizer=fnet.optim.Adam())
except MemoryError as error:
    print("FIT", error)
assert model.optimizer is None and np.array_equal(model.predict(X[:4]), before)
print("USABLE")
"""


def test_requests_beyond_the_memory_available_raise_memory_error_saying_how_much():
    """Under a 3 GiB address-space limit (the reliability issue's reproducer, scaled down): a model or a fit that
    cannot fit is a MemoryError naming what it needs, the process survives, and the model is unchanged."""
    done = subprocess.run([sys.executable, "-c", LOW_MEMORY, "3"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.splitlines()
    assert any(line.startswith("BUILD building this model needs about 4.00 GiB (parameters") for line in lines), lines
    assert any(line.startswith("FIT this fit needs about") and "optimizer state" in line for line in lines), lines
    assert lines[-1] == "USABLE"
