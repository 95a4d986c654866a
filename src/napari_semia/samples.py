"""Built-in sample cases, made offline from images bundled with scikit-image.

Each :class:`SampleCase` holds a source image, its label map (computed here by
classical segmentation, deterministic) and an *edited* target layout that shows
what the method is for: objects moved, erased or enlarged. Nothing is
downloaded: only images shipped inside the scikit-image package are used.

Label ids are small integers; id 0 is the background class, so that in a
napari Labels layer the eraser paints background.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage as ndi

from .errors import SemiaInputError

#: Longest side of every sample image; training works at about this size anyway.
SAMPLE_SIZE = 256


@dataclass(frozen=True)
class SampleCase:
    name: str
    title: str
    image: np.ndarray
    """(H, W) or (H, W, 3) uint8."""
    labels: np.ndarray
    """(H, W) int32 class ids of ``image``."""
    target: np.ndarray
    """(H, W) int32 edited layout, same ids as ``labels``."""
    description: str = ""
    class_names: dict[int, str] = field(default_factory=dict)


# ----------------------------------------------------------------- helpers
def remove_small_objects(mask: np.ndarray, size: int) -> np.ndarray:
    """Drop connected components of ``size`` pixels or fewer.

    (scikit-image's version renamed its size argument in 0.26; this keeps the
    samples identical on every supported scikit-image.)
    """
    labelled, count = ndi.label(mask)
    if count == 0:
        return mask.copy()
    sizes = np.bincount(labelled.ravel())
    keep = sizes > size
    keep[0] = False
    return keep[labelled]


def _fill_small_holes(mask: np.ndarray, size: int) -> np.ndarray:
    return ~remove_small_objects(~mask, size)


def _downscale(image: np.ndarray) -> np.ndarray:
    """Rescale so the longest side is SAMPLE_SIZE px; uint8 out."""
    from skimage.transform import resize

    scale = SAMPLE_SIZE / max(image.shape[:2])
    shape = (round(image.shape[0] * scale), round(image.shape[1] * scale)) + image.shape[2:]
    resized = resize(image, shape, order=1, anti_aliasing=True, preserve_range=True)
    return np.clip(np.round(resized), 0, 255).astype(np.uint8)


def _majority_smooth(labels: np.ndarray, sigma: float) -> np.ndarray:
    """Per-pixel vote among Gaussian-smoothed one-hot class maps: removes
    salt-and-pepper without shrinking regions the way repeated openings do."""
    ids = np.unique(labels)
    scores = np.stack([ndi.gaussian_filter((labels == i).astype(np.float32), sigma) for i in ids])
    return ids[scores.argmax(axis=0)].astype(labels.dtype)


def _clean_labels(labels: np.ndarray, min_size: int) -> np.ndarray:
    """Give regions of ``min_size`` pixels or fewer the id of their nearest
    larger neighbour, for every class."""
    small = np.zeros(labels.shape, bool)
    for class_id in np.unique(labels):
        mask = labels == class_id
        small |= mask & ~remove_small_objects(mask, min_size)
    if not small.any() or small.all():
        return labels
    _, (iy, ix) = ndi.distance_transform_edt(small, return_indices=True)
    return labels[iy, ix]


def _surrounding_id(labels: np.ndarray, mask: np.ndarray, width: int = 3) -> int:
    """Most common id in a ring just outside ``mask``."""
    ring = ndi.binary_dilation(mask, iterations=width) & ~mask
    values = labels[ring] if ring.any() else labels[~mask]
    return int(np.bincount(values.ravel()).argmax())


def _erase(labels: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Remove an object by filling it with the class that surrounds it."""
    out = labels.copy()
    out[mask] = _surrounding_id(labels, mask)
    return out


def _move(labels: np.ndarray, mask: np.ndarray, shift: tuple[int, int]) -> np.ndarray:
    """Move the object under ``mask`` by (dy, dx), keeping its inner ids."""
    erased = _erase(labels, mask)
    ys, xs = np.nonzero(mask)
    dy, dx = shift
    ny, nx = ys + dy, xs + dx
    inside = (ny >= 0) & (ny < labels.shape[0]) & (nx >= 0) & (nx < labels.shape[1])
    erased[ny[inside], nx[inside]] = labels[ys[inside], xs[inside]]
    return erased


