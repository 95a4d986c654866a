"""Dataset generation: pairs, manifest, resume, stop, bad input, and Dask runs.

The Dask tests start a real scheduler and worker on 127.0.0.1 (loopback only)
and stop them at the end of the module.
"""

import importlib.util
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import tifffile

import napari_semia
from napari_semia import cli
from napari_semia.config import TrainingConfig
from napari_semia.dataset import MANIFEST_COLUMNS, DatasetJob, generate, load_manifest
from napari_semia.dataset_worker import make_pair
from napari_semia.errors import SemiaInputError
from napari_semia.io import read_image_file, read_label_file, write_image_file
from napari_semia.trainer import SemiaTrainer

TINY = TrainingConfig(steps=2, size=32, width=8, levels=3, patch_queries=128)
SIZE = 40
SRC = Path(napari_semia.__file__).resolve().parents[1]
#: Seconds a Dask test may wait for its scheduler or worker to come up.
STARTUP_TIMEOUT_S = 60


def objects_scene(gray16: bool = False):
    """40 x 40: noisy background (0) with three striped squares (1)."""
    rng = np.random.default_rng(0)
    labels = np.zeros((SIZE, SIZE), np.uint8)
    for top, left in [(4, 5), (22, 8), (12, 26)]:
        labels[top:top + 9, left:left + 9] = 1
    stripes = (np.arange(SIZE) // 2 % 2)[None, :].repeat(SIZE, 0)
    gray = np.where(labels == 1, 40 + 180 * stripes, 110 + rng.normal(0, 15, labels.shape))
    if gray16:
        return (np.clip(gray, 0, 255) * 200).astype(np.uint16), labels
    image = np.stack([gray, gray * 0.8, np.full(gray.shape, 90.0)], axis=-1)
    return np.clip(image, 0, 255).astype(np.uint8), labels


def train(folder: Path, gray16: bool = False) -> tuple[Path, np.ndarray, np.ndarray]:
    image, labels = objects_scene(gray16)
    trainer = SemiaTrainer(image, labels, config=TINY, device="cpu")
    for _ in trainer.run():
        pass
    path = folder / ("gray16.semia" if gray16 else "rgb.semia")
    trainer.model.save(path)
    return path, image, labels


@pytest.fixture(scope="module")
def rgb_model(tmp_path_factory):
    return train(tmp_path_factory.mktemp("models"))


def pair_files(folder: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(folder)): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file() and path.parent.name in ("images", "labels")
    }


# ------------------------------------------------------------------ local runs
def test_generate_writes_valid_pairs_and_a_manifest(rgb_model, tmp_path):
    model_path, image, labels = rgb_model
    summary = generate(model_path, tmp_path / "ds", count=4, seed=3, progress_bar=False)
    assert summary.written == 4 and summary.complete
    rows = load_manifest(tmp_path / "ds")
    assert [row["index"] for row in rows] == [0, 1, 2, 3]
    for row in rows:
        assert set(row) == set(MANIFEST_COLUMNS)
        assert row["seed"] == 3 and row["layout"] == "sampled"
        assert row["params"]["index"] == row["index"] and row["edits"]
        pair_image = read_image_file(tmp_path / "ds" / row["image"])
        pair_labels = read_label_file(tmp_path / "ds" / row["labels"])
        assert pair_image.dtype == image.dtype and pair_image.shape == image.shape
        assert pair_labels.shape == labels.shape and set(np.unique(pair_labels)) <= {0, 1}
    assert any(not np.array_equal(read_label_file(tmp_path / "ds" / r["labels"]), labels) for r in rows)
    settings = json.loads((tmp_path / "ds" / "dataset.json").read_text())
    assert settings["class_ids"] == [0, 1] and settings["seed"] == 3
    assert settings["model_file"] == Path(model_path).name  # (only its hash was there)
    assert not list((tmp_path / "ds").rglob(".*"))  # no temporary files left
    # A renamed copy of the model grows the same set (the name is for readers only).
    renamed = tmp_path / "renamed.semia"
    shutil.copyfile(model_path, renamed)
    assert generate(renamed, tmp_path / "ds", count=5, seed=3, progress_bar=False).written == 1


def test_uint16_gray_source_gives_tiff_images(tmp_path):
    model_path, image, _ = train(tmp_path, gray16=True)
    generate(model_path, tmp_path / "ds", count=2, progress_bar=False)
    written = tifffile.imread(tmp_path / "ds" / "images" / "00000.tif")
    assert written.dtype == np.uint16 and written.shape == image.shape
    assert (tmp_path / "ds" / "labels" / "00000.png").is_file()


def test_pairs_keep_the_source_s_pixel_size_at_their_own_size(tmp_path):
    # A microscopist's pairs came without the source's calibration; working-size
    # pairs have larger pixels than the source.
    from napari_semia.io import read_source_info
    from napari_semia.source_info import SourceInfo

    image, labels = objects_scene(gray16=True)
    trainer = SemiaTrainer(image, labels, config=TINY, device="cpu",
                           source_info=SourceInfo((), (0.5, 0.25), "µm"))
    for _ in trainer.run():
        pass
    model_path = trainer.model.save(tmp_path / "calibrated.semia")
    generate(model_path, tmp_path / "full", count=1, progress_bar=False)
    generate(model_path, tmp_path / "small", count=1, full_resolution=False, progress_bar=False)
    rows, cols = trainer.model.working_shape
    for folder, expected in (("full", (0.5, 0.25)), ("small", (0.5 * SIZE / rows, 0.25 * SIZE / cols))):
        info = read_source_info(tmp_path / folder / "images" / "00000.tif")
        assert info.unit == "µm"
        np.testing.assert_allclose(info.pixel_size, expected, rtol=1e-6)
        settings = json.loads((tmp_path / folder / "dataset.json").read_text())
        np.testing.assert_allclose(settings["pixel_size"], expected, rtol=1e-6)
        assert settings["unit"] == "µm" and settings["channel_names"] is None
        assert (tmp_path / folder / "labels" / "00000.png").is_file()  # label maps as before
    # The other size in the same folder: one change, named once in words.
    with pytest.raises(SemiaInputError) as refused:
        generate(model_path, tmp_path / "full", count=1, full_resolution=False, progress_bar=False)
    assert "(another image size (full or working))" in str(refused.value)


def test_moved_objects_in_pairs_are_copied_from_where_the_sampler_took_them(rgb_model, tmp_path, monkeypatch):
    # The layout sampler knows each moved object pixel's source; the full-resolution
    # stage is handed it, and the pair shows the source's pixels there (small
    # objects matched patch by patch came out faint).
    from scipy import ndimage as ndi

    import napari_semia.dataset_worker as worker

    model_path, image, _ = rgb_model
    handed = []
    real = worker._synthesize

    def recording(model, target, full_resolution, source_positions=None):
        handed.append(source_positions)
        return real(model, target, full_resolution, source_positions)

    monkeypatch.setattr(worker, "_synthesize", recording)
    generate(model_path, tmp_path / "ds", count=3, progress_bar=False)
    assert any(positions is not None for positions in handed)
    for row, positions in zip(load_manifest(tmp_path / "ds"), handed):
        if positions is None:
            continue
        pair = read_image_file(tmp_path / "ds" / row["image"]).astype(int)
        known = ndi.binary_erosion(~np.isnan(positions[0]))  # (rims: seams are evened out)
        # Rotated and scaled objects are resampled bilinearly, like an image.
        source = np.stack([ndi.map_coordinates(image[..., c].astype(float), positions[:, known], order=1)
                           for c in range(3)], -1)
        assert np.abs(pair[known] - source).mean() < 3, np.abs(pair[known] - source).mean()


def test_working_size_pairs_match_the_model(rgb_model, tmp_path):
    from napari_semia.model import SemiaModel

    model_path, _, _ = rgb_model
    generate(model_path, tmp_path / "ds", count=1, full_resolution=False, progress_bar=False)
    working = SemiaModel.load(model_path, device="cpu").working_shape
    assert read_image_file(tmp_path / "ds" / "images" / "00000.png").shape[:2] == working
    assert read_label_file(tmp_path / "ds" / "labels" / "00000.png").shape == working


def test_resume_makes_only_missing_pairs(rgb_model, tmp_path):
    model_path, _, _ = rgb_model
    out = tmp_path / "ds"
    generate(model_path, out, count=3, seed=1, progress_bar=False)
    first = pair_files(out)
    (out / "labels" / "00001.png").unlink()  # as if interrupted between the two files
    summary = generate(model_path, out, count=5, seed=1, progress_bar=False)
    assert (summary.skipped, summary.written) == (2, 3)
    after = pair_files(out)
    assert all(after[name] == content for name, content in first.items())  # same pair made again
    assert len(after) == 10 and len(load_manifest(out)) == 5
    assert generate(model_path, out, count=5, seed=1, progress_bar=False).written == 0


