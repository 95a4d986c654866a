"""Save / Load model buttons and a one-line description of the current model.

The dialogs are small module-level functions so tests can replace them
(``monkeypatch.setattr(model_io, "ask_save_path", ...)``).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
from qtpy.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from ..errors import SemiaInputError
from ..model import SemiaModel
from . import notify
from .sections import WrappingLabel, enable_saying_why
from .state import WidgetState

FILE_FILTER = "napari-semia model (*.semia);;All files (*)"


def suggested_file_name(layer_name: str | None) -> str:
    """A model file name from a layer's name, safe on every platform and in a shell:
    runs of spaces and of characters other than letters, digits, '.', '-' and '_'
    become one '_' ("coffee image" -> "coffee_image.semia")."""
    stem = re.sub(r"[^\w.-]+", "_", layer_name or "").strip("._")
    first, dot, rest = stem.partition(".")
    if first.upper() in _WINDOWS_DEVICE_NAMES:
        # ('con', a control image, named the console device, with any extension; a
        # portability audit.)
        stem = f"{first}_model{dot}{rest}"
    return f"{stem or 'model'}.semia"


#: Names Windows keeps for devices, whatever their extension.
_WINDOWS_DEVICE_NAMES = frozenset({"CON", "PRN", "AUX", "NUL", *(f"COM{n}" for n in range(1, 10)),
                                   *(f"LPT{n}" for n in range(1, 10))})


def suggested_model_path(layer_name: str | None, source_file: str | None) -> str:
    """Where Save model suggests writing: beside the source's file when it was opened
    from one into a folder that can be written, else the name alone (napari's working
    folder). The name alone put every model in one folder: the paper's examples all
    have an img.png, and each one's img.semia was offered over the last."""
    name = suggested_file_name(layer_name)
    if source_file:
        folder = Path(source_file).parent
        if folder.is_dir() and os.access(folder, os.W_OK):
            return str(folder / name)
    from .dataset_controls import default_parent

    # (Not a file system's root or a system folder, where napari started from the
    # Dock or Finder works: the home folder then; a review.)
    parent = default_parent()
    return name if parent == Path.cwd() else str(parent / name)


def ask_save_path(parent, suggested: str) -> str | None:
    while True:
        path, _ = QFileDialog.getSaveFileName(parent, "Save napari-semia model", suggested, FILE_FILTER)
        if not path or path.lower().endswith(".semia"):
            return path or None  # (the dialog asked before replacing this name)
        # Any other ending gets .semia too: "model.v2" was saved as such, and the Load
        # dialog's filter hid it (a review of shared files). The dialog asked about
        # replacing the name typed, not this one: an existing file of it was replaced
        # without a word.
        path += ".semia"
        if not Path(path).exists() or ask_replace_file(parent, path):
            return path
        suggested = path  # No: choose again, from the name it would have had


def ask_replace_file(parent, path: str) -> bool:
    return _ask_yes_no(
        parent, "Replace the model file?",
        f"Model files end in .semia, so this is saved as '{Path(path).name}', and a file of that name "
        "already exists.\n\nReplace it?")


def ask_open_path(parent, start: str = "") -> str | None:
    path, _ = QFileDialog.getOpenFileName(parent, "Load napari-semia model", start, FILE_FILTER)
    return path or None


def _ask_yes_no(parent, title: str, text: str) -> bool:
    """A Yes / No question, No by default."""
    yes, no = QMessageBox.StandardButton.Yes, QMessageBox.StandardButton.No
    return QMessageBox.question(parent, title, text, yes | no, no) == yes


def ask_replace_unsaved(parent) -> bool:
    return _ask_yes_no(
        parent, "Replace the unsaved model?",
        "The model trained in this session has not been saved. Loading another model replaces it "
        "(a checkpoint of it stays in the cache and is offered again for these layers).\n\nLoad anyway?")


def ask_train_over_unsaved(parent) -> bool:
    return _ask_yes_no(
        parent, "Replace the unsaved model?",
        "The model trained in this session has not been saved, and 'Continue from the current model' "
        "is off: training starts a new model that replaces it, and its checkpoint in the cache too "
        "once the new one has trained a step on the same layers.\n\nTrain a new model anyway? (No: save it "
        "first, or tick "
        "'Continue from the current model'.)")


def ask_discard_checkpoint(parent) -> bool:
    return _ask_yes_no(
        parent, "Delete the cached model?",
        "This deletes the model trained on these layers from the cache; it cannot be restored "
        "afterwards.\n\nDelete it?")


