"""What a long afternoon session off the happy path ran into (a biologist
persona reordering, duplicating and re-scaling layers, loading models and
painting with Live on): each bug as a test."""

import numpy as np
import widget_helpers as h
from conftest import fail_training_from, make_scene, moved

from napari_semia._qt import model_io


def test_live_with_a_colour_coded_target_and_then_a_labels_target(viewer_widget, qtbot):
    # A colour-coded RGB target is an Image layer, with no brush events: ticking Live
    # raised, and Live stayed stuck on that layer, deaf to every later target.
    viewer, widget = viewer_widget
    image, labels = make_scene()
    palette = np.array([(200, 30, 30), (30, 30, 200)], np.uint8)
    viewer.add_image(image, name=h.SOURCE)
    viewer.add_image(palette[labels], name="colour labels", rgb=True)
    colour_target = viewer.add_image(palette[moved(labels)], name="colour target", rgb=True)
    widget.pickers.target.set_layer(colour_target)
    h.train(qtbot, widget, steps=2)
    h.wait_for_synthesis(qtbot, widget)
    widget.synthesis.live.setChecked(True)
    h.wait_for_synthesis(qtbot, widget)
    colour_target.data = palette[labels]  # replaced whole: Live follows it
    h.wait_for_synthesis(qtbot, widget)
    output = f"semia – {h.SOURCE} → colour target"
    np.testing.assert_array_equal(viewer.layers[output].data, image)  # the source's own layout
    widget.new_target_from_source()
    h.wait_for_synthesis(qtbot, widget)
    new_target = widget.target_layer
    assert new_target is not colour_target
    new_target.brush_size = 12
    new_target.paint((16, 16), 2)  # id 2: the second colour, where the first was
    new_output = f"semia – {h.SOURCE} → {new_target.name}"
    qtbot.waitUntil(lambda: new_output in viewer.layers and not np.array_equal(
        viewer.layers[new_output].data, image), timeout=h.TIMEOUT_MS)


def test_an_unknown_id_painted_while_training_is_one_message(viewer_widget, qtbot, messages):
    # It raised out of the preview timer's slot on every stroke (a traceback in napari).
    viewer, widget = viewer_widget
    h.add_scene(viewer)
    widget.synthesis.live.setChecked(True)
    h.start_training(qtbot, widget, steps=100_000)
    viewer.layers[h.TARGET].paint((20, 20), 7)
    qtbot.waitUntil(lambda: any("Preview not updated" in text for _, text in messages), timeout=h.TIMEOUT_MS)
    viewer.layers[h.TARGET].paint((22, 22), 7)
    qtbot.wait(400)  # a second debounced update: the same message is not repeated
    widget.stop()
    qtbot.waitUntil(lambda: not widget.trainer_runner.running, timeout=h.TIMEOUT_MS)
    notes = [text for kind, text in messages if "Preview not updated" in text]
    assert len(notes) == 1 and "7" in notes[0] and f"'{h.TARGET}'" in notes[0]


def test_the_output_is_placed_like_the_source_after_a_new_pixel_size(trained, qtbot):
    # The output kept the placement of its first result: given a pixel size later,
    # the inputs moved and Live strokes showed up elsewhere in the output.
    viewer, widget = trained
    for name in (h.SOURCE, h.LABELS, h.TARGET):
        viewer.layers[name].scale = (0.65, 0.65)
        viewer.layers[name].translate = (10, 20)
    widget.synthesize()
    h.wait_for_synthesis(qtbot, widget)
    output = viewer.layers[h.OUTPUT]
    np.testing.assert_allclose(output.scale, (0.65, 0.65))
    np.testing.assert_allclose(output.translate, (10, 20))


def test_live_shows_a_model_loaded_meanwhile(trained, qtbot, tmp_path, monkeypatch):
    viewer, widget = trained
    widget.synthesis.live.setChecked(True)
    h.wait_for_synthesis(qtbot, widget)
    other = tmp_path / "other.semia"
    h.train(qtbot, widget, steps=3)  # continues: another model, with other weights
    h.wait_for_synthesis(qtbot, widget)
    widget.model.save(other)
    h.train(qtbot, widget, steps=6)
    h.wait_for_synthesis(qtbot, widget)
    shown = viewer.layers[h.OUTPUT].data.copy()
    monkeypatch.setattr(model_io, "ask_open_path", lambda parent, start="": str(other))
    widget.model_io.save_button.setEnabled(True)
    monkeypatch.setattr(model_io, "_ask_yes_no", lambda *a, **k: True)  # replace the unsaved one
    widget.load_model()
    assert widget.model.steps_done == 7  # 4 + 3
    h.wait_for_synthesis(qtbot, widget)
    qtbot.waitUntil(lambda: not np.array_equal(viewer.layers[h.OUTPUT].data, shown), timeout=h.TIMEOUT_MS)
    np.testing.assert_array_equal(viewer.layers[h.OUTPUT].data, widget.model.synthesize(
        viewer.layers[h.TARGET].data, full_size=True))