def test_a_second_run_in_a_folder_being_written_is_refused_and_touches_nothing(rgb_model, tmp_path):
    # A pass as a cluster user: two runs in one folder rewrote the manifest under each
    # other, and pairs on disk lost their rows. The lock is the system's: a run that
    # ends, however it ends, lets it go.
    from napari_semia.errors import SemiaInputError
    from napari_semia.folder_lock import LOCK_FILE, FolderLock

    model_path, _, _ = rgb_model
    out = tmp_path / "ds"
    generate(model_path, out, count=1, progress_bar=False)
    (out / "images" / ".00005.png.partial-123").write_bytes(b"another run's write")
    other_run = FolderLock(out)
    other_run.acquire()
    before = {path: path.read_bytes() for path in out.rglob("*") if path.is_file()}
    try:
        with pytest.raises(SemiaInputError, match=r"Another run is writing the dataset in .*process"):
            generate(model_path, out, count=3, progress_bar=False)
        assert {path: path.read_bytes() for path in out.rglob("*") if path.is_file()} == before
    finally:
        other_run.release()
    assert generate(model_path, out, count=3, progress_bar=False).written == 2
    assert len(load_manifest(out)) == 3 and not (out / LOCK_FILE).exists()
    # A lock whose holder line cannot be written (a full disk) is held, and let go (a
    # review: it stayed held, and every later run in the folder was refused).
    import os as os_module

    import napari_semia.folder_lock as folder_lock

    def full_disk(*args):
        raise OSError(28, "No space left on device")

    lock = FolderLock(out)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(folder_lock.os, "ftruncate", full_disk)
        lock.acquire()
    assert lock.held and os_module.path.exists(out / LOCK_FILE)
    lock.release()
    assert generate(model_path, out, count=4, progress_bar=False).written == 1
    # A lock file another user's killed run left (not writable here) still locks: this
    # run went on unlocked without a word (a review).
    real_open = os_module.open

    def others_file(path, flags, *args):
        if str(path).endswith(LOCK_FILE) and flags & os_module.O_RDWR:
            raise PermissionError(13, "Permission denied")
        return real_open(path, flags, *args)

    import socket

    ended = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                           text=True).stdout.strip()
    (out / LOCK_FILE).write_text(f"{socket.gethostname()}, process {ended}, since 2026-01-01 00:00:00\n")
    lock = FolderLock(out)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(folder_lock.os, "open", others_file)
        lock.acquire()
        assert lock.held
        with pytest.raises(SemiaInputError, match=r"Another run is writing the dataset in") as refusal:
            FolderLock(out).acquire()
    # Not named as the holder: the run that left the line has ended (a review).
    assert f"process {ended}" not in str(refusal.value)
    lock.release()
    assert not (out / LOCK_FILE).exists()
    # Not a Client: a cluster was taken for one, its AttributeError told as workers
    # that cannot run napari-semia.
    with pytest.raises(SemiaInputError, match="scheduler must be a Dask scheduler's address or a"):
        generate(model_path, out, count=5, scheduler=out, progress_bar=False)
    # (A run refused before its first pair takes the lock's file back with the folder:
    # test_a_cluster_run_refused_by_its_workers_leaves_no_empty_dataset.)


