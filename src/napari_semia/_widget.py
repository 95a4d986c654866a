"""The napari dock widget: wires the small widgets, the evented state and the
workers together. The pieces live in their own ``_*.py`` modules; this one
only connects them and turns layers into jobs (copies, on the main thread).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from qtpy.QtWidgets import QWidget

from . import _notify as notify
from ._lifecycle import ClosesWithDock, stop_on_exit
from ._layer_data import displayed_plane, output_plane, training_planes
from ._layer_pickers import LayerPickers, copy_as_target
from ._live_synthesis import EditWatcher, SynthesisRunner
from ._loss_plot import LossPlot
from ._model_io import ModelIO
from ._output_layer import output_name, write_output
from ._progress_widget import ProgressWidget
from ._synthesis_controls import SynthesisControls, set_grid_view
from ._sections import scroll_into, section
from ._training_controls import TrainingControls, device_description
from ._training_runner import TrainingRunner
from ._training_state import Phase, TrainingSettings, TrainingStatus
from ._training_worker import SynthesisJob, TrainingJob
from .device import release_device_memory
from .errors import SemiaInputError
from .model_file import SemiaModel
from .validation import validate_target


class SemiaWidget(ClosesWithDock, QWidget):
    """Semantic Image Analogy: train on (image, labels), synthesize a painted layout."""

    def __init__(self, napari_viewer, parent=None):
        super().__init__(parent)
        self.viewer = napari_viewer
        self.settings = TrainingSettings()
        self.status = TrainingStatus()
        self.model: SemiaModel | None = None
        self._step_offset = 0  # steps of the resumed model, for the loss plot
        self._closed = False
        self._output_plane: tuple = ((), ())  # (index, leading shape) of training previews
        self._synthesize_when_ended = False

        self.pickers = LayerPickers(napari_viewer)
        self.controls = TrainingControls(self.settings)
        self.progress = ProgressWidget(self.status)
        self.loss_plot = LossPlot()
        self.synthesis = SynthesisControls()
        self.model_io = ModelIO()
        self.losses_section = section("Losses", self.loss_plot)
        self.losses_section.setVisible(False)  # shown once training starts
        # Actionable controls first and the tall loss plot last, so Train and
        # Synthesize stay above the fold.
        self.content = scroll_into(self, [
            section("Layers", self.pickers),
            section("Training", self.controls, self.progress),
            section("Synthesis", self.synthesis),
            section("Model file", self.model_io),
            self.losses_section,
        ])
        self.setMinimumWidth(380)

        self.trainer_runner = TrainingRunner()
        self.synth_runner = SynthesisRunner(self._make_synthesis_job)
        self._edit_watcher = EditWatcher(self._on_target_edited)
        self._connect()
        self._stop_workers = stop_on_exit(self, (self.trainer_runner, self.synth_runner))

    # ------------------------------------------------------------- wiring
    def _connect(self) -> None:
        self.pickers.new_target_button.clicked.connect(self.new_target_from_source)
        self.pickers.target.layer_changed.connect(self._on_target_changed)
        self.controls.train_button.clicked.connect(self.train)
        self.controls.stop_button.clicked.connect(self.stop)
        self.synthesis.synthesize_button.clicked.connect(self.synth_runner.run_now)
        self.synthesis.live.toggled.connect(self._on_live_toggled)
        self.synthesis.side_by_side.toggled.connect(lambda on: set_grid_view(self.viewer, on))
        self.model_io.save_button.clicked.connect(self.save_model)
        self.model_io.load_button.clicked.connect(self.load_model)
        runner = self.trainer_runner
        runner.progress.connect(self._on_progress)
        runner.finished.connect(self._on_trained)
        runner.failed.connect(lambda error: notify.exception(error, "Training"))
        runner.ended.connect(self._on_training_ended)
        self.synth_runner.result.connect(self._on_synthesized)
        self.synth_runner.failed.connect(lambda error: notify.exception(error, "Synthesis"))
        self.synth_runner.busy.connect(self.synthesis.set_busy)
        self.viewer.dims.events.current_step.connect(self._on_dims_changed)

    @property
    def source_layer(self):
        return self.pickers.image.current_layer()

    @property
    def labels_layer(self):
        return self.pickers.labels.current_layer()

    @property
    def target_layer(self):
        return self.pickers.target.current_layer()

    # ---------------------------------------------------------- new target
    def new_target_from_source(self) -> None:
        source = self.labels_layer
        if source is None:
            notify.error("Choose the source labels first: the new target starts as a copy of them.")
            return
        try:
            self.pickers.target.set_layer(copy_as_target(self.viewer, source))
        except SemiaInputError as error:
            notify.error(str(error))

    # -------------------------------------------------------------- inputs
    def _output_name(self) -> str:
        source = self.source_layer
        target = self.target_layer
        return output_name(source.name if source else "model", target.name if target else "target")

    def _show_output(self, image: np.ndarray, index, leading_shape) -> None:
        reference = self.source_layer or self.target_layer
        if reference is None:
            return
        write_output(self.viewer, self._output_name(), image, reference, index, leading_shape,
                     below=self.target_layer)

    # ------------------------------------------------------------ training
    def train(self) -> None:
        if self.trainer_runner.running:
            return
        try:
            planes = training_planes(self.viewer, self.source_layer, self.labels_layer,
                                     self.target_layer)
            resume = self.model if self.settings.continue_training and self.model else None
            job = TrainingJob(planes.image, planes.labels, planes.target, self.settings.to_config(),
                              self.settings.device, self.settings.preview_every, resume)
            try:
                trainer = self.trainer_runner.start(job)
            except SemiaInputError as error:
                if planes.target is None:
                    raise
                # The target is only needed for previews: train anyway, but say why none appear.
                trainer = self.trainer_runner.start(replace(job, target=None, preview_every=0))
                notify.warning(f"Training without previews: {error}")
        except SemiaInputError as error:
            hint = (" Untick 'Continue from the current model' to train a new one."
                    if self.settings.continue_training and self.model is not None else "")
            notify.error(f"{error}{hint}")
            return
        self._output_plane = (planes.index, planes.leading_shape)
        self._step_offset = trainer.steps_before
        if not trainer.resumed:
            self.loss_plot.clear()
        self.status.start(trainer.config.steps, device_description(str(trainer.device))[0])
        self.controls.set_training(True, self.model is not None)
        self.model_io.load_button.setEnabled(False)  # one model at a time
        self.synthesis.set_model_available(False)  # previews show the target meanwhile

    def stop(self) -> None:
        if self.trainer_runner.running:
            self.status.phase = Phase.STOPPING
            self.trainer_runner.stop()

    def _on_progress(self, progress) -> None:
        self.status.update(progress)
        if progress.losses and not progress.finished:
            self.losses_section.setVisible(True)
            self.loss_plot.add_point(self._step_offset + progress.step, progress.losses)
        if progress.preview is not None:
            self._show_output(progress.preview, *self._output_plane)

    def _on_trained(self, result) -> None:
        self.set_model(result.model)
        self.status.finish(result.steps_done, result.total_steps, result.model.steps_done,
                           result.stopped)
        # No final preview (previews off or impossible): synthesize once the run has ended.
        self._synthesize_when_ended = self.target_layer is not None and result.last_preview is None

    def _on_training_ended(self) -> None:
        self.status.end()
        self.controls.set_training(False, self.model is not None)
        self.model_io.load_button.setEnabled(True)
        self.synthesis.set_model_available(self.model is not None)
        if self._synthesize_when_ended:
            self._synthesize_when_ended = False
            self.synth_runner.run_now()

    def set_model(self, model: SemiaModel | None) -> None:
        self.model = model
        self.model_io.show_model(model)
        self.synthesis.set_model_available(model is not None and not self.trainer_runner.running)
        if model is not None:
            # A second Train continues this model unless the user unticks it.
            self.settings.continue_training = True
        self.controls.set_training(self.trainer_runner.running, model is not None)

    # ----------------------------------------------------------- synthesis
    def _make_synthesis_job(self, request_id: int) -> SynthesisJob | None:
        if self.trainer_runner.running:
            self._update_preview_target()
            return None
        if self.model is None:
            notify.warning("Train or load a model first.")
            return None
        try:
            target = self._checked_target(self.model)
            index, leading = output_plane(self.viewer, self.target_layer, self.source_layer)
        except SemiaInputError as error:
            notify.error(str(error))
            return None
        return SynthesisJob(self.model, target, index, leading, request_id)

    def _checked_target(self, model: SemiaModel) -> np.ndarray:
        """The displayed target plane, checked against ``model`` (SemiaInputError)."""
        layer = self.target_layer
        if layer is None:
            raise SemiaInputError("Choose the target labels to synthesize.")
        target, _ = displayed_plane(self.viewer, layer)
        try:
            validate_target(target, model.source_shape, model.codec)
        except SemiaInputError as error:
            raise SemiaInputError(f"The model does not fit '{layer.name}': {error}") from None
        return target

    def _on_synthesized(self, result) -> None:
        self._show_output(result.image, result.job.output_index, result.job.leading_shape)

    # ---------------------------------------------------------------- live
    def _on_live_toggled(self, on: bool) -> None:
        self._edit_watcher.watch(self.target_layer if on else None)
        if on and self.model is not None:
            self.synth_runner.schedule()

    def _on_target_changed(self, layer) -> None:
        if self.synthesis.live.isChecked():
            self._edit_watcher.watch(layer)

    def _on_dims_changed(self, *_args) -> None:
        # A stacked target holds one layout per plane: Live follows the slider.
        layer = self.target_layer
        if self.synthesis.live.isChecked() and layer is not None and layer.ndim > 2:
            self._on_target_edited()

    def _on_target_edited(self) -> None:
        if self.model is not None or self.trainer_runner.running:
            self.synth_runner.schedule()  # debounced: one request per pause in painting

    def _update_preview_target(self) -> None:
        """While training, an edited target becomes the layout of the next preview."""
        try:
            target = displayed_plane(self.viewer, self.target_layer)[0] if self.target_layer else None
            self.trainer_runner.trainer.set_preview_target(target)
        except SemiaInputError as error:
            notify.warning(f"Preview not updated: {error}")

    # ---------------------------------------------------------- model file
    def save_model(self) -> None:
        source = self.source_layer
        self.model_io.save(self.model, f"{source.name if source else 'model'}.semia")

    def load_model(self) -> None:
        model = self.model_io.load(self.settings.device)
        if model is None:
            return
        self.set_model(model)
        if self.target_layer is not None:
            try:
                self._checked_target(model)
            except SemiaInputError as error:
                notify.warning(str(error))

    # ------------------------------------------------------------ closing
    def shutdown(self) -> None:
        """Stop training and synthesis, stop listening to the viewer, free GPU memory."""
        if self._closed:
            return
        self._closed = True
        trainer = self.trainer_runner.trainer
        self._stop_workers()
        self._edit_watcher.watch(None)
        self.viewer.dims.events.current_step.disconnect(self._on_dims_changed)
        for picker in (self.pickers.image, self.pickers.labels, self.pickers.target):
            picker.disconnect_viewer()
        release_device_memory(self.model.device if self.model is not None else None)
        if trainer is not None:
            release_device_memory(trainer.device)
