"""What the refinement compares and copies: patch features and one source level.

A pixel is compared by the patch around it in a small feature space: the first
principal components of the source's image patches (a convolution) plus the
class shares of the layout around it (the whole patch, and its 3 x 3 centre,
which pins a copied class edge to the target's edge), so that edges match edges
between the same classes. :class:`SourceLevel` holds one level of the source
pyramid: its pixels, classes, feature space and precomputed keys, and what
the constrained matches need (interior, depth, nearby classes).

Used by ``patch_match`` (the search), ``patch_vote`` (rebuilding an image from
a field) and ``refinement`` (which builds the levels). torch, on any device;
memory O(strip) while computing keys.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from .layout_tensors import to_onehot


def crop_with_border(x: torch.Tensor, y0: int, y1: int, x0: int, x1: int, margin: int) -> torch.Tensor:
    """(C, H, W)[y0-m:y1+m, x0-m:x1+m], repeating the border where that leaves the image."""
    h, w = x.shape[-2:]
    if y0 - margin >= 0 and x0 - margin >= 0 and y1 + margin <= h and x1 + margin <= w:
        return x[:, y0 - margin:y1 + margin, x0 - margin:x1 + margin]
    rows = torch.arange(y0 - margin, y1 + margin, device=x.device).clamp_(0, h - 1)
    cols = torch.arange(x0 - margin, x1 + margin, device=x.device).clamp_(0, w - 1)
    return x.index_select(-2, rows).index_select(-1, cols)


def tiles(shape, tile: int):
    """(y0, y1, x0, x1) of the ``tile`` x ``tile`` squares covering ``shape`` (smaller at the edges)."""
    h, w = shape
    for y0 in range(0, h, tile):
        for x0 in range(0, w, tile):
            yield y0, min(h, y0 + tile), x0, min(w, x0 + tile)


@dataclass
class FeatureSpace:
    """Patch features: PCA of image patches (a conv) and blurred layout one-hots."""

    weight: torch.Tensor  # (d, C, p, p)
    bias: torch.Tensor  # (d,)
    label_projection: torch.Tensor | None  # (K, L) or None for the identity
    label_scale: float
    centre_scale: float
    patch_size: int
    num_classes: int

    @property
    def dims(self) -> int:
        layout = self.num_classes if self.label_projection is None else self.label_projection.shape[1]
        return self.weight.shape[0] + layout

    @classmethod
    def fit(cls, image: torch.Tensor, num_classes: int, *, patch_size: int, feature_dims: int,
            label_dims: int, label_weight: float, centre_label_weight: float) -> FeatureSpace:
        """The feature space of ``image`` ((C, H, W)): the first ``feature_dims``
        principal components of its ``patch_size`` x ``patch_size`` patches, and the
        layout's class shares over the patch and over its 3 x 3 centre (projected
        down to ``label_dims`` channels when there are more classes), scaled so that
        a full class swap costs like an RMS intensity difference of ``label_weight``
        (the patch's shares) plus ``centre_label_weight`` (the centre's)."""
        p = patch_size
        channels, h, w = image.shape
        count = max(1, (h - p + 1) * (w - p + 1))
        stride = max(1, math.ceil(math.sqrt(count / 16384)))
        patches = F.unfold(image[None], p, stride=stride)[0].T  # (n, C p p)
        mean = patches.mean(0)
        dims = min(feature_dims, patches.shape[1])
        centred = patches - mean
        # Principal axes from the (small) covariance matrix, largest variance first;
        # on the CPU, since not every accelerator backend has eigh.
        _, vectors = torch.linalg.eigh((centred.T @ centred).cpu().double())
        components = vectors.flip(1)[:, :dims].T.float().to(image.device)
        weight = components.reshape(dims, channels, p, p).contiguous()
        bias = -(components @ mean)
        projection = None
        if num_classes > label_dims:
            # A fixed orthonormal projection keeps distances between class mixtures roughly.
            rng = torch.Generator().manual_seed(0)
            random = torch.randn(num_classes, label_dims, generator=rng)
            projection = torch.linalg.qr(random)[0].to(image.device)
        # A full class swap costs like an RMS difference of the weight over the C p p
        # values: squared one-hot distance 2 -> p p C weight^2. Both shares share the
        # channels, so the patch's and the 3 x 3 one's weights add before squaring.
        unit = math.sqrt(p * p * channels / 2.0)
        return cls(weight, bias, projection, label_weight * unit, centre_label_weight * unit, p, num_classes)

    def compute(self, image_crop: torch.Tensor, onehot_crop: torch.Tensor, out: torch.Tensor | None = None):
        """Features of the pixels of a crop taken with margin ``patch_size // 2``:
        (C, h + 2m, w + 2m) image and (K, h + 2m, w + 2m) one-hot -> (h * w, D)."""
        # Channels-last throughout, so that the (pixels, features) rows are a view.
        channels_last = torch.channels_last
        image_features = F.conv2d(image_crop[None].contiguous(memory_format=channels_last),
                                  self.weight, self.bias)
        # Separable box filter: the share of each class in the patch, plus (in the
        # same channels: no extra dimensions to search) the share in the 3 x 3
        # neighbourhood, which pins a copied edge to the target's.
        onehot = onehot_crop[None].contiguous(memory_format=channels_last)
        layout = F.avg_pool2d(onehot, (self.patch_size, 1), stride=1)
        layout = F.avg_pool2d(layout, (1, self.patch_size), stride=1) * self.label_scale
        if self.centre_scale:
            margin = self.patch_size // 2 - 1
            h, w = layout.shape[-2:]
            centre = F.avg_pool2d(onehot, 3, stride=1)[..., margin:margin + h, margin:margin + w]
            layout = layout + centre * self.centre_scale
        if self.label_projection is not None:
            layout = torch.einsum("bkhw,kl->blhw", layout, self.label_projection)
        features = torch.cat([image_features, layout], 1)
        flat = features.permute(0, 2, 3, 1).reshape(-1, features.shape[1])
        if out is None:
            return flat.contiguous()
        out.copy_(flat)
        return out


@dataclass
class SourceLevel:
    """One level of the source pyramid, flattened to N = h * w pixels (built by
    ``refinement.SourcePyramid``); the optional fields are there when the
    refinement's settings ask for them."""

    shape: tuple[int, int]
    pixels: torch.Tensor  # (C, N) source image at this level (the full-size one: the input itself)
    classes: torch.Tensor  # (N,) class indices, int16 (int32 for very many classes)
    features: FeatureSpace
    blurred_keys: torch.Tensor | None  # (N, D) float16: features of the source through the level below
    sharp_keys: torch.Tensor | None  # (N, D) float16: features of the source itself
    class_order: torch.Tensor  # (N,) source pixels sorted by class
    class_start: torch.Tensor  # (K,)
    class_count: torch.Tensor  # (K,)
    interior: torch.Tensor | None = None  # (N,) bool: farther than edge_margin from another class
    rim_free: torch.Tensor | None = None  # (h, w) bool: no other class nearby (seam fusion's gradients)
    class_has_interior: torch.Tensor | None = None  # (K,) bool
    depth: torch.Tensor | None = None  # (N,) uint8: level-0 pixels to another class, at most outline_reach
    class_depth: torch.Tensor | None = None  # (K,) the largest depth of each class at this level
    near: torch.Tensor | None = None  # (N,) bit set of the classes within fringe_reach (level-0 pixels)
    detail_interior: torch.Tensor | None = None  # (N,) bool: no other class within the detail's reach

    @property
    def missing(self) -> torch.Tensor:
        return self.class_count == 0