def test_a_manifest_with_rows_past_the_csv_field_limit_is_read_and_resumed(rgb_model, tmp_path):
    # Found by an astronomer: a sky field of 1500 sources gave params of 270 kB per
    # row, past the csv module's 128 kB field limit; the dataset could be neither
    # read back (the widget said it "could not be made") nor resumed.
    import csv
    import json

    model_path, _, _ = rgb_model
    out = tmp_path / "ds"
    generate(model_path, out, count=2, seed=1, progress_bar=False)
    manifest = out / "manifest.csv"
    with open(manifest, newline="") as file:
        rows = list(csv.DictReader(file))
    params = json.loads(rows[0]["params"])
    params["padding"] = ["object"] * 40_000  # as many as a crowded field's changes
    rows[0]["params"] = json.dumps(params)
    assert len(rows[0]["params"]) > csv.field_size_limit()
    with open(manifest, "w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=MANIFEST_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    limit = csv.field_size_limit()
    read = load_manifest(out)
    assert [row["index"] for row in read] == [0, 1] and len(read[0]["params"]["padding"]) == 40_000
    assert csv.field_size_limit() == limit  # the caller's limit is left as it was
    summary = generate(model_path, out, count=3, seed=1, progress_bar=False)
    assert (summary.skipped, summary.written) == (2, 1)


def test_a_smaller_count_keeps_the_pairs_already_made(rgb_model, tmp_path):
    # Found by a new user: --count 6, then --count 3 cut the manifest to 3 rows
    # but left 6 pairs; --count 6 again remade 3 of them.
    model_path, _, _ = rgb_model
    out = tmp_path / "ds"
    generate(model_path, out, count=3, seed=1, progress_bar=False)
    summary = generate(model_path, out, count=2, seed=1, progress_bar=False)
    assert (summary.skipped, summary.written) == (2, 0)
    assert [row["index"] for row in load_manifest(out)] == [0, 1, 2]
    summary = generate(model_path, out, count=3, seed=1, progress_bar=False)
    assert (summary.skipped, summary.written) == (3, 0)


def test_stop_then_rerun_completes(rgb_model, tmp_path):
    model_path, _, _ = rgb_model
    job = DatasetJob.prepare(model_path, tmp_path / "ds", count=6)
    stop = threading.Event()
    for progress in job.run(stop):
        if progress.done >= 1:
            stop.set()
    assert job.summary.stopped and job.summary.written < 6
    assert progress.finished and progress.stopped
    rerun = generate(model_path, tmp_path / "ds", count=6, progress_bar=False)
    assert rerun.skipped == job.summary.written and rerun.skipped + rerun.written == 6
    assert not list((tmp_path / "ds").rglob(".*"))


def test_other_settings_in_the_same_folder_are_refused(rgb_model, tmp_path):
    model_path, _, _ = rgb_model
    generate(model_path, tmp_path / "ds", count=1, seed=1, progress_bar=False)
    with pytest.raises(SemiaInputError, match=r"other settings \(another seed: 1 then, 2 now\)"):
        DatasetJob.prepare(model_path, tmp_path / "ds", count=1, seed=2)
    # Full size against working size is one change, named once (it read "another
    # image size (full or working), image size").
    with pytest.raises(SemiaInputError, match=r"other settings \(another image size \(full or working\)\)\."):
        DatasetJob.prepare(model_path, tmp_path / "ds", count=1, seed=1, full_resolution=False)


def test_naming_the_default_classes_is_the_same_setting(rgb_model, tmp_path):
    # Found by a user: '--background 0', the default named, was refused on a rerun
    # as 'another layout sampler setting'.
    from napari_semia.layout_sampler import LayoutSamplerSettings, default_object_ids
    from napari_semia.model import SemiaModel

    model_path, _, _ = rgb_model
    model = SemiaModel.load(model_path)
    objects = default_object_ids(model.full_index, model.class_ids)
    background = tuple(sorted(set(model.class_ids) - set(objects)))
    assert objects and background
    generate(model_path, tmp_path / "ds", count=1, progress_bar=False)
    for named in (LayoutSamplerSettings(background_ids=background),
                  LayoutSamplerSettings(object_ids=objects)):
        job = DatasetJob.prepare(model_path, tmp_path / "ds", count=2, sampler_settings=named)
        assert job.settings_record["sampler"]["object_ids"] is None
    other = LayoutSamplerSettings(background_ids=background + objects[:1])
    with pytest.raises(SemiaInputError, match="another layout sampler setting") as info:
        DatasetJob.prepare(model_path, tmp_path / "ds", count=2, sampler_settings=other)
    # Which setting, then and now (a new user was told only "another ... setting").
    ids = ", ".join(str(i) for i in background + objects[:1])
    assert f"(background ids the default then, {ids} now" in str(info.value)
    with pytest.raises(SemiaInputError) as info:
        DatasetJob.prepare(model_path, tmp_path / "ds", count=2,
                           sampler_settings=LayoutSamplerSettings().scaled(2.0))
    assert "max shift 0.3 then, 0.6 now" in str(info.value)
    assert "; ...; the strength scales the changes' likelihoods and sizes)" in str(info.value)
    # Given layouts into a folder of sampled ones, and the other way: no sampler to
    # compare on one side (a review: a TypeError, then every setting "the default then").
    labels = model.codec.decode(model.full_index)
    with pytest.raises(SemiaInputError, match=r"another set of layouts, layout sampler setting\)\."):
        DatasetJob.prepare(model_path, tmp_path / "ds", layouts=[labels, labels])
    generate(model_path, tmp_path / "given", layouts=[labels], progress_bar=False)
    with pytest.raises(SemiaInputError, match=r"another set of layouts, layout sampler setting\)\."):
        DatasetJob.prepare(model_path, tmp_path / "given", count=1)
    # The ids chosen are written out for dataset.json's readers (the default read null;
    # found by new users), and a folder written before they were is the same dataset.
    settings = json.loads((tmp_path / "ds" / "dataset.json").read_text())
    assert settings["classes_chosen"] == {"object_ids": list(objects), "background_ids": list(background)}
    del settings["classes_chosen"]
    (tmp_path / "ds" / "dataset.json").write_text(json.dumps(settings))
    assert generate(model_path, tmp_path / "ds", count=2, progress_bar=False).skipped == 1


def test_cli_strength_must_be_a_finite_number(rgb_model, tmp_path, capsys):
    model_path, _, _ = rgb_model
    # Past 3 (the widget's limit too): from about 10 on every object was dropped, and
    # every label map came out as pure background, with no word.
    for bad in ("nan", "inf", "-1", "3.5", "10"):
        with pytest.raises(SystemExit):
            run_cli([model_path, "-o", tmp_path / "ds", "--count", 1, "--strength", bad], capsys)
        assert f"argument --strength: must be a number from 0 to 3, got {bad}" in capsys.readouterr().err


def test_given_layouts(rgb_model, tmp_path):
    model_path, _, labels = rgb_model
    folder = tmp_path / "layouts"
    write_image_file(folder / "a.png", labels)
    write_image_file(folder / "b.png", np.roll(labels, 5, axis=1))
    (folder / "._a.png").write_bytes(b"\x00\x05\x16\x07")  # macOS's AppleDouble file: skipped
    summary = generate(model_path, tmp_path / "ds", layouts=folder, progress_bar=False)
    assert summary.written == 2
    rows = load_manifest(tmp_path / "ds")
    assert [row["layout"] for row in rows] == ["a.png", "b.png"] and rows[0]["seed"] is None
    assert np.array_equal(read_label_file(tmp_path / "ds" / rows[1]["labels"]), np.roll(labels, 5, axis=1))
    # Given layouts use no seed nor source labels: others complete the same set (it was
    # refused as "another seed", the pairs the same; found by a new user).
    summary = generate(model_path, tmp_path / "ds", seed=3, layouts=folder, progress_bar=False,
                       source_labels=np.roll(labels, 3, axis=0))
    assert summary.skipped == 2 and summary.written == 0


def test_sampler_options_given_with_layouts_are_said_to_be_unused(rgb_model, tmp_path, capsys):
    # Found by a new user: --background, --strength and --seed ran without a word,
    # as if they shaped the given layouts.
    model_path, _, labels = rgb_model
    write_image_file(tmp_path / "layouts" / "a.png", labels)
    write_image_file(tmp_path / "labels.png", labels)
    code, err = run_cli([model_path, "-o", tmp_path / "ds", "--layouts", tmp_path / "layouts",
                         "--strength", 2, "--seed", 4, "--labels", tmp_path / "labels.png"], capsys)
    assert code == 0, err
    assert "warning: --seed, --strength, --labels are not used with --layouts" in err
    code, err = run_cli([model_path, "-o", tmp_path / "ds2", "--layouts", tmp_path / "layouts"], capsys)
    assert code == 0 and "not used" not in err
    # Strength 0 wrote copies of the source without a word.
    code, err = run_cli([model_path, "-o", tmp_path / "ds3", "--count", 1, "--strength", 0], capsys)
    assert code == 0 and "warning: Every layout is the source's" in err
    assert err.count("warning:") == 1  # (not also "only ... move", which it contradicted; a review)


def test_given_layouts_as_a_stack_file(rgb_model, tmp_path):
    model_path, _, labels = rgb_model
    stack = np.stack([np.roll(labels, shift, axis=0) for shift in (0, 4, 8)])
    tifffile.imwrite(tmp_path / "stack.tif", stack, photometric="minisblack")
    with pytest.raises(SemiaInputError, match="4 pairs asked for, but only 3 layouts given"):
        DatasetJob.prepare(model_path, tmp_path / "ds", count=4, layouts=tmp_path / "stack.tif")
    generate(model_path, tmp_path / "ds", count=2, layouts=tmp_path / "stack.tif", progress_bar=False)
    rows = load_manifest(tmp_path / "ds")
    assert [row["layout"] for row in rows] == ["stack.tif[0]", "stack.tif[1]"]
    assert np.array_equal(read_label_file(tmp_path / "ds" / rows[1]["labels"]), stack[1])
    # An ImageJ hyperstack of time points of z-stacks gives every plane (only its first
    # axis was iterated, each layout a z-stack, refused; a pass over other tools' files).
    hyper = np.stack([stack, stack[::-1]])[:, :, None].astype(np.uint16)  # TZCYX, 2 x 3 x 1
    tifffile.imwrite(tmp_path / "hyper.tif", hyper, imagej=True, metadata={"axes": "TZCYX"})
    job = DatasetJob.prepare(model_path, tmp_path / "ds-hyper", layouts=tmp_path / "hyper.tif")
    assert len(job.tasks) == 6
    np.testing.assert_array_equal(job.tasks[3].layout, stack[2])


# ------------------------------------------------------------------ bad input
def run_cli(args, capsys):
    code = cli.main(["generate", *map(str, args)])
    return code, capsys.readouterr().err


def test_cli_generates(rgb_model, tmp_path, capsys):
    model_path, _, _ = rgb_model
    args = [model_path, "-o", tmp_path / "ds", "--count", 2, "--objects", "1", "--no-elastic", "--gather"]
    code, err = run_cli(args, capsys)
    assert code == 0, err
    assert "Wrote 2 pair(s)" in err
    assert "warning: --gather is not used in this process" in err  # not ignored without a word
    sampler = json.loads((tmp_path / "ds" / "dataset.json").read_text())["sampler"]
    assert sampler["elastic_strength"] == 0 and "keep_surroundings" not in sampler
    code, err = run_cli([model_path, "-o", tmp_path / "kept", "--count", 1, "--keep-surroundings"], capsys)
    assert code == 0, err
    recorded = json.loads((tmp_path / "kept" / "dataset.json").read_text())
    assert recorded["sampler"]["keep_surroundings"] is True


def test_cli_warns_when_no_object_can_move(rgb_model, tmp_path, capsys):
    model_path, _, labels = rgb_model
    background = ",".join(str(i) for i in np.unique(labels))  # every class background: nothing moves
    code, err = run_cli([model_path, "-o", tmp_path / "ds", "--count", 1, "--background", background], capsys)
    assert code == 0, err
    assert "warning: No object can move" in err


def test_a_missing_or_bad_count_is_named(rgb_model, tmp_path):
    model_path, _, _ = rgb_model
    with pytest.raises(SemiaInputError, match=r"Give the number of pairs \(count=N\)"):
        generate(model_path, tmp_path / "ds", progress_bar=False)
    with pytest.raises(SemiaInputError, match="at least 1; got 0"):
        generate(model_path, tmp_path / "ds", count=0, progress_bar=False)
    # A script's 2.5 or "3" (bare TypeErrors), and a count that would fill the memory
    # with tasks before the first pair (10^8: 3 GB in 30 s); found by a new user.
    for count in (2.5, "3"):
        with pytest.raises(SemiaInputError, match=f"must be a whole number; got {count!r}"):
            generate(model_path, tmp_path / "ds", count=count, progress_bar=False)
    with pytest.raises(SemiaInputError, match="seed must be a whole number; got None"):
        generate(model_path, tmp_path / "ds", count=1, seed=None, progress_bar=False)
    with pytest.raises(SemiaInputError, match="100000000 pairs are more than one set holds"):
        generate(model_path, tmp_path / "ds", count=100_000_000, progress_bar=False)
    assert not (tmp_path / "ds").exists()


def test_the_manifest_of_a_folder_with_no_dataset_is_an_error_not_empty(tmp_path):
    # Found by a Python-API user: a mistyped folder read as an empty dataset.
    with pytest.raises(SemiaInputError, match="does not exist"):
        load_manifest(tmp_path / "typo")
    with pytest.raises(SemiaInputError, match=r"holds no dataset \(no manifest.csv\)"):
        load_manifest(tmp_path)


def test_a_script_s_run_warns_with_python_warnings_and_prints_nothing(rgb_model, tmp_path, capsys):
    # Found by a Python-API user: generate(progress_bar=False) still printed, and a
    # pipeline could neither catch nor silence its warnings.
    from napari_semia.layout_sampler import LayoutSamplerSettings

    model_path, _, labels = rgb_model
    everything_background = LayoutSamplerSettings(background_ids=tuple(int(i) for i in np.unique(labels)))
    with pytest.warns(UserWarning, match="No object can move"):
        summary = generate(model_path, tmp_path / "ds", count=1, progress_bar=False,
                           sampler_settings=everything_background)
    assert capsys.readouterr() == ("", "")
    assert len(summary.warnings) == 1 and summary.warnings[0].startswith("No object can move")


def test_a_source_whose_objects_mostly_stay_put_is_named_before_the_run(rgb_model, tmp_path):
    # Found by a new user with a retina: the vessel tree never moved, without a word.
    model_path, _, _ = rgb_model
    labels = np.zeros((SIZE, SIZE), np.uint8)
    labels[0:16, 0:16] = 1  # cut by the edge: stays (or is dropped)
    labels[30:34, 30:34] = 1  # the one region that moves
    with pytest.warns(UserWarning, match="Most of the objects' footprint"):
        summary = generate(model_path, tmp_path / "ds", count=1, progress_bar=False, source_labels=labels)
    assert len(summary.warnings) == 1 and "94% in regions cut by the image's edge" in summary.warnings[0]
    # Given layouts are not sampled: nothing to say of the source's objects.
    folder = tmp_path / "layouts"
    folder.mkdir()
    write_image_file(folder / "a.png", labels)
    given = generate(model_path, tmp_path / "given", progress_bar=False, layouts=folder, source_labels=labels)
    assert given.warnings == []


@pytest.mark.parametrize("problem", ["wrong size", "unknown id"])
def test_cli_rejects_bad_layout_folders(rgb_model, tmp_path, capsys, problem):
    model_path, _, labels = rgb_model
    folder = tmp_path / "layouts"
    write_image_file(folder / "good.png", labels)
    bad = labels[:30] if problem == "wrong size" else np.where(labels == 1, 7, labels).astype(np.uint8)
    write_image_file(folder / "bad.png", bad)
    code, err = run_cli([model_path, "-o", tmp_path / "ds", "--layouts", folder], capsys)
    assert code == 2
    assert err.startswith("error: Layout bad.png:") and "Traceback" not in err
    assert ("are 30 × 40 pixels" in err) if problem == "wrong size" else ("unknown id(s) 7" in err)
    assert "paint" not in err  # a command-line user paints nothing (found by a new user)
    assert not (tmp_path / "ds").exists()


def test_cli_names_a_missing_layout_folder_and_source_labels_of_another_size(rgb_model, tmp_path, capsys):
    model_path, _, labels = rgb_model
    code, err = run_cli([model_path, "-o", tmp_path / "ds", "--layouts", tmp_path / "nothere"], capsys)
    assert code == 2 and "do not exist" in err
    small = write_image_file(tmp_path / "small.png", labels[:30])
    code, err = run_cli([model_path, "-o", tmp_path / "ds", "--count", 1, "--labels", small], capsys)
    assert code == 2 and "The labels to sample layouts from are 30 × 40 pixels" in err
    assert "target" not in err


def test_cli_names_source_labels_with_an_unknown_id_as_what_they_are(rgb_model, tmp_path, capsys):
    model_path, _, labels = rgb_model
    unknown = write_image_file(tmp_path / "unknown.png", np.where(labels == 1, 7, labels).astype(np.uint8))
    code, err = run_cli([model_path, "-o", tmp_path / "ds", "--count", 1, "--labels", unknown], capsys)
    assert code == 2 and "The labels to sample layouts from contain unknown id(s) 7" in err
    assert "target" not in err and "Traceback" not in err


def test_cli_rejects_a_file_that_is_not_a_model(tmp_path, capsys):
    fake = tmp_path / "model.semia"
    fake.write_text("not a model")
    code, err = run_cli([fake, "-o", tmp_path / "ds", "--count", 1], capsys)
    assert code == 2 and "not a readable napari-semia model file" in err
    # An image where the model goes: the arguments swapped (a new user).
    image = write_image_file(tmp_path / "cells.png", np.zeros((8, 8), np.uint8))
    code, err = run_cli([image, "-o", tmp_path / "ds", "--count", 1], capsys)
    assert code == 2 and "it is an image or label file, not a model" in err


def test_cli_rejects_an_output_path_inside_a_file(rgb_model, tmp_path, capsys):
    model_path, _, _ = rgb_model
    (tmp_path / "file.txt").write_text("")
    code, err = run_cli([model_path, "-o", tmp_path / "file.txt" / "ds", "--count", 1], capsys)
    assert code == 2 and "is a file, not a folder" in err


def test_cli_unreachable_scheduler_is_a_quick_clear_error(rgb_model, tmp_path, capsys):
    model_path, _, _ = rgb_model
    with socket.socket() as probe:  # a loopback port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    started = time.monotonic()
    code, err = run_cli([model_path, "-o", tmp_path / "ds", "--count", 2, "--scheduler", f"tcp://127.0.0.1:{port}"],
                        capsys)
    assert code == 2 and f"No Dask scheduler answers at tcp://127.0.0.1:{port}" in err
    assert time.monotonic() - started < 20
    assert not (tmp_path / "ds").exists()


def test_cli_a_silent_server_is_not_taken_for_a_scheduler(rgb_model, tmp_path, capsys, monkeypatch):
    # Found by a user: --scheduler at the dashboard's port (any server that is not
    # Dask) waited for ever, past the Client's own timeout.
    from napari_semia import dataset_executors

    monkeypatch.setattr(dataset_executors, "CONNECT_TIMEOUT_S", 0.5)
    model_path, _, _ = rgb_model
    with socket.socket() as server:  # accepts connections and says nothing, as a web server does
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        started = time.monotonic()
        code, err = run_cli([model_path, "-o", tmp_path / "ds", "--count", 1, "--scheduler",
                             f"tcp://127.0.0.1:{port}"], capsys)
    assert code == 2 and "but not a Dask scheduler" in err and "8787" in err
    assert time.monotonic() - started < 10
    assert not (tmp_path / "ds").exists()


def test_cli_pairs_failed_for_one_reason_are_one_line(rgb_model, tmp_path, capsys, monkeypatch):
    # A Dask worker that left took every pair it held: nine lines said the same.
    from napari_semia import dataset_cli
    from napari_semia.dataset import GenerationSummary

    lost = "the task was cancelled on the cluster: its Dask worker stopped"
    failures = {**dict.fromkeys((1, 2, 3, 4, 7), lost), 5: "ValueError: bad layout (after 3 attempt(s))"}
    summary = GenerationSummary(tmp_path / "ds", total=8, written=1, skipped=0, failures=failures,
                                elapsed_s=1.0, stopped=False)
    monkeypatch.setattr(dataset_cli, "_generate", lambda args, labels: summary)
    code, err = run_cli([rgb_model[0], "-o", tmp_path / "ds", "--count", 8], capsys)
    lines = [line for line in err.splitlines() if line.startswith(("pair", "error"))]
    assert code == dataset_cli.EXIT_PAIRS_FAILED
    assert lines == [f"pairs 1-4, 7 failed: {lost}",
                     "pair 5 failed: ValueError: bad layout (after 3 attempt(s))",
                     "error: 6 pair(s) failed; run the same command again to retry them."]


def test_cli_malformed_scheduler_address_is_said_at_once(rgb_model, tmp_path, capsys):
    # Found by a new user: 'notanaddress' took 11 s and ended in an ignored-exception traceback.
    model_path, _, _ = rgb_model
    started = time.monotonic()
    code, err = run_cli([model_path, "-o", tmp_path / "ds", "--count", 1, "--scheduler", "notanaddress"],
                        capsys)
    assert code == 2 and "notanaddress is not a Dask scheduler address" in err
    assert "Traceback" not in err and time.monotonic() - started < 5
    # A cluster user: http:// and inproc:// passed, then hung 10 s in a traceback; tls://
    # without certificates was a 60-line TypeError.
    for address, said in (("http://127.0.0.1:8786", "is no address of a scheduler in another process"),
                          ("inproc://x", "is no address of a scheduler in another process"),
                          ("tls://127.0.0.1:8786", "uses TLS, and Dask's configuration names no"),
                          # (A transport Dask knows, whose library is not installed here.)
                          *([("ucx://127.0.0.1:8786", "this installation cannot reach 'ucx://' addresses")]
                            if importlib.util.find_spec("ucp") is None else [])):
        started = time.monotonic()
        code, err = run_cli([model_path, "-o", tmp_path / "ds", "--count", 1, "--scheduler", address], capsys)
        assert code == 2 and said in err and "Traceback" not in err, err
        assert time.monotonic() - started < 5 and not (tmp_path / "ds").exists()


def test_cli_an_address_where_nothing_answers_is_not_called_another_server(rgb_model, tmp_path, capsys,
                                                                           monkeypatch):
    # A cluster user: a firewalled address was "something answers, but not a Dask scheduler".
    def dropped(*args, **kwargs):
        raise TimeoutError("timed out")

    monkeypatch.setattr(socket, "create_connection", dropped)
    code, err = run_cli([rgb_model[0], "-o", tmp_path / "ds", "--count", 1, "--scheduler",
                         "tcp://10.255.255.1:8786"], capsys)
    assert code == 2 and "nothing answered" in err and "firewall" in err and "not a Dask" not in err


# ------------------------------------------------------------------ Dask
def _wait_for(condition, what: str, processes) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while not condition():
        if any(p.poll() is not None for p in processes) or time.monotonic() > deadline:
            raise RuntimeError(f"the test's Dask {what} did not start")
        time.sleep(0.2)


@pytest.fixture(scope="module")
def dask_scheduler(tmp_path_factory):
    """A scheduler and one single-threaded worker, separate processes on 127.0.0.1."""
    from distributed import Client

    folder = tmp_path_factory.mktemp("dask")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")]))
    scheduler_file = folder / "scheduler.json"
    logs = open(folder / "dask.log", "w")  # noqa: SIM115 (closed after the processes end)
    processes = [subprocess.Popen(
        [sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1", "--port", "0",
         "--dashboard-address", "127.0.0.1:0", "--scheduler-file", str(scheduler_file)],
        env=env, stdout=logs, stderr=subprocess.STDOUT,
    )]
    try:
        _wait_for(scheduler_file.is_file, "scheduler", processes)
        time.sleep(0.2)  # the file is written in one go, but give it a moment to be complete
        address = json.loads(scheduler_file.read_text())["address"]
        processes.append(subprocess.Popen(
            [sys.executable, "-m", "distributed.cli.dask_worker", address, "--host", "127.0.0.1",
             "--nthreads", "1", "--no-nanny", "--dashboard-address", "127.0.0.1:0"],
            env=env, stdout=logs, stderr=subprocess.STDOUT,
        ))
        with Client(address, timeout=STARTUP_TIMEOUT_S, set_as_default=False) as client:
            client.wait_for_workers(1, timeout=STARTUP_TIMEOUT_S)
        yield address
    finally:
        # Worker first: a worker whose scheduler is already gone can hang while closing.
        for process in reversed(processes):
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        logs.close()


@pytest.mark.parametrize("gather", [False, True], ids=["workers-write", "gathered"])
def test_dask_cluster_makes_the_same_files_as_a_local_run(rgb_model, tmp_path, dask_scheduler, gather):
    from distributed import Client

    model_path, _, _ = rgb_model
    local = generate(model_path, tmp_path / "local", count=4, seed=5, progress_bar=False)
    remote = generate(model_path, tmp_path / "remote", count=4, seed=5, scheduler=dask_scheduler,
                      gather=gather, progress_bar=False)
    assert local.written == remote.written == 4 and remote.complete
    assert pair_files(tmp_path / "remote") == pair_files(tmp_path / "local")
    assert load_manifest(tmp_path / "remote") == load_manifest(tmp_path / "local")
    # The worker made pairs with the headless core only: no napari, no Qt.
    with Client(dask_scheduler, set_as_default=False) as client:
        loaded = client.run(eval, "sorted(m for m in __import__('sys').modules if m.split('.')[0] in "
                                  "('napari', 'qtpy', 'PyQt5', 'PyQt6', 'PySide2', 'PySide6', 'magicgui'))")
        made_pairs = client.run(eval, "'napari_semia.dataset_worker' in __import__('sys').modules")
    assert list(made_pairs.values()) == [True]
    assert list(loaded.values()) == [[]]
    if not gather:
        return
    # A Client of the caller's (a dask-jobqueue or TLS cluster's) is used, and left open.
    with Client(dask_scheduler, set_as_default=False) as client:
        given = generate(model_path, tmp_path / "given", count=4, seed=5, scheduler=client,
                         progress_bar=False)
        assert given.complete and client.status == "running"
    assert pair_files(tmp_path / "given") == pair_files(tmp_path / "local")


def test_the_same_command_on_a_cluster_completes_a_local_run(rgb_model, tmp_path, dask_scheduler, capsys):
    model_path, _, _ = rgb_model
    generate(model_path, tmp_path / "ds", count=2, progress_bar=False)
    args = [model_path, "-o", tmp_path / "ds", "--count", 4, "--scheduler", dask_scheduler]
    code, err = run_cli(args, capsys)
    assert code == 0, err
    assert "Wrote 2 pair(s)" in err and "2 were already there" in err
    assert len(load_manifest(tmp_path / "ds")) == 4


_attempts: dict[int, int] = {}
_attempts_lock = threading.Lock()


def flaky_make_pair(shared, task):
    """Fails the first attempt at every pair, and every attempt at pair 2."""
    with _attempts_lock:
        _attempts[task.index] = _attempts.get(task.index, 0) + 1
        attempt = _attempts[task.index]
    if attempt == 1 or task.index == 2:
        raise OSError(f"simulated worker failure on attempt {attempt}")
    return make_pair(shared, task)


def test_failed_tasks_are_retried_and_lasting_failures_reported(rgb_model, tmp_path, monkeypatch):
    # A worker in this process, so that it runs this module's flaky task.
    from distributed import LocalCluster

    import napari_semia.dataset_worker

    monkeypatch.setattr(napari_semia.dataset_worker, "make_pair", flaky_make_pair)
    _attempts.clear()
    model_path, _, _ = rgb_model
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, host="127.0.0.1", protocol="tcp://",
                      dashboard_address=None) as cluster:
        job = DatasetJob.prepare(model_path, tmp_path / "ds", count=4, scheduler=cluster.scheduler_address,
                                 retries=2)
        messages = [progress.message for progress in job.run()]
    assert _attempts == {0: 2, 1: 2, 2: 3, 3: 2}
    assert job.summary.written == 3 and list(job.summary.failures) == [2]
    assert "simulated worker failure on attempt 3 (after 3 attempt(s))" in job.summary.failures[2]
    assert any(message.startswith("pair 2 failed") for message in messages)
    assert sorted(job.summary.retried) == [0, 1, 3]
    assert "simulated worker failure on attempt 1" in job.summary.retried[0][0]
    assert any(message.startswith("pair 1 was made after 1 failed attempt(s)") for message in messages)
    assert not (tmp_path / "ds" / "images" / "00002.png").exists()