def test_inputs_in_use_stay_chosen_when_layers_are_added_or_moved(trained, qtbot):
    # After training, a processed copy of the image moved up the list became the
    # source by itself, and a duplicate of the target (kept as a version) the target.
    viewer, widget = trained
    source, target = viewer.layers[h.SOURCE], viewer.layers[h.TARGET]
    viewer.add_image(source.data[::-1].copy(), name="smoothed copy")
    viewer.layers.move(viewer.layers.index(source), len(viewer.layers))
    viewer.add_labels(target.data.copy(), name=f"{h.TARGET} copy")
    assert widget.source_layer is source and widget.target_layer is target
    # A layer the user picks is still theirs to pick.
    widget.pickers.image.set_layer(viewer.layers["smoothed copy"])
    assert widget.source_layer.name == "smoothed copy"


def test_before_use_a_sample_s_layers_are_still_picked_as_they_arrive(viewer_widget):
    viewer, widget = viewer_widget
    h.configure_tiny(widget, 1)
    h.add_scene(viewer)
    assert (widget.source_layer.name, widget.labels_layer.name, widget.target_layer.name) == (
        h.SOURCE, h.LABELS, h.TARGET)


def test_class_names_come_only_from_labels_of_the_model_s_classes(trained, tmp_path, monkeypatch):
    # A coins model loaded beside the coffee sample listed its classes as 'table', 'glaze'.
    viewer, widget = trained
    path = tmp_path / "scene.semia"
    widget.model.save(path)
    labels = viewer.layers[h.LABELS]
    labels.features = {"class": ["background", "blob"]}
    monkeypatch.setattr(model_io, "ask_open_path", lambda parent, start="": str(path))
    monkeypatch.setattr(model_io, "_ask_yes_no", lambda *a, **k: True)
    widget.load_model()
    items = [widget.dataset.objects.item(i).text() for i in range(widget.dataset.objects.count())]
    assert items == ["0: background", "1: blob"]
    # Rows mapped to labels by an 'index' column, as napari maps them.
    labels.features = {"index": [1, 0], "class": ["blob", "background"]}
    widget.load_model()
    items = [widget.dataset.objects.item(i).text() for i in range(widget.dataset.objects.count())]
    assert items == ["0: background", "1: blob"]
    other = viewer.add_labels((np.arange(labels.data.size).reshape(labels.data.shape) % 3).astype(np.int32),
                              name="another map", features={"class": ["table", "glaze", "cup"]})
    widget.pickers.labels.set_layer(other)
    widget.load_model()
    items = [widget.dataset.objects.item(i).text() for i in range(widget.dataset.objects.count())]
    assert items == ["0", "1"]


def test_a_loaded_model_starts_its_own_loss_plot(trained, qtbot, tmp_path, monkeypatch):
    # Continuing a loaded model drew its steps after the previous model's curves.
    _, widget = trained
    assert len(widget.loss_plot.series("rec")[0]) > 0
    path = tmp_path / "scene.semia"
    widget.model.save(path)
    monkeypatch.setattr(model_io, "ask_open_path", lambda parent, start="": str(path))
    monkeypatch.setattr(model_io, "_ask_yes_no", lambda *a, **k: True)
    widget.load_model()
    assert all(len(widget.loss_plot.series(name)[0]) == 0 for name in ("rec", "D", "adv"))
    h.train(qtbot, widget, steps=4)  # continues the loaded model: steps 5-8 alone
    steps = widget.loss_plot.series("rec")[0]
    assert len(steps) > 0 and steps.min() > 4


def test_an_output_follows_its_renamed_target_and_a_kept_one_stays(trained, qtbot):
    # Renaming the target during training left the previews in one output and the
    # result in a second, and the stale one was selected as the result.
    viewer, widget = trained
    viewer.layers[h.TARGET].name = "layout A"
    widget.synthesize()
    h.wait_for_synthesis(qtbot, widget)
    outputs = [layer.name for layer in viewer.layers if layer.metadata.get("semia_output")]
    assert outputs == [f"semia – {h.SOURCE} → layout A"]
    # An output the user renamed to keep it is left as it is (the user guide says so).
    viewer.layers[outputs[0]].name = "kept result"
    viewer.layers["layout A"].paint((20, 20), 0)
    widget.synthesize()
    h.wait_for_synthesis(qtbot, widget)
    outputs = sorted(layer.name for layer in viewer.layers if layer.metadata.get("semia_output"))
    assert outputs == ["kept result", f"semia – {h.SOURCE} → layout A"]


