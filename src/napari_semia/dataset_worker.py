"""Worker side of dataset generation: one (image, label map) pair per task.

Runs in the caller's process or on a Dask worker, which needs only this
headless core (numpy, scipy, scikit-image, torch): nothing here imports napari
or Qt. The model file travels once per run as bytes in :class:`SharedInputs`
(broadcast to every worker) and is loaded once per worker process; the layout
sampler is built once per worker too.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import SemiaInputError
from .io import write_image_file, write_probe_error
from .layout_sampler import LayoutSampler, LayoutSamplerSettings

IMAGES_DIR = "images"
LABELS_DIR = "labels"
#: Digits of pair file names (more when needed): 00000.png, 00001.png, ...
NAME_DIGITS = 5
#: Models and samplers kept per worker process; a run uses one of each.
_CACHE_SIZE = 2
#: Scheduler event topic of failed attempts, so the caller can report retries.
FAILURE_TOPIC = "napari-semia-pair-failed"


@dataclass(frozen=True)
class SharedInputs:
    """Everything every pair of a run needs; sent once to each worker."""

    model_key: str
    """SHA-256 of the model file: the cache key on the workers."""
    model_bytes: bytes | None
    """The model file's content; None when the model is already cached here."""
    device: str
    seed: int
    sampler_settings: LayoutSamplerSettings
    source_labels: np.ndarray | None
    """Full-size source ids to sample layouts from; None: the model's own
    source layout (see ``model_source_index``)."""
    full_resolution: bool
    out_dir: str | None
    """Where the worker writes the pair; None: the pair goes back to the caller."""
    image_suffix: str
    label_suffix: str
    torch_threads: int | None
    """Intra-op threads for torch on a worker (1 when several workers share the
    cores); None leaves torch's setting alone."""
    run_id: str = ""
    """Tells this run's failure events from other runs' on a shared scheduler."""

    @property
    def sampler_key(self) -> str:
        digest = hashlib.sha256(self.model_key.encode())
        digest.update(repr(sorted(self.sampler_settings.to_dict().items())).encode())
        if self.source_labels is not None:
            digest.update(repr(self.source_labels.shape).encode())
            digest.update(np.ascontiguousarray(self.source_labels).tobytes())
        return digest.hexdigest()

    def file_names(self, index: int) -> tuple[str, str]:
        """(image, labels) paths of pair ``index``, relative to the output folder."""
        stem = f"{index:0{NAME_DIGITS}d}"
        return f"{IMAGES_DIR}/{stem}{self.image_suffix}", f"{LABELS_DIR}/{stem}{self.label_suffix}"


@dataclass(frozen=True)
class PairTask:
    index: int
    layout: np.ndarray | None = None
    """A given layout as class indices (uint8/uint16); None: sample one."""
    layout_name: str | None = None


@dataclass(frozen=True)
class PairResult:
    index: int
    image_file: str
    labels_file: str
    layout: str
    """'sampled' or the given layout's name."""
    edits: str
    params: dict
    seconds: float
    worker: str
    image: np.ndarray | None = None
    """The pair itself when it is gathered by the caller instead of written."""
    labels: np.ndarray | None = None


_models: OrderedDict = OrderedDict()
_samplers: OrderedDict = OrderedDict()
_cache_lock = threading.Lock()


def _remember(cache: OrderedDict, key: str, value) -> None:
    cache[key] = value
    cache.move_to_end(key)
    while len(cache) > _CACHE_SIZE:
        cache.popitem(last=False)


def remember_model(key: str, model) -> None:
    """Put an already loaded model into this process's cache (in-process runs)."""
    with _cache_lock:
        _remember(_models, key, model)


def _model(shared: SharedInputs):
    with _cache_lock:
        model = _models.get(shared.model_key)
        if model is not None:
            return model
        if shared.model_bytes is None:
            raise SemiaInputError("The model is neither cached in this process nor sent with the task.")
        if shared.torch_threads is not None:
            import torch

            torch.set_num_threads(shared.torch_threads)
        model = _load_model_bytes(shared.model_bytes, shared.device)
        _remember(_models, shared.model_key, model)
        return model


def _load_model_bytes(content: bytes, device: str):
    from .model import SemiaModel

    # The model file API reads paths; a private temporary file is the simplest
    # way from bytes to a model, and it is gone as soon as the model is loaded.
    handle, path = tempfile.mkstemp(suffix=".semia")
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(content)
        return SemiaModel.load(path, device=device)
    finally:
        os.unlink(path)


def layout_sampler_for(shared: SharedInputs, model) -> LayoutSampler:
    """The run's layout sampler, built once per process."""
    key = shared.sampler_key
    with _cache_lock:
        sampler = _samplers.get(key)
    if sampler is not None:
        return sampler
    if shared.source_labels is not None:
        sampler = LayoutSampler(shared.source_labels, shared.sampler_settings, codec=model.codec)
    else:
        sampler = LayoutSampler.from_index(model_source_index(model), model.codec, shared.sampler_settings)
    with _cache_lock:
        _remember(_samplers, key, sampler)
    return sampler


def model_source_index(model) -> np.ndarray:
    """The model's source layout as full-size class indices: the full-size map
    the model file keeps (format 2 on; the working-size map upsampled gave
    every sampled layout stair-stepped edges, as coarse as the source is
    larger than the working size), else the working-size map upsampled
    (nearest neighbour)."""
    if model.full_index is not None:
        return model.full_index.astype(np.int64)
    from .layout_tensors import resize_index

    index = resize_index(model.source_index.cpu(), tuple(model.source_shape), model.num_classes)
    return index[0].numpy().astype(np.int64)


