"""The one-file ``.semia`` storage of a :class:`~napari_semia.model.SemiaModel`.

A model file is a torch zip archive read with ``weights_only=True`` (no pickled
code): the generator's weights and shape, the source image at the working
resolution and at full size (as given), their class maps, the label codec (class
ids and palette), the intensity normalisation, the working size, the training
config, the training history (each run's steps, seed, device, threads and
versions) and the package version. Discriminator and segmenter weights are kept
too, so that training can be resumed. Files of format 1 have no full-size
source; they load, and synthesize by bicubic upsampling.

Reading checks what a file shared between machines may carry: records that fail
their checksum, settings that would build a network of any size, weights that do
not fit it or are not finite, and parts that do not fit together; each is
refused in one line (``ModelFileError``).
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from .atomic_files import written_atomically
from .config import TrainingConfig
from .errors import ModelFileError, NewerModelFileError
from .intensity import IntensityNormalizer
from .io import IMAGE_SUFFIXES, file_signature
from .labels import LabelCodec
from .networks import SFTGenerator
from .source_info import SourceInfo

FILE_FORMAT = "napari-semia-model"
#: The newest file format this version reads and writes: 3 for a model whose
#: normaliser stretches its intensities (an older napari-semia would read its
#: stretched centre and range as raw values, and give black images without a
#: word), 2 for the others (readable by the versions before the stretch).
FORMAT_VERSION = 3
UNSTRETCHED_FORMAT_VERSION = 2


def _json_default(value):
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, tuple):
        return list(value)
    raise TypeError(f"cannot store {type(value).__name__} in a model file")


def _array_payload(array: np.ndarray) -> tuple[torch.Tensor, dict]:
    """Any numpy array as a flat uint8 tensor (exact for every dtype, including
    the uint16 torch cannot store) and the meta data to restore it."""
    array = np.ascontiguousarray(array)
    return torch.from_numpy(array.reshape(-1).view(np.uint8).copy()), {
        "dtype": array.dtype.str, "shape": list(array.shape)}


def _check_checksums(path: Path) -> None:
    """Raise ModelFileError where a model file's records fail their CRC-32: a model
    file is a zip archive, each record with its checksum, which torch does not
    check. A file damaged on its way between machines loaded without a word and
    gave garbage (a review of shared files)."""
    import zipfile

    try:
        if not zipfile.is_zipfile(path):
            return  # (not a model file: the reader says so)
        with zipfile.ZipFile(path) as archive:
            # torch stores every record as it is: one marked compressed is damaged
            # (torch then read it otherwise from run to run, and now and then loaded it).
            compressed = any(info.compress_type != zipfile.ZIP_STORED for info in archive.infolist())
            bad = None if compressed else archive.testzip()
    except Exception:  # (zlib.error too, for a record damaged into "compressed"; a review)
        return  # (damaged further: the reader says so)
    if compressed or bad is not None:
        raise ModelFileError(
            f"'{path.name}' is damaged: part of it does not match the checksum it was saved with. "
            "Copy it again from where it was saved.")


#: More generator levels than training allows (2-5), with room for later versions.
_MAX_LEVELS = 16


def _generator_of(hparams: dict, state: dict, name: str) -> SFTGenerator:
    """The generator the file's ``hparams`` and weights ``state`` describe. The
    network is laid out on torch's meta device (no memory) and compared with the
    weights before one is allocated: a file that named a network of any size had
    it built in full first (gigabytes; a review of shared files)."""
    from .intensity import MAX_CHANNELS
    from .validation import MAX_CLASSES

    # Laid out module by module, a network of 20 000 levels took 84 s and 1.9 GB
    # before it was compared (a review): its settings are bounded first.
    # (Classes up to 64 times training's cap: a model of an earlier version's many classes loads.)
    bounds = {"image_channels": (1, MAX_CHANNELS), "num_classes": (1, 64 * MAX_CLASSES),
              "width": (1, 1 << 16), "levels": (1, _MAX_LEVELS)}
    if set(hparams) != set(bounds) or not all(
            type(hparams[key]) is int and low <= hparams[key] <= high for key, (low, high) in bounds.items()):
        raise ModelFileError(f"'{name}' is damaged: its network's settings are not ones napari-semia makes "
                             f"({json.dumps(hparams)[:120]}).")
    with torch.device("meta"):
        layout = SFTGenerator(**hparams).state_dict()
    shapes = {key: tuple(value.shape) for key, value in state.items()}
    expected = {key: tuple(value.shape) for key, value in layout.items()}
    if shapes != expected:
        differ = (sorted(set(shapes) ^ set(expected))
                  or [key for key in expected if shapes[key] != expected[key]])
        raise ModelFileError(f"'{name}' is damaged: its generator's weights do not fit the network it "
                             f"names ({len(differ)} differ, e.g. {differ[0]}).")
    if not all(torch.isfinite(value).all() for value in state.values() if value.is_floating_point()):
        raise ModelFileError(f"'{name}' is damaged: its generator's weights are not all finite numbers "
                             "(saved from a training that diverged, or damaged since).")
    generator = SFTGenerator(**hparams)
    generator.load_state_dict(state)
    return generator


def _damage_of(model) -> str | None:
    """What does not fit together in a loaded model, or None: a damaged file's working
    and full-size sources failed at synthesis, in torch's words."""
    if model.generator.hparams["num_classes"] != model.num_classes:
        return "its class list does not match its generator"
    if model.can_refine and (tuple(model.full_image.shape[:2]) != model.source_shape
                             or tuple(model.full_index.shape) != model.source_shape):
        return "its full-size source does not match its size"
    image, index = model.source_image, model.source_index
    channels = model.generator.hparams["image_channels"]
    if image.ndim != 4 or image.shape[:2] != (1, channels) or index.ndim != 3:
        return "its working-size source has another shape than its network's"
    if tuple(index.shape[1:]) != tuple(image.shape[2:]) or index.shape[0] != 1:
        return "its working-size image and labels differ in size"
    if index.numel() and (int(index.min()) < 0 or int(index.max()) >= model.num_classes):
        return "its working-size labels name classes it does not have"
    if not bool(torch.isfinite(image).all()):
        return "its working-size image is not all finite numbers"
    full = model.full_index
    if full is not None and full.size and (int(full.min()) < 0 or int(full.max()) >= model.num_classes):
        return "its full-size labels name classes it does not have"
    return None


