"""Where the refined output loses layout agreement to the bicubic one: at new edges?

Reads the images ``fullres_benchmark.py`` wrote (``bicubic_<target>.png``,
``refined_<target>.png``) and scores variants of the refined output whose
*edge band* (pixels on a class edge of the target, within 3 px of a changed
pixel) is replaced: by the bicubic output's pixels, by a 50 / 50 mix, or by
the refined output's own 3 x 3 mean (softer edges, no generator). Prints the
layout agreement on changed pixels, the changed-pixel patch distance and the
Laplacian-variance ratio of each (``metrics.py``, as in the tables).

    python benchmarks/edge_band_probe.py --case tree --model benchmarks/results/tree-default/model.semia \\
        --results benchmarks/results/fullres/tree --targets 1 3 4 mask_1
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from scipy import ndimage as ndi

sys.path.insert(0, str(Path(__file__).resolve().parent))
import metrics
from fullres_benchmark import read_case
from run_benchmark import DEFAULT_DATA


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", required=True)
    parser.add_argument("--model", required=True, type=Path)
    parser.add_argument("--results", required=True, type=Path, help="a fullres_benchmark.py --out folder")
    parser.add_argument("--targets", nargs="+", required=True)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    args = parser.parse_args(argv)

    from skimage import io

    from napari_semia.model import SemiaModel

    model = SemiaModel.load(args.model, device="cpu")
    image, labels, targets = read_case(args.data / args.case)
    source_index = model.codec.encode(labels)
    classifier = metrics.LayoutClassifier().fit(image, source_index)
    appearance = metrics.PatchAppearance(image, source_index)
    for name in args.targets:
        target_index = model.codec.encode(targets[name])
        changed = source_index != target_index
        edge = ndi.morphological_gradient(target_index, size=3) > 0
        band = edge & ndi.binary_dilation(changed, iterations=3)
        bicubic = io.imread(args.results / f"bicubic_{name}.png")[..., :3].astype(float)
        refined = io.imread(args.results / f"refined_{name}.png")[..., :3].astype(float)
        variants = {"refined": refined, "band bicubic": bicubic, "band 50/50": (refined + bicubic) / 2,
                    "band 3x3 mean": ndi.uniform_filter(refined, size=(3, 3, 1)), "bicubic": None}
        row = []
        for label, band_values in variants.items():
            if band_values is None:
                output = bicubic
            else:
                output = refined.copy()
                output[band] = band_values[band]
            output = output.round().astype(np.uint8)
            scores = metrics.layout_scores(classifier.predict(output), source_index, target_index)
            layout = scores["miou_changed"]
            patch = appearance.distance(output, target_index, 2000, mask=changed)["mean"]
            sharp = metrics.sharpness_ratio(output, image, "laplacian")
            row.append(f"{label} {layout:.3f} / {patch:.4f} / {sharp:.2f}")
        print(f"{args.case} {name} ({int(band.sum())} band px): " + " | ".join(row), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
