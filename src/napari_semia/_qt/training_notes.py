"""What the widget says, once, about a training's inputs that may not be what the
user meant. Each function returns the message (or None when there is nothing to
say); the widget decides how often to show it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from ..intensity import grey_as_colour_note, transparency_note
from ..io import exif_rotation_note, is_cmyk_jpeg, min_is_white_note, png_reads_as_8_bit, read_source_info
from ..model import SemiaModel
from .layer_data import layer_source_info
from .layer_pickers import ChannelGroup, channel_groups, layer_file, plane_shape, shown_as_one_image
from .output_layer import TRANSFORMS, placement_kwargs


def kept_network_note(resume: SemiaModel, config, continues: bool) -> str | None:
    """Continuing keeps the model's working size and network: say so when the
    fields (disabled meanwhile) read otherwise, e.g. for a model loaded from a file.
    Not when the run cannot continue (``continues``, ``SemiaModel.can_continue_on``'s answer; the
    run says why): "Continuing ..." came just before "Cannot continue training"
    (found by a new user)."""
    kept = resume.config
    if config.network == kept.network:
        return None
    if not continues:
        return None
    return (f"Continuing the model at its own working size ({kept.size} px) and network "
            f"(width {kept.width}, {kept.levels} levels). To train at other settings, untick "
            "'Continue from the current model' to start a new model.")


def _file_path(source) -> str | None:
    """The file a single image layer was opened from (None for a channel group, a
    layer made in a script, or no layer)."""
    if source is None or isinstance(source, ChannelGroup):
        return None
    return layer_file(source)


def eight_bit_png_note(source) -> str | None:
    """A warning for a 16-bit colour PNG that napari opened: its reader (Pillow) gives
    8 bits of the 16, without a word, and the results had 8 (found by a new user)."""
    path = _file_path(source)
    if not path or np.dtype(source.dtype) != np.uint8 or not png_reads_as_8_bit(path):
        return None
    return (f"'{source.name}' is a 16-bit colour PNG, which napari reads with 8 bits per colour: "
            f"training and results have 8. To keep the 16, save the image as TIFF and open that, "
            f"or use the command line (napari-semia train), which reads all 16.")


def _pixel_size_known(source, resume: SemiaModel | None) -> bool:
    """Whether the model gets a pixel size: the layer's, or the continued model's own."""
    return (layer_source_info(source).pixel_size is not None
            or (resume is not None and resume.source_info.pixel_size is not None))


def lost_pixel_size_note(source, resume: SemiaModel | None = None) -> str | None:
    """A warning for a TIFF whose pixel size napari's reader did not read (an ImageJ
    TIFF opened with File > Open): the model and its results had none, while the
    command line keeps it from the same file (found by a new user). None when the
    model continued (``resume``) has a pixel size: it keeps its own."""
    path = _file_path(source)
    if not path or _pixel_size_known(source, resume):
        return None
    info = read_source_info(path)
    if info.pixel_size is None:
        return None
    rows, columns = (f"{size:g}" for size in info.pixel_size)
    return (f"'{source.name}' was opened without the pixel size its file holds ({rows} × {columns} "
            f"{info.unit}): the model and its results have none. To keep it, set the layer's "
            f"scale and units first (napari's console: viewer.layers['{source.name}'].scale = "
            f"({rows}, {columns}); viewer.layers['{source.name}'].units = '{info.unit}'), or train "
            f"with the command line (napari-semia train), which reads it from the file.")


def unitless_scale_note(source, resume: SemiaModel | None = None) -> str | None:
    """A note for a source given a scale but no unit (napari's default, pixels): the
    scale names no physical size, so the model, its results and its dataset pairs
    carry none, and nothing said so (a biologist's scale=(0.5, 0.5) was dropped from
    the pairs; found by a new user). None when the model continued has a pixel size."""
    if _pixel_size_known(source, resume):
        return None
    first = source.layers[0] if isinstance(source, ChannelGroup) else source
    scale = tuple(float(v) for v in first.scale[-2:])
    if all(v == 1.0 for v in scale):
        return None
    rows, columns = (f"{v:g}" for v in scale)
    return (f"'{source.name}' has a scale of {rows} × {columns} but no unit: the model, its results and "
            f"its dataset pairs carry no pixel size. To keep it, set the layer's units first (napari's "
            f"console: viewer.layers['{first.name}'].units = 'um').")


def turned_photo_note(source) -> str | None:
    """A warning for a photo napari opened on its side (an EXIF orientation tag it
    does not apply): found by a phone photographer, with no hint anywhere."""
    path = _file_path(source)
    return exif_rotation_note(path) if path else None


def shown_otherwise_note(source) -> str | None:
    """A warning for a file napari shows otherwise than image viewers do: a CMYK JPEG
    (print workflows, scanners), whose ink channels napari's reader gives, shown and
    trained as RGBA; a min-is-white TIFF, shown as a negative."""
    path = _file_path(source)
    if not path:
        return None
    inverted = min_is_white_note(path)
    if inverted or not is_cmyk_jpeg(path):
        return inverted
    return (f"'{Path(path).name}' is a CMYK JPEG: napari shows its four ink channels (cyan, magenta, "
            f"yellow, black) as red, green, blue and transparency, and they are trained as such. Save it "
            f"as an RGB image first (the command line reads it as RGB).")


def transparent_photo_note(source, image) -> str | None:
    """For an RGBA layer transparent in places (``image``: its plane), what that does."""
    if (source is None or isinstance(source, ChannelGroup) or not getattr(source, "rgb", False)
            or np.dtype(source.dtype) != np.uint8):
        return None  # (napari also shows a 4-stain uint16 image as RGBA: its 4th channel is data)
    return transparency_note(image, f"'{source.name}'")


def grey_photo_note(source, image, depth_noted: bool = False) -> str | None:
    """For an RGB(A) layer whose colour channels are equal (``image``: its plane).
    ``depth_noted``: :func:`eight_bit_png_note` has spoken of the file's depth."""
    if source is None or isinstance(source, ChannelGroup) or not getattr(source, "rgb", False):
        return None
    to_grey = (f"add one channel as a layer and train on that (napari's console: "
               f"viewer.add_image(viewer.layers['{source.name}'].data[..., 0]))")
    return grey_as_colour_note(image, f"'{source.name}'", to_grey, depth_unknown=not depth_noted)


def single_channel_note(layers, source) -> str | None:
    """When the source is one of several channel layers of one image."""
    if isinstance(source, ChannelGroup):
        return None
    for group in channel_groups(list(layers)):
        if source in group.layers and shown_as_one_image(group):
            return (f"'{source.name}' is one of {len(group.layers)} single-channel layers of the same "
                    f"shape. Training on it alone; to use the channels together, choose "
                    f"'{group.name}' as the source image.")
    return None


def placements(source, labels) -> tuple:
    """Where the plane of each layer is drawn: the world positions of its first
    pixel and of one step down and across (scale, translate, rotate, shear and affine
    together; a labels layer rotated against the image was not noticed)."""
    return tuple(_plane_corners(layer) for layer in (source, labels))


def _plane_corners(layer) -> tuple:
    leading = (0,) * (layer.ndim - 2)
    return tuple(tuple(float(v) for v in layer.data_to_world((*leading, *step))[-2:])
                 for step in ((0, 0), (1, 0), (0, 1)))


def _described_apart(source, layer) -> tuple[str, str] | None:
    """Each layer named with its scale and translate (and turn), when the two have
    one plane size but are not drawn over each other; else None. (Of another size a
    pair is refused, saying how: labels at another pixel size over the same field
    were told to take the image's scale, which would have drawn them apart.)"""
    placed = placements(source, layer)
    if _drawn_alike(*placed) or plane_shape(source) != plane_shape(layer):
        return None
    return tuple(_described_placement(item) for item in (source, layer))


def _drawn_alike(first, second) -> bool:
    """Whether two planes' corners (``_plane_corners``) are one placement, to a thousandth
    of a pixel: relative to the coordinates, far from the origin (a microscope stage's
    1e5 µm) half the pixel size passed for the same (a review)."""
    first, second = np.asarray(first, float), np.asarray(second, float)
    pixel = min(np.linalg.norm(first[1] - first[0]), np.linalg.norm(first[2] - first[0]))
    return bool(np.abs(first - second).max() <= 1e-3 * pixel)


def _described_placement(layer) -> str:
    scale = tuple(float(v) for v in layer.scale[-2:])
    shift = tuple(float(v) for v in layer.translate[-2:])
    turned = [name for name in TRANSFORMS if name in placement_kwargs(layer)]
    turn = f", {' and '.join(turned)} of its own" if turned else ""
    return f"'{layer.name}' (scale {scale}, translate {shift}{turn})"


def misaligned_note(source, labels) -> str | None:
    """When the source image and labels are not drawn over each other: the model
    pairs their pixels by index, so a target painted over the labels showed its
    edits elsewhere in the result (placed like the image)."""
    described = _described_apart(source, labels)
    if described is None:
        return None
    return (f"{described[0]} and {described[1]} are not drawn over each other. Training pairs their "
            "pixels by index, and results are placed like the image, so edits painted over the labels "
            "show elsewhere: give both layers the same scale and translate (and rotation).")


def misplaced_target_note(source, target) -> str | None:
    """When the target is not drawn over the source image: results are placed like
    the image, so a target moved or scaled in the viewer had its edits show
    elsewhere, with no word (found by a napari power user)."""
    described = _described_apart(source, target)
    if described is None:
        return None
    return (f"{described[1]} is not drawn over {described[0]}. Results are placed like the image, so "
            f"what is painted on '{target.name}' shows elsewhere in them: give both layers the same "
            "scale and translate (and rotation).")


class NotedOnce:
    """A note on a pair of layers (``note(source, layer)``: text or None), given
    once while their names and placements stay: not on every Live stroke. Said
    again after the pair was fine in between (moved back, then away again)."""

    def __init__(self, note: Callable[[object, object], str | None]):
        self._note = note
        self._said = None

    def __call__(self, source, layer) -> str | None:
        """The note's text the first time it applies, else None."""
        key = (source.name, layer.name, placements(source, layer))
        if key == self._said:
            return None
        text = self._note(source, layer)
        self._said = key if text else None
        return text


def other_source_note(model: SemiaModel, planes, source, continues: bool) -> str | None:
    """When training continues a model of another image or labels (it may not be
    what the user meant: Continue is ticked after every run). ``continues``:
    ``SemiaModel.can_continue_on``'s answer for these planes."""
    if model.was_trained_on(planes.image, planes.labels) is not False:
        return None
    if not continues:
        return None  # the run itself says what is wrong; no run continues anything
    return (f"Continuing the model trained on another image or labels: it learns "
            f"'{source.name}' from here on. Untick 'Continue from the current model' "
            "to train a new one instead.")
