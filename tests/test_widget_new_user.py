"""What a new user ran into (issue 7): each bug and gap found by driving the
widget as a newcomer would, as a test."""

import time

import numpy as np
import pytest
from conftest import PLUGIN, WIDGET_NAME, make_scene, moved
from qtpy.QtCore import Qt
from widget_helpers import (
    LABELS,
    OUTPUT,
    SOURCE,
    TARGET,
    TIMEOUT_MS,
    add_scene,
    configure_tiny,
    output_layers,
    picker_names,
    start_training,
    train,
    wait_for_synthesis,
)

from napari_semia._qt import model_io
from napari_semia._qt.output_layer import output_name


def wait_until_idle(qtbot, widget):
    qtbot.waitUntil(lambda: not widget.trainer_runner.running, timeout=TIMEOUT_MS)
    wait_for_synthesis(qtbot, widget)


# ------------------------------------------------------------------- bugs
def test_saving_to_an_unwritable_place_is_one_clear_message(trained, tmp_path, monkeypatch, messages, capfd):
    _, widget = trained
    blocker = tmp_path / "a file"
    blocker.write_text("")
    path = blocker / "model.semia"  # a folder that cannot exist
    monkeypatch.setattr(model_io, "ask_save_path", lambda parent, suggested: str(path))
    messages.clear()
    capfd.readouterr()
    widget.save_model()
    assert len(messages) == 1 and messages[0][0] == "error"
    assert str(path) in messages[0][1] and "Could not save" in messages[0][1]
    out, err = capfd.readouterr()
    assert "Traceback" not in out + err and "tensor" not in out + err
    assert widget.state.model_unsaved  # still unsaved


def test_undo_and_redo_resynthesize_like_a_stroke(trained, qtbot):
    viewer, widget = trained
    widget.synthesis.live.setChecked(True)
    wait_for_synthesis(qtbot, widget)
    before = viewer.layers[OUTPUT].data.copy()
    target = viewer.layers[TARGET]
    target.brush_size = 9
    target.paint((26, 6), 1)
    qtbot.waitUntil(lambda: not np.array_equal(viewer.layers[OUTPUT].data, before), timeout=TIMEOUT_MS)
    wait_for_synthesis(qtbot, widget)
    painted = viewer.layers[OUTPUT].data.copy()
    target.undo()
    qtbot.waitUntil(lambda: np.array_equal(viewer.layers[OUTPUT].data, before), timeout=TIMEOUT_MS)
    target.redo()
    qtbot.waitUntil(lambda: np.array_equal(viewer.layers[OUTPUT].data, painted), timeout=TIMEOUT_MS)


def test_deleting_the_source_labels_never_makes_the_target_the_source(viewer_widget, qtbot, messages):
    viewer, widget = viewer_widget
    add_scene(viewer)
    viewer.layers[TARGET].name = "edited"  # nothing in the name says "target"
    assert widget.labels_layer is viewer.layers[LABELS]
    assert widget.target_layer is viewer.layers["edited"]
    viewer.layers.remove(LABELS)
    assert widget.labels_layer is None
    assert widget.target_layer is viewer.layers["edited"]
    widget.train()
    assert messages[-1][0] == "error" and "source labels" in messages[-1][1]
    assert not widget.trainer_runner.running


def test_one_layer_as_both_source_labels_and_target_is_refused(viewer_widget, messages):
    viewer, widget = viewer_widget
    add_scene(viewer)
    widget.pickers.target.set_layer(viewer.layers[LABELS])
    widget.pickers.labels.set_layer(viewer.layers[LABELS])
    widget.train()
    assert messages[-1][0] == "error" and "both the source labels and the target" in messages[-1][1]
    assert not widget.trainer_runner.running


def test_the_source_labels_chosen_as_the_target_says_why_the_labels_picker_is_empty(viewer_widget,
                                                                                    messages):
    # Found by a new user: the source labels' picker, an automatic pick, avoids the
    # target's layer and fell to "(none)"; Train asked for source labels, not saying why.
    viewer, widget = viewer_widget
    add_scene(viewer)
    widget.pickers.target.set_layer(viewer.layers[LABELS])
    assert widget.labels_layer is None
    widget.train()
    assert messages[-1][0] == "error" and "Choose the source labels" in messages[-1][1]
    assert f"If '{LABELS}', chosen as the target, is the source's label map" in messages[-1][1]
    assert not widget.trainer_runner.running


def test_a_label_map_opened_as_an_image_gets_a_hint_to_convert_it(viewer_widget, messages):
    # Found by a new user: viewer.open() of a PNG of ids makes an Image layer; the
    # labels picker (rightly) does not offer it, and nothing said what to do.
    viewer, widget = viewer_widget
    image, labels = make_scene(64, rgb=False)
    viewer.add_image(image, name=SOURCE)
    viewer.add_image(labels.astype(np.uint8), name="labels.png")
    widget.pickers.image.set_layer(viewer.layers[SOURCE])
    widget.train()
    assert messages[-1][0] == "error" and "Choose the source labels" in messages[-1][1]
    assert "'labels.png'" in messages[-1][1] and "Convert to Labels" in messages[-1][1]
    widget.new_target_from_source()
    assert "'labels.png'" in messages[-1][1] and "Convert to Labels" in messages[-1][1]
    # A float map of whole ids gets it too (found by a new user: a float32 map of 1.0,
    # 2.0, 3.0 got no hint).
    viewer.layers["labels.png"].data = labels.astype(np.float32) + 1
    widget.train()
    assert "'labels.png'" in messages[-1][1] and "Convert to Labels" in messages[-1][1]
    viewer.layers["labels.png"].data = labels.astype(np.uint8)
    # Converted, it is offered and used.
    viewer.add_labels(viewer.layers["labels.png"].data, name=LABELS)
    del viewer.layers["labels.png"]
    assert LABELS in picker_names(widget.pickers.labels)
    # Another image of many values is no label map: no hint.
    del viewer.layers[LABELS]
    noise = np.random.default_rng(0).integers(0, 256, (64, 64), dtype=np.uint8)
    viewer.add_image(noise, name="other photo")
    widget.pickers.image.set_layer(viewer.layers[SOURCE])
    widget.train()
    assert "Choose the source labels" in messages[-1][1] and "Convert to Labels" not in messages[-1][1]


def test_a_photo_is_not_offered_or_accepted_as_a_label_map(viewer_widget, qtbot, messages):
    from skimage import data
    from skimage.transform import resize

    viewer, widget = viewer_widget
    photo = (resize(data.astronaut(), (64, 64), anti_aliasing=True) * 255).astype(np.uint8)
    viewer.add_image(photo, name="astronaut")
    assert picker_names(widget.pickers.labels) == ["(none)"]
    # Forced in anyway (e.g. by a script), training says what is wrong.
    widget.pickers.labels._items.append(viewer.layers["astronaut"])
    widget.pickers.labels.addItem("astronaut")
    widget.pickers.labels.setCurrentIndex(1)
    widget.train()
    qtbot.waitUntil(lambda: not widget.trainer_runner.running, timeout=TIMEOUT_MS)
    assert messages[-1][0] == "error" and "looks like a photo" in messages[-1][1]


def test_the_continue_hint_comes_only_where_it_is_the_fix(trained, qtbot, messages):
    viewer, widget = trained
    assert widget.settings.continue_training
    widget.settings.device = "no-such-device"
    messages.clear()
    widget.train()
    wait_until_idle(qtbot, widget)
    assert len(messages) == 1 and "Unknown device" in messages[0][1] and "Untick" not in messages[0][1]
    # The status line says why in full too (a first user saw the pop-up cut short).
    assert "Unknown device" in widget.state.message and "see the message" not in widget.state.message
    widget.settings.device = "cpu"
    viewer.layers[LABELS].data = viewer.layers[LABELS].data * 3  # other class ids
    messages.clear()
    widget.train()
    wait_until_idle(qtbot, widget)
    assert len(messages) == 1 and "classes" in messages[0][1] and "Untick" in messages[0][1]
    assert "classes" in widget.state.message and "Untick" in widget.state.message


@pytest.mark.parametrize("deleted", [TARGET, SOURCE])
def test_deleting_an_input_mid_training_makes_no_stray_output_layer(viewer_widget, qtbot, deleted, messages):
    viewer, widget = viewer_widget
    add_scene(viewer)
    viewer.layers.selection.active = viewer.layers[TARGET]
    viewer.layers[TARGET].mode = "paint"  # as New target leaves it
    start_training(qtbot, widget, steps=40)
    qtbot.waitUntil(lambda: OUTPUT in viewer.layers, timeout=TIMEOUT_MS)
    viewer.layers.remove(deleted)
    wait_until_idle(qtbot, widget)
    assert widget.model is not None and widget.model.steps_done == 40
    wait_for_synthesis(qtbot, widget)
    # The one made before, none named after missing inputs; with the source removed, the
    # end of training's result in a new layer, as the message says (it was made nowhere,
    # found by a new user).
    after = output_name("model", TARGET)
    assert output_layers(viewer) == [OUTPUT] + ([after] if deleted == SOURCE else [])
    if deleted == SOURCE:
        np.testing.assert_array_equal(viewer.layers[after].data,
                                      widget.model.synthesize(viewer.layers[TARGET].data))
        # ... shown as after training: the target, in paint mode but not painted on in
        # the last seconds, is hidden so that it shows (from a review).
        assert not viewer.layers[TARGET].visible
    # The source's removal is said (it went without a word; found by a new user).
    said = [text for kind, text in messages if "was removed while training" in text]
    assert said == ([f"'{SOURCE}' was removed while training: training goes on with the copy it started "
                     "from, and the model keeps it. Results of the model go to new output layers (those "
                     "of the removed source stay as they are)."] if deleted == SOURCE else [])
    # With no target left, the status line says how to make one (it invited painting
    # the deleted target; found by a napari power user).
    making = "Make a target to paint with 'New target from source labels'" in widget.state.message
    assert making == (deleted == TARGET), widget.state.message


def test_pressing_train_returns_at_once_and_builds_the_trainer_in_the_worker(viewer_widget, qtbot):
    viewer, widget = viewer_widget
    image, labels = make_scene(512)
    viewer.add_image(image, name=SOURCE)
    viewer.add_labels(labels, name=LABELS)
    configure_tiny(widget, steps=2)
    widget.settings.size = 512
    began = time.perf_counter()
    widget.train()
    took = time.perf_counter() - began
    assert widget.trainer_runner.running and widget.trainer_runner.trainer is None
    assert took < 0.5, took  # building the trainer took 1.25 s on the main thread before
    widget.stop()
    wait_until_idle(qtbot, widget)


def test_an_unknown_target_id_at_train_is_reported_once(viewer_widget, qtbot, messages):
    viewer, widget = viewer_widget
    add_scene(viewer)
    viewer.layers[TARGET].data[0:3, 0:3] = 9
    train(qtbot, widget, steps=2)
    wait_until_idle(qtbot, widget)
    assert [kind for kind, _ in messages] == ["warning"]
    assert "previews" in messages[0][1] and "9" in messages[0][1]


