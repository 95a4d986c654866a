import json

import numpy as np
import pytest
import torch
from conftest import dark_sky

from napari_semia.errors import SemiaInputError
from napari_semia.intensity import CLIP, IntensityNormalizer

rng = np.random.default_rng(0)


def smooth_ramp(shape, low, high):
    """A gradient image spanning [low, high] on every channel."""
    h, w = shape[:2]
    base = np.linspace(0, 1, h * w).reshape(h, w)
    channels = shape[2] if len(shape) == 3 else 1
    stack = np.stack([np.roll(base, 7 * c, axis=1) for c in range(channels)], axis=-1)
    out = low + (high - low) * stack
    return out[..., 0] if len(shape) == 2 else out


@pytest.mark.parametrize(
    "image",
    [
        rng.integers(0, 256, (24, 20, 3), dtype=np.uint8),
        rng.integers(0, 256, (24, 20), dtype=np.uint8),
        rng.integers(0, 65536, (24, 20), dtype=np.uint16),
        rng.integers(-500, 500, (24, 20, 2), dtype=np.int16),
        smooth_ramp((24, 20, 5), -3.5, 1200.0).astype(np.float32),
        smooth_ramp((24, 20), 0.0, 1e-3).astype(np.float64),
        dark_sky()[0],
        dark_sky()[0].astype(np.float32) / 65535,
    ],
    ids=["rgb-uint8", "gray-uint8", "gray-uint16", "2ch-int16", "5ch-float32", "gray-float64-tiny",
         "linear-hdr-uint16", "linear-hdr-float32"],
)
def test_round_trip_restores_dtype_layout_and_values(image):
    normalizer = IntensityNormalizer.fit(image)
    x = normalizer.to_network(image)
    assert x.dtype == np.float32
    assert x.shape == (1 if image.ndim == 2 else image.shape[-1],) + image.shape[:2]
    assert x.min() >= -CLIP and x.max() <= CLIP
    back = normalizer.from_network(x)
    assert back.dtype == image.dtype
    assert back.shape == image.shape
    if np.issubdtype(image.dtype, np.integer):
        # Only the 0.5% tails beyond the clip range may differ.
        assert np.mean(back != image) < 0.02
    else:
        span = float(image.max() - image.min())
        assert np.mean(np.abs(back - image) > 1e-4 * span) < 0.02


def test_bulk_of_the_histogram_fills_minus_one_to_one():
    image = smooth_ramp((32, 32, 3), 10, 240).astype(np.uint8)
    x = IntensityNormalizer.fit(image).to_network(image)
    for channel in x:
        assert channel.min() == pytest.approx(-1, abs=0.05)
        assert channel.max() == pytest.approx(1, abs=0.05)


def test_outliers_do_not_squash_the_histogram():
    image = smooth_ramp((64, 64), 1000, 2000).astype(np.uint16)
    image[0, :3] = 65535  # three hot pixels
    x = IntensityNormalizer.fit(image).to_network(image)[0]
    assert np.percentile(x, 99) > 0.9  # not squeezed towards -1 by the hot pixels
    assert x.max() == pytest.approx(CLIP)


def test_excess_is_what_the_clip_takes_off():
    image = smooth_ramp((64, 64), 1000, 2000).astype(np.uint16)
    normalizer = IntensityNormalizer.fit(image)
    assert normalizer.excess(image) is None  # nothing beyond the clip: no work, no memory
    image[0, :3] = 65535  # three hot pixels
    normalizer = IntensityNormalizer.fit(image)
    excess = normalizer.excess(image)
    assert excess.shape == (1, 64, 64) and excess.dtype == np.float32
    assert (excess[0] != 0).sum() == 3 and (excess[0, 0, :3] > 0).all()
    # Clipped values plus their excess are the image, exactly normalised.
    whole = normalizer.to_network(image) + excess
    assert normalizer.from_network(whole)[0, :3].tolist() == [65535] * 3
    np.testing.assert_array_equal(normalizer.from_network(whole), image)


def test_a_dark_background_in_linear_data_is_stretched_to_be_seen():
    # Mapped linearly, a raw frame's sky (80 +- 25 under sources up to 40 000) took
    # 0.4 % of the network's range: the networks saw it flat, and the full-resolution
    # stage's corrections clipped a quarter of a refilled sky to black.
    image, labels = dark_sky()
    normalizer = IntensityNormalizer.fit(image)
    assert normalizer.stretched
    x = normalizer.to_network(image)[0]
    sky = x[labels == 0]
    assert sky.std() > 0.05  # linearly: 0.0016
    assert -1.0 < np.median(sky) < -0.6  # the background lifted off the floor
    # The stretch keeps the order of values: brighter stays brighter.
    order = np.argsort(image.ravel(), kind="stable")
    assert (np.diff(x.ravel()[order]) >= 0).all()
    # And it is undone on the way back, exactly for the integers.
    np.testing.assert_array_equal(normalizer.from_network(normalizer.to_network(image)), image)


