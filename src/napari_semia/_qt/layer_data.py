"""Copy the 2D plane a user is looking at out of a napari layer.

Stacks, volumes and time series are handled one plane at a time: the plane on
display (``viewer.dims``) is what gets trained on or synthesized, and the
output goes into the same plane of an output stack.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np
from napari.layers import Image, Labels

from ..errors import SemiaInputError
from ..intensity import MAX_CHANNELS
from ..source_info import SourceInfo, unit_name
from .layer_pickers import ChannelGroup, opened_as_image_hint, plane_shape


class PlaneViewError(SemiaInputError):
    """The viewer shows no 2D plane of a stacked layer (a 3D view, axes in another
    order): a matter of the view, not of the layer's data."""


class PlaneOffLayerError(SemiaInputError):
    """The sliders stand past a stacked layer's planes (another layer has more)."""


def _spatial_ndim(layer) -> int:
    """Layer dimensions that napari slices over (RGB channels excluded)."""
    return int(layer.ndim)


def displayed_plane_index(viewer, layer) -> tuple[int, ...]:
    """Indices along the layer's leading axes of the plane currently displayed."""
    if isinstance(layer, ChannelGroup):
        layer = layer.layers[0]
    ndim = _spatial_ndim(layer)
    if ndim <= 2:
        return ()
    if viewer.dims.ndisplay != 2:
        raise PlaneViewError(
            f"'{layer.name}' is {ndim}D and the viewer shows it in 3D. Switch to the "
            "2D view: napari-semia works on the 2D plane on display."
        )
    # Layer axes are aligned with the last ``ndim`` world axes.
    displayed = [axis - (viewer.dims.ndim - ndim) for axis in viewer.dims.displayed]
    if sorted(displayed) != [ndim - 2, ndim - 1]:
        raise PlaneViewError(
            f"'{layer.name}' is displayed along other axes than its last two. "
            "Reset the axis order (Y, X last) so the plane on display is an image plane."
        )
    coords = np.asarray(layer.world_to_data(viewer.dims.point))[: ndim - 2]
    shape = layer.data.shape[: ndim - 2]
    index = tuple(int(round(float(c))) for c in coords)
    if any(not 0 <= i < n for i, n in zip(index, shape)):
        raise PlaneOffLayerError(
            f"The plane on display lies outside '{layer.name}' (index {index}, shape {shape}); "
            "move the sliders onto the layer."
        )
    return index


def refuse_pyramid(layer) -> None:
    """SemiaInputError for a multiscale (pyramid) layer, saying what to add instead."""
    if getattr(layer, "multiscale", False):
        add = "add_labels" if isinstance(layer, Labels) else "add_image"
        raise SemiaInputError(
            f"'{layer.name}' is a multiscale (pyramid) layer, which napari-semia does not "
            "support; open a single-resolution version of it, e.g. its full-resolution level in "
            f"napari's console: viewer.{add}(viewer.layers['{layer.name}'].data[0]) (if it "
            "fits in memory; else a crop of it)."
        )


def displayed_plane(viewer, layer, copy: bool = True) -> tuple[np.ndarray, tuple[int, ...]]:
    """A copy of the displayed 2D plane of ``layer`` (channels kept for RGB
    images; a ChannelGroup's channels stacked last) and its leading indices;
    safe to hand to a worker thread. ``copy=False``: the plane in place where it
    can be (to read at once, on this thread)."""
    if isinstance(layer, ChannelGroup):
        planes = [displayed_plane(viewer, member, copy=False) for member in layer.layers]
        return np.stack([plane for plane, _ in planes], axis=-1), planes[0][1]
    refuse_pyramid(layer)
    index = displayed_plane_index(viewer, layer)
    plane = layer.data[index] if index else layer.data
    return (np.array(plane, copy=True) if copy else np.asarray(plane)), index


