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
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from .layout_tensors import bounding_box
from .patch_features import SourceLevel, crop_with_border, tiles
from .seam_fusion import rim_free


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


#: Source pixels nearer than this to another class have the edge in their detail
#: (the half-size low-pass weighs mostly the nearest 2 px; it reaches 3, or 4 with
#: tiny weights on an odd-sized level): a vote averages such copies whole.
DETAIL_EDGE_MARGIN = 3


@dataclass(frozen=True)
class DetailSplit:
    """A level's values split for a vote that keeps their detail (:func:`vote`):
    ``smooth`` (C, H * W), the values through half the level's size and back, which
    the vote averages; the rest, the detail, is summed keeping its variance.
    ``interior`` (H * W,) bool: the pixels with no other class within
    :data:`DETAIL_EDGE_MARGIN`, whose detail is texture, not a class edge
    (:func:`detail_interior`; the pyramid keeps it with its last level, as it takes
    a second at 4096 x 4096)."""

    smooth: torch.Tensor
    interior: torch.Tensor

    @classmethod
    def of(cls, pixels: torch.Tensor, level: SourceLevel) -> DetailSplit:
        interior = level.detail_interior
        if interior is None:
            interior = detail_interior(level.classes.view(level.shape))
        return cls(_smoothed(pixels, level.shape), interior)


def detail_interior(classes: torch.Tensor) -> torch.Tensor:
    """(H * W,) bool: the pixels of an (H, W) class map with no other class within
    :data:`DETAIL_EDGE_MARGIN`."""
    return rim_free(classes.long(), DETAIL_EDGE_MARGIN).flatten()


