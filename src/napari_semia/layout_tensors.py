"""Layout tensors: class-index maps as one-hot planes, and their resizing.

The networks see a layout as (B, K, H, W) one-hot planes; users, the trainer
and synthesis hold (B, H, W) int64 class indices. Both conversions live here
so that every part resizes layouts the same way.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def to_onehot(index: torch.Tensor, num_classes: int) -> torch.Tensor:
    """(B, H, W) int64 class indices -> (B, K, H, W) float one-hot."""
    return F.one_hot(index, num_classes).permute(0, 3, 1, 2).float()


def resize_index(index: torch.Tensor, size: tuple[int, int], num_classes: int) -> torch.Tensor:
    """Resize a (B, H, W) class-index map: area-average the one-hot planes, then argmax.

    Unlike nearest-neighbour resizing, shrinking this way keeps thin
    structures and gives each output pixel the majority class of the area it
    covers. Enlarging uses nearest neighbour (no new classes at edges).
    """
    size = (int(size[0]), int(size[1]))
    if tuple(index.shape[-2:]) == size:
        return index
    shrinking = size[0] <= index.shape[-2]
    planes = F.interpolate(to_onehot(index, num_classes), size=size, mode="area" if shrinking else "nearest")
    return planes.argmax(1)
