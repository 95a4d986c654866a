"""Do synthetic pairs help a shape-aware segmenter when annotations are few?

The synthetic-data benchmark (``dataset_benchmark.py``) annotates half of the
image and trains a pixel forest: there, synthetic pairs neither help nor hurt.
Published gains come from the other regime: few annotations and a segmenter
that learns shapes. This measures that regime on the same data.

1. The image and labels of ``dataset_benchmark.py`` (scikit-image's
   ``immunohistochemistry``, 512 x 512, labelled by the ``histology`` sample's
   recipe: 0 lumen, 1 stroma, 2 epithelium, 3 nuclei). The right half is the
   unseen test part; the annotated part is one ``--crop`` x ``--crop`` square
   of the left half (the one whose rarest class is largest, on a 32-px grid).
2. Train napari-semia on that square alone (working size: the square's size),
   and generate ``--count`` pairs from it (stroma is the background; lumen,
   epithelium and nuclei move).
3. Train the same small U-Net (3 levels, width 16, batch norm; random 64-px
   patches with flips / 90-degree turns; Adam, a fixed number of iterations and
   seeds) on (a) the real square, (b) the synthetic pairs alone, (c) both, half
   of each batch from each. Score mIoU and Dice on the right half, over
   ``--repeats`` seeds. The pixel forest of ``dataset_benchmark.py`` is scored
   on the same three sets for comparison.

Writes ``results.json`` and ``montage.png`` into ``--out``.

    python benchmarks/few_annotations_benchmark.py --out /tmp/few
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import dataset_benchmark as ds  # the data, the model and pair making, the forest
import metrics

CLASSES = sorted(ds.CLASS_NAMES)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--crop", type=int, default=128, help="side of the annotated square (default 128)")
    parser.add_argument("--square-rank", type=int, default=0,
                        help="annotate the square of this rank (default 0, the best; squares of higher "
                             "ranks overlap no square ranked before them): another annotated part of "
                             "the image, for a replicate")
    parser.add_argument("--sets", default="a,b,c",
                        help="U-Net training sets to score, of a (real), b (synthetic), c (both); "
                             "default a,b,c")
    parser.add_argument("--model", type=Path,
                        help="use this model (trained on the square) instead of training")
    parser.add_argument("--preset", default="default", help="training preset (default: default)")
    parser.add_argument("--steps", type=int, help="override the preset's steps")
    parser.add_argument("--train-seed", type=int, default=1, help="napari-semia's training seed (default 1)")
    parser.add_argument("--count", type=int, default=100, help="synthetic pairs (default 100)")
    parser.add_argument("--iterations", type=int, default=1000, help="U-Net training steps (default 1000)")
    parser.add_argument("--batch", type=int, default=16, help="U-Net patches per step (default 16)")
    parser.add_argument("--repeats", type=int, default=3, help="U-Net and forest seeds (default 3)")
    parser.add_argument("--first-seed", type=int, default=0,
                        help="the U-Nets' first seed (default 0; more seeds for a second run)")
    parser.add_argument("--skip-forest", action="store_true", help="score the U-Nets only")
    parser.add_argument("--pixels", type=int, default=40000,
                        help="training pixels per forest (default 40000)")
    parser.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    return parser.parse_args(argv)


# ------------------------------------------------------------------ the annotated square
def annotated_square(labels: np.ndarray, side: int, rank: int = 0) -> tuple[int, int]:
    """(row, column) of the ``side``-px square of ``labels`` whose rarest class
    covers the most pixels (on a 32-px grid; the first such square). ``rank`` k > 0:
    the k-th next square in that order that overlaps none of the squares chosen
    before it, so that replicates annotate different parts of the image."""
    candidates = []
    for row in range(0, labels.shape[0] - side + 1, 32):
        for column in range(0, labels.shape[1] - side + 1, 32):
            counts = np.bincount(labels[row:row + side, column:column + side].ravel(), minlength=len(CLASSES))
            candidates.append((-int(counts.min()), row, column))
    candidates.sort()  # stable on ties: the first square in row order, as before
    chosen: list[tuple[int, int]] = []
    for _, row, column in candidates:
        if all(abs(row - r) >= side or abs(column - c) >= side for r, c in chosen):
            chosen.append((row, column))
            if len(chosen) > rank:
                return chosen[rank]
    raise SystemExit(f"no square of rank {rank}: only {len(chosen)} squares of {side} px fit apart")


# ------------------------------------------------------------------ the U-Net
def unet(classes: int, width: int = 16):
    import torch
    from torch import nn

    def block(channels_in, channels_out):
        layers = []
        for channels in (channels_in, channels_out):
            layers += [nn.Conv2d(channels, channels_out, 3, padding=1), nn.BatchNorm2d(channels_out),
                       nn.ReLU(inplace=True)]
        return nn.Sequential(*layers)

    class UNet(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            widths = [width, 2 * width, 4 * width, 8 * width]
            self.down = nn.ModuleList([block(3, widths[0]), block(widths[0], widths[1]),
                                       block(widths[1], widths[2])])
            self.bottom = block(widths[2], widths[3])
            self.up = nn.ModuleList([nn.ConvTranspose2d(widths[i + 1], widths[i], 2, stride=2)
                                     for i in (2, 1, 0)])
            self.merge = nn.ModuleList([block(2 * widths[i], widths[i]) for i in (2, 1, 0)])
            self.head = nn.Conv2d(widths[0], classes, 1)

        def forward(self, x):
            skips = []
            for down in self.down:
                x = down(x)
                skips.append(x)
                x = torch.nn.functional.max_pool2d(x, 2)
            x = self.bottom(x)
            for up, merge, skip in zip(self.up, self.merge, reversed(skips)):
                x = merge(torch.cat([up(x), skip], 1))
            return self.head(x)

    return UNet()


def _as_input(image: np.ndarray):
    import torch

    return torch.from_numpy(np.ascontiguousarray(image, dtype=np.float32) / 255.0 - 0.5).permute(2, 0, 1)


class PatchSource:
    """Random 64-px patches of a set of pairs, each in one of its 8 flips / turns."""

    def __init__(self, pairs, patch: int = 64) -> None:
        self.images = [_as_input(image) for image, _ in pairs]
        self.labels = [np.asarray(labels, np.int64) for _, labels in pairs]
        self.patch = patch

    def draw(self, count: int, rng: np.random.Generator):
        import torch

        images, labels = [], []
        for _ in range(count):
            which = int(rng.integers(len(self.images)))
            image, label = self.images[which], self.labels[which]
            row = int(rng.integers(image.shape[1] - self.patch + 1))
            column = int(rng.integers(image.shape[2] - self.patch + 1))
            image = image[:, row:row + self.patch, column:column + self.patch]
            label = torch.from_numpy(label[row:row + self.patch, column:column + self.patch])
            turns, flip = int(rng.integers(4)), bool(rng.integers(2))
            if flip:
                image, label = image.flip(-1), label.flip(-1)
            images.append(torch.rot90(image, turns, (1, 2)))
            labels.append(torch.rot90(label, turns, (0, 1)))
        return torch.stack(images), torch.stack(labels)


def train_unet(sources: list[PatchSource], seed: int, args):
    import torch

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    network = unet(len(CLASSES))
    optimizer = torch.optim.Adam(network.parameters(), lr=2e-3)
    schedule = torch.optim.lr_scheduler.MultiStepLR(optimizer, [2 * args.iterations // 3], 0.2)
    network.train()
    for _ in range(args.iterations):
        parts = [source.draw(args.batch // len(sources), rng) for source in sources]
        images = torch.cat([images for images, _ in parts])
        labels = torch.cat([labels for _, labels in parts])
        loss = torch.nn.functional.cross_entropy(network(images), labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        schedule.step()
    network.eval()
    return network


def segment(network, image: np.ndarray) -> np.ndarray:
    import torch

    with torch.inference_mode():
        return network(_as_input(image)[None]).argmax(1)[0].numpy()


def score(predicted, truth) -> dict:
    iou = metrics.iou_per_class(predicted, truth, CLASSES)
    dice = ds.dice_per_class(predicted, truth, CLASSES)
    return {"miou": float(np.nanmean(list(iou.values()))), "dice": float(np.nanmean(list(dice.values()))),
            "iou_per_class": {ds.CLASS_NAMES[c]: iou[c] for c in CLASSES}}


def summary(runs: list[dict]) -> dict:
    return {
        "miou_mean": statistics.mean(r["miou"] for r in runs),
        "miou_std": statistics.pstdev(r["miou"] for r in runs),
        "dice_mean": statistics.mean(r["dice"] for r in runs),
        "iou_per_class_mean": {name: statistics.mean(r["iou_per_class"][name] for r in runs)
                               for name in runs[0]["iou_per_class"]},
        "runs": runs,
    }


def evaluate_unets(real_pairs, synthetic_pairs, test_image, test_labels, args) -> dict:
    sets = {"a_real": [PatchSource(real_pairs)], "b_synthetic": [PatchSource(synthetic_pairs)]}
    sets["c_real_and_synthetic"] = sets["a_real"] + sets["b_synthetic"]
    wanted = {letter.strip() for letter in args.sets.split(",")}
    results = {}
    for name, sources in sets.items():
        if name[0] not in wanted:
            continue
        runs = []
        for seed in range(args.first_seed, args.first_seed + args.repeats):
            started = time.perf_counter()
            network = train_unet(sources, seed, args)
            runs.append({**score(segment(network, test_image), test_labels),
                         "seconds": round(time.perf_counter() - started, 1)})
            print(f"U-Net {name} seed {seed}: mIoU {runs[-1]['miou']:.3f} ({runs[-1]['seconds']} s)",
                  flush=True)
        results[name] = summary(runs)
        print(f"U-Net {name}: mIoU {results[name]['miou_mean']:.3f} +- {results[name]['miou_std']:.3f}",
              flush=True)
    return results


def main(argv=None) -> int:
    args = parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    args.out.mkdir(parents=True, exist_ok=True)
    image, labels = ds.histology_full_resolution()
    half = image.shape[1] // 2
    test_image, test_labels = image[:, half:], labels[:, half:]
    row, column = annotated_square(labels[:, :half], args.crop, args.square_rank)
    square = (image[row:row + args.crop, column:column + args.crop],
              labels[row:row + args.crop, column:column + args.crop])
    print(f"annotated square: rows {row}-{row + args.crop}, columns {column}-{column + args.crop}; "
          f"class pixels {np.bincount(square[1].ravel(), minlength=len(CLASSES)).tolist()}", flush=True)
    record = {"crop": args.crop, "square_rank": args.square_rank, "square_at": [row, column],
              "count": args.count, "iterations": args.iterations, "batch": args.batch,
              "repeats": args.repeats, "first_seed": args.first_seed}
    if args.model:
        model_path = args.model
    else:
        args.size = args.crop  # the square at its own size
        model_path, record["training"] = ds.train_model(*square, args, args.out)
    record["reconstruction_mae"] = round(ds.reconstruction_error(model_path, *square), 2)
    folder = args.out / "pairs"
    started = time.perf_counter()
    synthetic = ds.make_pairs(model_path, square[1], args.count, folder)
    record["generation_seconds"] = round(time.perf_counter() - started, 1)
    ds.write_montage(*square, synthetic, args.out / "montage.png", shown=7)
    record["unet"] = evaluate_unets([square], synthetic, test_image, test_labels, args)
    if not args.skip_forest:
        record["forest"] = ds.evaluate_segmenters(ds.dihedral(*square), synthetic, test_image, test_labels,
                                                  args)
    (args.out / "results.json").write_text(json.dumps(record, indent=2) + "\n")
    print(json.dumps({name: round(value["miou_mean"], 3) for name, value in record["unet"].items()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