def class_dtype(num_classes: int) -> torch.dtype:
    # Small integers gather faster; class indices rarely need more than int16.
    return torch.int16 if num_classes < 2**15 else torch.int32


def region_features(features: FeatureSpace, image: torch.Tensor, index: torch.Tensor, num_classes: int,
                    y0: int, y1: int, x0: int, x1: int, out: torch.Tensor | None = None) -> torch.Tensor:
    """(n, D) features of the pixels of image[:, y0:y1, x0:x1] (layout ``index``, (H, W))."""
    margin = features.patch_size // 2
    image_crop = crop_with_border(image, y0, y1, x0, x1, margin)
    index_crop = crop_with_border(index[None], y0, y1, x0, x1, margin)[0].long()
    return features.compute(image_crop, to_onehot(index_crop[None], num_classes)[0], out)


def source_keys(image: torch.Tensor, index: torch.Tensor, features: FeatureSpace, num_classes: int,
                strip: int = 256, on_strip: Callable[[float], None] | None = None) -> torch.Tensor:
    """(N, D) features of every pixel, computed in strips of rows (bounded memory).
    ``on_strip(fraction of the rows done)`` is called after every strip (it may raise)."""
    h, w = image.shape[-2:]
    # Stored in float16: half the memory, as fast to gather, and precise enough to rank patches.
    keys = torch.empty(h * w, features.dims, device=image.device, dtype=torch.float16)
    for y0 in range(0, h, strip):
        y1 = min(h, y0 + strip)
        region_features(features, image, index, num_classes, y0, y1, 0, w, out=keys[y0 * w:y1 * w])
        if on_strip is not None:
            on_strip(y1 / h)
    return keys
