"""Target regions that are a source region moved (moved_components.py)."""

import time

import numpy as np

from napari_semia.moved_components import moved_components


def _square_scene(size=48, top=12, left=10, side=16):
    labels = np.zeros((size, size), np.int64)
    labels[top:top + side, left:left + side] = 1
    return labels


def test_a_square_moved_over_its_old_place_maps_every_pixel_by_the_offset():
    source = _square_scene()
    target = np.roll(source, (3, 7), axis=(0, 1))
    rows, cols, mask = moved_components(source, target, source != target)
    ys, xs = np.nonzero(target == 1)
    assert mask[target == 1].all()  # kept pixels too, not only the newly covered ones
    np.testing.assert_array_equal(rows[ys, xs], ys - 3)
    np.testing.assert_array_equal(cols[ys, xs], xs - 7)
    # The background whose hole moved is no moved background.
    assert not mask[target == 0].any()


def test_a_square_moved_far_away_is_found_too():
    source = _square_scene()
    target = np.zeros_like(source)
    target[28:44, 26:42] = 1
    rows, cols, mask = moved_components(source, target, source != target)
    assert mask[target == 1].all() and (rows[28, 26], cols[28, 26]) == (12, 10)


def test_reshaped_scaled_tiny_and_barely_moved_regions_are_not_moves():
    source = _square_scene()
    reshaped = np.roll(source, (0, 6), axis=(0, 1))
    reshaped[4:12, 16:32] = 1  # a part added: a quarter more, and the shapes differ
    scaled = np.zeros_like(source)
    scaled[8:32, 8:32] = 1
    nudged = np.roll(source, (0, 1), axis=(0, 1))
    tiny_source = np.zeros_like(source)
    tiny_source[5:8, 5:8] = 1
    for src, target in ((source, reshaped), (source, scaled), (source, nudged),
                        (tiny_source, np.roll(tiny_source, (0, 9), axis=(0, 1)))):
        assert not moved_components(src, target, src != target)[2].any()


def test_an_object_enlarged_on_one_side_is_no_move_of_another_of_its_new_shape():
    # A disc grown to the right, and elsewhere a disc of the grown size: copied
    # whole from there, the grown disc kept its old rim inside as an arc (an SEM
    # grain). It fits its own old place far better than any move would add.
    yy, xx = np.mgrid[:64, :96]
    source = np.zeros((64, 96), np.int64)
    source[(yy - 20) ** 2 + (xx - 20) ** 2 <= 10 ** 2] = 1
    grown = ((yy - 20) ** 2 + (xx - 20) ** 2 <= 10 ** 2) | ((yy - 20) ** 2 + (xx - 24) ** 2 <= 10 ** 2)
    source[grown.nonzero()[0] + 30, grown.nonzero()[1] + 50] = 1  # a far disc of the grown shape
    target = source.copy()
    target[grown] = 1
    assert not moved_components(source, target, source != target)[2][grown].any()


def test_of_two_source_objects_the_one_of_the_same_size_is_copied():
    source = _square_scene()
    source[36:40, 36:40] = 1  # a small second object of the class
    target = source.copy()
    target[12:28, 10:26] = 0
    target[14:30, 20:36] = 1  # the large one moved (overlapping its old place)
    rows, cols, mask = moved_components(source, target, source != target)
    assert mask[14:30, 20:36].all() and (rows[14, 20], cols[14, 20]) == (12, 10)
    assert not mask[36:40, 36:40].any()  # unchanged


def test_of_alike_objects_the_nearest_is_the_one_moved():
    # Two equal squares; the lower one is nudged right. Both source squares fit
    # the moved one exactly: it is the nearest, its own, that moved (the first in
    # raster order would copy the upper square down there).
    source = np.zeros((64, 48), np.int64)
    source[4:16, 8:20] = 1
    source[40:52, 8:20] = 1
    target = source.copy()
    target[40:52, 8:20] = 0
    target[40:52, 13:25] = 1
    rows, cols, mask = moved_components(source, target, source != target)
    assert mask[40:52, 13:25].all()
    assert (rows[40, 13], cols[40, 13]) == (40, 8)


def test_a_field_of_many_alike_objects_moved_is_found_in_bounded_time():
    # Hundreds of nuclei shifted at once (a generated layout, a whole tile moved):
    # each is its own nearest source, and the search stays within the regions'
    # boxes (the first version compared whole maps per pair: minutes here).
    source = np.zeros((200, 200), np.int64)
    for y in range(2, 195, 9):
        for x in range(2, 195, 9):
            source[y:y + 5, x:x + 5] = 1
    target = np.roll(source, (0, 3), axis=(0, 1))
    start = time.perf_counter()
    rows, cols, mask = moved_components(source, target, source != target)
    seconds = time.perf_counter() - start
    ys, xs = np.nonzero(target == 1)
    assert mask[ys, xs].all()
    np.testing.assert_array_equal(rows[ys, xs], ys)
    np.testing.assert_array_equal(cols[ys, xs], xs - 3)
    assert seconds < 5, seconds
