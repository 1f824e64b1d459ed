"""``ferronet`` / ``python -m ferronet``: train a network on a dataset, predict or evaluate with a saved model, or
benchmark the engine, from the command line.

Every failure a user can cause (a bad flag or value, missing data, an unwritable output file, a missing optional
package) ends with one line on stderr, ``ferronet: error: ...``, and a non-zero exit status: 2 for bad usage (as
argparse does), 1 for problems met while running (data not found, training diverged, a file that cannot be
written). Checks that need no data run before the data is loaded, so a typo never costs a training run.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import io
import logging
import os
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from . import _array_files, _files, datasets, optim
from ._validation import INT64_MAX, check_float
from .callbacks import EarlyStopping, History
from .layers import MAX_UNITS, BatchNorm, Dense, Dropout, Layer
from .model import Sequential
from .preprocessing import standardize, train_test_split
from .training import duration

DATASETS = ("digits", "spiral", "fashion-mnist", "mnist")
IDX_DATASETS = ("fashion-mnist", "mnist")
ACTIVATIONS = ("relu", "leaky_relu", "sigmoid", "tanh")
OPTIMIZERS = ("sgd", "adam", "rmsprop")
#: Learning rates when --lr is not given: SGD's 0.05 (the documented CLI default); Adam's and RMSProp's usual 1e-3 (0.05 diverges).
DEFAULT_LR = {"sgd": 0.05, "adam": 0.001, "rmsprop": 0.001}
DEFAULT_MOMENTUM = 0.9
MAX_THREADS = 1024  # as ferronet.set_num_threads
#: The split ``--early-stopping`` holds out when --validation-split is not given.
DEFAULT_VALIDATION_SPLIT = 0.1
#: Benchmark rows: beyond this the workload alone needs tens of GB.
MAX_BENCH_ROWS = 10_000_000


class CommandError(Exception):
    """A failure while running (missing data, divergence, unwritable file): one line on stderr, exit status 1."""

    status = 1


class UsageError(CommandError):
    """A bad flag value or combination: one line on stderr, exit status 2 (as argparse's own errors)."""

    status = 2


# ---- flag value parsers (argparse reports their errors as "argument --flag: <message>", exit status 2) ------------


def _parse_int(text: str, minimum: int, maximum: int, what: str) -> int:
    """An integer in [minimum, maximum]; every flag's integers are bounded, so none can overflow later."""
    try:
        value = int(text)
    except ValueError:  # also more digits than int() converts
        raise argparse.ArgumentTypeError(f"expected {what}, got {text[:40]!r}") from None
    if value < minimum:
        raise argparse.ArgumentTypeError(f"expected {what}, got {text[:40]!r}")
    if value > maximum:
        raise argparse.ArgumentTypeError(f"expected {what} at most {maximum}, got {text[:40]!r}")
    return value


def _positive_int(text: str) -> int:
    return _parse_int(text, 1, INT64_MAX, "a positive integer")


def _non_negative_int(text: str) -> int:
    return _parse_int(text, 0, INT64_MAX, "an integer >= 0")


def _bench_rows(text: str) -> int:
    return _parse_int(text, 1, MAX_BENCH_ROWS, "a positive integer")


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer in [0, 2**64), got {text[:40]!r}") from None
    if not 0 <= value < 2**64:
        raise argparse.ArgumentTypeError(f"expected an integer in [0, 2**64), got {text[:40]!r}")
    return value


def _threads(text: str) -> int:
    value = _positive_int(text)
    if value > MAX_THREADS:
        raise argparse.ArgumentTypeError(f"expected at most {MAX_THREADS} threads, got {text!r}")
    return value


def _positive_ints(text: str, maximum: int = INT64_MAX) -> list[int]:
    parts = [part.strip() for part in text.split(",")]
    try:
        values = [int(part) for part in parts]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated positive integers, got {text[:40]!r}") from None
    if any(value < 1 for value in values):
        raise argparse.ArgumentTypeError(f"expected comma-separated positive integers, got {text[:40]!r}")
    if any(value > maximum for value in values):
        raise argparse.ArgumentTypeError(
            f"expected comma-separated positive integers at most {maximum}, got {text[:40]!r}"
        )
    return values


def _hidden_sizes(text: str) -> list[int]:
    """Hidden widths such as ``256,128``; ``none`` for no hidden layer (a linear softmax classifier)."""
    return [] if text.strip().lower() == "none" else _positive_ints(text, MAX_UNITS)


def _number(
    minimum: float, maximum: float | None = None, *, min_inclusive: bool = True, max_inclusive: bool = True
) -> Any:
    """A parser for a finite number within bounds; the message gives the bound and the value given."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text[:40]!r}") from None
        try:
            return check_float(
                value,
                "value",
                minimum=minimum,
                maximum=maximum,
                min_inclusive=min_inclusive,
                max_inclusive=max_inclusive,
            )
        except ValueError as error:
            raise argparse.ArgumentTypeError(str(error)) from None

    return parse


# ---- data, model and optimizer from the flags ------------------------------------------------------------------


class Split(NamedTuple):
    X_train: np.ndarray
    X_test: np.ndarray
    y_train: np.ndarray
    y_test: np.ndarray


def _one_line(error: BaseException) -> str:
    text = str(error)
    if isinstance(error, OSError) and error.strerror and error.filename is None:
        text = error.strerror  # ferronet's file errors carry the path in the message: no "[Errno 2]" prefix
    lines = text.strip().splitlines()
    return lines[0] if lines else type(error).__name__


def load_split(args: argparse.Namespace) -> Split:
    """The training and test rows for ``args.dataset``, features scaled for training."""
    if args.dataset == "digits":
        X, y = datasets.load_digits()
        split = Split(*train_test_split(X / 16.0, y, test_fraction=0.2, seed=args.seed))
    elif args.dataset == "spiral":
        X, y = datasets.make_spiral(seed=args.seed)
        split = Split(*train_test_split(standardize(X), y, test_fraction=0.2, seed=args.seed))
    else:
        loader = datasets.load_fashion_mnist if args.dataset == "fashion-mnist" else datasets.load_mnist
        try:
            (X_train, y_train), (X_test, y_test) = loader(args.data_dir, download=not args.no_download)
        except datasets.DatasetNotFoundError as error:
            if args.data_dir is not None:  # the directory given lacks files: one line that says which and where
                text = (
                    _one_line(error).replace("path=", "--data-dir ").replace("leave path out", "leave --data-dir out")
                )
                raise CommandError(text) from None
            looked = "; ".join(
                place.replace("path argument", "--data-dir", 1).replace("download=False", "--no-download")
                for place in error.places
            )
            what = _one_line(error).split(" Looked in:")[0]
            raise CommandError(
                f"{what} Looked in: {looked}. Pass --data-dir DIR (a directory with the four IDX files, "
                "gzipped or not) or set FERRONET_DATA=DIR."
            ) from None
        except (OSError, ValueError) as error:  # unreadable, corrupt or checksum-mismatched files
            raise CommandError(_one_line(error)) from None
        split = Split(X_train, X_test, y_train, y_test)
    if args.limit is not None:
        split = split._replace(X_train=split.X_train[: args.limit], y_train=split.y_train[: args.limit])
    return split


def build_model(args: argparse.Namespace, input_dim: int, n_classes: int) -> Sequential:
    layers: list[Layer] = []
    for units in args.hidden:
        layers.append(Dense(units, activation=args.activation))
        if args.batch_norm:
            layers.append(BatchNorm())
        if args.dropout:
            layers.append(Dropout(args.dropout))
    layers.append(Dense(n_classes))
    return Sequential(layers, input_dim=input_dim, seed=args.seed)


def make_optimizer(args: argparse.Namespace) -> optim.Optimizer:
    lr = DEFAULT_LR[args.optimizer] if args.lr is None else args.lr
    if args.optimizer == "sgd":
        momentum = DEFAULT_MOMENTUM if args.momentum is None else args.momentum
        return optim.SGD(lr=lr, momentum=momentum, nesterov=args.nesterov)
    if args.optimizer == "adam":
        return optim.Adam(lr=lr)
    return optim.RMSProp(lr=lr)


def output_path(args: argparse.Namespace) -> Path | None:
    """Where ``train`` saves the model: --out, else ferronet-<dataset>.safetensors here; None with --no-save."""
    if args.no_save:
        return None
    return args.out if args.out is not None else Path(f"ferronet-{args.dataset}.safetensors")


def check_output(flag: str, path: Path) -> None:
    """An output file that cannot be written whatever the data (a directory, a device, no such directory)."""
    if path.is_dir():
        raise UsageError(f"{flag} {path}: is a directory; give a file name")
    if not path.parent.is_dir():
        raise UsageError(f"{flag} {path}: directory {path.parent} does not exist")
    try:
        _files.check_target(path, what=flag)
    except (OSError, ValueError) as error:
        raise UsageError(_one_line(error)) from None


def check_train_args(args: argparse.Namespace) -> None:
    """Flag combinations and outputs that are wrong whatever the data: raise ``UsageError`` before any work."""
    if args.optimizer != "sgd" and args.momentum is not None:
        raise UsageError(f"--momentum applies to --optimizer sgd only, not {args.optimizer}")
    if args.nesterov and args.optimizer != "sgd":
        raise UsageError(f"--nesterov applies to --optimizer sgd only, not {args.optimizer}")
    if args.nesterov and args.momentum == 0:
        raise UsageError("--nesterov needs --momentum > 0")
    if args.dataset not in IDX_DATASETS:
        for flag, given in (("--data-dir", args.data_dir is not None), ("--no-download", args.no_download)):
            if given:
                raise UsageError(f"{flag} applies to --dataset {' or '.join(IDX_DATASETS)} only, not {args.dataset}")
    if args.data_dir is not None and not args.data_dir.is_dir():
        raise UsageError(f"--data-dir {args.data_dir}: no such directory")
    if not args.hidden and (args.dropout or args.batch_norm):
        raise UsageError("--dropout and --batch-norm act after hidden layers; --hidden none has none")
    if args.no_save and args.out is not None:
        raise UsageError("--no-save and --out contradict each other; give one")
    out = output_path(args)
    for flag, path in (("--out" if args.out is not None else "the default --out", out), ("--plot", args.plot)):
        if path is not None:
            check_output(flag, path)
    if args.progress:
        _require("tqdm", '--progress needs tqdm: pip install tqdm (or "ferronet[progress]")')
    if args.plot is not None:
        matplotlib = _require("matplotlib", '--plot needs matplotlib: pip install matplotlib (or "ferronet[plot]")')
        matplotlib.use("Agg")  # files only: no display needed
        from matplotlib.figure import Figure

        formats = Figure().canvas.get_supported_filetypes()
        suffix = args.plot.suffix.lstrip(".").lower()
        if suffix and suffix not in formats:
            raise UsageError(f"--plot {args.plot}: unknown image format {suffix!r}; use one of {', '.join(formats)}")


def validation_split(args: argparse.Namespace) -> float:
    """The fraction of training rows held out: --validation-split, else 0.1 with --early-stopping, else none."""
    if args.validation_split is not None:
        return float(args.validation_split)
    return DEFAULT_VALIDATION_SPLIT if args.early_stopping is not None else 0.0


def _require(module: str, message: str) -> Any:
    try:
        return importlib.import_module(module)
    except ImportError:
        raise CommandError(message) from None


def fit_from_args(args: argparse.Namespace, *, verbose: bool = False) -> tuple[Sequential, History, Split]:
    """Load the data, build the model and train it as the flags say; the ``train`` command without the printing."""
    check_train_args(args)
    if args.threads is not None:  # bounded by its parser
        from . import set_num_threads

        set_num_threads(args.threads)
    split = load_split(args)
    n_classes = int(max(split.y_train.max(), split.y_test.max())) + 1
    try:
        model = build_model(args, split.X_train.shape[1], n_classes)
        optimizer = make_optimizer(args)
    except (TypeError, ValueError) as error:
        raise UsageError(_one_line(error)) from None
    held_out = validation_split(args)
    early_stopping = (
        None
        if args.early_stopping is None
        else EarlyStopping(monitor="val_loss", patience=args.early_stopping, restore_best=True)
    )
    if verbose:
        validation = f"; the last {held_out:.0%} of the training rows validate" if held_out else ""
        print(
            f"{args.dataset}: {split.X_train.shape[0]} training rows{_limited(args.limit)}, {split.X_test.shape[0]} test "
            f"rows, {split.X_train.shape[1]} features, {n_classes} classes{validation}"
        )
        model.summary()
    try:
        history = model.fit(
            split.X_train,
            split.y_train,
            epochs=args.epochs,
            batch_size=args.batch_size,
            optimizer=optimizer,
            validation_split=held_out,
            early_stopping=early_stopping,
            progress=args.progress,
            verbose=verbose,
        )
    except FloatingPointError as error:
        raise CommandError(_one_line(error)) from None
    except (TypeError, ValueError) as error:  # e.g. BatchNorm with a batch of 1 row
        raise UsageError(_one_line(error)) from None
    return model, history, split


def _limited(limit: int | None) -> str:
    return "" if limit is None else f" (--limit {limit})"


# ---- commands ------------------------------------------------------------------------------------------------


@contextlib.contextmanager
def _log_to_stderr(enabled: bool) -> Iterator[None]:
    """Show the "ferronet" logger's INFO lines (where a data set was found) on stderr while the command runs."""
    if not enabled:
        yield
        return
    logger = logging.getLogger("ferronet")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("ferronet: %(message)s"))
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(min(level or logging.INFO, logging.INFO))
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def train(args: argparse.Namespace) -> int:
    """Train, save the model (and the plot), then print the test result as the last line."""
    with _log_to_stderr(not args.quiet):
        model, history, split = fit_from_args(args, verbose=not args.quiet)
    seconds = sum(history.history["epoch_seconds"])
    result = model.evaluate(split.X_test, split.y_test)
    say = (lambda message: None) if args.quiet else print
    if args.early_stopping is not None and len(history.epoch) < args.epochs:
        losses = history.history["val_loss"]
        best = min(range(len(losses)), key=losses.__getitem__)
        say(
            f"early stopping: val_loss did not improve for {args.early_stopping} epochs; stopped after epoch "
            f"{len(history.epoch)}, kept the weights of epoch {best + 1} (val_loss {losses[best]:.4f})"
        )
    out = output_path(args)
    if out is not None:
        try:
            model.save(out)
        except (OSError, ValueError) as error:
            raise CommandError(f"--out {out}: cannot save the model: {_one_line(error)}") from None
        say(f"saved the model to {out}")
    if args.plot is not None:
        _save_plot(history, args.plot)
        say(f"saved the training curves to {args.plot}")
    print(f"test loss {result['loss']:.4f}  test accuracy {result['accuracy']:.4f}  ({duration(seconds)} of training)")
    return 0


