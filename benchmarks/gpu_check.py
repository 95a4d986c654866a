"""What the widget's workers do on a GPU, without Qt: Stop, cancel, and the memory left.

The dock widget runs ``training_updates`` and ``synthesis_results``
(``napari_semia._qt.jobs``, Qt-free generators) in napari's worker threads and
calls ``release_device_memory`` when they end and when the dock closes. This
script drives the same generators from a plain thread on one device and
reports, as JSON:

* how long Stop takes to end a training run (the trainer stops after the
  current step) and that the model trained so far is returned;
* how long cancelling a full-resolution synthesis takes (checked tile by tile);
* the fast preview's and the full-resolution result's latency;
* the accelerator memory torch holds (allocated / reserved) after training,
  after the runner lets the trainer go, and after the dock closes (the model
  dropped): it must come back to what it was before.

    python benchmarks/gpu_check.py --case zebra --device cuda
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run_benchmark import DEFAULT_DATA, read_case


def memory_mb(device) -> dict:
    import torch

    if device.type != "cuda":
        return {}
    return {"allocated_mb": torch.cuda.memory_allocated(device) / 2**20,
            "reserved_mb": torch.cuda.memory_reserved(device) / 2**20}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--case", default="zebra")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--stop-after", type=float, default=5.0, help="seconds of training before Stop")
    args = parser.parse_args(argv)

    import torch

    from napari_semia._qt.jobs import (
        SynthesisJob,
        TrainingJob,
        TrainingStarted,
        synthesis_results,
        training_updates,
    )
    from napari_semia.config import preset
    from napari_semia.device import describe_device, release_device_memory, resolve_device, synchronize

    device = resolve_device(args.device)
    image, labels, targets = read_case(args.data / args.case)
    target = targets.get("1", next(iter(targets.values())))
    report = {"device": describe_device(device), "case": args.case, "before": memory_mb(device)}

    # --- training, stopped by the user after a few seconds
    job = TrainingJob(image=image, labels=labels, target=target, config=preset("default"),
                      device=str(device), preview_every=50, resume=None)
    stop = threading.Event()
    training = threading.Event()  # the first step is done
    outcome: dict = {}

    def run_training():
        updates = training_updates(job, stop)
        steps = 0
        try:
            while True:
                update = next(updates)
                if isinstance(update, TrainingStarted):
                    outcome["trainer"] = update.trainer
                    outcome["trainer_ready"] = time.perf_counter()
                else:
                    outcome.setdefault("first_step", time.perf_counter())
                    training.set()
                steps = getattr(update, "step", steps)
        except StopIteration as finished:
            outcome["result"] = finished.value
            outcome["ended"] = time.perf_counter()
            outcome["last_step_seen"] = steps

    thread = threading.Thread(target=run_training)
    started = time.perf_counter()
    thread.start()
    training.wait(timeout=120)
    time.sleep(args.stop_after)
    stop_pressed = time.perf_counter()
    stop.set()  # what TrainingRunner.stop does
    outcome["trainer"].stop()
    thread.join(timeout=120)
    result = outcome["result"]
    report["training"] = {
        "trainer_ready_s": outcome["trainer_ready"] - started,  # inputs checked, data on the device
        "first_step_s": outcome["first_step"] - started,
        "ran_s": stop_pressed - started,
        "stop_to_end_s": outcome["ended"] - stop_pressed,
        "steps_done": result.steps_done, "total_steps": result.total_steps, "stopped": result.stopped,
        "model_kept": result.model is not None, "error": repr(result.error) if result.error else None,
        "memory_after_training": memory_mb(device),
    }
    model = result.model
    del result
    outcome.clear()  # the trainer too: the runner lets it go when the thread ends
    gc.collect()
    release_device_memory(device)  # TrainingRunner._on_ended, once the trainer is let go
    report["training"]["memory_model_only"] = memory_mb(device)

    # --- synthesis: the fast preview, then full resolution; and a cancelled one
    def synthesize(cancel_after_first_progress: bool):
        cancel = threading.Event()
        times = {}
        start = time.perf_counter()

        def progress(fraction):
            times.setdefault("first_progress_s", time.perf_counter() - start)
            if cancel_after_first_progress and not cancel.is_set():
                cancel.set()
                times["cancelled_at"] = time.perf_counter()

        results = []
        for update in synthesis_results(SynthesisJob(model, target, 1), cancel, progress):
            synchronize(device)
            key = "full_s" if update.final else "preview_s"
            times[key] = time.perf_counter() - start
            results.append(update)
        times["ended_s"] = time.perf_counter() - start
        if "cancelled_at" in times:
            times["cancel_to_end_s"] = start + times["ended_s"] - times.pop("cancelled_at")
        times["errors"] = [repr(r.error) for r in results if r.error is not None]
        times["full_shape"] = list(results[-1].image.shape) if results and results[-1].final \
            and results[-1].image is not None else None
        return times

    synthesize(False)  # the first call builds the source pyramid (once per model) and warms kernels
    runs = [synthesize(False) for _ in range(3)]
    report["synthesis"] = {
        "preview_s_median": statistics.median(r["preview_s"] for r in runs),
        "full_s_median": statistics.median(r["full_s"] for r in runs),
        "full_shape": runs[-1]["full_shape"], "source_shape": list(image.shape),
        "errors": sorted({e for r in runs for e in r["errors"]}),
    }
    report["cancelled_synthesis"] = synthesize(True)
    report["memory_with_model"] = memory_mb(device)

    # --- the dock closes: the model is dropped and the cache released
    model = None
    gc.collect()
    release_device_memory(device)
    report["memory_after_close"] = memory_mb(device)
    if device.type == "cuda":
        report["peak_allocated_mb"] = torch.cuda.max_memory_allocated(device) / 2**20
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
