"""Calls back whenever the watched target layer's data is edited."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from qtpy.QtCore import QTimer

from ..errors import SemiaInputError
from .layer_data import displayed_plane_index, plane_at, plane_checksum

#: How often a hidden target is looked at for undo / redo (see :class:`EditWatcher`).
HIDDEN_POLL_MS = 500
#: The largest hidden target plane looked at for undo / redo twice a second (a
#: 4096 x 4096 int32 plane: about 16 ms a look); larger ones follow once shown.
MAX_BYTES_POLLED = 64 * 2**20


def plane_fingerprint(viewer, layer):
    """The checksum of ``layer``'s plane on display (``plane_checksum``), for the
    edit watcher's look at a hidden one twice a second; None where it is not
    looked at."""
    if not isinstance(layer.data, np.ndarray) or isinstance(layer.data, np.memmap):
        return None  # a lazy (dask, zarr) or mapped target would be read from disk each time
    try:
        plane = plane_at(layer, displayed_plane_index(viewer, layer))
    except SemiaInputError:
        return None
    if plane.nbytes > MAX_BYTES_POLLED:
        return None  # the UI thread's share would grow with it
    return plane_checksum(plane)


class EditWatcher:
    """Calls ``callback`` on brush strokes (``labels_update`` while painting,
    ``paint`` when a stroke ends), whole-data replacement (``data``) and
    undo / redo (napari applies those in place and emits ``set_data``).

    ``set_data`` also fires when a layer is merely redrawn; the widget skips
    a synthesis whose target has not changed, so that costs nothing. A
    colour-coded RGB target is an Image layer, which has no brush events: only
    those it has are watched (asking for the others raised, and left Live stuck
    on that layer for the rest of the session).

    napari redraws only visible layers, so an undo or redo on a *hidden* target
    (hidden to look at the result under it) emits nothing at all: while the layer
    is hidden, ``fingerprint(layer)`` (a digest of what would be synthesized) is
    compared every ``HIDDEN_POLL_MS``, and a change calls back too.
    """

    EVENTS = ("paint", "labels_update", "data", "set_data")

    def __init__(self, callback: Callable[[], None], fingerprint: Callable[[object], object] | None = None):
        self._callback = callback
        self._fingerprint = fingerprint
        self.layer = None
        self._connected: list = []  # the emitters connected to, for disconnecting
        self._last_fingerprint = None
        self._poll = QTimer()
        self._poll.setInterval(HIDDEN_POLL_MS)
        self._poll.timeout.connect(self._look_at_hidden_layer)

    def _on_event(self, *_args) -> None:
        self._callback()

    def watch(self, layer) -> None:
        for emitter, slot in self._connected:
            emitter.disconnect(slot)
        self._connected = []
        self.layer = layer
        if layer is not None:
            slots = [(name, self._on_event) for name in self.EVENTS]
            if self._fingerprint is not None:
                slots.append(("visible", self._follow_visibility))
            for name, slot in slots:
                emitter = getattr(layer.events, name, None)
                if emitter is not None:
                    emitter.connect(slot)
                    self._connected.append((emitter, slot))
        self._follow_visibility()

    def shutdown(self) -> None:
        """Stop watching (the widget closed, or the viewer with it): the poll ran on
        after the viewer was closed, its timer having no parent to go with."""
        self.watch(None)

    def _follow_visibility(self, *_args) -> None:
        hidden = self.layer is not None and self._fingerprint is not None and not self.layer.visible
        try:
            if hidden and not self._poll.isActive():
                self._last_fingerprint = self._fingerprint(self.layer)
                self._poll.start()
            elif not hidden:
                self._poll.stop()
        except RuntimeError:  # Qt already deleted the timer (application exit)
            pass

    def _look_at_hidden_layer(self) -> None:
        if self.layer is None or self.layer.visible:
            self._poll.stop()
            return
        fingerprint = self._fingerprint(self.layer)
        if fingerprint != self._last_fingerprint:
            self._last_fingerprint = fingerprint
            self._callback()
