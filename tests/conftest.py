"""Fixtures shared by the whole suite: one scene builder, tiny training
settings, and the napari widget fixtures (tiny images, fast settings)."""

import numpy as np
import pytest
import torch

from napari_semia.config import TrainingConfig

# The suite's tensors are tiny: one intra-op thread is as fast, and avoids
# OpenMP spin-waiting slowing everything down ~20x when the machine is busy.
torch.set_num_threads(1)

#: Training settings small enough for tests: a few seconds per run.
TINY = TrainingConfig(steps=6, size=32, width=8, levels=3, patch_queries=128)


def make_scene(size: int = 32, rgb: bool = True, seed: int = 0):
    """The suite's one scene: a noisy green background (class 0) and a
    black-and-white striped square (class 1). uint8 RGB, or grayscale."""
    rng = np.random.default_rng(seed)
    xx = np.arange(size)[None, :].repeat(size, 0)
    image = np.zeros((size, size, 3), np.float32)
    image[..., 1] = 120 + 40 * rng.random((size, size))
    labels = np.zeros((size, size), np.int32)
    lo, hi = size // 4, size // 2 + size // 8
    labels[lo:hi, lo:hi] = 1
    inside = labels == 1
    image[inside] = np.where(((xx // 2) % 2 == 0)[inside, None], [230, 230, 230], [20, 20, 20])
    image = image.clip(0, 255).astype(np.uint8)
    return (image if rgb else image[..., 1].copy()), labels


class Abandon(Exception):
    """Raised by a progress callback to abandon the work."""


def dark_sky(size: int = 96, seed: int = 0):
    """A raw astronomical frame in miniature: uint16, linear in flux, a dark sky
    (80, noise 25) and 40 point sources 60-500 times brighter, labelled 1 where
    they rise 300 above the sky. The shape of data whose background the
    intensity normaliser stretches."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size]
    flux = np.zeros((size, size))
    for _ in range(40):
        cy, cx = rng.uniform(0, size, 2)
        peak, radius = rng.uniform(5000, 40000), rng.uniform(0.8, 2.0)
        flux += peak * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * radius**2))
    labels = (flux > 300).astype(np.uint8)
    image = np.clip(80 + flux + rng.normal(0, 25, flux.shape), 0, 65535).astype(np.uint16)
    return image, labels


def abandon_at_end_call(number: int):
    """A progress callback that raises Abandon on its ``number``-th call at 1.0: a
    checkpoint of the last step, before the end."""
    calls = []

    def progress(fraction):
        if abs(fraction - 1.0) < 1e-6:
            calls.append(fraction)
            if len(calls) == number:
                raise Abandon
    return progress


def fail_training_from(monkeypatch, step: int, error: Exception) -> None:
    """Make every training step from ``step`` on raise ``error`` (the steps before run)."""
    from napari_semia.trainer import SemiaTrainer

    real = SemiaTrainer.train_step

    def failing(self, number):
        if number >= step:
            raise error
        return real(self, number)

    monkeypatch.setattr(SemiaTrainer, "train_step", failing)


def moved(labels: np.ndarray, dy: int = 4, dx: int = 6) -> np.ndarray:
    """The layout with every object shifted by (dy, dx)."""
    return np.roll(labels, (dy, dx), axis=(0, 1))


@pytest.fixture
def scene():
    return make_scene()


@pytest.fixture
def moved_target(scene):
    return moved(scene[1])


@pytest.fixture(autouse=True)
def checkpoint_cache(tmp_path, monkeypatch):
    """Checkpoints go to a fresh folder per test, never the user's cache."""
    from napari_semia.checkpoints import CACHE_DIR_ENV

    folder = tmp_path / "semia-cache"
    monkeypatch.setenv(CACHE_DIR_ENV, str(folder))
    return folder


# ------------------------------------------------------------------ widget
PLUGIN = "napari-semia"
WIDGET_NAME = "Semantic Image Analogy"


@pytest.fixture
def messages(monkeypatch):
    """Every notification the widget shows, as (kind, text)."""
    from napari_semia._qt import notify

    shown = []
    for kind in ("error", "warning", "info"):
        monkeypatch.setattr(notify, f"show_{kind}", lambda text, kind=kind: shown.append((kind, text)))
    return shown


@pytest.fixture
def viewer_widget(make_napari_viewer):
    viewer = make_napari_viewer()
    _, widget = viewer.window.add_plugin_dock_widget(PLUGIN, WIDGET_NAME)
    return viewer, widget


@pytest.fixture
def trained(viewer_widget, qtbot):
    """A viewer with the scene (source, labels, moved target) and a 4-step model."""
    from widget_helpers import add_scene, train, wait_for_synthesis

    viewer, widget = viewer_widget
    add_scene(viewer)
    train(qtbot, widget)
    wait_for_synthesis(qtbot, widget)
    return viewer, widget
