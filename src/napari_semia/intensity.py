"""Robust per-channel intensity normalisation to the network's [-1, 1] range.

Microscopy images come as uint16 with a few hot pixels, or as floats in any
range; photos as uint8 RGB. The networks want every channel in about [-1, 1].
Each channel's 0.5th..99.5th percentile range is mapped to [-1, 1], so a few
outliers do not squash the rest of the histogram; values beyond it are clipped
a little past +-1 for the networks (the full-resolution stage adds the clipped
part back to what it copies: :meth:`IntensityNormalizer.excess`). The way back
restores the source's dtype, value range and channel layout.

A channel whose median lies within the lowest :data:`LINEAR_HDR_MEDIAN` of that
range (raw flux or fluorescence: a dark, noisy background and a few objects
thousands of times brighter) is stretched first by ``asinh((value - floor) /
softening)``, as astronomers display such data. Mapped linearly, its background
was squeezed into a few thousandths of the network's range: the networks saw it
flat, and the full-resolution stage's corrections, small against the objects
but larger than the background's own spread, pushed a quarter of a refilled
sky below the range and the output clipped it to black (found by an astronomer
with a 16-bit frame). Stretched, the background's noise spans a tenth of the
range and the bright objects keep their order; the way back undoes the stretch.

Layouts:

* (H, W)                  grayscale, 1 channel
* (H, W, 3)               RGB
* (H, W, 4)               RGBA when the 4th channel is an opaque alpha (at its
                          dtype's full value everywhere): it is dropped and the
                          output is RGB; any other 4th channel (a 4-channel
                          microscopy image, a transparent PNG) is kept
* (H, W, C), other C<=16  channels-last multichannel
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .errors import SemiaInputError

LOW_PERCENTILE = 0.5
HIGH_PERCENTILE = 99.5
#: Normalised values are clipped here: a little room beyond [-1, 1] keeps some
#: of the tails without letting outliers dominate.
CLIP = 1.2
MAX_CHANNELS = 16
#: Rows converted at a time between the user's values and the network's.
_STRIP_ROWS = 256
_FLOAT32_MAX = float(np.finfo(np.float32).max)
#: Pixels used to estimate percentiles; larger images are subsampled on a grid.
_PERCENTILE_SAMPLE = 1 << 20
#: A channel whose median lies within this share of its 0.5th..99.5th percentile
#: range, above the low end, is stretched (module docstring). Display-encoded
#: photos lie far above it (the shared examples 0.15-0.86, scikit-image's photos
#: 0.15-0.80, its 8-bit Hubble deep field 0.055); the same field as linear flux
#: lies at 0.0024.
LINEAR_HDR_MEDIAN = 0.02
#: The smallest softening, as a share of that range.
_MIN_SOFTENING = 1e-6


def _stretch_parameters(low, median, high) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per channel (floor, softening) of the asinh stretch; (0, 0) for a channel
    left linear. The softening is the background's typical height above the low
    percentile (median - low), a few times its noise: the noise is kept visible
    (the median lands at about a tenth of the stretched range) while everything
    brighter is compressed logarithmically. A background of one value over half
    the image (zero-padded, masked, a black backdrop) has no spread to lose and
    stays linear."""
    span = high - low
    softening = median - low
    stretched = (span > 0) & (softening > 0) & (softening < LINEAR_HDR_MEDIAN * span)
    # At least a millionth of the range: a simulated background of 1e-30 under spots
    # of 1e8 would stretch its values past what sinh holds in float32.
    softening = np.maximum(softening, _MIN_SOFTENING * span)
    floor = np.where(stretched, low, 0.0)
    return (tuple(float(v) for v in floor),
            tuple(float(v) for v in np.where(stretched, softening, 0.0)))


