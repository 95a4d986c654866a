"""Opening a .semia model file in napari: its image, labels and a target as layers,
the model loaded in the dock (a pass on napari's conventions: a dropped model file
was "No plugin found capable of reading")."""

import numpy as np
import pytest
from conftest import PLUGIN, TINY, WIDGET_NAME, make_scene
from widget_helpers import wait_for_synthesis

from napari_semia._qt.model_reader import MODEL_FILE_KEY, get_reader, read_model_layers
from napari_semia.errors import ModelFileError
from napari_semia.trainer import SemiaTrainer


@pytest.fixture(scope="module")
def colour_model_file(tmp_path_factory):
    """A 1-step model of the suite's scene, its labels colour-coded."""
    image, labels = make_scene()
    colours = np.where(labels[..., None] == 1, np.uint8([255, 0, 0]), np.uint8([0, 200, 0]))
    trainer = SemiaTrainer(image, colours, TINY.replace(steps=1), device="cpu")
    for _ in trainer.run():
        pass
    path = tmp_path_factory.mktemp("models") / "scene.semia"
    trainer.model.save(str(path))
    return path, image, labels


def test_a_model_file_reads_as_its_image_labels_and_a_target(colour_model_file, tmp_path):
    path, image, labels = colour_model_file
    assert get_reader(str(path)) is read_model_layers and get_reader([str(path)]) is read_model_layers
    assert get_reader(str(tmp_path / "scene.png")) is None
    (image_data, image_kwargs, image_kind), (labels_data, labels_kwargs, _), (target, target_kwargs, _) = (
        read_model_layers(str(path)))
    assert image_kind == "image" and np.array_equal(image_data, image) and image_kwargs["rgb"]
    assert image_kwargs["metadata"][MODEL_FILE_KEY] == str(path.resolve())
    # The colour map's classes as ids 1..K in their colours, as New target paints them.
    assert np.array_equal(labels_data, np.where(labels == 1, 2, 1)) and np.array_equal(target, labels_data)
    assert target is not labels_data and labels_kwargs["colormap"][2][:3] == (1.0, 0.0, 0.0)
    assert (labels_kwargs["name"], target_kwargs["name"]) == ("scene labels", "scene target")
    not_a_model = tmp_path / "notes.semia"
    not_a_model.write_text("mine")
    with pytest.raises(ModelFileError, match="not a readable napari-semia model file"):
        read_model_layers(str(not_a_model))


@pytest.mark.parametrize("dock_first", [True, False])
def test_opening_a_model_file_loads_it_in_the_dock(colour_model_file, make_napari_viewer, qtbot, dock_first):
    path, image, _ = colour_model_file
    viewer = make_napari_viewer()
    viewer.add_image(make_scene(seed=3)[0], name="another photo")  # open before: not the source
    widget = None
    if dock_first:
        _, widget = viewer.window.add_plugin_dock_widget(PLUGIN, WIDGET_NAME)
    viewer.open(str(path), plugin=PLUGIN)
    assert [layer.name for layer in viewer.layers][1:] == ["scene image", "scene labels", "scene target"]
    if widget is None:
        _, widget = viewer.window.add_plugin_dock_widget(PLUGIN, WIDGET_NAME)
    qtbot.waitUntil(lambda: widget.model is not None, timeout=5_000)
    assert widget.model_io.path == str(path.resolve()) and widget.model.steps_done == 1
    assert (widget.source_layer.name, widget.labels_layer.name, widget.target_layer.name) == (
        "scene image", "scene labels", "scene target")
    viewer.layers["scene target"].data = np.roll(viewer.layers["scene target"].data, 3, axis=1)
    widget.synthesize()
    wait_for_synthesis(qtbot, widget)
    (output,) = [layer for layer in viewer.layers if layer.metadata.get("semia_output")]
    assert output.data.shape == image.shape and output.data.dtype == image.dtype


def test_a_model_of_channels_opens_as_one_layer_per_channel(make_napari_viewer, qtbot, tmp_path):
    from napari_semia.source_info import SourceInfo

    image, labels = make_scene()
    channels = np.stack([image[..., 1], image[..., 0]], axis=-1)  # two channels of data, no colour
    trainer = SemiaTrainer(channels, labels, TINY.replace(steps=1), device="cpu",
                           source_info=SourceInfo(("DAPI", "GFP"), (0.25, 0.5), "µm"))
    for _ in trainer.run():
        pass
    path = tmp_path / "two.semia"
    trainer.model.save(str(path))
    viewer = make_napari_viewer()
    _, widget = viewer.window.add_plugin_dock_widget(PLUGIN, WIDGET_NAME)
    viewer.open(str(path), plugin=PLUGIN)
    # Named as the channels (a prefix of the file's name became the channel names at
    # the next save), at the pixel size in its unit (the unit was dropped).
    assert [layer.name for layer in viewer.layers][:2] == ["DAPI", "GFP"]
    assert all(tuple(layer.scale) == (0.25, 0.5) and str(layer.units[0]) == "micrometer"
               for layer in viewer.layers)
    qtbot.waitUntil(lambda: widget.model is not None, timeout=5_000)
    # The dock takes the channels together, as the image the model learned.
    assert [layer.name for layer in widget.source_layer.layers] == ["DAPI", "GFP"]
    assert np.array_equal(np.asarray(viewer.layers["two target"].data), labels)  # (ids as they are)


