"""Synthesize button, the "live" toggle and a side-by-side view toggle."""

from __future__ import annotations

from qtpy.QtWidgets import QCheckBox, QGridLayout, QPushButton, QWidget

from .state import Phase, WidgetState

_TOOLTIP = ("Render the source's appearance in the target layout: a fast result at once, then "
            "the full-resolution one, made of the source's own detail.")
_TOOLTIP_NO_MODEL = ("No model yet: rebuild the target layout from the source's own patches, in "
                     "seconds, with no training. Train for the generator-guided result, which draws "
                     "new shapes (legs, towers, lips) rather than copying the nearest region of "
                     "their class.")


class SynthesisControls(QWidget):
    """Synthesize / Live / side by side; enabled from the widget state alone."""

    def __init__(self, state: WidgetState, parent=None):
        super().__init__(parent)
        self.state = state
        self.synthesize_button = QPushButton("Synthesize")
        self.live = QCheckBox("Live: re-synthesize while painting")
        self.live.setToolTip("Every brush stroke (and undo / redo) on the target labels updates "
                             "the output, about 0.3 s after you stop painting: the fast result "
                             "first, then the full-resolution one (a new stroke cancels it). While "
                             "training, the next preview shows the edited layout. Before there is a "
                             "model, the result from the labels alone.")
        self.side_by_side = QCheckBox("Side by side (grid view)")
        self.side_by_side.setToolTip("Show the layers next to each other instead of stacked.")
        layout = QGridLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.synthesize_button, 0, 0, 1, 2)
        layout.addWidget(self.live, 1, 0, 1, 2)
        layout.addWidget(self.side_by_side, 2, 0, 1, 2)
        state.events.connect(self._follow_state)
        self._follow_state()

    def _follow_state(self, *_args) -> None:
        state = self.state
        self.synthesize_button.setEnabled(not state.training)
        busy = state.phase is Phase.SYNTHESIZING
        text = "Synthesize" if state.has_model else "Synthesize from the labels alone"
        self.synthesize_button.setToolTip(_TOOLTIP if state.has_model else _TOOLTIP_NO_MODEL)
        if busy:
            text = (f"Synthesizing at full resolution… {state.synthesis_fraction:.0%}"
                    if state.synthesis_fraction > 0 else "Synthesizing…")
        self.synthesize_button.setText(text)


def set_grid_view(viewer, on: bool) -> None:
    """napari's grid view (each visible layer in its own panel) on or off."""
    # napari 0.9 moved the grid to viewer.canvas.grid; older versions have viewer.grid.
    canvas = getattr(viewer, "canvas", None)
    grid = canvas.grid if canvas is not None and hasattr(canvas, "grid") else viewer.grid
    grid.enabled = on
    viewer.reset_view()