def image_layout(image: np.ndarray) -> str:
    """'gray', 'rgb', 'rgba' or 'channels' for a 2D or 3D channels-last image."""
    if image.ndim == 2:
        return "gray"
    if image.ndim == 3:
        if image.shape[-1] == 3:
            return "rgb"
        if image.shape[-1] == 4 and is_opaque_alpha(image[..., 3]):
            return "rgba"
        if 1 <= image.shape[-1] <= MAX_CHANNELS:
            return "channels"
        raise SemiaInputError(
            f"Image of shape {image.shape}: a 3D image is read as (H, W, C) with "
            f"the channels last, and at most {MAX_CHANNELS} channels are supported. "
            f"For a z-stack or time series, use a single 2D slice."
        )
    raise SemiaInputError(
        f"Image of shape {image.shape} ({image.ndim}D) is not supported: use a "
        f"single 2D slice, (H, W) or (H, W, C)."
    )


def is_opaque_alpha(channel: np.ndarray) -> bool:
    """Whether ``channel`` is a fully opaque alpha channel: its dtype's full value
    everywhere (255 for uint8, 65535 for uint16, 1.0 for floats). Only such a
    4th channel is dropped: it carries nothing, while any other is data (a
    4-channel fluorescence image lost its 4th channel silently)."""
    channel = np.asarray(channel)
    if np.issubdtype(channel.dtype, np.integer):
        full = np.iinfo(channel.dtype).max
    elif np.issubdtype(channel.dtype, np.floating):
        full = 1.0
    else:
        return False
    return bool(channel.size) and bool((channel == full).all())


def transparency_note(image: np.ndarray, name: str) -> str | None:
    """A sentence for a colour image with an alpha channel (the caller knows the 4th
    channel is one: a PNG, a layer napari shows as RGBA) that is transparent in
    places; None when it is opaque. Its alpha is synthesized like a colour, so an
    erased object's area got see-through holes, without a word (found by a new user)."""
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[-1] != 4 or is_opaque_alpha(image[..., 3]):
        return None
    alpha = image[..., 3]
    full = np.iinfo(alpha.dtype).max if np.issubdtype(alpha.dtype, np.integer) else 1.0
    share = float(np.mean(alpha < full))
    return (f"{name} is transparent in places ({max(share, 0.001):.1%} of its pixels): its transparency "
            f"is synthesized like a fourth colour, so where objects are removed or moved the result "
            f"may come out partly see-through. Give the transparent area a class of its own, or "
            f"flatten the image onto a background first.")


def grey_as_colour_note(image: np.ndarray, name: str, to_grey: str, depth_unknown: bool = True) -> str | None:
    """A sentence for a colour image whose three colour channels are equal (a grey
    micrograph exported as RGB); None otherwise. It trains and synthesizes as colour
    without a word, and an 8-bit export may have lost the microscope's depth (found
    by a new user with a 16-bit SEM image). ``to_grey``: how to make a grey image of
    it, in the caller's terms; ``depth_unknown``: False where another note already
    names the file's depth (napari's 8 bits of a 16-bit PNG)."""
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[-1] not in (3, 4) or image_layout(image) == "channels":
        return None
    red = image[..., 0]
    if not (np.array_equal(red, image[..., 1]) and np.array_equal(red, image[..., 2])):
        return None
    depth = ""
    if image.dtype == np.uint8 and depth_unknown:
        depth = (" If the instrument saved the image with more than 8 bits (a 16-bit TIFF), "
                 "open that file instead: this one has 8.")
    return (f"{name} is a grey image stored as colour (its three colour channels are equal): the "
            f"model and its results are colour images. To work in grey, {to_grey}.{depth}")


def describe_layout(layout: str, channels: int) -> str:
    """'a grey image', 'a 3-channel (RGB) image', 'an image of 2 channels', for messages."""
    named = {"gray": "a grey image", "rgb": "a 3-channel (RGB) image", "rgba": "an RGBA image"}
    return named.get(layout, f"an image of {channels} channel{'s' if channels != 1 else ''}")


def describe_image(image: np.ndarray) -> str:
    """What ``image`` is, in the words of :func:`describe_layout`."""
    layout = image_layout(image)
    return describe_layout(layout, _channels_last(image, layout).shape[-1])


