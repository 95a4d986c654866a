"""Nearest-neighbour fields: pixel grids, fields carried from level to level, masks grown.

A field is two (h, w) int32 tensors ``fy``, ``fx``: the source pixel each
output pixel copies (the identity where a pixel keeps its own). The
refinement carries them from the working size up to full size.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def dilate(mask: torch.Tensor, radius: int) -> torch.Tensor:
    """A new (h, w) bool mask: ``mask`` grown by ``radius`` (square window)."""
    if radius <= 0:
        # A copy: the level-0 band is grown in place, and with identity_margin 0
        # it would otherwise grow the changed mask too.
        return mask.clone()
    return _grown_along(_grown_along(mask.bool(), radius, 0), radius, 1)


def _grown_along(mask: torch.Tensor, radius: int, dim: int) -> torch.Tensor:
    """``mask`` ORed over a window of ``radius`` each side along ``dim``: runs of
    doubling length ORed with shifted copies of themselves, then two runs that
    cover the window (O(log radius) passes of bool ORs). A max pool of the mask as
    floats took 3-6 s at 8192 x 8192 on a CPU, this 0.1-0.2 s."""
    size = mask.shape[dim]
    window = 2 * radius + 1
    padded = F.pad(mask, (radius, radius) if dim == 1 else (0, 0, radius, radius))
    runs, length = padded, 1  # runs[j]: OR of padded[j : j + length] (to the end, near it)
    while 2 * length <= window:
        rest = runs.shape[dim] - length
        doubled = runs.clone()
        doubled.narrow(dim, 0, rest).logical_or_(runs.narrow(dim, length, rest))
        runs, length = doubled, 2 * length
    # Window [j, j + window) = run at j OR run at j + window - length (they overlap).
    return runs.narrow(dim, 0, size) | runs.narrow(dim, window - length, size)


def grid(shape, device) -> tuple[torch.Tensor, torch.Tensor]:
    return (torch.arange(shape[0], device=device, dtype=torch.int32)[:, None],
            torch.arange(shape[1], device=device, dtype=torch.int32)[None])



def enlarge(field: torch.Tensor, shape) -> torch.Tensor:
    """(h, w) field of any dtype -> ``shape`` (nearest, the pixels ``F.interpolate``
    picks), same dtype: bit sets of classes do not survive a trip through float."""
    if tuple(field.shape) == tuple(shape):
        return field
    rows, cols = (nearest_indices(size, new, field.device) for size, new in zip(field.shape, shape))
    return field.index_select(0, rows).index_select(1, cols)



def nearest_indices(size: int, new_size: int, device) -> torch.Tensor:
    # As interpolate's "nearest": floor(i * (size / new_size)) in float32.
    scale = torch.tensor(size / new_size, dtype=torch.float32)
    index = (torch.arange(new_size, dtype=torch.float32) * scale).floor().long().clamp_max(size - 1)
    return index.to(device)



def upsample_field(fy: torch.Tensor, fx: torch.Tensor, shape):
    """The field at the next level (``shape``, same for source and target): each
    pixel takes its parent's offset, scaled."""
    h, w = fy.shape
    new_h, new_w = shape
    ys, xs = grid((h, w), fy.device)
    offsets = torch.stack([(fy - ys).float() * (new_h / h), (fx - xs).float() * (new_w / w)])
    offsets = F.interpolate(offsets[None], size=(new_h, new_w), mode="nearest")[0].round().int()
    new_ys, new_xs = grid((new_h, new_w), fy.device)
    return (new_ys + offsets[0]).clamp_(0, new_h - 1), (new_xs + offsets[1]).clamp_(0, new_w - 1)
