"""The napari dock widget: opening, layer pickers, new target, bad input."""

import numpy as np
import pytest
import torch
from conftest import make_scene
from napari.layers import Labels
from widget_helpers import TARGET, add_scene, picker_names

from napari_semia._qt.layer_pickers import NONE_TEXT
from napari_semia._qt.widget import SemiaWidget


def test_widget_opens_from_manifest(viewer_widget):
    viewer, widget = viewer_widget
    assert isinstance(widget, SemiaWidget)
    viewer.add_image(np.zeros((16, 16)), name="probe")
    assert widget.source_layer is viewer.layers["probe"]  # the widget follows the viewer
    # Advanced settings start collapsed; the device label says what is used.
    assert not widget.controls.advanced.isVisibleTo(widget)
    assert "CPU" in widget.controls.device_label.text()


def test_pickers_follow_added_removed_and_renamed_layers(viewer_widget):
    viewer, widget = viewer_widget
    pickers = widget.pickers
    assert picker_names(pickers.image) == [NONE_TEXT]
    add_scene(viewer)
    assert picker_names(pickers.image) == [NONE_TEXT, "src"]
    assert picker_names(pickers.labels) == [NONE_TEXT, "src labels", "layout target"]
    # Sensible defaults: source labels first, the "target" layer as target.
    assert pickers.image.current_layer() is viewer.layers["src"]
    assert pickers.labels.current_layer() is viewer.layers["src labels"]
    assert pickers.target.current_layer() is viewer.layers["layout target"]

    viewer.layers["src labels"].name = "nuclei"
    assert "nuclei" in picker_names(pickers.labels)
    assert pickers.labels.current_layer() is viewer.layers["nuclei"]  # selection kept

    viewer.layers.remove("layout target")
    assert picker_names(pickers.target) == [NONE_TEXT, "nuclei"]
    assert pickers.target.current_layer() is None

    # A layer the user picked stays picked when more layers arrive.
    pickers.target.setCurrentIndex(picker_names(pickers.target).index("nuclei"))
    viewer.add_labels(np.zeros((32, 32), np.int32), name="another target")
    assert pickers.target.current_layer() is viewer.layers["nuclei"]


def test_new_target_is_an_editable_copy_in_paint_mode(viewer_widget):
    viewer, widget = viewer_widget
    add_scene(viewer, with_target=False)
    widget.pickers.new_target_button.click()
    target = widget.target_layer
    source = viewer.layers["src labels"]
    assert target is not None and target is not source
    assert viewer.layers.selection.active is target
    assert target.mode == "paint"
    np.testing.assert_array_equal(target.data, source.data)
    target.paint((2, 2), 1)  # editing the copy leaves the source alone
    assert target.data[2, 2] == 1 and source.data[2, 2] == 0


def test_new_target_is_see_through_so_the_result_under_it_shows(viewer_widget):
    # Labels converted from an image (File > Open, Convert to Labels) keep its
    # opacity of 1: their copy hid the result under it, Live and all.
    viewer, widget = viewer_widget
    add_scene(viewer, with_target=False)
    source = viewer.layers["src labels"]
    source.opacity = 1.0
    widget.pickers.new_target_button.click()
    assert widget.target_layer.opacity == 0.7
    source.opacity = 0.4  # a lower opacity the user chose is kept
    widget.pickers.new_target_button.click()
    assert widget.target_layer.opacity == 0.4


def test_new_target_from_labels_of_another_size_is_refused_with_both_sizes(viewer_widget, messages):
    # Found by a new user: labels of another image gave a target that could never be
    # used, without a word.
    viewer, widget = viewer_widget
    add_scene(viewer, with_target=False)
    source_labels = viewer.layers["src labels"]
    source_labels.data = source_labels.data[:20, :22]
    before = len(viewer.layers)
    widget.pickers.new_target_button.click()
    assert len(viewer.layers) == before
    assert messages == [("error", "'src labels' is 20 × 22 px and 'src' 32 × 32: a target copied from it "
                                  "could not be used. Choose the source labels of that image.")]
    # Labels of the model's size do: its targets are painted on them.
    from types import SimpleNamespace

    widget.model = SimpleNamespace(source_shape=(20, 22))
    widget.pickers.new_target_button.click()
    assert len(viewer.layers) == before + 1 and widget.target_layer.data.shape == (20, 22)
    widget.model = None