def describe_model(model: SemiaModel | None, file: str | None = None) -> str:
    """The Model file section's line; ``file``: the file the model was loaded from or
    saved to, named first (with several models about, which one was current was
    told only by a notice that closes; a display-settings pass)."""
    if model is None:
        return "No model yet."
    height, width = model.source_shape
    work_h, work_w = model.working_shape
    normalizer = model.normalizer
    # What the source was, so a model loaded without its image tells its channels
    # (three uint16 fluorescence channels read as an RGB photo).
    kind = "grey" if normalizer.layout == "gray" else f"{normalizer.channels} channels"
    size = (f"source {height} × {width} px ({kind}, {np.dtype(normalizer.dtype).name}), "
            f"synthesized at {work_h} × {work_w} px")
    if model.can_refine:
        size += " and refined to full resolution from the source's own detail"
    elif (work_h, work_w) != (height, width):
        size += " and upsampled to the source size (a model file without the full-size source)"
    name = f"Model {Path(file).name}" if file else "Model"
    return (f"{name}: {model.num_classes} classes ({', '.join(map(str, model.class_ids))}), "
            f"{model.steps_done} step{'s' if model.steps_done != 1 else ''}; {size}.")


class ModelIO(QWidget):
    """Enabled from the widget state: Save needs a model, Load waits for training to end."""

    def __init__(self, state: WidgetState, parent=None):
        super().__init__(parent)
        self.state = state
        self.folder: str | None = None
        """The folder of the last model saved or loaded: where Load model looks first."""
        self.path: str | None = None
        """The file of the last model saved or loaded."""
        self.save_button = QPushButton("Save model…")
        self.save_button.setToolTip("Write the trained model to one .semia file.")
        self.load_button = QPushButton("Load model…")
        self.load_button.setToolTip("Open a .semia file: synthesize without training again.")
        self.description = WrappingLabel()
        buttons = QHBoxLayout()
        buttons.addWidget(self.save_button)
        buttons.addWidget(self.load_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(buttons)
        layout.addWidget(self.description)
        state.events.connect(self._follow_state)
        self._follow_state()

    def _follow_state(self, *_args) -> None:
        # While training, self.model is the model from before the run (the run trains
        # a copy), so Save wrote that one while the user meant the steps in progress.
        if not self.state.has_model:
            why_not = "there is no model yet: train one, or load one."
        elif self.state.training:
            why_not = "training is under way; Stop it first (the steps so far are kept), then save."
        else:
            why_not = None
        enable_saying_why(self.save_button, why_not)
        enable_saying_why(self.load_button, self.state.busy_reason)
        self.description.setText(self.state.model_text)

    def save(self, model: SemiaModel | None, suggested: str) -> bool:
        """Ask for a path and save; True once written (a message either way)."""
        if model is None:
            notify.warning("There is no model to save yet: train or load one first.")
            return False
        path = ask_save_path(self, suggested)
        if not path:
            return False
        try:
            saved = model.save(path)
        except SemiaInputError as error:  # ModelFileError: names the path and the reason
            notify.error(str(error))
            return False
        notify.info(f"Model saved to {saved}")
        self.folder, self.path = str(Path(saved).parent), str(saved)
        return True

    def may_start_new_model(self) -> bool:
        """Whether a fresh training run may replace the current model (asks when it is unsaved)."""
        return not self.state.model_unsaved or ask_train_over_unsaved(self)

    def load(self, device: str, source_file: str | None = None) -> SemiaModel | None:
        """Ask for a file and load it; None (after a message) if that fails or is cancelled.
        The dialog opens where the last model was saved or loaded, else beside
        ``source_file`` (the source image's file), where Save model suggests writing:
        it opened in napari's working folder (found by a new user)."""
        if self.state.model_unsaved and not ask_replace_unsaved(self):
            return None
        folders = (self.folder, str(Path(source_file).parent) if source_file else None)
        start = next((folder for folder in folders if folder and Path(folder).is_dir()), "")
        path = ask_open_path(self, start)
        if not path:
            return None
        return self.load_path(device, path, asked=True)

    def may_replace_unsaved(self) -> bool:
        """Whether the current model may be replaced: saved, or the user says so."""
        return not self.state.model_unsaved or ask_replace_unsaved(self)

    def load_path(self, device: str, path: str, asked: bool = False) -> SemiaModel | None:
        """Load the model at ``path`` (a file opened in napari); None (after a message)
        if that fails, or if the user keeps an unsaved model (unless ``asked`` already)."""
        if not asked and not self.may_replace_unsaved():
            return None
        try:
            model = SemiaModel.load(path, device=device)
        except SemiaInputError as error:  # ModelFileError, or an unavailable device
            notify.error(str(error))
            return None
        notify.info(f"Loaded {path}. {describe_model(model)}")
        self.folder, self.path = str(Path(path).parent), str(path)
        return model
