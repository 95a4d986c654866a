"""How far layout agreement on changed pixels moves with the classifier's seed.

``fullres_benchmark.py``'s *mIoU-chg* comes from one random forest
(``random_state=0``: one sample of 20 000 source pixels, one set of trees).
Another seed reads the same outputs a little differently, most of all next to
class edges and on classes of a few changed pixels. This script reads the
outputs a ``fullres_benchmark.py --out`` folder holds (``bicubic_<target>.png``
and ``refined_<target>.png``) with ``--seeds`` classifiers (seeds 0, 1, ...)
and prints, per target, the mean and the spread over seeds of each method's
*mIoU-chg* and *acc-chg* (fraction of changed pixels read as the target's
class), the mean and spread of the paired difference refined − bicubic, and on
how many seeds refined reads lower than bicubic. A difference that changes
sign from seed to seed is smaller than what this measure can tell apart.
``--baseline FOLDER`` reads the ``bicubic_<target>.png`` images from another
folder (another commit's outputs of the same targets) and pairs them alike.
``--blur SIGMA`` (repeatable) also reads the refined output blurred by a
Gaussian of that sigma (full-size pixels) and pairs it with the refined one:
if blurring raised the figure, it would reward soft edges rather than the
layout. A last row averages the figures of the case's own targets (its
``cond/*`` layouts, not ``--stress``'s) seed by seed and pairs those means
alike: the figure of the example as a whole.
``--per-class`` also prints, per class the target paints on changed
pixels, how many changed pixels it has, each method's IoU there and its
changed pixels misread (the class's read as another, and others' read as it),
means over seeds, and the class's share of the *mIoU-chg* difference (every
class weighs the same in the mean, a class of 4 pixels as one of 4000); with
``--baseline``, "bic" there is the baseline's output, as in the other tables.

    python benchmarks/layout_seeds.py --case zebra --model /tmp/bench2/zebra/model.semia \\
        --outputs /tmp/expF/zebra --seeds 10
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import metrics
import saved_outputs
from fullres_benchmark import read_case

METHODS = ("bicubic", "refined")
FIGURES = ("miou_changed", "accuracy_changed")


def _spread(values: np.ndarray) -> float:
    """Standard deviation over seeds (ddof 1); 0 for a single seed."""
    return float(values.std(ddof=1)) if len(values) > 1 else 0.0


def seed_figures(per_seed: dict) -> dict:
    """``per_seed[method][figure]``: one value per seed -> means, spreads and the paired
    difference refined - bicubic (spread: the standard deviation over seeds, ddof 1)."""
    summary = {}
    for figure in FIGURES:
        bicubic = np.asarray(per_seed["bicubic"][figure])
        refined = np.asarray(per_seed["refined"][figure])
        difference = refined - bicubic
        summary[figure] = {
            "bicubic_mean": float(bicubic.mean()), "bicubic_sd": _spread(bicubic),
            "refined_mean": float(refined.mean()), "refined_sd": _spread(refined),
            "difference_mean": float(difference.mean()), "difference_sd": _spread(difference),
            "seeds_refined_lower": int((difference < 0).sum()), "seeds": len(difference),
        }
    return summary


def blurred_figures(per_seed: dict, method: str) -> dict:
    """The refined output blurred (``per_seed[method]``) against the refined one, seed by
    seed: means, spreads, the paired difference blurred - refined and on how many seeds
    the blurred output reads higher."""
    summary = {}
    for figure in FIGURES:
        refined = np.asarray(per_seed["refined"][figure])
        blurred_values = np.asarray(per_seed[method][figure])
        difference = blurred_values - refined
        summary[figure] = {
            "blurred_mean": float(blurred_values.mean()), "blurred_sd": _spread(blurred_values),
            "difference_mean": float(difference.mean()), "difference_sd": _spread(difference),
            "seeds_blurred_higher": int((difference > 0).sum()), "seeds": len(difference),
        }
    return summary


def case_mean(per_seed: dict, names) -> dict:
    """``per_seed[name][method][figure]``: one value per seed -> per method and figure,
    the mean over ``names`` seed by seed (a list, one value per seed)."""
    first = per_seed[names[0]]
    return {method: {figure: np.mean([per_seed[name][method][figure] for name in names], axis=0).tolist()
                     for figure in first[method]} for method in first}


def class_counts(predicted: np.ndarray, target_index: np.ndarray, changed: np.ndarray) -> dict:
    """Per class k the target has on ``changed`` pixels: ``pixels`` (its changed
    pixels), ``missed`` (those read as another class) and ``taken`` (changed
    pixels of other classes read as k), and ``iou`` on the changed pixels, as in
    ``metrics.mean_iou(..., mask=changed)``."""
    predicted, target = predicted[changed], target_index[changed]
    counts = {}
    for k in np.unique(target).tolist():
        pixels = int((target == k).sum())
        hit = int(((predicted == k) & (target == k)).sum())
        taken = int(((predicted == k) & (target != k)).sum())
        counts[int(k)] = {"pixels": pixels, "missed": pixels - hit, "taken": taken,
                          "iou": hit / (pixels + taken)}
    return counts


def per_class_figures(per_seed_counts: dict, methods) -> dict:
    """``per_seed_counts[method]``: ``class_counts`` per seed -> per class, its pixels and
    each method's mean IoU, missed and taken, and the class's share of the mIoU
    difference refined - bicubic (its IoU difference over the number of classes)."""
    first = per_seed_counts[methods[0]][0]
    summary = {}
    for k, counts in first.items():
        row = {"pixels": counts["pixels"]}
        for method in methods:
            for figure in ("iou", "missed", "taken"):
                values = [seed[k][figure] for seed in per_seed_counts[method]]
                row[f"{method}_{figure}"] = float(np.mean(values))
        row["share_of_difference"] = (row["refined_iou"] - row["bicubic_iou"]) / len(first)
        summary[k] = row
    return summary


def _cell(summary: dict) -> str:
    return (f"{summary['bicubic_mean']:.3f} ± {summary['bicubic_sd']:.3f} / "
            f"{summary['refined_mean']:.3f} ± {summary['refined_sd']:.3f} | "
            f"{summary['difference_mean']:+.3f} ± {summary['difference_sd']:.3f} | "
            f"{summary['seeds_refined_lower']} of {summary['seeds']}")


def main(argv=None) -> None:
    from napari_semia.io import read_image_file

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    saved_outputs.add_arguments(parser)
    parser.add_argument("--baseline", type=Path, default=None,
                        help="read bicubic_<target>.png from this folder (e.g. another commit's outputs)")
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--blur", type=float, action="append", default=[], metavar="SIGMA",
                        help="also read the refined output blurred by this Gaussian sigma (repeatable)")
    parser.add_argument("--per-class", action="store_true",
                        help="also print each changed class's pixels, IoU and misread pixels per method")
    args = parser.parse_args(argv)
    if args.seeds < 1:
        raise SystemExit("--seeds must be at least 1")
    if any(sigma <= 0 for sigma in args.blur):
        raise SystemExit("--blur sigmas must be positive")
    blur_methods = {f"refined_blur{sigma:g}": sigma for sigma in args.blur}
    methods = METHODS + tuple(blur_methods)

    image, source_index, targets = saved_outputs.load_case(args)
    case_targets = set(read_case(args.data / args.case)[2])
    # Features once per image; each seed only fits and applies a forest.
    cases = {}
    for name, (target_index, changed) in targets.items():
        images = {}
        for method in METHODS:
            folder = args.baseline if method == "bicubic" and args.baseline else args.outputs
            images[method] = read_image_file(saved_outputs.output_path(folder, method, name, args.case))
        for method, sigma in blur_methods.items():
            images[method] = metrics.blurred(images["refined"], sigma)
        features = {method: metrics.pixel_features(output) for method, output in images.items()}
        cases[name] = (target_index, changed, features)
    source_features = metrics.pixel_features(image)

    per_seed = {name: {m: {f: [] for f in FIGURES} for m in methods} for name in cases}
    per_seed_counts = {name: {m: [] for m in METHODS} for name in cases}
    for seed in range(args.seeds):
        classifier = metrics.LayoutClassifier(random_state=seed).fit_features(source_features, source_index)
        for name, (target_index, changed, features) in cases.items():
            for method in methods:
                predicted = classifier.predict_features(features[method])
                scores = metrics.layout_scores(predicted, source_index, target_index)
                for figure in FIGURES:
                    per_seed[name][method][figure].append(scores[figure])
                if args.per_class and method in METHODS:
                    per_seed_counts[name][method].append(class_counts(predicted, target_index, changed))
        print(f"seed {seed} done", file=sys.stderr, flush=True)

    results = {}
    print("| target | mIoU-chg bic / ref (mean ± sd) | ref − bic | seeds ref lower "
          "| acc-chg bic / ref (mean ± sd) | ref − bic | seeds ref lower |")
    print("|---|---|---|---|---|---|---|")
    for name in cases:
        results[name] = {"per_seed": per_seed[name], **seed_figures(per_seed[name])}
        print(f"| {name} | {_cell(results[name]['miou_changed'])} "
              f"| {_cell(results[name]['accuracy_changed'])} |", flush=True)
    own = [name for name in cases if name in case_targets]
    if own:
        results["case_mean"] = {"targets": own, "per_seed": case_mean(per_seed, own)}
        results["case_mean"].update(seed_figures(results["case_mean"]["per_seed"]))
        print(f"| mean of the case's {len(own)} targets | {_cell(results['case_mean']['miou_changed'])} "
              f"| {_cell(results['case_mean']['accuracy_changed'])} |", flush=True)
    for method in blur_methods:
        print(f"\n| target | mIoU-chg {method} (mean ± sd) | − refined | seeds higher |\n|---|---|---|---|")
        for name in cases:
            figures = results[name][method] = blurred_figures(per_seed[name], method)
            miou = figures["miou_changed"]
            print(f"| {name} | {miou['blurred_mean']:.3f} ± {miou['blurred_sd']:.3f} "
                  f"| {miou['difference_mean']:+.3f} ± {miou['difference_sd']:.3f} "
                  f"| {miou['seeds_blurred_higher']} of {miou['seeds']} |", flush=True)
    if args.per_class:
        print("\n| target | class | changed px | IoU bic / ref | its px read as another, bic / ref "
              "| others' read as it, bic / ref | share of the mIoU-chg difference |")
        print("|---|---|---|---|---|---|---|")
        for name in cases:
            rows = results[name]["per_class"] = per_class_figures(per_seed_counts[name], METHODS)
            for k, row in rows.items():
                print(f"| {name} | {k} | {row['pixels']} "
                      f"| {row['bicubic_iou']:.3f} / {row['refined_iou']:.3f} "
                      f"| {row['bicubic_missed']:.1f} / {row['refined_missed']:.1f} "
                      f"| {row['bicubic_taken']:.1f} / {row['refined_taken']:.1f} "
                      f"| {row['share_of_difference']:+.3f} |", flush=True)
    suffixes = (("_baseline" if args.baseline else "") + ("_blur" if blur_methods else "")
                + ("_per_class" if args.per_class else ""))
    json_name = f"layout_seeds{suffixes}.json"
    (args.outputs / json_name).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
