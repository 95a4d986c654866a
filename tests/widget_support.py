"""Shared helpers and fixtures of the widget tests (tiny images, fast settings)."""

import numpy as np
import pytest

from napari_semia import _notify
from napari_semia._output_layer import output_name

PLUGIN = "napari-semia"
WIDGET_NAME = "Semantic Image Analogy"


def tiny_scene(size=32):
    """Noisy background (class 0) and a striped square (class 1), uint8 grayscale."""
    rng = np.random.default_rng(0)
    image = (60 + 40 * rng.random((size, size))).astype(np.uint8)
    labels = np.zeros((size, size), np.int32)
    labels[8:20, 8:20] = 1
    stripes = (np.arange(size) // 2 % 2 == 0)[None, :].repeat(size, 0)
    image[labels == 1] = np.where(stripes[labels == 1], 230, 20)
    return image, labels


@pytest.fixture
def messages(monkeypatch):
    """Every notification the widget shows, as (kind, text)."""
    shown = []
    for kind in ("error", "warning", "info"):
        monkeypatch.setattr(_notify, f"show_{kind}", lambda text, kind=kind: shown.append((kind, text)))
    return shown


@pytest.fixture
def viewer_widget(make_napari_viewer):
    viewer = make_napari_viewer()
    _, widget = viewer.window.add_plugin_dock_widget(PLUGIN, WIDGET_NAME)
    return viewer, widget


def add_scene(viewer, with_target=True):
    image, labels = tiny_scene()
    viewer.add_image(image, name="src")
    viewer.add_labels(labels, name="src labels")
    if with_target:
        viewer.add_labels(np.roll(labels, 6, axis=1), name="layout target")


OUTPUT = output_name("src", "layout target")
TIMEOUT_MS = 60_000


def configure_tiny(widget, steps):
    settings = widget.settings
    settings.steps = steps
    settings.size = 32
    settings.width = 8
    settings.levels = 3
    settings.coarse_fraction = 0.0
    settings.preview_every = 2


def train(qtbot, widget, steps=4):
    configure_tiny(widget, steps)
    widget.controls.train_button.click()
    assert widget.trainer_runner.running
    qtbot.waitUntil(lambda: not widget.trainer_runner.running, timeout=TIMEOUT_MS)


@pytest.fixture
def trained(viewer_widget, qtbot):
    viewer, widget = viewer_widget
    add_scene(viewer)
    train(qtbot, widget)
    return viewer, widget


def wait_for_synthesis(qtbot, widget):
    qtbot.waitUntil(lambda: widget.synth_runner.idle, timeout=TIMEOUT_MS)
