"""Progressive joint augmentation of an (image, label map) pair.

The augmented pair is the pseudo target of self-supervised training: the
generator learns to turn the source into the source's appearance in the
augmented layout. Warps are built as one sampling grid (affine, then a
thin-plate-spline displacement, then an optional flip) applied with
``grid_sample`` on the training device, so the labels (nearest neighbour) stay
valid class indices and stay aligned with the image (bilinear).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from .config import TrainingConfig


@dataclass(frozen=True)
class AugmentationLimits:
    """Full-strength limits; the strength in [0, 1] scales each of them."""

    max_scale: float = 0.25
    max_rotation_deg: float = 10.0
    max_shift: float = 0.08
    tps_strength: float = 0.06
    flip_probability: float = 0.5
    tps_grid: int = 3

    @classmethod
    def from_config(cls, config: TrainingConfig) -> AugmentationLimits:
        return cls(
            max_scale=config.max_scale,
            max_rotation_deg=config.max_rotation_deg,
            max_shift=config.max_shift,
            tps_strength=config.tps_strength,
            flip_probability=config.flip_probability,
        )


def _tps_kernel(r2: torch.Tensor) -> torch.Tensor:
    # U(r) = r^2 log r^2, with U(0) = 0.
    return torch.where(r2 > 0, r2 * torch.log(r2.clamp_min(1e-12)), torch.zeros_like(r2))


def thin_plate_spline_displacement(
    control: torch.Tensor, displacement: torch.Tensor, points: torch.Tensor
) -> torch.Tensor:
    """Displacement at ``points`` (N, 2) of the thin-plate spline through
    ``control`` (M, 2) -> ``displacement`` (M, 2)."""
    m = control.shape[0]
    kernel = _tps_kernel(torch.cdist(control, control).pow(2))
    poly = torch.cat([torch.ones(m, 1, dtype=control.dtype, device=control.device), control], 1)
    system = torch.zeros(m + 3, m + 3, dtype=control.dtype, device=control.device)
    system[:m, :m] = kernel
    system[:m, m:] = poly
    system[m:, :m] = poly.T
    rhs = torch.zeros(m + 3, 2, dtype=control.dtype, device=control.device)
    rhs[:m] = displacement
    coeffs = torch.linalg.solve(system, rhs)
    point_kernel = _tps_kernel(torch.cdist(points, control).pow(2))
    point_poly = torch.cat(
        [torch.ones(points.shape[0], 1, dtype=points.dtype, device=points.device), points], 1
    )
    return point_kernel @ coeffs[:m] + point_poly @ coeffs[m:]


class JointAugmenter:
    """Random warps of (image, class-index map) pairs, on the pair's device."""

    def __init__(self, limits: AugmentationLimits, seed: int = 0) -> None:
        self.limits = limits
        self.rng = np.random.default_rng(seed)

    def sample_grid(self, height: int, width: int, strength: float, device: torch.device) -> torch.Tensor:
        """A (1, H, W, 2) sampling grid in grid_sample's [-1, 1] coordinates."""
        lim, rng = self.limits, self.rng
        # Zoom in (scale >= 1 in output/input terms) so rotations and shifts
        # rarely reveal the reflected border.
        zoom = 1.0 + strength * lim.max_scale * rng.uniform(0.0, 1.0)
        angle = math.radians(strength * lim.max_rotation_deg * rng.uniform(-1.0, 1.0))
        shift = strength * lim.max_shift * rng.uniform(-1.0, 1.0, size=2)
        aspect = width / height
        cos, sin = math.cos(angle) / zoom, math.sin(angle) / zoom
        # Rotation in pixel space expressed in normalised coordinates (x, y).
        theta = torch.tensor(
            [[cos, -sin / aspect, shift[0]], [sin * aspect, cos, shift[1]]],
            dtype=torch.float32,
            device=device,
        )
        grid = F.affine_grid(theta[None], [1, 1, height, width], align_corners=False)

        if strength > 0 and rng.uniform() < 0.5 + 0.5 * strength:
            n = lim.tps_grid
            axis = torch.linspace(-1.0, 1.0, n, device=device)
            control = torch.stack(torch.meshgrid(axis, axis, indexing="xy"), -1).reshape(-1, 2)
            offsets = torch.as_tensor(
                rng.uniform(-1.0, 1.0, size=(n * n, 2)) * 2.0 * strength * lim.tps_strength,
                dtype=torch.float32,
                device=device,
            )
            flat = grid.reshape(-1, 2)
            grid = (flat + thin_plate_spline_displacement(control, offsets, flat)).reshape(grid.shape)

        if rng.uniform() < strength * lim.flip_probability:
            grid = grid * torch.tensor([-1.0, 1.0], device=device)
        return grid

    def __call__(
        self, image: torch.Tensor, labels: torch.Tensor, strength: float
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Warp image (1, C, H, W) and labels (1, H, W) int64 with one random grid."""
        height, width = image.shape[-2:]
        if strength <= 0:
            return image, labels
        grid = self.sample_grid(height, width, strength, image.device)
        warped_image = F.grid_sample(
            image, grid, mode="bilinear", padding_mode="reflection", align_corners=False
        )
        warped_labels = F.grid_sample(
            labels[:, None].float(), grid, mode="nearest", padding_mode="reflection", align_corners=False
        )
        return warped_image, warped_labels[:, 0].round().long()
