"""The trainer: progress, stop, resume, random state, divergence, the time
left, and the method's central claim (the output follows the new layout)."""

import threading
import warnings

import numpy as np
import pytest
import torch
from conftest import TINY, dark_sky, make_scene, moved

from napari_semia import trainer as trainer_module
from napari_semia.errors import IncompatibleModelError
from napari_semia.trainer import SemiaTrainer
from napari_semia.training_progress import EtaEstimator


def run(trainer):
    return list(trainer.run())


def test_short_training_lowers_reconstruction_loss(scene):
    image, labels = scene
    cfg = TINY.replace(steps=60, rec_every=1, coarse_fraction=0.0, augment_ramp=10.0)
    rec = [p.losses["rec"] for p in SemiaTrainer(image, labels, cfg, device="cpu").run() if "rec" in p.losses]
    assert np.mean(rec[-10:]) < 0.6 * np.mean(rec[:5])


def test_training_yields_progress_and_preview(scene, moved_target):
    image, labels = scene
    trainer = SemiaTrainer(image, labels, TINY, device="cpu", preview_target=moved_target, preview_every=3)
    updates = run(trainer)
    assert [u.step for u in updates[:-1]] == list(range(1, 7))
    assert updates[-1].finished and not updates[-1].stopped and updates[-1].diverged is None
    # Each update carries that step's losses: the mode's own terms.
    for update in updates[:-1]:
        assert {"D", "S", "adv", "fm"} <= set(update.losses)
        own = {"rec", "fixed_point"} if update.mode == "reconstruction" else {"semantic", "patch"}
        assert own <= set(update.losses) and not (set(update.losses) - own - {"D", "S", "adv", "fm"})
    assert {u.mode for u in updates[:-1]} == {"reconstruction", "sampling"}
    previews = [u.preview for u in updates if u.preview is not None]
    # At step 3, then once for the last step (6), on the finished update: not twice.
    assert [u.step for u in updates if u.preview is not None] == [3, 6]
    assert updates[-1].preview is not None
    assert previews[0].shape == image.shape and previews[0].dtype == image.dtype


def test_stop_from_another_thread_ends_promptly_and_keeps_model(scene, moved_target):
    image, labels = scene
    trainer = SemiaTrainer(image, labels, TINY.replace(steps=10_000), device="cpu")
    seen = []
    for progress in trainer.run():
        seen.append(progress)
        if progress.step == 3:
            threading.Thread(target=trainer.stop).start()
            threading.Event().wait(0.2)
    assert seen[-1].finished and seen[-1].stopped
    assert seen[-1].step < 10
    assert trainer.model.synthesize(moved_target).shape == image.shape


def test_stopped_before_the_first_step_gives_no_preview(scene, moved_target):
    # Found by a new user: Stop while preparing showed the untrained generator's
    # blobs of colour as the result.
    image, labels = scene
    trainer = SemiaTrainer(image, labels, TINY, device="cpu", preview_target=moved_target, preview_every=3)
    trainer.stop()
    updates = run(trainer)
    assert len(updates) == 1 and updates[0].finished and updates[0].stopped and updates[0].step == 0
    assert updates[0].preview is None
    # A model that has trained does preview when stopped before a new step.
    resumed = SemiaTrainer(image, labels, TINY, device="cpu", preview_target=moved_target, preview_every=3,
                           resume=_trained_model(image, labels))
    resumed.stop()
    final = run(resumed)[-1]
    assert final.stopped and final.preview is not None and final.preview.shape == image.shape


def _trained_model(image, labels):
    trainer = SemiaTrainer(image, labels, TINY.replace(steps=2), device="cpu")
    run(trainer)
    return trainer.model


