"""Label maps: integer id maps or RGB colour-coded maps.

A :class:`LabelCodec` is built from the *source* label map and fixes the set of
classes the model knows. Class ``i`` (0..K-1, what the networks see) is shown
to the user as ``class_ids[i]``.

* Integer maps (H, W): every id present is a class, 0 included.
* Colour-coded maps (H, W, 3|4) uint8: drawing programs anti-alias region
  borders, so the map holds hundreds of in-between colours. The palette is the
  set of *dominant* colours, i.e. colours that fill whole 3x3 neighbourhoods
  somewhere (anti-aliased border colours never do). Every pixel goes to its
  nearest palette colour. Classes get ids 1..K so that they are all visible in
  a napari Labels layer, where 0 is transparent.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage as ndi

from .arrays import as_label_array
from .errors import SemiaInputError

#: Most colours a colour-coded map may define; more than this is not a label map.
MAX_PALETTE_COLOURS = 32
#: Fraction of the pixels a colour must fill (in whole 3x3 patches) to be a class.
MIN_INTERIOR_FRACTION = 0.0005
#: Least number of whole-patch pixels for a colour to be a class, on tiny maps.
MIN_INTERIOR_PIXELS = 4
#: Fallback when no colour fills whole patches (noisy maps): share of all pixels.
MIN_COLOUR_FRACTION = 0.005
#: A target colour further than this (Euclidean RGB distance) from every palette
#: colour is a mistake rather than a shade of a known class. Targets in the
#: wild use slightly different shades, e.g. (51, 255, 0) for (0, 249, 0).
MAX_COLOUR_DISTANCE = 100.0

#: Pixels this close to a palette colour belong to it, whatever their neighbours.
EXACT_COLOUR_DISTANCE = 8.0
#: A colour-coded label map is mostly flat: at least this share of its pixels
#: sit in uniform 3x3 patches (0.94-0.98 for the paper's maps, whose edges are
#: anti-aliased; under 0.2 for photos)...
MIN_FLAT_FRACTION = 0.5
#: ...and its 32 most frequent colours cover at least this share of the pixels
#: (0.98-1.0 for label maps, under 0.25 for photos).
MIN_TOP_COLOUR_SHARE = 0.8
#: Side of the pixel grid a photo check looks at; larger maps are sampled on it.
_CHECK_SIDE = 512

_MAX_LISTED = 12


def format_ids(ids) -> str:
    """'1, 2, 3': ids as messages name them, at most a dozen (then how many in all)."""
    ids = [int(i) for i in ids]
    text = ", ".join(str(i) for i in ids[:_MAX_LISTED])
    if len(ids) > _MAX_LISTED:
        text += f", ... ({len(ids)} in total)"
    return text


def format_colour(colour) -> str:
    """'(0, 0, 70)': a colour as messages and the widget name it."""
    return "(" + ", ".join(str(int(c)) for c in colour) + ")"


def is_colour_map(labels: np.ndarray) -> bool:
    """True for (H, W, 3|4) arrays, which are read as colour-coded label maps."""
    return labels.ndim == 3 and labels.shape[-1] in (3, 4)


#: Ids below this are encoded through a table of this many entries at most.
_LOOKUP_IDS = 1 << 20


def _ids_present(ids: np.ndarray) -> np.ndarray | None:
    """The ids present in a 2D integer map, sorted, when they are all in
    ``[0, _LOOKUP_IDS)`` (nearly every label map); else None. Counted a block of rows
    at a time: O(pixels), and no copy of the map (np.unique sorted every pixel: 0.6 s
    for 24 megapixels, on the UI thread for each Live stroke)."""
    if ids.size == 0:
        return np.zeros(0, dtype=np.int64)
    lowest, highest = int(ids.min()), int(ids.max())
    if lowest < 0 or highest >= _LOOKUP_IDS:
        return None
    counts = np.zeros(highest + 1, dtype=np.int64)
    rows = max(1, (1 << 20) // max(1, ids.shape[1]))
    for start in range(0, ids.shape[0], rows):
        counts += np.bincount(ids[start:start + rows].ravel(), minlength=highest + 1)
    return np.flatnonzero(counts)


def _integer_ids(labels: np.ndarray, what: str) -> np.ndarray:
    """(H, W) map of any numeric dtype -> int64 ids, or SemiaInputError."""
    if labels.ndim != 2:
        raise SemiaInputError(
            f"The {what} must be a 2D integer map (H, W) or an RGB colour map "
            f"(H, W, 3); got shape {labels.shape}. For a stack or a 3D volume, "
            f"use a single 2D slice."
        )
    if labels.dtype == bool:
        return labels.astype(np.int64)
    if np.issubdtype(labels.dtype, np.integer):
        if labels.dtype == np.uint64 and labels.size and int(labels.max()) > np.iinfo(np.int64).max:
            raise SemiaInputError(
                f"The {what} hold ids up to {int(labels.max())}; ids above {np.iinfo(np.int64).max} "
                f"(2**63 - 1) are not supported: renumber the classes.")
        ids = labels.astype(np.int64)
    elif np.issubdtype(labels.dtype, np.floating):
        finite = np.isfinite(labels)
        if not finite.all():
            raise SemiaInputError(
                f"The {what} contain {int((~finite).sum())} NaN or infinite values; "
                f"label maps must hold whole-number class ids."
            )
        if not np.all(labels == np.round(labels)):
            raise SemiaInputError(
                f"The {what} hold fractional values (dtype {labels.dtype}); "
                f"label maps must hold whole-number class ids."
            )
        ids = labels.astype(np.int64)
    else:
        raise SemiaInputError(
            f"The {what} have an unsupported dtype {labels.dtype}; "
            f"use integer class ids or an RGB colour map."
        )
    if ids.min() < 0:
        negative = np.unique(ids[ids < 0])
        raise SemiaInputError(
            f"The {what} contain negative ids ({format_ids(negative)}); "
            f"class ids must be 0 or more."
        )
    return ids


def redo_advice(what: str) -> str:
    """The start of the advice for a map in the wrong form: the target is
    painted again, another map (the dataset's source labels) given again (also
    used by ``validation``)."""
    return "paint the target" if what == "target labels" else f"give the {what}"


def _rgb(labels: np.ndarray, what: str) -> np.ndarray:
    """(H, W, 3|4) colour map -> (H, W, 3) uint8, alpha dropped."""
    if labels.dtype == np.uint8:
        return np.ascontiguousarray(labels[..., :3])
    if np.issubdtype(labels.dtype, np.floating) and labels.size and np.nanmax(labels) <= 1.0:
        # Colour maps read as floats in [0, 1] (e.g. by matplotlib).
        return np.round(np.clip(labels[..., :3], 0, 1) * 255).astype(np.uint8)
    if np.issubdtype(labels.dtype, np.integer) and labels.min() >= 0 and labels.max() <= 255:
        return labels[..., :3].astype(np.uint8)
    raise SemiaInputError(
        f"The {what} look like a colour map (shape {labels.shape}) but have "
        f"dtype {labels.dtype} with values outside 0..255; use uint8 RGB."
    )


def _pack(rgb: np.ndarray) -> np.ndarray:
    """(..., 3) uint8 -> (...) int64 key 0xRRGGBB, so colours compare as scalars."""
    rgb = rgb.astype(np.int64)
    return (rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]


def _unique_inverse(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique(keys, return_inverse=True)``, ~10x faster for colour keys.

    Keys fit in 24 bits, so int32 sorting applies, and the inverse comes from
    a binary search among the few distinct colours instead of a full argsort.
    """
    flat = keys.astype(np.int32).ravel()
    unique = np.unique(flat)
    return unique.astype(np.int64), np.searchsorted(unique, flat).reshape(keys.shape)