def full_disk_make_pair(shared, task):
    """Pairs 0 and 1 fit on the disk; the rest do not."""
    from napari_semia.errors import OutputWriteError

    if task.index >= 2:
        raise OutputWriteError(f"Cannot write 'images/{task.index:05d}.png': No space left on device")
    return make_pair(shared, task)


def test_a_full_disk_ends_a_cluster_run_too(rgb_model, tmp_path, monkeypatch):
    # From a review: on a cluster each pair failed on its own, retried, one after another.
    from distributed import LocalCluster

    import napari_semia.dataset_worker
    from napari_semia.errors import OutputWriteError

    monkeypatch.setattr(napari_semia.dataset_worker, "make_pair", full_disk_make_pair)
    model_path, _, _ = rgb_model
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, host="127.0.0.1", protocol="tcp://",
                      dashboard_address=None) as cluster:
        job = DatasetJob.prepare(model_path, tmp_path / "ds", count=8, scheduler=cluster.scheduler_address,
                                 retries=0)
        with pytest.raises(OutputWriteError, match=r"No space left on device\. The \d pair\(s\) made so far"):
            for _ in job.run():
                pass
    assert [row["index"] for row in load_manifest(tmp_path / "ds")] == [0, 1]


def full_disk_at_pair_1_make_pair(shared, task):
    """Pair 1 cannot be written; the others take long enough to be in progress then."""
    from napari_semia.errors import OutputWriteError

    if task.index == 1:
        time.sleep(0.3)
        raise OutputWriteError("Cannot write 'images/00001.png': No space left on device")
    time.sleep(1.5)
    return make_pair(shared, task)