def test_resume_continues_from_model(scene):
    image, labels = scene
    first = SemiaTrainer(image, labels, TINY, device="cpu")
    run(first)
    second = SemiaTrainer(image, labels, TINY.replace(steps=3), device="cpu", resume=first.model)
    run(second)
    assert second.model.steps_done == 9
    with pytest.raises(IncompatibleModelError, match="classes"):
        SemiaTrainer(image, (labels > 0) * 5, TINY, device="cpu", resume=first.model)
    # Run again, a finished trainer says so and how to go on (a notebook's cell run
    # again ended at once, as if it had trained; a scripting user).
    from napari_semia import SemiaWarning

    with pytest.warns(SemiaWarning, match=r"already run its 6 steps.*resume=trainer\.model"):
        run(first)
    assert issubclass(SemiaWarning, UserWarning)
    with warnings.catch_warnings():  # (what a script can silence by its category)
        warnings.simplefilter("error")
        warnings.filterwarnings("ignore", category=SemiaWarning)
        run(first)
    # Stopped, likewise (a review: its run again ended at once, without a word).
    stopped = SemiaTrainer(image, labels, TINY, device="cpu")
    for progress in stopped.run():
        if progress.step == 2:
            stopped.stop()
    with pytest.warns(SemiaWarning, match=r"was stopped at step 2 of 6"):
        run(stopped)
    assert first.model.steps_done == 6


def test_continued_colour_labels_keep_the_models_class_numbers(scene):
    # A colour map's classes are numbered by area: continued on an edited map where
    # the object grew past its background, the same two colours were numbered the
    # other way round, and training went on with them swapped, without a word.
    image, labels = scene
    green, red = np.array([0, 200, 0], np.uint8), np.array([255, 0, 0], np.uint8)
    colours = np.where(labels[..., None] == 1, red, green)
    first = SemiaTrainer(image, colours, TINY.replace(steps=1), device="cpu")
    run(first)
    assert first.codec.describe_classes() == "colours (0, 200, 0), (255, 0, 0)"
    grown = colours.copy()
    grown[2:30, 2:30] = red  # red now covers most of the map
    resumed = SemiaTrainer(image, grown, TINY.replace(steps=1), device="cpu", resume=first.model)
    assert resumed.codec == first.codec
    red_index = resumed.data.full_index[15, 15]
    assert resumed.codec.palette[red_index].tolist() == red.tolist()
    assert (resumed.data.full_index == first.codec.encode(grown)).all()
    # As ids (what the dock paints a colour model's labels as: 1 for its most frequent
    # colour) and in colours a level off (a resave): read as the model reads a target,
    # as SemiaModel.can_continue_on judges them (it said they continue, then they were refused).
    ids = np.where(labels == 1, 2, 1)
    shifted = np.where(labels[..., None] == 1, red - [1, 0, 0], green + [0, 1, 0]).astype(np.uint8)
    for other in (ids, shifted):
        assert first.model.can_continue_on(image, other)
        again = SemiaTrainer(image, other, TINY.replace(steps=1), device="cpu", resume=first.model)
        assert again.codec == first.codec and (again.data.full_index == labels).all()
    # A new class in a colour near one of the model's is no longer read as that one (a review).
    darker = colours.copy()
    darker[24:30, 24:30] = [0, 120, 0]
    with pytest.raises(IncompatibleModelError, match="differ from these labels'"):
        SemiaTrainer(image, darker, TINY, device="cpu", resume=first.model)
    # Two colours both read as the model's green: its red is missing, so no renumbering
    # (a mutation audit).
    greens = np.where(labels[..., None] == 1, np.uint8([0, 130, 0]), green)
    assert not first.model.can_continue_on(image, greens)
    with pytest.raises(IncompatibleModelError):
        SemiaTrainer(image, greens, TINY, device="cpu", resume=first.model)
    # Other colours are refused, naming both sets (the class numbers, equal, passed).
    blue = np.where(labels[..., None] == 1, np.array([0, 0, 255], np.uint8), green)
    with pytest.raises(IncompatibleModelError, match=r"classes \(colours \(0, 200, 0\), \(255, 0, 0\)\) "
                                                     r"differ from these labels' \(colours \(0, 200, 0\), "
                                                     r"\(0, 0, 255\)\)"):
        SemiaTrainer(image, blue, TINY, device="cpu", resume=first.model)


