"""The outputs a ``fullres_benchmark.py --out`` folder holds, for the scripts that
read them again with another figure (``layout_breakdown.py``, ``layout_seeds.py``,
``edge_profiles_benchmark.py``, ``edge_position.py``): their common arguments, the case's targets with
changed pixels, and each output's path."""

from __future__ import annotations

import argparse
from pathlib import Path

import metrics
from fullres_benchmark import RECONSTRUCTION_TARGET, read_case, stress_targets
from run_benchmark import DEFAULT_DATA


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--case", required=True)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--model", type=Path, required=True, help="the .semia model the outputs came from")
    parser.add_argument("--outputs", type=Path, required=True, help="a fullres_benchmark.py --out folder")


def load_case(args: argparse.Namespace):
    """The source image, its class indices (by the model's codec) and the targets with
    changed pixels: ``{name: (target class indices, changed mask)}``, the case's
    own and ``fullres_benchmark.py --stress``'s, not the reconstruction."""
    from napari_semia.model import SemiaModel

    image, labels, targets = read_case(args.data / args.case)
    model = SemiaModel.load(args.model, device="cpu")
    targets.update(stress_targets(model.codec, labels))
    source_index = model.codec.encode(labels)
    changed_targets = {}
    for name, target in targets.items():
        target_index = model.codec.encode(target)
        changed = metrics.changed_mask(source_index, target_index)
        if name != RECONSTRUCTION_TARGET and changed.any():
            changed_targets[name] = (target_index, changed)
    return image, source_index, changed_targets


def output_path(folder: Path, method: str, name: str, case: str) -> Path:
    """``folder/<method>_<name>.png``; a clear exit when it is missing."""
    path = folder / f"{method}_{name}.png"
    if not path.is_file():
        raise SystemExit(f"{path} is missing: run fullres_benchmark.py --case {case} "
                         f"--out {folder} (with --stress for the generated targets) first")
    return path
