"""The trained model: synthesis, its file, and file errors."""

import numpy as np
import pytest
import torch
from conftest import TINY

from napari_semia.errors import ModelFileError, SemiaInputError
from napari_semia.model import SemiaModel
from napari_semia.trainer import SemiaTrainer


@pytest.fixture(scope="module")
def model():
    from conftest import make_scene

    image, labels = make_scene()
    trainer = SemiaTrainer(image, labels, TINY, device="cpu")
    for _ in trainer.run():
        pass
    return trainer.model


def test_save_load_round_trip_reproduces_synthesis(tmp_path, model, scene, moved_target):
    _, labels = scene
    before = model.synthesize(moved_target)
    path = model.save(tmp_path / "m.semia")
    loaded = SemiaModel.load(path, device="cpu")
    assert loaded.class_ids == model.class_ids
    assert loaded.steps_done == 6 and loaded.config == model.config
    np.testing.assert_array_equal(loaded.synthesize(moved_target), before)
    # Batches give the same images as single targets (batched convolutions may
    # round one uint8 level differently).
    batch = loaded.synthesize([moved_target, labels])
    assert len(batch) == 2
    np.testing.assert_allclose(batch[0].astype(int), before.astype(int), atol=1)
    np.testing.assert_allclose(batch[1].astype(int), loaded.synthesize(labels).astype(int), atol=1)


def test_a_model_pickles_for_a_dask_map(model, moved_target):
    # Found by a Python-API user: client.map(model.synthesize, layouts) failed on the
    # model's lock.
    import pickle

    before = model.synthesize(moved_target)  # (its caches built: they are not sent)
    copy = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(copy.synthesize(moved_target), before)
    assert copy.source_pyramid() is copy.source_pyramid()  # a lock of its own again


def test_a_gpu_model_pickles_on_the_cpu_for_workers_without_one(model, moved_target, monkeypatch):
    # Found in review: a model on a GPU pickled its CUDA tensors, which a CPU-only Dask
    # worker cannot unpickle. (No GPU here: the model says it is on one.)
    import pickle

    from napari_semia.model import SemiaModel

    before = model.synthesize(moved_target)
    monkeypatch.setattr(model, "extra_states", {"discriminator": {"weight": torch.ones(2)},
                                                "steps": [torch.zeros(1)]})
    with monkeypatch.context() as patched:
        patched.setattr(SemiaModel, "device", property(lambda self: torch.device("cuda")))
        state = model.__getstate__()
    assert state["_pickled_on"] == "cuda" and state["generator"] is not model.generator
    tensors = [state["source_image"], state["source_index"], *state["generator"].parameters(),
               state["extra_states"]["discriminator"]["weight"], *state["extra_states"]["steps"]]
    assert all(tensor.device.type == "cpu" for tensor in tensors)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)  # a CPU-only worker
    copy = SemiaModel.__new__(SemiaModel)
    copy.__setstate__(pickle.loads(pickle.dumps(state)))
    assert copy.device.type == "cpu" and "_pickled_on" not in copy.__dict__
    np.testing.assert_array_equal(copy.synthesize(moved_target), before)


def test_working_size_and_full_size_outputs(model, moved_target, scene):
    image, _ = scene
    assert model.synthesize(moved_target).shape == image.shape
    small = model.synthesize(moved_target, full_size=False)
    assert small.shape[:2] == model.working_shape and small.dtype == image.dtype


def test_cached_source_encoding_gives_the_same_synthesis(model, moved_target):
    model._source_encoding = None
    cached = model.synthesize(moved_target)
    assert model._source_encoding is not None
    encoding = model._source_encoding
    np.testing.assert_array_equal(model.synthesize(moved_target), cached)
    assert model._source_encoding is encoding  # computed once


