"""Runs one training job at a time in a napari ``thread_worker``.

A plain Python object (not a QObject) with psygnal signals, so it can be shut
down safely from the widget's ``destroyed`` signal or at application exit,
when the widget's Qt side may already be gone.
"""

from __future__ import annotations

from napari.qt.threading import thread_worker
from psygnal import Signal

from .device import release_device_memory
from .trainer import SemiaTrainer, TrainingProgress
from ._training_worker import TrainingJob, TrainingResult, training_updates


class TrainingRunner:
    started = Signal(object)  # SemiaTrainer
    progress = Signal(object)  # TrainingProgress
    finished = Signal(object)  # TrainingResult
    failed = Signal(object)  # Exception
    ended = Signal()  # after finished / failed / aborted: the worker is gone

    def __init__(self) -> None:
        self.trainer: SemiaTrainer | None = None
        self.worker = None

    @property
    def running(self) -> bool:
        return self.worker is not None

    def start(self, job: TrainingJob) -> SemiaTrainer:
        """Validate, build the trainer and start the worker (raises SemiaInputError)."""
        if self.running:
            raise RuntimeError("A training run is already in progress.")
        trainer = job.make_trainer()
        worker = thread_worker(training_updates, start_thread=False)(trainer)
        worker.yielded.connect(self._on_yielded)
        worker.returned.connect(self._on_returned)
        worker.errored.connect(self._on_errored)
        worker.finished.connect(self._on_finished)
        self.trainer, self.worker = trainer, worker
        self.started.emit(trainer)
        worker.start()
        return trainer

    def stop(self) -> None:
        """Ask the run to end after the current step; the model is kept."""
        if self.trainer is not None:
            self.trainer.stop()

    def shutdown(self) -> None:
        """Stop for good (widget or viewer closing): nobody listens any more."""
        for signal in (self.started, self.progress, self.finished, self.failed, self.ended):
            signal.disconnect()
        if self.trainer is not None:
            self.trainer.stop()
        if self.worker is not None:
            self.worker.quit()

    # ----------------------------------------------------------- worker side
    def _on_yielded(self, progress: TrainingProgress) -> None:
        self.progress.emit(progress)

    def _on_returned(self, result: TrainingResult) -> None:
        if result.error is not None:
            self.failed.emit(result.error)
        else:
            self.finished.emit(result)

    def _on_errored(self, error: Exception) -> None:
        self.failed.emit(error)

    def _on_finished(self) -> None:
        device = self.trainer.device if self.trainer is not None else None
        self.trainer, self.worker = None, None
        release_device_memory(device)
        self.ended.emit()