def test_a_flat_image_is_warned_about_before_training(viewer_widget, qtbot, messages):
    viewer, widget = viewer_widget
    _, labels = make_scene(rgb=False)
    viewer.add_image(np.full(labels.shape, 50, np.uint8), name=SOURCE)
    viewer.add_labels(labels, name=LABELS)
    train(qtbot, widget, steps=2)
    assert any(kind == "warning" and "constant" in text for kind, text in messages)


# ------------------------------------------------------------------- gaps
def test_the_model_line_shows_the_working_size(viewer_widget, qtbot):
    viewer, widget = viewer_widget
    image, labels = make_scene(64, rgb=False)
    viewer.add_image(image, name=SOURCE)
    viewer.add_labels(labels, name=LABELS)
    train(qtbot, widget, steps=2)  # configure_tiny sets a 32 px working size
    text = widget.model_io.description.text()
    assert "source 64 × 64 px (grey, uint8)" in text and "synthesized at 32 × 32 px" in text


def test_after_training_the_result_shows_unobstructed(trained, qtbot):
    viewer, widget = trained
    target = viewer.layers[TARGET]
    target.opacity = 0.4  # the user's own setting
    assert not target.visible and viewer.layers[OUTPUT].visible
    assert viewer.layers.selection.active is viewer.layers[OUTPUT]
    assert "hidden" in widget.progress.label.text()
    viewer.layers.selection.active = target  # the user goes back to painting
    assert target.visible and target.opacity == 0.4
    # ... and the status line no longer says it is hidden (it did, found by a new user).
    assert "hidden" not in widget.progress.label.text()
    assert "Training finished" in widget.progress.label.text()


def test_after_new_target_paint_train_the_result_shows_unless_a_stroke_is_under_way(
        viewer_widget, qtbot, monkeypatch):
    # Found by a microscopist: New target leaves the target in paint mode, so after the
    # usual New target -> paint -> Train it stayed over the result (opacity 0.7), never
    # hidden as the guide says.
    from napari_semia._qt import widget as widget_module

    viewer, widget = viewer_widget
    add_scene(viewer, with_target=False)
    widget.pickers.new_target_button.click()
    target = widget.target_layer
    assert viewer.layers.selection.active == target and target.mode == "paint"
    target.paint((4, 4), 1)
    monkeypatch.setattr(widget_module, "_PAINTING_PAUSE_S", 0.0)  # the stroke is long past
    train(qtbot, widget, steps=1)
    wait_for_synthesis(qtbot, widget)
    assert not target.visible and viewer.layers.selection.active == viewer.layers[
        output_name(SOURCE, target.name)]
    # A stroke a moment before training ends: the target stays in sight.
    viewer.layers.selection.active = target
    target.mode = "paint"
    assert target.visible
    monkeypatch.setattr(widget_module, "_PAINTING_PAUSE_S", 60.0)
    target.paint((6, 6), 1)
    train(qtbot, widget, steps=1)
    wait_for_synthesis(qtbot, widget)
    assert target.visible and viewer.layers.selection.active == target


def test_synthesize_shows_a_result_the_user_had_hidden_and_closing_shows_the_target(trained, qtbot):
    # A pass on napari use: with the output hidden by its eye icon, Synthesize hid the
    # target and said "hidden so the result shows" over the bare source; and closing
    # the dock left the target hidden, the note that said why gone with it.
    viewer, widget = trained
    target, output = viewer.layers[TARGET], viewer.layers[OUTPUT]
    target.visible = True
    output.visible = False
    assert widget.synthesize()
    wait_for_synthesis(qtbot, widget)
    assert output.visible and not target.visible
    widget.shutdown()
    assert target.visible


def test_showing_the_hidden_target_with_its_eye_clears_the_hidden_note(trained):
    # Found by a new user: the eye icon showed the target, the status line still said hidden.
    viewer, widget = trained
    target = viewer.layers[TARGET]
    assert not target.visible and "hidden" in widget.progress.label.text()
    target.visible = True  # what the layer list's eye icon does
    assert "hidden" not in widget.progress.label.text()
    assert "Training finished" in widget.progress.label.text()
    target.visible = False  # the user's own choice now: no note comes back
    assert "hidden" not in widget.progress.label.text()


def test_a_removed_hidden_target_takes_its_note_with_it(trained, qtbot):
    # Found by a new user: the hidden target removed and added again, Synthesize hid
    # it again and the status line said "'target' is hidden ..." twice.
    viewer, widget = trained
    data = viewer.layers[TARGET].data.copy()
    viewer.layers.remove(TARGET)
    assert "hidden" not in widget.progress.label.text()
    viewer.add_labels(data, name=TARGET)
    widget.pickers.target.set_layer(viewer.layers[TARGET])
    viewer.layers.selection.active = viewer.layers[SOURCE]
    widget.synthesize()
    wait_for_synthesis(qtbot, widget)
    assert widget.progress.label.text().count("is hidden so the result shows") == 1


def test_a_status_line_put_back_after_an_error_does_not_bring_back_a_removed_target_s_note(trained, qtbot):
    # Found by a new user: after a synthesis error and removing every layer, the
    # status line still said "'<the removed target>' is hidden so the result shows":
    # the line saved before the error, and put back after it, held the note.
    viewer, widget = trained
    target = viewer.layers[TARGET]
    assert "is hidden so the result shows" in widget.progress.label.text()
    target.data[0, 0] = 7  # a class the model does not know
    widget.synthesize()
    wait_for_synthesis(qtbot, widget)
    assert widget.progress.label.text().startswith("Not synthesized")
    viewer.layers.remove(target)  # (while the error is on the line) then the rest
    for layer in list(viewer.layers):
        viewer.layers.remove(layer)
    qtbot.wait(50)
    line = widget.progress.label.text()
    assert "Not synthesized" not in line and "Training finished" in line  # the line before the error
    assert "hidden" not in line


def test_a_target_whose_final_result_cannot_be_made_stays_in_sight(viewer_widget, qtbot, messages):
    # Found by a napari power user: the target changed during training so that the
    # final result failed (a crop: "does not fit"), and the target was hidden all the
    # same, the status line saying "... is hidden so the result shows" over a preview.
    viewer, widget = viewer_widget
    add_scene(viewer)
    start_training(qtbot, widget, steps=6)
    qtbot.waitUntil(lambda: widget.state.step >= 1, timeout=TIMEOUT_MS)
    viewer.layers[TARGET].data[0:2, 0:2] = 7  # a class the model does not know
    viewer.layers[TARGET].refresh()
    qtbot.waitUntil(lambda: not widget.trainer_runner.running, timeout=TIMEOUT_MS)
    wait_for_synthesis(qtbot, widget)
    assert [text for kind, text in messages if kind == "error" and "7" in text]
    assert viewer.layers[TARGET].visible
    assert "is hidden" not in widget.progress.label.text()


def test_an_earlier_result_does_not_hide_a_target_refused_since(viewer_widget, qtbot, messages, monkeypatch):
    # From a review: Synthesize, then a class the model lacks painted and Synthesize
    # again (refused at once): the first request's result, arriving after, hid the
    # target the error asked to mend.
    from napari_semia.model import SemiaModel

    viewer, widget = viewer_widget
    add_scene(viewer)
    train(qtbot, widget, steps=2)
    wait_for_synthesis(qtbot, widget)
    target = viewer.layers[TARGET]
    target.visible = True
    viewer.layers.selection.active = viewer.layers[SOURCE]  # not painting
    stages = SemiaModel.synthesis_stages

    def slow(self, *args, **kwargs):
        for image, final in stages(self, *args, **kwargs):
            if final:
                time.sleep(1.0)
            yield image, final

    monkeypatch.setattr(SemiaModel, "synthesis_stages", slow)
    widget.synthesize()
    qtbot.wait(200)
    target.data[0:2, 0:2] = 7  # a class the model does not know
    target.refresh()
    assert not widget.synthesize()
    wait_for_synthesis(qtbot, widget)
    assert target.visible and "is hidden" not in widget.progress.label.text()


def test_another_target_takes_the_hidden_target_s_note_with_it(trained):
    # Found by a new user: after New target the status line still said "'<the last
    # target>' is hidden so the result shows; select it ... to paint again".
    viewer, widget = trained
    assert "hidden" in widget.progress.label.text()
    widget.pickers.new_target_button.click()
    assert widget.target_layer != viewer.layers[TARGET]
    assert "hidden" not in widget.progress.label.text()


def test_synthesize_shows_its_result_unobstructed(trained, qtbot, tmp_path, monkeypatch):
    # Found with a model trained on the command line: loaded, then Synthesize, the
    # result went under the target (a colour-coded RGB image there hid it whole).
    viewer, widget = trained
    target = viewer.layers[TARGET]
    model_path = widget.model.save(tmp_path / "cli.semia")
    target.visible = True
    viewer.layers.selection.active = viewer.layers[SOURCE]
    monkeypatch.setattr(model_io, "ask_open_path", lambda parent, start="": str(model_path))
    monkeypatch.setattr(model_io, "_ask_yes_no", lambda *args: True)
    widget.model_io.load_button.click()
    assert widget.model is not None and target.visible
    widget.synthesis.synthesize_button.click()
    wait_for_synthesis(qtbot, widget)
    assert not target.visible and viewer.layers.selection.active is viewer.layers[OUTPUT]
    assert "hidden" in widget.progress.label.text()
    # Not while painting it, nor with Live on: the strokes stay in sight.
    target.visible = True
    viewer.layers.selection.active = target
    target.mode = "paint"
    widget.synthesis.synthesize_button.click()
    wait_for_synthesis(qtbot, widget)
    assert target.visible
    target.mode = "pan_zoom"
    widget.synthesis.live.setChecked(True)
    widget.synthesis.synthesize_button.click()
    wait_for_synthesis(qtbot, widget)
    assert target.visible


def test_selecting_the_target_while_a_result_is_on_its_way_keeps_it_in_sight(trained, qtbot, monkeypatch):
    # Found in review: a result pressed for earlier hid the target the user had just
    # selected to paint again (a full-resolution result takes seconds on a large image).
    import threading

    from napari_semia._qt import jobs

    viewer, widget = trained
    target = viewer.layers[TARGET]
    target.visible = True
    viewer.layers.selection.active = viewer.layers[SOURCE]
    gate = threading.Event()
    original = jobs.synthesis_results

    def slow(job, cancel, report=None):
        for result in original(job, cancel, report):
            if result.final:
                gate.wait(10)
            yield result

    monkeypatch.setattr(jobs, "synthesis_results", slow)
    widget.synthesis.synthesize_button.click()
    qtbot.wait(200)
    viewer.layers.selection.active = target
    gate.set()
    wait_for_synthesis(qtbot, widget)
    assert target.visible and viewer.layers.selection.active == target