def test_a_renamed_channel_output_keeps_its_channels(viewer_widget, qtbot):
    # Found by a new user: one channel layer of a result renamed to keep it, the next
    # result went into the other channels' layers, so the kept result was one channel.
    viewer, widget = viewer_widget
    image, labels = make_scene(rgb=False)
    # (napari's own name for a copy: its tag, " [DAPI [1]]", is no name's last brackets)
    viewer.add_image(np.stack([image, 255 - image]), channel_axis=0, name=["DAPI", "DAPI [1]"])
    viewer.add_labels(labels, name="cells")
    viewer.add_labels(moved(labels), name="layout")
    widget.synthesize()
    h.wait_for_synthesis(qtbot, widget)
    outputs = sorted(layer.name for layer in viewer.layers if layer.metadata.get("semia_output"))
    assert len(outputs) == 2 and outputs[1].endswith("[DAPI]")
    first = {name: viewer.layers[name].data.copy() for name in outputs}
    viewer.layers[outputs[1]].name = "v1"
    viewer.layers["layout"].paint((5, 5), 0)
    widget.synthesize()
    h.wait_for_synthesis(qtbot, widget)
    assert np.array_equal(viewer.layers["v1 [DAPI [1]]"].data, first[outputs[0]])  # kept, not overwritten
    assert np.array_equal(viewer.layers["v1"].data, first[outputs[1]])
    assert sorted(layer.name for layer in viewer.layers if layer.metadata.get("semia_output")) == sorted(
        [*outputs, "v1", "v1 [DAPI [1]]"])
    # The next results go on into the new set; the kept one stays as it is.
    viewer.layers["layout"].paint((25, 25), 0)
    widget.synthesize()
    h.wait_for_synthesis(qtbot, widget)
    assert np.array_equal(viewer.layers["v1 [DAPI [1]]"].data, first[outputs[0]])
    assert sorted(layer.name for layer in viewer.layers if layer.metadata.get("semia_output")) == sorted(
        [*outputs, "v1", "v1 [DAPI [1]]"])


def test_an_undo_on_a_hidden_target_is_synthesized_with_live_on(trained, qtbot):
    # napari redraws only visible layers: an undo on the target hidden (to look at the
    # result under it) emitted nothing, and the output kept showing the undone stroke.
    viewer, widget = trained
    widget.synthesis.live.setChecked(True)
    h.wait_for_synthesis(qtbot, widget)
    target = viewer.layers[h.TARGET]
    unpainted = viewer.layers[h.OUTPUT].data.copy()
    target.brush_size = 10
    target.paint((16, 16), 0)
    qtbot.waitUntil(lambda: not np.array_equal(viewer.layers[h.OUTPUT].data, unpainted), timeout=h.TIMEOUT_MS)
    h.wait_for_synthesis(qtbot, widget)
    target.visible = False
    target.undo()
    qtbot.waitUntil(lambda: np.array_equal(viewer.layers[h.OUTPUT].data, unpainted), timeout=h.TIMEOUT_MS)
    target.visible = True
    widget.synthesis.live.setChecked(False)
    assert not widget._edit_watcher._poll.isActive()


def test_a_used_target_gives_way_to_another_sample_s_target(trained, qtbot):
    # Review of the pinning: a second sample's image and labels chosen by hand kept the
    # first sample's target, of another size (the same-size rule undone).
    viewer, widget = trained
    image, labels = make_scene(size=48)
    viewer.add_image(image, name="B image")
    viewer.add_labels(labels, name="B labels")
    viewer.add_labels(moved(labels), name="B target")
    assert widget.target_layer.name == h.TARGET  # still the one in use
    widget.pickers.image.set_layer(viewer.layers["B image"])
    widget.pickers.labels.set_layer(viewer.layers["B labels"])
    assert widget.target_layer.name == "B target"


def add_rgb_channels_scene(viewer):
    """The scene's image as three channel layers (napari's channel_axis), with labels and target."""
    image, labels = make_scene()
    viewer.add_image(image, channel_axis=-1, name=["r", "g", "b"])
    viewer.add_labels(labels, name=h.LABELS)
    viewer.add_labels(moved(labels), name=h.TARGET)


def test_channel_layers_used_together_stay_together(viewer_widget, qtbot):
    viewer, widget = viewer_widget
    add_rgb_channels_scene(viewer)
    assert widget.source_layer.name == "3 channels (r + g + b)"
    h.train(qtbot, widget, steps=1)
    viewer.add_image(viewer.layers["g"].data.copy(), name="g copy", blending="additive")
    viewer.layers.move(viewer.layers.index(viewer.layers["r"]), viewer.layers.index(viewer.layers["b"]))
    assert widget.source_layer.name == "3 channels (r + g + b)"


