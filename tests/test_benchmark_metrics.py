"""Unit tests of the benchmark's quality figures (benchmarks/metrics.py), on tiny arrays."""

import importlib.util
import math
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("sklearn")

_METRICS_PATH = Path(__file__).resolve().parents[1] / "benchmarks" / "metrics.py"
_spec = importlib.util.spec_from_file_location("semia_benchmark_metrics", _METRICS_PATH)
metrics = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = metrics  # dataclasses look their module up there
_spec.loader.exec_module(metrics)


def _two_texture_image(index: np.ndarray, seed: int = 0) -> np.ndarray:
    """Class 0: smooth dark red; class 1: bright green-blue stripes. uint8 RGB."""
    rng = np.random.default_rng(seed)
    h, w = index.shape
    image = np.zeros((h, w, 3), dtype=np.float64)
    image[..., 0] = 0.4
    stripes = (np.arange(w)[None, :] // 2 % 2).astype(float)
    bright = np.stack([0.1 + 0 * stripes, 0.3 + 0.6 * stripes, 0.9 - 0.6 * stripes], axis=-1)
    image[index == 1] = np.broadcast_to(bright, (h, w, 3))[index == 1]
    image += rng.normal(0, 0.02, image.shape)
    return (np.clip(image, 0, 1) * 255).astype(np.uint8)


# ------------------------------------------------------------------- mIoU


def test_mean_iou_exact_on_hand_made_maps():
    truth = np.array([[0, 0, 1, 1],
                      [0, 0, 1, 1]])
    pred = np.array([[0, 1, 1, 1],
                     [0, 0, 1, 1]])
    # class 0: inter 3, union 4 -> 0.75; class 1: inter 4, union 5 -> 0.8
    scores = metrics.iou_per_class(pred, truth, [0, 1])
    assert scores == {0: pytest.approx(0.75), 1: pytest.approx(0.8)}
    assert metrics.mean_iou(pred, truth) == pytest.approx((0.75 + 0.8) / 2)
    assert metrics.mean_iou(truth, truth) == 1.0
    assert metrics.pixel_accuracy(pred, truth) == pytest.approx(7 / 8)


def test_mean_iou_counts_only_truth_classes_but_penalises_extra_predictions():
    truth = np.zeros((2, 2), dtype=int)
    pred = np.array([[0, 0], [0, 2]])
    # class 2 is absent from the truth, so it is not averaged, but the pixel
    # predicted as 2 still lowers class 0's IoU to 3/4.
    assert metrics.mean_iou(pred, truth) == pytest.approx(0.75)


def test_mean_iou_inside_mask_ignores_other_pixels():
    truth = np.array([[0, 1, 2]])
    pred = np.array([[0, 1, 0]])
    mask = np.array([[True, True, False]])
    assert metrics.mean_iou(pred, truth, mask=mask) == 1.0
    assert metrics.mean_iou(pred, truth) == pytest.approx((0.5 + 1.0 + 0.0) / 3)
    assert math.isnan(metrics.mean_iou(pred, truth, mask=np.zeros_like(mask)))


def test_changed_mask_and_layout_scores():
    source = np.array([[0, 0, 1, 1]])
    target = np.array([[0, 1, 1, 0]])
    np.testing.assert_array_equal(metrics.changed_mask(source, target), [[False, True, False, True]])
    # An output that kept the source layout: right where nothing changed, wrong elsewhere.
    scores = metrics.layout_scores(source, source, target)
    assert scores["changed_fraction"] == 0.5
    assert scores["miou_changed"] == 0.0
    assert scores["accuracy_changed"] == 0.0
    assert scores["accuracy"] == 0.5
    perfect = metrics.layout_scores(target, source, target)
    assert perfect["miou"] == perfect["miou_changed"] == 1.0
    with pytest.raises(ValueError, match="shape"):
        metrics.changed_mask(source, target[:, :3])


def test_stratified_sample_balances_classes():
    index = np.zeros((20, 20), dtype=int)
    index[:2, :5] = 1  # 10 pixels of class 1, 390 of class 0
    picked = metrics.stratified_sample(index, 40, np.random.default_rng(0))
    labels = index.ravel()[picked]
    assert np.count_nonzero(labels == 1) == 10  # all of the small class
    assert np.count_nonzero(labels == 0) == 20  # ceil(40 / 2)
    assert len(np.unique(picked)) == len(picked)


def test_layout_classifier_reads_a_relayout_of_the_source():
    source_index = np.zeros((48, 48), dtype=int)
    source_index[:, 24:] = 1
    target_index = source_index.T.copy()  # vertical split -> horizontal split
    source = _two_texture_image(source_index)
    relaid = _two_texture_image(target_index, seed=1)
    classifier = metrics.LayoutClassifier(n_estimators=10, samples=2000, sigma_max=4).fit(
        source, source_index
    )
    good = metrics.layout_scores(classifier.predict(relaid), source_index, target_index)
    unchanged = metrics.layout_scores(classifier.predict(source), source_index, target_index)
    assert good["miou"] > 0.9
    assert good["miou_changed"] > 0.9
    assert unchanged["miou_changed"] < 0.1


# ------------------------------------------------------------- appearance


def test_patch_distance_zero_for_source_and_larger_for_noise_and_blur():
    index = np.zeros((32, 32), dtype=int)
    index[:, 16:] = 1
    source = _two_texture_image(index)
    appearance = metrics.PatchAppearance(source, index, patch_size=5)
    same = appearance.distance(source, index, queries=200)
    assert same["mean"] == pytest.approx(0.0, abs=1e-6)
    assert set(same["per_class"]) == {0, 1}
    noise = appearance.distance(metrics.uniform_noise(index.shape), index, queries=200)["mean"]
    blur = appearance.distance(metrics.blurred(source, 2.0), index, queries=200)["mean"]
    assert noise > 0.2
    assert 0.01 < blur < noise
    # The source painted in the swapped layout: every patch is from the other class.
    swapped = appearance.distance(source, 1 - index, queries=200)["mean"]
    assert swapped > 0.1


def test_patch_distance_inside_mask_uses_only_masked_centres():
    index = np.zeros((24, 24), dtype=int)
    index[:, 12:] = 1
    source = _two_texture_image(index)
    appearance = metrics.PatchAppearance(source, index, patch_size=3)
    # Output: the source with noise pasted into the bottom rows only.
    output = metrics.to_float_rgb(source).copy()
    output[16:] = metrics.uniform_noise((8, 24), seed=3)
    untouched = np.zeros(index.shape, bool)
    untouched[:14] = True  # patches centred here do not reach the noise
    noisy = np.zeros(index.shape, bool)
    noisy[18:] = True
    assert appearance.distance(output, index, queries=1000, mask=untouched)["mean"] < 1e-6
    assert appearance.distance(output, index, queries=1000, mask=noisy)["mean"] > 0.2
    assert math.isnan(appearance.distance(output, index, mask=np.zeros(index.shape, bool))["mean"])


def test_patch_distance_weights_classes_by_pixel_count():
    index = np.zeros((20, 40), dtype=int)
    index[:, 30:] = 1
    source = _two_texture_image(index)
    appearance = metrics.PatchAppearance(source, index, patch_size=3)
    result = appearance.distance(metrics.uniform_noise(index.shape), index, queries=10_000)
    centres = index[1:-1, 1:-1]
    w = np.bincount(centres.ravel())
    expected = (w[0] * result["per_class"][0] + w[1] * result["per_class"][1]) / w.sum()
    assert result["mean"] == pytest.approx(expected)


# -------------------------------------------------------- PSNR, sharpness


def test_psnr_identical_is_inf_and_drops_with_noise():
    source = _two_texture_image(np.zeros((16, 16), dtype=int))
    assert metrics.reconstruction_psnr(source, source) == float("inf")
    noise = np.random.default_rng(0).normal(0, 0.05, source.shape)
    noisy = np.clip(metrics.to_float_rgb(source) + noise, 0, 1)
    psnr = metrics.reconstruction_psnr(noisy, source)
    assert 20 < psnr < 30  # sigma 0.05 -> about 26 dB
    with pytest.raises(ValueError, match="shape"):
        metrics.reconstruction_psnr(source[:8], source)


def test_sharpness_ratio_of_blurred_below_one():
    index = np.zeros((32, 32), dtype=int)
    index[:, 16:] = 1
    source = _two_texture_image(index)
    for measure in ("laplacian", "gradient"):
        assert metrics.sharpness_ratio(source, source, measure) == pytest.approx(1.0)
        assert metrics.sharpness_ratio(metrics.blurred(source, 1.5), source, measure) < 0.5


def test_layout_sharpness_ratio_weights_the_source_by_the_target_classes():
    rng = np.random.default_rng(0)
    index = np.zeros((64, 64), dtype=int)
    index[24:40, 24:40] = 1
    # Class 0: mild noise; class 1: strong stripes, far more detail per pixel.
    noise = lambda: 0.5 + 0.05 * rng.standard_normal((64, 64))
    stripes = (np.arange(64)[None, :] // 2 % 2) * np.ones((64, 1))
    source = np.where(index == 1, stripes, noise())
    for measure in ("laplacian", "gradient"):
        same = metrics.layout_sharpness_ratio(source, source, index, index, measure)
        assert same == pytest.approx(metrics.sharpness_ratio(source, source, measure), rel=0.01)
    # The stripes painted over with class 0 texture: as crisp as the source's class 0,
    # though far below the source's overall detail.
    smooth_target = np.zeros_like(index)
    output = noise()
    assert metrics.sharpness_ratio(output, source) < 0.5
    assert metrics.layout_sharpness_ratio(output, source, index, smooth_target) == pytest.approx(1.0, rel=0.2)


def test_to_float_rgb_accepts_gray_rgba_and_uint16():
    gray = np.full((4, 5), 65535, dtype=np.uint16)
    assert metrics.to_float_rgb(gray).shape == (4, 5, 3)
    assert metrics.to_float_rgb(gray).max() == pytest.approx(1.0)
    rgba = np.zeros((4, 5, 4), dtype=np.uint8)
    rgba[..., 3] = 255
    assert metrics.to_float_rgb(rgba).max() == 0.0
    assert metrics.resize_labels(np.array([[0, 1], [2, 3]]), (4, 4)).tolist()[0] == [0, 0, 1, 1]


# ------------------------------------------------------- layout breakdown


def _benchmark_script(name: str):
    path = Path(__file__).resolve().parents[1] / "benchmarks" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"semia_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_layout_breakdown_sets_tiny_classes_apart_and_splits_misreads_by_edge_distance():
    breakdown = _benchmark_script("layout_breakdown")
    source = np.zeros((20, 20), np.int64)
    target = source.copy()
    target[:, 10:] = 1  # 200 changed pixels of class 1
    target[0, 0] = 2  # one changed pixel of class 2
    distance = breakdown.distance_to_class_edges(target)
    assert distance[5, 9] == 0 and distance[5, 10] == 0  # both sides of the edge
    assert distance[5, 15] == 5
    assert np.all(np.isinf(breakdown.distance_to_class_edges(source)))  # no edge: all far
    one_class = breakdown.breakdown(source, source, source + 1, min_pixels=50)  # all changed, no edge
    assert one_class["bands"][">3 px"] == {"pixels": 400, "misread": 1.0}

    predicted = target.copy()
    predicted[0, 0] = 0  # the one-pixel class missed
    predicted[:, 10] = 0  # the column along the edge misread
    figures = breakdown.breakdown(predicted, source, target, min_pixels=50)
    assert figures["small_classes"] == {2: 1}
    assert math.isclose(figures["miou_changed"], (180 / 200 + 0.0) / 2)
    assert math.isclose(figures["miou_changed_large"], 180 / 200)
    assert math.isclose(figures["accuracy_changed"], 1 - 21 / 201)
    bands = figures["bands"]
    # Changed pixels by Euclidean distance to the edge pixels: columns 10 and 11 and the
    # corner pixel (41), columns 12 and 13 (40), columns 14-19 (120).
    sizes = {name: band["pixels"] for name, band in bands.items()}
    assert sizes == {"<=1 px": 41, "2-3 px": 40, ">3 px": 120}
    assert math.isclose(bands["<=1 px"]["misread"], 21 / 41)
    assert bands["2-3 px"]["misread"] == 0 and bands[">3 px"]["misread"] == 0


def test_known_answers_move_image_and_labels_alike_and_the_working_size_blurs():
    known_answer = _benchmark_script("known_answer")
    labels = np.zeros((24, 32), np.int64)
    labels[4:14, 3:11] = 1
    image = _two_texture_image(labels)
    answers = known_answer.known_answers(image, labels)
    assert set(answers) == {"flip", f"roll{known_answer.ROLL}"}
    for truth, target in answers.values():
        assert truth.shape == image.shape and target.shape == labels.shape
        # Every pixel keeps its class's look: the labels moved with the image.
        assert truth[target == 1][:, 2].mean() > 100 > truth[target == 0][:, 2].mean()
        assert not np.array_equal(target, labels)
    flipped, _ = answers["flip"]
    assert np.array_equal(flipped[:, ::-1], image)
    noise = (np.random.default_rng(0).random((24, 32, 3)) * 255).astype(np.uint8)
    back = known_answer.through_size(noise, (12, 16))
    assert back.shape == noise.shape and back.dtype == np.uint8

    def roughness(values):
        return np.abs(np.diff(values.astype(float), axis=1)).mean()

    assert roughness(back) < 0.7 * roughness(noise)


def test_fit_and_predict_on_features_computed_once_match_fit_and_predict():
    index = np.zeros((32, 32), dtype=int)
    index[:, 16:] = 1
    image = _two_texture_image(index)
    other = _two_texture_image(index.T.copy(), seed=2)
    direct = metrics.LayoutClassifier(n_estimators=5, samples=500, sigma_max=2, random_state=3)
    cached = metrics.LayoutClassifier(n_estimators=5, samples=500, sigma_max=2, random_state=3)
    direct.fit(image, index)
    cached.fit_features(metrics.pixel_features(image, 2), index)
    assert np.array_equal(direct.predict(other), cached.predict_features(metrics.pixel_features(other, 2)))
    with pytest.raises(ValueError, match="differ in shape"):
        cached.fit_features(metrics.pixel_features(image, 2), index[:16])


def test_layout_seeds_pairs_the_methods_seed_by_seed():
    layout_seeds = _benchmark_script("layout_seeds")
    per_seed = {
        "bicubic": {"miou_changed": [0.50, 0.60, 0.70], "accuracy_changed": [0.9, 0.9, 0.9]},
        "refined": {"miou_changed": [0.52, 0.58, 0.75], "accuracy_changed": [0.8, 0.8, 0.8]},
    }
    figures = layout_seeds.seed_figures(per_seed)
    miou = figures["miou_changed"]
    assert math.isclose(miou["bicubic_mean"], 0.6)
    assert math.isclose(miou["refined_mean"], (0.52 + 0.58 + 0.75) / 3)
    assert math.isclose(miou["difference_mean"], (0.02 - 0.02 + 0.05) / 3)
    assert math.isclose(miou["difference_sd"], float(np.std([0.02, -0.02, 0.05], ddof=1)))
    assert miou["seeds_refined_lower"] == 1 and miou["seeds"] == 3
    accuracy = figures["accuracy_changed"]
    assert accuracy["seeds_refined_lower"] == 3
    assert math.isclose(accuracy["difference_sd"], 0.0, abs_tol=1e-12)
    single = layout_seeds.seed_figures({m: {f: v[:1] for f, v in d.items()} for m, d in per_seed.items()})
    assert single["miou_changed"]["difference_sd"] == 0.0


def test_edge_profiles_score_a_moved_edge_by_whether_its_shadow_moved_along():
    profiles = _benchmark_script("edge_profiles_benchmark")
    h, w = 20, 40

    def scene(edge):
        """Class 0 left of ``edge``, class 1 right of it; class 0's two pixels by the
        edge are a dark shadow, the rest mid grey; class 1 bright."""
        index = (np.arange(w)[None, :] >= edge).repeat(h, 0).astype(np.int64)
        image = np.where(index[..., None] == 1, 0.9, 0.5) * np.ones((h, w, 3))
        image[:, edge - 2:edge] = 0.1
        return index, image

    index, image = scene(20)
    depth, other = profiles.edge_depths(index, 4)
    assert depth[0, 19] == 1 and depth[0, 20] == 1 and depth[0, 16] == 4 and depth[0, 15] == 0
    assert other[0, 19] == 1 and other[0, 20] == 0
    source_profile = profiles.profile_means(image, index, depth, other, np.ones((h, w), bool), 5)
    assert np.allclose(source_profile[(0, 1, 1)][0], 0.1) and np.allclose(source_profile[(0, 1, 3)][0], 0.5)

    target, moved_along = scene(26)  # the edge moved 6 px right, its shadow with it
    stayed = np.where(target[..., None] == 1, 0.9, 0.5) * np.ones((h, w, 3))
    stayed[:, 18:20] = 0.1  # the shadow left where the old edge was
    target_depth, target_other = profiles.edge_depths(target, 4)
    near = np.zeros((h, w), bool)
    near[:, 16:30] = True
    errors = [profiles.profile_error(source_profile, profiles.profile_means(
        output, target, target_depth, target_other, near, 5)) for output in (moved_along, stayed)]
    assert errors[0][0] == pytest.approx(0.0, abs=1e-12) and errors[0][1] == 8 * h
    # Class 0 by the new edge: depths 1-2 mid grey instead of dark (0.4 off), 3-4 right.
    assert errors[1][0] == pytest.approx(2 * 0.4 / 8)
    assert profiles.profile_error(source_profile, {}) == (None, 0)


def test_layout_seeds_pairs_the_blurred_refined_output_with_the_refined_one():
    layout_seeds = _benchmark_script("layout_seeds")
    per_seed = {
        "refined": {"miou_changed": [0.50, 0.60], "accuracy_changed": [0.9, 0.8]},
        "refined_blur1": {"miou_changed": [0.55, 0.58], "accuracy_changed": [0.9, 0.7]},
    }
    miou = layout_seeds.blurred_figures(per_seed, "refined_blur1")["miou_changed"]
    assert math.isclose(miou["blurred_mean"], 0.565)
    assert math.isclose(miou["difference_mean"], (0.05 - 0.02) / 2)
    assert miou["seeds_blurred_higher"] == 1 and miou["seeds"] == 2

    step = np.zeros((9, 9, 3), np.uint8)
    step[:, 5:] = 255
    soft = metrics.blurred(step, 1.0)  # what --blur reads
    assert soft.shape == (9, 9, 3) and soft.dtype.kind == "f"
    assert 0.0 < soft[4, 4, 0] < 0.5 < soft[4, 5, 0] < 1.0  # the step spread over both sides
    assert np.allclose(soft[:, 0], 0.0, atol=1e-3) and np.allclose(soft[:, 8], 1.0, atol=1e-3)


def test_edge_position_finds_the_image_edge_on_inside_or_outside_the_label_edge():
    position = _benchmark_script("edge_position")
    h, w = 40, 40
    index = (np.arange(w)[None, :] >= 20).repeat(h, 0).astype(np.int64)  # class 1 from column 20
    depth, other = position.edge_depths(index, position.EDGE_BINS)
    distance = position.pair_distance(index, depth, other, 1, 0)
    assert distance[0, 20] == -0.5 and distance[0, 19] == 0.5 and distance[0, 23] == -3.5
    assert np.isnan(distance[0, 10])  # deeper than the profile reaches
    everywhere = np.ones((h, w), bool)

    def centre(step_column, mask=everywhere):
        image = np.where(np.arange(w)[None, :, None] >= step_column, 200, 60) * np.ones((h, w, 3))
        return position.edge_centre(*position.edge_profile(
            position.gradient_magnitude(image.astype(np.uint8)), distance, mask))

    assert centre(20) == pytest.approx(0.0, abs=1e-9)  # the colour step on the label edge
    assert centre(21) == pytest.approx(-1.0, abs=1e-9)  # a pixel inside class 1
    assert centre(19) == pytest.approx(1.0, abs=1e-9)  # a pixel outside it
    few = everywhere.copy()
    few[5:, :] = False  # 5 rows: fewer pixels per bin than the figure needs
    assert centre(20, few) is None


def test_layout_seeds_splits_the_changed_pixels_figure_by_class():
    layout_seeds = _benchmark_script("layout_seeds")
    source = np.zeros((4, 6), np.int64)
    target = source.copy()
    target[:, 3:] = 1  # 12 changed pixels of class 1
    target[0, 0] = 2  # and one of class 2
    changed = metrics.changed_mask(source, target)
    predicted = target.copy()
    predicted[:, 3] = 0  # four of class 1 read as class 0 (not a changed class)
    predicted[1, 4] = 2  # one read as class 2
    predicted[0, 0] = 1  # the class-2 pixel read as class 1
    counts = layout_seeds.class_counts(predicted, target, changed)
    assert counts[1] == {"pixels": 12, "missed": 5, "taken": 1, "iou": 7 / 13}
    assert counts[2] == {"pixels": 1, "missed": 1, "taken": 1, "iou": 0.0}
    assert set(counts) == {1, 2}
    mean = np.mean([c["iou"] for c in counts.values()])
    assert math.isclose(mean, metrics.mean_iou(predicted, target, mask=changed))

    bicubic = [counts, counts]
    better = layout_seeds.class_counts(target, target, changed)
    figures = layout_seeds.per_class_figures({"bicubic": bicubic, "refined": [better, counts]},
                                             ("bicubic", "refined"))
    assert figures[2]["pixels"] == 1 and math.isclose(figures[2]["refined_iou"], 0.5)
    assert math.isclose(figures[2]["refined_missed"], 0.5) and math.isclose(figures[2]["bicubic_taken"], 1.0)
    # A one-pixel class moves the mean as much as the twelve-pixel one.
    assert math.isclose(figures[2]["share_of_difference"], 0.5 / 2)
    assert math.isclose(figures[1]["share_of_difference"], (1 + 7 / 13) / 2 / 2 - 7 / 13 / 2)


def test_layout_seeds_averages_the_case_s_targets_seed_by_seed():
    layout_seeds = _benchmark_script("layout_seeds")
    per_seed = {
        "1": {"bicubic": {"miou_changed": [0.2, 0.4]}, "refined": {"miou_changed": [0.1, 0.5]}},
        "2": {"bicubic": {"miou_changed": [0.6, 0.8]}, "refined": {"miou_changed": [0.9, 0.9]}},
    }
    means = layout_seeds.case_mean(per_seed, ["1", "2"])
    assert np.allclose(means["bicubic"]["miou_changed"], [0.4, 0.6])
    assert np.allclose(means["refined"]["miou_changed"], [0.5, 0.7])
    # Target 1 reads lower on seed 0; the case's mean reads higher on both seeds.
    per_seed_1 = {m: {"accuracy_changed": v["miou_changed"], **v} for m, v in per_seed["1"].items()}
    assert layout_seeds.seed_figures(per_seed_1)["miou_changed"]["seeds_refined_lower"] == 1
    both = {m: {"accuracy_changed": v["miou_changed"], **v} for m, v in means.items()}
    assert layout_seeds.seed_figures(both)["miou_changed"]["seeds_refined_lower"] == 0
    assert np.allclose(layout_seeds.case_mean(per_seed, ["1"])["refined"]["miou_changed"], [0.1, 0.5])
