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
    """Resize a (B, H, W) class-index map: each output pixel takes the majority class
    of the area it covers (the first class of the most, like an argmax over the
    area-averaged one-hot planes); nearest neighbour when either side grows (no
    new classes at edges).

    Unlike nearest-neighbour resizing, shrinking this way keeps thin structures.
    One class plane at a time: memory stays at a few (B, h, w) planes and one
    (B, H, W) mask whatever the number of classes (the one-hot planes of a
    4096 x 4096 map with ten classes took 2 GB).
    """
    size = (int(size[0]), int(size[1]))
    if tuple(index.shape[-2:]) == size:
        return index
    if size[0] > index.shape[-2] or size[1] > index.shape[-1]:
        return F.interpolate(index[:, None].float(), size=size, mode="nearest")[:, 0].long()
    best = torch.full((index.shape[0], *size), -1.0, device=index.device)
    result = torch.zeros((index.shape[0], *size), dtype=torch.long, device=index.device)
    for k in range(num_classes):
        share = F.interpolate((index == k).float()[:, None], size=size, mode="area")[:, 0]
        wins = share > best  # strictly: the first class of the most area wins, as argmax
        best = torch.where(wins, share, best)
        result[wins] = k
    return result


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
