"""Self-supervised training of Semantic Image Analogy on one image.

Each iteration augments (I, P) with a progressively stronger random warp and
alternates two modes, as in the paper:

* reconstruction (every ``rec_every``-th iteration): input = augmented pair,
  target layout = the same augmented layout; L1 to the augmented image plus the
  SFT fixed-point loss (gamma -> 1, beta -> 0).
* sampling (the others): input = source pair, target layout = augmented
  layout (or the roles swapped); the augmented image is the pseudo target
  for the conditional discriminator; losses: LSGAN + feature matching,
  semantic alignment through the auxiliary segmenter S, and the
  semantics-aware patch coherence loss against the source.

Most iterations run at half the working size (coarse-to-fine); the network is
fully convolutional, so the same weights continue at full size.
"""

from __future__ import annotations

import copy
import threading
import time
from dataclasses import dataclass, field
from typing import Iterator

import numpy as np
import torch
import torch.nn.functional as F

from .augmentation import AugmentationLimits, JointAugmenter, progressive_strength
from .config import TrainingConfig
from .device import resolve_device
from .errors import SemiaInputError
from .intensity import IntensityNormalizer
from .losses import (
    feature_matching_loss,
    fixed_point_loss,
    lsgan_discriminator_loss,
    lsgan_generator_loss,
    semantic_alignment_loss,
    semantic_patch_coherence_loss,
)
from .model_file import SemiaModel
from .networks import AuxSegmenter, MultiScaleDiscriminator, SFTGenerator
from .synthesis import resize_index, synthesize, to_onehot
from .validation import validate_target, validate_training_inputs


@dataclass
class TrainingProgress:
    """One training update, yielded after every iteration."""

    step: int
    total_steps: int
    losses: dict[str, float]
    elapsed_s: float
    eta_s: float
    mode: str = "sampling"
    preview: np.ndarray | None = None
    finished: bool = False
    stopped: bool = False
    device: str = "cpu"
    resolution: tuple[int, int] = (0, 0)

    @property
    def fraction(self) -> float:
        return self.step / max(1, self.total_steps)


def working_shape(source_shape: tuple[int, int], size: int) -> tuple[int, int]:
    """Working resolution: longest side ``size`` (never upsampled)."""
    height, width = source_shape
    scale = min(1.0, size / max(height, width))
    return max(8, round(height * scale)), max(8, round(width * scale))


@dataclass
class _Resolution:
    image: torch.Tensor
    index: torch.Tensor
    onehot: torch.Tensor = field(init=False)
    num_classes: int = 0

    def __post_init__(self):
        self.onehot = to_onehot(self.index, self.num_classes)

    @property
    def shape(self) -> tuple[int, int]:
        return tuple(self.image.shape[-2:])