def _working_labels(model, index: np.ndarray) -> np.ndarray:
    """Full-size class indices -> the working-size map the network is given."""
    import torch

    from .layout_tensors import resize_index

    resized = resize_index(torch.as_tensor(index)[None], tuple(model.working_shape), model.num_classes)
    return resized[0].numpy()


def _synthesize(model, target: np.ndarray, full_resolution: bool,
                source_positions: np.ndarray | None = None) -> np.ndarray:
    """The one place that asks the model for an image: at full size it is the
    refined full-resolution result (the model's source's own detail), its moved
    objects copied from where the layout sampler took them (``source_positions``),
    at the working size the generator's output."""
    if not full_resolution:
        return model.synthesize(target, full_size=False)
    return model.synthesize(target, source_positions=source_positions)


def pair_info(model, full_resolution: bool):
    """The channel names and pixel size the pairs' files carry: the model's source's,
    at the working size for pixels that much larger."""
    if full_resolution:
        return model.source_info
    return model.source_info.resized(model.source_shape, model.working_shape)


def label_dtype(class_ids) -> np.dtype:
    """Smallest dtype for written label files that holds every id: uint8, uint16 (both
    PNG), int32, uint32 or int64 (TIFF). Ids past int32 wrapped (3e9 was written
    as -1294967296; 2**40 as 0)."""
    largest = max(int(i) for i in class_ids)
    for dtype in (np.uint8, np.uint16, np.int32, np.uint32):
        if largest <= np.iinfo(dtype).max:
            return np.dtype(dtype)
    return np.dtype(np.int64)


def make_pair(shared: SharedInputs, task: PairTask) -> PairResult:
    """Make pair ``task.index``: its layout (given or sampled), the synthesized
    image and the label map, written to ``shared.out_dir`` or returned."""
    started = time.perf_counter()
    model = _model(shared)
    positions = None
    if task.layout is None:
        sampled = layout_sampler_for(shared, model).sample(task.index, shared.seed)
        index = model.codec.encode(sampled.labels)
        layout_name, edits, params = "sampled", sampled.summary, sampled.record
        positions = sampled.source_positions
    else:
        index = task.layout.astype(np.int64)
        layout_name = task.layout_name or f"layout {task.index}"
        edits, params = "given", {"file": task.layout_name}
    image = _synthesize(model, model.codec.decode(index), shared.full_resolution, positions)
    if not shared.full_resolution:
        index = _working_labels(model, index)
    labels = model.codec.decode(index).astype(label_dtype(model.codec.class_ids))
    image_file, labels_file = shared.file_names(task.index)
    if shared.out_dir is not None:
        # Image first: a pair counts as done when its label file exists.
        # (Written to a temporary file and renamed into place: a reader, or a resumed
        # run, never sees a half-written pair.)
        info = pair_info(model, shared.full_resolution)
        write_image_file(Path(shared.out_dir) / image_file, image, info)
        write_image_file(Path(shared.out_dir) / labels_file, labels, info.fitting(labels))
        image = labels = None
    return PairResult(
        index=task.index,
        image_file=image_file,
        labels_file=labels_file,
        layout=layout_name,
        edits=edits,
        params=params,
        seconds=time.perf_counter() - started,
        worker=_worker_name(),
        image=image,
        labels=labels,
    )


def stop_event_name(run_id: str) -> str:
    """The Dask Event set when a run on a cluster is stopped."""
    return f"semia-stop-{run_id}"


def _run_stopped(run_id: str) -> bool:
    from distributed import Event

    try:
        return Event(stop_event_name(run_id)).is_set()
    except Exception:  # no scheduler to ask: go on, as before stops were told
        return False


def run_pair_task(shared: SharedInputs, task: PairTask) -> PairResult | None:
    """:func:`make_pair` as a Dask task: a failed attempt is logged as a
    scheduler event (the caller reports attempts that were retried), then
    re-raised so that Dask retries it. None, and nothing written, when the run
    was stopped before the task started: a task the stop could not cancel in
    time wrote a pair with no manifest row."""
    if _run_stopped(shared.run_id):
        return None
    try:
        return make_pair(shared, task)
    except Exception as error:
        from distributed import get_worker

        worker = get_worker()
        worker.log_event(FAILURE_TOPIC, {
            "run": shared.run_id, "index": task.index, "worker": worker.address,
            "error": f"{type(error).__name__}: {error}",
        })
        raise


def worker_check(out_dir: str | None) -> dict:
    """Run on each worker before a run: its napari-semia version, why it cannot
    import torch, and why it cannot write into ``out_dir`` (None where it can;
    workers need the folder on a shared file system)."""
    from . import __version__

    return {"version": __version__, "torch_problem": _torch_problem(),
            "problem": None if out_dir is None else _output_folder_problem(out_dir)}


def _torch_problem() -> str | None:
    """Why torch cannot be imported here, if it cannot: a worker without it failed
    every pair, three attempts each, after the check had passed (a cluster user)."""
    try:
        import torch  # noqa: F401
    except Exception as error:  # (an ImportError, or a broken build's OSError)
        return f"{type(error).__name__}: {error}"
    return None


def _worker_name() -> str:
    try:
        from distributed import get_worker

        return get_worker().address
    except (ImportError, ValueError):  # not on a Dask worker
        return f"pid {os.getpid()}"


def _output_folder_problem(out_dir: str) -> str | None:
    folder = Path(out_dir)
    if not folder.is_dir():
        return f"the folder {out_dir} does not exist there"
    error = write_probe_error(folder)
    return None if error is None else f"cannot write into {out_dir}: {error.strerror or error}"