def test_new_target_starts_the_brush_on_a_sensible_class(viewer_widget):
    # Found by a microscopist: with ids 0, 3, 7, 12 the brush started on 12, a rare
    # class of a few spots (the highest id), so a first stroke painted spots.
    viewer, widget = viewer_widget
    image, _ = make_scene(rgb=False)
    labels = np.zeros(image.shape[:2], np.uint16)
    labels[4:28, 4:28] = 3
    labels[8:20, 8:20] = 7
    labels[1, 1] = 12
    viewer.add_image(image, name="cells")
    source = viewer.add_labels(labels, name="cells labels")
    widget.pickers.new_target_button.click()
    assert widget.target_layer.selected_label == 3  # the most common class but 0
    source.selected_label = 7  # the label the user chose on the source
    widget.pickers.new_target_button.click()
    assert widget.target_layer.selected_label == 7
    # napari's default label 1 is no choice (found in review: a rare class 1 was taken).
    rare = np.zeros(image.shape[:2], np.uint8)
    rare[4:28, 4:28], rare[1, 1] = 2, 1
    other = viewer.add_labels(rare, name="rare labels")
    assert other.selected_label == 1
    widget.pickers.labels.set_layer(other)
    widget.pickers.new_target_button.click()
    assert widget.target_layer.selected_label == 2


def test_train_without_layers_is_a_notification(viewer_widget, messages):
    _, widget = viewer_widget
    widget.controls.train_button.click()
    assert messages and messages[-1][0] == "error"
    assert "source image" in messages[-1][1]
    assert not widget.trainer_runner.running


def test_shape_mismatch_is_a_notification(viewer_widget, messages, qtbot):
    viewer, widget = viewer_widget
    image, _ = make_scene(rgb=False)
    viewer.add_image(image, name="src")
    viewer.add_labels(np.zeros((20, 24), np.int32), name="small labels")
    widget.train()
    qtbot.waitUntil(lambda: not widget.trainer_runner.running, timeout=10_000)
    assert messages[-1][0] == "error"
    assert messages[-1][1] == ("'small labels' is 20 × 24 pixels (height × width), but 'src' is 32 × 32: "
                               "they must cover the same pixels (labels made on this image).")
    assert not widget.trainer_runner.running


def test_new_target_without_labels_is_a_notification(viewer_widget, messages):
    _, widget = viewer_widget
    widget.new_target_from_source()
    assert messages[-1][0] == "error" and "source labels" in messages[-1][1]


def test_3d_view_of_a_stack_is_refused_with_a_message(viewer_widget, messages):
    viewer, widget = viewer_widget
    image, labels = make_scene(rgb=False)
    viewer.add_image(np.stack([image] * 3), name="stack")
    viewer.add_labels(np.stack([labels] * 3), name="stack labels")
    viewer.dims.ndisplay = 3
    widget.state.message = "Not synthesized: an older problem."
    widget.train()
    assert messages[-1][0] == "error" and "2D view" in messages[-1][1]
    # The status line says why too (it kept the older, unrelated message).
    assert widget.state.message.startswith("Not trained:") and "2D view" in widget.state.message


def test_errors_reach_napari_notifications(viewer_widget):
    from napari.utils.notifications import NotificationSeverity, notification_manager

    _, widget = viewer_widget
    seen = []
    notification_manager.notification_ready.connect(seen.append)
    try:
        widget.train()
    finally:
        notification_manager.notification_ready.disconnect(seen.append)
    assert [n.severity for n in seen] == [NotificationSeverity.ERROR]
    assert "source image" in seen[0].message


def add_colour_coded_scene(viewer, palette) -> np.ndarray:
    """A photo and its label map coloured in ``palette`` (the paper's data); the ids."""
    image, labels = make_scene()
    viewer.add_image(image, name="photo")
    viewer.add_image(np.array(palette, np.uint8)[labels], name="layout")
    return labels


