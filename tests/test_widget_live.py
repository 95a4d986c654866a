"""Live synthesis: debouncing, dropping stale requests, previews while training."""

import threading

import numpy as np
import pytest
from conftest import make_scene
from widget_helpers import (
    OUTPUT,
    SOURCE,
    TARGET,
    TIMEOUT_MS,
    add_scene,
    add_stack_scene,
    configure_tiny,
    train,
    wait_for_synthesis,
)

from napari_semia._qt import jobs
from napari_semia._qt.output_layer import output_name


def count_syntheses(monkeypatch, gate=None):
    """Record the target of every synthesis that really runs; optionally hold
    each one until ``gate`` is set, to simulate a slow model."""
    targets = []
    real = jobs.synthesis_results

    def recording(job, cancel, report=None):
        targets.append(job.target.copy())
        if gate is not None:
            gate.wait(10)
        return (yield from real(job, cancel, report))

    monkeypatch.setattr(jobs, "synthesis_results", recording)
    return targets


def slow_down_full_resolution(monkeypatch, stage):
    """Run ``stage(progress)`` before every full-resolution synthesis (a slow refinement)."""
    from napari_semia.model import SemiaModel

    real = SemiaModel.synthesis_stages

    def synthesis_stages(self, target, *, refine=True, progress=None):
        for image, final in real(self, target, refine=refine, progress=progress):
            yield image, final
            if not final and progress is not None:  # the full-resolution result comes next
                stage(progress)

    monkeypatch.setattr(SemiaModel, "synthesis_stages", synthesis_stages)


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


def test_a_synthesis_shows_the_fast_result_then_the_full_resolution_one(trained, qtbot):
    viewer, widget = trained
    shown = []
    widget.synth_runner.result.connect(lambda result: shown.append((result.final, result.image.copy())))
    widget.synthesize()
    wait_for_synthesis(qtbot, widget)
    assert [final for final, _ in shown] == [False, True]
    model, target = widget.model, viewer.layers[TARGET].data
    np.testing.assert_array_equal(shown[0][1], model.synthesize(target, refine=False))
    np.testing.assert_array_equal(shown[1][1], model.synthesize(target))
    np.testing.assert_array_equal(viewer.layers[OUTPUT].data, shown[1][1])  # the last one stays


def test_a_new_stroke_cancels_the_running_full_resolution_stage(trained, qtbot, monkeypatch):
    viewer, widget = trained
    started, release = threading.Event(), threading.Event()

    def full_resolution_stage(progress):
        started.set()
        release.wait(10)
        progress(0.5)  # where the refinement checks for cancellation

    slow_down_full_resolution(monkeypatch, full_resolution_stage)
    shown = []
    widget.synth_runner.result.connect(lambda result: shown.append((result.request_id, result.final)))
    widget.synthesize()
    # The fast result reaches this thread as a queued signal: the worker may be in
    # the full-resolution stage before it is delivered (a busy machine).
    qtbot.waitUntil(lambda: started.is_set() and bool(shown), timeout=TIMEOUT_MS)
    first = shown[-1][0]
    viewer.layers[TARGET].data = np.roll(viewer.layers[TARGET].data, 2, axis=0)
    widget.synthesize()  # the newer request
    release.set()
    wait_for_synthesis(qtbot, widget)
    assert (first, True) not in shown  # the out-of-date full-resolution result never landed
    assert shown[-1] == (first + 1, True)


def _live_with_held_full_resolution(trained, qtbot, monkeypatch):
    """Live on, each full-resolution stage waiting for ``release`` (``started`` set when
    it does), and a debounce long enough for its result to surely arrive within it on a
    busy machine; returns (target layer, results shown as (request, final), started,
    release)."""
    viewer, widget = trained
    wait_for_synthesis(qtbot, widget)
    started, release = threading.Event(), threading.Event()

    def full_resolution_stage(progress):
        started.set()
        release.wait(10)

    slow_down_full_resolution(monkeypatch, full_resolution_stage)
    widget.synth_runner._timer.setInterval(1500)
    shown = []
    widget.synth_runner.result.connect(lambda result: shown.append((result.request_id, result.final)))
    widget.synthesis.live.setChecked(True)
    return viewer.layers[TARGET], shown, started, release


