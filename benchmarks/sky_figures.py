"""Figures of the crowded sky field (``sky_field.py``): is the sky refilled at its
level with its noise, and do moved sources keep their light?

On ``flux.tif`` (linear, 16 bit; or ``--image img.png``, the display-stretched
photo), with the full-resolution stage from the labels alone (no model):

* ``remove_compact``, the edited top-left quarter's sky (4 px or more from any
  source, in the source and the target): the share at or below the source
  sky's 1st percentile, the share at 0, its median against the source sky's,
  and its fine noise (the image minus a Gaussian blur of sigma 2) against the
  source sky's;
* the whole layout shifted by (8, 13) px: the median peak above the sky of the
  compact and of the extended sources, against the source's; matched, and
  given each object pixel's source position (``known_sources``).

``--model M`` adds the model's full-resolution result for ``remove_compact``;
``--pairs FOLDER`` (a dataset made by ``napari-semia generate``) the sky and the
compact sources' peaks of each pair. Ablations, to compare with the code
before: ``--linear`` (no channel stretched, votes as they were), ``--stretched-votes``
(stretched, but votes averaging the stretched values).

    python benchmarks/sky_field.py --out /tmp/sky-case
    python benchmarks/sky_figures.py --case /tmp/sky-case/sky
    python benchmarks/sky_figures.py --case /tmp/sky-case/sky --linear
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np


def sky_masks(source_labels, target_labels):
    """(source sky, refilled sky of the edited quarter): 4 px or more from any source."""
    from scipy import ndimage as ndi

    far_source = ~ndi.binary_dilation(source_labels > 0, iterations=4)
    far_target = ~ndi.binary_dilation(target_labels > 0, iterations=4)
    quarter = np.zeros_like(far_source)
    h, w = quarter.shape
    quarter[: h // 2, : w // 2] = True
    return far_source, far_target & quarter


def fine_noise(image):
    from scipy import ndimage as ndi

    return image - ndi.gaussian_filter(image, 2)


def sky_figures(source, labels, output, target) -> str:
    source, output = _grey(source), _grey(output)
    sky, refilled = sky_masks(labels, target)
    low = np.percentile(source[sky], 1)
    noise = fine_noise(output)[refilled].std() / fine_noise(source)[sky & refilled].std()
    return (f"refilled sky: at or below the source sky's 1st percentile "
            f"{(output[refilled] <= low).mean():.3f} "
            f"(source {(source[sky] <= low).mean():.3f}), at 0 {(output[refilled] == 0).mean():.3f}, "
            f"median {np.median(output[refilled]):.0f} (source {np.median(source[sky]):.0f}), "
            f"fine noise {noise:.2f} of the source's")


def peak_figures(image, labels) -> dict:
    """Sky median and MAD, and the median peak above the sky of each source class."""
    from scipy import ndimage as ndi
    from skimage import measure

    image = _grey(image)
    sky = ~ndi.binary_dilation(labels > 0, iterations=4)
    level = float(np.median(image[sky]))
    figures = {"sky": level, "mad": 1.4826 * float(np.median(np.abs(image[sky] - level))),
               "sky_at_0": float((image[sky] <= 0).mean())}
    for name, cls in (("compact", 1), ("extended", 2)):
        regions = measure.regionprops(measure.label(labels == cls), intensity_image=image - level)
        figures[name] = float(np.median([r.intensity_max for r in regions])) if regions else float("nan")
    return figures


def _grey(image):
    image = np.asarray(image, dtype=float)
    return image.mean(-1) if image.ndim == 3 else image


def _describe(figures: dict) -> str:
    return (f"sky {figures['sky']:.0f} MAD {figures['mad']:.1f} at 0 {figures['sky_at_0']:.3f}; "
            f"median peak above the sky: compact {figures['compact']:.0f}, "
            f"extended {figures['extended']:.0f}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", type=Path, required=True, help="the sky/ folder sky_field.py wrote")
    parser.add_argument("--image", default="flux.tif", help="the source image in it (default flux.tif)")
    parser.add_argument("--model", type=Path, help="a model trained on that image and label.png")
    parser.add_argument("--pairs", type=Path, help="a dataset folder of that model")
    parser.add_argument("--linear", action="store_true", help="ablation: no channel stretched")
    parser.add_argument("--stretched-votes", action="store_true",
                        help="ablation: votes average the stretched values")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)

    import torch

    torch.set_num_threads(args.threads)
    import napari_semia.intensity as intensity
    import napari_semia.patch_vote as patch_vote
    from napari_semia.io import read_image_file, read_label_file
    from napari_semia.labels_only import LabelsOnlySynthesizer

    if args.linear:
        intensity.LINEAR_HDR_MEDIAN = 0.0
    if args.stretched_votes:
        patch_vote.LinearUnits.of = classmethod(lambda cls, normalizer, device: None)

    source = read_image_file(args.case / args.image)
    labels = np.asarray(read_label_file(args.case / "label.png"))
    target = np.asarray(read_label_file(args.case / "cond" / "remove_compact.png"))
    shifted = np.roll(labels, (8, 13), axis=(0, 1))
    synthesizer = LabelsOnlySynthesizer(source, labels, device="cpu")
    print("stretched:", intensity.IntensityNormalizer.fit(source).stretched and not args.linear)
    print("labels only, remove_compact:", sky_figures(source, labels, synthesizer.synthesize(target), target))
    print("source:", _describe(peak_figures(source, labels)))
    print("labels only, shifted (8, 13):", _describe(peak_figures(synthesizer.synthesize(shifted), shifted)))
    rows, cols = np.mgrid[: labels.shape[0], : labels.shape[1]].astype(np.float32)
    positions = np.stack([rows - 8, cols - 13])
    positions[:, shifted == 0] = np.nan  # the objects' source positions, as a layout sampler gives them
    print("labels only, shifted (8, 13), positions given:",
          _describe(peak_figures(synthesizer.synthesize(shifted, source_positions=positions), shifted)))
    if args.model is not None:
        from napari_semia.model import SemiaModel

        model = SemiaModel.load(args.model, device="cpu")
        print("model, remove_compact:", sky_figures(source, labels, model.synthesize(target), target))
    if args.pairs is not None:
        from napari_semia.dataset import load_manifest

        for row in load_manifest(args.pairs):
            pair = read_image_file(args.pairs / row["image"])
            pair_labels = np.asarray(read_label_file(args.pairs / row["labels"]))
            print(f"pair {row['image']}:", _describe(peak_figures(pair, pair_labels)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
