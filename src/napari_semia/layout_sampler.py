"""New plausible layouts from one label map, for synthetic training data.

A :class:`LayoutSampler` takes the source label map and makes any number of
varied layouts from it, each one the same for a given ``(seed, index)``:

* The classes are split into **objects** and **background** (by default the
  largest class by area is the background, every other class an object).
* An **instance** is a connected region of object pixels (8-connected), with
  the holes it encloses: a gland keeps its lumen, a cell its nucleus, even
  when the hole is of a background class.
* Every instance may be dropped, flipped, rotated, scaled and moved, and
  copies of it may be added elsewhere (:class:`LayoutSamplerSettings` holds
  the probabilities and ranges). Moved and new instances never cover another
  object unless ``allow_overlap`` is set; an instance that finds no free place
  stays where it was (or is dropped when even that place is taken).
* Where an instance was, the background around it flows in: each vacated pixel
  takes the class of the nearest background pixel.
* Instances that touch the image border (moving them would show a straight
  cut edge) or that cover a large part of the image are scenery: they stay in
  place (border ones may still be dropped).
* Optionally (``keep_surroundings``), instances go only where the background
  is the class around them in the source: nuclei stay inside cells.
* Optionally, a smooth random elastic warp of the whole layout follows.

Every output pixel holds an id of the source, and each layout comes with a
JSON-able record of what was done to which instance.

numpy / scipy / scikit-image only: no torch, Qt or napari.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields, replace

import numpy as np
from scipy import ndimage as ndi

from .errors import SemiaInputError
from .labels import LabelCodec, format_ids

#: 8-connectivity: pixels touching at a corner belong to one instance.
_EIGHT_CONNECTED = np.ones((3, 3), bool)
#: Class index of "no object here" inside a transformed instance crop.
_OUTSIDE = -1
#: Decimals kept for floats in the JSON record.
_RECORD_DECIMALS = 3
#: The most a sampler's strength may be (:meth:`LayoutSamplerSettings.scaled`).
MAX_STRENGTH = 3.0


def layout_rng(seed: int, index: int) -> np.random.Generator:
    """The random generator of layout ``index`` for run ``seed``.

    Derived from both numbers only, so layout ``index`` is the same whatever
    the number of layouts and whichever process makes it.
    """
    return np.random.default_rng(np.random.SeedSequence([int(seed), int(index)]))


#: The changes a layout may have, each with its ``<name>_probability`` setting.
_CHANGES = ("move", "rotate", "scale", "flip", "drop", "duplicate", "elastic")


@dataclass(frozen=True)
class LayoutSamplerSettings:
    """Which classes are objects, and how far each layout may depart from the source.

    Probabilities are per instance (per layout for the elastic warp); lengths
    are fractions of the image side, so settings carry over between sizes.
    """

    object_ids: tuple[int, ...] | None = None
    """User ids of the object classes. None: every class that is not background."""
    background_ids: tuple[int, ...] | None = None
    """User ids of the background classes. None: all classes that are not objects
    when ``object_ids`` is given, else the largest class by area."""
    move_probability: float = 0.7
    max_shift: float = 0.3
    """Largest move, as a fraction of the image height (vertical) and width (horizontal)."""
    rotate_probability: float = 0.5
    max_rotation_deg: float = 45.0
    scale_probability: float = 0.5
    scale_range: tuple[float, float] = (0.8, 1.25)
    flip_probability: float = 0.3
    drop_probability: float = 0.1
    duplicate_probability: float = 0.15
    allow_overlap: bool = False
    min_gap_px: int = 1
    """Background pixels kept between placed objects (when overlap is not allowed)."""
    placement_attempts: int = 20
    move_border_objects: bool = False
    """Also move instances that touch the image border (their cut edge shows)."""
    keep_surroundings: bool = False
    """Moved and copied instances go only where the background under them is the class
    that surrounds them in the source, as much of it as there: nuclei stay inside
    cells, and are not set down in the space between them."""
    max_object_fraction: float = 0.2
    """Instances covering more of the image than this are scenery and stay in place."""
    elastic_probability: float = 0.5
    elastic_strength: float = 0.02
    """Largest elastic displacement, as a fraction of the shorter side; 0 = no warp."""
    elastic_smoothness: float = 0.25
    """Spacing of the warp's random control points, as a fraction of the shorter side."""

    def __post_init__(self) -> None:
        for name in ("object_ids", "background_ids"):
            ids = getattr(self, name)
            if ids is not None:
                object.__setattr__(self, name, tuple(int(i) for i in ids))
        object.__setattr__(self, "scale_range", tuple(float(v) for v in self.scale_range))
        low, high = self.scale_range if len(self.scale_range) == 2 else (0.0, 0.0)
        checks = [
            (len(self.scale_range) == 2 and 0 < low <= high,
             "scale_range must be (low, high) with 0 < low <= high"),
            (0 <= self.max_shift <= 1, "max_shift must be in [0, 1]"),
            (0 <= self.max_rotation_deg <= 180, "max_rotation_deg must be in [0, 180]"),
            (self.min_gap_px >= 0, "min_gap_px must be 0 or more"),
            (self.placement_attempts >= 1, "placement_attempts must be at least 1"),
            (0 < self.max_object_fraction <= 1, "max_object_fraction must be in (0, 1]"),
            (0 <= self.elastic_strength <= 0.5, "elastic_strength must be in [0, 0.5]"),
            (0 < self.elastic_smoothness <= 1, "elastic_smoothness must be in (0, 1]"),
        ]
        for name in _CHANGES:
            value = getattr(self, f"{name}_probability")
            checks.append((0 <= value <= 1, f"{name}_probability must be in [0, 1]"))
        for ok, message in checks:
            if not ok:
                raise SemiaInputError(f"Invalid layout sampler setting: {message}.")
        if self.object_ids is not None and self.background_ids is not None:
            both = sorted(set(self.object_ids) & set(self.background_ids))
            if both:
                raise SemiaInputError(f"Class id(s) {both} are named both as objects and as background.")

    def scaled(self, strength: float) -> LayoutSamplerSettings:
        """These settings with every change made ``strength`` times as likely and
        as large (0 = layouts equal the source, 1 = unchanged, 2 = twice as wild).

        One knob for a user interface; probabilities saturate at 1.
        """
        if not 0 <= strength <= MAX_STRENGTH:
            # (From about 10 on, every object was dropped: empty label maps, with no word.)
            raise SemiaInputError(f"Sampler strength must be 0 to {MAX_STRENGTH:g}; got {strength}.")
        low, high = self.scale_range
        changes = {
            f"{name}_probability": min(1.0, getattr(self, f"{name}_probability") * strength)
            for name in _CHANGES
        }
        changes.update(
            max_shift=min(1.0, self.max_shift * strength),
            max_rotation_deg=min(180.0, self.max_rotation_deg * strength),
            scale_range=(low**strength, high**strength),
            elastic_strength=min(0.5, self.elastic_strength * strength),
        )
        return replace(self, **changes)

    @property
    def changes_nothing(self) -> bool:
        """Whether every change is off (a strength of 0), so that every layout is the source's
        (an elastic warp of strength 0 is none)."""
        warps = self.elastic_probability > 0 and self.elastic_strength > 0
        return not warps and all(getattr(self, f"{name}_probability") == 0
                                 for name in _CHANGES if name != "elastic")

    def to_dict(self) -> dict:
        data = asdict(self)
        if not data["keep_surroundings"]:
            # (Left out when off: datasets recorded before it existed keep their settings.)
            del data["keep_surroundings"]
        for name in ("object_ids", "background_ids", "scale_range"):
            if data[name] is not None:
                data[name] = list(data[name])
        return data

    @classmethod
    def from_dict(cls, data: dict) -> LayoutSamplerSettings:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise SemiaInputError(f"Unknown layout sampler setting(s): {', '.join(unknown)}.")
        values = dict(data)
        for name in ("object_ids", "background_ids", "scale_range"):
            if values.get(name) is not None:
                values[name] = tuple(values[name])
        return cls(**values)