def test_a_model_file_opened_again_or_over_an_unsaved_model(colour_model_file, make_napari_viewer, qtbot,
                                                            monkeypatch, messages, tmp_path):
    # From a new user's pass: opened twice, the dock stayed on the first copies (the
    # target painted, the newest, was not the one synthesized); answering No to
    # "Replace the unsaved model?" kept the model but chose the file's layers.
    import shutil

    from napari_semia._qt import model_io

    path, _, _ = colour_model_file
    viewer = make_napari_viewer()
    _, widget = viewer.window.add_plugin_dock_widget(PLUGIN, WIDGET_NAME)
    viewer.open(str(path), plugin=PLUGIN)
    qtbot.waitUntil(lambda: widget.model is not None, timeout=5_000)
    first = widget.model
    viewer.open(str(path), plugin=PLUGIN)
    qtbot.waitUntil(lambda: widget.target_layer.name == "scene target [1]", timeout=5_000)
    assert widget.source_layer.name == "scene image [1]" and widget.model is first  # (not read again)
    other = tmp_path / "other.semia"
    shutil.copy(path, other)
    widget.state.model_unsaved = True
    asked = []
    monkeypatch.setattr(model_io, "ask_replace_unsaved", lambda parent: asked.append(True) or False)
    viewer.open(str(other), plugin=PLUGIN)
    qtbot.waitUntil(lambda: any("The unsaved model is kept" in text for _, text in messages), timeout=5_000)
    assert asked == [True] and widget.model is first
    assert (widget.source_layer.name, widget.target_layer.name) == ("scene image [1]", "scene target [1]")
    # Said yes: the other file's model and layers, the earlier files' layers hidden.
    monkeypatch.setattr(model_io, "ask_replace_unsaved", lambda parent: True)
    viewer.open(str(other), plugin=PLUGIN)
    qtbot.waitUntil(lambda: widget.model is not first, timeout=5_000)
    assert widget.model_io.path == str(other.resolve()) and widget.target_layer.name == "other target [1]"
    assert [layer.name for layer in viewer.layers if layer.visible and layer.name.startswith("scene")] == []
    # A duplicate of a model file's layer (napari copies its metadata) opens nothing; it
    # reloaded that file's model over the current one (a review).
    loaded = widget.model
    scene_target = viewer.layers["scene target"]
    viewer.add_labels(scene_target.data.copy(), name="scene target copy",
                      metadata=dict(scene_target.metadata))
    qtbot.wait(100)
    assert widget.model is loaded and widget.target_layer.name == "other target [1]"
    # A model trained since the file was loaded is not that file's: opening it again loads it.
    widget.set_model(first, unsaved=True)
    asked.clear()
    monkeypatch.setattr(model_io, "ask_replace_unsaved", lambda parent: asked.append(True) or True)
    viewer.open(str(other), plugin=PLUGIN)
    qtbot.waitUntil(lambda: widget.model is not first, timeout=5_000)
    assert asked == [True] and widget.model_io.path == str(other.resolve())


def test_a_model_file_s_layers_pair_by_its_path_and_named_channels_stay_channels(colour_model_file, tmp_path):
    # (From a mutation audit.) Three named channels are no RGB image; the layers pair
    # by the file's path, not a name a built-in sample may have.
    from napari_semia._qt.sample_data import SAMPLE_KEY
    from napari_semia.source_info import SourceInfo

    path, _, _ = colour_model_file
    assert {kwargs["metadata"][SAMPLE_KEY] for _, kwargs, _ in read_model_layers(str(path))} == {
        str(path.resolve())}
    image, labels = make_scene()
    trainer = SemiaTrainer(image, labels, TINY.replace(steps=1), device="cpu",
                           source_info=SourceInfo(("A", "B", "C")))
    for _ in trainer.run():
        pass
    three = tmp_path / "three.semia"
    trainer.model.save(str(three))
    _, kwargs, _ = read_model_layers(str(three))[0]
    assert kwargs.get("channel_axis") == -1 and kwargs["name"] == ["A", "B", "C"]


def test_a_model_file_opened_during_training_or_duplicated_loads_nothing(
        colour_model_file, make_napari_viewer, qtbot, messages, tmp_path):
    import shutil

    from napari_semia._qt.state import Phase

    path, _, _ = colour_model_file
    other = tmp_path / "other.semia"
    shutil.copy(path, other)
    viewer = make_napari_viewer()
    viewer.open(str(path), plugin=PLUGIN)
    viewer.open(str(other), plugin=PLUGIN)
    _, widget = viewer.window.add_plugin_dock_widget(PLUGIN, WIDGET_NAME)
    qtbot.waitUntil(lambda: widget.model is not None, timeout=5_000)
    loaded = widget.model
    assert widget.model_io.path == str(other.resolve())  # the newest, opened before the dock
    # A duplicate of the older file's layer (opened before the dock too) opens nothing.
    scene_target = viewer.layers["scene target"]
    viewer.add_labels(scene_target.data.copy(), name="scene target copy",
                      metadata=dict(scene_target.metadata))
    qtbot.wait(300)
    assert widget.model is loaded and widget.model_io.path == str(other.resolve())
    widget.state.phase = Phase.TRAINING  # (as Train sets it)
    try:
        viewer.open(str(path), plugin=PLUGIN)
        qtbot.waitUntil(lambda: any("its model is not loaded" in text for _, text in messages), timeout=5_000)
        assert widget.model is loaded and widget.source_layer.name == "other image"
    finally:
        widget.state.phase = Phase.IDLE
