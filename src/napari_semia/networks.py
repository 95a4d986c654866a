"""Networks of Semantic Image Analogy, sized for a CPU.

* ``LabelEncoder`` (E_seg): one encoder shared by the source and the target
  layout, giving features at every generator level.
* ``SFTHead``: Semantic Feature Translation; predicts per-pixel (gamma, beta)
  from the relation of the source and target layout features (their
  difference and both features).
* ``SFTGenerator``: image encoder/decoder whose normalized features are
  modulated by SFT at every level (skips and residual blocks).
* ``MultiScaleDiscriminator``: conditional patch discriminators at two scales
  with spectral norm, returning their feature pyramids for feature matching.
* ``AuxSegmenter`` (S): a small dilated-conv segmenter for the semantic
  alignment loss.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn as nn
from scipy import ndimage as ndi
import torch.nn.functional as F
from torch.nn.utils import spectral_norm


def _act() -> nn.Module:
    return nn.LeakyReLU(0.2, inplace=True)


def level_widths(width: int, levels: int) -> list[int]:
    return [min(width * 2**i, width * 8) for i in range(levels)]


class LabelEncoder(nn.Module):
    """E_seg: one-hot layout (B, K, H, W) -> features at 1, 1/2, 1/4, ... resolution."""

    def __init__(self, num_classes: int, widths: list[int]) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(num_classes, widths[0], 3, padding=1), _act())
        self.downs = nn.ModuleList(
            nn.Sequential(
                nn.Conv2d(widths[i - 1], widths[i], 3, stride=2, padding=1), _act(),
                nn.Conv2d(widths[i], widths[i], 3, padding=1), _act(),
            )
            for i in range(1, len(widths))
        )

    def forward(self, onehot: torch.Tensor) -> list[torch.Tensor]:
        feats = [self.stem(onehot)]
        for down in self.downs:
            feats.append(down(feats[-1]))
        return feats


class SFTHead(nn.Module):
    """(gamma, beta) for one level from the relation of two layouts' features.

    The output convolutions start at zero so that the untrained generator is an
    identity translation (gamma = 1, beta = 0); the fixed-point loss keeps it so
    wherever the two layouts agree.
    """

    def __init__(self, seg_channels: int, feat_channels: int, hidden: int) -> None:
        super().__init__()
        self.shared = nn.Sequential(nn.Conv2d(3 * seg_channels, hidden, 3, padding=1), _act())
        self.gamma = nn.Conv2d(hidden, feat_channels, 3, padding=1)
        self.beta = nn.Conv2d(hidden, feat_channels, 3, padding=1)
        for conv in (self.gamma, self.beta):
            nn.init.zeros_(conv.weight)
            nn.init.zeros_(conv.bias)

    def forward(self, source_feat: torch.Tensor, target_feat: torch.Tensor):
        relation = torch.cat([target_feat - source_feat, target_feat, source_feat], 1)
        hidden = self.shared(relation)
        return 1.0 + self.gamma(hidden), self.beta(hidden)


def _modulate(x: torch.Tensor, gamma: torch.Tensor, beta: torch.Tensor) -> torch.Tensor:
    return F.instance_norm(x) * gamma + beta


def class_means(features, source_onehot):
    """Mean source feature of every class: (B, K, C)."""
    weights = source_onehot.flatten(2)
    means = torch.einsum("bkn,bcn->bkc", weights, features.flatten(2))
    return means / weights.sum(2, keepdim=True).clamp_min(1e-6)


_MAX_OFFSET_SEARCH = 4_000_000


def _sorted_offsets(h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    dy, dx = np.meshgrid(np.arange(-h + 1, h, dtype=np.int32), np.arange(-w + 1, w, dtype=np.int32),
                         indexing="ij")
    dy, dx = dy.ravel(), dx.ravel()
    order = np.argsort(dy * dy + dx * dx, kind="stable")
    return dy[order], dx[order]


def _region_offsets(src, tgt, dy, dx):
    """Offsets (2, h, w) and found mask (h, w) for one layout pair (numpy)."""
    h, w = src.shape
    offsets = np.zeros((2, h, w), np.float32)
    found = np.ones((h, w), np.float32)
    fill = np.zeros((h, w), np.float32)
    changed = src != tgt
    for k in np.unique(tgt[changed]):
        has_class = src == k
        # One coarse pixel of margin (within the target class): the encoder
        # sees a few pixels past a region's edge, so features just outside a
        # removed object still carry its outline.
        region = ndi.binary_dilation(changed & (tgt == k)) & (tgt == k)
        fill[region] = 1.0
        components, count = ndi.label(region)
        for component in range(1, count + 1):
            ys, xs = np.nonzero(components == component)
            # Bound the (offsets x pixels) search for large working sizes by
            # trying every k-th offset (they are sorted by length).
            stride = max(1, int(np.ceil(len(dy) * len(ys) / _MAX_OFFSET_SEARCH)))
            cdy, cdx = dy[::stride], dx[::stride]
            yy, xx = ys[None] + cdy[:, None], xs[None] + cdx[:, None]  # (M, n)
            inside = (yy >= 0) & (yy < h) & (xx >= 0) & (xx < w)
            valid = inside & has_class[yy.clip(0, h - 1), xx.clip(0, w - 1)]
            coverage = valid.mean(1)
            # The shortest shift that moves (nearly) the whole region onto the
            # class: one coherent copy rather than per-pixel nearest pixels,
            # which would smear the edge of the class across the region.
            best = int(np.argmax(coverage >= 0.9 * coverage.max()))
            use_best = valid[best]
            nearest = valid.argmax(0)  # per-pixel fallback for the rest
            pick = np.where(use_best, best, nearest)
            offsets[0, ys, xs] = cdy[pick]
            offsets[1, ys, xs] = cdx[pick]
            found[ys, xs] = valid[pick, np.arange(len(ys))]
    return offsets, found, fill


@torch.no_grad()
def texture_offsets(source_onehot, target_onehot, size) -> tuple[torch.Tensor, torch.Tensor]:
    """A shift map for the changed regions of a layout edit.

    At resolution ``size`` (the generator's coarsest level), each connected
    region whose target class differs from the source's gets one shift
    (dy, dx) onto source pixels of the target class, so the region is filled
    with a coherent, shifted copy of real texture of the right class instead
    of a flat average or the ghost of what was there. Returns offsets
    (B, 2, h, w) in pixels of ``size``, a (B, 1, h, w) mask of pixels that
    found a source pixel of their class, and a (B, 1, h, w) mask of the
    regions to fill (changed regions with a margin).
    """
    h, w = (int(v) for v in size)
    src = F.adaptive_avg_pool2d(source_onehot, (h, w)).argmax(1).cpu().numpy()
    tgt = F.adaptive_avg_pool2d(target_onehot, (h, w)).argmax(1).cpu().numpy()
    dy, dx = _sorted_offsets(h, w)
    results = [_region_offsets(s, t, dy, dx) for s, t in zip(src, tgt)]
    device = source_onehot.device
    offsets = torch.from_numpy(np.stack([r[0] for r in results])).to(device)
    found = torch.from_numpy(np.stack([r[1] for r in results]))[:, None].to(device)
    fill = torch.from_numpy(np.stack([r[2] for r in results]))[:, None].to(device)
    return offsets, found, fill


def _shift(features, offsets, scale):
    """Gather features at p + offset(p) * scale (offsets upsampled to the features' size)."""
    b, c, h, w = features.shape
    off = F.interpolate(offsets, size=(h, w), mode="nearest")
    ys, xs = torch.meshgrid(torch.arange(h, device=features.device),
                            torch.arange(w, device=features.device), indexing="ij")
    yy = (ys[None] + (off[:, 0] * scale[0]).round().long()).clamp(0, h - 1)
    xx = (xs[None] + (off[:, 1] * scale[1]).round().long()).clamp(0, w - 1)
    index = (yy * w + xx).flatten(1)[:, None].expand(b, c, -1)
    return features.flatten(2).gather(2, index).reshape(b, c, h, w)


def _fill_changed_regions(features, agreement, source_onehot, target_onehot, offsets, found, fill_mask):
    """Where the layouts disagree, replace source features by shifted same-class
    source features (class means where no shift was found)."""
    size = features.shape[-2:]
    # Soft (bilinear) margin around changed regions, so fills blend in without seams.
    weight = F.interpolate(fill_mask, size=size, mode="bilinear", align_corners=False)
    if tuple(source_onehot.shape[-2:]) != tuple(size):
        agreement = F.adaptive_avg_pool2d(agreement, size)
        source_onehot = F.adaptive_avg_pool2d(source_onehot, size)
        target_onehot = F.adaptive_avg_pool2d(target_onehot, size)
    scale = (size[0] / offsets.shape[-2], size[1] / offsets.shape[-1])
    shifted = _shift(features, offsets, scale)
    means = torch.einsum("bkhw,bkc->bchw", target_onehot, class_means(features, source_onehot))
    # The shift map is coarse: check at this level, pixel by pixel, that the
    # shifted source position has the class the target wants; elsewhere (e.g.
    # along a region's edge) fall back to the class mean rather than copying
    # texture of the wrong class, which shows as a staircase.
    lands_on_class = (_shift(source_onehot, offsets, scale) * target_onehot).sum(1, keepdim=True)
    found = F.interpolate(found, size=size, mode="nearest") * lands_on_class
    fill = found * shifted + (1.0 - found) * means
    weight = torch.maximum(weight, 1.0 - agreement)
    return (1.0 - weight) * features + weight * fill


class SFTResBlock(nn.Module):
    def __init__(self, channels: int, dilation: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=dilation, dilation=dilation)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)
        self.act = nn.LeakyReLU(0.2)

    def forward(self, x, gamma, beta):
        h = self.conv1(self.act(_modulate(x, gamma, beta)))
        h = self.conv2(self.act(F.instance_norm(h)))
        return x + h


class SFTGenerator(nn.Module):
    """Source image + source layout + target layout -> image in the target layout."""

    def __init__(self, image_channels: int, num_classes: int, width: int = 16, levels: int = 4) -> None:
        super().__init__()
        self.hparams = dict(image_channels=image_channels, num_classes=num_classes, width=width, levels=levels)
        widths = level_widths(width, levels)
        seg_widths = [max(8, w // 2) for w in widths]
        self.label_encoder = LabelEncoder(num_classes, seg_widths)
        self.sft = nn.ModuleList(
            SFTHead(sw, w, hidden=max(16, w // 2)) for sw, w in zip(seg_widths, widths)
        )
        self.stem = nn.Sequential(nn.Conv2d(image_channels, widths[0], 3, padding=1), _act())
        self.downs = nn.ModuleList(
            nn.Sequential(nn.Conv2d(widths[i - 1], widths[i], 3, stride=2, padding=1), _act(),
                          nn.Conv2d(widths[i], widths[i], 3, padding=1), _act())
            for i in range(1, levels)
        )
        # The deepest level gets two dilated blocks: a wide receptive field lets
        # content move further than the warps seen in training.
        self.bottleneck = nn.ModuleList([SFTResBlock(widths[-1], 1), SFTResBlock(widths[-1], 2)])
        self.ups = nn.ModuleList(
            nn.Conv2d(widths[i + 1], widths[i], 3, padding=1) for i in range(levels - 1)
        )
        self.blocks = nn.ModuleList(SFTResBlock(widths[i]) for i in range(levels - 1))
        self.skip_gain = nn.ParameterList(nn.Parameter(torch.ones(1)) for _ in range(levels - 1))
        self.out = nn.Conv2d(widths[0], image_channels, 3, padding=1)

    @property
    def size_multiple(self) -> int:
        return 2 ** (self.hparams["levels"] - 1)

    def encode_source(self, image, source_onehot):
        """Source-side work: image skips and source layout features.

        Depends only on the source, so synthesis of many targets with a fixed
        model computes it once (see ``SemiaModel``).
        """
        skips = [self.stem(image)]
        for down in self.downs:
            skips.append(down(skips[-1]))
        return skips, self.label_encoder(source_onehot)

    def forward(self, image, source_onehot, target_onehot, return_modulation: bool = False,
                source_encoding=None):
        skips, src_feats = source_encoding or self.encode_source(image, source_onehot)
        if skips[0].shape[0] != target_onehot.shape[0]:
            skips = [s.expand(target_onehot.shape[0], -1, -1, -1) for s in skips]
            src_feats = [f.expand(target_onehot.shape[0], -1, -1, -1) for f in src_feats]
        tgt_feats = self.label_encoder(target_onehot)
        modulation = [head(s, t) for head, s, t in zip(self.sft, src_feats, tgt_feats)]

        # Where the two layouts disagree, the source's features describe the
        # wrong class (e.g. the outline of a removed object). There they are
        # replaced by source features of the class the target asks for, taken
        # from the nearest place that has that class (one shift map for all
        # levels), so a changed region starts from real texture of the right
        # class; SFT and the decoder blend it into its surroundings.
        agreement = (source_onehot * target_onehot).sum(1, keepdim=True)
        offsets, found, fill_mask = texture_offsets(source_onehot, target_onehot, skips[-1].shape[-2:])
        fill = lambda feats: _fill_changed_regions(  # noqa: E731
            feats, agreement, source_onehot, target_onehot, offsets, found, fill_mask)

        gamma, beta = modulation[-1]
        h = fill(skips[-1])
        for block in self.bottleneck:
            h = block(h, gamma, beta)
        for level in reversed(range(len(self.ups))):
            gamma, beta = modulation[level]
            h = F.interpolate(h, size=skips[level].shape[-2:], mode="nearest")
            skip = fill(skips[level])
            h = self.ups[level](h) + self.skip_gain[level] * _modulate(skip, gamma, beta)
            h = self.blocks[level](h, gamma, beta)
        out = torch.tanh(self.out(F.leaky_relu(h, 0.2)))
        if return_modulation:
            return out, modulation
        return out


class PatchDiscriminator(nn.Module):
    """Conditional patch discriminator; returns its feature pyramid and scores."""

    def __init__(self, in_channels: int, width: int = 32) -> None:
        super().__init__()
        sn = spectral_norm
        self.layers = nn.ModuleList([
            nn.Sequential(sn(nn.Conv2d(in_channels, width, 4, stride=2, padding=1)), _act()),
            nn.Sequential(sn(nn.Conv2d(width, width * 2, 4, stride=2, padding=1)), _act()),
            nn.Sequential(sn(nn.Conv2d(width * 2, width * 2, 3, padding=1)), _act()),
        ])
        self.score = sn(nn.Conv2d(width * 2, 1, 3, padding=1))

    def forward(self, x):
        feats = []
        for layer in self.layers:
            x = layer(x)
            feats.append(x)
        return feats, self.score(x)


class MultiScaleDiscriminator(nn.Module):
    """Patch discriminators at full and half resolution, conditioned on the layout."""

    def __init__(self, image_channels: int, num_classes: int, width: int = 32, scales: int = 2) -> None:
        super().__init__()
        self.hparams = dict(image_channels=image_channels, num_classes=num_classes, width=width, scales=scales)
        self.discriminators = nn.ModuleList(
            PatchDiscriminator(image_channels + num_classes, width) for _ in range(scales)
        )

    def forward(self, image, onehot):
        x = torch.cat([image, onehot], 1)
        results = []
        for i, disc in enumerate(self.discriminators):
            if i:
                x = F.avg_pool2d(x, 3, stride=2, padding=1, count_include_pad=False)
            results.append(disc(x))
        return results


class AuxSegmenter(nn.Module):
    """S: image -> class logits, with dilations for context."""

    def __init__(self, image_channels: int, num_classes: int, width: int = 24) -> None:
        super().__init__()
        self.hparams = dict(image_channels=image_channels, num_classes=num_classes, width=width)
        layers: list[nn.Module] = [nn.Conv2d(image_channels, width, 3, padding=1), _act()]
        for dilation in (2, 4, 8):
            layers += [nn.Conv2d(width, width, 3, padding=dilation, dilation=dilation), _act()]
        layers.append(nn.Conv2d(width, num_classes, 1))
        self.net = nn.Sequential(*layers)

    def forward(self, image):
        return self.net(image)


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())
