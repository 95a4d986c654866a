"""An image rebuilt from a nearest-neighbour field by voting.

Each pixel averages the source pixels that the matched patches covering it
put there (over a window of ``radius``), counting, where asked, only those of
the target's class at the pixel; done in tiles, so memory is O(tile). Used by
``refinement`` at every level.

A source whose intensities the normaliser stretched (linear high-dynamic-range
data, ``IntensityNormalizer``) is voted in its own linear units
(:class:`LinearUnits`): the stretch is near logarithmic for bright values, and
averaging there is a geometric mean, so a point source whose copies did not
line up came out at a fifth of its peak instead of two thirds.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from .layout_tensors import bounding_box
from .patch_features import SourceLevel, crop_with_border, tiles


class LinearUnits:
    """Network values of a stretched source to values proportional to its data's own
    (``sinh`` of the stretched units, channel by channel) and back; channels left
    linear pass through. (C, ...) tensors."""

    def __init__(self, center, half_range, stretched, device) -> None:
        shape = (len(center), 1)
        self._stretched = torch.tensor(stretched, dtype=torch.bool, device=device).view(shape)
        # A linear channel's values are not put through sinh at all (its centre may be
        # in the thousands): 0 and 1 keep the arithmetic finite.
        self._center = torch.tensor([c if m else 0.0 for c, m in zip(center, stretched)],
                                    dtype=torch.float32, device=device).view(shape)
        self._half_range = torch.tensor([h if m else 1.0 for h, m in zip(half_range, stretched)],
                                        dtype=torch.float32, device=device).view(shape)

    @classmethod
    def of(cls, normalizer, device) -> LinearUnits | None:
        """For an ``IntensityNormalizer``; None when no channel of it is stretched."""
        if not normalizer.stretched:
            return None
        return cls(normalizer.center, normalizer.half_range,
                   [v > 0 for v in normalizer.softening], device)

    def to_linear(self, values: torch.Tensor) -> torch.Tensor:
        flat = values.reshape(values.shape[0], -1)
        return torch.where(self._stretched, (flat * self._half_range + self._center).sinh(),
                           flat).view(values.shape)

    def from_linear(self, values: torch.Tensor) -> torch.Tensor:
        flat = values.reshape(values.shape[0], -1)
        return torch.where(self._stretched, (flat.asinh() - self._center) / self._half_range,
                           flat).view(values.shape)


def vote(level: SourceLevel, fy: torch.Tensor, fx: torch.Tensor, inside: torch.Tensor,
         target_classes: torch.Tensor, radius: int, within_class: bool = True,
         pixels: torch.Tensor | None = None) -> torch.Tensor:
    """Average of the source pixels the patches covering each pixel put there.

    ``fy``/``fx``/``inside`` cover the tile with a halo of ``radius`` on every side
    (``inside`` is False where the halo leaves the image); ``target_classes`` is
    the tile's (h, w) layout. Only contributions of the target's class count;
    pixels without any take their own match's pixel. ``pixels``: (C, H * W) values
    to vote instead of the level's own (the same field and weights).
    """
    if pixels is None:
        pixels = level.pixels
    h, w = target_classes.shape
    src_h, src_w = level.shape
    channels = pixels.shape[0]
    total = torch.zeros(channels, h * w, device=fy.device)
    weight = torch.zeros(h * w, device=fy.device)
    wanted = target_classes.flatten().to(level.classes.dtype)
    allow_any = level.missing[target_classes.flatten().long()]
    centre = None
    for dy in range(-radius, radius + 1):
        for dx in range(-radius, radius + 1):
            # Neighbour q = p - (dy, dx) matched source position f(q); its patch puts
            # f(q) + (dy, dx) at p.
            ys = slice(radius - dy, radius - dy + h)
            xs = slice(radius - dx, radius - dx + w)
            sy = (fy[ys, xs] + dy).clamp_(0, src_h - 1)
            sx = (fx[ys, xs] + dx).clamp_(0, src_w - 1)
            flat = (sy * src_w + sx).flatten()
            if dy == 0 and dx == 0:
                centre = flat
            ok = inside[ys, xs].flatten()
            if within_class:
                ok &= (level.classes.index_select(0, flat) == wanted) | allow_any
            ok = ok.float()
            total.addcmul_(pixels.index_select(1, flat), ok[None])
            weight += ok
    empty = weight == 0
    result = total.div_(weight.clamp_min_(1.0)[None])
    if bool(empty.any()):
        result[:, empty] = pixels.index_select(1, centre[empty])
    return result.view(channels, h, w)


def vote_level(level: SourceLevel, target: torch.Tensor, free: torch.Tensor, fy: torch.Tensor,
               fx: torch.Tensor, radius: int, within_class: bool, tile: int,
               pixels: torch.Tensor | None = None,
               on_tile: Callable[[float], None] | None = None) -> torch.Tensor:
    """The level's image rebuilt from its field, tile by tile; away from ``free``
    pixels (all on the identity) it is the source itself. ``pixels``: as for :func:`vote`;
    ``on_tile(fraction)``: called between tiles (it may raise, to abandon the work)."""
    if pixels is None:
        pixels = level.pixels
    h, w = level.shape
    out = pixels.view(-1, h, w).clone()
    boxes = list(tiles((h, w), tile))
    for number, tile_box in enumerate(boxes):
        if on_tile is not None and number:
            on_tile(number / len(boxes))
        box = bounding_box(free, radius, tile_box)
        if box is None:
            continue
        y0, y1, x0, x1 = box
        ry = crop_with_border(fy[None], y0, y1, x0, x1, radius)[0]
        rx = crop_with_border(fx[None], y0, y1, x0, x1, radius)[0]
        rows = torch.arange(y0 - radius, y1 + radius, device=fy.device)
        cols = torch.arange(x0 - radius, x1 + radius, device=fy.device)
        inside = ((rows >= 0) & (rows < h))[:, None] & ((cols >= 0) & (cols < w))[None]
        out[:, y0:y1, x0:x1] = vote(level, ry, rx, inside, target[y0:y1, x0:x1], radius, within_class,
                                    pixels)
    return out
