"""Synthesis off the UI thread, one request at a time, newest request wins.

Live mode calls :meth:`SynthesisRunner.schedule` on every brush event; a
single-shot QTimer debounces them. A request shows the fast result first
(the generator's output, about 0.1 s), then the full-resolution one. A newer
request cancels the running one's full-resolution stage and waits (only the
newest waits; older ones are dropped, never queued). A full-resolution result
that arrives while a stroke waits out the debounce is held until then, and
dropped if the stroke changed the target: shown, it was out of date, and the
next fast result replaced it a second later (a flicker at 13 megapixels, found
by a napari power user). The job runs on a
:class:`~.background.GeneratorThread`, like training and datasets.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import numpy as np
from psygnal import Signal
from qtpy.QtCore import QObject, QTimer
from qtpy.QtCore import Signal as QtSignal

from ..device import release_device_memory
from . import jobs
from .background import GeneratorThread
from .jobs import SynthesisJob, SynthesisResult

DEBOUNCE_MS = 300


#: Longest wait, on the UI thread, when the widget closes, for a cancelled synthesis
#: to end: it ends at its next step (milliseconds apart for common sizes, up to about
#: 5 s at 67 megapixels on a 2-core CPU). Past that it ends on its own and lets go of
#: its accelerator memory then (``_on_finished``): closing froze napari for up to 5 s.
SHUTDOWN_WAIT_S = 1.0


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
        self._thread = GeneratorThread("napari-semia synthesis")
        self._thread.yielded.connect(self._on_result)
        self._thread.returned.connect(self._on_returned)
        self._thread.ended.connect(self._on_finished)
        self._cancel = threading.Event()
        self._pending: SynthesisJob | None = None
        self._running_job: SynthesisJob | None = None
        #: Whether the last ``run_now`` was taken by the run under way (the same work).
        self.joined_running = False
        self._next_id = 0
        self._shown = (-1, False)  # (request id, final) of the newest result shown
        self._held: SynthesisResult | None = None  # a final result held while a stroke waits
        self._cancelled_through = 0  # requests up to this one were cancelled: their results are dropped
        self._closed = False
        self._device_at_close = None  # where a run that outlived the close's wait holds memory

    @property
    def running(self) -> bool:
        return self._thread.running

    @property
    def idle(self) -> bool:
        """Nothing running, waiting or scheduled."""
        return not self._thread.running and self._pending is None and not self._timer.isActive()

    def cancel(self) -> None:
        """Forget a scheduled or waiting request, and stop the running one's
        full-resolution stage (e.g. the target changed)."""
        self._timer.stop()
        self._pending = None
        self._held = None
        self._cancel.set()
        # The results already on their way to this thread too: shown after Stop, a
        # stack's fast result put its plane back on the list to complete, which ran
        # again; after Train, the replaced model's result was drawn during training.
        self._cancelled_through = self._next_id

    def unschedule(self) -> None:
        """Forget the request waiting out its debounce (a running one goes on); a
        result held for it is shown."""
        self._timer.stop()
        held, self._held = self._held, None
        if held is not None:
            self._show(held)

    def schedule(self) -> None:
        """Synthesize ~300 ms after the last call (debounce for brush strokes)."""
        if not self._closed:
            self._timer.start()

    def run_now(self) -> SynthesisJob | None:
        """Make the request now and run it (or queue it behind the running one);
        returns its job, None when there is nothing to synthesize."""
        if self._closed:
            return None
        self._timer.stop()
        self.joined_running = False
        held, self._held = self._held, None
        self._next_id += 1
        job = self._make_job(self._next_id)
        if held is not None and (job is None or not _same_place(job, held.job) or same_work(job, held.job)):
            # Not replaced: the stroke changed nothing, or its result goes elsewhere (another
            # plane of a stack, whose full-resolution result it would have lost), or the new
            # request asks for exactly it (Synthesize pressed meanwhile: joined to the run
            # that made it, it waited for a result already dropped; found in review).
            self._show(held)
            if job is not None and same_work(job, held.job):
                return held.job
        if job is None:
            return None
        running = self._running_job
        if running is not None and not self._cancel.is_set() and same_work(job, running):
            # The running one makes exactly this (Synthesize pressed while the end of
            # training's result was refined): restarting it threw away its progress.
            self.joined_running = True
            return running
        if self._thread.running:
            self._pending = job  # replaces any older waiting request
            self._cancel.set()  # the running one is out of date: end it soon
            return job
        self._start(job)
        return job

    def _start(self, job: SynthesisJob) -> None:
        self._cancel = threading.Event()
        self._running_job = job
        self.busy.emit(True)
        # Looked up at call time, so tests can slow it down.
        self._thread.start(jobs.synthesis_results(job, self._cancel, self._relay.fraction.emit),
                           lambda error: SynthesisResult(None, None, error))

    def _on_result(self, result: SynthesisResult) -> None:
        if self._closed:
            return
        if result.error is not None:
            self.failed.emit(result)
            return
        if result.request_id <= self._cancelled_through:
            return
        if result.final and self._timer.isActive():
            self._held = result  # a stroke waits: shown once it is known to change nothing
            return
        self._show(result)

    def _show(self, result: SynthesisResult) -> None:
        order = (result.request_id, result.final)
        if order > self._shown:
            self._shown = order
            self.result.emit(result)

    def _on_returned(self, result: SynthesisResult | None) -> None:
        # synthesis_results yields its failures; a raised one (a last resort)
        # comes back here from the thread's error handler.
        if result is not None and not self._closed:
            self.failed.emit(result)

    def _on_finished(self) -> None:
        self._running_job = None
        if self._closed:
            # A run that outlived the close's wait held its model until now: the
            # widget's release came while it was still held (a concurrency review).
            release_device_memory(self._device_at_close)
            self._device_at_close = None
            return
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
        # Cancelled, the job ends at its next refinement pass; let it, so it no
        # longer holds device memory when the widget releases it.
        running = self._running_job
        self._thread.wait(SHUTDOWN_WAIT_S)
        thread = self._thread.thread
        if running is not None and thread is not None and thread.is_alive():
            owner = running.model if running.model is not None else running.labels_only
            self._device_at_close = getattr(owner, "device", None)
        # Nor do the jobs kept here (each holds its model): the dock's close keeps
        # the widget, and them, until the viewer closes.
        self._running_job = self._held = None


def same_work(job: SynthesisJob, other: SynthesisJob) -> bool:
    """Whether the two jobs give the same result in the same place: the same model
    (or labels-only synthesizer), target and destination."""
    if (job.model is not other.model or job.labels_only is not other.labels_only
            or job.full_resolution != other.full_resolution):
        return False
    if not _same_place(job, other):
        return False
    if job.destination is not None and not _same_layers(job.destination.source, other.destination.source):
        return False
    return job.target.shape == other.target.shape and np.array_equal(job.target, other.target)


def _same_place(job: SynthesisJob, other: SynthesisJob | None) -> bool:
    """Whether the two jobs' results go to the same place (target layer and plane)."""
    if other is None:
        return False
    here, there = job.destination, other.destination
    if here is None or there is None:
        return here is there
    return (here.target is there.target and here.index == there.index
            and here.leading_shape == there.leading_shape)


def _same_layers(layer, other) -> bool:
    """The same layer, or channel groups of the same layers (a group is made anew on each request)."""
    layers = getattr(layer, "layers", None)
    others = getattr(other, "layers", None)
    if layers is None or others is None:
        return layer is other
    return len(layers) == len(others) and all(a is b for a, b in zip(layers, others))
