"""User input as numpy arrays: one place that says clearly what is missing or unreadable."""

from __future__ import annotations

import numpy as np

from .errors import SemiaInputError


def as_array(data, what: str) -> np.ndarray:
    """``np.asarray(data)``, or SemiaInputError naming ``what`` if it is None,
    not array-like (e.g. ragged lists) or empty."""
    if data is None:
        raise SemiaInputError(f"No {what} given.")
    try:
        array = np.asarray(data)
    except Exception as error:  # ragged lists and other non-arrays
        raise SemiaInputError(f"The {what} cannot be read as an array: {error}.") from None
    if array.size == 0:
        raise SemiaInputError(f"The {what} are empty (shape {array.shape}).")
    return array
