"""fnet.plot: every figure renders to a real PNG with the Agg backend, and bad input is rejected clearly."""

from __future__ import annotations

import pickle

import ferronet as fnet
import matplotlib  # the [test] extra installs it: a missing matplotlib fails here rather than skipping
import numpy as np
import pytest
from conftest import classification_data
from matplotlib.figure import Figure
from matplotlib.image import imread

matplotlib.use("Agg")

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def render(fig, path) -> np.ndarray:
    """Save ``fig`` as PNG and return its pixels, after checking the file is a PNG with something drawn on it."""
    assert isinstance(fig, Figure)
    fig.savefig(path, dpi=60)
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE
    assert len(data) > 5_000
    pixels = imread(path)
    assert pixels.ndim == 3 and pixels.shape[0] > 100 and pixels.shape[1] > 100
    colors = np.unique(pixels.reshape(-1, pixels.shape[2]), axis=0)
    assert len(colors) > 10  # more than a blank canvas
    return pixels


@pytest.fixture(scope="module")
def spiral_model():
    X, y = fnet.datasets.make_spiral(n_per_class=40, n_classes=3, seed=0)
    model = fnet.Sequential([fnet.Dense(32, activation="relu"), fnet.Dense(3)], input_dim=2, seed=0)
    history = model.fit(
        X,
        y,
        epochs=12,
        batch_size=40,
        optimizer=fnet.optim.SGD(lr=0.5, momentum=0.9),
        schedule=fnet.schedules.StepDecay(factor=0.5, every=4),
        validation_split=0.2,
    )
    return model, X, y, history


def test_history_plots_loss_accuracy_and_a_changing_learning_rate(spiral_model, tmp_path):
    _, _, _, history = spiral_model
    fig = fnet.plot.history(history, title="spiral")
    titles = [ax.get_ylabel() for ax in fig.axes]
    assert titles == ["loss", "accuracy", "learning rate"]
    assert [line.get_label() for line in fig.axes[0].lines] == ["loss", "val_loss"]
    np.testing.assert_allclose(fig.axes[0].lines[0].get_ydata(), history.history["loss"])
    render(fig, tmp_path / "history.png")


@pytest.mark.parametrize("epochs", [2, 3, 7])
def test_history_ticks_are_whole_epochs(epochs):
    fig = fnet.plot.history({"loss": [1.0 / (e + 1) for e in range(epochs)], "val_loss": [1.0] * epochs})
    fig.canvas.draw()
    ticks = [tick for tick in fig.axes[0].get_xticks() if 1 <= tick <= epochs]
    assert ticks and all(float(tick).is_integer() for tick in ticks), ticks
    assert [line.get_label() for line in fig.axes[0].lines] == ["loss", "val_loss"]


@pytest.mark.parametrize(
    "record",
    [
        {"loss": [1.4], "lr": [float("inf")]},
        {"loss": [0.6, 0.1], "val_loss": [1.5, 0.5], "lr": [0.9, 1e308]},
        {"loss": [1.0, 2.0], "lr": [float("nan"), 1.0]},
        {"loss": [1e308, -1e308]},
        {"loss": [float("nan"), float("inf")]},
    ],
    ids=["inf-lr", "lr-near-float-max", "nan-lr", "huge-losses", "nan-inf-losses"],
)
def test_history_with_extreme_values_draws_without_warnings(record):
    # found by fuzz/fuzz_api.py: inf - inf in the "did the rate change" test, log ticks overflowing near 1e308
    fnet.plot.history(record).canvas.draw()  # filterwarnings=error: any warning fails


def test_history_with_a_number_beyond_float_is_a_value_error():
    with pytest.raises(ValueError, match=r"history\['loss'\] holds a number too large for a float"):
        fnet.plot.history({"loss": [10**400, 1.0]})


def test_history_without_accuracy_or_schedule(tmp_path):
    fig = fnet.plot.history({"loss": [1.0, 0.5, 0.25], "lr": [0.1, 0.1, 0.1]})
    assert [ax.get_ylabel() for ax in fig.axes] == ["loss"]  # a constant rate is not worth a panel
    render(fig, tmp_path / "loss.png")


def test_decision_boundary_colours_the_predicted_regions(spiral_model, tmp_path):
    model, X, y, _ = spiral_model
    fig = fnet.plot.decision_boundary(model, X, y, resolution=80, title="2-layer ReLU")
    pixels = render(fig, tmp_path / "boundary.png")
    assert pixels.shape[1] >= 250
    ax = fig.axes[0]
    assert ax.get_title() == "2-layer ReLU"
    assert len(ax.collections) >= 2  # the filled regions and the points


def test_decision_boundaries_side_by_side_on_given_axes(spiral_model, tmp_path):
    model, X, y, _ = spiral_model
    linear = fnet.Sequential([fnet.Dense(3)], input_dim=2, seed=0)
    fig = Figure(figsize=(8, 4))
    left, right = fig.subplots(1, 2)
    assert fnet.plot.decision_boundary(linear, X, y, ax=left, resolution=50) is fig
    assert fnet.plot.decision_boundary(model, X, y, ax=right, resolution=50) is fig
    render(fig, tmp_path / "both.png")
    root = Figure()
    inner = root.subfigures(1, 2)[1].add_subplot()
    assert fnet.plot.decision_boundary(model, X, y, ax=inner, resolution=10) is root  # the root, not the SubFigure