def test_continuing_a_model_says_its_working_size_and_network_are_kept(trained, qtbot, messages):
    # Found with a model trained on the command line at 64 px: loaded, with Continue
    # ticked, the fields read 256 px and Train went on at 64 px without a word.
    _, widget = trained
    controls = widget.controls
    assert widget.settings.continue_training
    assert not any(w.isEnabled() for w in (controls.size, controls.width, controls.levels))
    assert "Kept from the model" in controls.size.toolTip()
    controls.continue_training.setChecked(False)
    assert all(w.isEnabled() for w in (controls.size, controls.width, controls.levels))
    assert "Kept from the model" not in controls.size.toolTip()
    configure_tiny(widget, steps=2)
    controls.size.setValue(64)
    controls.continue_training.setChecked(True)
    # The greyed fields read the model's own values (a UX pass saw 256 px on a 64-px model),
    # and the settings for a new model are kept behind them.
    assert not controls.size.isEnabled() and controls.size.value() == 32
    assert (controls.width.value(), controls.levels.value()) == (8, 3)
    assert widget.settings.size == 64
    controls.steps.setValue(3)  # another setting shown again leaves them alone
    assert controls.size.value() == 32
    controls.continue_training.setChecked(False)
    assert controls.size.value() == 64
    controls.continue_training.setChecked(True)
    controls.steps.setValue(2)
    controls.train_button.click()
    qtbot.waitUntil(lambda: not widget.trainer_runner.running, timeout=TIMEOUT_MS)
    assert widget.model.config.size == 32 and widget.model.steps_done == 6  # the model's own, continued
    assert any(kind == "info" and "own working size (32 px)" in text for kind, text in messages)


def test_live_shows_the_target_again(trained):
    viewer, widget = trained
    widget.synthesis.live.setChecked(True)
    assert viewer.layers[TARGET].visible
    assert "hidden" not in widget.progress.label.text()


def test_channel_layers_can_be_used_together(viewer_widget, qtbot):
    viewer, widget = viewer_widget
    image, labels = make_scene()
    viewer.add_image(image[..., :2], channel_axis=-1, name=["red", "green"])
    viewer.add_labels(labels, name=LABELS)
    viewer.add_labels(moved(labels), name=TARGET)
    assert widget.source_layer.name == "2 channels (red + green)"  # napari split one image
    train(qtbot, widget, steps=2)
    wait_until_idle(qtbot, widget)
    assert widget.model.normalizer.channels == 2
    outputs = output_layers(viewer)
    assert outputs == [f"semia – 2 channels (red + green) → {TARGET} [red]",
                       f"semia – 2 channels (red + green) → {TARGET} [green]"]
    assert viewer.layers[outputs[0]].data.shape == labels.shape


def test_training_on_one_channel_of_several_says_so(viewer_widget, qtbot, messages):
    viewer, widget = viewer_widget
    image, labels = make_scene()
    viewer.add_image(image[..., :2], channel_axis=-1, name=["red", "green"])
    viewer.add_labels(labels, name=LABELS)
    widget.pickers.image.set_layer(viewer.layers["green"])
    train(qtbot, widget, steps=1)
    assert any(kind == "info" and "one of 2 single-channel layers" in text for kind, text in messages)


