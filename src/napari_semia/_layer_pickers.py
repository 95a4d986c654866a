"""Combo boxes that list the viewer's layers of one kind and stay current when
layers are added, removed, reordered or renamed (public ``viewer.layers`` and
``layer.events.name`` events only)."""

from __future__ import annotations

from typing import Callable

import numpy as np

from napari.layers import Image, Labels, Layer
from qtpy.QtCore import Signal
from qtpy.QtWidgets import QComboBox, QFormLayout, QPushButton, QWidget

from .errors import SemiaInputError

NONE_TEXT = "(none)"


class LayerPicker(QComboBox):
    """Lists the layers of ``layer_type``; ``current_layer()`` is the choice.

    ``default`` picks a layer when nothing (valid) is selected yet.
    """

    layer_changed = Signal(object)  # the Layer or None

    def __init__(self, viewer, layer_type: type[Layer] | tuple[type[Layer], ...],
                 default: Callable[[list[Layer]], Layer | None] | None = None,
                 exclude: Callable[[Layer], bool] | None = None, parent=None):
        super().__init__(parent)
        self._viewer = viewer
        self._layer_type = layer_type
        self._default = default or (lambda layers: layers[0] if layers else None)
        self._exclude = exclude or (lambda layer: False)
        self._items: list[Layer | None] = [None]
        self._refreshing = False
        self._chosen = False  # the current layer was picked by the user (or set_layer)
        self.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.setMinimumContentsLength(12)
        self.currentIndexChanged.connect(self._on_index_changed)
        events = viewer.layers.events
        for event in (events.inserted, events.removed, events.moved, events.reordered):
            event.connect(self.refresh)
        events.inserted.connect(self._watch_name)
        for layer in viewer.layers:
            layer.events.name.connect(self.refresh)
        self.refresh()

    def _watch_name(self, event) -> None:
        event.value.events.name.connect(self.refresh)

    def candidates(self) -> list[Layer]:
        return [layer for layer in self._viewer.layers
                if isinstance(layer, self._layer_type) and not self._exclude(layer)]

    def current_layer(self) -> Layer | None:
        index = self.currentIndex()
        if 0 <= index < len(self._items):
            layer = self._items[index]
            return layer if layer is not None and layer in self._viewer.layers else None
        return None

    def set_layer(self, layer: Layer | None) -> None:
        self.refresh()
        if layer in self._items:
            self.setCurrentIndex(self._items.index(layer))
            self._chosen = True

    def refresh(self, *_args) -> None:
        previous = self.current_layer()
        layers = self.candidates()
        self._refreshing = True
        try:
            self.clear()
            # "(none)" first, so an unset picker says so instead of silently
            # showing the first layer.
            self._items = [None, *layers]
            self.addItems([NONE_TEXT] + [layer.name for layer in layers])
            # A layer the user picked stays picked; an automatic pick is
            # re-evaluated, so it improves as the layers of a sample arrive.
            if previous in layers and self._chosen:
                choice = previous
            else:
                self._chosen = False
                choice = self._default(layers)
            self.setCurrentIndex(self._items.index(choice) if choice in layers else 0)
        finally:
            self._refreshing = False
        if self.current_layer() is not previous:
            self.layer_changed.emit(self.current_layer())

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
            self._chosen = True
            self.layer_changed.emit(self.current_layer())


def _is_output(layer: Layer) -> bool:
    return bool(layer.metadata.get("semia_output"))


def _not_label_like(layer: Layer) -> bool:
    return not (isinstance(layer, Labels) or is_colour_label_map(layer))


