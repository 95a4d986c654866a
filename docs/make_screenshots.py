"""Screenshots of the real napari-semia widget for docs/user-guide.md.

Run under a virtual display:

    xvfb-run -a python docs/make_screenshots.py            # writes docs/images/*.png

It opens napari, loads the "coffee" sample, docks the widget and walks through
the workflow of the user guide (new target, paint, train, live edit, a
synthetic dataset), saving a screenshot of the whole window
(``viewer.screenshot(canvas_only=False)``) or of the dock widget after each
step. Training is real, so this takes a few minutes on a CPU; ``--steps``
trades quality for time.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from napari_semia.checkpoints import CACHE_DIR_ENV

IMAGES = Path(__file__).resolve().parent / "images"
PLUGIN = "napari-semia"
WIDGET = "Semantic Image Analogy"


def wait(app, condition, timeout_s: float) -> None:
    """Run the Qt event loop until ``condition()`` holds."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("screenshot script timed out waiting for the widget")
        app.processEvents()
        time.sleep(0.02)


def settle(app, seconds: float = 0.5) -> None:
    wait_until = time.monotonic() + seconds
    wait(app, lambda: time.monotonic() > wait_until, seconds + 5)


def save_window(viewer, app, name: str) -> None:
    settle(app)
    viewer.reset_view()  # fit the canvas as it is now, after docking and resizing
    settle(app, 0.3)
    path = IMAGES / name
    viewer.screenshot(str(path), canvas_only=False, flash=False)
    print(f"wrote {path}")


def save_widget(widget, app, name: str) -> None:
    settle(app)
    path = IMAGES / name
    # The whole content, including what the dock would need to scroll to.
    widget.content.grab().save(str(path))
    print(f"wrote {path}")


def paint_disk(layer, centre, radius, label) -> None:
    """A round brush dab, through the layer's public paint() like the brush."""
    layer.brush_size = 2 * radius
    layer.paint(centre, label)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300, help="training steps (default 300)")
    parser.add_argument("--size", type=int, default=192, help="working size (default 192)")
    args = parser.parse_args()
    IMAGES.mkdir(parents=True, exist_ok=True)
    # A fresh checkpoint cache: the pictures show what a first-time user sees, not
    # the offer to restore the model that an earlier run of this script left.
    cache = tempfile.TemporaryDirectory(prefix="semia-screenshots-")
    os.environ[CACHE_DIR_ENV] = cache.name

    import napari
    from napari.qt import get_qapp

    from napari_semia._qt.output_layer import output_name

    app = get_qapp()
    viewer = napari.Viewer(title="napari-semia")
    viewer.window.resize(1500, 950)
    _, widget = viewer.window.add_plugin_dock_widget(PLUGIN, WIDGET)
    viewer.open_sample(PLUGIN, "coffee")
    viewer.reset_view()
    save_window(viewer, app, "01-sample-opened.png")

    # New target from source, then a few brush dabs: a small second cup
    # (porcelain rim, coffee inside) on the table, top right.
    widget.pickers.labels.set_layer(viewer.layers["coffee labels"])
    widget.pickers.new_target_button.click()
    target = widget.target_layer
    viewer.layers["coffee target"].visible = False
    paint_disk(target, (42, 212), 24, 2)
    paint_disk(target, (42, 212), 16, 3)
    save_window(viewer, app, "02-new-target-paint.png")

    # Train on the sample's own edited target, watching progress and previews.
    viewer.layers.remove(target)
    viewer.layers["coffee target"].visible = True
    widget.pickers.target.set_layer(viewer.layers["coffee target"])
    widget.settings.steps = args.steps
    widget.settings.size = args.size
    widget.settings.preview_every = 20
    widget.controls.train_button.click()
    wait(app, lambda: widget.state.step >= args.steps * 0.6, timeout_s=3600)
    save_window(viewer, app, "03-training.png")
    wait(app, lambda: not widget.trainer_runner.running, timeout_s=3600)
    wait(app, lambda: not widget.synth_runner.running, timeout_s=120)
    output = output_name("coffee image", "coffee target")
    for layer in viewer.layers:
        layer.visible = layer.name in ("coffee image", output)
    widget.synthesis.side_by_side.setChecked(True)
    save_window(viewer, app, "04-trained-side-by-side.png")

    # Live editing: paint on the target and the output follows.
    target = viewer.layers["coffee target"]
    target.visible = True
    widget.synthesis.live.setChecked(True)
    wait(app, lambda: not widget.synth_runner.running, timeout_s=120)
    before = viewer.layers[output].data.copy()
    for y in range(110, 160, 5):  # a white porcelain bowl on the table, left
        paint_disk(target, (y, 45), 22, 2)
    wait(app, lambda: not np.array_equal(viewer.layers[output].data, before), 120)
    wait(app, lambda: not widget.synth_runner.running, timeout_s=120)
    viewer.layers.selection.active = target
    save_window(viewer, app, "05-live-edit.png")

    # Synthetic dataset: a few pairs from random layouts, opened as layers to look at.
    widget.synthesis.live.setChecked(False)
    widget.synthesis.side_by_side.setChecked(False)
    widget.dataset_settings.folder = tempfile.mkdtemp(prefix="semia-dataset-")
    widget.dataset_settings.count = 6
    widget.generate_dataset()
    wait(app, lambda: not widget.dataset_runner.running, timeout_s=600)
    for layer in viewer.layers:
        layer.visible = layer.name.startswith("semia dataset –")
    if "semia dataset – labels" in viewer.layers:
        viewer.layers["semia dataset – labels"].opacity = 0.35
    save_window(viewer, app, "08-dataset.png")

    # Close-ups of the dock widget: default state and advanced settings open.
    widget.controls.set_advanced_visible(True)
    save_widget(widget, app, "06-widget-advanced.png")
    widget.controls.set_advanced_visible(False)
    save_widget(widget, app, "07-widget.png")
    viewer.close()


if __name__ == "__main__":
    main()
