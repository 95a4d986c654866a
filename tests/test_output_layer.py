"""Which layer a result goes into: never one the user kept or made."""

import numpy as np

from napari_semia._qt.output_layer import KEPT_KEY, output_spec, write_output


def _planes(value):
    return np.full((8, 8, 2), value, np.float32)


def _outputs(viewer):
    return {layer.name: layer for layer in viewer.layers if layer.metadata.get("semia_output")}


def test_a_kept_channel_set_whose_tag_was_deleted_is_not_written_over(make_napari_viewer):
    # Found in review: one channel of a result renamed to the set's bare name (its tag
    # deleted) left another kept member under its given name, and the next result
    # went into that kept layer.
    viewer = make_napari_viewer()
    target = viewer.add_labels(np.zeros((8, 8), np.int32), name="t")
    spec = output_spec(None, target, channel_names=("A", "B"))
    first = write_output(viewer, spec, _planes(1))
    bare = spec.displays[0].name.rsplit(" [", 1)[0]
    first[0].name = bare
    write_output(viewer, output_spec(None, target, channel_names=("A", "B")), _planes(7))
    assert all(layer.metadata.get(KEPT_KEY) for layer in first)
    assert all(float(layer.data.mean()) == 1.0 for layer in first)  # kept as they were
    new = [layer for layer in _outputs(viewer).values() if layer not in first]
    assert len(new) == 2 and all(float(layer.data.mean()) == 7.0 for layer in new)
    # and the results after go into that new set, under the names napari gave it
    write_output(viewer, output_spec(None, target, channel_names=("A", "B")), _planes(9))
    assert len(_outputs(viewer)) == 4
    assert all(float(layer.data.mean()) == 9.0 for layer in new)
    assert all(float(layer.data.mean()) == 1.0 for layer in first)


def test_a_layer_of_the_user_s_with_the_output_s_name_is_left_alone(make_napari_viewer):
    viewer = make_napari_viewer()
    target = viewer.add_labels(np.zeros((8, 8), np.int32), name="t")
    spec = output_spec(None, target)
    mine = viewer.add_image(np.full((8, 8), 3, np.float32), name=spec.displays[0].name)
    other_shape = viewer.add_image(np.zeros((4, 4), np.float32), name=spec.displays[0].name + " x")
    written = write_output(viewer, spec, np.ones((8, 8), np.float32))
    assert written[0] is not mine and mine in viewer.layers and float(mine.data.mean()) == 3.0
    assert other_shape in viewer.layers
    again = write_output(viewer, output_spec(None, target), np.full((8, 8), 5, np.float32))
    assert again[0] is written[0] and float(written[0].data.mean()) == 5.0
    assert float(mine.data.mean()) == 3.0 and len(viewer.layers) == 4


def test_new_channel_layers_go_over_the_source_in_channel_order(make_napari_viewer):
    # Under the target, but never under the source image (a target moved below it
    # put the result out of sight); found in review: placed one by one over the
    # source, the channels came out in reverse order.
    from napari_semia._qt.layer_pickers import ChannelGroup

    for target_at_bottom in (False, True):
        viewer = make_napari_viewer()
        channels = viewer.add_image(np.zeros((3, 8, 8), np.float32), channel_axis=0, name=["a", "b", "c"])
        target = viewer.add_labels(np.zeros((8, 8), np.int32), name="t")
        if target_at_bottom:
            viewer.layers.move(viewer.layers.index(target), 0)
        spec = output_spec(ChannelGroup(tuple(channels)), target)
        written = write_output(viewer, spec, np.zeros((8, 8, 3), np.float32), below=target)
        order = [layer.name for layer in viewer.layers]
        tags = [order.index(layer.name) for layer in written]
        assert tags == sorted(tags) and len(tags) == 3, order
        assert min(tags) > max(order.index(name) for name in ("a", "b", "c")), order
        if not target_at_bottom:
            assert order[-1] == "t" and max(tags) == len(order) - 2, order
        viewer.close()


def test_the_plugin_s_layer_names_make_file_names_on_every_system():
    # napari's Save of several layers writes "<layer name>.tif": on Windows the ':' of
    # "semia: …" made a 0-byte file "semia" with the image in an alternate data stream.
    from types import SimpleNamespace

    from napari_semia._qt.dataset_layers import LABELS_NAME, PREFIX
    from napari_semia._qt.layer_pickers import ChannelGroup
    from napari_semia._qt.output_layer import output_name

    group = ChannelGroup((SimpleNamespace(name="DAPI"), SimpleNamespace(name="Actin")))
    names = [output_name("photo", "layout A"), output_name(group.name, "layout A"), PREFIX + "images",
             LABELS_NAME]
    assert names[1] == "semia – 2 channels (DAPI + Actin) → layout A"
    for name in names:
        assert not set(name) & set('<>:"/\\|?*'), name