def _smoothed(pixels: torch.Tensor, shape: tuple[int, int]) -> torch.Tensor:
    """(C, H * W) values of an (H, W) image through half its size and back."""
    h, w = shape
    image = pixels.view(1, -1, h, w)
    half = (max(1, h // 2), max(1, w // 2))
    small = F.interpolate(image, size=half, mode="bilinear", align_corners=False, antialias=True)
    return F.interpolate(small, size=(h, w), mode="bilinear", align_corners=False).reshape(pixels.shape)


def vote(level: SourceLevel, fy: torch.Tensor, fx: torch.Tensor, inside: torch.Tensor,
         target_classes: torch.Tensor, radius: int, within_class: bool = True,
         pixels: torch.Tensor | None = None, detail_split: DetailSplit | None = None) -> torch.Tensor:
    """Average of the source pixels the patches covering each pixel put there.

    ``fy``/``fx``/``inside`` cover the tile with a halo of ``radius`` on every side
    (``inside`` is False where the halo leaves the image); ``target_classes`` is
    the tile's (h, w) layout. Only contributions of the target's class count;
    pixels without any take their own match's pixel. ``pixels``: (C, H * W) values
    to vote instead of the level's own (the same field and weights).

    ``detail_split``: ``pixels`` split (:class:`DetailSplit`); given, only the smooth
    part is averaged, and the rest (the detail: grain, noise, the finest texture) is
    summed so that its variance is kept (see :func:`_detail_gain`), except where a
    contribution of another class, or from within :data:`DETAIL_EDGE_MARGIN` of a
    source class edge, reaches the pixel (its detail is the edge itself: summed, the
    copies' misplaced steps stood out). An average of copies from different places
    is smoother than any of them: a sky refilled from neighbours matched to
    different places had 0.64 of the real sky's noise.
    """
    if pixels is None:
        pixels = level.pixels
    h, w = target_classes.shape
    src_h, src_w = level.shape
    channels = pixels.shape[0]
    total = torch.zeros(channels, h * w, device=fy.device)
    weight = torch.zeros(h * w, device=fy.device)
    split = detail_split is not None
    if split:
        # The copies' smooth parts; their range at each pixel, which the kept detail
        # stays within; and the pixels that a contribution of another class, or from
        # next to a source class edge, reaches: their detail is the edge itself, at
        # whatever place each copy had it, and they are averaged whole.
        low_total = torch.zeros(channels, h * w, device=fy.device)
        lowest = torch.full((channels, h * w), float("inf"), device=fy.device)
        highest = torch.full((channels, h * w), float("-inf"), device=fy.device)
        edge = torch.zeros(h * w, dtype=torch.bool, device=fy.device)
    positions, oks = [], []
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
            elif split:
                edge |= ok & (level.classes.index_select(0, flat) != wanted)
            values = pixels.index_select(1, flat)
            if split:
                edge |= ok & ~detail_split.interior.index_select(0, flat)
                torch.minimum(lowest, torch.where(ok[None], values, lowest), out=lowest)
                torch.maximum(highest, torch.where(ok[None], values, highest), out=highest)
            ok = ok.float()
            total.addcmul_(values, ok[None])
            if split:
                low_total.addcmul_(detail_split.smooth.index_select(1, flat), ok[None])
                positions.append((sy.flatten(), sx.flatten()))
                oks.append(ok)
            weight += ok
    empty = weight == 0
    if split:
        # Where copies from different places meet: their smooth parts averaged, their
        # detail (the total less the smooth parts) summed keeping its variance. Elsewhere
        # the plain average, as without the split (byte for byte).
        todo, gain = _detail_gain(positions, oks, edge)
        if len(todo):
            n = weight.index_select(0, todo).clamp_min(1.0)[None]
            low = low_total.index_select(1, todo)
            mixed = low / n + (total.index_select(1, todo) - low) * gain[None]
            # Within the copies' range: copies continued in phase across a seam have
            # alike detail that would be summed too strong (stripes: 1.3 times), and
            # the darkest sky went below the data's floor.
            mixed = torch.clamp(mixed, lowest.index_select(1, todo), highest.index_select(1, todo))
    result = total.div_(weight.clamp_min_(1.0)[None])
    if split and len(todo):
        result[:, todo] = mixed
    if bool(empty.any()):
        result[:, empty] = pixels.index_select(1, centre[empty])
    return result.view(channels, h, w)


def _detail_gain(positions, oks, edge: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The pixels (indices) where copies from different places meet, away from class
    edges (``edge``), and what the sum of their contributions' detail is scaled by so
    that its variance is one contribution's: 1 / sqrt(S), S counting the pairs of
    contributions that are the same source pixel or adjacent ones (their detail
    alike). n copies from unrelated places, S = n: their detail, independent, keeps
    one copy's variance instead of a 1/n-th of it. Inside a piece copied whole (every
    contribution one pixel) S = n^2, which is the plain average: those pixels are
    left out. (Adjacent pixels count as one sample so that an offset shifted by a
    pixel, whose detail is nearly the same, is not amplified at a seam.)"""
    ys = torch.stack([y for y, _ in positions])
    xs = torch.stack([x for _, x in positions])
    ok = torch.stack(oks) > 0
    centre = len(positions) // 2
    whole = (((ys == ys[centre]) & (xs == xs[centre])) | ~ok).all(0)
    todo = torch.nonzero(~(whole | edge)).flatten()
    ys, xs, ok = ys[:, todo], xs[:, todo], ok[:, todo].float()
    same = ok.sum(0)  # (each with itself)
    for i in range(len(positions)):
        for k in range(i + 1, len(positions)):
            near = ((ys[i] - ys[k]).abs_() <= 1) & ((xs[i] - xs[k]).abs_() <= 1)
            same += 2 * near.float() * ok[i] * ok[k]
    return todo, same.clamp_min_(1.0).rsqrt_()


def vote_level(level: SourceLevel, target: torch.Tensor, free: torch.Tensor, fy: torch.Tensor,
               fx: torch.Tensor, radius: int, within_class: bool, tile: int,
               pixels: torch.Tensor | None = None,
               on_tile: Callable[[float], None] | None = None,
               detail_split: DetailSplit | None = None) -> torch.Tensor:
    """The level's image rebuilt from its field, tile by tile; away from ``free``
    pixels (all on the identity) it is the source itself. ``pixels`` and ``detail_split``:
    as for :func:`vote`; ``on_tile(fraction)``: called between tiles (it may raise,
    to abandon the work)."""
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
                                    pixels, detail_split)
    return out