def _enlarge(labels: np.ndarray, mask: np.ndarray, value: int, factor: float) -> np.ndarray:
    """Grow an object about its centroid by ``factor`` (nearest-neighbour zoom)."""
    cy, cx = ndi.center_of_mass(mask)
    yy, xx = np.indices(mask.shape, dtype=np.float64)
    src_y = np.round(cy + (yy - cy) / factor).astype(int)
    src_x = np.round(cx + (xx - cx) / factor).astype(int)
    valid = (src_y >= 0) & (src_y < mask.shape[0]) & (src_x >= 0) & (src_x < mask.shape[1])
    grown = np.zeros_like(mask)
    grown[valid] = mask[src_y[valid], src_x[valid]]
    out = labels.copy()
    out[grown] = value
    return out


def _ellipse_mask(ys: np.ndarray, xs: np.ndarray, shape: tuple[int, int]) -> np.ndarray | None:
    """Pixels inside the ellipse fitted (least-squares conic) through the points
    (ys, xs); None when the points fit no ellipse."""
    scale = max(xs.std(), ys.std(), 1.0)
    cx, cy = xs.mean(), ys.mean()
    x, y = (xs - cx) / scale, (ys - cy) / scale
    design = np.column_stack([x * x, x * y, y * y, x, y, np.ones_like(x)])
    a, b, c, d, e, f = np.linalg.svd(design, full_matrices=False)[2][-1]
    if b * b - 4 * a * c >= 0:
        return None
    yy, xx = np.indices(shape)
    gx, gy = (xx - cx) / scale, (yy - cy) / scale
    conic = a * gx * gx + b * gx * gy + c * gy * gy + d * gx + e * gy + f
    # The points' centroid lies inside a (mostly traced) ellipse: its sign is inside.
    return np.sign(conic) == np.sign(f)


def _components_by_size(mask: np.ndarray) -> list[np.ndarray]:
    """Connected components of ``mask``, largest first (ties: top-left first)."""
    labelled, count = ndi.label(mask)
    sizes = np.bincount(labelled.ravel())[1:]
    order = sorted(range(count), key=lambda i: (-sizes[i], i))
    return [labelled == i + 1 for i in order]


# ----------------------------------------------------------------- cases
def _histology() -> SampleCase:
    """Immunohistochemistry (DAB + hematoxylin) of colon tissue."""
    from skimage import data, filters
    from skimage.color import rgb2hed, rgb2lab
    from skimage.morphology import disk, opening

    image = _downscale(data.immunohistochemistry())
    hed = rgb2hed(image)
    # Colour deconvolution separates the brown DAB stain (gland epithelium)
    # from the blue hematoxylin stain (nuclei).
    dab = ndi.gaussian_filter(hed[..., 2], 2.0)
    epithelium = dab > filters.threshold_otsu(dab)
    epithelium = _fill_small_holes(remove_small_objects(opening(epithelium, disk(2)), 150), 60)
    lightness = ndi.gaussian_filter(rgb2lab(image)[..., 0], 2.0)
    lumen = opening((lightness > 89) & ~epithelium, disk(2))
    lumen = remove_small_objects(lumen, 60)
    stroma = ~epithelium & ~lumen
    hematoxylin = ndi.gaussian_filter(hed[..., 0], 0.8)
    nuclei = (hematoxylin > filters.threshold_otsu(hematoxylin[stroma])) & stroma
    nuclei = remove_small_objects(opening(nuclei, disk(1)), 10)

    labels = np.full(image.shape[:2], 1, np.int32)
    labels[lumen] = 0
    labels[epithelium] = 2
    labels[nuclei] = 3
    labels = _clean_labels(labels, 8)

    # Target: the round gland (the large gland that starts lowest in the
    # image) is moved to the right, into the stroma; nuclei under it vanish.
    glands = [m for m in _components_by_size(labels == 2) if m.sum() > 1000]
    round_gland = max(glands, key=lambda m: np.nonzero(m)[0].min())
    target = _clean_labels(_move(labels, round_gland, (0, 35)), 8)
    return SampleCase(
        name="histology",
        title="Histology (IHC)",
        image=image,
        labels=labels,
        target=target,
        description=(
            "Immunohistochemistry of colon tissue (scikit-image 'immunohistochemistry'). "
            "Classes from colour deconvolution: 0 lumen/background, 1 stroma, "
            "2 DAB-stained gland epithelium, 3 hematoxylin-stained nuclei. "
            "Target: the round gland moved to the right."
        ),
        class_names={0: "lumen", 1: "stroma", 2: "epithelium", 3: "nuclei"},
    )


