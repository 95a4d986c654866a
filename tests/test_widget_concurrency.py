"""The dock's runs side by side: a synthesis and a dataset at once, and what the
dock holds once it is closed (from a review of its concurrency)."""

import gc
import threading
import weakref

import numpy as np
from conftest import PLUGIN, WIDGET_NAME
from test_widget_live import slow_down_full_resolution
from widget_helpers import TARGET, TIMEOUT_MS, add_scene, train, wait_for_synthesis

from napari_semia._qt import jobs
from napari_semia._qt.state import Phase


def _held_full_resolution(monkeypatch):
    """The full-resolution stage runs until ``release`` is set (``started`` once it runs)."""
    started, release = threading.Event(), threading.Event()

    def stage(progress):
        started.set()
        while not release.wait(0.02):
            progress(0.5)  # checks for cancellation, as the refinement does

    slow_down_full_resolution(monkeypatch, stage)
    return started, release


def test_shutdown_lets_go_of_the_model_everywhere(trained, qtbot):
    # The synthesis keys (the last job, the pixels known) held the model after
    # shutdown: its networks and pyramid (accelerator memory) were kept.
    _, widget = trained
    wait_for_synthesis(qtbot, widget)
    model = weakref.ref(widget.model)
    widget.shutdown()
    gc.collect()
    holders = [type(r).__name__ for r in gc.get_referrers(model())] if model() is not None else []
    assert model() is None, f"the model is kept after shutdown, by {holders}"


def test_closing_the_dock_frees_the_model(make_napari_viewer, qtbot):
    # As a user does it: the dock's close button (napari keeps the dock, and the
    # widget in it, until the viewer closes) while the viewer stays open.
    viewer = make_napari_viewer()
    _, widget = viewer.window.add_plugin_dock_widget(PLUGIN, WIDGET_NAME)
    add_scene(viewer)
    train(qtbot, widget)
    wait_for_synthesis(qtbot, widget)
    model = weakref.ref(widget.model)
    viewer.window.remove_dock_widget(widget)
    del widget
    qtbot.wait(50)
    gc.collect()
    assert model() is None


def test_a_dataset_that_ends_during_a_synthesis_leaves_it_stoppable(trained, qtbot, monkeypatch, tmp_path):
    # Generate is offered while a synthesis runs; when the dataset ended, the phase
    # went idle under the synthesis: its Stop greyed, stop_synthesis did nothing.
    _, widget = trained
    wait_for_synthesis(qtbot, widget)
    started, release = _held_full_resolution(monkeypatch)
    widget.synthesize()
    qtbot.waitUntil(started.is_set, timeout=TIMEOUT_MS)
    assert widget.state.synthesizing and widget.synthesis.stop_button.isEnabled()
    assert widget.dataset.generate_button.isEnabled()
    folder = tmp_path / "ds"
    folder.mkdir()
    (folder / "model.semia").write_bytes(b"another model")  # the dataset is refused at once
    widget.dataset_settings.folder = str(folder)
    try:
        widget.generate_dataset()
        qtbot.waitUntil(lambda: not widget.dataset_runner.running, timeout=TIMEOUT_MS)
        assert widget.state.phase is Phase.IDLE and widget.synth_runner.running
        assert widget.state.synthesizing and widget.synthesis.stop_button.isEnabled()
        widget.stop_synthesis()
        qtbot.waitUntil(lambda: not widget.synth_runner.running, timeout=3_000)
        assert not widget.state.synthesizing and not widget.synthesis.stop_button.isEnabled()
    finally:
        release.set()
        wait_for_synthesis(qtbot, widget)


def test_a_synthesis_started_while_a_dataset_is_made_can_be_stopped(trained, qtbot, monkeypatch, tmp_path):
    # Its Stop was greyed (the phase stayed 'generating'), and Escape stopped the
    # dataset instead.
    viewer, widget = trained
    wait_for_synthesis(qtbot, widget)
    gate = threading.Event()
    real = jobs.dataset_updates

    def slow_dataset(request, stop):
        gate.wait(20)
        return (yield from real(request, stop))

    monkeypatch.setattr("napari_semia._qt.dataset_runner.dataset_updates", slow_dataset)
    widget.dataset_settings.folder = str(tmp_path / "ds")
    widget.dataset_settings.count = 1
    widget.generate_dataset()
    assert widget.state.phase is Phase.GENERATING
    started, release = _held_full_resolution(monkeypatch)
    assert widget.synthesis.synthesize_button.isEnabled()
    viewer.layers[TARGET].data = np.roll(viewer.layers[TARGET].data, 2, axis=0)
    widget.synthesize()
    qtbot.waitUntil(started.is_set, timeout=TIMEOUT_MS)
    try:
        assert widget.synthesis.stop_button.isEnabled() and widget.dataset.stop_button.isEnabled()
        widget._stop_by_key()  # Escape: the synthesis first, as its Stop comes first
        qtbot.waitUntil(lambda: not widget.synth_runner.running, timeout=3_000)
        assert widget.dataset_runner.running and widget.state.phase is Phase.GENERATING
    finally:
        release.set()
        gate.set()
        wait_for_synthesis(qtbot, widget)
        qtbot.waitUntil(lambda: not widget.dataset_runner.running, timeout=TIMEOUT_MS)