def test_a_model_that_learnt_linear_intensities_goes_on_learning_them():
    # Models saved before linear high-dynamic-range data were stretched: their networks
    # learnt the linear values, and continuing them must not switch to the stretch.
    import dataclasses

    from napari_semia.intensity import IntensityNormalizer

    image, labels = dark_sky()
    first = SemiaTrainer(image, labels, TINY.replace(steps=1), device="cpu")
    run(first)
    assert first.normalizer.stretched
    assert first.model.source_pyramid().linear_units is not None  # its votes in linear units
    older = dataclasses.replace(first.model, normalizer=IntensityNormalizer.fit(image, stretch=False))
    resumed = SemiaTrainer(image, labels, TINY.replace(steps=1), device="cpu", resume=older)
    assert not resumed.normalizer.stretched and resumed.normalizer == older.normalizer
    again = SemiaTrainer(image, labels, TINY.replace(steps=1), device="cpu", resume=first.model)
    assert again.normalizer == first.normalizer


def test_resume_rejects_other_channel_count(scene):
    image, labels = scene
    first = SemiaTrainer(image[..., 0], labels, TINY.replace(steps=1), device="cpu")
    run(first)
    with pytest.raises(IncompatibleModelError, match="channel"):
        SemiaTrainer(image, labels, TINY, device="cpu", resume=first.model)


def test_training_is_seeded_and_leaves_the_global_random_state_alone(scene):
    image, labels = scene
    torch.manual_seed(123)
    before = torch.random.get_rng_state()
    first = SemiaTrainer(image, labels, TINY.replace(seed=5), device="cpu")
    run(first)
    assert torch.equal(torch.random.get_rng_state(), before)
    second = SemiaTrainer(image, labels, TINY.replace(seed=5), device="cpu")
    run(second)
    other = SemiaTrainer(image, labels, TINY.replace(seed=6), device="cpu")
    run(other)
    weights = [next(iter(t.generator.parameters())) for t in (first, second, other)]
    assert torch.equal(weights[0], weights[1])
    assert not torch.equal(weights[0], weights[2])


def test_a_non_finite_loss_stops_training_before_the_weights_change(scene, monkeypatch):
    image, labels = scene
    trainer = SemiaTrainer(image, labels, TINY.replace(steps=10), device="cpu")
    real_loss = trainer_module.lsgan_generator_loss
    snapshots = {}

    def loss_that_explodes_at_step_3(results):
        loss = real_loss(results)
        if trainer.step == 2:  # the third step (0-based)
            snapshots["before"] = [p.detach().clone() for p in trainer.generator.parameters()]
            return loss * float("nan")
        return loss

    monkeypatch.setattr(trainer_module, "lsgan_generator_loss", loss_that_explodes_at_step_3)
    updates = run(trainer)
    last = updates[-1]
    assert last.finished and last.stopped
    assert "diverged at step 3" in last.diverged and "adv" in last.diverged
    assert trainer.step == 2 and last.step == 2
    # The generator keeps the weights it had before the bad step.
    for kept, before in zip(trainer.generator.parameters(), snapshots["before"], strict=True):
        assert torch.equal(kept, before) and torch.isfinite(kept).all()
    assert trainer.model.steps_done == 2


def test_non_finite_gradients_stop_training_too(scene, monkeypatch):
    image, labels = scene
    trainer = SemiaTrainer(image, labels, TINY.replace(steps=5), device="cpu")
    real = trainer.segmenter_step

    def poisoned(batch, step):
        if step == 1:
            weight = next(trainer.segmenter.parameters())
            weight.register_hook(lambda grad: grad * float("inf"))
        return real(batch, step)

    monkeypatch.setattr(trainer, "segmenter_step", poisoned)
    last = run(trainer)[-1]
    assert "segmenter gradients are not finite" in last.diverged
    assert all(torch.isfinite(p).all() for p in trainer.segmenter.parameters())


# ------------------------------------------------------------------ time left
def test_eta_covers_both_phases_from_the_first_step():
    eta = EtaEstimator(total_steps=100, coarse_steps=60, fine_extra_s=2.0)
    eta.record(True, 1.0)
    # 59 coarse steps at 1 s and 40 fine steps at 3 s.
    assert eta.seconds_left(1) == pytest.approx(59 + 40 * 3)
    for _ in range(9):
        eta.record(True, 1.0)
    assert eta.seconds_left(10) == pytest.approx(50 + 120)
    # Once fine steps are measured, their real cost replaces the estimate.
    for _step in range(60, 70):
        eta.record(False, 2.0)
    assert eta.seconds_left(70) == pytest.approx(30 * 2.0)


