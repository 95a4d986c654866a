"""Class edges that move keep their look: copies relative to the nearest edge.

Where a target layout moves an edge between two classes (a jaw slimmed, a
hairline raised, a crown moved), the pixels along the new edge should look
like the source's pixels along an edge between the same two classes: the
jaw's shadow, the sky's halo by the crown, the soft rim of a painted region.
Patch matching alone does not place them there when the query it starts from
knows nothing of the new edge (a vacated area's query is copied from inside
the class around it; the generator's output has the new edge only as its own
blurred guess), and hand-drawn labels put a class's edge where the image has
a transition, so an edge drawn without that transition reads as the wrong
class to anyone who learned the labels from the source.

:func:`edge_relative_copies` gives each pixel near a target edge the source
pixel at the same place relative to the nearest source edge between the same
two classes: it finds the nearest pixel of the other class across the target
edge (``n``), the source pixel of that other class that touches the pixel's
class nearest to ``n`` (``m``), and copies from ``p + (m - n)``: the source's edge
profile, translated onto the new edge. A copy is kept only where it lands on
the pixel's class at about the same depth inside it (so a translated edge of
another orientation does not cut across the class). Depth here is the
Euclidean distance to the nearest pixel of another class (1 next to it);
``outline_depth`` counts chessboard pixels from 0.

numpy / scipy on the CPU, at the working size (the refinement's level 0);
:func:`edge_profile_field` puts the copies into the refinement's field, and
:func:`edge_pieces_beside` finds the copied pieces that end on such a profile.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy import ndimage as ndi

from .offset_fields import dilate, grid
from .patch_features import SourceLevel
from .region_fill import components_holding

_FOUR_NEIGHBOURS = ndi.generate_binary_structure(2, 1)
_EIGHT_NEIGHBOURS = ndi.generate_binary_structure(2, 2)


def edge_relative_copies(source: np.ndarray, target: np.ndarray, band: np.ndarray, reach: int
                         ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Source rows, columns and a found mask (all (h, w)) for the ``band`` pixels
    within ``reach`` pixels of a class edge of ``target``: the source pixel at the
    same offset from the nearest source edge between the same two classes.

    ``source``/``target``: (h, w) integer class maps of one size. Pixels not found
    (outside the band, deeper than ``reach``, no such source edge, or a copy that
    leaves the class or its depth) get their own position and ``found`` False.
    """
    h, w = target.shape
    rows, cols = np.mgrid[:h, :w]
    from_rows, from_cols = rows.copy(), cols.copy()
    found = np.zeros((h, w), bool)
    if reach <= 0 or not band.any():
        return from_rows, from_cols, found
    for k in np.unique(target[band]):
        in_class = target == k
        if in_class.all():
            continue
        depth = ndi.distance_transform_edt(in_class)
        pixels = band & in_class & (depth <= reach)
        source_in_class = source == k
        if not pixels.any() or not source_in_class.any():
            continue
        ys, xs = np.nonzero(pixels)
        source_depth = ndi.distance_transform_edt(source_in_class)
        source_touching = ndi.binary_dilation(source_in_class, _FOUR_NEIGHBOURS)
        target_touching = ndi.binary_dilation(in_class, _FOUR_NEIGHBOURS)
        # Every class across a k edge near these pixels, nearest edge first: a stray
        # pixel of a third class (anti-aliased labels) must not hide the real edge.
        best = np.full(len(ys), np.inf)
        # Chessboard reach + 1 covers every class within Euclidean reach + 1.
        near = ndi.binary_dilation(pixels, _EIGHT_NEIGHBOURS, iterations=reach + 1)
        for j in np.unique(target[near & ~in_class]):
            this_side = (target == j) & target_touching
            other_side = (source == j) & source_touching
            if not this_side.any() or not other_side.any():
                continue
            distance, (near_rows, near_cols) = ndi.distance_transform_edt(~this_side, return_indices=True)
            _, (side_rows, side_cols) = ndi.distance_transform_edt(~other_side, return_indices=True)
            ny, nx = near_rows[ys, xs], near_cols[ys, xs]
            qy = ys + side_rows[ny, nx] - ny
            qx = xs + side_cols[ny, nx] - nx
            inside = (qy >= 0) & (qy < h) & (qx >= 0) & (qx < w)
            qy, qx = np.clip(qy, 0, h - 1), np.clip(qx, 0, w - 1)
            ok = inside & (source[qy, qx] == k) & (np.abs(source_depth[qy, qx] - depth[ys, xs]) <= 1.0)
            # An edge that did not move copies the pixel itself: nothing to carry.
            ok &= (qy != ys) | (qx != xs)
            ok &= distance[ys, xs] < best
            best[ok] = distance[ys, xs][ok]
            from_rows[ys[ok], xs[ok]] = qy[ok]
            from_cols[ys[ok], xs[ok]] = qx[ok]
            found[ys[ok], xs[ok]] = True
    return from_rows, from_cols, found


def edge_profile_field(host: tuple[np.ndarray, np.ndarray, np.ndarray], changed: torch.Tensor,
                        free: torch.Tensor, fy: torch.Tensor, fx: torch.Tensor, reach: int):
    """Level 0's field with the ``free`` pixels within ``reach`` of a target class edge
    near a change copied relative to the nearest source edge between the same
    classes (``edge_profiles.edge_relative_copies``), and the mask of those pixels
    (None when there are none). Computed on the CPU: the working size is small,
    and the distance transforms are scipy's."""
    band = dilate(changed, reach) & free
    if not bool(band.any()):
        return fy, fx, None
    rows, cols, found = edge_relative_copies(host[0], host[1], band.cpu().numpy(), reach)
    if not found.any():
        return fy, fx, None
    found = torch.from_numpy(found).to(fy.device)
    fy = torch.where(found, torch.from_numpy(rows).to(fy), fy)
    fx = torch.where(found, torch.from_numpy(cols).to(fx), fx)
    return fy, fx, found



def edge_pieces_beside(level: SourceLevel, pieces: torch.Tensor, fy: torch.Tensor, fx: torch.Tensor,
                        reach: int) -> torch.Tensor:
    """(h, w) bool: the pixels that copy a source pixel within ``reach`` (level-0
    pixels) of another class, outside ``pieces``, in the pieces of copied pixels
    (one offset, 4-connected: ``pieces_containing``) that hold such a pixel next
    to ``pieces``. Only beside a moved edge's profile: elsewhere (a piece of skin
    between the eyes copied from near an eyebrow) evening out the seam is what
    blends the copy in."""
    at = (fy * level.shape[1] + fx).flatten().long()
    # (Pixels that keep their own source pixel belong to no piece: pieces_containing
    # leaves them out.)
    by_edge = (level.depth.index_select(0, at) < reach).view(level.shape) & ~pieces
    seeds = by_edge & dilate(pieces, 1)
    if not bool(seeds.any()):
        return seeds
    return pieces_containing(seeds, fy, fx) & by_edge



def pieces_containing(seeds: torch.Tensor, fy: torch.Tensor, fx: torch.Tensor) -> torch.Tensor:
    """The 4-connected pieces of copied pixels (same offset) that hold a ``seeds`` pixel
    (seeds that matching moved back to their own pixel drop out)."""
    ys, xs = grid(fy.shape, fy.device)
    offset = (fy - ys).long() * (2 * fy.shape[1] + 1) + (fx - xs).long()
    copied = (fy != ys) | (fx != xs)
    return components_holding(copied, offset, seeds)
