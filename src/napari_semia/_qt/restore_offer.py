"""The offer to restore a checkpoint found for the chosen layers."""

from __future__ import annotations

from qtpy.QtCore import Signal
from qtpy.QtWidgets import QFrame, QHBoxLayout, QPushButton, QVBoxLayout

from ..checkpoints import CheckpointInfo
from .sections import WrappingLabel


class RestoreOffer(QFrame):
    """Hidden until :meth:`offer`; says what was found, with Restore and Discard."""

    restore = Signal(object)  # CheckpointInfo
    discard = Signal(object)  # CheckpointInfo

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.info: CheckpointInfo | None = None
        self.plane: tuple[int, ...] = ()
        self.label = WrappingLabel()
        self.restore_button = QPushButton("Restore")
        self.restore_button.setToolTip("Load the checkpointed model: synthesize, or train it further.")
        self.discard_button = QPushButton("Discard")
        self.discard_button.setToolTip("Delete this model from the cache (asked first).")
        buttons = QHBoxLayout()
        buttons.addWidget(self.restore_button)
        buttons.addWidget(self.discard_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.label)
        layout.addLayout(buttons)
        self.restore_button.clicked.connect(lambda: self._answer(self.restore))
        self.discard_button.clicked.connect(lambda: self._answer(self.discard))
        self.setVisible(False)

    def offer(self, info: CheckpointInfo | None, plane: tuple[int, ...] = ()) -> None:
        """``plane``: the stack's plane it was trained on, where that is not the one on display."""
        self.info, self.plane = info, tuple(plane)
        if info is not None:
            where = (f" on plane {', '.join(str(i) for i in plane)} of the stack (move the slider there "
                     "to see the source it learned)" if plane else "")
            self.label.setText(
                f"A model trained on these layers{where} was never saved to a file: {info.steps} "
                f"steps, from {info.saved_at_local}. Restore it?")
        self.setVisible(info is not None)

    def _answer(self, signal) -> None:
        info, self.info = self.info, None
        self.setVisible(False)
        if info is not None:
            signal.emit(info)
