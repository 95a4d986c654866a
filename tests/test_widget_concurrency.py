"""The dock's runs side by side: a synthesis and a dataset at once, and what the
dock holds once it is closed (from a review of its concurrency)."""

import gc
import queue
import threading
import weakref

import numpy as np
import pytest
import torch
from conftest import PLUGIN, WIDGET_NAME
from test_widget_live import slow_down_full_resolution
from widget_helpers import (
    TARGET,
    TIMEOUT_MS,
    add_scene,
    add_stack_scene,
    configure_tiny,
    train,
    wait_for_synthesis,
)

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


def _generate_held(widget, monkeypatch, tmp_path) -> threading.Event:
    """Generate a pair, the run held until the returned event is set."""
    gate = threading.Event()
    real = jobs.dataset_updates

    def slow_dataset(request, stop):
        gate.wait(20)
        return (yield from real(request, stop))

    monkeypatch.setattr("napari_semia._qt.dataset_runner.dataset_updates", slow_dataset)
    widget.dataset_settings.folder = str(tmp_path / "ds")
    widget.dataset_settings.count = 1
    widget.generate_dataset()
    return gate


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
    gate = _generate_held(widget, monkeypatch, tmp_path)
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


def _pausing_synthesis(monkeypatch):
    """After each result is emitted to the UI thread, the worker waits on ``gate``;
    ``emitted`` gets each result's ``final``; ``runs`` each job run."""
    real = jobs.synthesis_results
    emitted, gate, runs = queue.Queue(), threading.Event(), []

    def paused(job, cancel, report=None):
        runs.append(job)
        for result in real(job, cancel, report):
            yield result
            emitted.put(result.final)
            gate.wait(10)

    monkeypatch.setattr(jobs, "synthesis_results", paused)
    return emitted, gate, runs


def test_stop_with_a_fast_result_on_its_way_does_not_run_again(viewer_widget, qtbot, monkeypatch):
    # A stack's plane, Stop pressed while its fast result was queued to the UI thread:
    # shown after Stop, it put the plane back on the list to complete, and the
    # full-resolution stage Stop was pressed for ran again (from a concurrency review).
    viewer, widget = viewer_widget
    add_stack_scene(viewer, plane=0)
    train(qtbot, widget, steps=2)
    wait_for_synthesis(qtbot, widget)
    viewer.dims.set_current_step(0, 1)
    emitted, gate, runs = _pausing_synthesis(monkeypatch)
    widget.synthesize()
    assert emitted.get(timeout=30) is False  # the fast result is on its way, not yet handled
    widget.stop_synthesis()
    gate.set()
    for _ in range(2):
        qtbot.wait(300)
        wait_for_synthesis(qtbot, widget)
    assert len(runs) == 1


def test_a_replaced_model_s_result_on_its_way_is_not_drawn_during_training(trained, qtbot, monkeypatch):
    from napari_semia._qt import model_io

    viewer, widget = trained
    viewer.layers[TARGET].data = np.roll(viewer.layers[TARGET].data, 3, axis=1)
    emitted, gate, _ = _pausing_synthesis(monkeypatch)
    monkeypatch.setattr(model_io, "ask_train_over_unsaved", lambda parent: True)
    widget.settings.continue_training = False
    widget.synthesize()
    assert emitted.get(timeout=30) is False
    gate.set()
    gate.clear()
    assert emitted.get(timeout=60) is True  # the full-resolution result is on its way
    late = []
    widget.synth_runner.result.connect(lambda result: widget.state.training and late.append(result))
    configure_tiny(widget, 100_000)
    widget.settings.preview_every = 0
    widget.train()
    gate.set()
    qtbot.wait(300)
    training = widget.state.training
    widget.stop()
    qtbot.waitUntil(lambda: not widget.trainer_runner.running, timeout=TIMEOUT_MS)
    wait_for_synthesis(qtbot, widget)
    assert training and not late


def test_dataset_pairs_are_shown_with_the_layers_of_the_run(trained, qtbot, monkeypatch, tmp_path):
    # Other labels chosen while the pairs were made gave the pairs their colours.
    from widget_helpers import LABELS

    from napari_semia._qt.dataset_layers import LABELS_NAME

    viewer, widget = trained
    labels = viewer.layers[LABELS]
    other = viewer.add_labels(labels.data.copy(), name="other labels")
    other.colormap = {None: "transparent", 0: "black", 1: "magenta"}
    widget.pickers.labels.set_layer(labels)
    gate = _generate_held(widget, monkeypatch, tmp_path)
    widget.pickers.labels.set_layer(other)  # while the run goes on
    gate.set()
    qtbot.waitUntil(lambda: not widget.dataset_runner.running, timeout=TIMEOUT_MS)
    shown = viewer.layers[LABELS_NAME].colormap.map(np.array([1]))
    np.testing.assert_allclose(shown, labels.colormap.map(np.array([1])))
    assert not np.allclose(shown, other.colormap.map(np.array([1])))


