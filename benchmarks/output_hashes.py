"""Hashes of every output of the four examples, to show that a change leaves them
byte for byte as they were (or which ones it changes).

For each case and each target (the case's own and ``fullres_benchmark.py
--stress``'s), prints ``case target refined labels-only seconds``: the first 12
hex digits of the SHA-1 of the full-resolution result and of the result from the
label map alone. It also checks that ``synthesis_stages`` gives the fast preview
and then that same result. Run it before and after a change and diff the two:

    OMP_NUM_THREADS=1 python benchmarks/output_hashes.py --models /tmp/bench2 > before.txt

``--models`` holds ``<case>/model.semia`` (``run_benchmark.py --out`` folders).
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fullres_benchmark import read_case, stress_targets
from run_benchmark import DEFAULT_DATA


def digest(array: np.ndarray) -> str:
    return hashlib.sha1(np.ascontiguousarray(array).tobytes()).hexdigest()[:12]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", type=Path, required=True, help="folder of <case>/model.semia")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--cases", default="building,face,tree,zebra")
    args = parser.parse_args(argv)
    import torch

    from napari_semia.labels_only import LabelsOnlySynthesizer
    from napari_semia.model import SemiaModel

    torch.set_num_threads(1)
    for case in args.cases.split(","):
        image, labels, targets = read_case(args.data / case)
        model = SemiaModel.load(args.models / case / "model.semia", device="cpu")
        targets.update(stress_targets(model.codec, labels))
        from_labels = LabelsOnlySynthesizer(image, labels)
        for name, target in targets.items():
            started = time.perf_counter()
            torch.manual_seed(0)  # (synthesis draws from its own generators; as the reference runs did)
            refined = model.synthesize(target)
            stages = list(model.synthesis_stages(target))
            assert [final for _, final in stages] == [False, True], name
            assert np.array_equal(stages[0][0], model.synthesize(target, refine=False)), name
            assert np.array_equal(stages[1][0], refined), name
            print(case, name, digest(refined), digest(from_labels.synthesize(target)),
                  f"{time.perf_counter() - started:.1f}s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
