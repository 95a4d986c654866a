"""Runs a generator in a background thread; what it yields and returns
reaches the main thread through a queued Qt signal.

A plain thread rather than a ``napari.qt.threading`` worker, because napari
aborts its workers at exit by no longer resuming their generators, which
would skip a training's final checkpoint or leave a dataset's manifest
half-written. Here the owner asks the job to stop (its own stop flag) and the
thread finishes cleanly; Python waits for it before the process ends.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Generator

from psygnal import Signal
from qtpy.QtCore import QObject
from qtpy.QtCore import Signal as QtSignal


class _Relay(QObject):
    """Lives in the main thread: signals emitted from the worker thread are queued to it,
    and handed to its owner while there is one. The owner is held weakly: a viewer
    closed during a run left updates queued for a thread object that the garbage
    collector was taking apart ("attribute '_lock' of 'SignalInstance' undefined" in
    the next viewer; found in a long-session pass)."""

    yielded = QtSignal(object)
    returned = QtSignal(object)
    ended = QtSignal()

    def __init__(self, owner: GeneratorThread) -> None:
        super().__init__()
        self._owner = weakref.ref(owner)
        self.yielded.connect(self._forward_yielded)
        self.returned.connect(self._forward_returned)
        self.ended.connect(self._forward_ended)

    def _forward_yielded(self, value) -> None:
        owner = self._owner()
        if owner is not None:
            owner.yielded.emit(value)

    def _forward_returned(self, value) -> None:
        owner = self._owner()
        if owner is not None:
            owner.returned.emit(value)

    def _forward_ended(self) -> None:
        owner = self._owner()
        if owner is not None:
            owner._on_ended()


class GeneratorThread:
    """One generator at a time in a thread: ``yielded``, ``returned``, ``ended``
    are emitted on the main thread (``returned`` with the generator's return
    value, or with ``on_error(exception)`` if it raised)."""

    yielded = Signal(object)
    returned = Signal(object)
    ended = Signal()

    def __init__(self, name: str) -> None:
        self.name = name
        self.thread: threading.Thread | None = None
        self._relay = _Relay(self)

    @property
    def running(self) -> bool:
        return self.thread is not None

    def start(self, generator: Generator, on_error: Callable[[Exception], object],
              on_exit: Callable[[], None] | None = None) -> None:
        if self.running:
            raise RuntimeError(f"{self.name} is already running.")
        self.thread = threading.Thread(target=self._run, args=(generator, on_error, on_exit), name=self.name)
        self.thread.start()

    def wait(self, timeout_s: float) -> None:
        """Block until the running generator has ended, for at most ``timeout_s``."""
        thread = self.thread
        if thread is not None:
            thread.join(timeout_s)

    def disconnect(self) -> None:
        """Nobody listens any more (the widget is going away); the thread runs on to its end."""
        for signal in (self.yielded, self.returned, self.ended):
            signal.disconnect()

    def _run(self, generator: Generator, on_error, on_exit) -> None:
        relay = self._relay
        try:
            while True:
                try:
                    update = next(generator)
                except StopIteration as end:
                    result = end.value
                    break
                relay.yielded.emit(update)
        except Exception as error:  # the owner reports it
            result = on_error(error)
        finally:
            if on_exit is not None:
                on_exit()
        relay.returned.emit(result)
        relay.ended.emit()

    def _on_ended(self) -> None:
        if self.thread is not None:
            self.thread.join()
        self.thread = None
        self.ended.emit()
