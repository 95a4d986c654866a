"""The background thread runner: what it yields reaches the main thread, and
nothing reaches an owner that is gone."""

import gc
import sys

from qtpy.QtWidgets import QApplication

from napari_semia._qt.background import GeneratorThread


def test_updates_queued_for_a_collected_runner_are_dropped(qtbot):
    # Found in a long-session pass: a viewer closed during a dataset run left updates
    # queued for a runner that the garbage collector was taking apart, and the next
    # viewer showed "attribute '_lock' of 'SignalInstance' undefined".
    errors, seen = [], []

    class Owner:  # as a widget: in a reference cycle with its runner
        def __init__(self):
            self.runner = GeneratorThread("probe")
            self.runner.yielded.connect(seen.append)
            self.cycle = self

    hook, sys.excepthook = sys.excepthook, lambda *args: errors.append(args)
    try:
        for _ in range(20):
            owner = Owner()
            owner.runner.start(iter(range(50)), on_error=lambda error: None)
            owner.runner.thread.join()  # (its updates queued, none delivered yet)
            del owner
            gc.collect()
            QApplication.processEvents()
    finally:
        sys.excepthook = hook
    assert not errors


def test_what_a_runner_yields_and_returns_reaches_the_main_thread(qtbot):
    runner = GeneratorThread("probe")
    seen, returned, ended = [], [], []
    runner.yielded.connect(seen.append)
    runner.returned.connect(returned.append)
    runner.ended.connect(lambda: ended.append(True))

    def counting():
        yield from range(3)
        return "done"

    runner.start(counting(), on_error=lambda error: None)
    qtbot.waitUntil(lambda: bool(ended), timeout=10_000)
    assert seen == [0, 1, 2] and returned == ["done"] and not runner.running
