"""Runs one training job at a time in a background thread.

The job is the generator :func:`~.jobs.training_updates`; its typed updates
reach the main thread through a Qt signal (queued across threads, as napari's
workers do). A plain thread rather than a ``napari.qt.threading`` worker,
because napari aborts its workers at exit by no longer resuming their
generators, which would skip the final checkpoint: here closing the widget or
napari asks the trainer to stop, and the thread finishes its step and writes
the checkpoint (Python waits for it before the process ends).

The runner is a plain Python object with psygnal signals, so it can be shut
down safely from the widget's ``destroyed`` signal or at application exit,
when the widget's Qt side may already be gone.
"""

from __future__ import annotations

import threading

from psygnal import Signal
from qtpy.QtCore import QObject
from qtpy.QtCore import Signal as QtSignal

from ..checkpoints import CheckpointStore
from ..device import release_device_memory
from ..trainer import SemiaTrainer
from ..training_progress import TrainingProgress
from .jobs import TrainingJob, TrainingResult, TrainingStarted, training_updates


class _Relay(QObject):
    """Carries updates from the training thread to the main thread."""

    update = QtSignal(object)
    done = QtSignal()


class TrainingRunner:
    started = Signal(object)  # TrainingStarted: the trainer exists
    progress = Signal(object)  # TrainingProgress
    finished = Signal(object)  # TrainingResult, failures included
    ended = Signal()  # after finished: the thread is gone

    def __init__(self, checkpoints: CheckpointStore | None = None) -> None:
        self.checkpoints = checkpoints
        self.trainer: SemiaTrainer | None = None
        self.thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._relay = _Relay()
        self._relay.update.connect(self._on_update)
        self._relay.done.connect(self._on_done)

    @property
    def running(self) -> bool:
        return self.thread is not None

    def start(self, job: TrainingJob) -> None:
        """Start the thread; it builds the trainer (inputs are checked there)."""
        if self.running:
            raise RuntimeError("A training run is already in progress.")
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._run, args=(job, self._stop, self._relay),
                                       name="napari-semia training")
        self.thread.start()

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

    # ----------------------------------------------------------- the thread
    def _run(self, job: TrainingJob, stop: threading.Event, relay: _Relay) -> None:
        updates = training_updates(job, stop, self.checkpoints)
        device = None
        try:
            while True:
                try:
                    update = next(updates)
                except StopIteration as end:
                    result = end.value
                    break
                if isinstance(update, TrainingStarted):
                    device = update.trainer.device
                    if stop.is_set():
                        update.trainer.stop()
                relay.update.emit(update)
        except Exception as error:
            result = TrainingResult(None, 0, job.config.steps, False, None, error=error)
        finally:
            release_device_memory(device)
        relay.update.emit(result)
        relay.done.emit()

    # ---------------------------------------------------------- main thread
    def _on_update(self, update) -> None:
        if isinstance(update, TrainingStarted):
            self.trainer = update.trainer
            if self._stop.is_set():
                self.trainer.stop()
            self.started.emit(update)
        elif isinstance(update, TrainingProgress):
            self.progress.emit(update)
        elif isinstance(update, TrainingResult):
            self.finished.emit(update)

    def _on_done(self) -> None:
        if self.thread is not None:
            self.thread.join()
        self.trainer, self.thread = None, None
        self.ended.emit()
