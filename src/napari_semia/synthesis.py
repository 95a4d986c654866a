"""Synthesis: the source's appearance in a new layout, one forward pass per target."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.nn.functional as F

from .validation import validate_target

if TYPE_CHECKING:
    from .model_file import SemiaModel


def to_onehot(index: torch.Tensor, num_classes: int) -> torch.Tensor:
    """(B, H, W) int64 class indices -> (B, K, H, W) float one-hot."""
    return F.one_hot(index, num_classes).permute(0, 3, 1, 2).float()


def resize_index(index: torch.Tensor, size: tuple[int, int], num_classes: int) -> torch.Tensor:
    """Resize a class-index map by area-averaging its one-hot planes, then argmax.

    Unlike nearest-neighbour resizing, this keeps thin structures and gives each
    output pixel the majority class of the area it covers.
    """
    if tuple(index.shape[-2:]) == tuple(size):
        return index
    planes = F.interpolate(to_onehot(index, num_classes), size=size, mode="area"
                           if size[0] <= index.shape[-2] else "nearest")
    return planes.argmax(1)


def _prepare_targets(model: "SemiaModel", targets: list) -> torch.Tensor:
    indices = []
    for target in targets:
        index = validate_target(target, model.source_shape, model.codec)
        indices.append(torch.as_tensor(index, dtype=torch.long))
    index = torch.stack(indices).to(model.device)
    return resize_index(index, model.working_shape, model.num_classes)


@torch.inference_mode()
def synthesize_index(model: "SemiaModel", target_index: torch.Tensor) -> torch.Tensor:
    """Network-space synthesis for (B, h, w) class indices at the working size."""
    batch = target_index.shape[0]
    source_onehot = to_onehot(model.source_index, model.num_classes)
    was_training = model.generator.training
    model.generator.eval()
    try:
        return model.generator(
            model.source_image,
            source_onehot.expand(batch, -1, -1, -1),
            to_onehot(target_index, model.num_classes),
            source_encoding=model.source_encoding(),
        )
    finally:
        model.generator.train(was_training)


def synthesize(model: "SemiaModel", target_labels, *, full_size: bool = True):
    """Synthesize the source's appearance in ``target_labels``.

    ``target_labels``: one label map (H, W) ids or RGB colour map of the same
    size as the source, or a list of them. Returns an image like the source
    (dtype, value range, channels; full size unless ``full_size=False``), or a
    list for a list.
    """
    single = not isinstance(target_labels, (list, tuple))
    targets = [target_labels] if single else list(target_labels)
    if not targets:
        return []
    index = _prepare_targets(model, targets)
    output = synthesize_index(model, index)
    if full_size and tuple(output.shape[-2:]) != tuple(model.source_shape):
        output = F.interpolate(output, size=model.source_shape, mode="bicubic", align_corners=False)
    output = output.clamp(-1, 1).float().cpu().numpy()
    images = [model.normalizer.from_network(np.ascontiguousarray(o)) for o in output]
    return images[0] if single else images
