"""The target layer hidden so that the result under it shows, and the status
line's note of it.

After training (or Synthesize) the target, drawn over the result, is hidden
unless the user is painting. Selecting it, turning Live on, training again or
its own eye icon shows it again; nothing else of the layer's settings is touched.
"""

from __future__ import annotations

from collections.abc import Callable


class HiddenTarget:
    def __init__(self, viewer, state, show_target: Callable[[], None] | None = None):
        """``show_target``: what showing the target with its eye icon does (by default
        :meth:`show`; the widget also lets go of a pending result's reveal)."""
        self._viewer = viewer
        self._state = state
        self._show_target = show_target or self.show
        self.layer = None  # the target hidden, if any

    def hide(self, target, result) -> None:
        """Hide ``target``, select ``result`` and say so on the status line."""
        target.visible = False
        self.layer = target
        # Shown again with its eye icon: the status line must not still say it is hidden.
        target.events.visible.connect(self._on_visible)
        self._viewer.layers.selection.active = result
        # One note at a time, on the status line after its message.
        self._state.hidden_note = (f" '{target.name}' is hidden so the result shows; select it (or "
                                   "turn on Live) to paint again.")

    def show(self) -> None:
        """Show the hidden target again (if it is still open) and drop its note."""
        layer = self.forget()
        if layer is not None and layer in self._viewer.layers:
            layer.visible = True
        self.drop_note()

    def forget(self):
        """No target is hidden any more (returns the one that was, or None)."""
        layer, self.layer = self.layer, None
        if layer is not None:
            layer.events.visible.disconnect(self._on_visible)
        return layer

    def removed(self, layer) -> None:
        """``layer`` was deleted from the viewer."""
        if layer is not None and layer == self.layer:
            self.forget()
            self.drop_note()

    def drop_note(self) -> None:
        """The status line no longer says a target is hidden (a first user saw that stay)."""
        self._state.hidden_note = ""

    def _on_visible(self, event=None) -> None:
        if self.layer is not None and self.layer.visible:
            self._show_target()
