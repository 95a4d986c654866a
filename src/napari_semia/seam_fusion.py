"""Gradient-domain fusion of copied pieces in smooth classes (sky, walls, skin).

Patch copying fills a vacated area of sky with pieces from elsewhere in the
sky; each piece brings its own tone (the sunset sky is brighter than the sky
at the horizon), so the area reads as a patchwork of pale pieces even where
every piece is real sky. In a smooth class the eye sees the steps between
pieces, not their texture. This module solves, over the copied pixels of the
smooth classes, for the image whose neighbour differences are the *source's*
differences around each pixel's match (a Poisson equation, as in Pérez et
al.'s seamless cloning and Agarwala et al.'s photomontage):

* inside a coherent piece that is the piece's own gradient, so the copied
  detail stays;
* across a seam between two pieces, the average of what the source has next to
  either match, so the step between the pieces vanishes;
* pixels of the same class that keep their own source pixel bound the solve
  (Dirichlet): the fill takes the tone of the sky around it;
* class edges do not count (the other class is left as copied), and source
  pixels at the rim of their class (where hand-drawn labels let the other
  class's colour in: leaves at the edge of the sky) give no gradient, so an
  old outline does not bleed into the fill.

Textured classes (stripes, grass, leaves) are left alone: their seams are
part of their texture, and integrating their gradients drifts the tone of a
whole piece. A class is smooth when nine in ten differences between
neighbouring pixels inside it are at most ``max_gradient`` (in network units,
summed over channels), measured once on the source at the working size: flat
bands of stripes have many zero differences, so the median would not do.

The solve is conjugate gradients on the pixels' bounding box, in torch on the
refinement's device; each level starts from the correction found at the level
below, so a few iterations suffice above level 0.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from skimage import measure

from .layout_tensors import bounding_box

#: Pixels this close to another class in the source do not give gradients.
RIM_WIDTH = 2
#: A small pull of every solved pixel towards its matched source pixel, so that a
#: region with no bounding pixel of its class keeps its mean tone.
_ANCHOR = 1e-4
#: Pieces of a class with no bounding pixel are set to their matches' mean level
#: from this many (anchored) pixels on.
MIN_LEVELLED_PIECE = 64


def class_gradients(image: torch.Tensor, index: torch.Tensor, num_classes: int) -> torch.Tensor:
    """(K,) float: the value that nine in ten differences between neighbouring pixels
    inside each class (``image`` (C, H, W), summed over channels; ``index``
    (H, W)) do not exceed; inf for a class with no two neighbouring pixels."""
    gradients = torch.full((num_classes,), float("inf"), device=index.device)
    index = index.long()
    steps = [((image[:, :, 1:] - image[:, :, :-1]).abs().sum(0), index[:, 1:], index[:, :-1]),
             ((image[:, 1:] - image[:, :-1]).abs().sum(0), index[1:], index[:-1])]
    for k in range(num_classes):
        values = torch.cat([step[(a == k) & (b == k)] for step, a, b in steps])
        if values.numel():
            gradients[k] = values.kthvalue(max(1, int(0.9 * values.numel()))).values
    return gradients


def class_spreads(image: torch.Tensor, index: torch.Tensor, num_classes: int) -> torch.Tensor:
    """(K,) float: each class's standard deviation over its pixels, summed over the
    channels of ``image`` (C, H, W) (as ``class_gradients`` sums their differences);
    0 for a class of fewer than two pixels."""
    # Two passes in float32 (MPS has no float64): the mean, then the spread about it.
    flat = index.flatten().long()
    pixels = image.reshape(image.shape[0], -1).float().T
    counts = torch.bincount(flat, minlength=num_classes).float()
    sums = torch.zeros(num_classes, pixels.shape[1], device=image.device).index_add_(0, flat, pixels)
    mean = sums / counts.clamp_min(1)[:, None]
    squares = torch.zeros_like(sums).index_add_(0, flat, (pixels - mean[flat]).square())
    spreads = (squares / (counts - 1).clamp_min(1)[:, None]).sqrt().sum(1)
    return torch.where(counts > 1, spreads, torch.zeros_like(spreads))


def inner_variation(image: torch.Tensor, index: torch.Tensor,
                    num_classes: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(K,) ``class_gradients`` and (K,) ``class_spreads`` of each class, both measured
    3 pixels or more from the class's edges: a downscaled edge is blended over about
    two pixels, and a flat class in small pieces (pores), or around them, varies
    there alone (read as textured; found in review)."""
    inside = torch.where(rim_free(index, 2), index.long(), num_classes)  # edges: a class of their own
    return (class_gradients(image, inside, num_classes + 1)[:num_classes],
            class_spreads(image, inside, num_classes + 1)[:num_classes])


