"""Progress on a terminal or in a log: bars drawn over themselves on a terminal,
written line by line, and seldom, where stderr is a log file or a pipe."""

from __future__ import annotations

#: Seconds between progress-bar refreshes where stderr is a log, not a terminal:
#: there each refresh is kept (a CI log or ``2> train.log`` got a bar per step).
LOG_PROGRESS_INTERVAL = 10.0


def on_terminal(stream) -> bool:
    """Whether ``stream`` is a terminal (not a log file, a pipe or a closed stream):
    progress bars drawn over themselves there, written line by line elsewhere."""
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # closed or not a file
        return False


def progress_interval(stream) -> float:
    """tqdm's ``mininterval`` for ``stream``: tqdm's own 0.1 s on a terminal."""
    return 0.1 if on_terminal(stream) else LOG_PROGRESS_INTERVAL