def _channels_last(image: np.ndarray, layout: str) -> np.ndarray:
    if layout == "gray":
        return image[..., None]
    if layout == "rgba":
        return image[..., :3]
    return image


@dataclass(frozen=True)
class IntensityNormalizer:
    """Per-channel map ``x = (s(value) - center) / half_range``, clipped, where
    ``s`` is the identity, or for a linear high-dynamic-range channel (module
    docstring) ``asinh((value - floor) / softening)``; ``center`` and
    ``half_range`` are in ``s``'s units."""

    layout: str
    dtype: str
    center: tuple[float, ...]
    half_range: tuple[float, ...]
    data_min: tuple[float, ...]
    data_max: tuple[float, ...]
    #: Per channel; a softening of 0 leaves the channel linear. Empty: all linear
    #: (models saved before the stretch existed).
    floor: tuple[float, ...] = ()
    softening: tuple[float, ...] = ()

    @property
    def stretched(self) -> bool:
        """Whether any channel is asinh-stretched."""
        return any(v > 0 for v in self.softening)

    def _stretch(self, values: np.ndarray) -> np.ndarray:
        """Channels-last float values in ``s``'s units (in place where stretched)."""
        if not self.stretched:
            return values
        for c, (floor, softening) in enumerate(zip(self.floor, self.softening)):
            if softening > 0:
                values[..., c] = np.arcsinh((values[..., c] - np.float32(floor)) / np.float32(softening))
        return values

    def _unstretch(self, values: np.ndarray) -> np.ndarray:
        """The inverse of :meth:`_stretch`, in place (float64 channels-last)."""
        if not self.stretched:
            return values
        for c, (floor, softening) in enumerate(zip(self.floor, self.softening)):
            if softening > 0:
                # Beyond float64's sinh (the clip keeps network values near +-1.2,
                # but an excess may be added): bounded by the data range afterwards.
                np.clip(values[..., c], -700.0, 700.0, out=values[..., c])
                values[..., c] = floor + softening * np.sinh(values[..., c])
        return values

    def _network_units(self, strip: np.ndarray) -> np.ndarray:
        """Channels-last values -> normalised float32, unclipped."""
        x = self._stretch(strip.astype(np.float32))
        return (x - np.asarray(self.center, dtype=np.float32)) / np.asarray(self.half_range, dtype=np.float32)

    @property
    def channels(self) -> int:
        """Channels the network sees (and the output has, in channels-last)."""
        return len(self.center)

    @property
    def description(self) -> str:
        """What the fitted image is: 'a 3-channel (RGB) image', 'an image of 2 channels'."""
        return describe_layout(self.layout, self.channels)

    @classmethod
    def fit(cls, image, stretch: bool = True) -> IntensityNormalizer:
        """Fitted to ``image``; ``stretch=False`` keeps every channel linear (a model
        saved before the stretch existed, trained further on the same data)."""
        image = np.asarray(image)
        if image.size == 0:
            raise SemiaInputError(f"The image is empty (shape {image.shape}).")
        if not (np.issubdtype(image.dtype, np.integer) or np.issubdtype(image.dtype, np.floating)):
            raise SemiaInputError(
                f"Unsupported image dtype {image.dtype}; use an integer or float image."
            )
        layout = image_layout(image)
        full = _channels_last(image, layout)
        if np.issubdtype(full.dtype, np.floating) and not np.isfinite(full).all():
            raise SemiaInputError(
                f"The image contains {int((~np.isfinite(full)).sum())} NaN or infinite values."
            )
        largest = float(np.abs(full).max())
        if largest > _FLOAT32_MAX:
            # The networks compute in float32: such values became inf, then NaN
            # results, and a training that stopped before its first step.
            raise SemiaInputError(
                f"The image has values up to {largest:.3g}, beyond what float32 holds "
                f"({_FLOAT32_MAX:.3g}); divide it by a constant first."
            )
        pixels = full.reshape(-1, full.shape[-1])
        if pixels.shape[0] > _PERCENTILE_SAMPLE:
            pixels = pixels[:: pixels.shape[0] // _PERCENTILE_SAMPLE + 1]
        low, median, high = np.percentile(
            pixels.astype(np.float64), [LOW_PERCENTILE, 50.0, HIGH_PERCENTILE], axis=0
        )
        data_min = full.min(axis=(0, 1)).astype(np.float64)
        data_max = full.max(axis=(0, 1)).astype(np.float64)
        floor, softening = _stretch_parameters(low, median, high)
        soft = np.asarray(softening) > 0
        if not stretch:
            soft[:] = False
        # The stretch is monotonic: the stretched percentiles are (up to the
        # interpolation between two samples) the percentiles of the stretched values;
        # the floor is the low one, so it maps to 0.
        scale = np.where(soft, softening, 1.0)
        high = np.where(soft, np.arcsinh((high - low) / scale), high)
        low = np.where(soft, 0.0, low)
        center = (low + high) / 2.0
        half_range = (high - low) / 2.0
        # A (nearly) constant channel maps to 0 and back to its value; never divide by 0.
        flat = half_range <= 1e-12 * np.maximum(1.0, np.abs(center))
        half_range = np.where(flat, 1.0, half_range)
        return cls(
            layout=layout,
            dtype=image.dtype.str,
            center=tuple(float(v) for v in center),
            half_range=tuple(float(v) for v in half_range),
            data_min=tuple(float(v) for v in data_min),
            data_max=tuple(float(v) for v in data_max),
            floor=floor if soft.any() else (),
            softening=softening if soft.any() else (),
        )

    def _check_layout(self, image: np.ndarray) -> None:
        layout = image_layout(image)
        channels = _channels_last(image, layout).shape[-1]
        if layout != self.layout or channels != self.channels:
            raise SemiaInputError(
                f"Image of shape {image.shape} does not match the {self.layout} image "
                f"with {self.channels} channel(s) this normaliser was fitted on."
            )

    def to_network(self, image, on_strip: Callable[[float], None] | None = None) -> np.ndarray:
        """Image -> float32 (C, H, W) in about [-1, 1]. Converted a strip of rows at
        a time (no float copies of a large image); ``on_strip(fraction done)``
        after each (it may raise to abandon the conversion)."""
        image = np.asarray(image)
        self._check_layout(image)
        values = _channels_last(image, self.layout)
        out = np.empty((self.channels,) + values.shape[:2], dtype=np.float32)
        height = values.shape[0]
        for y in range(0, height, _STRIP_ROWS):
            x = self._network_units(values[y:y + _STRIP_ROWS])
            out[:, y:y + _STRIP_ROWS] = np.moveaxis(np.clip(x, -CLIP, CLIP), -1, 0)
            if on_strip is not None:
                on_strip(min(1.0, (y + _STRIP_ROWS) / height))
        return out

    def beyond_range(self, image) -> np.ndarray:
        """(H, W) bool: the pixels with a channel outside the fitted percentile range
        (normalised beyond [-1, 1]), which the generator's outputs cannot show (they
        are clamped to it). A strip of rows at a time."""
        image = np.asarray(image)
        self._check_layout(image)
        values = _channels_last(image, self.layout)
        out = np.empty(values.shape[:2], dtype=bool)
        for y in range(0, values.shape[0], _STRIP_ROWS):
            out[y:y + _STRIP_ROWS] = (np.abs(self._network_units(values[y:y + _STRIP_ROWS])) > 1).any(-1)
        return out

    def excess(self, image, on_strip: Callable[[float], None] | None = None) -> np.ndarray | None:
        """How far ``image``'s normalised values lie beyond the clip at +-CLIP
        (float32 (C, H, W), 0 within it), or None when none does (judged from
        the fitted data range, without reading the image).

        :meth:`to_network` clips the tails so outliers do not steer the networks
        and patch matching; the full-resolution stage adds this back to what it
        copies, so a rare bright object (a few fluorescent spots, 0.2 % of the
        pixels) keeps its real intensity in the output instead of the 99.5th
        percentile's (found by a user generating training data).
        """
        extremes = self._stretch(np.stack([self.data_min, self.data_max]).astype(np.float64))
        reach = np.abs((extremes - np.asarray(self.center)) / np.asarray(self.half_range))
        if not (reach > CLIP).any():
            return None
        image = np.asarray(image)
        self._check_layout(image)
        values = _channels_last(image, self.layout)
        out = np.empty((self.channels,) + values.shape[:2], dtype=np.float32)
        height = values.shape[0]
        for y in range(0, height, _STRIP_ROWS):  # a strip at a time: no float copy of a large image
            x = self._network_units(values[y:y + _STRIP_ROWS])
            out[:, y:y + _STRIP_ROWS] = np.moveaxis(x - np.clip(x, -CLIP, CLIP), -1, 0)
            if on_strip is not None:
                on_strip(min(1.0, (y + _STRIP_ROWS) / height))
        return out

    def from_network(self, x) -> np.ndarray:
        """Float (C, H, W) (or (1, C, H, W); numpy or torch) -> image like the source.

        The result has the source's dtype, lies within the source's value range,
        and has its layout: (H, W) for grayscale, (H, W, C) otherwise (RGBA
        sources come back as RGB).
        """
        if hasattr(x, "detach"):  # a torch tensor; no torch import needed here
            x = x.detach().float().cpu().numpy()
        x = np.asarray(x)
        if x.ndim == 4 and x.shape[0] == 1:
            x = x[0]
        if x.ndim != 3 or x.shape[0] != self.channels:
            raise SemiaInputError(
                f"Network output of shape {x.shape} does not have the expected "
                f"{self.channels} channel(s) first."
            )
        # In float64 (the product with the float64 half range), in place after it:
        # the same values as step by step, at less than half the time.
        values = np.moveaxis(x, 0, -1) * np.asarray(self.half_range, dtype=np.float64)
        values += np.asarray(self.center)
        values = self._unstretch(values)
        np.clip(values, np.asarray(self.data_min), np.asarray(self.data_max), out=values)
        dtype = np.dtype(self.dtype)
        if np.issubdtype(dtype, np.integer):
            np.round(values, out=values)
        out = values.astype(dtype)
        return out[..., 0] if self.layout == "gray" else out

    def to_dict(self) -> dict:
        return {
            "layout": self.layout,
            "dtype": self.dtype,
            "center": list(self.center),
            "half_range": list(self.half_range),
            "data_min": list(self.data_min),
            "data_max": list(self.data_max),
            **({"floor": list(self.floor), "softening": list(self.softening)} if self.stretched else {}),
        }

    @classmethod
    def from_dict(cls, data: dict) -> IntensityNormalizer:
        try:
            normalizer = cls(
                layout=str(data["layout"]),
                dtype=str(data["dtype"]),
                center=tuple(float(v) for v in data["center"]),
                half_range=tuple(float(v) for v in data["half_range"]),
                data_min=tuple(float(v) for v in data["data_min"]),
                data_max=tuple(float(v) for v in data["data_max"]),
                floor=tuple(float(v) for v in data.get("floor", ())),
                softening=tuple(float(v) for v in data.get("softening", ())),
            )
            np.dtype(normalizer.dtype)
        except (KeyError, TypeError, ValueError) as error:
            raise SemiaInputError(f"Invalid intensity normaliser data: {error!r}.") from None
        if normalizer.layout not in ("gray", "rgb", "rgba", "channels"):
            raise SemiaInputError(f"Invalid intensity normaliser layout {normalizer.layout!r}.")
        if len(normalizer.floor) != len(normalizer.softening) or (
                normalizer.softening and len(normalizer.softening) != normalizer.channels) or not all(
                np.isfinite(v) and v >= 0 for v in normalizer.softening):
            raise SemiaInputError(
                "Invalid intensity normaliser data: its stretch does not match its channels.")
        return normalizer