@dataclass(frozen=True)
class SampledLayout:
    index: int
    seed: int
    labels: np.ndarray
    """(H, W) user ids of the source (int32, or int64 for ids beyond int32)."""
    record: dict
    """JSON-able account of what was done (see :meth:`LayoutSampler.sample`)."""
    source_positions: np.ndarray | None = None
    """(2, H, W) float32: for each pixel of an object that was moved, flipped,
    rotated, scaled, copied or warped, the source row and column it comes from;
    NaN elsewhere. The full-resolution stage copies those pixels from there
    (``known_sources``): small objects come out whole. None: nothing moved."""

    @property
    def summary(self) -> str:
        return summarize_record(self.record)


@dataclass(frozen=True)
class _Instance:
    number: int
    """1-based, in the order of ``scipy.ndimage.label`` (row-major first pixel)."""
    top: int
    left: int
    crop: np.ndarray
    """Class indices inside the instance's footprint, ``_OUTSIDE`` elsewhere in its box."""
    centroid: tuple[float, float]
    """Row, column of the footprint's centre of mass, in image coordinates."""
    area: int
    classes: tuple[int, ...]
    touches_border: bool
    scenery: bool
    """Too large to move (``max_object_fraction``)."""


@dataclass(frozen=True)
class _Placed:
    crop: np.ndarray
    top: int
    left: int
    to_source: tuple[np.ndarray, np.ndarray] | None = None
    """(matrix, offset): a crop pixel (row, col) comes from the source's
    ``matrix @ (row, col) + offset``. None: the instance in its own place."""


