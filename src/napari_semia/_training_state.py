"""Parameters and status of the dock widget, as small evented dataclasses.

Qt controls write into these and listen to them; the training job is built
from a snapshot of :class:`TrainingSettings` taken on the main thread, so the
worker never reads a widget.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from psygnal import evented

from .config import PRESETS, TrainingConfig

DEFAULT_PRESET = "quick"


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


@evented
@dataclass
class TrainingStatus:
    phase: Phase = Phase.IDLE
    step: int = 0
    total_steps: int = 0
    elapsed_s: float = 0.0
    eta_s: float = 0.0
    message: str = "No model yet: pick layers and press Train."
    device_text: str = ""

    # Called on the main thread by the widget, from the worker's updates.
    def start(self, total_steps: int, device_text: str) -> None:
        self.device_text = device_text
        self.total_steps = total_steps
        self.step = 0
        self.phase = Phase.TRAINING
        self.message = f"Training on {device_text}…"

    def update(self, progress) -> None:
        """Take a :class:`~napari_semia.trainer.TrainingProgress`."""
        self.elapsed_s, self.eta_s = progress.elapsed_s, progress.eta_s
        self.step = progress.step

    def finish(self, steps_done: int, total_steps: int, model_steps: int, stopped: bool) -> None:
        how = "stopped early" if stopped else "finished"
        resumed = f" ({model_steps} in total)" if model_steps != steps_done else ""
        self.message = (f"Training {how} after {steps_done} of {total_steps} steps{resumed}. "
                        "Synthesize, or edit the target with Live on.")

    def end(self) -> None:
        if self.phase in (Phase.TRAINING, Phase.STOPPING):
            self.phase = Phase.IDLE
