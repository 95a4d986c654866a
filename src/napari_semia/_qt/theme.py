"""Colours the dock draws itself (the loss curves, the plot's texts, error texts),
chosen for napari's theme: light or dark, followed when the user switches it.
Everything else in the dock takes napari's stylesheet."""

from __future__ import annotations

from dataclasses import dataclass

from napari.utils.theme import get_theme

# Colour-blind-safe (Okabe-Ito) curves, one per loss in order of appearance:
# eight clearly different ones on each canvas (a UX pass found orange beside
# yellow and pink beside red too alike to tell apart; on the light theme white
# and yellow vanished, so black, blue and darker tones take their places). Each at
# least 3:1 against its theme's background, as WCAG asks of graphics: Okabe-Ito's
# orange, sky blue, pink and green were 1.8-2.8:1 on napari's light grey (a
# display-settings pass), so the light theme has darker tones of them.
DARK_CURVES = ("#E69F00", "#56B4E9", "#009E73", "#FFFFFF", "#CC79A7", "#F0E442", "#8080FF", "#999999")
LIGHT_CURVES = ("#C25400", "#7A6500", "#007A55", "#000000", "#A8327D", "#0072B2", "#6A3D9A", "#666666")
#: Error text, at least 4.5:1 against napari's panel background in each theme
#: (napari's own error colours are meant for backgrounds, not text).
DARK_ERROR_TEXT = "#E06C5B"
LIGHT_ERROR_TEXT = "#B3261E"
#: The frame of the control with the keyboard focus (napari's stylesheet shows none
#: on buttons, combo boxes and check boxes: a keyboard user could not see where
#: Tab had gone).
DARK_FOCUS = "#7AA2F7"
LIGHT_FOCUS = "#1A56DB"


#: The object name of the dock's content widget, which the stylesheet is scoped to.
CONTENT_NAME = "semiaDockContent"


@dataclass(frozen=True)
class DockColours:
    text: str
    error_text: str
    curves: tuple[str, ...]
    focus: str = DARK_FOCUS

    def stylesheet(self) -> str:
        """For the dock's content (object name ``CONTENT_NAME``): a frame around the
        control with the keyboard focus, in place of as much of napari's padding, so
        that nothing moves when the focus does. Only the focus state is styled: a
        nearer stylesheet wins over napari's whatever the selectors, so restating the
        normal or disabled look would replace napari's (its frame of disabled buttons)."""
        frame = f"border: 1px solid {self.focus};"
        scope = f"#{CONTENT_NAME}"
        return (f"{scope} QPushButton:focus:!disabled {{ {frame} padding: 3px; }}\n"  # napari: 4px
                f"{scope} QComboBox:focus {{ {frame} padding: 2px 9px 2px 7px; }}\n"  # 3px 10px 3px 8px
                f"{scope} QCheckBox::indicator:focus {{ {frame} padding: 0px; }}\n"  # 1px
                # Spin boxes, the folder field and the object list showed only a text
                # cursor, or nothing (a display-settings pass).
                f"{scope} QAbstractSpinBox:focus {{ {frame} padding: 0px 9px; }}\n"  # 1px 10px
                f"{scope} QLineEdit:focus {{ {frame} padding: 1px; }}\n"  # 2px
                f"{scope} QListWidget:focus {{ {frame} }}\n"
                f"{scope} QToolButton {{ border: 1px solid transparent; }}\n"
                f"{scope} QToolButton:focus {{ {frame} }}\n"
                # A section holds the focus while its control is greyed out (FocusKeeper):
                # nothing showed where it was (a usability pass).
                f"{scope} QGroupBox:focus {{ {frame} }}\n")


def _luminance(hex_colour: str) -> float:
    value = hex_colour.lstrip("#")
    if len(value) == 3:
        value = "".join(c * 2 for c in value)
    r, g, b = (int(value[i:i + 2], 16) / 255 for i in (0, 2, 4))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def dock_colours(theme_name: str) -> DockColours:
    """The colours for napari's theme ``theme_name`` (a custom theme counts as light
    or dark by its background)."""
    try:
        theme = get_theme(theme_name)
        background, text = theme.background.as_hex(), theme.text.as_hex()
    except (KeyError, ValueError, AttributeError):  # an unknown or unusual theme
        background, text = "#23242b", "#f0f1f2"
    if _luminance(background) < 0.5:
        return DockColours(text, DARK_ERROR_TEXT, DARK_CURVES, DARK_FOCUS)
    return DockColours(text, LIGHT_ERROR_TEXT, LIGHT_CURVES, LIGHT_FOCUS)