def test_a_full_resolution_result_that_arrives_while_a_stroke_waits_is_not_shown(trained, qtbot, monkeypatch):
    # Found by a napari power user at 13 megapixels: stroke A's full-resolution result
    # landed just after stroke B was painted (the running stage is cancelled only when
    # B's debounce ends), and B's fast result replaced it a second later: a flicker.
    _, widget = trained
    layer, shown, started, release = _live_with_held_full_resolution(trained, qtbot, monkeypatch)
    layer.paint((28, 4), 1)  # stroke A
    qtbot.waitUntil(lambda: started.is_set() and bool(shown), timeout=TIMEOUT_MS)
    first = shown[-1][0]
    layer.paint((10, 20), 1 if layer.data[10, 20] != 1 else 0)  # stroke B: its debounce starts
    release.set()  # A's full-resolution result arrives while B waits
    qtbot.wait(100)
    assert (first, True) not in shown
    wait_for_synthesis(qtbot, widget)
    assert (first, True) not in shown  # never shown: B changed the target
    assert shown[-1] == (first + 1, True)
    # A request that changes nothing (a redraw that starts the debounce) lets it land
    # when the debounce ends, as does Synthesize pressed meanwhile (which joined the
    # run that made it, and waited for a result already dropped; found in review).
    for then in (lambda: None, widget.synthesize):
        started.clear()
        release.clear()
        layer.paint((4, 20), 1 if layer.data[4, 20] != 1 else 0)
        qtbot.waitUntil(lambda: started.is_set() and shown[-1][1] is False, timeout=TIMEOUT_MS)
        newest = shown[-1][0]
        widget.synth_runner.schedule()
        release.set()
        qtbot.waitUntil(lambda: not widget.synth_runner.running, timeout=TIMEOUT_MS)
        assert (newest, True) not in shown  # held while the debounce runs
        then()
        wait_for_synthesis(qtbot, widget)
        assert shown[-1] == (newest, True), shown


def test_unticking_live_drops_the_waiting_request_and_shows_the_held_result(trained, qtbot, monkeypatch):
    # From a review: the debounce kept running after Live was unticked, so one more Live
    # request fired; a result held for it must land all the same.
    _, widget = trained
    layer, shown, started, release = _live_with_held_full_resolution(trained, qtbot, monkeypatch)
    layer.paint((28, 4), 1 if layer.data[28, 4] != 1 else 0)
    qtbot.waitUntil(lambda: started.is_set() and bool(shown), timeout=TIMEOUT_MS)
    first = shown[-1][0]
    layer.paint((10, 20), 1 if layer.data[10, 20] != 1 else 0)  # its debounce starts
    release.set()
    qtbot.waitUntil(lambda: not widget.synth_runner.running, timeout=TIMEOUT_MS)
    widget.synthesis.live.setChecked(False)
    wait_for_synthesis(qtbot, widget)
    assert shown[-1] == (first, True)  # no request for the last stroke; the held result shown


def test_a_refused_stroke_keeps_its_message_when_the_held_result_lands(trained, qtbot, monkeypatch):
    # From a review: the stroke waiting out the debounce painted an id the model lacks;
    # the held full-resolution result of the stroke before, shown then, took the
    # "Not synthesized" line away at once.
    _, widget = trained
    layer, shown, started, release = _live_with_held_full_resolution(trained, qtbot, monkeypatch)
    layer.paint((28, 4), 1 if layer.data[28, 4] != 1 else 0)
    qtbot.waitUntil(lambda: started.is_set() and bool(shown), timeout=TIMEOUT_MS)
    layer.paint((20, 20), 7)  # not a class of the model
    release.set()
    wait_for_synthesis(qtbot, widget)
    assert shown[-1][1] is True  # the held result landed (the refused stroke changed nothing)
    assert widget.state.message.startswith("Not synthesized"), widget.state.message


