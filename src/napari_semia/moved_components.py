"""Class regions that a target moves are copied whole, at their new place.

Where a target moves an object so that it overlaps its old place (a cup slid
to the right, a zebra stepped forward), the pixels the object keeps keep
their class, so the refinement kept them as they were, and only the newly
covered part was copied in from elsewhere: the object came out as its old
left half with pieces of itself stacked on the right (the coffee sample's
doubled handle and rims).

:func:`moved_components` finds the target's connected regions of a class that
are a source region of that class translated (same size; brought back by the
offset between their centroids, the region lands on the source region and the
source region on it; and far better than any source region of the class fits
it in place), and maps each of their pixels to its source pixel by that
offset, kept pixels included. The refinement starts the match there and
queries the source so moved: one whole, coherent copy of the object.

Found with numpy / scipy on the CPU, at the working size (the refinement's
level 0); :func:`moved_regions` and :func:`moved_at_level` carry each move to
the finer levels, so its rim there is copied by the same offset.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy import ndimage as ndi
from skimage import measure

from .class_regions import ChangedRegion, ClassRegions, changed_class_regions
from .offset_fields import grid, nearest_indices
from .patch_features import SourceLevel

#: A target region counts as moved when at least this share of it, brought back by
#: the offset, lands on the source region, and as much of the source region the
#: other way (an object also reshaped beyond this is left to the shifted copies) ...
MIN_LANDING = 0.8
#: ... when those two shares, averaged, beat by this much the best the class's source
#: regions do in place (a sky whose hole moved is not a moved sky, nor an object
#: grown on one side a move of another one of its new shape) ...
MIN_GAIN = 0.2
#: ... and when the two regions' areas are within this factor of each other
#: (larger ones are scaled: ``scaled_components``).
MAX_AREA_RATIO = 1.25
#: Regions of fewer pixels are left to the shifted copies.
MIN_PIXELS = 16
#: Offsets shorter than this (pixels, along both axes) are no move.
MIN_SHIFT = 2
#: Of the source regions that could be the one moved (area and box alike), at most
#: this many, nearest first, are tried: bounded work where a class has hundreds of
#: alike objects (nuclei, coins), and the nearest of equals is the one moved.
MAX_CANDIDATES = 24
#: Scores within this of the best count as equal (the nearest of them wins).
_SCORE_TIE = 0.02


def moved_components(source: np.ndarray, target: np.ndarray, changed: np.ndarray
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Source rows and columns (int64) and a mask (all (h, w)) for the pixels of
    target regions that are a source region of their class moved (see the module):
    each such pixel's source pixel, by the region's offset.

    ``source``/``target``: (h, w) integer class maps of one size; ``changed``:
    where they differ. Only regions that hold changed pixels are considered, and
    only their pixels that land on the source region are returned. Work is within
    the regions' boxes, for at most ``MAX_CANDIDATES`` source regions per target
    region: a few milliseconds per region, however many the class has.
    """
    h, w = target.shape
    rows = np.zeros((h, w), np.int64)
    cols = np.zeros((h, w), np.int64)
    mask = np.zeros((h, w), bool)
    shapes = {}  # per class: its source regions' areas, centroids and box sides
    for region in changed_class_regions(source, target, changed, MIN_PIXELS):
        if region.k not in shapes:
            shapes[region.k] = _Shapes(region.source)
        found = _best_move(region, shapes[region.k])
        if found is not None:
            dy, dx, lands = found
            ys, xs = region.ys[lands], region.xs[lands]
            rows[ys, xs] = ys + dy
            cols[ys, xs] = xs + dx
            mask[ys, xs] = True
    return rows, cols, mask


class _Shapes:
    """One class's source regions: areas, centroids, box sides."""

    def __init__(self, regions: ClassRegions) -> None:
        numbers = regions.labels.ravel()
        count = regions.count
        self.areas = np.bincount(numbers, minlength=count + 1)[1:]
        grid_y, grid_x = np.indices(regions.labels.shape)
        areas = np.maximum(self.areas, 1)
        self.centre_y = np.bincount(numbers, grid_y.ravel(), minlength=count + 1)[1:] / areas
        self.centre_x = np.bincount(numbers, grid_x.ravel(), minlength=count + 1)[1:] / areas
        self.heights = np.array([b[0].stop - b[0].start for b in regions.boxes])
        self.widths = np.array([b[1].stop - b[1].start for b in regions.boxes])


