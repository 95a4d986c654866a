"""Whether a Labels layer is blank: judged once, again only when its pixels change."""

import numpy as np

from napari_semia._qt import layer_pickers
from napari_semia._qt.layer_pickers import is_blank


def test_a_blank_layer_is_read_once_until_it_is_painted_or_given_data(viewer_widget, monkeypatch):
    # Found in review: a blank stack was read whole (with a temporary its size) at
    # every picker refresh.
    viewer, _ = viewer_widget
    reads = []
    real = layer_pickers._holds_one_value
    monkeypatch.setattr(layer_pickers, "_holds_one_value", lambda data: reads.append(1) or real(data))
    monkeypatch.setattr(layer_pickers, "_BLANK_CHUNK", 64)  # several chunks, even in a small stack
    layer = viewer.add_labels(np.zeros((3, 20, 20), np.int32), name="new")
    reads.clear()
    viewer.add_image(np.zeros((3, 20, 20, 4)), channel_axis=-1)  # four picker refreshes
    viewer.layers["new"].name = "sketch"  # and one more
    assert is_blank(layer) and len(reads) <= 1  # (judged at most once, by any refresh)
    reads.clear()
    layer.paint((2, 19, 19), 4, refresh=True)  # a stroke in the last chunk of the last plane
    assert not is_blank(layer) and not is_blank(layer) and len(reads) == 1
    layer.undo()  # blank again (napari says set_data only)
    assert is_blank(layer) and len(reads) == 2
    layer.data = np.zeros((3, 20, 20), np.int32)
    assert is_blank(layer) and len(reads) == 3
    layer.data[1, 5, 5] = 2  # a script's write, then napari's refresh
    layer.refresh()
    assert not is_blank(layer) and len(reads) == 4
    # chunked, and a value anywhere in the last chunk counts
    stroke = np.zeros((3, 20, 20), np.int32)
    stroke[2, 19, 19] = 1
    assert not real(stroke) and real(np.full((3, 20, 20), 7, np.int32))


def test_the_file_a_layer_or_channel_group_came_from(make_napari_viewer, tmp_path):
    from skimage.io import imsave

    from napari_semia._qt.layer_pickers import ChannelGroup, layer_file

    viewer = make_napari_viewer()
    imsave(tmp_path / "img.png", np.zeros((8, 8, 3), np.uint8), check_contrast=False)
    imsave(tmp_path / "stack.tif", np.zeros((2, 8, 8), np.uint16), check_contrast=False)
    (opened,) = viewer.open(str(tmp_path / "img.png"), plugin="napari")
    channels = viewer.open(str(tmp_path / "stack.tif"), plugin="napari", channel_axis=0)
    assert layer_file(opened) == str(tmp_path / "img.png")
    assert layer_file(ChannelGroup(tuple(channels))) == str(tmp_path / "stack.tif")
    assert layer_file(viewer.add_image(np.zeros((8, 8)))) is None and layer_file(None) is None


def test_long_names_are_cut_in_the_middle_so_pickers_tell_them_apart(viewer_widget):
    # A usability pass: cut at the end, two pickers showed the same shared prefix of
    # "2024-05-13_patient-0042_HE_..._image" and "..._labels".
    from qtpy.QtCore import Qt

    viewer, widget = viewer_widget
    prefix = "2024-05-13_patient-0042_HE_stain_40x_region-of-interest-07_"
    viewer.add_image(np.zeros((32, 32), np.uint8), name=prefix + "image")
    viewer.add_labels(np.zeros((32, 32), np.uint8), name=prefix + "labels")
    picker = widget.pickers.image
    assert picker.currentText() == prefix + "image"  # (the name itself is kept whole)
    assert picker.view().textElideMode() == Qt.TextElideMode.ElideMiddle
    # Drawn narrow, two names that differ only at their ends look different.
    picker.setMinimumContentsLength(1)
    picker.setFixedWidth(200)
    before = picker.grab().toImage()
    viewer.layers[prefix + "image"].name = prefix + "cells"
    assert picker.currentText() == prefix + "cells"
    assert picker.grab().toImage() != before
