"""Checkpoints: a crash or a closed napari never loses a trained model."""

import numpy as np
from conftest import TINY, make_scene

from napari_semia.checkpoints import (
    KEEP_CHECKPOINTS,
    Checkpointer,
    CheckpointStore,
    cache_dir,
    fingerprint,
)
from napari_semia.trainer import SemiaTrainer


def test_cache_dir_follows_the_environment(checkpoint_cache):
    assert cache_dir() == checkpoint_cache


def test_fingerprint_changes_with_any_pixel():
    image, labels = make_scene()
    key = fingerprint(image, labels)
    assert key == fingerprint(image.copy(), labels.copy())
    edited = labels.copy()
    edited[0, 0] = 1
    assert fingerprint(image, edited) != key
    assert fingerprint(image.astype(np.uint16), labels) != key


def test_checkpoints_every_interval_and_at_the_end_then_restore(scene, moved_target):
    image, labels = scene
    store = CheckpointStore()
    clock = {"now": 0.0}
    trainer = SemiaTrainer(image, labels, TINY.replace(steps=5), device="cpu")
    key = fingerprint(image, labels)
    checkpointer = Checkpointer(store, key, {"image": "src"}, interval_s=10, clock=lambda: clock["now"])
    written = []
    for progress in trainer.run():
        clock["now"] += 4.0
        if not progress.finished:
            written.append(checkpointer.maybe_save(trainer) is not None)
    assert written == [False, False, True, False, False]  # at 12 s; 16 and 20 s are within 10 s of it
    info = store.find(key)
    assert info.steps == 3 and info.names == {"image": "src"} and info.source_shape == labels.shape
    checkpointer.save(trainer)
    restored = store.load(store.find(key), device="cpu")
    assert restored.steps_done == 5
    np.testing.assert_array_equal(restored.synthesize(moved_target), trainer.model.synthesize(moved_target))


def test_nothing_is_written_before_the_first_step(scene):
    image, labels = scene
    store = CheckpointStore()
    trainer = SemiaTrainer(image, labels, TINY, device="cpu")
    assert Checkpointer(store, "k").save(trainer) is None
    assert store.entries() == []


def test_only_the_newest_checkpoints_are_kept(scene):
    image, labels = scene
    trainer = SemiaTrainer(image, labels, TINY.replace(steps=1), device="cpu")
    for _ in trainer.run():
        pass
    store = CheckpointStore()
    for i in range(KEEP_CHECKPOINTS + 2):
        store.save(trainer.model, f"key{i}")
    keys = [info.key for info in store.entries()]
    assert keys == [f"key{i}" for i in reversed(range(2, KEEP_CHECKPOINTS + 2))]
    store.discard("key3")
    assert store.find("key3") is None and not (store.folder / "key3.semia").exists()


def test_a_damaged_entry_is_skipped(checkpoint_cache):
    checkpoint_cache.mkdir(parents=True)
    (checkpoint_cache / "x.json").write_text("{not json")
    assert CheckpointStore().entries() == []


def test_an_entry_names_only_its_own_files_and_a_bad_time_is_skipped(checkpoint_cache, scene, tmp_path):
    # A review of shared files: pruning deleted the files an entry's "key" named,
    # wherever they were ("../victim/thesis"), and a time that was not one stopped
    # the widget opening (ValueError building the offer).
    import json

    image, labels = scene
    trainer = SemiaTrainer(image, labels, TINY.replace(steps=1), device="cpu")
    for _ in trainer.run():
        pass
    store = CheckpointStore()
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "thesis.semia").write_text("precious")
    (victim / "thesis.json").write_text("precious")
    store.save(trainer.model, "planted")
    planted = json.loads((store.folder / "planted.json").read_text())
    (store.folder / "planted.json").write_text(json.dumps(dict(planted, key="../victim/thesis")))
    assert [info.key for info in store.entries()] == ["planted"]
    for i in range(KEEP_CHECKPOINTS + 1):
        store.save(trainer.model, f"key{i}")
    assert (victim / "thesis.semia").read_text() == "precious"
    assert (victim / "thesis.json").read_text() == "precious"
    newest = store.entries()[0].key
    (store.folder / f"{newest}.json").write_text(json.dumps(dict(planted, saved_at="yesterday")))
    assert (store.folder / f"{newest}.semia").is_file()
    assert newest not in [info.key for info in store.entries()]