def _sync(stream) -> None:
    """The file whole on the disk before its name is moved onto the model's; a file
    system that does not sync (some network and FUSE mounts: EINVAL, ENOTSUP) saves
    as it did before syncing (a review)."""
    import errno

    try:
        os.fsync(stream.fileno())
    except OSError as error:
        if error.errno not in (errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP):
            raise


def _disk_full(folder: Path, payload: dict) -> str | None:
    """"No space left on device …" where ``folder``'s disk has less room than the
    payload's tensors take, else None: torch's writer says "[enforce fail at
    inline_container.cc:672] . unexpected pos …" of a full disk (a review)."""
    import shutil

    def tensors(value):
        if isinstance(value, torch.Tensor):
            yield value
        elif isinstance(value, dict):
            for item in value.values():
                yield from tensors(item)

    needed = sum(t.numel() * t.element_size() for t in tensors(payload))
    try:
        free = shutil.disk_usage(folder).free
    except OSError:
        return None
    if free >= needed:
        return None
    return f"No space left on device (the model takes {needed / 1e6:.1f} MB, {free / 1e6:.1f} MB are free)"


def _array_from_payload(data: torch.Tensor, meta: dict) -> np.ndarray:
    return data.numpy().view(np.dtype(meta["dtype"])).reshape(meta["shape"])


def _history_of(records) -> tuple:
    """A file's training history: its runs' records, with plain values only (a file
    from elsewhere is data; anything else in it is left out)."""
    if not isinstance(records, list):
        return ()
    plain = (str, int, float, bool, type(None))
    return tuple({str(k): v for k, v in run.items() if isinstance(v, plain)}
                 for run in records if isinstance(run, dict))


def model_payload(model) -> dict:
    """What a model file holds of ``model`` (a SemiaModel): tensors on the CPU, and
    the settings as JSON."""
    meta = {
        "codec": model.codec.to_dict(),
        "normalizer": model.normalizer.to_dict(),
        "source_shape": list(model.source_shape),
        "config": model.config.to_dict(),
        "steps_done": int(model.steps_done),
        "generator_hparams": model.generator.hparams,
        "version": model.version,
    }
    if not model.source_info.is_empty:
        meta["source_info"] = model.source_info.to_dict()
    if model.history:
        meta["history"] = [dict(run) for run in model.history]
    payload = {
        "format": FILE_FORMAT,
        "format_version": FORMAT_VERSION if model.normalizer.stretched else UNSTRETCHED_FORMAT_VERSION,
        "generator": {k: v.detach().cpu() for k, v in model.generator.state_dict().items()},
        "source_image": model.source_image.detach().cpu(),
        "source_index": model.source_index.detach().cpu(),
        "extra_states": {
            name: {k: v.detach().cpu() for k, v in state.items()}
            for name, state in model.extra_states.items()
        },
    }
    if model.can_refine:
        payload["full_image"], meta["full_image"] = _array_payload(model.full_image)
        payload["full_index"], meta["full_index"] = _array_payload(model.full_index)
    payload["meta_json"] = json.dumps(meta, default=_json_default)
    return payload


