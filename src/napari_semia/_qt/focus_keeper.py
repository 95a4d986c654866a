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
        self._last_focused: QWidget | None = None  # the dock's control that last had the focus
        self._app = QApplication.instance()
        self._app.focusChanged.connect(self._on_focus_changed)
        # A control greyed out while a dialog has the activation (Train after "Start a new
        # model?") moves its window's focus with no focusChanged: its own events tell.
        self._controls = [w for w in content.findChildren(QWidget)
                          if w.focusPolicy() != Qt.FocusPolicy.NoFocus]
        for control in self._controls:
            control.installEventFilter(self)

    def shutdown(self) -> None:
        try:
            self._app.focusChanged.disconnect(self._on_focus_changed)
        except (RuntimeError, TypeError):  # already disconnected
            pass
        for control in [*self._controls, *(self._parked[1:] if self._parked else ())]:
            try:
                control.removeEventFilter(self)
            except RuntimeError:  # Qt already deleted it (application exit)
                pass
        self._controls = []
        self._parked = None

    @property
    def parked_on(self) -> QWidget | None:
        return self._parked[0] if self._parked is not None else None

    def _on_focus_changed(self, old: QWidget | None, new: QWidget | None) -> None:
        try:
            if old is None or old is self.parked_on or not self._content.isAncestorOf(old):
                return
            if old.isEnabled() and old.isVisible():
                return  # moved by the user (Tab, a click), not by Qt
            self._park(old)
        except RuntimeError:
            # Qt deleted the dock's widgets (the viewer closing) before shutdown() ran: a
            # focused picker's last focus change raised "wrapped C/C++ object … has been
            # deleted" (a usability pass).
            self.shutdown()

    def _park(self, control: QWidget) -> None:
        """Focus on ``control``'s section, given back to it (or its stand-in) when enabled."""
        holder = self._section_of(control)
        if not holder.isVisible():
            return  # the dock itself is being hidden or closed
        back = self._gives_back_to.get(control, control)
        if back is not control and back.isEnabled() and back.isVisible():
            back.setFocus(Qt.FocusReason.OtherFocusReason)  # (Synthesize, beside a Stop that greys out)
            return
        if self._parked != (holder, back):
            self._unpark()
            self._parked = (holder, back)
            if back not in self._controls:
                back.installEventFilter(self)
        # (In a window that is not active this only sets the window's focus widget,
        # which it gets back once it is activated again.)
        holder.setFocus(Qt.FocusReason.OtherFocusReason)

    def _section_of(self, widget: QWidget) -> QWidget:
        parent = widget.parentWidget()
        while parent is not None and parent is not self._content:
            if isinstance(parent, QGroupBox):
                return parent
            parent = parent.parentWidget()
        return self._content

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        kind = event.type()
        if kind == QEvent.Type.FocusIn:
            self._last_focused = watched
        elif kind == QEvent.Type.FocusOut:
            # Gone elsewhere, unless its window merely lost the activation (a dialog
            # opened: the control stays the window's focus) or it is being disabled.
            window_only = (Qt.FocusReason.ActiveWindowFocusReason, Qt.FocusReason.PopupFocusReason)
            if (event.reason() not in window_only and watched.isEnabled() and watched.isVisible()
                    and watched is self._last_focused):
                self._last_focused = None
        elif kind == QEvent.Type.EnabledChange:
            if watched.isEnabled():
                if self._parked is not None and watched is self._parked[1]:
                    holder, back = self._parked
                    self._unpark()
                    if self._holds_focus(holder) and back.isVisible():
                        back.setFocus(Qt.FocusReason.OtherFocusReason)
            elif watched is self._last_focused and watched.window().focusWidget() is not watched:
                # Qt has moved the window's focus on (to Stop, say) without a word: the
                # window was not active.
                moved_to = watched.window().focusWidget()
                if moved_to is None or moved_to is not self.parked_on:
                    self._park(watched)
        return False

    @staticmethod
    def _holds_focus(holder: QWidget) -> bool:
        """Whether the focus is still parked on ``holder`` (in an inactive window too)."""
        return holder.hasFocus() or holder.window().focusWidget() is holder

    def _unpark(self) -> None:
        if self._parked is not None:
            back = self._parked[1]
            if back not in self._controls:  # (the controls keep the filter)
                back.removeEventFilter(self)
            self._parked = None
