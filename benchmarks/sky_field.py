"""A crowded sky field: scikit-image's Hubble deep field, its sources as two classes.

Writes, in the shared examples' layout (so ``run_benchmark.py --data`` and
``fullres_benchmark.py --data`` read it as a case), ``<out>/sky/``:

* ``img.png``: the photo as bundled (872 x 1000 RGB, display-stretched 8 bit);
* ``flux.tif``: the same as an astronomer's raw frame would have it, grey and
  linear in flux (``(v / 255) ** 2.2 * 65535``, uint16): a dark sky at a
  fraction of a percent of the range, bright sources;
* ``label.png``: 0 sky, 1 compact sources (under 60 px), 2 extended ones
  (about 1500 sources above a local background, as a new user labelled them);
* ``cond/remove_compact.png``: the compact sources of the top-left quarter
  removed, a copy of the largest galaxy added; ``cond/rec.png``: the source's
  layout.

What these show is in ``README.md`` ("A crowded sky field"). Deterministic; a
few seconds.

    python benchmarks/sky_field.py --out /tmp/sky-case
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

#: Sources of fewer pixels are "compact" (class 1), the others "extended" (class 2).
COMPACT_PIXELS = 60


def sky_case():
    """(image, flux, labels, targets) of the field."""
    from scipy import ndimage as ndi
    from skimage import data, filters, measure, morphology

    from napari_semia.samples import remove_small_objects

    image = data.hubble_deep_field()
    grey = image.astype(float).mean(-1)
    residual = grey - filters.gaussian(grey, 20, preserve_range=True)
    noise = np.std(residual[residual < np.percentile(residual, 80)])
    mask = residual > max(3 * noise, 12)
    mask = remove_small_objects(mask, 4)  # pieces of 4 px or fewer: noise, no source
    mask = ndi.binary_dilation(mask, morphology.disk(1))
    sources = measure.label(mask)
    areas = np.bincount(sources.ravel())
    labels = np.where(areas[sources] < COMPACT_PIXELS, 1, 2).astype(np.uint8)
    labels[sources == 0] = 0

    target = labels.copy()
    h, w = labels.shape
    quarter = target[: h // 2, : w // 2]
    quarter[quarter == 1] = 0
    largest = measure.regionprops(sources)[int(np.argmax(areas[1:]))]
    r0, c0, r1, c1 = largest.bbox
    shape = sources[r0:r1, c0:c1] == largest.label
    target[100:100 + shape.shape[0], 700:700 + shape.shape[1]][shape] = 2
    flux = ((grey / 255.0) ** 2.2 * 65535).astype(np.uint16)
    return image, flux, labels, {"remove_compact": target, "rec": labels.copy()}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="folder to write sky/ into")
    args = parser.parse_args(argv)
    import tifffile
    from skimage import io

    image, flux, labels, targets = sky_case()
    case = args.out / "sky"
    (case / "cond").mkdir(parents=True, exist_ok=True)
    io.imsave(case / "img.png", image, check_contrast=False)
    tifffile.imwrite(case / "flux.tif", flux)
    io.imsave(case / "label.png", labels, check_contrast=False)
    for name, target in targets.items():
        io.imsave(case / "cond" / f"{name}.png", target, check_contrast=False)
    counts = np.bincount(labels.ravel(), minlength=3) / labels.size
    print(f"wrote {case}: image {image.shape}, class shares {np.round(counts, 3).tolist()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
