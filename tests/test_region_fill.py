"""Filling changed regions: shift maps computed in torch on the layouts' device."""

import numpy as np
import pytest
import torch

from napari_semia.layout_tensors import to_onehot
from napari_semia.region_fill import connected_components, region_shifts, shift_features, texture_offsets


def test_texture_offsets_copy_whole_regions_of_the_right_class():
    src = torch.zeros(1, 8, 10, dtype=torch.long)
    src[:, 2:5, 2:5] = 1
    tgt = torch.zeros(1, 8, 10, dtype=torch.long)
    tgt[:, 2:5, 6:9] = 1  # the square moved 4 px right
    offsets, found, fill = texture_offsets(to_onehot(src, 2), to_onehot(tgt, 2), (8, 10))
    assert found.min() == 1
    # The new square is one coherent copy of the old one (same shift everywhere).
    assert set(offsets[0, 1, 2:5, 6:9].unique().tolist()) == {-4.0}
    assert set(offsets[0, 0, 2:5, 6:9].unique().tolist()) == {0.0}
    # Unchanged pixels are not shifted; filled pixels come from the right class.
    assert offsets[0, :, 6:, :].abs().sum() == 0
    # Both changed regions are filled, with a margin inside their target class.
    assert fill[0, 0, 2:5, 2:9].min() == 1 and fill[0, 0, 7].max() == 0
    assert fill[0, 0, 1, 2] == 1 and fill[0, 0, 3, 9] == 0
    shifted = shift_features(src[:, None].float(), offsets, (1.0, 1.0))[0, 0].long()
    assert torch.equal(shifted, tgt[0])


def test_connected_components_split_by_class_and_gap():
    region = torch.zeros(1, 6, 9, dtype=torch.bool)
    region[:, 1:3, 1:3] = True
    region[:, 1:3, 5:8] = True  # a second blob, not touching the first
    classes = torch.zeros(1, 6, 9, dtype=torch.long)
    classes[:, 1:3, 7] = 1  # the second blob's last column is another class
    labels = connected_components(region, classes)[0]
    assert len({labels[1, 1].item(), labels[1, 5].item(), labels[1, 7].item()}) == 3
    assert labels[2, 2] == labels[1, 1] == 1 * 9 + 1  # the smallest linear index of its blob
    assert (labels[~region[0]] == 6 * 9).all()


@pytest.mark.parametrize("seed", range(4))
def test_components_are_named_by_their_smallest_pixel_index(seed):
    """Against scipy's labelling of each class apart (another implementation)."""
    from scipy import ndimage as ndi

    rng = np.random.default_rng(seed)
    region = rng.random((2, 23, 31)) < 0.55
    classes = rng.integers(-400, 400, (2, 23, 31)) // (200 if seed % 2 else 1)
    expected = np.full(region.shape, 23 * 31, np.int64)
    for i in range(2):
        for value in np.unique(classes[i][region[i]]):
            pieces, count = ndi.label(region[i] & (classes[i] == value))  # 4-connected by default
            for piece in range(1, count + 1):
                inside = pieces == piece
                expected[i][inside] = np.flatnonzero(inside)[0]
    labels = connected_components(torch.from_numpy(region), torch.from_numpy(classes))
    np.testing.assert_array_equal(labels.numpy(), expected)


def test_a_class_missing_from_the_source_keeps_no_shift_and_is_not_found():
    src = torch.zeros(1, 6, 6, dtype=torch.long)
    tgt = src.clone()
    tgt[:, 2:4, 2:4] = 1  # class 1 exists nowhere in the source
    offsets, found, fill = region_shifts(src, tgt)
    assert offsets.abs().sum() == 0
    assert found[0, 0, 2:4, 2:4].max() == 0 and found[0, 0, 0, 0] == 1
    assert fill[0, 0, 2:4, 2:4].min() == 1
