"""Self-supervised training of Semantic Image Analogy on one image.

Each step augments (I, P) with a progressively stronger random warp and
alternates two modes, as in the paper:

* reconstruction (every ``rec_every``-th step): input = augmented pair,
  target layout = the same augmented layout; L1 to the augmented image plus the
  SFT fixed-point loss (gamma -> 1, beta -> 0).
* sampling (the others): input = source pair, target layout = augmented
  layout (or the roles swapped); the augmented image is the pseudo target
  for the conditional discriminator; losses: LSGAN + feature matching,
  semantic alignment through the auxiliary segmenter S, and the
  semantics-aware patch coherence loss against the source.

A step is three named updates, each returning its losses by name (in the
manner of SPADE's ``run_discriminator_one_step`` / ``run_generator_one_step``):
:meth:`SemiaTrainer.discriminator_step`, :meth:`SemiaTrainer.segmenter_step`
and :meth:`SemiaTrainer.generator_step`. Each checks its losses and gradients
before its optimizer steps, so a diverging run stops with the last good
weights. Most steps run at half the working size (coarse-to-fine); the
networks are fully convolutional, so the same weights continue at full size.
"""

from __future__ import annotations

import copy
import math
import threading
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from .augmentation import AugmentationLimits, JointAugmenter
from .collapse_guard import CollapseGuard
from .config import TrainingConfig, training_config
from .device import cpu_threads, resolve_device, synchronize
from .errors import SemiaInputError, SemiaWarning
from .layout_tensors import resize_index, to_onehot
from .losses import (
    SourcePatchBank,
    feature_matching_loss,
    fixed_point_loss,
    lsgan_discriminator_loss,
    lsgan_generator_loss,
    semantic_alignment_loss,
    semantic_patch_coherence_loss,
)
from .model import SemiaModel, run_generator, to_user_image
from .networks import AuxSegmenter, MultiScaleDiscriminator, SFTGenerator
from .schedules import learning_rate_factor, progressive_strength
from .source_info import SourceInfo
from .training_data import Resolution, TrainingData, working_shape
from .training_progress import EtaEstimator, TrainingProgress
from .validation import validate_target

__all__ = ["SemiaTrainer", "TrainingDiverged", "TrainingProgress", "working_shape"]

_ADAM_BETAS = (0.5, 0.999)
#: Collapses undone (best weights, fresh optimizers, half the learning rates)
#: before training stops instead.
MAX_RECOVERIES = 2
#: How many generator forward + backward passes' worth of pixel-bound work a
#: training step does (D and S updates, the patch loss; fitted on the four
#: shared examples, 1.1-1.5 on a CPU). With the ratio of generator passes
#: (3-4) instead, the time left during the coarse phase came out 20-60 % (in
#: a cold start up to 100 %) too long: a fine step costs 1.9-2.9 coarse ones.
_PIXEL_WORK_PER_STEP = 1.3


class TrainingDiverged(FloatingPointError):
    """A loss or gradient became NaN or infinite; raised before the optimizer steps."""


@dataclass
class Batch:
    """What one step trains on: the generator's input pair, the target layout,
    and the real image for that layout (the pseudo target)."""

    mode: str
    resolution: Resolution
    input_image: torch.Tensor
    input_onehot: torch.Tensor
    target_index: torch.Tensor
    target_onehot: torch.Tensor
    real: torch.Tensor

    @property
    def reconstruction(self) -> bool:
        return self.mode == "reconstruction"


def _check_finite(losses: dict[str, torch.Tensor], parameters, what: str, step: int) -> None:
    """Raise TrainingDiverged if a loss or the gradient of ``parameters`` is not finite."""
    for name, value in losses.items():
        number = value.item()
        if not math.isfinite(number):
            raise TrainingDiverged(f"Training diverged at step {step}: the {what} loss '{name}' is {number}.")
    grads = [p.grad for p in parameters if p.grad is not None]
    if grads and not math.isfinite(sum(g.float().square().sum() for g in grads).item()):
        raise TrainingDiverged(f"Training diverged at step {step}: the {what} gradients are not finite.")


