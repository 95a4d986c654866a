"""Calls back whenever the watched Labels layer's data is edited."""

from __future__ import annotations

from collections.abc import Callable


class EditWatcher:
    """Calls ``callback`` on brush strokes (``labels_update`` while painting,
    ``paint`` when a stroke ends), whole-data replacement (``data``) and
    undo / redo (napari applies those in place and emits ``set_data``).

    ``set_data`` also fires when a layer is merely redrawn; the widget skips
    a synthesis whose target has not changed, so that costs nothing.
    """

    EVENTS = ("paint", "labels_update", "data", "set_data")

    def __init__(self, callback: Callable[[], None]) -> None:
        self._callback = callback
        self.layer = None

    def _on_event(self, *_args) -> None:
        self._callback()

    def watch(self, layer) -> None:
        if self.layer is not None:
            for name in self.EVENTS:
                getattr(self.layer.events, name).disconnect(self._on_event)
        self.layer = layer
        if layer is not None:
            for name in self.EVENTS:
                getattr(layer.events, name).connect(self._on_event)
