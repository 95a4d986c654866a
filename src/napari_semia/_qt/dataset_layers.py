"""The first pairs of a synthetic dataset as layers: an image stack (one per
channel of a multichannel source) and a labels stack, browsed with the slider,
laid over the source and drawn as it is."""

from __future__ import annotations

import numpy as np
from napari.layers import Image, Labels

from ..model import SemiaModel
from .layer_pickers import OUTPUT_KEY, ChannelGroup
from .new_target import palette_colormap, palette_features
from .output_layer import (
    TRANSFORMS,
    identity_transforms,
    placement_kwargs,
    shear_matrix,
    units_kwargs,
    with_leading_axes,
)

#: Every layer of the dataset's pairs has a name with this prefix.
PREFIX = "semia dataset – "  # (no ':': see output_layer.output_name)
LABELS_NAME = PREFIX + "labels"


def stack_in_the_way(inputs) -> str | None:
    """Why the pairs are not opened here: one of the widget's ``inputs`` (the source
    image or its channel group, the source labels, the target; None for none) is a
    stack, whose slider the pairs' stack would share (browsing them moved a z-stack
    source off the plane trained on, and Train and Synthesize then failed or used
    another plane; found by a new user). None where no input is a stack (another
    layer's slider matters to no plane the widget reads; a review)."""
    layers = [layer for item in inputs if item is not None for layer in getattr(item, "layers", (item,))]
    stacks = [layer.name for layer in layers if layer.ndim > 2]
    if not stacks:
        return None
    return (f"They are not opened as layers here, where they would share the slider of '{stacks[0]}' "
            "(the plane Train and Synthesize use): open them from the folder in another viewer.")


def remove_dataset_pairs(viewer) -> None:
    """Remove the layers of an earlier run's pairs (which share a stacked input's
    slider as the new ones would)."""
    for layer in [layer for layer in viewer.layers if layer.name.startswith(PREFIX)]:
        viewer.layers.remove(layer)


def show_dataset_pairs(viewer, model: SemiaModel, source, labels_layer,
                       images: list[np.ndarray], labels: list[np.ndarray]) -> None:
    """Show ``images`` and ``labels`` (the first pairs) as stacks over ``source``
    (the model's source: an Image layer or ChannelGroup; None: over the labels),
    in the look of ``source`` and of ``labels_layer``; the layers of an earlier
    run are reused."""
    if not images:
        return
    marked = {"metadata": {OUTPUT_KEY: True}}
    image_kwargs = dict(marked)
    if isinstance(source, Image):
        image_kwargs["rgb"] = source.rgb
        if not source.rgb:
            image_kwargs.update(colormap=source.colormap.name,
                                contrast_limits=tuple(source.contrast_limits))
    # Over the source, at its scale: pairs at the working size get pixels as
    # much larger as they are fewer (a first user saw them as a small tile
    # in the corner).
    placement = dataset_placement(model, source if source is not None else labels_layer, labels[0].shape[:2])
    image_stack, label_stack = np.stack(images), np.stack(labels)
    if isinstance(source, ChannelGroup) and image_stack.ndim == 4:
        # One layer per channel, as the source: one (pairs, y, x, channels) layer
        # showed x against the channels, in grey (found by a new user).
        shown = {f"{PREFIX}images [{layer.name}]": (image_stack[..., c], {
            "colormap": layer.colormap, "contrast_limits": tuple(layer.contrast_limits),
            "blending": layer.blending}) for c, layer in enumerate(source.layers)}
    else:
        shown = {PREFIX + "images": (image_stack, image_kwargs)}
    # In the colours the target is painted in (napari's own colours made the
    # two hard to compare; found by a new user).
    labels_kwargs = {}
    if model.codec.is_colour:
        labels_kwargs.update(colormap=palette_colormap(model.codec), features=palette_features(model.codec))
    elif isinstance(labels_layer, Labels):
        labels_kwargs["colormap"] = labels_layer.colormap
    for layer in [layer for layer in viewer.layers
                  if layer.name.startswith(PREFIX) and layer.name not in shown
                  and layer.name != LABELS_NAME]:
        viewer.layers.remove(layer)
    for name, (data, kwargs) in shown.items():
        _show_stack(viewer, name, data, viewer.add_image, dict(marked, **kwargs), placement)
    _show_stack(viewer, LABELS_NAME, label_stack, viewer.add_labels,
                dict(marked, **labels_kwargs), placement)


def _show_stack(viewer, name, data, add, kwargs, placement) -> None:
    """Show a stack of pairs as layer ``name``: the layer of an earlier run
    gets the new data in place (removing it and adding a new one crashed
    napari's drawing under Xvfb, in a new user's session), else a new one."""
    layer = viewer.layers[name] if name in viewer.layers else None
    if (layer is not None and layer.data.ndim == data.ndim
            and getattr(layer, "rgb", False) == kwargs.get("rgb", False)):
        layer.data = data
        # The same display as a new layer gets: placement (a turn it leaves out undone:
        # an earlier source's stayed; a review), and the source's look.
        for key, value in {**identity_transforms(layer.ndim), **placement}.items():
            setattr(layer, key, value)
        for key in ("colormap", "contrast_limits", "blending"):
            if key in kwargs:
                setattr(layer, key, kwargs[key])
        layer.visible = True  # the new pairs, to look at
        return
    if layer is not None:
        viewer.layers.remove(layer)
    add(data, name=name, **kwargs, **placement)


def dataset_placement(model: SemiaModel, source, pair_shape) -> dict:
    """Scale and translate of a stack of pairs of ``pair_shape`` (rows, columns)
    that lays them over the source (a leading axis of 1 for the stack)."""
    if source is None:
        return {}
    (rows, cols), (pair_rows, pair_cols) = model.source_shape, pair_shape
    scale_y, scale_x = (float(v) for v in source.scale[-2:])
    shift_y, shift_x = (float(v) for v in source.translate[-2:])
    factor_y, factor_x = rows / pair_rows, cols / pair_cols
    # A pixel's centre moves by half the growth of its size, turned with the source
    # where it is rotated or sheared (napari applies those after the scale).
    centre = np.array([scale_y * (factor_y - 1) / 2, scale_x * (factor_x - 1) / 2])
    turned = placement_kwargs(source) if len(source.scale) == 2 else {}
    centre = _turn(turned) @ centre
    placement = {"scale": (1.0, scale_y * factor_y, scale_x * factor_x),
                 "translate": (0.0, shift_y + centre[0], shift_x + centre[1])}
    stacked = with_leading_axes(turned, 1)
    placement.update({name: stacked[name] for name in TRANSFORMS if name in stacked})
    # And in the source's units: without them napari warned "Inconsistent units across
    # layers" for each stack and drew no layer in units (found by a new user).
    units = units_kwargs(source).get("units")
    if units is not None:
        placement["units"] = ("pixel", *units[-2:])
    return placement


def _turn(placement: dict) -> np.ndarray:
    """The 2 × 2 rotate and shear of a plane's ``placement`` (identity where none)."""
    rotate = np.asarray(placement.get("rotate", np.eye(2)), float)
    return rotate @ shear_matrix(placement.get("shear", [0.0]))
