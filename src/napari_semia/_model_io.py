"""Save / Load model buttons and a one-line description of the current model.

The file dialogs are two small module-level functions so tests can replace
them (``monkeypatch.setattr(_model_io, "ask_save_path", ...)``).
"""

from __future__ import annotations

from qtpy.QtWidgets import QFileDialog, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from . import _notify as notify
from .errors import SemiaInputError
from .model_file import SemiaModel

FILE_FILTER = "napari-semia model (*.semia);;All files (*)"


def ask_save_path(parent, suggested: str) -> str | None:
    path, _ = QFileDialog.getSaveFileName(parent, "Save napari-semia model", suggested, FILE_FILTER)
    if path and not path.lower().endswith(".semia") and "." not in path.rsplit("/", 1)[-1]:
        path += ".semia"
    return path or None


def ask_open_path(parent) -> str | None:
    path, _ = QFileDialog.getOpenFileName(parent, "Load napari-semia model", "", FILE_FILTER)
    return path or None


def describe_model(model: SemiaModel | None) -> str:
    if model is None:
        return "No model yet."
    height, width = model.source_shape
    return (f"Model: {model.num_classes} classes {list(model.class_ids)}, "
            f"{model.steps_done} step{'s' if model.steps_done != 1 else ''}, source {height} × {width} px.")


class ModelIO(QWidget):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.save_button = QPushButton("Save model…")
        self.save_button.setToolTip("Write the trained model to one .semia file.")
        self.save_button.setEnabled(False)
        self.load_button = QPushButton("Load model…")
        self.load_button.setToolTip("Open a .semia file: synthesize without training again.")
        self.description = QLabel(describe_model(None))
        self.description.setWordWrap(True)
        buttons = QHBoxLayout()
        buttons.addWidget(self.save_button)
        buttons.addWidget(self.load_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(buttons)
        layout.addWidget(self.description)

    def show_model(self, model: SemiaModel | None) -> None:
        self.description.setText(describe_model(model))
        self.save_button.setEnabled(model is not None)

    def save(self, model: SemiaModel | None, suggested: str) -> None:
        if model is None:
            notify.warning("There is no model to save yet: train or load one first.")
            return
        path = ask_save_path(self, suggested)
        if not path:
            return
        try:
            saved = model.save(path)
        except OSError as error:
            notify.error(f"Could not save the model to {path}: {error.strerror or error}")
            return
        notify.info(f"Model saved to {saved}")

    def load(self, device: str) -> SemiaModel | None:
        """Ask for a file and load it; None (after a message) if that fails."""
        path = ask_open_path(self)
        if not path:
            return None
        try:
            model = SemiaModel.load(path, device=device)
        except SemiaInputError as error:  # ModelFileError, or an unavailable device
            notify.error(str(error))
            return None
        notify.info(f"Loaded {path}. {describe_model(model)}")
        return model
