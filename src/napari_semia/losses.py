"""Losses of Semantic Image Analogy.

No pretrained feature extractor is used (none can be downloaded, and the
plugin must work offline): the patch coherence loss compares raw-intensity
patches at several scales instead of VGG features.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def lsgan_discriminator_loss(real_results, fake_results) -> torch.Tensor:
    loss = 0.0
    for (_, real), (_, fake) in zip(real_results, fake_results):
        loss = loss + (real - 1).pow(2).mean() + fake.pow(2).mean()
    return loss / len(real_results)


def lsgan_generator_loss(fake_results) -> torch.Tensor:
    return sum((score - 1).pow(2).mean() for _, score in fake_results) / len(fake_results)


def feature_matching_loss(real_results, fake_results) -> torch.Tensor:
    """L1 between discriminator features of the pseudo target and the output."""
    loss, count = 0.0, 0
    for (real_feats, _), (fake_feats, _) in zip(real_results, fake_results):
        for real, fake in zip(real_feats, fake_feats):
            loss = loss + F.l1_loss(fake, real.detach())
            count += 1
    return loss / count


def fixed_point_loss(modulation) -> torch.Tensor:
    """Pull SFT to the identity (gamma = 1, beta = 0) when both layouts agree."""
    return sum((g - 1).abs().mean() + b.abs().mean() for g, b in modulation) / len(modulation)


def semantic_alignment_loss(segmenter_logits: torch.Tensor, target_index: torch.Tensor) -> torch.Tensor:
    """Cross-entropy between the auxiliary segmenter's reading of the output and the target layout."""
    return F.cross_entropy(segmenter_logits, target_index)


def _patch_labels(labels: torch.Tensor, size: tuple[int, int], patch_size: int, stride: int) -> torch.Tensor:
    """Class index at the centre of every patch of an image resized to ``size``."""
    resized = F.interpolate(labels[:, None].float(), size=size, mode="nearest")
    pad = patch_size // 2
    centres = resized[:, :, pad: size[0] - pad: stride, pad: size[1] - pad: stride]
    return centres.reshape(-1).long()


def semantic_patch_coherence_loss(
    output: torch.Tensor,
    output_labels: torch.Tensor,
    source: torch.Tensor,
    source_labels: torch.Tensor,
    patch_size: int = 5,
    scales: tuple[int, ...] = (1, 2),
    max_queries: int = 1024,
    max_source_patches: int = 6000,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Mean squared distance of output patches in class k to their nearest source patch in class k.

    ``output``/``source`` are (1, C, H, W) images, the label maps (1, H, W)
    class indices. At each scale (a downsampling factor) the images are
    average-pooled, output patches are subsampled to ``max_queries`` and the
    source patches strided to about ``max_source_patches``; the nearest
    neighbour is searched among source patches whose centre has the same class.
    Zero when the output is made of source patches of the right classes.
    """
    losses = []
    for scale in scales:
        out_s = F.avg_pool2d(output, scale) if scale > 1 else output
        src_s = F.avg_pool2d(source, scale) if scale > 1 else source
        h, w = out_s.shape[-2:]
        if min(h, w) < patch_size + 1:
            continue
        sh, sw = src_s.shape[-2:]
        n_src = (sh - patch_size + 1) * (sw - patch_size + 1)
        src_stride = max(1, int((n_src / max_source_patches) ** 0.5 + 0.999))

        out_patches = F.unfold(out_s, patch_size)[0].T  # (Nq, D)
        out_classes = _patch_labels(output_labels, (h, w), patch_size, 1)
        if out_patches.shape[0] > max_queries:
            pick = torch.randperm(out_patches.shape[0], generator=generator)[:max_queries].to(output.device)
            out_patches, out_classes = out_patches[pick], out_classes[pick]
        with torch.no_grad():
            src_patches = F.unfold(src_s, patch_size, stride=src_stride)[0].T  # (Ns, D)
            src_classes = _patch_labels(source_labels, (sh, sw), patch_size, src_stride)
            # Exact nearest neighbour within the same class: patches of other
            # classes are out of reach (in place: this is the step's largest array).
            dist = torch.cdist(out_patches.detach(), src_patches).pow_(2)
            dist.masked_fill_(out_classes[:, None] != src_classes[None, :], float("inf"))
            nearest_distance, nearest = dist.min(1)
            has_match = torch.isfinite(nearest_distance)
        if not bool(has_match.any()):
            continue
        matched = src_patches[nearest]
        diff = (out_patches - matched).pow(2).mean(1)
        losses.append(diff[has_match].mean())
    if not losses:
        return output.sum() * 0.0
    return sum(losses) / len(losses)


#: Readable name and meaning of every loss a training step reports.
LOSS_DESCRIPTIONS: dict[str, tuple[str, str]] = {
    "D": ("discriminator", "LSGAN loss of the patch discriminator: real vs synthesized patches"),
    "S": ("segmenter", "cross-entropy of the auxiliary segmenter on real (augmented) images"),
    "adv": ("adversarial", "how far the generator is from fooling the discriminator"),
    "fm": ("feature matching", "L1 between discriminator features of real and synthesized images"),
    "rec": ("reconstruction", "L1 to the augmented image (reconstruction steps)"),
    "fixed_point": ("SFT fixed point", "pulls the feature translation to the identity where layouts agree"),
    "semantic": ("semantic alignment", "the segmenter's reading of the output vs the target layout"),
    "patch": ("patch coherence", "distance of output patches to same-class source patches"),
}


def loss_label(name: str) -> str:
    return LOSS_DESCRIPTIONS.get(name, (name, ""))[0]