def test_a_channel_model_keeps_its_channel_names_and_pixel_size_without_its_layers(viewer_widget, qtbot):
    # Found by a microscopist: a DAPI/Actin/Spots model shown without its image
    # (a loaded model) came back as one RGB layer, its channel names lost.
    from napari_semia._qt.output_layer import output_name

    viewer, widget = viewer_widget
    image, labels = make_scene()
    names = ["DAPI", "Actin", "Spots"]
    viewer.add_image(image, channel_axis=-1, name=names, scale=(0.5, 0.25), units="um")
    viewer.add_labels(labels, name=h.LABELS, scale=(0.5, 0.25), units="um")
    viewer.add_labels(moved(labels), name=h.TARGET, scale=(0.5, 0.25), units="um")
    h.train(qtbot, widget, steps=1)
    info = widget.model.source_info
    assert info.channel_names == tuple(names) and info.pixel_size == (0.5, 0.25) and info.unit == "µm"
    # The outputs and a new target have the source's units: without them napari warned
    # "Inconsistent units across layers" at every result.
    shown = [layer for layer in viewer.layers if layer.name.startswith("semia –")]
    assert len(shown) == 3 and all(str(layer.units[-1]) == "micrometer" for layer in shown)
    widget.new_target_from_source()
    assert str(widget.target_layer.units[-1]) == "micrometer"
    widget.pickers.target.set_layer(viewer.layers[h.TARGET])
    for name in names:
        viewer.layers.remove(name)
    widget.synthesize()
    h.wait_for_synthesis(qtbot, widget)
    result = widget.model.synthesize(moved(labels))
    for channel, name in enumerate(names):
        layer = viewer.layers[f"{output_name('model', h.TARGET)} [{name}]"]
        assert not layer.rgb and layer.blending == "additive"
        np.testing.assert_array_equal(layer.data, result[..., channel])
        np.testing.assert_allclose(layer.scale, (0.5, 0.25))


def test_an_output_the_user_moved_stays_where_they_put_it(trained, qtbot):
    viewer, widget = trained
    output = viewer.layers[h.OUTPUT]
    output.translate = (0, 40)  # beside the source
    viewer.layers[h.TARGET].paint((20, 20), 0)
    widget.synthesize()
    h.wait_for_synthesis(qtbot, widget)
    np.testing.assert_allclose(viewer.layers[h.OUTPUT].translate, (0, 40))


def test_stale_failures_do_not_come_back(viewer_widget, qtbot):
    viewer, widget = viewer_widget
    widget.train()  # nothing to train on
    assert widget.state.message.startswith("Not trained")
    h.add_scene(viewer)
    assert not widget.state.message.startswith("Not trained")
    # A training failure, then a synthesis error over it with the same layers: choosing
    # other labels restores neither (the error's 'status before' was the failure).
    blank = viewer.add_labels(np.zeros_like(viewer.layers[h.LABELS].data), name="blank labels")
    widget.pickers.labels.set_layer(blank)
    h.train(qtbot, widget, steps=2)
    assert widget.state.message.startswith("Training failed")
    widget.synthesize()  # from the labels alone: the same single class
    h.wait_for_synthesis(qtbot, widget)
    assert widget.state.message.startswith("Not synthesized") and "single class" in widget.state.message
    widget.pickers.labels.set_layer(viewer.layers[h.LABELS])
    assert widget.state.message == widget.state.ready_message()


def test_a_run_that_fails_midway_says_its_own_model_is_kept(viewer_widget, qtbot, monkeypatch, messages):
    viewer, widget = viewer_widget
    h.add_scene(viewer)
    fail_training_from(monkeypatch, 2, RuntimeError("CUDA out of memory (simulated)"))
    h.train(qtbot, widget, steps=10)
    assert widget.model is not None
    assert f"The model trained until then ({widget.model.steps_done} steps) is kept" in widget.state.message


def test_side_by_side_starts_as_napari_s_grid_is(make_napari_viewer):
    from conftest import PLUGIN, WIDGET_NAME

    from napari_semia._qt.synthesis_controls import grid_of

    viewer = make_napari_viewer()
    grid_of(viewer).enabled = True
    _, widget = viewer.window.add_plugin_dock_widget(PLUGIN, WIDGET_NAME)
    assert widget.synthesis.side_by_side.isChecked()


def test_greyed_buttons_say_why(viewer_widget, qtbot):
    viewer, widget = viewer_widget
    save, generate = widget.model_io.save_button, widget.dataset.generate_button
    assert not save.isEnabled() and "Not now: there is no model yet" in save.toolTip()
    assert not generate.isEnabled() and "made with a model" in generate.toolTip()
    h.add_scene(viewer)
    h.start_training(qtbot, widget, steps=100_000)
    for button in (widget.controls.train_button, widget.model_io.load_button):
        assert not button.isEnabled() and "training is under way" in button.toolTip()
    # (Not Save yet: there is no model. With one, see the next test.)
    qtbot.waitUntil(lambda: widget.state.step >= 1, timeout=h.TIMEOUT_MS)
    widget.stop()
    qtbot.waitUntil(lambda: not widget.trainer_runner.running, timeout=h.TIMEOUT_MS)
    h.wait_for_synthesis(qtbot, widget)
    for button in (widget.controls.train_button, widget.model_io.load_button, save, generate):
        assert button.isEnabled() and "Not now" not in button.toolTip()
    assert widget.controls.train_button.toolTip().startswith("Learn the source image's appearance")


