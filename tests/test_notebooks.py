"""In Jupyter, a cell ending in a ``ferronet.plot`` call shows the picture, and ``fit(progress=...)`` shows a bar:
tests/notebooks/plot_and_progress.ipynb runs in a real kernel (nbclient + ipykernel), headless."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import ferronet
import pytest

nbclient = pytest.importorskip("nbclient", reason="nbclient runs the notebook (a [test] dependency)")
nbformat = pytest.importorskip("nbformat", reason="nbformat reads the notebook (a [test] dependency)")
pytest.importorskip("ipykernel", reason="ipykernel is the notebook's kernel (a [test] dependency)")

NOTEBOOK = Path(__file__).parent / "notebooks" / "plot_and_progress.ipynb"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
WIDGET = "application/vnd.jupyter.widget-view+json"


@pytest.fixture(scope="module")
def notebook():
    """The notebook after running it in a fresh kernel."""
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    # The kernel imports the ferronet under test (a source tree or an installed wheel) and no other.
    env = dict(os.environ)
    package_parent = str(Path(ferronet.__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_parent, env.get("PYTHONPATH")]))
    env["JUPYTER_PLATFORM_DIRS"] = "1"  # jupyter_core's platformdirs migration warning otherwise
    client = nbclient.NotebookClient(
        notebook,
        timeout=60,
        startup_timeout=60,
        kernel_name="python3",
        resources={"metadata": {"path": NOTEBOOK.parent}},
    )
    client.execute(env=env)
    return notebook


@pytest.fixture(scope="module")
def executed(notebook) -> dict[str, list[dict]]:
    """The outputs of each cell, by cell id."""
    return {cell["id"]: cell.get("outputs", []) for cell in notebook.cells}


def stderr_text(outputs: list[dict]) -> str:
    return "".join(
        output["text"] for output in outputs if output["output_type"] == "stream" and output["name"] == "stderr"
    )


@pytest.mark.parametrize("cell", ["cell-3", "cell-4"], ids=["history", "decision_boundary"])
def test_a_plot_at_the_end_of_a_cell_shows_as_a_png(executed, cell):
    results = [output for output in executed[cell] if output["output_type"] in ("execute_result", "display_data")]
    assert len(results) == 1, executed[cell]
    data = results[0]["data"]
    assert "image/png" in data, sorted(data)
    png = base64.b64decode(data["image/png"])
    assert png.startswith(PNG_SIGNATURE) and len(png) > 5_000


def test_progress_auto_shows_a_widget_bar_per_epoch(notebook, executed):
    outputs = executed["cell-2"]
    widgets = [output for output in outputs if output["output_type"] == "display_data" and WIDGET in output["data"]]
    assert [output["data"]["text/plain"].split(":")[0] for output in widgets] == ["epoch 1/2", "epoch 2/2"]
    assert stderr_text(outputs) == ""
    # the widgets' final state (saved by nbclient): both bars ran to the 90 rows of their epoch
    state = notebook.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    bars = [model["state"] for model in state.values() if model["model_name"] == "FloatProgressModel"]
    assert [(bar["value"], bar["max"]) for bar in bars] == [(90, 90), (90, 90)]


def test_without_ipywidgets_the_bar_is_text_on_stderr(executed):
    text = stderr_text(executed["cell-5"])
    # the model trained 2 epochs in cell-2: this fit's one epoch is its third
    assert "epoch 3/3" in text and "90/90" in text and "loss=" in text
    assert "Warning" not in text  # no TqdmWarning about the missing widgets


def test_no_cell_warns_or_fails(executed):
    for cell, outputs in executed.items():
        assert not [output for output in outputs if output["output_type"] == "error"], cell
        assert "Warning" not in stderr_text(outputs), cell