def photo_evidence(rgb: np.ndarray) -> str | None:
    """Why an RGB image looks like a photo rather than a colour-coded label
    map (a sentence), or None if it looks like a label map.

    Large images are judged on a grid of about 512 x 512 pixels (every k-th
    row and column): label regions stay flat when sampled so.
    """
    rgb = np.asarray(rgb)[..., :3]
    step = max(1, int(np.ceil(max(rgb.shape[:2]) / _CHECK_SIDE)))
    keys = _pack(rgb[::step, ::step])
    flat = (ndi.maximum_filter(keys, size=3, mode="nearest")
            == ndi.minimum_filter(keys, size=3, mode="nearest"))
    _, inverse = _unique_inverse(keys)
    counts = np.bincount(inverse.ravel())
    top_share = np.sort(counts)[::-1][:MAX_PALETTE_COLOURS].sum() / keys.size
    if flat.mean() >= MIN_FLAT_FRACTION and top_share >= MIN_TOP_COLOUR_SHARE:
        return None
    return (f"it has {len(counts)} distinct colours and only {flat.mean():.0%} of its pixels lie in "
            f"flat regions (a label map has a few colours in flat regions)")


def looks_like_colour_map(image) -> bool:
    """True for an (H, W, 3|4) uint8 image that looks like a colour-coded label map."""
    image = np.asarray(image)
    return (is_colour_map(image) and image.dtype == np.uint8 and min(image.shape[:2]) >= 3
            and photo_evidence(image) is None)


