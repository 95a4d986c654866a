"""Looking up a cached model of the chosen layers costs nothing when none can fit."""

import numpy as np

from napari_semia._qt import checkpoint_search
from napari_semia._qt.checkpoint_search import find_checkpoint
from napari_semia.checkpoints import CheckpointInfo, fingerprint


def _entry(key, shape):
    return CheckpointInfo(key=key, steps=1, saved_at="2026-12-05T00:00:00+00:00", source_shape=shape,
                          names={})


def test_layers_of_a_size_no_cached_model_has_are_not_read(make_napari_viewer, monkeypatch):
    # A 12 MP photo's planes were copied on the UI thread (0.3 s) at each choice of
    # its labels, to learn that no cached model had its size.
    viewer = make_napari_viewer()
    image = viewer.add_image(np.arange(12 * 16 * 3, dtype=np.uint8).reshape(12, 16, 3), rgb=True)
    labels = viewer.add_labels((np.arange(12 * 16) % 3).reshape(12, 16).astype(np.int32))
    read = []
    real = checkpoint_search.displayed_plane

    def displayed_plane(viewer, layer, copy=True):
        plane, index = real(viewer, layer, copy=copy)
        read.append(np.shares_memory(plane, layer.data))
        return plane, index

    monkeypatch.setattr(checkpoint_search, "displayed_plane", displayed_plane)
    assert find_checkpoint(viewer, image, labels, [_entry("other", (16, 12))]) == (None, ())
    assert read == []
    key = fingerprint(image.data, labels.data)
    found, plane = find_checkpoint(viewer, image, labels, [_entry("other", (12, 16)), _entry(key, (12, 16))])
    assert found.key == key and plane == ()
    assert read == [True, True]  # hashed in place, not copied