def _save_plot(history: History, path: Path) -> None:
    try:
        from . import plot
    except ImportError as error:
        raise CommandError(f"--plot: cannot import ferronet.plot: {_one_line(error)}") from None
    figure = plot.history(history)
    image = io.BytesIO()
    try:
        figure.savefig(image, format=path.suffix.lstrip(".").lower() or "png")
        _files.atomic_write(path, image.getvalue(), what="--plot")
    except (OSError, ValueError) as error:
        raise CommandError(f"--plot {path}: cannot write the image: {_one_line(error)}") from None


def load_model(path: Path) -> Sequential:
    """The model saved at ``--model``: a missing or invalid file is a ``CommandError``."""
    from . import io as model_files

    try:
        return model_files.load(path)
    except (OSError, ValueError) as error:
        raise CommandError(f"--model {path}: {_one_line(error)}") from None


def check_array_paths(inputs: Sequence[tuple[str, Path]], output: tuple[str, Path] | None) -> None:
    """.csv or .npy names, an output that can be written: ``UsageError`` before anything is loaded."""
    for flag, path in [*inputs, *([output] if output else [])]:
        try:
            _array_files.suffix_of(path, flag)
        except (TypeError, ValueError) as error:
            raise UsageError(_one_line(error)) from None
    if output is not None:
        check_output(*output)


