""""New target from source labels": a Labels layer to paint the new layout in."""

from __future__ import annotations

import weakref

import numpy as np
from napari.layers import Labels, Layer
from napari.utils.colormaps import DirectLabelColormap

from ..errors import SemiaInputError
from ..labels import LabelCodec, format_colour
from .layer_data import refuse_pyramid
from .layer_pickers import TARGET_KEY, TARGET_OF_KEY, is_blank
from .output_layer import placement_kwargs


def _labels_from_colours(source: Layer) -> tuple[np.ndarray, dict, dict]:
    """Class ids 1..K of a colour-coded label map, and a colormap showing each id
    in its source colour. Ids follow the label codec, so a model trained on the
    colour map accepts the painted ids as targets."""
    if source.ndim != 2:
        raise SemiaInputError(
            f"'{source.name}' is a stack of colour-coded label maps; make a target from "
            "a single 2D colour map, or use a Labels layer.")
    codec, index = LabelCodec.from_source(np.asarray(source.data))
    return colour_ids(codec, index), palette_colormap(codec), palette_features(codec)


def colour_ids(codec: LabelCodec, index: np.ndarray) -> np.ndarray:
    """Class indices of a colour-coded codec as its ids 1..K (int32), the ids a Labels
    layer shows in ``palette_colormap``'s colours."""
    return np.asarray(codec.class_ids, dtype=np.int32)[np.asarray(index, dtype=np.int64)]


def palette_features(codec: LabelCodec) -> dict:
    """Each id's colour in words, as the layer's features: napari's status bar shows
    'class: colour (0, 0, 70)' under the cursor. With ids alone, finding the id of
    the upper lip among the face example's ten classes (several look-alike blues)
    was trial and error (found by a new user)."""
    return {"index": [int(i) for i in codec.class_ids], "class": [colour_name(c) for c in codec.palette]}


def colour_name(colour) -> str:
    return f"colour {format_colour(colour)}"


#: Ids that are no class of a colour-coded map (napari's "new label" button gives
#: one) in plain magenta: they were transparent, so such a stroke could not be seen,
#: only the error naming its id (found by a new user). 0, napari's background, stays
#: transparent, as the eraser leaves it.
UNKNOWN_ID_COLOUR = (1.0, 0.0, 1.0, 1.0)


def palette_colormap(codec: LabelCodec) -> dict:
    """A Labels colormap showing each id of a colour-coded codec in its source
    colour (targets and the dataset's label stacks alike)."""
    colours = {None: UNKNOWN_ID_COLOUR}
    colours.update({int(i): (*(np.asarray(c) / 255.0), 1.0)
                    for i, c in zip(codec.class_ids, codec.palette)})
    return colours


#: Reading a colour map's classes takes about 0.35 s a megapixel, on the Qt thread
#: here: larger maps' targets keep napari's colours (New target shows them in the
#: map's colours).
_MAX_RECOLOURED_PIXELS = 1 << 20
_codec_of: dict[int, tuple[object, LabelCodec | None]] = {}


def _colour_codec(data) -> LabelCodec | None:
    """The colour codec of a colour-coded map's data (None if it is none), read once
    per array."""
    key = id(data)
    held = _codec_of.get(key)
    if held is not None and held[0] is data:
        return held[1]
    try:
        codec, _ = LabelCodec.from_source(np.asarray(data))
    except SemiaInputError:
        codec = None
    codec = codec if codec is not None and codec.is_colour else None
    _codec_of.clear()  # (one map at a time: the source labels' layer)
    _codec_of[key] = (data, codec)
    return codec


#: Blank targets recoloured here: the map they were recoloured after (its unique id),
#: and their own colours and features before, to give back.
_recoloured: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def paint_in_source_colours(target, source_labels) -> bool:
    """Show a blank Labels ``target`` of a colour-coded RGB ``source_labels`` in the
    source's colours, with each id's colour named in its features: napari's own
    colours told a designer sketching a face on a new, empty layer nothing of which
    id painted which class (found by a new user). Layers with content, colours or
    class names of their own are left as they are. A target recoloured here and
    still blank follows another source labels map: it kept the first map's colours
    and names (found in review), and goes back to its own colours for a map that
    is no colour-coded one.
    Returns whether it recoloured the target."""
    if not isinstance(target, Labels) or not isinstance(target.data, np.ndarray):
        return False
    ours = _recoloured.get(target)
    if ours is not None:
        if source_labels is not None and ours[0] == source_labels.unique_id:
            return False
        if not is_blank(target):
            return False  # painted in those colours: they stay
        _, colormap, features = _recoloured.pop(target)
        target.colormap, target.features = colormap, features
    elif ("class" in getattr(target.features, "columns", ())
            or isinstance(target.colormap, DirectLabelColormap)):
        return False
    if (source_labels is None or isinstance(source_labels, Labels) or getattr(source_labels, "ndim", 0) != 2
            or not isinstance(source_labels.data, np.ndarray)
            or np.prod(source_labels.data.shape[:2]) > _MAX_RECOLOURED_PIXELS):
        return False
    if not is_blank(target):
        return False  # a map of the user's own keeps its colours (and its features)
    codec = _colour_codec(source_labels.data)
    if codec is None:
        return False
    _recoloured[target] = (source_labels.unique_id, target.colormap, target.features.copy())
    target.colormap = palette_colormap(codec)
    target.features = palette_features(codec)
    return True


#: A new target's opacity (napari's default for labels): the result under it shows.
TARGET_OPACITY = 0.7


def copy_as_target(viewer, source: Layer) -> Labels:
    """A new Labels layer holding a copy of ``source`` (a Labels layer or a
    colour-coded RGB map), selected, with the brush active on a real class, so
    the user can start painting at once. Raises SemiaInputError."""
    # (A pyramid's copy was its coarsest level, a quarter-size target made without a word.)
    refuse_pyramid(source)
    if isinstance(source, Labels):
        # See-through at most: labels converted from an image keep its opacity of 1,
        # and a copy that opaque hid the result under it, Live and all (found by a new user).
        data, kwargs = np.array(source.data, copy=True), {
            "opacity": min(source.opacity, TARGET_OPACITY), "colormap": source.colormap,
            "features": source.features}
    else:
        data, colours, features = _labels_from_colours(source)
        kwargs = {"opacity": TARGET_OPACITY, "colormap": colours, "features": features}
    target = viewer.add_labels(data, name=f"{source.name} target",
                               metadata={TARGET_KEY: True, TARGET_OF_KEY: source.unique_id},
                               **placement_kwargs(source), **kwargs)
    viewer.layers.selection.active = target
    target.mode = "paint"
    target.selected_label = _first_brush_label(data, getattr(source, "selected_label", None))
    return target


def _first_brush_label(data: np.ndarray, chosen: int | None) -> int:
    """The label the brush starts with: the one chosen on the source labels if it is a
    class there, else the most common class, never 0 (which users treat as the
    eraser) unless it is the only one. The highest id, the rule before, was often a
    rare class (a few spots: a first stroke painted spots)."""
    ids, counts = np.unique(np.asarray(data), return_counts=True)
    # (napari's default is 1: only another label is a choice the user made.)
    if chosen is not None and chosen not in (0, 1) and chosen in ids:
        return int(chosen)
    classes = ids != 0
    if not classes.any():
        return int(ids[0]) if ids.size else 1
    return int(ids[classes][np.argmax(counts[classes])])
