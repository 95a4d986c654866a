"""Makes one synthetic dataset at a time in a background thread (see background.py)."""

from __future__ import annotations

import threading

from psygnal import Signal

from .background import GeneratorThread
from .jobs import DatasetOutcome, DatasetRequest, dataset_updates


class DatasetRunner:
    progress = Signal(object)  # GenerationProgress
    finished = Signal(object)  # DatasetOutcome, failures included
    ended = Signal()

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._thread = GeneratorThread("napari-semia dataset")
        self._thread.yielded.connect(self.progress.emit)
        self._thread.returned.connect(self.finished.emit)
        self._thread.ended.connect(self.ended.emit)

    @property
    def running(self) -> bool:
        return self._thread.running

    def start(self, request: DatasetRequest) -> None:
        self._stop = threading.Event()
        self._thread.start(dataset_updates(request, self._stop),
                           lambda error: DatasetOutcome(None, [], [], error=error))

    def stop(self) -> None:
        """Stop after the pairs in progress; the folder keeps what is complete."""
        self._stop.set()

    def shutdown(self) -> None:
        for signal in (self.progress, self.finished, self.ended):
            signal.disconnect()
        self.stop()
