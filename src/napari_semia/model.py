"""A trained SemIA model: the one owner of inference.

:class:`SemiaModel` turns target layouts into images (:meth:`SemiaModel.synthesize`):
the generator at the working size, then the full-resolution stage
(``refinement.py``) up to the source's size; :func:`run_generator` is the
single forward pass both it and the trainer's previews use. Its one-file
``.semia`` storage (everything synthesis needs) is ``model_file.py``.
"""

from __future__ import annotations

import copy
import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from . import __version__
from .config import TrainingConfig
from .device import device_after_unpickling, pickled_device, resolve_device
from .errors import IncompatibleModelError, SemiaInputError
from .intensity import IntensityNormalizer, describe_image
from .labels import LabelCodec, read_as_classes_of
from .layout_tensors import resize_index, to_onehot
from .model_file import model_payload, read_model_file, write_model_file
from .networks import SFTGenerator
from .patch_vote import LinearUnits
from .refinement import RefinementConfig, SourcePyramid
from .source_info import SourceInfo
from .validation import MODEL_SOURCE, validate_target

#: Rows converted to the user's dtype at a time (the float64 conversion of a
#: whole 4096 x 4096 RGB image would take more than a gigabyte).
_ROWS_PER_CONVERSION = 512
#: The share of a model's first full-resolution synthesis that building its source
#: side takes, in the progress reported (2 s of about 5 on a 2400 x 1600 photo,
#: 6-7 s of about 15 at 4096 x 4096, on two CPU cores).
PYRAMID_SHARE = 0.4


def split_progress(progress: Callable[[float], None] | None, building: bool):
    """(build, refine) callbacks for one ``progress(fraction)``: building the source
    side, when it must be built, reports the first ``PYRAMID_SHARE`` and the
    refinement the rest; (None, None) without ``progress``."""
    if progress is None:
        return None, None
    share = PYRAMID_SHARE if building else 0.0
    build = (lambda done: progress(share * done)) if building else None
    return build, lambda done: progress(share + (1 - share) * done)


@torch.inference_mode()
def run_generator(generator: SFTGenerator, source_image: torch.Tensor, source_index: torch.Tensor,
                  target_index: torch.Tensor, source_encoding=None) -> torch.Tensor:
    """The generator's output (B, C, h, w) in network space for (B, h, w) target
    class indices at the source's resolution, in eval mode (restored after)."""
    num_classes = generator.hparams["num_classes"]
    batch = target_index.shape[0]
    source_onehot = to_onehot(source_index, num_classes).expand(batch, -1, -1, -1)
    was_training = generator.training
    generator.eval()
    try:
        return generator(source_image, source_onehot, to_onehot(target_index, num_classes),
                         source_encoding=source_encoding)
    finally:
        generator.train(was_training)


def to_user_image(output: torch.Tensor, normalizer: IntensityNormalizer, size=None,
                  copied: bool = False, checkpoint: Callable[[], None] | None = None) -> list[np.ndarray]:
    """Network-space outputs (B, C, h, w) -> images like the source (dtype,
    value range, channels), resized (bicubic) to ``size`` if given.
    ``copied``: made of the source's own values (the full-resolution stage), kept
    as they are (within the source's range) instead of clamped to the
    generator's [-1, 1], the normaliser's 0.5th..99.5th percentiles.
    ``checkpoint()`` is called between strips of rows (it may raise to abandon
    the conversion: seconds at tens of megapixels)."""
    if size is not None and tuple(output.shape[-2:]) != tuple(size):
        output = F.interpolate(output, size=tuple(size), mode="bicubic", align_corners=False)
    if not copied:
        output = output.clamp(-1, 1)
    output = output.float().cpu().numpy()
    height = output.shape[-2]
    images = []
    for o in output:
        image = None
        for y in range(0, height, _ROWS_PER_CONVERSION):
            if checkpoint is not None:
                checkpoint()
            strip = normalizer.from_network(o[:, y:y + _ROWS_PER_CONVERSION])
            if image is None:
                image = np.empty((height,) + strip.shape[1:], strip.dtype)
            image[y:y + _ROWS_PER_CONVERSION] = strip
        images.append(image)
    return images


