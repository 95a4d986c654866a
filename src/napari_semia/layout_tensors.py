"""Layout tensors: class-index maps as one-hot planes, their resizing, and the box
around a region of a layout.

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


def bounding_box(mask: torch.Tensor, grow: int = 0, within: tuple[int, int, int, int] | None = None):
    """(y0, y1, x0, x1) around the True pixels of the (H, W) ``mask`` inside ``within``
    (a box; default the whole mask), grown by ``grow`` and clipped to ``within``;
    None when there are none."""
    y0, y1, x0, x1 = within if within is not None else (0, mask.shape[0], 0, mask.shape[1])
    rows = mask[y0:y1, x0:x1].any(1).nonzero()
    if rows.numel() == 0:
        return None
    cols = mask[y0:y1, x0:x1].any(0).nonzero()
    return (max(y0, y0 + int(rows[0]) - grow), min(y1, y0 + int(rows[-1]) + 1 + grow),
            max(x0, x0 + int(cols[0]) - grow), min(x1, x0 + int(cols[-1]) + 1 + grow))
