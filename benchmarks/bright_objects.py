"""Rare bright objects: do synthetic pairs show the objects their labels name?

A fluorescence-like source: a uint16 background (about 3000, noise 300) with a
few small bright spots (50 000), labelled class 1, covering well under 0.5 % of
the pixels, so the spots lie beyond the intensity normaliser's 99.5th
percentile. A quick model is trained on it, then dataset pairs are made (the
layout sampler moves, drops and copies the spots), and this prints, per pair
and over all of them, the mean intensity of the pixels labelled spot and of the
rest, and the fraction of spot pixels brighter than the background's brightest
(its 99.9th percentile). Where the spots came out at the percentile, that
fraction was 0: labels naming spots the image does not show.

    python benchmarks/bright_objects.py --out /tmp/bright --pairs 8

Also prints the labels-only result (no training) for one moved spot layout.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import numpy as np

SPOT, BACKGROUND = 50_000, 3_000


def make_source(size: int = 128, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = np.zeros((size, size), np.uint8)
    yy, xx = np.mgrid[:size, :size]
    for cy, cx in [(30, 30), (40, 90), (90, 50), (100, 100)]:
        labels[np.hypot(yy - cy, xx - cx) < 2] = 1
    image = (BACKGROUND + rng.normal(0, 300, labels.shape)).clip(0).astype(np.uint16)
    image[labels == 1] = SPOT
    return image, labels


def read_pair(image, labels) -> dict:
    spot = labels == 1
    brightest = float(np.percentile(image[~spot], 99.9))
    return {"spot_pixels": int(spot.sum()), "spot_mean": float(image[spot].mean()) if spot.any() else None,
            "background_mean": float(image[~spot].mean()),
            "spot_brighter_than_background": float((image[spot] > brightest).mean()) if spot.any() else None}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--pairs", type=int, default=8)
    parser.add_argument("--steps", type=int, default=100)
    args = parser.parse_args()

    from napari_semia.config import TrainingConfig
    from napari_semia.dataset import generate, load_manifest
    from napari_semia.intensity import IntensityNormalizer
    from napari_semia.io import read_image_file, read_label_file
    from napari_semia.labels_only import LabelsOnlySynthesizer
    from napari_semia.trainer import SemiaTrainer

    image, labels = make_source()
    args.out.mkdir(parents=True, exist_ok=True)
    normalizer = IntensityNormalizer.fit(image)
    percentile = normalizer.center[0] + normalizer.half_range[0]
    print(f"source: spots on {100 * (labels == 1).mean():.2f} % of the pixels; 99.5th percentile "
          f"{percentile:.0f}, spot value {SPOT}")

    moved = np.roll(labels, (12, -20), axis=(0, 1))
    labels_only = LabelsOnlySynthesizer(image, labels, size=64).synthesize(moved)
    result = {"source": read_pair(image, labels), "labels_only": read_pair(labels_only, moved)}

    trainer = SemiaTrainer(image, labels, config=TrainingConfig(steps=args.steps, size=64), device="cpu")
    for _ in trainer.run():
        pass
    model_path = args.out / "model.semia"
    trainer.model.save(str(model_path))
    folder = args.out / "pairs"
    shutil.rmtree(folder, ignore_errors=True)  # a new model each run: a new dataset
    generate(model_path, folder, count=args.pairs, progress_bar=False)
    pairs = [read_pair(read_image_file(folder / row["image"]), read_label_file(folder / row["labels"]))
             for row in load_manifest(folder)]
    result["pairs"] = pairs
    spots = [p for p in pairs if p["spot_pixels"]]
    result["pairs_mean"] = {key: float(np.mean([p[key] for p in spots]))
                            for key in ("spot_mean", "background_mean", "spot_brighter_than_background")}
    (args.out / "bright_objects.json").write_text(json.dumps(result, indent=1))
    for name in ("source", "labels_only", "pairs_mean"):
        print(name, {k: round(v, 3) if isinstance(v, float) else v for k, v in result[name].items()})


if __name__ == "__main__":
    main()