def test_pickers_recognise_colour_coded_label_images(viewer_widget):
    """Photo, colour-coded labels and target all as RGB images (the paper's data)."""
    viewer, widget = viewer_widget
    palette = np.array([[0, 255, 0], [255, 0, 0]], np.uint8)
    labels = add_colour_coded_scene(viewer, palette)
    viewer.add_image(palette[np.roll(labels, 4, axis=0)], name="edited")
    assert widget.source_layer is viewer.layers["photo"]
    assert widget.labels_layer is viewer.layers["layout"]
    assert widget.target_layer is viewer.layers["edited"]
    assert "photo" not in picker_names(widget.pickers.labels)  # a photo is no label map


def test_a_colour_coded_target_names_each_id_s_colour_and_shows_unknown_ids(viewer_widget):
    # Found by a new user on the face example: ids 1..10 with no word of their colour
    # (the upper lip's id among look-alike blues was trial and error), and a stroke of
    # napari's "new label" was invisible (unknown ids were transparent).
    viewer, widget = viewer_widget
    add_colour_coded_scene(viewer, [[0, 0, 70], [0, 60, 100]])
    widget.pickers.new_target_button.click()
    target = viewer.layers["layout target"]
    named = dict(zip(target.features["index"], target.features["class"]))
    assert named == {1: "colour (0, 0, 70)", 2: "colour (0, 60, 100)"}
    under_cursor = named[int(target.data[0, 0])]
    assert f"class: {under_cursor}" in target.get_status(position=(0, 0))["coordinates"]
    assert target.colormap.map(np.array([3]))[0, 3] == 1  # an unknown id is seen
    assert target.colormap.map(np.array([0]))[0, 3] == 0  # where the eraser went, nothing


def test_a_blank_labels_layer_to_sketch_in_is_the_target_in_the_source_s_colours(viewer_widget):
    # Found by a new user sketching a face: napari's "New labels layer" took the source
    # labels from the colour-coded map (Train learned the blank sketch as the source's
    # labels), and its napari colours told nothing of which id painted which class.
    viewer, widget = viewer_widget
    labels = add_colour_coded_scene(viewer, [[255, 255, 255], [0, 0, 70]])
    sketch = viewer.add_labels(np.zeros(labels.shape, np.uint8), name="photo - Labels")
    assert widget.labels_layer is viewer.layers["layout"]
    assert widget.target_layer is sketch
    np.testing.assert_allclose(sketch.colormap.map(np.array([2]))[0], [0, 0, 70 / 255, 1], atol=1e-3)
    assert list(sketch.features["class"]) == ["colour (255, 255, 255)", "colour (0, 0, 70)"]


def test_a_blank_sketch_follows_another_source_labels_map_until_painted(viewer_widget):
    # Found in review: a recoloured blank target kept the first map's colours and names
    # when another colour-coded map was picked as the source labels.
    viewer, widget = viewer_widget
    labels = add_colour_coded_scene(viewer, [[255, 255, 255], [0, 0, 70]])
    sketch = viewer.add_labels(np.zeros(labels.shape, np.uint8), name="photo - Labels")
    own_colour = Labels(np.zeros((2, 2), np.uint8)).colormap.map(np.array([2]))[0]  # napari's
    other = viewer.add_image(np.array([[10, 200, 10], [200, 10, 10]], np.uint8)[labels], name="other map")
    widget.pickers.target.set_layer(sketch)
    widget.pickers.labels.set_layer(other)
    assert widget.target_layer is sketch and widget.labels_layer is other
    red = [200 / 255, 10 / 255, 10 / 255, 1]
    np.testing.assert_allclose(sketch.colormap.map(np.array([2]))[0], red, atol=1e-3)
    assert list(sketch.features["class"]) == ["colour (10, 200, 10)", "colour (200, 10, 10)"]
    annotation = viewer.add_labels(labels + 1, name="annotation")  # no colour map: napari's colours again
    widget.pickers.labels.set_layer(annotation)
    np.testing.assert_allclose(sketch.colormap.map(np.array([2]))[0], own_colour)
    assert "class" not in sketch.features.columns
    widget.pickers.labels.set_layer(viewer.layers["layout"])
    sketch.paint((5, 5), 1, refresh=True)  # painted in these colours: they stay
    widget.pickers.labels.set_layer(other)
    np.testing.assert_allclose(sketch.colormap.map(np.array([2]))[0], [0, 0, 70 / 255, 1], atol=1e-3)