def test_save_waits_while_a_model_trains(qtbot):
    # During a run, the widget's model is the one from before it (the run trains a
    # copy): Save wrote that while the user meant the steps in progress.
    from napari_semia._qt.state import Phase, WidgetState

    state = WidgetState(has_model=True)
    buttons = model_io.ModelIO(state)
    qtbot.addWidget(buttons)
    assert buttons.save_button.isEnabled()
    for phase in (Phase.TRAINING, Phase.STOPPING):
        state.phase = phase
        assert not buttons.save_button.isEnabled() and "Stop it first" in buttons.save_button.toolTip()
    state.phase = Phase.GENERATING  # (a dataset run does not change the model)
    assert buttons.save_button.isEnabled()


def test_keeps_its_last_result_speaks_of_the_target_s_own_output(trained, qtbot):
    viewer, widget = trained
    target = viewer.layers[h.TARGET]
    target.paint((20, 20), 7)  # an id the model lacks
    widget.synthesize()
    h.wait_for_synthesis(qtbot, widget)
    assert widget.state.message.endswith("The output keeps its last result.")
    other = viewer.add_labels(np.where(target.data == 7, 0, target.data), name="another layout")
    other.paint((10, 10), 7)
    widget.pickers.target.set_layer(other)  # an output exists, but of the first target
    widget.synthesize()
    h.wait_for_synthesis(qtbot, widget)
    assert widget.state.message.startswith("Not synthesized")
    assert "keeps its last result" not in widget.state.message


def test_the_hidden_target_poll_stops_with_the_viewer(trained, qtbot):
    viewer, widget = trained
    widget.synthesis.live.setChecked(True)
    h.wait_for_synthesis(qtbot, widget)
    viewer.layers[h.TARGET].visible = False
    poll = widget._edit_watcher._poll
    assert poll.isActive()
    viewer.close()  # destroys the widget without a close or a parent change
    qtbot.wait(50)
    assert not poll.isActive()
    # ... and the widget shuts down all the same: the model let go of (its accelerator
    # memory with it) and the viewer's events disconnected; only the workers stopped
    # (a monkey test).
    assert widget.model is None


def test_a_kept_channel_group_whose_channel_changed_size_is_dropped(viewer_widget, qtbot):
    viewer, widget = viewer_widget
    add_rgb_channels_scene(viewer)
    h.train(qtbot, widget, steps=1)
    h.wait_for_synthesis(qtbot, widget)
    viewer.layers["r"].data = viewer.layers["r"].data[:20].copy()  # no longer one image
    assert widget.source_layer is None or widget.source_layer.name != "3 channels (r + g + b)"
    widget.synthesize()  # raised out of the slot when the group was kept
    h.wait_for_synthesis(qtbot, widget)


def test_enter_presses_a_focused_button(viewer_widget, qtbot):
    from qtpy.QtCore import Qt

    viewer, widget = viewer_widget
    h.add_scene(viewer)
    h.configure_tiny(widget, steps=2)
    button = widget.controls.train_button
    button.setFocus()
    qtbot.keyClick(button, Qt.Key.Key_Return)
    assert widget.trainer_runner.running or widget.model is not None
    qtbot.waitUntil(lambda: not widget.trainer_runner.running, timeout=h.TIMEOUT_MS)
    h.wait_for_synthesis(qtbot, widget)
    assert widget.model is not None


def test_with_no_model_the_status_line_says_what_is_left_to_do(viewer_widget):
    from napari_semia._qt.state import NO_MODEL_CHOSEN_MESSAGE, NO_MODEL_MESSAGE

    viewer, widget = viewer_widget
    assert widget.state.message == NO_MODEL_MESSAGE  # choose the layers (and where samples are)
    h.add_scene(viewer)
    assert widget.state.message == NO_MODEL_CHOSEN_MESSAGE  # press Train
    viewer.layers.remove(h.TARGET)
    assert widget.state.message == NO_MODEL_MESSAGE


def test_the_sections_fields_start_at_one_x(viewer_widget):
    from qtpy.QtWidgets import QFormLayout

    _, widget = viewer_widget
    widths = set()
    for form in widget.content.findChildren(QFormLayout):
        for row in range(form.rowCount()):
            item = form.itemAt(row, QFormLayout.ItemRole.LabelRole)
            if item is not None and item.widget() is not None:
                widths.add(item.widget().minimumWidth())
    assert len(widths) == 1 and widths.pop() > 0


def _shown_and_active(viewer, qtbot):
    window = viewer.window._qt_window
    window.show()
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=5000)