def _best_move(region: ChangedRegion, shapes: _Shapes):
    """(dy, dx, lands) of the source region this target region is a move of, or None."""
    ys, xs, box = region.ys, region.xs, region.box
    sources, targets = region.source, region.target
    area = len(ys)
    height, width = box[0].stop - box[0].start, box[1].stop - box[1].start
    dys = np.rint(shapes.centre_y - ys.mean()).astype(np.int64)
    dxs = np.rint(shapes.centre_x - xs.mean()).astype(np.int64)
    # Cheap tests first: the area, the box's sides (a shape that lands both ways
    # has them alike) and the offset's length.
    alike = ((shapes.areas * MAX_AREA_RATIO >= area) & (shapes.areas <= area * MAX_AREA_RATIO)
             & (np.abs(shapes.heights - height) <= 0.25 * np.maximum(shapes.heights, height) + 2)
             & (np.abs(shapes.widths - width) <= 0.25 * np.maximum(shapes.widths, width) + 2)
             & (np.maximum(np.abs(dys), np.abs(dxs)) >= MIN_SHIFT))
    candidates = np.flatnonzero(alike)
    if len(candidates) == 0:
        return None
    candidates = candidates[np.argsort(np.hypot(dys[candidates], dxs[candidates]), kind="stable")]
    # How well the region is explained where it is: by the best of the source
    # regions it overlaps (each one's two landing shares in place). A move must
    # beat that, not only the candidate's own in-place fit: a grain enlarged on
    # one side fits its own old place at 0.9, and another grain of the new shape
    # far off, copied whole over it, left the old rim inside as a bright arc.
    overlaps = sources.overlaps(ys, xs)
    in_place = float(((overlaps / area + overlaps / np.maximum(shapes.areas, 1)) / 2).max())
    best = None
    for index in candidates[:MAX_CANDIDATES]:
        source_number = int(index) + 1
        dy, dx = int(dys[index]), int(dxs[index])
        sy, sx = sources.pixels(source_number)
        forward = _landing(ys + dy, xs + dx, sources.labels, source_number)
        backward = _landing(sy - dy, sx - dx, targets.labels, region.number)
        if min(forward.mean(), backward.mean()) < MIN_LANDING:
            continue
        score = (forward.mean() + backward.mean()) / 2
        # Nearest first: a farther candidate must score clearly better.
        if score - in_place >= MIN_GAIN and (best is None or score > best[0] + _SCORE_TIE):
            best = (score, dy, dx, forward)
            if score >= 1 - _SCORE_TIE:
                break  # none farther can be clearly better
    return None if best is None else best[1:]


def _landing(ys: np.ndarray, xs: np.ndarray, labels: np.ndarray, number: int) -> np.ndarray:
    """Per (y, x): inside the map and on region ``number`` of ``labels``."""
    h, w = labels.shape
    inside = (ys >= 0) & (ys < h) & (xs >= 0) & (xs < w)
    lands = np.zeros(len(ys), bool)
    lands[inside] = labels[ys[inside], xs[inside]] == number
    return lands


def moved_copies(host: tuple[np.ndarray, np.ndarray, np.ndarray], device: torch.device):
    """The level-0 pixels of target regions that are a source region moved
    (``moved_components``; None when there are none) and their source rows and
    columns, on ``device``. On the CPU, like the edge profiles."""
    rows, cols, found = moved_components(*host)
    if not found.any():
        return None, None, None, None
    return (torch.from_numpy(found).to(device), torch.from_numpy(rows).to(device, torch.int32),
            torch.from_numpy(cols).to(device, torch.int32), (rows, cols, found))



#: Corrections tried around a moved region's scaled offset, the nearest first.
_NEAREST_FIRST = sorted(((a, b) for a in range(-2, 3) for b in range(-2, 3)),
                        key=lambda t: t[0] ** 2 + t[1] ** 2)