def plane_checksum(plane: np.ndarray) -> tuple:
    """What tells a plane from an edited one, read in place on the UI thread: its
    shape, dtype and CRC-32 (16 ms for a 4096 x 4096 int32 plane; a copy and a
    cryptographic digest took 120 ms)."""
    data = np.ascontiguousarray(plane).reshape(-1).view(np.uint8)
    return plane.shape, plane.dtype.str, zlib.crc32(data)


def stack_planes(layer) -> list[tuple[int, ...]]:
    """The leading indices of every 2D plane of ``layer`` ([()] for a 2D layer)."""
    if isinstance(layer, ChannelGroup):
        layer = layer.layers[0]
    ndim = _spatial_ndim(layer)
    return list(np.ndindex(*layer.data.shape[:ndim - 2])) if ndim > 2 else [()]


def plane_at(layer, index: tuple[int, ...]) -> np.ndarray:
    """``layer``'s plane at ``index`` (as :func:`displayed_plane` gives it), a view
    where the data allows: to read, not to keep."""
    if isinstance(layer, ChannelGroup):
        return np.stack([plane_at(member, index) for member in layer.layers], axis=-1)
    return np.asarray(layer.data[index] if index else layer.data)


@dataclass(frozen=True)
class Planes:
    """Copies of the displayed planes, and where the output plane goes."""

    image: np.ndarray
    labels: np.ndarray
    target: np.ndarray | None
    index: tuple[int, ...]
    """Position of the output plane in ``leading_shape`` (empty for 2D)."""
    leading_shape: tuple[int, ...]


def _leading(layer, index: tuple[int, ...]) -> tuple[int, ...]:
    if isinstance(layer, ChannelGroup):
        layer = layer.layers[0]
    return tuple(layer.data.shape[: len(index)])


def output_plane(viewer, target_layer, source_layer) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """(index, leading shape) of the output plane: a stacked target (several
    layouts) decides, else a stacked source, else the output is 2D."""
    for layer in (target_layer, source_layer):
        if layer is not None:
            index = displayed_plane_index(viewer, layer)
            if index:
                return index, _leading(layer, index)
    return (), ()


def training_planes(viewer, image_layer, labels_layer, target_layer) -> Planes:
    """Copy what training needs; raises SemiaInputError naming a missing choice."""
    if image_layer is None:
        # A pyramid is never chosen by itself; the one image open being one left this
        # line unexplained (a pass with multiscale layers).
        pyramids = [layer.name for layer in viewer.layers if isinstance(layer, Image) and layer.multiscale]
        why = (f" ('{pyramids[0]}' is not chosen by itself: it is a multiscale (pyramid) layer, which "
               f"napari-semia does not support; add its full-resolution level in napari's console: "
               f"viewer.add_image(viewer.layers['{pyramids[0]}'].data[0]), if it fits in memory.)"
               if pyramids else "")
        raise SemiaInputError(f"Choose a source image layer (Layers > Source image).{why}")
    if labels_layer is None:
        # The source labels' picker clears itself when its layer is chosen as the
        # target (an automatic pick avoids the other picker's layer), which left this
        # message unexplained (found by a new user).
        taken = (f" If '{target_layer.name}', chosen as the target, is the source's label map, choose it "
                 "here and another layer as the target (or make one with 'New target from source labels')."
                 if target_layer is not None else "")
        raise SemiaInputError("Choose the source labels: a Labels layer of the source image." + taken
                              + opened_as_image_hint(viewer.layers, image_layer))
    if labels_layer is not None and labels_layer == target_layer:
        raise SemiaInputError(
            f"'{labels_layer.name}' is chosen as both the source labels and the target. The source "
            "labels must describe the source image as it is; choose the edited layout as the target "
            "(or make one with 'New target from source labels').")
    _refuse_channels_last_stack(image_layer, labels_layer)
    _refuse_other_pixel_size(image_layer, labels_layer)
    image, _ = displayed_plane(viewer, image_layer)
    labels, _ = displayed_plane(viewer, labels_layer)
    target = displayed_plane(viewer, target_layer)[0] if target_layer is not None else None
    index, leading = output_plane(viewer, target_layer, image_layer)
    return Planes(image, labels, target, index, leading)


