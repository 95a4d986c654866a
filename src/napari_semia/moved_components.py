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
source region on it; and far better than in place), and maps each of their
pixels to its source pixel by that offset, kept pixels included. The
refinement starts the match there and queries the source so moved: one whole,
coherent copy of the object.

numpy / scipy on the CPU, at the working size (the refinement's level 0).
"""

from __future__ import annotations

import numpy as np

from .class_regions import ChangedRegion, ClassRegions, changed_class_regions

#: A target region counts as moved when at least this share of it, brought back by
#: the offset, lands on the source region, and as much of the source region the
#: other way (an object also reshaped beyond this is left to the shifted copies) ...
MIN_LANDING = 0.8
#: ... when those two shares, averaged, beat the same shares in place by this much
#: (a sky whose hole moved is not a moved sky) ...
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
        in_place = (_landing(ys, xs, sources.labels, source_number).mean()
                    + _landing(sy, sx, targets.labels, region.number).mean()) / 2
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
