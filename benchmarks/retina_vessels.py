"""A fundus case with thin structures: scikit-image's retina photo, its vessels as a class.

Writes, in the shared examples' layout (so ``run_benchmark.py --data`` and
``fullres_benchmark.py --data`` read it as a case): ``<out>/retina/img.png``
(1411 x 1411 RGB, bundled with scikit-image: nothing is downloaded),
``label.png`` (0 outside the eye, 1 fundus, 2 vessels: a Sato ridge filter on
the green channel, thresholded at its 86th percentile inside the eye; about
the width a user's brush gives them, 0.10 of the image) and ``cond/``:

* ``erase_box.png``: every vessel in a 300 x 300 box erased into fundus (many
  thin objects removed from a plain class);
* ``new_vessel.png``: a straight vessel 5 px wide painted across the fundus
  (a structure under a pixel wide at the 256-px working size);
* ``rec.png``: the source's layout.

What these show, and what was tried on them, is in ``README.md`` ("A fundus
photo's vessels"). Deterministic; about 3 s.

    python benchmarks/retina_vessels.py --out /tmp/retina-case
    python benchmarks/run_benchmark.py --data /tmp/retina-case --case retina --preset quick \\
        --out /tmp/retina-quick --skip-quality
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

#: The erased box and the new vessel's line (rows, columns of the 1411-px photo).
ERASED_BOX = (slice(300, 600), slice(800, 1100))
NEW_VESSEL_HALF_WIDTH = 2.5


def retina_case():
    """(image, labels, targets): the photo, its 3-class label map, and {name: target}."""
    from scipy import ndimage as ndi
    from skimage import color, data, filters

    from napari_semia.samples import remove_small_objects

    image = data.retina()
    green = image[..., 1].astype(float) / 255
    eye = ndi.binary_fill_holes(ndi.uniform_filter(color.rgb2gray(image), 5) > 0.06)
    eye = ndi.binary_erosion(eye, iterations=3)
    ridges = filters.sato(green, sigmas=[2, 3, 4], black_ridges=True)
    ridges[~eye] = 0
    vessels = ridges > np.quantile(ridges[eye], 0.86)
    # Specks of ridge response are no vessel (4-connected pieces under 200 px dropped).
    vessels = remove_small_objects(vessels, 199) & eye
    labels = np.zeros(green.shape, np.uint8)
    labels[eye] = 1
    labels[vessels] = 2

    erased = labels.copy()
    box = erased[ERASED_BOX]
    box[box == 2] = 1
    h, w = labels.shape
    rows, cols = np.ogrid[:h, :w]
    line = (np.abs((rows - 900) - 0.5 * (cols - 400)) < NEW_VESSEL_HALF_WIDTH) & (cols > 400) & (cols < 800)
    new_vessel = labels.copy()
    new_vessel[line & eye] = 2
    return image, labels, {"erase_box": erased, "new_vessel": new_vessel, "rec": labels.copy()}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="folder to write retina/ into")
    args = parser.parse_args(argv)
    from skimage import io

    image, labels, targets = retina_case()
    case = args.out / "retina"
    (case / "cond").mkdir(parents=True, exist_ok=True)
    io.imsave(case / "img.png", image, check_contrast=False)
    io.imsave(case / "label.png", labels, check_contrast=False)
    for name, target in targets.items():
        io.imsave(case / "cond" / f"{name}.png", target, check_contrast=False)
    print(f"wrote {case}: image {image.shape}, class shares "
          f"{np.round(np.bincount(labels.ravel(), minlength=3) / labels.size, 3).tolist()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
