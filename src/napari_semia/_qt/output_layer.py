"""The output layer of a (source, target) pair: created once, then updated in
place, so re-running synthesis never piles up layers.

Where and how a result is shown is decided when a job starts
(:class:`OutputSpec`, from the layers as they are then), so a layer deleted
while training or synthesis runs can never make the result land in a layer
named after a missing input.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from napari.layers import Image

from .layer_pickers import OUTPUT_KEY, ChannelGroup, is_open, is_output

#: Metadata of an output layer: the inputs it shows (layers' unique ids and the
#: channel) and the name the widget gave it, to follow a renamed source or target.
INPUTS_KEY = "semia_inputs"
GIVEN_NAME_KEY = "semia_name"
#: Metadata of an output layer: the source's placement (scale, translate, rotate, ...) it was
#: last placed by.
PLACEMENT_KEY = "semia_placement"
#: Metadata of a stack output: the planes (index tuples) that hold a result, and
#: whether the others show the source (else they are blank).
SYNTHESIZED_PLANES_KEY = "semia_synthesized_planes"
SOURCE_IN_OTHER_PLANES_KEY = "semia_source_in_other_planes"
#: Metadata of the channel layers of a result kept by renaming one of them.
KEPT_KEY = "semia_kept"
_LISTED_PLANES = 6


def output_name(source_name: str, target_name: str) -> str:
    # No ':' of ours: napari's Save of several layers writes "<layer name>.tif", and on
    # Windows "semia: …" became a 0-byte file "semia" with the image in an alternate
    # data stream (a portability audit).
    return f"semia – {source_name} → {target_name}"


def _inputs_key(spec: OutputSpec, display: ChannelDisplay) -> tuple:
    source = spec.source
    members = source.layers if isinstance(source, ChannelGroup) else (() if source is None else (source,))
    target = spec.target.unique_id if spec.target is not None else None
    return (tuple(layer.unique_id for layer in members), target, display.channel)


def output_target_id(layer) -> str | None:
    """The unique id of the target an output layer shows results for (None if unknown)."""
    inputs = layer.metadata.get(INPUTS_KEY)
    return inputs[1] if inputs else None


def _is_reusable_output(layer) -> bool:
    """An output of ours that the next result may go into: not a layer of the user's
    that happens to have the name, and not one kept (renamed, or one of a kept set)."""
    return is_output(layer) and not layer.metadata.get(KEPT_KEY)


def _reusable_output(viewer, key: tuple, name: str):
    """The layer the next result of these inputs goes into, or None for a new one.

    By name first; then the output of these inputs under the name they had, renamed
    to ``name`` where it is free. Renaming the target while training left the
    previews in one layer and put the result into a second one, and the stale one was
    selected as the result. An output the user renamed (to keep it) is left alone, and
    so is any layer of that name that is not ours or was kept: a kept channel set
    whose tag was deleted has a member with its given name, and the next result went
    into it (found in review)."""
    if name in viewer.layers and _is_reusable_output(viewer.layers[name]):
        return viewer.layers[name]
    for layer in viewer.layers:
        metadata = layer.metadata
        if (_is_reusable_output(layer) and metadata.get(INPUTS_KEY) == key
                and metadata.get(GIVEN_NAME_KEY) == layer.name):
            if name not in viewer.layers:
                layer.name = name
                metadata[GIVEN_NAME_KEY] = name
            return layer
    return None


@dataclass(frozen=True)
class ChannelDisplay:
    """One output layer: which channel of the result (None: all of it) and how to show it."""

    name: str
    channel: int | None
    kwargs: dict
    source_data: object
    """The source layer's data, shown in stack planes not synthesized yet."""
    contrast_range: tuple[float, float] | None = None
    """The source's contrast slider range: napari makes the given limits the range,
    so the output's slider could not open past the source's current window."""
    dtype: object = None
    """The channel layer's own dtype: a group of mixed dtypes (uint16 DAPI, float32
    deconvolved actin) is synthesized in the promoted one."""
    tag: str = ""
    """What the name adds for its channel (' [DAPI]'); parsed from the name, a
    channel named 'cells [1]' gave ' [1]]'."""