def test_a_sketch_painted_beside_a_new_target_never_takes_the_source_labels(viewer_widget):
    # Found by a new user: with a New target open, a blank layer added and painted in
    # became the source labels at the next layer event (Labels come before colour maps).
    viewer, widget = viewer_widget
    labels = add_colour_coded_scene(viewer, [[255, 255, 255], [0, 0, 70]])
    widget.pickers.new_target_button.click()
    sketch = viewer.add_labels(np.zeros(labels.shape, np.uint8), name="photo - Labels")
    sketch.data[:] = 1
    sketch.data[4:9, 4:9] = 2
    viewer.add_image(np.zeros(labels.shape, np.uint8), name="another layer")  # a layer event
    assert widget.labels_layer is viewer.layers["layout"]
    assert widget.target_layer is viewer.layers["layout target"]


def test_a_blank_labels_layer_alone_is_the_source_labels_to_annotate(viewer_widget):
    # (Annotating the source in napari starts from a blank layer too.)
    viewer, widget = viewer_widget
    image, _ = make_scene()
    viewer.add_image(image, name="photo")
    blank = viewer.add_labels(np.zeros(image.shape[:2], np.uint8), name="photo - Labels")
    assert widget.labels_layer is blank
    assert "class" not in blank.features.columns
    # A layout opened before the first stroke does not take its place (found in review).
    _, labels = make_scene()
    viewer.add_labels(labels, name="layout")
    assert widget.labels_layer is blank


def test_unavailable_device_is_explained_not_raised(viewer_widget, messages, qtbot):
    viewer, widget = viewer_widget
    add_scene(viewer)
    # A device this machine lacks: CUDA without a GPU, or a GPU index past the last.
    missing = "cuda:99" if torch.cuda.is_available() else "cuda"
    widget.settings.device = missing
    problem = widget.controls.device_problem
    assert "cuda" in problem.text().lower() and problem.isVisibleTo(widget)
    assert "not available" in widget.controls.device_label.text()
    widget.train()
    qtbot.waitUntil(lambda: not widget.trainer_runner.running, timeout=10_000)
    assert messages[-1][0] == "error" and "cuda" in messages[-1][1].lower()
    assert widget.model is None and widget.controls.train_button.isEnabled()


def test_stopping_before_the_first_step_says_so(qtbot):
    from napari_semia._qt.progress_widget import ProgressWidget
    from napari_semia._qt.state import Phase, WidgetState

    state = WidgetState()
    widget = ProgressWidget(state)
    qtbot.addWidget(widget)
    state.phase = Phase.TRAINING
    state.phase = Phase.STOPPING
    assert "Stopping" in widget.label.text()


def test_no_target_chosen_says_why_when_layouts_of_another_size_are_open(viewer_widget, messages):
    # Found by a new user: a layout of another size is not chosen by itself, and the
    # message only said 'Choose the target labels to synthesize.'
    viewer, widget = viewer_widget
    image, labels = make_scene(rgb=False)
    viewer.add_image(image, name="src")
    viewer.add_labels(labels, name="labels")
    viewer.add_labels(labels[:24, :20], name="small target")
    assert widget.target_layer is None
    widget.synthesize()
    text = messages[-1][1]
    assert "Choose the target labels" in text and "'small target' (24 × 20)" in text
    assert "the size of 'labels' (32 × 32)" in text


def test_a_label_map_opened_as_an_image_is_named_on_synthesize_too(viewer_widget, messages):
    # Found by a microscopist: File -> Open of a uint16 id map gives an Image layer;
    # Train and New target said to convert it to Labels, Synthesize only 'Choose the
    # target labels'.
    viewer, widget = viewer_widget
    image, labels = make_scene(rgb=False)
    viewer.add_image(image, name="src")
    viewer.add_image(labels.astype(np.uint16), name="lab")
    widget.synthesize()
    text = messages[-1][1]
    assert "Choose the target labels" in text and "'lab' holds only a few integer values" in text
    assert "Convert to Labels" in text


