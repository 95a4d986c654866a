"""Training settings and named presets.

The paper's schedule (2500 iterations of 10 generator steps at full size) costs
about 35 hours on a 2-core CPU. The presets here keep the method (alternating
reconstruction/sampling, SFT, multi-scale D, auxiliary segmenter, patch
coherence) but spend far less arithmetic: one generator step per iteration,
lean channels, and coarse-to-fine training where most iterations run at half
the working size.
"""

from __future__ import annotations

import numbers
from dataclasses import asdict, dataclass, fields, replace

from .errors import SemiaInputError

#: The devices a user may name (and cuda:N); ``device.resolve_device`` decides.
DEVICE_CHOICES = ("auto", "cpu", "cuda", "mps")
#: The largest working size (longest side, px) a model may have.
MAX_WORKING_SIZE = 4096


@dataclass(frozen=True)
class TrainingConfig:
    """Training settings: ``preset(name)`` gives a named set ('quick', 'default',
    'thorough'), and ``preset("quick").replace(steps=100, size=192)`` one with
    some changed (an invalid value raises SemiaInputError naming it).

    The ones most often changed:

    * ``steps``: training iterations (one discriminator, generator and segmenter
      update each); more is sharper and slower.
    * ``size``: longest side of the working resolution in pixels (16-4096); the
      source is scaled down to it for training, and results are rebuilt at the
      source's size from its own detail. Time grows about with its square.
    * ``seed``: the same seed and settings give the same model.
    * ``width`` / ``levels``: the generator's capacity and receptive field.
    * ``coarse_fraction``: share of the steps trained at half the working size.

    The others (augmentation, learning rates, loss weights) are documented where
    they are defined, in ``napari_semia/config.py``.
    """

    # --- schedule ---
    steps: int = 760
    """Training iterations (one D, one G and one segmenter update each)."""
    size: int = 256
    """Longest side of the working resolution, in pixels."""
    coarse_fraction: float = 0.6
    """Fraction of iterations run at half the working size (coarse-to-fine)."""
    seed: int = 0
    """The same seed and settings give the same model, byte for byte, on one CPU
    with the same number of torch threads (``torch.get_num_threads()``: the
    cores, or ``OMP_NUM_THREADS``). Other counts, and GPUs, sum in another order:
    the difference starts in the last bits and grows with training (visible in
    previews after 100 steps; a reproducibility pass)."""
    rec_every: int = 3
    """Every ``rec_every``-th iteration is a reconstruction iteration."""
    # --- augmentation ---
    augment_ramp: float = 0.4
    """Fraction of iterations over which augmentation strength ramps 0 -> 1."""
    max_scale: float = 0.25
    max_rotation_deg: float = 10.0
    max_shift: float = 0.08
    tps_strength: float = 0.06
    """Thin-plate-spline control-point displacement, fraction of the image size."""
    flip_probability: float = 0.5
    # --- networks ---
    width: int = 16
    """Channels at full resolution in the generator (doubling per level)."""
    levels: int = 4
    # --- optimisation ---
    lr_generator: float = 5e-4
    lr_discriminator: float = 1e-3
    lr_segmenter: float = 1e-3
    lr_decay_start: float = 0.5
    """Fraction of iterations after which learning rates decay linearly to 1/10."""
    max_grad_norm: float = 20.0
    """The generator's gradient is scaled down to this norm when larger. Typical
    norms are 1-11; a spike far above them, amplified by Adam, blew a zebra run's
    output up into saturated flat colours within 20 steps."""
    # --- loss weights ---
    w_reconstruction: float = 5.0
    w_fixed_point: float = 1.0
    w_adversarial: float = 1.0
    w_feature_matching: float = 5.0
    w_semantic: float = 1.0
    w_patch: float = 5.0
    patch_size: int = 5
    patch_queries: int = 1024

    def __post_init__(self) -> None:
        whole = [name for name in ("steps", "size", "rec_every", "width", "levels", "patch_size",
                                   "patch_queries", "seed")
                 if not isinstance(getattr(self, name), numbers.Integral)
                 or isinstance(getattr(self, name), bool)]
        if whole:
            # steps=2.5 trained 3 steps and was saved as 2.5 (found by a new user).
            raise SemiaInputError(f"Invalid training setting: {', '.join(whole)} must be "
                                  f"{'whole numbers' if len(whole) > 1 else 'a whole number'}.")
        checks = [
            (self.steps >= 1, "steps must be at least 1"),
            (16 <= self.size <= MAX_WORKING_SIZE,
             f"size (working resolution) must be between 16 and {MAX_WORKING_SIZE} px"),
            (0.0 <= self.coarse_fraction < 1.0, "coarse_fraction must be in [0, 1)"),
            (self.rec_every >= 1, "rec_every must be at least 1"),
            (self.width >= 4, "width must be at least 4"),
            (2 <= self.levels <= 5, "levels must be between 2 and 5"),
            (self.patch_size % 2 == 1, "patch_size must be odd"),
            (self.max_grad_norm > 0, "max_grad_norm must be positive"),
            (isinstance(self.seed, numbers.Integral) and self.seed >= 0,
             "seed must be a whole number, 0 or more"),
            (all(0 < rate < float("inf") for rate in (self.lr_generator, self.lr_discriminator,
                                                    self.lr_segmenter)), "learning rates must be positive"),
            (0.0 <= self.lr_decay_start <= 1.0, "lr_decay_start must be in [0, 1]"),
            (self.augment_ramp >= 0.0, "augment_ramp must be 0 or more"),
            (0.0 <= self.flip_probability <= 1.0, "flip_probability must be in [0, 1]"),
            (min(self.max_scale, self.max_rotation_deg, self.max_shift, self.tps_strength) >= 0,
             "augmentation amounts must be 0 or more"),
            (min(self.w_reconstruction, self.w_fixed_point, self.w_adversarial, self.w_feature_matching,
                 self.w_semantic, self.w_patch) >= 0, "loss weights must be 0 or more"),
            (self.patch_queries >= 1, "patch_queries must be at least 1"),
        ]
        for ok, message in checks:
            if not ok:
                raise SemiaInputError(f"Invalid training setting: {message}.")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> TrainingConfig:
        known = {f.name: f for f in fields(cls)}
        # (A model saved before whole numbers were checked may hold steps=2.5: read as 2.)
        return cls(**{k: int(v) if known[k].type == "int" and isinstance(v, float) else v
                      for k, v in data.items() if k in known})

    def replace(self, **changes) -> TrainingConfig:
        """These settings with ``changes`` (field=value), checked."""
        return replace(self, **changes)

    @property
    def network(self) -> tuple[int, int, int]:
        """(size, width, levels): what continuing a model keeps of its settings."""
        return tuple(getattr(self, name) for name in NETWORK_SETTINGS)

    def with_network_of(self, kept: TrainingConfig) -> TrainingConfig:
        """These settings with ``kept``'s working size and network (a resumed model's)."""
        return self.replace(**{name: getattr(kept, name) for name in NETWORK_SETTINGS})

    def network_changes(self, kept: TrainingConfig) -> list[str]:
        """'name value' for each of the network settings here that ``kept`` does not have."""
        return [f"{name} {getattr(self, name)}" for name in NETWORK_SETTINGS
                if getattr(self, name) != getattr(kept, name)]


