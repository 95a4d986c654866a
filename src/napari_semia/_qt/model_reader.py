"""Opening a ``.semia`` model file in napari (File → Open, or dropped on the
canvas): the image it learned, its labels and a target to paint, as layers; the
dock loads the model itself (``MODEL_FILE_KEY``), now or when it opens.

A model file was opened only by the dock's Load model…: napari answered a dropped
one with "No plugin found capable of reading" (a pass on napari's conventions).
"""

from __future__ import annotations

import uuid
from pathlib import Path

import numpy as np

from ..labels import LabelCodec
from .new_target import TARGET_OPACITY, colour_ids, palette_colormap, palette_features
from .sample_data import SAMPLE_KEY

#: Metadata of the layers read from a model file: the file, which the dock loads,
#: each layer's part ("image", "labels", "target"), which the dock picks, and which
#: opening of the file they came from (a file opened twice: the newest layers).
MODEL_FILE_KEY = "semia_model_file"
MODEL_PART_KEY = "semia_model_part"
MODEL_OPENING_KEY = "semia_model_opening"


def get_reader(path):
    """napari's reader hook: a reader for one ``.semia`` file, else None."""
    if isinstance(path, (list, tuple)):
        if len(path) != 1:
            return None
        path = path[0]
    return read_model_layers if str(path).lower().endswith(".semia") else None


def read_model_layers(path) -> list[tuple]:
    """LayerData tuples: "<stem> image" (marked with the model file), "<stem> labels"
    and "<stem> target" (a copy of the labels to paint). Raises ModelFileError (its
    message is for the user) for a file that is no readable model, or one saved
    without its source image (napari-semia's first file format)."""
    from ..errors import ModelFileError
    from ..model import SemiaModel
    from ..model_file import read_model_file

    path = Path(path[0] if isinstance(path, (list, tuple)) else path)
    model = read_model_file(path, SemiaModel)  # (on the CPU; the dock loads it on its device)
    if not model.can_refine:
        raise ModelFileError(f"'{path.name}' holds no image (an early version saved none): open the "
                             "image and labels it was trained on, then Load model… in the Semantic Image "
                             "Analogy dock.")
    name, info = path.stem, model.source_info
    opening = uuid.uuid4().hex

    def marked(part: str) -> dict:
        # (The file as the "sample" whose target goes with its labels: its name alone
        # mixed a 'histology.semia' with the built-in sample of that name.)
        return {MODEL_FILE_KEY: str(path.resolve()), MODEL_PART_KEY: part, MODEL_OPENING_KEY: opening,
                SAMPLE_KEY: str(path.resolve())}

    placed = _placement(info)
    image = model.full_image
    image_kwargs = {"name": f"{name} image", "metadata": marked("image"), **placed}
    colour = info.colour or (not info.is_channels and model.normalizer.layout in ("rgb", "rgba"))
    if image.ndim == 3 and not colour:
        # Channels of data, one layer each: the dock takes them together, as one image.
        # Named as the channels are (the dock keeps the layers' names as the channel
        # names: "<file> DAPI" became the name, one more prefix at each save).
        names = info.channel_names or tuple(f"{name} channel {c}" for c in range(image.shape[-1]))
        image_kwargs.update(channel_axis=-1, name=list(names))
    else:
        image_kwargs["rgb"] = image.ndim == 3
    labels, label_kwargs = _labels_of(model.codec, model.full_index)
    return [
        (image, image_kwargs, "image"),
        (labels, {"name": f"{name} labels", "visible": False, "opacity": 0.5, "metadata": marked("labels"),
                  **label_kwargs, **placed}, "labels"),
        (labels.copy(), {"name": f"{name} target", "opacity": TARGET_OPACITY, "metadata": marked("target"),
                         **label_kwargs, **placed}, "labels"),
    ]


def _placement(info) -> dict:
    """The layers' scale, and its unit where napari knows it ('µm': the scale alone
    read as pixels, and results lost the unit)."""
    if info.pixel_size is None:
        return {}
    placed = {"scale": info.pixel_size}
    if info.unit:
        try:
            import pint

            pint.get_application_registry().Unit(info.unit)  # (napari refuses a unit it cannot read)
            placed["units"] = (info.unit, info.unit)
        except Exception:
            pass
    return placed


def _labels_of(codec: LabelCodec, index: np.ndarray) -> tuple[np.ndarray, dict]:
    """The source labels as a Labels layer's ids and options: a colour-coded map's
    classes as ids 1..K in their colours (as New target paints them), ids as they are."""
    if not codec.is_colour:
        return np.asarray(codec.class_ids)[np.asarray(index, dtype=np.int64)], {}
    shown = {"colormap": palette_colormap(codec), "features": palette_features(codec)}
    return colour_ids(codec, index), shown