def _train_by_return(make_napari_viewer, qtbot, steps):
    """A shown viewer and dock whose training was started by Return on a focused Train."""
    from conftest import PLUGIN, WIDGET_NAME
    from qtpy.QtCore import Qt

    viewer = make_napari_viewer(show=True)
    _, widget = viewer.window.add_plugin_dock_widget(PLUGIN, WIDGET_NAME)
    _shown_and_active(viewer, qtbot)
    h.add_scene(viewer)
    h.configure_tiny(widget, steps=steps)
    train_button = widget.controls.train_button
    train_button.setFocus()
    qtbot.waitUntil(train_button.hasFocus, timeout=5000)
    qtbot.keyClick(train_button, Qt.Key.Key_Return)
    return widget, train_button


def test_a_second_enter_on_train_does_not_stop_the_run_and_focus_returns_to_train(make_napari_viewer, qtbot):
    # Train greys out when pressed, and Qt gave its focus to the next control, Stop:
    # a double Return (or key auto-repeat) stopped the run before its first step.
    from qtpy.QtCore import Qt
    from qtpy.QtWidgets import QApplication

    widget, train_button = _train_by_return(make_napari_viewer, qtbot, steps=3)
    assert widget.trainer_runner.running
    focused = QApplication.focusWidget()
    assert focused is not widget.controls.stop_button and widget.content.isAncestorOf(focused)
    qtbot.keyClick(focused, Qt.Key.Key_Return)  # the second press
    qtbot.keyClick(focused, Qt.Key.Key_Space)
    qtbot.waitUntil(lambda: not widget.trainer_runner.running, timeout=h.TIMEOUT_MS)
    assert widget.model is not None and widget.model.steps_done == 3  # not stopped
    # Once the run is over, Train has the focus again (it was left on the Live box).
    qtbot.waitUntil(train_button.hasFocus, timeout=5000)
    h.wait_for_synthesis(qtbot, widget)


def test_escape_stops_the_run_from_the_section_that_holds_the_focus(make_napari_viewer, qtbot):
    # A usability pass: after Return on Train the focus sat, unframed, on the Training
    # section, and stopping took Tab, Tab and Space; Escape did nothing.
    from qtpy.QtCore import Qt
    from qtpy.QtWidgets import QApplication, QGroupBox

    widget, _ = _train_by_return(make_napari_viewer, qtbot, steps=2000)
    qtbot.waitUntil(lambda: widget.state.step >= 1, timeout=h.TIMEOUT_MS)
    focused = QApplication.focusWidget()
    assert isinstance(focused, QGroupBox) and "QGroupBox:focus" in widget.content.styleSheet()
    qtbot.keyClick(focused, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: not widget.trainer_runner.running, timeout=h.TIMEOUT_MS)
    assert widget.model is not None and widget.model.steps_done < 2000
    h.wait_for_synthesis(qtbot, widget)
    qtbot.keyClick(widget.controls.steps, Qt.Key.Key_Escape)  # (nothing runs: nothing happens)
    assert widget.model is not None


def test_focus_stays_in_the_dock_when_generate_greys_out(make_napari_viewer, qtbot, tmp_path):
    # Generate is the dock's last control: Qt gave its focus to the dock's title-bar
    # hide button, and the next Space hid the whole dock.
    from conftest import PLUGIN, WIDGET_NAME
    from qtpy.QtCore import Qt
    from qtpy.QtWidgets import QApplication

    viewer = make_napari_viewer(show=True)
    dock, widget = viewer.window.add_plugin_dock_widget(PLUGIN, WIDGET_NAME)
    _shown_and_active(viewer, qtbot)
    h.add_scene(viewer)
    h.train(qtbot, widget, steps=2)
    h.wait_for_synthesis(qtbot, widget)
    widget.dataset_settings.folder = str(tmp_path / "pairs")
    widget.dataset_settings.count = 1
    widget.dataset_settings.full_resolution = False
    # As after loading a model: no loss plot, so Generate is the dock's last control.
    widget.losses_section.setVisible(False)
    generate = widget.dataset.generate_button
    generate.setFocus()
    qtbot.waitUntil(generate.hasFocus, timeout=5000)
    qtbot.keyClick(generate, Qt.Key.Key_Return)
    focused = QApplication.focusWidget()
    assert focused is not None and widget.content.isAncestorOf(focused)  # not the title bar's
    qtbot.keyClick(focused, Qt.Key.Key_Space)
    qtbot.waitUntil(lambda: not widget.dataset_runner.running, timeout=h.TIMEOUT_MS)
    assert dock.isVisible()
    qtbot.waitUntil(generate.hasFocus, timeout=5000)  # given back once the run is over


