"""The one place that decides which torch device napari-semia runs on."""

from __future__ import annotations

import torch

from .config import DEVICE_CHOICES
from .errors import SemiaInputError


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def resolve_device(name: str | torch.device | None = "auto") -> torch.device:
    """Return the torch device for ``name``: "auto" (cuda, else cpu), "cpu",
    "cuda", "cuda:N" or "mps" (also "mps:0", what an MPS tensor's device reads).

    An explicitly requested accelerator that is not present is an input error
    rather than a silent fall-back: the user asked for it and should know.

    "auto" does not pick Apple's MPS: it has never run here, and a review of the
    code found operations MPS refuses (area resizing to sizes that do not
    divide the source's, int64 max-scatters; docs/method.md, "Devices"). It
    stays available when asked for by name.
    """
    if isinstance(name, torch.device):
        name = str(name)
    name = (name or "auto").strip().lower()
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        return torch.device("cpu")
    if name == "cpu":
        return torch.device("cpu")
    if name.startswith("cuda"):
        try:
            device = torch.device(name)
        except (RuntimeError, ValueError):
            raise SemiaInputError(
                f"Unknown device '{name}'. Choose one of: {', '.join(DEVICE_CHOICES)} (or cuda:N)."
            ) from None
        if not torch.cuda.is_available():
            raise SemiaInputError(
                f"Device '{name}' was requested but no CUDA GPU is available "
                f"(this torch build: {torch.__version__}). Choose 'auto' or 'cpu'."
            )
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise SemiaInputError(
                f"Device '{name}' was requested but only "
                f"{torch.cuda.device_count()} CUDA device(s) exist."
            )
        return device
    if name in ("mps", "mps:0"):
        if not _mps_available():
            raise SemiaInputError(
                "Device 'mps' was requested but Apple's MPS backend is not available. "
                "Choose 'auto' or 'cpu'."
            )
        return torch.device("mps")
    raise SemiaInputError(
        f"Unknown device '{name}'. Choose one of: {', '.join(DEVICE_CHOICES)} (or cuda:N)."
    )


def describe_device(device: torch.device) -> str:
    """Human-readable name of the device actually used, for status labels."""
    if device.type == "cuda":
        index = device.index if device.index is not None else torch.cuda.current_device()
        return f"CUDA GPU {index}: {torch.cuda.get_device_name(index)}"
    if device.type == "mps":
        return "Apple GPU (MPS)"
    threads = torch.get_num_threads()
    return f"CPU ({threads} thread{'' if threads == 1 else 's'})"


def cpu_threads(device: torch.device) -> int | None:
    """The CPU threads torch computes with on ``device``; None on an accelerator. A
    model's history records it: other counts train another model."""
    return torch.get_num_threads() if device.type == "cpu" else None


def synchronize(device: torch.device) -> None:
    """Wait for the device's queued work (accelerators run asynchronously), e.g.
    before reading a clock."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


def release_device_memory(device: torch.device | None) -> None:
    """Give cached accelerator memory back after training stops or a widget closes."""
    if device is None:
        return
    if device.type == "cuda" and torch.cuda.is_available():
        torch.cuda.empty_cache()
    elif device.type == "mps" and _mps_available():
        torch.mps.empty_cache()


def pickled_device(device: torch.device) -> str | None:
    """For tensors on ``device`` being pickled: their device's type, to record (they
    are pickled on the CPU: a CPU-only machine cannot unpickle GPU tensors); None for
    the CPU's own."""
    return None if device.type == "cpu" else device.type


def device_after_unpickling(pickled_on: str) -> torch.device:
    """Where an object pickled from a tensor on ``pickled_on`` (a device type) goes
    when unpickled here: back to a CUDA GPU where this machine has one, else the CPU
    (a CPU-only Dask worker)."""
    if pickled_on == "cuda" and torch.cuda.is_available():
        return torch.device("cuda")
    return torch.device("cpu")