def test_pairs_in_progress_when_a_full_disk_ends_a_cluster_run_are_recorded(rgb_model, tmp_path, monkeypatch):
    # From a review: they were written after the run had ended, with no manifest row.
    from distributed import LocalCluster

    import napari_semia.dataset_worker
    from napari_semia.errors import OutputWriteError

    monkeypatch.setattr(napari_semia.dataset_worker, "make_pair", full_disk_at_pair_1_make_pair)
    folder = tmp_path / "ds"
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False, host="127.0.0.1", protocol="tcp://",
                      dashboard_address=None) as cluster:
        job = DatasetJob.prepare(rgb_model[0], folder, count=6, scheduler=cluster.scheduler_address,
                                 retries=0)
        with pytest.raises(OutputWriteError) as raised:
            for _ in job.run():
                pass
        time.sleep(2.0)  # what a worker still made would be written by now
    rows = sorted(row["index"] for row in load_manifest(folder))
    assert rows and sorted(int(path.stem) for path in (folder / "images").iterdir()) == rows
    assert f"The {len(rows)} pair(s) made so far are kept" in str(raised.value)


def slow_make_pair(shared, task):
    time.sleep(0.3)
    return make_pair(shared, task)


def _stop_a_cluster_run_after_its_first_pair(model_path, folder: Path) -> DatasetJob:
    """A 12-pair run on two in-process workers, stopped once a pair is done; its files
    and manifest rows must agree (pairs still being made would be written by a second
    after it)."""
    from distributed import LocalCluster

    stop = threading.Event()
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False, host="127.0.0.1", protocol="tcp://",
                      dashboard_address=None) as cluster:
        job = DatasetJob.prepare(model_path, folder, count=12, scheduler=cluster.scheduler_address)
        for progress in job.run(stop):
            if progress.done >= 1:
                stop.set()
        time.sleep(1.0)  # what a worker still made would be written by now
    rows = load_manifest(folder)
    assert job.summary.stopped and 2 <= len(rows) < 12  # the first pair and the other worker's
    written = sorted(path.name for path in (folder / "images").iterdir())
    assert written == sorted(Path(row["image"]).name for row in rows)
    return job


def test_stop_on_a_cluster_records_the_pairs_in_progress_and_makes_no_more(rgb_model, tmp_path, monkeypatch):
    # Found by a Python-API user: after a stop, pairs the workers were making were
    # written after the run had returned, with no manifest row.
    import napari_semia.dataset_worker

    monkeypatch.setattr(napari_semia.dataset_worker, "make_pair", slow_make_pair)
    _stop_a_cluster_run_after_its_first_pair(rgb_model[0], tmp_path / "ds")


def test_a_stop_waits_for_every_pending_pair_where_the_scheduler_cannot_say_which_run(
        rgb_model, tmp_path, monkeypatch):
    # Found in review: where the scheduler could not report its tasks' states, a stop
    # cancelled every pending pair, those being made too: their files were written with
    # no manifest row.
    from distributed import Client

    import napari_semia.dataset_worker

    def refused(*args, **kwargs):
        raise RuntimeError("this scheduler runs no pickled functions")

    monkeypatch.setattr(napari_semia.dataset_worker, "make_pair", slow_make_pair)
    monkeypatch.setattr(Client, "run_on_scheduler", refused)
    job = _stop_a_cluster_run_after_its_first_pair(rgb_model[0], tmp_path / "ds")
    assert not job.summary.failures


def test_leaving_a_cluster_run_early_tells_its_queued_pairs_not_to_start(rgb_model, tmp_path, monkeypatch):
    # Ctrl-C, an error or a caller leaving job.run() early: only cancelled, pairs
    # already in a worker's queue could start and write with no manifest row.
    from distributed import Client, Event, LocalCluster

    import napari_semia.dataset_executors as executors
    import napari_semia.dataset_worker
    from napari_semia.dataset_worker import stop_event_name

    run_ids = []
    real_start = executors.DaskExecutor.start

    def start(self, job):
        real_start(self, job)
        run_ids.append(self.run_id)

    monkeypatch.setattr(napari_semia.dataset_worker, "make_pair", slow_make_pair)
    monkeypatch.setattr(executors.DaskExecutor, "start", start)
    model_path, _, _ = rgb_model
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False, host="127.0.0.1", protocol="tcp://",
                      dashboard_address=None) as cluster:
        job = DatasetJob.prepare(model_path, tmp_path / "ds", count=12, scheduler=cluster.scheduler_address)
        for progress in job.run(threading.Event()):
            if progress.done >= 1:
                break  # the generator is closed: the run's executor with it
        with Client(cluster.scheduler_address) as client:
            assert Event(stop_event_name(run_ids[0]), client=client).is_set()
        time.sleep(1.0)
    written = len(list((tmp_path / "ds" / "images").iterdir()))
    assert len(load_manifest(tmp_path / "ds")) >= 1 and written <= 4  # at most those being made beyond


