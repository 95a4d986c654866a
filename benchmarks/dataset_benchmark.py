"""Do synthetic pairs help a segmenter on unseen real data?

The image is scikit-image's ``immunohistochemistry`` (512 x 512 RGB, bundled
with scikit-image, nothing downloaded), labelled by the recipe of the built-in
``histology`` sample run at full resolution (sizes scaled by 2): 0 lumen /
bright background, 1 stroma, 2 DAB-stained epithelium, 3 nuclei.

1. Split: the left half (512 x 256) is the training part, the right half the
   unseen test part.
2. Train napari-semia on the left half only (or load ``--model``).
3. Generate ``--count`` pairs from it with ``napari-semia``'s layout sampler
   (background: stroma; objects: lumen, epithelium, nuclei).
4. Train the same pixel classifier (random forest, 50 trees, on
   ``skimage.feature.multiscale_basic_features``, a fixed budget of
   class-balanced pixels, fixed seeds) on
   (a) the real left half with the 8 flips / 90-degree rotations,
   (b) the synthetic pairs, (c) both (half the pixel budget from each);
   a reference row (a0) uses the left half without augmentation.
   Score mIoU and Dice on the right half, over ``--repeats`` seeds.
5. Speed: pairs per second in this process and on a 2-worker LocalCluster.

Writes ``results.json``, ``montage.png`` and the pairs into ``--out``.

    python benchmarks/dataset_benchmark.py --out benchmarks/results/dataset
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from scipy import ndimage as ndi

sys.path.insert(0, str(Path(__file__).resolve().parent))
import metrics  # benchmarks/metrics.py: the feature and IoU code of the quality benchmark

REPO_ROOT = Path(__file__).resolve().parents[1]
CLASS_NAMES = {0: "lumen", 1: "stroma", 2: "epithelium", 3: "nuclei"}
STROMA = 1


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "benchmarks" / "results" / "dataset")
    parser.add_argument("--model", type=Path,
                        help="use this model (trained on the left half) instead of training")
    parser.add_argument("--preset", default="default", help="training preset (default: default)")
    parser.add_argument("--size", type=int, default=512, help="working size (default 512: the full half)")
    parser.add_argument("--steps", type=int, help="override the preset's steps")
    parser.add_argument("--train-seed", type=int, default=1,
                        help="training seed (default 1; seed 0 collapsed at step ~420, see README)")
    parser.add_argument("--threads", type=int, help="torch threads (default: torch's choice)")
    parser.add_argument("--count", type=int, default=100, help="synthetic pairs (default 100)")
    parser.add_argument("--pixels", type=int, default=40000,
                        help="training pixels per forest (default 40000)")
    parser.add_argument("--repeats", type=int, default=3, help="forest / pixel-sampling seeds (default 3)")
    parser.add_argument("--speed-count", type=int, default=40, help="pairs per speed run (default 40)")
    parser.add_argument("--skip-speed", action="store_true", help="do not measure generation speed")
    parser.add_argument("--speed-only", action="store_true",
                        help="with --model: only measure generation speed (for a timed run under flock)")
    return parser.parse_args(argv)


# ------------------------------------------------------------------ data
def _remove_small(mask: np.ndarray, size: float) -> np.ndarray:
    labelled, _ = ndi.label(mask)
    sizes = np.bincount(labelled.ravel())
    keep = sizes > size
    keep[0] = False
    return keep[labelled]


def _clean_labels(labels: np.ndarray, min_size: float) -> np.ndarray:
    """Regions of ``min_size`` pixels or fewer take the id of the nearest larger region."""
    small = np.zeros(labels.shape, bool)
    for class_id in np.unique(labels):
        mask = labels == class_id
        small |= mask & ~_remove_small(mask, min_size)
    if not small.any():
        return labels
    _, (rows, cols) = ndi.distance_transform_edt(small, return_indices=True)
    return labels[rows, cols]


def histology_full_resolution() -> tuple[np.ndarray, np.ndarray]:
    """The ``histology`` sample's labelling recipe (samples.py) at 512 px:
    smoothing, structuring elements and size limits scaled for twice the size."""
    from skimage import data, filters
    from skimage.color import rgb2hed, rgb2lab
    from skimage.morphology import disk, opening

    scale = 2
    area = scale**2
    image = data.immunohistochemistry()
    hed = rgb2hed(image)
    dab = ndi.gaussian_filter(hed[..., 2], 2.0 * scale)
    epithelium = opening(dab > filters.threshold_otsu(dab), disk(2 * scale))
    epithelium = ~_remove_small(~_remove_small(epithelium, 150 * area), 60 * area)
    lightness = ndi.gaussian_filter(rgb2lab(image)[..., 0], 2.0 * scale)
    lumen = _remove_small(opening((lightness > 89) & ~epithelium, disk(2 * scale)), 60 * area)
    stroma = ~epithelium & ~lumen
    hematoxylin = ndi.gaussian_filter(hed[..., 0], 0.8 * scale)
    nuclei = (hematoxylin > filters.threshold_otsu(hematoxylin[stroma])) & stroma
    nuclei = _remove_small(opening(nuclei, disk(scale)), 10 * area)
    labels = np.full(image.shape[:2], STROMA, np.int32)
    labels[lumen] = 0
    labels[epithelium] = 2
    labels[nuclei] = 3
    return image, _clean_labels(labels, 8 * area)


# ------------------------------------------------------------------ model and pairs
def train_model(image, labels, args, out: Path):
    from tqdm import tqdm

    from napari_semia.config import preset
    from napari_semia.trainer import SemiaTrainer

    config = preset(args.preset).replace(size=args.size, seed=args.train_seed)
    if args.steps:
        config = config.replace(steps=args.steps)
    trainer = SemiaTrainer(image, labels, config=config, device="cpu")
    started = time.perf_counter()
    with tqdm(total=config.steps, unit="step") as bar:
        for progress in trainer.run():
            bar.update(progress.step - bar.n)
            if progress.losses:
                bar.set_postfix({k: f"{v:.3g}" for k, v in progress.losses.items()}, refresh=False)
    seconds = time.perf_counter() - started
    path = out / "model.semia"
    trainer.model.save(path)
    return path, {"preset": args.preset, "steps": config.steps, "size": config.size, "seed": config.seed,
                  "seconds": round(seconds, 1)}


def reconstruction_error(model_path: Path, image, labels) -> float:
    """Mean absolute error (0..255) of the model's image for the training layout:
    a collapsed GAN shows here (a healthy one: about 5)."""
    from napari_semia.model import SemiaModel

    output = SemiaModel.load(model_path, device="cpu").synthesize(labels)
    return float(np.abs(output.astype(np.float64) - image).mean())


def sampler_settings():
    from napari_semia.layout_sampler import LayoutSamplerSettings

    return LayoutSamplerSettings(background_ids=(STROMA,))


def make_pairs(model_path: Path, labels, count: int, folder: Path) -> list[tuple[np.ndarray, np.ndarray]]:
    from napari_semia.dataset import generate, load_manifest
    from napari_semia.io import read_image_file, read_label_file

    generate(model_path, folder, count, seed=0, source_labels=labels, sampler_settings=sampler_settings())
    return [
        (read_image_file(folder / row["image"]), read_label_file(folder / row["labels"]))
        for row in load_manifest(folder)
    ]


def measure_speed(model_path: Path, labels, count: int, out: Path) -> dict:
    """Wall time of whole runs (start-up included) and the steady rate after the first pair."""
    from napari_semia.dataset import DatasetJob

    results = {}
    for name, workers in (("in_process", 0), ("local_cluster_2_workers", 2)):
        folder = out / f"speed-{name}"
        shutil.rmtree(folder, ignore_errors=True)
        job = DatasetJob.prepare(model_path, folder, count, seed=1, source_labels=labels,
                                 sampler_settings=sampler_settings(), workers=workers)
        started = time.perf_counter()
        finished_at = []
        for progress in job.run():
            if progress.latest is not None:
                finished_at.append(time.perf_counter())
        total = time.perf_counter() - started
        steady = (len(finished_at) - 1) / (finished_at[-1] - finished_at[0])
        results[name] = {
            "pairs": count,
            "seconds_total": round(total, 2),
            "pairs_per_s_total": round(count / total, 3),
            "seconds_to_first_pair": round(finished_at[0] - started, 2),
            "pairs_per_s_steady": round(steady, 3),
        }
        print(name, results[name], flush=True)
    return results


# ------------------------------------------------------------------ segmenter
def dihedral(image: np.ndarray, labels: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """The 8 flips / 90-degree rotations of a pair: ordinary augmentation."""
    variants = []
    for flip in (False, True):
        flipped_image = image[:, ::-1] if flip else image
        flipped_labels = labels[:, ::-1] if flip else labels
        for turns in range(4):
            variants.append((np.rot90(flipped_image, turns).copy(), np.rot90(flipped_labels, turns).copy()))
    return variants


class PixelPool:
    """Features and labels of a set of training images, sampled class-balanced.

    Keeps a class-balanced subset of each image's pixels, four times what an
    even share of the budget needs, so 100 images' features fit in memory.
    """

    def __init__(self, pairs, budget: int) -> None:
        keep = int(np.ceil(4 * budget / (len(CLASS_NAMES) * len(pairs))))
        rng = np.random.default_rng(0)
        features, labels = [], []
        for image, image_labels in pairs:
            image_features = metrics.pixel_features(image)
            flat_labels = np.asarray(image_labels).ravel()
            chosen = metrics.stratified_sample(flat_labels, keep * len(CLASS_NAMES), rng)
            features.append(image_features.reshape(-1, image_features.shape[-1])[chosen])
            labels.append(flat_labels[chosen])
        self.features = np.concatenate(features)
        self.labels = np.concatenate(labels)

    def sample(self, total: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        chosen = metrics.stratified_sample(self.labels, total, rng)
        return self.features[chosen], self.labels[chosen]


def dice_per_class(predicted, truth, classes) -> dict[int, float]:
    scores = {}
    for c in classes:
        in_pred, in_truth = predicted == c, truth == c
        total = in_pred.sum() + in_truth.sum()
        scores[int(c)] = float(2 * (in_pred & in_truth).sum() / total) if total else float("nan")
    return scores


def evaluate_segmenters(real_pairs, synthetic_pairs, test_image, test_labels, args) -> dict:
    from sklearn.ensemble import RandomForestClassifier

    pools = {
        "a0_real_no_augmentation": [PixelPool(real_pairs[:1], args.pixels)],
        "a_real_augmented": [PixelPool(real_pairs, args.pixels)],
        "b_synthetic": [PixelPool(synthetic_pairs, args.pixels)],
    }
    pools["c_real_augmented_and_synthetic"] = pools["a_real_augmented"] + pools["b_synthetic"]
    test_features = metrics.pixel_features(test_image)
    flat_test = test_features.reshape(-1, test_features.shape[-1])
    classes = sorted(CLASS_NAMES)
    results = {}
    for name, parts in pools.items():
        runs = []
        for repeat in range(args.repeats):
            rng = np.random.default_rng(repeat)
            samples = [part.sample(args.pixels // len(parts), rng) for part in parts]
            features = np.concatenate([s[0] for s in samples])
            labels = np.concatenate([s[1] for s in samples])
            forest = RandomForestClassifier(n_estimators=50, random_state=repeat, n_jobs=2)
            forest.fit(features, labels)
            predicted = forest.predict(flat_test).reshape(test_labels.shape)
            iou = metrics.iou_per_class(predicted, test_labels, classes)
            dice = dice_per_class(predicted, test_labels, classes)
            runs.append({"miou": float(np.nanmean(list(iou.values()))),
                         "dice": float(np.nanmean(list(dice.values()))),
                         "iou_per_class": iou, "dice_per_class": dice})
        results[name] = {
            "miou_mean": statistics.mean(r["miou"] for r in runs),
            "miou_std": statistics.pstdev(r["miou"] for r in runs),
            "dice_mean": statistics.mean(r["dice"] for r in runs),
            "dice_std": statistics.pstdev(r["dice"] for r in runs),
            "iou_per_class_mean": {CLASS_NAMES[c]: statistics.mean(r["iou_per_class"][c] for r in runs)
                                   for c in classes},
            "runs": runs,
        }
        print(f"{name}: mIoU {results[name]['miou_mean']:.3f} +- {results[name]['miou_std']:.3f}, "
              f"Dice {results[name]['dice_mean']:.3f}", flush=True)
    return results


# ------------------------------------------------------------------ figure
def write_montage(real_image, real_labels, synthetic_pairs, path: Path, shown: int = 5) -> None:
    """Two rows: images on top, label maps below; the real training half first."""
    from napari_semia.figures import montage
    from napari_semia.io import write_image_file

    pairs = [(real_image, real_labels)] + list(synthetic_pairs[:shown])
    rows = [[image for image, _ in pairs], [labels.astype(np.int32) for _, labels in pairs]]
    write_image_file(path, montage(rows, gap=6))


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    args.out.mkdir(parents=True, exist_ok=True)
    image, labels = histology_full_resolution()
    train_image, train_labels = image[:, :256], labels[:, :256]
    test_image, test_labels = image[:, 256:], labels[:, 256:]
    report = {
        "machine": {"python": platform.python_version(),
                    "processor": platform.processor() or platform.machine()},
        "class_fractions_train": {CLASS_NAMES[c]: float(np.mean(train_labels == c)) for c in CLASS_NAMES},
        "class_fractions_test": {CLASS_NAMES[c]: float(np.mean(test_labels == c)) for c in CLASS_NAMES},
    }
    if args.speed_only:
        if args.model is None:
            raise SystemExit("--speed-only needs --model")
        speed = measure_speed(args.model, train_labels, args.speed_count, args.out)
        (args.out / "speed.json").write_text(json.dumps(speed, indent=2) + "\n")
        return 0
    if args.model is None:
        model_path, report["training"] = train_model(train_image, train_labels, args, args.out)
    else:
        model_path = args.model
    report["reconstruction_mae"] = reconstruction_error(model_path, train_image, train_labels)
    print(f"reconstruction MAE on the training half: {report['reconstruction_mae']:.1f}", flush=True)
    started = time.perf_counter()
    synthetic = make_pairs(model_path, train_labels, args.count, args.out / "pairs")
    report["generation_seconds"] = round(time.perf_counter() - started, 1)
    write_montage(train_image, train_labels, synthetic, args.out / "montage.png")
    report["segmenter"] = evaluate_segmenters(dihedral(train_image, train_labels), synthetic,
                                              test_image, test_labels, args)
    if not args.skip_speed:
        report["speed"] = measure_speed(model_path, train_labels, args.speed_count, args.out)
    (args.out / "results.json").write_text(json.dumps(report, indent=2) + "\n")
    print(f"Wrote {args.out / 'results.json'} and {args.out / 'montage.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
