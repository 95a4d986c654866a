"""The widget's training, stop/continue, live synthesis, model files and closing."""

import numpy as np
import pytest
from conftest import PLUGIN, WIDGET_NAME, make_scene
from widget_helpers import (
    LABELS,
    OUTPUT,
    TARGET,
    TIMEOUT_MS,
    add_scene,
    configure_tiny,
    start_training,
    train,
    wait_for_synthesis,
)

from napari_semia._qt import model_io
from napari_semia._qt.output_layer import SYNTHESIZED_PLANES_KEY, output_name
from napari_semia.model import SemiaModel


def test_training_produces_the_output_layer(trained, qtbot):
    viewer, widget = trained
    assert widget.model is not None and widget.model.steps_done == 4
    output = viewer.layers[OUTPUT]
    assert output.data.shape == (32, 32) and output.data.dtype == np.uint8
    assert output.data.std() > 0  # an image, not a blank
    assert tuple(output.contrast_limits) == tuple(viewer.layers["src"].contrast_limits)
    # The output sits directly under the target, so brush strokes stay visible.
    assert viewer.layers.index(output) == viewer.layers.index(widget.target_layer) - 1
    steps, values = widget.loss_plot.series("D")
    assert list(steps) == [1, 2, 3, 4] and np.isfinite(values).all()
    assert widget.progress.bar.value() == 4 and widget.progress.bar.maximum() == 4
    assert widget.synthesis.synthesize_button.isEnabled()
    assert widget.model_io.save_button.isEnabled()
    # Synthesizing again updates the same layer instead of adding one.
    count = len(viewer.layers)
    widget.synthesis.synthesize_button.click()
    wait_for_synthesis(qtbot, widget)
    assert len(viewer.layers) == count
    # With the target moved under the source image, a new output goes over the
    # image, not under it out of sight (found by a napari power user).
    viewer.layers.move(viewer.layers.index(widget.target_layer), 0)
    viewer.layers.remove(output)
    widget.synthesis.synthesize_button.click()
    wait_for_synthesis(qtbot, widget)
    assert viewer.layers.index(viewer.layers[OUTPUT]) == viewer.layers.index(viewer.layers["src"]) + 1


def test_training_with_no_target_says_so_and_why_none_was_chosen(viewer_widget, qtbot, messages):
    # Found by a new user: the only layout open was of another size, so no target was
    # chosen, and Train started with no word of it (and no preview ever came).
    viewer, widget = viewer_widget
    add_scene(viewer, with_target=False)
    viewer.add_labels(np.zeros((20, 22), np.int32), name="small layout")
    assert widget.target_layer is None
    train(qtbot, widget, steps=1)
    notes = [text for kind, text in messages if "No target labels are chosen" in text]
    assert len(notes) == 1 and "'small layout' (20 × 22)" in notes[0]
    assert widget.model is not None and OUTPUT not in viewer.layers
    messages.clear()
    train(qtbot, widget, steps=1)  # said once: at every Train it was noise (a new user)
    assert not [text for _, text in messages if "No target labels are chosen" in text]
    viewer.add_labels(viewer.layers[LABELS].data.copy(), name=TARGET)
    train(qtbot, widget, steps=1)  # with a target: no such note
    assert not [text for _, text in messages if "No target labels are chosen" in text]


def test_without_previews_the_result_is_synthesized_after_training(viewer_widget, qtbot):
    viewer, widget = viewer_widget
    add_scene(viewer)
    configure_tiny(widget, steps=2)
    widget.settings.preview_every = 0
    widget.train()
    qtbot.waitUntil(lambda: not widget.trainer_runner.running, timeout=TIMEOUT_MS)
    # Previews are off, so this output can only come from the final synthesis.
    wait_for_synthesis(qtbot, widget)
    assert viewer.layers[OUTPUT].data.shape == (32, 32)


