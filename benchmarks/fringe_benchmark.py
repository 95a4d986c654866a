"""How much of a moved or removed object's fringe stays along its old outline.

Reads what ``napari-semia demo`` wrote (``model.semia``, ``target.png``) and
synthesizes the target with the fringe rule off and on
(``RefinementConfig.fringe_reach``). For every class pair whose fringe shows
(``outline_depth.visible_fringes``: the histology sample's stroma by a gland),
the *old-outline band* is the pixels of the target's class k that had class j
within 1–4 working-size pixels in the source and have none within 4 in the
target. There it reports the **fringe tint**: the output's colour projected on
the line from k's clean colour (its source pixels with no j within 6 px) to
its fringe colour (those with j within 3 px): 0 = clean, 1 = as the fringe. It
also reports the share of band pixels tinted more than halfway, and saves a
montage (source, rule off, rule on; the region of the changes, enlarged).

    napari-semia demo --out semia-demo
    python benchmarks/fringe_benchmark.py --demo semia-demo --out benchmarks/results/fringe
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from scipy import ndimage as ndi

#: Working-size pixels: the band's width, and how far "clean" pixels lie from j.
BAND, CLEAN, FRINGE = 4, 6, 3


def _distance_to(index: np.ndarray, k: int) -> np.ndarray:
    if not (index == k).any():  # (the transform gives -1 everywhere then)
        return np.full(index.shape, np.iinfo(np.int32).max)
    return ndi.distance_transform_cdt(index != k, metric="chessboard")


def fringe_tints(output, source, source_index, target_index, pairs):
    """Per visible pair (k, j): (mean tint, share over 0.5, band pixels)."""
    out = np.atleast_3d(output).astype(float)
    out = out.reshape(-1, out.shape[-1])
    src = np.atleast_3d(source).astype(float)[..., :out.shape[-1]].reshape(-1, out.shape[-1])
    results = {}
    for k, j in pairs:
        source_distance, target_distance = _distance_to(source_index, j), _distance_to(target_index, j)
        band = ((target_index == k) & (source_distance >= 1) & (source_distance <= BAND)
                & (target_distance > BAND)).ravel()
        clean = ((source_index == k) & (source_distance > CLEAN)).ravel()
        fringe = ((source_index == k) & (source_distance <= FRINGE)).ravel()
        if band.sum() == 0 or clean.sum() == 0 or fringe.sum() == 0:
            continue
        clean_colour, fringe_colour = src[clean].mean(0), src[fringe].mean(0)
        axis = fringe_colour - clean_colour
        tint = (out[band] - clean_colour) @ axis / max(float(axis @ axis), 1e-9)
        results[f"{k}<-{j}"] = {"tint": float(tint.mean()), "tinted_share": float((tint > 0.5).mean()),
                                "band_pixels": int(band.sum())}
    return results


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--demo", required=True, type=Path, help="folder written by `napari-semia demo`")
    parser.add_argument("--out", required=True, type=Path)
    args = parser.parse_args(argv)

    from skimage import io

    from napari_semia.model import SemiaModel
    from napari_semia.outline_depth import classes_near, visible_fringes

    model = SemiaModel.load(args.demo / "model.semia", device="cpu")
    target = io.imread(args.demo / "target.png")
    pyramid = model.source_pyramid()
    level = pyramid.levels[0]
    if tuple(level.shape) != tuple(model.full_image.shape[:2]):
        raise SystemExit("this benchmark reads sources at their working size (the built-in samples)")
    source_index = level.classes.view(level.shape).long()
    image = level.pixels.view(-1, *level.shape)
    config, classes = model.refinement, range(model.num_classes)
    near = classes_near(source_index, config.fringe_reach, model.num_classes)
    visible = visible_fringes(image, source_index, near, model.num_classes, config.fringe_min_contrast)
    pairs = [(k, j) for k in classes for j in classes if int(visible[k]) >> j & 1]
    target_index = model.codec.encode(target)
    outputs, report = {}, {"pairs": [f"{k}<-{j}" for k, j in pairs]}
    for name in ("off", "on"):
        setting = model
        if name == "off":  # a model of its own: its source pyramid is built for its settings
            setting = SemiaModel.load(args.demo / "model.semia", device="cpu")
            setting.refinement = setting.refinement.replace(fringe_reach=0)
        outputs[name] = setting.synthesize(target)
        report[name] = fringe_tints(outputs[name], model.full_image, source_index.numpy(), target_index,
                                    pairs)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "fringe.json").write_text(json.dumps(report, indent=2))
    for name, output in outputs.items():
        io.imsave(args.out / f"refined_{name}.png", output, check_contrast=False)
    changed = source_index.numpy() != target_index
    ys, xs = np.nonzero(ndi.binary_dilation(changed, iterations=8))
    crop = np.s_[ys.min():ys.max() + 1, xs.min():xs.max() + 1] if len(ys) else np.s_[:, :]
    tiles = [model.full_image, outputs["off"], outputs["on"]]
    tiles = [np.atleast_3d(t)[crop][..., :3] for t in tiles]
    gap = np.full((tiles[0].shape[0], 4, tiles[0].shape[2]), 255, tiles[0].dtype)
    row = np.concatenate([tiles[0], gap, tiles[1], gap, tiles[2]], 1)
    io.imsave(args.out / "montage.png", np.kron(row, np.ones((3, 3, 1), row.dtype)), check_contrast=False)
    for name in ("off", "on"):
        for pair, figures in report[name].items():
            print(f"{name:3s} {pair}: tint {figures['tint']:.2f}, "
                  f"tinted share {figures['tinted_share']:.2f}, {figures['band_pixels']} band pixels")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
