"""Combo boxes that list the viewer's layers for one role (source image,
source labels, target labels) and stay current when layers are added,
removed, reordered or renamed (public ``viewer.layers`` and
``layer.events.name`` events only).

Rules a user can rely on:

* outputs of this widget are never offered as inputs;
* the labels pickers list Labels layers and RGB images that look like
  colour-coded label maps (photos are not offered);
* an automatic choice never falls back onto the layer the other labels
  picker holds, so deleting the source labels cannot silently make the
  target the source;
* image layers of one shape split from one multichannel image (napari's
  ``channel_axis``) are also offered together, as one multichannel source.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
from napari.layers import Image, Labels, Layer
from qtpy.QtCore import Qt, Signal
from qtpy.QtGui import QPalette
from qtpy.QtWidgets import (
    QComboBox,
    QFormLayout,
    QPushButton,
    QStyle,
    QStyleOptionComboBox,
    QStylePainter,
    QWidget,
)

from ..intensity import MAX_CHANNELS
from ..io import tiff_channel_axis
from ..labels import looks_like_colour_map
from .sample_data import SAMPLE_KEY

NONE_TEXT = "(none)"
#: Metadata key of the layers this widget creates (outputs, new targets).
OUTPUT_KEY = "semia_output"
TARGET_KEY = "semia_target"
#: Metadata of a target made here: the unique id of the label map it was copied from.
TARGET_OF_KEY = "semia_target_of"


@dataclass(frozen=True, eq=False)
class ChannelGroup:
    """Several single-channel image layers of one shape used together as one
    (H, W, C) source: how napari shows a multichannel image opened with
    ``channel_axis``."""

    layers: tuple[Layer, ...]

    @property
    def name(self) -> str:
        # No ':' in names that become file names (napari's Save of several layers writes
        # "<name>.tif"; on Windows ':' makes an alternate data stream of it).
        return f"{len(self.layers)} channels (" + " + ".join(layer.name for layer in self.layers) + ")"

    @property
    def ndim(self) -> int:
        return self.layers[0].ndim

    @property
    def scale(self):
        """Where the group is drawn: napari gives channel layers one scale and translate."""
        return self.layers[0].scale

    @property
    def translate(self):
        return self.layers[0].translate

    @property
    def units(self):
        return getattr(self.layers[0], "units", None)

    # ... and one rotate, shear and affine: the group is placed as its first layer is.
    @property
    def rotate(self):
        return self.layers[0].rotate

    @property
    def shear(self):
        return self.layers[0].shear

    @property
    def affine(self):
        return self.layers[0].affine

    def data_to_world(self, position):
        return self.layers[0].data_to_world(position)

    def alive(self, viewer) -> bool:
        return all(layer in viewer.layers for layer in self.layers)

    def __eq__(self, other) -> bool:
        return isinstance(other, ChannelGroup) and all(
            a is b for a, b in zip(self.layers, other.layers)) and len(self.layers) == len(other.layers)

    def __hash__(self) -> int:
        return hash(tuple(id(layer) for layer in self.layers))


def is_output(layer: Layer) -> bool:
    return bool(layer.metadata.get(OUTPUT_KEY))


_colour_map_cache: dict[tuple, bool] = {}


def is_colour_label_image(layer: Layer) -> bool:
    """An RGB Image layer that looks like a colour-coded label map (the paper's data format)."""
    if not isinstance(layer, Image) or not layer.rgb or is_output(layer) or layer.ndim != 2:
        return False
    key = (id(layer), id(layer.data), tuple(layer.data.shape))
    if key not in _colour_map_cache:
        if len(_colour_map_cache) > 64:
            _colour_map_cache.clear()
        _colour_map_cache[key] = looks_like_colour_map(np.asarray(layer.data))
    return _colour_map_cache[key]


def is_label_like(layer: Layer) -> bool:
    return (isinstance(layer, Labels) and not is_output(layer)) or is_colour_label_image(layer)


#: A plain Image layer of at most this many distinct integer values may be a label
#: map that napari opened as an image (a PNG or TIFF of class ids).
MAX_LABEL_VALUES = 64
#: Longest side of the grid such a layer is judged on (every k-th pixel).
_SAMPLE_SIDE = 256


def label_maps_opened_as_images(layers, source=None) -> list[Layer]:
    """Plain Image layers, other than the ``source`` image (a layer or channel group),
    whose values are a few integers: most likely label maps that napari opened as
    images, which the pickers do not offer as labels."""
    excluded = source.layers if isinstance(source, ChannelGroup) else (source,)
    found = []
    for layer in layers:
        if not isinstance(layer, Image) or layer.rgb or is_output(layer) or layer.multiscale:
            continue
        if any(layer == other for other in excluded):  # (==: napari's plugin proxy wraps layers anew)
            continue
        dtype = layer.data.dtype
        if not (np.issubdtype(dtype, np.integer) or np.issubdtype(dtype, np.floating)):
            continue
        grid = tuple(slice(None, None, max(1, side // _SAMPLE_SIDE)) for side in layer.data.shape)
        sample = np.asarray(layer.data[grid])
        # Floats too when whole numbers (a float map of ids 1.0, 2.0, 3.0 got no hint).
        whole = (np.issubdtype(dtype, np.integer)
                 or bool(np.all(np.isfinite(sample) & (sample == np.round(sample)))))
        if whole and len(np.unique(sample)) <= MAX_LABEL_VALUES:
            found.append(layer)
    return found


def opened_as_image_hint(layers, source=None) -> str:
    """A sentence for a missing labels choice when an Image layer looks like the label map."""
    candidates = label_maps_opened_as_images(layers, source)
    if not candidates:
        return ""
    return (f" '{candidates[0].name}' holds only a few integer values: if it is the label map, "
            "napari opened it as an image; right-click it in the layer list and choose "
            "'Convert to Labels'.")


def channel_stack_hint(layer, labels=None) -> str:
    """A warning for a single Image layer read from a TIFF that keeps channels
    along an axis of its own (a Fiji or OME channel stack opened with File ->
    Open): napari gives that axis a slider, so the widget takes it for planes of a
    stack and trains on the channel on display alone. Also for an array of a few
    planes with no file to say what they are, beside a single 2D label map: most
    often channels first, (C, H, W), added with ``viewer.add_image``. '' for other
    layers."""
    if isinstance(layer, ChannelGroup) or not isinstance(layer, Image) or layer.rgb or layer.ndim < 3:
        return ""
    path = layer.source.path
    if not path:
        return _planes_hint(layer, labels)
    axis = tiff_channel_axis(path, tuple(layer.data.shape))
    if axis is None:
        return ""
    count = layer.data.shape[axis]
    if axis == 0:
        how = ("right-click the layer, choose 'Split Stack', then pick "
               f"'{count} channels (...)' as the source image")
    else:  # napari's Split Stack splits the first axis, here not the channels
        how = (f"open it with its channels apart, e.g. in napari's console: "
               f"viewer.add_image(viewer.layers['{layer.name}'].data, channel_axis={axis})")
    return (f"'{layer.name}' holds {count} channels along its axis {axis} (so says its file, "
            f"{Path(path).name}), which napari shows with a slider, like the planes of a stack: "
            f"training uses the channel on display alone. To use the channels together, {how}.")


def _planes_hint(layer, labels) -> str:
    """The warning for a (planes, H, W) array of 2..MAX_CHANNELS planes and a 2D label
    map (with a stack of label maps, the planes are a stack's)."""
    count = layer.data.shape[0]
    if layer.ndim != 3 or not 2 <= count <= MAX_CHANNELS or labels is None or labels.ndim != 2:
        return ""
    if _a_stack_s_axis(layer):
        return ""
    return (f"'{layer.name}' has {count} planes along its first axis, which napari shows with a "
            f"slider: training uses the plane on display alone. If they are the channels of one "
            f"image, right-click the layer, choose 'Split Stack', then pick '{count} channels (...)' "
            f"as the source image (or add the array with channel_axis=0).")


#: First-axis names that say a stack's planes are depths or times, not channels.
_STACK_AXIS_NAMES = frozenset({"z", "t", "time", "depth", "slice", "slices", "plane", "planes",
                               "frame", "frames"})


def _a_stack_s_axis(layer) -> bool:
    """Whether the layer's first axis is told to be depth or time: named so, given a
    step (a scale other than 1) or a unit of its own (seconds beside micrometres; one
    unit for all axes says nothing). A z-stack added from a script with its z step
    was warned of as if its planes were channels."""
    labels = getattr(layer, "axis_labels", None)  # (napari 0.6 on; older: no names, no units)
    name = str(labels[0]).strip().lower() if labels else ""
    if name in _STACK_AXIS_NAMES:
        return True
    if name in ("c", "ch", "channel", "channels"):
        return False
    units = [str(unit) for unit in getattr(layer, "units", ())]
    own_unit = len(units) == layer.ndim and units[0] not in ("pixel", "") and units[0] != units[-1]
    return float(layer.scale[0]) != 1.0 or own_unit


def plane_shape(layer) -> tuple[int, int]:
    """(rows, columns) of a layer's image planes (RGB samples and stack axes left out;
    a channel group's: its first member's)."""
    layer = layer.layers[0] if isinstance(layer, ChannelGroup) else layer
    return tuple(layer.data.shape[:layer.ndim])[-2:]


#: Each Labels layer's last verdict of is_blank, with the id of the array it judged.
_BLANK_VERDICTS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
#: Elements compared at a time: no temporary the size of a large map.
_BLANK_CHUNK = 1 << 22


def is_blank(layer: Layer) -> bool:
    """Whether a Labels layer in memory holds a single value (a new, empty one):
    no label map of an image. Judged on a sample first, so that a large map costs
    little; lazy data is never read here.

    A blank layer is read whole, in chunks, and the verdict is kept until the layer
    is painted, given data or sliced again: a blank 60 x 2048 x 2048 stack cost 0.05 s
    and a 240 MB temporary at every picker refresh, and adding one multichannel image
    refreshes the pickers once per channel (found in review)."""
    data = layer.data
    if not isinstance(layer, Labels) or not isinstance(data, np.ndarray) or data.size == 0:
        return False
    cached = _BLANK_VERDICTS.get(layer)
    if cached is not None and cached[0] == id(data):
        return cached[1]
    if cached is None:  # the first verdict: forget it at whatever may change the pixels
        forget = partial(_forget_blank_verdict, weakref.ref(layer))
        # (set_data: napari's only event at an undo or a script's write and refresh,
        # and also at each plane shown; a stroke emits paint.)
        for name in ("paint", "labels_update", "data", "set_data"):
            emitter = getattr(layer.events, name, None)
            if emitter is not None:
                emitter.connect(forget)
    verdict = _holds_one_value(data)
    _BLANK_VERDICTS[layer] = (id(data), verdict)
    return verdict


def _forget_blank_verdict(layer_ref, event=None) -> None:
    layer = layer_ref()
    if layer is not None and layer in _BLANK_VERDICTS:
        _BLANK_VERDICTS[layer] = (None, False)


def _holds_one_value(data: np.ndarray) -> bool:
    first = data.flat[0]
    step = max(1, int((data.size / (1 << 18)) ** 0.5))
    sample = data[(..., slice(None, None, step), slice(None, None, step))] if data.ndim >= 2 else data
    if (sample != first).any():
        return False
    rows = max(1, _BLANK_CHUNK // max(1, data.size // data.shape[0]))
    return not any((data[start:start + rows] != first).any() for start in range(0, data.shape[0], rows))


def layer_file(layer) -> str | None:
    """The file a layer (or a channel group's first layer) was opened from; None for
    a layer made in a script, or none."""
    if isinstance(layer, ChannelGroup):
        layer = layer.layers[0]
    return getattr(getattr(layer, "source", None), "path", None)


def looks_like_target(layer: Layer) -> bool:
    return bool(layer.metadata.get(TARGET_KEY)) or "target" in layer.name.lower()


def _group_key(layer) -> tuple:
    return (tuple(layer.data.shape), tuple(layer.scale), tuple(layer.translate))


def is_open(viewer, item) -> bool:
    """Whether ``item``, a layer or a channel group (all its layers), is still in the
    viewer (False for None)."""
    if item is None:
        return False
    return item.alive(viewer) if isinstance(item, ChannelGroup) else item in viewer.layers


def _still_a_group(group: ChannelGroup) -> bool:
    """Whether a group's layers still fit together (one shape, scale and translate):
    a kept group with a cropped channel made Synthesize raise."""
    return len({_group_key(layer) for layer in group.layers}) == 1


def channel_groups(layers: list[Layer]) -> list[ChannelGroup]:
    """Groups of 2..MAX_CHANNELS single-channel image layers with one shape, scale and
    translate: first each run of them blended as one image (a layer, then the ones
    napari blends additively after it, as ``channel_axis`` makes them), then all of
    them together where that is another group. With only the latter, one more layer
    of the same size (a probability map) took a channel_axis pair's place, and the
    default fell on its first channel alone."""
    buckets: dict[tuple, list[Layer]] = {}
    for layer in layers:
        if (isinstance(layer, Image) and not layer.rgb and not is_output(layer)
                and not getattr(layer, "multiscale", False)):  # (pyramids are refused at Train)
            buckets.setdefault(_group_key(layer), []).append(layer)
    runs, whole = [], []
    for members in buckets.values():
        bucket_runs: list[list[Layer]] = []
        for layer in members:
            if bucket_runs and layer.blending == "additive":
                bucket_runs[-1].append(layer)
            else:
                bucket_runs.append([layer])
        bucket_runs = [run for run in bucket_runs if 2 <= len(run) <= MAX_CHANNELS]
        runs += bucket_runs
        if 2 <= len(members) <= MAX_CHANNELS and not any(len(run) == len(members) for run in bucket_runs):
            whole.append(members)
    return [ChannelGroup(tuple(members)) for members in runs + whole]


class LayerPicker(QComboBox):
    """Lists candidate layers; ``current_layer()`` is the choice.

    ``candidates(layers)`` lists what may be picked, ``default(candidates)``
    picks one when nothing (valid) is chosen yet.
    """

    layer_changed = Signal(object)  # the Layer (or ChannelGroup) or None

    def __init__(self, viewer, candidates: Callable[[list[Layer]], list],
                 default: Callable[[list], object | None], parent=None,
                 fits: Callable[[object], bool] = lambda _layer: True):
        super().__init__(parent)
        self._viewer = viewer
        self._candidates = candidates
        self._default = default
        self._fits = fits  # whether a pinned layer may stay (the target: the labels' size)
        self._pinned = False  # the current, automatic pick was used: kept while it fits
        self._items: list = [None]
        self._refreshing = False
        self._chosen = False  # the current layer was picked by the user (or set_layer)
        self._role = ""  # what the picker is for, in its tooltip
        self.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.setMinimumContentsLength(12)
        # Long names are cut in the middle, as napari's layer list cuts them: cut at the
        # end, two pickers showed the same shared prefix (a usability pass).
        self.view().setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.currentIndexChanged.connect(self._on_index_changed)
        events = viewer.layers.events
        for event in (events.inserted, events.removed, events.moved, events.reordered):
            event.connect(self.refresh)
        events.inserted.connect(self._watch_name)
        for layer in viewer.layers:
            layer.events.name.connect(self.refresh)
        self.refresh()

    def paintEvent(self, event) -> None:
        """The box as Qt draws it, with the chosen name cut in the middle to fit."""
        painter = QStylePainter(self)
        option = QStyleOptionComboBox()
        self.initStyleOption(option)
        painter.drawComplexControl(QStyle.ComplexControl.CC_ComboBox, option)
        field = self.style().subControlRect(QStyle.ComplexControl.CC_ComboBox, option,
                                            QStyle.SubControl.SC_ComboBoxEditField, self)
        # (The label is drawn past an item's icon, and Qt insets it a pixel: a review.)
        room = field.width() - 2 - (option.iconSize.width() + 4 if not option.currentIcon.isNull() else 0)
        option.currentText = self.fontMetrics().elidedText(option.currentText, Qt.TextElideMode.ElideMiddle,
                                                           max(0, room))
        painter.setPen(self.palette().color(QPalette.ColorRole.Text))  # (as QComboBox's own paintEvent)
        painter.drawControl(QStyle.ControlElement.CE_ComboBoxLabel, option)

    def keyPressEvent(self, event) -> None:
        """Ctrl / Cmd shortcuts go on to napari (Ctrl+Z undoes a brush stroke): a combo
        box took them as letters to search its items for, and the stroke stayed."""
        if event.modifiers() & (Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.MetaModifier):
            event.ignore()
            return
        super().keyPressEvent(event)

    def _watch_name(self, event) -> None:
        event.value.events.name.connect(self.refresh)

    def candidates(self) -> list:
        return self._candidates(list(self._viewer.layers))

    def _alive(self, item) -> bool:
        # (A group's layers may have changed since it was listed.)
        return is_open(self._viewer, item) and (not isinstance(item, ChannelGroup) or _still_a_group(item))

    def current_layer(self):
        index = self.currentIndex()
        if 0 <= index < len(self._items):
            item = self._items[index]
            return item if self._alive(item) else None
        return None

    def pin(self) -> None:
        """Keep the current layer, even if picked automatically, until the user picks
        another or it is removed: once a training or a result used it, a layer added
        or moved in the list (a processed copy, the sample opened again, a duplicate)
        silently became the input instead."""
        if self.current_layer() is not None:
            self._pinned = True

    def set_layer(self, layer) -> None:
        self.refresh()
        if layer in self._items:
            self.setCurrentIndex(self._items.index(layer))
            self._chosen = True
            self._pinned = False

    def refresh(self, *_args) -> None:
        previous = self.current_layer()
        index = self.currentIndex()
        # What the box showed, also if it is gone: a removed layer's picker fell to
        # "(none)" without saying so (previous was already None).
        shown = self._items[index] if 0 <= index < len(self._items) else None
        items = self.candidates()
        kept = self._chosen or (self._pinned and previous is not None and self._fits(previous))
        if isinstance(previous, ChannelGroup) and kept and previous not in items:
            # Channel layers chosen together stay together when one is duplicated or
            # moved (the group was then another, or a single layer).
            items.append(previous)
        self._refreshing = True
        try:
            self.clear()
            # "(none)" first, so an unset picker says so instead of silently
            # showing the first layer.
            self._items = [None, *items]
            self.addItems([NONE_TEXT] + [item.name for item in items])
            # A layer the user picked stays picked; an automatic pick is
            # re-evaluated, so it improves as the layers of a sample arrive.
            if previous in items and kept:
                choice = previous
            else:
                self._chosen = self._pinned = False
                choice = self._default(items)
            self.setCurrentIndex(self._items.index(choice) if choice in items else 0)
        finally:
            self._refreshing = False
        self._show_full_name()
        if self.current_layer() is not previous or (shown is not None and self.current_layer() is None):
            self.layer_changed.emit(self.current_layer())

    def _show_full_name(self) -> None:
        """The whole name as a tooltip: the box clips long names (microscopy names
        often share a long prefix, and two pickers looked alike)."""
        name = self.currentText() if self.current_layer() is not None else ""
        self.setToolTip(f"{name}\n\n{self._role}" if name else self._role)

    def set_role(self, text: str) -> None:
        """What the picker is for: the tooltip says it after the chosen layer's name."""
        self._role = text
        self._show_full_name()

    def disconnect_viewer(self) -> None:
        """Stop listening to the viewer (the widget is going away)."""
        events = self._viewer.layers.events
        for event in (events.inserted, events.removed, events.moved, events.reordered):
            event.disconnect(self.refresh)
        events.inserted.disconnect(self._watch_name)
        for layer in self._viewer.layers:
            layer.events.name.disconnect(self.refresh)

    def _on_index_changed(self, _index: int) -> None:
        if not self._refreshing:
            self._show_full_name()
            self._chosen = True
            self._pinned = False
            self.layer_changed.emit(self.current_layer())


def _image_candidates(layers: list[Layer]) -> list:
    images = [layer for layer in layers if isinstance(layer, Image) and not is_output(layer)]
    return images + channel_groups(layers)


def shown_as_one_image(group: ChannelGroup) -> bool:
    """Whether the group's layers are shown as channels of one image: napari
    blends every channel after the first additively (``channel_axis``); layers
    that merely share a shape are not."""
    return all(layer.blending == "additive" for layer in group.layers[1:])


def _default_images(candidates: list) -> list:
    """The candidates an automatic pick may take, best first."""
    # A multichannel image opened with channel_axis is meant as one source.
    groups = [c for c in candidates if isinstance(c, ChannelGroup) and shown_as_one_image(c)]
    if groups:
        return groups
    # Not a pyramid either: it is refused at Train (its full-resolution level is offered
    # apart only if the user adds it).
    return [c for c in candidates if isinstance(c, Image) and not is_colour_label_image(c)
            and not getattr(c, "multiscale", False)]


def _labels_candidates(layers: list[Layer]) -> list:
    return [layer for layer in layers if is_label_like(layer)]


class LayerPickers(QWidget):
    """Source image, source labels and target labels, plus "New target from source"."""

    def __init__(self, viewer, parent=None):
        super().__init__(parent)
        # Each labels default avoids the layer the other picker holds (looked
        # up when needed: the pickers are built one after the other).
        self.image = LayerPicker(viewer, _image_candidates, self._default_image, fits=self._fits_image)
        self.labels = LayerPicker(viewer, _labels_candidates, self._default_source_labels)
        self.target = LayerPicker(viewer, _labels_candidates, self._default_target, fits=self._fits_labels)
        self.labels.layer_changed.connect(lambda _layer: self.target.refresh())
        self.labels.layer_changed.connect(lambda _layer: self.image.refresh())
        self.target.layer_changed.connect(lambda _layer: self.labels.refresh())
        self.new_target_button = QPushButton("New target from source labels")
        self.new_target_button.setToolTip(
            "Copy the source labels into a new Labels layer and switch to the brush, "
            "so you can paint the new layout right away.")
        self.image.set_role("The image whose appearance is learned. Single-channel layers "
                              "of one shape are also offered together, as one multichannel image.")
        self.labels.set_role("The label map of that image: a Labels layer (one id per class) "
                               "or a colour-coded RGB label image.")
        self.target.set_role("The layout to synthesize: same classes, painted as you like "
                               "(a Labels layer, or a colour-coded RGB label image).")
        layout = QFormLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        layout.addRow("Source image", self.image)
        layout.addRow("Source labels", self.labels)
        layout.addRow("Target labels", self.target)
        layout.addRow(self.new_target_button)

    def pin(self) -> None:
        """Keep the three current layers (see :meth:`LayerPicker.pin`)."""
        for picker in (self.image, self.labels, self.target):
            picker.pin()

    def _other(self, name: str):
        picker = getattr(self, name, None)
        return picker.current_layer() if picker is not None else None

    def _default_source_labels(self, candidates: list):
        target = self._other("target")
        usable = [layer for layer in candidates if layer != target]
        # The map the target made here was copied from: otherwise a sketch painted
        # in another, blank layer took its place at the next layer event.
        copied_from = target.metadata.get(TARGET_OF_KEY) if target is not None else None
        for layer in usable:
            if copied_from is not None and layer.unique_id == copied_from:
                return layer
        plain = [layer for layer in usable if not looks_like_target(layer)]
        # Not a blank layer that comes after a map (napari's "New labels layer", to
        # sketch a layout in): it took the source labels from a colour-coded map, and
        # Train learned the sketch as the source's labels (found by a new user). A
        # blank layer before any map is an annotation of the source in progress.
        blank = [is_blank(layer) for layer in plain]
        drawn = [layer for index, layer in enumerate(plain) if not (blank[index] and not all(blank[:index]))]
        # Labels layers before colour-coded images.
        for group in ([c for c in drawn if isinstance(c, Labels)], drawn, plain):
            if group:
                return group[0]
        return None

    def _default_image(self, candidates: list):
        """The first image of the source labels' size: a sample opened beside a photo
        took the sample's labels and target, and the photo stayed the source image, so
        that Train and Synthesize were refused for their sizes (a pass on napari use)."""
        images = _default_images(candidates)
        labels = self._other("labels")
        if labels is not None:
            fitting = [image for image in images if plane_shape(image) == plane_shape(labels)]
            images = fitting or images
        return images[0] if images else None

    def _fits_image(self, layer) -> bool:
        """An image kept after use must still have the source labels' size, as a target
        must (``_fits_labels``)."""
        labels = self._other("labels")
        return labels is None or plane_shape(layer) == plane_shape(labels)

    def _fits_labels(self, layer) -> bool:
        """A target kept after use must still have the source labels' size: another
        sample's labels chosen by hand took the new sample's target no more."""
        source = self._other("labels")
        return source is None or plane_shape(layer) == plane_shape(source)

    def _default_target(self, candidates: list):
        source = self._other("labels")
        usable = [layer for layer in candidates if layer != source]
        if source is not None:
            # Only a layout of the source's shape can be its target: a second
            # sample's target was picked for the first sample's source (found by
            # a user opening two samples).
            # (Its planes: a stack of layouts is a target for one map.)
            usable = [layer for layer in usable if plane_shape(layer) == plane_shape(source)]
        sample = source.metadata.get(SAMPLE_KEY) if source is not None else None
        made_here = [layer for layer in usable if layer.metadata.get(TARGET_KEY)]
        named = [layer for layer in usable if "target" in layer.name.lower()]
        same_sample = [layer for layer in named if sample and layer.metadata.get(SAMPLE_KEY) == sample]
        for group in (made_here, same_sample, named):
            if group:
                return group[-1]
        # An edited layout is usually a later layer than the source labels.
        return usable[-1] if usable else None