def _unpack(keys: np.ndarray) -> np.ndarray:
    keys = np.asarray(keys, dtype=np.int64)
    return np.stack([(keys >> 16) & 255, (keys >> 8) & 255, keys & 255], axis=-1).astype(np.uint8)


def dominant_colours(rgb: np.ndarray) -> np.ndarray:
    """The colours that make up the regions of a colour-coded map, most frequent first.

    A colour counts if it fills whole 3x3 neighbourhoods somewhere, on enough
    pixels: anti-aliased border colours only occur along borders, so they never
    do. Returns a (K, 3) uint8 array, however large K is: the caller decides
    what too many colours means (``MAX_PALETTE_COLOURS``).
    """
    return _unpack(_dominant_keys(_pack(rgb)))


def dominant_levels(grey: np.ndarray) -> np.ndarray:
    """:func:`dominant_colours` of a grey (H, W) uint8 map, as its levels: without the
    three channels' packed keys (a 4000 x 4000 map took 3.7 s and 670 MB; a review)."""
    return _dominant_keys(np.asarray(grey, dtype=np.uint8)).astype(np.uint8)


def _dominant_keys(keys: np.ndarray) -> np.ndarray:
    """The keys (packed colours, or grey levels) of :func:`dominant_colours`."""
    unique, inverse = _unique_inverse(keys)
    counts = np.bincount(inverse.ravel(), minlength=len(unique))
    uniform_patch = ndi.maximum_filter(keys, size=3, mode="nearest") == ndi.minimum_filter(
        keys, size=3, mode="nearest"
    )
    interior_counts = np.bincount(inverse[uniform_patch], minlength=len(unique))
    min_interior = max(MIN_INTERIOR_PIXELS, MIN_INTERIOR_FRACTION * keys.size)
    chosen = np.flatnonzero(interior_counts >= min_interior)
    score = interior_counts
    if len(chosen) < 2:
        # Noisy or tiny maps with no clean regions: fall back to plain frequency.
        chosen = np.flatnonzero(counts >= MIN_COLOUR_FRACTION * keys.size)
        score = counts
    # Most frequent first; ties broken by the colour value, so the order is deterministic.
    order = np.lexsort((unique[chosen], -score[chosen]))
    return unique[chosen][order]


#: A colour this far (RGB distance) from every class colour, and from every blend of
#: two of them (an anti-aliased edge), is none of the map's classes' colours.
OFF_PALETTE_DISTANCE = 40.0


def off_palette_pixels(labels: np.ndarray, palette: np.ndarray) -> tuple[int, np.ndarray | None]:
    """How many pixels of a colour-coded map (read as the codec reads it: a float
    map in [0, 1] scaled to 8 bits, alpha dropped) are neither near a ``palette``
    colour nor a blend of two (:data:`OFF_PALETTE_DISTANCE`), and the most frequent
    such colour (None when there are none): a class too small or too blurred to be
    found by :func:`dominant_colours`, whose pixels the nearest class took."""
    keys = _pack(_rgb(labels, "source labels"))
    unique, inverse = _unique_inverse(keys)
    counts = np.bincount(inverse.ravel(), minlength=len(unique))
    colours = _unpack(unique).astype(np.float32)
    palette = np.asarray(palette, dtype=np.float32).reshape(-1, 3)
    near = np.linalg.norm(colours[:, None] - palette[None], axis=-1).min(axis=1)
    candidates = np.flatnonzero(near > OFF_PALETTE_DISTANCE)  # (few: most colours are near a class's)
    off = colours[candidates]
    to_blend = np.full(len(candidates), np.inf, np.float32)
    for i in range(len(palette)):
        for j in range(i + 1, len(palette)):
            start, span = palette[i], palette[j] - palette[i]
            along = np.clip((off - start) @ span / max(float(span @ span), 1e-6), 0.0, 1.0)
            to_blend = np.minimum(to_blend, np.linalg.norm(off - (start + along[:, None] * span), axis=-1))
    candidates = candidates[to_blend > OFF_PALETTE_DISTANCE]
    if not len(candidates):
        return 0, None
    return int(counts[candidates].sum()), _unpack(unique[candidates[np.argmax(counts[candidates])]])


