"""What runs off the Qt main thread: training and synthesis.

Nothing here touches a Qt object or reads a widget. Inputs are copied on the
main thread into a :class:`TrainingJob` / :class:`SynthesisJob`; the runners
run these generators in a background thread (``background.py``) and receive
typed updates through a queued Qt signal. Even building the trainer (validation,
normalisation, moving data to the device) happens here, so pressing Train
never blocks the UI.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Generator
from dataclasses import dataclass, field

import numpy as np

from ..checkpoints import Checkpointer, CheckpointStore
from ..config import TrainingConfig
from ..device import describe_device
from ..errors import ModelFileError, SemiaInputError
from ..labels_only import LabelsOnlySynthesizer
from ..model import SemiaModel
from ..source_info import SourceInfo
from ..trainer import SemiaTrainer
from ..training_progress import TrainingProgress


@dataclass(frozen=True)
class TrainingJob:
    image: np.ndarray
    labels: np.ndarray
    target: np.ndarray | None
    config: TrainingConfig
    device: str
    preview_every: int
    resume: SemiaModel | None
    checkpoint_key: str | None = None
    """Fingerprint of (image, labels) for checkpoints; None: no checkpoints."""
    names: dict = field(default_factory=dict)
    """Layer names of the training pair (shown when offering a restore)."""
    source_info: SourceInfo | None = None
    """The source layers' channel names and pixel size, for the model."""


@dataclass(frozen=True)
class TrainingStarted:
    """The trainer exists (inputs valid): Stop and live previews can reach it."""

    trainer: SemiaTrainer
    device_text: str
    preview_problem: str | None
    """Why the target cannot be previewed (it is checked against the source), or None."""
    image_warning: str | None = None
    """A (nearly) constant image or very many classes: training proceeds, the user should know."""


@dataclass(frozen=True)
class TrainingResult:
    model: SemiaModel | None
    """The trained model; None when training could not start or failed with no step done."""
    steps_done: int
    total_steps: int
    stopped: bool
    diverged: str | None = None
    error: Exception | None = None
    """Why training could not start or failed (input errors included)."""
    checkpoint_problem: str | None = None


def training_updates(job: TrainingJob, stop: threading.Event, store: CheckpointStore | None = None,
                     ) -> Generator[TrainingStarted | TrainingProgress, None, TrainingResult]:
    """Build the trainer, train, checkpoint; yield typed updates, return the result.

    Failures are returned, not raised: the widget reports them in its own
    words instead of napari's generic traceback notification.
    """
    total = job.config.steps
    try:
        trainer = SemiaTrainer(job.image, job.labels, config=job.config, device=job.device, resume=job.resume,
                               source_info=job.source_info, warn=False)
    except Exception as error:
        return TrainingResult(None, 0, total, False, error=error)
    preview_problem = None
    if job.target is not None:
        try:
            trainer.set_preview_target(job.target)
            trainer.preview_every = job.preview_every
        except SemiaInputError as error:
            preview_problem = str(error)
            if np.shape(job.target)[:2] != np.shape(job.labels)[:2]:
                preview_problem += " ('New target from source labels' makes a target of the right size.)"
    if stop.is_set():
        trainer.stop()
    yield TrainingStarted(trainer, describe_device(trainer.device), preview_problem,
                          trainer.input_note)

    checkpointer = None
    if store is not None and job.checkpoint_key:
        checkpointer = Checkpointer(store, job.checkpoint_key, job.names)
    checkpoint_problem = None
    last: TrainingProgress | None = None
    try:
        for progress in trainer.run():
            last = progress
            if checkpointer is not None and checkpoint_problem is None and not progress.finished:
                try:
                    checkpointer.maybe_save(trainer)
                except ModelFileError as error:
                    checkpoint_problem = str(error)
            yield progress
    except Exception as error:
        return TrainingResult(trainer.model if trainer.step else None, trainer.step, total, True,
                              error=error)
    finally:
        # Also when the worker is aborted or fails: the model trained so far is kept.
        if checkpointer is not None:
            try:
                checkpointer.save(trainer)
            except ModelFileError as error:
                checkpoint_problem = checkpoint_problem or str(error)
    return TrainingResult(
        model=trainer.model,
        steps_done=trainer.step,
        total_steps=total,
        stopped=bool(last and last.stopped),
        diverged=last.diverged if last else None,
        checkpoint_problem=checkpoint_problem,
    )


@dataclass(frozen=True)
class SynthesisJob:
    model: SemiaModel | None
    """None before there is a model: ``labels_only`` makes the result."""
    target: np.ndarray
    request_id: int
    destination: object = None
    """Where the result goes (an ``OutputSpec``); opaque to the worker."""
    full_resolution: bool = True
    """Follow the fast preview with the full-resolution result (when the model can)."""
    labels_only: LabelsOnlySynthesizer | None = None
    """The source's patches in the target's layout with no generator, for ``model=None``."""