@pytest.mark.parametrize("case", ["photo", "black-backdrop", "bright-half"])
def test_photos_and_backgrounds_without_spread_stay_linear(case):
    if case == "photo":  # display-encoded: the median far from the low end
        image = smooth_ramp((32, 32, 3), 10, 240).astype(np.uint8)
    elif case == "black-backdrop":  # objects on exact zeros: no background noise to lose
        image = np.zeros((32, 32), np.uint16)
        image[8:14, 8:14] = 40000 + rng.integers(0, 2000, (6, 6))
    else:  # a dim class beside a bright one that covers half the image
        image = np.where(np.arange(32)[None, :] < 16, 100, 30000) + rng.integers(0, 10, (32, 32))
        image = image.astype(np.uint16)
    normalizer = IntensityNormalizer.fit(image)
    assert not normalizer.stretched and normalizer.to_dict().keys() == {
        "layout", "dtype", "center", "half_range", "data_min", "data_max"}


def test_a_stretched_normaliser_is_saved_and_older_ones_load_linear():
    image, _ = dark_sky()
    normalizer = IntensityNormalizer.fit(image)
    restored = IntensityNormalizer.from_dict(json.loads(json.dumps(normalizer.to_dict())))
    assert restored == normalizer and restored.stretched
    older = {k: v for k, v in normalizer.to_dict().items() if k not in ("floor", "softening")}
    assert not IntensityNormalizer.from_dict(older).stretched
    with pytest.raises(SemiaInputError, match="stretch"):
        IntensityNormalizer.from_dict({**normalizer.to_dict(), "softening": [1.0, 2.0]})


def test_conversion_goes_a_strip_at_a_time_with_progress(monkeypatch):
    # A whole-image conversion made four float copies of the source (over a
    # gigabyte at 67 MP) and could not be stopped for its seconds.
    import napari_semia.intensity as intensity

    rng = np.random.default_rng(0)
    image = rng.integers(0, 65535, (37, 11, 2), dtype=np.uint16)
    image[0, 0] = 65535
    normalizer = IntensityNormalizer.fit(image)
    values = image.astype(np.float32)
    center = np.asarray(normalizer.center, dtype=np.float32)
    half_range = np.asarray(normalizer.half_range, dtype=np.float32)
    expected = np.clip((values - center) / half_range, -CLIP, CLIP).transpose(2, 0, 1)
    monkeypatch.setattr(intensity, "_STRIP_ROWS", 8)
    fractions = []
    x = normalizer.to_network(image, on_strip=fractions.append)
    np.testing.assert_array_equal(x, expected)
    assert x.dtype == np.float32 and x.flags.c_contiguous
    assert fractions == pytest.approx([8 / 37, 16 / 37, 24 / 37, 32 / 37, 1.0])


def test_values_beyond_float32_are_refused_by_name():
    # Finite in float64 but inf in the networks' float32: an all-NaN result, and a
    # training that 'stopped before its first step' with no word of why.
    image = smooth_ramp((16, 16), 0, 1) * 1e39
    with pytest.raises(SemiaInputError, match="float32"):
        IntensityNormalizer.fit(image)
    IntensityNormalizer.fit(image / 1e9)  # 1e30: fine


def test_channels_are_normalised_independently():
    image = np.stack([smooth_ramp((16, 16), 0, 10), smooth_ramp((16, 16), 5000, 60000)], -1)
    x = IntensityNormalizer.fit(image.astype(np.float32)).to_network(image.astype(np.float32))
    np.testing.assert_allclose(x[0], x[1], atol=1e-4)


def test_constant_channel_does_not_divide_by_zero():
    image = np.zeros((16, 16, 3), np.uint8)
    image[..., 0] = 77
    image[..., 1] = smooth_ramp((16, 16), 0, 255).astype(np.uint8)
    normalizer = IntensityNormalizer.fit(image)
    x = normalizer.to_network(image)
    assert np.isfinite(x).all()
    np.testing.assert_array_equal(x[0], 0)
    np.testing.assert_array_equal(normalizer.from_network(x)[..., 0], 77)


def test_an_opaque_alpha_is_dropped():
    image = rng.integers(0, 256, (16, 16, 4), dtype=np.uint8)
    image[..., 3] = 255
    normalizer = IntensityNormalizer.fit(image)
    x = normalizer.to_network(image)
    assert x.shape == (3, 16, 16)
    back = normalizer.from_network(x)
    assert back.shape == (16, 16, 3)
    assert np.mean(back != image[..., :3]) < 0.02


def test_output_stays_in_the_source_range():
    image = smooth_ramp((16, 16), 100, 200).astype(np.uint8)
    normalizer = IntensityNormalizer.fit(image)
    back = normalizer.from_network(np.full((1, 16, 16), 50.0, np.float32))
    assert back.dtype == np.uint8
    assert back.max() == 200 and back.min() == 200
    back = normalizer.from_network(np.full((1, 16, 16), -50.0, np.float32))
    assert back.max() == 100


