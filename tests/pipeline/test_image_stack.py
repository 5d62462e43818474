"""ImageStack: cached images loaded on use, indexed like the stacked array they replace."""

from __future__ import annotations

import numpy as np
import pytest

from benchmark.image_stack import ImageStack
from benchmark.pipeline.cache import Cache, content_key


@pytest.fixture
def stored(tmp_path):
    images = np.random.default_rng(0).random((5, 4, 3), dtype=np.float32)
    paths = []
    for i, image in enumerate(images):
        paths.append(tmp_path / f"{i}.npy")
        np.save(paths[-1], image)
    return images, ImageStack(paths)


def test_every_kind_of_index_matches_the_stacked_array(stored):
    images, stack = stored
    assert len(stack) == 5 and stack.shape == images.shape and stack.dtype == np.float32
    np.testing.assert_array_equal(stack[2], images[2])
    np.testing.assert_array_equal(stack[np.int64(-1)], images[-1])
    np.testing.assert_array_equal(stack[1:4], images[1:4])
    np.testing.assert_array_equal(stack[[4, 0]], images[[4, 0]])
    mask = np.array([True, False, True, False, False])
    np.testing.assert_array_equal(stack[mask], images[mask])
    np.testing.assert_array_equal(np.stack(list(stack)), images)
    np.testing.assert_array_equal(np.asarray(stack), images)


def test_cache_stack_keeps_paths_not_pixels_and_arrays_still_returns_an_array(tmp_path):
    cache = Cache(tmp_path)
    keys = [content_key("x", "1", i=i) for i in range(3)]

    def compute(batch):
        return [np.full((2, 2), float(i), dtype=np.float32) for i in batch]

    stack = cache.stack("x", keys, compute, progress=False)
    assert isinstance(stack, ImageStack) and stack.paths == [cache.path("x", k, ".npy") for k in keys]
    array = cache.arrays("x", keys, compute, progress=False)
    assert isinstance(array, np.ndarray) and array[:, 0, 0].tolist() == [0.0, 1.0, 2.0]
