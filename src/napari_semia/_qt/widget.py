"""The napari dock widget: wires the small widgets, the evented state and the
workers together, and turns layers into jobs (copies, on the main thread;
synthesis jobs in ``synthesis_jobs.py``).

Controls enable themselves from :class:`~.state.WidgetState`; this module
only changes that state. Data path of a training run: pickers -> copies of
the displayed planes (main thread) -> ``TrainingJob`` -> worker builds the
trainer and trains -> progress, previews and checkpoints come back as typed
updates. A live edit: brush / undo on the target -> debounced -> while
training, straight to the trainer's preview target; otherwise a
``SynthesisJob`` for the synthesis worker -> the output layer.
"""

from __future__ import annotations

import weakref
from functools import partial
from pathlib import Path

import numpy as np
from napari.layers import Labels
from qtpy.QtCore import Qt, QTimer
from qtpy.QtGui import QKeySequence, QShortcut
from qtpy.QtWidgets import QPushButton, QScrollArea, QWidget

from ..checkpoints import CheckpointStore, fingerprint
from ..device import release_device_memory
from ..errors import IncompatibleModelError, ModelFileError, NewerModelFileError, SemiaInputError
from ..labels import is_colour_map
from ..layout_sampler import default_object_ids
from ..model import SemiaModel
from ..validation import MODEL_SOURCE, check_target, check_target_shape
from . import notify
from .checkpoint_search import find_checkpoint
from .dataset_controls import DatasetControls, DatasetSettings, done_line, failed_line, progress_line
from .dataset_layers import remove_dataset_pairs, show_dataset_pairs, stack_in_the_way
from .dataset_runner import DatasetRunner
from .edit_watcher import EditWatcher, plane_fingerprint
from .failure_status import FailureStatus
from .focus_keeper import FocusKeeper
from .hidden_target import HiddenTarget
from .jobs import DatasetRequest, SynthesisJob, TrainingJob
from .layer_data import (
    PlaneViewError,
    displayed_plane,
    layer_source_info,
    training_planes,
)
from .layer_pickers import (
    LayerPickers,
    channel_stack_hint,
    is_open,
    is_output,
    layer_file,
    opened_as_image_hint,
    plane_shape,
)
from .lifecycle import ClosesWithDock, stop_on_exit
from .loss_plot import LossPlot
from .model_io import ModelIO, ask_discard_checkpoint, describe_model, suggested_model_path
from .model_reader import MODEL_FILE_KEY, MODEL_OPENING_KEY, MODEL_PART_KEY
from .new_target import colour_name, copy_as_target, paint_in_source_colours
from .output_layer import (
    detach_copied_output,
    output_layers,
    output_spec,
    output_target_id,
    unsynthesized_planes_note,
    write_output,
)
from .progress_widget import ProgressWidget
from .remembered_settings import remembered
from .restore_offer import RestoreOffer
from .sections import align_form_labels, name_form_fields, scroll_into, section
from .state import NO_MODEL_CHOSEN_MESSAGE, NO_MODEL_MESSAGE, Phase, TrainingSettings, WidgetState
from .stroke_clock import StrokeClock
from .synthesis_controls import SynthesisControls, grid_of, set_grid_view
from .synthesis_jobs import SynthesisJobs
from .synthesis_runner import SynthesisRunner
from .theme import CONTENT_NAME, dock_colours
from .training_controls import TrainingControls, device_description
from .training_notes import (
    NotedOnce,
    eight_bit_png_note,
    grey_photo_note,
    kept_network_note,
    lost_pixel_size_note,
    misaligned_note,
    other_source_note,
    shown_otherwise_note,
    single_channel_note,
    transparent_photo_note,
    turned_photo_note,
    unitless_scale_note,
)
from .training_runner import TrainingRunner

#: Brush events are merged for this long before the trainer's preview target is updated.
PREVIEW_TARGET_DEBOUNCE_MS = 150
#: Labels layer modes in which the user is editing the layout.
_PAINTING_MODES = ("paint", "fill", "erase", "polygon")
#: After training, a stroke on the target within this many seconds means the user is
#: painting: the target stays in sight.
_PAINTING_PAUSE_S = 5.0


#: The status line after Stop in the Synthesis section, until the next result.
SYNTHESIS_STOPPED = ("Synthesis stopped: the output keeps what it showed. Press Synthesize (or paint, "
                     "with Live on) to synthesize again.")
#: The status line while Synthesize waits for the run already making its result.
SYNTHESIS_UNDER_WAY = ("Synthesizing this target already: its full-resolution result replaces the output "
                       "when it is done (the button shows how far it is).")
#: The status line under a result made before there is a model.
LABELS_ONLY_NOTE = ("No model yet: this first result is pieces of the source copied into the target's "
                    "layout. Press Train for the model's result, which also draws new shapes where "
                    "copying falls short.")


def _shut_down_destroyed(widget_ref, *_args) -> None:
    widget = widget_ref()
    if widget is not None:
        widget.shutdown()


