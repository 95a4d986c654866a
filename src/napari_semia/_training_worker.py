"""What runs off the Qt main thread: training and synthesis.

Nothing here touches a Qt object or reads a widget. Inputs are copied on the
main thread into a :class:`TrainingJob` / :class:`SynthesisJob`; the widget
wraps these generators and functions in ``napari.qt.threading`` workers and
receives typed results through the workers' signals.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generator

import numpy as np

from .config import TrainingConfig
from .model_file import SemiaModel
from .trainer import SemiaTrainer, TrainingProgress


@dataclass(frozen=True)
class TrainingJob:
    image: np.ndarray
    labels: np.ndarray
    target: np.ndarray | None
    config: TrainingConfig
    device: str
    preview_every: int
    resume: SemiaModel | None

    def make_trainer(self) -> SemiaTrainer:
        """Build the trainer; validates the inputs (raises SemiaInputError).

        Called on the main thread so bad input is reported before any thread
        starts, and so Stop has a trainer to talk to from the first moment.
        """
        return SemiaTrainer(
            self.image, self.labels, config=self.config, device=self.device,
            preview_target=self.target,
            preview_every=self.preview_every if self.target is not None else 0,
            resume=self.resume,
        )


@dataclass(frozen=True)
class TrainingResult:
    model: SemiaModel | None
    steps_done: int
    total_steps: int
    stopped: bool
    last_preview: np.ndarray | None
    error: Exception | None = None
    """Why training failed (then ``model`` is None: a diverged model is no use)."""


def training_updates(trainer: SemiaTrainer) -> Generator[TrainingProgress, None, TrainingResult]:
    """Yield every :class:`TrainingProgress`; return the trained model.

    Ends early (still returning the model trained so far) after ``trainer.stop()``.
    A failure is returned as a result, not raised: the widget reports it in
    its own words instead of napari's generic traceback notification.
    """
    last: TrainingProgress | None = None
    try:
        for progress in trainer.run():
            last = progress
            yield progress
    except Exception as error:  # noqa: BLE001  (reported to the user by the widget)
        return TrainingResult(None, last.step if last else 0, trainer.config.steps,
                              False, None, error)
    return TrainingResult(
        model=trainer.model,
        steps_done=last.step if last else 0,
        total_steps=last.total_steps if last else trainer.config.steps,
        stopped=bool(last and last.stopped),
        last_preview=last.preview if last else None,
    )


@dataclass(frozen=True)
class SynthesisJob:
    model: SemiaModel
    target: np.ndarray
    output_index: tuple[int, ...]
    """Where the result goes in a stacked output (empty for 2D)."""
    leading_shape: tuple[int, ...]
    request_id: int


@dataclass(frozen=True)
class SynthesisResult:
    image: np.ndarray | None
    job: SynthesisJob
    error: Exception | None = None

    @property
    def request_id(self) -> int:
        return self.job.request_id


def run_synthesis(job: SynthesisJob) -> SynthesisResult:
    try:
        image = job.model.synthesize(job.target)
    except Exception as error:  # noqa: BLE001  (reported to the user by the widget)
        return SynthesisResult(None, job, error)
    return SynthesisResult(image, job)
