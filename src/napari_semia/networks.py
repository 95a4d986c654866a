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

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.utils import spectral_norm

from .region_fill import fill_changed_regions, texture_offsets


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
        self.hparams = {"image_channels": image_channels, "num_classes": num_classes, "width": width,
                        "levels": levels}
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
        # class; SFT and the decoder blend it into its surroundings (region_fill.py).
        agreement = (source_onehot * target_onehot).sum(1, keepdim=True)
        offsets, found, fill_mask = texture_offsets(source_onehot, target_onehot, skips[-1].shape[-2:])
        fill = lambda feats: fill_changed_regions(
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
        self.hparams = {"image_channels": image_channels, "num_classes": num_classes, "width": width,
                        "scales": scales}
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
    """S: image -> class logits, with dilations for context.

    It reads the image at 1/``scale`` of its size (logits upsampled back): the
    semantic alignment it serves is about which class a region shows, not
    about pixel-sharp edges (the patch and adversarial losses see those), and
    full-size dilated convolutions cost a quarter of a training step.
    """

    def __init__(self, image_channels: int, num_classes: int, width: int = 24, scale: int = 2) -> None:
        super().__init__()
        self.hparams = {"image_channels": image_channels, "num_classes": num_classes, "width": width,
                        "scale": scale}
        layers: list[nn.Module] = [nn.Conv2d(image_channels, width, 3, padding=1), _act()]
        for dilation in (2, 4, 8):
            layers += [nn.Conv2d(width, width, 3, padding=dilation, dilation=dilation), _act()]
        layers.append(nn.Conv2d(width, num_classes, 1))
        self.net = nn.Sequential(*layers)
        self.scale = int(scale)

    def forward(self, image):
        if self.scale == 1:
            return self.net(image)
        logits = self.net(F.avg_pool2d(image, self.scale, ceil_mode=True))
        return F.interpolate(logits, size=image.shape[-2:], mode="bilinear", align_corners=False)
