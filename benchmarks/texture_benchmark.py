"""Is a rebuilt low-contrast texture still the texture, or flat patches?

A new user with an SEM micrograph (a grey matrix of gravel-like texture, bright
grains and dark pores, uint16 in a narrow range; the pores include the small
dark crevices a threshold picks up) found that rebuilt matrix came out as flat,
tiled grey patches: erasing every pore, and in synthetic dataset pairs.

1. Build that image offline (scikit-image's bundled ``gravel`` as the matrix's
   texture, drawn grains and pores, shot noise; 768 x 1024 uint16) and label it
   by thresholds, as a user would: 1 matrix, 2 grains, 3 pores.
2. Train napari-semia on it (``--preset``, default quick) or load ``--model``.
3. Synthesize at full resolution (a) the target with every pore and grain
   erased (all matrix) and (b) ``--count`` dataset layouts (pores as objects).
4. Score the matrix pixels the target changed against the source's matrix:
   * **flat share**: the share of them whose local standard deviation (15 x 15
     window, matrix pixels only) is below the source matrix's 5th percentile
     (about 0.05 for the source itself; flat patches raise it);
   * **texture ratio**: their median local standard deviation over the source
     matrix's;
   * in the pairs, **faint small pores**: the share of pores of 20 px or less
     that the layout put where the source has none and that come out faint
     (the matrix around them less than 1000 above their darkest pixel; the
     source's small pores: none, median 3100), labels with no pore to see.

Writes ``results.json`` and ``montage.png`` (source | all-matrix result | first
pair, each with a 1:1 crop) into ``--out``.

    python benchmarks/texture_benchmark.py --out /tmp/texture
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from scipy import ndimage as ndi

MATRIX, GRAINS, PORES = 1, 2, 3
WINDOW = 15


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--model", type=Path,
                        help="use this model (trained on the image) instead of training")
    parser.add_argument("--preset", default="quick", help="training preset (default: quick)")
    parser.add_argument("--count", type=int, default=4, help="dataset layouts (default 4)")
    parser.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    return parser.parse_args(argv)


def sem_like(seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """(768, 1024) uint16 micrograph and its uint8 labels (1 matrix, 2 grains, 3 pores)."""
    from skimage import data, filters, morphology, transform

    rng = np.random.default_rng(seed)
    height, width = 768, 1024
    yy, xx = np.mgrid[:height, :width]
    grains = np.zeros((height, width), bool)
    for _ in range(45):
        cy, cx = rng.uniform(0, height), rng.uniform(0, width)
        a, b, angle = rng.uniform(15, 45), rng.uniform(10, 35), rng.uniform(0, np.pi)
        y, x = yy - cy, xx - cx
        u = (x * np.cos(angle) + y * np.sin(angle)) / a
        v = (-x * np.sin(angle) + y * np.cos(angle)) / b
        grains |= u * u + v * v < 1
    roughness = filters.gaussian(rng.standard_normal((height, width)), 4)
    grains = filters.gaussian(grains.astype(float), 3) + 2 * roughness > 0.5
    pores = np.zeros((height, width), bool)
    for count, radii in ((60, (4, 12)), (40, (1.5, 2.5))):
        for _ in range(count):
            cy, cx = rng.uniform(10, height - 10), rng.uniform(10, width - 10)
            pores |= (yy - cy) ** 2 + (xx - cx) ** 2 < rng.uniform(*radii) ** 2
    gravel = transform.resize(data.gravel().astype(float), (height, width), order=1)
    gravel = (gravel - gravel.mean()) / gravel.std()
    speckle = filters.gaussian(rng.standard_normal((height, width)), 1.5)
    image = 14000 + 1500 * gravel
    image = np.where(grains, 22000 + 4500 * speckle + 800 * gravel, image)
    rim = filters.gaussian(grains.astype(float), 2)
    image += 20000 * rim * (1 - rim)  # edges brighten in SEM
    image = np.where(pores, 9000 + 400 * speckle, image)
    image = np.where(ndi.binary_dilation(pores, iterations=2) & ~pores, image + 2500, image)
    image = np.clip(image + rng.normal(0, 600, (height, width)), 8000, 30000).astype(np.uint16)
    smooth = filters.gaussian(image.astype(float), 1.5, preserve_range=True)
    labels = np.full((height, width), MATRIX, np.uint8)
    labels[ndi.binary_fill_holes(morphology.remove_small_objects(smooth > 18500, max_size=30))] = GRAINS
    labels[morphology.remove_small_objects(smooth < 11000, max_size=4) | pores] = PORES
    return image, labels


def local_spread(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Standard deviation over the ``mask`` pixels of each pixel's window (NaN where
    fewer than a third of the window is in the mask)."""
    weight = ndi.uniform_filter(mask.astype(float), WINDOW)
    values = np.where(mask, image.astype(float), 0.0)
    mean = ndi.uniform_filter(values, WINDOW) / np.maximum(weight, 1e-9)
    square = ndi.uniform_filter(values ** 2, WINDOW) / np.maximum(weight, 1e-9)
    spread = np.sqrt(np.maximum(square - mean ** 2, 0))
    return np.where(weight > 1 / 3, spread, np.nan)