def test_model_file_errors(tmp_path):
    with pytest.raises(ModelFileError, match=r"The model file .* does not exist"):
        SemiaModel.load(tmp_path / "missing.semia")
    with pytest.raises(ModelFileError, match="folder"):
        SemiaModel.load(tmp_path)
    corrupt = tmp_path / "corrupt.semia"
    corrupt.write_bytes(b"PK\x03\x04 this is not a model")
    with pytest.raises(ModelFileError, match="not a readable"):
        SemiaModel.load(corrupt)
    foreign = tmp_path / "foreign.pt"
    torch.save({"weights": torch.zeros(3)}, foreign)
    with pytest.raises(ModelFileError, match="not a napari-semia model"):
        SemiaModel.load(foreign)


def _edited(tmp_path, model, edit, name="edited.semia"):
    """A copy of ``model``'s file with ``edit`` applied to its payload."""
    payload = torch.load(model.save(tmp_path / "source.semia"), weights_only=True)
    edit(payload)
    torch.save(payload, tmp_path / name)
    return tmp_path / name


def test_a_model_file_damaged_on_its_way_is_refused(tmp_path, model):
    # A review of shared files: bytes changed in transit loaded without a word and
    # gave garbage; each record of the file's zip has a checksum.
    import struct
    import zipfile

    path = model.save(tmp_path / "m.semia")
    with zipfile.ZipFile(path) as archive:
        record = max(archive.infolist(), key=lambda info: info.file_size)
    data = bytearray(path.read_bytes())
    names, extra = struct.unpack("<HH", data[record.header_offset + 26:record.header_offset + 30])
    start = record.header_offset + 30 + names + extra + record.file_size // 2
    data[start:start + 64] = bytes(255 - b for b in data[start:start + 64])
    path.write_bytes(bytes(data))
    with pytest.raises(ModelFileError, match="is damaged: part of it does not match the checksum"):
        SemiaModel.load(path, device="cpu")
    # A record's method damaged into "deflated": the check's own zlib.error was raised (a review).
    # Its data are whole, and torch reads them as stored: it loads, or is refused in one line.
    data = bytearray(model.save(tmp_path / "m2.semia").read_bytes())
    central = data.find(b"PK\x01\x02")
    data[central + 10:central + 12] = struct.pack("<H", 8)
    (tmp_path / "m2.semia").write_bytes(bytes(data))
    # torch read such a file otherwise from run to run (and now and then loaded it):
    # torch stores every record as it is, so one marked compressed is damaged.
    with pytest.raises(ModelFileError, match=r"'m2\.semia' is damaged: part of it does not match"):
        SemiaModel.load(tmp_path / "m2.semia", device="cpu")


def test_a_model_file_that_would_run_code_is_named_so_and_not_run(tmp_path, model):
    import os

    class Payload:
        def __reduce__(self):
            return os.system, (f"touch {tmp_path / 'ran'}",)

    torch.save({"format": "napari-semia-model", "x": Payload()}, tmp_path / "evil.semia")
    with pytest.raises(ModelFileError, match="could run code when opened: it was not read"):
        SemiaModel.load(tmp_path / "evil.semia", device="cpu")
    assert not (tmp_path / "ran").exists()
    (tmp_path / "noise.semia").write_bytes(bytes(range(256)) * 20)  # (not code: damaged)
    with pytest.raises(ModelFileError, match="damaged, cut short in copying, or another kind of file"):
        SemiaModel.load(tmp_path / "noise.semia", device="cpu")


