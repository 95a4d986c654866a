"""Quality figures for Semantic Image Analogy outputs (benchmark only).

numpy / scikit-image / scikit-learn only: importable without torch, so the
figures are independent of the networks being measured.

Figures (see ``benchmarks/README.md`` for how to read them):

* layout agreement: a random forest on multi-scale filter features, trained on
  the source image and its labels, segments an output; mIoU of that
  segmentation against the target label map, over the whole image and over the
  pixels whose label changed between source and target;
* appearance: RMS distance of output patches to their nearest source patch of
  the same class (0 = every output patch exists somewhere in the source);
* reconstruction PSNR: output for the source's own layout vs the source;
* sharpness: variance of the Laplacian (and mean gradient magnitude) of an
  output divided by that of the source.

Images are accepted as (H, W) gray, (H, W, 3) RGB or (H, W, 4) RGBA (alpha
dropped), integer dtypes scaled by their dtype range, floats taken as [0, 1].
Label maps are (H, W) integer class indices.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from skimage import color, filters, transform
from skimage.feature import multiscale_basic_features
from skimage.metrics import peak_signal_noise_ratio
from skimage.util import img_as_float32
from sklearn.ensemble import RandomForestClassifier
from sklearn.neighbors import NearestNeighbors

# --------------------------------------------------------------------- images


def to_float_rgb(image) -> np.ndarray:
    """Any gray / RGB / RGBA image -> (H, W, 3) float32 in [0, 1]."""
    array = np.asarray(image)
    if array.ndim == 2:
        array = array[..., None]
    if array.ndim != 3:
        raise ValueError(f"expected an (H, W) or (H, W, C) image, got shape {array.shape}")
    if array.shape[-1] == 4:
        array = array[..., :3]
    if array.shape[-1] == 1:
        array = np.repeat(array, 3, axis=-1)
    if array.shape[-1] != 3:
        raise ValueError(f"expected 1, 3 or 4 channels, got {array.shape[-1]}")
    if np.issubdtype(array.dtype, np.floating):
        return np.clip(array, 0.0, 1.0).astype(np.float32)
    return img_as_float32(array)


def resize_image(image, shape: tuple[int, int]) -> np.ndarray:
    """Resize to (h, w) with anti-aliasing; returns (h, w, 3) float32 in [0, 1]."""
    rgb = to_float_rgb(image)
    if rgb.shape[:2] == tuple(shape):
        return rgb
    resized = transform.resize(rgb, tuple(shape) + (3,), order=1, anti_aliasing=True,
                               preserve_range=True)
    return np.clip(resized, 0.0, 1.0).astype(np.float32)


def resize_labels(index, shape: tuple[int, int]) -> np.ndarray:
    """Resize a class-index map by nearest neighbour (no in-between classes)."""
    index = np.asarray(index)
    if index.shape[:2] == tuple(shape):
        return index.astype(np.int64)
    resized = transform.resize(index, tuple(shape), order=0, anti_aliasing=False,
                               preserve_range=True)
    return np.rint(resized).astype(np.int64)


def to_gray(image) -> np.ndarray:
    return color.rgb2gray(to_float_rgb(image)).astype(np.float32)


# --------------------------------------------------------------- label scores


def changed_mask(source_index, target_index) -> np.ndarray:
    """Pixels whose class differs between the source and the target layout."""
    source_index = np.asarray(source_index)
    target_index = np.asarray(target_index)
    if source_index.shape != target_index.shape:
        raise ValueError(f"label maps differ in shape: {source_index.shape} vs {target_index.shape}")
    return source_index != target_index


def iou_per_class(predicted, truth, classes, mask=None) -> dict[int, float]:
    """IoU of every class in ``classes`` among the pixels in ``mask`` (all if None).

    IoU_c = |pred == c and truth == c| / |pred == c or truth == c|, both counted
    inside the mask only; NaN when class c occurs in neither map there.
    """
    predicted = np.asarray(predicted)
    truth = np.asarray(truth)
    if predicted.shape != truth.shape:
        raise ValueError(f"prediction {predicted.shape} and truth {truth.shape} differ in shape")
    if mask is not None:
        predicted = predicted[mask]
        truth = truth[mask]
    scores = {}
    for c in classes:
        in_pred = predicted == c
        in_truth = truth == c
        union = np.count_nonzero(in_pred | in_truth)
        scores[int(c)] = float(np.count_nonzero(in_pred & in_truth) / union) if union else float("nan")
    return scores


def mean_iou(predicted, truth, mask=None, classes=None) -> float:
    """Mean IoU over ``classes`` (default: the classes present in ``truth`` inside
    ``mask``). Pixels outside the mask are ignored entirely. NaN if the mask is empty.

    Predicting a class that is absent from the truth still costs: those pixels
    are missing from the intersection of their true class.
    """
    truth = np.asarray(truth)
    if classes is None:
        classes = np.unique(truth if mask is None else truth[mask])
    if len(classes) == 0:
        return float("nan")
    scores = [v for v in iou_per_class(predicted, truth, classes, mask).values() if not np.isnan(v)]
    return float(np.mean(scores)) if scores else float("nan")


def pixel_accuracy(predicted, truth, mask=None) -> float:
    predicted = np.asarray(predicted)
    truth = np.asarray(truth)
    if mask is not None:
        predicted, truth = predicted[mask], truth[mask]
    return float(np.mean(predicted == truth)) if truth.size else float("nan")


def stratified_sample(index, total: int, rng: np.random.Generator) -> np.ndarray:
    """Flat pixel indices, up to ceil(total / K) per class (all of a smaller class)."""
    flat = np.asarray(index).ravel()
    classes = np.unique(flat)
    per_class = int(np.ceil(total / len(classes)))
    chosen = []
    for c in classes:
        where = np.flatnonzero(flat == c)
        if len(where) > per_class:
            where = rng.choice(where, per_class, replace=False)
        chosen.append(where)
    return np.sort(np.concatenate(chosen))


def pixel_features(image, sigma_max: float = 16.0) -> np.ndarray:
    """(H, W, F) float32 multi-scale intensity / edge / texture features of an RGB image."""
    rgb = to_float_rgb(image)
    features = multiscale_basic_features(
        rgb, intensity=True, edges=True, texture=True, sigma_min=1.0, sigma_max=sigma_max,
        channel_axis=-1, workers=1,
    )
    return features.astype(np.float32)


@dataclass
class LayoutClassifier:
    """Per-pixel classifier trained on the source only; segments outputs.

    It knows nothing of the networks under test: if it reads an output's
    regions as the target layout, the output shows each class's appearance in
    the target's places.
    """

    n_estimators: int = 50
    samples: int = 20000
    random_state: int = 0
    sigma_max: float = 16.0
    forest: RandomForestClassifier | None = field(default=None, repr=False)

    def fit(self, image, index) -> LayoutClassifier:
        return self.fit_features(pixel_features(image, self.sigma_max), index)

    def fit_features(self, features: np.ndarray, index) -> LayoutClassifier:
        """``fit`` on the source's ``pixel_features`` computed once (several seeds, one image)."""
        index = np.asarray(index)
        if features.shape[:2] != index.shape:
            raise ValueError(f"image {features.shape[:2]} and labels {index.shape} differ in shape")
        rng = np.random.default_rng(self.random_state)
        sample = stratified_sample(index, self.samples, rng)
        self.forest = RandomForestClassifier(
            n_estimators=self.n_estimators, random_state=self.random_state, n_jobs=1
        )
        self.forest.fit(features.reshape(-1, features.shape[-1])[sample], index.ravel()[sample])
        return self

    def predict(self, image) -> np.ndarray:
        return self.predict_features(pixel_features(image, self.sigma_max))

    def predict_features(self, features: np.ndarray) -> np.ndarray:
        if self.forest is None:
            raise RuntimeError("LayoutClassifier.fit() first")
        flat = features.reshape(-1, features.shape[-1])
        return self.forest.predict(flat).reshape(features.shape[:2]).astype(np.int64)


