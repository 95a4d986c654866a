"""Known source positions carried to a refinement level, and resampled there."""

from types import SimpleNamespace

import numpy as np
import torch

from napari_semia.known_sources import level_pins, pin, resampled


def level_of(classes: np.ndarray):
    h, w = classes.shape
    return SimpleNamespace(shape=(h, w), classes=torch.from_numpy(classes.astype(np.int16)).flatten())


def test_positions_are_scaled_to_the_level_and_kept_only_on_their_class():
    full = np.zeros((16, 16), np.int64)
    full[4:12, 4:12] = 1
    positions = np.full((2, 16, 16), np.nan, np.float32)
    rows, cols = np.mgrid[:16, :16]
    # The square moved 2 px right: its pixels come from 2 px to the left.
    positions[:, 4:12, 6:14] = np.stack([rows, cols - 2])[:, 4:12, 6:14]
    target = np.zeros((16, 16), np.int64)
    target[4:12, 6:14] = 1
    positions[:, 0, 0] = (5.0, 5.0)  # a background pixel said to come from the square: not kept
    pins = level_pins(torch.from_numpy(positions), level_of(full), torch.from_numpy(target))
    pinned, exact = pins
    assert pinned.sum() == 64 and not pinned[0, 0]
    assert (exact[1][pinned] == torch.from_numpy(cols - 2).float()[pinned]).all()  # whole pixels: exact
    assert (exact[0][pinned] == torch.from_numpy(rows).float()[pinned]).all()
    # At half size, the same move is 1 px.
    half_pinned, half_exact = level_pins(torch.from_numpy(positions), level_of(full[::2, ::2]),
                                         torch.from_numpy(target[::2, ::2]))
    half_cols = torch.arange(8)[None].expand(8, 8)
    assert (half_exact[1].round()[half_pinned] == (half_cols - 1)[half_pinned]).all()
    fy = torch.zeros(16, 16, dtype=torch.int32)
    fx = torch.zeros(16, 16, dtype=torch.int32)
    pin(fy, fx, pins)
    assert fx[5, 7] == 5 and fy[5, 7] == 5 and fx[0, 0] == 0


def test_pinned_pixels_are_read_bilinearly_at_their_exact_position():
    # A rotated or scaled object is resampled like an image: on a linear ramp,
    # bilinear reading is exact.
    h, w = 8, 10
    ramp = (torch.arange(h, dtype=torch.float32)[:, None] * 10 + torch.arange(w)[None]).flatten()[None]
    pinned = torch.zeros(h, w, dtype=torch.bool)
    pinned[2:5, 3:6] = True
    exact = torch.stack([torch.full((h, w), 3.25), torch.full((h, w), 4.5)])
    image = torch.full((1, h, w), -1.0)
    out = resampled(image, ramp, (h, w), (pinned, exact))
    assert torch.allclose(out[0][pinned], torch.tensor(3.25 * 10 + 4.5))
    assert (out[0][~pinned] == -1).all()
    assert resampled(image, ramp, (h, w), None) is image
