"""Checkpoints of training runs in a per-user cache folder, so a crash, a
closed napari or a forgotten Save never loses a trained model.

A checkpoint is keyed by a fingerprint of the training pair (image and label
map bytes): the next time the same layers are opened, the widget finds it and
offers to restore it. The folder is ``platformdirs.user_cache_dir`` (or
``$NAPARI_SEMIA_CACHE_DIR``); the newest few checkpoints are kept.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from .atomic_files import write_text_atomically
from .errors import ModelFileError

CACHE_DIR_ENV = "NAPARI_SEMIA_CACHE_DIR"
#: Checkpoints kept (the oldest beyond this are deleted).
KEEP_CHECKPOINTS = 5
#: Seconds between periodic checkpoints of a running training.
DEFAULT_INTERVAL_S = 180.0


def cache_dir() -> Path:
    """The folder checkpoints go to."""
    override = os.environ.get(CACHE_DIR_ENV)
    if override:
        return Path(override)
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("napari-semia")) / "checkpoints"


def fingerprint(image, labels) -> str:
    """A short hash of a training pair: the same arrays give the same key."""
    digest = hashlib.blake2b(digest_size=12)
    for array in (np.ascontiguousarray(image), np.ascontiguousarray(labels)):
        digest.update(f"{array.shape}{array.dtype.str}".encode())
        digest.update(memoryview(array).cast("B"))
    return digest.hexdigest()


@dataclass(frozen=True)
class CheckpointInfo:
    key: str
    steps: int
    saved_at: str
    """ISO time (UTC) of the save."""
    source_shape: tuple[int, int]
    names: dict
    """Layer (or file) names of the training pair, for the restore message."""

    @property
    def saved_at_local(self) -> str:
        when = datetime.fromisoformat(self.saved_at).astimezone()
        return when.strftime("%Y-%m-%d %H:%M")


class CheckpointStore:
    def __init__(self, folder: str | os.PathLike | None = None) -> None:
        self.folder = Path(folder) if folder is not None else cache_dir()

    def _model_path(self, key: str) -> Path:
        return self.folder / f"{key}.semia"

    def _info_path(self, key: str) -> Path:
        return self.folder / f"{key}.json"

    def save(self, model, key: str, names: dict | None = None) -> Path:
        """Write ``model`` as the checkpoint for ``key`` (replacing an older
        one); ModelFileError if the folder is not writable."""
        path = model.save(self._model_path(key))
        info = CheckpointInfo(key=key, steps=int(model.steps_done),
                              saved_at=datetime.now(timezone.utc).isoformat(),
                              source_shape=tuple(int(s) for s in model.source_shape), names=dict(names or {}))
        try:
            write_text_atomically(self._info_path(key), json.dumps(asdict(info)))
        except OSError as error:
            raise ModelFileError(
                f"Could not write the checkpoint in {self.folder}: {error.strerror}.") from None
        self._prune()
        return path

    def entries(self) -> list[CheckpointInfo]:
        """Every readable checkpoint, newest first."""
        found = []
        for info_path in self.folder.glob("*.json"):
            if info_path.name.startswith("."):
                continue  # (a write's hidden temporary)
            try:
                data = json.loads(info_path.read_text(encoding="utf-8"))
                # Its key is its file's name: the one written inside named the files that
                # pruning deleted, wherever it pointed ("../thesis"; a review).
                info = CheckpointInfo(key=info_path.stem, steps=int(data["steps"]),
                                      saved_at=str(data["saved_at"]),
                                      source_shape=tuple(int(s) for s in data["source_shape"]),
                                      names=dict(data.get("names", {})))
                _ = info.saved_at_local  # (a time that is not one stopped the widget opening; a review)
            except (OSError, ValueError, KeyError, TypeError, AttributeError):
                continue  # a damaged entry is skipped, never fatal
            if self._model_path(info.key).is_file():
                found.append(info)
        return sorted(found, key=lambda info: info.saved_at, reverse=True)

    def find(self, key: str) -> CheckpointInfo | None:
        return next((info for info in self.entries() if info.key == key), None)

    def load(self, info: CheckpointInfo, device="auto"):
        from .model import SemiaModel

        return SemiaModel.load(self._model_path(info.key), device=device)

    def discard(self, key: str) -> None:
        for path in (self._model_path(key), self._info_path(key)):
            try:
                path.unlink(missing_ok=True)
            except OSError:
                pass

    def _prune(self) -> None:
        for info in self.entries()[KEEP_CHECKPOINTS:]:
            self.discard(info.key)


class Checkpointer:
    """Saves a trainer's model for one training pair: every ``interval_s``
    seconds while it runs (:meth:`maybe_save`) and when it ends (:meth:`save`)."""

    def __init__(self, store: CheckpointStore, key: str, names: dict | None = None,
                 interval_s: float = DEFAULT_INTERVAL_S, clock=time.monotonic) -> None:
        self.store, self.key, self.names = store, key, names
        self.interval_s = float(interval_s)
        self._clock = clock
        self._last = clock()

    def maybe_save(self, trainer) -> Path | None:
        if self._clock() - self._last < self.interval_s:
            return None
        return self.save(trainer)

    def save(self, trainer) -> Path | None:
        """Checkpoint now; None (and nothing written) before the first step."""
        self._last = self._clock()
        if trainer.steps_before + trainer.step == 0:
            return None
        return self.store.save(trainer.model, self.key, self.names)
