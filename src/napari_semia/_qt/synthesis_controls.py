"""Synthesize button, the "live" toggle and a side-by-side view toggle."""

from __future__ import annotations

from qtpy.QtWidgets import QCheckBox, QGridLayout, QPushButton, QWidget

from .state import WidgetState

_TOOLTIP = ("Render the source's appearance in the target layout: a fast result at once, then "
            "the full-resolution one, made of the source's own detail.")
_TOOLTIP_NO_MODEL = ("No model yet: a first result with no training (seconds for a small image, a "
                     "minute or so for tens of megapixels), made of pieces of "
                     "the source copied into the target layout.")
_TOOLTIP_TRAINING = ("Waits until training has ended (it synthesizes the target by itself then); "
                     "meanwhile the previews show the target.")


class SynthesisControls(QWidget):
    """Synthesize / Live / side by side; enabled from the widget state alone."""

    def __init__(self, state: WidgetState, parent=None):
        super().__init__(parent)
        self.state = state
        self.synthesize_button = QPushButton("Synthesize")
        self.stop_button = QPushButton("Stop")
        self.stop_button.setToolTip("Stop the synthesis running: the output keeps what it shows "
                                    "(the fast result, or the last one). Synthesize or a new stroke "
                                    "starts again.")
        self.stop_button.setEnabled(False)
        self.live = QCheckBox("Live: re-synthesize while painting")
        self.live.setToolTip("Every brush stroke (and undo / redo) on the target labels updates "
                             "the output, about 0.3 s after you stop painting: the fast result "
                             "first, then the full-resolution one (a new stroke cancels it). While "
                             "training, the next preview shows the edited layout. Before there is a "
                             "model, the result from the labels alone. The target lies over the "
                             "output while you paint: tick Side by side to see both.")
        self.side_by_side = QCheckBox("Side by side (grid view)")
        self.side_by_side.setToolTip("Show the layers next to each other instead of stacked.")
        layout = QGridLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        # As Train / Stop: a full-resolution stage of a large image runs a minute and more.
        layout.addWidget(self.synthesize_button, 0, 0)
        layout.addWidget(self.stop_button, 0, 1)
        layout.setColumnStretch(0, 1)
        layout.setColumnStretch(1, 1)
        layout.addWidget(self.live, 1, 0, 1, 2)
        layout.addWidget(self.side_by_side, 2, 0, 1, 2)
        state.events.connect(self._follow_state)
        self._follow_state()

    def _follow_state(self, *_args) -> None:
        state = self.state
        self.synthesize_button.setEnabled(not state.training)
        busy = state.synthesizing and not state.training  # (Train cancels it: it is ending)
        self.stop_button.setEnabled(busy)
        text = "Synthesize" if state.has_model else "Synthesize from the labels alone"
        tooltip = _TOOLTIP if state.has_model else _TOOLTIP_NO_MODEL
        if state.training:
            text, tooltip = "Synthesize", _TOOLTIP_TRAINING
        self.synthesize_button.setToolTip(tooltip)
        if busy:
            text = (f"Full resolution… {state.synthesis_fraction:.0%}"
                    if state.synthesis_fraction > 0 else "Synthesizing…")
        self.synthesize_button.setText(text)


def grid_of(viewer):
    """napari's grid view settings (its ``enabled`` event says when it is switched)."""
    # napari 0.9 moved the grid to viewer.canvas.grid; older versions have viewer.grid.
    canvas = getattr(viewer, "canvas", None)
    return canvas.grid if canvas is not None and hasattr(canvas, "grid") else viewer.grid


def set_grid_view(viewer, on: bool) -> None:
    """napari's grid view (each visible layer in its own panel) on or off."""
    grid = grid_of(viewer)
    if grid.enabled == on:
        return
    grid.enabled = on
    viewer.reset_view()