def moved_regions(rows: np.ndarray, cols: np.ndarray, found: np.ndarray) -> list:
    """Level 0's moved regions for the finer levels (``moved_at_level``): per
    connected region of one offset, [its box (y0, y1, x0, x1) and mask within it
    grown by a pixel, its offset (dy, dx) at the last level, that level's shape,
    level 0's shape]. The box is in level-0 pixels.
    From ``moved_components``' arrays, on the host (MPS has no unique by rows)."""
    h, w = found.shape
    dy = np.where(found, rows - np.arange(h)[:, None], 0)
    dx = np.where(found, cols - np.arange(w)[None], 0)
    # One id per offset, then its connected pieces: objects moved alike stay apart.
    _, offset_id = np.unique(np.stack([dy.ravel(), dx.ravel()], 1), axis=0, return_inverse=True)
    pieces = measure.label(np.where(found, offset_id.reshape(h, w) + 1, 0), background=0, connectivity=1)
    moves = []
    for number, box in enumerate(ndi.find_objects(pieces), 1):
        y0, y1 = max(box[0].start - 1, 0), min(box[0].stop + 1, h)
        x0, x1 = max(box[1].start - 1, 0), min(box[1].stop + 1, w)
        local = pieces[y0:y1, x0:x1]
        # Grown by a pixel for the rim finer levels add, but not into another moved
        # region: where two moved by different offsets touch, the later one's rim
        # took the other's edge pixels and copied them by its own offset.
        own = local == number
        inside = ndi.binary_dilation(own, np.ones((3, 3), bool)) & (own | (local == 0))
        y, x = np.argwhere(pieces[box] == number)[0] + (box[0].start, box[1].start)
        moves.append([(y0, y1, x0, x1, inside), (int(dy[y, x]), int(dx[y, x])), (h, w), (h, w)])
    return moves



def moved_at_level(level: SourceLevel, target: torch.Tensor, moves: list, fy: torch.Tensor,
                    fx: torch.Tensor):
    """The field at a finer level with every pixel of a moved region copied by the
    region's offset at this level's size. Upsampled, the level-0 copy covered only
    the pixels whose level-0 parent was in the region: the rim a finer level adds
    (most of a thin object: a rocket 8 px wide at level 0) was matched anew, from
    anywhere in the class, and the moved object came out fragmented.

    ``moves`` (``moved_regions``): each offset is updated in place to the one
    within 2 px of the last level's, scaled, that lands the most of the region on
    its class, the nearest first (a level-0 offset scaled to full size can be off
    by half the scale); where none lands, the scaled one is kept. Work is within
    each region's box."""
    h, w = level.shape
    classes = level.classes.view(h, w)
    if not moves:
        return fy, fx
    # Each pixel's level-0 parent (nearest, as ``enlarge``): one level 0 for all regions.
    h_0, w_0 = moves[0][3]
    rows = nearest_indices(h_0, h, fy.device)
    cols = nearest_indices(w_0, w, fy.device)
    for move in moves:
        (y0, y1, x0, x1, inside0), (dy_last, dx_last), (h_last, w_last), _ = move
        # The region's box at this level, and its mask there.
        ys = ((rows >= y0) & (rows < y1)).nonzero().squeeze(1)
        xs = ((cols >= x0) & (cols < x1)).nonzero().squeeze(1)
        if len(ys) == 0 or len(xs) == 0:
            continue
        Y0, Y1, X0, X1 = int(ys[0]), int(ys[-1]) + 1, int(xs[0]), int(xs[-1]) + 1
        mask0 = torch.from_numpy(inside0).to(fy.device)
        region = mask0.index_select(0, rows[Y0:Y1] - y0).index_select(1, cols[X0:X1] - x0)
        box_target = target[Y0:Y1, X0:X1]
        cy, cx = round(dy_last * h / h_last), round(dx_last * w / w_last)
        # The source classes every candidate reads, -1 outside the image: slices, not gathers.
        window = torch.full((Y1 - Y0 + 4, X1 - X0 + 4), -1, dtype=classes.dtype, device=fy.device)
        sy0, sx0 = Y0 + cy - 2, X0 + cx - 2
        iy0, iy1 = max(sy0, 0), min(sy0 + window.shape[0], h)
        ix0, ix1 = max(sx0, 0), min(sx0 + window.shape[1], w)
        if iy0 < iy1 and ix0 < ix1:
            window[iy0 - sy0:iy1 - sy0, ix0 - sx0:ix1 - sx0] = classes[iy0:iy1, ix0:ix1]
        best = (0, cy, cx, None)
        for a, b in _NEAREST_FIRST:
            lands = region & (window[2 + a:2 + a + Y1 - Y0, 2 + b:2 + b + X1 - X0] == box_target)
            count = int(lands.sum())
            if count > best[0]:
                best = (count, cy + a, cx + b, lands)
        _, dy, dx, lands = best
        if lands is not None:
            gy, gx = grid((Y1 - Y0, X1 - X0), fy.device)
            fy[Y0:Y1, X0:X1] = torch.where(lands, gy + Y0 + dy, fy[Y0:Y1, X0:X1])
            fx[Y0:Y1, X0:X1] = torch.where(lands, gx + X0 + dx, fx[Y0:Y1, X0:X1])
        move[1], move[2] = (dy, dx), (h, w)
    return fy, fx
