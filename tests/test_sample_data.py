"""Sample data contributions: every sample opens ready to train."""

from importlib.resources import files

import numpy as np
import pytest
import yaml
from napari.layers import Image, Labels

from napari_semia._qt.sample_data import load_sample_layers
from napari_semia.samples import SAMPLE_NAMES

PLUGIN = "napari-semia"


def manifest():
    return yaml.safe_load(files("napari_semia").joinpath("napari.yaml").read_text())


def test_every_sample_case_is_in_the_manifest():
    keys = [entry["key"] for entry in manifest()["contributions"]["sample_data"]]
    assert sorted(keys) == sorted(SAMPLE_NAMES)
    assert len(keys) >= 2


@pytest.mark.parametrize("name", SAMPLE_NAMES)
def test_sample_layer_data(name):
    (image, image_kw, image_type), (labels, labels_kw, labels_type), (target, target_kw, target_type) = (
        load_sample_layers(name))
    assert (image_type, labels_type, target_type) == ("image", "labels", "labels")
    assert (image_kw["name"], labels_kw["name"], target_kw["name"]) == (
        f"{name} image", f"{name} labels", f"{name} target")
    assert image.shape[:2] == labels.shape == target.shape
    assert image_kw["rgb"] == (image.ndim == 3)
    # The target is an edit of the source layout, in the same classes.
    assert not np.array_equal(labels, target)
    assert set(np.unique(target)) <= set(np.unique(labels))


def test_open_sample_through_napari_is_ready_to_train(make_napari_viewer):
    viewer = make_napari_viewer()
    _, widget = viewer.window.add_plugin_dock_widget(PLUGIN, "Semantic Image Analogy")
    viewer.open_sample(PLUGIN, "coins")
    assert [layer.name for layer in viewer.layers] == ["coins image", "coins labels", "coins target"]
    assert isinstance(viewer.layers["coins image"], Image)
    assert isinstance(viewer.layers["coins target"], Labels)
    # The widget picks the three layers by itself.
    assert widget.source_layer is viewer.layers["coins image"]
    assert widget.labels_layer is viewer.layers["coins labels"]
    assert widget.target_layer is viewer.layers["coins target"]


def test_a_second_sample_leaves_the_first_one_picked_whole(make_napari_viewer):
    # Found by a user: after opening histology then coffee, the target picker
    # took coffee's target while the source stayed histology's (another shape).
    viewer = make_napari_viewer()
    _, widget = viewer.window.add_plugin_dock_widget(PLUGIN, "Semantic Image Analogy")
    viewer.open_sample(PLUGIN, "histology")
    viewer.open_sample(PLUGIN, "coffee")
    assert widget.source_layer is viewer.layers["histology image"]
    assert widget.labels_layer is viewer.layers["histology labels"]
    assert widget.target_layer is viewer.layers["histology target"]
    # Choosing the other sample's labels brings its target along.
    widget.pickers.labels.set_layer(viewer.layers["coffee labels"])
    assert widget.target_layer is viewer.layers["coffee target"]


def test_rgb_sample_trains_to_an_rgb_output(make_napari_viewer, qtbot):
    viewer = make_napari_viewer()
    _, widget = viewer.window.add_plugin_dock_widget(PLUGIN, "Semantic Image Analogy")
    viewer.open_sample(PLUGIN, "coffee")
    source = viewer.layers["coffee image"]
    settings = widget.settings
    settings.steps, settings.size, settings.width, settings.levels = 2, 32, 8, 3
    widget.train()
    qtbot.waitUntil(lambda: not widget.trainer_runner.running, timeout=60_000)
    qtbot.waitUntil(lambda: not widget.synth_runner.running, timeout=60_000)
    output = viewer.layers["semia – coffee image → coffee target"]
    assert output.rgb
    assert output.data.shape == source.data.shape and output.data.dtype == np.uint8
    assert output.scale.tolist() == source.scale.tolist()
