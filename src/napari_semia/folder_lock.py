"""One writer per dataset folder: an advisory lock held while a run writes there.

Two runs in one folder (a cluster's array job given one output folder) each
rewrote ``manifest.csv`` under the other, whose later rows then went to the
deleted file: pairs on disk that no manifest row listed (a pass as a cluster
user). The lock is the operating system's (``flock``): it is let go when its
process ends however it ends, so a killed run's lock holds nothing back. Where
a file system has no such locks (some cluster file systems, Windows), runs go
on unlocked, as before.
"""

from __future__ import annotations

import errno
import os
import socket
import time
from pathlib import Path

from .errors import SemiaInputError

#: The lock's file in the folder (hidden; removed when the run ends, and of no
#: meaning if a killed run left it).
LOCK_FILE = ".napari-semia-generate.lock"
_HELD = (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES)


class FolderLock:
    """``acquire`` raises SemiaInputError while another run holds ``folder``."""

    def __init__(self, folder) -> None:
        self.path = Path(folder) / LOCK_FILE
        self._fd: int | None = None

    def acquire(self) -> None:
        try:
            import fcntl
        except ImportError:  # (Windows)
            return
        for _ in range(10):
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            except PermissionError:
                # Another user's file (a run of theirs killed in a shared folder): a lock
                # needs no write access, and without one this run went on unlocked
                # without a word (a review).
                try:
                    fd = os.open(self.path, os.O_RDONLY)
                except OSError:  # (a folder this run cannot write: the writes say so, in their words)
                    return
            except OSError:  # (a folder this run cannot write: the writes say so, in their words)
                return
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as error:
                holder = _live_holder(_read_holder(fd))
                os.close(fd)
                if error.errno in _HELD:
                    raise SemiaInputError(
                        f"Another run is writing the dataset in {self.path.parent}"
                        f"{f' ({holder})' if holder else ''}. Wait for it to end, or give this run "
                        "another output folder: two runs in one folder would each make every pair, "
                        "and lose manifest rows. To split a large set, make several sets, each with "
                        "its own seed and folder.") from None
                return  # a file system without locks: unlocked, as before
            if _same_file(fd, self.path):
                break
            # The run before removed the file as this one opened it: the lock taken is
            # on a file no other run finds; take one on the file there now.
            os.close(fd)
        else:
            return
        self._fd = fd  # (held from here: release() must be able to let it go)
        try:  # who holds it, for the message of a run refused (best effort: a full disk,
            # another user's file, read-only here)
            os.ftruncate(fd, 0)
            os.write(fd, f"{socket.gethostname()}, process {os.getpid()}, since "
                         f"{time.strftime('%Y-%m-%d %H:%M:%S')}\n".encode())
        except OSError:
            pass

    def release(self) -> None:
        """Let go, removing the file first (no clutter left in the folder); a run that
        opened it meanwhile sees it gone once it holds the lock, and tries again."""
        if self._fd is not None:
            try:
                self.path.unlink()
            except OSError:
                pass
            os.close(self._fd)  # (closing lets the lock go)
            self._fd = None

    @property
    def held(self) -> bool:
        return self._fd is not None


def _same_file(fd: int, path: Path) -> bool:
    try:
        return os.path.samestat(os.fstat(fd), os.stat(path))
    except OSError:
        return False


def _live_holder(holder: str) -> str:
    """``holder`` unless it names a process of this host that has ended: a holder that
    could not write its line (another user's file, read-only) leaves the line of the
    run before it, which the refusal named as the one writing (a review)."""
    host, _, rest = holder.partition(", process ")
    pid = rest.split(",")[0]
    if host == socket.gethostname() and pid.isdigit():
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            return ""
        except OSError:  # (alive, another user's)
            pass
    return holder


def _read_holder(fd: int) -> str:
    """What the run holding the lock wrote about itself (host, process, start)."""
    try:
        return os.pread(fd, 200, 0).decode(errors="replace").strip()
    except (OSError, AttributeError):
        return ""
