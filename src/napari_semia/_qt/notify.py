"""Every message the widget shows goes through here, as a napari notification.

One module so the wording style is consistent and tests can watch one place.
"""

from __future__ import annotations

from napari.utils.notifications import show_error, show_info, show_warning

from ..errors import SemiaInputError, is_out_of_memory


def error(message: str) -> None:
    show_error(message)


def warning(message: str) -> None:
    show_warning(message)


def info(message: str) -> None:
    show_info(message)


def exception(exc: BaseException, doing: str) -> None:
    """Report an exception from ``doing`` (e.g. "Training") without a traceback
    for input errors, whose text is written for the user."""
    if isinstance(exc, SemiaInputError):
        show_error(str(exc))
    elif is_out_of_memory(exc):
        show_error(f"{doing} ran out of memory: lower the working size, or use the CPU.")
    else:
        show_error(f"{doing} failed: {type(exc).__name__}: {exc}")