@dataclass(frozen=True, eq=False)
class OutputSpec:
    displays: tuple[ChannelDisplay, ...]
    index: tuple[int, ...]
    """Position of the result plane in ``leading_shape`` (empty for 2D)."""
    leading_shape: tuple[int, ...]
    source: object
    target: object

    def inputs_alive(self, viewer) -> bool:
        """The source image and target the output is named after are still open."""
        return all(item is None or is_open(viewer, item) for item in (self.source, self.target))


def units_kwargs(layer) -> dict:
    """``{"units": ...}`` of a layer, for a layer placed like it (napari 0.6 on has
    units: an output without the source's µm made napari warn "Inconsistent units
    across layers" at every result); {} where napari has none."""
    units = getattr(layer, "units", None)
    return {"units": tuple(str(unit) for unit in units)} if units is not None else {}


#: Placement beyond scale and translate, carried where it is not the identity: a
#: rotated acquisition's result and new target were drawn unrotated beside it
#: (found by a napari power user).
TRANSFORMS = ("rotate", "shear", "affine")


def placement_kwargs(layer) -> dict:
    """Where ``layer`` (a channel group: its layers) is drawn, for a layer placed like
    it: scale, translate, units, and rotate, shear and affine where not the identity."""
    kwargs = {"scale": tuple(layer.scale), "translate": tuple(layer.translate), **units_kwargs(layer)}
    values = {"rotate": np.asarray(layer.rotate, float), "shear": np.asarray(layer.shear, float),
              "affine": np.asarray(layer.affine.affine_matrix, float)}
    identity = identity_transforms(len(layer.scale))
    kwargs.update({name: values[name] for name in TRANSFORMS
                   if values[name].shape != identity[name].shape
                   or not np.allclose(values[name], identity[name])})
    return kwargs


