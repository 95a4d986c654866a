"""Where layout agreement on changed pixels is lost: tiny classes and class edges.

``fullres_benchmark.py``'s *mIoU-chg* averages the IoU of every class the target
paints on its changed pixels, however few: a class with 4 changed pixels (an
anti-aliased corner of a hand-edited label map) weighs as much as one with 800.
And a random forest on the source's own labels misreads about one in eight of
the source's own pixels next to a class edge. This script reads the outputs a
``fullres_benchmark.py --out`` folder holds (``bicubic_<target>.png``,
``refined_<target>.png``, ``labels_<target>.png``) and splits the figure:

* *mIoU-chg*: as in ``fullres_benchmark.py`` (same classifier, same mask);
* *acc-chg*: the fraction of changed pixels read as the target's class;
* *mIoU-chg >= N px*: the mean over the classes with at least ``--min-pixels``
  changed pixels (the classes left out are listed with their pixel counts);
* *misread by distance to the target's class edges*: the misread fraction of
  the changed pixels within 1 px of a class edge of the target (an edge pixel
  or its neighbour), 2-3 px, and farther; and below the table the same for
  the source read against its own labels (the classifier's own ceiling).

    python benchmarks/layout_breakdown.py --case zebra --model /tmp/bench2/zebra/model.semia \\
        --outputs /tmp/fullres2/zebra
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from scipy import ndimage as ndi

sys.path.insert(0, str(Path(__file__).resolve().parent))
import metrics
import saved_outputs

METHODS = ("bicubic", "refined", "labels")
BANDS = ((0.0, 1.5, "<=1 px"), (1.5, 3.5, "2-3 px"), (3.5, np.inf, ">3 px"))


def distance_to_class_edges(index: np.ndarray) -> np.ndarray:
    """Euclidean distance of every pixel to the nearest pixel that has a 4-neighbour of
    another class (0 on both sides of every edge)."""
    edge = ndi.morphological_gradient(index, footprint=ndi.generate_binary_structure(2, 1)) > 0
    if not edge.any():  # one class everywhere: no pixel is near an edge
        return np.full(index.shape, np.inf)
    return ndi.distance_transform_edt(~edge)


def misread_by_band(misread: np.ndarray, distance: np.ndarray, within: np.ndarray) -> dict:
    """Per band of ``BANDS``: how many ``within`` pixels lie at that distance from a class
    edge, and the fraction of them ``misread`` (None for an empty band)."""
    bands = {}
    for low, high, name in BANDS:
        band = within & (distance >= low) & ((distance < high) if np.isfinite(high) else True)
        bands[name] = {"pixels": int(band.sum()),
                       "misread": float(misread[band].sum() / band.sum()) if band.any() else None}
    return bands


def breakdown(predicted: np.ndarray, source_index: np.ndarray, target_index: np.ndarray,
              min_pixels: int) -> dict:
    """The split figures of one segmented output (see the module docstring)."""
    changed = metrics.changed_mask(source_index, target_index)
    classes, counts = np.unique(target_index[changed], return_counts=True)
    ious = metrics.iou_per_class(predicted, target_index, classes, mask=changed)
    large = [ious[c] for c, n in zip(classes, counts) if n >= min_pixels]
    misread = (predicted != target_index) & changed
    bands = misread_by_band(misread, distance_to_class_edges(target_index), changed)
    return {
        "miou_changed": float(np.mean(list(ious.values()))),
        "accuracy_changed": float(1.0 - misread.sum() / changed.sum()),
        "miou_changed_large": float(np.mean(large)) if large else None,
        "small_classes": {int(c): int(n) for c, n in zip(classes, counts) if n < min_pixels},
        "bands": bands,
    }


def _number(value) -> str:
    return "-" if value is None else f"{value:.3f}"


def _per_method(figures: dict, key: str) -> str:
    return " / ".join(_number(figures[method][key]) for method in METHODS)


def _bands(figures: dict) -> str:
    return " / ".join(_number(band["misread"]) for band in figures["bands"].values())


def main(argv=None) -> None:
    from napari_semia.io import read_image_file

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    saved_outputs.add_arguments(parser)
    parser.add_argument("--min-pixels", type=int, default=50)
    args = parser.parse_args(argv)

    image, source_index, targets = saved_outputs.load_case(args)
    classifier = metrics.LayoutClassifier().fit(image, source_index)

    results = {}
    print(f"| target | changed px | mIoU-chg bic / ref / lab | acc-chg bic / ref / lab "
          f"| mIoU-chg >= {args.min_pixels} px bic / ref / lab | classes left out (px) "
          f"| misread <=1 px / 2-3 px / >3 px bic | ref |")
    print("|---|---|---|---|---|---|---|---|")
    for name, (target_index, changed) in targets.items():
        figures = {}
        for method in METHODS:
            path = saved_outputs.output_path(args.outputs, method, name, args.case)
            predicted = classifier.predict(read_image_file(path))
            figures[method] = breakdown(predicted, source_index, target_index, args.min_pixels)
        results[name] = figures
        small = " ".join(f"{c}: {n}" for c, n in figures["refined"]["small_classes"].items()) or "-"
        print(f"| {name} | {int(changed.sum())} | {_per_method(figures, 'miou_changed')} "
              f"| {_per_method(figures, 'accuracy_changed')} | {_per_method(figures, 'miou_changed_large')} "
              f"| {small} | {_bands(figures['bicubic'])} | {_bands(figures['refined'])} |", flush=True)
    # The classifier's own ceiling: the source read against its own labels, all pixels.
    own = classifier.predict(image) != source_index
    ceiling = misread_by_band(own, distance_to_class_edges(source_index), np.ones_like(own))
    results["source_misread_by_band"] = ceiling
    print(f"source read against its own labels, misread {_bands({'bands': ceiling})} "
          "(<=1 px / 2-3 px / >3 px from its class edges)")
    (args.outputs / "layout_breakdown.json").write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