def read_array(flag: str, path: Path) -> np.ndarray:
    try:
        return _array_files.read_array(path, what=flag)
    except (OSError, ValueError) as error:
        raise CommandError(_one_line(error)) from None


def predict(args: argparse.Namespace) -> int:
    """Predictions (or probabilities) for each row of --input: CSV on stdout, or the --output file."""
    output = None if args.output is None else ("--output", args.output)
    check_array_paths([("--input", args.input)], output)
    model = load_model(args.model)
    if args.proba and model.loss not in ("softmax_cross_entropy", "binary_cross_entropy"):
        raise UsageError(f"--proba needs a model with a probabilistic loss; {args.model} uses {model.loss}")
    features = read_array("--input", args.input)
    try:
        result = model.predict_proba(features) if args.proba else model.predict(features)
    except (TypeError, ValueError) as error:
        raise CommandError(f"--input {args.input}: {_one_line(error)}") from None
    if args.output is None:
        sys.stdout.write(_array_files.to_csv(result))
        return 0
    try:
        _array_files.write_array(args.output, result, what="--output")
    except (OSError, ValueError) as error:
        raise CommandError(_one_line(error)) from None
    print(f"wrote {result.shape[0]} {'probability rows' if args.proba else 'predictions'} to {args.output}")
    return 0