def looks_like_colour_map(layer: Layer, sample: int = 20_000, colours: int = 32) -> bool:
    """An RGB image whose few most frequent colours cover nearly every pixel:
    a colour-coded label map (anti-aliased edges allowed), not a photo."""
    if not is_colour_label_map(layer) or layer.ndim != 2:
        return False
    rgb = np.asarray(layer.data)[..., :3].reshape(-1, 3)
    rgb = rgb[:: max(1, len(rgb) // sample)].astype(np.int64)
    _, counts = np.unique(rgb[:, 0] << 16 | rgb[:, 1] << 8 | rgb[:, 2], return_counts=True)
    return np.sort(counts)[::-1][:colours].sum() >= 0.9 * len(rgb)


def _label_like(layers: list[Layer]) -> list[Layer]:
    """Labels layers if there are any, else RGB images that look like colour maps."""
    return ([layer for layer in layers if isinstance(layer, Labels)]
            or [layer for layer in layers if looks_like_colour_map(layer)])


def _default_source_labels(layers: list[Layer]) -> Layer | None:
    labels = _label_like(layers)
    return next((layer for layer in labels if "target" not in layer.name.lower()),
                labels[0] if labels else None)


def _default_target(layers: list[Layer]) -> Layer | None:
    # The edited layout is usually a later layer than the source labels
    # (the samples and "New target" both add it after them).
    labels = _label_like(layers)
    named = [layer for layer in labels if "target" in layer.name.lower()]
    if named:
        return named[-1]
    return labels[-1] if len(labels) > 1 else None


def _default_image(layers: list[Layer]) -> Layer | None:
    images = [layer for layer in layers if not looks_like_colour_map(layer)]
    return images[0] if images else None


class LayerPickers(QWidget):
    """Source image, source labels and target labels, plus "New target from source"."""

    def __init__(self, viewer, parent=None):
        super().__init__(parent)
        self.image = LayerPicker(viewer, Image, default=_default_image, exclude=_is_output)
        # Labels layers, and RGB images as colour-coded label maps (the paper's
        # data format); defaults prefer Labels layers.
        self.labels = LayerPicker(viewer, (Labels, Image), default=_default_source_labels,
                                  exclude=_not_label_like)
        self.target = LayerPicker(viewer, (Labels, Image), default=_default_target,
                                  exclude=_not_label_like)
        self.new_target_button = QPushButton("New target from source labels")
        self.new_target_button.setToolTip(
            "Copy the source labels into a new Labels layer and switch to the brush, "
            "so you can paint the new layout right away.")
        self.image.setToolTip("The image whose appearance is learned.")
        self.labels.setToolTip("The label map of that image: a Labels layer (one id per class) "
                               "or a colour-coded RGB label image.")
        self.target.setToolTip("The layout to synthesize: same classes, painted as you like "
                               "(a Labels layer, or a colour-coded RGB label image).")
        layout = QFormLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        layout.addRow("Source image", self.image)
        layout.addRow("Source labels", self.labels)
        layout.addRow("Target labels", self.target)
        layout.addRow(self.new_target_button)


def is_colour_label_map(layer: Layer) -> bool:
    """An RGB Image layer that can serve as colour-coded labels (paper-style data)."""
    return isinstance(layer, Image) and bool(layer.rgb) and not _is_output(layer)


def _labels_from_colours(source: Image) -> tuple[np.ndarray, dict]:
    """Class ids 1..K of a colour-coded label map, and a colormap showing each id
    in its source colour. Ids follow the label codec, so a model trained on the
    colour map accepts the painted ids as targets."""
    from .labels import LabelCodec

    if source.ndim != 2:
        raise SemiaInputError(
            f"'{source.name}' is a stack of colour-coded label maps; make a target from "
            "a single 2D colour map, or use a Labels layer.")
    codec, index = LabelCodec.from_source(np.asarray(source.data))
    ids = np.asarray(codec.class_ids, dtype=np.int32)[index]
    colours = {None: (0, 0, 0, 0)}
    colours.update({int(i): (*(np.asarray(c) / 255.0), 1.0)
                    for i, c in zip(codec.class_ids, codec.palette)})
    return ids, colours


def copy_as_target(viewer, source: Layer) -> Labels:
    """A new Labels layer holding a copy of ``source`` (a Labels layer or a
    colour-coded RGB map), selected, with the brush active on a real class, so
    the user can start painting at once. Raises SemiaInputError."""
    if isinstance(source, Labels):
        data, kwargs = np.array(source.data, copy=True), {
            "opacity": source.opacity, "colormap": source.colormap, "features": source.features}
    else:
        data, colours = _labels_from_colours(source)
        kwargs = {"opacity": 0.7, "colormap": colours}
    target = viewer.add_labels(data, name=f"{source.name} target", scale=source.scale,
                               translate=source.translate, **kwargs)
    viewer.layers.selection.active = target
    target.mode = "paint"
    ids = np.unique(np.asarray(data))
    if ids.size:  # the largest id, not 0, which users treat as the eraser
        target.selected_label = int(ids[-1])
    return target
