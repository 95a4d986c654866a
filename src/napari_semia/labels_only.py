"""A result before any training: the full-resolution stage from the label map alone.

The full-resolution stage (``refinement.py``) rebuilds a target layout from the
source's own patches, guided by the generator's output. With no guide it still
works: each changed region becomes a shifted copy of a region of its class,
matched and voted level by level. Measured on the shared examples its patch
figures are about the generator-guided ones; the generator adds the shape of
new content (legs, towers, lips) and layout agreement where objects are drawn
anew (``docs/method.md``). So the widget shows it within seconds of painting,
before a model exists, and the trained model's result replaces it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import numpy as np
import torch

from .config import TrainingConfig
from .device import resolve_device
from .intensity import IntensityNormalizer
from .labels import LabelCodec
from .model import acquire_reporting, positions_tensor, pyramid_source, split_progress, to_user_image
from .patch_vote import LinearUnits
from .refinement import RefinementConfig, SourcePyramid
from .training_data import working_shape
from .validation import validate_target, validate_training_inputs


class LabelsOnlySynthesizer:
    """Targets rebuilt from one source's patches, with no trained generator.

    Cheap to create: the inputs are checked, and the source side (codec,
    normaliser, patch pyramid) built, on the first :meth:`synthesize` (a worker
    thread's job for a large image), then kept for the next ones.
    """

    def __init__(self, image, labels, *, size: int = TrainingConfig.size, device: str | torch.device = "auto",
                 refinement: RefinementConfig | None = None) -> None:
        self._image, self._labels = image, labels
        self._size = int(size)
        self._device = device
        self._refinement = refinement or RefinementConfig()
        self._lock = threading.Lock()
        self.codec: LabelCodec | None = None
        self.normalizer: IntensityNormalizer | None = None
        self.source_shape: tuple[int, int] | None = None
        self._source_index: np.ndarray | None = None  # checked, until the pyramid is built
        self._pyramid: SourcePyramid | None = None

    def check(self) -> None:
        """Check the source pair (SemiaInputError) and read its classes (``codec``,
        ``source_shape``), without building the pyramid: targets can be checked
        against them before any long work."""
        with self._lock:
            self._checked()

    def _checked(self):
        """(codec, source index) of the source pair, checked once (the lock held)."""
        if self._source_index is None and self._pyramid is None:
            self.codec, self._source_index = validate_training_inputs(self._image, self._labels)
            self.source_shape = tuple(int(s) for s in self._source_index.shape[:2])
        return self.codec, self._source_index

    def prepare(self, progress: Callable[[float], None] | None = None) -> SourcePyramid:
        """Check the source pair (SemiaInputError) and build its patch pyramid, once.
        ``progress`` follows the build (it may raise to abandon it)."""
        acquire_reporting(self._lock, progress)
        try:
            if self._pyramid is None:
                codec, source_index = self._checked()
                normalizer = IntensityNormalizer.fit(self._image)
                device = resolve_device(self._device)
                source_shape = tuple(int(s) for s in source_index.shape[:2])
                checkpoint = None if progress is None else (lambda: progress(0.0))
                image, excess = pyramid_source(normalizer, np.asarray(self._image), device, checkpoint)
                index = torch.from_numpy(np.asarray(source_index, dtype=np.int64))[None]
                self._pyramid = SourcePyramid(image, index.to(device), codec.num_classes,
                                              working_shape(source_shape, self._size), self._refinement,
                                              excess=excess, linear_units=LinearUnits.of(normalizer, device),
                                              progress=progress)
                self.codec, self.normalizer, self.source_shape = codec, normalizer, source_shape
                self._image = self._labels = self._source_index = None  # the pyramid holds what is needed
            return self._pyramid
        finally:
            self._lock.release()

    @property
    def device(self) -> torch.device | None:
        return self._pyramid.device if self._pyramid is not None else None

    def synthesize(self, target_labels, progress: Callable[[float], None] | None = None,
                   source_positions: np.ndarray | None = None, seed: int | None = None) -> np.ndarray:
        """The source's appearance in ``target_labels`` (ids or colours, the source's
        size) at full size, like the source (dtype, value range, channels).
        ``progress(fraction)`` follows the work (it may raise to abandon it).
        ``source_positions``: (2, H, W), the source row and column each pixel is
        known to come from, NaN elsewhere (``SampledLayout.source_positions``).
        ``seed``: the random search's (``SemiaModel.synthesize``'s)."""
        build, report = split_progress(progress, self._pyramid is None)
        pyramid = self.prepare(progress=build)
        index = validate_target(target_labels, self.source_shape, self.codec)
        index = torch.as_tensor(np.asarray(index), dtype=torch.long).to(pyramid.device)
        with torch.inference_mode():
            output = pyramid.refine(index, None, progress=report,
                                    source_positions=positions_tensor(source_positions, pyramid.device),
                                    generator=pyramid.generator(seed))
        return to_user_image(output, self.normalizer, copied=True)[0]
