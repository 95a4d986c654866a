"""The target regions that moved_components and scaled_components walk (class_regions.py)."""

import numpy as np

from napari_semia.class_regions import changed_class_regions


def test_only_changed_large_enough_regions_of_classes_the_source_has():
    source = np.zeros((40, 40), np.int64)
    source[2:10, 2:10] = 1  # kept as it is: no changed pixel
    source[20:30, 20:30] = 1
    target = source.copy()
    target[20:30, 20:30] = 0
    target[22:32, 24:34] = 1  # moved: changed pixels
    target[35:37, 2:4] = 1  # 4 pixels: too small
    target[2:10, 30:38] = 2  # a class the source lacks
    regions = list(changed_class_regions(source, target, source != target, min_pixels=16))
    # The moved square, and the background, whose hole moved (the source has it).
    assert sorted(r.k for r in regions) == [0, 1]
    square = next(r for r in regions if r.k == 1)
    assert len(square.ys) == 100 and (square.ys.min(), square.xs.min()) == (22, 24)
    assert square.box == (slice(22, 32), slice(24, 34))
    assert square.source.count == 2  # both source squares of the class, to choose from
    ys, xs = square.source.pixels(2)
    assert (ys.min(), ys.max(), xs.min(), xs.max()) == (20, 29, 20, 29)
    assert list(changed_class_regions(source, source, np.zeros_like(source, bool), 1)) == []