def test_decision_boundary_rejects_bad_input():
    X, y = classification_data(n=20, d=3, k=3)
    model3 = fnet.Sequential([fnet.Dense(3)], input_dim=3)
    with pytest.raises(ValueError, match="2 inputs; this model has input_dim=3"):
        fnet.plot.decision_boundary(model3, X, y)
    model2 = fnet.Sequential([fnet.Dense(3)], input_dim=2)
    with pytest.raises(ValueError, match="X must have 2 features; got 3"):
        fnet.plot.decision_boundary(model2, X, y)
    with pytest.raises(ValueError, match="y has 19 labels"):
        fnet.plot.decision_boundary(model2, X[:, :2], y[:19])
    with pytest.raises(ValueError, match="resolution must be >= 2"):
        fnet.plot.decision_boundary(model2, X[:, :2], y, resolution=1)
    with pytest.raises(TypeError, match="predict"):
        fnet.plot.decision_boundary(object(), X[:, :2], y)
    regressor = fnet.Sequential([fnet.Dense(2)], input_dim=2, loss="mse")
    with pytest.raises(ValueError, match="needs a classifier"):
        fnet.plot.decision_boundary(regressor, X[:, :2], y)


@pytest.fixture(scope="module")
def stats():
    X, y = classification_data(n=30, d=6, k=3, seed=4)
    model = fnet.Sequential(
        [fnet.Dense(16), fnet.BatchNorm(), fnet.Activation("relu"), fnet.Dense(8, activation="tanh"), fnet.Dense(3)],
        input_dim=6,
        seed=0,
    )
    return fnet.diagnostics.layer_stats(model, X, y)


@pytest.mark.parametrize("which", ["activation", "grad"])
def test_layer_histograms_one_panel_per_layer(stats, which, tmp_path):
    fig = fnet.plot.layer_histograms(stats, which=which, columns=3)
    visible = [ax for ax in fig.axes if ax.get_visible()]
    assert len(visible) == len(stats) == 5 and len(fig.axes) == 6  # a 2 x 3 grid, the spare panel hidden
    assert visible[1].get_title().startswith("batchnorm_1\nstd ")
    render(fig, tmp_path / f"{which}.png")


def test_layer_std_compares_runs_per_dense_block(stats, tmp_path):
    plain = [row for row in stats if row["kind"] == "dense"]
    fig = fnet.plot.layer_std({"with BatchNorm": stats, "dense rows only": plain})
    act_ax, grad_ax = fig.axes
    first = act_ax.lines[0].get_ydata()
    assert len(first) == 3  # three Dense blocks
    assert first[0] == pytest.approx(stats[2]["activation_std"])  # block 1 ends with its ReLU
    np.testing.assert_allclose(grad_ax.lines[1].get_ydata(), [row["weight_grad_std"] for row in plain])
    render(fig, tmp_path / "std.png")


def test_layer_plots_reject_bad_stats(stats):
    with pytest.raises(TypeError, match="layer_stats"):
        fnet.plot.layer_histograms({"name": "dense_0"})
    with pytest.raises(ValueError, match="no layers"):
        fnet.plot.layer_histograms([])
    with pytest.raises(ValueError, match=r"lacks the layer_stats keys \['activation_hist'"):
        fnet.plot.layer_histograms([{key: value for key, value in stats[0].items() if key != "activation_hist"}])
    with pytest.raises(ValueError, match="which must be one of"):
        fnet.plot.layer_histograms(stats, which="weights")
    with pytest.raises(ValueError, match="no Dense layer"):
        fnet.plot.layer_std({"x": [row for row in stats if row["kind"] != "dense"]})


def test_history_rejects_bad_input():
    with pytest.raises(TypeError, match="History or a dict"):
        fnet.plot.history([1.0, 2.0])
    with pytest.raises(ValueError, match="'loss' series"):
        fnet.plot.history({"accuracy": [0.5]})
    with pytest.raises(ValueError, match="no epochs"):
        fnet.plot.history({"loss": []})
    with pytest.raises(ValueError, match=r"history\['val_loss'\] has 1 values; 'loss' has 2"):
        fnet.plot.history({"loss": [1.0, 0.5], "val_loss": [1.0]})
    with pytest.raises(TypeError, match="only numbers"):
        fnet.plot.history({"loss": [1.0, "a"]})


def test_figures_display_themselves_as_png_in_ipython(spiral_model, stats):
    """plot builds Figures without pyplot, so IPython's inline backend never sees them: the figures carry their
    own PNG representation, which IPython's display formatter (what Jupyter shows) picks up."""
    formatters = pytest.importorskip("IPython.core.formatters", reason="IPython comes with ipykernel ([test] extra)")
    model, X, y, history = spiral_model
    figures = [
        fnet.plot.history(history),
        fnet.plot.decision_boundary(model, X, y, resolution=30),
        fnet.plot.layer_histograms(stats),
        fnet.plot.layer_std(stats),
    ]
    for fig in figures:
        data, _ = formatters.DisplayFormatter().format(fig)
        assert data["image/png"].startswith(PNG_SIGNATURE) and len(data["image/png"]) > 5_000
        assert data["text/plain"].startswith("<Figure size")
        assert len(pickle.loads(pickle.dumps(fig)).axes) == len(fig.axes)  # still an ordinary, picklable Figure
