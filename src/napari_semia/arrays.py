"""User input as numpy arrays: one place that says clearly what is missing or unreadable."""

from __future__ import annotations

import os

import numpy as np

from .errors import SemiaInputError


def verb(what: str, plural: str, singular: str) -> str:
    """``plural`` for "labels" and the like, ``singular`` for "image": messages
    name what they read, and "The image are empty" read badly."""
    return plural if {"labels", "layouts", "images", "targets"} & set(what.split()) else singular


def as_array(data, what: str) -> np.ndarray:
    """``np.asarray(data)``, or SemiaInputError naming ``what`` if it is None,
    not array-like (e.g. ragged lists) or empty."""
    if data is None:
        raise SemiaInputError(f"No {what} given.")
    if isinstance(data, (str, os.PathLike)):
        # A file name read as an array gave "unsupported dtype <U45" (found by a new user).
        reader = "read_image_file" if "image" in what.split() else "read_label_file"
        raise SemiaInputError(
            f"The {what} {verb(what, 'are', 'is')} a file name ('{os.fspath(data)}'), not an array: "
            f"read the file first, e.g. with napari_semia.io.{reader}(path), which reads it as the "
            f"command line does.")
    try:
        array = np.asarray(data)
    except Exception as error:  # ragged lists and other non-arrays
        raise SemiaInputError(f"The {what} cannot be read as an array: {error}.") from None
    if array.size == 0:
        raise SemiaInputError(f"The {what} {verb(what, 'are', 'is')} empty (shape {array.shape}).")
    return array


def as_label_array(data, what: str) -> np.ndarray:
    """``as_array`` for a label map: a trailing axis of one (``[..., None]`` for a
    network, a grey 'L' image read as (H, W, 1)) is dropped, as an image's is
    kept as one channel (such labels were refused; a scripting user)."""
    array = as_array(data, what)
    if array.ndim == 3 and array.shape[-1] == 1:
        array = array[..., 0]
    return array
