"""Cache keys follow everything that determines a value: each input of each stage, and the code.

Each per-image stage is run through its real function on tiny images; changing one input must compute
new entries (a miss), changing nothing relevant must compute none (a hit). Training keys (classifier,
SR) are checked as keys, since training is slow.
"""

import shutil

import numpy as np
import pandas as pd
import pytest
from PIL import Image

import benchmark.pipeline.cache
from benchmark import code_identity as identity
from benchmark.manifest import sha256_file
from benchmark.pipeline import sr_setup, stages
from benchmark.pipeline.cache import Cache
from benchmark.pipeline.classifier_setup import training_key as classifier_key
from benchmark.pipeline.config import CellConfig, ClassifierConfig, DataConfig, PhantomConfig, SRModelConfig
from benchmark.pipeline.dataset import load_dataset
from benchmark.pipeline.screening import screen
from sr_models import load_upscaler


def entries(cache: Cache, stage: str) -> set:
    """The stored entries of ``stage`` (checksums not counted)."""
    return {p for p in (cache.root / stage).rglob("*") if p.is_file() and p.suffix != ".sha256"}


def image_table(tmp_path, seeds, size=32) -> pd.DataFrame:
    rows = []
    for seed in seeds:
        path = tmp_path / f"img-{seed}.png"
        pixels = np.random.default_rng(seed).integers(0, 256, (size, size), dtype=np.uint8)
        Image.fromarray(pixels).save(path)
        rows.append({"path": str(path), "sha256": sha256_file(path)})
    return pd.DataFrame(rows)


class Counter:
    """Runs ``call`` and returns how many new entries of ``stage`` it stored."""

    def __init__(self, cache: Cache):
        self.cache = cache

    def new(self, stage, call):
        before = entries(self.cache, stage)
        result = call()
        return len(entries(self.cache, stage) - before), result


def test_hr_entries_follow_file_content_and_size_not_the_path(tmp_path, cache):
    count = Counter(cache)
    table = image_table(tmp_path, [1, 2])
    assert count.new("hr", lambda: stages.load_hr(table, 16, cache, progress=False))[0] == 2
    assert count.new("hr", lambda: stages.load_hr(table, 16, cache, progress=False))[0] == 0  # hit
    moved = table.assign(path=[shutil.copy(p, tmp_path / f"copy-{i}.png") for i, p in enumerate(table.path)])
    assert count.new("hr", lambda: stages.load_hr(moved, 16, cache, progress=False))[0] == 0  # same bytes
    assert count.new("hr", lambda: stages.load_hr(table, 24, cache, progress=False))[0] == 2  # size
    (tmp_path / "other").mkdir()
    other = image_table(tmp_path / "other", [3])
    assert count.new("hr", lambda: stages.load_hr(other, 16, cache, progress=False))[0] == 1  # content


def test_lr_sr_quality_and_predictions_miss_on_each_input_and_hit_otherwise(tmp_path, cache):
    count = Counter(cache)
    hr = stages.load_hr(image_table(tmp_path, [1, 2]), 16, cache, progress=False)
    other_hr = stages.load_hr(image_table(tmp_path, [1, 2]), 32, cache, progress=False)
    cell = CellConfig(scenario="bicubic-noise", scale=2, params={"sigma": 0.02})

    def lr_of(hr=hr, cell=cell, seed=0):
        return count.new("lr", lambda: stages.degrade_cell(hr, cell, seed, cache, progress=False))

    new, lr = lr_of()
    assert new == 2 and lr_of()[0] == 0
    assert lr_of(cell=cell.model_copy(update={"name": "renamed"}))[0] == 0  # the label is no input
    for changed in (
        {"cell": cell.model_copy(update={"params": {"sigma": 0.03}})},
        {"cell": cell.model_copy(update={"scale": 4})},
        {"cell": cell.model_copy(update={"scenario": "bicubic", "params": {}})},
        {"seed": 1},
        {"hr": other_hr},
    ):
        assert lr_of(**changed)[0] == 2, changed

    bicubic = load_upscaler("bicubic", 2)
    entry = SRModelConfig(name="b", model="bicubic")
    key = sr_setup.model_key(entry, 2, None, "cpu")

    def sr_of(lr=lr, model_key=key):
        return count.new("sr", lambda: stages.upscale(lr, "b", bicubic, model_key, cache, progress=False))

    new, sr = sr_of()
    assert new == 2 and sr_of()[0] == 0
    other_lr = lr_of(seed=1)[1]
    assert sr_of(lr=other_lr)[0] == 2
    for changed in (
        sr_setup.model_key(entry.model_copy(update={"model": "lanczos"}), 2, None, "cpu"),
        sr_setup.model_key(entry.model_copy(update={"tile": 16}), 2, None, "cpu"),
        sr_setup.model_key(entry.model_copy(update={"precision": "bf16"}), 2, None, "cpu"),
        sr_setup.model_key(entry, 2, None, "cuda:0"),
        sr_setup.model_key(entry, 2, image_table(tmp_path, [9]).path[0], "cpu"),  # weights content
    ):
        assert sr_of(model_key=changed)[0] == 2

    def quality_of(hr=hr, sr=sr, metrics=("psnr",), crop=0, convention="skimage"):
        return count.new(
            "quality",
            lambda: stages.quality(hr, sr, list(metrics), crop, cache, convention=convention),
        )

    assert quality_of()[0] == 2 and quality_of()[0] == 0
    other_sr = sr_of(lr=other_lr)[1]
    for changed in (
        {"sr": other_sr},
        {"hr": stages.Images("HR", np.asarray(hr.pixels)[::-1], hr.keys[::-1])},
        {"metrics": ("psnr", "mae")},
        {"crop": 1},
        {"convention": "basicsr"},
    ):
        assert quality_of(**changed)[0] == 2, changed

    class Mean:
        def predict(self, batch, batch_size):
            return np.asarray(batch).mean(axis=(1, 2))

    def predict_of(images=hr, classifier="a" * 64):
        return count.new("predict", lambda: stages.predict(Mean(), classifier, images, cache))

    assert predict_of()[0] == 1 and predict_of()[0] == 0
    assert predict_of(classifier="b" * 64)[0] == 1
    assert predict_of(images=sr)[0] == 1
    assert predict_of(images=stages.Images("HR", hr.pixels, hr.keys[:1]))[0] == 1