def evaluate(args: argparse.Namespace) -> int:
    """The loss (and accuracy, for classifiers) of a saved model on --input and --labels."""
    check_array_paths([("--input", args.input), ("--labels", args.labels)], None)
    model = load_model(args.model)
    features = read_array("--input", args.input)
    labels = read_array("--labels", args.labels)
    if labels.ndim == 2 and labels.shape[1] == 1:  # a one-column CSV: one label (or target) per row
        labels = labels.reshape(-1)
    try:
        result = model.evaluate(features, labels)
    except (TypeError, ValueError) as error:
        raise CommandError(f"--input {args.input} / --labels {args.labels}: {_one_line(error)}") from None
    accuracy = f"  accuracy {result['accuracy']:.4f}" if "accuracy" in result else ""
    print(f"loss {result['loss']:.4f}{accuracy}  ({features.shape[0]} rows)")
    return 0


def bench(args: argparse.Namespace) -> int:
    from . import bench as benchmark

    if args.json is not None:
        check_output("--json", args.json)
    if args.threads is not None:  # bounded by its parser
        from . import set_num_threads

        set_num_threads(args.threads)
    report = benchmark.run(
        args.batch_sizes,
        workloads=tuple(benchmark.WORKLOADS) if args.workload == "all" else (args.workload,),
        dtype=args.dtype,
        rows=args.rows,
        repeats=args.repeats,
        include_torch=not args.no_torch,
        progress=lambda message: print(f"... {message}", file=sys.stderr, flush=True),
    )
    print(report.table())
    if args.json is not None:
        try:
            _files.atomic_write(args.json, report.to_json().encode(), what="--json")
        except (OSError, ValueError) as error:
            raise CommandError(f"--json {args.json}: {_one_line(error)}") from None
        print(f"wrote {args.json}")
    return 0