def test_eta_ignores_the_first_step_s_warm_up():
    eta = EtaEstimator(total_steps=10, coarse_steps=0)
    eta.record(False, 5.0)  # allocations
    eta.record(False, 1.0)
    eta.record(False, 1.0)
    assert eta.seconds_left(3) == pytest.approx(7.0)


def test_reported_eta_is_within_a_quarter_of_the_truth_after_a_tenth_of_the_run(scene, monkeypatch):
    """A run whose fine steps cost 2.5x the coarse ones (a fake clock): the
    time left that the trainer reports must be right from 10 % on."""
    image, labels = scene
    clock = {"now": 0.0}
    monkeypatch.setattr(trainer_module.time, "perf_counter", lambda: clock["now"])
    cfg = TINY.replace(steps=100, coarse_fraction=0.6)
    trainer = SemiaTrainer(image, labels, cfg, device="cpu")
    cost = {True: 1.0, False: 2.5}

    def fake_step(step):
        clock["now"] += cost[trainer.is_coarse(step)]
        return "sampling", {"D": 1.0}

    monkeypatch.setattr(trainer, "train_step", fake_step)
    monkeypatch.setattr(trainer, "_fine_step_extra_s", lambda: 1.2)  # what a measurement might say
    total_time = 60 * 1.0 + 40 * 2.5
    for progress in trainer.run():
        if progress.finished or progress.step < 10:
            continue
        truth = total_time - clock["now"]
        assert abs(progress.eta_s - truth) <= 0.25 * truth + 1e-9, (progress.step, progress.eta_s, truth)


def test_fine_step_extra_is_measured_on_the_networks():
    image, labels = make_scene(64)
    trainer = SemiaTrainer(image, labels, TINY.replace(size=64, coarse_fraction=0.5), device="cpu")
    before = {k: v.clone() for k, v in trainer.generator.state_dict().items()}
    extra = trainer._fine_step_extra_s()
    assert 0.0 < extra < 5.0  # four times the pixels cost more, but not seconds at 64 px
    assert all(p.grad is None for p in trainer.generator.parameters())
    assert all(torch.equal(v, trainer.generator.state_dict()[k]) for k, v in before.items())
    # No coarse phase: nothing to add.
    flat = SemiaTrainer(image, labels, TINY.replace(size=64, coarse_fraction=0.0), device="cpu")
    assert flat._fine_step_extra_s() == 0.0


# ------------------------------------------------------------ central claim
def two_class_scene():
    """A flat green background and a red square, with a little noise."""
    rng = np.random.default_rng(0)
    labels = np.zeros((32, 32), np.int32)
    labels[10:22, 4:16] = 1
    colours = np.array([[30, 170, 40], [220, 40, 40]], np.float32)
    image = colours[labels] + rng.normal(0, 6, (32, 32, 3))
    return np.clip(image, 0, 255).astype(np.uint8), labels, colours


def region_colour_errors(model, labels, target, colours):
    # The generator's own output: the full-resolution stage would give any model's
    # output the right colours, trained or not.
    out = model.synthesize(target, refine=False).astype(np.float32)
    arrived = (target == 1) & (labels == 0)
    vacated = (target == 0) & (labels == 1)
    return (np.abs(out[arrived].mean(0) - colours[1]).max(),
            np.abs(out[vacated].mean(0) - colours[0]).max())


def test_the_output_follows_the_new_layout():
    """After moving the square in the target, the region it moved into shows
    the square's colour and the region it left the background's."""
    image, labels, colours = two_class_scene()
    target = moved(labels, 0, 12)
    config = TINY.replace(steps=80, coarse_fraction=0.0, seed=1)
    untrained = SemiaTrainer(image, labels, config, device="cpu").model
    assert max(region_colour_errors(untrained, labels, target, colours)) > 40  # the test can fail
    trainer = SemiaTrainer(image, labels, config, device="cpu")
    run(trainer)
    arrived_error, vacated_error = region_colour_errors(trainer.model, labels, target, colours)
    assert arrived_error < 30 and vacated_error < 30


