"""Helpers of the widget tests (plain functions; the fixtures are in conftest.py)."""

import numpy as np
from conftest import make_scene, moved

from napari_semia._qt.output_layer import output_name

TIMEOUT_MS = 60_000
SOURCE, LABELS, TARGET = "src", "src labels", "layout target"
OUTPUT = output_name(SOURCE, TARGET)


def add_scene(viewer, with_target=True, rgb=False):
    image, labels = make_scene(rgb=rgb)
    viewer.add_image(image, name=SOURCE)
    viewer.add_labels(labels, name=LABELS)
    if with_target:
        viewer.add_labels(moved(labels, 0, 6), name=TARGET)
    return image, labels


def add_stack_scene(viewer, plane: int):
    """A grey source ("src", "labels") and a target stack of three layouts ("stack
    target"), the slider on ``plane``; returns the layouts."""
    image, labels = make_scene(rgb=False)
    viewer.add_image(image, name="src")
    viewer.add_labels(labels, name="labels")
    layouts = np.stack([labels, np.roll(labels, 6, 1), np.roll(labels, 8, 0)])
    viewer.add_labels(layouts, name="stack target")
    viewer.dims.set_current_step(0, plane)
    return layouts


def configure_tiny(widget, steps):
    settings = widget.settings
    settings.steps = steps
    settings.size = 32
    settings.width = 8
    settings.levels = 3
    settings.coarse_fraction = 0.0
    settings.preview_every = 2


def start_training(qtbot, widget, steps=4):
    configure_tiny(widget, steps)
    widget.controls.train_button.click()
    assert widget.trainer_runner.running


def train(qtbot, widget, steps=4):
    start_training(qtbot, widget, steps)
    qtbot.waitUntil(lambda: not widget.trainer_runner.running, timeout=TIMEOUT_MS)


def wait_for_synthesis(qtbot, widget):
    qtbot.waitUntil(lambda: widget.synth_runner.idle, timeout=TIMEOUT_MS)


def picker_names(picker):
    return [picker.itemText(i) for i in range(picker.count())]


def output_layers(viewer):
    return [layer.name for layer in viewer.layers if layer.metadata.get("semia_output")]