def test_a_cluster_run_refused_by_its_workers_leaves_no_empty_dataset(rgb_model, tmp_path, monkeypatch):
    # Found by a Python-API user: workers that could not see the folder (or ran another
    # version) refused the run after an empty dataset had been made in it.
    from distributed import LocalCluster

    import napari_semia.dataset_worker

    monkeypatch.setattr(napari_semia.dataset_worker, "_output_folder_problem", lambda out_dir: "not there")
    model_path, _, _ = rgb_model
    generate(model_path, tmp_path / "earlier", count=1, progress_bar=False)
    earlier = pair_files(tmp_path / "earlier")
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, host="127.0.0.1", protocol="tcp://",
                      dashboard_address=None) as cluster:
        for folder in (tmp_path / "new" / "ds", tmp_path / "earlier"):
            with pytest.raises(SemiaInputError, match=r"cannot write the dataset .*not there"):
                generate(model_path, folder, count=2, scheduler=cluster.scheduler_address, progress_bar=False)
    assert not (tmp_path / "new").exists()
    assert pair_files(tmp_path / "earlier") == earlier and len(load_manifest(tmp_path / "earlier")) == 1
    # A worker without torch failed every pair, three attempts each (a cluster user).
    monkeypatch.undo()
    monkeypatch.setattr(napari_semia.dataset_worker, "_torch_problem", lambda: "ImportError: no torch")
    with (LocalCluster(n_workers=1, threads_per_worker=1, processes=False, host="127.0.0.1",
                       protocol="tcp://", dashboard_address=None) as cluster,
          pytest.raises(SemiaInputError, match=r"1 Dask worker\(s\) cannot import torch .*no torch")):
        generate(model_path, tmp_path / "new" / "ds", count=2, scheduler=cluster.scheduler_address,
                 progress_bar=False)
    assert not (tmp_path / "new").exists()


def test_layouts_come_from_the_models_full_size_labels(rgb_model, tmp_path):
    """Without --labels, layouts are sampled from the full-size source labels the
    model keeps: strength 0 gives the source's own map, pixel for pixel (the
    working-size copy upsampled moved its edges), and the dataset is the one the
    same map given with --labels makes."""
    from napari_semia.layout_sampler import LayoutSamplerSettings

    model_path, _, labels = rgb_model
    unchanged = LayoutSamplerSettings().scaled(0)
    generate(model_path, tmp_path / "ds", count=2, progress_bar=False, sampler_settings=unchanged)
    for row in load_manifest(tmp_path / "ds"):
        np.testing.assert_array_equal(read_label_file(tmp_path / "ds" / row["labels"]), labels)
    given = write_image_file(tmp_path / "labels.png", labels)
    summary = generate(model_path, tmp_path / "ds", count=2, progress_bar=False, sampler_settings=unchanged,
                       source_labels=read_label_file(given))
    assert summary.skipped == 2 and summary.written == 0  # the same settings: nothing to redo


def test_a_complete_set_run_again_says_so_in_two_lines(rgb_model, tmp_path, capsys):
    # Found by a new user: a 100 % bar drawn three times and "Wrote 0 pair(s) ...
    # (0.00 pairs/s)" for a run with nothing to do.
    model_path, _, _ = rgb_model
    run_cli([model_path, "-o", tmp_path / "ds", "--count", 1], capsys)
    code, err = run_cli([model_path, "-o", tmp_path / "ds", "--count", 1], capsys)
    assert code == 0
    assert err.splitlines() == ["Nothing to do: every pair exists.",
                                f"Wrote nothing: the 1 pair(s) were already in {tmp_path / 'ds'}."]


def test_a_batch_system_s_sigterm_ends_generate_as_ctrl_c_does(rgb_model, tmp_path, capsys, monkeypatch):
    # A pass as a cluster user: SLURM's time limit (SIGTERM) ended the command with no
    # word on what was kept, and left the manifest as appended.
    import os
    import signal

    import napari_semia.dataset_executors as executors
    from napari_semia.folder_lock import LOCK_FILE

    real_wait = executors.wait
    waits = []

    def terminated_wait(*args, **kwargs):
        waits.append(1)
        if len(waits) == 2:
            os.kill(os.getpid(), signal.SIGTERM)
        return real_wait(*args, **kwargs)

    monkeypatch.setattr(executors, "wait", terminated_wait)
    before = signal.getsignal(signal.SIGTERM)
    model_path, _, _ = rgb_model
    code, err = run_cli([model_path, "-o", tmp_path / "ds", "--count", 3], capsys)
    assert code == 128 + signal.SIGTERM and err.count("Interrupted") == 1 and "made so far are kept" in err
    assert signal.getsignal(signal.SIGTERM) is before
    assert len(load_manifest(tmp_path / "ds")) >= 1 and not (tmp_path / "ds" / LOCK_FILE).exists()


def test_ctrl_c_says_the_pairs_are_kept_and_how_to_complete_the_set(rgb_model, tmp_path, capsys, monkeypatch):
    import napari_semia.dataset

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(napari_semia.dataset, "generate", interrupted)
    model_path, _, _ = rgb_model
    code, err = run_cli([model_path, "-o", tmp_path / "ds", "--count", 2], capsys)
    assert code == 130 and "run the same command again" in err and "Traceback" not in err


def test_a_script_without_the_main_guard_gets_one_clear_message(rgb_model, tmp_path):
    # Found by a new user of the Python API: generate(..., workers=2) at a script's top
    # level printed 489 lines of Dask tracebacks ending in "Nanny failed to start".
    model_path, _, _ = rgb_model
    script = tmp_path / "no_guard.py"
    script.write_text("from napari_semia.dataset import generate\n"
                      f"generate({str(model_path)!r}, {str(tmp_path / 'ds')!r}, count=1, workers=1, "
                      "progress_bar=False)\n")
    run = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120,
                         env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert run.returncode != 0
    assert """under 'if __name__ == "__main__":'.""" in run.stderr.strip().splitlines()[-1]
    assert "A local Dask cluster was asked for from a process it started" in run.stderr


def test_local_dask_workers_leave_ctrl_c_to_this_process():
    """A terminal's Ctrl-C reaches every process of the group: local Dask workers
    each printed a KeyboardInterrupt traceback. Processes started while the
    cluster starts inherit SIGINT ignored; this process's handler comes back."""
    import signal

    from napari_semia.dataset_executors import children_ignore_interrupts

    probe = [sys.executable, "-c", "import signal; print(signal.getsignal(signal.SIGINT) is signal.SIG_IGN)"]
    # A shell's background job starts with SIGINT ignored, and so would every
    # child: the handler a terminal's foreground process has is set here.
    started_with = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with children_ignore_interrupts():
            inside = subprocess.run(probe, capture_output=True, text=True, check=True).stdout.strip()
        outside = subprocess.run(probe, capture_output=True, text=True, check=True).stdout.strip()
        assert (inside, outside) == ("True", "False")
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    finally:
        signal.signal(signal.SIGINT, started_with)


def test_a_model_in_memory_makes_the_same_dataset_as_its_file(rgb_model, tmp_path):
    from napari_semia.model import SemiaModel

    model_path, _, _ = rgb_model
    model = SemiaModel.load(model_path, device="cpu")
    assert len(repr(model)) < 200 and "2 classes" in repr(model)  # not every weight tensor
    first = generate(model, tmp_path / "ds", count=2, progress_bar=False)  # raised a TypeError
    assert first.written == 2
    again = generate(model_path, tmp_path / "ds", count=2, progress_bar=False)
    assert again.skipped == 2  # the same model: the file's bytes, the same settings record


def test_a_folder_of_an_earlier_version_says_why_it_is_refused(rgb_model, tmp_path):
    """Earlier versions sampled from the working-size labels and recorded no
    source labels: a rerun into such a folder is refused, and says why."""
    model_path, _, _ = rgb_model
    generate(model_path, tmp_path / "ds", count=1, progress_bar=False)
    record = json.loads((tmp_path / "ds" / "dataset.json").read_text())
    record["source_labels"] = None
    (tmp_path / "ds" / "dataset.json").write_text(json.dumps(record))
    with pytest.raises(SemiaInputError, match=r"earlier version.*working-size labels"):
        DatasetJob.prepare(model_path, tmp_path / "ds", count=2)


@pytest.mark.parametrize("record", ["[1]", '"x"', '{"channel_names": {"0": "BF"}, "numTraining": 1}'])
def test_another_tools_dataset_json_is_refused_as_such(rgb_model, tmp_path, record):
    # nnU-Net keeps a dataset.json in every dataset folder: it was read as an earlier
    # version's record ("delete that one to start again"), and a list or a string
    # ended in a traceback.
    model_path, _, _ = rgb_model
    (tmp_path / "ds").mkdir()
    (tmp_path / "ds" / "dataset.json").write_text(record)
    with pytest.raises(SemiaInputError, match=r"dataset.json was not written by 'napari-semia generate'"):
        DatasetJob.prepare(model_path, tmp_path / "ds", count=1)
    assert (tmp_path / "ds" / "dataset.json").read_text() == record
    assert sorted(p.name for p in (tmp_path / "ds").iterdir()) == ["dataset.json"]


