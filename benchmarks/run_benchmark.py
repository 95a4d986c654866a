"""Quality / speed benchmark of napari-semia on one example case.

Trains (or loads) a model on ``<data>/<case>/img.png`` + ``label.png``,
synthesizes every ``cond/*.png`` target (object-removal masks ``mask_*`` are
skipped), and measures:

* training time and peak memory (ru_maxrss of this process);
* seconds per synthesis at the working size and at full size (median);
* quality figures per target (see ``metrics.py`` and ``README.md``).

Writes ``results.json``, ``montage.png`` (one row per target: source | source
labels | target labels | output), the outputs as ``output_<target>.png`` and
the trained model ``model.semia`` into ``--out``.

    nice -n 10 python benchmarks/run_benchmark.py --case zebra --preset quick
    nice -n 10 python benchmarks/run_benchmark.py --model benchmarks/results/model.semia
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import resource
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from skimage.transform import resize

from napari_semia.figures import colorize_labels, montage

sys.path.insert(0, str(Path(__file__).resolve().parent))
import metrics

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO_ROOT.parent / "shared" / "data" / "semia-examples"
#: Targets evaluated for reconstruction (the source layout redrawn).
RECONSTRUCTION_TARGET = "rec"


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--case", default="zebra", help="example case folder name (default zebra)")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA,
                        help=f"folder holding the cases (default {DEFAULT_DATA})")
    parser.add_argument("--preset", default="default", help="training preset (quick, default, ...)")
    parser.add_argument("--size", type=int, default=256, help="working size (longest side, px)")
    parser.add_argument("--steps", type=int, default=None, help="override the preset's steps")
    parser.add_argument("--seed", type=int, default=None, help="override the preset's seed")
    parser.add_argument("--device", default="cpu", help="torch device (default cpu)")
    parser.add_argument("--model", type=Path, default=None,
                        help="evaluate this saved .semia model instead of training")
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "benchmarks" / "results",
                        help="output folder (default benchmarks/results)")
    parser.add_argument("--timing-runs", type=int, default=3,
                        help="synthesis calls per timing median (default 3)")
    parser.add_argument("--skip-quality", action="store_true",
                        help="train, time and save the outputs, but compute no quality figures "
                             "(to score them elsewhere, e.g. a GPU model on the CPU)")
    parser.add_argument("--patch-queries", type=int, default=2000,
                        help="output patches sampled per appearance figure (default 2000)")
    return parser.parse_args(argv)


# ------------------------------------------------------------------- input


def read_case(folder: Path):
    """(image, source labels, {target name: labels}) of one example case."""
    from napari_semia.io import read_image_file, read_label_file

    if not folder.is_dir():
        raise SystemExit(f"Case folder not found: {folder} (use --data / --case)")
    image = read_image_file(folder / "img.png")
    labels = read_label_file(folder / "label.png")
    targets = {
        path.stem: read_label_file(path)
        for path in sorted((folder / "cond").glob("*.png"))
        if not path.stem.startswith("mask_")
    }
    if not targets:
        raise SystemExit(f"No targets in {folder / 'cond'}")
    return image, labels, targets


def code_version() -> str:
    """Commit the benchmark ran on (plus '+dirty' with uncommitted changes), if in git."""
    import subprocess

    try:
        head = subprocess.run(["git", "-C", str(REPO_ROOT), "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(REPO_ROOT), "status", "--porcelain", "--", "src"],
                               capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return (head or "no-commit") + ("+dirty" if dirty else "")


def previous_training(model_path: Path) -> dict | None:
    """Training figures from the results.json written next to a saved model, if any,
    so re-evaluating a model keeps the cost of training it."""
    results_path = model_path.parent / "results.json"
    try:
        previous = json.loads(results_path.read_text())
        # results.json sits next to the model it describes; match by file name.
        if Path(previous["model"]).name == model_path.name and previous.get("training"):
            return previous["training"]
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return None


def peak_rss_mb() -> float:
    # Linux reports ru_maxrss in KiB, macOS in bytes.
    scale = 1 if sys.platform == "darwin" else 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale / 2**20


# ---------------------------------------------------------------- training


def accelerator_peak_mb(device) -> float | None:
    """Peak accelerator memory torch allocated (None on the CPU, where RSS counts it)."""
    import torch

    if torch.device(device).type != "cuda":
        return None
    return torch.cuda.max_memory_allocated(device) / 2**20


def train_model(image, labels, config, device: str):
    from napari_semia.device import describe_device
    from napari_semia.trainer import SemiaTrainer

    trainer = SemiaTrainer(image, labels, config=config, device=device)
    every = max(1, config.steps // 10)
    start = time.perf_counter()
    for progress in trainer.run():
        if progress.finished or progress.step % every == 0:
            losses = " ".join(f"{k}={v:.3f}" for k, v in sorted(progress.losses.items()))
            print(f"  step {progress.step:5d}/{progress.total_steps}  "
                  f"{progress.elapsed_s:7.1f}s  eta {progress.eta_s:6.1f}s  "
                  f"{progress.resolution[0]}x{progress.resolution[1]}  {losses}", flush=True)
    seconds = time.perf_counter() - start
    return trainer.model, seconds, describe_device(trainer.device)


def time_synthesis(model, target, runs: int) -> dict:
    def seconds(full_size: bool) -> list[float]:
        model.synthesize(target, full_size=full_size)  # warm-up (allocations, kernels)
        times = []
        for _ in range(runs):
            start = time.perf_counter()
            model.synthesize(target, full_size=full_size)
            times.append(time.perf_counter() - start)
        return times

    working, full = seconds(False), seconds(True)
    # The minimum is what the code costs; the median includes other jobs' load.
    return {"working_size_s": statistics.median(working), "full_size_s": statistics.median(full),
            "working_size_min_s": min(working), "full_size_min_s": min(full), "runs": runs}


# ------------------------------------------------------------- evaluation


def colour_labels(codec, index: np.ndarray) -> np.ndarray:
    return colorize_labels(index, codec.palette)


def evaluate(model, image, labels, targets, patch_queries: int, seed: int = 0):
    """Quality figures per target.

    Returns (figures dict, {target: full-size output}, montage rows).
    """
    from napari_semia.labels import LabelCodec

    codec = model.codec
    _, source_index_full = LabelCodec.from_source(labels)
    shape = tuple(model.working_shape)
    # Everything is scored at the working resolution, where the network really
    # works; the full-size output is a bicubic upsampling of it.
    source = metrics.resize_image(image, shape)
    source_index = metrics.resize_labels(source_index_full, shape)

    t0 = time.perf_counter()
    classifier = metrics.LayoutClassifier().fit(source, source_index)
    appearance = metrics.PatchAppearance(source, source_index)
    print(f"  evaluation models fitted in {time.perf_counter() - t0:.1f}s", flush=True)

    references = {}
    for name, ref in (("blurred_source_sigma1", metrics.blurred(source, 1.0)),
                      ("blurred_source_sigma2", metrics.blurred(source, 2.0)),
                      ("uniform_noise", metrics.uniform_noise(shape, seed))):
        references[name] = {
            "patch_distance": appearance.distance(ref, source_index, patch_queries, seed=seed)["mean"],
            "sharpness_laplacian": metrics.sharpness_ratio(ref, source, "laplacian"),
            "sharpness_gradient": metrics.sharpness_ratio(ref, source, "gradient"),
            "layout": metrics.layout_scores(classifier.predict(ref), source_index, source_index),
        }

    # What a perfect working-size output could at best score at full size:
    # the source itself sent through the same down- and upsampling.
    resampled = resize(source, tuple(model.source_shape) + (3,), order=3, anti_aliasing=False)
    references["source_through_working_size"] = {
        "sharpness_laplacian_full_size": metrics.sharpness_ratio(resampled, image, "laplacian"),
        "psnr_full_size": metrics.reconstruction_psnr(np.clip(resampled, 0, 1), image),
    }

    # The unchanged source is the "do nothing" baseline for every target.
    source_read = classifier.predict(source)
    per_target, outputs_full = {}, {}
    for name, target in targets.items():
        target_index = metrics.resize_labels(codec.encode(target), shape)
        changed = metrics.changed_mask(source_index, target_index)
        output = model.synthesize(target, full_size=False)
        outputs_full[name] = model.synthesize(target, full_size=True)
        entry = {
            "output": {
                "layout": metrics.layout_scores(classifier.predict(output), source_index, target_index),
                "patch_distance": appearance.distance(output, target_index, patch_queries, seed=seed)["mean"],
                "patch_distance_changed": appearance.distance(
                    output, target_index, patch_queries, seed=seed, mask=changed)["mean"],
                "sharpness_laplacian": metrics.sharpness_ratio(output, source, "laplacian"),
                "sharpness_gradient": metrics.sharpness_ratio(output, source, "gradient"),
                "sharpness_laplacian_full_size": metrics.sharpness_ratio(
                    outputs_full[name], image, "laplacian"),
            },
            "source_unchanged": {
                "layout": metrics.layout_scores(source_read, source_index, target_index),
                "patch_distance": appearance.distance(source, target_index, patch_queries, seed=seed)["mean"],
                "patch_distance_changed": appearance.distance(
                    source, target_index, patch_queries, seed=seed, mask=changed)["mean"],
            },
        }
        if name == RECONSTRUCTION_TARGET:
            entry["output"]["psnr"] = metrics.reconstruction_psnr(output, source)
            entry["output"]["psnr_full_size"] = metrics.reconstruction_psnr(outputs_full[name], image)
        per_target[name] = entry
        print(f"  evaluated {name}", flush=True)

    montage_rows = [
        (image, colour_labels(codec, source_index_full), colour_labels(codec, codec.encode(t)),
         outputs_full[n])
        for n, t in targets.items()
    ]
    return {"targets": per_target, "references": references,
            "working_shape": list(shape)}, outputs_full, montage_rows


# ------------------------------------------------------------------ report


def _fmt(value, digits=3) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, float) and math.isinf(value):
        return "inf"
    return f"{value:.{digits}f}"


def table(results: dict) -> str:
    head = ("| target | changed | mIoU out | mIoU src | mIoU-chg out | mIoU-chg src "
            "| patch out | patch src | patch-chg out | patch-chg src | sharp out | sharp full "
            "| PSNR | PSNR full |")
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for name, entry in results["targets"].items():
        out, src = entry["output"], entry["source_unchanged"]
        lines.append(
            f"| {name} | {_fmt(out['layout']['changed_fraction'], 2)} "
            f"| {_fmt(out['layout']['miou'])} | {_fmt(src['layout']['miou'])} "
            f"| {_fmt(out['layout']['miou_changed'])} | {_fmt(src['layout']['miou_changed'])} "
            f"| {_fmt(out['patch_distance'])} | {_fmt(src['patch_distance'])} "
            f"| {_fmt(out['patch_distance_changed'])} | {_fmt(src['patch_distance_changed'])} "
            f"| {_fmt(out['sharpness_laplacian'], 2)} | {_fmt(out['sharpness_laplacian_full_size'], 2)} "
            f"| {_fmt(out.get('psnr'), 1)} | {_fmt(out.get('psnr_full_size'), 1)} |"
        )
    lines.append("")
    lines.append("| reference | patch | sharp | sharp full | mIoU | PSNR full |")
    lines.append("|---|---|---|---|---|---|")
    for name, ref in results["references"].items():
        lines.append(
            f"| {name} | {_fmt(ref.get('patch_distance'))} | {_fmt(ref.get('sharpness_laplacian'), 2)} "
            f"| {_fmt(ref.get('sharpness_laplacian_full_size'), 2)} "
            f"| {_fmt(ref.get('layout', {}).get('miou'))} | {_fmt(ref.get('psnr_full_size'), 1)} |"
        )
    return "\n".join(lines)


def _json_safe(value):
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, (np.floating, float)):
        value = float(value)
        return None if math.isnan(value) else ("inf" if math.isinf(value) else value)
    if isinstance(value, np.integer):
        return int(value)
    return value


def main(argv=None) -> int:
    args = parse_args(argv)
    import torch
    from skimage import io as skio

    from napari_semia.config import preset
    from napari_semia.device import describe_device
    from napari_semia.model import SemiaModel

    args.out.mkdir(parents=True, exist_ok=True)
    folder = args.data / args.case
    image, labels, targets = read_case(folder)
    print(f"case {args.case}: image {image.shape} {image.dtype}, targets {list(targets)}", flush=True)
    rss_before = peak_rss_mb()

    training = None
    if args.model is not None:
        model = SemiaModel.load(args.model, device=args.device)
        print(f"loaded {args.model} ({model.steps_done} steps, working size {model.working_shape})")
        training = previous_training(args.model)
    else:
        config = preset(args.preset).replace(size=args.size)
        if args.steps is not None:
            config = config.replace(steps=args.steps)
        if args.seed is not None:
            config = config.replace(seed=args.seed)
        print(f"training preset '{args.preset}': {config.steps} steps at size {config.size}, "
              f"{torch.get_num_threads()} torch threads", flush=True)
        model, seconds, device = train_model(image, labels, config, args.device)
        training = {"preset": args.preset, "code_version": code_version(), "seconds": seconds,
                    "steps": config.steps, "seconds_per_step": seconds / config.steps,
                    "device": device, "peak_rss_mb": peak_rss_mb(), "peak_rss_mb_before": rss_before,
                    "accelerator_peak_mb": accelerator_peak_mb(model.device)}
        model.save(args.out / "model.semia")
        print(f"trained in {seconds:.1f}s, peak RSS {training['peak_rss_mb']:.0f} MB "
              f"(before training {rss_before:.0f} MB); saved {args.out / 'model.semia'}", flush=True)

    timing_target = next((t for n, t in targets.items() if n != RECONSTRUCTION_TARGET),
                         next(iter(targets.values())))
    timing = time_synthesis(model, timing_target, args.timing_runs)
    timing["accelerator_peak_mb"] = accelerator_peak_mb(model.device)
    print(f"synthesis: {timing['working_size_s']:.3f}s at working size, "
          f"{timing['full_size_s']:.3f}s at full size", flush=True)

    if args.skip_quality:
        outputs = {name: model.synthesize(target) for name, target in targets.items()}
        rows = [(image, colour_labels(model.codec, model.codec.encode(labels)),
                 colour_labels(model.codec, model.codec.encode(t)), outputs[n]) for n, t in targets.items()]
        quality = {}
    else:
        quality, outputs, rows = evaluate(model, image, labels, targets, args.patch_queries)
    for name, output in outputs.items():
        skio.imsave(args.out / f"output_{name}.png",
                    (metrics.to_float_rgb(output) * 255).round().astype(np.uint8), check_contrast=False)
    skio.imsave(args.out / "montage.png", montage(rows, gap=6), check_contrast=False)

    results = {
        "case": args.case,
        "code_version": code_version(),
        "date_utc": time.strftime("%Y-%m-%d %H:%M", time.gmtime()),
        "preset": args.preset if args.model is None else (training or {}).get("preset"),
        "model": str(args.model) if args.model else str(args.out / "model.semia"),
        "config": model.config.to_dict(),
        "steps_done": model.steps_done,
        "image_shape": list(image.shape),
        "training": training,
        "synthesis": timing,
        "peak_rss_mb_end": peak_rss_mb(),
        "machine": {"platform": platform.platform(), "processor": platform.processor(),
                    "cpu_count": os.cpu_count(), "torch": torch.__version__,
                    "torch_threads": torch.get_num_threads(), "python": platform.python_version(),
                    "device": describe_device(model.device)},
        **quality,
    }
    with open(args.out / "results.json", "w") as f:
        json.dump(_json_safe(results), f, indent=2)
    print()
    if quality:
        print(table(results))
    print(f"\nwrote {args.out / 'results.json'}, {args.out / 'montage.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