def test_synthesize_pressed_during_the_same_targets_run_joins_it(trained, qtbot, monkeypatch):
    # A biologist pressed Synthesize while the end of training's result was refined
    # ("Full resolution… 90 %"): the run was cancelled and started again from zero,
    # and the status line showed no sign that the click was taken.
    from napari_semia._qt.widget import SYNTHESIS_UNDER_WAY

    viewer, widget = trained
    wait_for_synthesis(qtbot, widget)
    started, release = threading.Event(), threading.Event()
    cancelled = []

    def full_resolution_stage(progress):
        started.set()
        release.wait(10)
        try:
            progress(0.9)  # where the refinement checks for cancellation
        except jobs.SynthesisCancelled:
            cancelled.append(True)
            raise

    slow_down_full_resolution(monkeypatch, full_resolution_stage)
    targets = count_syntheses(monkeypatch)
    shown = []
    widget.synth_runner.result.connect(lambda result: shown.append((result.request_id, result.final)))
    before = widget.state.message
    widget.synthesize()
    qtbot.waitUntil(lambda: started.is_set() and bool(shown), timeout=TIMEOUT_MS)
    first = shown[-1][0]
    widget.synthesize()  # the same target: taken by the run under way
    assert widget.state.message == SYNTHESIS_UNDER_WAY
    assert widget.synthesis.synthesize_button.isEnabled()
    release.set()
    wait_for_synthesis(qtbot, widget)
    assert cancelled == [] and len(targets) == 1  # not started again
    assert shown[-1] == (first, True)
    assert widget.state.message == before  # the usual line once the result is in
    # A changed target still replaces the run (as a new stroke does).
    started.clear(), release.clear()
    widget.synthesize()
    qtbot.waitUntil(started.is_set, timeout=TIMEOUT_MS)
    assert widget.state.message == before  # a run started is no run joined
    viewer.layers[TARGET].data = np.roll(viewer.layers[TARGET].data, 2, axis=0)
    widget.synthesize()
    assert widget.state.message != SYNTHESIS_UNDER_WAY
    release.set()
    wait_for_synthesis(qtbot, widget)
    assert cancelled == [True] and len(targets) == 3
    # A joined run that ends with no result (another target chosen) takes the line back.
    started.clear(), release.clear()
    widget.synthesize()
    qtbot.waitUntil(started.is_set, timeout=TIMEOUT_MS)
    widget.synthesize()
    assert widget.state.message == SYNTHESIS_UNDER_WAY
    other = viewer.add_labels(viewer.layers[TARGET].data.copy(), name="another target")
    widget.pickers.target.set_layer(other)  # cancels the run
    release.set()
    wait_for_synthesis(qtbot, widget)
    assert widget.state.message == before


def test_a_request_cancelled_while_its_fast_result_is_made_gives_nothing(trained, monkeypatch):
    # At 67 MP the fast result took 5 s that nothing could stop: a new stroke, Stop
    # and closing the widget waited for it, and it was shown although out of date.
    import napari_semia.model as model_module
    from napari_semia._qt.jobs import SynthesisJob, synthesis_results

    viewer, widget = trained
    job = SynthesisJob(widget.model, viewer.layers[TARGET].data.copy(), request_id=1)
    cancel = threading.Event()
    real = model_module.to_user_image

    def conversion(*args, **kwargs):
        cancel.set()  # a newer request arrives while the preview is converted
        return real(*args, **kwargs)

    monkeypatch.setattr(model_module, "to_user_image", conversion)
    assert list(synthesis_results(job, cancel)) == []
    monkeypatch.undo()
    cancel.clear()
    assert [result.final for result in synthesis_results(job, cancel)] == [False, True]


def test_closing_the_widget_lets_a_cancelled_synthesis_end_first(trained, qtbot, monkeypatch):
    # A worker left running while the widget is torn down emits into deleted Qt
    # objects; closing cancels the full-resolution stage and waits for it.
    _, widget = trained
    started, ended = threading.Event(), threading.Event()

    def full_resolution_stage(progress):
        started.set()
        try:
            for _ in range(50):  # a long refinement that checks for cancellation
                threading.Event().wait(0.02)
                progress(0.5)
        finally:
            ended.set()

    slow_down_full_resolution(monkeypatch, full_resolution_stage)
    widget.synthesize()
    qtbot.waitUntil(started.is_set, timeout=TIMEOUT_MS)
    widget.shutdown()
    assert ended.is_set()  # cancelled at its next pass, before shutdown returned