def write_model_file(path: Path, payload: dict) -> Path:
    """Write ``payload`` (:func:`model_payload`) to ``path`` and return the path.
    The file is written beside it and renamed when complete, so a failed save
    leaves an earlier file of that name whole. Raises ModelFileError."""
    if not path.name or path.name in (".", ".."):
        raise ModelFileError(f"Give the model a file name to be saved as (not {str(path)!r}).")
    blocker = next((folder for folder in path.parents if folder.exists()), None)
    if blocker is not None and not blocker.is_dir():
        # (mkdir said "File exists", of a folder that was not there; a review.)
        raise ModelFileError(f"Could not save the model to {path}: '{blocker}' is a file, not a folder.")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # Opening the file ourselves gives a plain OSError (permission
        # denied, no such folder...) instead of torch's internal message.
        with written_atomically(path) as tmp, open(tmp, "wb") as stream:
            torch.save(payload, stream)
            stream.flush()
            _sync(stream)
    except (OSError, RuntimeError) as error:
        reason = (getattr(error, "strerror", None) or _disk_full(path.parent, payload)
                  or str(error).splitlines()[0])
        raise ModelFileError(f"Could not save the model to {path}: {reason}.") from None
    return path


def read_model_file(path: Path, make_model: Callable[..., object]):
    """The model saved at ``path``, made by ``make_model`` (SemiaModel) from the
    fields read, on the CPU. Raises ModelFileError (a SemiaInputError) for a
    missing, unreadable, damaged or newer-format file."""
    if path.is_dir():
        raise ModelFileError(f"'{path}' is a folder, not a napari-semia model file.")
    if not path.is_file():
        raise ModelFileError(f"The model file {str(path)!r} does not exist.")  # (as images' are said)
    _check_checksums(path)
    try:
        # weights_only: a model file is data; never execute pickled code from it.
        with warnings.catch_warnings():  # (torch's own on an old pickle: ours says it)
            warnings.simplefilter("ignore")
            payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for bad files
        # An image or label file here: arguments swapped, as a new user's were.
        image = path.suffix.lower() in IMAGE_SUFFIXES or file_signature(path) is not None
        if image:
            why = "(it is an image or label file, not a model)."
        elif "Weights only load failed" in str(exc) and "GLOBAL" in str(exc):
            # (A file that would run code when opened was called "corrupt" as a
            # truncated one is; a review of shared files.)
            why = ("(it holds Python objects a model file never holds, which could run code "
                   "when opened: it was not read).")
        else:
            why = "(damaged, cut short in copying, or another kind of file)."
        raise ModelFileError(f"'{path.name}' is not a readable napari-semia model file {why}") from None
    if not isinstance(payload, dict) or payload.get("format") != FILE_FORMAT:
        raise ModelFileError(f"'{path.name}' is not a napari-semia model file.")
    version = payload.get("format_version", -1)
    if not isinstance(version, int) or isinstance(version, bool):
        raise ModelFileError(f"'{path.name}' is damaged: its file format version ({version!r}) "
                             "is not a whole number.")
    if version > FORMAT_VERSION:
        raise NewerModelFileError(
            f"'{path.name}' was written by a newer napari-semia (file format "
            f"{version}, this version reads {FORMAT_VERSION}). "
            "Upgrade napari-semia to open it."
        )
    try:
        meta = json.loads(payload["meta_json"])
        generator = _generator_of(meta["generator_hparams"], payload["generator"], path.name)
        codec = LabelCodec.from_dict(meta["codec"])
        normalizer = IntensityNormalizer.from_dict(meta["normalizer"])
        model = make_model(
            generator=generator.eval(),
            codec=codec,
            normalizer=normalizer,
            source_image=payload["source_image"].float(),
            source_index=payload["source_index"].long(),
            source_shape=tuple(int(v) for v in meta["source_shape"]),
            config=TrainingConfig.from_dict(meta["config"]),
            steps_done=int(meta.get("steps_done", 0)),
            extra_states=dict(payload.get("extra_states", {})),
            version=str(meta.get("version", "unknown")),
            full_image=(_array_from_payload(payload["full_image"], meta["full_image"])
                        if "full_image" in payload else None),
            full_index=(_array_from_payload(payload["full_index"], meta["full_index"])
                        if "full_index" in payload else None),
            source_info=SourceInfo.from_dict(meta.get("source_info")),
            history=_history_of(meta.get("history")),
        )
    except ModelFileError:
        raise
    except Exception as exc:
        # (The first line: torch's list of a state's keys ran to several kB on one line.)
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise ModelFileError(
            f"'{path.name}' is a napari-semia model file but could not be read: it is damaged, or "
            f"was written by a version this one does not read ({text or type(exc).__name__})."
        ) from None
    problem = _damage_of(model)
    if problem:
        raise ModelFileError(f"'{path.name}' is damaged: {problem}.")
    return model
