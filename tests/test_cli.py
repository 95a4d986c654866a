import io
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest
import skimage.io
import tifffile
from conftest import fail_training_from, make_scene, moved

from napari_semia import cli
from napari_semia.io import (
    image_suffix,
    read_image_file,
    read_label_file,
    write_image_file,
    written_as_result,
    written_by_napari_semia,
)

SIZE = 32


def write_case(folder):
    """The suite's scene and a few target layouts, as files."""
    image, labels = make_scene(SIZE)
    labels = labels.astype(np.uint8)
    paths = {
        "image": write_image_file(folder / "img.png", image),
        "labels": write_image_file(folder / "labels.png", labels),
        "moved": write_image_file(folder / "moved.png", moved(labels)),
        "same": write_image_file(folder / "same.png", labels),
    }
    bad = labels.copy()
    bad[0, 0] = 7
    paths["bad"] = write_image_file(folder / "bad.png", bad)
    return paths


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """Train from the CLI and press Ctrl-C after the first step: the model
    trained so far must still be saved."""
    from napari_semia.trainer import SemiaTrainer

    folder = tmp_path_factory.mktemp("cli")
    paths = write_case(folder)
    model_path = folder / "model.semia"
    original_run = SemiaTrainer.run

    def run_then_interrupt(self):
        for progress in original_run(self):
            yield progress
            if progress.step == 1 and not progress.finished:
                os.kill(os.getpid(), signal.SIGINT)

    # (pytest run as a background job or under nohup inherits SIGINT ignored, which the
    # command rightly leaves so: Ctrl-C is restored here for the fixture's own.)
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(SemiaTrainer, "run", run_then_interrupt)
            code = cli.main([
                "train", str(paths["image"]), str(paths["labels"]), "-o", str(model_path),
                "--steps", "50", "--size", str(SIZE), "--device", "cpu", "--seed", "3",
            ])
    finally:
        signal.signal(signal.SIGINT, previous)
    # Saved, and the exit status says the run was stopped (a script told no difference).
    assert code == cli.EXIT_INTERRUPTED and model_path.is_file()
    return folder, paths, model_path


def test_training_stopped_before_its_first_step_saves_no_model(tmp_path, monkeypatch, capsys):
    from napari_semia.trainer import SemiaTrainer

    paths = write_case(tmp_path)
    original_run = SemiaTrainer.run

    def stopped_at_once(self):
        self.stop()
        yield from original_run(self)

    monkeypatch.setattr(SemiaTrainer, "run", stopped_at_once)
    model_path = tmp_path / "model.semia"
    code = cli.main(["train", str(paths["image"]), str(paths["labels"]), "-o", str(model_path),
                     "--steps", "50", "--size", str(SIZE), "--device", "cpu"])
    assert code == cli.EXIT_INTERRUPTED and not model_path.exists()
    err = capsys.readouterr().err
    assert "no model was saved" in err and "keeping the model" not in err  # not both


