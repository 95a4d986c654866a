"""Files replaced whole or not at all: written to a hidden temporary beside them,
then renamed into place; the temporaries a killed process left are cleaned up."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

#: Temporary files of a write are hidden and carry this marker, so that the
#: leftovers of an interrupted one can be recognised (a dataset run removes them).
PARTIAL_MARKER = ".partial-"

def partial_path(path) -> Path:
    """A hidden temporary beside ``path`` for a write that is then renamed into it,
    marked as one (``PARTIAL_MARKER``) and named after ``path`` within the 255
    bytes of a file name (a valid 251-byte name could not be saved: its
    temporary's name was too long; a review)."""
    path = Path(path)
    try:  # (eCryptfs allows 143 bytes)
        longest = int(os.pathconf(path.parent if path.parent.exists() else ".", "PC_NAME_MAX"))
    except (OSError, ValueError, AttributeError):  # (no pathconf on Windows)
        longest = 255
    suffix = path.suffix if len(path.suffix.encode()) <= 16 else ""  # (the writer goes by it)
    tail = f"{PARTIAL_MARKER}{os.getpid()}-{threading.get_native_id()}{suffix}"
    room = max(0, longest - len(f".{tail}".encode()))
    stem = path.stem.encode()[:room].decode(errors="ignore")
    return path.with_name(f".{stem}{tail}")


@contextmanager
def written_atomically(path) -> Iterator[Path]:
    """``with written_atomically(path) as temporary:`` write ``temporary`` (a hidden
    file beside ``path``); once the block ends it is renamed into ``path``, so a
    failed or interrupted write never leaves half a file there, and whatever
    was there before stays whole. On any exception the temporary is removed and
    the exception goes on."""
    path = Path(path)
    temporary = partial_path(path)
    try:
        yield temporary
        _replace(temporary, path)
    except BaseException:  # (Ctrl-C too)
        try:
            temporary.unlink(missing_ok=True)
        except OSError:
            pass
        raise
    remove_stale_partials(path)


#: Tries of a rename on Windows, where a file just written is often held open a
#: moment by an antivirus, the search indexer or a cloud-sync client (a refusal
#: ended a dataset run as if the disk were full; a portability audit).
_WINDOWS_REPLACE_TRIES = 8


def _replace(temporary: Path, path: Path) -> None:
    tries, delay = (_WINDOWS_REPLACE_TRIES if os.name == "nt" else 1), 0.05
    for attempt in range(1, tries + 1):
        try:
            os.replace(temporary, path)
            return
        except PermissionError:
            if attempt == tries:
                raise
            time.sleep(delay)
            delay = min(1.0, delay * 2)


def write_text_atomically(path, text: str) -> None:
    """``path``'s text replaced whole or not at all (``written_atomically``), in
    UTF-8 on every system (Windows' own code page could not write a layout file
    named in Cyrillic or CJK into a manifest; a portability audit). A file name the
    system could not decode (kept as surrogates) is written as its own bytes."""
    with written_atomically(path) as temporary:
        # (newline="": the manifest's rows appended later end in "\n" too, on Windows.)
        temporary.write_text(text, encoding="utf-8", errors="surrogateescape", newline="")


#: How old another write's temporary must be to count as left by a killed process:
#: no save takes that long, so a write still under way is never removed.
STALE_PARTIAL_S = 3600.0


_STALE_SEARCHED: dict[Path, float] = {}


def remove_stale_partials(path) -> None:
    """Remove the temporaries of earlier writes beside ``path`` that never finished:
    a save killed mid-write (power cut, kill -9) left a hidden file as large as the
    model beside it, never cleaned up (a review). Called once a write of ``path``
    succeeded; anything it cannot remove stays."""
    path = Path(path)
    now = time.time()
    # A folder is looked through once an hour at most: listing it at every write made
    # a dataset of 50 000 pairs per folder 8 times slower to write (a review).
    if now - _STALE_SEARCHED.get(path.parent, -STALE_PARTIAL_S) < STALE_PARTIAL_S:
        return
    _STALE_SEARCHED[path.parent] = now
    for leftover in path.parent.glob(f".*{PARTIAL_MARKER}[0-9]*"):
        try:
            if now - leftover.stat().st_mtime > STALE_PARTIAL_S:
                leftover.unlink()
        except OSError:
            pass