class LayoutSampler:
    """Makes new layouts from a source label map; see the module docstring.

    ``source_labels``: (H, W) integer ids, or an RGB colour-coded map. With a
    ``codec`` (e.g. a trained model's), the labels are encoded with it, so the
    layouts hold exactly the model's classes; without, one is built from the
    labels.
    """

    def __init__(self, source_labels, settings: LayoutSamplerSettings | None = None,
                 codec: LabelCodec | None = None) -> None:
        if codec is None:
            codec, index = LabelCodec.from_source(source_labels)
        else:
            index = codec.encode(source_labels)
        self._init(index, codec, settings or LayoutSamplerSettings())

    @classmethod
    def from_index(cls, source_index: np.ndarray, codec: LabelCodec,
                   settings: LayoutSamplerSettings | None = None) -> LayoutSampler:
        """A sampler for a map of class indices 0..K-1 of ``codec``."""
        index = np.asarray(source_index)
        if index.ndim != 2 or not np.issubdtype(index.dtype, np.integer):
            raise SemiaInputError(
                f"A class-index map must be a 2D integer array; got {index.shape} {index.dtype}.")
        if index.size and (index.min() < 0 or index.max() >= codec.num_classes):
            raise SemiaInputError(f"Class indices must be in 0..{codec.num_classes - 1}.")
        sampler = cls.__new__(cls)
        sampler._init(index.astype(np.int64), codec, settings or LayoutSamplerSettings())
        return sampler

    @property
    def uses_default_classes(self) -> bool:
        """Whether the objects and background are the default ones (every class but
        the largest, and the largest), whether named or not."""
        return self.object_ids == tuple(sorted(default_object_ids(self._index, self.codec.class_ids)))

    def _init(self, index: np.ndarray, codec: LabelCodec, settings: LayoutSamplerSettings) -> None:
        self.codec = codec
        self.settings = settings
        self.shape: tuple[int, int] = (int(index.shape[0]), int(index.shape[1]))
        self._index = index
        self.object_ids, self.background_ids = _split_classes(index, codec, settings)
        if not self.object_ids and settings.elastic_strength == 0:
            raise SemiaInputError(
                "No object classes and no elastic warp: every layout would equal the source. "
                "Name some object classes or turn the elastic warp on."
            )
        self._object_classes = np.searchsorted(np.asarray(codec.class_ids), self.object_ids)
        self._instances, footprints = _find_instances(index, self._object_classes,
                                                      settings.max_object_fraction)
        self._canvas = _fill_from_background(index, footprints)
        # Each instance's surrounding class (what fills its place once it has gone) and
        # how much of its footprint that class fills, for ``keep_surroundings``.
        self._surroundings = {instance.number: _surrounding(self._canvas, instance)
                              for instance in self._instances}

    @property
    def instances(self) -> int:
        """Number of object instances found in the source."""
        return len(self._instances)

    @property
    def movable(self) -> int:
        """Instances a layout may move, drop or duplicate: not scenery (too large),
        and not cut by the image's edge unless ``move_border_objects``."""
        return sum(not inst.scenery and (self.settings.move_border_objects or not inst.touches_border)
                   for inst in self._instances)

    def mostly_fixed_note(self, share: float = 0.5) -> str | None:
        """A sentence when some objects can move but at least ``share`` of the objects'
        area (footprints, holes filled) is in regions that cannot (too large, or cut by
        the image's edge), else None: a retina's vessel tree, one region with the disc
        it reaches, never moved while a few small fragments did, without a word (found
        by a new user)."""
        if not self.movable or self.settings.changes_nothing:
            return None  # (``unchanging_note`` speaks)
        settings = self.settings
        total = sum(instance.area for instance in self._instances)
        too_large = sum(instance.area for instance in self._instances if instance.scenery)
        cut = sum(instance.area for instance in self._instances if not instance.scenery
                  and instance.touches_border and not settings.move_border_objects)
        if too_large + cut <= share * total:
            return None

        def percent(part: int) -> str:  # (never "100%" while some region moves)
            return f"{min(part / total, 0.99):.0%}"

        reasons = []
        if too_large:
            reasons.append(f"{percent(too_large)} in regions too large to move (over "
                           f"{settings.max_object_fraction:.0%} of the image; touching objects count as one "
                           "region, and a network's loops are filled, so a vessel tree can be one large "
                           "region)")
        if cut:
            dropped = (f", though they may be dropped (each in {settings.drop_probability:.0%} of the "
                       "layouts)" if settings.drop_probability > 0 else "")
            reasons.append(f"{percent(cut)} in regions cut by the image's edge{dropped}; the command line's "
                           "--move-border-objects (in Python, move_border_objects=True) moves them")
        return (f"Most of the objects' footprint (loops filled) keeps its place in the layouts: "
                f"{' and '.join(reasons)}.{self._joining_class_hint() if too_large else ''} "
                f"Only {self.movable} smaller region(s) move.")

    def _joining_class_hint(self) -> str:
        """Where the regions too large to move hold several object classes, the one that
        fills most of them, as a class to leave out of the objects: a histology sample's
        stroma, a network around its nuclei, kept them all in place, and the note named
        no remedy (found by a new user). '' otherwise."""
        objects = set(self._object_classes.tolist())
        area: dict[int, int] = {}
        for instance in self._instances:
            if not instance.scenery:
                continue
            values, counts = np.unique(instance.crop[instance.crop != _OUTSIDE], return_counts=True)
            held = {value: count for value, count in zip(values.tolist(), counts.tolist())
                    if value in objects}
            if len(held) >= 2:  # (only regions that join classes: a region of one class joins none; a review)
                for value, count in held.items():
                    area[value] = area.get(value, 0) + count
        if not area:
            return ""
        joining = int(self.codec.class_ids[max(area, key=area.get)])
        return (f" The large regions join object classes, mostly class {joining}: with it left out of the "
                "objects (unticked, or not in --objects), the classes it holds can move.")

    def unchanging_note(self) -> str | None:
        """A sentence when no instance can change, so that every layout is the
        source's (warped at most), else None."""
        if self.settings.changes_nothing:
            # (Strength 0 wrote them without a word; found by a new user.)
            return ("Every layout is the source's: no change is on (a strength of 0 turns them all off), "
                    "so every pair's labels are the source's, and its image the source synthesized again.")
        if self.movable:
            return None
        warp = " with at most the elastic warp" if self.settings.elastic_strength > 0 else ""
        found = (f"the {self.instances} object region(s) found are too large (over "
                 f"{self.settings.max_object_fraction:.0%} of the image) or cut by its edge"
                 if self.instances else "no object region was found")
        # A region cut by the edge may still be dropped: "every pair has the source's
        # layout" was false where one was (found by a new user).
        droppable = (sum(not instance.scenery for instance in self._instances)
                     if self.settings.drop_probability > 0 else 0)
        if droppable:
            outcome = (f"pairs differ from the source's layout only where one of the {droppable} region(s) "
                       f"cut by the edge is dropped (each in {self.settings.drop_probability:.0%} of the "
                       f"pairs){' and by the elastic warp' if warp else ''}")
        else:
            outcome = f"every pair has the source's layout{warp}"
        chosen = ("the largest class" if self.uses_default_classes
                  else "as chosen" if self.settings.background_ids is not None
                  else "the classes not chosen as objects")
        # Which classes were taken for what: in a dense culture the cells are the
        # largest class, taken for the background, and the note named neither.
        return (f"No object can move: {found}, so {outcome}. Objects: "
                f"class(es) {_ids(self.object_ids)}; background: class(es) {_ids(self.background_ids)} "
                f"({chosen}). Choose fewer or smaller object classes, or other ones (touching objects "
                f"of the chosen classes count as one region).")

    @property
    def source_labels(self) -> np.ndarray:
        return self.codec.decode(self._index)

    # ------------------------------------------------------------------ sample
    def sample(self, index: int, seed: int = 0) -> SampledLayout:
        """Layout number ``index`` of run ``seed`` (both >= 0).

        The record holds ``index``, ``seed``, ``instances`` (the number found),
        ``changes`` (one entry per instance that was moved, transformed,
        dropped or duplicated: instance number, its class ids, area, centre,
        and ``shift`` (dy, dx in px), ``rotation_deg``, ``scale``, ``flip``)
        and ``elastic`` (None or the warp's size in px).
        """
        if index < 0 or seed < 0:
            raise SemiaInputError(f"Layout index and seed must be 0 or more; got {index} and {seed}.")
        rng = layout_rng(seed, index)
        settings = self.settings
        canvas = self._canvas.copy()
        occupied = np.zeros(self.shape, bool)
        positions = np.full((2, *self.shape), np.nan, np.float32)
        changes: list[dict] = []

        # Largest first: big instances are the hardest to place.
        order = sorted(self._instances, key=lambda inst: (-inst.area, inst.number))
        movable = []
        for instance in order:
            fixed = instance.scenery or (instance.touches_border and not settings.move_border_objects)
            if not instance.scenery and rng.random() < settings.drop_probability:
                changes.append(self._describe(instance, action="dropped", reason="random"))
            elif fixed:
                self._paint(canvas, occupied, _Placed(instance.crop, instance.top, instance.left),
                            positions)
            else:
                movable.append(instance)

        for instance in movable:
            transform = self._draw_transform(rng, moving=rng.random() < settings.move_probability)
            placed, shift = self._place(rng, occupied, instance, transform, anywhere=False)
            if placed is None:  # no free place for the changed instance: keep it as it was
                placed, shift = self._place_unchanged(occupied, instance)
                transform = _IDENTITY
            if placed is None:
                changes.append(self._describe(instance, action="dropped", reason="no room"))
                continue
            self._paint(canvas, occupied, placed, positions)
            if shift != (0, 0) or _changes_shape(transform):
                changes.append(self._describe(instance, action="moved", shift=shift, transform=transform))

        for instance in movable:
            if rng.random() >= settings.duplicate_probability:
                continue
            transform = self._draw_transform(rng, moving=True)
            placed, shift = self._place(rng, occupied, instance, transform, anywhere=True)
            if placed is not None:
                self._paint(canvas, occupied, placed, positions)
                changes.append(
                    self._describe(instance, action="duplicated", shift=shift, transform=transform))

        elastic = None
        if settings.elastic_strength > 0 and rng.random() < settings.elastic_probability:
            canvas, elastic, coordinates = _elastic_warp(canvas, rng, settings)
            # Each pixel reads the canvas where the warp points (nearest, as the labels),
            # and its source lies as far beyond that pixel's as the warp points past it.
            nearest = np.rint(coordinates).astype(np.intp)
            positions = positions[:, nearest[0], nearest[1]] + (coordinates - nearest).astype(np.float32)
        record = {
            "index": int(index),
            "seed": int(seed),
            "instances": len(self._instances),
            "changes": changes,
            "elastic": elastic,
        }
        labels = self.codec.decode(canvas)
        return SampledLayout(index=int(index), seed=int(seed), labels=labels, record=record,
                             source_positions=_moved_positions(positions))

    # --------------------------------------------------------------- helpers
    def _draw_transform(self, rng: np.random.Generator, moving: bool) -> dict:
        """Random flip / rotation / scale / shift. Every draw happens whether or
        not it is used, so one instance's choices never shift the next one's."""
        settings = self.settings
        height, width = self.shape
        flip_draw, flip_axis, rotate_draw, angle, scale_draw, log_scale, dy, dx = rng.random(8)
        low, high = (math.log(v) for v in settings.scale_range)
        flip = None
        if flip_draw < settings.flip_probability:
            flip = "vertical" if flip_axis < 0.5 else "horizontal"
        rotation = 0.0
        if rotate_draw < settings.rotate_probability:
            rotation = (2 * angle - 1) * settings.max_rotation_deg
        scale = 1.0
        if scale_draw < settings.scale_probability:
            scale = math.exp(low + (high - low) * log_scale)
        shift = None
        if moving:
            shift = ((2 * dy - 1) * settings.max_shift * height, (2 * dx - 1) * settings.max_shift * width)
        return {"flip": flip, "rotation_deg": rotation, "scale": scale, "shift": shift}

    def _place(self, rng, occupied, instance: _Instance, transform: dict, anywhere: bool):
        """Try the drawn position, then random ones; returns (placement, (dy, dx)) or (None, None).

        ``anywhere``: positions uniform over the image (for copies); else moves
        within ``max_shift`` of where the instance is.
        """
        settings = self.settings
        height, width = self.shape
        crop, centre, (matrix, offset) = _transform_crop(instance.crop, transform)
        to_source = (matrix, offset + np.array([instance.top, instance.left], float))
        crop_h, crop_w = crop.shape
        if crop_h > height or crop_w > width:
            return None, None
        cy, cx = instance.centroid
        shift = transform["shift"] or (0.0, 0.0)
        for attempt in range(settings.placement_attempts):
            if attempt:
                ry, rx = rng.random(2)
                if anywhere:
                    shift = (ry * height - cy, rx * width - cx)
                else:
                    shift = ((2 * ry - 1) * settings.max_shift * height,
                             (2 * rx - 1) * settings.max_shift * width)
            top = round(cy + shift[0] - centre[0])
            left = round(cx + shift[1] - centre[1])
            # Keep the whole instance inside: a cut-off object would show a straight edge.
            top = min(max(top, 0), height - crop_h)
            left = min(max(left, 0), width - crop_w)
            placed = _Placed(crop, top, left, to_source)
            if settings.keep_surroundings and not self._among_surroundings(instance, placed):
                continue
            if settings.allow_overlap or not _overlaps(occupied, placed):
                actual = (round(top + centre[0] - cy), round(left + centre[1] - cx))
                return placed, actual
        return None, None

    def _among_surroundings(self, instance: _Instance, placed: _Placed) -> bool:
        """Whether the background under ``placed`` is as much the instance's surrounding
        class as under the instance in the source."""
        surrounding, share = self._surroundings[instance.number]
        under = _canvas_under(self._canvas, placed.crop, placed.top, placed.left)
        return under.size > 0 and float(np.mean(under == surrounding)) >= share

    def _place_unchanged(self, occupied, instance: _Instance):
        placed = _Placed(instance.crop, instance.top, instance.left)
        if self.settings.allow_overlap or not _overlaps(occupied, placed):
            return placed, (0, 0)
        return None, None

    def _paint(self, canvas: np.ndarray, occupied: np.ndarray, placed: _Placed,
               positions: np.ndarray) -> None:
        crop_h, crop_w = placed.crop.shape
        inside = placed.crop != _OUTSIDE
        window = (slice(placed.top, placed.top + crop_h), slice(placed.left, placed.left + crop_w))
        canvas[window][inside] = placed.crop[inside]
        rows, cols = np.nonzero(inside)
        if placed.to_source is None:  # in its own place
            source = np.stack([rows + placed.top, cols + placed.left]).astype(np.float64)
        else:
            matrix, offset = placed.to_source
            source = matrix @ np.stack([rows, cols]).astype(np.float64) + offset[:, None]
        positions[:, rows + placed.top, cols + placed.left] = source
        gap = self.settings.min_gap_px
        if gap == 0:
            occupied[window] |= inside
            return
        # Mark the footprint grown by the gap, clipped to the image.
        padded = np.pad(inside, gap)
        grown = ndi.binary_dilation(padded, structure=_EIGHT_CONNECTED, iterations=gap)
        top, left = placed.top - gap, placed.left - gap
        y0, x0 = max(top, 0), max(left, 0)
        y1 = min(top + grown.shape[0], self.shape[0])
        x1 = min(left + grown.shape[1], self.shape[1])
        occupied[y0:y1, x0:x1] |= grown[y0 - top:y1 - top, x0 - left:x1 - left]

    def _describe(self, instance: _Instance, action: str, shift=None, transform=None, reason=None) -> dict:
        entry = {
            "instance": instance.number,
            "action": action,
            "class_ids": [int(self.codec.class_ids[c]) for c in instance.classes],
            "area": instance.area,
            "centre": [round(v, 1) for v in instance.centroid],
        }
        if reason is not None:
            entry["reason"] = reason
        if shift is not None:
            entry["shift"] = [int(shift[0]), int(shift[1])]
        if transform is not None:
            entry["rotation_deg"] = round(float(transform["rotation_deg"]), _RECORD_DECIMALS)
            entry["scale"] = round(float(transform["scale"]), _RECORD_DECIMALS)
            entry["flip"] = transform["flip"]
        return entry