class SemiaWidget(ClosesWithDock, QWidget):
    """Semantic Image Analogy: train on (image, labels), synthesize a painted layout."""

    def __init__(self, napari_viewer, parent=None):
        super().__init__(parent)
        self.viewer = napari_viewer
        self.settings = remembered(napari_viewer, TrainingSettings())
        self.state = WidgetState(device_text=device_description(self.settings.device)[0])
        self.model: SemiaModel | None = None
        self.checkpoints = CheckpointStore()
        self._dataset_warnings: list[str] = []  # the running dataset's, for its done line
        self._said_notes: set[str] = set()  # notes said once per widget (their text, or a name)
        self._checkpoint_key: str | None = None  # the cache entry of the current model
        self._training_checkpoint_key: str | None = None  # that of the running training
        self._closed = False
        self._step_offset = 0  # steps of the resumed model, for the loss plot
        self._training_output = None  # OutputSpec of the running training's previews
        self._training_target_ok = False  # the trainer accepted the target
        self._misaligned_labels = NotedOnce(misaligned_note)  # said once per placement
        self._noted_stack = None  # (image, labels) judged for the channel-stack warning, labels alone
        self.failures = FailureStatus(self.state)
        self._reveal_request = None  # Synthesize's request: its result is shown unobstructed (unless
        # the user shows the target meanwhile)
        self._reveal_after_training = False  # ... and that request ends a training
        self._making_request = -1  # the synthesis request being made (problems are its)
        self._failed_request = -1  # the newest synthesis request that failed
        self._synthesis_plane = ()  # the next synthesis's plane of a stack, if not the one on display
        # Planes of a stacked output that show a fast preview whose full-resolution stage a
        # newer request cancelled (the slider moved on with Live on), and their target.
        self._preview_planes: dict[tuple, object] = {}
        self._planes_note: str | None = None  # the status line's stack note, to take back
        self._writing_output = False  # selection changes made by write_output are not the user's
        # The status line before a synthesis line (SYNTHESIS_STOPPED, SYNTHESIS_UNDER_WAY) took it.
        self._line_before_synthesis = ""
        self._dataset_layers = (None, None, None)  # (source, labels, target) of the dataset run
        self._model_file = None  # the file the current model was loaded from or saved to

        self.hidden_target = HiddenTarget(napari_viewer, self.state, show_target=self._show_target)
        self.pickers = LayerPickers(napari_viewer)
        self.restore_offer = RestoreOffer()
        self.controls = TrainingControls(self.settings, self.state)
        self.progress = ProgressWidget(self.state)
        self.loss_plot = LossPlot()
        self.synthesis = SynthesisControls(self.state)
        self.model_io = ModelIO(self.state)
        self.dataset_settings = remembered(napari_viewer, DatasetSettings())
        self.dataset = DatasetControls(self.dataset_settings, self.state)
        self.losses_section = section("Losses", self.loss_plot)
        # Actionable controls first and the tall loss plot last, so Train and
        # Synthesize stay above the fold; a link under the progress bar leads to it
        # (a UX pass found the plot 950 px below the fold, with nothing saying so).
        self.losses_link = QPushButton("Losses plot ↓")
        self.losses_link.setFlat(True)
        self.losses_link.setToolTip("Scroll down to the plot of the training losses.")
        self.losses_link.clicked.connect(self._scroll_to_losses)
        self._show_losses(False)  # shown once training starts
        self.content = scroll_into(self, [
            section("Layers", self.pickers, self.restore_offer),
            section("Training", self.controls, self.progress, self.losses_link),
            section("Synthesis", self.synthesis),
            section("Model file", self.model_io),
            section("Synthetic dataset", self.dataset),
            self.losses_section,
        ])
        align_form_labels(self.content)
        name_form_fields(self.content)
        self.content.setObjectName(CONTENT_NAME)
        # Enter (or Return) presses a focused button, as Space does: Qt does so outside
        # dialogs only for auto-default buttons (a keyboard user found Enter did nothing).
        for button in self.findChildren(QPushButton):
            button.setAutoDefault(True)
        # Focus stays in the dock when the focused control greys out (Stop and the
        # dataset's Stop give it back to Train and Generate once the run is over).
        self.focus_keeper = FocusKeeper(self.content, {
            self.controls.stop_button: self.controls.train_button,
            self.synthesis.stop_button: self.synthesis.synthesize_button,
            self.dataset.stop_button: self.dataset.generate_button})

        self.trainer_runner = TrainingRunner(self.checkpoints)
        self.synthesis_jobs = SynthesisJobs(napari_viewer, self.pickers, self.settings,
                                            self._report_synthesis_error, self._note_labels_only_inputs)
        self.synth_runner = SynthesisRunner(self._make_synthesis_job)
        self.dataset_runner = DatasetRunner()
        self._stroke_clock = StrokeClock()
        self._edit_watcher = EditWatcher(self._on_target_edited, partial(plane_fingerprint, napari_viewer))
        self._preview_target_timer = QTimer()
        self._preview_target_timer.setSingleShot(True)
        self._preview_target_timer.setInterval(PREVIEW_TARGET_DEBOUNCE_MS)
        self._preview_target_timer.timeout.connect(self._send_preview_target)
        # Said after the event, by a timer that dies with the widget: closing the viewer
        # removes every layer first, and "training goes on" was said of a training that
        # the close was stopping (found by a napari power user).
        self._removed_sources: list[str] = []
        self._removed_source_note = QTimer(self)
        self._removed_source_note.setSingleShot(True)
        self._removed_source_note.setInterval(0)
        self._removed_source_note.timeout.connect(self._note_removed_sources)
        self._connect()
        self._on_theme()
        self._stop_workers = stop_on_exit(self, (self.trainer_runner, self.synth_runner, self.dataset_runner,
                                                 self._edit_watcher))
        # Closing the viewer destroys the dock without a close or parent change: the
        # workers stopped, but the model kept its accelerator memory and the viewer's
        # events their hold on the widget (a monkey test). Held weakly: the connection
        # must not keep the widget alive.
        self.destroyed.connect(partial(_shut_down_destroyed, weakref.ref(self)))
        self._offer_checkpoint()
        self._on_inputs_changed()  # the layers already open when the dock opens
        # Each opening of a model file is acted on once: napari's Duplicate copies a
        # layer's metadata, and a duplicated layer reloaded its file's model (a review).
        self._model_openings_seen: set[str] = set()
        opened = [layer for layer in napari_viewer.layers if layer.metadata.get(MODEL_FILE_KEY)]
        if opened:  # a model file opened in napari before the dock: the newest
            self._open_model_file_soon(opened[-1])
            self._model_openings_seen.update(layer.metadata.get(MODEL_OPENING_KEY) for layer in opened)
        self._stroke_clock.watch(self.target_layer)  # (picked before _connect)

    # ------------------------------------------------------------- wiring
    def _connect(self) -> None:
        self.pickers.new_target_button.clicked.connect(self.new_target_from_source)
        self.pickers.target.layer_changed.connect(self._on_target_changed)
        self.pickers.image.layer_changed.connect(self._offer_checkpoint)
        self.pickers.labels.layer_changed.connect(self._offer_checkpoint)
        # A blank target shown in the source labels' colours follows another map.
        self.pickers.labels.layer_changed.connect(
            lambda layer: paint_in_source_colours(self.target_layer, layer))
        for picker in (self.pickers.image, self.pickers.labels, self.pickers.target):
            picker.layer_changed.connect(self._on_inputs_changed)
        self.restore_offer.restore.connect(self._restore_checkpoint)
        self.restore_offer.discard.connect(self._discard_checkpoint)
        self.controls.train_button.clicked.connect(self.train)
        self.controls.stop_button.clicked.connect(self.stop)
        self.synthesis.synthesize_button.clicked.connect(self.synthesize)
        self.synthesis.stop_button.clicked.connect(self.stop_synthesis)
        self.synthesis.live.toggled.connect(self._on_live_toggled)
        self.synthesis.side_by_side.toggled.connect(lambda on: set_grid_view(self.viewer, on))
        grid_of(self.viewer).events.enabled.connect(self._on_grid_switched)
        self._on_grid_switched()  # as napari's grid is when the dock opens
        self.model_io.save_button.clicked.connect(self.save_model)
        self.model_io.load_button.clicked.connect(lambda: self.load_model())  # (not with 'checked')
        self.settings.events.device.connect(self._on_device_changed)
        runner = self.trainer_runner
        runner.started.connect(self._on_training_started)
        runner.progress.connect(self._on_progress)
        runner.finished.connect(self._on_training_finished)
        runner.ended.connect(self._on_training_ended)
        self.dataset.generate_button.clicked.connect(self.generate_dataset)
        self.dataset.stop_button.clicked.connect(self.dataset_runner.stop)
        # Escape stops what runs, from anywhere in the dock: a keyboard user had to Tab
        # from the section that holds the focus to Stop (a usability pass).
        self._escape = QShortcut(QKeySequence(Qt.Key.Key_Escape), self)
        self._escape.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self._escape.activated.connect(self._stop_by_key)
        self.dataset_runner.progress.connect(self._on_dataset_progress)
        self.dataset_runner.finished.connect(self._on_dataset_finished)
        self.dataset_runner.ended.connect(self._on_dataset_ended)
        self.synth_runner.result.connect(self._on_synthesized)
        self.synth_runner.failed.connect(self._on_synthesis_failed)
        self.synth_runner.busy.connect(self._on_synthesis_busy)
        self.synth_runner.progress.connect(self._on_synthesis_progress)
        self.viewer.dims.events.current_step.connect(self._on_dims_changed)
        self.viewer.layers.events.removed.connect(self._on_layer_removed)
        self.viewer.layers.events.inserted.connect(self._on_layer_inserted)
        self.viewer.layers.selection.events.active.connect(self._on_active_layer)
        self.viewer.events.theme.connect(self._on_theme)

    @property
    def source_layer(self):
        return self.pickers.image.current_layer()

    @property
    def labels_layer(self):
        return self.pickers.labels.current_layer()

    @property
    def target_layer(self):
        return self.pickers.target.current_layer()

    def _on_grid_switched(self, *_args) -> None:
        """napari's own grid button: the Side by side box says what is on."""
        box = self.synthesis.side_by_side
        box.blockSignals(True)
        box.setChecked(bool(grid_of(self.viewer).enabled))
        box.blockSignals(False)

    def _on_inputs_changed(self, *_args) -> None:
        """The status line follows the layers chosen: a failure was about the layers
        chosen then, and goes once another is chosen (a first user read 'Choose the
        target labels' under three filled-in layer lists); with no model, the line
        says what is left to do."""
        if self.state.training:
            return
        self.state.inputs_chosen = None not in (self.source_layer, self.labels_layer, self.target_layer)
        if self.state.message in (NO_MODEL_MESSAGE, NO_MODEL_CHOSEN_MESSAGE):
            self.state.message = self.state.ready_message()  # (it named what is still to choose)
        self.failures.inputs_changed()

    def _on_theme(self, *_args) -> None:
        """The colours the dock draws itself follow napari's theme."""
        colours = dock_colours(self.viewer.theme)
        self.content.setStyleSheet(colours.stylesheet())
        self.loss_plot.set_colours(colours)
        self.controls.set_colours(colours)

    def _on_device_changed(self, *_args) -> None:
        self.state.device_text = device_description(self.settings.device)[0]

    # ---------------------------------------------------------- new target
    def new_target_from_source(self) -> None:
        source = self.labels_layer
        if source is None:
            notify.error("Choose the source labels first: the new target starts as a copy of them."
                         + opened_as_image_hint(self.viewer.layers, self.source_layer))
            return
        # A copy of another size could never be used: the user painted a layout the
        # model would refuse (found by a new user, with labels of another image).
        # (Either size will do: the model's, or the source image's, to train a new model on.)
        sizes = {}
        if self.source_layer is not None:
            sizes[tuple(plane_shape(self.source_layer))] = f"'{self.source_layer.name}'"
        if self.model is not None:
            sizes.setdefault(tuple(self.model.source_shape), "the model's source")
        rows, cols = plane_shape(source)
        if sizes and (rows, cols) not in sizes:
            wanted = " and ".join(f"{of} {size[0]} × {size[1]}" for size, of in sizes.items())
            notify.error(f"'{source.name}' is {rows} × {cols} px and {wanted}: a target copied from it "
                         "could not be used. Choose the source labels of that image.")
            return
        try:
            self.pickers.target.set_layer(copy_as_target(self.viewer, source))
        except SemiaInputError as error:
            notify.error(str(error))

    # ------------------------------------------------------------ training
    def train(self) -> None:
        # (Not while a dataset is made either: its Stop greyed out under the training,
        # from a script's call, as Train is greyed then; a monkey test.)
        if self.state.busy:
            if self.state.phase is Phase.GENERATING:  # (a script's call; the button is greyed)
                notify.warning(f"Not trained: {self.state.busy_reason}")
            return
        source, labels, target = self.source_layer, self.labels_layer, self.target_layer
        try:
            planes = training_planes(self.viewer, source, labels, target)
            (rows, cols), image_hw = planes.labels.shape[:2], planes.image.shape[:2]
            if (rows, cols) != image_hw:
                # Named here, with the layers (the check in the run names none; a message audit).
                raise SemiaInputError(
                    f"'{labels.name}' is {rows} × {cols} pixels (height × width), but '{source.name}' is "
                    f"{image_hw[0]} × {image_hw[1]}: they must cover the same pixels (labels made on "
                    "this image).")
            config = self.settings.to_config()
        except SemiaInputError as error:
            notify.error(str(error))
            # On the status line too, in full: it kept an older, unrelated message.
            self.failures.training_failed(f"Not trained: {error}")
            return
        resume = self.model if self.settings.continue_training and self.model is not None else None
        if resume is None and not self.model_io.may_start_new_model():
            return
        self.pickers.pin()
        self._note_training_inputs(source, labels, planes, config, resume)
        checkpoint_key = fingerprint(planes.image, planes.labels)
        job = TrainingJob(
            planes.image, planes.labels, planes.target, config, self.settings.device,
            self.settings.preview_every, resume, checkpoint_key=checkpoint_key,
            names={"image": source.name, "labels": labels.name},
            # (A continued model keeps its own, where these layers tell nothing.)
            source_info=layer_source_info(source),
        )
        self._training_checkpoint_key = checkpoint_key
        self._training_output = (output_spec(source, target, planes.index, planes.leading_shape)
                                 if target is not None else None)
        self._training_target_ok = False
        self._show_target()
        self.restore_offer.offer(None)
        self.synth_runner.cancel()
        self.state.start_training(config.steps)
        self.trainer_runner.start(job)

    def _note_training_inputs(self, source, labels, planes, config, resume: SemiaModel | None) -> None:
        """Say what about the inputs may not be what the user meant (each once)."""
        eight_bits = eight_bit_png_note(source)  # (reads the file's header: once)
        for note in (single_channel_note(self.viewer.layers, source),
                     grey_photo_note(source, planes.image, depth_noted=eight_bits is not None)):
            if note:
                notify.info(note)
        lost_pixel_size = lost_pixel_size_note(source, resume)
        # (A CMYK JPEG's "transparency" is its black ink: said instead.)
        shown_otherwise = shown_otherwise_note(source)
        for warning in (channel_stack_hint(source, labels), eight_bits, turned_photo_note(source),
                        shown_otherwise or transparent_photo_note(source, planes.image), lost_pixel_size):
            if warning:
                notify.warning(warning)
        unitless = None if lost_pixel_size else unitless_scale_note(source, resume)
        if unitless and unitless not in self._said_notes:  # (once: at every Train it was noise)
            self._said_notes.add(unitless)
            notify.info(unitless)
        self._note_misaligned(source, labels)
        target = self.target_layer
        if target is not None:  # (its previews are placed like the image too)
            self.synthesis_jobs.note_placement(source, target)
        elif "no target" not in self._said_notes:
            # (Training started with no word of it, and no preview came: a new user. Once
            # per widget: at every Train it was noise; another new user.)
            self._said_notes.add("no target")
            notify.info("No target labels are chosen: training shows no previews and makes no result "
                        "at its end. Once it has ended, make a target with New target (or choose one "
                        "under Target labels) and press Synthesize." + self.synthesis_jobs.no_target_reason())
        if resume is not None:
            continues = resume.can_continue_on(planes.image, planes.labels)  # (an encode: once)
            for note in (other_source_note(resume, planes, source, continues),
                         kept_network_note(resume, config, continues)):
                if note:
                    notify.info(note)

    def _note_labels_only_inputs(self, source, labels) -> None:
        """What Train would say of the inputs, for a result from the labels alone:
        each once (a (C, H, W) array's result had only the plane on display changed,
        with no word until Train)."""
        self._note_misaligned(source, labels)
        # Judged once per pair and shapes, not per Live stroke: for a file the hint
        # reads its TIFF header.
        pair = (source.name, tuple(getattr(source, "data", np.empty(0)).shape), labels.name, labels.ndim)
        if pair == self._noted_stack:
            return
        self._noted_stack = pair
        stack = channel_stack_hint(source, labels)
        if stack:
            notify.warning(stack)

    def _note_misaligned(self, source, labels) -> None:
        """Once, not on every stroke of Live."""
        note = self._misaligned_labels(source, labels)
        if note:
            notify.warning(note)

    def _stop_by_key(self) -> None:
        """Escape: as a click on the first Stop that can be clicked (a synthesis may run
        while a dataset is made: its Stop comes first, as the shorter and the one in sight)."""
        for button in (self.controls.stop_button, self.synthesis.stop_button, self.dataset.stop_button):
            if button.isEnabled() and button.isVisibleTo(self):
                button.click()
                return

    def stop(self) -> None:
        if self.state.phase is Phase.TRAINING:
            self.state.phase = Phase.STOPPING
            self.trainer_runner.stop()

    def _on_training_started(self, started) -> None:
        trainer = started.trainer
        self.state.device_text = started.device_text
        self.state.message = f"Training on {started.device_text}…"
        self._step_offset = trainer.steps_before
        if started.image_warning:
            notify.warning(started.image_warning)
        if not trainer.resumed:
            self.loss_plot.clear()
        if self._training_output is not None:
            if started.preview_problem is None:
                self._training_target_ok = True
                # Strokes painted while the trainer was being built reached no trainer
                # (an id the model lacks went without a word, found when its test ran
                # alone, in a cold process): the target as it is now.
                self._send_preview_target()
            else:  # one message; the final synthesis is skipped for this target
                notify.warning(f"Training without previews, and no result at its end: "
                               f"{started.preview_problem}")

    def _on_progress(self, progress) -> None:
        self.state.update_progress(progress)
        if progress.note:
            notify.warning(progress.note)
        if progress.losses and not progress.finished:
            self._show_losses(True)
            self.loss_plot.add_point(self._step_offset + progress.step, progress.losses)
        if progress.preview is not None:
            self._show(self._training_output, progress.preview)

    def _on_training_finished(self, result) -> None:
        if result.error is not None:
            reason = "see the message."
            if isinstance(result.error, IncompatibleModelError):
                reason = f"{result.error} Untick 'Continue from the current model' to train a new one."
                notify.error(reason)
            else:
                notify.exception(result.error, "Training")
                if isinstance(result.error, SemiaInputError):
                    reason = str(result.error)
            kept = " The current model is kept." if self.model is not None else ""
            if result.model is not None and self.model is None:
                self.set_model(result.model, unsaved=True, checkpoint_key=self._training_checkpoint_key)
                kept = f" The model trained until then ({result.model.steps_done} steps) is kept."
            # Input errors are written for the user: the status line keeps them in
            # full (a first user saw the pop-up cut them short).
            self.failures.training_failed(f"Training failed: {reason}{kept}")
            # The progress bar shows the model that is kept, or none: not the failed run's step 0.
            self.state.show_kept_model(self.model.steps_done if self.model is not None else 0)
            return
        if result.model is None or result.model.steps_done == 0:
            # A new model stopped before its first step is no model: keep the one there
            # was, or none (an untrained generator draws blobs of colour, and Save and
            # Continue would offer it as a model).
            kept = ("the model there was is kept. " + describe_model(self.model) if self.model is not None
                    else "there is no model yet; press Train to start again.")
            self.state.message = f"Training stopped before its first step: {kept}"
            if self.model is not None:
                self.state.show_kept_model(self.model.steps_done)
            return
        self.set_model(result.model, unsaved=True, checkpoint_key=self._training_checkpoint_key)
        self.state.finish_training(result.steps_done, result.total_steps, result.model.steps_done,
                                   result.stopped, result.diverged, has_target=self.target_layer is not None)
        if result.diverged:
            notify.warning(result.diverged)
        if result.checkpoint_problem:
            notify.warning(f"Checkpoints could not be written: {result.checkpoint_problem}")

    def _on_training_ended(self) -> None:
        self.state.end_training()
        spec, self._training_output = self._training_output, None
        # The full synthesis for the target, if the trainer accepted it (a
        # rejected target was already reported once).
        if self.model is not None and self._training_target_ok and spec is not None \
                and spec.target == self.target_layer and spec.target in self.viewer.layers:
            # For the plane the run started on, which holds its previews, also when
            # the slider has moved since (a working-size preview was left there).
            self._synthesis_plane = spec.index
            coming = self.synthesize()
            if spec.inputs_alive(self.viewer):
                if coming:  # (a target that does not fit stays in sight, to be mended)
                    self._hide_target_to_show_result(spec, after_training=True)
            else:
                # The source image was removed while training: the result goes to a new
                # output layer, as the note at its removal said (it was made nowhere,
                # found by a new user), and is shown as after training when it arrives.
                self._reveal_after_training = True

    def set_model(self, model: SemiaModel | None, unsaved: bool = False,
                  checkpoint_key: str | None = None, file: str | None = None) -> None:
        """``checkpoint_key``: the cache entry that holds this model (trained or
        restored here), dropped once the model is saved to a file. ``file``: the
        model's file, loaded from (or None)."""
        self.model = model
        self._model_file = file
        self._checkpoint_key = checkpoint_key
        self.synthesis_jobs.model_changed(model)
        self._preview_planes.clear()
        self.state.has_model = model is not None
        self.state.model_unsaved = model is not None and unsaved
        self.state.model_text = describe_model(model, file)
        self.state.model_network = model.config.network if model is not None else None
        if model is not None:
            # A second Train continues this model unless the user unticks it.
            self.settings.continue_training = True
            self.restore_offer.offer(None)
            self._offer_dataset_classes(model)
            self.dataset.model_changed()

    # ----------------------------------------------------------- synthesis
    def synthesize(self) -> bool:
        """Synthesize the target now (also when it has not changed). Its result is
        shown unobstructed, as after training: the target, drawn over it, is
        hidden unless the user is painting (a colour-coded RGB target hid the
        result completely, e.g. after loading a model trained on the command line).
        Returns whether a result is on its way (False: the job could not be made)."""
        self.synthesis_jobs.forget_last_target()
        self.failures.may_pop_up_again()
        self._reveal_after_training = False
        job = self.synth_runner.run_now()
        if job is not None:
            self._reveal_request = job.request_id  # (a Live request that supersedes it reveals nothing)
        if self.synth_runner.joined_running:
            # The click is taken by the run already making this result (it is not
            # started again): say so, or the click showed no sign of being taken.
            self._say_for_synthesis(SYNTHESIS_UNDER_WAY)
        coming = job is not None or self.synth_runner.joined_running
        if not coming:
            # Refused (a target to mend): an earlier request's result reveals nothing, and
            # a target hidden for it is back in sight (a review: it was hidden again).
            self._reveal_request = None
            if self.hidden_target.layer is not None and self.hidden_target.layer == self.target_layer:
                self.hidden_target.show()
        return coming

    def _say_for_synthesis(self, line: str) -> None:
        """Put a synthesis line on the status line, keeping the line it replaces
        (not another synthesis line) for :meth:`_take_back_synthesis_line`."""
        if self.state.message not in (SYNTHESIS_STOPPED, SYNTHESIS_UNDER_WAY):
            self._line_before_synthesis = self.state.message
        self.state.message = line

    def _take_back_synthesis_line(self, *lines: str) -> None:
        """The status line as before, if it shows one of ``lines``."""
        if self.state.message in lines:
            self.state.message = self._line_before_synthesis

    def stop_synthesis(self) -> None:
        """Stop the synthesis running (and any waiting): the output keeps what it shows.
        A stack's planes left with their fast result are not completed behind the
        user's back either; Synthesize, or the next stroke, starts again."""
        if not self.state.synthesizing:
            return
        self._preview_planes.clear()
        self._reveal_request = None
        self.synthesis_jobs.forget_last_target()  # the same target is synthesized again on request
        self.synth_runner.cancel()
        self._say_for_synthesis(SYNTHESIS_STOPPED)

    def _make_synthesis_job(self, request_id: int) -> SynthesisJob | None:
        self._making_request = request_id  # (a problem reported now is this request's)
        plane_index, self._synthesis_plane = self._synthesis_plane, ()
        if self.state.training:
            return None
        if self.model is None:
            return self.synthesis_jobs.from_labels_alone(request_id)
        return self.synthesis_jobs.for_model(self.model, request_id, plane_index)

    def _report_synthesis_error(self, message: str, request_id: int | None = None) -> None:
        # What the output shows is not this target's: the next one is synthesized
        # even if it equals the last one (an undo of the stroke that caused the error
        # left the error on display, as nothing was synthesized again).
        self._failed_request = max(self._failed_request,
                                   self._making_request if request_id is None else request_id)
        self.synthesis_jobs.forget_last_target()
        self.failures.synthesis_failed(message, output_kept=self._target_has_output())

    def _target_has_output(self) -> bool:
        """Whether an output of the current target is open (the error's 'keeps its last
        result' spoke of outputs of other targets too)."""
        target = self.target_layer
        return target is not None and any(
            is_output(layer) and output_target_id(layer) == target.unique_id for layer in self.viewer.layers)

    def _on_synthesized(self, result) -> None:
        """The fast result, then (replacing it) the full-resolution one."""
        if result.request_id > self._failed_request:
            # (An older request's result says nothing of a newer one's failure: shown
            # after it, it took the failure's line away at once; found in review.)
            self.failures.synthesis_went_through(of_current_model=result.job.model is self.model)
        self._show(result.job.destination, result.image)
        destination = result.job.destination
        if destination is not None and destination.index and result.job.model is not None:
            if result.final:
                self._preview_planes.pop(destination.index, None)
            else:
                self._preview_planes[destination.index] = destination.target
        if result.final:
            self.state.synthesis_fraction = 0.0
            # (Synthesized again since Stop, or the run it waited for is done.)
            self._take_back_synthesis_line(SYNTHESIS_STOPPED, SYNTHESIS_UNDER_WAY)
        if result.job.model is None and self.model is None and not self.state.training:
            self.state.message = LABELS_ONLY_NOTE
        if result.final and not self.state.training:
            self._say_unsynthesized_planes(destination)
        if result.final and result.request_id == self._reveal_request:
            self._reveal_request = None
            if result.job.destination is not None and result.job.destination.target == self.target_layer:
                self._hide_target_to_show_result(result.job.destination, self._reveal_after_training)

    def _say_unsynthesized_planes(self, destination) -> None:
        """Which planes of a stack output hold results, on the status line while
        others show the source; back to the usual line once every plane does."""
        stacked = destination is not None and destination.index
        outputs = output_layers(self.viewer, destination) if stacked else []
        note = unsynthesized_planes_note(outputs[0]) if outputs else None
        said, self._planes_note = self._planes_note, note
        if note:
            self.state.message = note if self.model is not None else f"{LABELS_ONLY_NOTE} {note}"
        elif said and said in self.state.message:
            # (Another 2D target's result, or every plane done: a note may follow it.)
            usual = self.state.ready_message() if self.model is not None else ""
            self.state.message = self.state.message.replace(said, usual, 1).strip()

    def _on_synthesis_failed(self, result) -> None:
        self.synthesis_jobs.forget_last_target()
        if result.request_id == self._reveal_request and self.hidden_target.layer is not None:
            # The result it was hidden for never came: the target is back in sight (the
            # status line said it was hidden "so the result shows"; a power user).
            self.hidden_target.show()
        if result.request_id == self._reveal_request:
            # (Only its own: an older request's failure, queued behind a newer Synthesize,
            # left that one's result under the target; a concurrency review.)
            self._reveal_request = None
        # Not completed later: the same failure again, each time the runner went idle.
        job = result.job
        if job is None:
            self._preview_planes.clear()
        elif job.destination is not None:
            self._preview_planes.pop(job.destination.index, None)
        if isinstance(result.error, SemiaInputError):
            self._report_synthesis_error(str(result.error), result.request_id)
        else:
            notify.exception(result.error, "Synthesis")

    def _on_synthesis_progress(self, fraction: float) -> None:
        self.state.synthesis_fraction = fraction

    def _on_synthesis_busy(self, busy: bool) -> None:
        self.state.synthesis_fraction = 0.0
        if not busy:
            # The run it waited for ended with no result (cancelled, another target chosen).
            self._take_back_synthesis_line(SYNTHESIS_UNDER_WAY)
        self.state.synthesizing = busy
        if not busy:
            QTimer.singleShot(0, self._complete_a_preview_plane)

    def _complete_a_preview_plane(self) -> None:
        """When nothing else runs, give one plane that kept only its fast preview its
        full-resolution result (the next one follows when it is done). Scrubbing a
        stack with Live on cancels each plane's full-resolution stage for the next;
        the planes passed kept the preview for good. A new request still comes
        first: it cancels this one, and the plane waits for the next pause."""
        if self._closed or self.state.training or self.model is None or not self.synth_runner.idle:
            return
        target = self.target_layer
        for index, plane_target in list(self._preview_planes.items()):
            del self._preview_planes[index]
            fits = target is not None and target.ndim >= len(index) + 2 and all(
                i < n for i, n in zip(index, target.data.shape))
            if fits and plane_target == target:
                self._synthesis_plane = index
                self.synth_runner.run_now()
                return

    def _show(self, spec, image: np.ndarray) -> None:
        """Write a result into its output layer, unless an input it is named after was deleted."""
        if spec is None or not spec.inputs_alive(self.viewer):
            return
        self._writing_output = True
        try:
            write_output(self.viewer, spec, image, below=spec.target)
        finally:
            self._writing_output = False

    # -------------------------------------------------- result unobstructed
    def _hide_target_to_show_result(self, spec, after_training: bool = False) -> None:
        """Hide the target (drawn over the result) and select the result
        (``hidden_target.py``), unless the user is painting: for Synthesize, the
        target selected in a painting mode; after training, also a stroke on it in
        the last seconds (New target leaves it in paint mode, so after the usual
        New target -> paint -> Train it stayed over the result)."""
        target = self.target_layer
        outputs = output_layers(self.viewer, spec)
        if target is None or not outputs or not target.visible or self.synthesis.live.isChecked():
            return
        # (==, not is: napari hands a plugin its viewer behind a proxy, which wraps
        # every layer it returns anew, so 'is' never held and this check never did.)
        painting = (self.viewer.layers.selection.active == target
                    and getattr(target, "mode", "") in _PAINTING_MODES)
        if painting and after_training and self._stroke_clock.seconds_since_stroke() > _PAINTING_PAUSE_S:
            painting = False
        if painting:
            return
        for output in outputs:  # (hidden by the user before: the result did not show, as said)
            output.visible = True
        self.hidden_target.hide(target, outputs[0])

    def _show_target(self) -> None:
        self._reveal_request = None  # the user wants the target in sight: a pending result leaves it
        self.hidden_target.show()

    def _on_active_layer(self, event) -> None:
        if self._writing_output:
            return
        if self.hidden_target.layer is not None and event.value == self.hidden_target.layer:
            self._show_target()
        elif event.value is not None and event.value == self.target_layer:
            self._reveal_request = None  # selected to paint: a pending result leaves it in sight

    # ---------------------------------------------------------------- live
    def _on_live_toggled(self, on: bool) -> None:
        self._edit_watcher.watch(self.target_layer if on else None)
        if on:
            self.pickers.pin()
            self._show_target()
            if not self.state.training:
                self.synth_runner.schedule()
        else:
            # A stroke's request still waiting out its debounce is not made: Live is
            # off (one more Live request fired after it was unticked; found in review).
            self.synth_runner.unschedule()

    def _on_target_changed(self, layer) -> None:
        if self.hidden_target.layer is not None and self.hidden_target.layer != layer:
            # Its note named the last target as the one to select to paint again.
            self.hidden_target.forget()
            self.hidden_target.drop_note()
        paint_in_source_colours(layer, self.labels_layer)
        self._stroke_clock.watch(layer)
        self.synth_runner.cancel()
        self.failures.may_pop_up_again()
        self.synthesis_jobs.forget_last_target()
        if self.synthesis.live.isChecked():
            self._edit_watcher.watch(layer)
        if self.state.training:
            self._send_preview_target()

    def _on_dims_changed(self, *_args) -> None:
        # A stacked target holds one layout per plane: Live follows the slider.
        layer = self.target_layer
        if self.synthesis.live.isChecked() and layer is not None and layer.ndim > 2:
            self._on_target_edited()

    def _on_target_edited(self) -> None:
        if self.state.training:
            self._preview_target_timer.start()  # debounced, straight to the trainer
        else:
            self.synth_runner.schedule()  # debounced: one request per pause in painting

    def _send_preview_target(self) -> None:
        """While training, the target on display becomes the layout of the next preview."""
        trainer = self.trainer_runner.trainer
        if trainer is None:
            return
        layer = self.target_layer
        spec = self._training_output
        if layer is None or spec is None or spec.target != layer:
            trainer.set_preview_target(None)  # previews only for the target the run started with
            return
        try:
            plane, index = displayed_plane(self.viewer, layer)
        except SemiaInputError as error:
            self._report_synthesis_error(f"Preview not updated: {error}")
            return
        if index and index != spec.index:
            # Another plane of a stacked target is on display: the previews go to the
            # run's own plane, so they keep its layout (plane 0's layout was drawn
            # into plane 2's output, and stayed there).
            return
        try:
            trainer.set_preview_target(plane)
        except SemiaInputError as error:  # an id the model lacks: raised out of the timer's slot
            self._report_synthesis_error(
                f"Preview not updated: the model does not fit '{layer.name}': {error}")

    def _on_layer_inserted(self, event) -> None:
        if self._writing_output:
            return  # (a result layer being made, its name not yet recorded)
        note = detach_copied_output(self.viewer, event.value)
        if note:
            notify.info(note)
        if event.value.metadata.get(MODEL_FILE_KEY):
            self._open_model_file_soon(event.value)

    def _open_model_file_soon(self, layer) -> None:
        """Load the model of a file opened in napari (``model_reader``) once all the
        layers of that opening are in (they come one by one, a layer per channel)."""
        opening = layer.metadata.get(MODEL_OPENING_KEY)
        if opening not in self._model_openings_seen:
            self._model_openings_seen.add(opening)
            QTimer.singleShot(0, partial(self._open_model_file, layer.metadata[MODEL_FILE_KEY], opening))

    def _open_model_file(self, path: str, opening: str) -> None:
        """Choose the layers of that opening and load its model: not while a run uses
        the layers chosen, nor over an unsaved model the user keeps (the layers were
        chosen first, and the dock was left with a model and layers that do not fit)."""
        layers = [layer for layer in self.viewer.layers if layer.metadata.get(MODEL_OPENING_KEY) == opening]
        if self._closed or not layers:
            return
        name = Path(path).name
        reason = self.state.busy_reason
        if reason is not None:
            notify.info(f"The layers of {name} are open, its model is not loaded: {reason} Then choose "
                        "them and Load model….")
            return
        # (The model of that file, not one trained since it was loaded.)
        loaded = (self.model is not None and self._model_file is not None
                  and Path(self._model_file).resolve() == Path(path))
        if not loaded and not self.model_io.may_replace_unsaved():
            notify.info(f"The unsaved model is kept: the model of {name} is not loaded (its layers are "
                        "open).")
            return
        for part, picker in (("image", self.pickers.image), ("labels", self.pickers.labels),
                             ("target", self.pickers.target)):
            chosen = [layer for layer in layers if layer.metadata.get(MODEL_PART_KEY) == part]
            # (A model of channels: its layers together, as the picker offers them.)
            item = next((item for item in picker.candidates()
                         if list(getattr(item, "layers", (item,))) == chosen), None)
            if item is not None:
                picker.set_layer(item)
        if loaded:
            return  # (that model already: its layers opened again)
        self.load_model(path, asked=True)
        if self.model_io.path == path:
            # In sight alone: another model file's layers of another size left a corner of
            # this one in view (a new user opening two).
            for layer in self.viewer.layers:
                if layer.metadata.get(MODEL_OPENING_KEY) not in (None, opening):
                    layer.visible = False
            self.viewer.reset_view()

    def _on_layer_removed(self, event) -> None:
        layer = event.value
        self.hidden_target.removed(layer)
        spec = self._training_output
        trainer = self.trainer_runner.trainer
        if spec is not None and trainer is not None and layer == spec.target:
            trainer.set_preview_target(None)  # training goes on; no previews without the target
        members = getattr(spec.source, "layers", (spec.source,)) if spec is not None else ()
        if trainer is not None and any(layer == member for member in members):
            # It went without a word, and the next Synthesize made a second set of
            # output layers beside the first (found by a new user).
            self._removed_sources.append(layer.name)
            self._removed_source_note.start()

    def _note_removed_sources(self) -> None:
        names, self._removed_sources = self._removed_sources, []
        if self._closed or not names:
            return
        # One message for the channel layers of one source removed together.
        quoted = [f"'{name}'" for name in names]
        what = quoted[0] if len(quoted) == 1 else f"{', '.join(quoted[:-1])} and {quoted[-1]}"
        notify.info(f"{what} {'was' if len(quoted) == 1 else 'were'} removed while training: training "
                    "goes on with the copy it started from, and the model keeps it. Results of the model "
                    "go to new output layers (those of the removed source stay as they are).")

    # ------------------------------------------------------------- dataset
    def _offer_dataset_classes(self, model: SemiaModel) -> None:
        """The model's classes in the Dataset section; objects: every class but the largest."""
        names = {}
        labels = self.labels_layer
        features = getattr(labels, "features", None)
        if (features is not None and "class" in getattr(features, "columns", ())
                and self._labels_of_model(labels, model)):
            # Row k names label k, unless an 'index' column gives each row's label (as
            # napari reads it: ids 0, 3, 7, 12 were named by row number, 3 as the fourth
            # row's class).
            ids = features["index"] if "index" in features.columns else range(len(features))
            names = {int(i): str(name) for i, name in zip(ids, features["class"])}
        # Each class's colour beside it, as painted: ids 1..10 of the face example told
        # nothing of which was the eyes (found by a new user).
        colours = {}
        if model.codec.is_colour:
            palette = dict(zip(model.class_ids, model.codec.palette))
            colours = {int(i): tuple(np.asarray(c) / 255.0) for i, c in palette.items()}
            names = {int(i): colour_name(c) for i, c in palette.items()}
        elif isinstance(labels, Labels) and tuple(labels.data.shape[-2:]) == tuple(model.source_shape):
            # (The colours its brush paints these ids in; no check of its ids, which
            # reads every pixel on this thread.)
            shown = {int(i): labels.get_color(int(i)) for i in model.class_ids}
            colours = {i: tuple(c) if c is not None else (0, 0, 0, 0) for i, c in shown.items()}
        # The ticks of a model of the same classes stay (the user's choice, which Restore
        # after the dock was closed replaced by the default, and the folder's earlier
        # pairs were then "made with other settings"; found by a new user).
        settings, class_ids = self.dataset_settings, tuple(int(i) for i in model.class_ids)
        chosen = settings.objects_of == class_ids and set(settings.object_ids) <= set(class_ids)
        if chosen:
            objects = settings.object_ids
        else:
            objects = default_object_ids(model.source_index.cpu().numpy(), model.class_ids)
        self.dataset.set_classes(model.class_ids, names, objects, colours)
        settings.objects_of = class_ids if chosen else ()

    def _labels_of_model(self, labels, model: SemiaModel) -> bool:
        """Whether ``labels`` holds the model's classes at its source's size: only then
        are its class names the model's (a coins model loaded beside the coffee sample
        listed its classes as 'table' and 'glaze')."""
        try:
            plane = displayed_plane(self.viewer, labels)[0]
        except SemiaInputError:
            return False
        if plane.ndim != 2 or tuple(plane.shape) != tuple(model.source_shape):
            return False
        return {int(i) for i in np.unique(plane)} == {int(i) for i in model.class_ids}

    def generate_dataset(self) -> None:
        """Make the Dataset section's pairs in the background."""
        settings = self.dataset_settings
        if self.model is None or self.state.busy:
            return
        refusal = None
        if not settings.object_ids:
            refusal = "Tick at least one object class: its instances are what the new layouts move."
        elif not settings.folder.strip():
            refusal = "Choose a folder for the dataset."
        if refusal:
            notify.error(refusal)
            # On the section's line too: it kept an earlier run's error (found by a new user).
            self.state.dataset_message = refusal
            return
        source_labels = None
        labels = self.labels_layer
        unused_labels = None
        if labels is not None:
            try:
                plane, index = displayed_plane(self.viewer, labels)
                check_target(plane, self.model.source_shape, self.model.codec,
                             what="labels to sample layouts from", source=MODEL_SOURCE)
                source_labels = plane  # the layer as shown (the model's own copy, unless edited since)
                if index and not self.synthesis_jobs.is_learned_plane(self.model, self.source_layer):
                    # Another plane of a stack is on display: its layout is not the model's
                    # (a time-lapse user's pairs came out empty); the model's own labels.
                    source_labels = None
            except SemiaInputError as error:
                # Said, not silent: an edit with an id the model does not know made the
                # pairs from the model's own labels with no word (found by a new user).
                unused_labels = (f"'{labels.name}' is not used: {error} The layouts are sampled from "
                                 "the labels the model was trained on.")
                notify.warning(unused_labels)
                source_labels = None
        request = DatasetRequest(
            self.model, settings.folder.strip(), int(settings.count), int(settings.seed),
            tuple(settings.object_ids), float(settings.strength), bool(settings.full_resolution),
            source_labels, keep_surroundings=bool(settings.keep_surroundings))
        self.state.dataset_done, self.state.dataset_total = 0, int(settings.count)
        self.state.dataset_message = "Preparing…"
        # (Also on the done line: the pop-up alone went by; found by a new user.)
        self._dataset_warnings = [unused_labels] if unused_labels else []
        # The pairs are shown with the layers of the run (the pickers stay free during
        # it: other labels chosen then gave the pairs their colours; a concurrency review).
        self._dataset_layers = (self.source_layer, self.labels_layer, self.target_layer)
        self.state.phase = Phase.GENERATING
        self.dataset_runner.start(request)

    def _on_dataset_progress(self, progress) -> None:
        if progress.warning:
            notify.warning(progress.message)
            self._dataset_warnings.append(progress.message)  # also on the section's line, at the end
            return
        self.state.dataset_done, self.state.dataset_total = progress.done, progress.total
        line = progress_line(progress)
        if line:
            self.state.dataset_message = line

    def _on_dataset_finished(self, outcome) -> None:
        if outcome.error is not None:
            notify.exception(outcome.error, "Making the dataset")
            self.state.dataset_message = failed_line(outcome.error)
            self.state.dataset_done = self.state.dataset_total = 0  # no bar of a run that never ran
            return
        # The run's layers where they are still open, else those chosen now.
        chosen = (self.source_layer, self.labels_layer, self.target_layer)
        run_layers = tuple(layer if is_open(self.viewer, layer) else now
                           for layer, now in zip(self._dataset_layers, chosen))
        source_layer, labels_layer, _ = run_layers
        not_shown = stack_in_the_way(run_layers)
        self.state.dataset_message = done_line(outcome, self._dataset_warnings, not_shown)
        failures = outcome.summary.failures
        if failures:
            notify.warning(f"{len(failures)} pair(s) failed: {next(iter(failures.values()))}")
        if not_shown is not None:
            remove_dataset_pairs(self.viewer)  # (an earlier run's: they share the slider too)
        elif self.model is not None:
            # Shown in the source's look only if it is the model's (as results are).
            try:
                source = self.synthesis_jobs.source_fitting(self.model, source_layer)
            except PlaneViewError:  # (no plane on display: laid over the labels instead)
                source = None
            show_dataset_pairs(self.viewer, self.model, source, labels_layer, outcome.images, outcome.labels)

    def _on_dataset_ended(self) -> None:
        if self.state.phase is Phase.GENERATING:
            self.state.phase = Phase.IDLE

    # ---------------------------------------------------------- model file
    def save_model(self) -> None:
        source = self.source_layer
        if self.model_io.save(self.model, suggested_model_path(source.name if source else None,
                                                               layer_file(source))):
            self.state.model_unsaved = False
            self._model_file = self.model_io.path
            self.state.model_text = describe_model(self.model, self.model_io.path)
            # Saved: the cache's copy is no longer the only one, and a next session
            # offered to restore it as if napari had closed before a save.
            if self._checkpoint_key is not None:
                self.checkpoints.discard(self._checkpoint_key)

    def load_model(self, path: str | None = None, asked: bool = False) -> None:
        """Load Model…, or the model file at ``path`` (opened in napari; ``asked``:
        the user agreed to replace an unsaved model)."""
        if path is None:
            model = self.model_io.load(self.settings.device, layer_file(self.source_layer))
        else:
            model = self.model_io.load_path(self.settings.device, path, asked=asked)
        if model is None:
            return
        self.set_model(model, unsaved=False, file=self.model_io.path)
        self.state.model_opened(model.steps_done, "Loaded")
        target = self.target_layer
        fits = True
        if target is not None:
            plane = None
            try:
                plane = displayed_plane(self.viewer, target)[0]  # (may raise: a plane off the stack)
                check_target(plane, model.source_shape, model.codec, source=MODEL_SOURCE)
            except SemiaInputError as error:
                notify.warning(f"The loaded model does not fit '{target.name}': {error}")
                fits = False
                # Not the usual invitation to Synthesize or continue: neither can work on
                # these layers (found by a new user who loaded a model of another photo).
                # A map of ids of the right size with a stray id needs only that id
                # painted over (a new user was told to train a new model for one stray
                # id); a colour map for a model of ids is no stray id (a review).
                stray = False
                if plane is not None:  # (None: the plane on display is off the target)
                    try:
                        check_target_shape(plane, model.source_shape)
                        stray = not is_colour_map(np.asarray(plane)) or model.codec.is_colour
                    except SemiaInputError:
                        pass
                advice = ("Paint over what the warning names in the target" if stray
                          else "Paint a target it fits")
                rows, cols = model.source_shape
                self.failures.model_does_not_fit(
                    f"Loaded a model trained for {model.steps_done} steps on a {rows} × {cols} image; it "
                    f"does not fit '{target.name}' (see the warning). {advice}, or train a new model on "
                    f"these layers (untick Continue).")
        self._follow_new_model(synthesize=fits)

    def _follow_new_model(self, synthesize: bool = True) -> None:
        """With Live on, the output shows the model just loaded or restored (it kept
        the replaced model's result until the next stroke). The loss plot was another
        model's: continuing this one drew its steps after those, the curves jumping back."""
        self.loss_plot.clear()
        self._show_losses(False)  # shown again once it trains
        if synthesize and self.synthesis.live.isChecked() and not self.state.training:
            self.synth_runner.schedule()

    def _show_losses(self, visible: bool) -> None:
        self.losses_section.setVisible(visible)
        self.losses_link.setVisible(visible)

    def _scroll_to_losses(self) -> None:
        scroll = self.findChild(QScrollArea)
        if scroll is not None:
            scroll.ensureWidgetVisible(self.losses_section, 0, 0)
            scroll.ensureWidgetVisible(self.loss_plot, 0, 0)  # the plot whole, if it fits

    # --------------------------------------------------------- checkpoints
    def _offer_checkpoint(self, *_args) -> None:
        """Offer a checkpoint of a run on the chosen source image and labels, if there is one."""
        if self.model is not None or self.state.training or self._closed:
            self.restore_offer.offer(None)
            return
        image, labels = self.source_layer, self.labels_layer
        entries = self.checkpoints.entries() if image is not None and labels is not None else []
        self.restore_offer.offer(*find_checkpoint(self.viewer, image, labels, entries))

    def _discard_checkpoint(self, info) -> None:
        """Delete a cached model, asked first: it may be the only copy of hours of training."""
        if ask_discard_checkpoint(self):
            self.checkpoints.discard(info.key)
        else:
            self.restore_offer.offer(info, self.restore_offer.plane)

    def _restore_checkpoint(self, info) -> None:
        try:
            model = self.checkpoints.load(info, device=self.settings.device)
        except SemiaInputError as error:
            # The offer stays, with its Discard: it went with the message, and the same
            # damaged file was offered at every start (a review of shared files).
            gone = self.checkpoints.find(info.key) is None  # (deleted since it was offered)
            damaged = (isinstance(error, ModelFileError) and not isinstance(error, NewerModelFileError)
                       and not gone)
            advice = " Discard it, and it is not offered again." if damaged else ""
            notify.error(f"The cached model ({info.steps} steps, from {info.saved_at_local}) could not be "
                         f"restored: {error}{advice}")
            if not gone:
                self.restore_offer.offer(info, self.restore_offer.plane)
            return
        self.set_model(model, unsaved=True, checkpoint_key=info.key)
        self.state.model_opened(model.steps_done, "Restored")
        self._follow_new_model()
        # Short: napari's pop-up showed only "Restored the model from the cache:" of the
        # whole description (which the Model file section shows).
        notify.info(f"Restored the cached model ({model.steps_done} steps): synthesize, or train it further.")

    # ------------------------------------------------------------ closing
    def shutdown(self) -> None:
        """Stop training and synthesis, stop listening to the viewer, free GPU memory."""
        if self._closed:
            return
        self._closed = True
        trainer = self.trainer_runner.trainer
        self.focus_keeper.shutdown()
        self._stop_workers()
        try:
            self._preview_target_timer.stop()
        except RuntimeError:  # Qt already deleted the timer (application exit)
            pass
        self._edit_watcher.watch(None)
        self._stroke_clock.watch(None)
        try:
            # Shown again: the note that said why it was hidden goes with the widget (it
            # stayed hidden, unexplained; a pass on napari use).
            self.hidden_target.show()
        except RuntimeError:  # (the viewer's Qt side already gone: application exit)
            self.hidden_target.forget()
        self.viewer.dims.events.current_step.disconnect(self._on_dims_changed)
        self.viewer.layers.events.removed.disconnect(self._on_layer_removed)
        self.viewer.layers.events.inserted.disconnect(self._on_layer_inserted)
        self.viewer.layers.selection.events.active.disconnect(self._on_active_layer)
        self.viewer.events.theme.disconnect(self._on_theme)
        grid_of(self.viewer).events.enabled.disconnect(self._on_grid_switched)
        for picker in (self.pickers.image, self.pickers.labels, self.pickers.target):
            picker.disconnect_viewer()
        # The model lets go of its networks and pyramid first: released while it
        # held them, its accelerator memory stayed taken. It is not lost: a
        # trained model is in the checkpoint cache (offered again on reopening),
        # a loaded one in its file.
        model, self.model = self.model, None
        self.synthesis_jobs.model_changed(None)  # (the last job's key holds the model)
        device = model.device if model is not None else None
        del model
        labels_only = self.synthesis_jobs.labels_only
        labels_only_device = labels_only[1].device if labels_only is not None else None
        self.synthesis_jobs.labels_only = None
        if labels_only_device is not None:
            release_device_memory(labels_only_device)
        release_device_memory(device)
        if trainer is not None:
            release_device_memory(trainer.device)