@pytest.mark.parametrize("big", [3_000_000_000, 2**40])
def test_label_ids_past_int32_are_written_as_they_are(tmp_path, big):
    # Found by a new user: ids above 65535 were written as int32, so 3e9 came back
    # as -1294967296 and 2**40 as 0.
    image, labels = objects_scene()
    ids = np.where(labels == 1, big, 7).astype(np.int64)
    trainer = SemiaTrainer(image, ids, config=TINY.replace(steps=1), device="cpu")
    for _ in trainer.run():
        pass
    generate(trainer.model, tmp_path / "ds", count=2, progress_bar=False)
    for row in load_manifest(tmp_path / "ds"):
        assert row["labels"].endswith(".tif")
        written = read_label_file(tmp_path / "ds" / row["labels"])
        assert set(np.unique(written).tolist()) <= {7, big} and big in written


def test_working_size_pairs_warn_of_a_class_brighter_than_they_can_show(tmp_path):
    # Found by a microscopist: FISH spots (a few per mille of the pixels, 14 000-20 000
    # over a background of 150) came out at 184 in working-size pairs, labelled
    # 'spot' where the image showed none, with no word of it.
    image, labels = objects_scene(gray16=True)
    labels[labels == 1] = 2
    labels[20, 20] = labels[30, 3] = 1  # two bright spots
    image[labels == 1] = 60000
    trainer = SemiaTrainer(image, labels, config=TINY.replace(steps=1), device="cpu", warn=False)
    for _ in trainer.run():
        pass
    model = trainer.model
    assert model.classes_beyond_range() == [1]
    working = DatasetJob.prepare(model, tmp_path / "small", count=2, full_resolution=False)
    assert any("Class 1:" in note and "hardly visible" in note for note in working.warnings)
    full = DatasetJob.prepare(model, tmp_path / "full", count=2)
    assert not any("hardly visible" in note for note in full.warnings)


def test_an_interrupted_run_makes_no_queued_pair(monkeypatch):
    # Found by a new user: after Ctrl-C the pairs already queued were still made,
    # their files on disk with no manifest row (12 pairs on disk, 10 listed).
    import napari_semia.dataset_executors as executors
    from napari_semia.dataset_worker import PairTask

    made, waits = [], []

    def slow_pair(shared, task):
        time.sleep(0.3)
        made.append(task.index)
        return task.index

    real_wait = executors.wait

    def interrupted_wait(*args, **kwargs):
        waits.append(1)
        if len(waits) == 2:  # Ctrl-C while pair 1 is made and pair 2 waits its turn
            raise KeyboardInterrupt
        return real_wait(*args, **kwargs)

    monkeypatch.setattr(executors, "make_pair", slow_pair)
    monkeypatch.setattr(executors, "wait", interrupted_wait)
    executor = executors.InProcessExecutor()
    executor._shared = None
    results = executor.results([PairTask(i) for i in range(5)], threading.Event())
    assert next(results) == 0
    with pytest.raises(KeyboardInterrupt):
        next(results)
    assert made == [0, 1]  # the pair being made ends; the queued one is not started


def test_the_bar_ends_its_line_in_a_log(rgb_model, tmp_path, capsys, monkeypatch):
    # Found by a new user: in a log file (no terminal) the bar was cleared with a
    # carriage return, and the summary written after it stood on the bar's line.
    import napari_semia.dataset as dataset_module

    monkeypatch.setattr(dataset_module._DelayedBar, "DELAY_S", 0.0)  # the bar drawn at once
    model_path, _, _ = rgb_model
    generate(model_path, tmp_path / "ds", count=2)
    err = capsys.readouterr().err
    assert err.endswith("\n") and "2/2" in err.splitlines()[-1]


def test_the_bar_names_the_failed_pairs(rgb_model, tmp_path, capsys, monkeypatch):
    # Found by a cluster user: failed pairs move the bar too, so it read 100 % over a
    # run that had failed pairs, with nothing beside it.
    import napari_semia.dataset as dataset_module
    import napari_semia.dataset_executors as executors

    monkeypatch.setattr(dataset_module._DelayedBar, "DELAY_S", 0.0)  # the bar drawn at once
    real_make_pair = executors.make_pair

    def failing_pair(shared, task):
        if task.index == 1:
            raise OSError("simulated failure")
        return real_make_pair(shared, task)

    monkeypatch.setattr(executors, "make_pair", failing_pair)
    model_path, _, _ = rgb_model
    summary = generate(model_path, tmp_path / "ds", count=3)
    assert list(summary.failures) == [1]
    last_line = capsys.readouterr().err.splitlines()[-1]
    assert "3/3" in last_line and "1 failed" in last_line


def test_ctrl_c_in_generate_says_the_pairs_are_kept_and_how_to_complete_the_set(
        rgb_model, tmp_path, capsys, monkeypatch):
    # Found by a Python-API user: the command line says so; a script got a bare
    # KeyboardInterrupt.
    import napari_semia.dataset as dataset_module
    import napari_semia.dataset_executors as executors

    monkeypatch.setattr(dataset_module._DelayedBar, "DELAY_S", 0.0)  # the bar drawn at once
    real_wait = executors.wait
    waits = []

    def interrupted_wait(*args, **kwargs):
        waits.append(1)
        if len(waits) == 2:  # Ctrl-C once the first pair is made
            raise KeyboardInterrupt
        return real_wait(*args, **kwargs)

    monkeypatch.setattr(executors, "wait", interrupted_wait)
    model_path, _, _ = rgb_model
    with pytest.raises(KeyboardInterrupt):
        generate(model_path, tmp_path / "ds", count=3)
    err = capsys.readouterr().err
    rows = load_manifest(tmp_path / "ds")
    assert f"Interrupted. The {len(rows)} pair(s) made so far are kept in {tmp_path / 'ds'}" in err
    assert "the same call again completes the set" in err and len(rows) >= 1
    # The pair under way at Ctrl-C, finished and written, is listed (it was not: 10 pairs
    # on disk, 9 listed; found by a new user), and the message counts it.
    assert len(rows) == 2 and len(list((tmp_path / "ds" / "images").iterdir())) == 2
    assert err.rstrip().endswith("the same call again completes the set.")  # (not the bar drawn again)
    # The command line says it once (it added a second, vaguer "Interrupted"; a new user).
    waits.clear()
    code, err = run_cli([model_path, "-o", tmp_path / "ds2", "--count", 3], capsys)
    assert code == 130 and err.count("Interrupted") == 1 and "made so far are kept in" in err
    monkeypatch.undo()
    assert generate(model_path, tmp_path / "ds", count=3, progress_bar=False).complete


def test_a_full_disk_ends_the_run_with_one_line_and_keeps_the_pairs_made(rgb_model, tmp_path, capsys,
                                                                          monkeypatch):
    import errno
    import pathlib

    import imageio.v3 as iio

    # A disk with room for three pairs' files: the manifest's last rewrite then fails
    # too, which had hidden the write error under a raw OSError (found in s44).
    room = {"files": 6}
    real_imwrite, real_write_text = iio.imwrite, pathlib.Path.write_text

    def imwrite(*args, **kwargs):
        room["files"] -= 1
        if room["files"] < 0:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_imwrite(*args, **kwargs)

    def write_text(path, *args, **kwargs):
        if room["files"] < 0:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write_text(path, *args, **kwargs)

    monkeypatch.setattr(iio, "imwrite", imwrite)
    monkeypatch.setattr(pathlib.Path, "write_text", write_text)
    model_path, _, _ = rgb_model
    folder = tmp_path / "ds"
    code, err = run_cli([model_path, "-o", folder, "--count", 5], capsys)
    assert code == 2 and "Traceback" not in err
    assert "No space left on device. The 3 pair(s) made so far are kept" in err
    assert [row["index"] for row in load_manifest(folder)] == [0, 1, 2]
    assert not [path for path in folder.rglob(".*") if path.is_file()]  # no partial files left

    monkeypatch.setattr(iio, "imwrite", real_imwrite)
    monkeypatch.setattr(pathlib.Path, "write_text", real_write_text)
    code, err = run_cli([model_path, "-o", folder, "--count", 5], capsys)
    assert code == 0 and "3 were already there" in err
    assert [row["index"] for row in load_manifest(folder)] == [0, 1, 2, 3, 4]