def _size(shape) -> str:
    return f"{int(shape[0])} × {int(shape[1])}"


def acquire_reporting(lock: threading.Lock, progress: Callable[[float], None] | None) -> None:
    """Acquire ``lock``, calling ``progress(0.0)`` every 0.1 s while another thread
    holds it, so that a caller waiting for another's build can be stopped (its
    progress raises; the lock is then not held)."""
    while not lock.acquire(timeout=0.1):
        if progress is not None:
            progress(0.0)


def positions_tensor(positions, device) -> torch.Tensor | None:
    """Known source positions (``SampledLayout.source_positions``: (2, H, W), NaN
    where unknown) as float32 on ``device``, for the refinement; None for None."""
    if positions is None:
        return None
    return torch.as_tensor(np.asarray(positions, dtype=np.float32)).to(device)


def pyramid_source(normalizer: IntensityNormalizer, image: np.ndarray, device,
                   checkpoint: Callable[[], None] | None = None) -> tuple:
    """The full-resolution stage's source: (1, C, H, W) network-space values on
    ``device``, and what their clip took off, (C, H, W) or None (see
    ``IntensityNormalizer.excess``). ``checkpoint()`` is called between strips
    of rows (it may raise to abandon the conversion)."""
    on_strip = None if checkpoint is None else (lambda done: checkpoint())
    values = torch.from_numpy(normalizer.to_network(image, on_strip=on_strip))[None].to(device)
    excess = normalizer.excess(image, on_strip=on_strip)
    return values, None if excess is None else torch.from_numpy(excess).to(device)