def test_a_pyramid_is_not_the_default_source_and_its_refusal_says_what_to_do(viewer_widget, messages, qtbot):
    viewer, widget = viewer_widget
    image, labels = make_scene(64, rgb=False)
    viewer.add_image([image, image[::2, ::2]], multiscale=True, name="pyramid")
    assert widget.source_layer is None
    viewer.add_labels(labels, name="labels")
    # Why none was chosen (a pass with multiscale layers: only "Choose a source image layer").
    widget.train()
    assert messages[-1][1].startswith("Choose a source image layer")
    assert "'pyramid' is not chosen by itself" in messages[-1][1] and ".data[0]" in messages[-1][1]
    widget.pickers.image.set_layer(viewer.layers["pyramid"])
    messages.clear()
    widget.train()
    qtbot.waitUntil(lambda: bool(messages), timeout=10_000)
    assert "multiscale" in messages[-1][1] and ".data[0]" in messages[-1][1]


def test_a_pyramid_target_s_refusal_names_the_labels_layer_to_add(trained, messages, qtbot):
    # Found by a napari power user: it suggested viewer.add_image for a Labels layer.
    viewer, widget = trained
    target = np.asarray(viewer.layers[TARGET].data)
    pyramid = viewer.add_labels([target, target[::2, ::2]], multiscale=True, name="pyramid target")
    widget.pickers.target.set_layer(pyramid)
    messages.clear()
    widget.synthesize()
    qtbot.waitUntil(lambda: bool(messages), timeout=10_000)
    assert "multiscale" in messages[-1][1]
    assert "viewer.add_labels(viewer.layers['pyramid target'].data[0])" in messages[-1][1]


def test_a_new_target_from_pyramid_labels_is_refused_not_made_of_its_coarsest_level(viewer_widget, messages):
    # A pass with lazy and multiscale layers: the copy was the pyramid's last level, a
    # quarter-size target chosen and painted on, until Train refused the labels.
    viewer, widget = viewer_widget
    image, labels = make_scene(64, rgb=False)
    viewer.add_image(image, name="src")
    pyramid = viewer.add_labels([labels, labels[::2, ::2], labels[::4, ::4]], multiscale=True, name="lab")
    widget.pickers.labels.set_layer(pyramid)
    count = len(viewer.layers)
    widget.new_target_from_source()
    assert len(viewer.layers) == count
    assert messages[-1][0] == "error" and "multiscale" in messages[-1][1]
    assert "viewer.add_labels(viewer.layers['lab'].data[0])" in messages[-1][1]


def test_every_form_field_is_named_for_screen_readers_and_linked_to_its_label(viewer_widget):
    # An accessibility pass: the Device and Folder rows (a field with a note or a
    # button beside it) had no linked label, and no control had an accessible name.
    from qtpy.QtWidgets import QFormLayout, QLabel

    _, widget = viewer_widget
    named = {}
    for form in widget.content.findChildren(QFormLayout):
        for row in range(form.rowCount()):
            label = form.itemAt(row, QFormLayout.ItemRole.LabelRole)
            if label is not None and isinstance(label.widget(), QLabel) and label.widget().text():
                buddy = label.widget().buddy()
                assert buddy is not None, label.widget().text()
                named[label.widget().text()] = buddy
    assert named["Device"] is widget.controls.device and named["Folder"] is widget.dataset.folder
    assert named["Source image"] is widget.pickers.image and named["Steps"] is widget.controls.steps
    assert all(field.accessibleName() == text for text, field in named.items())
    assert widget.dataset.browse.accessibleName() and widget.progress.bar.accessibleName()