# ------------------------------------------------------------------ collapse
def test_collapse_guard_waits_for_the_ramp_then_needs_a_lasting_rise():
    from napari_semia.collapse_guard import CollapseGuard

    guard = CollapseGuard(start_step=10)
    assert guard.observe(5, 0.5) == "ok"  # during the ramp: not judged
    assert guard.observe(10, 0.05) == "best"
    for step in range(11, 60):
        guard.observe(step, 0.04)
    # The worst single step (an L1 error of 2 in [-1, 1]) is not a collapse...
    verdicts = [guard.observe(60, 2.0)] + [guard.observe(61 + i, 0.04) for i in range(30)]
    assert "collapsed" not in verdicts
    # ...a lasting rise is.
    verdicts = [guard.observe(100 + i, 0.6) for i in range(30)]
    assert "collapsed" in verdicts and verdicts.index("collapsed") >= 15


def test_a_collapsing_run_goes_back_to_its_best_weights(scene, monkeypatch):
    image, labels = scene
    trainer = SemiaTrainer(image, labels, TINY.replace(steps=200, rec_every=1, augment_ramp=0.0,
                                                      coarse_fraction=0.0), device="cpu")
    real = trainer.generator_step
    kept = {}

    def step_with_scripted_error(batch, fake, modulation, step):
        losses = real(batch, fake, modulation, step)
        losses["rec"] = 0.2 - 0.005 * step if step < 30 else 1.0  # improving, then collapsed for good
        if step == 29:
            kept["weights"] = [p.detach().clone() for p in trainer.generator.parameters()]
        return losses

    monkeypatch.setattr(trainer, "generator_step", step_with_scripted_error)
    updates = run(trainer)
    last = updates[-1]
    # Undone twice (best weights, half the learning rates), then stopped.
    assert len(trainer.recoveries) == 2 and trainer._lr_scale == 0.25
    notes = [u.note for u in updates if u.note]
    assert len(notes) == 2 and "half the learning rates" in notes[0] and "to 0.9" in notes[0]
    assert last.stopped and "collapsed" in last.diverged and "3 times" in last.diverged
    assert len(updates) < 200  # stopped, not run to the end
    assert trainer.step == 30 and trainer.model.steps_done == 30
    for param, before in zip(trainer.generator.parameters(), kept["weights"]):
        assert torch.equal(param, before)


def test_the_generator_gradient_is_clipped(scene, monkeypatch):
    image, labels = scene
    trainer = SemiaTrainer(image, labels, TINY.replace(steps=3, max_grad_norm=1e-3), device="cpu")
    norms = []
    real_step = trainer.opt_g.step

    def recording_step(*args, **kwargs):
        norms.append(torch.sqrt(sum(p.grad.square().sum() for p in trainer.generator.parameters()
                                    if p.grad is not None)).item())
        return real_step(*args, **kwargs)

    monkeypatch.setattr(trainer.opt_g, "step", recording_step)
    run(trainer)
    assert norms and max(norms) <= 1e-3 * 1.01


@pytest.mark.parametrize("step", [0, 1])  # a reconstruction and a sampling step
def test_the_generator_update_leaves_the_discriminator_and_segmenter_gradients_alone(scene, step):
    # D and S only pass gradients through to the output in the generator's
    # update; their own weight gradients there would be wasted work.
    image, labels = scene
    trainer = SemiaTrainer(image, labels, TINY.replace(rec_every=2, coarse_fraction=0.0), device="cpu")
    batch = trainer.make_batch(step)
    fake, modulation = trainer.generator(batch.input_image, batch.input_onehot, batch.target_onehot,
                                         return_modulation=True)
    trainer.discriminator_step(batch, fake, step)
    trainer.segmenter_step(batch, step)
    others = [p for net in (trainer.discriminator, trainer.segmenter) for p in net.parameters()]
    before = [p.grad.clone() for p in others]
    trainer.generator_step(batch, fake, modulation, step)
    assert all(torch.equal(p.grad, g) for p, g in zip(others, before))
    assert all(p.requires_grad for p in others)
    assert all(p.grad is not None for p in trainer.generator.parameters() if p.requires_grad)


