"""Copies whose source the caller knows: each such pixel copies its own source pixel.

A synthetic dataset's layouts are made by moving, flipping, rotating and
scaling the source's objects (``layout_sampler``), so for every pixel of a
placed object the sampler knows where in the source it came from. The
refinement otherwise finds that out by matching, which works for large
objects (``moved_components`` copies whole those of 16 or more pixels at the
working size) but not for small ones: a star or a nucleus a few pixels across
at the working size was matched patch by patch from a faint generator output,
and moved stars came out at 60 % of their peak, labelled where the image
showed hardly anything (found by an astronomer making training data).

:func:`level_pins` carries the known positions (full-size source rows and
columns, NaN where unknown) to a level of the refinement, keeping only the
pixels whose known source pixel there is of the target's class; :func:`pin`
sets the field to them, before matching and after every round, so each such
pixel copies its source pixel and the vote builds the object from its own
pixels.

A target painted by hand has no such record. :func:`small_moves` finds its
small moved objects at full size instead (``moved_components``' rule, which
level 0 applies to the larger ones), and hands them on the same way.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from scipy import ndimage as ndi

from .moved_components import MIN_PIXELS, moved_components
from .patch_features import SourceLevel

#: Sources of more pixels are not searched at full size for small moved objects:
#: the search's label maps cost about 50 bytes a pixel (860 MB and 3.5 s at
#: 4096 x 4096), against the full-resolution stage's bound of 4 GB there.
MAX_SEARCH_PIXELS = 4096 * 1024


def small_moves(host: tuple[np.ndarray, np.ndarray, np.ndarray], level0_pixels: int) -> np.ndarray | None:
    """Known positions ((2, H, W) float32, NaN elsewhere) for the target's objects
    that are a source object moved (``moved_components``, here at full size) but
    too small at the working size (``level0_pixels``: its pixel count) for level 0
    to find them there, under 16 of its pixels: a nucleus 8-20 px across moved
    with the brush in a 1024-px image was rebuilt from pieces of other nuclei (a
    new user); None when there is none, or the source is larger than
    :data:`MAX_SEARCH_PIXELS`. ``host``: the full-size source and target class maps
    and where they differ (``refinement._host_layouts``)."""
    source, target, changed = host
    if source.size > MAX_SEARCH_PIXELS or not changed.any():
        return None
    rows, cols, found = moved_components(source, target, changed)
    if not found.any():
        return None
    pieces, _ = ndi.label(found)
    # Counted in level-0 pixels: the ones level 0 finds itself are left to it.
    small = np.bincount(pieces.ravel()) * (level0_pixels / source.size) < MIN_PIXELS
    small[0] = False
    keep = small[pieces]
    if not keep.any():
        return None
    positions = np.full((2, *source.shape), np.nan, np.float32)
    positions[0][keep] = rows[keep]
    positions[1][keep] = cols[keep]
    return positions


def level_pins(positions: torch.Tensor, level: SourceLevel, target: torch.Tensor
               ) -> tuple[torch.Tensor, torch.Tensor] | None:
    """``(pinned, exact)`` at ``level``: the (h, w) pixels whose source is known and
    of the target's class there, and each one's source position ((2, h, w) float
    rows and columns in the level's pixels, fractional: :func:`resampled` reads
    there, :func:`pin` rounds); None when no pixel is.

    ``positions``: (2, H, W) float full-size source (row, column) of each
    full-size target pixel, NaN where unknown; ``target``: the level's (h, w) classes.
    (Two (h, w) arrays kept per level: the full-size one of a 4096-px pair is
    about 150 MB.)
    """
    full_h, full_w = positions.shape[-2:]
    h, w = level.shape
    device = target.device
    # Each level pixel's centre in full-size pixels, the full-size pixel nearest to
    # it, and how far off that pixel is (a block's top-left pixel, taken as its
    # centre, put every coarser level's positions 3/8 px up and left at a factor 4).
    row_centres = (torch.arange(h, device=device, dtype=torch.float32) + 0.5) * (full_h / h) - 0.5
    col_centres = (torch.arange(w, device=device, dtype=torch.float32) + 0.5) * (full_w / w) - 0.5
    rows = row_centres.round().clamp(0, full_h - 1).long()
    cols = col_centres.round().clamp(0, full_w - 1).long()
    exact = positions.to(device).index_select(1, rows).index_select(2, cols)
    # Moved with its neighbourhood (the offset as at the nearest pixel), then from
    # full-size pixels to the level's: full-size (r + 0.5) lies at (r + 0.5) * h / H.
    exact[0].add_((row_centres - rows)[:, None]).add_(0.5).mul_(h / full_h).sub_(0.5)
    exact[1].add_((col_centres - cols)[None, :]).add_(0.5).mul_(w / full_w).sub_(0.5)
    pinned = ~(exact.isnan().any(0))
    pinned &= (exact[0] > -0.5) & (exact[0] < h - 0.5) & (exact[1] > -0.5) & (exact[1] < w - 0.5)
    if not bool(pinned.any()):
        return None
    exact = exact.nan_to_num_(0.0)
    source_rows, source_cols = _rounded(exact, (h, w))
    source_classes = level.classes.index_select(0, (source_rows * w + source_cols).flatten()).view(h, w)
    pinned &= source_classes == target.to(source_classes.dtype)
    if not bool(pinned.any()):
        return None
    return pinned, exact


def _rounded(exact: torch.Tensor, shape) -> tuple[torch.Tensor, torch.Tensor]:
    h, w = shape
    return exact[0].round().clamp(0, h - 1).long(), exact[1].round().clamp(0, w - 1).long()


def pin(fy: torch.Tensor, fx: torch.Tensor, pins) -> None:
    """Set the field (in place) to the known source pixels of ``pins`` (``level_pins``)."""
    if pins is None:
        return
    pinned, exact = pins
    rows, cols = _rounded(exact, fy.shape)
    fy.copy_(torch.where(pinned, rows.to(fy.dtype), fy))
    fx.copy_(torch.where(pinned, cols.to(fx.dtype), fx))


def resampled(image: torch.Tensor, pixels: torch.Tensor, shape, pins) -> torch.Tensor:
    """``image`` (C, h, w) with each pinned pixel the source ``pixels`` ((C, h * w),
    the level's) read at its exact known position, bilinearly: a rotated or scaled
    object resampled like an image, where the vote, averaging what each
    neighbour's copy puts there, blurred it (a rotated star lost a third of its
    peak). Unchanged where nothing is pinned."""
    if pins is None:
        return image
    pinned, exact = pins
    h, w = shape
    # Clamped into the image, so zero padding never shows (as ``refinement._scaled_query``).
    grid = torch.stack([(exact[1][pinned].clamp(0, w - 1) / max(w - 1, 1)) * 2 - 1,
                        (exact[0][pinned].clamp(0, h - 1) / max(h - 1, 1)) * 2 - 1], -1)[None, None]
    value = F.grid_sample(pixels.view(1, -1, h, w).float(), grid, mode="bilinear",
                          padding_mode="zeros", align_corners=True)[0, :, 0]
    out = image.clone()
    out[:, pinned] = value.to(out.dtype)
    return out