_IDENTITY = {"flip": None, "rotation_deg": 0.0, "scale": 1.0, "shift": None}


def _changes_shape(transform: dict) -> bool:
    return transform["flip"] is not None or transform["rotation_deg"] != 0.0 or transform["scale"] != 1.0


def summarize_record(record: dict) -> str:
    """One line for a layout record: 'moved 5 (rotated 2, scaled 3, flipped 1); dropped 1; elastic 6 px'."""
    changes = record.get("changes", [])
    moved = [c for c in changes if c["action"] == "moved"]
    parts = []
    if moved:
        detail = [
            f"{word} {count}"
            for word, count in (
                ("rotated", sum(c["rotation_deg"] != 0 for c in moved)),
                ("scaled", sum(c["scale"] != 1 for c in moved)),
                ("flipped", sum(c["flip"] is not None for c in moved)),
            )
            if count
        ]
        parts.append(f"moved {len(moved)}" + (f" ({', '.join(detail)})" if detail else ""))
    for action in ("dropped", "duplicated"):
        count = sum(c["action"] == action for c in changes)
        if count:
            parts.append(f"{action} {count}")
    if record.get("elastic"):
        parts.append(f"elastic {record['elastic']['max_displacement_px']:g} px")
    return "; ".join(parts) or "unchanged"


