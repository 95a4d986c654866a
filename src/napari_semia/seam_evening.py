"""Seams between copied pixels and pixels that keep their own are evened out per class.

At the end of each refinement level, the step in mean colour across such a seam,
shrunk by how far it stands out of the texture's own variation, is spread
smoothly over the copied pieces: a piece of sky copied from higher up takes the
tone of the sky around it; stripes and grass stay as copied.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from .layout_tensors import bounding_box
from .offset_fields import grid
from .push_pull import fill_holes, window_mean
from .region_fill import components_holding

#: Largest colour step (network units, [-1, 1]) that evening out seams corrects.
_SEAM_STEP_LIMIT = 0.25


def even_out_seams(image: torch.Tensor, target: torch.Tensor, fy: torch.Tensor, fx: torch.Tensor,
                    radius: int, factor: int = 1, exempt: torch.Tensor | None = None,
                    on_step: Callable[[float], None] | None = None) -> torch.Tensor:
    """(C, h, w) ``image`` with the copied pixels (field not the identity) of each
    class shifted in colour by a smooth field: at a seam with pixels of the same
    class that keep their own source pixel, the mean colour of those minus that of
    the copied ones within ``radius``; elsewhere interpolated (push-pull), over the
    copied pieces that have such a seam. Only low frequencies change: copied
    texture stays as copied. The statistics are computed ``factor`` times smaller
    (the level-0 scale at finer levels), so the cost stays O(pixels).

    ``exempt`` pixels (a moved edge's profile) are neither corrected nor compared
    with: a shadow copied along a new edge is darker than the skin beside it
    because it is a shadow.

    ``on_step(fraction done)`` is called a few times per class (it may raise to
    abandon the work: seconds per class at tens of megapixels)."""
    if radius <= 0:
        return image
    ys, xs = grid(target.shape, fy.device)
    copied = (fy != ys) | (fx != xs)
    # Work in the copied pixels' bounding box and the window around it: memory O(edit).
    box = bounding_box(copied, radius * factor)
    if box is None:
        return image
    y0, y1, x0, x1 = box
    crop = image[:, y0:y1, x0:x1]
    copied, classes = copied[y0:y1, x0:x1], target[y0:y1, x0:x1]
    # Pixels the statistics see at all (not the exempt ones).
    counted = torch.ones_like(copied) if exempt is None else ~exempt[y0:y1, x0:x1]
    copied = copied & counted
    channels = crop.shape[0]

    def shrunk(stack: torch.Tensor) -> torch.Tensor:
        return F.avg_pool2d(stack[None], factor, factor, ceil_mode=True)[0] if factor > 1 else stack

    def local_moments(mask: torch.Tensor):
        """Mean colour and variance (summed over channels) of the ``mask`` pixels
        in each (shrunk) window, and the share of the window they fill."""
        weight = mask.float()[None]
        # Each part shrunk as it is made (the pool is per channel): a stack of 2C + 1
        # full-size planes and its parts were the full-size level's peak of memory.
        stack = torch.cat([shrunk(crop * weight), shrunk(crop.square().mul_(weight)), shrunk(weight)])
        pooled = window_mean(stack, radius)
        share = pooled[-1:].clamp_min(1e-6)
        mean = pooled[:channels] / share
        variance = (pooled[channels:2 * channels] / share - mean.square()).clamp_min(0).sum(0)
        return mean, variance, pooled[-1], stack[-1]

    out = image.clone()
    result = out[:, y0:y1, x0:x1]  # corrected in place; ``crop`` keeps the values compared
    corrected = torch.unique(classes[copied]).tolist()

    def done(number: int, part: int) -> None:
        if on_step is not None:
            on_step((number + part / 3) / len(corrected))

    for number, k in enumerate(corrected):
        of_class = classes == k
        inside = copied & of_class
        mean_kept, variance_kept, kept_share, _ = local_moments(~copied & of_class & counted)
        done(number, 1)
        mean_copied, variance_copied, _, inside_share = local_moments(inside)
        inside_small = inside_share > 0
        seam = inside_small & (kept_share > 0.1)
        done(number, 2)
        if not bool(seam.any()):
            continue
        # Only copied pieces that have a seam: a new object far from any kept pixel
        # of its class has nothing to match and keeps its copied colours.
        keep = components_holding(inside_small, torch.zeros_like(inside_small, dtype=torch.int64), seam)
        # A step is believed as far as it stands out of the texture's own variation
        # (Wiener-like shrinkage): sky's smooth gradient is corrected, the difference
        # of two windows of stripes or clouds is mostly texture and is left alone.
        step = mean_kept - mean_copied
        energy = step.square().sum(0)
        step *= energy / (energy + variance_kept + variance_copied + 1e-6)
        offset = step.clamp_(-_SEAM_STEP_LIMIT, _SEAM_STEP_LIMIT)
        offset = fill_holes(torch.where(seam[None], offset, 0.0), ~seam)
        if factor > 1:
            full = crop.shape[-2:]
            offset = F.interpolate(offset[None], size=full, mode="bilinear", align_corners=False)[0]
            keep = F.interpolate(keep[None, None].float(), size=full, mode="nearest")[0, 0] > 0
        # The offset added where the mask is 1, nothing added where it is 0: no
        # full-size copies of the crop.
        result.addcmul_(offset, (inside & keep).float()[None])
        done(number, 3)
    return out
