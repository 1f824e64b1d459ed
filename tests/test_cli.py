"""``python -m ferronet``, run as a user runs it: in a subprocess (plus in-process runs of the same ``main`` for the
many flag checks, which is faster)."""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import ferronet as fnet
import numpy as np
import pytest
from ferronet import cli

FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")
needs_fashion_mnist = pytest.mark.skipif(
    not FASHION_MNIST.exists(), reason="Fashion-MNIST not installed: apt-get install dataset-fashion-mnist"
)
#: A few seconds of digits training: enough to learn something, fast to run.
QUICK = ("--epochs", "2", "--limit", "400", "--hidden", "32")


@pytest.fixture(autouse=True)
def in_a_scratch_directory(tmp_path, monkeypatch):
    """Each test runs in its own empty directory: ``train`` saves ferronet-<dataset>.safetensors to the current one."""
    scratch = tmp_path / "cwd"
    scratch.mkdir()
    monkeypatch.chdir(scratch)
    return scratch


def run(*args: str, timeout: float = 120, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    clean = {key: value for key, value in os.environ.items() if key != "FERRONET_DATA"}
    return subprocess.run(
        [sys.executable, "-m", "ferronet", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**clean, **(env or {})},
    )


def run_here(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """``main`` in this process (the code ``python -m ferronet`` runs, minus the interpreter start): status, out, err."""
    try:
        status = cli.main(list(args))
    except SystemExit as exit:  # argparse's own errors and --help
        status = exit.code
    out, err = capsys.readouterr()
    return status, out, err


def result_line(stdout: str) -> str:
    """The test-result line without its timing."""
    return stdout.splitlines()[-1].split("(")[0]


def epoch_lines(stdout: str) -> list[str]:
    return [line for line in stdout.splitlines() if re.match(r"^epoch \d+/\d+ ", line)]


def parse_test_accuracy(stdout: str) -> float:
    match = re.search(r"test accuracy (\d\.\d+)", stdout)
    assert match, stdout
    return float(match.group(1))


def assert_one_line_error(result: subprocess.CompletedProcess, status: int, mentions: str) -> str:
    """The failure contract: the exit status, exactly one ``error:`` line naming the problem, no traceback,
    and no training reported."""
    assert result.returncode == status, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if "error:" in line]
    assert len(errors) == 1, result.stderr
    assert mentions in errors[0], errors[0]
    assert "test accuracy" not in result.stdout
    return errors[0]


def shadow_module(directory: Path, name: str) -> dict[str, str]:
    """An environment in which ``import name`` fails, as when the package is not installed."""
    directory.mkdir(exist_ok=True)
    (directory / f"{name}.py").write_text(f'raise ImportError("No module named {name!r}")\n')
    return {"PYTHONPATH": os.pathsep.join(filter(None, [str(directory), os.environ.get("PYTHONPATH")]))}


# ---- train: what it prints ---------------------------------------------------------------------------------------


def test_train_with_no_arguments_trains_on_digits():
    result = run("train")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert result.stdout.startswith("digits: 1437 training rows, 360 test rows, 64 features, 10 classes")
    for layer in ("dense_0 (256, relu)", "dense_1 (128, relu)", "dense_2 (10, linear)"):
        assert layer in result.stdout  # the documented default architecture (256-128)
    lines = epoch_lines(result.stdout)
    assert [line.split()[1] for line in lines] == [f"{i}/10" for i in range(1, 11)]
    assert all(re.search(r"loss \d+\.\d+ +accuracy \d\.\d+ +lr 0\.05 ", line) for line in lines)
    losses = [float(re.search(r"loss (\d+\.\d+)", line).group(1)) for line in lines]
    assert losses[-1] < losses[0]
    assert parse_test_accuracy(result.stdout) >= 0.9
    assert re.search(r"\((\d+\.\d\ds|\d+\.\d ms) of training\)$", result.stdout.splitlines()[-1])


def test_train_on_spiral_with_flags():
    result = run("train", "--dataset", "spiral", "--epochs", "50", "--hidden", "64", "--lr", "0.5")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("spiral: 240 training rows, 60 test rows, 2 features, 3 classes")
    assert len(epoch_lines(result.stdout)) == 50
    assert "lr 0.5" in epoch_lines(result.stdout)[0]
    assert "dense_0 (64, relu)" in result.stdout  # the summary shows the requested hidden layer
    assert parse_test_accuracy(result.stdout) >= 0.9


def test_a_linear_classifier_cannot_learn_the_spiral():
    result = run("train", "--dataset", "spiral", "--hidden", "none", "--epochs", "50", "--lr", "0.5")
    assert result.returncode == 0, result.stderr
    assert "dense_0 (3, linear)" in result.stdout and "dense_1" not in result.stdout
    assert parse_test_accuracy(result.stdout) < 0.7  # the classic result: it needs a hidden layer


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
    assert "p=0.1" in result.stdout
    assert parse_test_accuracy(result.stdout) >= 0.8


@pytest.mark.parametrize(("optimizer", "lr"), [("adam", "0.001"), ("rmsprop", "0.001"), ("sgd", "0.05")])
def test_each_optimizer_trains_with_its_default_learning_rate(optimizer, lr, capsys):
    status, out, err = run_here(capsys, "train", "--optimizer", optimizer, "--epochs", "3", "--limit", "600")
    assert status == 0, err
    assert all(f" lr {lr} " in line for line in epoch_lines(out))
    assert parse_test_accuracy(out) >= 0.8


def test_sgd_momentum_and_nesterov_change_the_training(capsys):
    runs = [
        run_here(capsys, "train", *QUICK, *flags, "--quiet")
        for flags in (["--momentum", "0"], ["--momentum", "0.9", "--nesterov"], [], ["--momentum", "0.9"])
    ]
    assert all(status == 0 for status, _, _ in runs), runs
    plain, nesterov, default, explicit = (result_line(out) for _, out, _ in runs)
    assert len({plain, nesterov, default}) == 3  # each flag reaches the optimizer
    assert default == explicit  # and the default momentum is 0.9


def test_the_same_seed_gives_the_same_run_and_another_seed_another(capsys):
    first, again, other = (result_line(run_here(capsys, "train", *QUICK, "--seed", seed)[1]) for seed in "778")
    assert first == again != other


def test_limit_quiet_and_threads(capsys):
    one = run("train", *QUICK, "--threads", "1", "--quiet")
    assert one.returncode == 0, one.stderr
    assert one.stderr == "" and len(one.stdout.splitlines()) == 1 and one.stdout.startswith("test loss ")
    status, out, _ = run_here(capsys, "train", *QUICK)  # all cores
    assert status == 0
    assert out.startswith("digits: 400 training rows (--limit 400), 360 test rows")
    # results do not depend on the thread count (the engine's contract), so the runs agree to the digit
    assert result_line(out) == result_line(one.stdout)


def test_progress_draws_a_bar_per_epoch_on_stderr():
    result = run("train", *QUICK, "--progress")
    assert result.returncode == 0, result.stderr
    assert len(epoch_lines(result.stdout)) == 2  # the epoch lines stay on stdout
    for epoch in (1, 2):
        assert re.search(rf"epoch {epoch}/2: 100%.*400/400 .*loss=\d\.\d+, acc=\d\.\d+", result.stderr), result.stderr


# ---- train: files it writes --------------------------------------------------------------------------------------


def test_out_saves_a_model_that_loads_and_predicts_like_the_trained_one(tmp_path):
    path = tmp_path / "model.safetensors"
    flags = ["--dataset", "spiral", "--hidden", "16,8", "--batch-norm", "--epochs", "20", "--lr", "0.2", "--seed", "5"]
    result = run("train", *flags, "--out", str(path))
    assert result.returncode == 0, result.stderr
    assert f"saved the model to {path}" in result.stdout
    loaded = fnet.load(path)
    # the same flags in this process train the same model (same seed, same data split)
    args = cli.parser().parse_args(["train", *flags])
    model, _, split = cli.fit_from_args(args)
    np.testing.assert_array_equal(loaded.predict_proba(split.X_test), model.predict_proba(split.X_test))
    np.testing.assert_array_equal(loaded.predict(split.X_test), model.predict(split.X_test))
    accuracy = loaded.evaluate(split.X_test, split.y_test)["accuracy"]
    assert f"test accuracy {accuracy:.4f}" in result.stdout  # the file holds the trained model, not the initial one
    assert accuracy >= 0.9


def test_plot_writes_the_training_curves(tmp_path, capsys):
    pytest.importorskip("matplotlib", reason="--plot needs matplotlib (the plot extra)")
    png, svg = tmp_path / "history.png", tmp_path / "history.svg"
    result = run("train", *QUICK, "--plot", str(png))
    assert result.returncode == 0, result.stderr
    assert f"saved the training curves to {png}" in result.stdout
    assert png.read_bytes().startswith(b"\x89PNG\r\n\x1a\n") and png.stat().st_size > 5000
    status, _, err = run_here(capsys, "train", *QUICK, "--quiet", "--plot", str(svg))  # the format from the name
    assert status == 0, err
    assert "<svg" in svg.read_text()


def test_plot_without_matplotlib_fails_before_training(tmp_path):
    result = run("train", "--plot", str(tmp_path / "h.png"), env=shadow_module(tmp_path / "site", "matplotlib"))
    assert_one_line_error(result, 1, "--plot needs matplotlib: pip install matplotlib")
    assert result.stdout == ""  # nothing was loaded or trained


def test_progress_without_tqdm_fails_before_training(tmp_path):
    result = run("train", "--progress", env=shadow_module(tmp_path / "site", "tqdm"))
    assert_one_line_error(result, 1, "--progress needs tqdm: pip install tqdm")
    assert result.stdout == ""


# ---- train: data sets on disk --------------------------------------------------------------------------------------


@needs_fashion_mnist
def test_train_on_fashion_mnist():
    result = run("train", "--dataset", "fashion-mnist", "--epochs", "1", "--limit", "10000", timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(
        "fashion-mnist: 10000 training rows (--limit 10000), 10000 test rows, 784 features, 10 classes"
    )
    assert len(epoch_lines(result.stdout)) == 1
    assert parse_test_accuracy(result.stdout) >= 0.7


@needs_fashion_mnist
def test_fashion_mnist_from_data_dir_with_a_limit(tmp_path):
    for name in os.listdir(FASHION_MNIST):  # a user's own copy of the files, found only through --data-dir
        (tmp_path / name).symlink_to(FASHION_MNIST / name)
    result = run(
        "train", "--dataset", "fashion-mnist", "--data-dir", str(tmp_path), "--no-download",
        "--limit", "5000", "--epochs", "2", "--optimizer", "adam", "--hidden", "64",
        env={"XDG_CACHE_HOME": str(tmp_path / "cache")}, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("fashion-mnist: 5000 training rows (--limit 5000), 10000 test rows, 784 features")
    assert parse_test_accuracy(result.stdout) >= 0.7


def test_missing_data_is_one_line_that_says_where_it_looked(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    env = {"XDG_CACHE_HOME": str(tmp_path / "cache")}
    # --data-dir without the files: that directory only, never another copy, and the four names looked for
    for flags in ([], ["--no-download"]):
        result = run("train", "--dataset", "mnist", "--data-dir", str(empty), *flags, env=env)
        line = assert_one_line_error(result, 1, f"MNIST not found: --data-dir {str(empty)!r} holds none of its files")
        for name in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte"):
            assert f"{name} or {name}.gz" in line
        assert f"t10k-labels-idx1-ubyte.gz in {empty}." in line
        assert "leave --data-dir out" in line
        assert result.stdout == ""
    # without --data-dir: every place of the lookup chain
    result = run("train", "--dataset", "mnist", "--no-download", env=env)
    line = assert_one_line_error(result, 1, "MNIST file train-images-idx3-ubyte")
    for place in ("--data-dir: not given", str(tmp_path / "cache"), "download: not attempted"):
        assert place in line
    assert "Pass --data-dir DIR" in line
    # a failed download says why, in the same one line; nothing is left in the cache
    env["FERRONET_MNIST_MIRROR"] = (tmp_path / "no-mirror").as_uri()
    result = run("train", "--dataset", "mnist", env=env)
    line = assert_one_line_error(result, 1, "not found")
    assert "download failed" in line
    assert not any(path.is_file() for path in (tmp_path / "cache").rglob("*"))


@needs_fashion_mnist
def test_train_says_on_stderr_where_it_found_the_data_unless_quiet(tmp_path):
    for name in os.listdir(FASHION_MNIST):
        (tmp_path / name).symlink_to(FASHION_MNIST / name)
    flags = ("train", "--dataset", "fashion-mnist", "--data-dir", str(tmp_path), "--limit", "300", "--epochs", "1")
    result = run(*flags, "--hidden", "8", "--no-save", timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stderr == f"ferronet: Fashion-MNIST found in {tmp_path} (the path argument)\n"
    quiet = run(*flags, "--hidden", "8", "--no-save", "--quiet", timeout=300)
    assert quiet.returncode == 0 and quiet.stderr == ""


def test_wrong_files_in_data_dir_are_one_line(tmp_path):
    rng = np.random.default_rng(0)
    for prefix, n in (("train", 60), ("t10k", 10)):
        images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        fnet.datasets.write_idx(tmp_path / f"{prefix}-images-idx3-ubyte.gz", images)
        fnet.datasets.write_idx(tmp_path / f"{prefix}-labels-idx1-ubyte.gz", rng.integers(0, 10, n, dtype=np.uint8))
    result = run("train", "--dataset", "mnist", "--data-dir", str(tmp_path), "--no-download")
    assert_one_line_error(result, 1, "wrong SHA-256")


# ---- train: bad flags ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("flags", "mentions"),
    [
        (["--epochs", "abc"], "argument --epochs: expected a positive integer, got 'abc'"),
        (["--dataset", "nope"], "argument --dataset: invalid choice: 'nope'"),
        (["--hidden", "12,x"], "argument --hidden: expected comma-separated positive integers, got '12,x'"),
        (["--lr", "-1"], "argument --lr: value must be > 0.0; got -1.0"),
        (["--dropout", "1.5"], "argument --dropout: value must be < 1.0; got 1.5"),
        (["--frobnicate"], "unrecognized arguments: --frobnicate"),
    ],
    ids=lambda value: "_".join(value).lstrip("-") if isinstance(value, list) else None,
)
def test_bad_flags_exit_2_with_a_one_line_error(flags, mentions):
    assert_one_line_error(run("train", *flags), 2, mentions)


@pytest.mark.parametrize(
    ("flags", "mentions"),
    [
        (["--hidden", "0"], "argument --hidden: expected comma-separated positive integers, got '0'"),
        (["--hidden", "0,a"], "argument --hidden: expected comma-separated positive integers"),
        (["--hidden", "64,,32"], "argument --hidden"),
        (["--hidden", ""], "argument --hidden"),
        (["--activation", "softmax"], "argument --activation: invalid choice: 'softmax'"),
        (["--optimizer", "adagrad"], "argument --optimizer: invalid choice: 'adagrad'"),
        (["--lr", "0"], "argument --lr: value must be > 0.0"),
        (["--lr", "nan"], "argument --lr: value must be finite"),
        (["--lr", "fast"], "argument --lr: expected a number, got 'fast'"),
        (["--momentum", "1"], "argument --momentum: value must be < 1.0"),
        (["--momentum", "-0.1"], "argument --momentum: value must be >= 0.0"),
        (["--dropout", "-0.1"], "argument --dropout: value must be >= 0.0"),
        (["--dropout", "inf"], "argument --dropout: value must be finite"),
        (["--epochs", "0"], "argument --epochs: expected a positive integer"),
        (["--epochs", "-1"], "argument --epochs: expected a positive integer"),
        (["--batch-size", "0"], "argument --batch-size: expected a positive integer"),
        (["--limit", "0"], "argument --limit: expected a positive integer"),
        (["--seed", "-1"], "argument --seed: expected an integer in [0, 2**64)"),
        (["--seed", str(2**64)], "argument --seed: expected an integer in [0, 2**64)"),
        (["--threads", "0"], "argument --threads: expected a positive integer"),
        (["--threads", "5000"], "argument --threads: expected at most 1024 threads"),
        (["--optimizer", "adam", "--momentum", "0.5"], "--momentum applies to --optimizer sgd only, not adam"),
        (["--optimizer", "rmsprop", "--nesterov"], "--nesterov applies to --optimizer sgd only, not rmsprop"),
        (["--momentum", "0", "--nesterov"], "--nesterov needs --momentum > 0"),
        (["--data-dir", "."], "--data-dir applies to --dataset fashion-mnist or mnist only, not digits"),
        (["--dataset", "spiral", "--no-download"], "--no-download applies to --dataset fashion-mnist or mnist"),
        (["--dataset", "mnist", "--data-dir", "/no/such/dir"], "--data-dir /no/such/dir: no such directory"),
        (["--hidden", "none", "--dropout", "0.2"], "--hidden none has none"),
        (["--out", "/no/such/dir/model.safetensors"], "--out /no/such/dir/model.safetensors: directory /no/such/dir"),
        (["--out", "."], "--out .: is a directory"),
        (["--plot", "history.xyz"], "--plot history.xyz: unknown image format 'xyz'"),
        (["--batch-norm", "--batch-size", "16", "--limit", "33"], "BatchNorm needs at least 2 rows per training batch"),
    ],
    ids=lambda value: "_".join(value).lstrip("-") if isinstance(value, list) else None,
)
def test_bad_values_are_usage_errors_before_any_training(flags, mentions, capsys):
    status, out, err = run_here(capsys, "train", *flags)  # the subprocess runs above check the same main
    errors = [line for line in err.splitlines() if "error:" in line]
    assert status == 2 and len(errors) == 1, (status, err)
    assert mentions in errors[0]
    assert "epoch" not in out


def test_divergence_is_a_one_line_error():
    result = run("train", "--lr", "1000", "--epochs", "5")
    line = assert_one_line_error(result, 1, "training diverged: the loss became")
    assert "Try a smaller learning rate" in line


def test_a_reader_that_stops_early_ends_the_run_quietly():
    # `python -m ferronet train | head -1`: no BrokenPipeError traceback when the reader goes away
    process = subprocess.Popen(
        [sys.executable, "-m", "ferronet", "train", "--epochs", "60"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout.readline().startswith("digits: ")
    process.stdout.close()
    status = process.wait(timeout=120)
    stderr = process.stderr.read()
    process.stderr.close()
    assert status == 141, stderr
    assert stderr == ""


def test_no_command_is_a_usage_error():
    result = run()
    assert result.returncode == 2
    assert "error:" in result.stderr and "Traceback" not in result.stderr


# ---- help --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("args", [["--help"], ["train", "--help"], ["bench", "--help"]])
def test_help(args):
    result = run(*args)
    assert result.returncode == 0
    assert result.stdout.startswith("usage: python -m ferronet")
    assert result.stderr == ""
    assert "examples:" in result.stdout or "example:" in result.stdout
    if args[0] == "train":
        api_flags = ["--dataset", "--hidden", "--activation", "--epochs", "--batch-size", "--optimizer", "--lr"]
        api_flags += ["--momentum", "--dropout", "--batch-norm", "--seed", "--out", "--plot"]
        for flag in [*api_flags, "--data-dir", "--no-download", "--limit", "--progress", "--quiet", "--threads"]:
            assert re.search(rf"^  {flag}\b", result.stdout, re.MULTILINE), flag
        for default in ("(default: digits)", "(default: 256,128)", "(default: 10)", "(default: 128)", "(default: sgd)"):
            assert default in result.stdout
        assert "fashion-mnist" in result.stdout and "ferronet.load" in result.stdout
    elif args[0] == "bench":
        assert "--batch-sizes" in result.stdout and "(default: 1,32,128,512)" in result.stdout
        assert "--workload" in result.stdout
    else:
        assert "train" in result.stdout and "bench" in result.stdout


# ---- bench ---------------------------------------------------------------------------------------------------------


def test_bench_runs_a_tiny_benchmark_and_writes_json(tmp_path):
    out = tmp_path / "bench.json"
    result = run("bench", "--rows", "256", "--batch-sizes", "32", "--repeats", "1", "--no-torch", "--json", str(out))
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    rows = [line.split() for line in result.stdout.splitlines()]
    (row,) = [row for row in rows if row[:3] == ["mnist", "batch", "32"]]
    assert all(float(cell.replace(",", "")) > 0 for cell in row[3:6])  # ferronet (1 thread too), numpy /s
    assert [row[:2] for row in rows if row[:1] == ["tabular"]] == [["tabular", "batch"], ["tabular", "predict"]]
    assert f"wrote {out}" in result.stdout
    assert isinstance(json.loads(out.read_text()), dict)


@pytest.mark.parametrize(
    ("flags", "mentions"),
    [
        (["--batch-sizes", "0"], "argument --batch-sizes"),
        (["--rows", "-5"], "argument --rows: expected a positive integer"),
        (["--dtype", "float16"], "argument --dtype: invalid choice"),
        (
            ["--json", "/no/such/dir/out.json", "--rows", "64", "--batch-sizes", "8", "--repeats", "1", "--no-torch"],
            "--json",
        ),
    ],
    ids=lambda value: "_".join(value[:2]).lstrip("-") if isinstance(value, list) else None,
)
def test_bench_bad_flags(flags, mentions):
    result = run("bench", *flags)
    assert result.returncode in (1, 2)
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if "error:" in line]
    assert len(errors) == 1 and mentions in errors[0], result.stderr


# ---- every numeric flag is bounded -------------------------------------------------------------------------------


def numeric_flags() -> list[tuple[str, str, bool]]:
    """(command, flag, takes a real number) for every flag whose value a ferronet.cli parser converts."""
    found = []
    commands = next(a for a in cli.parser()._actions if isinstance(a, argparse._SubParsersAction))
    for command, subparser in commands.choices.items():
        for action in subparser._actions:
            parse = action.type
            if callable(parse) and getattr(parse, "__module__", "") == "ferronet.cli" and action.option_strings:
                found.append((command, action.option_strings[0], parse.__name__ == "parse"))
    return found


REQUIRED = {
    "predict": ["--model", "m.st", "--input", "x.csv"],
    "evaluate": ["--model", "m", "--input", "x.csv", "--labels", "y.csv"],
}


def test_the_numeric_flags_are_found():
    flags = {(command, flag) for command, flag, _ in numeric_flags()}
    assert {("train", "--batch-size"), ("train", "--lr"), ("train", "--early-stopping"), ("bench", "--rows")} <= flags
    assert len(flags) >= 14


#: Beyond 64 bits, beyond int()'s digit limit, beyond float, not numbers: bad for every numeric flag.
BAD_INTEGERS = [str(2**64), "9" * 5000, "-1", "1.5", "0x10", "", "1,2,x"]
BAD_REALS = ["1e400", "-1e400", "9" * 5000, "nan", "inf", "0x10", ""]


def bad_numeric_flag_cases() -> list:
    return [
        pytest.param(command, flag, value, id=f"{command}-{flag}-{value[:12]}")
        for command, flag, real in numeric_flags()
        for value in (BAD_REALS if real else BAD_INTEGERS)
    ]


@pytest.mark.parametrize(("command", "flag", "value"), bad_numeric_flag_cases())
def test_huge_or_bad_numbers_in_any_numeric_flag_are_one_line_usage_errors(command, flag, value, capsys):
    status, out, err = run_here(capsys, command, *REQUIRED.get(command, []), flag, value)
    if status == 0 or "error:" not in err:
        pytest.fail(f"{command} {flag} {value[:20]!r} was accepted: {out[-300:]}")
    assert status == 2, err
    assert "Traceback" not in err
    errors = [line for line in err.splitlines() if "error:" in line]
    assert len(errors) == 1 and f"argument {flag}" in errors[0], err
    assert len(errors[0]) < 300


def test_batch_size_beyond_64_bits_is_one_line_exit_2():
    result = run("train", "--batch-size", "18446744073709551616")
    line = assert_one_line_error(result, 2, "argument --batch-size: expected a positive integer at most")
    assert "18446744073709551616" in line and result.stdout == ""


# ---- --version and the program name -------------------------------------------------------------------------


def test_version():
    result = run("--version")
    assert result.returncode == 0 and result.stdout == f"ferronet {fnet.__version__}\n"


def console_script(directory: Path) -> Path:
    """What pip writes for the ``ferronet`` console script (project.scripts: ferronet = ferronet.cli:main)."""
    script = directory / "ferronet"
    script.write_text(
        f"#!{sys.executable}\n"
        "import re, sys\n"
        "from ferronet.cli import main\n"
        "if __name__ == '__main__':\n"
        "    sys.argv[0] = re.sub(r'(-script\\.pyw|\\.exe)?$', '', sys.argv[0])\n"
        "    sys.exit(main())\n"
    )
    script.chmod(0o755)
    return script


def test_the_program_name_is_ferronet_as_a_console_script(tmp_path):
    script = console_script(tmp_path)
    result = subprocess.run([str(script), "train", "--help"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: ferronet train ")
    assert "  ferronet train --dataset spiral" in result.stdout and "python -m" not in result.stdout
    result = subprocess.run([str(script), "train", "--epochs", "x"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert result.stderr.startswith("usage: ferronet train ")
    assert "ferronet train: error: argument --epochs" in result.stderr


def test_the_program_name_is_python_m_ferronet_as_a_module():
    result = run("predict", "--help")
    assert result.stdout.startswith("usage: python -m ferronet predict ")
    assert "  python -m ferronet predict --model" in result.stdout
    result = run("predict")
    assert result.returncode == 2 and "python -m ferronet predict: error: the following arguments are required" in (
        result.stderr
    )


# ---- train: validation, early stopping, where the model goes -----------------------------------------------------


def test_validation_split_reports_val_loss_each_epoch(capsys):
    status, out, err = run_here(capsys, "train", *QUICK, "--validation-split", "0.25", "--no-save")
    assert status == 0, err
    assert "the last 25% of the training rows validate" in out.splitlines()[0]
    lines = epoch_lines(out)
    assert len(lines) == 2 and all(re.search(r"val_loss \d+\.\d+ +val_accuracy \d\.\d+", line) for line in lines)


def test_early_stopping_stops_and_keeps_the_best_epoch(capsys, in_a_scratch_directory):
    flags = ["--epochs", "60", "--limit", "300", "--hidden", "32", "--lr", "0.3", "--early-stopping", "2"]
    status, out, err = run_here(capsys, "train", *flags)
    assert status == 0, err
    assert "the last 10% of the training rows validate" in out  # the default split for early stopping
    match = re.search(r"stopped after epoch (\d+), kept the weights of epoch (\d+) \(val_loss (\d\.\d+)\)", out)
    assert match, out
    stopped, best = int(match.group(1)), int(match.group(2))
    assert len(epoch_lines(out)) == stopped < 60 and stopped == best + 2
    val_losses = [float(re.search(r"val_loss (\d+\.\d+)", line).group(1)) for line in epoch_lines(out)]
    assert min(val_losses) == val_losses[best - 1]
    # the saved model holds the best epoch's weights: its loss on the held-out rows is that epoch's val_loss
    args = cli.parser().parse_args(["train", *flags])
    split = cli.load_split(args)
    held_out = slice(len(split.X_train) - len(split.X_train) // 10, None)
    model = fnet.load(in_a_scratch_directory / "ferronet-digits.safetensors")
    loss = model.evaluate(split.X_train[held_out], split.y_train[held_out])["loss"]
    assert f"{loss:.4f}" == match.group(3)


def test_without_out_the_model_goes_to_a_default_file_that_is_printed(in_a_scratch_directory):
    result = run("train", *QUICK, "--dataset", "spiral")
    assert result.returncode == 0, result.stderr
    path = in_a_scratch_directory / "ferronet-spiral.safetensors"
    assert "saved the model to ferronet-spiral.safetensors" in result.stdout.splitlines()[-2]
    assert result.stdout.splitlines()[-1].startswith("test loss ")  # the result stays the last line
    assert fnet.load(path).input_dim == 2


def test_no_save_writes_nothing_and_contradicts_out(capsys, in_a_scratch_directory):
    status, out, err = run_here(capsys, "train", *QUICK, "--no-save")
    assert status == 0, err
    assert "saved" not in out and list(in_a_scratch_directory.iterdir()) == []
    status, _, err = run_here(capsys, "train", "--no-save", "--out", "m.safetensors")
    assert status == 2 and "--no-save and --out contradict each other" in err


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="os.mkfifo is POSIX-only")
@pytest.mark.parametrize("flag", ["--out", "--plot"])
def test_an_output_that_is_a_fifo_is_a_usage_error_before_training(flag, capsys, in_a_scratch_directory):
    os.mkfifo(in_a_scratch_directory / "pipe.png")
    status, out, err = run_here(capsys, "train", flag, "pipe.png")
    assert status == 2 and "pipe.png' is a FIFO (named pipe), not a regular file" in err, err
    assert "epoch" not in out


def test_a_default_output_that_is_a_directory_is_a_usage_error(capsys, in_a_scratch_directory):
    (in_a_scratch_directory / "ferronet-digits.safetensors").mkdir()
    status, _, err = run_here(capsys, "train")
    assert status == 2 and "the default --out ferronet-digits.safetensors: is a directory" in err


def test_plot_draws_the_validation_curve_with_whole_epoch_ticks(capsys, monkeypatch, in_a_scratch_directory):
    plot = pytest.importorskip("ferronet.plot", reason="--plot needs matplotlib")
    figures = []
    real = plot.history
    monkeypatch.setattr(plot, "history", lambda history: figures.append(real(history)) or figures[-1])
    status, _, err = run_here(capsys, "train", *QUICK, "--epochs", "3", "--validation-split", "0.2", "--plot", "h.png")
    assert status == 0, err
    (figure,) = figures
    figure.canvas.draw()
    assert [line.get_label() for line in figure.axes[0].lines] == ["loss", "val_loss"]
    assert all(float(tick).is_integer() for tick in figure.axes[0].get_xticks())
    assert (in_a_scratch_directory / "h.png").read_bytes().startswith(b"\x89PNG")


# ---- predict and evaluate ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """A small trained digits classifier and a regressor, saved, with data files in both formats."""
    directory = tmp_path_factory.mktemp("saved")
    X, y = fnet.datasets.load_digits()
    X = X[:200] / 16.0
    y = y[:200]
    model = fnet.Sequential([fnet.Dense(16, activation="relu"), fnet.Dense(10)], input_dim=64, seed=0)
    model.fit(X, y, epochs=3, batch_size=32, optimizer=fnet.optim.SGD(lr=0.1))
    model.save(directory / "model.safetensors")
    regressor = fnet.Sequential([fnet.Dense(1)], input_dim=64, loss="mse", seed=0)
    regressor.save(directory / "regressor.safetensors")
    np.save(directory / "X.npy", X)
    np.save(directory / "y.npy", y)
    header = ",".join(f"pixel{i}" for i in range(64))
    np.savetxt(directory / "X.csv", X, delimiter=",", header=header, comments="")
    np.savetxt(directory / "y.csv", y, fmt="%d")
    return directory, model, X, y


def test_predict_prints_classes_as_csv(saved, capsys):
    directory, model, X, _ = saved
    status, out, err = run_here(
        capsys, "predict", "--model", str(directory / "model.safetensors"), "--input", str(directory / "X.csv")
    )
    assert status == 0, err
    assert [int(line) for line in out.splitlines()] == model.predict(X).tolist()


@pytest.mark.parametrize("suffix", [".npy", ".csv"])
def test_predict_writes_probabilities_to_a_file(saved, capsys, suffix, in_a_scratch_directory):
    directory, model, X, _ = saved
    output = in_a_scratch_directory / f"p{suffix}"
    status, out, err = run_here(
        capsys, "predict", "--model", str(directory / "model.safetensors"), "--input", str(directory / "X.npy"),
        "--output", str(output), "--proba",
    )  # fmt: skip
    assert status == 0, err
    assert out == f"wrote 200 probability rows to {output}\n"
    written = np.load(output) if suffix == ".npy" else np.loadtxt(output, delimiter=",")
    np.testing.assert_allclose(written, model.predict_proba(X), rtol=1e-6)


def test_evaluate_prints_loss_and_accuracy(saved):
    directory, model, X, y = saved
    result = run("evaluate", "--model", str(directory / "model.safetensors"), "--input", str(directory / "X.csv"),
                 "--labels", str(directory / "y.npy"))  # fmt: skip
    assert result.returncode == 0, result.stderr
    expected = model.evaluate(X, y)
    assert result.stdout == f"loss {expected['loss']:.4f}  accuracy {expected['accuracy']:.4f}  (200 rows)\n"
    result = run("evaluate", "--model", str(directory / "regressor.safetensors"), "--input", str(directory / "X.npy"),
                 "--labels", str(directory / "y.csv"))  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert re.fullmatch(r"loss \d+\.\d{4}  \(200 rows\)\n", result.stdout)


def test_predict_errors_are_one_line_with_the_right_status(saved, tmp_path):
    directory, _, X, _ = saved
    model = str(directory / "model.safetensors")
    (tmp_path / "garbage.safetensors").write_bytes(b"\x00" * 100)
    np.save(tmp_path / "wrong.npy", X[:, :10])
    np.save(tmp_path / "objects.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    (tmp_path / "nan.csv").write_text("1," * 63 + "nan\n")
    (tmp_path / "ragged.csv").write_text("1,2\n3\n")
    (tmp_path / "empty.csv").write_text("\n")
    header = np.lib.format.header_data_from_array_1_0(np.zeros(1))
    header["shape"] = (2**40, 64)
    with open(tmp_path / "huge.npy", "wb") as file:  # a header claiming 512 TiB, then 8 bytes
        np.lib.format.write_array_header_1_0(file, header)
        file.write(b"\x00" * 8)
    cases = [
        (["--model", str(tmp_path / "missing.safetensors"), "--input", str(directory / "X.csv")], 1, "No such file or directory"),
        (["--model", str(tmp_path / "garbage.safetensors"), "--input", str(directory / "X.csv")], 1, "not a"),
        (["--model", model, "--input", str(tmp_path / "wrong.npy")], 1, "X has 10 features, the model expects 64"),
        (["--model", model, "--input", str(tmp_path / "objects.npy")], 1, "holds Python objects"),
        (["--model", model, "--input", str(tmp_path / "nan.csv")], 1, "X contains NaN or infinity"),
        (["--model", model, "--input", str(tmp_path / "ragged.csv")], 1, "row 2 has 1 values, the first row 2"),
        (["--model", model, "--input", str(tmp_path / "empty.csv")], 1, "the file holds no rows"),
        (["--model", model, "--input", str(tmp_path / "huge.npy")], 1, "its header claims shape (1099511627776, 64)"),
        (["--model", model, "--input", str(tmp_path / "none.csv")], 1, "none.csv': No such file or directory"),
        (["--model", model, "--input", str(directory / "X.txt")], 2, "unknown file type ('.txt')"),
        (["--model", model, "--input", str(directory / "X.csv"), "--output", "/no/such/dir/y.csv"], 2, "does not exist"),
        (["--model", model, "--input", str(directory / "X.csv"), "--output", "y.json"], 2, "unknown file type"),
        (["--model", str(directory / "regressor.safetensors"), "--input", str(directory / "X.csv"), "--proba"], 2,
         "--proba needs a model with a probabilistic loss"),
        (["--input", str(directory / "X.csv")], 2, "the following arguments are required: --model"),
    ]  # fmt: skip
    for flags, status, mentions in cases:
        result = run("predict", *flags)
        assert_one_line_error(result, status, mentions)
        assert result.stdout == ""


def test_evaluate_with_labels_that_do_not_fit(saved, capsys):
    directory, _, _, _ = saved
    status, _, err = run_here(
        capsys, "evaluate", "--model", str(directory / "model.safetensors"), "--input", str(directory / "X.npy"),
        "--labels", str(directory / "X.npy"),
    )  # fmt: skip
    assert status == 1 and "y must be labels of shape (200,) or one-hot of shape (200, 10); got (200, 64)" in err
