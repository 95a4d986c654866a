"""Do moved class edges look like the source's edges between the same classes?

A class edge has a look across its first pixels: a jaw's shadow on the skin
side and the darker neck under it, a crown's ragged rim against the sky. Where
a target moves an edge, the output should show that look along the new edge.
This script measures it without a classifier: for every ordered pair of
classes (k, j), the mean colour of the source's class-k pixels at each depth
d = 1 .. ``--depth`` from their nearest class-j pixel (the *profile* of the
k|j edge), against the same means of an output's class-k pixels (by the
target's labels) at that depth from the target's class-j pixels, counting
only output pixels within ``--depth`` of a changed pixel (the new edges and
the pixels whose look must change with them). The figure is the mean over
those pixels of the RMS colour difference (values in [0, 1]) between the
output's and the source's profile at the pixel's (k, j, d): 0 = the edited
edges have the source's profile exactly. Pixels whose nearest other class is
a third class, and (k, j, d) with fewer than ``--min-pixels`` source or
output pixels, are left out.

It reads the outputs a ``fullres_benchmark.py --out`` folder holds
(``bicubic_<target>.png``, ``refined_<target>.png``):

    python benchmarks/edge_profiles_benchmark.py --case face --model /tmp/bench2/face/model.semia \\
        --outputs /tmp/expF/face
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


def edge_depths(index: np.ndarray, max_depth: int) -> tuple[np.ndarray, np.ndarray]:
    """Per pixel, the rounded Euclidean distance to the nearest pixel of another class
    (1 next to it) and that class; depth 0 where it is farther than ``max_depth``
    or where two other classes are equally near (a corner of three classes)."""
    classes = np.unique(index)
    distances = np.full((len(classes),) + index.shape, np.inf)
    for n, c in enumerate(classes):
        distances[n] = ndi.distance_transform_edt(index != c)
    rows, cols = np.indices(index.shape)
    distances[np.searchsorted(classes, index), rows, cols] = np.inf  # the pixel's own class
    order = np.argsort(distances, axis=0)
    nearest = np.take_along_axis(distances, order[:1], 0)[0]
    # With one class there is no second entry (and no other class: nearest is inf).
    second = np.take_along_axis(distances, order[1:2], 0)[0] if len(classes) > 1 else nearest
    left_out = (nearest > max_depth) | (second <= nearest)
    depth = np.rint(np.where(left_out, 0, nearest)).astype(np.int64)
    return depth, classes[order[0]]


def profile_means(image: np.ndarray, index: np.ndarray, depth: np.ndarray, other: np.ndarray,
                  within: np.ndarray, min_pixels: int) -> dict:
    """{(k, j, d): (mean colour, pixel count)} of the ``within`` pixels of class k at
    depth d from class j, for every (k, j, d) with at least ``min_pixels`` pixels."""
    means = {}
    keep = within & (depth > 0)
    keys = np.stack([index[keep], other[keep], depth[keep]], 1)
    values = image[keep]
    if not len(keys):
        return means
    unique, inverse, counts = np.unique(keys, axis=0, return_inverse=True, return_counts=True)
    sums = np.zeros((len(unique), image.shape[-1]))
    np.add.at(sums, inverse.ravel(), values)
    for key, total, count in zip(unique, sums, counts):
        if count >= min_pixels:
            means[tuple(int(v) for v in key)] = (total / count, int(count))
    return means


def profile_error(source_profile: dict, output_profile: dict) -> tuple[float | None, int]:
    """Pixel-weighted mean RMS colour difference over the (k, j, d) both have, and
    the number of output pixels it covers (None, 0 when they share none)."""
    errors, weights = [], []
    for key, (mean, count) in output_profile.items():
        if key in source_profile:
            errors.append(float(np.sqrt(np.mean((mean - source_profile[key][0]) ** 2))))
            weights.append(count)
    if not weights:
        return None, 0
    return float(np.average(errors, weights=weights)), int(sum(weights))


def main(argv=None) -> None:
    from napari_semia.io import read_image_file

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    saved_outputs.add_arguments(parser)
    parser.add_argument("--depth", type=int, default=8, help="profile depth in full-size pixels")
    parser.add_argument("--min-pixels", type=int, default=10)
    args = parser.parse_args(argv)

    image, source_index, targets = saved_outputs.load_case(args)
    source_rgb = metrics.to_float_rgb(image)
    depth, other = edge_depths(source_index, args.depth)

    results = {}
    print(f"| target | changed px | pixels compared | profile error {' / '.join(METHODS)} |")
    print("|---|---|---|---|")
    for name, (target_index, changed) in targets.items():
        near = ndi.binary_dilation(changed, iterations=args.depth)
        # The source's edges by the edit (where the moved edges were), not the whole
        # image's: one pair of classes meets in several ways (skin by a jaw's shadow,
        # skin by a bright wall).
        source_profile = profile_means(source_rgb, source_index, depth, other,
                                       ndi.binary_dilation(changed, iterations=2 * args.depth),
                                       args.min_pixels)
        target_depth, target_other = edge_depths(target_index, args.depth)
        figures = {}
        for method in METHODS:
            path = saved_outputs.output_path(args.outputs, method, name, args.case)
            output = metrics.to_float_rgb(read_image_file(path))
            profile = profile_means(output, target_index, target_depth, target_other, near, args.min_pixels)
            figures[method] = profile_error(source_profile, profile)
        results[name] = {m: {"error": e, "pixels": n} for m, (e, n) in figures.items()}
        shown = " / ".join("-" if e is None else f"{e:.4f}" for e, _ in figures.values())
        print(f"| {name} | {int(changed.sum())} | {figures['refined'][1]} | {shown} |", flush=True)
    (args.outputs / "edge_profiles.json").write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
