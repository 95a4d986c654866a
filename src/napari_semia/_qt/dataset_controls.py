"""The Dataset section: settings for a synthetic training set, Generate / Stop,
and its progress; enabled from the widget state alone."""

from __future__ import annotations

import itertools
import os
from dataclasses import dataclass, field
from pathlib import Path

from psygnal import evented
from qtpy.QtCore import Qt
from qtpy.QtGui import QColor, QIcon, QPainter, QPixmap
from qtpy.QtWidgets import (
    QCheckBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from ..dataset import MAX_PAIRS
from ..errors import OutputWriteError, SemiaInputError
from ..layout_sampler import MAX_STRENGTH
from .progress_widget import format_duration
from .sections import WrappingLabel, enable_saying_why
from .state import Phase, WidgetState

DEFAULT_FOLDER = "semia-dataset"
_OBJECT_ROWS_SHOWN = 8  # more classes scroll


def _swatch(rgba) -> QIcon:
    """A small square of ``rgba`` (0..1; transparent as a frame alone)."""
    pixmap = QPixmap(12, 12)
    pixmap.fill(QColor(*(round(255 * float(v)) for v in (*tuple(rgba)[:3], 1.0))))
    if len(rgba) > 3 and float(rgba[3]) == 0:
        pixmap.fill(QColor(0, 0, 0, 0))
    painter = QPainter(pixmap)
    painter.setPen(QColor(128, 128, 128))
    painter.drawRect(0, 0, 11, 11)
    painter.end()
    return QIcon(pixmap)


def default_parent() -> Path:
    """Where the default dataset folder goes: napari's working folder, unless that is
    a file system's root or a system folder, where napari started from the Dock,
    Finder or a Windows shortcut works (``/``, ``C:\\Windows\\System32``, its install
    folder): the home folder then (a portability audit: Generate was refused)."""
    working = Path.cwd()
    system = [os.environ.get(name) for name in ("SystemRoot", "ProgramFiles", "ProgramFiles(x86)")]
    under_system = any(folder and working.is_relative_to(folder) for folder in system)
    if working == Path(working.anchor) or under_system or not os.access(working, os.W_OK):
        return Path.home()
    return working


def _default_folder() -> str:
    return str((default_parent() / DEFAULT_FOLDER).resolve())


def free_default_folder() -> str:
    """The first of semia-dataset, semia-dataset-2, ... in ``default_parent()`` that
    is absent or empty, in full."""
    base = Path(_default_folder())
    for number in itertools.count(1):
        folder = base if number == 1 else base.with_name(f"{DEFAULT_FOLDER}-{number}")
        try:
            if not folder.exists() or (folder.is_dir() and not any(folder.iterdir())):
                return str(folder)
        except OSError:  # unreadable: not one to write into
            continue


def ask_folder(parent, start: str) -> str | None:
    folder = QFileDialog.getExistingDirectory(parent, "Folder for the synthetic dataset", start)
    return folder or None


@evented
@dataclass
class DatasetSettings:
    count: int = 100
    folder: str = field(default_factory=_default_folder)
    """Shown whole: a bare name was relative to napari's working folder, which a user
    of the GUI cannot know."""
    object_ids: tuple[int, ...] = field(default_factory=tuple)
    """Classes whose instances move; the rest is background."""
    strength: float = 1.0
    """How far layouts depart from the source: 0 = not at all, 1 = default, 2 = twice."""
    full_resolution: bool = True
    seed: int = 0
    keep_surroundings: bool = False
    """Objects go only onto the background class around them in the source."""
    automatic_folder: str = field(default_factory=_default_folder)
    """The folder last filled in by the widget (not the user), which a new model's
    pairs leave for a free one; kept with the fields for a reopened widget, where the
    user's own folder was taken for it and replaced at Restore (a new user)."""
    objects_of: tuple[int, ...] = field(default_factory=tuple)
    """The class ids the user ticked ``object_ids`` among (empty: the ticks are the
    default): a model of the same classes (a retrain, the same model restored) keeps
    them; another model, and any model while the ticks are the default, gets its
    own default (a new image of the same ids has another largest class)."""


def progress_line(progress) -> str | None:
    """The section's line for a run's progress (None: it keeps what it says)."""
    if progress.message:
        return progress.message
    if not progress.total:
        return None
    eta = f", about {format_duration(progress.eta_s)} left" if progress.eta_s else ""
    earlier = f" ({progress.skipped} from an earlier run)" if progress.skipped else ""
    return f"{progress.done} of {progress.total} pairs{earlier}{eta}."


def failed_line(error: BaseException) -> str:
    # Input errors in full (the pop-up cuts a long path short; found by a new user).
    reason = str(error) if isinstance(error, SemiaInputError) else "see the message."
    if isinstance(error, OutputWriteError):  # (its pairs so far are kept: it says so)
        return f"The dataset stopped: {reason}"
    return f"The dataset could not be made: {reason}"


def done_line(outcome, warnings: list[str], not_shown: str | None = None) -> str:
    """The section's line once a run has ended: counts, time, the folder, and the
    run's warnings in full (napari's pop-up cut "No object can move" short, and
    the done line alone read as if the pairs were varied). ``not_shown``: why the
    first pairs are not opened as layers, if they are not."""
    summary = outcome.summary
    failed = f", {len(summary.failures)} failed" if summary.failures else ""
    how = "Stopped" if summary.stopped else "Done"
    shown = f"\nThe first {len(outcome.images)} are open as layers." if outcome.images else ""
    if outcome.preview_problem:
        shown = f"\nThey could not be read back to be shown: {outcome.preview_problem}"
    elif not_shown:
        shown = f"\n{not_shown}"
    # The folder on a line of its own: after the counts it wrapped after its
    # leading "/", leaving the slash alone at the end of a line.
    pairs = "1 pair" if summary.written == 1 else f"{summary.written} pairs"
    return (f"{how}: {pairs} written, {summary.skipped} already there{failed}, "
            f"in {format_duration(summary.elapsed_s)}, to\n{Path(summary.out_dir).resolve()}{shown}"
            + "".join(f"\nNote: {warning}" for warning in warnings))


class DatasetControls(QWidget):
    def __init__(self, settings: DatasetSettings, state: WidgetState, parent=None):
        super().__init__(parent)
        self.settings = settings
        self.state = state
        self.count = QSpinBox()
        self.count.setRange(1, MAX_PAIRS)
        self.count.setSingleStep(50)
        self.count.setAlignment(Qt.AlignmentFlag.AlignRight)
        self.count.setToolTip("How many (image, label map) pairs to make. A rerun into the same "
                              "folder makes only the missing ones.")
        self.folder = QLineEdit()
        self.folder.setToolTip("Where images/, labels/, manifest.csv and the model go.")
        self.browse = QPushButton("…")
        self.browse.setToolTip("Choose the output folder.")
        self.browse.setAccessibleName("Choose the output folder")  # (its text is '…')
        self.objects = QListWidget()
        self.objects.setMaximumHeight(84)  # until the model's classes are known
        self.objects.setToolTip("Classes whose instances are moved, rotated, scaled, flipped, dropped "
                                "or copied. Unticked classes are background and fill the places "
                                "objects leave.")
        self.strength = QDoubleSpinBox()
        self.strength.setRange(0.0, MAX_STRENGTH)
        self.strength.setSingleStep(0.25)
        self.strength.setAlignment(Qt.AlignmentFlag.AlignRight)
        self.strength.setToolTip("How far new layouts depart from the source: 0 = not at all, "
                                 "1 = the default, 2 = changes twice as likely (up to always) "
                                 "and as large.")
        self.seed = QSpinBox()
        self.seed.setRange(0, 2**31 - 1)
        self.seed.setAlignment(Qt.AlignmentFlag.AlignRight)
        self.seed.setToolTip("Layout seed: a pair's layout depends only on the seed and its number. "
                             "Another seed (into another folder) gives other layouts; the same seed "
                             "the same ones.")
        self.full_resolution = QCheckBox("Full resolution")
        self.full_resolution.setToolTip("Pairs at the source's size; unticked, at the working size "
                                        "the network synthesizes at (faster, smaller; intensities stop "
                                        "at the source's 0.5th and 99.5th percentiles, so rare bright "
                                        "objects fade).")
        self.keep_surroundings = QCheckBox("Keep objects in their surroundings")
        self.keep_surroundings.setToolTip("Move and copy objects only onto the background class "
                                          "around them in the source: nuclei stay inside cells, "
                                          "and are not set down between them.")
        self.generate_button = QPushButton("Generate")
        self.generate_button.setToolTip("Make the pairs in the background; a few open as layers "
                                        "when done, so you can look before trusting them.")
        self.stop_button = QPushButton("Stop")
        self.stop_button.setToolTip("Stop after the pairs in progress; rerun to complete the set.")
        self.bar = QProgressBar()
        self.bar.setFormat("pair %v / %m")
        self.bar.setAccessibleName("Dataset progress")
        self.bar.setVisible(False)
        self.label = WrappingLabel()

        folder_row = QHBoxLayout()
        folder_row.addWidget(self.folder, 1)
        folder_row.addWidget(self.browse)
        form = QFormLayout()
        form.setContentsMargins(0, 0, 0, 0)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.addRow("Pairs", self.count)
        form.addRow("Folder", folder_row)
        form.addRow("Objects", self.objects)
        form.addRow("Strength", self.strength)
        form.addRow("Seed", self.seed)
        form.addRow(self.keep_surroundings)
        form.addRow(self.full_resolution)
        buttons = QHBoxLayout()
        buttons.addWidget(self.generate_button)
        buttons.addWidget(self.stop_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(form)
        layout.addLayout(buttons)
        layout.addWidget(self.bar)
        layout.addWidget(self.label)

        self._show_settings()
        self.count.valueChanged.connect(lambda v: setattr(settings, "count", v))
        self.folder.textChanged.connect(lambda v: setattr(settings, "folder", v))
        self.strength.valueChanged.connect(lambda v: setattr(settings, "strength", v))
        self.seed.valueChanged.connect(lambda v: setattr(settings, "seed", v))
        self.full_resolution.toggled.connect(lambda v: setattr(settings, "full_resolution", v))
        self.keep_surroundings.toggled.connect(lambda v: setattr(settings, "keep_surroundings", v))
        self.objects.itemChanged.connect(self._objects_ticked)
        self.browse.clicked.connect(self._choose_folder)
        settings.events.connect(self._show_settings)
        state.events.connect(self._follow_state)
        self._follow_state()

    def set_classes(self, class_ids, names: dict, objects, colours: dict | None = None) -> None:
        """One tickable line per class of the model; ``objects`` ticked; ``colours``:
        id -> RGBA in 0..1, shown as a swatch (the class's colour where it is painted)."""
        self.objects.blockSignals(True)
        self.objects.clear()
        for class_id in class_ids:
            name = names.get(int(class_id))
            item = QListWidgetItem(f"{class_id}: {name}" if name else str(class_id))
            colour = (colours or {}).get(int(class_id))
            if colour is not None:
                item.setIcon(_swatch(colour))
            item.setData(Qt.ItemDataRole.UserRole, int(class_id))
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Checked if int(class_id) in set(objects)
                               else Qt.CheckState.Unchecked)
            self.objects.addItem(item)
        self.objects.blockSignals(False)
        self._fit_object_rows()
        self._objects_to_settings()

    def showEvent(self, event) -> None:  # (Qt's name)
        super().showEvent(event)
        self._fit_object_rows()  # rows take their height from the style once shown

    def _fit_object_rows(self) -> None:
        """The list as tall as its classes, up to a few rows: at four rows, the face
        example's classes needed scrolling to be seen (found by a new user)."""
        rows = min(max(self.objects.count(), 2), _OBJECT_ROWS_SHOWN)
        row = self.objects.sizeHintForRow(0) if self.objects.count() else 0
        row = row if row > 0 else self.objects.fontMetrics().height() + 4
        height = rows * row + 2 * self.objects.frameWidth() + 2
        self.objects.setFixedHeight(height)

    def model_changed(self) -> None:
        """A new model's pairs go to a free default folder unless the user chose one:
        the default folder, filled by the last model, was refused after every retrain
        ("made with other settings (another model)"; found by a new user)."""
        if self.settings.folder == self.settings.automatic_folder:  # (one the user chose stays)
            self.settings.folder = self.settings.automatic_folder = free_default_folder()

    def _objects_ticked(self, *_args) -> None:
        """The user's ticks: kept for a model of these classes (``objects_of``)."""
        self._objects_to_settings()
        self.settings.objects_of = tuple(item.data(Qt.ItemDataRole.UserRole) for item in self._object_items())

    def _objects_to_settings(self, *_args) -> None:
        self.settings.object_ids = tuple(item.data(Qt.ItemDataRole.UserRole) for item in self._object_items()
                                         if item.checkState() == Qt.CheckState.Checked)

    def _object_items(self) -> list:
        return [self.objects.item(i) for i in range(self.objects.count())]

    def _choose_folder(self) -> None:
        folder = ask_folder(self, self.settings.folder)
        if folder:
            self.settings.folder = folder

    def _show_settings(self, *_args) -> None:
        s = self.settings
        if self.count.value() != s.count:
            self.count.setValue(s.count)
        if self.folder.text() != s.folder:
            self.folder.setText(s.folder)
        if self.strength.value() != s.strength:
            self.strength.setValue(s.strength)
        if self.full_resolution.isChecked() != s.full_resolution:
            self.full_resolution.setChecked(s.full_resolution)
        if self.seed.value() != s.seed:
            self.seed.setValue(s.seed)
        if self.keep_surroundings.isChecked() != s.keep_surroundings:
            self.keep_surroundings.setChecked(s.keep_surroundings)

    def _follow_state(self, *_args) -> None:
        state = self.state
        generating = state.phase is Phase.GENERATING
        idle = state.phase is Phase.IDLE
        for widget in (self.count, self.folder, self.browse, self.objects, self.strength, self.seed,
                       self.keep_surroundings, self.full_resolution):
            widget.setEnabled(not generating)
        enable_saying_why(self.generate_button,
                          None if state.has_model and idle
                          else state.busy_reason if state.has_model
                          else "the pairs are made with a model: train one, or load one.")
        self.stop_button.setEnabled(generating)
        self.bar.setVisible(generating or state.dataset_total > 0)
        self.bar.setRange(0, max(1, state.dataset_total))
        self.bar.setValue(min(state.dataset_done, max(1, state.dataset_total)))
        self.label.setText(state.dataset_message if state.has_model or generating
                           else "Train or load a model first.")
