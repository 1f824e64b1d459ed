"""``python -m ferronet``, run as a user runs it: in a subprocess."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")


def run(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items() if key != "FERRONET_DATA"}
    return subprocess.run(
        [sys.executable, "-m", "ferronet", *args], capture_output=True, text=True, timeout=timeout, env=env
    )


def epoch_lines(stdout: str) -> list[str]:
    return [line for line in stdout.splitlines() if re.match(r"^epoch \d+/\d+ ", line)]


def parse_test_accuracy(stdout: str) -> float:
    match = re.search(r"test accuracy (\d\.\d+)", stdout)
    assert match, stdout
    return float(match.group(1))


def test_train_with_no_arguments_trains_on_digits():
    result = run("train")
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout.startswith("digits: 1437 training rows, 360 test rows, 64 features, 10 classes")
    lines = epoch_lines(result.stdout)
    assert [line.split()[1] for line in lines] == [f"{i}/10" for i in range(1, 11)]
    assert all(re.search(r"loss \d+\.\d+ +accuracy \d\.\d+", line) for line in lines)
    losses = [float(re.search(r"loss (\d+\.\d+)", line).group(1)) for line in lines]
    assert losses[-1] < losses[0]
    assert parse_test_accuracy(result.stdout) >= 0.9


def test_train_on_spiral_with_flags():
    result = run("train", "--dataset", "spiral", "--epochs", "50", "--hidden", "64", "--lr", "0.5")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("spiral: 240 training rows, 60 test rows, 2 features, 3 classes")
    assert len(epoch_lines(result.stdout)) == 50
    assert "lr 0.5" in epoch_lines(result.stdout)[0]
    assert "dense_0 (64, relu)" in result.stdout  # the summary shows the requested hidden layer
    assert parse_test_accuracy(result.stdout) >= 0.9


def test_train_with_more_options():
    result = run(
        "train",
        "--hidden", "32,16",
        "--activation", "tanh",
        "--epochs", "3",
        "--batch-size", "64",
        "--optimizer", "adam",
        "--lr", "0.01",
        "--dropout", "0.1",
        "--batch-norm",
        "--seed", "3",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert len(epoch_lines(result.stdout)) == 3
    for name in ("dense_0 (32, tanh)", "batchnorm_1", "dropout_2", "dense_3 (16, tanh)", "dense_6 (10, linear)"):
        assert name in result.stdout
    assert parse_test_accuracy(result.stdout) >= 0.8


@pytest.mark.parametrize(
    ("flags", "mentions"),
    [
        (["--epochs", "abc"], "--epochs"),
        (["--dataset", "nope"], "--dataset"),
        (["--hidden", "0"], "--hidden"),
        (["--hidden", "12,x"], "--hidden"),
        (["--optimizer", "adagrad"], "--optimizer"),
        (["--lr", "-1"], "lr"),
        (["--momentum", "1"], "momentum"),
        (["--dropout", "1.5"], "p must be"),
        (["--epochs", "-1"], "epochs"),
        (["--batch-size", "0"], "batch"),
        (["--frobnicate"], "--frobnicate"),
    ],
    ids=lambda value: "_".join(value).lstrip("-") if isinstance(value, list) else None,
)
def test_bad_flags_exit_2_with_a_one_line_error(flags, mentions):
    result = run("train", *flags)
    assert result.returncode == 2, (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if "error:" in line]
    assert len(errors) == 1, result.stderr
    assert mentions in errors[0]
    assert "test accuracy" not in result.stdout


def test_no_command_is_a_usage_error():
    result = run()
    assert result.returncode == 2
    assert "error:" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize("args", [["--help"], ["train", "--help"]])
def test_help(args):
    result = run(*args)
    assert result.returncode == 0
    assert result.stdout.startswith("usage: python -m ferronet")
    assert result.stderr == ""
    if args[0] == "train":
        for flag in ("--dataset", "--hidden", "--epochs", "--batch-size", "--optimizer", "--lr", "--seed"):
            assert flag in result.stdout
    else:
        assert "train" in result.stdout


@pytest.mark.skipif(
    not FASHION_MNIST.exists(), reason="Fashion-MNIST not installed: apt-get install dataset-fashion-mnist"
)
def test_train_on_fashion_mnist():
    result = run("train", "--dataset", "fashion-mnist", "--epochs", "1", timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("fashion-mnist: 60000 training rows, 10000 test rows, 784 features, 10 classes")
    assert len(epoch_lines(result.stdout)) == 1
    assert parse_test_accuracy(result.stdout) >= 0.75
