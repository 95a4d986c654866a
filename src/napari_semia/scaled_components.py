"""Class regions that a target enlarges are copied enlarged, not stacked.

Where a target paints an object larger than the source has it (towers made
taller, fuller lips), shifted copies of the source's object can only cover
the new one by stacking: a tower's segments are re-stacked, a lip's edge
line shows twice.

:func:`scaled_up_components` finds the target's connected regions of a class
that are the source's region of that class scaled up (the region, brought
back onto the source region's box, lands on it; and it is clearly larger) and
maps each of their pixels to the source region through the two boxes
(independently per axis): the object's layout (its rim, the order of its
parts) is stretched over the new area once. Patch matching then rebuilds it
from real, unstretched patches.

Regions that touch the image's border across an axis they grow along are left
out: stuff that runs out of the frame (a field, water) grows by more of
itself, not by scaling. An object enlarged evenly up to the border is still
scaled (the coins sample's largest coin, enlarged 1.2 times against the
frame's edge, kept its face at the old size inside a ring of filler).
Tried on a field raised to half the image and water raised to the towers' middle, the
whole region stretched lost the bands and the seam of stacked copies, but the
rebuilt kept part went soft and blotchy (tree ``half_3``'s Laplacian ratio
against its layout 0.86 -> 0.75, its whole-image patch distance 0.015 ->
0.029; dark pieces with light rims in building ``half_2``'s reflections).

numpy / scipy on the CPU, at the working size (the refinement's level 0).
"""

from __future__ import annotations

import numpy as np

from .class_regions import changed_class_regions

#: A target region counts as scaled up when its area is at least this many times
#: the source region's (an object enlarged 1.15 times or more; at 1.5, a coin
#: enlarged 1.2 times, 1.44 in area, came out as the old coin inside a ring) ...
MIN_AREA_RATIO = 1.3
#: ... and at least this share of it, brought back onto the source region's box,
#: lands on that region, and as much of the source region, taken onto the target
#: region's box, lands on it (a moved tail, or an arm added to a square, make the
#: shapes differ).
MIN_LANDING = 0.8
#: A target region that covers other source regions of its class, besides the one
#: it covers most, for more than this share of its pixels joins them: no scaling
#: (erasing vessels that split a fundus joined its pieces, 1.49 times the largest).
MAX_JOINED_SHARE = 0.1
#: Larger enlargements (a few pixels painted into a whole image) are no scaling.
MAX_FACTOR = 4.0
#: Regions of fewer pixels are left to the shifted copies.
MIN_PIXELS = 16
#: Along an axis where the target region is this much (or more) of the source's
#: extent, it does not grow.
_GROWS = 0.95
#: Scales of the two axes this close (relative) are an even enlargement.
_EVEN_SCALES = 0.1


def scaled_up_components(source: np.ndarray, target: np.ndarray, changed: np.ndarray
                         ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Float source rows and columns and a mask (all (h, w)) for the pixels of
    target regions that enlarge a source region of their class (see the module):
    each such pixel's place in the source region, through the regions' boxes.

    ``source``/``target``: (h, w) integer class maps of one size; ``changed``:
    where they differ. Only regions that hold changed pixels are considered, and
    only their pixels that land on the source region are returned.
    """
    h, w = target.shape
    rows = np.zeros((h, w), np.float32)
    cols = np.zeros((h, w), np.float32)
    mask = np.zeros((h, w), bool)
    for changed_region in changed_class_regions(source, target, changed, MIN_PIXELS):
        source_regions = changed_region.source.labels
        number = changed_region.number
        region = changed_region.target.labels == number
        area = len(changed_region.ys)
        # The source region of this class that the target region covers most.
        overlap = changed_region.source.overlaps(changed_region.ys, changed_region.xs)
        if overlap.max() == 0 or overlap.sum() - overlap.max() > MAX_JOINED_SHARE * area:
            continue
        source_number = int(overlap.argmax()) + 1
        source_region = source_regions == source_number
        source_area = int(source_region.sum())
        if not (MIN_AREA_RATIO * source_area <= area <= MAX_FACTOR ** 2 * source_area):
            continue
        t_rows, t_cols = changed_region.box
        s_rows, s_cols = changed_region.source.boxes[source_number - 1]
        scale_y = (s_rows.stop - s_rows.start) / (t_rows.stop - t_rows.start)
        scale_x = (s_cols.stop - s_cols.start) / (t_cols.stop - t_cols.start)
        if min(scale_y, scale_x) < 1 / MAX_FACTOR or max(scale_y, scale_x) > 1.1:
            continue  # smaller along an axis (or far too large)
        if _runs_out_of_frame(region, source_region, scale_y, scale_x):
            continue
        ys, xs = changed_region.ys, changed_region.xs
        # Pixel centres of one box onto the other's.
        from_y = s_rows.start - 0.5 + (ys - t_rows.start + 0.5) * scale_y
        from_x = s_cols.start - 0.5 + (xs - t_cols.start + 0.5) * scale_x
        iy = np.clip(np.round(from_y).astype(int), 0, h - 1)
        ix = np.clip(np.round(from_x).astype(int), 0, w - 1)
        lands = source_region[iy, ix]
        if lands.mean() < MIN_LANDING:
            continue
        sy, sx = np.nonzero(source_region)
        back_y = np.round(t_rows.start - 0.5 + (sy - s_rows.start + 0.5) / scale_y).astype(int)
        back_x = np.round(t_cols.start - 0.5 + (sx - s_cols.start + 0.5) / scale_x).astype(int)
        if region[np.clip(back_y, 0, h - 1), np.clip(back_x, 0, w - 1)].mean() < MIN_LANDING:
            continue
        rows[ys[lands], xs[lands]] = from_y[lands]
        cols[ys[lands], xs[lands]] = from_x[lands]
        mask[ys[lands], xs[lands]] = True
    return rows, cols, mask


def _runs_out_of_frame(region: np.ndarray, source_region: np.ndarray, scale_y: float, scale_x: float) -> bool:
    """Whether the target ``region`` or its ``source_region`` touches the image border
    across an axis it grows along: stuff that runs out of the frame (a field raised,
    water up to the towers, sky where a tower was) grows by more of itself, not by
    scaling; towers made taller touch the border at most on their sides. A target
    region there is let through where it grows evenly (both axes' scales within
    :data:`_EVEN_SCALES`): an object enlarged against the frame's edge (a coin
    enlarged 1.2 times), its box cut by the frame a little at most; one cut more
    (half out of the frame) would be squeezed into what is left of its box."""
    grows_y, grows_x = scale_y < _GROWS, scale_x < _GROWS

    def at_border(mask: np.ndarray) -> bool:
        return bool((grows_y and (mask[0].any() or mask[-1].any()))
                    or (grows_x and (mask[:, 0].any() or mask[:, -1].any())))

    if at_border(source_region):
        return True
    return at_border(region) and abs(scale_y / scale_x - 1) > _EVEN_SCALES
