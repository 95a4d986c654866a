"""Layout agreement on targets whose right answer is known: the source flipped or shifted.

The shared examples' targets have no true image, so *mIoU-chg* cannot say how
close to perfect an output is, nor whether the classifier rewards a soft
output over a sharp one. Here the target is the source's label map flipped
left-right (``flip``) or rolled 8 px sideways (``roll8``), and the right
answer is the source image flipped or rolled the same way (``np.roll`` wraps
round: the 8 columns brought over from the right edge make a seam in both,
scored like the rest). Scored with
``fullres_benchmark.py``'s classifier and changed pixels, and
``layout_breakdown.py``'s bands:

* ``truth`` — the right answer itself;
* ``truth_working`` — the right answer shrunk to the working size and enlarged
  bicubically (the best a generator at that size can give with the preview);
* ``bicubic`` and ``refined`` — the model's preview and full-resolution result
  (``--set`` changes the refinement's settings, as in ``fullres_benchmark.py``).

    python benchmarks/known_answer.py --case zebra --model /tmp/bench2/zebra/model.semia
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import metrics
from fullres_benchmark import Synthesizer, read_case, refinement_config, rgb8
from layout_breakdown import breakdown
from run_benchmark import DEFAULT_DATA

ROLL = 8


def known_answers(image: np.ndarray, labels: np.ndarray) -> dict:
    """name -> (true image, target labels): image and labels moved alike."""
    return {
        "flip": (np.fliplr(image).copy(), np.fliplr(labels).copy()),
        f"roll{ROLL}": (np.roll(image, ROLL, axis=1), np.roll(labels, ROLL, axis=1)),
    }


def through_size(image: np.ndarray, shape) -> np.ndarray:
    """``image`` shrunk to ``shape`` (anti-aliased) and enlarged back bicubically."""
    import torch
    import torch.nn.functional as F

    x = torch.from_numpy(metrics.to_float_rgb(image)).permute(2, 0, 1)[None].float()
    small = F.interpolate(x, size=tuple(shape), mode="bilinear", antialias=True, align_corners=False)
    back = F.interpolate(small, size=image.shape[:2], mode="bicubic", align_corners=False).clamp(0, 1)
    return (back[0].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)


def main(argv=None) -> None:
    import torch

    from napari_semia.model import SemiaModel

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--case", required=True)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--set", nargs="*", default=[], metavar="FIELD=VALUE",
                        help="override RefinementConfig fields, e.g. --set centre_label_weight=0")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)

    image, labels, _ = read_case(args.data / args.case)
    model = SemiaModel.load(args.model, device="cpu")
    source_index = model.codec.encode(labels)
    classifier = metrics.LayoutClassifier().fit(image, source_index)
    synthesizer = Synthesizer(model, image, labels, refinement_config(args.set))

    results = {}
    print("| target | output | mIoU-chg | acc-chg | misread <=1 px / 2-3 px / >3 px from a target edge |")
    print("|---|---|---|---|---|")
    for name, (truth, target) in known_answers(image, labels).items():
        target_index = model.codec.encode(target)
        if not metrics.changed_mask(source_index, target_index).any():
            continue  # a symmetric layout: nothing to score
        outputs = {"truth": truth, "truth_working": through_size(truth, model.working_shape),
                   "bicubic": synthesizer("bicubic", target), "refined": synthesizer("refined", target)}
        results[name] = {}
        for method, output in outputs.items():
            figures = breakdown(classifier.predict(rgb8(output)), source_index, target_index, 50)
            results[name][method] = figures
            bands = " / ".join("-" if band["misread"] is None else f"{band['misread']:.3f}"
                               for band in figures["bands"].values())
            print(f"| {name} | {method} | {figures['miou_changed']:.3f} | {figures['accuracy_changed']:.3f} "
                  f"| {bands} |", flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