def layout_scores(predicted, source_index, target_index) -> dict:
    """Agreement of a segmented output with the target layout.

    * ``miou``: mean IoU over the classes present in the target, whole image;
    * ``miou_changed``: restricted to pixels whose label differs between source
      and target; mean over the classes the *target* has on those pixels (the
      classes the output had to paint there); NaN when nothing changed;
    * ``accuracy`` / ``accuracy_changed``: fraction of pixels read as the target class.
    """
    changed = changed_mask(source_index, target_index)
    return {
        "miou": mean_iou(predicted, target_index),
        "miou_changed": mean_iou(predicted, target_index, mask=changed),
        "accuracy": pixel_accuracy(predicted, target_index),
        "accuracy_changed": pixel_accuracy(predicted, target_index, mask=changed),
        "changed_fraction": float(changed.mean()),
    }


# ----------------------------------------------------------------- appearance


def _patches(rgb: np.ndarray, size: int) -> np.ndarray:
    """(H-s+1, W-s+1, s*s*3) float32 view-copy of all size x size patches."""
    windows = sliding_window_view(rgb, (size, size), axis=(0, 1))  # (h, w, 3, s, s)
    return windows.reshape(windows.shape[0], windows.shape[1], -1)


class PatchAppearance:
    """Nearest-source-patch distance, per class.

    Source patches of class k are those whose centre pixel has class k in the
    source layout; an output patch centred on a pixel of class k in the target
    layout is compared (exact nearest neighbour, Euclidean) with those only.
    Distances are RMS per value, ``||p - q|| / sqrt(s * s * 3)``, in [0, 1]
    intensity units.
    """

    def __init__(self, source_image, source_index, patch_size: int = 7):
        if patch_size % 2 != 1:
            raise ValueError("patch_size must be odd")
        self.patch_size = patch_size
        self.radius = patch_size // 2
        rgb = to_float_rgb(source_image)
        index = np.asarray(source_index)
        if rgb.shape[:2] != index.shape:
            raise ValueError(f"image {rgb.shape[:2]} and labels {index.shape} differ in shape")
        self.shape = index.shape
        patches = _patches(rgb, patch_size)
        centres = self._centres(index)
        self.dim = patches.shape[-1]
        self.neighbours: dict[int, NearestNeighbors] = {}
        for c in np.unique(centres):
            self.neighbours[int(c)] = NearestNeighbors(n_neighbors=1, algorithm="brute").fit(
                patches[centres == c]
            )

    def _centres(self, index: np.ndarray) -> np.ndarray:
        r = self.radius
        return index[r:index.shape[0] - r, r:index.shape[1] - r]

    def distance(self, image, layout_index, queries: int = 2000, min_per_class: int = 50,
                 seed: int = 0, mask=None) -> dict:
        """Mean nearest-patch distance of ``image`` read in ``layout_index``.

        Up to ``queries`` output patches are drawn, split across classes in
        proportion to their pixel counts (at least ``min_per_class`` each, or
        all of a small class); the overall figure averages the per-class means
        weighted by each class's pixel count in ``layout_index``. With ``mask``
        ((H, W) bool), only patches centred on pixels in the mask count (e.g.
        the pixels whose label changed). Returns
        ``{"mean": float, "per_class": {class: float}}``; NaN mean if no patch counts.
        """
        rgb = to_float_rgb(image)
        index = np.asarray(layout_index)
        if rgb.shape[:2] != index.shape:
            raise ValueError(f"image {rgb.shape[:2]} and labels {index.shape} differ in shape")
        patches = _patches(rgb, self.patch_size)
        centres = self._centres(index)
        valid = np.ones(centres.shape, bool) if mask is None else self._centres(np.asarray(mask, bool))
        rng = np.random.default_rng(seed)
        classes, counts = np.unique(centres[valid], return_counts=True)
        total = counts.sum()
        per_class, weights = {}, {}
        for c, count in zip(classes, counts):
            c = int(c)
            if c not in self.neighbours:  # class never centred in the source: nothing to compare
                continue
            n = min(int(count), max(min_per_class, int(round(queries * count / total))))
            where = np.flatnonzero((centres == c).ravel() & valid.ravel())
            picked = rng.choice(where, n, replace=False) if len(where) > n else where
            query = patches.reshape(-1, self.dim)[picked]
            dist, _ = self.neighbours[c].kneighbors(query)
            per_class[c] = float(np.mean(dist[:, 0]) / np.sqrt(self.dim))
            weights[c] = int(count)
        if not per_class:
            return {"mean": float("nan"), "per_class": {}}
        w = np.array([weights[c] for c in per_class], dtype=float)
        mean = float(np.dot(w, list(per_class.values())) / w.sum())
        return {"mean": mean, "per_class": per_class}


