"""Target regions that scale a source region up are found, and mapped through the boxes."""

import numpy as np

from napari_semia.scaled_components import scaled_up_components


def _tower_raised(h=48, w=40, top=28, new_top=8, bottom=40):
    """A block (a tower) standing on other classes, made taller upwards."""
    source = np.zeros((h, w), np.int64)
    source[bottom:] = 2  # water below, out of the frame
    source[top:bottom, 12:28] = 1
    target = source.copy()
    target[new_top:bottom, 12:28] = 1
    return source, target


def test_a_taller_tower_maps_its_rows_through_the_boxes_once():
    source, target = _tower_raised()
    rows, cols, found = scaled_up_components(source, target, source != target)
    assert np.array_equal(found, target == 1)  # the kept pixels of the region too
    # Top to top, bottom to bottom, in order: stretched once, not stacked.
    column = rows[8:40, 20]
    assert round(float(column[0])) == 28 and round(float(column[-1])) == 39
    assert np.all(np.diff(column) > 0)
    np.testing.assert_allclose(cols[found], np.nonzero(found)[1], atol=1e-4)
    # Every copy lands on the class.
    assert np.all(source[np.round(rows[found]).astype(int), np.round(cols[found]).astype(int)] == 1)


def test_stuff_running_out_of_the_frame_grows_by_more_of_itself():
    # Water raised up the image: it touches the bottom border, across the axis it
    # grows along; not scaled (rebuilt stretched, a field went soft and blotchy).
    source, target = _tower_raised()
    water = target == 2
    target[30:40][(target[30:40] == 0)] = 2  # the water rises beside the tower
    assert not scaled_up_components(source, target, source != target)[2][water | (target == 2)].any()


def test_an_object_enlarged_a_little_against_the_border_is_scaled():
    # The coins sample: its largest coin enlarged 1.2 times (1.44 in area) up to the
    # frame's edge came out as the old coin in a ring of filler (the area bound was
    # 1.5, and a target region touching the border counted as stuff out of the frame).
    yy, xx = np.mgrid[:48, :48]
    source = ((yy - 24) ** 2 + (xx - 34) ** 2 <= 10**2).astype(np.int64)  # 4 px from the edge
    target = ((yy - 24) ** 2 + (xx - 36) ** 2 <= 12**2).astype(np.int64)  # to the edge
    assert target[:, -1].any() and not source[:, -1].any()
    rows, cols, found = scaled_up_components(source, target, source != target)
    assert found[target == 1].mean() > 0.95
    # The centre onto the centre, the rim onto the rim.
    assert abs(rows[24, 36] - 24) < 1 and abs(cols[24, 36] - 34) < 1
    assert abs(cols[24, 47] - 43.5) < 1.5


def test_what_grows_out_of_the_frame_unevenly_is_not_scaled():
    # From a review: with only the source region checked against the border, sky
    # where a tower was (up to the frame's edge) was stretched 2.2 times sideways, and
    # a coin doubled half out of the frame was squeezed into the half of its box left.
    source = np.zeros((64, 64), np.int64)
    source[:40, 20:40] = 1  # sky between two towers
    source[:40, :20] = source[:40, 40:] = 2
    target = source.copy()
    target[:40, 40:] = 1  # the right tower removed
    assert not scaled_up_components(source, target, source != target)[2].any()
    yy, xx = np.mgrid[:64, :64]
    source = ((yy - 32) ** 2 + (xx - 40) ** 2 <= 10**2).astype(np.int64)
    target = ((yy - 32) ** 2 + (xx - 60) ** 2 <= 20**2).astype(np.int64)
    assert not scaled_up_components(source, target, source != target)[2].any()


def test_pieces_joined_by_erasing_what_split_them_are_not_scaled():
    # Erasing the vessels that split a fundus joined its pieces: the joined region,
    # 1.49 times the largest piece, was stretched from that piece alone (and the
    # refill took three times as long).
    source = np.zeros((40, 40), np.int64)
    source[8:32, 8:32] = 1
    source[8:32, 22] = 2  # a vessel across the square: pieces of 14 and 9 columns
    target = source.copy()
    target[target == 2] = 1
    assert not scaled_up_components(source, target, source != target)[2].any()


def test_a_moved_region_and_a_shrunk_one_are_not_scaled():
    source = np.zeros((32, 32), np.int64)
    source[4:14, 4:14] = 1
    moved = np.zeros_like(source)
    moved[15:25, 12:22] = 1
    shrunk = np.zeros_like(source)
    shrunk[6:12, 6:12] = 1
    for target in (moved, shrunk):
        assert not scaled_up_components(source, target, source != target)[2].any()


def test_a_region_with_a_part_added_elsewhere_is_not_scaled():
    # A square with a long arm: larger, and its box is larger, but it is no
    # scaled square (squeezed back into the square's box it covers its left edge).
    source = np.zeros((32, 48), np.int64)
    source[10:18, 10:18] = 1
    target = source.copy()
    target[10:13, 18:40] = 1
    assert not scaled_up_components(source, target, source != target)[2].any()


def test_far_too_large_an_enlargement_and_tiny_regions_are_left_alone():
    source, target = _tower_raised(h=64, top=38, new_top=2, bottom=40)  # 2 rows to 38
    assert not scaled_up_components(source, target, source != target)[2].any()
    source = np.zeros((16, 16), np.int64)
    source[8, 8] = 1
    target = np.zeros_like(source)
    target[7:10, 7:10] = 1  # 9 pixels
    assert not scaled_up_components(source, target, source != target)[2].any()
