"""The connected regions of one class that a target layout changes.

``moved_components`` and ``scaled_components`` both ask, for each target
region of a class that holds changed pixels, which source region of that class
it is (moved, or scaled up); :func:`changed_class_regions` walks those regions
once, with the class's source regions labelled next to them. numpy / scipy on
the CPU, at the working size.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from scipy import ndimage as ndi


@dataclass(frozen=True)
class ClassRegions:
    """One class's connected regions in one map: ``labels`` (0 = not the class,
    1..count) and each region's box (``boxes[number - 1]``)."""

    labels: np.ndarray
    count: int
    boxes: list

    @classmethod
    def of(cls, class_map: np.ndarray, k: int) -> ClassRegions:
        labels, count = ndi.label(class_map == k)
        return cls(labels, count, ndi.find_objects(labels))

    def overlaps(self, ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
        """(count,) how many of the pixels (``ys``, ``xs``) lie on each region."""
        return np.bincount(self.labels[ys, xs], minlength=self.count + 1)[1:]

    def pixels(self, number: int) -> tuple[np.ndarray, np.ndarray]:
        """Rows and columns of region ``number``, found within its box."""
        box = self.boxes[number - 1]
        ys, xs = np.nonzero(self.labels[box] == number)
        return ys + box[0].start, xs + box[1].start


@dataclass(frozen=True)
class ChangedRegion:
    """A target region of class ``k`` that holds changed pixels: its ``number`` in
    ``target``'s regions, its pixels (``ys``, ``xs``), and the class's regions in
    the source (at least one)."""

    k: int
    number: int
    ys: np.ndarray
    xs: np.ndarray
    target: ClassRegions
    source: ClassRegions

    @property
    def box(self):
        return self.target.boxes[self.number - 1]


def changed_class_regions(source: np.ndarray, target: np.ndarray, changed: np.ndarray,
                          min_pixels: int) -> Iterator[ChangedRegion]:
    """Each target region (of each class) that holds changed pixels and has at
    least ``min_pixels`` pixels, where the source has that class too.

    ``source``/``target``: (h, w) integer class maps of one size; ``changed``:
    where they differ.
    """
    if not changed.any():
        return
    for k in np.unique(target[changed]):
        source_regions = ClassRegions.of(source, k)
        if source_regions.count == 0:
            continue
        target_regions = ClassRegions.of(target, k)
        for number in np.unique(target_regions.labels[changed & (target == k)]):
            ys, xs = target_regions.pixels(int(number))
            if len(ys) >= min_pixels:
                yield ChangedRegion(int(k), int(number), ys, xs, target_regions, source_regions)
