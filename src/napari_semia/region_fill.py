"""Filling the changed regions of a layout edit with real texture of the right class.

Where the target layout P' differs from the source layout P, the source's
encoder features describe the wrong class: passed through unchanged they
leave a ghost of a removed object's outline, replaced by a class average they
give flat patches. Instead, every connected changed region gets one shift
(dy, dx) onto source pixels of the class the target asks for, so the region
starts from a coherent, shifted copy of real texture; SFT and the decoder
blend it into its surroundings.

The shift search runs in torch on the layouts' device; the connected
components are labelled by scikit-image on the host (``connected_components``).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from skimage import measure

#: (offset, pixel) pairs examined per chunk of the shift search; bounds memory.
_PAIRS_PER_CHUNK = 4_000_000
#: (offset, pixel) pairs examined in all; larger searches try every k-th offset
#: (offsets are sorted by length, so the short ones stay well covered).
_MAX_PAIRS = 16_000_000
#: A shift is good enough when it lands this share of the best shift's pixels
#: on the class; the shortest such shift wins.
_COVERAGE_SHARE = 0.9
_NEIGHBOURS = ((1, 0), (-1, 0), (0, 1), (0, -1))


def _shifted(x: torch.Tensor, dy: int, dx: int, fill) -> torch.Tensor:
    """out[..., y, x] = x[..., y + dy, x + dx], ``fill`` outside."""
    h, w = x.shape[-2:]
    out = torch.full_like(x, fill)
    ys, yd = slice(max(dy, 0), h + min(dy, 0)), slice(max(-dy, 0), h + min(-dy, 0))
    xs, xd = slice(max(dx, 0), w + min(dx, 0)), slice(max(-dx, 0), w + min(-dx, 0))
    out[..., yd, xd] = x[..., ys, xs]
    return out


def changed_regions(source_index: torch.Tensor, target_index: torch.Tensor) -> torch.Tensor:
    """(B, h, w) bool: changed pixels, grown by one pixel (4-neighbours) within
    their target class. The encoder sees a few pixels past a region's edge, so
    features just outside a removed object still carry its outline."""
    changed = source_index != target_index
    grown = changed.clone()
    for dy, dx in _NEIGHBOURS:
        same_class = _shifted(target_index, dy, dx, -1) == target_index
        grown |= _shifted(changed, dy, dx, False) & same_class
    return grown


def connected_components(region: torch.Tensor, classes: torch.Tensor) -> torch.Tensor:
    """Labels (B, h, w) of the 4-connected components of ``region`` within one
    class: each region pixel gets the smallest linear index in its component,
    pixels outside the region get h * w. On the layouts' device.

    scikit-image labels them on the host, whatever the device. A labelling in
    torch (min-label propagation) needs up to h + w sweeps of small kernels: on
    an H200 that took 1.1 s of a 1.4 s full-resolution synthesis of zebra,
    where the copy to the host and back takes milliseconds (benchmarks/README.md,
    "On a GPU").
    """
    labels = _labelled_on_the_cpu(region.cpu(), classes.cpu())
    return labels.to(region.device)


def _labelled_on_the_cpu(region: torch.Tensor, classes: torch.Tensor) -> torch.Tensor:
    """``connected_components`` of CPU tensors: scikit-image's labelling of equal
    values (one pass, however many classes: the pieces of a copy field have
    hundreds), each component then named by its smallest linear index."""
    b, h, w = region.shape
    out = np.full((b, h, w), h * w, np.int64)
    for i in range(b):
        inside = region[i].numpy()
        if not inside.any():
            continue
        classes_np = classes[i].numpy().astype(np.int64, copy=False)
        values = np.where(inside, classes_np - classes_np[inside].min() + 1, 0)
        names = measure.label(values, background=0, connectivity=1).reshape(-1)
        pixels = np.flatnonzero(names)
        names = names[pixels]
        # Pixels come in scan order: a component's first is its smallest index.
        _, first = np.unique(names, return_index=True)
        smallest = np.zeros(names.max() + 1, np.int64)
        smallest[names[first]] = pixels[first]
        out[i].reshape(-1)[pixels] = smallest[names]
    return torch.from_numpy(out)


def components_holding(region: torch.Tensor, classes: torch.Tensor, seeds: torch.Tensor) -> torch.Tensor:
    """(h, w) bool: the pixels of ``region`` whose 4-connected component within one
    class of ``classes`` (both (h, w), as ``connected_components``) holds a
    ``seeds`` pixel."""
    labels = connected_components(region[None], classes[None])[0]
    holds = torch.zeros(labels.numel() + 1, dtype=torch.bool, device=labels.device)
    holds[labels[seeds & region]] = True  # pixels outside the region (label h * w) stay False
    return holds[labels]


def _sorted_offsets(h: int, w: int, device) -> tuple[torch.Tensor, torch.Tensor]:
    """Every shift (dy, dx) that keeps some pixel inside an h x w map, shortest first."""
    dy, dx = torch.meshgrid(torch.arange(-h + 1, h, device=device),
                            torch.arange(-w + 1, w, device=device), indexing="ij")
    dy, dx = dy.reshape(-1), dx.reshape(-1)
    order = torch.sort(dy * dy + dx * dx, stable=True).indices
    return dy[order], dx[order]


def _landing(padded_source, target_class, base, shift):
    """(m, n) bool: pixel i shifted by offset j lands on a source pixel of its
    target class ``target_class[i]``. ``padded_source`` is the flat source map
    padded with -1 (never a class) wide enough for every shift, ``base[i]`` a
    pixel's flat index in it and ``shift`` (m, 1) or (1, n) flat offsets."""
    return padded_source[base[None] + shift] == target_class[None]


