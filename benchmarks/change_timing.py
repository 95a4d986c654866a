"""How long the full-resolution result takes as more of the layout changes.

The work is where the target's layout differs from the source's (and within
``RefinementConfig.identity_margin`` working-size pixels of it), so an edit of
a part is fast and a layout changed everywhere (a time series' other planes, a
layout shifted as a whole) is not. For a model and its source labels, times
the given targets, the source's own layout and the layout shifted by
``--shift`` pixels along x: the median of ``--runs`` syntheses after a first
one (which builds the source side).

    python benchmarks/change_timing.py /tmp/retina-quick.semia /tmp/retina-case/retina/label.png \\
        /tmp/retina-case/retina/cond/erase_box.png
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model")
    parser.add_argument("labels", help="the model's source label map")
    parser.add_argument("targets", nargs="*", help="more target label maps")
    parser.add_argument("--shift", type=int, default=40, help="the shifted layout's shift in px (default 40)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args(argv)

    from napari_semia.io import read_label_file
    from napari_semia.model import SemiaModel

    model = SemiaModel.load(args.model, device=args.device)
    labels = read_label_file(args.labels)
    targets = {path: read_label_file(path) for path in args.targets}
    targets[f"the layout shifted {args.shift} px"] = np.roll(labels, args.shift, axis=1)
    targets["the source's own layout"] = labels
    model.synthesize(labels)  # the source side, built once
    source_index = model.codec.encode(labels)
    print("| target | pixels changed | seconds (median) |")
    print("|---|---|---|")
    for name, target in targets.items():
        changed = float((model.codec.encode(target) != source_index).mean())
        times = []
        for _ in range(args.runs):
            start = time.perf_counter()
            model.synthesize(target)
            times.append(time.perf_counter() - start)
        print(f"| {name} | {changed:.1%} | {np.median(times):.2f} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