def _history_before(resume: SemiaModel | None) -> tuple:
    """The runs a continued model was made by: its history, or for an earlier
    version's file, what its config tells (its last run's seed and planned steps)."""
    if resume is None:
        return ()
    if resume.history:
        return tuple(resume.history)
    if resume.steps_done == 0:
        return ()
    # (Marked: told as "run 1", these steps read as one run of 300 of 150 planned steps
    # where an earlier version had continued its model; a review.)
    return ({"steps": int(resume.steps_done), "planned": int(resume.config.steps),
             "seed": int(resume.config.seed), "unrecorded_runs": True},)


def _kept_network_note(config: TrainingConfig, resume: SemiaModel | None) -> str | None:
    """What of ``config`` a resumed model does not take (its working size and network)."""
    if resume is None:
        return None
    kept = resume.config
    changed = config.network_changes(kept)
    if not changed:
        return None
    return (f"Continuing the model at its own working size ({kept.size} px) and network (width "
            f"{kept.width}, {kept.levels} levels): the settings' {', '.join(changed)} "
            f"{'is' if len(changed) == 1 else 'are'} not used.")


def _grey_stored_as_colour(image) -> str | None:
    """For a script: the note the command line and the widget give a grey image stored
    as colour (their own words for the remedy; a script was told nothing)."""
    from .intensity import grey_as_colour_note

    try:
        array = np.asarray(image)
    except Exception:  # (whatever TrainingData took, it has said what it could not)
        return None
    return grey_as_colour_note(array, "The image", "pass one of its channels (image[..., 0])")


