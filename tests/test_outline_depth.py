import numpy as np
import torch

from napari_semia.outline_depth import (
    class_depths,
    classes_near,
    depth_in_class,
    fringes_to_avoid,
    required_depth,
    visible_fringes,
    within_supply,
)


def test_depth_is_the_distance_to_another_class_up_to_the_reach():
    index = torch.zeros(9, 12, dtype=torch.int64)
    index[:, 6:] = 1
    depth = depth_in_class(index, 3)
    # Columns 5 and 6 touch the other class; the image border is no edge.
    assert depth[4].tolist() == [3, 3, 3, 2, 1, 0, 0, 1, 2, 3, 3, 3]
    assert bool((depth_in_class(torch.zeros(5, 5, dtype=torch.int64), 3) == 3).all())
    assert class_depths(index, depth, 3).tolist() == [3, 3, 0]


def test_required_depth_only_where_the_source_edge_is_nearer_and_the_class_eligible():
    source = torch.zeros(20, 20, dtype=torch.int64)
    source[5:15, 5:15] = 1
    target = torch.zeros_like(source)  # the square painted over
    source_depth = depth_in_class(source, 3)
    largest = class_depths(source, source_depth, 2)
    needed = required_depth(source_depth, target, 3, largest, torch.tensor([True, True]))
    # Class-0 pixels by the old square's edge need depth 3; far from it, nothing.
    assert int(needed[4, 10]) == 3 and int(needed[0, 0]) == 0
    # Inside the old square too, by its edge, not at its centre (3 px from every edge).
    assert int(needed[5, 10]) == 3 and int(needed[10, 10]) == 0
    assert not required_depth(source_depth, target, 3, largest, torch.tensor([False, True])).any()


def test_a_class_asks_for_no_more_depth_than_it_has_pixels_for():
    # A matrix (class 0) riddled with specks (class 1) every 8 px: a fifth of it is
    # 3 px deep. Painting every speck over asks nearly the whole image for depth 3,
    # which it has few pixels for (they were copied over and over: tiles).
    source = torch.zeros(60, 60, dtype=torch.int64)
    source[::8, ::8] = 1
    target = torch.zeros_like(source)
    source_depth = depth_in_class(source, 3)
    largest = class_depths(source, source_depth, 2)
    eligible = torch.tensor([True, True])
    required = required_depth(source_depth, target, 3, largest, eligible)
    assert int(required.max()) == 3
    supplied = within_supply(required, source_depth, source, target, 2)
    deep = [int(((source_depth >= d) & (source == 0)).sum()) for d in (1, 2, 3)]
    asking = [int((supplied >= d).sum()) for d in (1, 2, 3)]
    assert all(have >= want for have, want in zip(deep, asking))
    assert int(supplied.max()) == 1  # 3071 pixels of depth 1 or more, 2156 of 2 for 2809 asking
    # Pixels whose own source pixel is deep enough ask for nothing.
    assert not bool(((supplied > 0) & (source_depth >= supplied)).any())
    # One speck painted over: a few pixels ask, the matrix has plenty: as asked.
    target = source.clone()
    target[30, 30] = 0
    required = required_depth(source_depth, target, 3, largest, eligible)
    assert torch.equal(within_supply(required, source_depth, source, target, 2), required)
    # Only the pixels matched count (those that keep their own pixel ask for nothing).
    target = torch.zeros_like(source)
    required = required_depth(source_depth, target, 3, largest, eligible)
    matched = torch.zeros_like(source, dtype=torch.bool)
    matched[28:33, 28:33] = True
    assert torch.equal(within_supply(required, source_depth, source, target, 2, matched), required)


def test_old_outline_fill_smooths_the_guide_within_its_class_only():
    from napari_semia.refinement import _without_old_outlines

    target = torch.zeros(20, 30, dtype=torch.int64)
    target[:, 20:] = 1
    guide = torch.zeros(3, 20, 30)
    guide[:, :, 20:] = 5.0  # class 1: far brighter
    guide[:, 10, :20] = -1.0  # a dark line across class 0 (an old outline the generator redraws)
    erased = torch.zeros(20, 30, dtype=torch.bool)
    erased[9:12, :20] = True
    filled = _without_old_outlines(guide, erased, target)
    assert float(filled[:, 10, :20].abs().max()) < 0.05  # the line is gone, class 1 did not bleed in
    assert torch.equal(filled[:, ~erased], guide[:, ~erased])  # nothing else moves