def test_resuming_says_what_it_trains(trained, tmp_path, capsys):
    """A resumed model keeps its working size: the CLI said '--size' px and
    ignored it without a word, and did not say the steps come on top."""
    from napari_semia.model import SemiaModel

    _, paths, model_path = trained
    out = tmp_path / "more.semia"
    code = cli.main(["train", str(paths["image"]), str(paths["labels"]), "-o", str(out), "--steps", "1",
                     "--size", "64", "--resume", str(model_path), "--device", "cpu"])
    err = capsys.readouterr().err
    assert code == 0
    assert "is not used" not in err  # (a 32-px image: --size 64 gives the model's working size)
    # Sizes compared as the working sizes they give (a 96-px image trained with --size
    # 4096 trains at 96 px: its --size 96 was called unused, "keeps its working size, 4096 px").
    big = tmp_path / "big.semia"
    assert cli.main(["train", str(paths["image"]), str(paths["labels"]), "-o", str(big), "--steps", "1",
                     "--size", "4096", "--device", "cpu"]) == 0
    rows, cols = iio.imread(paths["image"]).shape[:2]
    capsys.readouterr()
    for size, unused in ((max(rows, cols), False), (max(rows, cols) // 2, True)):
        code = cli.main(["train", str(paths["image"]), str(paths["labels"]), "-o", str(big), "--steps", "1",
                         "--size", str(size), "--resume", str(big), "--device", "cpu"])
        said, warned = capsys.readouterr()
        assert code == 0 and ("is not used" in warned) is unused
        assert f"keeps its working size, {rows} × {cols} px" in warned or not unused
        assert "Saved model to" in said and "(replacing the model that was there)" in said
    # The working size as trained: a 96 x 96 image 'at 256 px' read as a promise of 256 px.
    code = cli.main(["train", str(paths["image"]), str(paths["labels"]), "-o", str(tmp_path / "new.semia"),
                     "--steps", "1", "--size", "256", "--device", "cpu"])
    assert code == 0 and f"at {SIZE} × {SIZE} px" in capsys.readouterr().err
    assert f"Training 1 step more (after 1) at {SIZE} × {SIZE} px" in err
    # How the files were read (a z-stack TIFF read as channels said nothing).
    image = read_image_file(paths["image"])
    assert f"Source: a 3-channel (RGB) image, {image.shape[0]} × {image.shape[1]}, uint8; 2 classes." in err
    model = SemiaModel.load(out, device="cpu")
    assert model.steps_done == 2 and model.config.size == SIZE


def test_resuming_on_another_image_says_so_and_names_the_type_change(trained, tmp_path, capsys):
    # Found by a new user: --resume with the 8-bit export of a 16-bit source went on
    # without a word, and the model's results became 8-bit.
    _, paths, model_path = trained
    image = read_image_file(paths["image"])
    wider = tmp_path / "wider.tif"
    write_image_file(wider, image.astype(np.uint16) * 200)
    code = cli.main(["train", str(wider), str(paths["labels"]), "-o", str(tmp_path / "more.semia"),
                     "--steps", "1", "--resume", str(model_path), "--device", "cpu"])
    err = capsys.readouterr().err
    assert code == 0
    assert f"{model_path.name} was trained on another image or labels" in err
    assert "Its results will be uint16 like this image, not uint8" in err
    # The same files: nothing to say.
    code = cli.main(["train", str(paths["image"]), str(paths["labels"]), "-o", str(tmp_path / "same.semia"),
                     "--steps", "1", "--resume", str(model_path), "--device", "cpu"])
    assert code == 0 and "was trained on another" not in capsys.readouterr().err


def test_resuming_from_a_file_without_a_pixel_size_says_the_size_is_the_models(tmp_path, capsys):
    # Found by a new user: resumed on a PNG, the 'Source:' line gave the model's kept
    # pixel size as if the file had it.
    image, labels = make_scene(SIZE, rgb=False)
    tifffile.imwrite(tmp_path / "cells.tif", image, imagej=True, resolution=(1 / 0.325, 1 / 0.5),
                     metadata={"unit": "micron"})
    labels_path = write_image_file(tmp_path / "labels.png", labels.astype(np.uint8))
    model_path = tmp_path / "model.semia"
    assert cli.main(["train", str(tmp_path / "cells.tif"), str(labels_path), "-o", str(model_path),
                     "--steps", "1", "--size", str(SIZE), "--device", "cpu"]) == 0
    assert "(pixel 0.5 × 0.325 µm)," in capsys.readouterr().err
    png = write_image_file(tmp_path / "cells.png", image)
    assert cli.main(["train", str(png), str(labels_path), "-o", str(tmp_path / "more.semia"),
                     "--steps", "1", "--resume", str(model_path), "--device", "cpu"]) == 0
    assert "(pixel 0.5 × 0.325 µm, kept from the model)," in capsys.readouterr().err
    # The file's own size is the file's.
    assert cli.main(["train", str(tmp_path / "cells.tif"), str(labels_path), "-o", str(tmp_path / "m3.semia"),
                     "--steps", "1", "--resume", str(model_path), "--device", "cpu"]) == 0
    assert "(pixel 0.5 × 0.325 µm)," in capsys.readouterr().err


def test_a_plain_tiff_of_three_layouts_is_named_as_read_as_one_colour_map(trained, tmp_path, capsys):
    # Found by a new user: `generate --layouts` read a 3-page TIFF as three layouts,
    # `synthesize` as one colour map, refused with a message about colours alone.
    _, paths, model_path = trained
    labels = read_label_file(paths["labels"])
    stack = tmp_path / "layouts.tif"
    tifffile.imwrite(stack, np.stack([labels, moved(labels), labels]), photometric="minisblack")
    code = cli.main(["synthesize", str(model_path), str(stack), "-o", str(tmp_path / "out"),
                     "--device", "cpu"])
    assert code == cli.EXIT_INPUT_ERROR
    err = capsys.readouterr().err
    assert "holds 3 planes with no z or time axis named" in err and "--plane" in err


def test_a_diverged_run_is_no_interruption(tmp_path, monkeypatch, capsys):
    # Found in review: a run the trainer stopped itself (the losses became NaN) exited
    # 130 as if Ctrl-C had stopped it.
    from napari_semia.trainer import TrainingDiverged

    fail_training_from(monkeypatch, 2, TrainingDiverged("The losses became NaN."))
    paths = write_case(tmp_path)
    code = cli.main(["train", str(paths["image"]), str(paths["labels"]), "-o", str(tmp_path / "m.semia"),
                     "--steps", "5", "--size", str(SIZE), "--device", "cpu"])
    assert code == 0 and "warning:" in capsys.readouterr().err


def test_resuming_on_a_source_it_cannot_continue_only_refuses(trained, tmp_path, capsys):
    # Found in review: "... continuing it, it learns ..." and then "Cannot continue training".
    _, _, model_path = trained
    image, labels = make_scene(48)
    code = cli.main(["train", str(write_image_file(tmp_path / "img2.png", image)),
                     str(write_image_file(tmp_path / "labels2.png", labels.astype(np.uint8))),
                     "-o", str(tmp_path / "m2.semia"), "--steps", "1", "--resume", str(model_path),
                     "--device", "cpu"])
    err = capsys.readouterr().err
    assert code != 0 and "Cannot continue training" in err and "continuing it" not in err


def test_interrupted_training_saves_the_model_so_far(trained):
    from napari_semia.model import SemiaModel

    _, _, model_path = trained
    model = SemiaModel.load(model_path, device="cpu")
    assert model.class_ids == (0, 1)
    assert model.steps_done == 1
    assert model.config.steps == 50 and model.config.size == SIZE and model.config.seed == 3


def test_info_tells_each_training_run_that_made_a_model(trained, tmp_path, capsys):
    # A reproducibility pass: a continued model's file kept only its last run's seed
    # and planned steps (60 steps done, "steps: 30, seed: 0"); nothing recorded the
    # thread count or torch version, and only torch.load showed the file's settings.
    import hashlib
    import json

    import torch

    _, paths, model_path = trained
    continued = tmp_path / "continued.semia"
    assert cli.main(["train", str(paths["image"]), str(paths["labels"]), "-o", str(continued),
                     "--resume", str(model_path), "--steps", "2", "--device", "cpu"]) == 0
    capsys.readouterr()
    assert cli.main(["info", str(continued), "--json"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["sha256"] == hashlib.sha256(continued.read_bytes()).hexdigest()
    assert record["steps_done"] == 3 and record["class_ids"] == [0, 1]
    first, second = record["history"]
    assert (first["steps"], first["planned"], first["seed"]) == (1, 50, 3)  # (stopped at step 1)
    assert (second["steps"], second["planned"], second["seed"]) == (2, 2, 0)
    assert second["device"] == "cpu" and second["threads"] == torch.get_num_threads()
    assert second["torch"] == torch.__version__
    assert cli.main(["info", str(continued)]) == 0
    out = capsys.readouterr().out
    assert "run 1: 1 of 50 steps, seed 3, on cpu" in out and "run 2: 2 of 2 steps, seed 0" in out
    # An earlier version's file (no history) continued: its steps on a line of their own,
    # not "run 1" (how many runs made them is not known).
    from dataclasses import replace

    from napari_semia.model import SemiaModel

    earlier = replace(SemiaModel.load(continued, device="cpu"), history=())
    earlier.save(tmp_path / "earlier.semia")
    assert cli.main(["train", str(paths["image"]), str(paths["labels"]), "-o", str(tmp_path / "later.semia"),
                     "--resume", str(tmp_path / "earlier.semia"), "--steps", "1", "--device", "cpu"]) == 0
    capsys.readouterr()
    assert cli.main(["info", str(tmp_path / "later.semia")]) == 0
    out = capsys.readouterr().out
    assert "3 steps by an earlier version, which recorded no runs (the last: seed 0, 2 steps planned)" in out
    assert "run 1: 1 of 1 steps, seed 0" in out and "run 2" not in out
    # ... also as a version between the history and that mark wrote it (unmarked: a review).
    unmarked = replace(SemiaModel.load(tmp_path / "later.semia", device="cpu"),
                       history=({"steps": 3, "planned": 2, "seed": 0}, SemiaModel.load(
                           tmp_path / "later.semia", device="cpu").history[1]))
    unmarked.save(tmp_path / "unmarked.semia")
    assert cli.main(["info", str(tmp_path / "unmarked.semia")]) == 0
    out = capsys.readouterr().out
    assert "3 steps by an earlier version, which recorded no runs" in out and "run 1: 1 of 1 steps" in out


def test_synthesize_writes_one_image_per_target(trained, capsys):
    folder, paths, model_path = trained
    out = folder / "out"
    code = cli.main(["synthesize", str(model_path), str(paths["moved"]), str(paths["same"]),
                     "-o", str(out), "--device", "cpu"])
    assert code == 0
    assert sorted(p.name for p in out.iterdir()) == ["moved.png", "same.png"]
    # A target named x.ome.tif gives x.png, no OME file in name only (QuPath and Fiji
    # hand those to their OME reader; a pass over other tools' files).
    shutil.copyfile(paths["moved"], folder / "slide.ome.png")
    assert cli.main(["synthesize", str(model_path), str(folder / "slide.ome.png"), "-o", str(folder / "ome"),
                     "--device", "cpu", "--preview"]) == 0
    assert [p.name for p in (folder / "ome").iterdir()] == ["slide.png"]
    result = read_image_file(out / "moved.png")
    assert result.shape == (SIZE, SIZE, 3) and result.dtype == np.uint8
    captured = capsys.readouterr()
    assert "moved.png" in captured.out
    # A bar per target for the full-resolution stage (a large image waited silently).
    assert "moved: 100%" in captured.err and "same: 100%" in captured.err


def test_targets_with_one_file_name_are_all_written(trained, tmp_path):
    # Found by a new user: a/target.png and b/target.png were both written as
    # out/target.png, the second over the first.
    _, paths, model_path = trained
    # Nor c/Target.png, which a disk that ignores case takes for the same name.
    for folder, name, case in (("a", "target.png", "moved"), ("b", "target.png", "same"),
                               ("c", "Target.png", "same")):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / name).write_bytes(paths[case].read_bytes())
    out = tmp_path / "out"
    code = cli.main(["synthesize", str(model_path), str(tmp_path / "a" / "target.png"),
                     str(tmp_path / "b" / "target.png"), str(tmp_path / "c" / "Target.png"),
                     "-o", str(out), "--device", "cpu", "--preview"])
    assert code == 0
    assert sorted(p.name for p in out.iterdir()) == ["Target_3.png", "target.png", "target_2.png"]
    assert not np.array_equal(read_image_file(out / "target.png"), read_image_file(out / "target_2.png"))


def test_results_replace_earlier_results_only_never_other_files(trained, tmp_path, capsys):
    # A pass on untidy folders: an edited copy of the source labels, named as they are,
    # replaced the model's own source labels in the output folder, without a word.
    _, paths, model_path = trained
    folder, edits = tmp_path / "case", tmp_path / "case" / "edits"
    edits.mkdir(parents=True)
    # Not this command's input, and written by another program:
    iio.imwrite(folder / "labels.png", read_label_file(paths["labels"]).astype(np.uint8))
    (edits / "labels.png").write_bytes(paths["moved"].read_bytes())
    painted = (folder / "labels.png").read_bytes()
    args = ["synthesize", str(model_path), str(edits / "labels.png"), "-o", str(folder), "--device", "cpu",
            "--preview"]
    assert cli.main(args) == 0
    assert "(not labels.png: a file of that name is there that is not a napari-semia result" \
        in capsys.readouterr().out
    assert (folder / "labels.png").read_bytes() == painted
    result = folder / "labels_result.png"
    assert written_as_result(result) and not written_by_napari_semia(folder / "labels.png")
    # A rerun replaces its own earlier result, in place (no labels_result_2).
    assert cli.main(args) == 0
    assert sorted(p.name for p in folder.iterdir()) == ["edits", "labels.png", "labels_result.png"]
    # Nor a file napari-semia wrote that is no result: a demo's labels (the review of
    # the mark all its images carry).
    write_image_file(folder / "labels.png", read_label_file(paths["labels"]).astype(np.uint8))
    painted = (folder / "labels.png").read_bytes()
    assert written_by_napari_semia(folder / "labels.png") and not written_as_result(folder / "labels.png")
    assert cli.main(args) == 0 and (folder / "labels.png").read_bytes() == painted
    # --overwrite replaces the other file (an earlier version's result, say); an input, never.
    assert cli.main([*args, "--overwrite"]) == 0 and written_as_result(folder / "labels.png")
    assert cli.main([*args[:3], "-o", str(edits), "--device", "cpu", "--preview", "--overwrite"]) == 0
    assert (edits / "labels.png").read_bytes() == paths["moved"].read_bytes()
    # Not a regular file (a FIFO hung the check) and not a folder that is a broken link.
    fifo = tmp_path / "fifo"
    fifo.mkdir()
    os.mkfifo(fifo / "labels.png")
    assert cli.main([*args[:3], "-o", str(fifo), "--device", "cpu", "--preview"]) == 0
    assert (fifo / "labels_result.png").is_file()
    (tmp_path / "dangling").symlink_to(tmp_path / "nowhere")
    assert cli.main([*args[:3], "-o", str(tmp_path / "dangling"), "--device", "cpu"]) == cli.EXIT_INPUT_ERROR
    assert "is a symbolic link to" in capsys.readouterr().err
    (tmp_path / "loop_a").symlink_to(tmp_path / "loop_b")
    (tmp_path / "loop_b").symlink_to(tmp_path / "loop_a")
    code = cli.main([*args[:3], "-o", str(tmp_path / "loop_a" / "x"), "--device", "cpu"])
    assert code == cli.EXIT_INPUT_ERROR
    assert "loop_b, too many levels of symbolic links" in capsys.readouterr().err
    # What the system refuses of a path is one line, not a traceback.
    assert cli.main([*args[:3], "-o", str(tmp_path / ("d" * 256)), "--device", "cpu"]) == cli.EXIT_INPUT_ERROR
    err = capsys.readouterr().err
    assert err.startswith("error: File name too long: ") and err.count("\n") == 1
    # TIFF results are told as theirs too.
    write_image_file(tmp_path / "ours.tif", np.zeros((4, 4), np.uint16))
    write_image_file(tmp_path / "result.tif", np.zeros((4, 4, 2), np.float32), result=True)
    assert written_by_napari_semia(tmp_path / "ours.tif") and not written_as_result(tmp_path / "ours.tif")
    assert written_as_result(tmp_path / "result.tif")


def test_the_full_resolution_stage_s_seed_is_the_user_s(trained, tmp_path, capsys):
    # A reproducibility pass: the stage searches at random, with a seed fixed out of
    # sight; another seed changed up to 12 % of a result's pixels, which no option showed.
    _, paths, model_path = trained
    results = {}
    for seed in (None, 0, 1, 1):
        out = tmp_path / f"s{seed}_{len(results)}"
        args = ["synthesize", str(model_path), str(paths["moved"]), "-o", str(out), "--device", "cpu"]
        assert cli.main(args + ([] if seed is None else ["--seed", str(seed)])) == 0
        results[out.name] = read_image_file(out / "moved.png")
    default, zero, one, one_again = results.values()
    assert np.array_equal(default, zero) and np.array_equal(one, one_again)
    assert not np.array_equal(zero, one)
    capsys.readouterr()
    assert cli.main(["synthesize", str(model_path), str(paths["moved"]), "-o", str(tmp_path / "p"),
                     "--device", "cpu", "--preview", "--seed", "2"]) == 0
    assert "--seed is not used with --preview" in capsys.readouterr().err
    code = cli.main(["from-labels", str(paths["image"]), str(paths["labels"]), str(paths["moved"]),
                     "-o", str(tmp_path / "l"), "--device", "cpu", "--seed", "1"])
    assert code == 0
    # Each result says what made it: a model's from a preview's and from one of the
    # label maps alone, which model, target and seed (the Software mark alone told none).
    import hashlib

    from napari_semia.io import read_provenance

    model_sha = hashlib.sha256(model_path.read_bytes()).hexdigest()
    made = read_provenance(tmp_path / "s1_2" / "moved.png")
    assert made["command"] == "synthesize" and made["model_sha256"] == model_sha
    assert (made["target"], made["seed"], made["result"]) == ("moved.png", 1, "full resolution")
    assert made["device"] == "cpu" and made["napari_semia"]
    preview = read_provenance(tmp_path / "p" / "moved.png")
    assert preview["result"].startswith("preview") and preview["seed"] is None
    alone = read_provenance(tmp_path / "l" / "moved.png")
    assert alone["command"] == "from-labels" and alone["seed"] == 1
    assert alone["labels_sha256"] == hashlib.sha256(paths["labels"].read_bytes()).hexdigest()
    write_image_file(tmp_path / "r.tif", np.zeros((4, 4), np.uint16), result=True, provenance=made)
    assert read_provenance(tmp_path / "r.tif") == made and read_provenance(paths["labels"]) is None


def test_a_result_name_too_long_for_the_disk_is_shortened(trained, tmp_path):
    # A pass on untidy paths: a target of a 251-byte name in the output folder got its
    # result refused as too long (as <name>_result), after the synthesis.
    _, paths, model_path = trained
    target = tmp_path / ("é" * 120 + "x" * 7 + ".png")
    target.write_bytes(paths["moved"].read_bytes())
    assert cli.main(["synthesize", str(model_path), str(target), "-o", str(tmp_path), "--device", "cpu",
                     "--preview"]) == 0
    result, = (p for p in tmp_path.iterdir() if p != target)
    assert result.name.endswith("_result.png") and len(os.fsencode(result.name)) <= 255
    assert result.name.startswith("é" * 100)


def test_results_never_overwrite_the_command_s_own_input_files(trained, tmp_path, capsys):
    # Found by a new user: "-o" the targets' own folder replaced the layout painted
    # with its result, and a target named like the source labels replaced those.
    _, paths, model_path = trained
    folder = tmp_path / "work"
    (folder / "t").mkdir(parents=True)
    for name, case in (("image.png", "image"), ("labels.png", "labels"), ("layout.png", "moved"),
                       ("t/labels.png", "same")):
        (folder / name).write_bytes(paths[case].read_bytes())
    before = {name: (folder / name).read_bytes() for name in ("image.png", "labels.png", "layout.png")}
    code = cli.main(["from-labels", str(folder / "image.png"), str(folder / "labels.png"),
                     str(folder / "layout.png"), str(folder / "t" / "labels.png"), "-o", str(folder),
                     "--device", "cpu"])
    out = capsys.readouterr().out
    assert code == 0
    assert {name: (folder / name).read_bytes() for name in before} == before
    assert (folder / "layout_result.png").is_file() and (folder / "labels_result.png").is_file()
    assert "(not layout.png: that is one of this command's input files)" in out
    code = cli.main(["synthesize", str(model_path), str(folder / "layout.png"), "-o", str(folder),
                     "--device", "cpu", "--preview"])
    assert code == 0 and (folder / "layout.png").read_bytes() == before["layout.png"]
    # The same file under another name (a hard link here; on a case-insensitive disk
    # 'T.png' is 'T.PNG'; a review) is an input too.
    (folder / "t2").mkdir()
    os.link(folder / "layout.png", folder / "t2" / "linked.png")
    os.link(folder / "layout.png", folder / "linked.png")
    code = cli.main(["synthesize", str(model_path), str(folder / "t2" / "linked.png"), "-o", str(folder),
                     "--device", "cpu", "--preview"])
    assert code == 0 and (folder / "layout.png").read_bytes() == before["layout.png"]
    assert (folder / "linked_result.png").is_file()
    # The model written over its own source image is refused.
    code = cli.main(["train", str(folder / "image.png"), str(folder / "labels.png"),
                     "-o", str(folder / "image.png"), "--steps", "1", "--device", "cpu"])
    err = capsys.readouterr().err
    assert code == 2 and "is the image file" in err and "image.semia" in err
    assert (folder / "image.png").read_bytes() == before["image.png"]


@pytest.mark.parametrize("command", ["train", "synthesize", "from-labels", "demo"])
def test_an_output_path_that_is_a_file_is_refused_before_any_work(trained, tmp_path, monkeypatch, capsys,
                                                                  command):
    # Found by a new user: a traceback (FileExistsError), for train only after the
    # training, so the trained model was lost.
    _, paths, model_path = trained
    monkeypatch.setattr(cli, "_train", lambda *a, **k: pytest.fail("trained before checking the output"))
    blocker = tmp_path / "a file"
    blocker.write_text("")
    image, labels, target = str(paths["image"]), str(paths["labels"]), str(paths["moved"])
    argv = {
        "train": ["train", image, labels, "-o", str(blocker / "m.semia")],
        "synthesize": ["synthesize", str(model_path), target, "-o", str(blocker)],
        "from-labels": ["from-labels", image, labels, target, "-o", str(blocker)],
        "demo": ["demo", "--out", str(blocker / "demo")],
    }[command]
    assert cli.main(argv) == cli.EXIT_INPUT_ERROR
    assert "is a file, not a folder" in capsys.readouterr().err


def test_synthesize_writes_full_resolution_and_the_preview_on_request(trained):
    from napari_semia.model import SemiaModel

    folder, paths, model_path = trained
    full, preview = folder / "full", folder / "preview"
    command = ["synthesize", str(model_path), str(paths["moved"]), "--device", "cpu"]
    assert cli.main([*command, "-o", str(full)]) == 0
    assert cli.main([*command, "-o", str(preview), "--preview"]) == 0
    model = SemiaModel.load(model_path, device="cpu")
    target = read_label_file(paths["moved"])
    written = read_image_file(full / "moved.png"), read_image_file(preview / "moved.png")
    np.testing.assert_array_equal(written[0], model.synthesize(target))
    np.testing.assert_array_equal(written[1], model.synthesize(target, refine=False))
    assert written[1].shape == (SIZE, SIZE, 3)


def test_unknown_target_id_exits_2_with_one_line(trained, capsys):
    folder, paths, model_path = trained
    code = cli.main(["synthesize", str(model_path), str(paths["moved"]), str(paths["bad"]),
                     "-o", str(folder / "bad-out")])
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and "7" in err and "Traceback" not in err
    assert not (folder / "bad-out").exists()  # checked before any work was done


def test_from_labels_writes_full_size_results_with_no_model(tmp_path, capsys):
    from napari_semia.labels_only import LabelsOnlySynthesizer

    paths = write_case(tmp_path)
    out = tmp_path / "out"
    code = cli.main(["from-labels", str(paths["image"]), str(paths["labels"]), str(paths["moved"]),
                     str(paths["same"]), "-o", str(out), "--device", "cpu"])
    assert code == 0 and sorted(p.name for p in out.iterdir()) == ["moved.png", "same.png"]
    image, labels = read_image_file(paths["image"]), read_label_file(paths["labels"])
    # On the device the command used: a GPU's random search draws other patches.
    expected = LabelsOnlySynthesizer(image, labels, device="cpu").synthesize(read_label_file(paths["moved"]))
    np.testing.assert_array_equal(read_image_file(out / "moved.png"), expected)
    assert np.abs(read_image_file(out / "same.png").astype(int) - image).mean() < 2
    assert "moved: 100%" in capsys.readouterr().err
    code = cli.main(["from-labels", str(paths["image"]), str(paths["labels"]), str(paths["moved"]),
                     str(paths["bad"]), "-o", str(tmp_path / "bad-out")])
    assert code == 2 and not (tmp_path / "bad-out").exists()
    err = capsys.readouterr().err
    assert err.startswith("error: bad.png") and "7" in err and "Traceback" not in err


def test_mismatched_training_inputs_exit_2(tmp_path, capsys):
    paths = write_case(tmp_path)
    write_image_file(tmp_path / "small.png", np.zeros((20, 20), np.uint8))
    code = cli.main(["train", str(paths["image"]), str(tmp_path / "small.png"),
                     "-o", str(tmp_path / "m.semia")])
    assert code == 2
    assert "img.png with labels small.png: The labels are 20 × 20 pixels" in capsys.readouterr().err
    assert not (tmp_path / "m.semia").exists()


def test_missing_model_exits_2_without_traceback(tmp_path):
    paths = write_case(tmp_path)
    result = subprocess.run(
        [sys.executable, "-m", "napari_semia.cli", "synthesize", str(tmp_path / "nope.semia"),
         str(paths["moved"]), "-o", str(tmp_path / "out")],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 2
    assert result.stderr.startswith("error:") and "nope.semia" in result.stderr
    assert "Traceback" not in result.stderr


def test_demo_writes_images_and_montage(tmp_path, capsys):
    out = tmp_path / "demo"
    code = cli.main(["demo", "--sample", "coins", "--steps", "1", "--size", str(SIZE),
                     "--device", "cpu", "--out", str(out)])
    assert code == 0
    names = {p.name for p in out.iterdir()}
    assert {"source.png", "labels.png", "target.png", "result.png", "montage.png", "model.semia"} <= names
    source = read_image_file(out / "source.png")
    assert read_image_file(out / "result.png").shape == source.shape
    # The written label maps are id images that ``synthesize`` accepts again.
    assert set(np.unique(read_label_file(out / "target.png"))) <= {0, 1}
    assert str(out.resolve()) in capsys.readouterr().out
    # Again into the same folder: its own files are replaced. A folder holding another
    # model or another program's file is refused before any training (a pass on untidy
    # folders: `--out .` replaced a project's model.semia and labels.png).
    demo = ["demo", "--sample", "coins", "--steps", "1", "--size", str(SIZE), "--device", "cpu", "--out"]
    assert cli.main([*demo, str(out)]) == 0
    other = tmp_path / "project"
    other.mkdir()
    (other / "labels.png").write_bytes((out / "labels.png").read_bytes())  # written by napari-semia
    (other / "notes.txt").write_text("mine")
    assert cli.main([*demo, str(other)]) == 0
    for name, content in (("labels.png", b"my labels"), ("model.semia", b"my model")):
        shutil.rmtree(other)
        other.mkdir()
        (other / name).write_bytes(content)
        assert cli.main([*demo, str(other)]) == cli.EXIT_INPUT_ERROR
        err = capsys.readouterr().err
        assert f"{other / name} is " in err and "the demo would replace" in err and "Traceback" not in err
        assert (other / name).read_bytes() == content and len(list(other.iterdir())) == 1
    # An earlier demo's folder, of this sample or another, its files unmarked (an earlier
    # version's) is the demo's; but for a target.png edited since.
    (other / "model.semia").unlink()
    for name in ("model.semia", "labels.png", "target.png"):
        shutil.copy(out / name, other / name)
    iio.imwrite(other / "labels.png", read_label_file(out / "labels.png"))  # unmarked
    iio.imwrite(other / "target.png", read_label_file(out / "target.png"))  # unmarked, as the demo wrote it
    assert cli.main([*demo, str(other)]) == 0
    assert cli.main(["demo", "--sample", "histology", "--steps", "1", "--size", str(SIZE), "--device", "cpu",
                     "--out", str(other)]) == 0  # (its model trained on its source.png)
    edited = read_label_file(other / "target.png")
    edited[:4] = 0
    iio.imwrite(other / "target.png", edited.astype(np.uint8))
    assert cli.main([*demo, str(other)]) == cli.EXIT_INPUT_ERROR
    assert "target.png is not a file napari-semia wrote" in capsys.readouterr().err
    (other / "model.semia").write_bytes(b"not a model")
    assert cli.main([*demo, str(other)]) == cli.EXIT_INPUT_ERROR
    assert "model.semia is not a model file napari-semia can read" in capsys.readouterr().err


def test_unknown_sample_is_an_argparse_error(capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(["demo", "--sample", "nope"])
    assert info.value.code == 2


@pytest.mark.parametrize("name", ["SIGINT", "SIGTERM", "SIGHUP"])
def test_first_stop_signal_stops_the_trainer_second_aborts(name, monkeypatch):
    from napari_semia import stop_signals

    silenced = []  # (a hang-up silences the terminal: not the one running the tests, with -s)
    monkeypatch.setattr(stop_signals, "silence_terminal", lambda: silenced.append(1))

    class FakeTrainer:
        stop_requested = False

        def stop(self):
            self.stop_requested = True

    number = getattr(signal, name)
    if signal.getsignal(number) == signal.SIG_IGN:
        pytest.skip(f"{name} is ignored here (pytest under nohup or in the background); the "
                    "commands leave an ignored signal ignored")
    trainer = FakeTrainer()
    # Whatever handler was there before comes back (a job started in the background
    # inherits SIGINT ignored, not Python's default handler).
    from napari_semia.stop_signals import STOP_SIGNALS

    before = {n: signal.getsignal(n) for n in STOP_SIGNALS}
    with pytest.raises(KeyboardInterrupt), cli._stop_on_signals(trainer) as received:
        os.kill(os.getpid(), number)
        assert trainer.stop_requested and received == [number]
        assert silenced == ([1] if name == "SIGHUP" else [])
        os.kill(os.getpid(), number)
    assert {n: signal.getsignal(n) for n in STOP_SIGNALS} == before


def test_training_a_batch_system_terminates_saves_the_model(tmp_path, monkeypatch, capsys):
    """SLURM's time limit and ``timeout`` send SIGTERM: the model trained so far is
    saved, and the status says which signal ended the run (the whole run was lost)."""
    from napari_semia.trainer import SemiaTrainer

    paths = write_case(tmp_path)
    original_run = SemiaTrainer.run

    def run_then_terminate(self):
        for progress in original_run(self):
            yield progress
            if progress.step == 1 and not progress.finished:
                os.kill(os.getpid(), signal.SIGTERM)

    monkeypatch.setattr(SemiaTrainer, "run", run_then_terminate)
    model_path = tmp_path / "model.semia"
    code = cli.main(["train", str(paths["image"]), str(paths["labels"]), "-o", str(model_path),
                     "--steps", "50", "--size", str(SIZE), "--device", "cpu"])
    assert code == 128 + signal.SIGTERM
    assert model_path.is_file() and "SIGTERM: Stopping after the current step" in capsys.readouterr().err


def test_an_ignored_stop_signal_stays_ignored_and_generate_stops_once(monkeypatch):
    # A review: 'nohup' ignores SIGHUP so that a run outlives its terminal, and the
    # handler took it back; a second SIGTERM cut generate's own ending short.
    from napari_semia import stop_signals

    before = signal.signal(signal.SIGHUP, signal.SIG_IGN)
    try:
        with stop_signals.handling_stop_signals(stop_signals.interrupt_once()):
            assert signal.getsignal(signal.SIGHUP) is signal.SIG_IGN
            assert signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL
    finally:
        signal.signal(signal.SIGHUP, before)
    handler = stop_signals.interrupt_once()
    with pytest.raises(KeyboardInterrupt):
        handler(signal.SIGTERM)
    handler(signal.SIGTERM)  # (the run is ending already: nothing more)


def test_seeds_past_what_the_generators_take_are_refused_as_options(capsys):
    # A review: --seed 2**64 ended synthesize in an OverflowError traceback.
    for command in (["train", "a.png", "b.png", "-o", "m.semia"],
                    ["synthesize", "m.semia", "t.png", "-o", "o"]):
        with pytest.raises(SystemExit) as exit_info:
            cli.main([*command, "--seed", str(2**64)])
        assert exit_info.value.code == 2 and "--seed: must be at most" in capsys.readouterr().err


def test_widget_name_is_the_one_napari_registers():
    from npe2 import PluginManifest

    manifest = PluginManifest.from_distribution("napari-semia")
    assert cli._plugin_widget_name() == manifest.contributions.widgets[0].display_name


def test_demo_gui_without_napari_says_how_to_install_it(monkeypatch, capsys):
    import builtins

    real_import = builtins.__import__

    def no_napari(name, *args, **kwargs):
        if name.split(".")[0] in ("napari", "qtpy"):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_napari)
    assert cli.main(["demo", "--gui", "--sample", "coins"]) == cli.EXIT_INPUT_ERROR
    err = capsys.readouterr().err
    assert "pip install -e \".[all]\"" in err and "Traceback" not in err


def test_a_flat_image_trains_with_a_warning(tmp_path, capsys):
    image = np.full((SIZE, SIZE), 100, np.uint8)
    labels = np.zeros((SIZE, SIZE), np.uint8)
    labels[:, SIZE // 2:] = 1
    write_image_file(tmp_path / "flat.png", image)
    write_image_file(tmp_path / "labels.png", labels)
    code = cli.main(["train", str(tmp_path / "flat.png"), str(tmp_path / "labels.png"),
                     "-o", str(tmp_path / "m.semia"), "--steps", "1", "--size", str(SIZE), "--device", "cpu"])
    assert code == 0
    # (Not "within 0 of each other": a new user.)
    err = capsys.readouterr().err
    assert "warning: The image is (nearly) constant: 99 % of its pixels hold one value." in err
    # from-labels says it too (it said nothing; a message audit).
    code = cli.main(["from-labels", str(tmp_path / "flat.png"), str(tmp_path / "labels.png"),
                     str(tmp_path / "labels.png"), "-o", str(tmp_path / "out"), "--device", "cpu"])
    assert code == 0 and "warning: The image is (nearly) constant" in capsys.readouterr().err


def test_an_instance_map_trains_with_a_warning(tmp_path, capsys):
    """A cell segmentation (one id per cell) as the labels: each id is a class."""
    image, _ = make_scene(SIZE)
    instances = (np.arange(SIZE)[:, None] // 2 * 16 + np.arange(SIZE)[None, :] // 2).astype(np.uint16)
    write_image_file(tmp_path / "img.png", image)
    write_image_file(tmp_path / "instances.png", instances)  # 2 x 2 blocks: 256 ids
    code = cli.main(["train", str(tmp_path / "img.png"), str(tmp_path / "instances.png"),
                     "-o", str(tmp_path / "m.semia"), "--steps", "1", "--size", str(SIZE), "--device", "cpu"])
    assert code == 0
    err = capsys.readouterr().err
    assert "warning: The source labels hold 256 classes, and each id is a class of its own" in err
    assert "give each kind one id" in err and "swapped" not in err


def test_a_class_too_small_for_the_working_size_is_named(tmp_path, capsys):
    # Found by a new user: a 25-pixel class vanished at a 64-px working size, without a word.
    image, labels = make_scene(SIZE)
    labels = labels.astype(np.uint8)
    labels[9:11, 9:11] = 7  # 2 x 2 across four 2 x 2 blocks of the half size: a quarter of each
    write_image_file(tmp_path / "img.png", image)
    write_image_file(tmp_path / "labels.png", labels)
    args = ["train", str(tmp_path / "img.png"), str(tmp_path / "labels.png"), "-o", str(tmp_path / "m.semia"),
            "--steps", "1", "--device", "cpu", "--size"]
    assert cli.main([*args, str(SIZE // 2)]) == 0
    err = capsys.readouterr().err
    assert (f"warning: The source's class 7 (4 px) is too small to hold a pixel at the working size "
            f"({SIZE // 2} × {SIZE // 2} px)") in err
    assert "A larger working size lets the network learn it." in err
    assert cli.main([*args, str(SIZE)]) == 0
    assert "too small" not in capsys.readouterr().err


def test_a_strip_crushed_by_the_working_size_is_named(tmp_path, capsys):
    # Found by a new user: a 37 x 1000 strip trained at 9 x 256 without a word.
    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, (37, 400, 3), dtype=np.uint8)
    labels = np.zeros((37, 400), np.uint8)
    labels[:, 200:] = 1
    write_image_file(tmp_path / "img.png", image)
    write_image_file(tmp_path / "labels.png", labels)
    args = ["train", str(tmp_path / "img.png"), str(tmp_path / "labels.png"), "-o", str(tmp_path / "m.semia"),
            "--steps", "1", "--device", "cpu", "--size"]
    assert cli.main([*args, "64"]) == 0
    err = capsys.readouterr().err
    assert ("warning: The image is 37 × 400 px, so at the working size (longest side 64 px) it is "
            "8 × 64: the network learns little across 8 px") in err
    assert "A working size of 346 or more or cutting the image" in err
    assert cli.main([*args, "400"]) == 0  # 37 px across at its own size: nothing lost to say
    assert "learns little" not in capsys.readouterr().err


def test_a_transparent_png_is_named_an_opaque_one_is_not(tmp_path, capsys):
    # Found by a new user: a cut-out photo's alpha was synthesized like a colour, so an
    # erased object's area got see-through holes, without a word.
    import imageio.v3 as iio

    image, labels = make_scene(SIZE)
    rgba = np.dstack([image, np.full((SIZE, SIZE), 255, np.uint8)])
    write_image_file(tmp_path / "labels.png", labels.astype(np.uint8))
    for name, alpha_from in (("opaque.png", None), ("cut_out.png", 8)):
        if alpha_from is not None:
            rgba[:, :alpha_from, 3] = 0
        iio.imwrite(tmp_path / name, rgba)
        out = tmp_path / f"out_{name}"
        assert cli.main(["from-labels", str(tmp_path / name), str(tmp_path / "labels.png"),
                         str(tmp_path / "labels.png"), "-o", str(out), "--device", "cpu"]) == 0
        err = capsys.readouterr().err
        said = "cut_out.png is transparent in places (25.0% of its pixels)" in err
        assert said == (alpha_from is not None), err
        # A colour file's result is one too: RGBA where the 4th channel is transparency
        # (written as a TIFF of four channels, it opened as four grey planes).
        (written,) = out.iterdir()
        assert written.suffix == ".png"
        assert read_image_file(written).shape == (SIZE, SIZE, 3 if alpha_from is None else 4)


def test_from_labels_names_a_class_too_blurred_to_be_found(tmp_path, capsys):
    # As train does (s42's materials scientist): the labels-only result of a blurred
    # colour map drew the lost class as the one around it, with no word.
    from scipy import ndimage as ndi

    image, labels = make_scene(SIZE)
    colours = np.array([[0, 160, 0], [230, 120, 0], [0, 200, 230]], np.uint8)
    layout = labels.astype(int)
    layout[4:9, 4:9] = 2  # a spot of 25 px
    sharp = colours[layout]
    write_image_file(tmp_path / "image.png", image)
    for name, colour_map in (("sharp.png", sharp),
                             ("blurred.png", np.round(ndi.gaussian_filter(sharp.astype(float), (1.0, 1.0, 0)))
                              .astype(np.uint8))):
        write_image_file(tmp_path / name, colour_map)
        map_path = str(tmp_path / name)
        assert cli.main(["from-labels", str(tmp_path / "image.png"), map_path, map_path,
                         "-o", str(tmp_path / "out"), "--device", "cpu"]) == 0
        err = capsys.readouterr().err
        assert ("colours of no class" in err) == (name == "blurred.png"), err


def test_a_grey_image_stored_as_colour_is_named(tmp_path, capsys):
    # Found by a new user: a grey SEM image exported as 8-bit RGB trained as three
    # channels with no hint (and the export had lost the microscope's 16 bits).
    image, labels = make_scene(SIZE)
    write_image_file(tmp_path / "labels.png", labels.astype(np.uint8))
    grey = np.repeat(image[..., 1:2], 3, axis=-1)
    for name, picture in (("colour.png", image), ("grey_as_rgb.png", grey)):
        write_image_file(tmp_path / name, picture)
        assert cli.main(["from-labels", str(tmp_path / name), str(tmp_path / "labels.png"),
                         str(tmp_path / "labels.png"), "-o", str(tmp_path / "out"), "--device", "cpu"]) == 0
        err = capsys.readouterr().err
        said = ("note: grey_as_rgb.png is a grey image stored as colour (its three colour channels "
                "are equal)") in err
        assert said == (name == "grey_as_rgb.png"), err
        assert ("open that file instead: this one has 8." in err) == said


def test_classes_lost_at_the_working_size_are_named_in_the_user_s_terms():
    from napari_semia.labels import LabelCodec
    from napari_semia.validation import lost_classes_warning

    assert lost_classes_warning(LabelCodec((0, 3, 9)), {}, (64, 64)) is None
    two = lost_classes_warning(LabelCodec((0, 3, 9)), {1: 1, 2: 30}, (64, 48))
    assert two.startswith("The source's class 3 (1 px), class 9 (30 px) are too small")
    assert "(64 × 48 px)" in two and "learn them." in two
    colours = LabelCodec((1, 2), palette=np.array([[0, 0, 0], [255, 0, 0]]))
    assert "class coloured (255, 0, 0) (12 px) is" in lost_classes_warning(colours, {1: 12}, (32, 32))
    many = lost_classes_warning(LabelCodec(tuple(range(40))), dict.fromkeys(range(1, 20), 3), (32, 32))
    assert many.startswith("19 of the source's classes are too small")


def test_image_and_labels_swapped_are_refused_and_asked_about(tmp_path, capsys):
    # Found by a microscopist: labels first, the fluorescence image second, trained
    # 4241 'classes' at 2.6 s a step with a warning about instance maps alone.
    image, labels = make_scene(SIZE)
    rng = np.random.default_rng(0)
    noisy = (image[..., 0].astype(np.uint16) * 40 + rng.integers(0, 400, (SIZE, SIZE))).astype(np.uint16)
    write_image_file(tmp_path / "labels.png", labels.astype(np.uint8))
    write_image_file(tmp_path / "image.tif", noisy)
    code = cli.main(["train", str(tmp_path / "labels.png"), str(tmp_path / "image.tif"),
                     "-o", str(tmp_path / "m.semia"), "--steps", "1", "--size", str(SIZE), "--device", "cpu"])
    assert code == cli.EXIT_INPUT_ERROR and not (tmp_path / "m.semia").exists()
    err = capsys.readouterr().err
    assert "change from pixel to pixel" in err and "are the image and the labels swapped?" in err
    assert "Traceback" not in err


def test_an_image_given_as_its_own_labels_is_refused_at_once(tmp_path, capsys):
    # Found by a new user: `train img16.tif img16.tif` prepared for 2 min 41 s, then
    # trained 29 469 "classes" at 25-60 s a step, growing to 12.5 GB.
    rng = np.random.default_rng(0)
    image = rng.integers(2000, 52000, (SIZE, SIZE)).astype(np.uint16)
    write_image_file(tmp_path / "img.tif", image)
    started = time.perf_counter()
    code = cli.main(["train", str(tmp_path / "img.tif"), str(tmp_path / "img.tif"),
                     "-o", str(tmp_path / "m.semia"), "--steps", "1", "--size", str(SIZE), "--device", "cpu"])
    assert code == cli.EXIT_INPUT_ERROR and time.perf_counter() - started < 10
    err = capsys.readouterr().err
    assert "change from pixel to pixel" in err and "Is an image given as the labels?" in err
    assert "swapped" not in err


def test_more_classes_than_the_networks_take_are_refused(tmp_path, capsys):
    # An instance map of many small objects (one id each) is no image, but 1156 classes
    # are more than the networks' label input takes.
    side = 136  # 34 x 34 blocks of 4 px: 1156 ids
    image, _ = make_scene(side)
    instances = (np.arange(side)[:, None] // 4 * 34 + np.arange(side)[None, :] // 4).astype(np.uint16)
    write_image_file(tmp_path / "img.png", image)
    write_image_file(tmp_path / "instances.tif", instances)
    code = cli.main(["train", str(tmp_path / "img.png"), str(tmp_path / "instances.tif"),
                     "-o", str(tmp_path / "m.semia"), "--steps", "1", "--size", str(SIZE), "--device", "cpu"])
    assert code == cli.EXIT_INPUT_ERROR
    err = capsys.readouterr().err
    assert "hold 1156 classes" in err and "at most 1024" in err and "give each kind one id" in err


# ------------------------------------------------------------ file io
@pytest.mark.parametrize(
    "image, suffix",
    [
        (np.zeros((4, 4), np.uint8), ".png"),
        (np.zeros((4, 4, 3), np.uint8), ".png"),
        (np.zeros((4, 4), np.uint16), ".tif"),
        (np.zeros((4, 4, 3), np.float32), ".tif"),
        (np.zeros((4, 4, 5), np.uint8), ".tif"),
        (np.zeros((4, 4, 4), np.uint8), ".tif"),  # four channels: as a PNG the fourth was transparency
    ],
)
def test_result_format_follows_the_image(image, suffix):
    assert image_suffix(image) == suffix


def test_a_colour_source_s_four_channels_are_rgba_and_kept_by_the_model(tmp_path):
    from napari_semia.config import TrainingConfig
    from napari_semia.io import file_source_info
    from napari_semia.model import SemiaModel
    from napari_semia.source_info import SourceInfo
    from napari_semia.trainer import SemiaTrainer

    four = np.zeros((4, 4, 4), np.uint8)
    assert image_suffix(four, SourceInfo(colour=True)) == ".png"
    assert image_suffix(four, SourceInfo(("a", "b", "c", "d"), colour=True)) == ".tif"
    assert image_suffix(four.astype(np.uint16), SourceInfo(colour=True)) == ".tif"
    # A PNG's colour; a TIFF's four channels may be four stains; a grey PNG is no colour.
    assert file_source_info(tmp_path / "a.png", four).colour
    assert not file_source_info(tmp_path / "a.tif", four).colour
    assert not file_source_info(tmp_path / "a.png", four[..., 0]).colour
    image, labels = make_scene(SIZE)
    image = np.dstack([image, np.full((SIZE, SIZE), 128, np.uint8)])
    trainer = SemiaTrainer(image, labels, TrainingConfig(steps=1, size=32, width=8, levels=3), device="cpu",
                           source_info=SourceInfo(colour=True))
    for _ in trainer.run():
        pass
    trainer.model.save(tmp_path / "m.semia")
    assert SemiaModel.load(tmp_path / "m.semia", device="cpu").source_info == SourceInfo(colour=True)
    # Continued on a colour file or layer that tells no pixel size, a model keeps its own
    # (a colour-only info, taken for new metadata, lost it; found in review).
    model = trainer.model
    model.source_info = SourceInfo((), (0.5, 0.25), "µm")
    for given in (SourceInfo(colour=True), SourceInfo(), None):
        again = SemiaTrainer(image, labels, device="cpu", resume=model, source_info=given, warn=False)
        colour = given is not None and given.colour
        assert again.source_info == SourceInfo((), (0.5, 0.25), "µm", colour=colour)
    again = SemiaTrainer(image, labels, device="cpu", resume=model, warn=False,
                         source_info=SourceInfo((), (2.0, 2.0), "nm"))
    assert again.source_info == SourceInfo((), (2.0, 2.0), "nm")
    # Field by field: a pixel size alone keeps the model's channel names, and names alone
    # its pixel size (either dropped the other; found in review).
    names, others = ("a", "b", "c", "d"), ("w", "x", "y", "z")
    model.source_info = SourceInfo(names, (0.5, 0.25), "µm")
    for given, kept in ((SourceInfo((), (2.0, 2.0), "nm"), SourceInfo(names, (2.0, 2.0), "nm")),
                        (SourceInfo(others), SourceInfo(others, (0.5, 0.25), "µm"))):
        again = SemiaTrainer(image, labels, device="cpu", resume=model, warn=False, source_info=given)
        assert again.source_info == kept
    with pytest.raises(TypeError, match="no truth value"):
        bool(SourceInfo())


def test_reading_drops_alpha_and_moves_channels_last(tmp_path):
    rgba = np.random.default_rng(1).integers(0, 256, (20, 24, 4), dtype=np.uint8)
    write_image_file(tmp_path / "transparent.png", rgba)  # an alpha that is data is kept in images
    np.testing.assert_array_equal(read_image_file(tmp_path / "transparent.png"), rgba)
    np.testing.assert_array_equal(read_label_file(tmp_path / "transparent.png"), rgba[..., :3])
    rgba[..., 3] = 255
    write_image_file(tmp_path / "rgba.png", rgba)
    np.testing.assert_array_equal(read_image_file(tmp_path / "rgba.png"), rgba[..., :3])
    np.testing.assert_array_equal(read_label_file(tmp_path / "rgba.png"), rgba[..., :3])
    # Stored planar (axes SYX), an RGBA image's opaque alpha is dropped too.
    tifffile.imwrite(tmp_path / "planar.tif", np.moveaxis(rgba, -1, 0), photometric="rgb",
                     planarconfig="separate", extrasamples=["unassalpha"])
    np.testing.assert_array_equal(read_image_file(tmp_path / "planar.tif"), rgba[..., :3])
    # A colour-coded label map stored planar, with or without its colour metadata, is
    # read as colours (untested, a change there went unseen; a mutation audit).
    colours = np.array([[0, 249, 0], [255, 147, 0]], np.uint8)[np.indices((20, 24))[1] // 12]
    tifffile.imwrite(tmp_path / "planar_labels.tif", np.moveaxis(colours, -1, 0), photometric="rgb",
                     planarconfig="separate")
    tifffile.imwrite(tmp_path / "bare_labels.tif", np.moveaxis(colours, -1, 0), photometric="minisblack")
    for name in ("planar_labels.tif", "bare_labels.tif"):
        np.testing.assert_array_equal(read_label_file(tmp_path / name), colours)
    stack = np.arange(5 * 20 * 24, dtype=np.uint16).reshape(5, 20, 24)
    tifffile.imwrite(tmp_path / "stack.tif", stack)
    np.testing.assert_array_equal(read_image_file(tmp_path / "stack.tif"), np.moveaxis(stack, 0, -1))


@pytest.mark.parametrize("dtype", [np.uint16, np.float32, np.float64, np.int32, np.int64, np.float16])
def test_multichannel_results_are_written_channels_first_with_their_axes(tmp_path, dtype):
    # Written (H, W, C) as before, tifffile stored H pages of W x C pixels: Fiji
    # showed a stack of one-row images. Narrower than MAX_CHANNELS on purpose: the
    # named axes, not the sizes, say which axis holds the channels when read back.
    image = (np.random.default_rng(3).random((20, 9, 5)) * 1000).astype(dtype)
    path = write_image_file(tmp_path / "result.tif", image)
    with tifffile.TiffFile(path) as tif:
        assert tif.series[0].axes == "CYX" and tif.series[0].shape == (5, 20, 9)
        assert tif.is_imagej == (dtype in (np.uint16, np.float32))
    back = read_image_file(path)
    assert back.dtype == image.dtype
    np.testing.assert_array_equal(back, image)
    # Colour stays colour: RGB is stored as samples of one page.
    rgb = image[..., :3].astype(np.uint16)
    with tifffile.TiffFile(write_image_file(tmp_path / "rgb.tif", rgb)) as tif:
        assert tif.series[0].axes == "YXS"
    # Four channels are channels (an RGBA source's result is RGB), even with an opaque fourth.
    four = image[..., :4].astype(np.uint8)
    four[..., 3] = 255
    with tifffile.TiffFile(write_image_file(tmp_path / "four.tif", four)) as tif:
        assert tif.series[0].axes == "CYX"
    np.testing.assert_array_equal(read_image_file(tmp_path / "four.tif"), four)
    # Three or four channels saved by Fiji as a channel stack: scikit-image's reader
    # moved their first axis last, and the named axes then moved it again.
    for channels in (3, 4):
        tifffile.imwrite(tmp_path / "fiji.tif", np.moveaxis(image[..., :channels], -1, 0).astype(np.uint16),
                         imagej=True, metadata={"axes": "CYX"})
        np.testing.assert_array_equal(read_image_file(tmp_path / "fiji.tif"),
                                      image[..., :channels].astype(np.uint16))


def test_a_failed_write_keeps_the_file_that_was_there(tmp_path, monkeypatch):
    # Found in review: a failed write deleted the path afterwards, a previous result
    # included, and a failure midway left a half-written file.
    import napari_semia.io as io_module
    from napari_semia.errors import SemiaInputError

    path = write_image_file(tmp_path / "result.tif", np.ones((8, 8, 2), np.uint16))
    before = path.read_bytes()

    def fails_midway(target, image, info, software):
        Path(target).write_bytes(b"half")
        raise ValueError("data type not supported")

    monkeypatch.setattr(io_module, "_write_tiff", fails_midway)
    with pytest.raises(SemiaInputError, match=r"Cannot write .*data type not supported"):
        write_image_file(path, np.zeros((8, 8, 2), np.uint16))
    assert path.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == ["result.tif"]


def test_a_tiff_named_a_z_stack_or_time_series_is_no_multichannel_image(tmp_path, capsys):
    # Found by a time-lapse user: a (5, H, W) ImageJ z-stack trained as one image of
    # five channels; only the 'Source: ... 5 channels' line hinted at it.
    stack = np.random.default_rng(2).integers(0, 4000, (5, SIZE, SIZE), dtype=np.uint16)
    tifffile.imwrite(tmp_path / "z.tif", stack, imagej=True, metadata={"axes": "ZYX"})
    tifffile.imwrite(tmp_path / "channels.tif", stack, imagej=True, metadata={"axes": "CYX"})
    np.testing.assert_array_equal(read_image_file(tmp_path / "channels.tif"), np.moveaxis(stack, 0, -1))
    labels = write_image_file(tmp_path / "labels.png", make_scene(SIZE)[1].astype(np.uint8))
    code = cli.main(["train", str(tmp_path / "z.tif"), str(labels), "-o", str(tmp_path / "m.semia"),
                     "--steps", "1", "--size", "16", "--device", "cpu"])
    err = capsys.readouterr().err
    assert code == 2 and "z-stack" in err and "Traceback" not in err
    assert not (tmp_path / "m.semia").exists()
    # Nor labels: three planes read as a colour-coded map, trained on id combinations.
    layouts = np.stack([make_scene(SIZE)[1].astype(np.uint8)] * 3)
    tifffile.imwrite(tmp_path / "labels_z.tif", layouts, imagej=True, metadata={"axes": "ZYX"})
    code = cli.main(["train", str(tmp_path / "channels.tif"), str(tmp_path / "labels_z.tif"), "-o",
                     str(tmp_path / "m.semia"), "--steps", "1", "--size", "16", "--device", "cpu"])
    err = capsys.readouterr().err
    assert code == 2 and "label file" in err and "z-stack" in err


def test_tiff_channel_axis_names_where_a_file_keeps_its_channels(tmp_path):
    from napari_semia.io import tiff_channel_axis

    planes = np.zeros((3, SIZE, SIZE), np.uint16)
    cases = {"CYX": (planes, 0), "ZCYX": (np.stack([planes] * 2), 1), "ZYX": (planes, None),
             "YXS": (np.zeros((SIZE, SIZE, 3), np.uint8), None)}
    for axes, (array, expected) in cases.items():
        tifffile.imwrite(tmp_path / f"{axes}.tif", array, imagej=True, metadata={"axes": axes})
        assert tiff_channel_axis(tmp_path / f"{axes}.tif", array.shape) == expected, axes
    assert tiff_channel_axis(tmp_path / "CYX.tif", (SIZE, SIZE)) is None  # not the array read from it
    write_image_file(tmp_path / "a.png", np.zeros((SIZE, SIZE, 3), np.uint8))
    assert tiff_channel_axis(tmp_path / "a.png", (SIZE, SIZE, 3)) is None


def test_plane_picks_one_plane_of_stacked_files(tmp_path, capsys):
    from napari_semia.errors import SemiaInputError

    # The refusal above left a time-lapse user with files to split in Fiji first.
    image, labels = make_scene(SIZE)
    images = np.stack([image // 3, image, image // 2])  # a z-stack of RGB planes: ZYXS
    tifffile.imwrite(tmp_path / "z.tif", images, imagej=True, metadata={"axes": "ZYXS"})
    label_stack = np.stack([np.roll(labels, 4, 1), labels, labels]).astype(np.uint8)
    tifffile.imwrite(tmp_path / "labels_z.tif", label_stack, imagej=True, metadata={"axes": "ZYX"})
    model_path = tmp_path / "m.semia"
    code = cli.main(["train", str(tmp_path / "z.tif"), str(tmp_path / "labels_z.tif"), "-o",
                     str(model_path), "--plane", "1", "--steps", "1", "--size", "16", "--device", "cpu"])
    assert code == 0
    from napari_semia.model import SemiaModel

    model = SemiaModel.load(model_path, device="cpu")
    np.testing.assert_array_equal(model.full_image, image)
    # A stacked target: plane 0 is the moved layout, named for its plane; a 2D one is read whole.
    write_image_file(tmp_path / "flat.png", labels.astype(np.uint8))
    capsys.readouterr()
    code = cli.main(["synthesize", str(model_path), str(tmp_path / "labels_z.tif"),
                     str(tmp_path / "flat.png"), "-o", str(tmp_path / "out"), "--plane", "0",
                     "--device", "cpu", "--preview"])
    assert code == 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["flat.png", "labels_z_plane0.png"]
    assert "is not used" not in capsys.readouterr().err
    # Where no file is a stack, --plane says it is not used.
    code = cli.main(["synthesize", str(model_path), str(tmp_path / "flat.png"), "-o", str(tmp_path / "out"),
                     "--plane", "0", "--device", "cpu", "--preview"])
    assert code == 0 and "warning: --plane 0 is not used" in capsys.readouterr().err
    np.testing.assert_array_equal(read_image_file(tmp_path / "out" / "labels_z_plane0.png"),
                                  model.synthesize(label_stack[0], refine=False))
    # A plain stack of more planes than an image has channels is a stack too (it was
    # refused as 'an image of 96 channels'), while (H, W, C) stored as H pages is not.
    tifffile.imwrite(tmp_path / "plain.tif", np.stack([np.tile(image[..., 0], (1, 3))] * 20))
    assert read_image_file(tmp_path / "plain.tif", plane=4).shape == (SIZE, 3 * SIZE)
    with pytest.raises(SemiaInputError, match="a stack of 20 planes"):
        read_image_file(tmp_path / "plain.tif")
    tifffile.imwrite(tmp_path / "hwc.tif", np.repeat(image, 2, axis=0)[..., :2].copy())
    assert read_image_file(tmp_path / "hwc.tif").shape == (2 * SIZE, SIZE, 2)
    # Nor is (H, W, 20) (found in review: called 'a stack of H planes', --plane gave a row).
    # (training then refuses it for its 20 channels, as before).
    tifffile.imwrite(tmp_path / "hwc20.tif", np.zeros((40, 50, 20), np.uint16))
    assert read_image_file(tmp_path / "hwc20.tif").shape == (40, 50, 20)
    # Planes too narrow to be told from channels (64 px or less) are a stack once a plane
    # is asked for: a stack of 48 x 48 crops was read as 48 channels and refused, and
    # --plane said it was unused (a docs audit).
    from napari_semia.io import unused_plane_note

    crops = np.stack([np.full((48, 48), i, np.uint8) for i in range(20)])
    tifffile.imwrite(tmp_path / "crops.tif", crops)
    np.testing.assert_array_equal(read_image_file(tmp_path / "crops.tif", plane=4), crops[4])
    np.testing.assert_array_equal(read_label_file(tmp_path / "crops.tif", plane=5), crops[5])
    assert unused_plane_note(4, [tmp_path / "crops.tif"]) is None
    assert read_image_file(tmp_path / "crops.tif").shape == (20, 48, 48)  # (refused at training)
    # ... and results of such a stack are named for their plane (a review: untested).
    small = (make_scene(48)[1]).astype(np.uint8)
    write_image_file(tmp_path / "small.png", make_scene(48)[0])
    write_image_file(tmp_path / "small_labels.png", small)
    tifffile.imwrite(tmp_path / "layouts.tif", np.stack([small] * 20))
    capsys.readouterr()
    for plane in (2, 5):
        assert cli.main(["from-labels", str(tmp_path / "small.png"), str(tmp_path / "small_labels.png"),
                         str(tmp_path / "layouts.tif"), "-o", str(tmp_path / "narrow"), "--plane", str(plane),
                         "--device", "cpu"]) == 0, capsys.readouterr().err
    written = sorted(p.name for p in (tmp_path / "narrow").iterdir())
    assert written == ["layouts_plane2.png", "layouts_plane5.png"]
    # A plane the file does not have, named with the planes it has.
    code = cli.main(["from-labels", str(tmp_path / "z.tif"), str(tmp_path / "labels_z.tif"),
                     str(tmp_path / "flat.png"), "-o", str(tmp_path / "out2"), "--plane", "3"])
    err = capsys.readouterr().err
    assert code == 2 and "--plane 3" in err and "planes 0 to 2" in err and "Traceback" not in err


def test_a_colour_map_spoiled_by_jpeg_is_refused_in_words_that_name_the_compression(tmp_path):
    # A docs audit: a face map at JPEG's default quality was "a photo", with no word of
    # saving it again without loss. (Lightly compressed maps are read: other tests.)
    from napari_semia.errors import SemiaInputError

    rng = np.random.default_rng(0)
    seeds = rng.integers(0, 128, (60, 2))
    rows, cols = np.indices((128, 128))
    regions = ((rows[..., None] - seeds[:, 0]) ** 2 + (cols[..., None] - seeds[:, 1]) ** 2).argmin(-1)
    colour_map = rng.integers(0, 256, (10, 3)).astype(np.uint8)[regions % 10]
    skimage.io.imsave(tmp_path / "labels.jpg", colour_map, quality=75, check_contrast=False)
    with pytest.raises(SemiaInputError, match=r"JPEG that looks like a photo.*save label maps as PNG"):
        read_label_file(tmp_path / "labels.jpg")
    skimage.io.imsave(tmp_path / "labels.png", colour_map, check_contrast=False)
    np.testing.assert_array_equal(read_label_file(tmp_path / "labels.png"), colour_map)


def test_a_jpeg_of_label_ids_is_refused(tmp_path):
    from napari_semia.errors import SemiaInputError

    labels = np.zeros((32, 40), np.uint8)
    labels[8:24, 10:30] = 200
    skimage.io.imsave(tmp_path / "labels.jpg", labels, check_contrast=False)
    with pytest.raises(SemiaInputError, match=r"JPEG of ids.*PNG, or as TIFF without JPEG compression"):
        read_label_file(tmp_path / "labels.jpg")
    # ... and so is a TIFF compressed as JPEG (Fiji, QuPath, Photoshop write them): a
    # 4-class map read as 58 ids trained without a word (a pass over other tools' files).
    tifffile.imwrite(tmp_path / "jpeg.tif", labels, compression="jpeg")
    with pytest.raises(SemiaInputError, match=r"JPEG-compressed TIFF of ids"):
        read_label_file(tmp_path / "jpeg.tif")
    tifffile.imwrite(tmp_path / "lzw.tif", labels, compression="lzw")
    np.testing.assert_array_equal(read_label_file(tmp_path / "lzw.tif"), labels)


def test_a_few_planes_that_are_no_colour_map_are_refused_as_labels(tmp_path, capsys):
    # A pass over other tools' files: napari's save of a 3D Labels layer (int32 planes,
    # which tifffile marks RGB) was read as one colour map, and four per-class masks lost
    # the fourth as transparency, its class merged into another; both without a word.
    from napari_semia.errors import SemiaInputError

    labels = np.zeros((32, 40), np.uint8)
    labels[8:24, 10:30] = 1
    masks = np.stack([(labels == k).astype(np.uint8) * 255 for k in (0, 1, 1, 0)])
    tifffile.imwrite(tmp_path / "z3.tif", np.stack([labels] * 3).astype(np.int32))
    tifffile.imwrite(tmp_path / "masks.tif", masks, photometric="minisblack")
    tifffile.imwrite(tmp_path / "channels.tif", masks[:3], imagej=True, metadata={"axes": "CYX"})
    for name, planes in (("z3.tif", 3), ("masks.tif", 4), ("channels.tif", 3)):
        with pytest.raises(SemiaInputError, match=rf"{name}' holds {planes} planes of 32 × 40 px.*--plane N"):
            read_label_file(tmp_path / name)
    # --plane picks one of them (napari's 3D Labels save was a dead end: --plane was "not
    # used", then the file refused), and the results are named for it.
    np.testing.assert_array_equal(read_label_file(tmp_path / "z3.tif", plane=2), labels)
    with pytest.raises(SemiaInputError, match=r"--plane 3: the label file .* has planes 0 to 2"):
        read_label_file(tmp_path / "z3.tif", plane=3)
    image, _ = make_scene(40)
    write_image_file(tmp_path / "image.png", image[:32])
    write_image_file(tmp_path / "labels.png", labels)
    assert cli.main(["from-labels", str(tmp_path / "image.png"), str(tmp_path / "labels.png"),
                     str(tmp_path / "z3.tif"), "-o", str(tmp_path / "out"), "--plane", "1",
                     "--device", "cpu"]) == 0
    assert "is not used" not in capsys.readouterr().err
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["z3_plane1.png"]
    # Colour maps the file stores as planes stay colour maps: 16-bit RGB, and RGBA whose
    # alpha the file names, transparent in places (a review: both were refused).
    colours = np.stack([labels * 200, labels * 50, 30 + labels * 0])
    alpha = np.full((1, 32, 40), 255, np.uint8)
    alpha[0, :4] = 0
    tifffile.imwrite(tmp_path / "rgb16.tif", colours.astype(np.uint16) * 257, photometric="rgb",
                     planarconfig="separate")
    tifffile.imwrite(tmp_path / "rgba.tif", np.concatenate([colours, alpha]).astype(np.uint8),
                     photometric="rgb", planarconfig="separate", extrasamples=["unassalpha"])
    for name, dtype in (("rgb16.tif", np.uint16), ("rgba.tif", np.uint8)):
        read = read_label_file(tmp_path / name)
        assert read.shape == (32, 40, 3) and read.dtype == dtype, name


@pytest.mark.parametrize("name, save", [
    ("ids.webp", {"quality": 80}),  # Pillow reads WebP as colour
    ("rgb_ids.jpg", {"quality": 92}),  # ids written by an app that always writes colour
])
def test_lossy_label_ids_read_as_colour_are_refused_too(tmp_path, name, save):
    # Found by a new user: read as three near-black colours, their compression noise
    # gave a sixth of an object's pixels another class, without a word.
    from PIL import Image

    from napari_semia.errors import SemiaInputError

    ids = np.zeros((60, 80), np.uint8)
    ids[10:30, 10:40], ids[35:55, 45:75] = 1, 2
    Image.fromarray(ids).convert("RGB").save(tmp_path / name, **save)
    with pytest.raises(SemiaInputError, match=r"(JPEG|lossy WebP) of ids.*PNG, or as TIFF without JPEG"):
        read_label_file(tmp_path / name)
    # Greys far apart are a colour-coded map's (black, grey, white): read from a JPEG (a
    # review); not with a 255 'void' among ids, nor one of ids 0 to 40 (a second review).
    greys = np.stack([ids * 120] * 3, axis=-1).astype(np.uint8)
    Image.fromarray(greys).save(tmp_path / "greys.jpg", quality=92)
    assert read_label_file(tmp_path / "greys.jpg").shape == (60, 80, 3)
    # Nor ids in thin lines, whose pixels make no whole patches (a third review).
    lines = np.zeros((60, 80), np.uint8)
    lines[::6, :], lines[:, ::7] = 1, 1
    Image.fromarray(lines).convert("RGB").save(tmp_path / f"lines{Path(name).suffix}", **save)
    with pytest.raises(SemiaInputError, match="of ids or grey levels"):
        read_label_file(tmp_path / f"lines{Path(name).suffix}")
    for kind, last in (("void", 255), ("forty", 40)):
        values = ids * (1 if kind == "void" else 20)
        values[50:60, 0:20] = last
        Image.fromarray(values).convert("RGB").save(tmp_path / f"{kind}{Path(name).suffix}", **save)
        with pytest.raises(SemiaInputError, match="of ids or grey levels"):
            read_label_file(tmp_path / f"{kind}{Path(name).suffix}")
    # Lossless WebP, and a lossy one of colours, are read.
    Image.fromarray(ids).convert("RGB").save(tmp_path / "lossless.webp", lossless=True)
    assert read_label_file(tmp_path / "lossless.webp").shape == (60, 80, 3)
    colours = np.stack([ids * 100, ids * 50, 255 - ids * 100], axis=-1).astype(np.uint8)
    Image.fromarray(colours).save(tmp_path / "colours.webp", quality=90)
    assert read_label_file(tmp_path / "colours.webp").shape == (60, 80, 3)


def test_a_grey_label_map_with_transparency_is_read_without_it(tmp_path):
    # GIMP's mask layer: it was refused as "shape (60, 80, 2)", "for a stack, ...".
    from PIL import Image

    ids = np.zeros((60, 80), np.uint8)
    ids[10:30, 10:40] = 1
    Image.fromarray(ids).convert("LA").save(tmp_path / "mask.png")
    np.testing.assert_array_equal(read_label_file(tmp_path / "mask.png"), ids)
    # An opaque grey image of the kind is grey, not two channels.
    grey = (np.arange(60 * 80).reshape(60, 80) % 251).astype(np.uint8)
    Image.fromarray(grey).convert("LA").save(tmp_path / "grey.png")
    np.testing.assert_array_equal(read_image_file(tmp_path / "grey.png"), grey)


def test_lzw_and_jpeg_compressed_tiffs_are_read(tmp_path):
    # Found by a new user: both needed imagecodecs, which was no dependency, and were
    # refused as "not an image in a format this plugin reads".
    from PIL import Image

    rgb = (np.arange(40 * 60 * 3).reshape(40, 60, 3) % 251).astype(np.uint8)
    Image.fromarray(rgb).save(tmp_path / "lzw.tif", compression="tiff_lzw")
    np.testing.assert_array_equal(read_image_file(tmp_path / "lzw.tif"), rgb)
    Image.fromarray(rgb).save(tmp_path / "jpeg.tif", compression="jpeg")
    assert read_image_file(tmp_path / "jpeg.tif").shape == (40, 60, 3)


@pytest.mark.parametrize("name", ["print.jpg", "print.png", "print.tif"])
def test_a_cmyk_jpeg_is_read_as_the_rgb_it_shows(tmp_path, name):
    # Found by a new user: its four ink channels were written as an RGBA PNG, fully
    # transparent (K = 0) and of inverted colours. Named otherwise, it is read by its
    # content too (a reread: it gave its inks).
    from PIL import Image

    rgb = np.zeros((40, 60, 3), np.uint8)
    rgb[...] = (40, 90, 60)
    rgb[10:30, 10:40] = (200, 60, 40)
    Image.fromarray(rgb).convert("CMYK").save(tmp_path / name, format="JPEG", quality=95)
    image = read_image_file(tmp_path / name)
    assert image.shape == (40, 60, 3)
    assert np.abs(image.astype(int) - rgb).max() < 12


def test_indexed_colour_maps_read_otherwise_than_the_source_labels_are_named(tmp_path, capsys):
    # Found by a new user: Fiji's label image with a lookup table, saved as PNG (read
    # as its colours, as napari reads it), against labels of ids was refused with
    # "paint the target with those ids", which the file held.
    import tifffile
    from PIL import Image

    image, labels = make_scene(SIZE)
    write_image_file(tmp_path / "image.png", image)
    ids = labels.astype(np.uint8)
    indexed = Image.new("P", ids.shape[::-1])
    indexed.putdata(ids.flatten().tolist())
    indexed.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    indexed.save(tmp_path / "target.png")
    colours = np.zeros((3, 256), np.uint16)
    colours[:, 1] = (65535, 0, 0)
    tifffile.imwrite(tmp_path / "labels.tif", ids, photometric="palette", colormap=colours)
    code = cli.main(["from-labels", str(tmp_path / "image.png"), str(tmp_path / "labels.tif"),
                     str(tmp_path / "target.png"), "-o", str(tmp_path / "out"), "--device", "cpu"])
    err = capsys.readouterr().err
    assert code == 2 and "indexed-colour PNG, read as its colours" in err and "Traceback" not in err
    # An indexed TIFF against colour-coded labels is read as its table's colours (as
    # Fiji shows it). Read as its indices, those in 1..K were taken for class numbers
    # (most frequent class first): here the object and the background swapped without
    # a word (a docs audit).
    colours[:, 1], colours[:, 2] = (65535, 0, 0), (0, 0, 0)
    tifffile.imwrite(tmp_path / "swapped.tif", (2 - ids).astype(np.uint8), photometric="palette",
                     colormap=colours)
    # Ids saved with a lookup table of other colours (Fiji's glasbey) are read as ids, as
    # before: read as the table's colours, a valid map was refused (a review). Where both
    # readings are valid and differ, the colours are, and a warning says so.
    ids_with_lut = colours.copy()
    ids_with_lut[:, 1], ids_with_lut[:, 2] = (0, 65535, 0), (65535, 65535, 0)
    tifffile.imwrite(tmp_path / "ids_lut.tif", (1 + ids).astype(np.uint8), photometric="palette",
                     colormap=ids_with_lut)
    for target, warned in (("labels.tif", False), ("swapped.tif", True), ("ids_lut.tif", False)):
        code = cli.main(["from-labels", str(tmp_path / "image.png"), str(tmp_path / "target.png"),
                         str(tmp_path / target), "-o", str(tmp_path / "out"), "--device", "cpu"])
        err = capsys.readouterr().err
        assert code == 0, err
        assert ("its indices, read as class numbers, would give another layout" in err) == warned, target
        # Ids against colour-coded labels: how they were read is said (the same map's ids
        # from another tool were read with classes swapped, without a word).
        ids_said = (f"note: The target {target}: ids, read as the classes of the colours the model's "
                    f"labels have, numbered from the most frequent (1) down: 1 (0, 0, 0), 2 (255, 0, 0).")
        assert (ids_said in err) == (target == "ids_lut.tif"), (target, err)
        result = read_image_file(tmp_path / "out" / target.replace(".tif", ".png")).astype(float)
        assert np.abs(result - image).mean() < 10, target  # the layout of the source: the source again


def test_a_min_is_white_tiff_is_warned_of(tmp_path, capsys):
    # Found by a new user: viewers show a scanner's min-is-white TIFF inverted; its
    # values, used as stored, gave results that looked like negatives, without a word.
    import tifffile

    image, labels = make_scene(SIZE)
    tifffile.imwrite(tmp_path / "scan.tif", image[..., 0], photometric="miniswhite")
    write_image_file(tmp_path / "labels.png", labels.astype(np.uint8))
    code = cli.main(["from-labels", str(tmp_path / "scan.tif"), str(tmp_path / "labels.png"),
                     str(tmp_path / "labels.png"), "-o", str(tmp_path / "out"), "--device", "cpu"])
    assert code == 0 and "warning: 'scan.tif' is stored 'min-is-white'" in capsys.readouterr().err
    tifffile.imwrite(tmp_path / "plain.tif", image[..., 0])
    code = cli.main(["from-labels", str(tmp_path / "plain.tif"), str(tmp_path / "labels.png"),
                     str(tmp_path / "labels.png"), "-o", str(tmp_path / "out"), "--device", "cpu"])
    assert code == 0 and "min-is-white" not in capsys.readouterr().err


def test_files_named_as_another_format_are_read_as_what_they_are(tmp_path):
    # Found by a new user: a JPEG of ids named .png trained on its noise as classes; a
    # PNG named .tif was refused as "not a TIFF file".
    from PIL import Image

    from napari_semia.errors import SemiaInputError

    ids = np.zeros((60, 80), np.uint8)
    ids[10:30, 10:40], ids[35:55, 45:75] = 1, 2
    Image.fromarray(ids * 100).save(tmp_path / "labels.png", format="JPEG", quality=90)
    with pytest.raises(SemiaInputError, match="is a JPEG of ids"):
        read_label_file(tmp_path / "labels.png")
    rgb = (np.arange(60 * 80 * 3).reshape(60, 80, 3) % 251).astype(np.uint8)
    Image.fromarray(rgb).save(tmp_path / "image.tif", format="PNG")
    np.testing.assert_array_equal(read_image_file(tmp_path / "image.tif"), rgb)


def test_unreadable_file_is_an_input_error(tmp_path, capsys):
    from napari_semia.errors import SemiaInputError

    (tmp_path / "junk.png").write_bytes(b"not an image")
    with pytest.raises(SemiaInputError, match="Cannot read") as info:
        read_image_file(tmp_path / "junk.png")
    # Not imageio's advice to pip-install video plugins.
    assert "is damaged" in str(info.value) and "pip install" not in str(info.value)
    # tifffile reads a damaged TIFF as an empty array, with a log line of its internals.
    (tmp_path / "damaged.tif").write_bytes(b"II*\0garbage")
    with pytest.raises(SemiaInputError, match="holds no image"):
        read_image_file(tmp_path / "damaged.tif")
    assert "TiffPages" not in capsys.readouterr().err
    with pytest.raises(SemiaInputError, match="does not exist"):
        read_label_file(tmp_path / "missing.png")
    # A folder is no missing file (a new user was told it did not exist).
    with pytest.raises(SemiaInputError, match="is a folder: give the file itself"):
        read_label_file(tmp_path)


def test_demo_gui_opens_the_sample_with_the_widget_docked(make_napari_viewer, monkeypatch, capsys):
    import napari

    viewers = []

    def make_viewer(**kwargs):
        viewers.append(make_napari_viewer(**kwargs))
        return viewers[-1]

    monkeypatch.setattr(napari, "Viewer", make_viewer)
    monkeypatch.setattr(napari, "run", lambda *args, **kwargs: None)
    assert cli.main(["demo", "--gui", "--sample", "coins", "--steps", "7", "--size", "64"]) == 0
    (viewer,) = viewers
    assert [layer.name for layer in viewer.layers] == ["coins image", "coins labels", "coins target"]
    (name,) = [name for name in viewer.window.dock_widgets if cli._plugin_widget_name() in name]
    # The training options reach the widget (they were ignored with --gui).
    settings = viewer.window.dock_widgets[name].settings
    assert (settings.preset, settings.steps, settings.size, settings.device) == ("quick", 7, 64, "auto")
    # A device this machine lacks is refused before napari opens, as without --gui (the
    # widget took 'garbage' and showed 'auto'); --out, unused, is said to be.
    assert cli.main(["demo", "--gui", "--device", "garbage"]) == cli.EXIT_INPUT_ERROR and len(viewers) == 1
    assert cli.main(["demo", "--gui", "--sample", "coins", "--out", "elsewhere"]) == 0 and len(viewers) == 2
    assert "--out is not used with --gui" in capsys.readouterr().err


def test_progress_is_refreshed_seldom_in_a_log_and_often_on_a_terminal():
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    from napari_semia.terminal import LOG_PROGRESS_INTERVAL, progress_interval

    assert progress_interval(Terminal()) == 0.1
    assert progress_interval(io.StringIO()) == LOG_PROGRESS_INTERVAL >= 5
    closed = io.StringIO()
    closed.close()
    assert progress_interval(closed) == LOG_PROGRESS_INTERVAL


def test_the_training_bar_shows_the_trainer_s_time_left():
    from napari_semia.training_progress import TrainingProgress

    progress = TrainingProgress(step=10, total_steps=100, losses={"D": 0.5123}, elapsed_s=5.0, eta_s=221.0)
    assert cli.training_postfix(progress) == {"left": "03:41", "D": "0.512"}
    assert "{remaining}" not in cli.TRAINING_BAR_FORMAT  # tqdm's own guess is not shown
    # Stopped at step 10 (Ctrl-C): the last update has no time left to show.
    stopped = TrainingProgress(step=10, total_steps=100, losses={"D": 0.5123}, elapsed_s=5.0, eta_s=0.0,
                               finished=True, stopped=True)
    assert cli.training_postfix(stopped) == {"D": "0.512"}


def test_ctrl_c_while_the_parser_imports_torch_is_an_interrupt(monkeypatch, capsys):
    """Ctrl-C in the first second (building the parser imports torch) gave a
    40-line traceback from inside torch."""

    def interrupted():
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "build_parser", interrupted)
    assert cli.main(["train", "a.png", "b.png", "-o", "m.semia"]) == cli.EXIT_INTERRUPTED
    assert capsys.readouterr().err == "Interrupted.\n"


@pytest.mark.parametrize("kind", ["imagej", "ome"])
def test_channel_names_and_pixel_size_go_from_the_source_file_into_the_results(tmp_path, kind, capsys):
    # Found by a microscopist: results were written without the source's calibration
    # (0.325 µm pixels), and a 3-channel uint16 result as an RGB photo, its
    # channel names lost.
    from napari_semia.io import read_source_info
    from napari_semia.model import SemiaModel

    image, labels = make_scene(SIZE, rgb=False)
    cells = np.stack([image, 255 - image, image // 2]).astype(np.uint16) * 100  # (C, H, W)
    names = ["DAPI", "Actin", "Spots"]
    if kind == "imagej":
        tifffile.imwrite(tmp_path / "cells.tif", cells, imagej=True, resolution=(1 / 0.325, 1 / 0.5),
                         metadata={"axes": "CYX", "unit": "micron", "Labels": names})
    else:
        tifffile.imwrite(tmp_path / "cells.tif", cells, ome=True,
                         metadata={"axes": "CYX", "PhysicalSizeX": 0.325, "PhysicalSizeY": 0.5,
                                   "PhysicalSizeXUnit": "µm", "PhysicalSizeYUnit": "µm",
                                   "Channel": {"Name": names}})
    labels_path = write_image_file(tmp_path / "labels.png", labels.astype(np.uint8))
    target_path = write_image_file(tmp_path / "moved.png", moved(labels).astype(np.uint8))
    model_path = tmp_path / "model.semia"
    assert cli.main(["train", str(tmp_path / "cells.tif"), str(labels_path), "-o", str(model_path),
                     "--steps", "2", "--size", str(SIZE), "--device", "cpu"]) == 0
    err = capsys.readouterr().err
    assert "Source: an image of 3 channels (channels DAPI, Actin, Spots; pixel 0.5 × 0.325 µm)" in err
    info = SemiaModel.load(model_path, device="cpu").source_info
    assert info.channel_names == tuple(names) and info.unit == "µm"
    np.testing.assert_allclose(info.pixel_size, (0.5, 0.325), rtol=1e-6)
    for command, folder in ((["synthesize", str(model_path)], "synth"),
                            (["from-labels", str(tmp_path / "cells.tif"), str(labels_path)], "alone")):
        out = tmp_path / folder
        assert cli.main([*command, str(target_path), "-o", str(out), "--device", "cpu"]) == 0
        with tifffile.TiffFile(out / "moved.tif") as tif:
            assert tif.series[0].axes == "CYX" and tif.series[0].shape == (3, SIZE, SIZE)  # no RGB
        written = read_source_info(out / "moved.tif")
        assert written.channel_names == tuple(names) and written.unit == "µm"
        np.testing.assert_allclose(written.pixel_size, (0.5, 0.325), rtol=1e-6)
        assert read_image_file(out / "moved.tif").dtype == np.uint16
    # A file with nothing to say: nothing kept, and 8-bit results stay PNG.
    grey = write_image_file(tmp_path / "grey.tif", image)
    assert read_source_info(grey).is_empty and read_source_info(labels_path).is_empty


def test_a_grey_image_s_pixel_size_is_kept_in_every_tiff_type(tmp_path):
    from napari_semia.io import read_source_info
    from napari_semia.source_info import SourceInfo

    info = SourceInfo((), (0.2, 0.1), "µm")
    for dtype in (np.uint8, np.uint16, np.int16, np.float32, np.float64):
        image = (np.arange(12 * 16).reshape(12, 16) % 50).astype(dtype)
        assert image_suffix(image, info) == ".tif"  # (an 8-bit PNG would lose it)
        path = write_image_file(tmp_path / f"{np.dtype(dtype).name}.tif", image, info)
        np.testing.assert_array_equal(read_image_file(path), image)
        back = read_source_info(path)
        assert back.unit == "µm", dtype
        np.testing.assert_allclose(back.pixel_size, (0.2, 0.1), rtol=1e-6)
    # Colour stays colour, with its calibration.
    rgb = np.zeros((12, 16, 3), np.uint8)
    with tifffile.TiffFile(write_image_file(tmp_path / "rgb.tif", rgb, info)) as tif:
        assert tif.series[0].axes == "YXS"
    assert read_source_info(tmp_path / "rgb.tif").pixel_size is not None
    for dtype in (np.uint16, np.float16, np.bool_):  # colour of other types: written, read back
        other = (np.arange(12 * 16 * 3).reshape(12, 16, 3) % 3).astype(dtype)
        written = write_image_file(tmp_path / "o.tif", other, info)
        np.testing.assert_array_equal(read_image_file(written), other)


def test_a_16_bit_colour_png_is_read_with_its_16_bits(tmp_path):
    # Found by a new user: Pillow (under imageio and scikit-image) read a 16-bit RGB
    # PNG as 8-bit, and the results were written as 8-bit PNGs, without a word.
    import png

    from napari_semia.io import png_reads_as_8_bit

    rgb = (np.random.default_rng(0).random((12, 16, 3)) * 65535).astype(np.uint16)
    png.from_array(rgb.reshape(12, -1), "RGB;16").save(tmp_path / "photo16.png")
    back = read_image_file(tmp_path / "photo16.png")
    assert back.dtype == np.uint16
    np.testing.assert_array_equal(back, rgb)
    opaque = np.concatenate([rgb, np.full((12, 16, 1), 65535, np.uint16)], -1)
    png.from_array(opaque.reshape(12, -1), "RGBA;16").save(tmp_path / "opaque16.png")
    np.testing.assert_array_equal(read_image_file(tmp_path / "opaque16.png"), rgb)  # alpha dropped
    assert png_reads_as_8_bit(tmp_path / "photo16.png")
    write_image_file(tmp_path / "photo8.png", (rgb >> 8).astype(np.uint8))
    write_image_file(tmp_path / "grey16.png", rgb[..., 0])
    assert not png_reads_as_8_bit(tmp_path / "photo8.png") and not png_reads_as_8_bit(tmp_path / "grey16.png")
    np.testing.assert_array_equal(read_image_file(tmp_path / "grey16.png"), rgb[..., 0])


def test_labels_of_a_turned_photo_name_its_exif_orientation(tmp_path, capsys):
    # Found by a photographer: a phone photo stored on its side (EXIF orientation 6)
    # was refused against labels painted upright with sizes only ("600 x 400 vs 400 x 600").
    from PIL import Image

    image, labels = make_scene(SIZE)
    photo = Image.fromarray(image[:, :24])  # 32 x 24, shown 24 x 32 upright
    exif = photo.getexif()
    exif[0x0112] = 6
    photo.save(tmp_path / "phone.jpg", exif=exif.tobytes())
    upright = write_image_file(tmp_path / "labels.png", labels[:24, :].astype(np.uint8))  # 24 x 32
    for command in (["train", str(tmp_path / "phone.jpg"), str(upright), "-o", str(tmp_path / "m.semia")],
                    ["from-labels", str(tmp_path / "phone.jpg"), str(upright), str(upright),
                     "-o", str(tmp_path / "out")]):
        assert cli.main([*command, "--device", "cpu"]) == 2
        err = capsys.readouterr().err
        assert "'phone.jpg' has an EXIF orientation tag" in err and "turned 90° clockwise" in err
        assert "Traceback" not in err


def test_a_photo_turned_180_degrees_by_its_exif_tag_is_warned_of(tmp_path, capsys):
    # Found by a new user: a turn that keeps the size trained on labels lying across
    # the photo, without a word (only the swapped sizes were checked).
    from PIL import Image

    image, labels = make_scene(SIZE)
    photo = Image.fromarray(image)
    exif = photo.getexif()
    exif[0x0112] = 3
    photo.save(tmp_path / "phone.jpg", exif=exif.tobytes())
    write_image_file(tmp_path / "labels.png", labels.astype(np.uint8))
    code = cli.main(["from-labels", str(tmp_path / "phone.jpg"), str(tmp_path / "labels.png"),
                     str(tmp_path / "labels.png"), "-o", str(tmp_path / "out"), "--device", "cpu"])
    err = capsys.readouterr().err
    assert code == 0 and "warning: 'phone.jpg' has an EXIF orientation tag" in err and "turned 180°" in err


def test_imagej_units_and_labels_are_read_as_fiji_writes_them(tmp_path):
    # From a review: Fiji escapes µm as \u00B5m (kept literally, then written into OME
    # files as no valid unit); one slice label came back as a string ("RGB" became
    # channels R, G, B); unnamed channels were kept as ''.
    from napari_semia.io import read_source_info

    grey = np.zeros((8, 9), np.uint16)
    tifffile.imwrite(tmp_path / "fiji.tif", grey, imagej=True, resolution=(1 / 0.325, 1 / 0.325),
                     metadata={"unit": "\\u00B5m"})
    info = read_source_info(tmp_path / "fiji.tif")
    assert info.unit == "µm"
    written = write_image_file(tmp_path / "as_ome.tif", grey.astype(np.int16), info)  # OME for int16
    assert read_source_info(written).unit == "µm"
    rgb = np.zeros((8, 9, 3), np.uint8)
    tifffile.imwrite(tmp_path / "rgb.tif", rgb, imagej=True, metadata={"axes": "YXS", "Labels": ["RGB"]})
    assert read_source_info(tmp_path / "rgb.tif").channel_names == ()
    tifffile.imwrite(tmp_path / "some.tif", np.zeros((3, 8, 9), np.uint16), imagej=True,
                     metadata={"axes": "CYX", "Labels": ["DAPI", "", ""]})
    assert read_source_info(tmp_path / "some.tif").channel_names == ()


def test_a_folder_that_cannot_be_written_is_found_by_writing(tmp_path, monkeypatch):
    # A portability audit: on Windows os.access says every folder can be written, and
    # a training run ended by losing its model to the save that followed.
    import tempfile

    from napari_semia.errors import SemiaInputError
    from napari_semia.io import check_writable_folder

    def refused(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(os, "access", lambda *args, **kwargs: True)
    monkeypatch.setattr(tempfile, "mkstemp", refused)
    with pytest.raises(SemiaInputError, match=r"cannot be written \(.*: Permission denied\)"):
        check_writable_folder(tmp_path / "out")


def test_a_hang_up_silences_a_terminal_but_not_a_log_file(tmp_path, monkeypatch):
    # A run started with "2> train.log" whose ssh session drops keeps its log; only a
    # terminal, gone with the hang-up, is silenced (untested: a mutation audit).
    from napari_semia.stop_signals import silence_terminal

    main, terminal = os.openpty()
    try:
        with open(tmp_path / "train.log", "w") as log, open(terminal, "w", closefd=False) as tty:
            monkeypatch.setattr(sys, "stderr", log)
            monkeypatch.setattr(sys, "stdout", tty)
            silence_terminal()
            print("kept", file=log, flush=True)
            devnull = os.stat(os.devnull)
            assert os.path.samestat(os.fstat(terminal), devnull)  # the terminal's output goes nowhere
            assert not os.path.samestat(os.fstat(log.fileno()), devnull)
    finally:
        os.close(main)
        os.close(terminal)
    assert (tmp_path / "train.log").read_text() == "kept\n"


def test_pixels_erased_to_transparency_in_a_label_file_are_named(tmp_path, capsys):
    # A pass over other tools' files: GIMP's eraser on a layer with transparency keeps
    # the colours; read without transparency, the erased object came back, without a word.
    image, labels = make_scene(SIZE)
    write_image_file(tmp_path / "image.png", image)
    colours = np.array([[200, 30, 30], [30, 30, 200]], np.uint8)[labels]
    write_image_file(tmp_path / "labels.png", colours)
    erased = np.dstack([colours, np.full(labels.shape, 255, np.uint8)])
    erased[:4, :5, 3] = 0
    write_image_file(tmp_path / "erased.png", erased)
    for labels_file, target in (("labels.png", "erased.png"), ("erased.png", "labels.png")):
        assert cli.main(["from-labels", str(tmp_path / "image.png"), str(tmp_path / labels_file),
                         str(tmp_path / target), "-o", str(tmp_path / "out"), "--device", "cpu"]) == 0
        err = capsys.readouterr().err
        assert "warning: erased.png: 20 pixel(s) are fully transparent" in err
        assert err.count("transparent") == 1


def test_arguments_refused_in_the_users_words(trained, tmp_path, capsys):
    # From an audit of the options' values: train -o over a file of the user's
    # replaced it with a model without a word; an empty path (an unset shell
    # variable) meant the current folder, where a dataset spilled; a fraction for a
    # whole number named argparse's own function ("invalid parse value").
    _, paths, model_path = trained
    notes = tmp_path / "notes.md"
    notes.write_text("mine")
    code = cli.main(["train", str(paths["image"]), str(paths["labels"]), "-o", str(notes), "--steps", "1",
                     "--device", "cpu"])
    assert code == 2 and notes.read_text() == "mine"
    assert f"{notes} is there and is no napari-semia model" in capsys.readouterr().err
    for argv, said in ((["synthesize", str(model_path), str(paths["labels"]), "-o", ""],
                        "argument -o/--output-dir: an empty path"),
                       (["generate", str(model_path), "-o", " ", "--count", "1"],
                        "argument -o/--output: an empty path"),
                       (["info", ""], "argument MODEL: an empty path"),
                       (["train", "a.png", "b.png", "-o", "m.semia", "--steps", "1.5"],
                        "argument --steps: must be a whole number, got '1.5'"),
                       (["train", "a.png", "b.png", "-o", "m.semia", "--size", "5000"],
                        "argument --size: must be at most 4096, got 5000"),
                       (["generate", str(model_path), "-o", "x", "--count", "1", "--strength", "strong"],
                        "argument --strength: must be a number from 0 to 3, got strong")):
        with pytest.raises(SystemExit) as exit_:
            cli.main(argv)
        assert exit_.value.code == 2 and said in capsys.readouterr().err, argv


def test_problems_of_the_source_pair_name_its_files(trained, tmp_path, capsys, monkeypatch):
    # The checks say "the source labels": with the two files swapped, "the source
    # labels are ... a photo" named no file (an audit of messages).
    _, paths, model_path = trained
    image, labels = Path(paths["image"]), Path(paths["labels"])
    for command in (["train", str(labels), str(image), "-o", str(tmp_path / "m.semia")],
                    ["from-labels", str(labels), str(image), str(image), "-o", str(tmp_path / "out")]):
        assert cli.main([*command, "--device", "cpu"]) == 2
        err = capsys.readouterr().err
        assert f"error: {labels.name} with labels {image.name}: The source labels are" in err, err
    # Not a problem of the files: not named with them (a review).
    code = cli.main(["train", str(image), str(labels), "-o", str(tmp_path / "m.semia"), "--device", "foo"])
    assert code == 2
    assert capsys.readouterr().err.startswith("error: Unknown device 'foo'")
    # A model that cannot continue on these files is named, with the way out.
    other = tmp_path / "other.png"
    iio.imwrite(other, np.zeros((20, 24), np.uint8) + (np.arange(24) > 11).astype(np.uint8))
    grey = tmp_path / "grey.png"
    iio.imwrite(grey, np.full((20, 24), 100, np.uint8))
    assert cli.main(["train", str(grey), str(other), "-o", str(tmp_path / "m.semia"), "--steps", "1",
                     "--resume", str(model_path), "--device", "cpu"]) == 2
    err = capsys.readouterr().err
    assert f"error: {model_path.name}: Cannot continue training" in err and "Leave out --resume" in err
    # Out of memory is said in words, not a traceback (the dock said it; the command line did not).
    from napari_semia.trainer import SemiaTrainer

    def out_of_memory(self):
        raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")
        yield

    def out_of_memory_now(*args, **kwargs):
        raise MemoryError

    monkeypatch.setattr(SemiaTrainer, "run", out_of_memory)
    code = cli.main(["train", str(image), str(labels), "-o", str(tmp_path / "m.semia"), "--device", "cpu"])
    assert code == 2
    assert "error: out of memory: try a smaller --size." in capsys.readouterr().err  # (on the CPU here)
    monkeypatch.setattr("napari_semia.model.SemiaModel.synthesize", out_of_memory_now)
    code = cli.main(["synthesize", str(model_path), str(labels), "-o", str(tmp_path / "out"),
                     "--device", "cpu"])
    assert code == 2 and "error: out of memory: try fewer programs running at once" in capsys.readouterr().err
    assert not (tmp_path / "m.semia").exists()