def layer_source_info(image_layer) -> SourceInfo:
    """The channel names (a channel group's layer names), pixel size (the scale,
    where napari has a unit for it, such as µm) and colour (an RGB layer) of the
    source image, for the model: results written from it keep them."""
    layers = image_layer.layers if isinstance(image_layer, ChannelGroup) else (image_layer,)
    names = tuple(layer.name for layer in layers) if isinstance(image_layer, ChannelGroup) else ()
    # (napari's RGB layers: RGBA too, where the 4th channel is transparency.)
    colour = not isinstance(image_layer, ChannelGroup) and bool(getattr(image_layer, "rgb", False))
    first = layers[0]
    scale = tuple(float(v) for v in first.scale[-2:])
    units = tuple(getattr(first, "units", ()) or ())
    unit = unit_name(units[-1]) if units else ""
    if not unit:
        # (A scale with napari's default unit, pixels, names no physical size: written
        # as it was, Fiji read "0.325 pixel" per pixel.)
        return SourceInfo(names, colour=colour)
    return SourceInfo(names, scale, unit, colour=colour)


def _refuse_other_pixel_size(image_layer, labels_layer) -> None:
    """SemiaInputError for labels of another size that cover the image's field at
    another pixel size (a segmentation of a binned image, given its true scale):
    refused as 'of another shape' with no word of why or what to do."""
    image_px, labels_px = plane_shape(image_layer), plane_shape(labels_layer)
    if image_px == labels_px:
        return
    image_scale = np.asarray(image_layer.scale[-2:], dtype=float)
    labels_scale = np.asarray(labels_layer.scale[-2:], dtype=float)
    field, labels_field = np.asarray(image_px) * image_scale, np.asarray(labels_px) * labels_scale
    if np.allclose(image_scale, labels_scale) or not np.allclose(field, labels_field, rtol=0.01):
        return  # another size on the same grid, or another field: the shape check says so
    factor = labels_scale / image_scale
    rows, columns = image_px
    raise SemiaInputError(
        f"'{labels_layer.name}' ({labels_px[0]} × {labels_px[1]} px) covers the same field as "
        f"'{image_layer.name}' ({rows} × {columns} px) at {_factor(factor)} its pixel size: the "
        f"labels must have the image's pixels. Resample them to {rows} × {columns} by nearest "
        f"neighbour, e.g. skimage.transform.resize(labels, ({rows}, {columns}), order=0, "
        f"preserve_range=True, anti_aliasing=False), with the image's scale.")


def _factor(factor: np.ndarray) -> str:
    """'2 x' or '2 x 1.5 x' (rows, columns) for a pixel-size ratio."""
    if np.isclose(factor[0], factor[1]):
        return f"{float(factor[0]):g} ×"
    return f"{float(factor[0]):g} × {float(factor[1]):g} ×"


def _refuse_channels_last_stack(image_layer, labels_layer) -> None:
    """SemiaInputError for an (H, W, C) image shown as H planes of W x C pixels
    (added with rgb=False, or with 2 or 5+ channels) beside (H, W) labels: it was
    refused as 'too small (W x C px)', with no word of the channels."""
    if isinstance(image_layer, ChannelGroup) or getattr(image_layer, "rgb", True) or image_layer.ndim != 3:
        return
    shape = tuple(image_layer.data.shape)
    if not 2 <= shape[-1] <= MAX_CHANNELS or plane_shape(labels_layer) != shape[:2]:
        return
    raise SemiaInputError(
        f"'{image_layer.name}' is shown as {shape[0]} planes of {shape[1]} × {shape[2]} pixels, but "
        f"its labels are {shape[0]} × {shape[1]}: its last axis holds {shape[2]} channels. Add it "
        f"with its channels apart, e.g. in napari's console: viewer.add_image(viewer.layers"
        f"['{image_layer.name}'].data, channel_axis=-1)"
        + (", or with rgb=True." if shape[2] in (3, 4) else "."))