def test_before_training_the_result_comes_from_the_labels_alone(viewer_widget, qtbot):
    # No model yet: Synthesize and Live give the full-resolution stage's result
    # from the label map alone, in seconds; the trained model's result replaces it.
    from napari_semia._qt.widget import LABELS_ONLY_NOTE

    viewer, widget = viewer_widget
    # The status line names both ways on: training, and the result before it.
    assert "Train" in widget.state.message and "labels alone" in widget.state.message
    image, labels = add_scene(viewer)
    button = widget.synthesis.synthesize_button
    assert button.isEnabled() and button.text() == "Synthesize from the labels alone"
    button.click()
    wait_for_synthesis(qtbot, widget)
    output = viewer.layers[OUTPUT]
    assert output.data.shape == image.shape and output.data.dtype == image.dtype
    target = viewer.layers[TARGET].data
    moved_in = (target == 1) & (labels == 0)
    assert output.data[moved_in].std() > 40  # the square's stripes, where the square moved to
    assert widget.state.message.startswith(LABELS_ONLY_NOTE) and widget.model is None
    assert not viewer.layers[TARGET].visible  # the result shows unobstructed; Live shows the target again

    widget.synthesis.live.setChecked(True)
    before = output.data.copy()
    viewer.layers[TARGET].brush_size = 7
    viewer.layers[TARGET].paint((26, 6), 1)
    qtbot.waitUntil(lambda: not np.array_equal(viewer.layers[OUTPUT].data, before), timeout=TIMEOUT_MS)
    widget.synthesis.live.setChecked(False)

    train(qtbot, widget, steps=2)
    wait_for_synthesis(qtbot, widget)
    assert widget.model is not None and widget.synthesis_jobs.labels_only is None
    assert widget.state.message != LABELS_ONLY_NOTE and button.text() == "Synthesize"


def test_before_training_a_missing_input_is_one_clear_message(viewer_widget, qtbot, messages):
    viewer, widget = viewer_widget
    viewer.add_image(make_scene(rgb=False)[0], name=SOURCE)
    widget.synthesize()
    wait_for_synthesis(qtbot, widget)
    assert len(messages) == 1 and messages[0][0] == "error"
    assert "labels" in messages[0][1].lower() or "target" in messages[0][1].lower()
    assert OUTPUT not in viewer.layers


def test_planes_passed_with_live_on_get_their_full_resolution_result(viewer_widget, qtbot, monkeypatch):
    # Found by a time-lapse user: moving the slider with Live on cancelled each
    # plane's full-resolution stage when the next plane was asked for, and the
    # planes passed kept the fast preview for good.
    import time


    viewer, widget = viewer_widget
    layouts = add_stack_scene(viewer, plane=0)
    train(qtbot, widget, steps=2)
    wait_for_synthesis(qtbot, widget)

    def slow(progress):
        end = time.monotonic() + 1.0
        while time.monotonic() < end:
            progress(0.0)  # raises once the stage is cancelled
            time.sleep(0.02)

    slow_down_full_resolution(monkeypatch, slow)
    widget.synthesis.live.setChecked(True)
    wait_for_synthesis(qtbot, widget)
    output = viewer.layers[output_name("src", "stack target")]
    previews = [widget.model.synthesize(layout, refine=False) for layout in layouts]
    finals = [widget.model.synthesize(layout) for layout in layouts]
    assert not np.array_equal(previews[1], finals[1])
    viewer.dims.set_current_step(0, 1)
    qtbot.waitUntil(lambda: np.array_equal(output.data[1], previews[1]), timeout=TIMEOUT_MS)
    viewer.dims.set_current_step(0, 2)  # plane 1's full-resolution stage is cancelled
    qtbot.waitUntil(lambda: np.array_equal(output.data[2], finals[2]), timeout=TIMEOUT_MS)
    # (The completion is queued when the runner goes idle: wait for both.)
    qtbot.waitUntil(lambda: not widget._preview_planes and widget.synth_runner.idle, timeout=TIMEOUT_MS)
    for plane in range(3):
        np.testing.assert_array_equal(output.data[plane], finals[plane])
    # Found in review: the completed plane's key replaced the displayed plane's, so a
    # mere redraw of the target synthesized the plane on display again.
    targets = count_syntheses(monkeypatch)
    viewer.layers["stack target"].refresh()
    qtbot.wait(600)
    wait_for_synthesis(qtbot, widget)
    assert targets == []


