"""Live plot of the training losses: one curve per loss, appended in place."""

from __future__ import annotations

import numpy as np
from qtpy.QtWidgets import QLabel, QVBoxLayout, QWidget

from ..losses import LOSS_DESCRIPTIONS, loss_label

try:
    import pyqtgraph as pg
except ImportError:  # napari does not bring it: the plugin installed into a napari
    pg = None  # the latest losses as text instead (the dock failed to open)

#: The losses as text, without pyqtgraph.
NO_PLOT_NOTE = "Install pyqtgraph for a plot of the losses (pip install pyqtgraph)."

#: Weight of the newest value in the plotted moving average. Single steps
#: alternate between reconstruction and sampling iterations and are noisy;
#: the average shows the trend.
SMOOTHING = 0.15

# Colour-blind-safe (Okabe-Ito) colours, one per loss in order of appearance, on
# napari's dark canvas: eight clearly different ones (a UX pass found orange beside
# yellow and pink beside red too alike to tell the curves apart).
CURVE_COLOURS = ["#E69F00", "#56B4E9", "#009E73", "#FFFFFF", "#CC79A7", "#F0E442",
                 "#8080FF", "#999999"]


class LossPlot(QWidget):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.curves: dict[str, object] = {}
        self._steps: dict[str, list[int]] = {}
        self._values: dict[str, list[float]] = {}
        self._smoothed: dict[str, list[float]] = {}
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        if pg is None:
            self.plot = self.legend = None
            self.view = QLabel(NO_PLOT_NOTE)
            self.view.setWordWrap(True)
        else:
            self._make_plot()
        layout.addWidget(self.view)
        self.view.setToolTip("<br>".join(f"<b>{label}</b>: {meaning}"
                                         for label, meaning in LOSS_DESCRIPTIONS.values()))

    def _make_plot(self) -> None:
        self.view = pg.GraphicsLayoutWidget()
        self.view.setBackground(None)
        self.view.setMinimumHeight(280)  # the plot, and four rows of legend
        self.plot = self.view.addPlot(row=0, col=0)
        self.plot.setLabel("bottom", "step")
        self.plot.setLabel("left", "loss (log, smoothed)")
        self.plot.setContentsMargins(0, 0, 14, 0)  # room for the last x tick label
        # Losses span orders of magnitude; a log axis keeps every curve readable.
        self.plot.setLogMode(y=True)
        self.plot.showGrid(x=True, y=True, alpha=0.2)
        self.plot.setMouseEnabled(x=False, y=False)
        # The legend sits under the plot, not over the curves; two columns fit a
        # narrow dock (with four, a first user saw 'advers' and 'semant' cut off).
        self.legend = pg.LegendItem(colCount=2, labelTextSize="8pt")
        self.view.addItem(self.legend, row=1, col=0)

    def clear(self) -> None:
        if self.plot is not None:
            for curve in self.curves.values():
                self.plot.removeItem(curve)
            self.legend.clear()
        else:
            self.view.setText(NO_PLOT_NOTE)
        self.curves.clear()
        self._steps.clear()
        self._values.clear()
        self._smoothed.clear()

    def add_point(self, step: int, losses: dict[str, float]) -> None:
        for name, value in losses.items():
            if name not in self._steps:
                if self.plot is not None:
                    colour = CURVE_COLOURS[len(self.curves) % len(CURVE_COLOURS)]
                    curve = self.plot.plot([], [], pen=pg.mkPen(colour, width=1.5))
                    self.legend.addItem(curve, loss_label(name))
                    self.curves[name] = curve
                self._steps[name], self._values[name], self._smoothed[name] = [], [], []
            if not value > 0:  # a log axis cannot show 0 (e.g. a perfect fixed point)
                continue
            self._steps[name].append(step)
            self._values[name].append(float(value))
            smoothed = self._smoothed[name]
            # Averaged in log space, like the axis shows it.
            log_value = np.log10(float(value))
            smoothed.append(log_value if not smoothed else
                            (1 - SMOOTHING) * smoothed[-1] + SMOOTHING * log_value)
            if self.plot is not None:
                self.curves[name].setData(np.asarray(self._steps[name]), 10.0 ** np.asarray(smoothed))
        if self.plot is None:
            latest = " · ".join(f"{loss_label(name)} {10.0 ** values[-1]:.3g}"
                                for name, values in self._smoothed.items() if values)
            self.view.setText(f"Step {step}, smoothed: {latest}\n{NO_PLOT_NOTE}")

    def series(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """(steps, raw values) of one loss (the plot shows them smoothed)."""
        return np.asarray(self._steps.get(name, [])), np.asarray(self._values.get(name, []))