def test_one_more_image_of_the_size_keeps_channel_axis_images_offered_whole(viewer_widget):
    # Found by a microscopist: DAPI + Actin (channel_axis), then a probability map of the
    # same size: only "3 channels (DAPI + Actin + probability)" was offered, and the
    # default fell on DAPI alone; a second experiment made "5 channels: ..." of both.
    from widget_helpers import picker_names

    viewer, widget = viewer_widget
    image, labels = make_scene(rgb=False)
    viewer.add_image(np.stack([image, 255 - image]), channel_axis=0, name=["DAPI", "Actin"])
    viewer.add_image(image // 3, name="probability")
    viewer.add_image(np.stack([image // 2, image]), channel_axis=0, name=["Actin2", "Spots2"])
    viewer.add_labels(labels, name=LABELS)
    names = picker_names(widget.pickers.image)
    assert "2 channels (DAPI + Actin)" in names and "2 channels (Actin2 + Spots2)" in names
    assert widget.pickers.image.currentText() == "2 channels (DAPI + Actin)"
    assert "5 channels (DAPI + Actin + probability + Actin2 + Spots2)" in names  # all of them, chosen by hand


@pytest.mark.parametrize("axes", ["CYX", "ZCYX", "ZYX"])
def test_a_channel_stack_file_opened_as_one_layer_is_named_as_such(viewer_widget, qtbot, messages, tmp_path,
                                                                    axes):
    # Found by earlier passes, left alone until now: a Fiji channel stack opened
    # with File -> Open is one layer whose slider walks the channels, and the
    # widget trained on the channel on display without a word.
    import tifffile

    viewer, widget = viewer_widget
    image, labels = make_scene(rgb=False)
    stack = np.stack([image, 255 - image, image // 2])
    if axes == "ZCYX":
        stack = np.stack([stack, stack])
    path = tmp_path / f"{axes}.tif"
    tifffile.imwrite(path, stack, imagej=True, metadata={"axes": axes})
    (layer,) = viewer.open(str(path), plugin="napari")
    viewer.add_labels(labels, name=LABELS)
    widget.pickers.image.set_layer(layer)
    train(qtbot, widget, steps=1)
    notes = [text for kind, text in messages if kind == "warning" and "channels along" in text]
    if axes == "ZYX":  # a z-stack's slider walks planes: nothing to say
        assert not notes
        return
    assert len(notes) == 1 and "3 channels along its axis" in notes[0] and path.name in notes[0]
    if axes == "CYX":
        assert "'Split Stack'" in notes[0]
    else:  # Split Stack would split z: the note gives the channel axis instead
        assert "channel_axis=1" in notes[0] and "Split Stack" not in notes[0]


def test_a_16_bit_colour_png_napari_read_as_8_bits_is_named(viewer_widget, qtbot, messages, tmp_path):
    # Found by a new user: napari's reader gives 16-bit colour PNGs 8 bits, and the
    # results had 8, without a word.
    import png

    viewer, widget = viewer_widget
    image, labels = make_scene()
    png.from_array((image.astype(np.uint16) * 257).reshape(image.shape[0], -1), "RGB;16").save(
        tmp_path / "photo16.png")
    viewer.open(str(tmp_path / "photo16.png"), plugin="napari")
    assert viewer.layers["photo16"].dtype == np.uint8  # (napari's reader, as it is)
    viewer.add_labels(labels, name=LABELS)
    train(qtbot, widget, steps=1)
    warned = [text for kind, text in messages if kind == "warning" and "16-bit colour PNG" in text]
    assert len(warned) == 1 and "'photo16'" in warned[0] and "TIFF" in warned[0]


def test_a_tiff_napari_opened_without_its_pixel_size_is_named_at_train(viewer_widget, qtbot, messages,
                                                                          tmp_path, monkeypatch):
    # Found by a materials scientist: napari's reader drops an ImageJ TIFF's pixel
    # size, so the model had none, while the command line kept it from the file.
    import tifffile

    viewer, widget = viewer_widget
    image, labels = make_scene()
    grey = image[..., 1].astype(np.uint16) * 100
    tifffile.imwrite(tmp_path / "sem.tif", grey, imagej=True, resolution=(50, 50), metadata={"unit": "um"})
    viewer.open(str(tmp_path / "sem.tif"), plugin="napari")
    viewer.add_labels(labels, name=LABELS)
    train(qtbot, widget, steps=1)
    warned = [text for kind, text in messages if kind == "warning" and "without the pixel size" in text]
    if widget.model.source_info.pixel_size is not None:  # a napari that reads it: nothing to say
        assert not warned
        return
    assert len(warned) == 1 and "(0.02 × 0.02 µm)" in warned[0] and "napari-semia train" in warned[0]
    # Set as the note says: nothing more to say, and the model has it.
    messages.clear()
    viewer.layers["sem"].scale = (0.02, 0.02)
    viewer.layers["sem"].units = "µm"
    widget.controls.continue_training.setChecked(False)
    monkeypatch.setattr(model_io, "ask_train_over_unsaved", lambda parent: True)
    train(qtbot, widget, steps=1)
    assert not [text for kind, text in messages if "without the pixel size" in text]
    assert widget.model.source_info.pixel_size == (0.02, 0.02)
    # A model with a pixel size, continued on a layer without one, keeps its own: no note.
    viewer.layers["sem"].scale = (1, 1)
    viewer.layers["sem"].units = "pixel"
    widget.controls.continue_training.setChecked(True)
    train(qtbot, widget, steps=1)
    assert not [text for kind, text in messages if "without the pixel size" in text]
    assert widget.model.source_info.pixel_size == (0.02, 0.02)


def test_a_photo_napari_opened_on_its_side_is_named_at_train(viewer_widget, qtbot, messages, tmp_path):
    # Found by a phone photographer: napari shows a photo with an EXIF orientation tag
    # as stored, on its side, and nothing said so.
    from PIL import Image

    viewer, widget = viewer_widget
    image, labels = make_scene()
    photo = Image.fromarray(image)
    exif = photo.getexif()
    exif[0x0112] = 8
    photo.save(tmp_path / "phone.jpg", exif=exif.tobytes())
    viewer.open(str(tmp_path / "phone.jpg"), plugin="napari")
    viewer.add_labels(labels, name=LABELS)
    train(qtbot, widget, steps=1)
    warned = [text for kind, text in messages if kind == "warning" and "EXIF orientation" in text]
    assert len(warned) == 1 and "turned 90° counter-clockwise" in warned[0]


def test_a_cmyk_jpeg_napari_opened_as_rgba_is_named_at_train(viewer_widget, qtbot, messages, tmp_path):
    # Found by a new user (on the command line, where it is now read as RGB): napari's
    # reader gives the four ink channels, shown and trained as RGBA.
    from PIL import Image

    viewer, widget = viewer_widget
    image, labels = make_scene()
    Image.fromarray(image).convert("CMYK").save(tmp_path / "print.jpg", quality=95)
    viewer.open(str(tmp_path / "print.jpg"), plugin="napari")
    assert viewer.layers["print"].data.shape[-1] == 4
    viewer.add_labels(labels, name=LABELS)
    train(qtbot, widget, steps=1)
    warned = [text for kind, text in messages if kind == "warning"]
    assert [text for text in warned if "'print.jpg' is a CMYK JPEG" in text]
    assert not [text for text in warned if "transparent in places" in text]


def test_a_min_is_white_tiff_napari_shows_as_a_negative_is_named_at_train(viewer_widget, qtbot, messages,
                                                                          tmp_path):
    import tifffile

    viewer, widget = viewer_widget
    image, labels = make_scene()
    tifffile.imwrite(tmp_path / "scan.tif", image, photometric="miniswhite")
    viewer.open(str(tmp_path / "scan.tif"), plugin="napari")
    viewer.add_labels(labels, name=LABELS)
    train(qtbot, widget, steps=1)
    said = "'scan.tif' is stored 'min-is-white'"
    assert [text for kind, text in messages if kind == "warning" and said in text]


def test_a_channels_first_array_added_as_one_layer_is_named_as_such(viewer_widget, qtbot, messages):
    # Found by a microscopist: viewer.add_image(cells) with cells (3, H, W), the first
    # thing a biologist tries, trained on the channel on display without a word, and
    # the result's other two planes were the source's, in the old layout.
    viewer, widget = viewer_widget
    image, labels = make_scene(rgb=False)
    viewer.add_image(np.stack([image, 255 - image, image // 2]), name="cells")
    viewer.add_labels(labels, name=LABELS)
    viewer.add_labels(np.roll(labels, 4, axis=1), name=TARGET)
    widget.synthesize()  # before training, from the labels alone: said once
    wait_for_synthesis(qtbot, widget)
    widget.synthesize()
    wait_for_synthesis(qtbot, widget)
    assert len([text for _, text in messages if "planes along its first axis" in text]) == 1
    messages.clear()
    train(qtbot, widget, steps=1)
    notes = [text for kind, text in messages if kind == "warning" and "planes along its first axis" in text]
    assert len(notes) == 1 and "'cells' has 3 planes" in notes[0] and "'Split Stack'" in notes[0]
    # A stack of label maps beside it: the planes are a stack's, nothing to say.
    messages.clear()
    viewer.layers[LABELS].data = np.stack([labels] * 3)
    train(qtbot, widget, steps=1)
    assert not any("planes along" in text for _, text in messages)


def test_a_stack_told_to_be_depths_or_times_is_not_taken_for_channels():
    # From a review: a z-stack of 5 planes added from a script with its z step got
    # the "if they are the channels ... Split Stack" warning.
    from napari.layers import Image, Labels

    from napari_semia._qt.layer_pickers import channel_stack_hint

    planes, labels = np.zeros((5, 16, 16), np.uint16), Labels(np.zeros((16, 16), np.uint8))
    assert "has 5 planes" in channel_stack_hint(Image(planes), labels)  # nothing tells: asked
    assert "has 5 planes" in channel_stack_hint(Image(planes, axis_labels=("c", "y", "x")), labels)
    for told in ({"axis_labels": ("z", "y", "x")}, {"axis_labels": ("T", "y", "x")},
                 {"scale": (2.0, 0.5, 0.5)}, {"units": ("s", "um", "um")}):
        assert channel_stack_hint(Image(planes, **told), labels) == "", told
    # Channels given the planes' pixel size and unit: still asked (also with napari's
    # default 'pixel' left on the channel axis).
    assert "has 5 planes" in channel_stack_hint(Image(planes, scale=(1, 0.3, 0.3), units="um"), labels)
    assert "has 5 planes" in channel_stack_hint(Image(planes, units=("pixel", "um", "um")), labels)


def test_a_scale_without_a_unit_is_no_pixel_size_for_the_model():
    # Found by a new user: a scale of 0.325 with napari's default unit came out in
    # Fiji as "0.325 pixel" per pixel.
    from napari.layers import Image

    from napari_semia._qt.layer_data import layer_source_info

    image = np.zeros((8, 8), np.uint8)
    assert layer_source_info(Image(image, scale=(0.325, 0.325))).pixel_size is None
    info = layer_source_info(Image(image, scale=(0.5, 0.325), units="um"))
    assert info.pixel_size == (0.5, 0.325) and info.unit == "µm"


def test_train_says_a_scale_without_a_unit_is_no_pixel_size(viewer_widget, qtbot, messages):
    # Found by a new user: scale=(0.5, 0.5) with no unit was dropped from the model and
    # the dataset pairs, and nothing said so.
    viewer, widget = viewer_widget
    add_scene(viewer)
    viewer.layers[SOURCE].scale = (0.5, 0.5)
    viewer.layers[LABELS].scale = viewer.layers[TARGET].scale = (0.5, 0.5)
    train(qtbot, widget, steps=1)
    said = [text for kind, text in messages if kind == "info" and "but no unit" in text]
    assert len(said) == 1 and f"'{SOURCE}' has a scale of 0.5 × 0.5 but no unit" in said[0]
    assert f"viewer.layers['{SOURCE}'].units = 'um'" in said[0]
    messages.clear()
    train(qtbot, widget, steps=1)  # said once (a review: at every Train it was noise)
    assert not [text for _, text in messages if "but no unit" in text]
    # With a unit, or at scale 1, nothing to say.
    messages.clear()
    viewer.layers[SOURCE].units = ("um", "um")
    train(qtbot, widget, steps=1)
    assert not [text for _, text in messages if "but no unit" in text]


def test_channels_last_added_as_planes_are_named_as_channels(viewer_widget, qtbot, messages):
    # Found by a microscopist: an (H, W, 3) uint16 image added with rgb=False shows
    # H planes of W x 3 pixels; Train and Synthesize said "The image is too small
    # (480 x 3 px)" of a 400 x 480 image.
    viewer, widget = viewer_widget
    image, labels = make_scene(rgb=False)
    cells = np.stack([image, 255 - image, image // 2], axis=-1).astype(np.uint16) * 200
    viewer.add_image(cells, name="cells hwc", rgb=False)
    viewer.add_labels(labels, name=LABELS)
    widget.train()
    qtbot.waitUntil(lambda: bool(messages), timeout=TIMEOUT_MS)
    assert messages[-1][0] == "error" and "its last axis holds 3 channels" in messages[-1][1]
    assert "channel_axis=-1" in messages[-1][1] and "too small" not in messages[-1][1]


def test_labels_at_another_pixel_size_over_the_same_field_are_named_so(viewer_widget, qtbot, messages):
    # Found by a microscopist: a segmentation of the 2x-binned image, given its true
    # scale, overlaid the image exactly; Train said they were not drawn over each other
    # (give both the same scale: that would have drawn them apart), then refused the
    # pair as of another shape.
    viewer, widget = viewer_widget
    image, labels = make_scene(rgb=False)
    viewer.add_image(image, name=SOURCE, scale=(0.325, 0.325), translate=(10, 20))
    viewer.add_labels(labels[::2, ::2].copy(), name=LABELS, scale=(0.65, 0.65), translate=(10, 20))
    widget.train()
    qtbot.waitUntil(lambda: any(kind == "error" for kind, _ in messages), timeout=TIMEOUT_MS)
    errors = [text for kind, text in messages if kind == "error"]
    assert "at 2 × its pixel size" in errors[-1] and "order=0" in errors[-1] and "(32, 32)" in errors[-1]
    assert not any("not drawn over each other" in text for _, text in messages)


def test_unrelated_images_of_one_shape_get_no_channels_hint(viewer_widget, qtbot, messages):
    # Found by a new user: two unrelated grey images of one shape (normal
    # blending, not opened as channels) were hinted to be channels of one image.
    viewer, widget = viewer_widget
    image, labels = make_scene(rgb=False)
    viewer.add_image(image, name=SOURCE)
    viewer.add_image(image[::-1].copy(), name="another photo")
    viewer.add_labels(labels, name=LABELS)
    widget.pickers.image.set_layer(viewer.layers[SOURCE])
    train(qtbot, widget, steps=1)
    assert not any("single-channel layers" in text for _, text in messages)


def test_continuing_on_another_image_says_so(trained, qtbot, messages):
    # Found by a new user: Continue (ticked by default) went on silently with
    # a model trained on another image of the same shape.
    viewer, widget = trained
    messages.clear()
    train(qtbot, widget, steps=1)  # the same pair: nothing to say
    assert not any("another image" in text for _, text in messages)
    viewer.layers[SOURCE].data = viewer.layers[SOURCE].data[::-1].copy()
    train(qtbot, widget, steps=1)
    assert any(kind == "info" and "another image" in text for kind, text in messages)
    # Labels of another size: only the error, not a note that it continues first.
    messages.clear()
    labels = viewer.layers[LABELS]
    labels.data = labels.data[:-8, :-8].copy()
    widget.train()
    qtbot.waitUntil(lambda: not widget.trainer_runner.running, timeout=TIMEOUT_MS)
    assert [kind for kind, _ in messages] == ["error"] and "they must cover the same pixels" in messages[0][1]
    # The progress bar is not left at a failed run's step 0 (the sizes are refused now
    # before a run starts, naming the layers).
    assert widget.state.step == widget.state.total_steps > 0 and widget.model.steps_done == 6
    assert "'src labels' is 24 × 24 pixels (height × width), but 'src' is 32 × 32" in messages[0][1]


def test_loading_a_model_asks_before_replacing_an_unsaved_one(trained, tmp_path, monkeypatch):
    _, widget = trained
    model = widget.model
    asked = []
    monkeypatch.setattr(model_io, "ask_replace_unsaved", lambda parent: asked.append(True) or False)
    monkeypatch.setattr(model_io, "ask_open_path",
                        lambda parent, start="": pytest.fail("must not ask for a file"))
    widget.load_model()
    assert asked and widget.model is model
    # Once saved, loading asks no question.
    path = tmp_path / "m.semia"
    monkeypatch.setattr(model_io, "ask_save_path", lambda parent, suggested: str(path))
    widget.save_model()
    asked.clear()
    monkeypatch.setattr(model_io, "ask_open_path", lambda parent, start="": str(path))
    widget.load_model()
    assert not asked and widget.model is not model and not widget.state.model_unsaved


def test_a_new_run_asks_before_replacing_an_unsaved_model(trained, qtbot, monkeypatch, tmp_path):
    # Found by a new user: with 'Continue' unticked, Train replaced the unsaved
    # model (and, once the new run had trained a while, its cached checkpoint).
    _, widget = trained
    model = widget.model
    asked = []
    monkeypatch.setattr(model_io, "ask_train_over_unsaved", lambda parent: asked.append(True) or False)
    widget.controls.continue_training.setChecked(False)
    widget.controls.train_button.click()
    assert asked and not widget.trainer_runner.running and widget.model is model
    # Continuing it, or starting over once it is saved, asks nothing.
    asked.clear()
    monkeypatch.setattr(model_io, "ask_save_path", lambda parent, suggested: str(tmp_path / "m.semia"))
    widget.save_model()
    train(qtbot, widget, steps=2)
    assert not asked and widget.model is not model and widget.model.steps_done == 2


def test_a_new_run_stopped_before_its_first_step_keeps_the_model(trained, qtbot, monkeypatch):
    # Found by a new user: Stop right after Train replaced the model with an untrained one.
    from napari_semia.trainer import SemiaTrainer

    _, widget = trained
    model = widget.model
    real_run = SemiaTrainer.run

    def stopped_at_once(self):  # Stop pressed before the first step
        self.stop()
        yield from real_run(self)

    monkeypatch.setattr(SemiaTrainer, "run", stopped_at_once)
    monkeypatch.setattr(model_io, "ask_train_over_unsaved", lambda parent: True)
    widget.controls.continue_training.setChecked(False)
    train(qtbot, widget, steps=50)
    assert widget.model is model and widget.state.model_unsaved
    assert "before its first step" in widget.state.message
    assert widget.state.step == widget.state.total_steps == model.steps_done > 0


def test_a_first_run_stopped_before_its_first_step_makes_no_model(viewer_widget, qtbot, monkeypatch):
    # Found by a new user: Stop while 'Preparing the training data' adopted an
    # untrained model (Save enabled, Continue ticked, a blob of colour as the result).
    from napari_semia.trainer import SemiaTrainer

    viewer, widget = viewer_widget
    add_scene(viewer)
    real_run = SemiaTrainer.run

    def stopped_at_once(self):
        self.stop()
        yield from real_run(self)

    monkeypatch.setattr(SemiaTrainer, "run", stopped_at_once)
    train(qtbot, widget, steps=50)
    assert widget.model is None and not widget.state.has_model and not widget.state.model_unsaved
    assert "no model yet" in widget.state.message
    assert not widget.settings.continue_training
    # ... and no output layer of the untrained generator's blobs of colour.
    assert output_layers(viewer) == []


def test_live_with_an_unknown_id_reports_once_until_the_target_changes(trained, qtbot, messages):
    viewer, widget = trained
    widget.synthesis.live.setChecked(True)
    wait_for_synthesis(qtbot, widget)
    target = viewer.layers[TARGET]
    messages.clear()
    for position in ((2, 2), (2, 10), (10, 2)):
        target.paint(position, 7)
        qtbot.wait(400)
        wait_for_synthesis(qtbot, widget)
    assert len(messages) == 1 and "unknown id" in messages[0][1]
    # In full on the status line too (the pop-up cut it short; found by a new user).
    status = widget.progress.label.text()
    assert status.startswith("Not synthesized:") and messages[0][1] in status
    target.data = moved(viewer.layers[LABELS].data)  # fixed
    qtbot.wait(400)
    wait_for_synthesis(qtbot, widget)
    # Synthesized again: the status line says what it said before the error.
    assert "Not synthesized" not in widget.progress.label.text()
    assert "Training finished" in widget.progress.label.text()
    target.paint((2, 2), 7)  # broken again: said again
    qtbot.wait(400)
    wait_for_synthesis(qtbot, widget)
    assert len(messages) == 2


def test_the_default_target_is_the_new_target_never_the_source_labels(viewer_widget):
    viewer, widget = viewer_widget
    add_scene(viewer, with_target=False)
    viewer.add_labels(np.zeros((32, 32), np.int32), name="nuclei")  # unrelated
    widget.new_target_from_source()
    made = widget.target_layer
    viewer.add_labels(np.zeros((32, 32), np.int32), name="another")
    assert widget.target_layer is made
    viewer.layers.remove(made)
    assert widget.target_layer is not viewer.layers[LABELS]


def test_loss_names_are_readable(trained):
    _, widget = trained
    legend = [label.text for _, label in widget.loss_plot.legend.items]
    assert "discriminator" in legend and "feature matching" in legend and "D" not in legend
    assert "patch coherence" in widget.loss_plot.view.toolTip()


def test_the_loss_legend_fits_a_narrow_dock(qtbot):
    # Found by a new user: four legend columns cut 'adversarial' and 'semantic
    # alignment' off at the dock's width.
    from napari_semia._qt.loss_plot import LossPlot
    from napari_semia._qt.sections import MIN_CONTENT_WIDTH
    from napari_semia.losses import LOSS_DESCRIPTIONS

    plot = LossPlot()
    qtbot.addWidget(plot)
    plot.resize(MIN_CONTENT_WIDTH - 40, 320)  # the dock's content less its margins
    plot.show()
    plot.add_point(1, dict.fromkeys(LOSS_DESCRIPTIONS, 0.5))
    qtbot.wait(50)
    legend = plot.legend.mapRectToScene(plot.legend.boundingRect())
    assert legend.right() <= plot.view.width()


def test_without_pyqtgraph_the_losses_show_as_text(qtbot, monkeypatch):
    # Found by a packaging review: napari does not bring pyqtgraph, so the dock
    # failed to open in a napari that installed the plugin (pip install napari-semia).
    from napari_semia._qt import loss_plot
    from napari_semia.losses import loss_label

    monkeypatch.setattr(loss_plot, "pg", None)
    plot = loss_plot.LossPlot()
    qtbot.addWidget(plot)
    assert "pip install pyqtgraph" in plot.view.text()
    plot.add_point(3, {"D": 0.5, "adv": 2.0})
    assert "Step 3" in plot.view.text() and f"{loss_label('D')} 0.5" in plot.view.text()
    steps, values = plot.series("D")
    assert steps.tolist() == [3] and values.tolist() == [0.5]
    plot.clear()
    assert plot.view.text() == loss_plot.NO_PLOT_NOTE


def test_a_short_training_says_its_result_is_a_preview(trained):
    _, widget = trained
    assert "preview" in widget.state.message and "default" in widget.state.message


# ------------------------------------------------------------ never lose a model
def test_a_model_trained_before_napari_closed_is_offered_again(make_napari_viewer, qtbot, messages):
    viewer = make_napari_viewer()
    _, widget = viewer.window.add_plugin_dock_widget(PLUGIN, WIDGET_NAME)
    add_scene(viewer)
    start_training(qtbot, widget, steps=100_000)
    qtbot.waitUntil(lambda: widget.state.step >= 3, timeout=TIMEOUT_MS)
    viewer.close()  # mid-training: the run stops and is checkpointed
    qtbot.waitUntil(lambda: not widget.trainer_runner.running, timeout=10_000)

    viewer = make_napari_viewer()
    _, widget = viewer.window.add_plugin_dock_widget(PLUGIN, WIDGET_NAME)
    assert not widget.restore_offer.isVisibleTo(widget)
    add_scene(viewer)  # the same layers
    assert widget.restore_offer.isVisibleTo(widget)
    assert "A model trained on these layers" in widget.restore_offer.label.text()
    widget.restore_offer.restore_button.click()
    assert widget.model is not None and widget.model.steps_done >= 3
    assert not widget.restore_offer.isVisibleTo(widget)
    assert widget.synthesis.synthesize_button.isEnabled()


def _offering_a_checkpoint(make_napari_viewer, qtbot):
    """A viewer and widget whose model was trained (and so cached), then dropped:
    the widget offers the cached one."""
    viewer = make_napari_viewer()
    _, widget = viewer.window.add_plugin_dock_widget(PLUGIN, WIDGET_NAME)
    add_scene(viewer)
    train(qtbot, widget, steps=2)
    widget.set_model(None)
    widget._offer_checkpoint()
    return viewer, widget


def test_other_layers_get_no_offer_and_discard_forgets_it(make_napari_viewer, qtbot, monkeypatch):
    viewer, widget = _offering_a_checkpoint(make_napari_viewer, qtbot)
    assert widget.restore_offer.isVisibleTo(widget)
    # Discard asks first (found by a UX pass: it deleted the only copy at one click).
    asked = []
    monkeypatch.setattr(model_io, "_ask_yes_no", lambda *a: asked.append(a[1]) or False)
    widget.restore_offer.discard_button.click()
    assert asked == ["Delete the cached model?"] and widget.restore_offer.isVisibleTo(widget)
    widget._offer_checkpoint()
    assert widget.restore_offer.isVisibleTo(widget)  # still in the cache
    monkeypatch.setattr(model_io, "_ask_yes_no", lambda *a: True)
    widget.restore_offer.discard_button.click()
    widget._offer_checkpoint()
    assert not widget.restore_offer.isVisibleTo(widget)
    viewer.layers[SOURCE].data = viewer.layers[SOURCE].data // 2  # other pixels
    widget._offer_checkpoint()
    assert not widget.restore_offer.isVisibleTo(widget)


def test_a_damaged_checkpoint_says_so_and_stays_offered_to_be_discarded(make_napari_viewer, qtbot,
                                                                        monkeypatch, messages):
    # A review of shared files: Restore of a damaged cached model named its hash file
    # with no advice, and the offer (and its Discard) went, to come back at every start.
    _viewer, widget = _offering_a_checkpoint(make_napari_viewer, qtbot)
    info = widget.restore_offer.info
    (widget.checkpoints.folder / f"{info.key}.semia").write_bytes(b"PK\x03\x04 damaged")
    widget.restore_offer.restore_button.click()
    assert widget.model is None
    said = [text for kind, text in messages if kind == "error" and "could not be restored" in text]
    assert said and said[-1].startswith(f"The cached model ({info.steps} steps, from ")
    assert said[-1].endswith("Discard it, and it is not offered again.")
    assert widget.restore_offer.isVisibleTo(widget) and widget.restore_offer.info == info
    monkeypatch.setattr(model_io, "_ask_yes_no", lambda *a: True)
    widget.restore_offer.discard_button.click()
    widget._offer_checkpoint()
    assert not widget.restore_offer.isVisibleTo(widget)


def test_a_model_trained_on_another_plane_of_a_stack_is_offered_too(make_napari_viewer, qtbot):
    # Found by a time-lapse user: trained on plane 2, napari closed; reopened on
    # plane 0, as napari opens a stack, the widget offered nothing: the model looked lost.
    import numpy as np

    image, labels = make_scene(rgb=False)
    images = np.stack([image, image // 2, image // 3])
    viewer = make_napari_viewer()
    _, widget = viewer.window.add_plugin_dock_widget(PLUGIN, WIDGET_NAME)
    viewer.add_image(images, name="stack")
    viewer.add_labels(labels, name="labels")
    viewer.dims.set_current_step(0, 2)
    train(qtbot, widget, steps=2)
    viewer.close()

    viewer = make_napari_viewer()
    _, widget = viewer.window.add_plugin_dock_widget(PLUGIN, WIDGET_NAME)
    viewer.add_image(images, name="stack")
    viewer.add_labels(labels, name="labels")
    viewer.dims.set_current_step(0, 0)
    widget._offer_checkpoint()
    assert widget.restore_offer.isVisibleTo(widget)
    assert "on plane 2 of the stack" in widget.restore_offer.label.text()
    widget.restore_offer.restore_button.click()
    assert widget.model is not None and widget.model.steps_done == 2
    np.testing.assert_array_equal(widget.model.full_image, images[2])
    # Another stack (no plane the model learned) gets no offer.
    widget.set_model(None)
    viewer.layers["stack"].data = images[::-1] // 4
    widget._offer_checkpoint()
    assert not widget.restore_offer.isVisibleTo(widget)


def test_a_model_saved_to_a_file_is_not_offered_again(make_napari_viewer, qtbot, tmp_path, monkeypatch):
    """A first user saved, closed napari and was still offered the cache's copy,
    'training did not end with a saved model file, or napari closed'."""
    viewer = make_napari_viewer()
    _, widget = viewer.window.add_plugin_dock_widget(PLUGIN, WIDGET_NAME)
    add_scene(viewer)
    train(qtbot, widget, steps=2)
    monkeypatch.setattr(model_io, "ask_save_path", lambda parent, suggested: str(tmp_path / "m.semia"))
    widget.save_model()
    assert (tmp_path / "m.semia").is_file() and not widget.state.model_unsaved
    viewer.close()

    viewer = make_napari_viewer()
    _, widget = viewer.window.add_plugin_dock_widget(PLUGIN, WIDGET_NAME)
    add_scene(viewer)  # the same layers
    assert not widget.restore_offer.isVisibleTo(widget)


def test_closing_the_dock_keeps_the_model_and_the_fields_for_the_next_one(make_napari_viewer, qtbot,
                                                                           tmp_path):
    """The X on the dock's title bar destroys the widget: opened again from the Plugins
    menu, every field was back at its default (found by new users)."""
    from napari_semia._qt.dataset_controls import DatasetSettings
    from napari_semia._qt.state import TrainingSettings
    from napari_semia.config import PRESETS

    viewer = make_napari_viewer()
    dock, widget = viewer.window.add_plugin_dock_widget(PLUGIN, WIDGET_NAME)
    add_scene(viewer)
    train(qtbot, widget, steps=2)
    widget.controls.preset.activated.emit(list(PRESETS).index("default"))  # as the user's choice
    widget.controls.steps.setValue(123)
    widget.controls.device.setCurrentText("cpu")
    widget.controls.continue_training.setChecked(True)  # of this model: not carried over
    widget.dataset.count.setValue(7)
    widget.dataset.folder.setText(str(tmp_path / "pairs"))
    widget.dataset.strength.setValue(2.0)
    widget.dataset.objects.item(0).setCheckState(Qt.CheckState.Checked)  # both classes move
    assert widget.dataset_settings.object_ids == (0, 1)
    viewer.window.remove_dock_widget(dock)  # what the title bar's X does

    _, reopened = viewer.window.add_plugin_dock_widget(PLUGIN, WIDGET_NAME)
    assert reopened is not widget
    assert reopened.controls.preset.currentText() == "default (edited)"
    assert reopened.controls.steps.value() == 123 and reopened.settings.steps == 123
    assert reopened.controls.size.value() == PRESETS["default"].size
    assert reopened.controls.device.currentText() == "cpu" and reopened.state.device_text.startswith("CPU")
    assert not reopened.settings.continue_training
    assert reopened.dataset.count.value() == 7 and reopened.dataset.strength.value() == 2.0
    assert reopened.dataset.folder.text() == str(tmp_path / "pairs")
    # The model comes back through the cache's offer (the layers are still there), and
    # with it the folder and the object ticks as they were: Restore replaced both (the
    # folder taken for the widget's own), and the interrupted set could not be
    # completed, "made with other settings" (found by a new user).
    assert reopened.restore_offer.isVisibleTo(reopened)
    reopened.restore_offer.restore_button.click()
    qtbot.waitUntil(lambda: reopened.model is not None, timeout=TIMEOUT_MS)
    assert reopened.dataset.folder.text() == str(tmp_path / "pairs")
    assert reopened.dataset_settings.object_ids == (0, 1)
    # Another viewer's widget starts from the defaults.
    _, fresh = make_napari_viewer().window.add_plugin_dock_widget(PLUGIN, WIDGET_NAME)
    assert fresh.settings == TrainingSettings() and fresh.dataset_settings == DatasetSettings()


def test_the_preset_box_says_when_its_fields_were_edited(viewer_widget):
    # It read "quick" after the steps were edited, naming settings no longer used.
    from napari_semia.config import PRESETS

    _, widget = viewer_widget
    controls, box = widget.controls, widget.controls.preset
    assert box.currentText() == "quick"
    controls.steps.setValue(123)
    assert box.currentText() == "quick (edited)"
    assert widget.settings.to_config().steps == 123
    default = list(PRESETS).index("default")
    box.setCurrentIndex(default)
    box.activated.emit(default)  # what a user's choice emits
    assert box.currentText() == "default" and widget.settings.steps == PRESETS["default"].steps
    assert box.itemText(0) == "quick"  # no stale mark on the other preset
    controls.size.setValue(128)
    assert box.currentText() == "default (edited)"
    box.activated.emit(default)  # the same preset again undoes the edits
    assert box.currentText() == "default" and widget.settings.size == PRESETS["default"].size


def test_the_suggested_model_file_name_has_no_spaces(trained, monkeypatch, tmp_path):
    viewer, widget = trained
    viewer.layers[SOURCE].name = "coffee image"
    suggested = []
    monkeypatch.setattr(model_io, "ask_save_path",
                        lambda parent, name: suggested.append(name) or str(tmp_path / name))
    widget.save_model()
    assert suggested == ["coffee_image.semia"]  # (a layer made in a script: no file)
    assert (tmp_path / "coffee_image.semia").is_file() and not widget.state.model_unsaved
    assert model_io.suggested_file_name("a/b: c*") == "a_b_c.semia"
    assert model_io.suggested_file_name("...") == "model.semia"
    assert model_io.suggested_file_name("con") == "con_model.semia"  # (a Windows device name)
    assert model_io.suggested_file_name("Nul.tif") == "Nul_model.tif.semia"
    # Beside the source's file when it came from one (every example's image is an
    # img.png: each img.semia was offered over the last one, in napari's folder).
    (tmp_path / "face").mkdir()
    image = tmp_path / "face" / "img.png"
    image.write_bytes(b"")
    assert model_io.suggested_model_path("img", str(image)) == str(tmp_path / "face" / "img.semia")
    assert model_io.suggested_model_path("img", None) == "img.semia"
    assert model_io.suggested_model_path("img", str(tmp_path / "gone" / "img.png")) == "img.semia"


def test_load_model_looks_where_models_were_saved_or_beside_the_source(trained, monkeypatch, tmp_path):
    # Found by a new user: Save model suggested the source's folder, and Load model
    # then opened in napari's working folder.
    from napari_semia._qt import widget as widget_module

    _, widget = trained
    starts = []
    monkeypatch.setattr(model_io, "ask_replace_unsaved", lambda parent: True)
    monkeypatch.setattr(model_io, "ask_open_path", lambda parent, start="": starts.append(start) or None)
    widget.load_model()
    assert starts == [""]  # a layer made in a script, no model saved: napari's choice
    (tmp_path / "face").mkdir()
    image = tmp_path / "face" / "img.png"
    image.write_bytes(b"")
    monkeypatch.setattr(widget_module, "layer_file", lambda layer: str(image))
    widget.load_model()
    assert starts[-1] == str(tmp_path / "face")
    (tmp_path / "models").mkdir()
    saved = str(tmp_path / "models" / "m.semia")
    monkeypatch.setattr(model_io, "ask_save_path", lambda parent, suggested: saved)
    widget.save_model()
    widget.load_model()
    assert starts[-1] == str(tmp_path / "models")
    (tmp_path / "models" / "m.semia").unlink()
    (tmp_path / "models").rmdir()  # gone: beside the source again
    widget.load_model()
    assert starts[-1] == str(tmp_path / "face")


def test_closing_the_widget_lets_go_of_the_model_before_releasing_memory(trained, monkeypatch):
    # Released while the widget still held the model (generator, pyramid), its
    # accelerator memory stayed taken.
    from napari_semia._qt import widget as widget_module

    _, widget = trained
    calls = []
    monkeypatch.setattr(widget_module, "release_device_memory",
                        lambda device: calls.append((device, widget.model)))
    widget.shutdown()
    assert calls and calls[0][0] is not None and calls[0][0].type == "cpu"
    assert all(model is None for _, model in calls)


# ------------------------------------------------ from a user off the happy path
def test_synthesizing_with_another_image_chosen_places_the_result_like_the_target(trained, qtbot, messages):
    # Found by a user off the happy path: with a grey model and an RGB image chosen
    # as the source, Synthesize raised inside napari (rgb=True on a grey result);
    # an RGB model with a grey image chosen made a (rows, cols, 3) grey stack, and
    # an image of another size placed the result at its scale.
    from napari_semia._qt.output_layer import output_name

    viewer, widget = trained
    image = viewer.layers[SOURCE].data
    shown_as = output_name("model", TARGET)
    # And (a new user) an image of another type: a CT model's int16 result was shown
    # under a PET image's name with its 0..1 contrast limits.
    # And (a microscopist) another field of view of the same size and type: the
    # result was named after it, showing the model's cells in its place.
    for name, data, kwargs in [("other rgb", np.stack([image] * 3, -1), {}),
                               ("other size", image[:-8], {"scale": (3, 3)}),
                               ("other type", image.astype(np.float32) / 255, {}),
                               ("other field", image[::-1].copy(), {})]:
        messages.clear()
        viewer.add_image(data, name=name, **kwargs)
        widget.pickers.image.set_layer(viewer.layers[name])
        widget.synthesize()
        wait_for_synthesis(qtbot, widget)
        result = viewer.layers[shown_as]
        assert result.data.shape == image.shape and not result.rgb
        assert tuple(result.scale) == tuple(viewer.layers[TARGET].scale)
        warned = [text for kind, text in messages if kind == "warning"]
        assert len(warned) == 1 and f"'{name}' is not the image the model was trained on" in warned[0]
        expected = {"other rgb": "a 3-channel (RGB) image", "other type": "this one is float32",
                    "other field": "other pixels"}.get(name, f"{data.shape[0]} × {data.shape[1]}")
        assert expected in warned[0]
    widget.pickers.image.set_layer(viewer.layers[SOURCE])  # the model's own: in its place again
    messages.clear()
    widget.synthesize()
    wait_for_synthesis(qtbot, widget)
    assert not [text for kind, text in messages if kind == "warning"]


def test_the_other_field_check_holds_no_layer_data_and_is_made_once_per_array():
    # From a review: the check kept a removed source's arrays alive (a whole
    # field of view) until the next model.
    import gc
    import weakref

    from napari_semia._qt.synthesis_jobs import SynthesisJobs

    class Model:
        can_refine = True
        compared = 0

        def is_source_image(self, plane):
            Model.compared += 1
            return False

    class Layer:
        def __init__(self, data):
            self.data = data

    jobs = SynthesisJobs(None, None, None, print, print)
    model, layer = Model(), Layer(np.zeros((8, 8)))
    assert jobs._other_pixels(model, layer, layer.data)
    assert jobs._other_pixels(model, layer, layer.data) and Model.compared == 1  # known
    layer.data = np.ones((8, 8))  # new data: compared again
    assert jobs._other_pixels(model, layer, layer.data) and Model.compared == 2
    gone = weakref.ref(layer.data)
    del layer
    gc.collect()
    assert gone() is None


def test_continuing_on_an_image_of_other_channels_says_only_why_not(trained, qtbot, messages):
    # It said first that it continued on the new image, then that it could not,
    # in garbled words ('this image is channels with 2').
    viewer, widget = trained
    grey = viewer.layers[SOURCE].data
    viewer.add_image(np.stack([grey, grey // 2, grey], -1), name="rgb copy")  # (a colour image)
    widget.pickers.image.set_layer(viewer.layers["rgb copy"])
    messages.clear()
    widget.train()
    qtbot.waitUntil(lambda: not widget.trainer_runner.running, timeout=TIMEOUT_MS)
    assert [kind for kind, _ in messages] == ["error"]
    assert "trained on a grey image, this one is a 3-channel (RGB) image" in messages[0][1]


def test_image_and_labels_not_drawn_over_each_other_are_warned_about(viewer_widget, qtbot, messages):
    # Found by a user: an image at scale 2 with labels at scale 1 trained silently;
    # edits painted over the labels then showed at twice their place in the result.
    viewer, widget = viewer_widget
    add_scene(viewer)
    train(qtbot, widget, steps=1)
    assert not [text for kind, text in messages if "drawn over each other" in text]
    viewer.layers[SOURCE].scale = (2, 2)
    train(qtbot, widget, steps=1)
    warned = [text for kind, text in messages if kind == "warning" and "drawn over each other" in text]
    assert len(warned) == 1 and "scale (2.0, 2.0)" in warned[0] and "scale (1.0, 1.0)" in warned[0]
    # Before any training too (the result from the labels alone), once.
    widget.set_model(None)
    viewer.layers[SOURCE].scale = (3, 3)
    for _ in range(2):
        widget.synthesize()
        wait_for_synthesis(qtbot, widget)
    warned = [text for kind, text in messages if kind == "warning" and "drawn over each other" in text]
    assert len(warned) == 2 and "scale (3.0, 3.0)" in warned[1]


def test_a_multichannel_model_shown_apart_from_its_source_gets_a_layer_per_channel(viewer_widget, qtbot):
    # Found by a new user: a 7-channel model with one channel layer chosen as the
    # source (so the result is placed like the target) gave one (H, W, 7) layer, which
    # napari drew as a stack of 7-pixel strips with a slider.
    from napari_semia._qt.output_layer import output_name
    from napari_semia.config import TrainingConfig
    from napari_semia.trainer import SemiaTrainer

    viewer, widget = viewer_widget
    image, labels = make_scene(rgb=False)
    channels = np.stack([image, image // 2, 255 - image, image // 3, image], -1)
    config = TrainingConfig(steps=1, size=32, width=8, levels=3)
    trainer = SemiaTrainer(channels, labels, config, device="cpu")
    for _ in trainer.run():
        pass
    viewer.add_image(image, name="one channel")
    viewer.add_labels(labels, name="labels")
    viewer.add_labels(np.roll(labels, 6, 1), name="target")
    widget.set_model(trainer.model)
    widget.synthesize()
    wait_for_synthesis(qtbot, widget)
    name = output_name("model", "target")
    shown = [viewer.layers[f"{name} [channel {c}]"] for c in range(5)]
    result = trainer.model.synthesize(np.roll(labels, 6, 1))
    for channel, layer in enumerate(shown):
        assert layer.data.shape == (32, 32) and not layer.rgb
        np.testing.assert_array_equal(layer.data, result[..., channel])
    assert name not in viewer.layers


def _add_cut_out(viewer):
    """An RGBA photo transparent on its left quarter, and its labels; returns (image, labels)."""
    image, labels = make_scene()
    alpha = np.full(image.shape[:2], 255, np.uint8)
    alpha[:, :8] = 0
    viewer.add_image(np.dstack([image, alpha]), name="cut out", rgb=True)
    viewer.add_labels(labels, name=LABELS)
    return image, labels


def test_a_transparent_photo_is_named_at_train(viewer_widget, qtbot, messages):
    # Found by a designer: a cut-out photo's alpha was synthesized like a colour, so
    # an erased object's area got see-through holes, without a word.
    viewer, widget = viewer_widget
    _add_cut_out(viewer)
    train(qtbot, widget, steps=1)
    warned = [text for kind, text in messages if kind == "warning" and "transparent in places" in text]
    assert len(warned) == 1 and warned[0].startswith("'cut out' is transparent in places (25.0% of")


def test_a_model_of_a_transparent_photo_shown_with_another_image_gives_one_rgba_layer(viewer_widget, qtbot):
    # Found by a photographer: trained on an RGBA cut-out, then used with another
    # photo chosen as the source (a warning says it is not the model's), the result
    # came out as four grey layers '... [channel 0..3]'.
    from napari_semia._qt.output_layer import output_name

    viewer, widget = viewer_widget
    image, labels = _add_cut_out(viewer)
    viewer.add_labels(np.roll(labels, 6, 1), name=TARGET)
    widget.pickers.target.set_layer(viewer.layers[TARGET])
    train(qtbot, widget, steps=1)
    assert widget.model is not None and widget.model.source_info.colour
    viewer.add_image(np.asarray(image, np.float32) / 255, name="another photo", rgb=True)
    widget.pickers.image.set_layer(viewer.layers["another photo"])
    widget.synthesize()
    wait_for_synthesis(qtbot, widget)
    name = output_name("model", TARGET)
    assert not [layer.name for layer in viewer.layers if "[channel" in layer.name]
    shown = viewer.layers[name]
    assert shown.rgb and shown.data.shape == (32, 32, 4)
    np.testing.assert_array_equal(shown.data, widget.model.synthesize(np.roll(labels, 6, 1)))


def test_a_grey_image_stored_as_colour_is_named_at_train(viewer_widget, qtbot, messages):
    # Found by a materials scientist: a grey SEM image exported as RGB trained as
    # three channels with no hint.
    viewer, widget = viewer_widget
    image, labels = make_scene()
    viewer.add_image(np.repeat(image[..., 1:2], 3, axis=-1), name="sem rgb", rgb=True)
    viewer.add_labels(labels, name=LABELS)
    train(qtbot, widget, steps=1)
    said = [text for kind, text in messages if kind == "info" and "grey image stored as colour" in text]
    assert len(said) == 1 and said[0].startswith("'sem rgb' is a grey image stored as colour")
    assert "viewer.add_image(viewer.layers['sem rgb'].data[..., 0])" in said[0]


def test_a_four_stain_uint16_image_napari_shows_as_rgba_is_not_called_transparent():
    # Found in review: napari shows any (H, W, 4) image as RGBA; a fourth stain is data.
    from napari.layers import Image

    from napari_semia._qt.training_notes import transparent_photo_note

    stains = np.zeros((8, 8, 4), np.uint16)
    stains[..., 3] = 1000
    assert transparent_photo_note(Image(stains, rgb=True), stains) is None
    photo = (stains // 1000 * 128).astype(np.uint8)
    assert "transparent in places" in transparent_photo_note(Image(photo, rgb=True), photo)


@pytest.mark.parametrize("problem", ["unknown id", "size"])
def test_a_target_that_cannot_be_previewed_is_named_with_the_fix_that_fits(viewer_widget, qtbot,
                                                                           messages, problem):
    # Found by a napari power user: an unknown id painted in the target was answered
    # with a hint about the target's size.
    viewer, widget = viewer_widget
    add_scene(viewer)
    target = viewer.layers[TARGET]
    if problem == "size":
        target.data = np.pad(target.data, ((0, 4), (0, 0)))
    else:
        target.data[0:3, 0:3] = 9
    train(qtbot, widget, steps=1)
    said = [text for kind, text in messages if "Training without previews" in text]
    assert len(said) == 1
    assert ("unknown id(s) 9" in said[0]) == (problem == "unknown id")
    assert ("makes a target of the right size" in said[0]) == (problem == "size")


def test_a_target_moved_away_from_the_source_is_named_once(trained, qtbot, messages):
    # Found by a napari power user: a target layer translated in the viewer had its
    # edits show elsewhere in the result (placed like the image), with no word.
    viewer, widget = trained
    target = viewer.layers[TARGET]
    messages.clear()
    widget.synthesize()
    wait_for_synthesis(qtbot, widget)
    assert not any("is not drawn over" in text for _, text in messages)
    target.translate = (5, 8)
    for label in (1, 0):  # a second synthesis says nothing new
        target.data[0:2, 0:2] = label
        widget.synthesize()
        wait_for_synthesis(qtbot, widget)
    said = [text for kind, text in messages if kind == "warning" and "is not drawn over" in text]
    assert len(said) == 1
    # Put back, then moved away again: said again (from a review).
    for translate, label in (((0, 0), 1), ((5, 8), 0)):
        target.translate = translate
        target.data[0:2, 0:2] = label
        widget.synthesize()
        wait_for_synthesis(qtbot, widget)
    assert len([text for _, text in messages if "is not drawn over" in text]) == 2
    assert said[0].startswith(f"'{TARGET}' (scale (1.0, 1.0), translate (5.0, 8.0)) is not drawn "
                              f"over '{SOURCE}'")


def test_closing_the_viewer_mid_training_says_nothing_of_removed_layers(make_napari_viewer, qtbot, messages):
    # Found by a napari power user: closing the viewer removes every layer first, and
    # "'<image>' was removed while training: training goes on" was said of a training
    # that the close was stopping.
    viewer = make_napari_viewer()
    _, widget = viewer.window.add_plugin_dock_widget(PLUGIN, WIDGET_NAME)
    add_scene(viewer)
    start_training(qtbot, widget, steps=400)
    qtbot.waitUntil(lambda: widget.trainer_runner.trainer is not None, timeout=TIMEOUT_MS)
    viewer.close()
    qtbot.wait(200)
    assert not any("was removed while training" in text for _, text in messages)


def test_a_channel_source_removed_mid_training_is_named_in_one_message(viewer_widget, qtbot, messages):
    # From a review: one identical message per channel layer.
    viewer, widget = viewer_widget
    image, labels = make_scene(rgb=False)
    viewer.add_image(np.stack([image, 255 - image]), channel_axis=0, name=["DAPI", "Actin"])
    viewer.add_labels(labels, name=LABELS)
    viewer.add_labels(moved(labels, 0, 6), name=TARGET)
    start_training(qtbot, widget, steps=40)
    qtbot.waitUntil(lambda: widget.trainer_runner.trainer is not None, timeout=TIMEOUT_MS)
    viewer.layers.remove("DAPI")
    viewer.layers.remove("Actin")
    wait_until_idle(qtbot, widget)
    said = [text for _, text in messages if "removed while training" in text]
    assert len(said) == 1 and said[0].startswith("'DAPI' and 'Actin' were removed while training")


def _duplicate(viewer, layer, name=None):
    """What napari's Duplicate Layer does: a copy, marks included, just above it."""
    from napari.layers import Layer

    data, state, kind = layer.as_layer_data_tuple()
    copy = Layer.create(data, {**state, "name": name or f"{layer.name} copy"}, kind)
    viewer.layers.insert(viewer.layers.index(layer) + 1, copy)
    return copy


def test_a_copy_of_the_result_drawn_over_it_is_named_and_kept_apart(trained, qtbot, messages):
    # Found by a napari power user: Duplicate Layer (to keep a snapshot) put the copy
    # over the result, and Live seemed to do nothing: its results went under it.
    viewer, widget = trained
    output = viewer.layers[OUTPUT]
    messages.clear()
    copy = _duplicate(viewer, output)
    said = [text for kind, text in messages if "is a copy of the result" in text]
    assert said == [f"'{OUTPUT} copy' is a copy of the result '{OUTPUT}', drawn over it: new results "
                    f"(Live's too) go to '{OUTPUT}'. Hide the copy, or move it below, to see them."]
    # The next results go to the original, and to a new layer once it is gone; the
    # copy keeps its snapshot, and the new layer is no copy to speak of.
    before = np.array(copy.data)
    for step in range(2):
        if step:
            viewer.layers.remove(output)
        messages.clear()
        viewer.layers[TARGET].data = np.roll(viewer.layers[TARGET].data, 3, 1)
        widget.synthesize()
        wait_for_synthesis(qtbot, widget)
        np.testing.assert_array_equal(copy.data, before)
        assert OUTPUT in viewer.layers and f"{OUTPUT} copy" in viewer.layers
        assert not any("is a copy of the result" in text for _, text in messages)
    # A copy put under the result hides nothing, and a copy of a copy is no result's.
    from napari.layers import Layer

    messages.clear()
    data, state, kind = viewer.layers[OUTPUT].as_layer_data_tuple()
    under = Layer.create(data, {**state, "name": "under"}, kind)
    viewer.layers.insert(viewer.layers.index(viewer.layers[OUTPUT]), under)
    _duplicate(viewer, viewer.layers["under"], name="under 2")
    # Nor a copy of a result renamed to keep it, though a newer result has its name.
    viewer.layers[OUTPUT].name = "v1"
    widget.synthesize()  # (the same target: a new layer takes the result's name)
    wait_for_synthesis(qtbot, widget)
    assert OUTPUT in viewer.layers
    viewer.layers.move(viewer.layers.index(viewer.layers[OUTPUT]), 0)
    _duplicate(viewer, viewer.layers["v1"])
    assert not any("is a copy of the result" in text for _, text in messages)


def test_a_copy_of_one_channel_of_a_result_leaves_the_result_alone(make_napari_viewer, qtbot, messages):
    # Found in review: a copy of one channel's layer was taken for a channel renamed
    # to keep the set, and the original channels were renamed after it.
    from napari_semia._qt.layer_pickers import ChannelGroup
    from napari_semia._qt.output_layer import detach_copied_output, output_spec, write_output

    viewer = make_napari_viewer()
    channels = viewer.add_image(np.zeros((2, 8, 8), np.float32), channel_axis=0, name=["DAPI", "Actin"])
    target = viewer.add_labels(np.zeros((8, 8), np.int32), name="t")

    def spec():
        return output_spec(ChannelGroup(tuple(channels)), target)

    first = write_output(viewer, spec(), np.zeros((8, 8, 2), np.float32), below=target)
    copy = _duplicate(viewer, first[0])
    detach_copied_output(viewer, copy)  # (what the widget does when a layer is added)
    again = write_output(viewer, spec(), np.ones((8, 8, 2), np.float32), below=target)
    assert [layer.name for layer in again] == [layer.name for layer in first]  # the same layers, not renamed
    assert all(float(layer.data.mean()) == 1.0 for layer in first)
    assert float(copy.data.mean()) == 0.0


def test_layers_drawn_apart_are_named_with_their_placements():
    from napari.layers import Image, Labels

    from napari_semia._qt.training_notes import misaligned_note, misplaced_target_note

    image = Image(np.zeros((8, 8)), name="img", scale=(2, 2))
    labels = Labels(np.zeros((8, 8), int), name="lab", translate=(1, 0))
    assert misaligned_note(image, labels).startswith(
        "'img' (scale (2.0, 2.0), translate (0.0, 0.0)) and 'lab' (scale (1.0, 1.0), translate (1.0, 0.0)) "
        "are not drawn over each other. Training pairs their pixels by index")
    assert misplaced_target_note(image, labels).startswith(
        "'lab' (scale (1.0, 1.0), translate (1.0, 0.0)) is not drawn over 'img' (scale (2.0, 2.0), "
        "translate (0.0, 0.0)). Results are placed like the image, so what is painted on 'lab'")
    over = Labels(np.zeros((8, 8), int), name="over", scale=(2, 2))
    other_size = Labels(np.zeros((4, 4), int), name="small")
    for layer in (over, other_size):
        assert misaligned_note(image, layer) is None and misplaced_target_note(image, layer) is None


def _corners(layer):
    """World positions of a layer's plane's first pixel and one step down and across."""
    leading = (0,) * (layer.ndim - 2)
    return np.array([layer.data_to_world((*leading, *step))[-2:] for step in ((0, 0), (1, 0), (0, 1))])


def test_rotated_and_sheared_layers_keep_their_placement(viewer_widget, qtbot, messages):
    # Found by a napari power user: the output and a new target took the source's
    # scale and translate but not its rotation (a rotated acquisition), and were
    # drawn unrotated across it; labels rotated against the image were not noticed.
    viewer, widget = viewer_widget
    image, labels = make_scene()
    placed = {"scale": (0.5, 0.5), "translate": (10, 5), "rotate": 30,
              "affine": [[1, 0.4, 20], [0, 1, 40], [0, 0, 1]]}
    viewer.add_image(image, name=SOURCE, **placed)
    viewer.add_labels(labels, name=LABELS, **placed)
    widget.pickers.new_target_button.click()
    target = widget.target_layer
    np.testing.assert_allclose(_corners(target), _corners(viewer.layers[SOURCE]), atol=1e-9)
    target.data = moved(labels, 0, 6)
    train(qtbot, widget, steps=1)
    output = viewer.layers[output_name(SOURCE, target.name)]
    np.testing.assert_allclose(_corners(output), _corners(viewer.layers[SOURCE]), atol=1e-9)
    assert not [text for _, text in messages if "not drawn over" in text]
    # Turned again, all three: the output follows.
    wait_for_synthesis(qtbot, widget)
    for layer in (viewer.layers[SOURCE], viewer.layers[LABELS], target):
        layer.rotate = 45
    widget.synthesize()
    wait_for_synthesis(qtbot, widget)
    np.testing.assert_allclose(_corners(output), _corners(viewer.layers[SOURCE]), atol=1e-9)
    # Labels turned against the image are named at Train, with what differs.
    viewer.layers[LABELS].rotate = 90
    train(qtbot, widget, steps=1)
    said = [text for kind, text in messages if kind == "warning" and "not drawn over each other" in text]
    assert said and "rotate and affine of its own" in said[0]


def test_a_rotated_source_s_dataset_pairs_lie_over_it(viewer_widget, qtbot, tmp_path):
    viewer, widget = viewer_widget
    image, labels = make_scene(size=64)
    viewer.add_image(image, name=SOURCE, scale=(2, 3), translate=(10, 5), rotate=30)
    viewer.add_labels(labels, name=LABELS, scale=(2, 3), translate=(10, 5), rotate=30)
    train(qtbot, widget, steps=2)  # working size 32: pairs of half the source's pixels
    widget.dataset_settings.count = 1
    widget.dataset_settings.full_resolution = False

    def pairs_lie_over_the_source(folder):
        widget.dataset_settings.folder = str(tmp_path / folder)
        widget.generate_dataset()
        qtbot.waitUntil(lambda: not widget.dataset_runner.running, timeout=TIMEOUT_MS)
        pairs, source = viewer.layers["semia dataset – images"], viewer.layers[SOURCE]
        # The outer corner of the first pixel, and of the last, in the world: the same.
        for pair_pixel, source_pixel in (((-0.5, -0.5), (-0.5, -0.5)), ((31.5, 31.5), (63.5, 63.5))):
            np.testing.assert_allclose(pairs.data_to_world((0, *pair_pixel))[-2:],
                                       source.data_to_world(source_pixel), atol=1e-9)

    pairs_lie_over_the_source("set")
    # Turned back, the next set's layers (reused) are not left turned (a review).
    for name in (SOURCE, LABELS):
        viewer.layers[name].rotate = 0
    pairs_lie_over_the_source("set2")


def test_layers_at_other_pixel_sizes_far_from_the_origin_are_named():
    # From a review: compared relative to the coordinates, labels at twice the image's
    # pixel size on a microscope stage's 1e5 µm passed for drawn over it.
    from napari.layers import Image, Labels

    from napari_semia._qt.training_notes import misaligned_note

    image = Image(np.zeros((256, 256)), name="img", scale=(0.1, 0.1), translate=(1e5, 1e5))
    labels = Labels(np.zeros((256, 256), int), name="lab", scale=(0.2, 0.2), translate=(1e5, 1e5))
    assert misaligned_note(image, labels) is not None
    same = Labels(np.zeros((256, 256), int), name="same", scale=(0.1, 0.1), translate=(1e5, 1e5))
    assert misaligned_note(image, same) is None


def test_a_model_saved_under_a_name_with_a_dot_is_a_semia_file(monkeypatch):
    # A review of shared files: "model.v2" was saved as such, and the Load dialog's
    # filter (*.semia) hid it.
    from qtpy.QtWidgets import QFileDialog

    for typed, saved in (("/data/model.v2", "/data/model.v2.semia"), ("/data/zebra", "/data/zebra.semia"),
                         ("/data/zebra.SEMIA", "/data/zebra.SEMIA"), ("", None)):
        monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, typed=typed: (typed, ""))
        assert model_io.ask_save_path(None, "x.semia") == saved


def test_a_semia_file_the_dialog_did_not_ask_about_is_not_replaced_without_asking(monkeypatch, tmp_path):
    # Found by a paths pass: with 'model.v2.semia' there, typing 'model.v2' replaced it,
    # as the dialog had only asked about 'model.v2'.
    from qtpy.QtWidgets import QFileDialog

    existing = tmp_path / "model.v2.semia"
    existing.write_bytes(b"earlier model")
    typed = iter([str(tmp_path / "model.v2"), str(tmp_path / "model.v3")])
    offered = []

    def dialog(parent, title, suggested, filter):
        offered.append(suggested)
        return next(typed), ""

    monkeypatch.setattr(QFileDialog, "getSaveFileName", dialog)
    asked = []
    monkeypatch.setattr(model_io, "_ask_yes_no", lambda parent, title, text: asked.append(text) or False)
    # No: the dialog opens again on the name it would have had, and the next name is taken.
    assert model_io.ask_save_path(None, "x.semia") == str(tmp_path / "model.v3.semia")
    assert len(asked) == 1 and "'model.v2.semia'" in asked[0] and "already exists" in asked[0]
    assert offered == ["x.semia", str(existing)]
    # Yes: that name.
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a: (str(tmp_path / "model.v2"), ""))
    monkeypatch.setattr(model_io, "_ask_yes_no", lambda *a: True)
    assert model_io.ask_save_path(None, "x.semia") == str(existing)
    assert existing.read_bytes() == b"earlier model"
