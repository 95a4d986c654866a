"""Copies relative to the nearest source edge between the same classes (edge_profiles.py)."""

import numpy as np

from napari_semia.edge_profiles import edge_relative_copies


def _moved_edge(height=32, width=24, old=16, new=12):
    """Class 0 above row ``old`` in the source, above row ``new`` in the target."""
    source = np.zeros((height, width), np.int64)
    source[old:] = 1
    target = np.zeros((height, width), np.int64)
    target[new:] = 1
    return source, target


def test_pixels_by_a_moved_edge_copy_the_same_place_by_the_old_edge():
    source, target = _moved_edge()
    band = np.ones_like(target, bool)
    rows, cols, found = edge_relative_copies(source, target, band, reach=3)
    grid_rows, grid_cols = np.mgrid[:32, :24]
    # Three rows on either side of the new edge (rows 9-14), shifted down by 4 onto
    # the same rows of the old edge (13-18), each on its own class.
    assert found[9:15].all()
    assert (rows[9:15] - grid_rows[9:15] == 4).all()
    assert (cols == grid_cols).all()
    assert (source[rows[found], cols[found]] == target[found]).all()
    # Deeper than the reach, or outside the band: left as they are.
    assert not found[:9].any() and not found[15:].any()
    assert (rows[~found] == grid_rows[~found]).all()
    narrow = np.zeros_like(band)
    narrow[12:14] = True
    assert edge_relative_copies(source, target, narrow, reach=3)[2].sum() == 2 * 24


def test_an_edge_that_did_not_move_copies_nothing():
    # Within the band but not moved: the "copy" would be the pixel itself.
    source, target = _moved_edge(old=16, new=16)
    target[2:4, 2:4] = 1  # a change elsewhere
    assert not edge_relative_copies(source, target, np.ones_like(target, bool), reach=3)[2][10:22].any()


def test_a_stray_pixel_of_a_third_class_does_not_hide_the_edge():
    # Anti-aliased labels leave stray pixels of a third class along drawn edges; the
    # nearest other class is then that pixel, and no 1 | 2 edge of the source fits.
    source, target = _moved_edge()
    source[2, 2] = target[2, 2] = 2
    target[12, 10] = 2
    rows, _, found = edge_relative_copies(source, target, np.ones_like(target, bool), reach=3)
    grid_rows = np.mgrid[:32, :24][0]
    around = np.s_[12:15, 8:13]  # class 1 by the stray pixel (the source has no 1 | 2 edge)
    real = target[around] == 1
    assert found[around][real].all()
    assert (rows[around][real] - grid_rows[around][real] == 4).all()


def test_an_edge_of_another_orientation_gives_no_copy_across_classes():
    # The source's 0 | 1 edge is horizontal, the target's vertical: translated, the
    # old edge would cut across the new one, so nothing is copied.
    source = np.zeros((24, 24), np.int64)
    source[12:] = 1
    target = np.zeros((24, 24), np.int64)
    target[:, 12:] = 1
    band = np.ones_like(target, bool)
    assert not edge_relative_copies(source, target, band, reach=3)[2].any()


def test_no_reach_no_band_or_a_missing_class_copies_nothing():
    source, target = _moved_edge()
    band = np.ones_like(target, bool)
    assert not edge_relative_copies(source, target, band, reach=0)[2].any()
    assert not edge_relative_copies(source, target, np.zeros_like(band), reach=3)[2].any()
    # A class the source lacks has no edge to copy.
    new_class = target.copy()
    new_class[12:14] = 5
    found = edge_relative_copies(source, new_class, band, reach=3)[2]
    assert not found[new_class == 5].any()
