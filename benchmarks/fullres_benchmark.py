"""Full-resolution benchmark: the generator's output upsampled vs refined from source patches.

For one example case and a trained model, every ``cond/*.png`` target
(``mask_*`` included: they are ordinary colour-coded target layouts in the
source's palette; with ``--stress`` also generated targets with large painted
regions) is synthesized four ways, all scored at the source's full size (and
shrunk to the working size, where the generator's own figures are taken):

* ``bicubic``: the generator at the working size, upsampled bicubically (the
  fast preview; the only path before the full-resolution stage);
* ``refined``: the generator's output as the guide of the full-resolution
  stage (``refinement.py``; what ``SemiaModel.synthesize`` gives);
* ``labels``: the same stage with no guide (from the label map alone), to show
  what the generator adds;
* ``detail``: detail transfer, the other candidate: the bicubic output plus the
  high frequencies of ``refined`` (what the working size cannot hold, taken
  from the source through the refinement's correspondence).

Figures (``metrics.py``): layout agreement on changed pixels (mIoU-chg),
patch distance of all / changed pixels to same-class source patches, sharpness
ratios (Laplacian variance, mean gradient) against the source and against the
source's detail in the target's layout, reconstruction PSNR on ``rec``.
Writes ``results.json``, the outputs, a full-size ``montage.png`` (source |
target | bicubic | refined | labels | detail) and ``crops.png`` (1:1 crops
around the changed pixels) into ``--out``.

``--timing`` measures time and peak memory instead, each method in a fresh
process (``ru_maxrss``, which includes Python, torch and the loaded data);
``--large`` does so on a large image (``retina``: ``skimage.data.retina()``,
1411 x 1411; ``synthetic4096``: a 4096 x 4096 RGB mosaic of scikit-image
pictures), ``--train`` first training a quick-preset model on it.
``--report FOLDER`` prints the tables of ``benchmarks/README.md``.

    python benchmarks/fullres_benchmark.py --case zebra --model benchmarks/results/zebra-quick/model.semia \
        --out benchmarks/results/fullres/zebra --stress
    python benchmarks/fullres_benchmark.py --large retina --train --out benchmarks/results/fullres/retina
    python benchmarks/fullres_benchmark.py --report benchmarks/results/fullres
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from napari_semia.figures import colorize_labels, montage

sys.path.insert(0, str(Path(__file__).resolve().parent))
import metrics
from run_benchmark import DEFAULT_DATA, _fmt, _json_safe, accelerator_peak_mb, code_version

METHODS = ("bicubic", "refined", "labels", "detail")
LARGE_CACHE = Path(__file__).resolve().parent / "results" / "large"
RECONSTRUCTION_TARGET = "rec"


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--case", default="zebra")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--model", type=Path, help="trained .semia model of the case")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--targets", nargs="*", help="only these targets (file stems)")
    parser.add_argument("--timing-runs", type=int, default=3)
    parser.add_argument("--patch-queries", type=int, default=2000)
    parser.add_argument("--methods", nargs="+", choices=METHODS, default=list(METHODS),
                        help="only these methods (e.g. 'refined' to compare two commits' refinement)")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    parser.add_argument("--device", default="cpu",
                        help="torch device of the model and the refinement (default cpu; e.g. cuda)")
    parser.add_argument("--set", nargs="*", default=[], metavar="FIELD=VALUE",
                        help="override RefinementConfig fields, e.g. --set patch_size=5 coherence_weight=0.1")
    parser.add_argument("--timing", action="store_true",
                        help="only time (median of --timing-runs) and peak memory, "
                             "each method in a fresh process")
    parser.add_argument("--timing-target", default="1", help="target timed with --timing (default 1)")
    parser.add_argument("--report", type=Path, default=None, metavar="FOLDER",
                        help="print markdown tables of FOLDER/<case>/results.json and timing.json")
    parser.add_argument("--stress", action="store_true",
                        help="add generated targets with large painted regions (see stress_targets)")
    parser.add_argument("--large", choices=("retina", "synthetic4096"),
                        help="time and memory on a large image instead of a case")
    parser.add_argument("--train", action="store_true",
                        help="with --large: first train a quick-preset model on it (OUT/model.semia)")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--method", default="refined", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def refinement_config(overrides: list[str]):
    from napari_semia.refinement import RefinementConfig

    config = RefinementConfig()
    changes = {}
    for item in overrides:
        name, value = item.split("=", 1)
        kind = type(getattr(config, name))
        changes[name] = kind(value) if kind is not bool else value.lower() in ("1", "true", "yes")
    return config.replace(**changes)


def peak_rss_mb() -> float:
    scale = 1 if sys.platform == "darwin" else 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale / 2**20


# ------------------------------------------------------------------ inputs
def read_case(folder: Path):
    from napari_semia.io import read_image_file, read_label_file

    image = read_image_file(folder / "img.png")
    labels = read_label_file(folder / "label.png")
    targets = {path.stem: read_label_file(path) for path in sorted((folder / "cond").glob("*.png"))}
    return image, labels, targets


def stress_targets(codec, labels) -> dict:
    """Large painted regions, as class-index maps: the class covering most of the
    source's bottom rows paints the lower half ("half_<id>"), and every pixel of
    the least common class becomes its most common neighbour class ("erase_<id>").
    They show whether a big region gets varied texture rather than one patch
    repeated, and whether an erased object leaves a ghost."""
    from scipy import ndimage as ndi

    index = codec.encode(labels)
    h = index.shape[0]
    bottom = int(np.bincount(index[-max(1, h // 10):].ravel()).argmax())
    half = index.copy()
    half[h // 2:] = bottom
    counts = np.bincount(index.ravel(), minlength=len(codec.class_ids))
    rare = int(np.argmin(np.where(counts > 0, counts, counts.max() + 1)))
    ring = ndi.binary_dilation(index == rare, iterations=3) & (index != rare)
    around = int(np.bincount(index[ring]).argmax()) if ring.any() else int(counts.argmax())
    erased = np.where(index == rare, around, index)
    ids = codec.class_ids
    return {f"half_{ids[bottom]}": codec.decode(half), f"erase_{ids[rare]}": codec.decode(erased)}


def _mosaic_4096() -> np.ndarray:
    """A 4096 x 4096 RGB picture: a 2 x 2 mosaic of scikit-image's bundled photos."""
    from skimage import data, transform

    tiles = [data.retina(), data.astronaut(), data.chelsea(), data.coffee()]
    tiles = [transform.resize(t, (2048, 2048), order=1, anti_aliasing=True, preserve_range=True)
             for t in tiles]
    top = np.concatenate(tiles[:2], 1)
    bottom = np.concatenate(tiles[2:], 1)
    return np.clip(np.concatenate([top, bottom], 0), 0, 255).astype(np.uint8)


