"""A dataset's ``manifest.csv``: one row per pair (index, seed, files, layout,
edits, params), appended as pairs finish and rewritten in index order at the end;
read back by :func:`load_manifest`."""

from __future__ import annotations

import csv
import io
import json
import locale
from pathlib import Path

from .atomic_files import write_text_atomically
from .dataset_worker import PairResult
from .errors import OutputWriteError, SemiaInputError

MANIFEST = "manifest.csv"
SETTINGS_FILE = "dataset.json"
MANIFEST_COLUMNS = ("index", "seed", "image", "labels", "layout", "edits", "params")


class ManifestFile:
    """manifest.csv: rows appended as pairs finish (so an interrupted run keeps
    them), rewritten in index order when the run ends."""

    def __init__(self, path: Path, rows: dict[int, dict], beyond: dict[int, dict] | None = None) -> None:
        self.path = path
        self.rows = rows
        # An earlier run's pairs past this run's count: the manifest keeps listing them.
        self.beyond = beyond or {}
        self.file = None
        self.writer = None

    def open(self) -> None:
        # Rewrite first: drops a line torn by an earlier interruption, which
        # would otherwise swallow the next appended row.
        self.write_sorted()
        # (UTF-8 on every system: see atomic_files.write_text_atomically.)
        self.file = open(self.path, "a", newline="", encoding="utf-8",  # noqa: SIM115 (closed by close())
                         errors="surrogateescape")
        self.writer = csv.DictWriter(self.file, fieldnames=MANIFEST_COLUMNS, lineterminator="\n")

    def add(self, row: dict) -> None:
        try:
            self.writer.writerow(row)
            self.file.flush()
        except OSError as error:
            raise OutputWriteError(f"Cannot write {str(self.path)!r}: {error.strerror or error}.") from None
        self.rows[int(row["index"])] = row  # (after: a row not written was counted as kept; a review)

    def close(self) -> None:
        if self.file is not None:
            try:
                self.file.close()
            except OSError:  # (its rows were flushed one by one; a full disk fails the rewrite too)
                pass
            self.file = None
            try:
                self.write_sorted()
            except OSError:
                # The appended rows stay, which is all a rerun or load_manifest needs (they
                # sort); raising here hid the run's own message under a raw OSError.
                pass

    def write_sorted(self) -> None:
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=MANIFEST_COLUMNS, lineterminator="\n")
        writer.writeheader()
        rows = {**self.beyond, **self.rows}
        for index in sorted(rows):
            writer.writerow(rows[index])
        write_text_atomically(self.path, buffer.getvalue())


def manifest_row(result: PairResult, seed: int) -> dict:
    return {
        "index": result.index,
        "seed": seed if result.layout == "sampled" else "",
        "image": result.image_file,
        "labels": result.labels_file,
        "layout": result.layout,
        "edits": result.edits,
        "params": json.dumps(result.params, separators=(",", ":")),
    }


#: The longest manifest field read (a C long on every platform): params of tens of
#: thousands of objects.
_MANIFEST_FIELD_LIMIT = 2**31 - 1


def read_manifest_rows(path: Path) -> dict[int, dict]:
    """Rows of an earlier run's manifest by index; unreadable rows are left out
    (their pairs are made again)."""
    if not path.is_file():
        return {}
    rows = {}
    # A pair's params list every object's change: a sky field of 1500 sources makes
    # rows of 270 kB, past the csv module's default field limit of 128 kB (an
    # astronomer's dataset could be neither resumed nor read back).
    limit = csv.field_size_limit()
    csv.field_size_limit(max(limit, _MANIFEST_FIELD_LIMIT))
    try:
        # UTF-8 (utf-8-sig: a manifest saved again by Excel starts with a byte-order
        # mark); else one written by an earlier version in the system's encoding
        # (Windows' code page), or Excel's plain CSV. Bytes neither decodes are kept
        # as they are (surrogates), and written back so: replaced, a layout's name
        # was changed for good at the next run (a review).
        for encoding in ("utf-8-sig", locale.getpreferredencoding(False)):
            rows = {}
            try:
                with open(path, newline="", encoding=encoding, errors="surrogateescape") as file:
                    for row in csv.DictReader(file):
                        try:
                            values = {column: row[column] for column in MANIFEST_COLUMNS}
                            json.loads(values["params"])  # a torn last line fails here
                            int(values["seed"] or 0)
                            rows[int(values["index"])] = values
                        except (KeyError, TypeError, ValueError):
                            continue
            except LookupError:  # (an encoding Python does not know)
                continue
            if encoding != "utf-8-sig" or not any(_undecoded(row) for row in rows.values()):
                break
    finally:
        csv.field_size_limit(limit)
    return rows


def _undecoded(row: dict) -> bool:
    """Whether a row holds bytes its encoding did not decode (kept as surrogates)."""
    return any(isinstance(value, str) and any("\udc80" <= c <= "\udcff" for c in value)
               for value in row.values())


def load_manifest(out_dir) -> list[dict]:
    """The rows of a dataset's manifest, in index order: ``index`` and ``seed`` as
    ints (``seed`` None for given layouts, which no seed drew) and ``params`` parsed.
    SemiaInputError for a folder that holds no dataset (it read as an empty one)."""
    folder = Path(out_dir)
    if not (folder / MANIFEST).is_file() and not (folder / SETTINGS_FILE).is_file():
        what = "does not exist" if not folder.exists() else f"holds no dataset (no {MANIFEST})"
        raise SemiaInputError(f"{folder} {what}.")
    rows = read_manifest_rows(folder / MANIFEST)
    return [dict(rows[i], index=i, seed=int(rows[i]["seed"]) if rows[i]["seed"] else None,
                 params=json.loads(rows[i]["params"])) for i in sorted(rows)]


def index_spans(indices: list[int]) -> list[list[int]]:
    """Sorted indices as [first, last] spans: [1, 2, 3, 7] -> [[1, 3], [7, 7]]."""
    spans: list[list[int]] = []
    for index in indices:
        if spans and index == spans[-1][1] + 1:
            spans[-1][1] = index
        else:
            spans.append([index, index])
    return spans


def index_ranges(indices: list[int]) -> str:
    """Sorted indices as ranges: [1, 2, 3, 7] -> '1-3, 7'."""
    return ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in index_spans(indices))
