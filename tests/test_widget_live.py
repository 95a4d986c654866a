"""Live synthesis: debouncing, dropping stale requests, previews while training."""

import threading

import numpy as np
from widget_helpers import OUTPUT, TARGET, TIMEOUT_MS, add_scene, configure_tiny, wait_for_synthesis

from napari_semia._qt import jobs


def count_syntheses(monkeypatch, gate=None):
    """Record the target of every synthesis that really runs; optionally hold
    each one until ``gate`` is set, to simulate a slow model."""
    targets = []
    real = jobs.run_synthesis

    def recording(job):
        targets.append(job.target.copy())
        if gate is not None:
            gate.wait(10)
        return real(job)

    monkeypatch.setattr(jobs, "run_synthesis", recording)
    return targets


def test_a_burst_of_brush_events_synthesizes_once(trained, qtbot, monkeypatch):
    viewer, widget = trained
    wait_for_synthesis(qtbot, widget)
    targets = count_syntheses(monkeypatch)
    widget.synthesis.live.setChecked(True)
    wait_for_synthesis(qtbot, widget)
    targets.clear()
    layer = viewer.layers[TARGET]
    for x in range(2, 12):  # ten dabs in quick succession, like one stroke
        layer.paint((28, x), 1)
    wait_for_synthesis(qtbot, widget)
    assert len(targets) == 1
    assert (targets[0][28, 2:12] == 1).all()  # the synthesis saw the whole stroke


def test_requests_during_a_slow_synthesis_keep_only_the_newest(trained, qtbot, monkeypatch):
    viewer, widget = trained
    wait_for_synthesis(qtbot, widget)
    gate = threading.Event()
    targets = count_syntheses(monkeypatch, gate)
    layer = viewer.layers[TARGET]
    widget.synthesize()  # starts, then blocks on the gate
    qtbot.waitUntil(lambda: len(targets) == 1, timeout=TIMEOUT_MS)
    for value in (1, 0, 1):  # three requests while the first still runs
        layer.data[0, 0] = value
        widget.synth_runner.run_now()
    gate.set()
    wait_for_synthesis(qtbot, widget)
    assert len(targets) == 2  # the running one and the newest; the stale two dropped
    assert targets[-1][0, 0] == 1


def test_live_edits_while_training_update_the_preview(viewer_widget, qtbot, monkeypatch):
    viewer, widget = viewer_widget
    add_scene(viewer)
    configure_tiny(widget, steps=100_000)
    widget.settings.preview_every = 1
    widget.synthesis.live.setChecked(True)
    widget.train()
    qtbot.waitUntil(lambda: widget.trainer_runner.trainer is not None, timeout=TIMEOUT_MS)
    trainer = widget.trainer_runner.trainer
    sent = []
    original = trainer.set_preview_target
    monkeypatch.setattr(trainer, "set_preview_target",
                        lambda target: (sent.append(target.copy()), original(target)))
    qtbot.waitUntil(lambda: OUTPUT in viewer.layers, timeout=TIMEOUT_MS)
    before = viewer.layers[OUTPUT].data.copy()
    layer = viewer.layers[TARGET]
    layer.brush_size = 7
    layer.paint((26, 26), 1)
    qtbot.waitUntil(lambda: bool(sent) and sent[-1][26, 26] == 1, timeout=5_000)
    # The next previews come from the trainer, for the edited layout.
    qtbot.waitUntil(lambda: not np.array_equal(viewer.layers[OUTPUT].data, before), timeout=10_000)
    widget.stop()
    qtbot.waitUntil(lambda: not widget.trainer_runner.running, timeout=10_000)
    np.testing.assert_array_equal(sent[-1], layer.data)