def pixel_scale_textured(variation: tuple[torch.Tensor, torch.Tensor], max_ratio: float,
                         noise_ratio: float = float("inf")) -> torch.Tensor:
    """(K,) bool: classes whose pixels differ from their neighbours more than
    ``max_ratio`` times, and at most ``noise_ratio`` times, they differ from the
    class's mean (``variation``: ``inner_variation``'s gradients and spreads):
    texture at the pixel scale (gravel, grains), neither shading (below) nor noise
    (above: uncorrelated pixels read about 2.3). False for a class with no pixels
    3 pixels from its edges, and for every class when ``max_ratio`` is inf."""
    gradients, spreads = variation
    # (A comparison with NaN, inf times a spread of 0, is False: not textured.)
    return (torch.isfinite(gradients) & (gradients > max_ratio * spreads)
            & ~(gradients > noise_ratio * spreads))


def classes_within(gradients: torch.Tensor, max_gradient: float) -> torch.Tensor:
    """(K,) bool: ``class_gradients`` at most ``max_gradient`` (none for 0 or less)."""
    return (gradients <= max_gradient) & (max_gradient > 0)


def rim_free(index: torch.Tensor, width: int = RIM_WIDTH) -> torch.Tensor:
    """(H, W) bool: pixels with no other class within ``width`` (the image border
    does not count as another class)."""
    padded = F.pad(index[None, None].float(), (width,) * 4, mode="replicate")
    size = 2 * width + 1
    # (Row then column: the square's max in 2 * size comparisons, not size^2.)
    largest = F.max_pool2d(F.max_pool2d(padded, (1, size), stride=1), (size, 1), stride=1)
    smallest = -F.max_pool2d(F.max_pool2d(-padded, (1, size), stride=1), (size, 1), stride=1)
    return (largest == smallest)[0, 0]


def _guidance(source: torch.Tensor, source_classes: torch.Tensor, reliable: torch.Tensor,
              target: torch.Tensor, fy: torch.Tensor, fx: torch.Tensor, dy: int, dx: int) -> torch.Tensor:
    """Wanted differences x[p] - x[p + (dy, dx)] between each pixel p of the crop and
    its neighbour q: the source's difference next to p's match, and next to q's,
    averaged over the sides that are inside one class in the source and agree with
    the target's classes; 0 (smooth) where neither side does."""
    h, w = target.shape
    src_h, src_w = source_classes.shape
    rows, cols = h - dy, w - dx
    fyp, fxp = fy[:rows, :cols].long(), fx[:rows, :cols].long()
    fyq, fxq = fy[dy:, dx:].long(), fx[dy:, dx:].long()
    class_p, class_q = target[:rows, :cols], target[dy:, dx:]

    flat_source = source.flatten(1)
    flat_classes, flat_reliable = source_classes.flatten(), reliable.flatten()

    def at(y, x):
        # (One flat index gathers from all three: indexing by two index tensors took
        # most of this function's time.)
        where = (y.clamp(0, src_h - 1) * src_w + x.clamp(0, src_w - 1)).flatten()
        return (flat_source.index_select(1, where).view(source.shape[0], *y.shape),
                flat_classes[where].view(y.shape), flat_reliable[where].view(y.shape))

    p_value, _, p_ok = at(fyp, fxp)
    p_next, p_next_class, p_next_ok = at(fyp + dy, fxp + dx)
    q_prev, q_prev_class, q_prev_ok = at(fyq - dy, fxq - dx)
    q_value, _, q_ok = at(fyq, fxq)
    from_p = (p_ok & p_next_ok & (p_next_class == class_q)).float()
    from_q = (q_ok & q_prev_ok & (q_prev_class == class_p)).float()
    total = (p_value - p_next) * from_p + (q_prev - q_value) * from_q
    return total / (from_p + from_q).clamp_min(1.0)