def region_shifts(source_index: torch.Tensor, target_index: torch.Tensor, per_pixel_fallback: bool = True):
    """Shift map of a layout edit, on (B, h, w) class-index maps.

    Returns offsets (B, 2, h, w) in pixels, a (B, 1, h, w) mask of the pixels
    whose shifted position has their target class, and a (B, 1, h, w) mask of
    the regions to fill (changed regions with a one-pixel margin).

    Each connected region takes the shortest shift that lands (nearly) the
    whole region on its class, i.e. one coherent copy rather than per-pixel
    nearest pixels, which would smear the edge of the class across the
    region; pixels that this shift leaves off the class take their own
    shortest shift onto it.

    Only the changed pixels are searched (their count is read back from an
    accelerator, as the labelling of their regions is: ``connected_components``).

    ``per_pixel_fallback=False`` leaves the pixels that their region's shift does
    not land on their class unfound (found 0, offset 0) instead of giving them
    their own shortest shift, for callers that fill those pixels otherwise.
    """
    b, h, w = source_index.shape
    device = source_index.device
    region = changed_regions(source_index, target_index)
    labels = connected_components(region, target_index)
    pixels = region.reshape(-1).nonzero().squeeze(1)
    batch, within = pixels // (h * w), pixels % (h * w)
    ys, xs = within // w, within % w
    target_class = target_index.reshape(-1)[pixels]
    component = batch * (h * w + 1) + labels.reshape(-1)[pixels]
    _, component = torch.unique(component, return_inverse=True)
    components = int(component.max()) + 1 if len(component) else 0

    # The source map padded by h - 1 rows and w - 1 columns of -1 on every
    # side: a shift is then one flat offset, and leaving the map never matches.
    padded_w = 3 * w - 2
    padded_source = F.pad(source_index, (w - 1, w - 1, h - 1, h - 1), value=-1).reshape(-1)
    base = batch * ((3 * h - 2) * padded_w) + (ys + h - 1) * padded_w + (xs + w - 1)

    dy, dx = _sorted_offsets(h, w, device)
    n = len(pixels)
    stride = max(1, -(-len(dy) * n // _MAX_PAIRS))
    dy, dx = dy[::stride], dx[::stride]
    flat_shift = dy * padded_w + dx
    chunk = max(1, _PAIRS_PER_CHUNK // max(1, n))
    never = len(dy)
    nearest = torch.full((n,), never, device=device)  # per pixel: its own shortest shift
    counts = []  # per chunk of offsets: (m, components) pixels that land on their class
    for start in range(0, len(dy), chunk):
        stop = min(start + chunk, len(dy))
        lands = _landing(padded_source, target_class, base, flat_shift[start:stop, None])
        steps = torch.arange(start, stop, device=device)[:, None]
        nearest = torch.minimum(nearest, torch.where(lands, steps, never).amin(0))
        count = torch.zeros(stop - start, components, device=device)
        counts.append(count.scatter_add_(1, component[None].expand(stop - start, -1), lands.float()))
    best_count = torch.cat(counts).amax(0) if counts else torch.zeros(components, device=device)
    threshold = _COVERAGE_SHARE * best_count
    chosen = torch.full((components,), never, device=device)  # per component: shortest good shift
    start = 0
    for count in counts:
        steps = torch.arange(start, start + len(count), device=device)[:, None]
        chosen = torch.minimum(chosen, torch.where(count >= threshold[None], steps, never).amin(0))
        start += len(count)
    # A region with no pixel of its class anywhere keeps the first (zero) shift.
    best = torch.where(chosen == never, 0, chosen)[component]
    best_lands = _landing(padded_source, target_class, base, flat_shift[best][None])[0]
    has_nearest = (nearest < never) & per_pixel_fallback
    pick = torch.where(best_lands, best, torch.where(has_nearest, nearest, 0))
    offsets = torch.zeros(2, b * h * w, device=device)
    offsets[0, pixels] = dy[pick].float()
    offsets[1, pixels] = dx[pick].float()
    found = torch.ones(b * h * w, device=device)
    found[pixels] = (best_lands | has_nearest).float()
    offsets = offsets.view(2, b, h, w).transpose(0, 1).contiguous()
    return offsets, found.view(b, 1, h, w), region.float()[:, None]


@torch.no_grad()
def texture_offsets(source_onehot: torch.Tensor, target_onehot: torch.Tensor, size):
    """:func:`region_shifts` of two one-hot layouts, at resolution ``size``
    (the generator's coarsest level): offsets in pixels of ``size``."""
    h, w = (int(v) for v in size)
    source_index = F.adaptive_avg_pool2d(source_onehot, (h, w)).argmax(1)
    target_index = F.adaptive_avg_pool2d(target_onehot, (h, w)).argmax(1)
    return region_shifts(source_index, target_index)


def shift_features(features: torch.Tensor, offsets: torch.Tensor, scale) -> torch.Tensor:
    """Gather features at p + offset(p) * scale (offsets upsampled to the features' size)."""
    b, c, h, w = features.shape
    off = F.interpolate(offsets, size=(h, w), mode="nearest")
    ys, xs = torch.meshgrid(torch.arange(h, device=features.device),
                            torch.arange(w, device=features.device), indexing="ij")
    yy = (ys[None] + (off[:, 0] * scale[0]).round().long()).clamp(0, h - 1)
    xx = (xs[None] + (off[:, 1] * scale[1]).round().long()).clamp(0, w - 1)
    index = (yy * w + xx).flatten(1)[:, None].expand(b, c, -1)
    return features.flatten(2).gather(2, index).reshape(b, c, h, w)


def class_means(features: torch.Tensor, source_onehot: torch.Tensor) -> torch.Tensor:
    """Mean source feature of every class: (B, K, C)."""
    weights = source_onehot.flatten(2)
    means = torch.einsum("bkn,bcn->bkc", weights, features.flatten(2))
    return means / weights.sum(2, keepdim=True).clamp_min(1e-6)


def fill_changed_regions(features, agreement, source_onehot, target_onehot, offsets, found, fill_mask):
    """Where the layouts disagree, replace source features by shifted same-class
    source features (class means where no shift lands on the class)."""
    size = features.shape[-2:]
    # Soft (bilinear) margin around changed regions, so fills blend in without seams.
    weight = F.interpolate(fill_mask, size=size, mode="bilinear", align_corners=False)
    if tuple(source_onehot.shape[-2:]) != tuple(size):
        agreement = F.adaptive_avg_pool2d(agreement, size)
        source_onehot = F.adaptive_avg_pool2d(source_onehot, size)
        target_onehot = F.adaptive_avg_pool2d(target_onehot, size)
    scale = (size[0] / offsets.shape[-2], size[1] / offsets.shape[-1])
    shifted = shift_features(features, offsets, scale)
    means = torch.einsum("bkhw,bkc->bchw", target_onehot, class_means(features, source_onehot))
    # The shift map is coarse: check at this level, pixel by pixel, that the
    # shifted source position has the class the target wants; elsewhere (e.g.
    # along a region's edge) fall back to the class mean rather than copying
    # texture of the wrong class, which shows as a staircase.
    lands_on_class = (shift_features(source_onehot, offsets, scale) * target_onehot).sum(1, keepdim=True)
    found = F.interpolate(found, size=size, mode="nearest") * lands_on_class
    fill = found * shifted + (1.0 - found) * means
    weight = torch.maximum(weight, 1.0 - agreement)
    return (1.0 - weight) * features + weight * fill
