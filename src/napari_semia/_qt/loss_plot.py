"""Live plot of the training losses: one curve per loss, appended in place."""

from __future__ import annotations

import numpy as np
from qtpy.QtWidgets import QLabel, QVBoxLayout, QWidget

from ..losses import LOSS_DESCRIPTIONS, loss_label
from .theme import DockColours, dock_colours

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

class LossPlot(QWidget):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.curves: dict[str, object] = {}
        self._steps: dict[str, list[int]] = {}
        self._values: dict[str, list[float]] = {}
        self._smoothed: dict[str, list[float]] = {}
        self._colours: DockColours = dock_colours("dark")
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
        self.plot.setContentsMargins(0, 0, 14, 0)  # room for the last x tick label
        # Losses span orders of magnitude; a log axis keeps every curve readable.
        self.plot.setLogMode(y=True)
        # Plain loss values: with a narrow range the automatic SI prefix made the axis
        # read "(x0.001)", its ticks 6·10², 10¹, 9, 8 and so on, run into each other.
        self.plot.getAxis("left").enableAutoSIPrefix(False)
        self.plot.showGrid(x=True, y=True, alpha=0.2)
        self.plot.setMouseEnabled(x=False, y=False)
        # The legend sits under the plot, not over the curves; two columns fit a
        # narrow dock (with four, a first user saw 'advers' and 'semant' cut off).
        self.legend = pg.LegendItem(colCount=2, labelTextSize="8pt")
        self.view.addItem(self.legend, row=1, col=0)
        self._apply_colours()

    def set_colours(self, colours: DockColours) -> None:
        """Follow napari's theme (curves, axes, legend), also for the curves drawn so far."""
        self._colours = colours
        if self.plot is not None:
            self._apply_colours()

    def _curve_colour(self, number: int) -> str:
        curves = self._colours.curves
        return curves[number % len(curves)]

    def _apply_colours(self) -> None:
        text = self._colours.text
        for side, title in (("bottom", "step"), ("left", "loss (log, smoothed)")):
            axis = self.plot.getAxis(side)
            axis.setPen(pg.mkPen(text))
            axis.setTextPen(pg.mkPen(text))
            self.plot.setLabel(side, title, color=text)
        self.legend.setLabelTextColor(text)  # for labels added from now on
        for _sample, label in self.legend.items:  # and those already there
            label.setText(label.text, color=text)
        for number, curve in enumerate(self.curves.values()):
            curve.setPen(pg.mkPen(self._curve_colour(number), width=1.5))

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
                    colour = self._curve_colour(len(self.curves))
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
