"""The Figure that ``ferronet.plot`` returns: a matplotlib Figure that displays itself in Jupyter.

plot.py builds figures without pyplot (no global state, no GUI backend), so IPython's inline backend never
registers them and a cell ending in ``fnet.plot.history(h)`` would show only ``<Figure size ... with 2 Axes>``.
``_repr_png_`` gives IPython the picture instead; scripts and tests see an ordinary Figure.
"""

from __future__ import annotations

import io

from matplotlib.figure import Figure as MatplotlibFigure


class Figure(MatplotlibFigure):
    """A ``matplotlib.figure.Figure`` with a PNG rich display for Jupyter."""

    def _repr_png_(self) -> bytes:
        buffer = io.BytesIO()
        # Agg, whatever the figure's canvas: printing needs no GUI, and "tight" trims the margins as inline plots do.
        self.savefig(buffer, format="png", bbox_inches="tight", backend="agg")
        return buffer.getvalue()