class SemiaTrainer:
    """Iterable trainer; ``run()`` is a generator that yields :class:`TrainingProgress`.

    Thread-safety: ``stop()`` and ``set_preview_target()`` may be called from
    another thread (e.g. the Qt main thread while ``run()`` iterates in a worker).
    """

    def __init__(
        self,
        image: np.ndarray,
        labels: np.ndarray,
        config: TrainingConfig | None = None,
        device: str | torch.device = "auto",
        preview_target: np.ndarray | None = None,
        preview_every: int = 0,
        resume: SemiaModel | None = None,
    ) -> None:
        self.config = config or TrainingConfig()
        codec, source_index = validate_training_inputs(image, labels)
        self.device = resolve_device(device)
        self.source_shape = tuple(source_index.shape[:2])
        self.normalizer = IntensityNormalizer.fit(image)
        if resume is not None:
            if tuple(resume.class_ids) != tuple(codec.class_ids):
                raise SemiaInputError(
                    f"Cannot continue training: the model's classes {list(resume.class_ids)} "
                    f"differ from these labels' classes {list(codec.class_ids)}."
                )
            if tuple(resume.source_shape) != self.source_shape:
                raise SemiaInputError(
                    f"Cannot continue training: the model was trained on a {resume.source_shape} "
                    f"image, these layers are {self.source_shape}."
                )
            if (resume.normalizer.layout, resume.normalizer.channels) != (
                self.normalizer.layout, self.normalizer.channels
            ):
                raise SemiaInputError(
                    "Cannot continue training: the model was trained on a "
                    f"{resume.normalizer.layout} image with {resume.normalizer.channels} channel(s), "
                    f"this image is {self.normalizer.layout} with {self.normalizer.channels}."
                )
        self.codec = codec
        self._preview_lock = threading.Lock()
        self._preview_target: np.ndarray | None = None
        self.preview_every = int(preview_every)
        if preview_target is not None:
            self.set_preview_target(preview_target)
        self._stop_event = threading.Event()

        cfg = self.config
        torch.manual_seed(cfg.seed)
        self._torch_rng = torch.Generator().manual_seed(cfg.seed)
        self._rng = np.random.default_rng(cfg.seed)
        self.augmenter = JointAugmenter(
            AugmentationLimits(cfg.max_scale, cfg.max_rotation_deg, cfg.max_shift,
                               cfg.tps_strength, cfg.flip_probability),
            seed=cfg.seed,
        )

        num_classes = len(codec.class_ids)
        self.num_classes = num_classes
        full_image = torch.from_numpy(self.normalizer.to_network(image)).float()[None].to(self.device)
        full_index = torch.from_numpy(np.asarray(source_index, dtype=np.int64))[None].to(self.device)
        fine_shape = working_shape(self.source_shape, resume.config.size if resume else cfg.size)
        coarse_shape = working_shape(self.source_shape, max(16, (resume.config.size if resume else cfg.size) // 2))
        self.fine = self._resolution(full_image, full_index, fine_shape)
        self.coarse = self._resolution(full_image, full_index, coarse_shape)
        channels = self.fine.image.shape[1]

        if resume is not None:
            self.generator = copy.deepcopy(resume.generator).to(self.device).train()
            self.config = cfg = cfg.replace(size=resume.config.size, width=resume.config.width,
                                            levels=resume.config.levels)
            self.steps_before = resume.steps_done
        else:
            self.generator = SFTGenerator(channels, num_classes, cfg.width, cfg.levels).to(self.device)
            self.steps_before = 0
        self.discriminator = MultiScaleDiscriminator(channels, num_classes).to(self.device)
        self.segmenter = AuxSegmenter(channels, num_classes).to(self.device)
        if resume is not None:
            for name, module in (("discriminator", self.discriminator), ("segmenter", self.segmenter)):
                state = resume.extra_states.get(name)
                if state:
                    module.load_state_dict(state)
        self.resumed = resume is not None

        betas = (0.5, 0.999)
        self.opt_g = torch.optim.Adam(self.generator.parameters(), lr=cfg.lr_generator, betas=betas)
        self.opt_d = torch.optim.Adam(self.discriminator.parameters(), lr=cfg.lr_discriminator, betas=betas)
        self.opt_s = torch.optim.Adam(self.segmenter.parameters(), lr=cfg.lr_segmenter, betas=betas)
        self.step = 0
        self.last_losses: dict[str, float] = {}
        self._step_seconds: dict[bool, list[float]] = {True: [], False: []}

    # ------------------------------------------------------------ public API
    def stop(self) -> None:
        """Ask ``run()`` to end after the current iteration (thread-safe)."""
        self._stop_event.set()

    @property
    def stop_requested(self) -> bool:
        return self._stop_event.is_set()

    def set_preview_target(self, target: np.ndarray | None) -> None:
        """Change the layout previews are synthesized for (thread-safe)."""
        if target is not None:
            validate_target(target, self.source_shape, self.codec)
            target = np.array(target, copy=True)
        with self._preview_lock:
            self._preview_target = target

    @property
    def model(self) -> SemiaModel:
        """A snapshot of the model trained so far (usable after ``stop()``)."""
        return SemiaModel(
            generator=copy.deepcopy(self.generator).eval(),
            codec=self.codec,
            normalizer=self.normalizer,
            source_image=self.fine.image.clone(),
            source_index=self.fine.index.clone(),
            source_shape=self.source_shape,
            config=self.config,
            steps_done=self.steps_before + self.step,
            extra_states={
                "discriminator": copy.deepcopy(self.discriminator.state_dict()),
                "segmenter": copy.deepcopy(self.segmenter.state_dict()),
            },
        )

    def run(self) -> Iterator[TrainingProgress]:
        """Train, yielding progress after every iteration; ends early after ``stop()``."""
        total = self.config.steps
        start = time.perf_counter()
        stopped = False
        while self.step < total:
            if self._stop_event.is_set():
                stopped = True
                break
            step_start = time.perf_counter()
            coarse = self._is_coarse(self.step, total)
            mode, resolution = self._iteration(self.step, total)
            self._step_seconds[coarse].append(time.perf_counter() - step_start)
            self.step += 1
            preview = None
            if self.preview_every and (self.step % self.preview_every == 0 or self.step == total):
                preview = self._preview()
            yield TrainingProgress(
                step=self.step, total_steps=total, losses=dict(self.last_losses),
                elapsed_s=time.perf_counter() - start, eta_s=self._eta(self.step, total), mode=mode,
                preview=preview, device=str(self.device), resolution=resolution,
            )
        yield TrainingProgress(
            step=self.step, total_steps=total, losses=dict(self.last_losses),
            elapsed_s=time.perf_counter() - start, eta_s=0.0,
            preview=self._preview() if self.preview_every else None,
            finished=True, stopped=stopped, device=str(self.device), resolution=self.fine.shape,
        )

    # -------------------------------------------------------------- internals
    def _resolution(self, image, index, shape) -> _Resolution:
        if tuple(image.shape[-2:]) != tuple(shape):
            image = F.interpolate(image, size=shape, mode="bilinear", antialias=True, align_corners=False)
        index = resize_index(index, shape, self.num_classes)
        return _Resolution(image=image.contiguous(), index=index, num_classes=self.num_classes)

    def _is_coarse(self, step: int, total: int) -> bool:
        return not self.resumed and step < self.config.coarse_fraction * total

    def _eta(self, step: int, total: int) -> float:
        """Seconds left, from the measured cost of coarse and fine iterations.

        Before any fine iteration has run, its cost is extrapolated from the
        coarse ones by the pixel ratio (convolutions scale with pixels).
        """
        coarse_times, fine_times = self._step_seconds[True], self._step_seconds[False]
        recent = lambda times: float(np.mean(times[-50:]))  # noqa: E731
        coarse_cost = recent(coarse_times) if coarse_times else None
        if fine_times:
            fine_cost = recent(fine_times)
        else:
            ratio = np.prod(self.fine.shape) / max(1, np.prod(self.coarse.shape))
            fine_cost = (coarse_cost or 0.0) * ratio
        coarse_end = 0 if self.resumed else int(np.ceil(self.config.coarse_fraction * total))
        coarse_left = max(0, coarse_end - step)
        return coarse_left * (coarse_cost or fine_cost) + (total - step - coarse_left) * fine_cost

    def _learning_rate_factor(self, step: int, total: int) -> float:
        start = self.config.lr_decay_start * total
        if step < start:
            return 1.0
        return 1.0 - 0.9 * (step - start) / max(1.0, total - start)

    def _preview(self) -> np.ndarray | None:
        with self._preview_lock:
            target = self._preview_target
        if target is None:
            return None
        return synthesize(self.model_for_preview(), target)

    def model_for_preview(self) -> SemiaModel:
        # Previews run between iterations in the training thread: no copy needed.
        return SemiaModel(
            generator=self.generator, codec=self.codec, normalizer=self.normalizer,
            source_image=self.fine.image, source_index=self.fine.index,
            source_shape=self.source_shape, config=self.config, cache_source=False,
        )

    def _iteration(self, step: int, total: int) -> tuple[str, tuple[int, int]]:
        cfg = self.config
        res = self.coarse if self._is_coarse(step, total) else self.fine
        strength = 1.0 if self.resumed else progressive_strength(step, total, cfg.augment_ramp)
        lr_factor = self._learning_rate_factor(step, total)
        for opt, base in ((self.opt_g, cfg.lr_generator), (self.opt_d, cfg.lr_discriminator),
                          (self.opt_s, cfg.lr_segmenter)):
            for group in opt.param_groups:
                group["lr"] = base * lr_factor

        aug_image, aug_index = self.augmenter(res.image, res.index, strength)
        aug_onehot = to_onehot(aug_index, self.num_classes)
        reconstruction = step % cfg.rec_every == 0
        if reconstruction:
            mode = "reconstruction"
            inp_image, inp_onehot, inp_index = aug_image, aug_onehot, aug_index
            tgt_onehot, tgt_index, real = aug_onehot, aug_index, aug_image
        elif self._rng.uniform() < 0.5:
            mode = "sampling"
            inp_image, inp_onehot, inp_index = res.image, res.onehot, res.index
            tgt_onehot, tgt_index, real = aug_onehot, aug_index, aug_image
        else:  # the paper's role swap: augmented pair as input, source layout as target
            mode = "sampling"
            inp_image, inp_onehot, inp_index = aug_image, aug_onehot, aug_index
            tgt_onehot, tgt_index, real = res.onehot, res.index, res.image

        fake, modulation = self.generator(inp_image, inp_onehot, tgt_onehot, return_modulation=True)

        # Discriminator on (pseudo target, layout) vs (output, layout).
        self.opt_d.zero_grad(set_to_none=True)
        d_real = self.discriminator(real, tgt_onehot)
        d_fake = self.discriminator(fake.detach(), tgt_onehot)
        loss_d = lsgan_discriminator_loss(d_real, d_fake)
        loss_d.backward()
        self.opt_d.step()

        # Auxiliary segmenter learns to read real (augmented) images.
        self.opt_s.zero_grad(set_to_none=True)
        loss_s = semantic_alignment_loss(self.segmenter(real), tgt_index)
        loss_s.backward()
        self.opt_s.step()

        # Generator.
        self.opt_g.zero_grad(set_to_none=True)
        d_fake = self.discriminator(fake, tgt_onehot)
        with torch.no_grad():
            d_real = self.discriminator(real, tgt_onehot)
        loss_adv = lsgan_generator_loss(d_fake)
        loss_fm = feature_matching_loss(d_real, d_fake)
        losses = {"D": loss_d.item(), "S": loss_s.item(), "adv": loss_adv.item(), "fm": loss_fm.item()}
        loss_g = cfg.w_adversarial * loss_adv + cfg.w_feature_matching * loss_fm
        if reconstruction:
            loss_rec = F.l1_loss(fake, real)
            loss_fp = fixed_point_loss(modulation)
            loss_g = loss_g + cfg.w_reconstruction * loss_rec + cfg.w_fixed_point * loss_fp
            losses.update(rec=loss_rec.item(), fixed_point=loss_fp.item())
        else:
            for p in self.segmenter.parameters():
                p.requires_grad_(False)
            loss_sem = semantic_alignment_loss(self.segmenter(fake), tgt_index)
            for p in self.segmenter.parameters():
                p.requires_grad_(True)
            loss_patch = semantic_patch_coherence_loss(
                fake, tgt_index, res.image, res.index,
                patch_size=cfg.patch_size, max_queries=cfg.patch_queries, generator=self._torch_rng,
            )
            loss_g = loss_g + cfg.w_semantic * loss_sem + cfg.w_patch * loss_patch
            losses.update(semantic=loss_sem.item(), patch=loss_patch.item())
        loss_g.backward()
        self.opt_g.step()
        self.last_losses.update(losses)
        if not all(np.isfinite(v) for v in losses.values()):
            raise FloatingPointError(f"Training diverged at step {step + 1}: losses {losses}")
        return mode, res.shape


def train(image, labels, config: TrainingConfig | None = None, device="auto", callback=None) -> SemiaModel:
    """Train to the end and return the model; ``callback(progress)`` sees every update."""
    trainer = SemiaTrainer(image, labels, config=config, device=device)
    for progress in trainer.run():
        if callback is not None:
            callback(progress)
    return trainer.model
