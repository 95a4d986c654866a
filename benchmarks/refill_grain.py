"""Does a refined output keep the source's grain where the layout changed?

For each shared example's targets (``cond/*``, not ``rec``) and each
``fullres_benchmark.py --out`` root given (``ROOT/<case>/refined_<target>.png``),
the *grain ratio*: the standard deviation of the fine detail (the grey image
minus a Gaussian blur of sigma 2) on the changed pixels of each class, 3 px or
more inside the class in the target, against that of the class's own pixels 3 px
or more inside it in the source; the classes weighted by their changed pixels
(classes of under 200 such pixels left out). 1 is the source's grain; an
average of copies matched to different places reads lower.

    python benchmarks/refill_grain.py /tmp/before /tmp/after
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from scipy import ndimage as ndi

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fullres_benchmark import read_case
from run_benchmark import DEFAULT_DATA

CASES = ("building", "zebra", "tree", "face")
INSIDE = 3
LEAST_PIXELS = 200


def fine_detail(image: np.ndarray) -> np.ndarray:
    grey = np.asarray(image, dtype=np.float64)
    grey = grey.mean(axis=-1) if grey.ndim == 3 else grey
    return grey - ndi.gaussian_filter(grey, 2)


def grain_ratio(output, source_detail, source_index, target_index) -> float | None:
    """The changed pixels' grain against the source's, class by class (see above)."""
    detail = fine_detail(output)
    changed = target_index != source_index
    weights, ratios = [], []
    for k in np.unique(target_index[changed]):
        here = changed & ndi.binary_erosion(target_index == k, iterations=INSIDE)
        there = ndi.binary_erosion(source_index == k, iterations=INSIDE)
        if here.sum() < LEAST_PIXELS or there.sum() < LEAST_PIXELS:
            continue
        weights.append(here.sum())
        ratios.append(detail[here].std() / source_detail[there].std())
    if not weights:
        return None
    return float(np.average(ratios, weights=weights))


def main(argv=None) -> int:
    from skimage import io as skio

    from napari_semia.labels import LabelCodec

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("roots", nargs="+", type=Path, help="fullres_benchmark.py --out roots")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    args = parser.parse_args(argv)
    print("| case | target | " + " | ".join(str(root) for root in args.roots) + " |")
    print("|---|---|" + "---|" * len(args.roots))
    columns = [[] for _ in args.roots]
    for case in CASES:
        source, labels, targets = read_case(args.data / case)
        codec, source_index = LabelCodec.from_source(labels)
        source_detail = fine_detail(source)
        for name, target in targets.items():
            if name == "rec":
                continue
            target_index = codec.encode(target)
            ratios = []
            for root in args.roots:
                output = skio.imread(root / case / f"refined_{name}.png")[..., :3]
                ratios.append(grain_ratio(output, source_detail, source_index, target_index))
            if any(r is None for r in ratios):
                continue
            for column, ratio in zip(columns, ratios):
                column.append(ratio)
            print(f"| {case} | {name} | " + " | ".join(f"{r:.2f}" for r in ratios) + " |")
    print("| median | | " + " | ".join(f"{np.median(c):.2f}" for c in columns) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