def test_settings_given_as_a_preset_name_or_a_dict_and_bad_ones_named(scene):
    # Found by a Python-API user: config="quick" (the command line's habit) or a dict
    # ended in "'dict' object has no attribute 'size'"; steps=2.5 trained 3 steps and
    # was saved as 2.5.
    from napari_semia.config import TrainingConfig, preset, training_config
    from napari_semia.errors import SemiaInputError

    image, labels = scene
    assert training_config("quick") == preset("quick")
    assert training_config({"steps": 3, "size": 32}) == TrainingConfig(steps=3, size=32)
    assert training_config(None) == TrainingConfig()
    trainer = SemiaTrainer(image, labels, config={**TINY.to_dict(), "steps": 1}, device="cpu")
    assert trainer.config.steps == 1
    for bad, message in ((3, "not int"), ({"stepz": 3}, "Unknown training setting(s): stepz"),
                         ("fast", "Unknown preset 'fast'")):
        with pytest.raises(SemiaInputError, match=message.replace("(", r"\(").replace(")", r"\)")):
            SemiaTrainer(image, labels, config=bad, device="cpu")
    with pytest.raises(SemiaInputError, match="steps must be a whole number"):
        preset("quick").replace(steps=2.5)
    assert TrainingConfig.from_dict({"steps": 2.0}).steps == 2  # (a file saved before the check)


def test_a_file_name_given_for_an_array_says_to_read_it(scene, tmp_path):
    from napari_semia.errors import SemiaInputError

    image, labels = scene
    with pytest.raises(SemiaInputError, match=r"The image is a file name \('img.png'\).*read_image_file"):
        SemiaTrainer("img.png", labels, device="cpu")
    with pytest.raises(SemiaInputError, match=r"The labels are a file name .*read_label_file"):
        SemiaTrainer(image, tmp_path / "labels.png", device="cpu")


def test_a_script_is_warned_of_its_inputs_and_of_settings_a_resumed_model_does_not_take(scene):
    # Found by a Python-API user: the command line and the widget warn of a flat image
    # or a class lost at the working size; a script was told nothing, nor that a
    # resumed model keeps its own working size.
    import warnings

    image, labels = scene
    labels = labels.copy()
    labels[9:11, 9:11] = 7  # 2 x 2 across four blocks of the half size
    with pytest.warns(UserWarning, match=r"class 7 \(4 px\) is too small"):
        trainer = SemiaTrainer(image, labels, TINY.replace(size=16, steps=1), device="cpu")
    assert "class 7 (4 px)" in trainer.input_note
    for _ in trainer.run():
        pass
    with pytest.warns(UserWarning) as caught:
        SemiaTrainer(image, labels, TINY.replace(size=32), device="cpu", resume=trainer.model)
    assert any("own working size (16 px)" in str(warning.message)
               and "the settings' size 32 is not used" in str(warning.message) for warning in caught)
    with warnings.catch_warnings(record=True) as caught:  # no settings given: none to say are not used
        warnings.simplefilter("always")
        SemiaTrainer(image, labels, device="cpu", resume=trainer.model)
    assert caught and not any("not used" in str(warning.message) for warning in caught)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        quiet = SemiaTrainer(image, labels, TINY.replace(size=16), device="cpu", warn=False)
    assert quiet.input_note == trainer.input_note


def test_a_script_is_told_of_a_grey_image_stored_as_colour(scene):
    # The command line and the widget say it; a script was told nothing (s44's list).
    import warnings

    image, labels = scene
    grey = image[..., 0] if image.ndim == 3 else image
    as_colour = np.repeat(grey[..., None], 3, axis=-1)
    with pytest.warns(UserWarning, match=r"The image is a grey image stored as colour.*image\[\.\.\., 0\]"):
        SemiaTrainer(as_colour, labels, TINY, device="cpu")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        SemiaTrainer(grey, labels, TINY, device="cpu")
        SemiaTrainer(as_colour, labels, TINY, device="cpu", warn=False)