# ---- the parser ------------------------------------------------------------------------------------------------

#: The program name in usage lines: the console script's, or how ``python -m ferronet`` is typed (``__main__``).
PROG = "ferronet"

TRAIN_EXAMPLES = """\
examples:
  {prog} train                                   # the shipped 8x8 digits, 10 epochs
  {prog} train --dataset spiral --hidden 64 --epochs 50 --lr 0.5
  {prog} train --dataset fashion-mnist --optimizer adam --batch-norm --dropout 0.2 \\
      --early-stopping 3 --out model.safetensors --plot history.png
  {prog} train --dataset mnist --data-dir ~/data/mnist --no-download --limit 10000

Fashion-MNIST and MNIST are read from --data-dir alone when it is given; otherwise they are looked for in
$FERRONET_DATA, ~/.cache/ferronet and /usr/share/datasets, then downloaded (unless --no-download); stderr says
where they were found (not with --quiet). The model is saved to ferronet-DATASET.safetensors in the current
directory unless --out or --no-save says otherwise; it loads with ferronet.load(path). The last line printed is
the test result.
"""

MAIN_EXAMPLES = """\
examples:
  {prog} train                    # train on the shipped digits and print the test accuracy
  {prog} train --help             # every training flag
  {prog} predict --model ferronet-digits.safetensors --input X.csv --output y.csv
  {prog} evaluate --model ferronet-digits.safetensors --input X.npy --labels y.npy
  {prog} bench --batch-sizes 1,32 # samples/s against the NumPy reference
"""

ARRAY_FILES = "a .csv file (comma-separated numbers, one row per line, an optional header line) or a .npy file"