def nearest_colours(rgb: np.ndarray, colours: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For (N, 3) colours: the index of, and distance to, the nearest of ``colours``."""
    index, distance = _nearest(np.asarray(rgb, np.uint8)[None], np.asarray(colours, np.uint8))
    return index[0], distance[0]


def _nearest(rgb: np.ndarray, colours: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Index of, and distance to, the nearest of ``colours`` for every pixel.

    Works on the distinct colours only (a label map holds few), then maps back.
    """
    keys = _pack(rgb)
    unique, inverse = _unique_inverse(keys)
    unique_rgb = _unpack(unique).astype(np.float32)
    distances = np.linalg.norm(
        unique_rgb[:, None, :] - colours.astype(np.float32)[None, :, :], axis=-1
    )
    nearest = distances.argmin(axis=1)
    inverse = inverse.reshape(keys.shape)
    return nearest[inverse], distances[np.arange(len(unique)), nearest][inverse]


def listed_names(names: list[str], kind: str) -> str:
    """'The target a.tif', 'The targets a.tif, b.tif, c.tif and 97 more'."""
    shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
    return f"The {kind}{'s' if len(names) > 1 else ''} {shown}"


#: Unknown ids from which a map reads as one id per object.
_INSTANCE_IDS = 10


def _numbering_hint(present: np.ndarray, known: np.ndarray, what: str) -> str:
    """Where a map's ids are the source's numbered another way, which: a mask saved as
    0 and 255 (as Fiji and most tools save masks) against one of 0 and 1, one id per
    object (instance labels), or ids one above the source's throughout (counted from
    1 instead of 0)."""
    present, known = set(present.tolist()), set(known.tolist())
    if present <= {0, 255} and known == {0, 1} and 255 in present:
        return (f" The {what} look like a mask saved as 0 and 255: save it with 0 and 1 (or divide "
                "it by 255).")
    if present <= {0, 1} and known == {0, 255} and 1 in present:
        return f" The {what} look like a mask of 0 and 1; the source's is of 0 and 255: multiply it by 255."
    if len(present - known) >= _INSTANCE_IDS and len(present) > 2 * len(known):
        return (f" The {what} hold {len(present)} ids, one per object it seems (instance labels, as "
                "Cellpose or StarDist give): give each object its class's id instead (e.g. every "
                "object id above 0 as 1).")
    # Ids counted from 1 against a source's from 0, every one shifted. (Not the other
    # way: ids from 0 against a source's from 1 are also what erasing with napari's
    # 0 and dropping the rarest class give, and the hint contradicted the eraser's; a
    # review.)
    if len(present) > 1 and min(known) == 0 and present == {i + 1 for i in known}:
        return (" Their ids are the source's plus one throughout: counted from 1 where the source's "
                "count from 0?")
    return ""


@dataclass(frozen=True)
class LabelCodec:
    """Maps user-facing label ids (or colours) to class indices 0..K-1 and back.

    ``class_ids[i]`` is the id of class ``i``; ``palette[i]`` its colour when
    the source was a colour-coded map (else ``palette`` is None).
    """

    class_ids: tuple[int, ...]
    palette: np.ndarray | None = None

    def __post_init__(self) -> None:
        if len(self.class_ids) < 2:
            raise SemiaInputError(
                f"The label map has {len(self.class_ids)} class(es) "
                f"({format_ids(self.class_ids)}); need at least 2 classes."
            )
        if list(self.class_ids) != sorted(set(self.class_ids)):
            raise SemiaInputError(f"class_ids must be distinct and sorted; got {self.class_ids}.")
        if self.palette is not None:
            palette = np.asarray(self.palette, dtype=np.uint8).reshape(-1, 3)
            if len(palette) != len(self.class_ids):
                raise SemiaInputError(
                    f"A palette of {len(palette)} colours does not match "
                    f"{len(self.class_ids)} class ids."
                )
            object.__setattr__(self, "palette", palette)

    # ------------------------------------------------------------------ build
    @classmethod
    def from_source(cls, source_labels) -> tuple[LabelCodec, np.ndarray]:
        """Codec for a source label map, and that map as class indices (int64)."""
        labels = as_label_array(source_labels, "source labels")
        if is_colour_map(labels):
            rgb = _rgb(labels, "source labels")
            evidence = photo_evidence(rgb)
            if evidence is not None:
                raise SemiaInputError(
                    f"The source labels are an RGB image that looks like a photo rather than a "
                    f"colour-coded label map: {evidence}. Give a label map (a Labels layer in "
                    f"napari, or a file of integer ids or label colours) as the source labels."
                )
            palette = dominant_colours(rgb)
            if len(palette) > MAX_PALETTE_COLOURS:
                raise SemiaInputError(
                    f"The colour-coded source labels hold {len(palette)} distinct "
                    f"region colours (at most {MAX_PALETTE_COLOURS} allowed). Is this "
                    f"a photo rather than a label map? Pass the labels as a label map."
                )
            if len(palette) < 2:
                raise SemiaInputError(
                    "The colour-coded source labels hold a single colour, so a single class; "
                    "the model needs at least 2 classes: paint a second one (e.g. an object and its "
                    "background), or choose another label map."
                )
            codec = cls(class_ids=tuple(range(1, len(palette) + 1)), palette=palette)
            index, _ = _nearest(rgb, palette)
            return codec, index.astype(np.int64)
        ids = _integer_ids(labels, "source labels")
        class_ids, index = np.unique(ids, return_inverse=True)
        if len(class_ids) < 2:
            raise SemiaInputError(
                f"The source labels hold a single class (every pixel is {int(class_ids[0])}); "
                f"the model needs at least 2 classes: paint a second one (e.g. an object and its "
                f"background), or choose another label map."
            )
        codec = cls(class_ids=tuple(int(i) for i in class_ids))
        return codec, index.reshape(ids.shape).astype(np.int64)

    # ------------------------------------------------------------------- use
    @property
    def num_classes(self) -> int:
        return len(self.class_ids)

    def describe_class(self, index: int) -> str:
        """Class ``index`` in the user's words: 'class 12', or 'class coloured (255, 0, 0)'."""
        if self.palette is not None:
            return f"class coloured {format_colour(self.palette[index])}"
        return f"class {self.class_ids[index]}"

    @property
    def is_colour(self) -> bool:
        return self.palette is not None

    def describe_classes(self) -> str:
        """'ids 1, 2, 3' or 'colours (0, 0, 0), (255, 0, 0)': the classes as messages
        name them (at most a dozen)."""
        if self.palette is None:
            return f"ids {format_ids(self.class_ids)}"
        shown = ", ".join(format_colour(colour) for colour in self.palette[:_MAX_LISTED])
        more = f", ... ({len(self.palette)} in total)" if len(self.palette) > _MAX_LISTED else ""
        return f"colours {shown}{more}"

    def encode(self, target_labels, what: str = "target labels") -> np.ndarray:
        """Target ids or colours -> (H, W) int64 class indices.

        Raises SemiaInputError naming unknown ids, or colours far from every
        palette colour; ``what`` names the map in those messages (the dataset
        also encodes the source labels it samples layouts from).
        """
        labels = self._grey_as_ids(as_label_array(target_labels, what))
        if is_colour_map(labels):
            if self.palette is None:
                raise SemiaInputError(
                    f"The {what} are a colour (RGB) map of shape {labels.shape}, but the "
                    f"source labels are integer ids "
                    f"({format_ids(self.class_ids)}); {redo_advice(what)} with those ids."
                )
            return self._encode_colours(_rgb(labels, what), what)
        present = self._counted_in_place(labels, what)
        if present is not None:
            return self._index_table(present)[labels]  # no int64 copy of the ids first
        ids = _integer_ids(labels, what)
        present = _ids_present(ids)
        self._refuse_unknown(np.unique(ids) if present is None else present, what)
        if present is not None:
            return self._index_table(present)[ids]
        return np.searchsorted(np.asarray(self.class_ids, dtype=np.int64), ids).astype(np.int64)

    def check(self, target_labels, what: str = "target labels") -> None:
        """What :meth:`encode` checks (SemiaInputError), without making the class
        indices: for an integer map, the ids present are counted a block of rows at
        a time, so no copy of the map is made (the widget checks each Live stroke's
        target on the UI thread; encoding a 67-megapixel one there took seconds)."""
        labels = self._grey_as_ids(as_label_array(target_labels, what))
        if is_colour_map(labels) or self._counted_in_place(labels, what) is None:
            # Colour maps, other dtypes, negative or huge ids: the full check and its messages.
            self.encode(labels, what)

    def _grey_as_ids(self, labels: np.ndarray) -> np.ndarray:
        """An RGB(A) map with equal colour channels, for a model of integer ids: its
        grey values as the ids (many paint programs write a map of ids 1..3 as an
        RGB PNG; it was refused as a colour map). Anything else as it is."""
        if self.palette is None and is_colour_map(labels) and np.array_equal(
                labels[..., 0], labels[..., 1]) and np.array_equal(labels[..., 0], labels[..., 2]):
            return labels[..., 0]
        return labels

    def _counted_in_place(self, labels: np.ndarray, what: str) -> np.ndarray | None:
        """The ids present in a 2D integer map of small non-negative ids (nearly every
        label map), refused unless all are the source's classes (SemiaInputError),
        counted with no copy of the map (an int64 copy of a 67-megapixel map took
        half a gigabyte and a second); None for any other map."""
        if labels.ndim != 2 or not np.issubdtype(labels.dtype, np.integer):
            return None
        present = _ids_present(labels)
        if present is not None:
            self._refuse_unknown(present, what)
        return present

    def _index_table(self, present: np.ndarray) -> np.ndarray:
        """Class index by id, up to the highest of the ``present`` ids: a lookup
        O(pixels), as the ids are small and non-negative."""
        known = np.asarray(self.class_ids, dtype=np.int64)
        highest = int(present[-1]) if len(present) else 0
        table = np.zeros(highest + 1, dtype=np.int64)
        inside = known[known <= highest]
        table[inside] = np.searchsorted(known, inside)
        return table

    def ids_as_colours(self) -> str:
        """'1 (r, g, b), 2 (r, g, b), ...': the ids a map of ids takes for this
        colour-coded codec's classes (most frequent colour first)."""
        return (", ".join(f"{i} {format_colour(c)}" for i, c in
                          list(zip(self.class_ids, self.palette))[:_MAX_LISTED])
                + (", ..." if len(self.palette) > _MAX_LISTED else ""))

    def ids_note(self, what: str) -> str | None:
        """For a map of ids checked against colour-coded source labels: how its ids were
        read (the source's colours, numbered from the most frequent down). A file of the same
        map's ids from elsewhere (a palette PNG's own indices, Fiji, QuPath) was read
        with its classes swapped, without a word (a pass over other tools' files).
        None for a codec of ids."""
        if self.palette is None:
            return None
        return (f"{what}: ids, read as the classes of the colours the model's labels have, numbered "
                f"from the most frequent (1) down: {self.ids_as_colours()}. If the ids mean other "
                f"classes, give the map in those colours instead.")

    def _refuse_unknown(self, present: np.ndarray, what: str) -> None:
        """SemiaInputError naming the ``present`` ids that are not the source's classes."""
        known = np.asarray(self.class_ids, dtype=np.int64)
        unknown = np.setdiff1d(present, known)
        if len(unknown):
            # 0 is what napari's eraser paints: where it is no class, the fix is to paint
            # over with one (a new user, given only "unknown id(s) 0", tried the eraser again).
            eraser = (" 0 is what napari's eraser paints, and no class here: paint over with a "
                      "class instead." if unknown[0] == 0 else "")
            # A model of a colour-coded map: its ids are this codec's (a new user's map of
            # ids 0, 3, 7 was told of "ids 1, 2, 3" the source never had).
            colours = ("" if self.palette is None else
                       " The source labels were colour-coded; as ids their classes are "
                       + self.ids_as_colours() + " (or give a colour-coded target).")
            raise SemiaInputError(
                f"The {what} contain unknown id(s) {format_ids(unknown)}; "
                f"the source labels have only ids {format_ids(known)}.{colours}{eraser}"
                f"{_numbering_hint(present, known, what)}"
            )

    def _encode_colours(self, rgb: np.ndarray, what: str = "target labels") -> np.ndarray:
        known = ", ".join(format_colour(c) for c in self.palette)
        evidence = photo_evidence(rgb)
        if evidence is not None:
            # Checked first: a photo whose colours all lie near the palette's (the
            # face photo against skin, hair and white) was read as a layout.
            raise SemiaInputError(
                f"The {what} are an RGB image that looks like a photo rather than a "
                f"colour-coded label map: {evidence}. {redo_advice(what).capitalize()} in the source "
                f"labels' colours {known} (or as a label map of their ids)."
            )
        # Assign border pixels to the target's own dominant colours first: targets
        # are drawn in slightly different shades, and a border between two shifted
        # shades is split best between those shades, not the palette's.
        target_colours = dominant_colours(rgb)
        if len(target_colours) == 0:
            target_colours = np.unique(rgb.reshape(-1, 3), axis=0)
        to_palette, distance = _nearest(target_colours[None], self.palette)
        to_palette, distance = to_palette[0], distance[0]
        far = distance > MAX_COLOUR_DISTANCE
        if far.any():
            names = ", ".join(format_colour(c) for c in target_colours[far][:_MAX_LISTED])
            # OpenCV writes blue, green, red: every colour then is a palette colour turned.
            _, swapped_distance = _nearest(target_colours[None, :, ::-1], self.palette)
            swapped = (" Their colours are the source's with red and blue swapped (OpenCV's "
                       "cv2.imwrite writes BGR): convert them to RGB first."
                       if (swapped_distance <= MAX_COLOUR_DISTANCE).all() else "")
            raise SemiaInputError(
                f"The {what} use colour(s) {names} that match none of the source's "
                f"label colours {known}.{swapped}"
            )
        nearest_target_colour, _ = _nearest(rgb, target_colours)
        index = to_palette[nearest_target_colour]
        # Pixels already (nearly) in a palette colour keep it, even where they
        # form strokes too thin to count as a region of the target.
        nearest_palette, palette_distance = _nearest(rgb, self.palette)
        exact = palette_distance <= EXACT_COLOUR_DISTANCE
        index[exact] = nearest_palette[exact]
        return index.astype(np.int64)

    def decode(self, index_map) -> np.ndarray:
        """Class indices -> user ids (int32 when they fit, else int64)."""
        index = np.asarray(index_map)
        if index.size and (index.min() < 0 or index.max() >= self.num_classes):
            raise SemiaInputError(
                f"Class indices must be in 0..{self.num_classes - 1}; "
                f"got {int(index.min())}..{int(index.max())}."
            )
        ids = np.asarray(self.class_ids, dtype=np.int64)
        dtype = np.int32 if ids.max() <= np.iinfo(np.int32).max else np.int64
        return ids.astype(dtype)[index.astype(np.intp)]

    # ------------------------------------------------------------ persistence
    def to_dict(self) -> dict:
        return {
            "class_ids": [int(i) for i in self.class_ids],
            "palette": None if self.palette is None else self.palette.tolist(),
        }

    @classmethod
    def from_dict(cls, data: dict) -> LabelCodec:
        try:
            class_ids = tuple(int(i) for i in data["class_ids"])
            palette = data.get("palette")
        except (KeyError, TypeError, ValueError) as error:
            raise SemiaInputError(f"Invalid label codec data: {error!r}.") from None
        return cls(class_ids=class_ids, palette=None if palette is None else np.asarray(palette))

    def __eq__(self, other) -> bool:
        if not isinstance(other, LabelCodec):
            return NotImplemented
        if self.class_ids != other.class_ids:
            return False
        if (self.palette is None) != (other.palette is None):
            return False
        return self.palette is None or np.array_equal(self.palette, other.palette)

    __hash__ = None  # mutable numpy palette inside; equality is by value

def read_as_classes_of(codec: LabelCodec, labels, found: LabelCodec | None = None) -> np.ndarray | None:
    """``labels`` as ``codec``'s class indices, read as it reads a target (its colours,
    near ones too, or the ids it numbers them by), where every one of its classes is
    present and, given ``found`` (their codec as a new source's), they hold as many of
    their own; else None. The rule for continuing a model on labels: the run's, and the
    notes' that say it will (which pass no ``found``: reading the map as a source
    again, on the UI thread, costs as much as the encoding)."""
    if found is not None and found.num_classes != codec.num_classes:
        # (A new class whose colour lies near one of the model's was read as that one,
        # without a word; a review.)
        return None
    try:
        encoded = codec.encode(labels, "source labels")
    except SemiaInputError:
        return None
    if not (np.bincount(encoded.reshape(-1), minlength=codec.num_classes) > 0).all():
        return None
    return encoded