def test_a_set_records_the_versions_that_made_it_and_a_rerun_by_others_says_so(rgb_model, tmp_path,
                                                                               monkeypatch):
    # A scripting user could not trace a set to the code that made it, and a rerun
    # after an upgrade added pairs of other code without a word.
    import warnings

    import torch

    import napari_semia.dataset as dataset_module
    from napari_semia import __version__

    model = rgb_model[0]
    generate(model, tmp_path / "set", count=1, seed=0, progress_bar=False)
    record = json.loads((tmp_path / "set" / "dataset.json").read_text())
    assert record["made_with"] == {"napari_semia": __version__, "torch": torch.__version__}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        generate(model, tmp_path / "set", count=2, seed=0, progress_bar=False)  # the same: no word
    monkeypatch.setattr(dataset_module, "_made_with", lambda: {"napari_semia": "9.9", "torch": "3.0"})
    with pytest.warns(UserWarning, match=rf"made by napari-semia {__version__} \(torch .*\); the ones this "
                                         r"run adds are made by napari-semia 9\.9 \(torch 3\.0\)"):
        generate(model, tmp_path / "set", count=4, seed=0, progress_bar=False)
    # Which version made which pair stays in dataset.json (only the warning said it; a
    # reproducibility pass), and the set is the same set to a rerun.
    record = json.loads((tmp_path / "set" / "dataset.json").read_text())
    assert record["made_with"]["napari_semia"] == __version__
    assert record["later_runs"] == [{"made_with": {"napari_semia": "9.9", "torch": "3.0"}, "pairs": [[2, 3]]}]
    assert generate(model, tmp_path / "set", count=4, seed=0, progress_bar=False).skipped == 4
    # A pair made again by the set's own version leaves the other version's entry.
    (tmp_path / "set" / "images" / "00003.png").unlink()
    monkeypatch.undo()
    assert generate(model, tmp_path / "set", count=4, seed=0, progress_bar=False).written == 1
    record = json.loads((tmp_path / "set" / "dataset.json").read_text())
    assert record["later_runs"] == [{"made_with": {"napari_semia": "9.9", "torch": "3.0"}, "pairs": [[2, 2]]}]


def test_a_pair_file_overwritten_with_no_image_is_made_again(rgb_model, tmp_path):
    # A scripting user: a label file overwritten by hand was kept as a done pair
    # ("2 were already there"), its junk in the set.
    model_path = rgb_model[0]
    generate(model_path, tmp_path / "ds", count=3, seed=1, progress_bar=False)
    before = pair_files(tmp_path / "ds")
    junk = tmp_path / "ds" / "labels" / "00001.png"
    assert junk.is_file()
    junk.write_text("junk")
    summary = generate(model_path, tmp_path / "ds", count=3, seed=1, progress_bar=False)
    assert summary.written == 1 and summary.skipped == 2
    assert pair_files(tmp_path / "ds") == before


def test_names_beyond_the_system_s_encoding_are_written_in_utf_8(rgb_model, tmp_path):
    # A portability audit: the manifest was written in the system's encoding (Windows'
    # code page), which has no Cyrillic or CJK, and a layout named so ended the run in a
    # traceback; printing a model's name to a redirected output did too. Run where the
    # system's encoding is ASCII.
    import shutil

    model_path, _, labels = rgb_model
    named = tmp_path / "α-SMA.semia"
    shutil.copy(model_path, named)
    (tmp_path / "layouts").mkdir()
    write_image_file(tmp_path / "layouts" / "клетка.png", labels.astype(np.uint8))
    env = dict(os.environ, LC_ALL="C", LANG="C", PYTHONCOERCECLOCALE="0", PYTHONUTF8="0",
               PYTHONIOENCODING="", PYTHONPATH=os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")]))
    env.pop("PYTHONIOENCODING")
    run = subprocess.run([sys.executable, "-X", "utf8=0", "-m", "napari_semia.cli", "generate", str(named),
                          "-o", str(tmp_path / "ds"), "--layouts", str(tmp_path / "layouts")],
                         env=env, capture_output=True, timeout=300)
    assert run.returncode == 0, run.stderr.decode(errors="replace")[-2000:]
    rows = (tmp_path / "ds" / "manifest.csv").read_bytes().decode("utf-8")
    assert "клетка.png" in rows and load_manifest(tmp_path / "ds")[0]["layout"] == "клетка.png"
    info = subprocess.run([sys.executable, "-X", "utf8=0", "-m", "napari_semia.cli", "info", str(named)],
                          env=env, capture_output=True, timeout=300)
    # (Escaped: this system decoded the name from its bytes with surrogates.)
    assert info.returncode == 0 and b"-SMA.semia: a napari-semia model" in info.stdout, info.stderr[-2000:]


def test_a_manifest_s_bytes_that_are_no_utf_8_survive_a_rerun(rgb_model, tmp_path):
    # A review: a layout file named in bytes that are no UTF-8 was read back as a
    # replacement character, and the next run rewrote the manifest with it for good.
    model_path = rgb_model[0]
    out = tmp_path / "ds"
    generate(model_path, out, count=2, progress_bar=False)
    manifest = out / "manifest.csv"
    data = manifest.read_bytes()
    assert b",sampled," in data
    manifest.write_bytes(data.replace(b",sampled,", b",caf\xe9.png,", 1))
    assert generate(model_path, out, count=2, progress_bar=False).skipped == 2  # (the manifest rewritten)
    assert b",caf\xe9.png," in manifest.read_bytes()
    assert load_manifest(out)[0]["layout"] == "caf\udce9.png"


def test_a_manifest_row_torn_by_an_interruption_is_made_again(rgb_model, tmp_path):
    # A run killed while writing its manifest (SIGKILL, a time limit, a full disk) can
    # leave a last row cut inside its params; counted as done, that pair was never
    # made again, and load_manifest failed on it (untested: a mutation audit).
    model_path, _, _ = rgb_model
    out = tmp_path / "ds"
    generate(model_path, out, count=3, progress_bar=False)
    manifest = out / "manifest.csv"
    lines = manifest.read_text(encoding="utf-8").splitlines(keepends=True)
    torn = lines[-1][: lines[-1].index('"{') + 12]  # pair 2's row, cut inside its params
    manifest.write_text("".join(lines[:-1]) + torn, encoding="utf-8")
    assert [row["index"] for row in load_manifest(out)] == [0, 1]
    summary = generate(model_path, out, count=3, progress_bar=False)
    assert (summary.written, summary.skipped) == (1, 2)
    assert [row["index"] for row in load_manifest(out)] == [0, 1, 2]


def test_a_lock_taken_on_a_file_removed_meanwhile_is_taken_again(tmp_path, monkeypatch):
    # The run before removes the lock's file as it ends: one that opened it just then
    # holds a lock on a file no other run finds, and a third run would lock the new
    # file beside it (two writers; untested: a mutation audit).
    import fcntl

    from napari_semia.errors import SemiaInputError
    from napari_semia.folder_lock import LOCK_FILE, FolderLock

    real_flock, calls = fcntl.flock, []

    def flock_after_a_release(fd, operation):
        if not calls:  # the earlier run lets go between this run's open and lock
            (tmp_path / LOCK_FILE).unlink()
            (tmp_path / LOCK_FILE).touch()
        calls.append(fd)
        return real_flock(fd, operation)

    (tmp_path / LOCK_FILE).touch()
    lock = FolderLock(tmp_path)
    with monkeypatch.context() as patch:
        patch.setattr(fcntl, "flock", flock_after_a_release)
        lock.acquire()
    assert len(calls) == 2 and lock.held
    with pytest.raises(SemiaInputError, match="Another run is writing"):
        FolderLock(tmp_path).acquire()
    lock.release()


def test_given_layouts_in_an_indexed_tiff_are_read_as_their_colours(tmp_path):
    # A review: a folder's indexed TIFFs were read through their colour table, one
    # file's (a layout or a stack of them) as their indices, which swapped background
    # and objects here without a word.
    image, ids = objects_scene()
    red, blue = (220, 30, 30), (30, 30, 220)
    colour_labels = np.where(ids[..., None] == 1, blue, red).astype(np.uint8)
    trainer = SemiaTrainer(image, colour_labels, config=TINY, device="cpu")
    for _ in trainer.run():
        pass
    model_path = trainer.model.save(tmp_path / "colours.semia")
    table = np.zeros((3, 256), np.uint16)
    table[:, 1], table[:, 2] = np.array(blue) * 257, np.array(red) * 257
    indices = np.where(ids == 1, 1, 2).astype(np.uint8)  # as class numbers: objects <-> background
    (tmp_path / "folder").mkdir()
    tifffile.imwrite(tmp_path / "folder" / "layout.tif", indices, photometric="palette", colormap=table)
    tifffile.imwrite(tmp_path / "one.tif", indices, photometric="palette", colormap=table)
    tifffile.imwrite(tmp_path / "stack.tif", np.stack([indices, indices]), photometric="palette",
                     colormap=table)
    expected = np.where(ids == 1, 2, 1)  # class 1 is red, the background (the most frequent)
    for layouts in ("folder", "one.tif", "stack.tif"):
        job = DatasetJob.prepare(model_path, tmp_path / f"ds-{layouts}", layouts=tmp_path / layouts)
        assert any("would give another layout" in note for note in job.warnings), layouts
        for _ in job.run():
            pass
        folder = tmp_path / f"ds-{layouts}"
        for row in load_manifest(folder):
            np.testing.assert_array_equal(read_label_file(folder / row["labels"]), expected)
    # A layout of ids against these colours: one note says which colour each id is, for a
    # file as for a folder (a review).
    write_image_file(tmp_path / "ids.png", expected.astype(np.uint8))
    job = DatasetJob.prepare(model_path, tmp_path / "ds-ids", layouts=tmp_path / "ids.png")
    assert [note for note in job.warnings if "ids, read as the classes" in note] == [
        "The layout ids.png: ids, read as the classes of the colours the model's labels have, numbered from "
        "the most frequent (1) down: 1 (220, 30, 30), 2 (30, 30, 220). If the ids mean other classes, give "
        "the map in those colours instead."]