def _coins() -> SampleCase:
    """Greek coins on a dark background (grayscale)."""
    from skimage import data, filters, segmentation

    image = _downscale(data.coins())
    # Watershed on the gradient from sure-background / sure-coin markers, the
    # classic scikit-image recipe for this image.
    smooth = ndi.gaussian_filter(image.astype(np.float32), 1.0)
    elevation = filters.sobel(smooth)
    markers = np.zeros(image.shape, np.int32)
    markers[smooth < 30] = 1
    markers[smooth > 150] = 2
    coins = segmentation.watershed(elevation, markers) == 2
    coins = ndi.binary_fill_holes(coins)
    coins = remove_small_objects(ndi.binary_opening(coins, iterations=2), 40)
    labels = coins.astype(np.int32)

    # Target: the second coin of the top row erased, the third moved into its
    # place, and the largest coin enlarged. The coins lie in 4 even rows.
    objects = _components_by_size(labels == 1)
    centres = [np.argwhere(m).mean(axis=0) for m in objects]
    row_height = labels.shape[0] / 4
    reading_order = sorted(range(len(objects)),
                           key=lambda i: (int(centres[i][0] // row_height), centres[i][1]))
    erased, moved = reading_order[1], reading_order[2]
    shift = tuple(int(v) for v in np.round(centres[erased] - centres[moved]))
    target = _erase(labels, objects[erased])
    target = _move(target, objects[moved], shift)
    target = _enlarge(target, objects[0], 1, 1.2)
    return SampleCase(
        name="coins",
        title="Coins",
        image=image,
        labels=labels,
        target=target,
        description=(
            "Greek coins (scikit-image 'coins'), grayscale. Classes: 0 background, "
            "1 coin (watershed segmentation). Target: a coin erased, its neighbour "
            "moved into its place, the largest coin enlarged."
        ),
        class_names={0: "background", 1: "coin"},
    )


def _coffee() -> SampleCase:
    """A cup of coffee on a saucer on a wooden table (natural scene, RGB)."""
    from skimage import data
    from skimage.color import rgb2lab
    from skimage.morphology import closing, disk

    image = _downscale(data.coffee())
    smooth = ndi.gaussian_filter(image.astype(np.float32), (1.5, 1.5, 0))
    lab = rgb2lab(smooth / 255)
    # The glaze is the only strongly red surface (red far above green); the
    # porcelain is bright and grey. Crema and wood have the same colour, so
    # the coffee is told apart by place: the largest wood-coloured region
    # enclosed by the cup.
    redness = smooth[..., 0] / (smooth[..., 1] + 8)
    glaze = _components_by_size(ndi.binary_opening(redness > 2.4, iterations=1))[0]
    glaze = _fill_small_holes(glaze, 150)
    white = (lab[..., 0] > 72) & (np.hypot(lab[..., 1], lab[..., 2]) < 22) & ~glaze
    labels = np.zeros(image.shape[:2], np.int32)
    labels[glaze] = 1
    labels[white] = 2
    other, count = ndi.label(labels == 0)
    border = set(np.concatenate([other[0], other[-1], other[:, 0], other[:, -1]]).tolist())
    enclosed = [i for i in range(1, count + 1) if i not in border]
    if enclosed:
        sizes = np.bincount(other.ravel())
        coffee = max(enclosed, key=lambda i: sizes[i])
        labels[np.isin(other, enclosed)] = 1  # spoon and reflections: part of the dish
        labels[other == coffee] = 3
    # The spoon and the gaps around it and the handle belong to the dish too.
    dish = ndi.binary_fill_holes(closing(labels > 0, disk(6)))
    labels[dish & (labels == 0)] = 1
    labels = _clean_labels(_majority_smooth(labels, 1.5), 40)
    labels = _coffee_saucer_and_shadow(labels, lab[..., 0])

    # Target: the cup and saucer slide to the right, with their shadow.
    dish = _components_by_size(ndi.binary_fill_holes(labels > 0))[0]
    target = _move(labels, dish, (0, 40))
    return SampleCase(
        name="coffee",
        title="Coffee",
        image=image,
        labels=labels,
        target=target,
        description=(
            "Espresso cup on a saucer (scikit-image 'coffee'), RGB. Classes: 0 wooden "
            "table, 1 red glaze, 2 white porcelain, 3 coffee, 4 the saucer's shadow. "
            "Target: cup and saucer moved to the right, with their shadow."
        ),
        class_names={0: "table", 1: "glaze", 2: "porcelain", 3: "coffee", 4: "shadow"},
    )


def _coffee_saucer_and_shadow(labels: np.ndarray, lightness: np.ndarray) -> np.ndarray:
    """The saucer as the ellipse it is, and its cast shadow as a class of its own.

    The colour rule misses the saucer's pale rim highlight (and takes dark
    shadow under its front edge for glaze). Unlabelled, rim and shadow are
    table, stay where they were when the cup moves, and trace the old saucer
    on the table: what is not in the labels is texture of its class. So the
    saucer is the ellipse through its outline away from the cup, and dark
    table touching it (lightness below 25 within 30 px) is its shadow."""
    dish = _components_by_size(ndi.binary_fill_holes(labels > 0))[0]
    outline = dish & ndi.binary_dilation(~dish)
    away_from_cup = ~ndi.binary_dilation(labels == 2, iterations=6)
    ys, xs = np.nonzero(outline & away_from_cup)
    saucer = _ellipse_mask(ys.astype(float), xs.astype(float), labels.shape) if len(ys) > 20 else None
    if saucer is None or not (0.5 < saucer.sum() / dish.sum() < 1.5):
        return labels  # no sensible ellipse: keep the colour rule's labels
    out = labels.copy()
    out[ndi.binary_dilation(saucer, iterations=2) & (labels == 0)] = 1
    centre_row = np.nonzero(saucer)[0].mean()
    rows = np.indices(labels.shape)[0]
    below_rim = ~ndi.binary_dilation(saucer, iterations=3) & (rows > centre_row)
    out[(labels == 1) & below_rim] = 0
    near = ndi.distance_transform_edt(out == 0) <= 30
    dark = (lightness < 25) & (out == 0) & near
    parts, _ = ndi.label(dark)
    touching = np.unique(parts[dark & ndi.binary_dilation(out > 0, iterations=2)])
    shadow = ndi.binary_opening(np.isin(parts, touching[touching > 0]), iterations=1)
    out[shadow] = 4
    return _clean_labels(out, 40)


_BUILDERS: dict[str, Callable[[], SampleCase]] = {
    "histology": _histology,
    "coins": _coins,
    "coffee": _coffee,
}

SAMPLE_NAMES: tuple[str, ...] = tuple(_BUILDERS)


def load_sample(name: str) -> SampleCase:
    """Build the sample case ``name`` (one of :data:`SAMPLE_NAMES`)."""
    try:
        builder = _BUILDERS[name]
    except KeyError:
        raise SemiaInputError(
            f"Unknown sample '{name}'. Choose one of: {', '.join(SAMPLE_NAMES)}."
        ) from None
    return builder()
