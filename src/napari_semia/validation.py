"""Checks on every user input before any training or synthesis starts.

Each check raises :class:`SemiaInputError` with a message that names the
problem and, where possible, what would work instead, so that the user never
sees a torch traceback for a wrong shape or dtype.
"""

from __future__ import annotations

import numpy as np

from .arrays import as_array, as_label_array, verb
from .config import MAX_WORKING_SIZE
from .errors import SemiaInputError
from .intensity import MAX_CHANNELS
from .labels import (
    MIN_INTERIOR_FRACTION,
    MIN_INTERIOR_PIXELS,
    LabelCodec,
    is_colour_map,
    off_palette_pixels,
    redo_advice,
)

#: Smallest image side that survives the generator's downsampling levels.
MIN_SIDE = 16


def _check_dims(array: np.ndarray, what: str, colour_ok: bool) -> None:
    allowed = "(H, W) or (H, W, C)" if not colour_ok else "(H, W) or an RGB colour map (H, W, 3)"
    if array.ndim not in (2, 3):
        raise SemiaInputError(
            f"The {what} {verb(what, 'have', 'has')} shape {array.shape} ({array.ndim}D); "
            f"expected {allowed}. For a stack, volume or time series, use a single 2D slice."
        )


def validate_image(image) -> np.ndarray:
    """Check a source image on its own; returns it as an array."""
    image = as_array(image, "image")
    if image.dtype == bool:
        raise SemiaInputError(
            "The image has dtype bool, which looks like a mask or label map; "
            "select an intensity image (integer or float dtype)."
        )
    if not (np.issubdtype(image.dtype, np.integer) or np.issubdtype(image.dtype, np.floating)):
        raise SemiaInputError(
            f"The image has an unsupported dtype {image.dtype}; use an integer "
            f"(uint8, uint16, ...) or float image."
        )
    _check_dims(image, "image", colour_ok=False)
    if image.ndim == 3 and image.shape[-1] > MAX_CHANNELS:
        raise SemiaInputError(
            f"The image has shape {image.shape}: read as (H, W, C) that is "
            f"{image.shape[-1]} channels, more than the {MAX_CHANNELS} supported. "
            + ("If its channels come first (as tifffile and torch give them), move them last: "
               "np.moveaxis(image, 0, -1)." if image.shape[0] <= MAX_CHANNELS else
               "For a z-stack or time series, use a single 2D slice.")
        )
    height, width = image.shape[:2]
    if min(height, width) < MIN_SIDE:
        raise SemiaInputError(
            f"The image is too small ({height} × {width} px); each side needs at "
            f"least {MIN_SIDE} px."
        )
    if np.issubdtype(image.dtype, np.floating):
        nan = np.isnan(image)
        if nan.all():
            raise SemiaInputError("The image is all NaN; there is nothing to learn from.")
        if nan.any():
            raise SemiaInputError(
                f"The image contains {int(nan.sum())} NaN pixel value(s) "
                f"(of {image.size}); fill or crop them first."
            )
        infinite = np.isinf(image)
        if infinite.any():
            raise SemiaInputError(
                f"The image contains {int(infinite.sum())} infinite value(s); "
                f"clip or crop them first."
            )
    return image