def test_a_larger_font_widens_the_dock_instead_of_laying_fields_over_their_labels(viewer_widget, qtbot):
    # A display-settings pass: with napari's font size raised (Preferences > Appearance)
    # the dock kept its width, and the layer pickers were drawn over their labels.
    from napari.settings import get_settings
    from qtpy.QtWidgets import QFormLayout

    viewer, widget = viewer_widget
    viewer.window.show()
    before = widget.minimumSizeHint().width()
    get_settings().appearance.font_size = 14  # (the test's own settings: make_napari_viewer's)
    qtbot.waitUntil(lambda: widget.minimumSizeHint().width() > before, timeout=5000)
    qtbot.waitUntil(lambda: widget.content.width() >= widget.content.minimumSizeHint().width(), timeout=5000)
    form = widget.pickers.layout()
    for row in range(3):
        label = form.itemAt(row, QFormLayout.ItemRole.LabelRole).widget()
        field = form.itemAt(row, QFormLayout.ItemRole.FieldRole).widget()
        assert label.width() >= label.sizeHint().width()  # (aligned again, for the new font)
        assert field.x() >= label.geometry().right(), label.text()


@pytest.mark.parametrize("theme", ["dark", "light"])
def test_the_loss_curves_and_error_text_stand_out_from_each_theme_s_background(theme):
    # A display-settings pass: four of the light theme's curves were 1.8-2.8:1 against
    # napari's light grey; WCAG asks 3:1 of graphics and 4.5:1 of text.
    from napari.utils.theme import get_theme

    from napari_semia._qt.theme import dock_colours

    def luminance(colour):
        channels = [int(colour.lstrip("#")[i:i + 2], 16) / 255 for i in (0, 2, 4)]
        r, g, b = (c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels)
        return 0.2126 * r + 0.7152 * g + 0.0722 * b

    def contrast(a, b):
        high, low = sorted((luminance(a), luminance(b)), reverse=True)
        return (high + 0.05) / (low + 0.05)

    background = get_theme(theme).background.as_hex()
    colours = dock_colours(theme)
    assert min(contrast(curve, background) for curve in colours.curves) >= 3
    assert contrast(colours.error_text, background) >= 4.5
    assert len(set(colours.curves)) == len(colours.curves)


def test_a_status_line_breaks_a_name_too_long_for_one_line(qtbot):
    # A display-settings pass: an 80-character layer name ran past the status line's
    # edge, cut, and the end of the sentence with it.
    from napari_semia._qt.sections import WrappingLabel

    name = "target_ß_édité_" + "long_target_layout_name_" * 3
    text = f"Loaded a model that does not fit '{name}' (see the warning)."
    label = WrappingLabel(text)
    qtbot.addWidget(label)
    assert label.text() == text  # as set
    width = label.fontMetrics().horizontalAdvance(name) // 3
    label.setFixedWidth(width)
    label.show()
    qtbot.waitExposed(label)
    assert label.minimumSizeHint().width() <= width
    lines = label.heightForWidth(width) / label.fontMetrics().lineSpacing()
    assert lines >= 4  # the name over three lines at least, the rest after it
    # Never inside a letter with its marks, nor inside an emoji (a review).
    from napari_semia._qt.sections import _breakable

    family = "\U0001f468\u200d\U0001f469\u200d\U0001f467"
    for word in ("e\u0301" * 30, family * 9, "\U0001f44d\U0001f3fd" * 30):
        pieces = _breakable(word).split("\u200b")
        assert "".join(pieces) == word and len(pieces) > 1
        assert all(len(piece) == len(pieces[0]) for piece in pieces)


# (From a mutation audit: a change to each of these went unseen.)
def test_the_widget_state_says_why_a_run_ended_and_what_waits():
    from napari_semia._qt.state import Phase, TrainingSettings, WidgetState

    state = WidgetState()
    state.finish_training(10, 100, 10, stopped=True, diverged="The loss became NaN.")
    assert state.message.startswith("The loss became NaN.") and "Lower the learning rates" in state.message
    assert "finished" not in state.message
    state.finish_training(50, 50, 350, stopped=False)
    assert "(350 in total)" in state.message and "preview" not in state.message
    state.finish_training(50, 50, 50, stopped=False)
    assert "50 steps give a preview" in state.message and "in total" not in state.message
    settings = TrainingSettings()
    assert not settings.preset_edited()
    settings.steps += 1
    assert settings.preset_edited()
    settings.apply_preset("quick")
    assert not settings.preset_edited()
    generating = WidgetState(phase=Phase.GENERATING)
    assert generating.busy and generating.busy_reason == "a dataset is being made; Stop it first."