def test_lr_display_and_gradcam_keys_follow_their_inputs():
    lr = stages.Images("LR", np.zeros((1, 8, 8), np.float32), ["k"])
    shown = stages.display_lr(lr, (8, 8))
    assert shown[0].keys != shown[1].keys  # nearest vs bilinear
    assert stages.display_lr(lr, (16, 16))[0].keys != shown[0].keys
    assert stages.display_lr(stages.Images("LR", lr.pixels, ["j"]), (8, 8))[0].keys != shown[0].keys


def test_image_check_verdicts_follow_content_and_the_smallest_side(tmp_path, cache):
    count = Counter(cache)
    root = tmp_path / "data"
    (root / "test" / "NORMAL").mkdir(parents=True)
    Image.fromarray(np.full((32, 32), 99, np.uint8)).save(root / "test" / "NORMAL" / "a.png")
    table = pd.DataFrame(
        {
            "path": ["test/NORMAL/a.png"],
            "label": ["NORMAL"],
            "split": ["test"],
            "sha256": [""],
            "patient_id": ["a"],
        }
    )

    def check(min_side):
        return count.new(
            "image-check", lambda: screen(table, root, min_side=min_side, cache=cache, progress=False)
        )[0]

    assert check(16) == 1 and check(16) == 0 and check(8) == 1
    Image.fromarray(np.full((32, 32), 98, np.uint8)).save(root / "test" / "NORMAL" / "a.png")
    assert check(16) == 1


def test_phantom_sets_follow_counts_size_and_seed(cache):
    def generated(**changes):
        phantoms = PhantomConfig(**{"train_per_class": 2, "test_per_class": 2, "size": 32, **changes})
        load_dataset(DataConfig(phantoms=phantoms, hr_size=32), seed=0, cache=cache, progress=False)
        return len(list((cache.root / "phantoms").iterdir()))

    assert generated() == 1 and generated() == 1
    assert generated(size=48) == 2
    assert generated(train_per_class=3) == 3
    assert generated(test_per_class=3) == 4


def test_phantom_sets_follow_the_seed(cache):
    for seed in (0, 0, 1):
        phantoms = PhantomConfig(train_per_class=2, test_per_class=2, size=32)
        load_dataset(DataConfig(phantoms=phantoms, hr_size=32), seed=seed, cache=cache, progress=False)
    assert len(list((cache.root / "phantoms").iterdir())) == 2


def training_table(**columns) -> pd.DataFrame:
    base = {
        "sha256": ["a", "b", "c", "d"],
        "label": [0, 1, 0, 1],
        "patient_id": ["p", "q", "r", "s"],
        "path": ["/x/a", "/x/b", "/x/c", "/x/d"],
    }
    return pd.DataFrame({**base, **columns})


def test_classifier_key_follows_images_labels_patients_recipe_seed_and_size():
    config = ClassifierConfig(train={"epochs": 2})
    key = classifier_key(config, training_table(), seed=0)
    assert classifier_key(ClassifierConfig(train={"epochs": 2}), training_table(), seed=0) == key
    assert classifier_key(config, training_table(path=["/y/a", "/y/b", "/y/c", "/y/d"]), seed=0) == key
    for changed in (
        (config, training_table(sha256=["a", "b", "c", "e"]), 0),
        (config, training_table(sha256=["b", "a", "c", "d"]), 0),  # order: batches differ
        (config, training_table(label=[1, 0, 1, 0]), 0),  # labels swapped: the warm-cache bug
        (config, training_table(patient_id=["p", "p", "r", "s"]), 0),  # another validation split
        (config, training_table(), 1),
        (ClassifierConfig(train={"epochs": 3}), training_table(), 0),
        (ClassifierConfig(train={"epochs": 2, "validation_fraction": 0.5}), training_table(), 0),
        (ClassifierConfig(train={"epochs": 2}, input_size=96), training_table(), 0),
    ):
        assert classifier_key(*changed[:2], seed=changed[2]) != key, changed


