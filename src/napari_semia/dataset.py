"""Synthetic training data: many (image, label map) pairs from one trained model.

A run makes ``count`` pairs into one folder::

    DATASET/
      images/00000.png ...   synthesized images (TIFF when the source is not
                             8-bit gray or RGB, or when the model knows its
                             channel names or pixel size, so dtype, channels
                             and calibration survive)
      labels/00000.png ...   their label maps: the model's class ids (for a
                             colour-coded source: ids 1..K of its palette, in
                             the order of dataset.json's "class_ids"); uint8 or
                             uint16 PNG, int32 TIFF for larger ids
      manifest.csv           one row per pair: index, seed, files, layout,
                             edits (a summary) and params (JSON record)
      dataset.json           the run's settings; a rerun must match them

Layouts come from a :class:`~napari_semia.layout_sampler.LayoutSampler`
(layout ``i`` depends only on ``(seed, i)``) or from given label maps.

Where it runs: in this process by default (``workers=0``); on a local Dask
cluster of ``workers`` processes; or on an existing Dask cluster
(``scheduler="tcp://host:port"``), which gets the model file once (broadcast)
and needs only the headless core. Workers write the files into the output
folder (a shared file system), or with ``gather=True`` send the pairs back to
be written here.

Files appear atomically (temporary name, then rename), so an interrupted run
leaves only complete files; running the same command again makes the missing
pairs only.

    job = DatasetJob.prepare("model.semia", "dataset", count=100, seed=0)
    for progress in job.run(stop_event):      # e.g. in a background thread
        print(progress.done, progress.total, progress.eta_s)
    summary = job.summary
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import __version__
from .atomic_files import PARTIAL_MARKER, write_text_atomically
from .dataset_executors import DaskExecutor, InProcessExecutor
from .dataset_manifest import (  # (MANIFEST_COLUMNS, load_manifest: the public API's, from here)
    MANIFEST,
    MANIFEST_COLUMNS,  # noqa: F401
    SETTINGS_FILE,
    ManifestFile,
    index_spans,
    load_manifest,  # noqa: F401
    manifest_row,
    read_manifest_rows,
)
from .dataset_worker import (
    IMAGES_DIR,
    LABELS_DIR,
    PairResult,
    PairTask,
    SharedInputs,
    label_dtype,
    layout_sampler_for,
    pair_info,
    remember_model,
)
from .errors import OutputWriteError, SemiaInputError, SemiaWarning
from .folder_lock import FolderLock
from .io import check_writable_folder, file_signature, write_image_file
from .layout_sampler import LayoutSamplerSettings
from .source_info import SourceInfo
from .terminal import on_terminal, progress_interval

_LAYOUT_SUFFIXES = (".png", ".tif", ".tiff", ".bmp", ".gif")


#: The most pairs one set holds (a million take days to make on a CPU).
MAX_PAIRS = 1_000_000
#: Recorded in dataset.json for its readers, and not compared on a rerun (other keys decide them).
_NOT_COMPARED = frozenset({"classes_chosen", "made_with", "later_runs", "model_file"})
#: How the settings recorded in dataset.json are named to the user.
_SETTING_NAMES = {
    "model_sha256": "model", "class_ids": "set of classes", "palette": "label palette", "seed": "seed",
    "full_resolution": "image size (full or working)", "image_shape": "image size",
    "layouts": "set of layouts", "source_labels": "source label map", "sampler": "layout sampler setting",
    "channel_names": "set of channel names", "pixel_size": "pixel size", "unit": "pixel-size unit",
}


#: Sampler settings that the strength (``--strength``, the widget's Strength) scales.
_SCALED_BY_STRENGTH = frozenset({"move_probability", "rotate_probability", "scale_probability",
                                 "flip_probability", "drop_probability", "duplicate_probability",
                                 "elastic_probability", "max_shift", "max_rotation_deg", "scale_range",
                                 "elastic_strength"})
#: How a sampler record reads a setting it leaves out.
_SAMPLER_RECORD_DEFAULTS = {"keep_surroundings": False}
#: Most differing sampler settings a refusal names.
_LISTED_SAMPLER_CHANGES = 4


def _sampler_difference(earlier: dict, now: dict) -> str:
    """'object ids 1, 2 then, 1 now; max shift 0.3 then, 0.6 now': the sampler
    settings two records differ in, for the refusal of a folder made with others
    (it said only 'another layout sampler setting'; found by a new user)."""
    def shown(value) -> str:
        if value is None:
            return "the default"
        if isinstance(value, bool):
            return "on" if value else "off"
        if isinstance(value, (list, tuple)):
            return ", ".join(shown(item) for item in value)
        # (Ten digits: at six, settings that differ read alike; a review.)
        return f"{value:.10g}" if isinstance(value, float) else str(value)

    then, current = {**_SAMPLER_RECORD_DEFAULTS, **earlier}, {**_SAMPLER_RECORD_DEFAULTS, **now}
    # (In the settings' order: the classes first, then each change's likelihood and size.)
    keys = [key for key in [*now, *(key for key in earlier if key not in now)]
            if then.get(key) != current.get(key)]
    parts = [f"{key.replace('_', ' ')} {shown(then.get(key))} then, {shown(current.get(key))} now"
             for key in keys[:_LISTED_SAMPLER_CHANGES]]
    if len(keys) > _LISTED_SAMPLER_CHANGES:
        parts.append("...")
    text = "; ".join(parts)
    if _SCALED_BY_STRENGTH & set(keys):
        text += "; the strength scales the changes' likelihoods and sizes"
    return text


@dataclass(frozen=True)
class GenerationProgress:
    """One update of a running job (one per finished or failed pair)."""

    done: int
    """Pairs complete in the folder, earlier runs included."""
    total: int
    skipped: int
    """Pairs found complete from an earlier run."""
    failed: int
    elapsed_s: float
    eta_s: float | None
    latest: PairResult | None = None
    message: str = ""
    """Why the latest pair failed, or a status line ('Starting 2 local workers')."""
    warning: bool = False
    """``message`` is a warning about the whole run (e.g. no object can move)."""
    finished: bool = False
    stopped: bool = False


@dataclass(frozen=True)
class GenerationSummary:
    out_dir: Path
    total: int
    written: int
    skipped: int
    failures: dict[int, str]
    """Pairs that failed on every attempt, with the last error."""
    elapsed_s: float
    stopped: bool
    retried: dict[int, list[str]] = field(default_factory=dict)
    """Pairs made after failed attempts on a Dask cluster, with those attempts' errors."""
    warnings: list[str] = field(default_factory=list)
    """What the run warned of (e.g. 'No object can move ...')."""

    @property
    def complete(self) -> bool:
        return not self.failures and not self.stopped


