"""Synthesize button, the "live" toggle and a side-by-side view toggle."""

from __future__ import annotations

from qtpy.QtWidgets import QCheckBox, QGridLayout, QPushButton, QWidget


class SynthesisControls(QWidget):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.synthesize_button = QPushButton("Synthesize")
        self.synthesize_button.setToolTip("Render the source's appearance in the target layout.")
        self.synthesize_button.setEnabled(False)
        self.live = QCheckBox("Live: re-synthesize while painting")
        self.live.setToolTip("Every brush stroke on the target labels updates the output "
                             "(about 0.3 s after you stop painting).")
        self.side_by_side = QCheckBox("Side by side (grid view)")
        self.side_by_side.setToolTip("Show the layers next to each other instead of stacked.")
        layout = QGridLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.synthesize_button, 0, 0, 1, 2)
        layout.addWidget(self.live, 1, 0, 1, 2)
        layout.addWidget(self.side_by_side, 2, 0, 1, 2)

    def set_model_available(self, available: bool) -> None:
        self.synthesize_button.setEnabled(available)

    def set_busy(self, busy: bool) -> None:
        self.synthesize_button.setText("Synthesizing…" if busy else "Synthesize")


def set_grid_view(viewer, on: bool) -> None:
    """napari's grid view (each visible layer in its own panel) on or off."""
    # napari 0.9 moved the grid to viewer.canvas.grid; older versions have viewer.grid.
    canvas = getattr(viewer, "canvas", None)
    grid = canvas.grid if canvas is not None and hasattr(canvas, "grid") else viewer.grid
    grid.enabled = on
    viewer.reset_view()