#: The settings a model's weights are shaped by: continuing a model keeps its own.
NETWORK_SETTINGS = ("size", "width", "levels")


PRESETS: dict[str, TrainingConfig] = {
    # About a minute and a half on an idle 2-core CPU at 256 px: a first look.
    "quick": TrainingConfig(steps=300, coarse_fraction=0.6),
    # At most five minutes on an idle 2-core CPU at 256 px (see benchmarks/):
    # the full-resolution stage restores the detail, so the GAN needs fewer
    # steps than the 1000 it had before that stage existed, and 60 % of them
    # run at half size (800 with half at half size took over 300 s on face
    # when the machine ran slow).
    "default": TrainingConfig(),
    # For a GPU or a patient user.
    "thorough": TrainingConfig(steps=4000, width=24, coarse_fraction=0.4),
}


def training_config(config) -> TrainingConfig:
    """``config`` as settings: a TrainingConfig, a preset's name ('quick'), a dict
    of settings, or None (the defaults). Anything else is a SemiaInputError: a dict
    or a preset name, the command line's habit, ended in "'dict' object has no
    attribute 'size'" (found by a new user)."""
    if config is None:
        return TrainingConfig()
    if isinstance(config, TrainingConfig):
        return config
    if isinstance(config, str):
        return preset(config)
    if isinstance(config, dict):
        unknown = sorted(set(config) - {f.name for f in fields(TrainingConfig)})
        if unknown:
            raise SemiaInputError(f"Unknown training setting(s): {', '.join(map(str, unknown))}.")
        return TrainingConfig(**config)
    raise SemiaInputError(
        f"config must be a TrainingConfig (e.g. preset('quick')), a preset's name or a dict of "
        f"settings, not {type(config).__name__}.")


def preset(name: str) -> TrainingConfig:
    """The named settings: 'quick', 'default' or 'thorough' (SemiaInputError otherwise)."""
    try:
        return PRESETS[name]
    except KeyError:
        raise SemiaInputError(
            f"Unknown preset '{name}'. Choose one of: {', '.join(PRESETS)}."
        ) from None
