import numpy as np

from benchmark.phantoms import make_phantom, write_phantom_set


def test_same_label_index_and_seed_give_identical_bytes():
    first = make_phantom("PNEUMONIA", 3, size=128, seed=7)
    second = make_phantom("PNEUMONIA", 3, size=128, seed=7)
    assert first.tobytes() == second.tobytes()


def test_index_and_seed_change_the_image():
    base = make_phantom("NORMAL", 0, size=128)
    assert not np.array_equal(base, make_phantom("NORMAL", 1, size=128))
    assert not np.array_equal(base, make_phantom("NORMAL", 0, size=128, seed=1))


def test_phantom_is_grayscale_float32_in_unit_range_at_requested_size():
    image = make_phantom("NORMAL", 0, size=96)
    assert image.shape == (96, 96) and image.dtype == np.float32
    assert 0.0 <= image.min() and image.max() <= 1.0


def test_lungs_are_darker_than_mediastinum():
    """Radiograph convention: air-filled lungs attenuate least, so they are darker than the mediastinum."""
    image = make_phantom("NORMAL", 0, size=256)
    lung = image[110:140, 50:70].mean()
    mediastinum = image[110:140, 120:136].mean()
    assert mediastinum > lung + 0.1


def test_pneumonia_adds_opacity_inside_the_lungs():
    """Consolidations are brighter lung fields on average across phantoms of each class."""

    def lung_mean(label):
        return np.mean([make_phantom(label, i, size=128)[40:90, 15:45].mean() for i in range(8)])

    assert lung_mean("PNEUMONIA") > lung_mean("NORMAL")


def test_written_set_has_kaggle_layout_and_disjoint_splits(tmp_path):
    rows = write_phantom_set(tmp_path, per_class={"train": 2, "test": 1}, size=32)
    assert len(rows) == 6
    assert (tmp_path / "test" / "PNEUMONIA").is_dir()
    names = {
        split: {path.rsplit("/", 1)[1] for path, _, s in rows if s == split} for split in ("train", "test")
    }
    assert not names["train"] & names["test"]