def test_stop_ends_training_early_and_keeps_the_model(viewer_widget, qtbot, monkeypatch):
    viewer, widget = viewer_widget
    add_scene(viewer)
    start_training(qtbot, widget, steps=100_000)
    qtbot.waitUntil(lambda: widget.state.step >= 1, timeout=TIMEOUT_MS)
    assert widget.controls.stop_button.isEnabled()
    assert not widget.controls.train_button.isEnabled()
    widget.controls.stop_button.click()
    qtbot.waitUntil(lambda: not widget.trainer_runner.running, timeout=10_000)
    assert widget.model is not None
    assert 1 <= widget.model.steps_done < 1000
    assert widget.controls.train_button.isEnabled()
    assert "stopped early" in widget.progress.label.text()

    # A second Train continues the same model by default ...
    assert widget.controls.continue_training.isChecked()
    done = widget.model.steps_done
    train(qtbot, widget, steps=2)
    assert widget.model.steps_done == done + 2
    # ... or starts over when the box is unticked, after asking: the model is unsaved.
    asked = []
    monkeypatch.setattr(model_io, "ask_train_over_unsaved", lambda parent: asked.append(True) or True)
    widget.controls.continue_training.setChecked(False)
    train(qtbot, widget, steps=2)
    assert asked and widget.model.steps_done == 2


def test_live_mode_resynthesizes_after_a_brush_edit(trained, qtbot):
    viewer, widget = trained
    wait_for_synthesis(qtbot, widget)
    before = viewer.layers[OUTPUT].data.copy()
    target = viewer.layers[TARGET]
    widget.synthesis.live.setChecked(True)
    wait_for_synthesis(qtbot, widget)
    target.brush_size = 9
    target.paint((24, 6), 1)  # what one brush dab does: edit + paint event
    qtbot.waitUntil(lambda: not np.array_equal(viewer.layers[OUTPUT].data, before),
                    timeout=TIMEOUT_MS)
    wait_for_synthesis(qtbot, widget)
    changed = viewer.layers[OUTPUT].data != before
    assert changed[16:32, :16].any()  # near the new square


def test_save_then_load_synthesizes_the_same_image(trained, qtbot, tmp_path, monkeypatch):
    viewer, widget = trained
    wait_for_synthesis(qtbot, widget)
    expected = viewer.layers[OUTPUT].data.copy()
    path = tmp_path / "scene.semia"
    monkeypatch.setattr(model_io, "ask_save_path", lambda parent, suggested: str(path))
    monkeypatch.setattr(model_io, "ask_open_path", lambda parent, start="": str(path))
    widget.model_io.save_button.click()
    assert path.is_file()

    widget.set_model(None)
    viewer.layers.remove(OUTPUT)
    assert widget.synthesis.synthesize_button.text() == "Synthesize from the labels alone"
    widget.model_io.load_button.click()
    assert widget.synthesis.synthesize_button.text() == "Synthesize"
    assert widget.model is not None and widget.model.steps_done == 4
    widget.synthesis.synthesize_button.click()
    wait_for_synthesis(qtbot, widget)
    np.testing.assert_array_equal(viewer.layers[OUTPUT].data, expected)


def test_a_loaded_model_is_described_in_the_training_status(trained, qtbot, tmp_path, monkeypatch):
    # The training status describes the model in hand, not an earlier run (or "No model yet").
    _, widget = trained
    path = tmp_path / "scene.semia"
    widget.model.save(path)
    widget.set_model(None)
    monkeypatch.setattr(model_io, "ask_open_path", lambda parent, start="": str(path))
    widget.load_model()
    assert widget.model is not None
    assert widget.progress.label.text().startswith("Loaded a model trained for 4 steps.")
    assert widget.progress.bar.text() == "step 4 / 4"
    # The Model file section names the file (only a notice that closes did; a pass).
    assert widget.model_io.description.text().startswith("Model scene.semia: ")
    saved = tmp_path / "renamed.semia"
    monkeypatch.setattr(model_io, "ask_save_path", lambda parent, suggested: str(saved))
    widget.save_model()
    assert widget.model_io.description.text().startswith("Model renamed.semia: ")


def test_loading_a_bad_file_is_a_notification(viewer_widget, tmp_path, monkeypatch, messages):
    _, widget = viewer_widget
    bad = tmp_path / "junk.semia"
    bad.write_bytes(b"not a model")
    monkeypatch.setattr(model_io, "ask_open_path", lambda parent, start="": str(bad))
    widget.load_model()
    assert messages[-1][0] == "error" and "junk.semia" in messages[-1][1]
    assert widget.model is None


def test_unknown_target_id_is_a_notification(trained, qtbot, messages):
    viewer, widget = trained
    wait_for_synthesis(qtbot, widget)
    viewer.layers[TARGET].data[0:4, 0:4] = 7
    widget.synthesis.synthesize_button.click()
    assert messages[-1][0] == "error"
    assert "unknown id" in messages[-1][1] and TARGET in messages[-1][1]
    assert widget.model is not None  # the model survives bad input


