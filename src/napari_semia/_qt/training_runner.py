"""Runs one training job at a time in a background thread (see background.py).

Closing the widget or napari asks the trainer to stop: the thread finishes
its step and writes the final checkpoint. The runner is a plain Python object
with psygnal signals, so it can be shut down safely from the widget's
``destroyed`` signal or at application exit, when the widget's Qt side may
already be gone.
"""

from __future__ import annotations

import threading

from psygnal import Signal

from ..checkpoints import CheckpointStore
from ..device import release_device_memory
from ..trainer import SemiaTrainer
from ..training_progress import TrainingProgress
from .background import GeneratorThread
from .jobs import TrainingJob, TrainingResult, TrainingStarted, training_updates


class TrainingRunner:
    started = Signal(object)  # TrainingStarted: the trainer exists
    progress = Signal(object)  # TrainingProgress
    finished = Signal(object)  # TrainingResult, failures included
    ended = Signal()  # after finished: the thread is gone

    def __init__(self, checkpoints: CheckpointStore | None = None) -> None:
        self.checkpoints = checkpoints
        self.trainer: SemiaTrainer | None = None
        self._stop = threading.Event()
        self._device = None
        self._thread = GeneratorThread("napari-semia training")
        self._thread.yielded.connect(self._on_update)
        self._thread.returned.connect(self.finished.emit)
        self._thread.ended.connect(self._on_ended)

    @property
    def running(self) -> bool:
        return self._thread.running

    def start(self, job: TrainingJob) -> None:
        """Start the thread; it builds the trainer (inputs are checked there)."""
        if self.running:
            raise RuntimeError("A training run is already in progress.")
        self._stop = threading.Event()
        stop = self._stop

        def updates():
            inner = training_updates(job, stop, self.checkpoints)
            while True:
                try:
                    update = next(inner)
                except StopIteration as end:
                    return end.value
                if isinstance(update, TrainingStarted):
                    self._device = update.trainer.device
                    if stop.is_set():  # Stop pressed before the trainer existed
                        update.trainer.stop()
                yield update

        def failed(error):  # training_updates returns its failures; a last resort
            return TrainingResult(None, 0, job.config.steps, False, error=error)

        self._thread.start(updates(), failed, on_exit=lambda: release_device_memory(self._device))

    def stop(self) -> None:
        """Ask the run to end after the current step; the model is kept."""
        self._stop.set()
        if self.trainer is not None:
            self.trainer.stop()

    def shutdown(self) -> None:
        """Stop for good (widget or viewer closing): nobody listens any more.
        The thread ends after the current step, writing the final checkpoint."""
        for signal in (self.started, self.progress, self.finished, self.ended):
            signal.disconnect()
        self.stop()

    def _on_update(self, update) -> None:
        if isinstance(update, TrainingStarted):
            self.trainer = update.trainer
            if self._stop.is_set():
                self.trainer.stop()
            self.started.emit(update)
        elif isinstance(update, TrainingProgress):
            self.progress.emit(update)

    def _on_ended(self) -> None:
        self.trainer = None
        # Again now that the trainer (networks, optimizer moments, data) is let go:
        # while the thread ended, this runner still held it, so little was freed.
        release_device_memory(self._device)
        self.ended.emit()