def _add_train_parser(commands: Any, prog: str) -> None:
    t = commands.add_parser(
        "train",
        help="train a network on a dataset and report its test accuracy",
        description="Train a multi-layer perceptron, print the loss and accuracy of each epoch and the test\n"
        "accuracy, save the model and optionally a plot of its training curves.\n"
        "Without flags: the shipped 8x8 digits.",
        epilog=TRAIN_EXAMPLES.format(prog=prog),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    data = t.add_argument_group("data")
    data.add_argument("--dataset", choices=DATASETS, default="digits", help="data to train on (default: digits)")
    data.add_argument(
        "--data-dir",
        type=Path,
        metavar="DIR",
        help="directory holding the Fashion-MNIST or MNIST IDX files, the only place then looked at "
        "(default: the usual places, see below)",
    )
    data.add_argument("--no-download", action="store_true", help="never download Fashion-MNIST or MNIST")
    data.add_argument("--limit", type=_positive_int, metavar="N", help="train on the first N training rows only")
    net = t.add_argument_group("network")
    net.add_argument(
        "--hidden",
        type=_hidden_sizes,
        default=[256, 128],
        metavar="N,N",
        help="hidden layer widths, or 'none' for a linear classifier (default: 256,128)",
    )
    net.add_argument("--activation", choices=ACTIVATIONS, default="relu", help="hidden activation (default: relu)")
    net.add_argument(
        "--dropout",
        type=_number(0.0, 1.0, max_inclusive=False),
        default=0.0,
        metavar="P",
        help="dropout probability after each hidden layer (default: 0)",
    )
    net.add_argument("--batch-norm", action="store_true", help="BatchNorm after each hidden layer")
    net.add_argument(
        "--seed", type=_seed, metavar="N", default=0, help="seed of the weights, shuffling and data split (default: 0)"
    )
    fit = t.add_argument_group("training")
    fit.add_argument(
        "--epochs", type=_positive_int, metavar="N", default=10, help="passes over the training set (default: 10)"
    )
    fit.add_argument(
        "--batch-size", type=_positive_int, metavar="N", default=128, help="rows per update (default: 128)"
    )
    fit.add_argument("--optimizer", choices=OPTIMIZERS, default="sgd", help="update rule (default: sgd)")
    fit.add_argument(
        "--lr",
        type=_number(0.0, min_inclusive=False),
        help="learning rate (default: 0.05 for sgd, 0.001 for adam and rmsprop)",
    )
    fit.add_argument(
        "--momentum",
        type=_number(0.0, 1.0, max_inclusive=False),
        metavar="M",
        help=f"SGD momentum, 0 for plain SGD (default: {DEFAULT_MOMENTUM})",
    )
    fit.add_argument("--nesterov", action="store_true", help="Nesterov momentum (SGD)")
    fit.add_argument(
        "--validation-split",
        type=_number(0.0, 1.0, min_inclusive=False, max_inclusive=False),
        metavar="F",
        help="hold out the last fraction F of the training rows and report val_loss per epoch "
        f"(default: none; {DEFAULT_VALIDATION_SPLIT} with --early-stopping)",
    )
    fit.add_argument(
        "--early-stopping",
        type=_non_negative_int,
        metavar="PATIENCE",
        help="stop when val_loss has not improved for PATIENCE epochs and keep the best epoch's weights",
    )
    fit.add_argument(
        "--threads", type=_threads, metavar="N", help="engine threads (default: all cores; results are the same)"
    )
    out = t.add_argument_group("output")
    out.add_argument(
        "--out",
        type=Path,
        metavar="PATH",
        help="where to save the trained model (default: ferronet-DATASET.safetensors in the current directory)",
    )
    out.add_argument("--no-save", action="store_true", help="do not save the trained model")
    out.add_argument("--plot", type=Path, metavar="PATH", help="save loss and accuracy curves, e.g. history.png")
    out.add_argument("--progress", action="store_true", help="a progress bar per epoch on stderr (needs tqdm)")
    out.add_argument("--quiet", action="store_true", help="print only the test result (no summary, no epoch lines)")
    t.set_defaults(handler=train)


def _add_predict_parser(commands: Any, prog: str) -> None:
    p = commands.add_parser(
        "predict",
        help="predict with a saved model",
        description="Predict a class (or value) for each row of --input with a model saved by train or\n"
        "ferronet.Sequential.save; with --proba, the class probabilities. Without --output the\n"
        "predictions are printed as CSV.",
        epilog=f"example:\n  {prog} predict --model ferronet-digits.safetensors --input X.csv --output y.csv",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--model", type=Path, required=True, metavar="PATH", help="a saved model (.safetensors)")
    p.add_argument("--input", type=Path, required=True, metavar="PATH", help=f"the rows to predict: {ARRAY_FILES}")
    p.add_argument("--output", type=Path, metavar="PATH", help="write the predictions to a .csv or .npy file")
    p.add_argument("--proba", action="store_true", help="class probabilities instead of classes")
    p.set_defaults(handler=predict)


def _add_evaluate_parser(commands: Any, prog: str) -> None:
    e = commands.add_parser(
        "evaluate",
        help="the loss and accuracy of a saved model on labelled data",
        description="Print the loss (and, for classifiers, the accuracy) of a saved model on --input and --labels.",
        epilog=f"example:\n  {prog} evaluate --model ferronet-digits.safetensors --input X.npy --labels y.npy",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    e.add_argument("--model", type=Path, required=True, metavar="PATH", help="a saved model (.safetensors)")
    e.add_argument("--input", type=Path, required=True, metavar="PATH", help=f"the rows: {ARRAY_FILES}")
    e.add_argument(
        "--labels", type=Path, required=True, metavar="PATH", help="one label (or target) per row, .csv or .npy"
    )
    e.set_defaults(handler=evaluate)


def _add_bench_parser(commands: Any, prog: str) -> None:
    b = commands.add_parser(
        "bench",
        help="time training side by side with the NumPy reference (and PyTorch if installed)",
        description="Training and predict samples/s: ferronet (and on 1 thread), a fast NumPy hand loop, PyTorch\n"
        "(when installed) and the NumPy reference, their ratios and ferronet's share of the peak matmul rate.\n"
        "Workloads: mnist (784-256-128-10 ReLU, softmax CE, SGD momentum 0.9, batches 1/32/128/512) and\n"
        "tabular (8-256-1 ReLU, MSE, Adam, batch 128).",
        epilog=f"example:\n  {prog} bench --batch-sizes 1,32 --rows 2048 --json bench.json",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    b.add_argument("--workload", choices=("mnist", "tabular", "all"), default="all", help="(default: all)")
    b.add_argument(
        "--batch-sizes",
        type=_positive_ints,
        default=None,
        metavar="N,N",
        help="mnist batch sizes (default: 1,32,128,512)",
    )
    b.add_argument("--dtype", choices=("float32", "float64"), default="float32", help="(default: float32)")
    b.add_argument(
        "--rows", type=_bench_rows, metavar="N", default=8192, help="training rows per timed epoch (default: 8192)"
    )
    b.add_argument(
        "--repeats",
        type=_positive_int,
        metavar="N",
        default=3,
        help="timed runs per measurement, best kept (default: 3)",
    )
    b.add_argument("--threads", type=_threads, default=None, metavar="N", help="engine threads (default: all cores)")
    b.add_argument("--no-torch", action="store_true", help="leave PyTorch out even when it is installed")
    b.add_argument("--json", type=Path, metavar="PATH", help="also write the results as JSON")
    b.set_defaults(handler=bench)


def parser(prog: str = PROG) -> argparse.ArgumentParser:
    from . import __version__

    main = argparse.ArgumentParser(
        prog=prog,
        description="ferronet: dense neural networks trained by a Rust engine, from the command line.",
        epilog=MAIN_EXAMPLES.format(prog=prog),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    main.add_argument("--version", action="version", version=f"ferronet {__version__}")
    commands = main.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add in (_add_train_parser, _add_predict_parser, _add_evaluate_parser, _add_bench_parser):
        add(commands, prog)
    return main


def main(argv: Sequence[str] | None = None, *, prog: str = PROG) -> int:
    """Run the command line; ``prog`` is the name usage lines show (``python -m ferronet`` passes its own)."""
    args = parser(prog).parse_args(argv)
    try:
        return int(args.handler(args))
    except CommandError as error:
        print(f"ferronet: error: {error}", file=sys.stderr)
        return error.status
    except MemoryError:
        print("ferronet: error: not enough memory for this run", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("ferronet: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `python -m ferronet train | head -1`: the reader left, stop quietly
        _silence_stdout()
        return 141  # 128 + SIGPIPE, what a shell shows for a program stopped by a closed pipe


def _silence_stdout() -> None:
    """Point stdout at /dev/null so that the interpreter's final flush does not fail again (Python's advice)."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # no real file descriptor (an in-process capture)
        pass