def test_float_output_in_the_original_range():
    image = smooth_ramp((16, 16), -2.0, 3.0).astype(np.float32)
    normalizer = IntensityNormalizer.fit(image)
    back = normalizer.from_network(np.linspace(-3, 3, 256, dtype=np.float32).reshape(1, 16, 16))
    assert back.dtype == np.float32
    assert back.min() >= -2.0 and back.max() <= 3.0


def test_accepts_torch_batches():
    image = rng.integers(0, 256, (16, 12, 3), dtype=np.uint8)
    normalizer = IntensityNormalizer.fit(image)
    x = torch.from_numpy(normalizer.to_network(image))[None].requires_grad_()
    assert normalizer.from_network(x).shape == image.shape


def test_dict_round_trip_through_json():
    image = smooth_ramp((16, 16, 5), 0, 4000).astype(np.uint16)
    normalizer = IntensityNormalizer.fit(image)
    restored = IntensityNormalizer.from_dict(json.loads(json.dumps(normalizer.to_dict())))
    assert restored == normalizer
    np.testing.assert_array_equal(restored.from_network(normalizer.to_network(image)),
                                  normalizer.from_network(normalizer.to_network(image)))


def test_layout_mismatch_is_an_input_error():
    normalizer = IntensityNormalizer.fit(rng.integers(0, 256, (16, 16, 3), dtype=np.uint8))
    with pytest.raises(SemiaInputError, match="channel"):
        normalizer.to_network(rng.integers(0, 256, (16, 16), dtype=np.uint8))
    with pytest.raises(SemiaInputError, match="channel"):
        normalizer.from_network(np.zeros((2, 16, 16), np.float32))


@pytest.mark.parametrize("shape", [(16,), (4, 16, 16, 3), (16, 16, 40)])
def test_unsupported_shapes_ask_for_a_2d_slice(shape):
    with pytest.raises(SemiaInputError, match="2D slice"):
        IntensityNormalizer.fit(np.zeros(shape, np.uint8))


def test_invalid_dict_is_an_input_error():
    with pytest.raises(SemiaInputError):
        IntensityNormalizer.from_dict({"layout": "rgb"})


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32])
def test_a_fourth_channel_that_is_data_is_kept(dtype):
    """A 4-channel fluorescence image (or a transparent PNG) is not RGBA: its 4th
    channel used to be dropped silently whatever its values."""
    image = (rng.random((16, 16, 4)) * (1 if dtype == np.float32 else np.iinfo(dtype).max)).astype(dtype)
    normalizer = IntensityNormalizer.fit(image)
    back = normalizer.from_network(normalizer.to_network(image))
    assert back.shape == (16, 16, 4) and back.dtype == dtype
    opaque = image.copy()
    opaque[..., 3] = 1 if dtype == np.float32 else np.iinfo(dtype).max
    assert IntensityNormalizer.fit(opaque).from_network(normalizer.to_network(image)[:3]).shape == (16, 16, 3)


def test_only_colour_images_with_three_equal_channels_are_called_grey():
    from napari_semia.intensity import grey_as_colour_note

    grey = np.random.default_rng(0).integers(0, 65535, (6, 5), dtype=np.uint16)
    as_rgb = np.stack([grey] * 3, -1)
    note = grey_as_colour_note(as_rgb, "x", "use one")
    assert note.startswith("x is a grey image stored as colour") and "8 bits" not in note
    assert "To work in grey, use one." in note
    eight_bits = (as_rgb // 257).astype(np.uint8)
    assert "this one has 8" in grey_as_colour_note(eight_bits, "x", "use one")
    assert "this one has 8" not in grey_as_colour_note(eight_bits, "x", "use one", depth_unknown=False)
    opaque = np.dstack([as_rgb, np.full((6, 5), 65535, np.uint16)])
    assert grey_as_colour_note(opaque, "x", "use one") is not None
    coloured = as_rgb.copy()
    coloured[0, 0, 2] += 1
    four_stains = np.dstack([as_rgb, grey // 2])  # a fourth channel that is data: no photo
    for image in (grey, coloured, four_stains, np.stack([grey] * 2, -1)):
        assert grey_as_colour_note(image, "x", "use one") is None


def test_a_background_of_almost_no_spread_stretches_within_float32():
    # Simulated data: a background of 1e-30 under spots of 1e8 stretched the values
    # past what sinh holds in float32 (found in review); the softening is now at
    # least a millionth of the range.
    from napari_semia.patch_vote import LinearUnits

    image = (1e-30 + 1e-31 * rng.random((64, 64))).astype(np.float32)
    image[rng.random((64, 64)) < 0.02] = 1e8
    normalizer = IntensityNormalizer.fit(image)
    assert normalizer.stretched
    x = torch.from_numpy(normalizer.to_network(image))
    assert torch.isfinite(LinearUnits.of(normalizer, "cpu").to_linear(x)).all()
    assert np.isfinite(normalizer.from_network(x.numpy())).all()