def identity_transforms(ndim: int) -> dict:
    """Rotate, shear and affine of an ``ndim`` layer that leave it as it is."""
    return {"rotate": np.eye(ndim), "shear": np.zeros(ndim * (ndim - 1) // 2), "affine": np.eye(ndim + 1)}


def with_leading_axes(kwargs: dict, leading: int) -> dict:
    """``kwargs``' rotate, shear and affine for ``leading`` more axes before theirs
    (which those leave alone); the rest as it is."""
    placed = dict(kwargs)
    if "rotate" in kwargs:
        rotate = np.asarray(kwargs["rotate"], float)
        placed["rotate"] = _block(np.eye(leading), rotate)
    if "shear" in kwargs:
        placed["shear"] = _block(np.eye(leading), shear_matrix(kwargs["shear"]))
    if "affine" in kwargs:
        affine = np.asarray(kwargs["affine"], float)
        n = affine.shape[0] - 1
        grown = np.eye(n + leading + 1)
        grown[leading:leading + n, leading:leading + n] = affine[:n, :n]
        grown[leading:leading + n, -1] = affine[:n, -1]
        placed["affine"] = grown
    return placed


def shear_matrix(shear) -> np.ndarray:
    """A layer's ``shear`` as its matrix (napari gives the upper triangle's values, row by row)."""
    shear = np.asarray(shear, float)
    if shear.ndim == 2:
        return shear
    n = int(round((1 + np.sqrt(1 + 8 * shear.size)) / 2))
    matrix = np.eye(n)
    matrix[np.triu_indices(n, 1)] = shear
    return matrix


def _block(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    out = np.zeros((len(first) + len(second),) * 2)
    out[:len(first), :len(first)] = first
    out[len(first):, len(first):] = second
    return out


def _display_kwargs(layer) -> dict:
    kwargs = {"rgb": bool(getattr(layer, "rgb", False)), **placement_kwargs(layer)}
    if isinstance(layer, Image) and not layer.rgb:
        # Same colormap and contrast as the source, so the two compare by eye.
        kwargs.update(colormap=layer.colormap.name, contrast_limits=tuple(layer.contrast_limits),
                      gamma=float(layer.gamma), blending=layer.blending)
    return kwargs


def _contrast_range(layer) -> tuple[float, float] | None:
    if isinstance(layer, Image) and not layer.rgb:
        return tuple(float(v) for v in layer.contrast_limits_range)
    return None


#: Colormaps of named channels shown with no source layers to follow, as napari's
#: ``channel_axis`` gives them (two channels: magenta and green).
_CHANNEL_COLORMAPS = {2: ("magenta", "green")}
_MANY_CHANNEL_COLORMAPS = ("cyan", "yellow", "magenta", "red", "green", "blue")


def output_spec(source, target, index=(), leading_shape=(), channel_names=(), colour=False) -> OutputSpec:
    """Decide, now, where results for (source image, target) go. Without a
    source image layer (a loaded model) the output is placed like the target,
    one layer per channel where the model knows its ``channel_names`` (a
    3-channel fluorescence model's result was shown as an RGB photo), as one
    colour layer where it knows its source was one (``colour``: RGB or RGBA)."""
    name = output_name(source.name if source is not None else "model", target.name)
    placement = placement_kwargs(target)
    if source is None and len(channel_names) > 1:
        colormaps = _CHANNEL_COLORMAPS.get(len(channel_names), _MANY_CHANNEL_COLORMAPS)
        displays = tuple(ChannelDisplay(f"{name} [{channel}]", c,
                                        dict(placement, rgb=False, blending="additive",
                                             colormap=colormaps[c % len(colormaps)]), None,
                                        tag=f" [{channel}]")
                         for c, channel in enumerate(channel_names))
    elif source is None:
        displays = (ChannelDisplay(name, None, dict(placement, rgb=True) if colour else placement, None),)
    elif isinstance(source, ChannelGroup):
        displays = tuple(ChannelDisplay(f"{name} [{layer.name}]", c,
                                        _stack_placement(_display_kwargs(layer), target, len(leading_shape)),
                                        layer.data, _contrast_range(layer), np.dtype(layer.dtype),
                                        tag=f" [{layer.name}]")
                         for c, layer in enumerate(source.layers))
    else:
        displays = (ChannelDisplay(name, None,
                                   _stack_placement(_display_kwargs(source), target, len(leading_shape)),
                                   source.data, _contrast_range(source)),)
    return OutputSpec(displays, tuple(index), tuple(leading_shape), source, target)


def output_layers(viewer, spec: OutputSpec) -> list:
    """The layers that show ``spec``'s results (a display split by channel: each)."""
    names = {display.name for display in spec.displays}
    return [layer for layer in viewer.layers
            if layer.name in names or layer.name.rsplit(" [channel ", 1)[0] in names]


def _stack_placement(kwargs: dict, target, leading: int) -> dict:
    """``kwargs`` with a scale and translate for every axis of the output: a 2D
    source's for the plane, the stacked target's for the axes before it. With the
    source's alone, a z-stack of layouts (z spacing 4) came out at z spacing 1,
    squashed beside the target it was made from."""
    missing = leading + 2 - len(kwargs["scale"])
    if missing <= 0 or target is None or len(target.scale) < leading + 2:
        return kwargs
    start = len(target.scale) - leading - 2
    placed = dict(kwargs, scale=tuple(target.scale)[start:start + missing] + tuple(kwargs["scale"]),
                  translate=tuple(target.translate)[start:start + missing] + tuple(kwargs["translate"]))
    if "units" in kwargs:
        target_units = units_kwargs(target).get("units", ("pixel",) * len(target.scale))
        placed["units"] = tuple(target_units)[start:start + missing] + tuple(kwargs["units"])
    return with_leading_axes(placed, missing)


def _initial_stack(display: ChannelDisplay, full_shape, plane_shape, dtype) -> tuple[np.ndarray, bool]:
    """Data for a new output stack: the source where no result is written yet,
    so unsynthesized planes show the source instead of a black frame; and whether
    they do (else they are blank). A source read lazily (a dask or zarr array, a
    memory map: a reader's stack larger than memory, maybe) leaves them blank: its
    copy read every plane on the UI thread (18 s frozen and 10 GB for a 2.5 GB
    stack, for one result; a pass with lazy layers). (Blank planes cost no memory
    until written: the zeros are the system's untouched pages.)"""
    source = display.source_data
    if source is None or type(source) is not np.ndarray:
        return np.zeros(full_shape, dtype=dtype), False
    if tuple(source.shape) == tuple(full_shape):
        return np.array(source, dtype=dtype, copy=True), True
    if tuple(source.shape) == tuple(plane_shape):
        return np.broadcast_to(np.asarray(source, dtype=dtype), full_shape).copy(), True
    return np.zeros(full_shape, dtype=dtype), False


def _record_plane(layer, index: tuple[int, ...]) -> None:
    planes = {tuple(plane) for plane in layer.metadata.get(SYNTHESIZED_PLANES_KEY, ())}
    layer.metadata[SYNTHESIZED_PLANES_KEY] = sorted(planes | {tuple(int(i) for i in index)})


def unsynthesized_planes_note(layer) -> str | None:
    """A sentence naming the planes of a stack output that hold a result, when
    others do not: they show the source (or nothing) and, saved, the stack was
    mostly original data with nothing to tell (found by a new user). None for a
    2D output and a stack whose every plane is synthesized."""
    planes = layer.metadata.get(SYNTHESIZED_PLANES_KEY)
    if not planes:
        return None
    total = int(np.prod(layer.data.shape[:len(planes[0])]))
    if len(planes) >= total:
        return None
    listed = [str(plane[0]) if len(plane) == 1 else str(tuple(plane)) for plane in planes[:_LISTED_PLANES]]
    listed = ", ".join(listed) + (", …" if len(planes) > _LISTED_PLANES else "")
    others = ("show the source" if layer.metadata.get(SOURCE_IN_OTHER_PLANES_KEY) else "are blank")
    return (f"'{layer.name}' holds results on {len(planes)} of its {total} planes "
            f"({'plane' if len(planes) == 1 else 'planes'} {listed}); the others {others} "
            f"until they are synthesized.")


def detach_copied_output(viewer, layer) -> str | None:
    """For ``layer``, just added: if it carries a result layer's marks under another
    name (napari's Duplicate Layer, to keep a snapshot), it is cut off from that
    result, so no later result takes it for a channel renamed to keep it (the
    original channels were renamed after the copy, found in review). Returns a note
    when it is a visible copy of the live result just under it (where Duplicate Layer
    puts it): new results, Live's too, go to the layer under it, and Live seemed to do
    nothing (found by a napari power user). Not for a copy of a layer the user renamed
    to keep it: a newer result may hold the name it was given."""
    metadata = getattr(layer, "metadata", None)
    if not metadata or not metadata.get(OUTPUT_KEY) or INPUTS_KEY not in metadata:
        return None
    given = metadata.get(GIVEN_NAME_KEY)
    if not given or given == layer.name:
        return None  # (a result of ours, or one whose marks are its own)
    key = metadata[INPUTS_KEY]
    # A new dict: whatever made the copy, the original's marks stay untouched.
    layer.metadata = {**{name: value for name, value in metadata.items() if name != INPUTS_KEY},
                      KEPT_KEY: True}
    index = viewer.layers.index(layer)
    original = viewer.layers[index - 1] if index > 0 else None
    if (original is None or not layer.visible or original.name != given
            or original.__class__ is not layer.__class__  # (not type(): napari proxies a plugin's layers)
            or not _is_reusable_output(original) or original.metadata.get(INPUTS_KEY) != key
            or original.metadata.get(GIVEN_NAME_KEY) != original.name):
        return None
    return (f"'{layer.name}' is a copy of the result '{given}', drawn over it: new results (Live's "
            f"too) go to '{given}'. Hide the copy, or move it below, to see them.")


def _colour_plane(plane: np.ndarray) -> bool:
    """Whether napari can show ``plane`` as one colour (RGB or RGBA) image."""
    return plane.ndim == 3 and plane.shape[-1] in (3, 4)


def write_output(viewer, spec: OutputSpec, image: np.ndarray, below=None) -> list:
    """Put ``image`` (one result plane, like the source) into the spec's layer(s).

    A new layer goes directly under ``below`` (the target labels), so the
    strokes being painted stay visible over the result, but never under the
    source image: a target the user moved below it would have put the result
    out of sight (found by a napari power user). The layer selection is left as
    it was, so brush edits on the target continue undisturbed.
    """
    _keep_channels_with_a_renamed_one(viewer, spec)
    layers = []
    for display in spec.displays:
        plane = image if display.channel is None else _in_dtype(image[..., display.channel], display.dtype)
        colour = bool(display.kwargs.get("rgb")) and _colour_plane(plane)
        if spec.source is None and plane.ndim == 3 and plane.shape[-1] != 3 and not colour:
            # Channels that are no RGB colour, with no source layers to follow (a model
            # shown apart from its source): one layer each. As one (H, W, 7) layer
            # napari drew a stack of 7-pixel strips (found by a new user); four
            # channels of data are no RGBA (an opaque alpha is dropped: the result
            # of an RGBA photo is RGB) unless the model's source was a colour image.
            for channel in range(plane.shape[-1]):
                per_channel = replace(display, name=f"{display.name} [channel {channel}]", channel=channel)
                layers.append(_write_one(viewer, spec, per_channel, plane[..., channel], below, layers))
            continue
        layers.append(_write_one(viewer, spec, display, plane, below, layers))
    return layers




def _keep_channels_with_a_renamed_one(viewer, spec: OutputSpec) -> None:
    """A channel output renamed to keep it keeps its channels too: the next result
    went into the others, so the kept result was one channel (found by a new user).
    Each other channel layer of the set is renamed after it ('v1' -> 'v1 [Actin]')."""
    if len(spec.displays) < 2:
        return
    members = []  # (layer, its channel's tag)
    for display in spec.displays:
        key = _inputs_key(spec, display)
        members += [(layer, display.tag) for layer in viewer.layers
                    if layer.metadata.get(OUTPUT_KEY) and layer.metadata.get(INPUTS_KEY) == key
                    and not layer.metadata.get(KEPT_KEY)]
    renamed = [(layer, tag) for layer, tag in members if layer.metadata.get(GIVEN_NAME_KEY) != layer.name]
    if not renamed:
        return
    kept, kept_tag = renamed[0][0].name, renamed[0][1]
    base = kept[:-len(kept_tag)] if kept_tag and kept.endswith(kept_tag) else kept
    for layer, tag in members:
        if layer.metadata.get(GIVEN_NAME_KEY) == layer.name:
            layer.name = f"{base}{tag}"
        layer.metadata[KEPT_KEY] = True  # a set of its own now: the next results make a new one


def _in_dtype(plane: np.ndarray, dtype) -> np.ndarray:
    """``plane`` in ``dtype`` (rounded and clipped to it for integers); as it is without one."""
    if dtype is None or plane.dtype == dtype:
        return plane
    if np.issubdtype(dtype, np.integer):
        limits = np.iinfo(dtype)
        return np.clip(np.round(plane), limits.min, limits.max).astype(dtype)
    return plane.astype(dtype)


_PLACED_BY = ("scale", "translate", *TRANSFORMS)


def _placement(kwargs: dict) -> tuple:
    return tuple(tuple(float(v) for v in np.ravel(kwargs[name])) if kwargs.get(name) is not None else None
                 for name in _PLACED_BY)


def _follow_placement(layer, kwargs: dict) -> None:
    """A reused output follows a change of its source's placement: one given a pixel
    size after the first result kept the old placement, and Live strokes showed
    elsewhere. Only a change: an output the user moved (beside the source, say) stays
    where they put it. (Its colours and contrast stay too: the user may have set them.)"""
    placement = _placement(kwargs)
    if layer.metadata.get(PLACEMENT_KEY, placement) == placement:
        layer.metadata[PLACEMENT_KEY] = placement
        return
    layer.metadata[PLACEMENT_KEY] = placement
    for name, value in zip(("scale", "translate"), placement):
        if value is not None and len(value) == len(getattr(layer, name)):
            setattr(layer, name, value)
    identity = identity_transforms(len(layer.scale))
    for name in TRANSFORMS:
        value = np.asarray(kwargs[name], float) if name in kwargs else identity[name]
        try:
            setattr(layer, name, value)
        except ValueError:  # (of other axes than the layer's: left as it is)
            pass


def _write_one(viewer, spec: OutputSpec, display: ChannelDisplay, plane: np.ndarray, below, written=()):
    """One display's layer; a new one goes under ``below``, over the source's layers
    and the ones ``written`` before it for this result (in channel order)."""
    full_shape = spec.leading_shape + tuple(plane.shape)
    key = _inputs_key(spec, display)
    existing = _reusable_output(viewer, key, display.name)
    if (isinstance(existing, Image) and isinstance(existing.data, np.ndarray)
            and tuple(existing.data.shape) == full_shape and existing.data.dtype == plane.dtype):
        if spec.index:
            existing.data[spec.index] = plane
            _record_plane(existing, spec.index)
            existing.refresh()
        else:
            existing.data = plane
        _follow_placement(existing, display.kwargs)
        return existing

    stack_metadata = {}
    if spec.index:
        data, source_in_others = _initial_stack(display, full_shape, plane.shape, plane.dtype)
        data[spec.index] = plane
        stack_metadata = {SYNTHESIZED_PLANES_KEY: [tuple(int(i) for i in spec.index)],
                          SOURCE_IN_OTHER_PLANES_KEY: source_in_others}
    else:
        data = plane
    selected = list(viewer.layers.selection)
    active = viewer.layers.selection.active
    if existing is not None:  # a layer of that name we cannot reuse (other shape or kind)
        viewer.layers.remove(existing)
    kwargs = dict(display.kwargs)
    colour_plane = _colour_plane(plane)
    kwargs["rgb"] = bool(kwargs.get("rgb", colour_plane)) and colour_plane
    layer = viewer.add_image(data, name=display.name,
                             metadata={OUTPUT_KEY: True, INPUTS_KEY: key, GIVEN_NAME_KEY: display.name,
                                       PLACEMENT_KEY: _placement(kwargs), **stack_metadata},
                             **kwargs)
    # napari numbers a name that another layer holds ('… [B] [1]'); that number is this
    # output's name from now on, so it is not taken for one the user renamed.
    layer.metadata[GIVEN_NAME_KEY] = layer.name
    if display.contrast_range is not None and plane.ndim == 2:
        low, high = display.contrast_range
        limits = layer.contrast_limits
        # (Wide enough for the limits, which napari would otherwise clip.)
        layer.contrast_limits_range = (min(low, limits[0]), max(high, limits[1]))
        layer.contrast_limits = limits
    if below is not None and below in viewer.layers:
        place = viewer.layers.index(below)
        beneath = [item for item in (*getattr(spec.source, "layers", (spec.source,)), *written)
                   if item is not None and item in viewer.layers]
        if beneath:
            place = max(place, max(viewer.layers.index(item) for item in beneath) + 1)
        viewer.layers.move(viewer.layers.index(layer), place)
    # The selection as it was, the replaced layer's place taken by its successor (kept
    # in it, the removed layer made napari raise 'Cannot select item that is not in list').
    if existing is not None:
        selected = [layer if item == existing else item for item in selected]
        active = layer if active is not None and active == existing else active
    viewer.layers.selection.clear()
    viewer.layers.selection.update([item for item in selected if item in viewer.layers])
    if active is not None and active in viewer.layers:
        viewer.layers.selection.active = active
    return layer