def _on_cpu(value):
    """``value`` with every tensor in it (in dicts, lists and tuples) on the CPU."""
    if isinstance(value, torch.Tensor):
        return value.cpu()
    if isinstance(value, dict):
        return {key: _on_cpu(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_on_cpu(item) for item in value)
    return value


@dataclass
class SemiaModel:
    generator: SFTGenerator
    codec: LabelCodec
    normalizer: IntensityNormalizer
    source_image: torch.Tensor
    """(1, C, h, w) normalised source at the working resolution."""
    source_index: torch.Tensor
    """(1, h, w) class indices of the source at the working resolution."""
    source_shape: tuple[int, int]
    """(H, W) of the full-size source image and label maps."""
    config: TrainingConfig
    steps_done: int = 0
    extra_states: dict = field(default_factory=dict)
    """Discriminator / segmenter state dicts, for resuming training."""
    version: str = __version__
    full_image: np.ndarray | None = None
    """The source image at full size, as given (dtype, channels), for the
    full-resolution stage; None for files of format 1 (bicubic upsampling)."""
    full_index: np.ndarray | None = None
    """(H, W) class indices of the source at full size (uint8 for up to 256 classes)."""
    refinement: RefinementConfig = field(default_factory=RefinementConfig)
    """Settings of the full-resolution stage."""
    source_info: SourceInfo = field(default_factory=SourceInfo)
    """The source's channel names and pixel size, where known: results written to
    TIFF carry them."""
    history: tuple = ()
    """The training runs that made the model, oldest first, as dicts: ``steps`` (of
    that run), ``planned``, ``seed``, ``device``, ``threads``, ``torch`` and
    ``napari_semia`` (an earlier version's file has none, or only its steps and
    seed). A continued model's ``config`` is its last run's: its seed and planned
    steps were all a file kept (a reproducibility pass)."""
    _source_encoding: tuple | None = field(default=None, init=False, repr=False)
    _pyramid: SourcePyramid | None = field(default=None, init=False, repr=False)
    _pyramid_lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False,
                                          compare=False)

    def __repr__(self) -> str:
        # The dataclass's own repr printed every weight tensor (150 000 characters).
        (rows, cols), (work_rows, work_cols) = self.source_shape, self.working_shape
        return (f"SemiaModel({self.num_classes} classes {self.class_ids}, source {rows} x {cols}, "
                f"working size {work_rows} x {work_cols}, {self.steps_done} steps, {self.device})")

    def __getstate__(self) -> dict:
        """Picklable (e.g. ``client.map(model.synthesize, layouts)`` on Dask, which failed
        on the lock; found by a Python-API user): without the lock and the caches,
        which are rebuilt on first use."""
        state = dict(self.__dict__)
        state.update(_pyramid_lock=None, _pyramid=None, _source_encoding=None)
        pickled_on = pickled_device(self.device)
        if pickled_on is not None:
            # CUDA tensors in the pickle: a CPU-only Dask worker could not unpickle a
            # model trained on a GPU (found in review). The copy sent is on the CPU and
            # goes back to a GPU where the unpickling machine has one.
            state.update(generator=copy.deepcopy(self.generator).cpu(), source_image=self.source_image.cpu(),
                         source_index=self.source_index.cpu(), extra_states=_on_cpu(self.extra_states),
                         _pickled_on=pickled_on)
        return state

    def __setstate__(self, state: dict) -> None:
        pickled_on = state.pop("_pickled_on", "cpu")
        self.__dict__.update(state, _pyramid_lock=threading.Lock())
        device = device_after_unpickling(pickled_on)
        if device != self.device:
            self.to(device)

    def __post_init__(self) -> None:
        if self.full_index is not None and self.full_index.dtype.itemsize > 1 and self.num_classes <= 256:
            self.full_index = self.full_index.astype(np.uint8)

    def source_encoding(self):
        """The generator's source-side features: they depend only on the
        source, so many syntheses with this model compute them once."""
        if self._source_encoding is None:
            with torch.inference_mode():
                self._source_encoding = self.generator.encode_source(
                    self.source_image, to_onehot(self.source_index, self.num_classes)
                )
        return self._source_encoding

    def source_pyramid(self, progress: Callable[[float], None] | None = None) -> SourcePyramid:
        """The full-resolution stage's source side (the full-size source at every
        level, its patch features): built on first use, then kept. ``progress``
        follows the build (it may raise to abandon it; nothing is kept then).

        Built once when several threads ask at once (a dataset run and a
        Synthesize): a second build would double the memory. A caller waiting for
        another's build still reports progress, so that it can be stopped."""
        acquire_reporting(self._pyramid_lock, progress)
        try:
            if self._pyramid is None:
                # Chances to stop: a large source takes seconds to convert.
                checkpoint = None if progress is None else (lambda: progress(0.0))
                image, excess = pyramid_source(self.normalizer, self.full_image, self.device, checkpoint)
                index = torch.from_numpy(self.full_index.astype(np.int64))[None].to(self.device)
                self._pyramid = SourcePyramid(image, index, self.num_classes, self.working_shape,
                                              self.refinement, excess=excess,
                                              linear_units=LinearUnits.of(self.normalizer, self.device),
                                              progress=progress)
            return self._pyramid
        finally:
            self._pyramid_lock.release()

    @property
    def can_refine(self) -> bool:
        """Whether this model holds its source at full size (files of format 2 on)."""
        return self.full_image is not None and self.full_index is not None

    @property
    def device(self) -> torch.device:
        return self.source_image.device

    @property
    def class_ids(self) -> tuple[int, ...]:
        return tuple(self.codec.class_ids)

    @property
    def num_classes(self) -> int:
        return len(self.codec.class_ids)

    @property
    def working_shape(self) -> tuple[int, int]:
        return tuple(self.source_image.shape[-2:])

    def to(self, device: str | torch.device) -> SemiaModel:
        device = resolve_device(device)
        self._source_encoding = None
        self._pyramid = None
        self.generator.to(device)
        self.source_image = self.source_image.to(device)
        self.source_index = self.source_index.to(device)
        return self

    # ------------------------------------------------------------- inference
    def encode_targets(self, targets: list) -> torch.Tensor:
        """Target label maps (user ids or colours, full size) -> (B, h, w)
        class indices at the working size, on the model's device
        (SemiaInputError for a wrong shape or unknown ids)."""
        return resize_index(self._full_size_indices(targets), self.working_shape, self.num_classes)

    def _full_size_indices(self, targets: list, checkpoint: Callable[[], None] | None = None) -> torch.Tensor:
        """(B, H, W) class indices of the targets at full size, on the model's device;
        ``checkpoint()`` after each target's (it may raise to abandon the rest)."""
        indices = []
        for target in targets:
            index = validate_target(target, self.source_shape, self.codec, source=MODEL_SOURCE)
            indices.append(torch.as_tensor(index, dtype=torch.long))
            if checkpoint is not None:
                checkpoint()
        # (One target: no stacked copy, half a gigabyte at 67 MP.)
        return (indices[0][None] if len(indices) == 1 else torch.stack(indices)).to(self.device)

    def synthesize_index(self, target_index: torch.Tensor) -> torch.Tensor:
        """Network-space output (B, C, h, w) for (B, h, w) class indices at the working size."""
        return run_generator(self.generator, self.source_image, self.source_index, target_index,
                             source_encoding=self.source_encoding())

    def synthesize(self, target_labels, *, full_size: bool = True, refine: bool = True,
                   progress: Callable[[float], None] | None = None, source_positions=None,
                   seed: int | None = None):
        """The source's appearance in ``target_labels``.

        ``target_labels``: one label map (H, W) ids or RGB colour map of the
        source's size, or a list of them. Returns an image like the source
        (dtype, value range, channels), or a list for a list:

        * by default at full size, the generator's output refined from the
          source's own patches (``refinement.py``; seconds for megapixels);
        * ``refine=False``: the fast preview, the generator's output upsampled
          bicubically to full size (what models of file format 1 always give);
        * ``full_size=False``: the generator's output at the working size.

        ``progress(fraction)`` follows the full-resolution stage (it may raise
        to abandon the synthesis), the source side's build included on a
        model's first synthesis.

        ``source_positions`` (one per target, or a list as the targets): (2, H, W),
        the source row and column each target pixel is known to come from, NaN
        elsewhere (``SampledLayout.source_positions``); the full-resolution stage
        copies those pixels from there (``known_sources``).

        ``seed``: the full-resolution stage's random search (default: the model's
        refinement seed, 0). Results are the same for a seed, run after run; another
        seed picks some other source patches (a few per cent of the pixels), which
        shows how much a result owes to chance.
        """
        single = not isinstance(target_labels, (list, tuple))
        targets = [target_labels] if single else list(target_labels)
        if not targets:
            return []
        first = targets[0]
        if not single and (np.ndim(first) == 1 or (isinstance(first, (list, tuple)) and np.ndim(first) == 2
                                                    and np.shape(first)[-1] in (3, 4))):
            # A map as nested lists reads as a list of rows (a new user's
            # ``target.tolist()`` was told of a target of shape (700,)); a colour
            # map's rows are (W, 3) lists.
            raise SemiaInputError(
                "A list is read as several targets, and its first is a row of a map: give one target "
                "as an array (np.asarray(...)), or a list of 2D label maps.")
        if single:
            positions = [source_positions]
        else:
            positions = [None] * len(targets) if source_positions is None else list(source_positions)
        if len(positions) != len(targets):
            raise SemiaInputError(f"{len(positions)} sets of source positions for {len(targets)} targets.")
        checkpoint = None if progress is None else (lambda: progress(0.0))
        full_index, output = self._generated(targets, checkpoint)
        if not full_size:
            images = to_user_image(output, self.normalizer)
        elif refine and self.can_refine:
            images = self._refined(full_index, output, progress, positions, seed)
        else:
            images = to_user_image(output, self.normalizer, self.source_shape, checkpoint=checkpoint)
        return images[0] if single else images

    def synthesis_stages(self, target_labels, *, refine: bool = True,
                         progress: Callable[[float], None] | None = None, seed: int | None = None,
                         ) -> Iterator[tuple[np.ndarray, bool]]:
        """One target's results as they come, as ``(image, final)``: the fast preview
        (``synthesize(target_labels, refine=False)``), then, with ``refine`` on a
        model that can, the full-resolution result (``synthesize(target_labels)``),
        the target prepared once for both (seconds at tens of megapixels).
        ``progress`` as :meth:`synthesize`'s; while the preview is made it is called
        with 0.0, a chance to abandon it."""
        checkpoint = None if progress is None else (lambda: progress(0.0))
        full_index, output = self._generated([target_labels], checkpoint)
        refining = refine and self.can_refine
        preview = to_user_image(output, self.normalizer, self.source_shape, checkpoint=checkpoint)[0]
        yield preview, not refining
        if refining:
            yield self._refined(full_index, output, progress, seed=seed)[0], True

    def _generated(self, targets: list, checkpoint: Callable[[], None] | None) -> tuple:
        """The targets' (B, H, W) class indices at full size, and the generator's
        (B, C, h, w) output for them; ``checkpoint()`` between the steps."""
        full_index = self._full_size_indices(targets, checkpoint)
        working_index = resize_index(full_index, self.working_shape, self.num_classes)
        if checkpoint is not None:
            checkpoint()
        return full_index, self.synthesize_index(working_index)

    def _refined(self, full_index: torch.Tensor, output: torch.Tensor,
                 progress: Callable[[float], None] | None, positions: list | None = None,
                 seed: int | None = None) -> list[np.ndarray]:
        """The full-resolution stage for (B, H, W) ``full_index`` guided by the
        generator's ``output`` for it; ``positions``: per target, known source
        positions or None; ``seed``: see :meth:`synthesize`."""
        build, refined = split_progress(progress, self._pyramid is None)
        pyramid = self.source_pyramid(progress=build)
        images = []
        for number, (target_index, guide) in enumerate(zip(full_index, output)):
            report = checkpoint = None
            if refined is not None:
                report = lambda done, number=number: refined((number + done) / len(full_index))
                checkpoint = lambda number=number: refined((number + 1) / len(full_index))
            known = positions_tensor(positions[number], self.device) if positions else None
            images += to_user_image(pyramid.refine(target_index, guide[None], progress=report,
                                                   source_positions=known, generator=pyramid.generator(seed)),
                                    self.normalizer, copied=True, checkpoint=checkpoint)
        return images

    def classes_beyond_range(self, share: float = 0.5) -> list[int]:
        """Ids of the classes at least ``share`` of whose source pixels lie outside the
        intensity range the generator's outputs can show (the source's 0.5th to
        99.5th percentiles): bright spots that are a few per mille of an image come
        out at the 99.5th percentile in working-size results, labelled but hardly
        visible. Empty for files without the full-size source (format 1)."""
        if not self.can_refine:
            return []
        beyond = self.normalizer.beyond_range(self.full_image)
        index = self.full_index.reshape(-1)
        total = np.bincount(index, minlength=self.num_classes)
        outside = np.bincount(index[beyond.reshape(-1)], minlength=self.num_classes)
        return [int(i) for i, o, t in zip(self.class_ids, outside, total) if t and o >= share * t]

    def is_source_image(self, image) -> bool | None:
        """Whether ``image`` is this model's source image, pixel for pixel; None for a
        file without the full-size source (format 1)."""
        if not self.can_refine:
            return None
        image = np.asarray(image)
        return image.shape == self.full_image.shape and bool(np.array_equal(image, self.full_image))

    def was_trained_on(self, image, labels) -> bool | None:
        """Whether this model's source is ``image`` with ``labels`` (arrays as given
        to training); None for a file without the full-size source (format 1)."""
        same_image = self.is_source_image(image)
        if not same_image:
            return same_image
        try:
            index = self.codec.encode(labels)
        except SemiaInputError:  # ids or colours the model does not know
            return False
        return bool(np.array_equal(index, self.full_index))

    def can_continue_on(self, image, labels) -> bool:
        """Whether training may continue this model on ``image`` and ``labels`` (the run
        checks it again, :meth:`check_can_continue`): the same size and kind of image,
        and labels of the model's classes, every one of them present. For notes that
        must not say a run continues when it will refuse to."""
        image, labels = np.asarray(image), np.asarray(labels)
        if image.shape[:2] != labels.shape[:2] or self.source_mismatch(image, dtype=False):
            return False
        return read_as_classes_of(self.codec, labels) is not None

    def check_can_continue(self, codec: LabelCodec, source_shape, normalizer: IntensityNormalizer) -> None:
        """Raise IncompatibleModelError unless training on this source can continue this model."""
        if self.codec != codec:  # (the same classes in another order were renumbered: ``in_classes_of``)
            raise IncompatibleModelError(
                f"Cannot continue training: the model's classes ({self.codec.describe_classes()}) "
                f"differ from these labels' ({codec.describe_classes()})."
            )
        if tuple(self.source_shape) != tuple(source_shape):
            raise IncompatibleModelError(
                f"Cannot continue training: the model was trained on a {_size(self.source_shape)} "
                f"image, this one is {_size(source_shape)}."
            )
        if (self.normalizer.layout, self.normalizer.channels) != (normalizer.layout, normalizer.channels):
            raise IncompatibleModelError(
                f"Cannot continue training: the model was trained on {self.normalizer.description}, "
                f"this one is {normalizer.description}."
            )

    def source_mismatch(self, image, dtype: bool = True) -> str | None:
        """How ``image`` differs from this model's source in size, channels or (with
        ``dtype``) type, as the model's output would be shown in its place; None
        when it fits."""
        image = np.asarray(image)
        if tuple(image.shape[:2]) != tuple(self.source_shape):
            return (f"the model was trained on a {_size(self.source_shape)} image, this one is "
                    f"{_size(image.shape[:2])}")
        try:
            described = describe_image(image)
        except SemiaInputError as error:
            return str(error)
        if described != self.normalizer.description:
            return f"the model was trained on {self.normalizer.description}, this one is {described}"
        if dtype and np.dtype(self.normalizer.dtype) != image.dtype:
            # Shown in its place, the result took its colormap and contrast limits: a CT
            # model's int16 values under a PET image's 0..1 limits (found by a new user).
            return (f"the model was trained on an image of type {np.dtype(self.normalizer.dtype)}, "
                    f"this one is {image.dtype}")
        return None

    # ------------------------------------------------------------------ file
    def save(self, path: str | os.PathLike) -> Path:
        """Write the model to ``path`` (a ``.semia`` file: the generator's weights,
        the source pair and the settings; no pickled code) and return the path.
        The file is written beside it and renamed when complete, so a failed save
        leaves an earlier file of that name whole. Raises ModelFileError."""
        return write_model_file(Path(path), model_payload(self))

    @classmethod
    def load(cls, path: str | os.PathLike, device: str | torch.device = "auto") -> SemiaModel:
        """The model saved at ``path``, on ``device`` ("auto": a CUDA GPU when there
        is one, else the CPU; "cpu", "cuda", "cuda:N", "mps"). Raises ModelFileError
        (a SemiaInputError) for a missing, unreadable or newer-format file, and
        SemiaInputError for a device this machine lacks."""
        return read_model_file(Path(path), cls).to(device)
