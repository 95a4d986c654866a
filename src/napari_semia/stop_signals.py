"""The signals that end a command early, handled so that its work is kept: Ctrl-C
(SIGINT), and what a batch system, ``timeout`` or a dropped ssh session sends
(SLURM sends SIGTERM at its time limit, then kills 30 s later; a closed terminal
sends SIGHUP). Only Ctrl-C was handled: the others lost a training run whole, and
ended ``generate`` without a word on what was kept (passes on untidy paths and as
a cluster user)."""

from __future__ import annotations

import os
import signal
import stat
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

STOP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP")
                     if hasattr(signal, name))


def exit_status_after(signum: int) -> int:
    """The shell's status for a command a signal ended, 128 + its number, as a batch
    system or a script expects (130 after Ctrl-C, 143 after SIGTERM)."""
    return 128 + int(signum)


def signal_name(signum: int) -> str:
    return "Ctrl-C" if signum == signal.SIGINT else signal.Signals(signum).name


def silence_terminal() -> None:
    """After a hang-up the terminal is gone and writing to it fails (EIO), which
    would end the command before its work is saved: what went there goes nowhere now."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    for stream in (sys.stdout, sys.stderr):
        try:
            # A terminal, not a log file or a pipe. (``isatty`` is False once the
            # terminal has hung up.)
            if stat.S_ISCHR(os.fstat(stream.fileno()).st_mode):
                os.dup2(devnull, stream.fileno())
        except (AttributeError, OSError, ValueError):  # no file descriptor behind it
            pass
    os.close(devnull)


@contextmanager
def handling_stop_signals(handler: Callable[[int], None]) -> Iterator[list[int]]:
    """Call ``handler(signum)`` on each of ``STOP_SIGNALS`` (after silencing a hung-up
    terminal); yields the list of the signals received. Outside the main thread,
    where Python allows no handler, the signals keep their own behaviour."""
    received: list[int] = []

    def on_signal(signum, frame):
        received.append(signum)
        if signum == getattr(signal, "SIGHUP", None):
            silence_terminal()
        handler(signum)

    previous = {}
    if threading.current_thread() is threading.main_thread():
        for number in STOP_SIGNALS:
            # An ignored signal stays ignored: 'nohup' ignores SIGHUP so that a run outlives
            # its terminal, and a job started in the background ignores SIGINT (a review).
            if signal.getsignal(number) is signal.SIG_IGN:
                continue
            previous[number] = signal.signal(number, on_signal)
    try:
        yield received
    finally:
        for number, handler_before in previous.items():
            signal.signal(number, handler_before)


def interrupt_once() -> Callable[[int], None]:
    """A handler for :func:`handling_stop_signals`: the first stop signal is a Ctrl-C,
    later ones do nothing, so that the run's own ending (its manifest written, its
    workers closed) is not cut short: ``timeout`` and batch systems may send SIGTERM
    twice (a review saw a manifest left unsorted and the lock's file left behind)."""
    raised = []

    def handler(signum: int) -> None:
        if not raised:
            raised.append(signum)
            raise KeyboardInterrupt

    return handler
