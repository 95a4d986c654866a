"""What is known of a source image beyond its pixels: its channels' names and its
pixel size.

A model keeps it (read from the source's TIFF by the CLI, or from the layers
trained on in napari), and results written to TIFF carry it: a microscopist's
synthetic images came back without their calibration, and a 3-channel
fluorescence result was written as an RGB photo, its channel names lost.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

#: Spellings of length units in ImageJ and OME files and in napari (pint), and the
#: OME symbol each is written as.
_LENGTH_UNITS = {
    "µm": ("micron", "microns", "um", "\u00b5m", "\u03bcm", "micrometer", "micrometre", "micrometers",
           "micrometres"),
    "nm": ("nm", "nanometer", "nanometre", "nanometers", "nanometres"),
    "mm": ("mm", "millimeter", "millimetre", "millimeters", "millimetres"),
    "cm": ("cm", "centimeter", "centimetre", "centimeters", "centimetres"),
    "m": ("m", "meter", "metre", "meters", "metres"),
    "Å": ("\u00c5", "\u212b", "angstrom", "angstroms"),
    "in": ("in", "inch", "inches"),
}
_SYMBOLS = {spelling: symbol for symbol, spellings in _LENGTH_UNITS.items() for spelling in spellings}
#: Units OME-TIFF files may name (a part of its UnitsLength).
OME_LENGTH_UNITS = frozenset(_LENGTH_UNITS)


def unit_name(unit) -> str:
    """A length unit as files and napari give it ('micron', 'um', ImageJ's escaped
    '\\u00B5m', a pint unit) in its short form ('µm', 'nm', ...); '' for none or
    pixels; other units as given."""
    # ImageJ writes the non-ASCII characters of its unit as \uXXXX, which tifffile keeps.
    text = re.sub(r"\\u([0-9a-fA-F]{4})", lambda match: chr(int(match[1], 16)), str(unit or "")).strip()
    if text.lower() in ("", "pixel", "pixels", "px", "none"):
        return ""
    return _SYMBOLS.get(text.lower(), text)


@dataclass(frozen=True)
class SourceInfo:
    channel_names: tuple[str, ...] = ()
    """One name per channel of a multichannel source that is no RGB colour image
    (empty when unknown, or for grey and colour images)."""
    pixel_size: tuple[float, float] | None = None
    """(row, column) size of a pixel, in ``unit``; None when not known."""
    unit: str = ""
    """The unit of ``pixel_size`` ('µm', 'nm', ...); '' for none given."""
    colour: bool = False
    """Whether the source is a colour image, RGB or RGBA, whatever its 4th channel
    holds (a napari RGB layer, a PNG with transparency): a 4-channel result is then
    RGBA, not four channels of data. A model trained on a transparent photo, used
    with another image, gave four grey layers (found by a new user)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "channel_names", tuple(str(name) for name in self.channel_names))
        if self.pixel_size is not None:
            size = tuple(float(v) for v in self.pixel_size)
            if len(size) != 2 or not all(v > 0 and v == v and v != float("inf") for v in size):
                size = None  # (nothing rather than a calibration that makes no sense)
            object.__setattr__(self, "pixel_size", size)

    @property
    def is_channels(self) -> bool:
        """Whether the source's channels are named: channels of data, even three
        of them, never the red, green and blue of a colour image."""
        return bool(self.channel_names)

    @property
    def has_metadata(self) -> bool:
        """Whether there are channel names or a pixel size, which a TIFF of a result carries."""
        return bool(self.channel_names) or self.pixel_size is not None

    @property
    def is_empty(self) -> bool:
        """Whether nothing is known (no metadata, not known to be colour)."""
        return not self.has_metadata and not self.colour

    def continued_from(self, resumed: SourceInfo) -> SourceInfo:
        """This info for a model continued from one that had ``resumed``: what this one
        does not tell (layers or a file with no unit, or no channel names) is the
        resumed model's, field by field (a file of a pixel size alone dropped the
        model's channel names; found in review)."""
        sized = self.pixel_size is not None
        return SourceInfo(self.channel_names or resumed.channel_names,
                          self.pixel_size if sized else resumed.pixel_size,
                          self.unit if sized else resumed.unit, self.colour or resumed.colour)

    def __bool__(self) -> bool:
        # "Nothing known" and "no metadata to write" are two questions: a colour-only
        # info, true for the first, was taken for new metadata, and a continued model
        # lost its pixel size (found in review).
        raise TypeError("SourceInfo has no truth value: ask has_metadata or is_empty")

    def describe(self) -> str:
        """'channels DAPI, Actin; pixel 0.325 × 0.325 µm' (its known parts), for messages."""
        parts = []
        if self.channel_names:
            parts.append("channels " + ", ".join(self.channel_names))
        if self.pixel_size is not None:
            rows, cols = (f"{v:.6g}" for v in self.pixel_size)
            parts.append(f"pixel {rows} × {cols}{' ' + self.unit if self.unit else ''}")
        return "; ".join(parts)

    def to_dict(self) -> dict:
        data = {"channel_names": list(self.channel_names),
                "pixel_size": None if self.pixel_size is None else list(self.pixel_size),
                "unit": self.unit}
        if self.colour:  # (only then: files written before it existed read the same)
            data["colour"] = True
        return data

    @classmethod
    def from_dict(cls, data: dict | None) -> SourceInfo:
        data = data or {}
        size = data.get("pixel_size")
        return cls(tuple(data.get("channel_names") or ()), None if size is None else tuple(size),
                   str(data.get("unit") or ""), bool(data.get("colour", False)))

    def resized(self, source_shape, shape) -> SourceInfo:
        """This info for the source resized from ``source_shape`` to ``shape`` (H, W):
        a working-size image's pixels are larger."""
        if self.pixel_size is None or tuple(shape) == tuple(source_shape):
            return self
        size = tuple(p * s / n for p, s, n in zip(self.pixel_size, source_shape, shape))
        return replace(self, pixel_size=size)

    def fitting(self, image) -> SourceInfo:
        """This info for ``image`` ((H, W) or (H, W, C)): names of another count of
        channels are dropped (a file's names for channels that were not kept, a label
        map's channel), and so is colour for other than 3 or 4 channels."""
        channels = image.shape[-1] if image.ndim == 3 else 1
        fitted = self
        if self.channel_names and len(self.channel_names) != channels:
            fitted = replace(fitted, channel_names=())
        if self.colour and channels not in (3, 4):
            fitted = replace(fitted, colour=False)
        return fitted