def test_a_failing_plane_is_not_retried_when_the_runner_goes_idle(viewer_widget, qtbot, monkeypatch):
    # Found in review: a plane whose full-resolution stage failed kept its fast
    # preview, so it was completed again each time the runner went idle: 355
    # attempts and as many error pop-ups in 3 s.
    import time

    from napari_semia._qt import notify
    from napari_semia.model import SemiaModel

    viewer, widget = viewer_widget
    add_stack_scene(viewer, plane=1)
    train(qtbot, widget, steps=2)
    wait_for_synthesis(qtbot, widget)
    calls, shown = [], []
    real = SemiaModel.synthesis_stages

    def synthesis_stages(self, target, *, refine=True, progress=None):
        for image, final in real(self, target, refine=refine, progress=progress):
            yield image, final
            if not final:  # the full-resolution stage fails
                calls.append(time.monotonic())
                raise RuntimeError("out of memory (simulated)")

    monkeypatch.setattr(SemiaModel, "synthesis_stages", synthesis_stages)
    monkeypatch.setattr(notify, "exception", lambda *args, **kwargs: shown.append(args))
    widget.synthesize()
    qtbot.wait(1500)
    wait_for_synthesis(qtbot, widget)
    assert len(calls) == 1 and len(shown) == 1


def test_a_selected_output_is_replaced_without_an_error(viewer_widget, qtbot):
    # Found by a new user: the source rescaled from int16 to float32, Synthesize had to
    # replace the selected output layer, and napari raised 'Cannot select item that is
    # not in list' (the selection still held the removed layer).
    viewer, widget = viewer_widget
    image, labels = make_scene(rgb=False)
    source = viewer.add_image(image.astype(np.int16) * 8 - 500, name=SOURCE)
    viewer.add_labels(labels, name="labels")
    viewer.add_labels(np.roll(labels, 6, 1), name=TARGET)
    widget.synthesize()
    wait_for_synthesis(qtbot, widget)
    output = viewer.layers[output_name(SOURCE, TARGET)]
    viewer.layers.selection.active = output
    source.data = source.data.astype(np.float32) / 1000
    widget.synthesize()
    wait_for_synthesis(qtbot, widget)
    replaced = viewer.layers[output_name(SOURCE, TARGET)]
    assert replaced.data.dtype == np.float32 and replaced is not output
    assert viewer.layers.selection.active == replaced


def test_a_transparent_rgba_source_gets_one_output_layer(viewer_widget, qtbot):
    # Found in review: a four-channel result was split into one layer per channel even
    # beside its own source, and each took the source's rgb=True: napari refused them,
    # and no result ever showed.
    viewer, widget = viewer_widget
    image, labels = make_scene(rgb=True)
    rgba = np.concatenate([image, np.full(image.shape[:2] + (1,), 200, np.uint8)], -1)
    viewer.add_image(rgba, name=SOURCE)
    viewer.add_labels(labels, name="labels")
    viewer.add_labels(np.roll(labels, 6, 1), name=TARGET)
    train(qtbot, widget, steps=2)
    wait_for_synthesis(qtbot, widget)
    output = viewer.layers[output_name(SOURCE, TARGET)]
    assert output.data.shape == rgba.shape and output.rgb


def test_undoing_a_stroke_the_model_refused_synthesizes_again(trained, qtbot, messages):
    # Found by a UX pass: with Live on, a stroke of an id the model does not know
    # showed its error, and the undo left it there for good (the target then equalled
    # the last one synthesized, so nothing ran to clear it).
    viewer, widget = trained
    widget.synthesis.live.setChecked(True)
    wait_for_synthesis(qtbot, widget)
    layer = viewer.layers[TARGET]
    layer.paint((20, 20), 7)  # not a class of the model
    qtbot.waitUntil(lambda: widget.state.message.startswith("Not synthesized"), timeout=TIMEOUT_MS)
    assert any(kind == "error" and "7" in text for kind, text in messages)
    layer.undo()
    wait_for_synthesis(qtbot, widget)
    qtbot.waitUntil(lambda: not widget.state.message.startswith("Not synthesized"), timeout=TIMEOUT_MS)
    assert 7 not in np.asarray(layer.data)