def test_a_model_file_edited_or_damaged_inside_gives_one_line(tmp_path, model):
    # A review of shared files: each gave a traceback at load or at synthesis, or
    # built a network of the size the file named before comparing its weights.
    def meta_edit(**changes):
        def edit(payload):
            import json

            meta = json.loads(payload["meta_json"])
            meta["generator_hparams"].update(changes)
            payload["meta_json"] = json.dumps(meta)
        return edit

    cases = {
        "is not a whole number": lambda p: p.update(format_version="4a"),
        "weights do not fit the network it names": meta_edit(width=4096),
        "are not all finite numbers": lambda p: p["generator"].update(
            {key: value * float("nan") for key, value in p["generator"].items()
             if value.is_floating_point()}),
        "working-size labels name classes it does not have": lambda p: p.update(
            source_index=p["source_index"] + 7),
        "full-size labels name classes it does not have": lambda p: p.update(
            full_index=torch.full_like(p["full_index"], 9)),
        "image and labels differ in size": lambda p: p.update(source_image=p["source_image"][..., :5, :5]),
    }
    for i, (says, edit) in enumerate(cases.items()):
        with pytest.raises(ModelFileError, match=says) as info:
            SemiaModel.load(_edited(tmp_path, model, edit, f"{i}.semia"), device="cpu")
        assert "\n" not in str(info.value) and len(str(info.value)) < 300, says
    # Settings napari-semia never makes are refused before the network is laid out
    # (20 000 levels took 84 s and 1.9 GB to be compared with the weights).
    for settings in ({"levels": 20000}, {"num_classes": 10**7}, {"width": -4}, {"evil": 1}):
        with pytest.raises(ModelFileError, match="its network's settings are not ones napari-semia makes"):
            SemiaModel.load(_edited(tmp_path, model, meta_edit(**settings)), device="cpu")
    # An image named .semia is named an image by its content (not code, nor corrupt).
    (tmp_path / "picture.semia").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(200))
    with pytest.raises(ModelFileError, match="it is an image or label file, not a model"):
        SemiaModel.load(tmp_path / "picture.semia", device="cpu")


def test_truncated_model_file_error(tmp_path, model):
    path = model.save(tmp_path / "m.semia")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelFileError):
        SemiaModel.load(path)


def test_saving_into_a_read_only_folder_names_the_path_and_keeps_the_old_file(tmp_path, model, monkeypatch):
    import napari_semia.model_file as model_module

    old = tmp_path / "m.semia"
    old.write_bytes(b"the previous model")

    def read_only_open(path, mode="r", *args, **kwargs):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(model_module, "open", read_only_open, raising=False)
    with pytest.raises(ModelFileError, match=r"Could not save the model to .*m\.semia: Permission denied"):
        model.save(old)
    assert old.read_bytes() == b"the previous model"


def test_a_failed_save_keeps_the_existing_file_and_leaves_no_partial(tmp_path, model, monkeypatch):
    path = tmp_path / "m.semia"
    path.write_bytes(b"the previous model")

    def failing_save(payload, stream):
        stream.write(b"half")
        raise RuntimeError("[enforce fail at inline_container.cc:747] . unexpected pos 123 vs 456")

    monkeypatch.setattr(torch, "save", failing_save)
    with pytest.raises(ModelFileError) as info:
        model.save(path)
    assert str(path) in str(info.value) and "enforce fail" in str(info.value)
    assert "\n" not in str(info.value)
    assert path.read_bytes() == b"the previous model"
    assert list(tmp_path.iterdir()) == [path]
    # On a full disk the message says so, not torch's "unexpected pos" (untested: a
    # mutation audit).
    import shutil
    from collections import namedtuple

    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda folder: usage(10**9, 10**9, 1000))
    with pytest.raises(ModelFileError, match=r"No space left on device \(the model takes .* MB, 0\.0 MB"):
        model.save(path)
    assert path.read_bytes() == b"the previous model"


def test_a_model_file_of_a_newer_format_is_refused_with_what_to_do(tmp_path, model):
    # Read with today's meaning, a newer format's file could give black images without
    # a word (untested: a mutation audit).
    from napari_semia.errors import NewerModelFileError
    from napari_semia.model_file import FORMAT_VERSION

    newer = _edited(tmp_path, model, lambda p: p.update(format_version=FORMAT_VERSION + 1))
    with pytest.raises(NewerModelFileError, match=r"written by a newer napari-semia.*Upgrade napari-semia"):
        SemiaModel.load(newer, device="cpu")


