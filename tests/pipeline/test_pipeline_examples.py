"""Which images a run stores as examples of flipped predictions (shown first in the report)."""

from __future__ import annotations

import numpy as np

from benchmark.pipeline.study import most_flipped_positions


def test_most_flipped_images_come_first_and_unflipped_are_left_out() -> None:
    probabilities = {
        "HR": np.array([0.9, 0.1, 0.6, 0.2, 0.5]),
        "LR": np.array([0.2, 0.1, 0.4, 0.7, 0.5]),  # flips images 0, 2, 3
        "esrgan": np.array([0.3, 0.1, 0.7, 0.8, 0.49]),  # flips images 0, 3, 4
    }
    # Image 0 and 3 flip twice, 2 and 4 once (0.5 is pneumonia: P >= threshold); image 1 never.
    assert most_flipped_positions(probabilities, 0.5, ["a", "b", "c", "d", "e"]) == [0, 3, 2, 4]
    # equal counts go by image id, as the report's list of most flipped images orders them
    assert most_flipped_positions(probabilities, 0.5, ["z", "b", "c", "a", "e"]) == [3, 0, 2, 4]


def test_no_variant_besides_hr_flips_nothing() -> None:
    assert most_flipped_positions({"HR": np.array([0.2, 0.8])}, 0.5, ["a", "b"]) == []


def test_example_file_names_are_unique_per_image_id() -> None:
    """``x y.jpeg`` and ``x_y.jpeg`` spell the same safe name; the hash of the id tells them apart."""
    from benchmark.pipeline.study import _example_stem

    names = [_example_stem(image_id) for image_id in ("test/x y.jpeg", "test/x_y.jpeg", "test/x?y.jpeg")]
    assert len(set(names)) == 3
    assert all(name.startswith("test_x_y.jpeg-") for name in names)
    assert _example_stem("test/x y.jpeg") == names[0]  # stable across runs