@dataclass
class DatasetJob:
    """A validated generation run; make one with :meth:`prepare`, then :meth:`run`."""

    out_dir: Path
    count: int
    shared: SharedInputs
    tasks: list[PairTask]
    settings_record: dict
    scheduler: object
    """None, a scheduler's address, or a ``distributed.Client``."""
    workers: int
    gather: bool
    retries: int
    model_bytes: bytes = field(repr=False)
    earlier_made_with: dict | None = None
    """The versions dataset.json says made the pairs already there (None for a new set)."""
    done_rows: dict[int, dict] = field(default_factory=dict)
    beyond_rows: dict[int, dict] = field(default_factory=dict)
    """Complete pairs of an earlier, larger run past ``count``: kept in the manifest
    (their files stay), neither made nor counted."""
    summary: GenerationSummary | None = None
    warnings: list[str] = field(default_factory=list)
    """Said once when the run starts (before its first pair)."""
    info: SourceInfo = field(default_factory=SourceInfo)
    """The pairs' channel names and pixel size (:func:`pair_info`)."""

    # ---------------------------------------------------------------- prepare
    @classmethod
    def prepare(
        cls,
        model_path,
        out_dir,
        count: int | None = None,
        seed: int = 0,
        *,
        layouts=None,
        source_labels=None,
        sampler_settings: LayoutSamplerSettings | None = None,
        full_resolution: bool = True,
        scheduler=None,
        workers: int = 0,
        gather: bool = False,
        retries: int = 2,
        device: str = "auto",
    ) -> DatasetJob:
        """Check every input and the output folder; writes nothing.

        ``model_path``: a model file, or a trained :class:`SemiaModel`.
        ``layouts``: None (sample them), a folder of label files, one stack
        file, or an array / list of (H, W) maps. ``count`` defaults to the
        number of given layouts. ``source_labels``: the full-size label map to
        sample from (default: the model's own full-size copy).
        ``scheduler``: a Dask scheduler's address ("tcp://host:8786"), or your own
        ``distributed.Client`` (a dask-jobqueue or TLS cluster's; used as it is and
        left open). ``workers``: 0 runs in this process, N > 0 on a local Dask cluster
        of N processes; ignored with ``scheduler``. ``retries``: extra attempts
        for a failed pair on a Dask cluster.
        """
        from .model import SemiaModel

        model_file = None
        if isinstance(model_path, SemiaModel):  # a model in memory: its file's bytes, the model as is
            model = model_path
            with tempfile.TemporaryDirectory(prefix="semia-dataset-") as scratch:
                model_bytes = model.save(Path(scratch) / "model.semia").read_bytes()
        else:
            model_path = Path(model_path)
            model_file = model_path.name
            model = SemiaModel.load(model_path, device=device)
            model_bytes = model_path.read_bytes()
        model_key = hashlib.sha256(model_bytes).hexdigest()
        # (A script's count=2.5 or "3" raised a bare TypeError; found by a new user.)
        if count is not None:
            _check_whole_number("number of pairs (count)", count)
        _check_whole_number("seed", seed)
        given, reading_notes = _load_layouts(layouts, model) if layouts is not None else (None, [])
        if given is not None:
            if count is None:
                count = len(given)
            elif count > len(given):
                raise SemiaInputError(f"{count} pairs asked for, but only {len(given)} layouts given.")
        if count is None:
            # (It read "must be at least 1; got None", of an argument left at its default.)
            raise SemiaInputError("Give the number of pairs (count=N): only given layouts set it themselves.")
        if count < 1:
            raise SemiaInputError(f"The number of pairs must be at least 1; got {count}.")
        if count > MAX_PAIRS:
            # Every pair's task is listed up front: 10^8 of them took 3 GB before the first
            # pair (found by a new user).
            raise SemiaInputError(f"{count} pairs are more than one set holds (at most {MAX_PAIRS}): make "
                                  f"several sets, each with its own seed.")
        if seed < 0:
            raise SemiaInputError(f"The seed must be 0 or more; got {seed}.")
        if workers < 0 or retries < 0:
            raise SemiaInputError("workers and retries must be 0 or more.")
        if source_labels is not None:
            from .validation import MODEL_SOURCE, validate_target

            source_index = validate_target(source_labels, model.source_shape, model.codec,
                                           what="labels to sample layouts from", source=MODEL_SOURCE)
            if np.ndim(source_labels) == 2 and model.codec.palette is not None:
                reading_notes = [*reading_notes, model.codec.ids_note("The labels to sample layouts from")]
            source_labels = model.codec.decode(source_index)
        sampler_settings = sampler_settings or LayoutSamplerSettings()
        out_dir = Path(out_dir)
        check_writable_folder(out_dir)
        shared = SharedInputs(
            model_key=model_key,
            model_bytes=None,
            device=device,
            seed=int(seed),
            sampler_settings=sampler_settings,
            source_labels=source_labels,
            full_resolution=bool(full_resolution),
            out_dir=None,
            image_suffix=_image_suffix(model),
            label_suffix=".png" if label_dtype(model.codec.class_ids).itemsize <= 2 else ".tif",
            torch_threads=None,
        )
        warnings = list(reading_notes)
        if not full_resolution:
            note = _faint_classes_note(model.classes_beyond_range())
            if note is not None:
                warnings.append(note)
        sampler_record = classes_chosen = None
        if given is None:
            tasks = [PairTask(index) for index in range(count)]
            # Checks the object / background choice now.
            sampler = layout_sampler_for(shared, model)
            for note in (sampler.unchanging_note(), sampler.mostly_fixed_note()):
                if note is not None:
                    warnings.append(note)
            sampler_record = sampler_settings.to_dict()
            if sampler.uses_default_classes:
                # Recorded as the default, however named: '--background 0' naming the
                # default was 'another layout sampler setting' on a rerun (found by a user).
                sampler_record.update(object_ids=None, background_ids=None)
            # The ids themselves, for a reader of dataset.json (the default read null;
            # found by new users); not compared on a rerun: the model and the sampler
            # settings decide them.
            classes_chosen = {"object_ids": [int(i) for i in sampler.object_ids],
                              "background_ids": [int(i) for i in sampler.background_ids]}
        else:
            tasks = [PairTask(i, layout, name) for i, (name, layout) in enumerate(given[:count])]
        settings_record = {
            # The file's name, for a reader looking for the model (the hash alone named
            # none; a cluster user's pass); not compared: a renamed copy makes the same set.
            "model_file": model_file,
            "model_sha256": model_key,
            "class_ids": list(model.codec.class_ids),
            "palette": None if model.codec.palette is None else model.codec.palette.tolist(),
            "seed": int(seed),
            "full_resolution": bool(full_resolution),
            "image_shape": list(model.source_shape if full_resolution else model.working_shape),
            "layouts": "sampled" if given is None else _fingerprint([t.layout for t in tasks]),
            "source_labels": _source_labels_fingerprint(source_labels, model),
            "sampler": sampler_record,
        }
        if classes_chosen is not None:
            settings_record["classes_chosen"] = classes_chosen
        # What made the set, for its readers (a scripting user could not trace a set to
        # the code that made it); a rerun by another version says so (_check_earlier_run).
        settings_record["made_with"] = _made_with()
        info = pair_info(model, full_resolution)
        if info.has_metadata:  # (the keys only then: a rerun of a folder made before they existed matches)
            settings_record.update(channel_names=list(info.channel_names) or None,
                                   pixel_size=None if info.pixel_size is None else list(info.pixel_size),
                                   unit=info.unit or None)
        remember_model(model_key, model)
        job = cls(
            out_dir=out_dir, count=count, shared=shared, tasks=tasks, settings_record=settings_record,
            scheduler=scheduler, workers=int(workers), gather=bool(gather), retries=int(retries),
            model_bytes=model_bytes, warnings=warnings, info=info,
        )
        job._check_earlier_run()
        return job

    def _check_earlier_run(self) -> None:
        """Refuse a folder that holds other data; find the pairs already done."""
        settings_path = self.out_dir / SETTINGS_FILE
        if settings_path.is_file():
            try:
                earlier = json.loads(settings_path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as error:
                raise SemiaInputError(f"Cannot read {settings_path}: {error}") from None
            if not isinstance(earlier, dict) or "model_sha256" not in earlier:
                # Another tool's (nnU-Net keeps a dataset.json in every dataset folder): it
                # was taken for an earlier version's, "delete that one to start again".
                raise SemiaInputError(
                    f"{settings_path} was not written by 'napari-semia generate' (another tool's "
                    f"dataset file?); choose an empty or new output folder.")
            ignored = _NOT_COMPARED
            if self.settings_record["layouts"] != "sampled":
                # Given layouts use no seed nor source labels to sample from: a rerun with
                # another seed made the same pairs, and was refused as "another seed"
                # (found by a new user).
                ignored = ignored | {"seed", "source_labels"}
            different = sorted(k for k in self.settings_record
                               if k not in ignored and earlier.get(k) != self.settings_record[k])
            if "full_resolution" in different:
                for same_change in ("image_shape", "pixel_size"):  # the same change, named once
                    if same_change in different:
                        different.remove(same_change)
            made_with = earlier.get("made_with")
            self.earlier_made_with = made_with if isinstance(made_with, dict) else None
            if (not different and isinstance(made_with, dict)
                    and made_with != self.settings_record["made_with"]):
                self.warnings.append(
                    f"The pairs already in {self.out_dir} were made by {_describe_made_with(made_with)}; "
                    f"the ones this run adds are made by "
                    f"{_describe_made_with(self.settings_record['made_with'])}, whose "
                    "results may differ in their last bits.")
            if different:
                # The seed's values too (a cluster user had to open dataset.json for them).
                names = ", ".join(f"seed: {earlier.get(k)} then, {self.settings_record[k]} now" if k == "seed"
                                  else _SETTING_NAMES.get(k, k) for k in different)
                earlier_sampler, sampler = earlier.get("sampler"), self.settings_record["sampler"]
                if "sampler" in different and earlier_sampler and sampler:
                    # (Only between two samplers: given layouts have none, which "another set
                    # of layouts" says; a review.)
                    names += f" ({_sampler_difference(earlier_sampler, sampler)})"
                older = ""
                if "source_labels" in different and earlier.get("source_labels") is None:
                    older = (" It was made by an earlier version, which sampled layouts from the "
                             "model's working-size labels; layouts now come from the full-size ones.")
                raise SemiaInputError(
                    f"{self.out_dir} holds a dataset made with other settings (another {names}).{older} "
                    f"Choose another output folder, or delete that one to start again."
                )
        elif any((self.out_dir / name).exists() for name in (IMAGES_DIR, LABELS_DIR, MANIFEST)):
            raise SemiaInputError(
                f"{self.out_dir} already holds images/, labels/ or a manifest not made by "
                f"'napari-semia generate'; choose an empty or new output folder."
            )
        rows = read_manifest_rows(self.out_dir / MANIFEST)
        asked = {task.index for task in self.tasks}
        for index, row in rows.items():
            image_file, labels_file = self.shared.file_names(index)
            # A file there that is no image (overwritten by hand) is made again: it was
            # kept as a done pair (a scripting user). Its first bytes say so.
            if all(file_signature(self.out_dir / name) is not None for name in (image_file, labels_file)):
                (self.done_rows if index in asked else self.beyond_rows)[index] = row

    # -------------------------------------------------------------------- run
    def run(self, stop_event: threading.Event | None = None) -> Iterator[GenerationProgress]:
        """Make the missing pairs, yielding progress after each one.

        Runs in the caller's thread; set ``stop_event`` (from any thread) to
        stop after the pairs in progress. ``self.summary`` holds the outcome
        once the iteration ends.
        """
        stop_event = stop_event or threading.Event()
        started = time.monotonic()
        todo = [task for task in self.tasks if task.index not in self.done_rows]
        skipped = len(self.done_rows)
        rows = dict(self.done_rows)
        failures: dict[int, str] = {}
        executor = self._executor()
        manifest = ManifestFile(self.out_dir / MANIFEST, rows, self.beyond_rows)
        lock = FolderLock(self.out_dir)
        rate = _Rate()
        stopped = False
        retried: dict[int, list[str]] = {}
        refused: list[Path] = []  # what to take back of a run refused before its first pair

        def progress(latest=None, message="", finished=False, warning=False):
            remaining = self.count - len(rows) - len(failures)
            return GenerationProgress(
                done=len(rows), total=self.count, skipped=skipped, failed=len(failures),
                elapsed_s=time.monotonic() - started, eta_s=rate.eta(remaining), latest=latest,
                message=message, warning=warning, finished=finished, stopped=stopped,
            )

        try:
            yield progress(message=executor.description if todo else "Nothing to do: every pair exists.")
            if todo:
                executor.connect()  # before anything is written: an unreachable scheduler leaves no trace
                for note in self.warnings:  # once the run can start: not before a connection error
                    yield progress(message=note, warning=True)
            made = self._create_folders(lock)
            manifest.open()
            if todo:
                try:
                    executor.start(self)
                except SemiaInputError:
                    refused = made
                    raise
                try:
                    for outcome in executor.results(todo, stop_event):
                        if isinstance(outcome, PairResult):
                            if outcome.image is not None:
                                self._write_gathered(outcome)
                            manifest.add(manifest_row(outcome, self.shared.seed))
                            rate.tick()
                            yield progress(latest=outcome)
                        else:
                            index, error = outcome
                            failures[index] = error
                            yield progress(message=f"pair {index} failed: {error}")
                except OutputWriteError as error:
                    # A full disk ends the run (every later pair would fail the same way);
                    # it was a raw OSError from the manifest's rewrite below (found in s44).
                    raise OutputWriteError(
                        f"{str(error).rstrip('.')}. The {len(rows)} pair(s) made so far are kept in "
                        f"{self.out_dir}: once it can be written, generating the same set there again "
                        "completes it.") from None
                stopped = stop_event.is_set() and len(rows) + len(failures) < self.count
                retried = {i: errors for i, errors in executor.failed_attempts().items() if i in rows}
        finally:
            try:
                for outcome in executor.late_results():
                    manifest.add(manifest_row(outcome, self.shared.seed))
            finally:  # (a full disk there still closes the run)
                try:
                    executor.close()
                    manifest.close()
                    if refused:
                        self._remove_made(refused)
                    else:
                        self._record_other_versions_pairs(sorted(set(rows) - set(self.done_rows)))
                finally:  # (whatever fails above: a folder left locked refused every later run)
                    lock.release()
            self.summary = GenerationSummary(
                out_dir=self.out_dir, total=self.count, written=len(rows) - skipped, skipped=skipped,
                failures=failures, elapsed_s=time.monotonic() - started, stopped=stopped, retried=retried,
                warnings=list(self.warnings),
            )
        for index, errors in sorted(retried.items()):
            yield progress(
                message=f"pair {index} was made after {len(errors)} failed attempt(s): {errors[-1]}")
        yield progress(finished=True)

    def _executor(self):
        if self.scheduler is not None or self.workers > 0:
            return DaskExecutor(self.scheduler, self.workers, self.retries, self.gather)
        return InProcessExecutor()

    def _create_folders(self, lock: FolderLock) -> list[Path]:
        """The dataset's folders and settings file, once ``lock`` is held (before
        anything there is touched: the leftovers removed here may be another live
        run's temporaries); returns those this made, with the manifest it is about to
        write (folders first)."""
        made = [folder for folder in self.out_dir.parents[::-1] if not folder.exists()]
        folder = self.out_dir
        made += [path for path in (folder, lock.path, folder / IMAGES_DIR, folder / LABELS_DIR,
                                   folder / SETTINGS_FILE, folder / MANIFEST) if not path.exists()]
        try:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            lock.acquire()
            for name in (IMAGES_DIR, LABELS_DIR):
                (self.out_dir / name).mkdir(parents=True, exist_ok=True)
                for leftover in (self.out_dir / name).glob(f".*{PARTIAL_MARKER}*"):
                    leftover.unlink()
            settings_path = self.out_dir / SETTINGS_FILE
            if not settings_path.is_file():
                write_text_atomically(settings_path, json.dumps(self.settings_record, indent=2) + "\n")
        except OSError as error:
            raise SemiaInputError(f"Cannot write into {self.out_dir}: {error.strerror or error}") from None
        return made

    def _record_other_versions_pairs(self, written: list[int]) -> None:
        """Pairs added to a set by other versions than made it are listed in dataset.json
        ("later_runs": each version with the [first, last] spans of the pairs it made;
        said only by a warning that scrolled away, which version made which pair was
        lost; a reproducibility pass). A pair made again leaves the entry of the
        version that made it before (a review)."""
        now = self.settings_record["made_with"]
        if not written or self.earlier_made_with is None:
            return
        settings_path = self.out_dir / SETTINGS_FILE
        try:
            record = json.loads(settings_path.read_text(encoding="utf-8"))
            runs = record.get("later_runs") or []
            if not runs and self.earlier_made_with == now:
                return
            made_now = set(written)
            kept_runs = []
            for run in runs:
                pairs = set(_span_indices(run.get("pairs", []))) - made_now
                if pairs:
                    kept_runs.append({**run, "pairs": index_spans(sorted(pairs))})
            if self.earlier_made_with != now:
                kept_runs.append({"made_with": now, "pairs": index_spans(written)})
            record["later_runs"] = kept_runs
            if not kept_runs:
                del record["later_runs"]
            write_text_atomically(settings_path, json.dumps(record, indent=2) + "\n")
        except (OSError, ValueError, AttributeError, TypeError):
            pass  # (the pairs are made: only this note is lost)

    @staticmethod
    def _remove_made(made: list[Path]) -> None:
        """Take back what ``_create_folders`` made, for a run refused before its first
        pair (workers of another version, a folder they cannot see): it left an empty
        dataset behind (found by a Python-API user). Only what is still empty goes."""
        for path in reversed(made):
            try:
                if path.is_dir():
                    path.rmdir()  # (refuses a folder with anything in it)
                elif path.is_file():
                    path.unlink()
            except OSError:
                pass

    def _write_gathered(self, result: PairResult) -> None:
        write_image_file(self.out_dir / result.image_file, result.image, self.info)
        write_image_file(self.out_dir / result.labels_file, result.labels, self.info.fitting(result.labels))


def generate(model_path, out_dir, count: int | None = None, seed: int = 0, *, progress_bar: bool = True,
             **options) -> GenerationSummary:
    """Make a dataset (see :meth:`DatasetJob.prepare` for the options), with a
    tqdm progress bar and its messages on stderr; returns the summary (its
    ``warnings`` too). With ``progress_bar=False`` nothing is printed: warnings
    are Python warnings (``warnings.warn``) that a script can catch or silence."""
    job = DatasetJob.prepare(model_path, out_dir, count, seed, **options)
    updates = job.run()
    bar = _DelayedBar(job.count, progress_bar)
    try:
        for update in updates:
            bar.update(update.done + update.failed, update.failed)
            if update.warning and not progress_bar:
                # (A pipeline could neither catch nor silence them; found by a new user.)
                warnings.warn(update.message, SemiaWarning, stacklevel=2)
            elif update.warning:
                bar.say(f"warning: {update.message}")
            elif update.message and progress_bar:
                bar.say(update.message)
    except KeyboardInterrupt:
        # What the command line says, for a notebook's or a script's Ctrl-C too: it
        # was a bare KeyboardInterrupt (found by a Python-API user).
        updates.close()  # (the run's workers closed, its manifest written)
        bar.close()  # (the message is the last line, not the bar drawn again under it)
        if progress_bar and job.summary is not None:
            made = job.summary.written + job.summary.skipped
            bar.say(f"Interrupted. The {made} pair(s) made so far are kept in {job.out_dir}: "
                    "the same call again completes the set.")
            raise InterruptionReported from None
        raise
    finally:
        bar.close()
    return job.summary


class _DelayedBar:
    """:func:`generate`'s tqdm bar, drawn once half a second has passed and cleared at
    the end on a terminal (the summary follows; in a log it stays), with messages
    printed plainly until it is drawn and above it after: the run's first message
    comes before the bar, and a run with nothing to do draws none (a log showed
    three drawings of 0/N around the first message). (tqdm's own ``delay`` draws
    its bar at a ``write``, and tells nowhere whether it has drawn it.)"""

    DELAY_S = 0.5

    def __init__(self, total: int, enabled: bool) -> None:
        self._total, self._enabled = total, enabled
        self._started = time.monotonic()
        self._bar = None

    def update(self, done: int, failed: int = 0) -> None:
        """``done`` counts the pairs ended either way; the failed ones are named
        beside the bar (it read 100 % over failed pairs without a word; a
        cluster user's pass)."""
        if self._bar is None:
            if not self._enabled or time.monotonic() - self._started < self.DELAY_S:
                return
            from tqdm import tqdm

            # Cleared on a terminal; in a log it stays, ended by its newline (cleared, the
            # summary was written after it on the same line; a new user's log).
            self._bar = tqdm(total=self._total, initial=done, unit="pair", dynamic_ncols=True,
                             leave=not on_terminal(sys.stderr), mininterval=progress_interval(sys.stderr))
        if failed and self._bar.postfix != f"{failed} failed":
            self._bar.set_postfix_str(f"{failed} failed", refresh=False)
        self._bar.update(done - self._bar.n)

    def say(self, text: str) -> None:
        if self._bar is None:
            print(text, file=sys.stderr)
        else:
            self._bar.write(text, file=sys.stderr)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None  # (messages after it are printed plainly)


def _check_whole_number(name: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise SemiaInputError(f"The {name} must be a whole number; got {value!r}.")


class InterruptionReported(KeyboardInterrupt):
    """Ctrl-C during :func:`generate`, which has said what was kept (the command line
    then says nothing more: it printed a second, vaguer "Interrupted")."""


# ---------------------------------------------------------------- helpers
class _Rate:
    """Seconds per pair since the first one of this run (start-up excluded), for the ETA."""

    def __init__(self) -> None:
        self.first = None
        self.last = None
        self.count = 0

    def tick(self) -> None:
        now = time.monotonic()
        self.first = self.first if self.first is not None else now
        self.last = now
        self.count += 1

    def eta(self, remaining: int) -> float | None:
        if self.count < 2:
            return None
        return remaining * (self.last - self.first) / (self.count - 1)


def _faint_classes_note(class_ids: list[int]) -> str | None:
    """The warning for working-size pairs of classes beyond the network's intensities."""
    if not class_ids:
        return None
    several = len(class_ids) > 1
    return (f"Class{'es' if several else ''} {', '.join(str(i) for i in class_ids)}: most of "
            f"{'their' if several else 'its'} pixels are brighter (or darker) than working-size pairs "
            f"can show (they stop at the source's 0.5th and 99.5th percentiles), so "
            f"{'these objects' if several else 'its objects'} will be labelled but hardly visible in the "
            f"images. Make full-resolution pairs to keep their real intensities.")


def _image_suffix(model) -> str:
    from .io import image_suffix

    normalizer = model.normalizer
    shape = (1, 1) if normalizer.layout == "gray" else (1, 1, normalizer.channels)
    return image_suffix(np.zeros(shape, dtype=normalizer.dtype), model.source_info)


def _span_indices(spans) -> list[int]:
    return [index for first, last in spans for index in range(int(first), int(last) + 1)]


def _made_with() -> dict:
    """The versions that make a set's pairs."""
    import torch

    return {"napari_semia": __version__, "torch": torch.__version__}


def _describe_made_with(made_with: dict) -> str:
    return f"napari-semia {made_with.get('napari_semia', '?')} (torch {made_with.get('torch', '?')})"


def _source_labels_fingerprint(source_labels, model) -> str | None:
    """What layouts are sampled from, for dataset.json: the given map, else the
    model's own full-size copy, recorded as that map given (the layouts are the
    same); None for models of format 1, whose copy is at the working size."""
    if source_labels is None and model.full_index is not None:
        source_labels = model.codec.decode(model.full_index)
    return None if source_labels is None else _fingerprint([source_labels])


def _fingerprint(arrays) -> str:
    digest = hashlib.sha256()
    for array in arrays:
        digest.update(repr(array.shape).encode())
        digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()


def _load_layouts(layouts, model) -> tuple[list[tuple[str, np.ndarray]], list[str]]:
    """Given layouts as (name, class indices) pairs, each checked against the model,
    and the notes their reading gave (``io.read_target_file``)."""
    from .io import read_target_file
    from .validation import MODEL_SOURCE, validate_target

    notes: list[str] = []
    if isinstance(layouts, (str, os.PathLike)):
        path = Path(layouts)
        if path.is_dir():
            # Not hidden files: macOS leaves "._name.png" beside every file copied to a
            # shared or exFAT disk, and the run stopped on it (a pass over other tools' files).
            files = sorted(p for p in path.iterdir()
                           if p.suffix.lower() in _LAYOUT_SUFFIXES and not p.name.startswith("."))
            if not files:
                raise SemiaInputError(
                    f"The layout folder {path} holds no label files ({', '.join(_LAYOUT_SUFFIXES)}).")
            named = []
            for file in files:
                layout, note = read_target_file(file, codec=model.codec)
                named.append((file.name, layout))
                notes += [note] if note else []
        elif path.is_file():
            stack, note = _read_stack(path, model.codec)
            named = _stack_layers(path.name, stack, model)
            notes += [note] if note else []
        else:
            what = "do not exist" if not path.exists() else "are neither a folder nor a file"
            raise SemiaInputError(f"The layouts {path} {what}.")
    else:
        array = layouts if isinstance(layouts, np.ndarray) else None
        if array is not None and array.ndim >= 3 and not _is_single_map(array, model):
            named = [(f"layout {i}", layer) for i, layer in enumerate(array)]
        elif array is not None:
            named = [("layout 0", array)]
        else:
            named = [(f"layout {i}", np.asarray(layer)) for i, layer in enumerate(layouts)]
    if not named:
        raise SemiaInputError("No layouts given.")
    of_ids = [name for name, layout in named if np.ndim(layout) == 2]
    if of_ids and model.codec.palette is not None and isinstance(layouts, (str, os.PathLike)):
        # (One note for the set; a file's or a stack's too, not only a folder's: a review.)
        from .labels import listed_names

        notes.append(model.codec.ids_note(listed_names(of_ids, "layout")))
    dtype = np.uint8 if model.num_classes <= 256 else np.uint16
    checked = []
    for name, layout in named:
        try:
            # 'layout', not 'target labels': the advice is then to give it again, not to
            # paint it (a command-line user paints nothing; found by a new user).
            index = validate_target(layout, model.source_shape, model.codec, what="layout labels",
                                    source=MODEL_SOURCE)
        except SemiaInputError as error:
            raise SemiaInputError(f"Layout {name}: {error}") from None
        checked.append((name, index.astype(dtype)))
    return checked, notes


def _is_single_map(array: np.ndarray, model) -> bool:
    """(H, W, 3|4) colour map of the model's size, rather than a stack of maps."""
    return (array.ndim == 3 and array.shape[-1] in (3, 4)
            and tuple(array.shape[:2]) == tuple(model.source_shape))


def _read_stack(path: Path, codec) -> tuple[np.ndarray, str | None]:
    """A label file that may hold several maps: TIFF pages are read as they
    are (a general image reader would take 3 or 4 pages for colour channels);
    an indexed-colour one as ``io.read_target_file`` reads it (a review: a
    folder's were, one file's not). With the note its reading gave, or None."""
    from .io import indexed_reading, read_label_file

    if path.suffix.lower() not in (".tif", ".tiff"):
        return read_label_file(path), None
    import tifffile

    try:
        with tifffile.TiffFile(str(path)) as tif:
            series = tif.series[0]
            stack, axes = series.asarray(), series.axes
    except Exception as error:  # any reader failure means the same to the user
        raise SemiaInputError(f"Cannot read the layout stack {str(path)!r}: {error}") from None
    kept = [i for i, size in enumerate(stack.shape) if size != 1]
    stack, axes = stack.reshape([stack.shape[i] for i in kept]), "".join(axes[i] for i in kept)
    # The planes of every stack axis, one after the other (an ImageJ hyperstack's time
    # points of z-stacks: only its first axis was iterated, and each layout was a
    # z-stack, refused; a pass over other tools' files).
    plane_dims = 3 if axes.endswith("S") else 2
    if stack.ndim > plane_dims + 1:
        stack = stack.reshape((-1, *stack.shape[-plane_dims:]))
    if stack.ndim in (2, 3):
        return indexed_reading(path, stack, codec)
    return stack, None


def _stack_layers(name: str, array: np.ndarray, model) -> list[tuple[str, np.ndarray]]:
    if array.ndim == 2 or _is_single_map(array, model):
        return [(name, array)]
    return [(f"{name}[{i}]", layer) for i, layer in enumerate(array)]
