"""A trained SemIA model and its one-file storage (``.semia``).

The file holds everything synthesis needs: generator weights and shape, the
source image at the working resolution, its class map, the label codec (class
ids and palette), the intensity normalisation, the working size, the training
config and the package version. Discriminator and segmenter weights are kept
too so that training can be resumed.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from . import __version__
from .config import TrainingConfig
from .device import resolve_device
from .errors import ModelFileError
from .intensity import IntensityNormalizer
from .labels import LabelCodec
from .networks import SFTGenerator
from .synthesis import to_onehot

FILE_FORMAT = "napari-semia-model"
FORMAT_VERSION = 1


def _json_default(value):
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, tuple):
        return list(value)
    raise TypeError(f"cannot store {type(value).__name__} in a model file")


@dataclass
class SemiaModel:
    generator: SFTGenerator
    codec: LabelCodec
    normalizer: IntensityNormalizer
    source_image: torch.Tensor
    """(1, C, h, w) normalised source at the working resolution."""
    source_index: torch.Tensor
    """(1, h, w) class indices of the source at the working resolution."""
    source_shape: tuple[int, int]
    """(H, W) of the full-size source image and label maps."""
    config: TrainingConfig
    steps_done: int = 0
    extra_states: dict = field(default_factory=dict)
    """Discriminator / segmenter state dicts, for resuming training."""
    version: str = __version__
    cache_source: bool = True
    """Reuse the source-side encoding between syntheses. Off for a model whose
    generator is still training (previews), since its weights keep changing."""
    _source_encoding: tuple | None = field(default=None, init=False, repr=False)

    def source_encoding(self):
        """The generator's source-side features, computed once per model."""
        if not self.cache_source:
            return None
        if self._source_encoding is None:
            with torch.inference_mode():
                self._source_encoding = self.generator.encode_source(
                    self.source_image, to_onehot(self.source_index, self.num_classes)
                )
        return self._source_encoding

    @property
    def device(self) -> torch.device:
        return self.source_image.device

    @property
    def class_ids(self) -> tuple[int, ...]:
        return tuple(self.codec.class_ids)

    @property
    def num_classes(self) -> int:
        return len(self.codec.class_ids)

    @property
    def working_shape(self) -> tuple[int, int]:
        return tuple(self.source_image.shape[-2:])

    def to(self, device: str | torch.device) -> "SemiaModel":
        device = resolve_device(device)
        self._source_encoding = None
        self.generator.to(device)
        self.source_image = self.source_image.to(device)
        self.source_index = self.source_index.to(device)
        return self

    def synthesize(self, target_labels):
        from .synthesis import synthesize

        return synthesize(self, target_labels)

    # ------------------------------------------------------------------ file
    def save(self, path: str | os.PathLike) -> Path:
        path = Path(path)
        meta = {
            "codec": self.codec.to_dict(),
            "normalizer": self.normalizer.to_dict(),
            "source_shape": list(self.source_shape),
            "config": self.config.to_dict(),
            "steps_done": int(self.steps_done),
            "generator_hparams": self.generator.hparams,
            "version": self.version,
        }
        payload = {
            "format": FILE_FORMAT,
            "format_version": FORMAT_VERSION,
            "meta_json": json.dumps(meta, default=_json_default),
            "generator": {k: v.detach().cpu() for k, v in self.generator.state_dict().items()},
            "source_image": self.source_image.detach().cpu(),
            "source_index": self.source_index.detach().cpu(),
            "extra_states": {
                name: {k: v.detach().cpu() for k, v in state.items()}
                for name, state in self.extra_states.items()
            },
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        # Write next to the destination, then rename: a crash mid-write never
        # destroys an existing good model file.
        tmp = path.with_name(path.name + ".partial")
        torch.save(payload, tmp)
        os.replace(tmp, path)
        return path

    @classmethod
    def load(cls, path: str | os.PathLike, device: str | torch.device = "auto") -> "SemiaModel":
        path = Path(path)
        if path.is_dir():
            raise ModelFileError(f"'{path}' is a folder, not a napari-semia model file.")
        if not path.is_file():
            raise ModelFileError(f"Model file not found: {path}")
        try:
            # weights_only: a model file is data; never execute pickled code from it.
            payload = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:  # torch raises many types for bad files
            raise ModelFileError(
                f"'{path.name}' is not a readable napari-semia model file "
                f"(corrupt, truncated or another format: {type(exc).__name__})."
            ) from None
        if not isinstance(payload, dict) or payload.get("format") != FILE_FORMAT:
            raise ModelFileError(f"'{path.name}' is not a napari-semia model file.")
        if int(payload.get("format_version", -1)) > FORMAT_VERSION:
            raise ModelFileError(
                f"'{path.name}' was written by a newer napari-semia (file format "
                f"{payload.get('format_version')}, this version reads {FORMAT_VERSION}). "
                "Upgrade napari-semia to open it."
            )
        try:
            meta = json.loads(payload["meta_json"])
            generator = SFTGenerator(**meta["generator_hparams"])
            generator.load_state_dict(payload["generator"])
            codec = LabelCodec.from_dict(meta["codec"])
            normalizer = IntensityNormalizer.from_dict(meta["normalizer"])
            model = cls(
                generator=generator.eval(),
                codec=codec,
                normalizer=normalizer,
                source_image=payload["source_image"].float(),
                source_index=payload["source_index"].long(),
                source_shape=tuple(int(v) for v in meta["source_shape"]),
                config=TrainingConfig.from_dict(meta["config"]),
                steps_done=int(meta.get("steps_done", 0)),
                extra_states=dict(payload.get("extra_states", {})),
                version=str(meta.get("version", "unknown")),
            )
        except ModelFileError:
            raise
        except Exception as exc:
            raise ModelFileError(
                f"'{path.name}' is a napari-semia model file but could not be read "
                f"(incompatible or damaged: {type(exc).__name__}: {exc})."
            ) from None
        if model.generator.hparams["num_classes"] != model.num_classes:
            raise ModelFileError(f"'{path.name}' is damaged: its class list does not match its generator.")
        return model.to(device)