def test_a_synthesis_outliving_the_close_releases_memory_once_it_lets_go(trained, qtbot, monkeypatch):
    # A refinement step longer than the close's wait: the only release came while the
    # worker still held the model, and none once it let go (a concurrency review).
    from napari_semia._qt import synthesis_runner
    from napari_semia._qt import widget as widget_module

    _, widget = trained
    model = weakref.ref(widget.model)
    calls = []

    def release(device):
        gc.collect()
        calls.append(model() is not None)
        devices.append(device)

    devices = []

    monkeypatch.setattr(widget_module, "release_device_memory", release)
    monkeypatch.setattr(synthesis_runner, "release_device_memory", release)
    monkeypatch.setattr(synthesis_runner, "SHUTDOWN_WAIT_S", 0.2)
    started, done = threading.Event(), threading.Event()

    def stage(progress):
        started.set()
        done.wait(1.5)  # longer than the wait
        progress(0.5)  # (cancelled: raises)

    slow_down_full_resolution(monkeypatch, stage)
    widget.viewer.layers[TARGET].data = np.roll(widget.viewer.layers[TARGET].data, 2, axis=0)
    widget.synthesize()
    qtbot.waitUntil(started.is_set, timeout=TIMEOUT_MS)
    thread = widget.synth_runner._thread.thread
    widget.shutdown()
    assert thread.is_alive() and calls and calls[-1]  # released while still held
    assert widget.synth_runner._running_job is None and widget.synth_runner._held is None  # (they hold it)
    thread.join(20)
    qtbot.waitUntil(lambda: len(calls) >= 2 and not calls[-1], timeout=3_000)
    assert model() is None and devices[-1] == torch.device("cpu")  # the run's own device, not None


@pytest.mark.parametrize("first_fails", [False, True])
def test_an_older_request_s_failure_leaves_a_newer_result_in_sight(trained, qtbot, monkeypatch, first_fails):
    # Synthesize A, edit, Synthesize B; A's full-resolution stage fails: that cleared
    # B's reveal, and B's result stayed under the target (a concurrency review).
    from napari_semia._qt import notify

    viewer, widget = trained
    widget._show_target()
    assert widget.hidden_target.layer is None and viewer.layers[TARGET].visible
    started, go, calls = threading.Event(), threading.Event(), []

    def stage(progress):
        calls.append(1)
        if len(calls) == 1:
            started.set()
            go.wait(20)
            if first_fails:
                raise RuntimeError("CUDA out of memory (simulated)")
            progress(0.5)  # (cancelled: raises)

    slow_down_full_resolution(monkeypatch, stage)
    monkeypatch.setattr(notify, "exception", lambda *args, **kwargs: None)
    target = viewer.layers[TARGET]
    target.data = np.roll(target.data, 2, axis=0)
    widget.synthesize()  # A
    qtbot.waitUntil(started.is_set, timeout=TIMEOUT_MS)
    target.data = np.roll(target.data, 2, axis=1)
    widget.synthesize()  # B: waits for A, which is cancelled
    go.set()
    wait_for_synthesis(qtbot, widget)
    assert len(calls) == 2 and widget.hidden_target.layer is not None


def test_the_synthesis_stop_is_greyed_during_training(trained, qtbot, monkeypatch):
    # Train cancels a running synthesis: its Stop and "Synthesizing…" are not shown then.
    from napari_semia._qt.state import Phase

    viewer, widget = trained
    started, release = _held_full_resolution(monkeypatch)
    viewer.layers[TARGET].data = np.roll(viewer.layers[TARGET].data, 2, axis=0)
    widget.synthesize()
    qtbot.waitUntil(started.is_set, timeout=TIMEOUT_MS)
    try:
        assert widget.synthesis.stop_button.isEnabled()
        widget.state.phase = Phase.TRAINING  # (as Train sets it)
        assert widget.state.synthesizing and not widget.synthesis.stop_button.isEnabled()
        assert widget.synthesis.synthesize_button.text() == "Synthesize"
    finally:
        widget.state.phase = Phase.IDLE
        release.set()
        wait_for_synthesis(qtbot, widget)
