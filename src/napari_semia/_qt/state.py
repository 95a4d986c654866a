"""The widget's parameters and its one state, as small evented dataclasses.

Every control listens to :class:`WidgetState` and enables itself from it
(nothing is enabled or disabled by hand elsewhere); the training job is built
from a snapshot of :class:`TrainingSettings` taken on the main thread, so
workers never read a widget.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from psygnal import evented

from ..config import PRESETS, TrainingConfig

DEFAULT_PRESET = "quick"
#: Trainings shorter than this are called previews of the result.
SHORT_TRAINING_STEPS = 300


@evented
@dataclass
class TrainingSettings:
    preset: str = DEFAULT_PRESET
    steps: int = PRESETS[DEFAULT_PRESET].steps
    size: int = PRESETS[DEFAULT_PRESET].size
    device: str = "auto"
    seed: int = 0
    continue_training: bool = False
    """Start from the current model (``resume=``) instead of from scratch."""
    # --- advanced ---
    preview_every: int = 25
    """Steps between live previews of the target layout, 0 = no previews."""
    width: int = PRESETS[DEFAULT_PRESET].width
    levels: int = PRESETS[DEFAULT_PRESET].levels
    coarse_fraction: float = PRESETS[DEFAULT_PRESET].coarse_fraction

    def apply_preset(self, name: str) -> None:
        """Fill every field a preset defines (the user may edit them afterwards)."""
        config = PRESETS[name]
        self.preset = name
        self.steps = config.steps
        self.size = config.size
        self.width = config.width
        self.levels = config.levels
        self.coarse_fraction = config.coarse_fraction

    def preset_edited(self) -> bool:
        """Whether a field the preset fills differs from the preset's value."""
        config = PRESETS[self.preset]
        return any(getattr(self, name) != getattr(config, name)
                   for name in ("steps", "size", "width", "levels", "coarse_fraction"))

    def to_config(self) -> TrainingConfig:
        """The preset's config with the user's edits (raises SemiaInputError)."""
        return PRESETS[self.preset].replace(
            steps=int(self.steps), size=int(self.size), seed=int(self.seed),
            width=int(self.width), levels=int(self.levels),
            coarse_fraction=float(self.coarse_fraction),
        )


class Phase(str, Enum):
    IDLE = "idle"
    TRAINING = "training"
    STOPPING = "stopping"
    GENERATING = "generating"
    """Making a synthetic dataset."""


#: The status line with no model and nothing done yet.
NO_MODEL_MESSAGE = ("No model yet: choose a source image, its labels and a target layout above (File → "
                    "Open Sample → napari-semia has examples), then press Train, or Synthesize for a "
                    "first result from the labels alone, without training.")
#: The same once the three are chosen.
NO_MODEL_CHOSEN_MESSAGE = ("No model yet: press Train, or Synthesize for a first result from the labels "
                           "alone, without training.")


@evented
@dataclass
class WidgetState:
    """What the widget is doing and what it has; every control subscribes to it."""

    phase: Phase = Phase.IDLE
    has_model: bool = False
    model_unsaved: bool = False
    """The current model was trained here and not written to a file yet."""
    model_text: str = "No model yet."
    inputs_chosen: bool = False
    """A source image, its labels and a target are chosen."""
    model_network: tuple[int, int, int] | None = None
    """(working size, width, levels) of the current model: what continuing it keeps."""
    device_text: str = ""
    step: int = 0
    total_steps: int = 0
    elapsed_s: float = 0.0
    eta_s: float = 0.0
    message: str = NO_MODEL_MESSAGE
    hidden_note: str = ""
    """Shown after ``message``: which target is hidden so the result shows (kept apart,
    so a line saved and put back later, e.g. after an error, does not bring back a
    note of a target since shown again or removed)."""
    synthesizing: bool = False
    """A synthesis runs: apart from ``phase``, as it may run while a dataset is made
    (its Stop greyed then, and the phase set idle when the dataset ended under it)."""
    synthesis_fraction: float = 0.0
    """How far the running full-resolution synthesis is (0 before it starts)."""
    dataset_done: int = 0
    dataset_total: int = 0
    dataset_message: str = "Make many new (image, label map) pairs with the model, e.g. to train a segmenter."

    @property
    def training(self) -> bool:
        return self.phase in (Phase.TRAINING, Phase.STOPPING)

    @property
    def busy(self) -> bool:
        """Training or making a dataset: the settings of both wait."""
        return self.phase in (Phase.TRAINING, Phase.STOPPING, Phase.GENERATING)

    @property
    def busy_reason(self) -> str | None:
        """Why settings and other runs wait now, for greyed controls; None when idle."""
        if self.training:
            return "training is under way; Stop it first."
        if self.phase is Phase.GENERATING:
            return "a dataset is being made; Stop it first."
        return None

    # Called on the main thread by the widget, from the workers' updates.
    def start_training(self, total_steps: int) -> None:
        self.total_steps = total_steps
        self.step = 0
        self.elapsed_s = self.eta_s = 0.0
        self.message = "Preparing the training data…"
        self.phase = Phase.TRAINING

    def update_progress(self, progress) -> None:
        """Take a :class:`~napari_semia.training_progress.TrainingProgress`."""
        self.elapsed_s, self.eta_s = progress.elapsed_s, progress.eta_s
        self.step = progress.step

    def finish_training(self, steps_done: int, total_steps: int, model_steps: int, stopped: bool,
                        diverged: str | None = None, has_target: bool = True) -> None:
        """``has_target``: a target is chosen (without one, the line says how to make one:
        it invited painting a target that had been deleted during the run)."""
        resumed = f" ({model_steps} in total)" if model_steps != steps_done else ""
        if diverged:
            self.message = f"{diverged} Lower the learning rates or the working size, or train again."
            return
        how = "stopped early" if stopped else "finished"
        # (The result for the target is synthesized by itself once training ends.)
        then = ("Paint the target with Live on to see each edit." if has_target else
                "Make a target to paint with 'New target from source labels' (or choose one under "
                "Target labels), and turn on Live.")
        self.message = f"Training {how} after {steps_done} of {total_steps} steps{resumed}. {then}"
        if model_steps < SHORT_TRAINING_STEPS:
            self.message += (f" {model_steps} steps give a preview; the 'default' preset gives the "
                             "final quality.")

    def show_kept_model(self, steps: int) -> None:
        """A run that failed or stopped before its first step: the progress bar shows
        the model that is kept, not the run's step 0."""
        self.step = self.total_steps = steps
        self.elapsed_s = self.eta_s = 0.0

    def ready_message(self) -> str:
        """The status line when nothing is running and nothing failed."""
        if not self.has_model:
            return NO_MODEL_CHOSEN_MESSAGE if self.inputs_chosen else NO_MODEL_MESSAGE
        return ("A model is ready: Synthesize, edit the target with Live on, or press Train to "
                "continue training it.")

    def model_opened(self, steps: int, how: str) -> None:
        """A model came from a file or the checkpoint cache rather than from training here."""
        self.show_kept_model(steps)
        self.message = (f"{how} a model trained for {steps} steps. Synthesize, edit the target "
                        "with Live on, or press Train to continue training it.")

    def end_training(self) -> None:
        if self.training:
            self.phase = Phase.IDLE
