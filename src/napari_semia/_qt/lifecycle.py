"""Stopping background work when the dock widget goes away.

napari gives plugins no "widget closed" callback, so this listens to what
public Qt offers: the dock's close button un-parents the widget (a
``ParentChange`` to no parent), closing the viewer destroys it (``destroyed``),
and quitting napari emits ``QApplication.aboutToQuit``. Whichever comes first
stops the workers; the rest find nothing left to do.
"""

from __future__ import annotations

from collections.abc import Callable

from qtpy.QtCore import QEvent
from qtpy.QtWidgets import QApplication


def stop_on_exit(widget, runners) -> Callable[..., None]:
    """Shut ``runners`` down when ``widget`` is destroyed or the app quits.

    Returns the stop function. It holds no reference to the widget, so it is
    safe to run while or after Qt deletes it.
    """
    app = QApplication.instance()

    def stop_workers(*_args) -> None:
        for runner in runners:
            runner.shutdown()
        if app is not None:
            try:
                app.aboutToQuit.disconnect(stop_workers)
            except (TypeError, RuntimeError):  # already disconnected
                pass

    widget.destroyed.connect(stop_workers)
    if app is not None:
        app.aboutToQuit.connect(stop_workers)
    return stop_workers


class ClosesWithDock:
    """Mixin for a QWidget: calls ``self.shutdown()`` when it is closed or
    removed from its napari dock."""

    _had_parent = False

    def event(self, event) -> bool:
        if event.type() == QEvent.Type.ParentChange:
            if self.parent() is not None:
                self._had_parent = True
            elif self._had_parent:
                self.shutdown()
        return super().event(event)

    def closeEvent(self, event) -> None:
        self.shutdown()
        super().closeEvent(event)

    def shutdown(self) -> None:
        raise NotImplementedError
