"""Peak memory while loading model files (the reliability issue's item 10): a valid file costs at most 1.5× its
size over what was there before (the loaded model itself is about 1×: the tensors go straight from the file into
the model), and rejecting a hostile file at most 2× its size. Measured in a fresh subprocess from the kernel's
peak-RSS counter (VmHWM, reset through /proc/self/clear_refs just before the load)."""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import textwrap

import ferronet as fnet
import numpy as np
import pytest

pytestmark = pytest.mark.skipif(
    not os.path.exists("/proc/self/clear_refs"), reason="needs Linux's /proc/self/clear_refs to reset the peak RSS"
)

MEASURE = textwrap.dedent(
    """
    import json, sys
    import ferronet as fnet

    def kib(field):
        for line in open("/proc/self/status"):
            if line.startswith(field):
                return int(line.split()[1])

    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # the peak RSS starts again from the current RSS
    before = kib("VmRSS:")
    try:
        fnet.load(sys.argv[1])
        outcome = "ok"
    except ValueError as error:
        outcome = "ValueError: " + str(error)
    print(json.dumps({"peak_bytes": (kib("VmHWM:") - before) * 1024, "outcome": outcome}))
    """
)


def peak_while_loading(path) -> tuple[float, str]:
    """(peak RSS growth / file size, outcome) of loading ``path`` in a fresh interpreter."""
    result = subprocess.run(
        [sys.executable, "-c", MEASURE, str(path)], capture_output=True, text=True, timeout=120, check=True
    )
    measured = json.loads(result.stdout)
    return measured["peak_bytes"] / os.path.getsize(path), measured["outcome"]


def header_file(path, header: bytes):
    path.write_bytes(struct.pack("<Q", len(header)) + header)
    return path


@pytest.mark.parametrize("include_optimizer", [False, True])
def test_a_valid_file_loads_within_one_and_a_half_times_its_size(tmp_path, include_optimizer):
    model = fnet.Sequential([fnet.Dense(2048, activation="relu"), fnet.Dense(10)], input_dim=4096, seed=0)
    X = np.zeros((4, 4096), np.float32)
    model.fit(X, np.zeros(4, int), epochs=1, optimizer=fnet.optim.Adam(), verbose=0)
    path = tmp_path / "model.safetensors"
    model.save(path, include_optimizer=include_optimizer)
    assert os.path.getsize(path) > 30e6
    ratio, outcome = peak_while_loading(path)
    assert outcome == "ok"
    assert ratio <= 1.5, f"loading took {ratio:.2f}× the file size"
    loaded = fnet.load(path)
    for ours, theirs in zip(model.get_weights(), loaded.get_weights(), strict=True):
        for name in ours:
            assert np.array_equal(ours[name], theirs[name])


@pytest.mark.parametrize(
    "header",
    [
        pytest.param(b"[" + b"{}," * 10_000_000 + b"{}]", id="30 MB header of [{},{},...]"),
        pytest.param(b'{"a": [' + b"{}," * 10_000_000 + b"{}]}", id="30 MB of junk in a safetensors-like header"),
        pytest.param(
            json.dumps({"__metadata__": {f"k{i}": "v" for i in range(1_000_000)}}).encode(), id="1M metadata keys"
        ),
    ],
)
def test_a_hostile_file_is_rejected_within_twice_its_size(tmp_path, header):
    path = header_file(tmp_path / "hostile.safetensors", header)
    ratio, outcome = peak_while_loading(path)
    assert outcome.startswith("ValueError: model file"), outcome
    assert ratio <= 2.0, f"rejecting took {ratio:.2f}× the file size"
