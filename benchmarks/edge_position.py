"""Where does an output put the image's edge relative to the target's label edge?

A label map draws each class edge on a pixel grid; the image's own edge (the
step in colour) lies a fraction of a pixel inside or outside it, by how the
source was labelled. An output made of the source's edges keeps the source's
habit; a network may draw its edges a little inside or outside instead, and a
classifier trained on the source then reads the pixels next to the new edges
differently. This script measures the habit without a classifier: for each
class k that the target paints on changed pixels and each class j across
its edges there, the mean gradient magnitude (Sobel of the grey image,
values in [0, 1]) of the pixels at each signed distance from the k|j edge
(-0.5 the last pixel of k, +0.5 the first of j, up to ``EDGE_BINS`` pixels
each way; a pixel counts for the pair of its own class and its nearest
other class, as in ``edge_profiles_benchmark.py``), counting only pixels
within ``NEAR_CHANGED`` px of a changed pixel, and the *edge centre*: the gradient-weighted
mean signed distance over the four bins next to the edge, with the mean of
the two outermost bins (the texture's own gradient) taken off first.
0 = the image's edge lies on the label edge; negative = inside class k. The
source's centre is that of its own k|j edges, over the whole image.

It reads the outputs a ``fullres_benchmark.py --out`` folder holds
(``bicubic_<target>.png``, ``refined_<target>.png``, ``labels_<target>.png``):

    python benchmarks/edge_position.py --case face --model /tmp/bench2/face/model.semia \\
        --outputs /tmp/expH/face
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
from edge_profiles_benchmark import edge_depths

METHODS = ("bicubic", "refined", "labels")
#: Bins of the profile: signed distances -3.5, -2.5, ..., +3.5 pixels.
EDGE_BINS = 4
#: A class's profile needs this many pixels in each bin next to the edge.
MIN_PIXELS = 30
#: Pixels within this many pixels of a changed pixel count for an output (the
#: profile's outermost bins included).
NEAR_CHANGED = EDGE_BINS + 1


def pair_distance(index: np.ndarray, depth: np.ndarray, other: np.ndarray, k: int, j: int) -> np.ndarray:
    """Per pixel, its signed distance from the k|j edge (``edge_depths``' depth and
    nearest other class): -0.5 on class k's rim facing j, +0.5 on class j's rim
    facing k, one more a pixel each way; NaN for pixels of other pairs or too deep."""
    distance = np.full(index.shape, np.nan)
    on_k = (index == k) & (other == j) & (depth > 0)
    on_j = (index == j) & (other == k) & (depth > 0)
    distance[on_k] = 0.5 - depth[on_k]
    distance[on_j] = depth[on_j] - 0.5
    return distance


def gradient_magnitude(image) -> np.ndarray:
    grey = metrics.to_float_rgb(image).mean(axis=-1)
    return np.hypot(ndi.sobel(grey, 0), ndi.sobel(grey, 1))


def edge_profile(gradient: np.ndarray, distance: np.ndarray, mask: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Mean gradient and pixel count per signed-distance bin (-EDGE_BINS + 0.5 .. EDGE_BINS - 0.5)."""
    centres = np.arange(-EDGE_BINS, EDGE_BINS) + 0.5
    means, counts = np.full(len(centres), np.nan), np.zeros(len(centres), np.int64)
    for n, centre in enumerate(centres):
        selected = mask & (np.abs(distance - centre) < 0.5)
        counts[n] = selected.sum()
        if counts[n]:
            means[n] = gradient[selected].mean()
    return means, counts


def edge_centre(means: np.ndarray, counts: np.ndarray) -> float | None:
    """Gradient-weighted mean signed distance over the four bins next to the edge, the
    outermost bins' mean taken off; None where a bin next to the edge has too few pixels."""
    middle = slice(EDGE_BINS - 2, EDGE_BINS + 2)
    if (counts[middle] < MIN_PIXELS).any() or np.isnan(means[[0, -1]]).any():
        return None
    centres = np.arange(-EDGE_BINS, EDGE_BINS)[middle] + 0.5
    weights = np.clip(means[middle] - means[[0, -1]].mean(), 0, None)
    if weights.sum() <= 0:
        return None
    return float((weights * centres).sum() / weights.sum())


def main(argv=None) -> None:
    from napari_semia.io import read_image_file

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    saved_outputs.add_arguments(parser)
    args = parser.parse_args(argv)

    image, source_index, targets = saved_outputs.load_case(args)
    source_gradient = gradient_magnitude(image)
    source_depth, source_other = edge_depths(source_index, EDGE_BINS)
    everywhere = np.ones(source_index.shape, bool)
    source_profiles = {}  # (k, j) -> the source's own profile, the same for every target
    results = {}
    print("| target | edge k\\|j | changed px of k | edge centre source / " + " / ".join(METHODS) + " |")
    print("|---|---|---|---|")
    for name, (target_index, changed) in targets.items():
        near = ndi.binary_dilation(changed, iterations=NEAR_CHANGED)
        depth, other = edge_depths(target_index, EDGE_BINS)
        gradients = {m: gradient_magnitude(read_image_file(
            saved_outputs.output_path(args.outputs, m, name, args.case))) for m in METHODS}
        results[name], seen = {}, set()
        painted = np.bincount(target_index[changed])
        # Each edge once, seen from the class painted on more of its changed pixels.
        for k in np.argsort(-painted, kind="stable")[:np.count_nonzero(painted)]:
            k = int(k)
            for j in np.unique(other[near & (target_index == k) & (depth > 0)]):
                j = int(j)
                if frozenset((k, j)) in seen:
                    continue
                seen.add(frozenset((k, j)))
                distance = pair_distance(target_index, depth, other, k, j)
                if (k, j) not in source_profiles:
                    source_distance = pair_distance(source_index, source_depth, source_other, k, j)
                    source_profiles[k, j] = edge_profile(source_gradient, source_distance, everywhere)
                source_means, source_counts = source_profiles[k, j]
                entry = {"changed_pixels": int((changed & (target_index == k)).sum()),
                         "source": {"profile": source_means.tolist(),
                                    "centre": edge_centre(source_means, source_counts)}}
                for method, gradient in gradients.items():
                    means, counts = edge_profile(gradient, distance, near)
                    entry[method] = {"profile": means.tolist(), "centre": edge_centre(means, counts)}
                centres = [entry[m]["centre"] for m in ("source",) + METHODS]
                if all(c is None for c in centres[1:]):
                    continue  # too few pixels by the edited edges
                results[name][f"{k}|{j}"] = entry
                print(f"| {name} | {k}\\|{j} | {entry['changed_pixels']} | "
                      + " / ".join("-" if c is None else f"{c:+.2f}" for c in centres) + " |", flush=True)
    (args.outputs / "edge_position.json").write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