def _ids(ids) -> str:
    """At most a dozen ids (one per cell can be a thousand), or 'none'."""
    return format_ids(ids) if ids else "none"


def default_object_ids(index: np.ndarray, class_ids) -> tuple[int, ...]:
    """Every class but the largest by area in ``index`` (class indices): the
    default objects, the largest class being the background."""
    ids = tuple(int(i) for i in class_ids)
    largest = int(np.argmax(np.bincount(np.asarray(index).ravel(), minlength=len(ids))))
    return tuple(i for i in ids if i != ids[largest])


def _split_classes(index: np.ndarray, codec: LabelCodec, settings: LayoutSamplerSettings):
    """(object ids, background ids) as sorted tuples of user ids."""
    ids = tuple(int(i) for i in codec.class_ids)
    for name in ("object_ids", "background_ids"):
        named = getattr(settings, name)
        unknown = sorted(set(named or ()) - set(ids))
        if unknown:
            what = "object" if name == "object_ids" else "background"
            # (Of colour-coded labels, with the colour each id stands for: the user
            # never wrote those ids.)
            held = codec.ids_as_colours() if codec.is_colour else format_ids(ids)
            raise SemiaInputError(f"Unknown {what} class id(s) {format_ids(unknown)}; "
                                  f"the labels hold ids {held}.")
    if settings.object_ids is not None:
        objects = set(settings.object_ids)
    elif settings.background_ids is not None:
        objects = set(ids) - set(settings.background_ids)
    else:
        objects = set(default_object_ids(index, ids))
    background = set(ids) - objects
    if not background:
        raise SemiaInputError(
            "Every class is an object class; at least one must be background, to fill the "
            "places objects leave."
        )
    return tuple(sorted(objects)), tuple(sorted(background))