@dataclass(frozen=True)
class SynthesisResult:
    job: SynthesisJob | None
    image: np.ndarray | None
    error: Exception | None = None
    final: bool = True
    """False for the fast preview that a full-resolution result will replace."""

    @property
    def request_id(self) -> int:
        return self.job.request_id if self.job is not None else -1


class SynthesisCancelled(Exception):
    """A newer request made this one useless."""


def synthesis_results(job: SynthesisJob, cancel: threading.Event,
                      report: Callable[[float], None] | None = None) -> Generator[SynthesisResult]:
    """The fast result (the generator's output, upsampled; about 0.1 s), then
    the full-resolution one; with no model, the full-resolution stage from the
    label map alone. ``cancel`` abandons the run at its next step (a second or
    two apart at tens of megapixels, the fast result's included);
    ``report(fraction)`` follows the full-resolution stage."""

    def progress(fraction: float) -> None:
        if cancel.is_set():
            raise SynthesisCancelled
        if report is not None:
            report(fraction)

    try:
        if job.model is None:  # one result, from the label map alone (no fast preview to give)
            yield SynthesisResult(job, job.labels_only.synthesize(job.target, progress=progress))
            return
        stages = job.model.synthesis_stages(job.target, refine=job.full_resolution, progress=progress)
        for image, final in stages:
            yield SynthesisResult(job, image, final=final)
            if cancel.is_set():
                return
    except SynthesisCancelled:
        return
    except Exception as error:  # reported to the user by the widget
        yield SynthesisResult(job, None, error)


#: Pairs opened as layers when a dataset is done, to look at before trusting it.
PREVIEW_PAIRS = 8


@dataclass(frozen=True)
class DatasetRequest:
    model: SemiaModel
    folder: str
    count: int
    seed: int
    object_ids: tuple[int, ...]
    strength: float
    full_resolution: bool
    source_labels: np.ndarray | None
    """The full-size source label map to sample layouts from (None: the model's own)."""
    keep_surroundings: bool = False


@dataclass(frozen=True)
class DatasetOutcome:
    summary: object | None
    """The run's ``GenerationSummary``; None when it could not start."""
    images: list
    labels: list
    """The first few pairs, read back from the folder."""
    error: Exception | None = None
    preview_problem: str | None = None
    """Why the pairs, written, could not be read back to be shown (None: they were)."""


def dataset_updates(request: DatasetRequest, stop: threading.Event):
    """Make a synthetic dataset: yields ``GenerationProgress``, returns a DatasetOutcome.

    The model (possibly not saved yet) is given to the job as it is, and its
    file kept in the dataset folder as ``model.semia`` (provenance, and what a
    rerun into the same folder is checked against).
    """
    from pathlib import Path

    from ..atomic_files import written_atomically
    from ..dataset import DatasetJob, load_manifest
    from ..io import read_image_file, read_label_file
    from ..layout_sampler import LayoutSamplerSettings

    try:
        settings = LayoutSamplerSettings(object_ids=request.object_ids,
                                         keep_surroundings=request.keep_surroundings).scaled(request.strength)
        # The model itself, not its file: the pairs then share the full-resolution
        # source side a Synthesize builds (a copy loaded from the file built its own).
        job = DatasetJob.prepare(
            request.model, request.folder, request.count, request.seed,
            source_labels=request.source_labels, sampler_settings=settings,
            full_resolution=request.full_resolution, device=str(request.model.device),
        )
        folder = Path(request.folder)
        kept = folder / "model.semia"
        # The copy beside the pairs (a model in memory has no file of its own).
        job.settings_record["model_file"] = kept.name
        # (Another model's file there was replaced without a word: a paths pass.)
        if kept.exists() and (not kept.is_file() or kept.read_bytes() != job.model_bytes):
            raise SemiaInputError(f"{folder} holds a model.semia of another model, which the dataset's "
                                  "copy of its model would replace: choose another folder, or move it.")
        try:
            folder.mkdir(parents=True, exist_ok=True)
            # The file's bytes the job already made (and keyed the run by): saved once, not twice.
            with written_atomically(kept) as temporary:
                temporary.write_bytes(job.model_bytes)
        except OSError as error:  # (as the job says it: a raw FileNotFoundError reached a new user)
            raise SemiaInputError(f"Cannot write into {folder}: {error.strerror or error}") from None
        yield from job.run(stop)
    except Exception as error:  # input errors mostly; reported by the widget
        return DatasetOutcome(None, [], [], error=error)
    images, labels = [], []
    try:
        for row in load_manifest(request.folder)[:PREVIEW_PAIRS]:
            images.append(read_image_file(Path(request.folder) / row["image"]))
            labels.append(read_label_file(Path(request.folder) / row["labels"]))
    except Exception as error:  # the pairs are written: only their preview is lost
        # (A manifest the csv module could not read made the run say the dataset
        # "could not be made", its pairs all on disk: an astronomer's new-user pass.)
        return DatasetOutcome(job.summary, [], [], preview_problem=str(error) or type(error).__name__)
    return DatasetOutcome(job.summary, images, labels)