def test_sr_training_key_follows_images_hr_size_preset_seed_weights_and_device(tmp_path):
    entry = SRModelConfig(name="e", model="esrgan", train={"preset": "tiny-esrgan"})
    images = stages.hr_keys(["a", "b"], 112)

    def key(entry=entry, scale=4, hr_keys=images, seed=0, device="cpu"):
        return sr_setup.training_key(entry, scale, hr_keys=hr_keys, seed=seed, device=device)

    base = key()
    assert key() == base
    vgg = tmp_path / "vgg.pth"
    vgg.write_bytes(b"weights")
    train = entry.train
    for changed in (
        {"hr_keys": stages.hr_keys(["a", "b"], 224)},  # hr_size: the warm-cache bug
        {"hr_keys": stages.hr_keys(["a", "c"], 112)},
        {"scale": 2},
        {"seed": 1},
        {"device": "cuda"},
        {"entry": entry.model_copy(update={"model": "realesrgan"})},
        {"entry": entry.model_copy(update={"train": train.model_copy(update={"preset": "tiny-srgan"})})},
        {
            "entry": entry.model_copy(
                update={"train": train.model_copy(update={"overrides": {"gan_steps": 2}})}
            )
        },
        {"entry": entry.model_copy(update={"train": train.model_copy(update={"vgg_weights": vgg})})},
    ):
        assert key(**changed) != base, changed


def test_a_code_change_is_a_miss_without_any_version_bump(tmp_path, cache, monkeypatch):
    """The stages key by ``code_identity``: another identity (edited source) computes again."""
    count = Counter(cache)
    table = image_table(tmp_path, [1])
    assert count.new("hr", lambda: stages.load_hr(table, 16, cache, progress=False))[0] == 1
    real = benchmark.pipeline.cache.code_identity
    monkeypatch.setattr(benchmark.pipeline.cache, "code_identity", lambda stage: real(stage) + "-edited")
    assert count.new("hr", lambda: stages.load_hr(table, 16, cache, progress=False))[0] == 1


def copy_sources(destination):
    for package in identity.FIRST_PARTY:
        shutil.copytree(
            identity.PROJECT_DIR / package,
            destination / package,
            ignore=lambda directory, names: [n for n in names if not (n.endswith(".py") or "." not in n)],
        )
    return destination


def test_editing_a_producing_module_changes_its_stages_identity_only(tmp_path):
    original, edited = copy_sources(tmp_path / "a"), copy_sources(tmp_path / "b")
    images = edited / "benchmark" / "images.py"
    images.write_text(images.read_text() + "\nGRAY_TOLERANCE = 3\n")
    for stage in ("hr", "image-check", "classifier"):  # all read images through benchmark/images.py
        assert identity.code_identity(stage, original) != identity.code_identity(stage, edited), stage
    for stage in ("lr", "sr", "quality", "predict"):
        assert identity.code_identity(stage, original) == identity.code_identity(stage, edited), stage


def test_a_helper_a_producer_starts_importing_joins_its_identity(tmp_path):
    """A new first-party import is followed, so no list needs editing when a producer gains a helper."""
    root = copy_sources(tmp_path / "a")
    (root / "benchmark" / "new_helper.py").write_text("FACTOR = 1\n")
    before = identity.code_identity("hr", root)
    images = root / "benchmark" / "images.py"
    images.write_text(images.read_text() + "\ndef _helper():\n    from benchmark.new_helper import FACTOR\n")
    identity.code_identity.cache_clear()
    identity._imports.cache_clear()
    files, _ = identity.producing_sources("hr", root)
    assert root / "benchmark" / "new_helper.py" in files
    assert identity.code_identity("hr", root) != before
    (root / "benchmark" / "new_helper.py").write_text("FACTOR = 2\n")
    identity.code_identity.cache_clear()
    identity._imports.cache_clear()
    assert len({before, identity.code_identity("hr", root)}) == 2


def test_a_numerical_library_upgrade_changes_the_identity(monkeypatch):
    before = identity.code_identity("sr")
    real = identity._distribution_versions
    monkeypatch.setattr(identity, "_distribution_versions", lambda names: {**real(names), "torch": "99.0"})
    identity.code_identity.cache_clear()
    try:
        assert identity.code_identity("sr") != before
    finally:
        identity.code_identity.cache_clear()


def test_each_stage_names_its_libraries_and_code():
    sr_files, sr_libraries = identity.producing_sources("sr")
    assert "torch" in sr_libraries and "numpy" in sr_libraries
    assert identity.PROJECT_DIR / "sr_models" / "zoo.py" in sr_files  # registry entries named by string
    _, classifier_libraries = identity.producing_sources("classifier")
    assert {"tensorflow", "sklearn"} <= classifier_libraries
    _, lr_libraries = identity.producing_sources("lr")
    assert "tqdm" not in lr_libraries
    with pytest.raises(KeyError, match="PRODUCERS"):
        identity.producing_sources("no-such-stage")
