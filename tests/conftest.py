import numpy as np
import pytest
import torch

# The suite's tensors are tiny: one intra-op thread is as fast, and avoids
# OpenMP spin-waiting slowing everything down ~20x when the machine is busy.
torch.set_num_threads(1)


def make_scene(size: int = 32, seed: int = 0):
    """A tiny RGB scene: textured background (class 0) with a striped square (class 1)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size]
    image = np.zeros((size, size, 3), np.float32)
    image[..., 1] = 120 + 40 * rng.random((size, size))  # grass-like noise
    labels = np.zeros((size, size), np.int32)
    lo, hi = size // 4, size // 2 + size // 8
    labels[lo:hi, lo:hi] = 1
    stripes = ((xx // 2) % 2 == 0)
    inside = labels == 1
    image[inside] = np.where(stripes[inside, None], [230, 230, 230], [20, 20, 20])
    return image.clip(0, 255).astype(np.uint8), labels


@pytest.fixture
def scene():
    return make_scene()


@pytest.fixture
def moved_target(scene):
    """The scene's layout with the square moved right and down."""
    _, labels = scene
    return np.roll(labels, (4, 6), axis=(0, 1))