def test_ctrl_z_in_a_layer_picker_undoes_the_stroke(make_napari_viewer, qtbot):
    # A combo box took Ctrl+Z as a letter to search its items for: a keyboard user who
    # left the focus on the Target picker could not undo a stroke.
    from conftest import PLUGIN, WIDGET_NAME
    from qtpy.QtCore import Qt

    viewer = make_napari_viewer(show=True)
    _, widget = viewer.window.add_plugin_dock_widget(PLUGIN, WIDGET_NAME)
    _shown_and_active(viewer, qtbot)
    h.add_scene(viewer)
    target = viewer.layers[h.TARGET]
    before = target.data.copy()
    viewer.layers.selection.active = target
    target.mode = "paint"
    target.selected_label = 1
    target.brush_size = 5
    target.paint((5, 5), 1, refresh=True)
    assert (target.data != before).any()
    picker = widget.pickers.target
    picker.setFocus()
    qtbot.keyClick(picker, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: (target.data == before).all(), timeout=5000)
    assert picker.current_layer() == target  # and the choice stays


def test_the_loss_plot_and_error_texts_follow_napari_s_theme(viewer_widget):
    # The curves were picked for the dark canvas: on the light theme the 'feature
    # matching' curve was white on white and the axis texts grey on grey.
    from napari.utils.theme import get_theme
    from qtpy.QtGui import QColor

    from napari_semia.losses import LOSS_DESCRIPTIONS

    viewer, widget = viewer_widget
    plot = widget.loss_plot
    plot.add_point(1, dict.fromkeys(LOSS_DESCRIPTIONS, 0.5))
    widget.settings.device = "cuda:99"  # never available: the device row's error text

    def luminance(colour: QColor) -> float:
        return 0.2126 * colour.redF() + 0.7152 * colour.greenF() + 0.0722 * colour.blueF()

    for theme in ("light", "dark", "light"):
        viewer.theme = theme
        background = QColor(get_theme(theme).background.as_hex())
        text = QColor(get_theme(theme).text.as_hex())
        for curve in plot.curves.values():  # every curve stands out from the panel
            assert abs(luminance(curve.opts["pen"].color()) - luminance(background)) > 0.2
        assert plot.plot.getAxis("left").textPen().color() == text
        for _sample, label in plot.legend.items:
            assert QColor(label.opts["color"]) == text
        error = QColor(widget.controls.device_problem.styleSheet().split("color:")[1].strip(" ;"))
        assert abs(luminance(error) - luminance(background)) > 0.25


def test_return_opens_the_advanced_settings_and_focus_is_framed_in_the_theme_s_colour(viewer_widget, qtbot):
    from qtpy.QtCore import Qt

    from napari_semia._qt.theme import DARK_FOCUS, LIGHT_FOCUS

    viewer, widget = viewer_widget
    toggle = widget.controls.advanced_toggle
    qtbot.keyClick(toggle, Qt.Key.Key_Return)  # Space did; Return did nothing
    assert toggle.isChecked() and widget.controls.advanced.isVisibleTo(widget)
    qtbot.keyClick(toggle, Qt.Key.Key_Enter, Qt.KeyboardModifier.KeypadModifier)  # the keypad's Enter
    assert not toggle.isChecked()
    assert DARK_FOCUS in widget.content.styleSheet() and ":focus" in widget.content.styleSheet()
    viewer.theme = "light"
    assert LIGHT_FOCUS in widget.content.styleSheet()


def test_spin_box_arrows_stay_on_the_step_grid(viewer_widget, qtbot):
    from qtpy.QtCore import Qt

    _, widget = viewer_widget
    steps, size = widget.controls.steps, widget.controls.size
    steps.setValue(50)
    qtbot.keyClick(steps, Qt.Key.Key_Down)
    assert steps.value() == 1  # the minimum
    qtbot.keyClick(steps, Qt.Key.Key_Up)
    assert steps.value() == 50  # was 51
    assert steps.lineEdit().selectedText() == steps.text()  # as Qt's step: typing replaces it
    qtbot.keyClick(steps, Qt.Key.Key_Up)
    assert steps.value() == 100
    size.setValue(32)
    qtbot.keyClick(size, Qt.Key.Key_Down)
    qtbot.keyClick(size, Qt.Key.Key_Up)
    assert size.value() == 32  # was 48
    size.setValue(100)  # typed in: the arrows go to the neighbouring multiples
    qtbot.keyClick(size, Qt.Key.Key_Down)
    assert size.value() == 96


