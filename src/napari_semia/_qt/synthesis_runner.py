"""Synthesis off the UI thread, one request at a time, newest request wins.

Live mode calls :meth:`SynthesisRunner.schedule` on every brush event; a
single-shot QTimer debounces them. A request shows the fast result first
(the generator's output, about 0.1 s), then the full-resolution one. A newer
request cancels the running one's full-resolution stage and waits (only the
newest waits; older ones are dropped, never queued).
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from napari.qt.threading import thread_worker
from psygnal import Signal
from qtpy.QtCore import QObject, QTimer
from qtpy.QtCore import Signal as QtSignal

from . import jobs
from .jobs import SynthesisJob, SynthesisResult

DEBOUNCE_MS = 300


#: Longest wait, when the widget closes, for a cancelled synthesis to end.
SHUTDOWN_WAIT_S = 2.0


class _ProgressRelay(QObject):
    """Fractions reported from inside the worker reach the main thread queued."""

    fraction = QtSignal(float)


class SynthesisRunner:
    result = Signal(object)  # SynthesisResult with an image (result.final: the last one)
    failed = Signal(object)  # SynthesisResult with an error
    busy = Signal(bool)
    progress = Signal(float)  # fraction of the full-resolution stage done

    def __init__(self, make_job: Callable[[int], SynthesisJob | None]) -> None:
        """``make_job(request_id)`` copies the current inputs on the main thread
        (or reports a problem and returns None)."""
        self._make_job = make_job
        self._timer = QTimer()
        self._timer.setSingleShot(True)
        self._timer.setInterval(DEBOUNCE_MS)
        self._timer.timeout.connect(self.run_now)
        self._relay = _ProgressRelay()
        self._relay.fraction.connect(self.progress.emit)
        self._worker = None
        self._cancel = threading.Event()
        self._done = threading.Event()  # set when the running job's generator has ended
        self._pending: SynthesisJob | None = None
        self._next_id = 0
        self._shown = (-1, False)  # (request id, final) of the newest result shown
        self._closed = False

    @property
    def running(self) -> bool:
        return self._worker is not None

    @property
    def idle(self) -> bool:
        """Nothing running, waiting or scheduled."""
        return self._worker is None and self._pending is None and not self._timer.isActive()

    def cancel(self) -> None:
        """Forget a scheduled or waiting request, and stop the running one's
        full-resolution stage (e.g. the target changed)."""
        self._timer.stop()
        self._pending = None
        self._cancel.set()

    def schedule(self) -> None:
        """Synthesize ~300 ms after the last call (debounce for brush strokes)."""
        if not self._closed:
            self._timer.start()

    def run_now(self) -> None:
        if self._closed:
            return
        self._timer.stop()
        self._next_id += 1
        job = self._make_job(self._next_id)
        if job is None:
            return
        if self._worker is not None:
            self._pending = job  # replaces any older waiting request
            self._cancel.set()  # the running one is out of date: end it soon
            return
        self._start(job)

    def _start(self, job: SynthesisJob) -> None:
        self._cancel = threading.Event()
        self._done = done = threading.Event()

        def results(job, cancel, report):
            try:
                # Looked up at call time, so tests can slow it down.
                yield from jobs.synthesis_results(job, cancel, report)
            finally:
                done.set()

        worker = thread_worker(results, start_thread=False)(job, self._cancel, self._relay.fraction.emit)
        worker.yielded.connect(self._on_result)
        worker.errored.connect(self._on_errored)
        worker.finished.connect(self._on_finished)
        self._worker = worker
        self.busy.emit(True)
        worker.start()

    def _on_result(self, result: SynthesisResult) -> None:
        if self._closed:
            return
        if result.error is not None:
            self.failed.emit(result)
            return
        order = (result.request_id, result.final)
        if order > self._shown:
            self._shown = order
            self.result.emit(result)

    def _on_errored(self, error: Exception) -> None:
        # synthesis_results yields its failures; this is a last resort.
        if not self._closed:
            self.failed.emit(SynthesisResult(None, None, error))

    def _on_finished(self) -> None:
        self._worker = None
        if self._pending is not None and not self._closed:
            job, self._pending = self._pending, None
            self._start(job)
        else:
            self.busy.emit(False)

    def shutdown(self) -> None:
        self._closed = True
        self._pending = None
        self._cancel.set()
        try:
            self._timer.stop()
        except RuntimeError:  # Qt already deleted the timer (application exit)
            pass
        for signal in (self.result, self.failed, self.busy, self.progress):
            signal.disconnect()
        if self._worker is not None:
            self._worker.quit()
            # Cancelled, the job ends at its next refinement pass; let it, so its
            # worker is not left emitting into a widget being torn down.
            self._done.wait(SHUTDOWN_WAIT_S)
