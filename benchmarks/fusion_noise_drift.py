"""Does seam fusion move a noisy class's refill off its level?

A 64 x 64 noise background (sigma 13 or 14.5 grey levels; flat, over a
vignette of +40 at the centre, or over a step of 30) with a bright square in
it; the target removes the square, so its place is refilled with background.
For each, with ``fusion_shaded_gradient`` 0.1 (the shaded rule off) and 0.13
(on): the mean error of the refill against the background's own level there
(4 seeds), the refill's grain against the noise's (their mean), and, for the
last seed, which classes count as smooth and the background's nine-in-ten
neighbour step at the working size (32 px).

    python benchmarks/fusion_noise_drift.py
"""

from __future__ import annotations

import numpy as np


def main() -> int:
    from napari_semia.labels_only import LabelsOnlySynthesizer
    from napari_semia.refinement import RefinementConfig
    from napari_semia.seam_fusion import class_gradients

    size = 64
    rows, cols = np.mgrid[-1:1:size * 1j, -1:1:size * 1j]
    levels = {"flat": 0 * cols, "vignette": 40 * (1 - (rows**2 + cols**2)), "step": 30.0 * (cols > 0)}
    print("| background | sigma | shaded bound | refill error (4 seeds) | grain | smooth | step |")
    print("|---|---|---|---|---|---|---|")
    for kind, level in levels.items():
        base = 100 + level
        for sigma in (13.0, 14.5):
            for bound in (0.1, 0.13):
                errors, grains = [], []
                for seed in range(4):
                    noise = np.random.default_rng(seed).normal(0, sigma, (size, size))
                    image = (noise + base).astype(np.float32)
                    labels = np.zeros((size, size), np.int32)
                    labels[18:46, 18:46] = 1
                    image[labels == 1] += 100
                    synthesizer = LabelsOnlySynthesizer(
                        image, labels, size=32, device="cpu",
                        refinement=RefinementConfig(fusion_shaded_gradient=bound))
                    pyramid = synthesizer.prepare()
                    refill = (synthesizer.synthesize(np.zeros_like(labels)) - base)[22:42, 22:42]
                    errors.append(float(refill.mean()))
                    grains.append(float(refill.std()) / sigma)
                level0 = pyramid.levels[0]
                step = float(class_gradients(level0.pixels.view(-1, *level0.shape),
                                             level0.classes.view(level0.shape), 2)[0])
                print(f"| {kind} | {sigma:g} | {bound:g} | {', '.join(f'{e:.1f}' for e in errors)} | "
                      f"{np.mean(grains):.2f} | {pyramid.smooth.tolist()} | {step:.3f} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