# ----------------------------------------------------- reconstruction, sharpness


def reconstruction_psnr(output, source) -> float:
    """PSNR (dB) of an output against the source, both as [0, 1] RGB; inf if identical."""
    out = to_float_rgb(output)
    ref = to_float_rgb(source)
    if out.shape != ref.shape:
        raise ValueError(f"output {out.shape} and source {ref.shape} differ in shape")
    if np.array_equal(out, ref):
        return float("inf")
    return float(peak_signal_noise_ratio(ref, out, data_range=1.0))


def laplacian_variance(image) -> float:
    """Variance of the Laplacian of the gray image: high for crisp detail, low when blurred."""
    return float(np.var(filters.laplace(to_gray(image), ksize=3)))


def mean_gradient(image) -> float:
    """Mean Sobel gradient magnitude of the gray image."""
    return float(np.mean(filters.sobel(to_gray(image))))


def sharpness_ratio(output, reference, measure: str = "laplacian") -> float:
    """measure(output) / measure(reference); < 1 means the output is blurrier."""
    fn = {"laplacian": laplacian_variance, "gradient": mean_gradient}[measure]
    ref = fn(reference)
    return float(fn(output) / ref) if ref > 0 else float("nan")


def layout_sharpness_ratio(output, source, source_index, target_index, measure: str = "laplacian") -> float:
    """Sharpness of ``output`` relative to what the source has *in the target's layout*.

    The plain ratio drops when a target replaces detailed classes by smooth ones
    (erased towers become sky) even if every pixel is as crisp as the source.
    Here the reference is the source's per-class mean of the measure (squared
    Laplacian, or Sobel magnitude), averaged with the target's class areas; the
    output's mean over the whole image is divided by it. Equals the plain ratio
    (up to the Laplacian's mean) when the target is the source's layout.
    """
    source_index = np.asarray(source_index)
    target_index = np.asarray(target_index)
    gray_source, gray_output = to_gray(source), to_gray(output)
    if measure == "laplacian":
        def field(gray):
            lap = filters.laplace(gray, ksize=3)
            return (lap - lap.mean()) ** 2
    else:
        field = filters.sobel
    source_field = field(gray_source)
    classes, counts = np.unique(target_index, return_counts=True)
    reference = 0.0
    for c, count in zip(classes, counts):
        in_source = source_index == c
        if in_source.any():
            reference += count * float(source_field[in_source].mean())
    reference /= counts.sum()
    return float(field(gray_output).mean() / reference) if reference > 0 else float("nan")


# ------------------------------------------------------------------ references


def blurred(image, sigma: float = 2.0) -> np.ndarray:
    """Gaussian-blurred copy of an image as [0, 1] RGB (a 'too smooth' reference)."""
    return filters.gaussian(to_float_rgb(image), sigma=sigma, channel_axis=-1).astype(np.float32)


def uniform_noise(shape: tuple[int, int], seed: int = 0) -> np.ndarray:
    """Uniform RGB noise in [0, 1] (a 'no appearance at all' reference)."""
    return np.random.default_rng(seed).uniform(size=tuple(shape) + (3,)).astype(np.float32)
