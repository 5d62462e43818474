"""Reference CNN architecture, preprocessing, loading and prediction (no training)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from PIL import Image
from scipy.special import expit

from classifiers import PneumoniaClassifier, build_reference_cnn, grad_cam, load_classifier
from classifiers.model import minimum_input_size
from classifiers.preprocessing import resize_images, to_model_input
from classifiers.runtime import keras

SMALL = 96  # smallest convenient input for the five unpadded conv + pool blocks (minimum 94)


def _images(n: int, size: tuple[int, int] = (40, 30), seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random((n, *size)).astype(np.float32)


def _save(model: keras.Model, path) -> str:
    model.save(path)
    return path


def test_import_classifiers_does_not_import_tensorflow():
    code = "import sys, classifiers; print('tensorflow' in sys.modules, 'keras' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_reference_cnn_has_the_studys_layers_in_order():
    model = build_reference_cnn()
    assert model.input_shape == (None, 300, 300, 3)
    assert model.output_shape == (None, 1)
    layers = [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]
    convs = [layer for layer in layers if isinstance(layer, keras.layers.Conv2D)]
    assert [c.filters for c in convs] == [16, 32, 64, 128, 128]
    for conv in convs:
        assert conv.kernel_size == (3, 3) and conv.activation.__name__ == "relu" and conv.padding == "valid"
        following = layers[layers.index(conv) + 1]
        assert isinstance(following, keras.layers.MaxPooling2D) and following.pool_size == (2, 2)
    flatten = model.get_layer("flatten")
    assert layers.index(convs[-1]) + 2 == layers.index(flatten) and flatten.output.shape == (None, 6272)
    dense = [layer for layer in layers if isinstance(layer, keras.layers.Dense)]
    assert [(d.units, d.activation.__name__) for d in dense] == [(256, "relu"), (512, "relu"), (1, "sigmoid")]
    assert layers[layers.index(flatten) + 1 :] == dense  # no dropout or batch norm anywhere
    assert len(layers) == 2 * len(convs) + 1 + len(dense)


def test_reference_cnn_has_the_issues_parameter_count():
    assert build_reference_cnn().count_params() == 1_983_009


def test_reference_cnn_parameter_count_matches_the_formula_at_any_size():
    for size in (300, SMALL, 150):
        side, channels, params = size, 3, 0
        for filters in (16, 32, 64, 128, 128):
            params += (3 * 3 * channels + 1) * filters  # kernel weights + one bias per filter
            side, channels = (side - 2) // 2, filters  # unpadded 3x3 conv, then 2x2 pooling
        flat = side * side * channels
        params += (flat + 1) * 256 + (256 + 1) * 512 + (512 + 1) * 1
        assert build_reference_cnn(input_size=size).count_params() == params


def test_reference_cnn_refuses_inputs_too_small_for_five_poolings():
    assert minimum_input_size() == 94
    build_reference_cnn(input_size=94)
    with pytest.raises(ValueError, match="input_size >= 94"):
        build_reference_cnn(input_size=93)


@pytest.mark.parametrize("method", ["nearest", "bilinear"])
def test_resize_matches_keras_load_img_of_the_same_file(tmp_path, method):
    """The classifier's input rule is what the reference's loader (Keras ``load_img``) does to a file."""
    pixels = (np.random.default_rng(0).integers(0, 256, (2, 120, 90))).astype(np.uint8)
    for index, image in enumerate(pixels):
        Image.fromarray(image).save(tmp_path / f"{index}.png")
    for size in [(300, 300), (60, 45), (77, 51), (240, 180)]:
        ours = resize_images(pixels.astype(np.float32) / 255, size, method)
        for index, resized in enumerate(ours):
            loaded = keras.utils.load_img(tmp_path / f"{index}.png", target_size=size, interpolation=method)
            expected = np.asarray(loaded, dtype=np.float32)[..., 0] / 255
            np.testing.assert_allclose(
                resized, expected, atol=1.01 / 255 if method == "bilinear" else 0
            )  # load_img rounds to 8 bits


def test_nearest_upsampling_by_an_integer_factor_repeats_pixels():
    images = _images(2, (30, 20))
    np.testing.assert_array_equal(resize_images(images, (90, 40)), images.repeat(3, axis=1).repeat(2, axis=2))


def test_model_input_replicates_gray_into_identical_channels():
    x = to_model_input(_images(2), (SMALL, SMALL), 3)
    assert x.shape == (2, SMALL, SMALL, 3) and x.dtype == np.float32
    assert np.array_equal(x[..., 0], x[..., 1]) and np.array_equal(x[..., 0], x[..., 2])
    assert 0.0 <= x.min() and x.max() <= 1.0


def _mean_model(channels: int) -> keras.Model:
    """P = sigmoid(mean pixel): an exactly known classifier."""
    inputs = keras.Input((SMALL, SMALL, channels))
    pooled = keras.layers.GlobalAveragePooling2D()(inputs)
    dense = keras.layers.Dense(1, activation="sigmoid")
    dense.build((None, channels))
    dense.set_weights([np.full((channels, 1), 1.0 / channels, np.float32), np.zeros(1, np.float32)])
    return keras.Model(inputs, dense(pooled))


@pytest.mark.parametrize("channels", [1, 3])
def test_predict_returns_the_models_probability_per_image(channels):
    levels = np.array([0.0, 0.25, 0.5, 1.0], dtype=np.float32)
    batch = np.broadcast_to(levels[:, None, None], (4, 50, 70)).astype(np.float32)
    classifier = PneumoniaClassifier(_mean_model(channels))
    probs = classifier.predict(batch, batch_size=3)
    assert probs.shape == (4,) and probs.dtype == np.float32
    np.testing.assert_allclose(probs, expit(levels), rtol=1e-5)
    scaled = PneumoniaClassifier(_mean_model(channels), pixel_scale=2.0)
    np.testing.assert_allclose(scaled.predict(batch), expit(2 * levels), rtol=1e-5)


@pytest.mark.parametrize(
    ("batch", "message"),
    [
        (np.zeros((8, 8), np.float32), r"shape \(N, H, W\).*image\[None\]"),
        (np.zeros((1, 8, 8, 3), np.float32), r"shape \(N, H, W\)"),
        (np.zeros((1, 8, 8), np.float64), "float32"),
        (np.full((1, 8, 8), 255.0, np.float32), r"\[0, 1\], got min 255, max 255"),
        (np.full((1, 8, 8), -0.5, np.float32), "min -0.5"),
        (np.full((1, 8, 8), np.nan, np.float32), "finite"),
    ],
)
def test_predict_refuses_images_outside_the_contract(batch, message):
    classifier = PneumoniaClassifier(_mean_model(1))
    with pytest.raises(ValueError, match=message):
        classifier.predict(batch)


@pytest.mark.parametrize("suffix", [".keras", ".h5"])
def test_save_load_round_trip_gives_identical_predictions(tmp_path, suffix):
    keras.utils.set_random_seed(3)
    model = build_reference_cnn(input_size=SMALL)
    batch = _images(5)
    before = PneumoniaClassifier(model).predict(batch)
    loaded = load_classifier(_save(model, tmp_path / f"cnn{suffix}"))
    assert loaded.input_size == (SMALL, SMALL) and loaded.channels == 3
    assert loaded.path == tmp_path / f"cnn{suffix}"
    np.testing.assert_array_equal(loaded.predict(batch), before)


def test_missing_classifier_file_names_the_file_and_the_fix(tmp_path):
    missing = tmp_path / "nowhere" / "cnn.h5"
    with pytest.raises(FileNotFoundError, match=r"nowhere/cnn\.h5.*classifier: \{train"):
        load_classifier(missing)


def test_a_file_that_is_not_a_keras_model_names_the_file_and_the_fix(tmp_path):
    path = tmp_path / "notes.keras"
    path.write_bytes(b"not a model")
    with pytest.raises(ValueError, match=r"notes\.keras as a Keras model.*model\.save"):
        load_classifier(path)


def test_a_model_with_code_in_it_is_refused_by_safe_mode(tmp_path):
    inputs = keras.Input((SMALL, SMALL, 3))
    pooled = keras.layers.GlobalAveragePooling2D()(keras.layers.Lambda(lambda x: x * 2)(inputs))
    path = _save(
        keras.Model(inputs, keras.layers.Dense(1, activation="sigmoid")(pooled)), tmp_path / "l.keras"
    )
    with pytest.raises(ValueError, match=r"l\.keras.*Lambda"):
        load_classifier(path)


def test_input_size_and_channels_are_read_from_a_users_model(tmp_path):
    path = _save(_mean_model(1), tmp_path / "gray.h5")
    loaded = load_classifier(path)
    assert loaded.input_size == (SMALL, SMALL) and loaded.channels == 1
    assert loaded.prepare(_images(2)).shape == (2, SMALL, SMALL, 1)


def test_model_with_two_softmax_outputs_is_refused(tmp_path):
    inputs = keras.Input((SMALL, SMALL, 3))
    outputs = keras.layers.Dense(2, activation="softmax")(keras.layers.Flatten()(inputs))
    path = _save(keras.Model(inputs, outputs), tmp_path / "softmax.keras")
    with pytest.raises(ValueError, match=r"single sigmoid output.*\(None, 2\).*softmax\.keras"):
        load_classifier(path)


def test_single_linear_output_is_refused():
    inputs = keras.Input((SMALL, SMALL, 3))
    outputs = keras.layers.Dense(1)(keras.layers.Flatten()(inputs))
    with pytest.raises(ValueError, match="single sigmoid output"):
        PneumoniaClassifier(keras.Model(inputs, outputs))


@pytest.mark.parametrize("shape", [(None, None, 3), (SMALL, SMALL, 2)])
def test_model_without_fixed_gray_or_rgb_input_is_refused(shape):
    inputs = keras.Input(shape)
    outputs = keras.layers.Dense(1, activation="sigmoid")(keras.layers.GlobalAveragePooling2D()(inputs))
    with pytest.raises(ValueError, match=r"shape \(None, H, W, C\)"):
        PneumoniaClassifier(keras.Model(inputs, outputs))


def test_grad_cam_is_an_image_sized_map_in_unit_range():
    keras.utils.set_random_seed(4)
    classifier = PneumoniaClassifier(build_reference_cnn(input_size=SMALL))
    image = _images(1, (70, 50))[0]
    for layer in (None, "conv3"):
        heat = grad_cam(classifier, image, layer_name=layer)
        assert heat.shape == (70, 50) and heat.dtype == np.float32
        assert heat.min() >= 0.0 and heat.max() <= 1.0
        assert heat.max() in (0.0, 1.0)  # divided by its peak, or all zero if nothing raised the score


def test_grad_cam_unknown_layer_lists_the_layers():
    classifier = PneumoniaClassifier(build_reference_cnn(input_size=SMALL))
    with pytest.raises(ValueError, match="conv5.*got 'conv9'"):
        grad_cam(classifier, _images(1)[0], layer_name="conv9")


def test_grad_cam_refuses_a_layer_without_feature_maps():
    classifier = PneumoniaClassifier(build_reference_cnn(input_size=SMALL))
    with pytest.raises(ValueError, match="'dense1'.*convolutional"):
        grad_cam(classifier, _images(1)[0], layer_name="dense1")


def test_predict_keeps_no_reference_to_its_images():
    """Each ``Model.predict`` call on TensorFlow kept its input alive (a ``tf.data`` generator never
    released): a 200-image study grew by about 1 GB per cell. The images must be freed after the call."""
    import gc
    import weakref

    classifier = PneumoniaClassifier(build_reference_cnn(input_size=96))
    for _ in range(2):  # the first call builds the predict step; the second must not keep its input
        images = np.random.default_rng(0).random((5, 64, 64), dtype=np.float32)
        probabilities = classifier.predict(images, batch_size=2)
        alive = weakref.ref(images)
        del images
        gc.collect()
        assert alive() is None
    assert probabilities.shape == (5,) and probabilities.dtype == np.float32
