"""Batched Grad-CAM, the similarity of two maps, and the LR display variants."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import jaccard_score

from benchmark.pipeline.stages import LR_DISPLAYS, Images, display_lr
from classifiers import PneumoniaClassifier, build_reference_cnn
from classifiers.gradcam import grad_cam_maps
from classifiers.runtime import keras
from classifiers.saliency import map_similarity

SMALL = 126  # last conv layer: a 4 x 4 grid


def _images(n: int, size: tuple[int, int] = (60, 50), seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random((n, *size)).astype(np.float32)


def test_batched_grad_cam_equals_one_image_at_a_time():
    keras.utils.set_random_seed(5)
    classifier = PneumoniaClassifier(build_reference_cnn(input_size=SMALL))
    images = _images(5)
    batched = grad_cam_maps(classifier, images, batch_size=4)
    assert batched.shape == (5, 4, 4) and batched.dtype == np.float32
    single = np.concatenate([grad_cam_maps(classifier, image[None]) for image in images])
    np.testing.assert_allclose(batched, single, atol=1e-5)
    assert all(m.max() in (0.0, 1.0) for m in batched)


def _top_mask(values: np.ndarray, k: int) -> np.ndarray:
    return (values >= np.sort(values)[-k]) & (values > 0)


def test_similarity_matches_numpy_pearson_and_sklearn_jaccard():
    rng = np.random.default_rng(0)
    maps, reference = rng.random((6, 14, 14)), rng.random((6, 14, 14))
    maps[1] = reference[1] * 0.5 + 0.1  # same ranking, different scale: r = 1, IoU = 1
    maps[2] = np.maximum(maps[2] - 0.95, 0)  # fewer positive cells than the top 10 %
    similarity = map_similarity(maps, reference)
    k = 20  # ceil(0.1 * 196)
    for i in range(6):
        a, b = maps[i].ravel(), reference[i].ravel()
        assert similarity["gradcam_pearson"][i] == pytest.approx(np.corrcoef(a, b)[0, 1], abs=1e-12)
        expected_iou = jaccard_score(_top_mask(b, k), _top_mask(a, k))
        assert similarity["gradcam_iou10"][i] == pytest.approx(expected_iou)
    assert similarity["gradcam_pearson"][1] == pytest.approx(1.0)
    assert similarity["gradcam_iou10"][1] == 1.0


def test_similarity_of_maps_without_evidence_follows_the_stated_convention():
    rng = np.random.default_rng(1)
    maps, reference = rng.random((3, 4, 4)), rng.random((3, 4, 4))
    maps[0] = 0.0  # evidence gone
    maps[1] = reference[1] = 0.0  # no evidence in either
    similarity = map_similarity(maps, reference)
    np.testing.assert_array_equal(similarity["gradcam_pearson"][:2], [0.0, 1.0])
    np.testing.assert_array_equal(similarity["gradcam_iou10"][:2], [0.0, 1.0])
    assert np.isfinite(similarity["gradcam_pearson"]).all() and np.isfinite(similarity["gradcam_iou10"]).all()


def test_similarity_refuses_maps_of_different_shapes():
    with pytest.raises(ValueError, match="one shape"):
        map_similarity(np.zeros((2, 3, 3)), np.zeros((2, 4, 4)))


def test_lr_is_shown_at_classifier_size_by_nearest_and_by_bilinear():
    lr = Images("LR", _images(2, (20, 30)), ["a", "b"])
    nearest, bilinear = display_lr(lr, (60, 60))
    assert [nearest.name, bilinear.name] == list(LR_DISPLAYS) == ["LR-nearest", "LR-bilinear"]
    np.testing.assert_array_equal(nearest.pixels, lr.pixels.repeat(3, axis=1).repeat(2, axis=2))
    assert bilinear.pixels.shape == (2, 60, 60)
    assert not np.array_equal(bilinear.pixels, nearest.pixels)
    assert len(set(nearest.keys + bilinear.keys + lr.keys)) == 6  # every variant cached on its own