def fuse(image: torch.Tensor, source: torch.Tensor, source_classes: torch.Tensor, reliable: torch.Tensor,
         target: torch.Tensor, solve: torch.Tensor, fy: torch.Tensor, fx: torch.Tensor, *,
         start: torch.Tensor | None = None, iterations: int = 300,
         on_iteration: Callable[[float], None] | None = None) -> torch.Tensor:
    """(C, H, W) ``image`` with its ``solve`` pixels (H, W bool; all of smooth
    classes) re-solved from the source's gradients along the field ``fy``/``fx``
    (the source ``source`` (C, h, w) at this level, ``source_classes`` (h, w), any
    integer type,
    ``reliable`` (h, w): not at a class rim). ``start``: a first guess for those
    pixels (default: ``image``). ``on_iteration(fraction)``: called now and then
    with the fraction of the iterations done (it may raise, to abandon the solve)."""
    box = bounding_box(solve, 1)  # and the pixels that bound the solve
    if box is None:
        return image
    y0, y1, x0, x1 = box
    crop = image[:, y0:y1, x0:x1]
    classes, unknown = target[y0:y1, x0:x1], solve[y0:y1, x0:x1]
    fy, fx = fy[y0:y1, x0:x1], fx[y0:y1, x0:x1]
    # Pairs that count: two pixels of one class, at least one of them solved for,
    # and a pixel that bounds the solve only where its value is not from a class
    # rim of the source (the old outline's tint would spread into the fill).
    src_h, src_w = source_classes.shape
    match_y, match_x = fy.long().clamp(0, src_h - 1), fx.long().clamp(0, src_w - 1)
    bounds = ~unknown & reliable[match_y, match_x]
    counts = unknown | bounds
    weight_x = ((classes[:, 1:] == classes[:, :-1]) & (unknown[:, 1:] | unknown[:, :-1])
                & counts[:, 1:] & counts[:, :-1]).float()[None]
    weight_y = ((classes[1:] == classes[:-1]) & (unknown[1:] | unknown[:-1])
                & counts[1:] & counts[:-1]).float()[None]
    wanted_x = _guidance(source, source_classes, reliable, classes, fy, fx, 0, 1) * weight_x
    wanted_y = _guidance(source, source_classes, reliable, classes, fy, fx, 1, 0) * weight_y

    def neighbour_sum(x: torch.Tensor) -> torch.Tensor:
        total = torch.zeros_like(x)
        total[:, :, :-1] += weight_x * x[:, :, 1:]
        total[:, :, 1:] += weight_x * x[:, :, :-1]
        total[:, :-1] += weight_y * x[:, 1:]
        total[:, 1:] += weight_y * x[:, :-1]
        return total

    mask = unknown.float()[None]
    divergence = torch.zeros_like(crop)
    divergence[:, :, :-1] += wanted_x
    divergence[:, :, 1:] -= wanted_x
    divergence[:, :-1] += wanted_y
    divergence[:, 1:] -= wanted_y
    # The anchor pulls towards each pixel's matched source pixel, not its voted value:
    # where nothing of the class bounds the solve (a class moved whole) the anchor
    # sets the level, and voted values by class edges mixed in the other class (a dim
    # class beside a bright one came out 5x too bright, its edge spread over it all).
    # Only pixels matched within their class anchor (the match's class is a soft
    # preference: by an edge a pixel may copy the other class).
    matched = source[:, match_y, match_x]
    in_class = source_classes[match_y, match_x].long() == classes.long()
    anchor = torch.where(in_class, _ANCHOR, _ANCHOR * 1e-4)[None]
    rhs = (divergence + neighbour_sum(crop * (1 - mask)) + anchor * matched) * mask
    degree = neighbour_sum(torch.ones_like(crop[:1])) + anchor

    # The operator, (degree * x - neighbour_sum(x)) * mask, for the x the iterations
    # give it (zero outside the solve): the mask folded into the weights of the
    # pixels that receive, and each neighbour added in place in one pass. Half the
    # time of the expression as written (a whole-image solve at 1411 px: 60
    # iterations, 4.8 s -> 2.3 s on one thread), the same to float rounding.
    masked_degree = degree * mask
    to_left, to_right = -weight_x * mask[:, :, :-1], -weight_x * mask[:, :, 1:]
    to_up, to_down = -weight_y * mask[:, :-1], -weight_y * mask[:, 1:]

    def operator(x: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
        torch.mul(masked_degree, x, out=out)
        out[:, :, :-1].addcmul_(to_left, x[:, :, 1:])
        out[:, :, 1:].addcmul_(to_right, x[:, :, :-1])
        out[:, :-1].addcmul_(to_up, x[:, 1:])
        out[:, 1:].addcmul_(to_down, x[:, :-1])
        return out

    # Conjugate gradients, preconditioned by the degree (Jacobi).
    x = (crop if start is None else start[:, y0:y1, x0:x1]) * mask
    step = torch.empty_like(x)
    residual = rhs - operator(x, step)
    inverse_degree = mask / degree
    z = residual * inverse_degree
    direction = z.clone()
    rz = torch.dot(residual.flatten(), z.flatten())
    for number in range(iterations):
        # (Checked now and then: reading the value waits for an accelerator.)
        if number % 16 == 0 and float(rz) < 1e-12:
            break
        if on_iteration is not None and number:
            # Every iteration: one of a full-size solve takes up to a quarter second.
            on_iteration(number / iterations)
        operator(direction, step)
        alpha = rz / torch.dot(direction.flatten(), step.flatten()).clamp_min(1e-20)
        x.addcmul_(direction, alpha)
        residual.addcmul_(step, -alpha)
        torch.mul(residual, inverse_degree, out=z)
        rz_new = torch.dot(residual.flatten(), z.flatten())
        direction.mul_(rz_new / rz).add_(z)
        rz = rz_new
    x = _level_unbounded_classes(x, unknown, bounds, classes, matched, in_class)
    out = image.clone()
    out[:, y0:y1, x0:x1] = torch.where(unknown[None], x, crop)
    return out


def _level_unbounded_classes(x: torch.Tensor, unknown: torch.Tensor, bounds: torch.Tensor,
                             classes: torch.Tensor, matched: torch.Tensor, anchored: torch.Tensor):
    """``x`` with each connected piece of a class that nothing of its class bounds
    set to its matches' mean level. There only the faint anchor sets the level, and
    the iterations, busy with the detail, leave it where they drift: a dim class
    moved whole beside a bright one came out 0.13 % of the image's range too bright
    (37 grey levels of 16 bits on values of 100). Per piece: an instance moved while
    another of its class keeps its place is as unbounded (the pieces are labelled on
    the host, by scikit-image, as the refinement's other components are)."""
    for k in torch.unique(classes[unknown]).tolist():
        in_class = classes == k
        solved = unknown & in_class
        # Pieces as the solve couples pixels: 4-connected, within the class.
        pieces = torch.from_numpy(measure.label(solved.cpu().numpy(), connectivity=1)).to(x.device)
        count = int(pieces.max())
        if count == 0:
            continue
        bounded_pixels = _grown(bounds & in_class) & solved
        bounded = torch.zeros(count + 1, dtype=torch.bool, device=x.device)
        bounded[pieces[bounded_pixels].long()] = True
        pixels = (anchored & solved).flatten()
        ids = pieces.flatten().long()[pixels]
        totals = torch.zeros(x.shape[0], count + 1, device=x.device, dtype=x.dtype)
        totals.index_add_(1, ids, (matched - x).flatten(1)[:, pixels])
        counts = torch.zeros(count + 1, device=x.device, dtype=x.dtype).index_add_(
            0, ids, torch.ones_like(ids, dtype=x.dtype))
        # Specks (a few pixels of sky labelled inside a tower) are left to their
        # surroundings: set to their matches' level they stood out as bright dots.
        shifts = torch.where((counts >= MIN_LEVELLED_PIECE) & ~bounded, totals / counts.clamp_min(1), 0.0)
        shifts[:, 0] = 0.0  # not a piece
        x = x + shifts[:, pieces.long()] * solved[None]
    return x


def _grown(mask: torch.Tensor) -> torch.Tensor:
    """``mask`` grown by one pixel along rows and columns (the solve's neighbours)."""
    grown = mask.clone()
    grown[1:] |= mask[:-1]
    grown[:-1] |= mask[1:]
    grown[:, 1:] |= mask[:, :-1]
    grown[:, :-1] |= mask[:, 1:]
    return grown
