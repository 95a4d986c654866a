"""Calls back whenever the watched target layer's data is edited."""

from __future__ import annotations

from collections.abc import Callable


class EditWatcher:
    """Calls ``callback`` on brush strokes (``labels_update`` while painting,
    ``paint`` when a stroke ends), whole-data replacement (``data``) and
    undo / redo (napari applies those in place and emits ``set_data``).

    ``set_data`` also fires when a layer is merely redrawn; the widget skips
    a synthesis whose target has not changed, so that costs nothing. A
    colour-coded RGB target is an Image layer, which has no brush events: only
    those it has are watched (asking for the others raised, and left Live stuck
    on that layer for the rest of the session).
    """

    EVENTS = ("paint", "labels_update", "data", "set_data")

    def __init__(self, callback: Callable[[], None]) -> None:
        self._callback = callback
        self.layer = None
        self._connected: list = []  # the emitters connected to, for disconnecting

    def _on_event(self, *_args) -> None:
        self._callback()

    def watch(self, layer) -> None:
        for emitter in self._connected:
            emitter.disconnect(self._on_event)
        self._connected = []
        self.layer = layer
        if layer is not None:
            for name in self.EVENTS:
                emitter = getattr(layer.events, name, None)
                if emitter is not None:
                    emitter.connect(self._on_event)
                    self._connected.append(emitter)