def large_case(name: str, cache: Path | None = None):
    """(image, labels, target) of a large test image, built offline and deterministically
    (and kept in ``cache``/large_<name>.npz, so that the measured process only loads it).

    Labels come from intensity: 0 dark background, 1 mid tones, 2 bright; the
    target moves a disc of class 2 and erases a square of class 2 into class 1.
    """
    from scipy import ndimage as ndi
    from skimage import color, data

    cached = cache / f"large_{name}.npz" if cache is not None else None
    if cached is not None and cached.is_file():
        with np.load(cached) as stored:
            return stored["image"], stored["labels"], stored["target"]
    image = data.retina() if name == "retina" else _mosaic_4096()
    gray = ndi.uniform_filter(color.rgb2gray(image), 9)
    low, high = np.quantile(gray, [0.3, 0.85])
    labels = np.ones(gray.shape, np.int32)
    labels[gray < low] = 0
    labels[gray > high] = 2
    target = labels.copy()
    h, w = labels.shape
    target[h // 3:h // 2, w // 3:w // 2] = 1  # erase bright things there
    yy, xx = np.ogrid[:h, :w]
    target[(yy - 2 * h // 3) ** 2 + (xx - 2 * w // 3) ** 2 < (min(h, w) // 10) ** 2] = 2  # a new bright disc
    if cached is not None:
        cached.parent.mkdir(parents=True, exist_ok=True)
        np.savez(cached, image=image, labels=labels, target=target)
    return image, labels, target


# --------------------------------------------------------------- synthesis
class Synthesizer:
    """The three methods for one model; source-side work is done once here."""

    def __init__(self, model, image, labels, config=None):
        import torch

        from napari_semia.device import synchronize
        from napari_semia.model import pyramid_source
        from napari_semia.patch_vote import LinearUnits
        from napari_semia.refinement import RefinementConfig, SourcePyramid

        self.model = model
        self.config = config or RefinementConfig()
        device = model.device
        self.source, excess = pyramid_source(model.normalizer, image, device)
        self.source_index = torch.from_numpy(model.codec.encode(labels))[None].to(device)
        start = time.perf_counter()
        self.pyramid = SourcePyramid(self.source, self.source_index, model.num_classes,
                                     model.working_shape, self.config, excess=excess,
                                     linear_units=LinearUnits.of(model.normalizer, device))
        synchronize(device)
        self.pyramid_seconds = time.perf_counter() - start

    def __call__(self, method: str, target):
        import torch
        import torch.nn.functional as F

        model = self.model
        if method == "bicubic":
            return model.synthesize(target, refine=False)
        index = model.encode_targets([target])
        full_index = torch.from_numpy(model.codec.encode(target))[None].to(model.device)
        guide = None if method == "labels" else model.synthesize_index(index)
        output = self.pyramid.refine(full_index, guide)
        if method == "detail":
            # Detail transfer: the generator's upsampled output, plus the high
            # frequencies of the refined result (source pixels): what the network's
            # working size cannot hold, taken from the source.
            size = tuple(output.shape[-2:])

            def through_working_size(x):
                small = F.interpolate(x, size=tuple(guide.shape[-2:]), mode="bilinear", antialias=True,
                                      align_corners=False)
                return F.interpolate(small, size=size, mode="bicubic", align_corners=False)

            upsampled = F.interpolate(guide, size=size, mode="bicubic", align_corners=False)
            output = upsampled + output - through_working_size(output)
        from napari_semia.model import to_user_image

        # The refined and labels-only outputs are the source's own values (as the package gives them).
        return to_user_image(output, model.normalizer, copied=method != "detail")[0]


# --------------------------------------------------------------- evaluation
def rgb8(image) -> np.ndarray:
    """Any image as (H, W, 3) uint8 with its values as they are (no contrast stretch)."""
    return (metrics.to_float_rgb(image) * 255).round().astype(np.uint8)


def crop_box(changed: np.ndarray, size: int = 160):
    """A size x size window (clipped to the image) centred on the changed pixels."""
    h, w = changed.shape
    ys, xs = np.nonzero(changed) if changed.any() else (np.array([h // 2]), np.array([w // 2]))
    cy, cx = int(np.median(ys)), int(np.median(xs))
    y0 = int(np.clip(cy - size // 2, 0, max(0, h - size)))
    x0 = int(np.clip(cx - size // 2, 0, max(0, w - size)))
    return slice(y0, y0 + size), slice(x0, x0 + size)


class Scorer:
    """Quality figures of outputs against one source at one size (``metrics.py``)."""

    def __init__(self, image, source_index, patch_queries: int):
        self.image = image
        self.source_index = source_index
        self.patch_queries = patch_queries
        self.classifier = metrics.LayoutClassifier().fit(image, source_index)
        self.appearance = metrics.PatchAppearance(image, source_index)

    def __call__(self, output, target_index, reconstruction: bool) -> dict:
        changed = metrics.changed_mask(self.source_index, target_index)
        image, source_index, queries = self.image, self.source_index, self.patch_queries
        figures = {
            "layout": metrics.layout_scores(self.classifier.predict(output), source_index, target_index),
            "patch_distance": self.appearance.distance(output, target_index, queries)["mean"],
            "patch_distance_changed": self.appearance.distance(
                output, target_index, queries, mask=changed)["mean"] if changed.any() else None,
            "sharpness_laplacian": metrics.sharpness_ratio(output, image, "laplacian"),
            "sharpness_gradient": metrics.sharpness_ratio(output, image, "gradient"),
            "sharpness_laplacian_layout": metrics.layout_sharpness_ratio(
                output, image, source_index, target_index, "laplacian"),
            "sharpness_gradient_layout": metrics.layout_sharpness_ratio(
                output, image, source_index, target_index, "gradient"),
        }
        if reconstruction:
            figures["psnr"] = metrics.reconstruction_psnr(output, image)
        return figures


def evaluate_case(args) -> dict:
    import torch
    from skimage import io as skio

    from napari_semia.model import SemiaModel

    if args.threads:
        torch.set_num_threads(args.threads)
    image, labels, targets = read_case(args.data / args.case)
    model = SemiaModel.load(args.model, device=args.device)
    if args.stress:
        targets.update(stress_targets(model.codec, labels))
    if args.targets:
        unknown = sorted(set(args.targets) - set(targets))
        if unknown:
            raise SystemExit(f"no target named {', '.join(unknown)} in {args.case} "
                             f"(targets: {' '.join(targets)}; separate names with spaces)")
        targets = {k: v for k, v in targets.items() if k in args.targets}
    synth = Synthesizer(model, image, labels, refinement_config(args.set))
    source_index = model.codec.encode(labels)
    working = tuple(model.working_shape)
    print(f"case {args.case}: {image.shape}, working size {working}, levels "
          f"{synth.pyramid.shapes}, source pyramid {synth.pyramid_seconds:.2f}s", flush=True)

    start = time.perf_counter()
    full_scorer = Scorer(image, source_index, args.patch_queries)
    # At the working size (where "today's" figures in benchmarks/README.md are taken):
    # the generator's own output, and the others shrunk to it.
    working_scorer = None
    if working != tuple(source_index.shape):
        working_scorer = Scorer(metrics.resize_image(image, working),
                                metrics.resize_labels(source_index, working), args.patch_queries)
    print(f"  evaluation models fitted in {time.perf_counter() - start:.1f}s", flush=True)

    per_target, rows, crops = {}, [], []
    for name, target in targets.items():
        target_index = model.codec.encode(target)
        changed = metrics.changed_mask(source_index, target_index)
        entry, outputs = {"changed_fraction": float(changed.mean())}, {}
        for method in args.methods:
            start = time.perf_counter()
            output = synth(method, target)
            seconds = time.perf_counter() - start
            outputs[method] = output
            figures = {"seconds": seconds, **full_scorer(output, target_index, name == RECONSTRUCTION_TARGET)}
            if working_scorer is not None:
                small = model.synthesize(target, full_size=False) if method == "bicubic" \
                    else metrics.resize_image(output, working)
                figures["working_size"] = working_scorer(small, metrics.resize_labels(target_index, working),
                                                         name == RECONSTRUCTION_TARGET)
            entry[method] = figures
            skio.imsave(args.out / f"{method}_{name}.png", rgb8(output), check_contrast=False)
        per_target[name] = entry
        print(f"  {name:7s}" + " | ".join(
            f"{m} mIoU-chg {_fmt(entry[m]['layout']['miou_changed'], 2)} "
            f"patch-chg {_fmt(entry[m]['patch_distance_changed'])}"
            f"/{_fmt(entry[m].get('working_size', {}).get('patch_distance_changed'))} "
            f"sharp {_fmt(entry[m]['sharpness_laplacian'], 2)}"
            f"/{_fmt(entry[m]['sharpness_laplacian_layout'], 2)}"
            f"/{_fmt(entry[m]['sharpness_gradient'], 2)} {entry[m]['seconds']:.2f}s" for m in args.methods),
            flush=True)
        panels = [rgb8(image), colorize_labels(target_index, model.codec.palette)]
        panels += [rgb8(outputs[m]) for m in args.methods]
        rows.append(panels)
        box = crop_box(changed)
        crops.append([panel[box] for panel in panels])
    skio.imsave(args.out / "montage.png", montage(rows), check_contrast=False)
    skio.imsave(args.out / "crops.png", montage(crops), check_contrast=False)

    return {"targets": per_target, "levels": synth.pyramid.shapes,
            "image_shape": list(image.shape), "working_shape": list(working)}


def run_worker(args) -> None:
    """Syntheses in this (fresh) process; prints their times and the peak memory as
    JSON. With a model, the source side (``SourcePyramid``, once per model) is timed
    apart; without, every call builds it (refinement from the label map alone)."""
    import torch

    from napari_semia.device import describe_device
    from napari_semia.model import to_user_image
    from napari_semia.refinement import refine

    if args.threads:
        torch.set_num_threads(args.threads)
    if args.large:
        image, labels, target = large_case(args.large, LARGE_CACHE)
    else:
        image, labels, targets = read_case(args.data / args.case)
        target = targets[args.timing_target]
    rss_inputs = peak_rss_mb()
    result = {"image_shape": list(image.shape), "method": args.method, "rss_inputs_mb": rss_inputs}
    if args.model is not None:
        from napari_semia.model import SemiaModel

        model = SemiaModel.load(args.model, device=args.device)
        result["rss_loaded_mb"] = peak_rss_mb()
        start = time.perf_counter()
        synth = Synthesizer(model, image, labels, refinement_config(args.set))
        result["source_side_s"] = time.perf_counter() - start
        result["rss_source_side_mb"] = peak_rss_mb()
        times = []
        for _ in range(max(1, args.timing_runs)):
            start = time.perf_counter()
            output = synth(args.method, target)
            times.append(time.perf_counter() - start)
    else:
        from napari_semia.intensity import IntensityNormalizer
        from napari_semia.labels import LabelCodec

        codec, source_index = LabelCodec.from_source(labels)
        normalizer = IntensityNormalizer.fit(image)
        source = torch.from_numpy(normalizer.to_network(image))[None].to(args.device)
        times = []
        for _ in range(max(1, args.timing_runs)):
            start = time.perf_counter()
            target_index = torch.from_numpy(codec.encode(target))[None].to(args.device)
            output = refine(source, torch.from_numpy(source_index)[None].to(args.device), target_index, None,
                            num_classes=len(codec.class_ids), config=refinement_config(args.set))
            output = to_user_image(output, normalizer, copied=True)[0]
            times.append(time.perf_counter() - start)
    # The first call of a process also warms up torch (allocations, kernels): the
    # median leaves it out when there are more.
    result.update(seconds=times, median_s=statistics.median(times[1:] or times), peak_rss_mb=peak_rss_mb(),
                  device=describe_device(torch.device(args.device)),
                  accelerator_peak_mb=accelerator_peak_mb(args.device),
                  output_shape=list(output.shape), output_dtype=str(output.dtype),
                  megapixels=image.shape[0] * image.shape[1] / 1e6)
    print("RESULT " + json.dumps(result), flush=True)


def measure_in_subprocess(extra: list[str]) -> dict:
    command = [sys.executable, str(Path(__file__).resolve()), "--worker", *extra]
    completed = subprocess.run(command, capture_output=True, text=True)
    for line in completed.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT "):])
    raise RuntimeError(f"worker failed: {completed.stderr[-2000:]}")


def table(results: dict) -> str:
    head = ("| target | changed | method | mIoU-chg | patch | patch-chg | sharp lap | sharp lap layout "
            "| sharp grad | PSNR | s |")
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for name, entry in results["targets"].items():
        for method in (m for m in METHODS if m in entry):
            f = entry[method]
            lines.append(
                f"| {name} | {_fmt(entry['changed_fraction'], 2)} | {method} "
                f"| {_fmt(f['layout']['miou_changed'])} | {_fmt(f['patch_distance'])} "
                f"| {_fmt(f['patch_distance_changed'])} | {_fmt(f['sharpness_laplacian'], 2)} "
                f"| {_fmt(f['sharpness_laplacian_layout'], 2)} "
                f"| {_fmt(f['sharpness_gradient'], 2)} | {_fmt(f.get('psnr'), 1)} | {f['seconds']:.2f} |")
    return "\n".join(lines)


def train_quick(image, labels, path: Path, device: str = "cpu") -> Path:
    """A quick-preset model of a large image (training works at the working size)."""
    from napari_semia.config import preset
    from napari_semia.trainer import SemiaTrainer

    trainer = SemiaTrainer(image, labels, config=preset("quick"), device=device)
    start = time.perf_counter()
    for progress in trainer.run():
        if progress.finished:
            seconds = time.perf_counter() - start
            print(f"trained {progress.step} steps in {seconds:.0f}s on {trainer.device}", flush=True)
    figures = {"steps": trainer.step, "seconds": seconds, "device": str(trainer.device)}
    return trainer.model.save(path), figures


def report(folder: Path) -> str:
    """Markdown tables of every ``<case>/results.json`` and ``timing.json`` under ``folder``."""
    def f(value, digits=3):
        return _fmt(value, digits)

    lines = []
    for path in sorted(folder.glob("*/results.json")):
        results = json.loads(path.read_text())
        lines += [f"#### {results['case']} ({results['image_shape'][0]} x {results['image_shape'][1]}, "
                  f"working size {results['working_shape'][0]} x {results['working_shape'][1]})", "",
                  "| target | changed | mIoU-chg bic / ref / lab | patch-chg full bic / ref / lab "
                  "| patch-chg working gan / ref / lab | sharp lap bic / ref / lab | sharp lap layout ref "
                  "| sharp grad bic / ref | PSNR bic / ref |",
                  "|---|---|---|---|---|---|---|---|---|"]
        for name, entry in results["targets"].items():
            bic, ref, lab = (entry[m] for m in ("bicubic", "refined", "labels"))
            working = [e.get("working_size", {}).get("patch_distance_changed") for e in (bic, ref, lab)]
            lines.append(
                f"| {name} | {f(entry['changed_fraction'], 2)} "
                f"| {' / '.join(f(e['layout']['miou_changed'], 2) for e in (bic, ref, lab))} "
                f"| {' / '.join(f(e['patch_distance_changed']) for e in (bic, ref, lab))} "
                f"| {' / '.join(f(v) for v in working)} "
                f"| {' / '.join(f(e['sharpness_laplacian'], 2) for e in (bic, ref, lab))} "
                f"| {f(ref['sharpness_laplacian_layout'], 2)} "
                f"| {f(bic['sharpness_gradient'], 2)} / {f(ref['sharpness_gradient'], 2)} "
                f"| {f(bic.get('psnr'), 1)} / {f(ref.get('psnr'), 1)} |")
        lines.append("")
    timings = sorted(folder.glob("*/timing.json"))
    if timings:
        lines += ["| image | method | megapixels | source side s | s per target (median) | peak RSS MB |",
                  "|---|---|---|---|---|---|"]
        for path in timings:
            results = json.loads(path.read_text())
            for method, m in results["methods"].items():
                lines.append(f"| {results['case']} | {method} | {m['megapixels']:.2f} "
                             f"| {f(m.get('source_side_s'), 2)} | {m['median_s']:.2f} "
                             f"| {m['peak_rss_mb']:.0f} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.worker:
        run_worker(args)
        return 0
    if args.report is not None:
        print(report(args.report))
        return 0
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = {"code_version": code_version(), "date_utc": time.strftime("%Y-%m-%d %H:%M", time.gmtime()),
             "load_average": os.getloadavg(), "refinement": vars(refinement_config(args.set))}
    if args.timing or args.large:
        # Time and peak memory, each method in a fresh process.
        common = ["--timing-runs", str(args.timing_runs)]
        common += ["--threads", str(args.threads)] if args.threads else []
        common += ["--device", args.device]
        common += ["--set", *args.set] if args.set else []
        if args.large:
            image, labels, _ = large_case(args.large, LARGE_CACHE)  # the measured process only loads it
            if args.train:
                model_path = args.out / "model.semia"
                args.model, stamp["training"] = train_quick(image, labels, model_path, args.device)
            common += ["--large", args.large]
        else:
            common += ["--case", args.case, "--data", str(args.data), "--timing-target", args.timing_target]
        common += ["--model", str(args.model)] if args.model else []
        methods = METHODS[:3] if args.model else ("labels",)
        measured = {method: measure_in_subprocess([*common, "--method", method]) for method in methods}
        results = {"case": args.large or args.case, **stamp, "methods": measured}
        with open(args.out / "timing.json", "w") as f:
            json.dump(_json_safe(results), f, indent=2)
        print(json.dumps(_json_safe(results), indent=1))
        return 0
    results = {"case": args.case, "model": str(args.model), **stamp, **evaluate_case(args)}
    with open(args.out / "results.json", "w") as f:
        json.dump(_json_safe(results), f, indent=2)
    print(table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
