"""The one output Image layer per (source, target) pair: created once, then
updated in place, so re-running synthesis never piles up layers."""

from __future__ import annotations

import numpy as np
from napari.layers import Image


def output_name(source_name: str, target_name: str) -> str:
    return f"semia: {source_name} → {target_name}"


def _display_kwargs(reference_layer, image: np.ndarray) -> dict:
    rgb = bool(getattr(reference_layer, "rgb", False)) or (
        image.ndim == 3 and image.shape[-1] in (3, 4))
    kwargs = {"rgb": rgb, "scale": tuple(reference_layer.scale),
              "translate": tuple(reference_layer.translate)}
    if not rgb and isinstance(reference_layer, Image):
        # Same colormap and contrast as the source, so the two compare by eye.
        kwargs["colormap"] = reference_layer.colormap.name
        kwargs["contrast_limits"] = tuple(reference_layer.contrast_limits)
    return kwargs


def write_output(viewer, name: str, image: np.ndarray, reference_layer,
                 index: tuple[int, ...] = (), leading_shape: tuple[int, ...] = (),
                 below=None):
    """Put ``image`` (one 2D plane, like the source's) into the layer ``name``.

    ``reference_layer`` (the source image, else the target labels) gives scale,
    translate and display settings. For stacks, ``index`` is the plane's
    position in ``leading_shape``: the output is then a stack of that shape
    with the plane filled in. The layer selection is left as it was, so brush
    edits on the target continue undisturbed. A new layer goes directly under
    ``below`` (the target labels), so the strokes being painted stay visible
    over the result instead of hidden beneath an opaque image.
    """
    full_shape = tuple(leading_shape) + tuple(image.shape)
    existing = viewer.layers[name] if name in viewer.layers else None
    if (isinstance(existing, Image) and isinstance(existing.data, np.ndarray)
            and tuple(existing.data.shape) == full_shape and existing.data.dtype == image.dtype):
        if index:
            existing.data[index] = image
            existing.refresh()
        else:
            existing.data = image
        return existing

    if index:
        data = np.zeros(full_shape, dtype=image.dtype)
        data[index] = image
    else:
        data = image
    selected = list(viewer.layers.selection)
    active = viewer.layers.selection.active
    if existing is not None:  # a layer of that name we cannot reuse (other shape or kind)
        viewer.layers.remove(existing)
    layer = viewer.add_image(data, name=name, metadata={"semia_output": True},
                             **_display_kwargs(reference_layer, image))
    if below is not None and below in viewer.layers:
        viewer.layers.move(viewer.layers.index(layer), viewer.layers.index(below))
    viewer.layers.selection.clear()
    viewer.layers.selection.update(selected)
    if active is not None:
        viewer.layers.selection.active = active
    return layer
