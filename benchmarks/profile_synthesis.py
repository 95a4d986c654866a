"""Where one full-resolution synthesis spends its time, on any device.

Loads a model, warms up (the first call builds the source pyramid and, on a
GPU, loads kernels), then profiles one ``SemiaModel.synthesize`` call twice:
with ``torch.profiler`` (the operators by their own CPU time and, on a GPU,
by their kernel time, and how busy the GPU was over the call) and with
``cProfile`` (the Python functions by their own time: a GPU's waits show up
in the calls that copy to the host).

    python benchmarks/profile_synthesis.py --case zebra --model zebra.semia --device cuda
    python benchmarks/profile_synthesis.py --large retina --model retina.semia --device cuda
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run_benchmark import DEFAULT_DATA, read_case


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--case", default="zebra")
    parser.add_argument("--large", choices=("retina", "synthetic4096"), default=None)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--target", default="1")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--rows", type=int, default=18)
    args = parser.parse_args(argv)

    from torch.profiler import ProfilerActivity, profile

    from napari_semia.device import describe_device, synchronize
    from napari_semia.model import SemiaModel

    if args.large:
        from fullres_benchmark import LARGE_CACHE, large_case

        image, _, target = large_case(args.large, LARGE_CACHE)
    else:
        image, _, targets = read_case(args.data / args.case)
        target = targets[args.target]
    model = SemiaModel.load(args.model, device=args.device)
    device = model.device
    print(f"{args.large or args.case}: {image.shape}, {describe_device(device)}", flush=True)

    def synthesize():
        out = model.synthesize(target)
        synchronize(device)
        return out

    start = time.perf_counter()
    synthesize()
    print(f"first call (source pyramid, warm-up): {time.perf_counter() - start:.2f}s")
    times = []
    for _ in range(3):
        start = time.perf_counter()
        synthesize()
        times.append(time.perf_counter() - start)
    print(f"full resolution: median {statistics.median(times):.3f}s of {[round(t, 3) for t in times]}")

    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
    start = time.perf_counter()
    with profile(activities=activities) as prof:
        synthesize()
    wall = time.perf_counter() - start
    averages = prof.key_averages()
    print(f"\n--- torch.profiler, by own CPU time (wall {wall:.3f}s with the profiler on)")
    print(averages.table(sort_by="self_cpu_time_total", row_limit=args.rows))
    if device.type == "cuda":
        kernel_us = sum(getattr(e, "self_device_time_total", 0) for e in averages)
        print(f"--- kernels: {kernel_us / 1e6:.3f}s of device time in {wall:.3f}s of wall time")
        print(averages.table(sort_by="self_cuda_time_total", row_limit=args.rows))

    profiler = cProfile.Profile()
    profiler.enable()
    synthesize()
    profiler.disable()
    text = io.StringIO()
    pstats.Stats(profiler, stream=text).sort_stats("tottime").print_stats(args.rows)
    print("\n--- cProfile, by own time")
    print(text.getvalue())
    return 0


if __name__ == "__main__":
    sys.exit(main())
