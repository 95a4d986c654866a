"""The training pair on the training device, at the working size and at half of it.

Built once per run from the user's image and labels: validated, normalised to
the network's range, resized (image: anti-aliased bilinear; labels: area vote
of the one-hot planes) and kept as tensors on the device.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from .intensity import IntensityNormalizer
from .labels import LabelCodec, read_as_classes_of
from .layout_tensors import resize_index, to_onehot
from .validation import validate_training_inputs


def working_shape(source_shape: tuple[int, int], size: int) -> tuple[int, int]:
    """Working resolution: longest side ``size`` (never upsampled)."""
    height, width = source_shape
    scale = min(1.0, size / max(height, width))
    return max(8, round(height * scale)), max(8, round(width * scale))


def _in_classes_of(model_codec: LabelCodec, labels, codec: LabelCodec,
                   index: np.ndarray) -> tuple[LabelCodec, np.ndarray]:
    """Labels to continue a model on: ``(model_codec, their class indices)`` where they
    hold exactly its classes (``labels.read_as_classes_of``, whose rule
    ``SemiaModel.can_continue_on`` shares, so that no note says a run continues that
    is then refused); else ``(codec, index)``, read as a new source's (which
    ``SemiaModel.check_can_continue`` refuses).

    A colour map's classes are numbered by area: an edited map whose object grew past
    its background numbered the same colours the other way round, and training went
    on with the classes swapped, without a word."""
    encoded = read_as_classes_of(model_codec, labels, found=codec)
    return (codec, index) if encoded is None else (model_codec, encoded)


@dataclass
class Resolution:
    """The source pair at one resolution: image (1, C, h, w), indices (1, h, w), one-hot."""

    image: torch.Tensor
    index: torch.Tensor
    num_classes: int
    onehot: torch.Tensor = field(init=False)

    def __post_init__(self) -> None:
        self.onehot = to_onehot(self.index, self.num_classes)

    @property
    def shape(self) -> tuple[int, int]:
        return tuple(self.image.shape[-2:])


@dataclass
class TrainingData:
    codec: LabelCodec
    normalizer: IntensityNormalizer
    source_shape: tuple[int, int]
    fine: Resolution
    """The working size (longest side ``size``)."""
    coarse: Resolution
    """Half the working size, for the coarse-to-fine first phase."""
    full_image: np.ndarray
    """The image as given, for the model's full-resolution stage."""
    full_index: np.ndarray
    """(H, W) class indices of the labels at full size."""

    @property
    def num_classes(self) -> int:
        return self.codec.num_classes

    def classes_lost_at_working_size(self) -> dict[int, int]:
        """Class index -> its pixels at full size, for each class of the source
        that no pixel of the working-size labels holds: the network never sees it."""
        present = set(torch.unique(self.fine.index).tolist())
        counts = np.bincount(self.full_index.ravel(), minlength=self.num_classes)
        return {k: int(counts[k]) for k in range(self.num_classes) if k not in present and counts[k]}

    @property
    def channels(self) -> int:
        return int(self.fine.image.shape[1])

    @classmethod
    def build(cls, image, labels, size: int, device: torch.device,
              stretch: bool = True, classes_of: LabelCodec | None = None) -> TrainingData:
        """Validate (SemiaInputError) and move the pair to ``device`` at both resolutions.
        ``stretch``: as for ``IntensityNormalizer.fit``; ``classes_of``: a continued
        model's codec, whose class numbers the labels keep where they hold its classes."""
        codec, source_index = validate_training_inputs(image, labels)
        if classes_of is not None and codec != classes_of:
            codec, source_index = _in_classes_of(classes_of, labels, codec, source_index)
        normalizer = IntensityNormalizer.fit(image, stretch=stretch)
        source_shape = tuple(int(s) for s in source_index.shape[:2])
        full_image = torch.from_numpy(normalizer.to_network(image)).float()[None].to(device)
        full_index = torch.from_numpy(np.asarray(source_index, dtype=np.int64))[None].to(device)

        def at(shape) -> Resolution:
            resized = full_image
            if tuple(full_image.shape[-2:]) != tuple(shape):
                resized = F.interpolate(full_image, size=shape, mode="bilinear", antialias=True,
                                        align_corners=False)
            index = resize_index(full_index, shape, codec.num_classes)
            return Resolution(image=resized.contiguous(), index=index, num_classes=codec.num_classes)

        return cls(
            codec=codec,
            normalizer=normalizer,
            source_shape=source_shape,
            fine=at(working_shape(source_shape, size)),
            coarse=at(working_shape(source_shape, max(16, size // 2))),
            full_image=np.asarray(image),
            full_index=np.asarray(source_index),
        )
