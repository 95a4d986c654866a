"""The refinement's parts on their own: patch features, label-constrained
PatchMatch and voting (patch_features.py, patch_match.py, patch_vote.py)."""

import numpy as np
import pytest
import torch

from napari_semia.patch_features import source_keys
from napari_semia.patch_match import match_level
from napari_semia.patch_vote import vote_level
from napari_semia.refinement import RefinementConfig, SourcePyramid

SETTINGS = {"coherence_weight": 0.4, "edge_margin": 0, "sampled_candidates": 256, "tile": 512}


def _level(height=40, width=48, seed=0):
    """Level 0 of a pyramid of a noise image (every patch unique) with two
    classes: the left and right halves."""
    rng = np.random.default_rng(seed)
    image = torch.from_numpy(rng.uniform(-1, 1, (1, 3, height, width)).astype(np.float32))
    labels = torch.zeros(1, height, width, dtype=torch.int64)
    labels[..., width // 2:] = 1
    config = RefinementConfig(identity_margin=None, fringe_reach=0, outline_reach=0)
    pyramid = SourcePyramid(image, labels, 2, (height, width), config)
    return pyramid.levels[0], image[0], labels[0]


def _random_field(level, shape, seed=1):
    rng = np.random.default_rng(seed)
    h, w = level.shape
    fy = torch.from_numpy(rng.integers(0, h, shape).astype(np.int32))
    fx = torch.from_numpy(rng.integers(0, w, shape).astype(np.int32))
    return fy, fx


def test_feature_keys_of_a_pixel_are_its_patch_projected_and_its_layout():
    level, image, labels = _level()
    features = level.features
    assert level.sharp_keys.shape == (image.shape[1] * image.shape[2], features.dims)
    # Two pixels with the same patch and layout have the same key, whatever their place.
    p = features.patch_size
    twin = image.clone()
    twin[:, 20:20 + p, 30:30 + p] = twin[:, 5:5 + p, 30:30 + p]
    keys = source_keys(twin, labels, features, 2).float()
    w, r = image.shape[2], p // 2
    assert torch.allclose(keys[(20 + r) * w + 30 + r], keys[(5 + r) * w + 30 + r], atol=1e-2)
    # ... and a different one where the patch differs.
    assert not torch.allclose(keys[(20 + r) * w + 30 + r], keys[(20 + r) * w + 40], atol=1e-2)


def test_matching_the_source_against_itself_finds_the_identity():
    level, image, labels = _level()
    h, w = level.shape
    fy, fx = _random_field(level, (h, w))
    free = torch.ones(h, w, dtype=torch.bool)
    generator = torch.Generator().manual_seed(0)
    match_level(level, level.sharp_keys, image, labels, free, fy, fx, 4, True, generator, 2, **SETTINGS)
    ys, xs = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
    exact = (fy == ys) & (fx == xs)
    # Every patch of noise is unique: the exact search and propagation find it
    # (border pixels, whose patches repeat the edge, may find a twin).
    assert exact[3:-3, 3:-3].float().mean() > 0.98
    # Without the sampled exact search and with one round, far fewer are found.
    fy, fx = _random_field(level, (h, w))
    match_level(level, level.sharp_keys, image, labels, free, fy, fx, 1, True, generator, 2,
                **{**SETTINGS, "sampled_candidates": 0})
    assert ((fy == ys) & (fx == xs))[3:-3, 3:-3].float().mean() < 0.9


@pytest.mark.parametrize("tile", [512, 16])
def test_matches_land_on_the_class_the_target_asks_for_and_only_free_pixels_move(tile):
    level, image, labels = _level()
    h, w = level.shape
    target = labels.clone()
    target[10:30, 8:20] = 1  # class 1 painted into the left half
    free = torch.zeros(h, w, dtype=torch.bool)
    free[5:35, 4:24] = True
    ys, xs = torch.meshgrid(torch.arange(h, dtype=torch.int32), torch.arange(w, dtype=torch.int32),
                            indexing="ij")
    fy, fx = ys.clone(), xs.clone()
    generator = torch.Generator().manual_seed(0)
    # (tile 16: the free box spans several tiles, each matched with its halo)
    match_level(level, level.sharp_keys, image, target, free, fy, fx, 2, True, generator, 2,
                **{**SETTINGS, "tile": tile})
    landed = labels[fy.long(), fx.long()]
    assert torch.equal(landed[free], target[free])
    assert torch.equal(fy[~free], ys[~free]) and torch.equal(fx[~free], xs[~free])


def test_voting_rebuilds_a_shifted_copy_and_keeps_the_source_away_from_free_pixels():
    level, image, labels = _level()
    h, w = level.shape
    ys, xs = torch.meshgrid(torch.arange(h, dtype=torch.int32), torch.arange(w, dtype=torch.int32),
                            indexing="ij")
    free = torch.zeros(h, w, dtype=torch.bool)
    free[10:30, 30:44] = True
    # A coherent shift inside class 1: every patch covering a pixel agrees on it.
    fy, fx = torch.where(free, ys - 5, ys), torch.where(free, xs + 2, xs)
    out = vote_level(level, labels, free, fy, fx, 1, True, 512)
    inner = (slice(None), slice(11, 29), slice(31, 43))
    shifted = image[:, 6:24, 33:45]
    assert torch.allclose(out[inner], shifted, atol=1e-6)
    # Beyond the vote's reach (1 pixel) of the free pixels, the source itself.
    reach = torch.zeros_like(free)
    reach[9:31, 29:45] = True
    assert torch.equal(out[:, ~reach], image[:, ~reach])
    # Tiles do not change the result.
    assert torch.allclose(vote_level(level, labels, free, fy, fx, 1, True, 16), out)