def texture_scores(output, source, source_labels, target) -> dict:
    reference = local_spread(source, source_labels == MATRIX)
    reference = reference[(source_labels == MATRIX) & np.isfinite(reference)]
    floor = np.percentile(reference, 5)
    rebuilt = (target == MATRIX) & (source_labels != MATRIX)
    rebuilt |= (target == MATRIX) & ndi.binary_dilation(source_labels != MATRIX, iterations=8)
    spread = local_spread(output, target == MATRIX)[rebuilt]
    spread = spread[np.isfinite(spread)]
    return {"pixels": int(spread.size), "flat_share": round(float((spread < floor).mean()), 3),
            "texture_ratio": round(float(np.median(spread) / np.median(reference)), 3)}


def small_pore_depths(output, layout, source_labels=None) -> np.ndarray:
    """For each pore of 20 px or less in ``layout`` (where ``source_labels`` has no
    pore, when given): the mean of the matrix 2-4 px around it minus its darkest pixel."""
    from skimage import measure

    depths = []
    for region in measure.regionprops(measure.label(layout == PORES)):
        if region.area > 20:
            continue
        rows, columns = region.coords.T
        if source_labels is not None and (source_labels[rows, columns] == PORES).any():
            continue
        pore = np.zeros(layout.shape, bool)
        pore[rows, columns] = True
        ring = ndi.binary_dilation(pore, iterations=4) & ~ndi.binary_dilation(pore) & (layout == MATRIX)
        if ring.sum() >= 5:
            depths.append(float(output[ring].mean()) - float(output[pore].min()))
    return np.array(depths)


def to_8_bit(image: np.ndarray) -> np.ndarray:
    return np.clip((image.astype(float) - 8000) / 22000 * 255, 0, 255).astype(np.uint8)


def main(argv=None) -> int:
    args = parse_args(argv)
    import torch

    from napari_semia.config import preset
    from napari_semia.dataset import generate, load_manifest
    from napari_semia.io import read_image_file, read_label_file
    from napari_semia.layout_sampler import LayoutSamplerSettings
    from napari_semia.model import SemiaModel
    from napari_semia.trainer import SemiaTrainer

    torch.set_num_threads(args.threads)
    args.out.mkdir(parents=True, exist_ok=True)
    image, labels = sem_like()
    record: dict = {"preset": args.preset}
    model_path = args.model
    if model_path is None:
        started = time.perf_counter()
        trainer = SemiaTrainer(image, labels, preset(args.preset), device="cpu", warn=False)
        for _ in trainer.run():
            pass
        model_path = args.out / "model.semia"
        trainer.model.save(model_path)
        record["training_seconds"] = round(time.perf_counter() - started, 1)
    model = SemiaModel.load(model_path, device="cpu")
    all_matrix = np.full_like(labels, MATRIX)
    started = time.perf_counter()
    erased = model.synthesize(all_matrix)
    record["all_matrix"] = {**texture_scores(erased, image, labels, all_matrix),
                            "seconds": round(time.perf_counter() - started, 1)}
    # The dataset's own path: pores are the objects, the rest is background.
    folder = args.out / "pairs"
    generate(model_path, folder, args.count, seed=0, source_labels=labels,
             sampler_settings=LayoutSamplerSettings(object_ids=(PORES,)))
    pairs = [(read_label_file(folder / row["labels"]), read_image_file(folder / row["image"]))
             for row in load_manifest(folder)]
    record["pairs"] = []
    for layout, output in pairs:
        depths = small_pore_depths(output, layout, labels)
        record["pairs"].append({**texture_scores(output, image, labels, layout),
                                "small_pores": int(depths.size),
                                "faint_small_pores": round(float((depths < 1000).mean()), 3)})
    record["pairs_mean"] = {key: round(float(np.mean([p[key] for p in record["pairs"]])), 3)
                            for key in ("flat_share", "texture_ratio", "faint_small_pores")}
    record["source"] = texture_scores(image, image, labels, labels)  # reference: the source itself
    depths = small_pore_depths(image, labels)
    record["source"].update(small_pores=int(depths.size),
                            faint_small_pores=round(float((depths < 1000).mean()), 3),
                            small_pore_depth=round(float(np.median(depths))))
    (args.out / "results.json").write_text(json.dumps(record, indent=2) + "\n")
    # Top: each image at half size; below it, a 256-px crop of it at 1:1.
    crop = (slice(200, 456), slice(300, 556))
    panels = [image, erased] + ([pairs[0][1]] if pairs else [])
    halves = [to_8_bit(panel[::2, ::2]) for panel in panels]
    crops = [np.pad(to_8_bit(panel[crop]), ((0, 0), (0, half.shape[1] - 256)))
             for panel, half in zip(panels, halves)]
    from PIL import Image

    Image.fromarray(np.concatenate([np.concatenate(halves, 1), np.concatenate(crops, 1)])).save(
        args.out / "montage.png")
    print(json.dumps({key: record[key] for key in ("all_matrix", "pairs_mean", "source")}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
