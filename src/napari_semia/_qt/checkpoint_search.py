"""Find the cached checkpoint of the source image and labels chosen in the viewer.

The cache (``checkpoints.py``) keys a model by a hash of the exact planes it was
trained on. The plane on display is looked up first; for a stack, its other
planes too: napari reopens a stack on its first or middle plane, and a model
trained on another one was not offered, and looked lost.
"""

from __future__ import annotations

import numpy as np

from ..checkpoints import CheckpointInfo, fingerprint
from ..errors import SemiaInputError
from .layer_data import displayed_plane, plane_at, stack_planes
from .layer_pickers import plane_shape

#: Bytes of a stack hashed in search of a checkpoint, on the UI thread (about
#: 1 GB/s; only when the cache holds a model of the stack's plane size): a
#: bounded pause when a large stack is chosen.
MAX_BYTES_SEARCHED = 256 * 2**20


def find_checkpoint(viewer, image, labels, entries) -> tuple[CheckpointInfo | None, tuple[int, ...]]:
    """(checkpoint, plane of the stack it was trained on: () for the plane on
    display) among ``entries``, or (None, ())."""
    if image is None or labels is None or not entries:
        return None, ()
    try:
        shape = tuple(plane_shape(image))
        if not any(tuple(e.source_shape) == shape for e in entries):
            # No model of this size: nothing worth reading. (The planes were copied
            # first: 0.3 s on the UI thread at each choice of a 12 MP photo's labels.)
            return None, ()
        # (Read in place: hashed here and now.)
        image_plane = displayed_plane(viewer, image, copy=False)[0]
        labels_plane = displayed_plane(viewer, labels, copy=False)[0]
    except SemiaInputError:
        return None, ()
    key = fingerprint(image_plane, labels_plane)
    found = next((e for e in entries if e.key == key), None)
    if found is not None:
        return found, ()
    return _checkpoint_of_another_plane(image, labels, entries)


def _checkpoint_of_another_plane(image, labels, entries) -> tuple[CheckpointInfo | None, tuple[int, ...]]:
    """(checkpoint, plane) of a stack's plane other than the one on display, or (None, ())."""
    image_planes, label_planes = stack_planes(image), stack_planes(labels)
    if len(image_planes) == 1 and len(label_planes) == 1:
        return None, ()
    if len(image_planes) > 1 and len(label_planes) > 1 and image_planes != label_planes:
        return None, ()  # stacks of different shapes: no plane pairs them
    members = [*getattr(image, "layers", [image]), labels]
    if not all(isinstance(layer.data, np.ndarray) for layer in members):
        return None, ()  # planes of a lazy (dask, zarr) stack would be read from disk
    planes = image_planes if len(image_planes) > 1 else label_planes
    keys = {entry.key: entry for entry in entries}
    hashed = 0
    for index in planes:
        image_plane = plane_at(image, index if len(image_planes) > 1 else ())
        labels_plane = plane_at(labels, index if len(label_planes) > 1 else ())
        key = fingerprint(image_plane, labels_plane)
        if key in keys:
            return keys[key], index
        hashed += image_plane.nbytes + labels_plane.nbytes
        if hashed > MAX_BYTES_SEARCHED:
            break
    return None, ()