def test_a_killed_save_s_temporary_goes_at_the_next_save_and_a_recent_one_stays(tmp_path, model):
    # A save killed mid-write left a hidden file as large as the model, for ever.
    import os

    from napari_semia.atomic_files import PARTIAL_MARKER, STALE_PARTIAL_S

    path = tmp_path / "m.semia"
    killed = tmp_path / f".m{PARTIAL_MARKER}4242-4243.semia"
    running = tmp_path / f".m{PARTIAL_MARKER}4244-4245.semia"
    other_model = tmp_path / f".m2{PARTIAL_MARKER}4242-4243.semia"
    for leftover in (killed, running, other_model):
        leftover.write_bytes(b"half a model")
    old = killed.stat().st_mtime - STALE_PARTIAL_S - 60
    os.utime(killed, (old, old))
    os.utime(other_model, (old, old))
    model.save(path)
    assert not killed.exists() and not other_model.exists()
    assert running.exists()  # (a save under way)
    assert SemiaModel.load(path, device="cpu").steps_done == model.steps_done
    # Results and dataset images are written the same way.
    from napari_semia.io import write_image_file

    (tmp_path / "results").mkdir()
    killed_png = tmp_path / "results" / f".out{PARTIAL_MARKER}4242-4243.png"
    killed_png.write_bytes(b"half an image")
    os.utime(killed_png, (old, old))
    write_image_file(tmp_path / "results" / "out.png", np.zeros((4, 4), np.uint8))
    assert not killed_png.exists() and (tmp_path / "results" / "out.png").exists()
    # A folder is looked through once an hour at most (at every write, a dataset's
    # folder of 50 000 pairs was listed 50 000 times).
    killed_png.write_bytes(b"half an image")
    os.utime(killed_png, (old, old))
    write_image_file(tmp_path / "results" / "out2.png", np.zeros((4, 4), np.uint8))
    assert killed_png.exists()


def test_saving_where_a_folder_cannot_be_made(tmp_path, model):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(ModelFileError, match="Could not save the model"):
        model.save(blocker / "sub" / "m.semia")


def test_synthesis_rejects_bad_targets(model, scene):
    _, labels = scene
    # (Named as the model's: "the source" read as the image chosen in the widget.)
    with pytest.raises(SemiaInputError,
                       match=r"10 × 32 pixels \(height × width\), but the image the model was trained on is"):
        model.synthesize(labels[:10])
    bad = labels.copy()
    bad[0, 0] = 7
    with pytest.raises(SemiaInputError, match="7"):
        model.synthesize(bad)
    # A map as nested lists (a new user's ``target.tolist()``) is no list of 1D targets.
    for nested in (labels.tolist(), np.stack([labels] * 3, -1).tolist()):  # (and a colour map's)
        with pytest.raises(SemiaInputError, match=r"its first is a row of a map: give one target as an"):
            model.synthesize(nested)


# ------------------------------------------------------- full resolution
@pytest.fixture(scope="module")
def large_model():
    """A source twice the working size (64 x 96 px, working size 32 x 48)."""
    from conftest import make_scene

    image, labels = make_scene(96)
    image, labels = image[16:80], labels[16:80]
    trainer = SemiaTrainer(image, labels, TINY.replace(size=48), device="cpu")
    for _ in trainer.run():
        pass
    return image, labels, trainer.model


def _laplacian_variance(image):
    gray = image.astype(np.float64).mean(-1)
    return np.var(gray[1:-1, 1:-1] * 4 - gray[:-2, 1:-1] - gray[2:, 1:-1] - gray[1:-1, :-2] - gray[1:-1, 2:])


def test_full_resolution_is_made_of_the_source_and_the_preview_is_upsampled(large_model):
    image, labels, model = large_model
    assert model.working_shape == (32, 48) and model.can_refine
    target = np.roll(labels, (4, 10), axis=(0, 1))
    full = model.synthesize(target)
    preview = model.synthesize(target, refine=False)
    small = model.synthesize(target, full_size=False)
    assert full.shape == preview.shape == image.shape and full.dtype == image.dtype
    assert small.shape[:2] == model.working_shape
    # As crisp as the source (the preview is a blurred thumbnail), and the source
    # itself away from the edit.
    assert _laplacian_variance(full) > 0.7 * _laplacian_variance(image) > _laplacian_variance(preview)
    np.testing.assert_array_equal(full[-8:, :8], image[-8:, :8])
    # Deterministic, and a batch gives what single targets give.
    np.testing.assert_array_equal(model.synthesize([target, labels])[0], full)


