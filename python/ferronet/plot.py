"""Plots of training runs, decision boundaries and per-layer statistics (the optional matplotlib extra).

Every function builds a ``matplotlib.figure.Figure`` directly, never through ``pyplot``: no global figure state,
no GUI backend, safe in scripts, tests and worker processes. Save with ``fig.savefig("out.png")``; in a notebook
the returned figure displays itself. matplotlib is imported on first use.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ._types import HistogramKind
from ._validation import check_choice, check_features, check_int, check_labels

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

#: The keys of a layer_stats row that the plots read.
STAT_KEYS = ("name", "kind", "activation_std", "activation_hist", "grad_std", "grad_hist", "weight_grad_std")


def _new_figure(width: float, height: float) -> Figure:
    try:
        from ._figure import Figure  # a matplotlib Figure that shows itself in Jupyter
    except ImportError:
        raise ImportError('ferronet.plot needs matplotlib: pip install "ferronet[plot]"') from None
    return Figure(figsize=(width, height), layout="constrained")


def _class_colors(n: int) -> list[tuple[float, ...]]:
    from matplotlib import colormaps

    palette = colormaps["tab10" if n <= 10 else "tab20"]
    return [palette(i % palette.N) for i in range(n)]


# ---- training history ------------------------------------------------------------------------------------------


def _series(values: Any, key: str) -> np.ndarray:
    if isinstance(values, (str, bytes)) or not isinstance(values, Sequence | np.ndarray):
        raise TypeError(f"history[{key!r}] must be a list of numbers; got {type(values).__name__}")
    if not all(isinstance(v, numbers.Real) and not isinstance(v, bool) for v in values):
        raise TypeError(f"history[{key!r}] must hold only numbers")
    try:
        return np.array([float(v) for v in values], dtype=np.float64)
    except OverflowError:  # an int or Fraction beyond the float range
        raise ValueError(f"history[{key!r}] holds a number too large for a float") from None


def history(history: Any, *, title: str | None = None) -> Figure:
    """Loss (and val_loss) per epoch, accuracy (and val_accuracy) when recorded, and the learning rate when a
    schedule changed it, one panel each.

    Parameters
    ----------
    history : History or dict
        What ``fit`` returns, or its ``.history`` dict of per-epoch lists (``"loss"`` is required; every series
        must have as many values; ``epoch_seconds`` is ignored).
    title : str, optional
        The figure's title.

    Returns
    -------
    matplotlib.figure.Figure
        The figure (save it with ``fig.savefig("history.png")``).

    Raises
    ------
    ImportError
        If matplotlib is not installed.
    TypeError
        If ``history`` is not a History or a dict of lists of numbers.
    ValueError
        If there is no ``"loss"`` series, no epoch, or series of different lengths.

    Examples
    --------
    >>> fig = history({"loss": [1.0, 0.5, 0.25]}, title="spiral")  # doctest: +SKIP
    >>> fig.savefig("history.png")  # doctest: +SKIP
    """
    record = getattr(history, "history", history)
    if not isinstance(record, Mapping):
        raise TypeError(
            f"history must be a ferronet History or a dict of per-epoch lists; got {type(history).__name__}"
        )
    if "loss" not in record:
        raise ValueError(f"history must have a 'loss' series; got keys {sorted(record)}")
    series = {key: _series(values, key) for key, values in record.items() if key != "epoch_seconds"}
    epochs = len(series["loss"])
    if epochs == 0:
        raise ValueError("history holds no epochs: train for at least one epoch before plotting")
    for key, values in series.items():
        if len(values) != epochs:
            raise ValueError(f"history[{key!r}] has {len(values)} values; 'loss' has {epochs}")

    panels: list[tuple[str, tuple[str, ...]]] = [("loss", ("loss", "val_loss"))]
    if "accuracy" in series:
        panels.append(("accuracy", ("accuracy", "val_accuracy")))
    lr = series.get("lr")
    if lr is not None and len(lr) and not (lr == lr[0]).all():  # compared, not subtracted: inf - inf warns
        panels.append(("learning rate", ("lr",)))
    fig = _new_figure(4.2 * len(panels), 3.4)
    from matplotlib.ticker import MaxNLocator

    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    x = np.arange(1, epochs + 1)
    for ax, (label, keys) in zip(axes, panels, strict=True):
        for key in keys:
            if key in series:
                ax.plot(x, series[key], label=key, marker="o" if epochs <= 30 else None, markersize=3)
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs are whole: no 2.5 ticks on short runs
        ax.set_ylabel(label)
        if label == "learning rate" and lr is not None and _log_scalable(lr):
            ax.set_yscale("log")
        ax.grid(alpha=0.3)
        ax.legend()
    if title:
        fig.suptitle(title)
    return fig


def _log_scalable(values: np.ndarray) -> bool:
    """Positive finite values that matplotlib can put on a log axis (its ticks overflow near the float limits)."""
    finite = values[np.isfinite(values)]
    return bool(finite.size) and bool(finite.min() > 1e-300) and bool(finite.max() < 1e300)


# ---- decision boundary -----------------------------------------------------------------------------------------


def decision_boundary(
    model: Any,
    X: Any,
    y: Any,
    *,
    resolution: int = 200,
    ax: Axes | None = None,
    title: str | None = None,
) -> Figure:
    """The classes ``model.predict`` assigns over the plane, with the points (X, y) on top.

    Parameters
    ----------
    model : Sequential or estimator
        A classifier with 2 inputs whose ``predict`` returns one integer class label per row (a ferronet
        ``Sequential`` classifier, or any estimator with such a ``predict``).
    X : array-like of shape (n_samples, 2)
        The points to draw; the plotted area is their bounding box plus a margin.
    y : array-like of shape (n_samples,)
        Their integer class labels (the colours).
    resolution : int, default 200
        The grid size per axis, 2 to 2000.
    ax : matplotlib.axes.Axes, optional
        Draw into this Axes (for side-by-side comparisons) instead of a new figure.
    title : str, optional
        The Axes' title.

    Returns
    -------
    matplotlib.figure.Figure
        A new figure, or the figure that holds ``ax``.

    Raises
    ------
    ImportError
        If matplotlib is not installed.
    TypeError
        If ``model`` has no ``predict`` method.
    ValueError
        If the model or X does not have 2 inputs, the labels are not valid, or ``predict`` does not return one
        integer label per row.
    """
    if not callable(getattr(model, "predict", None)):
        raise TypeError(f"model must have a predict method; got {type(model).__name__}")
    input_dim = getattr(model, "input_dim", None)
    if isinstance(input_dim, int) and input_dim != 2:
        raise ValueError(f"decision_boundary needs a model with 2 inputs; this model has input_dim={input_dim}")
    features = check_features(X, "X", np.dtype("float64"))
    if features.shape[1] != 2:
        raise ValueError(f"decision_boundary needs 2-D inputs: X must have 2 features; got {features.shape[1]}")
    labels = check_labels(y, "y", n_samples=features.shape[0])
    resolution = check_int(resolution, "resolution", minimum=2, maximum=2000)

    low, high = features.min(axis=0), features.max(axis=0)
    pad = np.maximum((high - low) * 0.1, 0.5)
    xs = np.linspace(low[0] - pad[0], high[0] + pad[0], resolution)
    ys = np.linspace(low[1] - pad[1], high[1] + pad[1], resolution)
    grid_x, grid_y = np.meshgrid(xs, ys)
    predicted = np.asarray(model.predict(np.column_stack([grid_x.ravel(), grid_y.ravel()])))
    if predicted.ndim != 1 or predicted.dtype.kind not in "iub":
        raise ValueError(
            f"decision_boundary needs a classifier whose predict returns one class label per row; got shape {predicted.shape}, dtype {predicted.dtype}"
        )
    n_classes = int(max(predicted.max(), labels.max())) + 1
    colors = _class_colors(n_classes)

    if ax is None:
        fig = _new_figure(5.0, 4.5)
        ax = fig.add_subplot()
    else:
        from matplotlib.figure import Figure as RootFigure

        parent = ax.figure
        fig = parent if isinstance(parent, RootFigure) else parent.figure  # a SubFigure's .figure is the root
    levels = np.arange(n_classes + 1) - 0.5
    ax.contourf(grid_x, grid_y, predicted.reshape(grid_x.shape), levels=levels, colors=colors, alpha=0.3)
    ax.scatter(features[:, 0], features[:, 1], c=[colors[i] for i in labels], s=14, edgecolors="black", linewidths=0.4)
    ax.set_xlim(xs[0], xs[-1])
    ax.set_ylim(ys[0], ys[-1])
    ax.set_xlabel("x1")
    ax.set_ylabel("x2")
    if title:
        ax.set_title(title)
    return fig


# ---- per-layer statistics --------------------------------------------------------------------------------------


def _check_stats(stats: Any, name: str = "stats") -> list[Mapping[str, Any]]:
    if isinstance(stats, Mapping) or not isinstance(stats, Sequence) or isinstance(stats, (str, bytes)):
        raise TypeError(f"{name} must be the list that ferronet.diagnostics.layer_stats returns")
    if not stats:
        raise ValueError(f"{name} holds no layers")
    for index, row in enumerate(stats):
        if not isinstance(row, Mapping):
            raise TypeError(f"{name}[{index}] must be a dict from layer_stats; got {type(row).__name__}")
        missing = [key for key in STAT_KEYS if key not in row]
        if missing:
            raise ValueError(f"{name}[{index}] lacks the layer_stats keys {missing}")
    return list(stats)


def layer_histograms(
    stats: Any, *, which: HistogramKind = "activation", columns: int = 5, title: str | None = None
) -> Figure:
    """One histogram per layer of ``layer_stats`` output, each titled with the layer's name and standard deviation.

    Parameters
    ----------
    stats : list of dict
        What ``ferronet.diagnostics.layer_stats`` returns.
    which : {"activation", "grad"}, default "activation"
        The layer outputs, or d loss / d output.
    columns : int, default 5
        Histograms per row, 1 to 50.
    title : str, optional
        The figure's title (by default it says what is shown).

    Returns
    -------
    matplotlib.figure.Figure
        The grid of histograms.

    Raises
    ------
    ImportError
        If matplotlib is not installed.
    TypeError, ValueError
        If ``stats`` is not a non-empty ``layer_stats`` list, or an argument is not allowed.
    """
    rows = _check_stats(stats)
    check_choice(which, "which", ("activation", "grad"))
    columns = check_int(columns, "columns", minimum=1, maximum=50)
    columns = min(columns, len(rows))
    lines = math.ceil(len(rows) / columns)
    fig = _new_figure(2.6 * columns, 2.1 * lines)
    axes = fig.subplots(lines, columns, squeeze=False).ravel()
    for ax, row in zip(axes, rows, strict=False):
        counts, edges = row[f"{which}_hist"]
        ax.stairs(counts, edges, fill=True, alpha=0.8)
        ax.set_title(f"{row['name']}\nstd {row[f'{which}_std']:.2e}", fontsize=8)
        ax.tick_params(labelsize=6)
        ax.ticklabel_format(axis="x", style="sci", scilimits=(-2, 3))
        ax.xaxis.get_offset_text().set_fontsize(6)
    for ax in axes[len(rows) :]:
        ax.set_visible(False)
    fig.suptitle(title or ("layer outputs" if which == "activation" else "d loss / d layer output"))
    return fig


def _per_dense_block(rows: list[Mapping[str, Any]]) -> tuple[list[float], list[float]]:
    """(output std, weight-gradient std) per Dense layer and the layers that follow it up to the next Dense."""
    output_std: list[float] = []
    weight_grad_std: list[float] = []
    for row in rows:
        if row["kind"] == "dense":
            output_std.append(row["activation_std"])
            weight_grad_std.append(row["weight_grad_std"])
        elif output_std:
            output_std[-1] = row["activation_std"]  # the block's output is its last layer's
    return output_std, weight_grad_std


def layer_std(runs: Any, *, title: str | None = None) -> Figure:
    """Standard deviation of each Dense block's output and of its weight gradient against depth, on log scales.

    A block is a Dense layer with the BatchNorm/Activation/Dropout layers after it, so networks with and without
    BatchNorm align. Zeros, which a log axis cannot show, are left out.

    Parameters
    ----------
    runs : list of dict, or dict of str to list of dict
        One ``layer_stats`` list, or ``{label: layer_stats list}`` to compare networks (one line each).
    title : str, optional
        The figure's title.

    Returns
    -------
    matplotlib.figure.Figure
        Two panels: block output std and weight-gradient std against depth.

    Raises
    ------
    ImportError
        If matplotlib is not installed.
    TypeError, ValueError
        If a run is not a ``layer_stats`` list or has no Dense layer, or ``runs`` is empty.
    """
    labelled = dict(runs) if isinstance(runs, Mapping) else {"": runs}
    if not labelled:
        raise ValueError("runs holds no layer_stats lists")
    fig = _new_figure(9.0, 3.6)
    act_ax, grad_ax = fig.subplots(1, 2)
    for label, stats in labelled.items():
        output_std, weight_grad_std = _per_dense_block(_check_stats(stats, f"runs[{label!r}]" if label else "runs"))
        if not output_std:
            raise ValueError(f"runs[{label!r}] has no Dense layer")
        depth = np.arange(1, len(output_std) + 1)
        # log axes cannot show zeros: leave those points out instead of warning
        act_ax.plot(depth, _positive(output_std), marker="o", markersize=3, label=label or None)
        grad_ax.plot(depth, _positive(weight_grad_std), marker="o", markersize=3, label=label or None)
    for ax, ylabel in ((act_ax, "std of block output"), (grad_ax, "std of d objective / dW")):
        ax.set_yscale("log")
        ax.set_xlabel("Dense layer (depth)")
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3, which="both")
        if any(labelled):
            ax.legend()
    if title:
        fig.suptitle(title)
    return fig


def _positive(values: list[float]) -> np.ndarray:
    array = np.asarray(values, dtype=np.float64)
    return np.where(array > 0, array, np.nan)


__all__ = ["decision_boundary", "history", "layer_histograms", "layer_std"]
