"""Training settings (preset, steps, working size, device, seed; advanced
settings collapsed) bound both ways to a :class:`TrainingSettings`, plus the
Train / Stop buttons."""

from __future__ import annotations

from qtpy.QtCore import Qt
from qtpy.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QStyle,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from ..config import PRESETS
from ..device import DEVICE_CHOICES, describe_device, resolve_device
from ..errors import SemiaInputError
from .sections import enable_saying_why, own_tooltip
from .state import Phase, TrainingSettings, WidgetState
from .theme import DARK_ERROR_TEXT, DockColours


class GridSpinBox(QSpinBox):
    """Arrow keys and buttons step along multiples of the single step: from the
    minimum, Steps went 50 -> 1 -> 51 and the working size 32 -> 16 -> 48. An
    off-grid value goes to the neighbouring multiple first; the rest is Qt's
    stepping (text typed and not yet committed, wrapping, selecting the text)."""

    def stepBy(self, steps: int) -> None:
        self.interpretText()
        step, value = self.singleStep(), self.value()
        if steps and value % step and not self.wrapping():
            snapped = (value // step + (1 if steps > 0 else 0)) * step
            steps -= 1 if steps > 0 else -1
            self.setValue(max(self.minimum(), min(self.maximum(), snapped)))
            if not steps and self.style().styleHint(QStyle.StyleHint.SH_SpinBox_SelectOnStep, None, self):
                self.selectAll()
        if steps:
            super().stepBy(steps)


def _spin(minimum: int, maximum: int, step: int = 1, suffix: str = "") -> QSpinBox:
    box = GridSpinBox()
    box.setRange(minimum, maximum)
    box.setSingleStep(step)
    box.setSuffix(suffix)
    box.setAlignment(Qt.AlignmentFlag.AlignRight)
    return box


def device_description(name: str) -> tuple[str, bool]:
    """("what will be used", ok) for a device choice; never raises."""
    try:
        return describe_device(resolve_device(name)), True
    except SemiaInputError as error:
        return str(error), False


class _Toggle(QToolButton):
    """A tool button that Return and Enter press too, as the dock's push buttons
    (Qt gives those keys to push buttons only)."""

    def keyPressEvent(self, event) -> None:
        modifiers = event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier  # (keypad Enter has it)
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and not modifiers:
            self.click()
            return
        super().keyPressEvent(event)


class TrainingControls(QWidget):
    """Settings in, Train / Stop out; enabled from the widget state alone."""

    def __init__(self, settings: TrainingSettings, state: WidgetState, parent=None):
        super().__init__(parent)
        self.settings = settings
        self.state = state
        self._error_text = DARK_ERROR_TEXT  # until the widget passes the theme's (set_colours)
        self.preset = QComboBox()
        self.preset.addItems(list(PRESETS))
        self.preset.setToolTip("Named settings: 'quick' for a first look, 'default' for "
                               "better quality, 'thorough' for a GPU or a patient user. Marked "
                               "'(edited)' once a field it fills is changed; choose it again "
                               "to undo the edits.")
        self.steps = _spin(1, 1_000_000, 50)
        self.steps.setToolTip("Training iterations. More steps: sharper, more faithful textures.")
        self.size = _spin(16, 4096, 32, " px")
        self.size.setToolTip("Longest side of the image the network trains on (a larger image is "
                             "scaled down; results are rebuilt at its own size). Larger is slower "
                             "(about quadratically) and uses more memory.")
        self.device = QComboBox()
        self.device.addItems(list(DEVICE_CHOICES))
        self.device.setToolTip("Where to train: 'auto' picks a CUDA GPU if present, else the CPU; "
                               "'mps' (Apple GPU) only when chosen: untested, some operations fail there.")
        self.device_label = QLabel()
        self.device_label.setWordWrap(True)
        self.device_problem = QLabel()
        self.device_problem.setWordWrap(True)
        self.device_problem.setVisible(False)
        self.seed = _spin(0, 2**31 - 1)
        self.seed.setToolTip("Random seed: the same seed and settings give the same model.")
        self.continue_training = QCheckBox("Continue from the current model")
        self.continue_training.setToolTip(
            "Ticked: Train continues the model you have (more steps on top), at its own working "
            "size and network. Unticked: Train starts a new model from scratch.")
        self.continue_training.setEnabled(False)

        # Advanced settings: collapsed behind a toggle, most users never need them.
        self.advanced_toggle = _Toggle()
        self.advanced_toggle.setText("Advanced settings")
        self.advanced_toggle.setCheckable(True)
        self.advanced_toggle.setToolTip("Show or hide the network's width and levels, the preview "
                                        "interval and the coarse phase.")
        self.advanced_toggle.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.advanced_toggle.setArrowType(Qt.ArrowType.RightArrow)
        # (No frame but the keyboard focus's: the dock's stylesheet, theme.py.)
        self.advanced = QWidget()
        self.preview_every = _spin(0, 100_000, 5)
        self.preview_every.setSpecialValueText("never")
        self.preview_every.setSuffix(" steps")
        self.preview_every.setToolTip("Show the output for the target every N steps while training.")
        self.width = _spin(4, 128, 4)
        self.width.setToolTip("Generator channels at full resolution (capacity; slower when larger).")
        self.levels = _spin(2, 5)
        self.levels.setToolTip("Generator down-sampling levels (receptive field).")
        self.coarse_fraction = QDoubleSpinBox()
        self.coarse_fraction.setRange(0.0, 0.95)
        self.coarse_fraction.setSingleStep(0.05)
        self.coarse_fraction.setAlignment(Qt.AlignmentFlag.AlignRight)
        self.coarse_fraction.setToolTip("Fraction of the steps trained at half the working size (faster).")
        advanced_form = QFormLayout(self.advanced)
        advanced_form.setContentsMargins(12, 0, 0, 0)
        advanced_form.addRow("Preview every", self.preview_every)
        advanced_form.addRow("Generator width", self.width)
        advanced_form.addRow("Generator levels", self.levels)
        advanced_form.addRow("Coarse fraction", self.coarse_fraction)
        self.advanced.setVisible(False)

        self.train_button = QPushButton("Train")
        self.train_button.setToolTip("Learn the source image's appearance from its labels.")
        self.stop_button = QPushButton("Stop")
        self.stop_button.setToolTip("Stop after the current step; the model trained so far is kept.")
        self.stop_button.setEnabled(False)

        form = QFormLayout()
        form.setContentsMargins(0, 0, 0, 0)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.addRow("Preset", self.preset)
        form.addRow("Steps", self.steps)
        form.addRow("Working size", self.size)
        device_row = QHBoxLayout()
        device_row.addWidget(self.device, 1)
        device_row.addWidget(self.device_label, 2)
        form.addRow("Device", device_row)
        # Why a device cannot be used: under the row, its whole width (beside the
        # combo box it wrapped into six lines).
        form.addRow("", self.device_problem)
        form.addRow("Seed", self.seed)
        buttons = QHBoxLayout()
        buttons.addWidget(self.train_button)
        buttons.addWidget(self.stop_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(form)
        layout.addWidget(self.advanced_toggle)
        layout.addWidget(self.advanced)
        layout.addWidget(self.continue_training)
        layout.addLayout(buttons)

        self._bind()
        self._update_device_label()
        state.events.connect(self._follow_state)
        self._follow_state()

    # ---------------------------------------------------------------- binding
    def _bind(self) -> None:
        s = self.settings
        self._show_settings()
        # activated: the user's choice only (not setCurrentIndex), also when the
        # preset shown is chosen again, which undoes the edits.
        self.preset.activated.connect(lambda index: s.apply_preset(list(PRESETS)[index]))
        self.steps.valueChanged.connect(lambda v: setattr(s, "steps", v))
        self.size.valueChanged.connect(lambda v: setattr(s, "size", v))
        self.device.currentTextChanged.connect(lambda v: setattr(s, "device", v))
        self.seed.valueChanged.connect(lambda v: setattr(s, "seed", v))
        self.continue_training.toggled.connect(lambda v: setattr(s, "continue_training", v))
        s.events.continue_training.connect(self._follow_state)
        self.preview_every.valueChanged.connect(lambda v: setattr(s, "preview_every", v))
        self.width.valueChanged.connect(lambda v: setattr(s, "width", v))
        self.levels.valueChanged.connect(lambda v: setattr(s, "levels", v))
        self.coarse_fraction.valueChanged.connect(lambda v: setattr(s, "coarse_fraction", v))
        s.events.connect(self._show_settings)
        s.events.device.connect(self._update_device_label)
        self.advanced_toggle.toggled.connect(self.set_advanced_visible)

    def _show_settings(self, *_args) -> None:
        """Settings -> controls (e.g. after a preset filled several fields)."""
        s = self.settings
        shown = ((self.steps, s.steps), (self.seed, s.seed), (self.preview_every, s.preview_every),
                 (self.coarse_fraction, s.coarse_fraction))
        for widget, value in shown:
            if widget.value() != value:
                widget.setValue(value)
        self._show_network()
        if self.device.currentText() != s.device:
            self.device.setCurrentText(s.device)
        self._show_preset()
        if self.continue_training.isChecked() != s.continue_training:
            self.continue_training.setChecked(s.continue_training)

    def _continuing(self) -> bool:
        """Train continues the current model, keeping its working size and network."""
        return self.state.has_model and self.settings.continue_training

    def _show_network(self) -> None:
        """Working size, width and levels: the model's own while continuing keeps them
        (a restored 64-px model read 256 px), the settings' for a new model otherwise.
        Only shown: never written back to the settings."""
        s = self.settings
        shown = (self.state.model_network if self._continuing() else None) or (s.size, s.width, s.levels)
        for widget, value in zip((self.size, self.width, self.levels), shown):
            if widget.value() != value:
                widget.blockSignals(True)
                widget.setValue(value)
                widget.blockSignals(False)

    def _show_preset(self) -> None:
        """The preset's name, with "(edited)" once a field it fills was changed, so the
        box never names settings that are no longer the ones used."""
        s = self.settings
        index = list(PRESETS).index(s.preset)
        for i, name in enumerate(PRESETS):
            text = f"{name} (edited)" if i == index and s.preset_edited() else name
            if self.preset.itemText(i) != text:
                self.preset.setItemText(i, text)
        if self.preset.currentIndex() != index:
            self.preset.setCurrentIndex(index)

    def set_advanced_visible(self, visible: bool) -> None:
        self.advanced.setVisible(visible)
        self.advanced_toggle.setArrowType(Qt.ArrowType.DownArrow if visible else Qt.ArrowType.RightArrow)
        if self.advanced_toggle.isChecked() != visible:
            self.advanced_toggle.setChecked(visible)

    def _update_device_label(self, *_args) -> None:
        text, ok = device_description(self.settings.device)
        self.device_label.setText(f"→ {text}" if ok else "not available")
        self.device_label.setStyleSheet("" if ok else f"color: {self._error_text};")
        self.device_problem.setText("" if ok else text)
        self.device_problem.setStyleSheet(f"color: {self._error_text};")
        self.device_problem.setVisible(not ok)

    def set_colours(self, colours: DockColours) -> None:
        """Follow napari's theme (the device's error text)."""
        self._error_text = colours.error_text
        self._update_device_label()

    # ---------------------------------------------------------------- state
    def _follow_state(self, *_args) -> None:
        busy = self.state.busy
        for widget in (self.preset, self.steps, self.device, self.seed, self.advanced):
            widget.setEnabled(not busy)
        # Continuing keeps the model's working size and network (the trainer's rule):
        # these fields then show the model's and apply to a new model only, and say so.
        continuing = self._continuing()
        self._show_network()
        for widget in (self.size, self.width, self.levels):
            tooltip = own_tooltip(widget)
            widget.setEnabled(not busy and not continuing)
            widget.setToolTip(tooltip + (" Kept from the model while 'Continue from the current model' "
                                         "is ticked; untick it to change this for a new model."
                                         if continuing else ""))
        self.stop_button.setEnabled(self.state.phase is Phase.TRAINING)
        enable_saying_why(self.continue_training,
                          None if self.state.has_model and not busy
                          else self.state.busy_reason if busy else "there is no model yet.")
        enable_saying_why(self.train_button, self.state.busy_reason)
