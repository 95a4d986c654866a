"""When the target was last painted, whatever Live says.

After training, the result is shown unobstructed (the target hidden) unless
the user is painting at that moment. A Labels layer in paint mode alone says
nothing: New target leaves it so, and the usual New target -> paint -> Train
kept it in sight over every result. A stroke a moment ago does.
"""

from __future__ import annotations

import time

#: Brush events of a Labels layer (a colour-coded RGB target, an Image layer, has none).
_STROKE_EVENTS = ("paint", "labels_update")


class StrokeClock:
    def __init__(self) -> None:
        self.layer = None
        self._last = float("-inf")
        self._connected: list = []

    def watch(self, layer) -> None:
        """Time the strokes on ``layer`` (None: on nothing) from now on."""
        for emitter in self._connected:
            emitter.disconnect(self._on_stroke)
        self._connected = []
        self.layer, self._last = layer, float("-inf")
        if layer is None:
            return
        for name in _STROKE_EVENTS:
            emitter = getattr(layer.events, name, None)
            if emitter is not None:
                emitter.connect(self._on_stroke)
                self._connected.append(emitter)

    def seconds_since_stroke(self) -> float:
        """Seconds since the last stroke on the watched layer (inf: none yet)."""
        return time.monotonic() - self._last

    def _on_stroke(self, *_args) -> None:
        self._last = time.monotonic()
