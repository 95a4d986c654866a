"""Layout helpers: titled sections in a vertically scrolling dock panel."""

from __future__ import annotations

import re
import unicodedata

from qtpy.QtCore import QEvent, QObject, QSize, Qt
from qtpy.QtWidgets import QFormLayout, QGroupBox, QLabel, QScrollArea, QVBoxLayout, QWidget

#: Narrower than this and the form labels and spin boxes get cramped (at napari's
#: default font size; a larger one needs more: see ``_VerticalScrollArea``).
MIN_CONTENT_WIDTH = 360


class _VerticalScrollArea(QScrollArea):
    """Scrolls vertically only, and asks for the width its content needs at the
    current font. A fixed width squeezed the forms below their minimum once napari's
    font size was raised (Preferences > Appearance): the layer pickers were drawn over
    their labels and buttons cut on both sides (a display-settings pass)."""

    def __init__(self, content: QWidget) -> None:
        super().__init__()
        self.setWidgetResizable(True)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setWidget(content)
        content.installEventFilter(self)

    def minimumSizeHint(self) -> QSize:
        hint = super().minimumSizeHint()
        content = self.widget()
        if content is None:
            return hint
        needed = max(MIN_CONTENT_WIDTH, content.minimumSizeHint().width())
        width = needed + self.verticalScrollBar().sizeHint().width() + 2 * self.frameWidth()
        return QSize(width, hint.height())

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        # The content's needs changed (a font, a section shown): the dock hears of it.
        if watched is self.widget() and event.type() == QEvent.Type.LayoutRequest:
            self.updateGeometry()
        return super().eventFilter(watched, event)


#: A word this long (a layer name, a path) may be broken anywhere to fit a line.
_LONG_WORD = re.compile(r"\S{25,}")
_BREAK = "\u200b"  # zero-width space: where Qt may break a line


_JOINER = "\u200d"


def _joins_previous(char: str) -> bool:
    """Whether ``char`` belongs to the character before it: a mark (accents, Thai and
    Devanagari vowel signs), a zero-width joiner, a variation selector or an emoji's
    skin tone. A break before one split a letter or an emoji apart (a review)."""
    return (unicodedata.category(char).startswith("M") or char == _JOINER
            or "\ufe00" <= char <= "\ufe0f" or "\U0001f3fb" <= char <= "\U0001f3ff")


def _breakable(text: str) -> str:
    def spread(match: re.Match) -> str:
        word = match.group(0)
        return "".join(c + (_BREAK if i + 1 < len(word) and c != _JOINER and not _joins_previous(word[i + 1])
                            else "")
                       for i, c in enumerate(word))

    return _LONG_WORD.sub(spread, text)


class WrappingLabel(QLabel):
    """A word-wrapped label that also breaks words too long for a line (an 80-character
    layer name, a path): QLabel let them run past its edge, cut, and the end of the
    sentence with them (a display-settings pass). ``text()`` is the text as set."""

    def __init__(self, text: str = "") -> None:
        super().__init__()
        self.setWordWrap(True)
        self._plain = ""
        self.setText(text)

    def setText(self, text: str) -> None:
        self._plain = text
        super().setText(text if Qt.mightBeRichText(text) else _breakable(text))

    def text(self) -> str:
        return self._plain


def section(title: str, *widgets: QWidget) -> QGroupBox:
    box = QGroupBox(title)
    layout = QVBoxLayout(box)
    for widget in widgets:
        layout.addWidget(widget)
    return box


def scroll_into(owner: QWidget, sections: list[QWidget]) -> QWidget:
    """Stack ``sections`` in a vertical scroll area filling ``owner``; returns
    the content widget (``content.grab()`` renders all of it, scrolled or not)."""
    content = QWidget()
    layout = QVBoxLayout(content)
    for widget in sections:
        layout.addWidget(widget)
    layout.addStretch(1)
    scroll = _VerticalScrollArea(content)
    outer = QVBoxLayout(owner)
    outer.setContentsMargins(0, 0, 0, 0)
    outer.addWidget(scroll)
    return content


def own_tooltip(widget: QWidget) -> str:
    """The tooltip ``widget`` was given when built, before any state was added to it."""
    own = widget.property("semia_tooltip")
    if own is None:
        own = widget.toolTip()
        widget.setProperty("semia_tooltip", own)
    return own


def enable_saying_why(widget: QWidget, why_not: str | None) -> None:
    """Enable ``widget``, or disable it with ``why_not`` after its own tooltip: a
    greyed button that never said why left a first user guessing."""
    own = own_tooltip(widget)
    widget.setEnabled(why_not is None)
    widget.setToolTip(own if why_not is None else f"{own} (Not now: {why_not})")


def _field_of(item) -> QWidget | None:
    """A form row's field: its widget, or the first widget of its layout (a combo
    box with a note beside it, a folder with its button)."""
    if item is None:
        return None
    if item.widget() is not None:
        return item.widget()
    layout = item.layout()
    for index in range(layout.count() if layout is not None else 0):
        if layout.itemAt(index).widget() is not None:
            return layout.itemAt(index).widget()
    return None


def name_form_fields(content: QWidget) -> None:
    """Each form field under ``content`` named by its row's label, for screen readers,
    and the label linked to it (a click or its mnemonic focuses the field). Qt links
    a label only to a field that is a widget: the Device and Folder rows, whose
    field is a row of two, had none (an accessibility pass)."""
    for form in content.findChildren(QFormLayout):
        for row in range(form.rowCount()):
            label = form.itemAt(row, QFormLayout.ItemRole.LabelRole)
            label = label.widget() if label is not None else None
            field = _field_of(form.itemAt(row, QFormLayout.ItemRole.FieldRole))
            if not isinstance(label, QLabel) or field is None or not label.text():
                continue
            if label.buddy() is None:
                label.setBuddy(field)
            if not field.accessibleName():
                field.setAccessibleName(label.text())


class _LabelAligner(QObject):
    """Aligns the form labels again when the font changes (napari's font size, set
    while the widget is open): the width set for the old font cut or spread them."""

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.FontChange:
            _align_labels(watched)
        return False


def align_form_labels(content: QWidget) -> None:
    """One label width for every form under ``content``, so that the fields of all
    sections start at one x (a UX pass saw four ragged left edges); again whenever
    the font changes."""
    _align_labels(content)
    aligner = _LabelAligner(content)
    content.installEventFilter(aligner)


def _align_labels(content: QWidget) -> None:
    labels = []
    for form in content.findChildren(QFormLayout):
        for row in range(form.rowCount()):
            item = form.itemAt(row, QFormLayout.ItemRole.LabelRole)
            if item is not None and item.widget() is not None:
                labels.append(item.widget())
    if labels:
        for label in labels:
            label.setMinimumWidth(0)
        width = max(label.sizeHint().width() for label in labels)
        for label in labels:
            label.setMinimumWidth(width)
