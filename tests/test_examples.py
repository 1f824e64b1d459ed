"""Each example script runs end to end (``--quick``), writes its plot and prints the numbers it is about."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def run_example(name: str, out_dir: Path) -> str:
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / name), "--quick", "--out-dir", str(out_dir)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, f"{name} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def assert_png(path: Path) -> None:
    assert path.is_file(), f"{path.name} was not written"
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE and len(data) > 10_000


def numbers(pattern: str, text: str) -> tuple[float, ...]:
    """The numbers that the groups of ``pattern`` capture in the printed output."""
    match = re.search(pattern, text)
    assert match, f"no match for {pattern!r} in:\n{text}"
    return tuple(float(group) for group in match.groups())


def number(pattern: str, text: str) -> float:
    return numbers(pattern, text)[0]


def test_spiral(tmp_path):
    out = run_example("spiral.py", tmp_path)
    assert_png(tmp_path / "spiral.png")
    linear = number(r"linear softmax: training accuracy (\d\.\d+)", out)
    net = number(r"2-layer ReLU net: training accuracy (\d\.\d+)", out)
    assert 0.4 <= linear <= 0.6  # straight boundaries get about half of three interleaved arms
    assert net >= 0.97


def test_digits_online_sgd(tmp_path):
    out = run_example("digits_online_sgd.py", tmp_path)
    assert_png(tmp_path / "digits_online_sgd.png")
    assert number(r"held-out accuracy (\d\.\d+)", out) >= 0.93
    assert out.count("epoch ") == 10


def test_deep_batchnorm(tmp_path):
    out = run_example("deep_batchnorm.py", tmp_path)
    assert_png(tmp_path / "deep_batchnorm.png")
    assert_png(tmp_path / "deep_batchnorm_histograms.png")
    pattern = r"{}: first ReLU layer std (\S+), last (\S+), first-layer weight-gradient std (\S+)"
    first, last, grad = numbers(pattern.format("plain"), out)
    bn_first, bn_last, bn_grad = numbers(pattern.format("BatchNorm"), out)
    assert last < first * 1e-15  # the signal vanishes through 19 layers of small weights
    assert 0.3 < bn_first < 1 and 0.3 < bn_last < 1
    assert bn_grad > 1e15 * grad


def test_dropout_vs_dropconnect(tmp_path):
    out = run_example("dropout_vs_dropconnect.py", tmp_path)
    assert_png(tmp_path / "dropout_vs_dropconnect.png")
    for regularizer in ("none", "dropout", "DropConnect"):
        assert number(rf"{regularizer}: train accuracy \S+  test accuracy (\d\.\d+)", out) >= 0.85


@pytest.mark.parametrize(
    "name", ["spiral.py", "digits_online_sgd.py", "deep_batchnorm.py", "dropout_vs_dropconnect.py"]
)
def test_readme_lists_the_example(name):
    assert (EXAMPLES / name).is_file()
    assert f"`{name}`" in (EXAMPLES / "README.md").read_text()