class SemiaTrainer:
    """Iterable trainer; ``run()`` is a generator that yields :class:`TrainingProgress`.

    Thread-safety: ``stop()`` and ``set_preview_target()`` may be called from
    another thread (e.g. the Qt main thread while ``run()`` iterates in a worker).
    The global random state is left alone: every random draw comes from this
    trainer's own generators, seeded by ``config.seed``.

    What the user should know of the inputs (a flat image, classes too small for
    the working size, ...) is ``input_note``; with ``warn`` (the default) it is a
    Python warning too, and so are settings a resumed model does not take: a
    script was told nothing (found by a new user; the command line and the widget
    say these their own way). ``resume``: continue that model, its working size
    and network kept, for ``config.steps`` more steps.
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
        source_info: SourceInfo | None = None,
        warn: bool = True,
    ) -> None:
        # Only settings the caller gave: with none, the defaults' size and network are
        # no choice of theirs, and a resumed model warned they were not used (found in review).
        given = config is not None
        config = training_config(config)
        kept_note = _kept_network_note(config, resume) if given else None
        # The source's channel names and pixel size, for the model (a resumed model's own
        # when none are given or known).
        source_info = source_info if source_info is not None else SourceInfo()
        self.source_info = source_info if resume is None else source_info.continued_from(resume.source_info)
        self.device = resolve_device(device)
        if resume is not None:
            # The network shapes and working size are the model's.
            config = config.with_network_of(resume.config)
        self.config = config
        # A model whose networks learnt linear intensities goes on learning them: one
        # saved before linear high-dynamic-range data were stretched is not switched.
        stretch = resume is None or resume.normalizer.stretched
        self.data = TrainingData.build(image, labels, config.size, self.device, stretch=stretch,
                                       classes_of=None if resume is None else resume.codec)
        if resume is not None:
            resume.check_can_continue(self.data.codec, self.data.source_shape, self.data.normalizer)
        self.resumed = resume is not None
        self.steps_before = resume.steps_done if resume is not None else 0
        self.history_before = _history_before(resume)
        self.input_note = self._input_warning(image, labels)
        """What the user should know of the inputs before training, or None."""
        for note in (self.input_note, kept_note, _grey_stored_as_colour(image)) if warn else ():
            if note:
                warnings.warn(note, SemiaWarning, stacklevel=2)

        self._stop_event = threading.Event()
        self._preview_lock = threading.Lock()
        self._preview_target: torch.Tensor | None = None
        if int(preview_every) < 0:
            raise SemiaInputError(f"preview_every must be 0 (no previews) or more; got {preview_every}.")
        self.preview_every = int(preview_every)
        if preview_target is not None:
            self.set_preview_target(preview_target)

        self._numpy_rng = np.random.default_rng(config.seed)
        self._torch_rng = torch.Generator().manual_seed(config.seed)
        self.augmenter = JointAugmenter(AugmentationLimits.from_config(config), seed=config.seed)
        self.generator, self.discriminator, self.segmenter = self._build_networks(resume)
        self.opt_g, self.opt_d, self.opt_s = self._build_optimizers()
        self.step = 0
        self.last_losses: dict[str, float] = {}
        self._lr_scale = 1.0
        self._patch_banks: dict[tuple[int, int], SourcePatchBank] = {}
        self.recoveries: list[int] = []
        """Steps at which a collapse was undone (best weights, lower learning rates)."""

    # ------------------------------------------------------------ set-up
    @property
    def codec(self):
        return self.data.codec

    @property
    def normalizer(self):
        return self.data.normalizer

    @property
    def source_shape(self) -> tuple[int, int]:
        return self.data.source_shape

    @property
    def fine(self) -> Resolution:
        return self.data.fine

    @property
    def coarse(self) -> Resolution:
        return self.data.coarse

    def _input_warning(self, image, labels) -> str | None:
        """What the user should know of these inputs before training (see
        ``validation.training_warning``), as one message or None."""
        from .validation import (
            instance_map_warning,
            lost_classes_warning,
            narrow_working_size_warning,
            off_palette_warning,
            training_warning,
            turned_labels_warning,
        )

        lost = lost_classes_warning(self.codec, self.data.classes_lost_at_working_size(), self.fine.shape)
        # (Not when continuing a model: its working size is kept, and was named at its start.)
        narrow = None if self.resumed else narrow_working_size_warning(
            self.source_shape, tuple(self.fine.shape), self.config.size)
        off_palette = off_palette_warning(labels, self.codec)
        classes = self.codec.num_classes
        instances = None if self.resumed else instance_map_warning(self.data.full_index, classes)
        turned = None if self.resumed else turned_labels_warning(
            self.data.fine.image[0].mean(0).cpu().numpy(), self.data.fine.index[0].cpu().numpy())
        return training_warning(image, classes, instances, off_palette, lost, narrow, turned)

    def _build_networks(self, resume: SemiaModel | None):
        cfg, data = self.config, self.data
        # Initial weights come from the seed without touching the global
        # random state of the process (napari's, the user's). The networks are
        # built on the CPU: only its generator is seeded (torch.manual_seed would
        # reseed every CUDA generator too, and fork_rng(devices=[]) keeps none).
        with torch.random.fork_rng(devices=[]):
            torch.default_generator.manual_seed(cfg.seed)
            if resume is not None:
                generator = copy.deepcopy(resume.generator)
            else:
                generator = SFTGenerator(data.channels, data.num_classes, cfg.width, cfg.levels)
            discriminator = MultiScaleDiscriminator(data.channels, data.num_classes)
            segmenter = AuxSegmenter(data.channels, data.num_classes)
        if resume is not None:
            for name, module in (("discriminator", discriminator), ("segmenter", segmenter)):
                state = resume.extra_states.get(name)
                if state:
                    module.load_state_dict(state)
        return (generator.to(self.device).train(), discriminator.to(self.device).train(),
                segmenter.to(self.device).train())

    def _build_optimizers(self):
        cfg = self.config
        return (
            torch.optim.Adam(self.generator.parameters(), lr=cfg.lr_generator, betas=_ADAM_BETAS),
            torch.optim.Adam(self.discriminator.parameters(), lr=cfg.lr_discriminator, betas=_ADAM_BETAS),
            torch.optim.Adam(self.segmenter.parameters(), lr=cfg.lr_segmenter, betas=_ADAM_BETAS),
        )

    # ------------------------------------------------------------ public API
    def stop(self) -> None:
        """Ask ``run()`` to end after the current step (thread-safe)."""
        self._stop_event.set()

    @property
    def stop_requested(self) -> bool:
        return self._stop_event.is_set()

    def set_preview_target(self, target: np.ndarray | None) -> None:
        """Change the layout previews are synthesized for (thread-safe;
        SemiaInputError for a target that does not fit the source)."""
        index = None
        if target is not None:
            index = torch.as_tensor(validate_target(target, self.source_shape, self.codec))[None]
        with self._preview_lock:
            self._preview_target = index

    @property
    def coarse_steps(self) -> int:
        """Steps of the coarse (half-size) phase at the start of this run."""
        return 0 if self.resumed else int(math.ceil(self.config.coarse_fraction * self.config.steps))

    def is_coarse(self, step: int) -> bool:
        return step < self.coarse_steps

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
            full_image=self.data.full_image,
            full_index=self.data.full_index,
            source_info=self.source_info,
            history=self.history_before + ((self._run_record(),) if self.step else ()),
        )

    def _run_record(self) -> dict:
        """This run, for the model's history: what reproducing it takes (the thread
        count too: other counts give another model)."""
        from . import __version__

        return {"steps": int(self.step), "planned": int(self.config.steps), "seed": int(self.config.seed),
                "device": str(self.device), "threads": cpu_threads(self.device),
                "torch": torch.__version__, "napari_semia": __version__}

    def run(self) -> Iterator[TrainingProgress]:
        """Train, yielding progress after every step; ends early after ``stop()``
        or when training diverges (``progress.diverged`` says why)."""
        total = self.config.steps
        # (A notebook's training cell run again ended at once, as if it had trained; a
        # scripting user, and a review for a stopped one.)
        ended = (f"has already run its {total} steps" if self.step >= total else
                 f"was stopped at step {self.step} of {total}" if self.step and self._stop_event.is_set()
                 else None)
        if ended:
            warnings.warn(f"This trainer {ended}, so it trains no further. To go on, make a new one from "
                          "its model: SemiaTrainer(image, labels, config, resume=trainer.model).",
                          SemiaWarning, stacklevel=2)
        eta = EtaEstimator(total, self.coarse_steps, self._fine_step_extra_s())
        ramp_end = 0 if self.resumed else int(math.ceil(self.config.augment_ramp * total))
        guard = CollapseGuard(start_step=max(ramp_end, self.coarse_steps))
        best_weights = None
        start = time.perf_counter()
        stopped, diverged = False, None
        while self.step < total:
            if self._stop_event.is_set():
                stopped = True
                break
            step_start = time.perf_counter()
            coarse = self.is_coarse(self.step)
            try:
                mode, losses = self.train_step(self.step)
            except TrainingDiverged as error:
                stopped = True
                diverged = f"{error} Training stopped; the model keeps the weights of step {self.step}."
                break
            self.step += 1
            self.last_losses.update(losses)
            note = None
            verdict = guard.observe(self.step, losses["rec"]) if "rec" in losses else "ok"
            if verdict == "best":
                best_weights = self._snapshot_weights()
            elif verdict == "collapsed":
                self._restore_weights(best_weights)
                if len(self.recoveries) < MAX_RECOVERIES:
                    # Go on from the best weights, with fresh optimizer moments
                    # and half the learning rates.
                    note = (f"Training collapsed at step {self.step} (the reconstruction error rose from "
                            f"{guard.best:.3f} to {guard.average:.3f}): it goes on from the weights of "
                            f"step {guard.best_step} with half the learning rates.")
                    self._lr_scale *= 0.5
                    self.opt_g, self.opt_d, self.opt_s = self._build_optimizers()
                    guard.restart()
                    self.recoveries.append(self.step)
                else:
                    self.step = guard.best_step  # the model is the one of that step
                    stopped = True
                    diverged = (f"Training collapsed: the reconstruction error rose from {guard.best:.3f} "
                                f"to {guard.average:.3f} and stayed there, {len(self.recoveries) + 1} times. "
                                f"Training stopped; the model keeps the weights of step {guard.best_step}, "
                                "its best.")
                    break
            preview = None
            # Not at the last step: the finished progress right after carries that preview
            # (it was drawn twice, a cost at full size).
            if self.preview_every and self.step % self.preview_every == 0 and self.step != total:
                preview = self.preview()
            eta.record(coarse, time.perf_counter() - step_start)  # previews included
            yield TrainingProgress(
                step=self.step, total_steps=total, losses=dict(losses),
                elapsed_s=time.perf_counter() - start, eta_s=eta.seconds_left(self.step), mode=mode,
                preview=preview, device=str(self.device),
                resolution=(self.coarse if coarse else self.fine).shape, note=note,
            )
        yield TrainingProgress(
            step=self.step, total_steps=total, losses=dict(self.last_losses),
            elapsed_s=time.perf_counter() - start, eta_s=0.0,
            # Not from a generator that never trained (stopped before its first step):
            # it draws blobs of colour, and the widget would show them as a result.
            preview=self.preview() if self.preview_every and self.steps_before + self.step > 0 else None,
            finished=True, stopped=stopped, device=str(self.device), resolution=self.fine.shape,
            diverged=diverged,
        )

    def _networks(self) -> dict[str, torch.nn.Module]:
        return {"generator": self.generator, "discriminator": self.discriminator, "segmenter": self.segmenter}

    def _snapshot_weights(self) -> dict:
        """Copies of the three networks' weights (on their device)."""
        return {name: {k: v.detach().clone() for k, v in module.state_dict().items()}
                for name, module in self._networks().items()}

    def _restore_weights(self, weights: dict | None) -> None:
        if weights is None:
            return
        for name, module in self._networks().items():
            module.load_state_dict(weights[name])

    def preview(self) -> np.ndarray | None:
        """The current generator's output for the preview target, or None."""
        with self._preview_lock:
            target = self._preview_target
        if target is None:
            return None
        index = resize_index(target.to(self.device), self.fine.shape, self.data.num_classes)
        output = run_generator(self.generator, self.fine.image, self.fine.index, index)
        return to_user_image(output, self.normalizer, self.source_shape)[0]

    # ------------------------------------------------------------ one step
    def train_step(self, step: int) -> tuple[str, dict[str, float]]:
        """One step: a batch, then the D, S and G updates. Returns (mode, losses)."""
        self.apply_learning_rates(step)
        batch = self.make_batch(step)
        fake, modulation = self.generator(batch.input_image, batch.input_onehot, batch.target_onehot,
                                          return_modulation=True)
        losses = self.discriminator_step(batch, fake, step)
        losses.update(self.segmenter_step(batch, step))
        losses.update(self.generator_step(batch, fake, modulation, step))
        return batch.mode, losses

    def apply_learning_rates(self, step: int) -> None:
        cfg = self.config
        factor = learning_rate_factor(step, cfg.steps, cfg.lr_decay_start) * self._lr_scale
        for optimizer, base in ((self.opt_g, cfg.lr_generator), (self.opt_d, cfg.lr_discriminator),
                                (self.opt_s, cfg.lr_segmenter)):
            for group in optimizer.param_groups:
                group["lr"] = base * factor

    def make_batch(self, step: int) -> Batch:
        """Augment the source pair and pick the mode (and, in sampling, the roles)."""
        cfg = self.config
        res = self.coarse if self.is_coarse(step) else self.fine
        strength = 1.0 if self.resumed else progressive_strength(step, cfg.steps, cfg.augment_ramp)
        aug_image, aug_index = self.augmenter(res.image, res.index, strength)
        aug_onehot = to_onehot(aug_index, self.data.num_classes)
        if step % cfg.rec_every == 0:
            return Batch("reconstruction", res, aug_image, aug_onehot, aug_index, aug_onehot, aug_image)
        if self._numpy_rng.uniform() < 0.5:
            return Batch("sampling", res, res.image, res.onehot, aug_index, aug_onehot, aug_image)
        # The paper's role swap: augmented pair as input, source layout as target.
        return Batch("sampling", res, aug_image, aug_onehot, res.index, res.onehot, res.image)

    def discriminator_step(self, batch: Batch, fake: torch.Tensor, step: int) -> dict[str, float]:
        """D learns (pseudo target, layout) = real, (output, layout) = fake."""
        self.opt_d.zero_grad(set_to_none=True)
        d_real = self.discriminator(batch.real, batch.target_onehot)
        d_fake = self.discriminator(fake.detach(), batch.target_onehot)
        loss = lsgan_discriminator_loss(d_real, d_fake)
        loss.backward()
        _check_finite({"D": loss}, self.discriminator.parameters(), "discriminator", step + 1)
        self.opt_d.step()
        return {"D": loss.item()}

    def segmenter_step(self, batch: Batch, step: int) -> dict[str, float]:
        """The auxiliary segmenter S learns to read real (augmented) images."""
        self.opt_s.zero_grad(set_to_none=True)
        loss = semantic_alignment_loss(self.segmenter(batch.real), batch.target_index)
        loss.backward()
        _check_finite({"S": loss}, self.segmenter.parameters(), "segmenter", step + 1)
        self.opt_s.step()
        return {"S": loss.item()}

    def generator_step(self, batch: Batch, fake: torch.Tensor, modulation, step: int) -> dict[str, float]:
        """G: adversarial + feature matching, plus reconstruction (L1, SFT fixed
        point) or sampling (semantic alignment, patch coherence) terms."""
        self.opt_g.zero_grad(set_to_none=True)
        # D and S only pass gradients through to the output here: without
        # their own weight gradients (discarded anyway) a step is ~4 % faster.
        self.discriminator.requires_grad_(False)
        self.segmenter.requires_grad_(False)
        try:
            return self._generator_update(batch, fake, modulation, step)
        finally:
            self.discriminator.requires_grad_(True)
            self.segmenter.requires_grad_(True)

    def _generator_update(self, batch: Batch, fake: torch.Tensor, modulation, step: int) -> dict[str, float]:
        cfg = self.config
        d_fake = self.discriminator(fake, batch.target_onehot)
        with torch.no_grad():
            d_real = self.discriminator(batch.real, batch.target_onehot)
        terms = {"adv": lsgan_generator_loss(d_fake), "fm": feature_matching_loss(d_real, d_fake)}
        weights = {"adv": cfg.w_adversarial, "fm": cfg.w_feature_matching}
        if batch.reconstruction:
            terms["rec"] = F.l1_loss(fake, batch.real)
            terms["fixed_point"] = fixed_point_loss(modulation)
            weights.update(rec=cfg.w_reconstruction, fixed_point=cfg.w_fixed_point)
        else:
            terms["semantic"] = semantic_alignment_loss(self.segmenter(fake), batch.target_index)
            res = batch.resolution
            terms["patch"] = semantic_patch_coherence_loss(
                fake, batch.target_index, patch_size=cfg.patch_size, max_queries=cfg.patch_queries,
                generator=self._torch_rng, source_bank=self._source_patches(res),
            )
            weights.update(semantic=cfg.w_semantic, patch=cfg.w_patch)
        loss = sum(weights[name] * value for name, value in terms.items())
        loss.backward()
        _check_finite(terms, self.generator.parameters(), "generator", step + 1)
        torch.nn.utils.clip_grad_norm_(self.generator.parameters(), cfg.max_grad_norm)
        self.opt_g.step()
        return {name: value.item() for name, value in terms.items()}

    def _source_patches(self, res: Resolution) -> SourcePatchBank:
        """The source's patches at this resolution for the patch coherence loss
        (built on first use: the source does not change during training)."""
        key = tuple(res.image.shape[-2:])
        if key not in self._patch_banks:
            self._patch_banks[key] = SourcePatchBank.build(res.image, res.index, self.config.patch_size)
        return self._patch_banks[key]

    # ------------------------------------------------------------ estimates
    def _fine_step_extra_s(self) -> float:
        """Seconds a fine step takes longer than a coarse one, measured.

        Times one generator forward + backward at each size (no weights
        change, no random draws are used) so the time left is right from
        the first steps instead of guessed by the pixel ratio. A step does
        about ``_PIXEL_WORK_PER_STEP`` such passes' worth of work that grows
        with the pixels; the rest costs the same at both sizes.
        """
        if self.coarse_steps == 0 or self.coarse.shape == self.fine.shape:
            return 0.0

        def seconds(res: Resolution) -> float:
            times = []
            for _ in range(3):  # the first call allocates; keep the fastest of the others
                begin = time.perf_counter()
                out = self.generator(res.image, res.onehot, res.onehot)
                out.mean().backward()
                synchronize(self.device)  # (an accelerator only queued the work)
                times.append(time.perf_counter() - begin)
            self.generator.zero_grad(set_to_none=True)
            return min(times[1:])

        return _PIXEL_WORK_PER_STEP * max(0.0, seconds(self.fine) - seconds(self.coarse))