def test_stack_trains_on_the_displayed_plane(viewer_widget, qtbot):
    viewer, widget = viewer_widget
    image, labels = make_scene(rgb=False)
    viewer.add_image(np.stack([image, image // 2, image]), name="stack")
    viewer.add_labels(labels, name="labels")
    viewer.add_labels(np.stack([labels, np.roll(labels, 6, 1), labels]), name="stack target")
    viewer.dims.set_current_step(0, 1)
    train(qtbot, widget, steps=2)
    wait_for_synthesis(qtbot, widget)
    output = viewer.layers[output_name("stack", "stack target")]
    assert output.data.shape == (3, 32, 32)
    # Only plane 1 is synthesized; the others show the source meanwhile, not a black frame.
    source = viewer.layers["stack"].data
    assert not np.array_equal(output.data[1], source[1]) and output.data[1].std() > 0
    np.testing.assert_array_equal(output.data[0], source[0])
    np.testing.assert_array_equal(output.data[2], source[2])
    # With Live on, moving the slider synthesizes that plane's layout.
    widget.synthesis.live.setChecked(True)
    wait_for_synthesis(qtbot, widget)
    viewer.dims.set_current_step(0, 2)
    qtbot.waitUntil(lambda: not np.array_equal(output.data[2], source[2]), timeout=TIMEOUT_MS)
    np.testing.assert_array_equal(output.data[0], source[0])
    # Said: which planes are results (saved, the stack was mostly the source with
    # nothing to tell; found by a time-lapse user), until every plane is.
    note = f"'{output.name}' holds results on 2 of its 3 planes (planes 1, 2); the others show the source"
    qtbot.waitUntil(lambda: widget.state.message.startswith(note), timeout=TIMEOUT_MS)
    assert note in widget.progress.label.text()
    # Another target's result: its own output is named, not the last one (found in review).
    widget.synthesis.live.setChecked(False)
    flat = viewer.add_labels(np.roll(labels, 3, 0), name="flat target")
    widget.pickers.target.set_layer(flat)
    widget.synthesize()
    wait_for_synthesis(qtbot, widget)
    assert widget.state.message.startswith(f"'{output_name('stack', 'flat target')}' holds results on 1 of")
    assert "stack target" not in widget.state.message
    # A 2D result (no planes) takes the note back, whatever follows it on the line.
    widget._say_unsynthesized_planes(None)
    line = widget.progress.label.text()
    assert "holds results on" not in line and "is hidden" in line


def test_a_lazy_stack_s_other_planes_are_not_read_for_its_output(viewer_widget, qtbot):
    # A pass with lazy layers: a reader's dask stack was read whole on the UI thread
    # (18 s frozen, 10 GB, for a 2.5 GB stack) to show the source in the output's
    # other planes.
    da = pytest.importorskip("dask.array")
    viewer, widget = viewer_widget
    image, labels = make_scene(rgb=False)
    read = []

    def reader(block, block_info=None):
        read.append(block_info[0]["chunk-location"][0])
        return block

    stack = da.from_array(np.stack([image, image // 2, image, image]), chunks=(1, 32, 32))
    viewer.add_image(stack.map_blocks(reader, dtype=stack.dtype), name="stack")
    viewer.add_labels(labels, name="labels")
    viewer.add_labels(np.roll(labels, 6, 1), name="target")
    viewer.dims.set_current_step(0, 2)
    read.clear()
    widget.synthesize()  # from the labels alone
    wait_for_synthesis(qtbot, widget)
    output = viewer.layers[output_name("stack", "target")]
    assert output.data.shape == (4, 32, 32) and output.data[2].std() > 0
    assert not output.data[[0, 1, 3]].any()  # blank until synthesized, as its note says
    assert set(read) <= {2}  # (napari draws the plane on display)
    assert "the others are blank" in widget.state.message


@pytest.mark.parametrize("view", ["3d", "axes"])
def test_a_stack_seen_in_3d_or_along_other_axes_is_not_synthesized_beside_its_output(viewer_widget, qtbot,
                                                                                     messages, view):
    # Found by a napari power user: Synthesize (or a Live stroke) in a 3D view said the
    # model's own stack was "not the image the model was trained on", and put the
    # result in a new 2D layer beside the stack's output.
    viewer, widget = viewer_widget
    image, labels = make_scene(rgb=False)
    viewer.add_image(np.stack([image, image // 2, image]), name="stack")
    viewer.add_labels(labels, name="labels")
    viewer.add_labels(np.roll(labels, 6, 1), name="target")
    viewer.dims.set_current_step(0, 1)
    train(qtbot, widget, steps=2)
    wait_for_synthesis(qtbot, widget)
    before = [layer.name for layer in viewer.layers]
    messages.clear()
    if view == "3d":
        viewer.dims.ndisplay = 3
    else:
        viewer.dims.order = (1, 0, 2)
    widget.synthesize()
    wait_for_synthesis(qtbot, widget)
    assert [layer.name for layer in viewer.layers] == before
    said = " ".join(text for _, text in messages)
    assert ("Switch to the 2D view" if view == "3d" else "Reset the axis order") in said
    assert "not the image the model was trained on" not in said


def test_a_target_stack_longer_than_the_source_s_is_synthesized_past_it(viewer_widget, qtbot, messages):
    # From two reviews: the plane on display off the source stack is no view error (it
    # was refused with the 3D view's), nor another image: the model's own stack was
    # called "not the image the model was trained on", and the plane's result went into
    # a new layer beside the stack's output.
    viewer, widget = viewer_widget
    image, labels = make_scene(rgb=False)
    viewer.add_image(np.stack([image, image // 2, image]), name="stack")
    viewer.add_labels(labels, name="labels")
    viewer.add_labels(np.stack([np.roll(labels, k, 1) for k in range(5)]), name="target")
    viewer.dims.set_current_step(0, 1)
    train(qtbot, widget, steps=2)
    wait_for_synthesis(qtbot, widget)
    before = [layer.name for layer in viewer.layers]
    messages.clear()
    viewer.dims.set_current_step(0, 4)
    widget.synthesize()
    wait_for_synthesis(qtbot, widget)
    assert [layer.name for layer in viewer.layers] == before
    output = viewer.layers[output_name("stack", "target")]
    assert (4,) in [tuple(plane) for plane in output.metadata[SYNTHESIZED_PLANES_KEY]]
    assert not [text for _, text in messages if "not the image the model was trained on" in text]


def test_a_stack_of_layouts_for_a_2d_source_keeps_the_stacks_spacing(viewer_widget, qtbot):
    # Found by a time-lapse user: a z-stack of layouts (z spacing 4) for a 2D source
    # gave an output stack at z spacing 1, squashed beside the target.
    viewer, widget = viewer_widget
    image, labels = make_scene(rgb=False)
    viewer.add_image(image, name="src", scale=(2, 3), translate=(10, 5))
    viewer.add_labels(labels, name="labels", scale=(2, 3), translate=(10, 5))
    viewer.add_labels(np.stack([labels, np.roll(labels, 6, 1), labels]), name="stack target",
                      scale=(4, 2, 3), translate=(8, 10, 5))
    viewer.dims.set_current_step(0, 1)
    train(qtbot, widget, steps=2)
    wait_for_synthesis(qtbot, widget)
    output = viewer.layers[output_name("src", "stack target")]
    assert output.data.shape == (3, 32, 32)
    assert tuple(output.scale) == (4, 2, 3) and tuple(output.translate) == (8, 10, 5)


def test_live_previews_keep_the_plane_the_run_started_on(viewer_widget, qtbot):
    # Found by a time-lapse user: with Live on, moving the slider during training drew
    # the other plane's layout into the run's output plane, where it stayed.
    viewer, widget = viewer_widget
    image, labels = make_scene(rgb=False)
    viewer.add_image(np.stack([image, image, image]), name="stack")
    viewer.add_labels(labels, name="labels")
    layouts = np.stack([np.roll(labels, 8, 0), np.roll(labels, 6, 1), labels])
    viewer.add_labels(layouts, name="stack target")
    viewer.dims.set_current_step(0, 1)
    widget.synthesis.live.setChecked(True)
    start_training(qtbot, widget, steps=100_000)
    qtbot.waitUntil(lambda: widget.trainer_runner.trainer is not None, timeout=TIMEOUT_MS)
    trainer = widget.trainer_runner.trainer
    sent = []
    original = trainer.set_preview_target
    trainer.set_preview_target = lambda target: (sent.append(target), original(target))
    viewer.dims.set_current_step(0, 0)
    qtbot.wait(800)  # the slider's move is sent after a short pause
    viewer.dims.set_current_step(0, 1)
    qtbot.wait(800)
    widget.trainer_runner.stop()
    qtbot.waitUntil(lambda: not widget.trainer_runner.running, timeout=TIMEOUT_MS)
    assert not any(target is not None and np.array_equal(target, layouts[0]) for target in sent)


def test_the_result_after_training_goes_to_the_plane_the_run_started_on(viewer_widget, qtbot, messages):
    # Found by a time-lapse user: the slider moved during training, the final result
    # went to the plane on display and the run's plane kept a working-size preview.
    viewer, widget = viewer_widget
    image, labels = make_scene(rgb=False)
    viewer.add_image(np.stack([image, image, image // 2]), name="stack")
    viewer.add_labels(labels, name="labels")
    layouts = np.stack([labels, np.roll(labels, 6, 1), np.roll(labels, 8, 0)])
    viewer.add_labels(layouts, name="stack target")
    viewer.dims.set_current_step(0, 1)
    start_training(qtbot, widget, steps=4)
    viewer.dims.set_current_step(0, 2)
    qtbot.waitUntil(lambda: not widget.trainer_runner.running, timeout=TIMEOUT_MS)
    wait_for_synthesis(qtbot, widget)
    output = viewer.layers[output_name("stack", "stack target")].data
    np.testing.assert_array_equal(output[1], widget.model.synthesize(layouts[1]))
    np.testing.assert_array_equal(output[2], image // 2)  # not synthesized: the source meanwhile
    # That result is of the learned plane: no note that another plane was learned.
    assert not any("another plane" in text for _, text in messages)


def test_synthesizing_a_plane_the_model_did_not_learn_says_so_once(viewer_widget, qtbot, messages, tmp_path):
    viewer, widget = viewer_widget
    image, labels = make_scene(rgb=False)
    viewer.add_image(np.stack([image, image // 2, image]), name="stack")  # plane 1 is darker
    viewer.add_labels(labels, name="labels")
    viewer.add_labels(np.roll(labels, 6, 1), name="target")
    viewer.dims.set_current_step(0, 0)
    train(qtbot, widget, steps=2)
    wait_for_synthesis(qtbot, widget)
    assert not any("another plane" in text for _, text in messages)
    viewer.dims.set_current_step(0, 2)  # the same pixels as the learned plane: nothing to say
    widget.synthesize()
    wait_for_synthesis(qtbot, widget)
    viewer.dims.set_current_step(0, 1)
    for _ in range(2):
        widget.synthesize()
        wait_for_synthesis(qtbot, widget)
    notes = [text for kind, text in messages if "another plane" in text]
    assert len(notes) == 1 and "'stack'" in notes[0] and messages[-1][0] == "info"
    # Notes are per model: another model (here a copy from a file) says it again.
    # (They were keyed on id(model), which a new model may take over from a freed one;
    # this does not provoke that reuse, it checks that notes start afresh per model.)
    copy = SemiaModel.load(widget.model.save(tmp_path / "copy.semia"), device="cpu")
    widget.set_model(copy)
    widget.synthesize()
    wait_for_synthesis(qtbot, widget)
    assert len([text for kind, text in messages if "another plane" in text]) == 2


def test_closing_the_widget_stops_training(viewer_widget, qtbot):
    viewer, widget = viewer_widget
    add_scene(viewer)
    start_training(qtbot, widget, steps=100_000)
    qtbot.waitUntil(lambda: widget.state.step >= 1, timeout=TIMEOUT_MS)
    trainer = widget.trainer_runner.trainer
    viewer.window.remove_dock_widget(widget)
    assert trainer.stop_requested
    qtbot.waitUntil(lambda: not widget.trainer_runner.running, timeout=10_000)
    assert trainer.step < 1000


def test_closing_the_viewer_stops_training(make_napari_viewer, qtbot):
    viewer = make_napari_viewer()
    _, widget = viewer.window.add_plugin_dock_widget(PLUGIN, WIDGET_NAME)
    add_scene(viewer)
    start_training(qtbot, widget, steps=100_000)
    runner = widget.trainer_runner
    qtbot.waitUntil(lambda: widget.state.step >= 1, timeout=TIMEOUT_MS)
    trainer = runner.trainer
    viewer.close()
    qtbot.waitUntil(lambda: trainer.stop_requested, timeout=10_000)
    qtbot.waitUntil(lambda: not runner.running, timeout=10_000)
    assert trainer.step < 1000


def test_a_failing_run_is_reported_and_the_model_kept(trained, qtbot, monkeypatch, messages):
    _viewer, widget = trained
    model = widget.model

    def diverging_run(self):
        raise FloatingPointError("Training diverged at step 1")
        yield  # a generator, like the real run()

    monkeypatch.setattr("napari_semia.trainer.SemiaTrainer.run", diverging_run)
    messages.clear()
    monkeypatch.setattr(model_io, "ask_train_over_unsaved", lambda parent: True)
    widget.controls.continue_training.setChecked(False)
    train(qtbot, widget, steps=3)
    assert [kind for kind, _ in messages] == ["error"] and "diverged" in messages[-1][1]
    assert widget.model is model
    assert widget.controls.train_button.isEnabled()


def test_colour_coded_label_image_as_source_labels(viewer_widget, qtbot):
    """The paper's data format: labels as an RGB image, one colour per class."""
    viewer, widget = viewer_widget
    image, labels = make_scene(rgb=False)
    palette = np.array([[0, 255, 0], [255, 0, 0]], np.uint8)
    viewer.add_image(image, name="src")
    viewer.add_image(palette[labels], name="colour labels", rgb=True)
    assert widget.labels_layer is viewer.layers["colour labels"]
    assert [widget.pickers.image.itemText(i) for i in range(widget.pickers.image.count())][1:] == [
        "src", "colour labels"]

    widget.new_target_from_source()
    target = widget.target_layer
    assert target.mode == "paint"
    assert set(np.unique(target.data)) == {1, 2}
    # Each class is shown in its source colour.
    for class_id in (1, 2):
        pixel = tuple(np.argwhere(target.data == class_id)[0])
        colour = target.colormap.map(np.array([class_id]))[0][:3]
        np.testing.assert_allclose(colour * 255, palette[labels[pixel]], atol=1)

    target.data = np.roll(target.data, 5, axis=1)
    train(qtbot, widget, steps=2)
    wait_for_synthesis(qtbot, widget)
    output = viewer.layers[output_name("src", "colour labels target")]
    assert output.data.shape == image.shape and output.data.dtype == image.dtype


def test_device_memory_is_released_once_the_trainer_is_let_go(viewer_widget, qtbot, monkeypatch):
    # Released only at the thread's end, the runner still held the trainer
    # (networks, optimizer moments, data): little could be freed.
    from napari_semia._qt import training_runner

    viewer, widget = viewer_widget
    add_scene(viewer)
    calls = []
    monkeypatch.setattr(training_runner, "release_device_memory",
                        lambda device: calls.append((device, widget.trainer_runner.trainer is None)))
    train(qtbot, widget, steps=2)
    qtbot.waitUntil(lambda: any(let_go for _, let_go in calls), timeout=TIMEOUT_MS)
    assert all(device is not None and device.type == "cpu" for device, _ in calls)


def test_a_loaded_model_of_another_photo_says_what_can_be_done(trained, qtbot, tmp_path, monkeypatch,
                                                              messages):
    # Found by a new user: after loading a model of another photo, the status line
    # still invited Synthesize and continuing, and Train said "Continuing the model
    # at its own working size" just before "Cannot continue training".
    viewer, widget = trained
    path = widget.model.save(tmp_path / "scene.semia")
    labels = viewer.layers[LABELS]
    other = labels.data.copy()
    other[:6, :6] = 7  # a class the model does not know
    labels.data = other
    viewer.layers[TARGET].data = other[:-8].copy()  # and a target of another size
    widget.set_model(None)
    monkeypatch.setattr(model_io, "ask_open_path", lambda parent, start="": str(path))
    widget.load_model()
    assert f"does not fit '{TARGET}'" in widget.state.message and "Synthesize" not in widget.state.message
    assert "the image the model was trained on is" in messages[-1][1]
    widget.settings.size = 64  # not the model's: continuing would keep its own
    messages.clear()
    widget.train()
    qtbot.waitUntil(lambda: not widget.trainer_runner.running, timeout=TIMEOUT_MS)
    assert [kind for kind, _ in messages] == ["error"] and "Cannot continue training" in messages[0][1]


def test_a_replaced_model_s_late_result_leaves_the_misfit_line(trained, qtbot, tmp_path, monkeypatch):
    # From a review: a result of the model replaced by a loaded one that fits nothing
    # took the "does not fit" line away ("A model is ready: Synthesize ...").
    import time

    from napari_semia.config import TrainingConfig
    from napari_semia.trainer import SemiaTrainer

    _, widget = trained
    image, labels = make_scene(48)
    trainer = SemiaTrainer(image, labels, TrainingConfig(steps=1, size=32, width=8, levels=3), device="cpu",
                           warn=False)
    for _ in trainer.run():
        pass
    other = trainer.model.save(tmp_path / "other.semia")
    stages = type(widget.model).synthesis_stages

    def slow(self, *args, **kwargs):
        time.sleep(1.0)
        return stages(self, *args, **kwargs)

    monkeypatch.setattr(type(widget.model), "synthesis_stages", slow)
    widget.synthesize()  # the trained model's, which fits
    monkeypatch.setattr(model_io, "ask_open_path", lambda parent, start="": str(other))
    monkeypatch.setattr(model_io, "ask_replace_unsaved", lambda *args, **kwargs: True)
    widget.load_model()
    assert f"does not fit '{TARGET}'" in widget.state.message
    qtbot.waitUntil(lambda: widget.synth_runner.idle, timeout=TIMEOUT_MS)
    qtbot.wait(100)
    assert f"does not fit '{TARGET}'" in widget.state.message


def test_the_loaded_model_s_misfit_leaves_the_status_line_once_it_fits(trained, qtbot, tmp_path, monkeypatch):
    # Found by a new user: after a target it fits was chosen, and its results came in,
    # the line still said that the model does not fit the first target.
    viewer, widget = trained
    path = widget.model.save(tmp_path / "scene.semia")
    fitting = viewer.layers[TARGET].data.copy()
    viewer.layers[TARGET].data = fitting[:-8].copy()  # a target of another size
    widget.set_model(None)
    monkeypatch.setattr(model_io, "ask_open_path", lambda parent, start="": str(path))
    widget.load_model()
    assert f"does not fit '{TARGET}'" in widget.state.message
    assert "Paint a target it fits" in widget.state.message  # (another size)
    viewer.add_labels(fitting, name="fits")
    widget.pickers.target.set_layer(viewer.layers["fits"])
    assert "does not fit" not in widget.state.message and "A model is ready" in widget.state.message
    # Painted to fit (a class it does not know painted over), with its result in: the same.
    unknown = fitting.copy()
    unknown[:6, :6] = 7
    viewer.layers["fits"].data = unknown
    widget.load_model()
    assert "does not fit 'fits'" in widget.state.message
    # Of the right size, one stray id: paint over it (a new user was told to train anew).
    assert "Paint over what the warning names in the target" in widget.state.message
    # A colour-coded map of the right size, for a model of ids, is no stray id (a review).
    palette = np.array([[200, 30, 30], [30, 200, 30], [30, 30, 200]], np.uint8)
    viewer.add_image(palette[fitting % 3], name="colours", rgb=True)
    widget.pickers.target.set_layer(viewer.layers["colours"])
    assert widget.target_layer is viewer.layers["colours"]
    widget.load_model()
    message = widget.state.message
    assert "does not fit 'colours'" in message and "Paint a target it fits" in message
    widget.pickers.target.set_layer(viewer.layers["fits"])
    viewer.layers["fits"].data = fitting
    widget.synthesize()
    qtbot.waitUntil(lambda: widget.synth_runner.idle, timeout=TIMEOUT_MS)
    assert "does not fit" not in widget.state.message and "Not synthesized" not in widget.state.message


def test_continuing_keeps_the_model_s_pixel_size_where_the_layers_tell_none(trained, qtbot):
    # From a review: continuing a loaded model on layers with no unit dropped the
    # model's own pixel size and channel names.
    from napari_semia.source_info import SourceInfo

    _, widget = trained
    widget.model.source_info = SourceInfo((), (0.5, 0.25), "µm")
    assert widget.settings.continue_training
    train(qtbot, widget, steps=1)
    assert widget.model.source_info == SourceInfo((), (0.5, 0.25), "µm")