def _find_instances(index: np.ndarray, object_classes, max_fraction: float):
    """Instances (see the module docstring) and the mask of all their footprints."""
    height, width = index.shape
    footprints = ndi.binary_fill_holes(np.isin(index, object_classes))
    labelled, _ = ndi.label(footprints, structure=_EIGHT_CONNECTED)
    instances = []
    for number, box in enumerate(ndi.find_objects(labelled), start=1):
        if box is None:
            continue
        inside = labelled[box] == number
        crop = np.where(inside, index[box], _OUTSIDE)
        area = int(inside.sum())
        ys, xs = np.nonzero(inside)
        top, left = box[0].start, box[1].start
        instances.append(_Instance(
            number=number,
            top=top,
            left=left,
            crop=crop,
            centroid=(float(top + ys.mean()), float(left + xs.mean())),
            area=area,
            classes=tuple(int(c) for c in np.unique(crop[inside])),
            touches_border=top == 0 or left == 0 or box[0].stop == height or box[1].stop == width,
            scenery=area > max_fraction * height * width,
        ))
    return instances, footprints


def _canvas_under(canvas: np.ndarray, crop: np.ndarray, top: int, left: int) -> np.ndarray:
    """The classes of ``canvas`` under a footprint (``crop`` at ``top``, ``left``)."""
    crop_h, crop_w = crop.shape
    return canvas[top:top + crop_h, left:left + crop_w][crop != _OUTSIDE]


