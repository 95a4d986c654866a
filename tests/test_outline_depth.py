import torch

from napari_semia.outline_depth import class_depths, depth_in_class, required_depth


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