def test_a_second_return_after_the_new_model_question_does_not_stop_the_run(make_napari_viewer, qtbot):
    # Train over an unsaved model asks first; the run starts as the question closes, while
    # the main window is not active: Qt moved its focus to Stop with no focusChanged, and
    # the next Return, once the window was active again, stopped the run.
    from conftest import PLUGIN, WIDGET_NAME
    from qtpy.QtCore import Qt

    from napari_semia._qt import model_io

    viewer = make_napari_viewer(show=True)
    _, widget = viewer.window.add_plugin_dock_widget(PLUGIN, WIDGET_NAME)
    _shown_and_active(viewer, qtbot)
    window = viewer.window._qt_window
    h.add_scene(viewer)
    h.train(qtbot, widget, steps=2)
    h.wait_for_synthesis(qtbot, widget)
    widget.settings.continue_training = False  # a new model: the question
    h.configure_tiny(widget, steps=6)
    train_button = widget.controls.train_button
    train_button.setFocus()
    qtbot.waitUntil(train_button.hasFocus, timeout=5000)

    def answered_yes_in_a_dialog(*_args, **_kwargs):
        from qtpy.QtWidgets import QDialog

        dialog = QDialog(window)  # takes the activation, as the real question does
        dialog.setModal(True)
        dialog.show()
        qtbot.waitUntil(lambda: not window.isActiveWindow(), timeout=5000)
        dialog.close()
        return True

    original = model_io._ask_yes_no
    model_io._ask_yes_no = answered_yes_in_a_dialog
    try:
        qtbot.keyClick(train_button, Qt.Key.Key_Return)
    finally:
        model_io._ask_yes_no = original
    assert widget.trainer_runner.running
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=5000)
    focused = window.focusWidget()
    assert focused is not widget.controls.stop_button
    qtbot.keyClick(focused, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: not widget.trainer_runner.running, timeout=h.TIMEOUT_MS)
    assert widget.model.steps_done == 6  # not stopped
    h.wait_for_synthesis(qtbot, widget)


def test_stop_ends_a_long_synthesis(trained, qtbot, monkeypatch):
    # A large image's full-resolution stage runs a minute and more: nothing but closing
    # napari stopped it (Stop was the training's, and greyed out).
    import threading

    from napari_semia._qt import jobs

    viewer, widget = trained
    started = threading.Event()
    slow = jobs.synthesis_results

    def slow_results(job, cancel, report=None):
        def dawdling(fraction):
            started.set()
            while not cancel.is_set():
                cancel.wait(0.01)
            if report is not None:
                report(fraction)
        yield from slow(job, cancel, dawdling)

    monkeypatch.setattr(jobs, "synthesis_results", slow_results)
    target = viewer.layers[h.TARGET]
    target.data = h.moved(target.data, 2, 0)  # an edit, so that there is something to do
    widget.synthesize()
    qtbot.waitUntil(started.is_set, timeout=h.TIMEOUT_MS)
    stop = widget.synthesis.stop_button
    assert stop.isEnabled()
    stop.click()
    h.wait_for_synthesis(qtbot, widget)
    assert not stop.isEnabled() and "Synthesis stopped" in widget.state.message
    assert widget.synthesis.synthesize_button.isEnabled()
    monkeypatch.setattr(jobs, "synthesis_results", slow)
    widget.synthesize()  # again, to the end: the line no longer says it was stopped
    h.wait_for_synthesis(qtbot, widget)
    assert "Synthesis stopped" not in widget.state.message


def test_a_link_under_the_progress_bar_scrolls_to_the_losses(make_napari_viewer, qtbot):
    # Found by a UX pass: the plot appears at the dock's foot, far below the fold, and
    # nothing said so.
    from conftest import PLUGIN, WIDGET_NAME
    from qtpy.QtWidgets import QScrollArea

    viewer = make_napari_viewer(show=True)
    _, widget = viewer.window.add_plugin_dock_widget(PLUGIN, WIDGET_NAME)
    viewer.window._qt_window.resize(1000, 600)
    assert widget.losses_link.isHidden() and widget.losses_section.isHidden()
    h.add_scene(viewer)
    h.train(qtbot, widget, steps=2)
    assert not widget.losses_link.isHidden()
    scroll = widget.findChild(QScrollArea)
    scroll.verticalScrollBar().setValue(0)
    viewport = scroll.viewport()

    def plot_in_view():
        top_left = widget.loss_plot.mapTo(viewport, widget.loss_plot.rect().topLeft())
        return 0 <= top_left.y() < viewport.height()

    qtbot.waitUntil(lambda: scroll.verticalScrollBar().maximum() > 0, timeout=5000)
    assert not plot_in_view()
    widget.losses_link.click()
    qtbot.waitUntil(plot_in_view, timeout=5000)


def test_a_sample_opened_beside_a_photo_takes_its_own_image_as_the_source(viewer_widget, qtbot):
    # A pass on napari use: with a photo open, a sample's labels and target were picked
    # and the photo stayed the source image; Train and Synthesize were refused for sizes.
    viewer, widget = viewer_widget
    photo = np.random.default_rng(0).integers(0, 255, (30, 50, 3), dtype=np.uint8)
    viewer.add_image(photo, rgb=True, name="photo")
    assert widget.source_layer.name == "photo"
    h.add_scene(viewer)
    assert widget.source_layer.name == h.SOURCE
    assert (widget.labels_layer.name, widget.target_layer.name) == (h.LABELS, h.TARGET)
    # A photo chosen by hand stays chosen.
    widget.pickers.image.set_layer(viewer.layers["photo"])
    viewer.add_labels(np.zeros((8, 8), np.uint8), name="other")
    assert widget.source_layer.name == "photo"