def _surrounding(canvas: np.ndarray, instance: _Instance) -> tuple[int, float]:
    """The class that fills most of ``instance``'s place once it has gone, and the
    share of its footprint it fills."""
    under = _canvas_under(canvas, instance.crop, instance.top, instance.left)
    counts = np.bincount(under)
    return int(counts.argmax()), float(counts.max() / under.size)


def _fill_from_background(index: np.ndarray, footprints: np.ndarray) -> np.ndarray:
    """The source with every instance removed: each of their pixels takes the
    class of the nearest background pixel."""
    if not footprints.any():
        return index.copy()
    if footprints.all():
        return np.full_like(index, np.bincount(index.ravel()).argmax())
    _, (rows, cols) = ndi.distance_transform_edt(footprints, return_indices=True)
    return index[rows, cols]


def _transform_crop(crop: np.ndarray, transform: dict):
    """Flip, rotate and scale an instance crop about its centre of mass.

    Returns the new crop (``_OUTSIDE`` where no object, trimmed to the object),
    the centre of mass's position in it, and ``(matrix, offset)``: the new crop's
    pixel (row, col) comes from the old crop's ``matrix @ (row, col) + offset``.
    Each class's mask is resampled linearly and the most covered class wins per
    pixel, which keeps edges smooth where nearest-neighbour resampling would
    leave stairs.
    """
    inside = crop != _OUTSIDE
    ys, xs = np.nonzero(inside)
    centre = np.array([ys.mean(), xs.mean()])
    unchanged = (np.eye(2), np.zeros(2))
    if not _changes_shape(transform):
        return crop, (float(centre[0]), float(centre[1])), unchanged
    angle = math.radians(transform["rotation_deg"])
    rotation = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    flip = {None: (1, 1), "vertical": (-1, 1), "horizontal": (1, -1)}[transform["flip"]]
    forward = rotation @ np.diag(flip) * transform["scale"]
    # Bounding box of the transformed crop (pixel edges at +-0.5).
    corners = np.array([[y, x] for y in (-0.5, crop.shape[0] - 0.5) for x in (-0.5, crop.shape[1] - 0.5)])
    moved = (corners - centre) @ forward.T
    low = np.floor(moved.min(axis=0))
    shape = tuple(int(v) for v in np.ceil(moved.max(axis=0)) - low + 1)
    new_centre = -low
    inverse = np.linalg.inv(forward)
    offset = centre - inverse @ new_centre
    classes = np.unique(crop[inside])
    planes = [inside] + [crop == c for c in classes]
    weights = np.stack([
        ndi.affine_transform(plane.astype(np.float32), inverse, offset=offset, output_shape=shape,
                             order=1, mode="constant", cval=0.0)
        for plane in planes
    ])
    # Object where at least half the pixel is covered; then its most covered class.
    result = np.where(weights[0] >= 0.5, classes[np.argmax(weights[1:], axis=0)], _OUTSIDE)
    rows = np.flatnonzero((result != _OUTSIDE).any(axis=1))
    cols = np.flatnonzero((result != _OUTSIDE).any(axis=0))
    if len(rows) == 0:  # scaled below a pixel: keep the source crop instead
        return crop, (float(centre[0]), float(centre[1])), unchanged
    trimmed = result[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
    # (affine_transform read the old crop at inverse @ new + offset.)
    to_old = (inverse, inverse @ np.array([rows[0], cols[0]], float) + offset)
    return trimmed, (float(new_centre[0] - rows[0]), float(new_centre[1] - cols[0])), to_old


def _moved_positions(positions: np.ndarray) -> np.ndarray | None:
    """The source positions of the pixels that come from elsewhere (more than half
    a pixel away), NaN for the rest; None when none does: objects in their own
    place are the source's pixels already."""
    height, width = positions.shape[1:]
    rows, cols = np.arange(height)[:, None], np.arange(width)[None]  # broadcast: no full-size grids
    with np.errstate(invalid="ignore"):
        here = (np.abs(positions[0] - rows) < 0.5) & (np.abs(positions[1] - cols) < 0.5)
    positions[:, here] = np.nan
    return None if np.isnan(positions[0]).all() else positions


def _overlaps(occupied: np.ndarray, placed: _Placed) -> bool:
    crop_h, crop_w = placed.crop.shape
    window = occupied[placed.top:placed.top + crop_h, placed.left:placed.left + crop_w]
    return bool((window & (placed.crop != _OUTSIDE)).any())


def _elastic_warp(index: np.ndarray, rng: np.random.Generator, settings: LayoutSamplerSettings):
    """Smooth random displacement of the whole layout (nearest class per pixel):
    the warped layout, its record, and the (2, H, W) coordinates each pixel read."""
    from skimage.transform import resize

    height, width = index.shape
    shorter = min(height, width)
    amplitude = settings.elastic_strength * shorter
    spacing = max(settings.elastic_smoothness * shorter, 2.0)
    grid = (math.ceil(height / spacing) + 1, math.ceil(width / spacing) + 1)
    coarse = rng.uniform(-1.0, 1.0, size=(2, *grid)) * amplitude
    displacement = np.stack([resize(c, (height, width), order=3, mode="edge") for c in coarse])
    rows, cols = np.mgrid[:height, :width].astype(np.float64)
    # Towards the border the displacement across it fades to nothing, at half the
    # pace the pixels move away from it: every pixel reads from inside the image, and
    # no two rows (columns) by the border read the same one. Read past the border
    # ("nearest"), the edge row was repeated, and an object touching it grew a
    # straight stalk from the edge inwards (found making synthetic training data).
    if amplitude > 0:
        rows_fade = np.clip(np.minimum(rows, height - 1 - rows) / (2 * amplitude), 0, 1)
        cols_fade = np.clip(np.minimum(cols, width - 1 - cols) / (2 * amplitude), 0, 1)
        displacement = displacement * np.stack([rows_fade, cols_fade])
    coordinates = np.stack([rows + displacement[0], cols + displacement[1]])
    warped = ndi.map_coordinates(index, coordinates, order=0, mode="nearest")
    record = {"max_displacement_px": round(amplitude, 1), "grid_spacing_px": round(spacing, 1)}
    return warped, record, np.clip(coordinates, 0, [[[height - 1]], [[width - 1]]])