def test_classes_near_sets_a_bit_for_every_class_within_the_reach():
    index = torch.zeros(6, 10, dtype=torch.int64)
    index[:, 5:] = 1
    index[0, 9] = 2
    near = classes_near(index, 2, 3)
    assert near.dtype == torch.int32
    # Columns 3..4 see class 1 within 2 px; column 2 does not; class 2 only near (0, 9).
    assert near[3].tolist() == [1, 1, 1, 3, 3, 3, 3, 2, 2, 2]
    assert int(near[0, 7]) == 0b110 and int(near[3, 7]) == 0b010


def test_fringes_to_avoid_are_classes_taken_away_from_around_a_pixel():
    source = torch.zeros(30, 30, dtype=torch.int64)
    source[5:12, 5:12] = 1
    target = torch.zeros_like(source)
    target[5:12, 18:25] = 1  # the square moved right
    avoid = fringes_to_avoid(classes_near(source, 2, 2), source, target, 2, 2)
    # The old square and its rim must copy class-0 pixels with no class 1 nearby ...
    assert int(avoid[8, 8]) == 0b10 and int(avoid[4, 8]) == 0b10 and int(avoid[8, 13]) == 0b10
    # ... but not by the new square (its rim is wanted there), nor far from both.
    assert int(avoid[8, 16]) == 0 and int(avoid[20, 20]) == 0 and int(avoid[8, 19]) == 0
    # The new square's centre, where class 0 was, copies the old square's centre.
    assert int(avoid[8, 21]) == 0b01


def test_a_fringe_is_kept_where_too_few_pixels_of_the_class_lie_outside_it():
    # Class 0 is a thin band beside class 1: every class-0 pixel has class 1 nearby,
    # so a region painted class 0 away from class 1 cannot avoid it.
    source = torch.ones(20, 20, dtype=torch.int64)
    source[:, :2] = 0
    target = source.clone()
    target[10:18, 6:14] = 0
    source_near = classes_near(source, 2, 2)
    assert not fringes_to_avoid(source_near, source, target, 2, 2).any()
    # With the band wide enough, the painted square's centre avoids class 1.
    source[:, :8] = 0
    target = source.clone()
    target[10:18, 10:18] = 0
    avoid = fringes_to_avoid(classes_near(source, 2, 2), source, target, 2, 2)
    assert int(avoid[14, 14]) == 0b10


def test_only_fringes_that_show_are_avoided():
    # Class 0 (grainy light grey) around a square of class 1. With a dark 2-px band
    # around the square, class 1's fringe shows in class 0; without it, it does not
    # (and class 0's rim shows nothing in class 1 either way).
    rng = np.random.default_rng(0)
    index = torch.zeros(40, 40, dtype=torch.int64)
    index[12:28, 12:28] = 1
    image = torch.from_numpy(rng.normal(0.5, 0.1, (3, 40, 40)))
    image[:, 12:28, 12:28] = -0.5
    near = classes_near(index, 3, 2)
    assert visible_fringes(image, index, near, 2, 1.0).tolist() == [0, 0]
    image[:, 10:30, 10:30][:, index[10:30, 10:30] == 0] = 0.0  # the band
    assert visible_fringes(image, index, near, 2, 1.0).tolist() == [0b10, 0]
    # The target moves the square away: only a visible fringe is avoided.
    target = torch.zeros_like(index)
    visible = visible_fringes(image, index, near, 2, 1.0)
    assert int(fringes_to_avoid(near, index, target, 3, 2, visible)[11, 20]) == 0b10
    assert not fringes_to_avoid(near, index, target, 3, 2, torch.zeros_like(visible)).any()


def test_class_bit_sets_hold_every_class_up_to_63():
    index = torch.zeros(8, 8, dtype=torch.int64)
    index[:, 4:] = 30
    near = classes_near(index, 1, 31)
    assert near.dtype == torch.int32 and int(near[0, 3]) == (1 | 1 << 30) and bool((near > 0).all())
    index[:, 4:] = 62
    near = classes_near(index, 1, 63)
    assert near.dtype == torch.int64 and int(near[0, 3]) == (1 | 1 << 62) and int(near[0, 7]) == 1 << 62