def test_known_source_positions_are_taken_per_target(large_model):
    # A dataset's layouts come with where each moved object pixel comes from: here
    # the striped square (rows 8-43, columns 24-59) turned a quarter in place, its
    # stripes across; no match would turn them (the layout is the source's).
    image, labels, model = large_model
    rows, cols = np.mgrid[:64, :96].astype(np.float32)
    positions = np.stack([8 + (cols - 24), 24 + (43 - rows)])  # (r, c) comes from (8 + c - 24, 24 + 43 - r)
    positions[:, labels != 1] = np.nan
    turned = np.zeros_like(image)
    square = labels == 1
    turned[square] = image[positions[0][square].astype(int), positions[1][square].astype(int)]
    single = model.synthesize(labels, source_positions=positions)
    inner = np.zeros_like(square)
    inner[9:43, 25:59] = True  # (its rim blends with the background's seams)
    np.testing.assert_array_equal(single[inner], turned[inner])
    assert not np.array_equal(model.synthesize(labels)[inner], turned[inner])
    batch = model.synthesize([labels, labels], source_positions=[None, positions])
    np.testing.assert_array_equal(batch[1], single)
    with pytest.raises(SemiaInputError, match="1 sets of source positions for 2 targets"):
        model.synthesize([labels, labels], source_positions=[positions])


def test_synthesis_stages_give_the_preview_then_the_full_resolution_result(large_model, monkeypatch):
    # The widget's Live path asked for the two results separately, preparing the
    # target twice (2.7 s each at 67 MP), and the preview's 5 s could not be stopped.
    import napari_semia.model as model_module

    _, labels, model = large_model
    target = np.roll(labels, (4, 10), axis=(0, 1))
    checked, real_validate = [], model_module.validate_target
    monkeypatch.setattr(model_module, "validate_target",
                        lambda *a, **k: checked.append(1) or real_validate(*a, **k))
    stages = list(model.synthesis_stages(target))
    assert len(checked) == 1 and [final for _, final in stages] == [False, True]
    np.testing.assert_array_equal(stages[0][0], model.synthesize(target, refine=False))
    np.testing.assert_array_equal(stages[1][0], model.synthesize(target))
    (preview, final), = model.synthesis_stages(target, refine=False)
    assert final and np.array_equal(preview, stages[0][0])

    # The preview's steps, its conversion strip by strip included, are chances to stop.
    monkeypatch.setattr(model_module, "_ROWS_PER_CONVERSION", 8)  # 8 strips of 64 rows
    calls = []
    list(model.synthesis_stages(target, refine=False, progress=calls.append))
    assert len(calls) >= 10 and set(calls) == {0.0}

    class Abandon(Exception):
        pass

    def stop_at_the_last(fraction):
        if len(calls) == 1:
            raise Abandon
        calls.pop()

    with pytest.raises(Abandon):
        next(model.synthesis_stages(target, progress=stop_at_the_last))


def test_full_size_source_round_trips_the_file_exactly(tmp_path, large_model):
    image, labels, model = large_model
    target = np.roll(labels, (4, 10), axis=(0, 1))
    loaded = SemiaModel.load(model.save(tmp_path / "m.semia"), device="cpu")
    np.testing.assert_array_equal(loaded.full_image, image)
    np.testing.assert_array_equal(loaded.full_index, model.full_index)
    np.testing.assert_array_equal(loaded.synthesize(target), model.synthesize(target))