def flat_image_warning(image) -> str | None:
    """A sentence if the image is (nearly) constant, so training would learn
    no appearance; None otherwise. Not an error: the user may know better."""
    image = np.asarray(image)
    channels = image.reshape(-1, image.shape[-1]) if image.ndim == 3 else image.reshape(-1, 1)
    if channels.shape[0] > 1 << 20:
        channels = channels[:: channels.shape[0] // (1 << 20) + 1]
    low, high = np.percentile(channels.astype(np.float64), [0.5, 99.5], axis=0)
    spread = float(np.max(high - low))
    if np.issubdtype(image.dtype, np.integer):
        flat = spread < 2  # fewer than two grey levels apart
    else:
        flat = spread <= 1e-4 * max(1.0, float(np.max(np.abs(high))))
    if not flat:
        return None
    # ("within 0 of each other" read oddly for an image of one value; a new user.)
    where = (("one colour" if image.ndim == 3 else "one value") if spread == 0
             else f"values within {spread:g} of each other")
    return (f"The image is (nearly) constant: 99 % of its pixels hold {where}. "
            "There is little appearance to learn, so results will be flat; check that the right image "
            "(and contrast) is chosen.")


#: More classes than this are likely an instance map (one id per object, e.g. a
#: cell segmentation): each id is a class of its own, and a training step takes
#: about 1.6x as long with 64 classes as with 4, 4x with 256 (128 px, CPU).
MANY_CLASSES = 64
#: What to do with an instance map (said by the warning and by the refusal).
_ONE_ID_PER_KIND = ("If they are objects of a few kinds (e.g. cells from a segmentation), give each kind "
                    "one id (e.g. every cell 1, background 0).")


def many_classes_warning(num_classes: int) -> str | None:
    """A sentence when the source labels hold so many classes that they are
    probably instances; None otherwise. Not an error: the user may know better."""
    if num_classes <= MANY_CLASSES:
        return None
    return (f"The source labels hold {num_classes} classes, and each id is a class of its own: "
            f"training is slower, and an object can only be painted with its own id. {_ONE_ID_PER_KIND}")


#: More ids than this (the background included), nearly all of them one region
#: each and small, are read as an instance map below ``MANY_CLASSES``.
INSTANCE_MIN_IDS = 10
#: ... nearly all: this share of the ids besides the background.
INSTANCE_SHARE = 0.8
#: ... small: their median area at most this share of the image (an atlas of 15
#: regions that tile the image is no instance map).
INSTANCE_MAX_AREA = 0.03
#: Maps larger than this many pixels are judged on every n-th row and column.
_INSTANCE_JUDGED_PIXELS = 1 << 22


def instance_map_warning(index, num_classes: int) -> str | None:
    """A sentence when a source map of ``num_classes`` classes (``index``: (H, W)
    class indices, as the codec reads ids or colours) looks like an instance map:
    more than ``INSTANCE_MIN_IDS`` classes, and the classes besides the most common
    one (the background) small and nearly all one region each; None otherwise. A
    segmentation of 22 nuclei, one id each, trained 23 classes without a word, and
    a new nucleus could only be painted with the id of one of them (found by a new
    user; the warning spoke only above ``MANY_CLASSES``)."""
    index = np.asarray(index)
    if index.ndim != 2 or not INSTANCE_MIN_IDS < num_classes <= MANY_CLASSES:
        return None  # (above, many_classes_warning speaks)
    step = max(1, int(np.ceil(np.sqrt(index.size / _INSTANCE_JUDGED_PIXELS))))
    index = index[::step, ::step].astype(np.uint8)  # (at most 64 classes here)
    counts = np.bincount(index.ravel(), minlength=num_classes)
    objects = np.flatnonzero(counts)
    objects = objects[objects != np.argmax(counts)]
    if objects.size < INSTANCE_MIN_IDS or np.median(counts[objects]) > INSTANCE_MAX_AREA * index.size:
        return None
    from skimage.measure import label as connected_regions

    # Regions of one class each (8-connected), every class included (none is background).
    regions = connected_regions(index, background=num_classes, connectivity=2)
    class_of_region = np.zeros(int(regions.max()) + 1, np.int64)
    class_of_region[regions.ravel()] = index.ravel()
    regions_per_class = np.bincount(class_of_region[1:], minlength=num_classes)
    single = int((regions_per_class[objects] == 1).sum())
    if single < INSTANCE_SHARE * objects.size:
        return None
    return (f"The source labels hold {num_classes} classes, {single} of them one small region each, like "
            f"an instance map (one id per object): each is a class of its own, so a new object can "
            f"only be painted with the id of one of them. {_ONE_ID_PER_KIND}")


#: More classes than this are refused: each is a channel of the networks' label
#: input, and memory grows with them (an image given as its own label map, 29 469
#: "classes", grew to 12.5 GB in 10 minutes at a 128-px working size).
MAX_CLASSES = 1024


def image_like_labels_problem(image, labels_index, num_classes: int) -> str | None:
    """Why a label map of integer ids cannot be trained on: so many ids that they
    change from pixel to pixel like an image's values (an instance map is one id
    per region), or more than ``MAX_CLASSES``; None when it can. Where the image
    holds few whole values, like a label map, it asks whether the two are swapped
    (a fluorescence image given as labels trained 4241 'classes' at 2.6 s a step)."""
    if num_classes <= MANY_CLASSES:
        return None
    labels_index = np.asarray(labels_index)
    step = max(1, int(np.sqrt(labels_index.shape[0] * labels_index.shape[1] / (1 << 18))))
    rows = labels_index[::step]
    changing = labels_index.ndim == 2 and np.mean(rows[:, 1:] != rows[:, :-1]) >= 0.5
    if changing:
        problem = (f"The labels hold {num_classes} distinct values that change from pixel to pixel, like "
                   f"an image's: a label map gives each region (an object, the background) one id.")
    elif num_classes > MAX_CLASSES:
        problem = (f"The labels hold {num_classes} classes (each id is a class of its own; at most "
                   f"{MAX_CLASSES}). {_ONE_ID_PER_KIND}")
    else:
        return None
    image = np.asarray(image)
    sample = image[::step, ::step]
    whole = np.issubdtype(sample.dtype, np.integer) or bool(np.all(sample == np.round(sample)))
    values = len(np.unique(sample)) if whole else None
    if changing and values is not None and values <= MANY_CLASSES:
        problem += (f" The image holds only {values} distinct values, like a label map: are the image "
                    f"and the labels swapped?")
    elif changing:
        problem += " Is an image given as the labels?"
    return problem


#: Share of a colour-coded map's pixels in colours of no class that is named: the
#: shared examples hold at most 0.05 %, specks where three classes meet.
OFF_PALETTE_SHARE = 0.001


def off_palette_warning(labels, codec: LabelCodec) -> str | None:
    """A sentence when a colour-coded source map holds many pixels of a colour that
    is no class's nor an edge's blend of two: a class too small or too blurred to be
    found, which the nearest class took without a word (blue pores in a map blurred
    or saved as JPEG; the pairs made from it labelled them as the matrix). None
    otherwise, and for a map of ids."""
    labels = np.asarray(labels)
    if codec.palette is None or not is_colour_map(labels):
        return None
    count, colour = off_palette_pixels(labels, codec.palette)
    if count < OFF_PALETTE_SHARE * labels.shape[0] * labels.shape[1]:
        return None
    least = max(MIN_INTERIOR_PIXELS, round(MIN_INTERIOR_FRACTION * labels.shape[0] * labels.shape[1]))
    return (f"{count} pixels of the colour-coded labels are in colours of no class (e.g. "
            f"{tuple(int(v) for v in colour)}, far from each class's colour and from the blends of "
            f"two at their edges): the nearest class took them. If they are a class of their own, "
            f"it was too small or too blurred to be found (a class needs {least} pixels of one "
            f"colour in whole 3 × 3 patches): save the map without blurring or JPEG compression, "
            f"or as integer ids.")


def lost_classes_warning(codec, lost: dict[int, int], working_shape: tuple[int, int]) -> str | None:
    """A sentence naming the classes too small to hold a pixel at the working size
    (``lost``: class index -> pixels at full size), whose look the network never
    learns; None when there are none. (A 25-pixel class vanished at 64 px without
    a word; found by a new user.)"""
    if not lost:
        return None
    one = len(lost) == 1
    if len(lost) > 8:  # an instance map's small objects: counted, not listed
        named = f"{len(lost)} of the source's classes are"
    else:
        listed = ", ".join(f"{codec.describe_class(k)} ({pixels} px)" for k, pixels in sorted(lost.items()))
        named = f"The source's {listed} {'is' if one else 'are'}"
    it, its = ("it", "its") if one else ("them", "their")
    rows, cols = working_shape
    return (f"{named} too small to hold a pixel at the working size ({rows} × {cols} px): the "
            f"network never sees {it}, so where a target paints {it}, the working-size result "
            f"cannot show {it} (the full-resolution result copies {its} pixels from the source). "
            f"A larger working size lets the network learn {it}.")


#: How a label map may lie against its image, and what puts it back: each is its
#: own inverse, but for the quarter turns, each the other's.
_LABEL_TURNS = {
    "flipped upside down": np.flipud,
    "mirrored left to right": np.fliplr,
    "turned 180°": lambda a: a[::-1, ::-1],
    "transposed (rows saved as columns)": lambda a: a.T,
    "turned 90° clockwise": np.rot90,
    "turned 90° counter-clockwise": lambda a: np.rot90(a, -1),
    "transposed along the other diagonal": lambda a: a[::-1, ::-1].T,
}
#: Labels lie otherwise when put back their borders follow the image's edges this
#: many times as closely as given. On the shared examples and built-in samples, the
#: labels as given fit 1.4-5.8 times better than any of the turns (the flips of a
#: face, its mirror image, 1.9 times; of histology, whose glands' labels follow
#: its edges least, 1.4).
TURNED_LABELS_RATIO = 1.5
#: ... and then at least this well (edges this many times their mean strength on
#: the borders). Coarse labels, a brush's width off the edges, fit as given below
#: the mean, and some turn crossed edges 1.5 times as well (a review: 5 of 71
#: dilated, eroded, smoothed or shifted maps of 8 images); none fits any turn
#: above 1.7. The true turns named fit 2.1-5.8 (42 of 64 turns of the examples,
#: the samples and a fundus at two working sizes; histology's and the fundus's
#: thin vessels are not named).
TURNED_LABELS_MIN_FIT = 2.0


def _edge_fit(edges: np.ndarray, index: np.ndarray) -> float | None:
    """How strong ``edges`` are on the borders between classes of ``index``,
    against their mean; None where there are no borders."""
    from skimage.segmentation import find_boundaries

    borders = find_boundaries(index, mode="thick")
    if not borders.any():
        return None
    return float(edges[borders].mean() / max(float(edges.mean()), 1e-12))


def turned_labels_warning(grey: np.ndarray, index: np.ndarray) -> str | None:
    """A sentence when the label map ``index`` (class indices) fits the image
    ``grey`` (both (h, w), e.g. at the working size) far better flipped, mirrored
    or turned than as given: labels saved by a tool that puts the origin at the
    bottom, or an array written column by column, trained without a word (found by
    a new user; a mirrored map of the image's size is not refused by its shape).
    None otherwise."""
    from skimage.filters import sobel

    grey, index = np.asarray(grey, np.float64), np.asarray(index)
    edges = sobel(grey)
    given = _edge_fit(edges, index)
    if given is None:
        return None
    square = index.shape[0] == index.shape[1]
    fits = {how: _edge_fit(edges, put_back(index)) for how, put_back in _LABEL_TURNS.items()
            if square or how in list(_LABEL_TURNS)[:3]}
    how, best = max(fits.items(), key=lambda item: item[1] or 0.0)
    if best is None or best < TURNED_LABELS_MIN_FIT or best < TURNED_LABELS_RATIO * given:
        return None
    return (f"The source labels look {how}: put back, their borders follow the image's edges "
            f"{best / max(given, 1e-12):.1f} times as closely as they do now. Training pairs each image "
            f"pixel with the label at the same place, so if the labels were saved {how.split(' (')[0]}, "
            f"save them the right way round first.")


#: A working size whose shorter side is under this many pixels leaves the network
#: little to learn across it: its generator halves the size three times.
NARROW_WORKING_SIDE = 32


def narrow_working_size_warning(source_shape: tuple[int, int], working_shape: tuple[int, int],
                                size: int) -> str | None:
    """A sentence for a long, thin source shrunk so far that its working size is a
    strip (a 37 x 1000 px strip trained at 9 x 256 without a word; found by a new
    user); None otherwise, and for a source that small to begin with."""
    rows, cols = working_shape
    if min(rows, cols) >= NARROW_WORKING_SIDE or min(source_shape) <= min(rows, cols):
        return None
    height, width = source_shape
    longest = max(height, width)
    needed = round(NARROW_WORKING_SIDE * longest / min(height, width))
    if needed >= min(longest, MAX_WORKING_SIZE):
        larger = f"The largest working size, {min(longest, MAX_WORKING_SIZE)},"
    else:
        larger = f"A working size of {needed} or more"
    return (f"The image is {height} × {width} px, so at the working size (longest side {size} px) it is "
            f"{rows} × {cols}: the network learns little across {min(rows, cols)} px, and the "
            f"working-size result is coarse there (the full-resolution result copies the source's own "
            f"detail). {larger} or cutting the image into pieces nearer square gives it more to "
            f"learn from.")


def training_warning(image, num_classes: int, *more: str | None) -> str | None:
    """What the user should know about the inputs before training (a flat image,
    many classes, and the ``more`` notes that need more than the inputs, e.g.
    ``lost_classes_warning``'s), as one message; None when there is nothing to say.
    (Labels like an image are refused by ``validate_training_inputs``.)"""
    notes = [note for note in (flat_image_warning(image), many_classes_warning(num_classes), *more)
             if note]
    return " ".join(notes) or None


def _label_shape_hw(labels: np.ndarray, what: str) -> tuple[int, int]:
    _check_dims(labels, what, colour_ok=True)
    if labels.ndim == 3 and not is_colour_map(labels):
        raise SemiaInputError(
            f"The {what} {verb(what, 'have', 'has')} shape {labels.shape}; expected a 2D map (H, W) of "
            f"integer ids or an RGB colour map (H, W, 3). For a stack, use a "
            f"single 2D slice."
        )
    return int(labels.shape[0]), int(labels.shape[1])


def validate_training_inputs(image, labels) -> tuple[LabelCodec, np.ndarray]:
    """Check a source image and its label map.

    Returns the label codec and the source as class indices (as
    :meth:`LabelCodec.from_source`), so callers need not build them twice.
    """
    image = validate_image(image)
    labels = as_label_array(labels, "labels")
    labels_hw = _label_shape_hw(labels, "labels")
    image_hw = tuple(int(s) for s in image.shape[:2])
    if labels_hw != image_hw:
        raise SemiaInputError(
            f"The labels are {labels_hw[0]} × {labels_hw[1]} pixels (height × width), but the image is "
            f"{image_hw[0]} × {image_hw[1]}: they must cover the same pixels (labels made on this image)."
        )
    codec, index = LabelCodec.from_source(labels)
    problem = image_like_labels_problem(image, index, codec.num_classes)
    if problem:
        raise SemiaInputError(problem)
    return codec, index


#: How size messages name a model's source: "the source" read as the image chosen
#: in the widget, which after loading a model of another photo was another one.
MODEL_SOURCE = "the image the model was trained on"


def check_target(target, source_shape_hw, codec: LabelCodec, what: str = "target labels",
                 source: str = "the source") -> None:
    """:func:`validate_target`'s checks, without making the class indices (cheap
    enough for the UI thread at tens of megapixels)."""
    target = as_label_array(target, what)
    check_target_shape(target, source_shape_hw, what, source)
    codec.check(target, what)


def check_target_shape(target: np.ndarray, source_shape_hw, what: str = "target labels",
                       source: str = "the source") -> None:
    """Refuse a target whose plane is not the source's size (its classes unchecked)."""
    target_hw = _label_shape_hw(target, what)
    source_hw = tuple(int(s) for s in tuple(source_shape_hw)[:2])
    if target_hw != source_hw:
        raise SemiaInputError(
            f"The {what} {verb(what, 'are', 'is')} {target_hw[0]} × {target_hw[1]} pixels (height × width), "
            f"but {source} is {source_hw[0]} × {source_hw[1]}; {redo_advice(what)} at that size."
        )


def validate_target(target, source_shape_hw, codec: LabelCodec, what: str = "target labels",
                    source: str = "the source") -> np.ndarray:
    """Check a target label map against the source; returns its class indices.
    ``what`` names the map in messages (another full-size map of the source's
    classes is checked the same way); ``source`` the source (:data:`MODEL_SOURCE`
    for a model's)."""
    target = as_label_array(target, what)
    check_target_shape(target, source_shape_hw, what, source)
    return codec.encode(target, what)
