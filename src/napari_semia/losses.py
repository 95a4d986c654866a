"""Losses of Semantic Image Analogy.

No pretrained feature extractor is used (none can be downloaded, and the
plugin must work offline): the patch coherence loss compares raw-intensity
patches at several scales instead of VGG features.
"""

from __future__ import annotations

from dataclasses import dataclass

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


def _patches_at(image: torch.Tensor, positions: torch.Tensor, patch_size: int) -> torch.Tensor:
    """The patches of ``image`` (1, C, H, W) whose top-left corners are the
    flat ``positions`` of a valid-patch grid, as rows laid out like
    ``F.unfold`` (channel, row, column): (N, C * patch_size**2).

    Gathering only the queried patches spares unfolding, and in the backward
    pass folding, all ~63,000 patches of a 256-px output to use 1,024 of them.
    """
    width = image.shape[-1] - patch_size + 1
    offsets = torch.arange(patch_size, device=image.device)
    rows = (positions // width)[:, None, None] + offsets[None, :, None]
    cols = (positions % width)[:, None, None] + offsets[None, None, :]
    patches = image[0][:, rows, cols]  # (C, N, p, p)
    return patches.permute(1, 0, 2, 3).reshape(positions.shape[0], -1)


@dataclass(frozen=True)
class SourcePatchBank:
    """The source's patches and their centre classes at every scale of the
    patch coherence loss, strided to about ``max_source_patches``.

    They depend only on the source, so training builds them once per
    resolution instead of every sampling step.
    """

    patch_size: int
    patches: dict[int, tuple[torch.Tensor, torch.Tensor]]
    """scale -> (patches (Ns, D), centre classes (Ns,))."""

    @classmethod
    def build(cls, source: torch.Tensor, source_labels: torch.Tensor, patch_size: int = 5,
              scales: tuple[int, ...] = (1, 2), max_source_patches: int = 6000) -> SourcePatchBank:
        patches = {}
        with torch.no_grad():
            for scale in scales:
                src_s = F.avg_pool2d(source, scale) if scale > 1 else source
                sh, sw = src_s.shape[-2:]
                if min(sh, sw) < patch_size + 1:
                    continue
                n_src = (sh - patch_size + 1) * (sw - patch_size + 1)
                stride = max(1, int((n_src / max_source_patches) ** 0.5 + 0.999))
                patches[scale] = (F.unfold(src_s, patch_size, stride=stride)[0].T.contiguous(),
                                  _patch_labels(source_labels, (sh, sw), patch_size, stride))
        return cls(patch_size, patches)


def _same_class_nearest(queries: torch.Tensor, query_classes: torch.Tensor, patches: torch.Tensor,
                        patch_classes: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Exact nearest source patch of the same class for every query whose
    class the source has: (indices of those queries, their matched patches).

    Searched class by class: the distances to other classes' patches, which
    could never be chosen, are not computed (a 10-class layout needs a tenth
    of the arithmetic of one masked distance matrix).
    """
    picked, matched = [], []
    with torch.no_grad():
        for k in torch.unique(query_classes).tolist():
            candidates = torch.nonzero(patch_classes == k).squeeze(1)
            if candidates.numel() == 0:
                continue  # the source has no patch of this class: nothing to match
            members = torch.nonzero(query_classes == k).squeeze(1)
            nearest = torch.cdist(queries[members].detach(), patches[candidates]).argmin(1)
            picked.append(members)
            matched.append(candidates[nearest])
    if not picked:
        return queries.new_zeros(0, dtype=torch.long), patches[:0]
    return torch.cat(picked), patches[torch.cat(matched)]


def semantic_patch_coherence_loss(
    output: torch.Tensor,
    output_labels: torch.Tensor,
    source: torch.Tensor | None = None,
    source_labels: torch.Tensor | None = None,
    patch_size: int = 5,
    scales: tuple[int, ...] = (1, 2),
    max_queries: int = 1024,
    max_source_patches: int = 6000,
    generator: torch.Generator | None = None,
    source_bank: SourcePatchBank | None = None,
) -> torch.Tensor:
    """Mean squared distance of output patches in class k to their nearest source patch in class k.

    ``output``/``source`` are (1, C, H, W) images, the label maps (1, H, W)
    class indices. At each scale (a downsampling factor) the images are
    average-pooled, output patches are subsampled to ``max_queries`` and the
    source patches strided to about ``max_source_patches``; the nearest
    neighbour is searched among source patches whose centre has the same class.
    Zero when the output is made of source patches of the right classes.
    ``source_bank`` (built from the source with the same settings) replaces
    ``source``/``source_labels``.
    """
    if source_bank is None:
        source_bank = SourcePatchBank.build(source, source_labels, patch_size, scales, max_source_patches)
    elif source_bank.patch_size != patch_size:
        raise ValueError("the source patch bank was built for another patch size")
    losses = []
    for scale in scales:
        if scale not in source_bank.patches:
            continue
        out_s = F.avg_pool2d(output, scale) if scale > 1 else output
        h, w = out_s.shape[-2:]
        if min(h, w) < patch_size + 1:
            continue
        n_queries = (h - patch_size + 1) * (w - patch_size + 1)
        out_classes = _patch_labels(output_labels, (h, w), patch_size, 1)
        if n_queries > max_queries:
            pick = torch.randperm(n_queries, generator=generator)[:max_queries].to(output.device)
            out_classes = out_classes[pick]
        else:
            pick = torch.arange(n_queries, device=output.device)
        out_patches = _patches_at(out_s, pick, patch_size)  # (Nq, D)
        src_patches, src_classes = source_bank.patches[scale]
        query, matched = _same_class_nearest(out_patches, out_classes, src_patches, src_classes)
        if query.numel() == 0:
            continue
        losses.append((out_patches[query] - matched).pow(2).mean(1).mean())
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
    "fixed_point": ("layout identity", "pulls the feature translation (SFT) to the identity "
                    "where the layouts agree"),
    "semantic": ("semantic alignment", "the segmenter's reading of the output vs the target layout"),
    "patch": ("patch coherence", "distance of output patches to same-class source patches"),
}


def loss_label(name: str) -> str:
    return LOSS_DESCRIPTIONS.get(name, (name, ""))[0]