def test_uint16_multichannel_source_is_stored_exactly(tmp_path):
    from conftest import make_scene

    image, labels = make_scene()
    image = (image[..., :2].astype(np.uint16) * 257 + 3)  # two channels, the full uint16 range
    trainer = SemiaTrainer(image, labels, TINY.replace(steps=1), device="cpu")
    next(iter(trainer.run()))
    loaded = SemiaModel.load(trainer.model.save(tmp_path / "m.semia"), device="cpu")
    assert loaded.full_image.dtype == np.uint16
    np.testing.assert_array_equal(loaded.full_image, image)
    result = loaded.synthesize(np.roll(labels, 3, axis=1))
    assert result.shape == image.shape and result.dtype == np.uint16


def test_models_saved_before_the_full_size_source_load_and_upsample(tmp_path, large_model, monkeypatch):
    import napari_semia.model_file as model_module

    _, labels, model = large_model
    target = np.roll(labels, (4, 10), axis=(0, 1))
    old = SemiaModel(**{name: getattr(model, name) for name in (
        "generator", "codec", "normalizer", "source_image", "source_index", "source_shape", "config")})
    monkeypatch.setattr(model_module, "UNSTRETCHED_FORMAT_VERSION", 1)
    path = old.save(tmp_path / "old.semia")
    monkeypatch.undo()
    assert torch.load(path, weights_only=True)["format_version"] == 1
    loaded = SemiaModel.load(path, device="cpu")
    assert not loaded.can_refine
    np.testing.assert_array_equal(loaded.synthesize(target), model.synthesize(target, refine=False))


def test_a_stretched_model_is_a_file_older_versions_refuse(tmp_path, large_model):
    # Read by a version before the stretch, its stretched centre and range would be
    # taken as raw values: black images without a word. Format 3 makes those say
    # "written by a newer napari-semia"; unstretched models stay readable (2).
    from conftest import dark_sky

    _, _, model = large_model
    assert torch.load(model.save(tmp_path / "plain.semia"), weights_only=True)["format_version"] == 2
    image, labels = dark_sky()
    trainer = SemiaTrainer(image, labels, TINY.replace(steps=1), device="cpu")
    next(iter(trainer.run()))
    assert trainer.model.normalizer.stretched
    path = trainer.model.save(tmp_path / "stretched.semia")
    assert torch.load(path, weights_only=True)["format_version"] == 3
    assert SemiaModel.load(path, device="cpu").normalizer == trainer.model.normalizer


def test_a_model_knows_the_pair_it_was_trained_on(model, tmp_path):
    from conftest import make_scene

    image, labels = make_scene()
    assert model.was_trained_on(image, labels) is True
    other = image.copy()
    other[0, 0, 1] ^= 1
    assert model.was_trained_on(other, labels) is False
    assert model.was_trained_on(image, np.roll(labels, 3, axis=1)) is False
    unknown = labels.copy()
    unknown[0, 0] = 7  # an id the model does not know
    assert model.was_trained_on(image, unknown) is False
    loaded = SemiaModel.load(model.save(tmp_path / "m.semia"))
    assert loaded.was_trained_on(image, labels) is True


def test_the_first_synthesis_reports_and_may_abandon_building_the_source_side(large_model, tmp_path):
    # Building the source side (once per model) took 2 s on a 2400 x 1600 photo and
    # 6-7 s at 4096 x 4096 with no progress, and closing the dock waited for it.
    from napari_semia.model import PYRAMID_SHARE

    _, labels, trained = large_model
    model = SemiaModel.load(trained.save(tmp_path / "m.semia"), device="cpu")  # no source side built yet
    target = np.roll(labels, (4, 10), axis=(0, 1))

    class Abandon(Exception):
        pass

    def stop_while_building(fraction):
        if 0 < fraction < PYRAMID_SHARE:
            raise Abandon

    with pytest.raises(Abandon):
        model.synthesize(target, progress=stop_while_building)
    assert model._pyramid is None  # nothing half-built is kept

    fractions = []
    result = model.synthesize(target, progress=fractions.append)
    building = [f for f in fractions if f <= PYRAMID_SHARE]
    assert len(building) >= 5 and fractions == sorted(fractions) and fractions[-1] == pytest.approx(1.0)
    np.testing.assert_array_equal(result, trained.synthesize(target))
    # Once built, the whole bar is the refinement's.
    fractions.clear()
    model.synthesize(target, progress=fractions.append)
    assert min(fractions) < PYRAMID_SHARE / 2



