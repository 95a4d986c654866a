"""Keyboard focus stays in the dock when the focused control is disabled.

Qt moves the focus of a widget that is disabled (or hidden) to the next one in
the tab chain. In the dock that was a trap for keyboard users: Return on Train
put the focus on Stop, so a second Return (or key auto-repeat) stopped the run
it had just started; Return on Generate put it on the dock's own title-bar
*hide* button, so the next Space hid the whole dock; and after a run the focus
was left on the Live checkbox.

Here the focus is parked on the control's section instead (a section takes no
keys: Space and Return there do nothing, Tab goes on to its first control), and
given back to the control, or to the one named for it (Stop gives it back to
Train), once that is enabled again, if the user has not moved it meanwhile.
"""

from __future__ import annotations

from qtpy.QtCore import QEvent, QObject, Qt
from qtpy.QtWidgets import QApplication, QGroupBox, QWidget


class FocusKeeper(QObject):
    def __init__(self, content: QWidget, gives_back_to: dict[QWidget, QWidget] | None = None):
        """``content``: the dock's controls. ``gives_back_to``: per control, the one
        that takes the focus back when enabled (by default the control itself)."""
        super().__init__(content)
        self._content = content
        self._gives_back_to = dict(gives_back_to or {})
        self._parked: tuple[QWidget, QWidget] | None = None  # (where, whom it goes back to)
        self._app = QApplication.instance()
        self._app.focusChanged.connect(self._on_focus_changed)

    def shutdown(self) -> None:
        try:
            self._app.focusChanged.disconnect(self._on_focus_changed)
        except (RuntimeError, TypeError):  # already disconnected, or Qt deleted the objects
            pass
        self._unpark()

    @property
    def parked_on(self) -> QWidget | None:
        return self._parked[0] if self._parked is not None else None

    def _on_focus_changed(self, old: QWidget | None, new: QWidget | None) -> None:
        if old is None or old is self.parked_on or not self._content.isAncestorOf(old):
            return
        if old.isEnabled() and old.isVisible():
            return  # moved by the user (Tab, a click), not by Qt
        holder = self._section_of(old)
        if not holder.isVisible():
            return  # the dock itself is being hidden or closed
        self._unpark()
        back = self._gives_back_to.get(old, old)
        self._parked = (holder, back)
        back.installEventFilter(self)
        holder.setFocus(Qt.FocusReason.OtherFocusReason)

    def _section_of(self, widget: QWidget) -> QWidget:
        parent = widget.parentWidget()
        while parent is not None and parent is not self._content:
            if isinstance(parent, QGroupBox):
                return parent
            parent = parent.parentWidget()
        return self._content

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if (event.type() == QEvent.Type.EnabledChange and self._parked is not None
                and watched is self._parked[1] and watched.isEnabled()):
            holder, back = self._parked
            self._unpark()
            if holder.hasFocus() and back.isVisible():
                back.setFocus(Qt.FocusReason.OtherFocusReason)
        return False

    def _unpark(self) -> None:
        if self._parked is not None:
            self._parked[1].removeEventFilter(self)
            self._parked = None