def test_a_failure_on_the_status_line_goes_once_other_layers_are_chosen(viewer_widget, qtbot):
    # Found by a UX pass: Synthesize in an empty viewer, then a sample opened, and the
    # line under three filled-in layer lists still said to choose the target labels;
    # it also said that an output kept its last result when there was none.
    viewer, widget = viewer_widget
    widget.synthesize()
    wait_for_synthesis(qtbot, widget)
    assert widget.state.message.startswith("Not synthesized")
    assert "keeps its last result" not in widget.state.message
    add_scene(viewer)
    assert not widget.state.message.startswith("Not synthesized")
    # A failed training likewise; with no model kept, the bar is not left at 'step 0 / N'.
    one_class = viewer.add_labels(np.zeros_like(viewer.layers["src labels"].data), name="blank labels")
    widget.pickers.labels.set_layer(one_class)
    train(qtbot, widget, steps=2)
    assert widget.state.message.startswith("Training failed") and "single class" in widget.state.message
    assert "kept" not in widget.state.message and widget.state.total_steps == 0
    assert widget.progress.bar.format() == "not trained yet"
    widget.pickers.labels.set_layer(viewer.layers["src labels"])
    assert not widget.state.message.startswith("Training failed")
    assert widget.state.message == widget.state.ready_message()


def test_side_by_side_follows_napari_s_own_grid_button(viewer_widget):
    from napari_semia._qt.synthesis_controls import grid_of

    viewer, widget = viewer_widget
    grid_of(viewer).enabled = True
    assert widget.synthesis.side_by_side.isChecked()
    grid_of(viewer).enabled = False
    assert not widget.synthesis.side_by_side.isChecked()
    widget.synthesis.side_by_side.setChecked(True)
    assert grid_of(viewer).enabled


def test_an_output_has_the_source_s_contrast_window_slider_and_gamma(viewer_widget, qtbot):
    # Found by a microscopist: the output's contrast slider ended at the source's
    # current window (napari makes given limits the range), so bright spots beyond it
    # could not be shown on the result; the gamma was not copied.
    viewer, widget = viewer_widget
    image, labels = make_scene(rgb=False)
    source = viewer.add_image(image.astype(np.uint16) * 200, name=SOURCE)
    source.contrast_limits = (1000, 20000)
    source.gamma = 0.7
    viewer.add_labels(labels, name="labels")
    viewer.add_labels(np.roll(labels, 6, 1), name=TARGET)
    widget.synthesize()
    wait_for_synthesis(qtbot, widget)
    output = viewer.layers[output_name(SOURCE, TARGET)]
    assert tuple(output.contrast_limits) == (1000, 20000)
    assert tuple(output.contrast_limits_range) == tuple(source.contrast_limits_range) != (1000, 20000)
    assert output.gamma == pytest.approx(0.7)


def test_each_channel_output_has_its_own_channel_s_dtype(viewer_widget, qtbot):
    # Found by a microscopist: a uint16 DAPI beside a float32 deconvolved actin came
    # out as float32 DAPI (the group's promoted type), unlike its source channel.
    viewer, widget = viewer_widget
    image, labels = make_scene(rgb=False)
    viewer.add_image(image.astype(np.uint16) * 100, name="DAPI")
    viewer.add_image((255 - image).astype(np.float32) / 255, name="Actin", blending="additive")
    viewer.add_labels(labels, name="labels")
    viewer.add_labels(np.roll(labels, 6, 1), name=TARGET)
    assert widget.pickers.image.currentText() == "2 channels (DAPI + Actin)"
    widget.synthesize()
    wait_for_synthesis(qtbot, widget)
    group = "2 channels (DAPI + Actin)"
    dapi = viewer.layers[f"{output_name(group, TARGET)} [DAPI]"].data
    actin = viewer.layers[f"{output_name(group, TARGET)} [Actin]"].data
    assert dapi.dtype == np.uint16 and actin.dtype == np.float32
    assert dapi.min() >= viewer.layers["DAPI"].data.min() and dapi.max() <= viewer.layers["DAPI"].data.max()