def test_the_full_resolution_result_s_conversion_may_be_abandoned(large_model, monkeypatch):
    # From a review: the conversion of the refined result to the source's values
    # (seconds at tens of megapixels) had no chance to stop.
    import napari_semia.model as model_module

    _, labels, model = large_model
    target = np.roll(labels, (4, 10), axis=(0, 1))
    model.synthesize(target)  # the source side built
    monkeypatch.setattr(model_module, "_ROWS_PER_CONVERSION", 16)  # 4 strips of 64 rows
    fractions = []
    model.synthesize(target, progress=fractions.append)
    assert sum(f == pytest.approx(1.0) for f in fractions) >= 1 + 4
    assert fractions == sorted(fractions)

    from conftest import Abandon, abandon_at_end_call

    with pytest.raises(Abandon):  # at a strip of the conversion, not the end
        model.synthesize(target, progress=abandon_at_end_call(3))


def test_the_source_side_is_built_once_for_threads_asking_at_once(large_model, tmp_path, monkeypatch):
    # A dataset run and a Synthesize on one model built it twice, each holding a
    # full-size copy of the source at every level until the other was done.
    import threading

    import napari_semia.model as model_module

    _, _, trained = large_model
    model = SemiaModel.load(trained.save(tmp_path / "m.semia"), device="cpu")
    builds, real_pyramid = [], model_module.SourcePyramid

    def slow_pyramid(*args, **kwargs):
        builds.append(threading.get_ident())
        threading.Event().wait(0.3)  # long enough for the other thread to ask
        return real_pyramid(*args, **kwargs)

    monkeypatch.setattr(model_module, "SourcePyramid", slow_pyramid)
    pyramids = []
    threads = [threading.Thread(target=lambda: pyramids.append(model.source_pyramid())) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert len(builds) == 1 and len(pyramids) == 2 and pyramids[0] is pyramids[1]

    # One waiting for another's build can still be stopped: its progress is called.
    model._pyramid = None
    waiting = threading.Event()

    class Stop(Exception):
        pass

    def stop_when_called(fraction):
        waiting.set()
        raise Stop

    builder = threading.Thread(target=model.source_pyramid)
    builder.start()
    while not builds[1:]:
        threading.Event().wait(0.01)
    with pytest.raises(Stop):
        model.source_pyramid(progress=stop_when_called)
    builder.join(10)
    assert waiting.is_set() and len(builds) == 2


def test_odd_paths_to_save_to_give_one_line(tmp_path, model):
    # A review of shared files: a valid 251-byte name's temporary was too long to be
    # made, a file in the way of the folder read "File exists", and "" gave a
    # traceback. (Its full disk, torch's "[enforce fail at inline_container.cc:672]",
    # now "No space left on device", was seen on a 2 MB tmpfs.)
    long_name = tmp_path / ("x" * 245 + ".semia")
    assert SemiaModel.load(model.save(long_name), device="cpu").class_ids == model.class_ids
    (tmp_path / "file").write_text("")
    with pytest.raises(ModelFileError, match=r"'.*file' is a file, not a folder\.$"):
        model.save(tmp_path / "file" / "sub" / "m.semia")
    with pytest.raises(ModelFileError, match="Give the model a file name"):
        model.save("")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["file", long_name.name])


def test_a_file_system_that_does_not_sync_still_saves(tmp_path, model, monkeypatch):
    # A review: some network and FUSE mounts refuse fsync (EINVAL); saving added it.
    import errno
    import os

    def refused(fd):
        raise OSError(errno.EINVAL, "Invalid argument")

    monkeypatch.setattr(os, "fsync", refused)
    path = model.save(tmp_path / "m.semia")
    assert SemiaModel.load(path, device="cpu").class_ids == model.class_ids
